"""Numbers and durations in recognised speech ("twenty-five", "a minute and a half", "5 min").

Speech recognisers give lower-case words, sometimes digits; these functions accept both, ignore
punctuation and words around the phrase, and answer None when there is nothing to read.

Example::

    parse_number("one hundred and twenty")                # 120
    parse_duration("set a timer for ten seconds please")  # 10.0
    parse_duration("a minute and a half")                 # 90.0
    say_duration(90)                                      # "1 minute 30 seconds"

Durations a speaker says and this module reads:

- a count and a unit: "ten seconds", "1 minute", "an hour", "5 min", "90 secs", "1 hr", "90s";
- halves and quarters: "one and a half minutes", "a minute and a half", "half an hour",
  "a quarter of an hour", "three quarters of an hour", "1.5 hours";
- several units, largest first: "two minutes thirty seconds", "an hour and ten minutes", and a
  bare number (1 to 59) right after a unit meaning the next smaller unit: "two minutes thirty",
  "an hour fifteen";
- "a couple of minutes" (2).

"a second" followed by "timer", "alarm", "reminder" or "one" is the ordinal, not one second.
"""

from __future__ import annotations

import math
import re

__all__ = ["parse_duration", "parse_number", "say_duration", "words_to_digits"]

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip

_UNIT_SECONDS = {
    "second": 1, "seconds": 1, "sec": 1, "secs": 1,
    "minute": 60, "minutes": 60, "min": 60, "mins": 60,
    "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600,
}  # fmt: skip
# Single letters are units only straight after digits ("90s", "5 m"), never after words.
_LETTER_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_FRACTIONS = {"half": 0.5, "quarter": 0.25, "quarters": 0.25}
_ARTICLES = ("a", "an")
_ORDINAL_FOLLOWERS = frozenset({"timer", "timers", "alarm", "alarms", "reminder", "one"})

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+")
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3})")
_APOSTROPHE = re.compile(r"['’]")

_Tokens = list[str]


def parse_number(words: str) -> int | None:
    """The whole non-negative integer ``words`` says, or None if it says anything else.

    Reads digits ("25", "1,000") and English number words up to the thousands ("zero",
    "twenty-five", "a hundred", "one hundred and twenty", "two thousand and five").
    """
    tokens = _tokenize(words)
    if len(tokens) == 1 and tokens[0].isdigit():
        return int(tokens[0])
    read = _read_integer(tokens, 0)
    if read is None or read[1] != len(tokens):
        return None
    return read[0]


def parse_duration(text: str) -> float | None:
    """Seconds in the first duration ``text`` mentions, or None if it mentions none.

    See the module docstring for the phrases read. Words around the duration are ignored:
    "set a timer for ten seconds please" gives 10.0.
    """
    tokens = _tokenize(text)
    for start in range(len(tokens)):
        first = _read_quantity(tokens, start)
        if first is None:
            continue
        total, unit, end = first
        while True:
            after_and = end + 1 if _at(tokens, end) == "and" else end
            more = _read_quantity(tokens, after_and)
            if more is None or more[1] >= unit:
                break
            total, unit, end = total + more[0], more[1], more[2]
        return total + _trailing_smaller_unit(tokens, end, unit)
    return None


def say_duration(seconds: float, *, attributive: bool = False) -> str:
    """``seconds`` in digits for speech: "10 seconds", "1 minute 30 seconds", "2 hours 5 minutes".

    Rounded to the nearest second, or to the nearest minute from one hour up; negative
    durations read as "0 seconds". ``attributive=True`` gives the form that goes before a noun,
    with singular units: "10 second" (as in "your 10 second timer").
    """
    units = ("hour", "minute", "second")
    parts = [(n, units[i]) for i, n in enumerate(duration_parts(seconds)) if n]
    return " ".join(
        f"{n} {unit}" if attributive or n == 1 else f"{n} {unit}s"
        for n, unit in parts or [(0, "second")]
    )


def duration_parts(seconds: float) -> tuple[int, int, int]:
    """(hours, minutes, seconds) of a duration as it is said: rounded to the nearest second, or
    to the nearest minute from one hour up; a negative one is 0. ValueError if not finite."""
    if not math.isfinite(seconds):
        raise ValueError(f"not a duration: {seconds!r} seconds")
    total = max(0, math.floor(seconds + 0.5))
    if total >= 3600:
        total = math.floor(total / 60 + 0.5) * 60
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return hours, minutes, secs


def words_to_digits(text: str) -> str:
    """``text`` as lower-case words with every spoken number in digits: "Pasta two" -> "pasta 2".

    Punctuation is dropped and hyphens split words; useful to compare names said aloud.
    """
    tokens = _tokenize(text)
    out: list[str] = []
    index = 0
    while index < len(tokens):
        read = _read_integer(tokens, index)
        if read is None:
            out.append(tokens[index])
            index += 1
        else:
            out.append(str(read[0]))
            index = read[1]
    return " ".join(out)


def _tokenize(text: str) -> _Tokens:
    text = _APOSTROPHE.sub("", _THOUSANDS_COMMA.sub("", text.lower()))
    return _TOKEN.findall(text)


def _at(tokens: _Tokens, index: int) -> str:
    return tokens[index] if index < len(tokens) else ""


def _is_digits(token: str) -> bool:
    return token[:1].isdigit()


def _read_below_hundred(tokens: _Tokens, index: int) -> tuple[int, int] | None:
    """(value, next index) for "zero".."ninety nine" at ``index``."""
    word = _at(tokens, index)
    if word in _TENS:
        unit = _UNITS.get(_at(tokens, index + 1), 0)
        return (_TENS[word] + unit, index + 2) if unit else (_TENS[word], index + 1)
    if word in _TEENS:
        return _TEENS[word], index + 1
    if word in _UNITS:
        return _UNITS[word], index + 1
    return None


def _read_below_thousand(tokens: _Tokens, index: int) -> tuple[int, int] | None:
    """(value, next index) for up to "nine hundred and ninety nine", also "a hundred" and
    "twelve hundred"."""
    if _at(tokens, index) in _ARTICLES and _at(tokens, index + 1) == "hundred":
        hundreds, end = 1, index + 2
    else:
        read = _read_below_hundred(tokens, index)
        if read is None:
            return None
        hundreds, end = read
        if hundreds == 0 or _at(tokens, end) != "hundred":
            return read
        end += 1
    rest = _read_below_hundred(tokens, end + 1 if _at(tokens, end) == "and" else end)
    if rest is None:
        return hundreds * 100, end
    return hundreds * 100 + rest[0], rest[1]


def _read_integer(tokens: _Tokens, index: int) -> tuple[int, int] | None:
    """(value, next index) for a number in words at ``index``, thousands included."""
    if _at(tokens, index) in _ARTICLES and _at(tokens, index + 1) == "thousand":
        read: tuple[int, int] | None = (1, index + 1)
    else:
        read = _read_below_thousand(tokens, index)
    if read is None or read[0] == 0 or _at(tokens, read[1]) != "thousand":
        return read
    thousands, end = read[0], read[1] + 1
    rest = _read_below_thousand(tokens, end + 1 if _at(tokens, end) == "and" else end)
    if rest is None:
        return thousands * 1000, end
    return thousands * 1000 + rest[0], rest[1]


def _read_amount(tokens: _Tokens, index: int) -> tuple[float, int] | None:
    """(value, next index) for digits (decimals allowed) or a number in words."""
    word = _at(tokens, index)
    if _is_digits(word):
        return float(word), index + 1
    read = _read_integer(tokens, index)
    return None if read is None else (float(read[0]), read[1])


def _read_and_a_fraction(tokens: _Tokens, index: int) -> tuple[float, int]:
    """(0.5, index + 3) for "and a half" at ``index``, (0.25, ...) for "and a quarter", else
    (0.0, index)."""
    if (
        _at(tokens, index) == "and"
        and _at(tokens, index + 1) in _ARTICLES
        and _at(tokens, index + 2) in ("half", "quarter")
    ):
        return _FRACTIONS[tokens[index + 2]], index + 3
    return 0.0, index


def _read_quantity(tokens: _Tokens, index: int) -> tuple[float, int, int] | None:
    """(seconds, seconds per unit, next index) for one count and its unit at ``index``."""
    count: float | None = None
    end = index
    amount = _read_amount(tokens, index)
    if amount is not None:
        count, end = amount
    elif _at(tokens, index) in _ARTICLES:
        count, end = 1.0, index + 1
    if _at(tokens, end) == "couple":
        count, end = 2.0, end + 1
        if _at(tokens, end) == "of":
            end += 1
    extra, end = _read_and_a_fraction(tokens, end) if count is not None else (0.0, end)
    if not extra and _at(tokens, end) in _FRACTIONS:
        count = (1.0 if count is None else count) * _FRACTIONS[tokens[end]]
        end += 1
        if _at(tokens, end) == "of":
            end += 1
        if _at(tokens, end) in _ARTICLES:
            end += 1
    if count is None:
        return None
    word = _at(tokens, end)
    unit = _UNIT_SECONDS.get(word)
    if unit is None and end == index + 1 and _is_digits(tokens[index]):
        unit = _LETTER_UNIT_SECONDS.get(word)
    if unit is None:
        return None
    is_ordinal = word == "second" and _at(tokens, end + 1) in _ORDINAL_FOLLOWERS
    if is_ordinal and end == index + 1 and tokens[index] in _ARTICLES:
        return None
    end += 1
    if not extra:
        extra, end = _read_and_a_fraction(tokens, end)
    return (count + extra) * unit, unit, end


def _trailing_smaller_unit(tokens: _Tokens, index: int, unit: int) -> float:
    """Seconds for a bare number after a unit ("two minutes thirty"): the next smaller unit.

    Not after "and": in "five minutes and one for ten" the number starts another phrase.
    """
    if unit == 1:
        return 0.0
    amount = _read_amount(tokens, index)
    if amount is None or not 0 < amount[0] < 60 or not amount[0].is_integer():
        return 0.0
    follower = _at(tokens, amount[1])
    if follower in _UNIT_SECONDS or follower in _LETTER_UNIT_SECONDS or follower in _FRACTIONS:
        return 0.0
    return amount[0] * unit / 60
