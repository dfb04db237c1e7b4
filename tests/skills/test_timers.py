"""Timers on a fake clock the tests advance by hand."""

from __future__ import annotations

import math

import pytest

from device.skills.timers import MAX_DURATION_SECONDS, Timer, Timers


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timers(clock: FakeClock) -> Timers:
    return Timers(clock)


def names(found: list[Timer]) -> list[str]:
    return [t.name for t in found]


def test_start_returns_timer_due_on_the_clock(timers: Timers, clock: FakeClock) -> None:
    timer = timers.start(10)
    assert timer == Timer(name="10 second", duration_seconds=10.0, due_at=1010.0)
    assert timers.active() == [timer]
    assert timers.remaining(timer) == 10.0
    clock.advance(4)
    assert timers.remaining(timer) == 6.0
    clock.advance(100)
    assert timers.remaining(timer) == 0.0


@pytest.mark.parametrize(
    ("seconds", "name"),
    [(1, "1 second"), (60, "1 minute"), (90, "1 minute 30 second"), (7200, "2 hour")],
)
def test_default_name_from_duration(timers: Timers, seconds: float, name: str) -> None:
    assert timers.start(seconds).name == name


def test_given_name_is_kept_and_blank_means_default(timers: Timers) -> None:
    assert timers.start(600, name="  Pasta  ").name == "Pasta"
    assert timers.start(5, name="   ").name == "5 second"


def test_same_name_gets_a_number(timers: Timers) -> None:
    assert names([timers.start(10), timers.start(10), timers.start(10)]) == [
        "10 second",
        "10 second 2",
        "10 second 3",
    ]
    assert timers.start(60, name="pasta").name == "pasta"
    assert timers.start(120, name="PASTA").name == "PASTA 2"


def test_name_is_free_again_after_cancel(timers: Timers) -> None:
    timers.start(10)
    timers.cancel()
    assert timers.start(10).name == "10 second"


def test_several_timers_soonest_first(timers: Timers, clock: FakeClock) -> None:
    timers.start(300, name="eggs")
    clock.advance(1)
    timers.start(60, name="tea")
    timers.start(600, name="pasta")
    assert names(timers.active()) == ["tea", "eggs", "pasta"]
    assert timers.next_due() == 1061.0


@pytest.mark.parametrize("seconds", [0, -1, MAX_DURATION_SECONDS + 1, math.nan, math.inf])
def test_start_rejects_out_of_range(timers: Timers, seconds: float) -> None:
    with pytest.raises(ValueError, match="24 hours"):
        timers.start(seconds)
    assert timers.active() == []


def test_start_accepts_the_bounds(timers: Timers) -> None:
    assert timers.start(MAX_DURATION_SECONDS).name == "24 hour"
    assert timers.start(0.5).duration_seconds == 0.5


def test_pop_due_removes_due_timers_in_due_order(timers: Timers, clock: FakeClock) -> None:
    timers.start(30, name="b")
    timers.start(10, name="a")
    timers.start(10, name="a2")  # same due time as "a": start order kept
    timers.start(60, name="c")
    assert timers.pop_due() == []
    clock.advance(9.999)
    assert timers.pop_due() == []
    clock.advance(0.001)  # due_at <= now counts as due
    assert names(timers.pop_due()) == ["a", "a2"]
    clock.advance(100)
    assert names(timers.pop_due()) == ["b", "c"]
    assert timers.pop_due() == []
    assert timers.active() == []


def test_next_due(timers: Timers, clock: FakeClock) -> None:
    assert timers.next_due() is None
    timers.start(30)
    timers.start(5)
    assert timers.next_due() == 1005.0
    clock.advance(5)
    timers.pop_due()
    assert timers.next_due() == 1030.0
    timers.cancel()
    assert timers.next_due() is None


def test_cancel_all(timers: Timers) -> None:
    timers.start(30, name="b")
    timers.start(10, name="a")
    assert names(timers.cancel()) == ["a", "b"]
    assert timers.active() == []
    assert timers.cancel() == []


@pytest.fixture
def kitchen(timers: Timers) -> Timers:
    timers.start(600, name="Pasta")
    timers.start(610, name="pasta")  # -> "pasta 2"
    timers.start(300, name="boiled eggs")
    timers.start(10)
    timers.start(10)  # -> "10 second 2"
    return timers


@pytest.mark.parametrize(
    ("said", "cancelled"),
    [
        ("pasta", ["Pasta"]),  # exact name beats "pasta 2"
        ("PASTA", ["Pasta"]),
        ("the pasta timer", ["Pasta"]),
        ("pasta two", ["pasta 2"]),
        ("Pasta 2", ["pasta 2"]),
        ("eggs", ["boiled eggs"]),  # a word of the name
        ("boiled", ["boiled eggs"]),  # a prefix
        ("boil", ["boiled eggs"]),
        ("ten second", ["10 second"]),
        ("10 seconds timer", ["10 second"]),
        ("ten second two", ["10 second 2"]),
        ("five minute", ["boiled eggs"]),  # by duration when no name matches
        ("10 minutes", ["Pasta"]),
        ("the timer", ["10 second", "10 second 2", "boiled eggs", "Pasta", "pasta 2"]),
        ("tea", []),
        ("three minutes", []),
    ],
)
def test_cancel_by_spoken_name(kitchen: Timers, said: str, cancelled: list[str]) -> None:
    before = names(kitchen.active())
    assert names(kitchen.cancel(said)) == cancelled
    assert names(kitchen.active()) == [name for name in before if name not in cancelled]


def test_word_or_prefix_matches_all_when_no_exact_name(timers: Timers) -> None:
    timers.start(60, name="big pasta")
    timers.start(120, name="pasta sauce")
    timers.start(180, name="tea")
    assert names(timers.find("pasta")) == ["big pasta", "pasta sauce"]
    assert names(timers.cancel("pasta")) == ["big pasta", "pasta sauce"]
    assert names(timers.active()) == ["tea"]


def test_timer_word_does_not_matter(timers: Timers) -> None:
    timers.start(60, name="pasta timer")
    assert names(timers.cancel("pasta")) == ["pasta timer"]


def test_find_does_not_remove(kitchen: Timers) -> None:
    assert names(kitchen.find("eggs")) == ["boiled eggs"]
    assert len(kitchen.active()) == 5
