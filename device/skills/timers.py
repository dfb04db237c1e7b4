"""Several named countdown timers on the daemon's clock.

The clock is injected (audio time in the simulator, monotonic time on the device), so nothing
here reads the wall clock and tests advance time by hand. The daemon polls :meth:`Timers.pop_due`
(or sleeps until :meth:`Timers.next_due`) and announces what it returns.

Example::

    timers = Timers(clock=time.monotonic)
    timers.start(600, name="pasta")        # Timer(name="pasta", duration_seconds=600.0, ...)
    timers.start(10)                       # named "10 second"
    timers.start(10)                       # named "10 second 2"
    timers.cancel("pasta timer")           # [Timer(name="pasta", ...)]
    for timer in timers.pop_due():
        speak(f"Your {timer.name} timer is done.")

Names match as said aloud: case, punctuation, "the"/"my"/"timer" and spoken numbers do not
matter ("the Pasta Two timer" finds "pasta 2").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from device.skills.numbers import parse_duration, say_duration, words_to_digits

__all__ = ["MAX_DURATION_SECONDS", "Timer", "Timers"]

MAX_DURATION_SECONDS = 24 * 3600.0

# Words that do not tell timers apart when a name is said aloud.
_FILLER_WORDS = frozenset({"the", "my", "a", "an", "timer", "timers"})
_SINGULAR = {"seconds": "second", "minutes": "minute", "hours": "hour"}


@dataclass(frozen=True)
class Timer:
    """A countdown that has been started and not yet popped or cancelled."""

    name: str  # unique among running timers, ignoring case
    duration_seconds: float
    due_at: float  # clock seconds


class Timers:
    """The running timers, soonest first. Not thread-safe: use from the daemon's event loop."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._timers: list[Timer] = []  # kept sorted by due_at; ties in start order

    def start(self, duration_seconds: float, name: str | None = None) -> Timer:
        """Start a timer of ``duration_seconds`` and return it.

        Without a name (or with a blank one) it is named after its duration ("10 second",
        "1 minute 30 second"). A name already running gets " 2", " 3"... appended.
        Raises ValueError unless 0 < ``duration_seconds`` <= 24 hours.
        """
        if not (0 < duration_seconds <= MAX_DURATION_SECONDS):
            raise ValueError(
                f"timer duration must be more than 0 and at most 24 hours, "
                f"not {duration_seconds!r} seconds"
            )
        base = " ".join((name or "").split()) or say_duration(duration_seconds, attributive=True)
        timer = Timer(
            name=self._unused_name(base),
            duration_seconds=float(duration_seconds),
            due_at=self._clock() + duration_seconds,
        )
        self._timers.append(timer)
        self._timers.sort(key=lambda t: t.due_at)  # stable: equal due times keep start order
        return timer

    def cancel(self, name: str | None = None) -> list[Timer]:
        """Stop the timers ``name`` finds (see :meth:`find`), or all with None; return them."""
        cancelled = list(self._timers) if name is None else self.find(name)
        gone = {id(t) for t in cancelled}
        self._timers = [t for t in self._timers if id(t) not in gone]
        return cancelled

    def find(self, name: str) -> list[Timer]:
        """The running timers a spoken ``name`` refers to, soonest first; maybe none.

        Tried in order, the first that finds any wins:

        1. the same name ("pasta two" finds "pasta 2", not "pasta");
        2. names containing the words, or starting with them ("pasta" finds "big pasta" and
           "pasta 2", "pas" finds "pasta");
        3. timers of the duration said ("the five minute timer" finds a 300 s "eggs").

        A name of only filler words ("the timer") finds every timer.
        """
        query = _name_words(name)
        if not query:
            return self.active()
        same = [t for t in self._timers if _name_words(t.name) == query]
        if same:
            return same
        joined = " ".join(query)
        partial = [
            t
            for t in self._timers
            if _contains(_name_words(t.name), query)
            or " ".join(_name_words(t.name)).startswith(joined)
        ]
        if partial:
            return partial
        seconds = parse_duration(name)
        if seconds is None:
            return []
        return [t for t in self._timers if math.isclose(t.duration_seconds, seconds, abs_tol=0.5)]

    def active(self) -> list[Timer]:
        """Running timers, soonest first."""
        return list(self._timers)

    def remaining(self, timer: Timer) -> float:
        """Seconds until ``timer`` is due; 0.0 once it is."""
        return max(0.0, timer.due_at - self._clock())

    def pop_due(self) -> list[Timer]:
        """Remove and return the timers that are due now, soonest first."""
        now = self._clock()
        due = [t for t in self._timers if t.due_at <= now]
        self._timers = self._timers[len(due) :]
        return due

    def next_due(self) -> float | None:
        """Clock time the soonest timer is due, or None when none is running."""
        return self._timers[0].due_at if self._timers else None

    def _unused_name(self, base: str) -> str:
        taken = {t.name.casefold() for t in self._timers}
        if base.casefold() not in taken:
            return base
        number = 2
        while f"{base} {number}".casefold() in taken:
            number += 1
        return f"{base} {number}"


def _name_words(name: str) -> list[str]:
    """Words of a name as compared: lower case, numbers in digits, no filler, singular units."""
    words = words_to_digits(name).split()
    return [_SINGULAR.get(word, word) for word in words if word not in _FILLER_WORDS]


def _contains(words: list[str], part: list[str]) -> bool:
    """True if ``part`` appears in ``words`` as consecutive words."""
    return any(words[i : i + len(part)] == part for i in range(len(words) - len(part) + 1))
