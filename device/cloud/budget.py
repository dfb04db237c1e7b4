"""The device's own cloud budget: at most so many requests an hour and a day, tokens a day.

For a workshop, where twenty kits share one API account: a curious visitor cannot spend the
day's budget in an hour, and when it is spent the wearer hears so ("Today's cloud budget is
used up; local commands still work.") instead of a failure: the brain does not call the cloud,
and no audio is uploaded to be transcribed (with ``[tts] engine = "cloud"``, replies, that one
included, are still spoken by cloud speech).
Set in ``[llm]``: ``max_requests_per_hour``, ``max_requests_per_day``, ``max_tokens_per_day``;
0, the default, is no limit.

What counts, kept in the database (``device.storage.usage``) so a restart does not reset it:
every chat request a provider answered (each round of tool calls is one), or that the wearer
cancelled once it was sent (the server may answer and bill it all the same), with the tokens
its server reported. A server that does not report them (``stream_options.include_usage`` is asked
for when tokens are limited) is charged an estimate: a token for every four characters sent and
received, about what English text costs. An hour is the last 60 minutes; a day is the calendar
day on the device's clock, so the budget comes back at midnight.

A database that cannot be read or written does not stop answers: the budget is a guard for the
account's money, not for the wearer's privacy, so it lets the request through and says why in
the log, once.

Example::

    meter = UsageMeter(CloudUsage(db), BudgetLimits(max_requests_per_day=200))
    meter.check()  # CloudError(cause=BUDGET_DAY) once 200 were answered today
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from device.errors import CloudCause, CloudError, StorageError
from device.storage.usage import CloudUsage

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4  # English text, for servers that do not count tokens themselves
HOUR_SECONDS = 3600.0


@dataclass(frozen=True)
class BudgetLimits:
    """The ``[llm]`` limits; 0 is none."""

    max_requests_per_hour: int = 0
    max_requests_per_day: int = 0
    max_tokens_per_day: int = 0

    @property
    def limited(self) -> bool:
        return any((self.max_requests_per_hour, self.max_requests_per_day, self.max_tokens_per_day))


def start_of_day(now: float) -> float:
    """Local midnight before ``now`` (unix seconds), on the device's clock and time zone; on a
    day the clocks change, midnight's own offset, not the one at ``now``."""
    return dt.datetime.combine(dt.date.fromtimestamp(now), dt.time()).timestamp()


class UsageMeter:
    """Says whether the budget allows another request, and counts the ones answered."""

    def __init__(
        self,
        usage: CloudUsage,
        limits: BudgetLimits,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.usage = usage
        self.limits = limits
        self._clock = clock
        self._warned = False

    @property
    def counts_tokens(self) -> bool:
        return self.limits.max_tokens_per_day > 0

    def check(self) -> None:
        """Nothing while the budget allows a request; else the CloudError whose cause says
        which budget is spent (the day's before the hour's: it lasts longer)."""
        limits = self.limits
        if not limits.limited:
            return
        now = self._clock()
        try:
            totals = self.usage.totals(since_hour=now - HOUR_SECONDS, since_day=start_of_day(now))
        except StorageError as exc:
            self._warn(exc)
            return
        if limits.max_requests_per_day and totals.requests_day >= limits.max_requests_per_day:
            raise _spent(CloudCause.BUDGET_DAY, f"{totals.requests_day} requests today")
        if limits.max_tokens_per_day and totals.tokens_day >= limits.max_tokens_per_day:
            raise _spent(CloudCause.BUDGET_DAY, f"{totals.tokens_day} tokens today")
        if limits.max_requests_per_hour and totals.requests_hour >= limits.max_requests_per_hour:
            raise _spent(CloudCause.BUDGET_HOUR, f"{totals.requests_hour} requests this hour")

    def spent(self) -> bool:
        """Whether a budget is used up (``check`` without the error): cloud transcription asks,
        so that no audio is uploaded for a question the brain will not be let to answer."""
        try:
            self.check()
        except CloudError:
            return True
        return False

    def answered(self, tokens: int) -> None:
        """Count one request a provider answered, and the tokens it used."""
        if not self.limits.limited:
            return
        try:
            row = self.usage.sent(self._clock())
            if tokens:
                self.usage.used_tokens(row, tokens)
        except StorageError as exc:
            self._warn(exc)

    def _warn(self, exc: StorageError) -> None:
        if not self._warned:
            self._warned = True
            log.warning("the cloud budget is not enforced: %s", exc)


def estimated_tokens(sent_chars: int, received_chars: int) -> int:
    """Tokens charged for a request whose server did not count them."""
    return -(-(sent_chars + received_chars) // CHARS_PER_TOKEN)  # rounded up


def _spent(cause: CloudCause, what: str) -> CloudError:
    return CloudError(f"the device's cloud budget is used up ({what})", cause=cause)
