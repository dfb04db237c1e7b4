"""Spoken numbers and durations as a speech recogniser writes them, and durations said back."""

from __future__ import annotations

import math

import pytest

from device.skills.numbers import parse_duration, parse_number, say_duration, words_to_digits


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("zero", 0),
        ("seven", 7),
        ("ten", 10),
        ("nineteen", 19),
        ("twenty", 20),
        ("twenty five", 25),
        ("twenty-five", 25),
        ("ninety nine", 99),
        ("25", 25),
        ("1,000", 1000),
        ("a hundred", 100),
        ("one hundred", 100),
        ("one hundred and twenty", 120),
        ("one hundred twenty three", 123),
        ("twelve hundred", 1200),
        ("two thousand and five", 2005),
        ("a thousand", 1000),
        ("  Forty-Two. ", 42),
        # not a number, or more than one
        ("", None),
        ("a", None),
        ("an", None),
        ("pasta", None),
        ("twenty pasta", None),
        ("five twenty", None),
        ("2.5", None),
        ("one and a half", None),
    ],
)
def test_parse_number(words: str, expected: int | None) -> None:
    assert parse_number(words) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("ten seconds", 10),
        ("1 minute", 60),
        ("a minute", 60),
        ("an hour", 3600),
        ("one and a half minutes", 90),
        ("two and a half hours", 9000),
        ("a minute and a half", 90),
        ("an hour and a half", 5400),
        ("half an hour", 1800),
        ("half a minute", 30),
        ("a half hour", 1800),
        ("a quarter of an hour", 900),
        ("three quarters of an hour", 2700),
        ("an hour and a quarter", 4500),
        ("two minutes thirty seconds", 150),
        ("two minutes and thirty seconds", 150),
        ("one hour, ten minutes and five seconds", 4205),
        ("two minutes thirty", 150),
        ("an hour fifteen", 4500),
        ("ninety seconds", 90),
        ("one hundred and twenty seconds", 120),
        ("twenty-five minutes", 1500),
        ("5 min", 300),
        ("90 secs", 90),
        ("1 hr", 3600),
        ("2 hrs", 7200),
        ("90s", 90),
        ("5m", 300),
        ("1.5 hours", 5400),
        ("a couple of minutes", 120),
        ("zero seconds", 0),
        ("set a timer for ten seconds please", 10),
        ("Set a timer for 10 minutes.", 600),
        ("remind me in twenty minutes to call mum", 1200),
        ("set a second timer for five minutes", 300),
        ("wait a second", 1),
        # the first duration wins; a later one is a separate phrase
        ("five minutes and one for ten minutes", 300),
        ("ten seconds and five minutes", 10),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "set a timer",
        "cancel the second timer",
        "what time is it",
        "twenty five",
        "set 2 timers",
        "it's a minor thing",
        "the last minute",
        "I'm 5 metres away",
        "half past",
    ],
)
def test_parse_duration_none(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("seconds", "spoken"),
    [
        (0, "0 seconds"),
        (-3, "0 seconds"),
        (1, "1 second"),
        (10, "10 seconds"),
        (9.6, "10 seconds"),
        (60, "1 minute"),
        (61, "1 minute 1 second"),
        (90, "1 minute 30 seconds"),
        (120, "2 minutes"),
        (3600, "1 hour"),
        (3599.7, "1 hour"),
        (7500, "2 hours 5 minutes"),
        (7529, "2 hours 5 minutes"),  # seconds are dropped from an hour up
        (7531, "2 hours 6 minutes"),
        (86400, "24 hours"),
    ],
)
def test_say_duration(seconds: float, spoken: str) -> None:
    assert say_duration(seconds) == spoken


@pytest.mark.parametrize(
    ("seconds", "spoken"),
    [(10, "10 second"), (60, "1 minute"), (90, "1 minute 30 second"), (7200, "2 hour")],
)
def test_say_duration_attributive(seconds: float, spoken: str) -> None:
    assert say_duration(seconds, attributive=True) == spoken


@pytest.mark.parametrize("seconds", [math.nan, math.inf])
def test_say_duration_rejects_non_finite(seconds: float) -> None:
    with pytest.raises(ValueError):
        say_duration(seconds)


@pytest.mark.parametrize("seconds", [1, 10, 45, 60, 90, 150, 3600, 5400, 7500])
def test_say_duration_reads_back(seconds: int) -> None:
    assert parse_duration(say_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pasta two", "pasta 2"),
        ("the twenty-five minute timer", "the 25 minute timer"),
        ("one hundred and one dalmatians", "101 dalmatians"),
        ("no numbers here!", "no numbers here"),
    ],
)
def test_words_to_digits(text: str, expected: str) -> None:
    assert words_to_digits(text) == expected
