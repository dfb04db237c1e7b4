"""The provider chain: ask the first provider that is up; when it fails, ask the next.

Each provider has a circuit breaker. After ``failures`` failures in a row it opens and the chain
skips that provider for ``cooldown_seconds`` (or as long as its Retry-After asked, if longer), so
a dead Wi-Fi uplink or an exhausted quota costs one timeout, not one per question. After the
cool-down one request is let through; success closes the breaker again. A rejected key or an
empty account opens it at once: asking again will not help. A Retry-After pauses the provider
for that long at once: the server said when to come back.

A provider asking to be retried later is not waited on for long: with another provider that
could answer, no more than ``WAIT_WITH_FALLBACK_SECONDS`` (the next is asked instead); alone,
no more than ``WAIT_ALONE_SECONDS`` (the wearer is told when to try again instead). Failures
that say what this request cannot have (a model that takes no pictures, an unknown model)
never open the breaker: the provider still answers other questions. A provider whose model
refused a photo is not sent photos for ``CANNOT_SEE_PAUSE_SECONDS``.

When none answers, :class:`AllProvidersFailed` carries every failure, and its ``spoken`` is the
sentence for the wearer (see ``spoken``). With a ``meter`` (the device's usage budget, see
``budget``), a spent budget is such a failure before any provider is asked, and each request a
provider answered is counted.

Example::

    chain = ProviderChain([ChatClient(groq, gate), ChatClient(lan, gate)])
    for provider, delta in chain.chat(lambda p: {"model": p.model, ...}, "chat", cancel):
        ...
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from device.cancel import Cancellation, Cancelled
from device.cloud.budget import UsageMeter, estimated_tokens
from device.cloud.client import ChatClient, Delta, PartialAnswer, TextDelta, Usage
from device.cloud.providers import Provider
from device.cloud.spoken import most_actionable, spoken_reason
from device.errors import CloudCause, CloudError

log = logging.getLogger(__name__)


class CircuitBreaker:
    """Counts one provider's consecutive failures; says whether to try it now."""

    def __init__(
        self,
        failures: int = 3,
        cooldown_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        one_job: bool = False,
    ) -> None:
        self.failures = failures
        self.cooldown_seconds = cooldown_seconds
        # A breaker that guards one kind of request (transcription, speech): a refusal of that
        # request (an unknown model) is then a refusal of every request it will ever see.
        self.one_job = one_job
        self.last_error: CloudError | None = None  # the failure that counted last
        self._clock = clock
        self._count = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """True while the provider should be skipped."""
        return self._clock() < self._open_until

    @property
    def seconds_left(self) -> float:
        """How much longer the provider is skipped; 0 when it is not."""
        return max(0.0, self._open_until - self._clock())

    def succeeded(self) -> None:
        with self._lock:
            self._count = 0
            self._open_until = 0.0

    def failed(self, error: CloudError) -> None:
        about_the_request = error.cause in _ABOUT_THE_REQUEST
        if about_the_request and not self.one_job:
            return  # the provider is healthy; it cannot do this one request
        with self._lock:
            self.last_error = error
            now = self._clock()
            if error.retry_after_seconds:
                self._open_until = max(self._open_until, now + error.retry_after_seconds)
            self._count += 1
            if self._count >= self.failures or error.cause in _HOPELESS or about_the_request:
                pause = max(self.cooldown_seconds, error.retry_after_seconds or 0.0)
                self._open_until = now + pause
                self._count = self.failures - 1  # half-open: one more failure re-opens it


_ABOUT_THE_REQUEST = frozenset(
    {CloudCause.CANNOT_SEE, CloudCause.MODEL_UNKNOWN, CloudCause.REJECTED}
)
# Until someone acts: a new key, money, the right address.
_HOPELESS = frozenset(
    {
        CloudCause.KEY_REFUSED,
        CloudCause.OUT_OF_CREDIT,
        CloudCause.NOT_FOUND,
        CloudCause.BUDGET_DAY,  # a gateway's spent budget comes back only when its owner says
    }
)

# The longest wait a provider may ask for (its Retry-After, or back-off) that is sat through.
# With another provider to ask: about what asking that one costs (a TLS set-up and its first
# token, around a second from a Pi on Wi-Fi); a longer wait is slower than moving on.
WAIT_WITH_FALLBACK_SECONDS = 1.0
# With none: hearing "try again in about 10 seconds" and asking again costs the wearer about
# 5 s, so a shorter wait is better sat through; a longer one is said, not waited out in silence.
WAIT_ALONE_SECONDS = 5.0
# A photo sent to a model that refused one leaves the device for nothing; text still goes.
CANNOT_SEE_PAUSE_SECONDS = 600.0


class AllProvidersFailed(CloudError):
    """No provider in the chain could answer; ``failures`` says why, one CloudError each.

    ``cause`` and ``retry_after_seconds`` are those of the failure the wearer can do most about;
    ``spoken`` is the sentence they hear. ``incapable``: no provider can see pictures, so
    trying again later will not help.
    """

    def __init__(self, failures: list[CloudError]) -> None:
        chosen = most_actionable(failures)
        super().__init__(
            "; ".join(str(failure) for failure in failures) or "no cloud provider is configured",
            cause=chosen.cause if chosen else CloudCause.UNREACHABLE,
            retry_after_seconds=chosen.retry_after_seconds if chosen else None,
        )
        self.failures = failures

    @property
    def reasons(self) -> list[str]:
        return [str(failure) for failure in self.failures]

    @property
    def incapable(self) -> bool:
        return self.cause is CloudCause.CANNOT_SEE

    @property
    def spoken(self) -> str:
        """What the wearer hears: one short sentence saying what is wrong and what to do."""
        return spoken_reason(self)


@dataclass
class _Link:
    client: ChatClient
    breaker: CircuitBreaker
    cannot_see_until: float = 0.0  # clock time; photos are not sent before it


BodyFor = Callable[[Provider], dict[str, Any] | None]  # None: this provider cannot do it


class ProviderChain:
    """Providers in order of preference, each behind its own circuit breaker."""

    def __init__(
        self,
        clients: list[ChatClient],
        *,
        failures: int = 3,
        cooldown_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        meter: UsageMeter | None = None,
    ) -> None:
        self._clock = clock
        self.meter = meter
        self._links = [
            _Link(client, CircuitBreaker(failures, cooldown_seconds, clock)) for client in clients
        ]

    @property
    def providers(self) -> list[Provider]:
        return [link.client.provider for link in self._links]

    def breaker(self, name: str) -> CircuitBreaker:
        return next(link.breaker for link in self._links if link.client.provider.name == name)

    def chat(
        self,
        body_for: BodyFor,
        purpose: str,
        cancel: Cancellation,
        *,
        kind: str = "text",
        prompt_text: str = "",
    ) -> Iterator[tuple[Provider, Delta]]:
        """Deltas from the first provider that answers, each with who answered.

        Raises AllProvidersFailed when none could, PartialAnswer when one broke off mid-answer
        (the next is not asked: the user has already heard the start), Cancelled, or
        EgressRefused (nothing may be sent; asking another provider would not change that).
        """
        if self.meter is not None:
            try:
                self.meter.check()
            except CloudError as spent:
                raise AllProvidersFailed([spent]) from None
        plan = [(link, self._body_or_skip(link, body_for, kind, purpose)) for link in self._links]
        last_askable = max((i for i, (_, b) in enumerate(plan) if isinstance(b, dict)), default=-1)
        failures: list[CloudError] = []
        for index, (link, body) in enumerate(plan):
            if isinstance(body, CloudError):
                failures.append(body)
                continue
            provider = link.client.provider
            alone = index == last_askable
            max_wait = WAIT_ALONE_SECONDS if alone else WAIT_WITH_FALLBACK_SECONDS
            try:
                for delta in self._counted(
                    link.client.chat(
                        body,
                        purpose=purpose,
                        cancel=cancel,
                        kind=kind,
                        prompt_text=prompt_text,
                        max_wait_seconds=max_wait,
                    ),
                    body,
                ):
                    yield provider, delta
            except PartialAnswer as exc:
                link.breaker.failed(exc)
                raise
            except CloudError as exc:
                log.warning(
                    "cloud provider failed%s: %s", "" if alone else ", asking the next", exc
                )
                self._failed(link, exc, kind)
                failures.append(exc)
                continue
            link.breaker.succeeded()
            return
        raise AllProvidersFailed(failures)

    def _counted(self, deltas: Iterator[Delta | Usage], body: dict[str, Any]) -> Iterator[Delta]:
        """``deltas`` without the server's usage, which goes to the meter once the provider has
        answered something (a request refused outright costs nothing and is not counted), or
        once the wearer cancelled it: sent, it may be answered and billed all the same."""
        tokens: int | None = None
        received = 0
        answered = False
        try:
            for delta in deltas:
                if isinstance(delta, Usage):
                    tokens = delta.tokens
                    continue
                answered = True
                received += len(delta.text) if isinstance(delta, TextDelta) else 0
                yield delta
        except Cancelled:
            answered = True
            raise
        finally:
            if self.meter is not None and answered:
                if tokens is None and self.meter.counts_tokens:
                    tokens = estimated_tokens(_text_chars(body.get("messages")), received)
                self.meter.answered(tokens or 0)

    def _body_or_skip(
        self, link: _Link, body_for: BodyFor, kind: str, purpose: str
    ) -> dict[str, Any] | CloudError:
        """The request for this provider, or why it is not asked."""
        name = link.client.provider.name
        body = body_for(link.client.provider)
        if body is None:
            cause = CloudCause.CANNOT_SEE if kind == "image" else CloudCause.REJECTED
            return CloudError(f"{name} cannot do {purpose}", cause=cause)
        if kind == "image" and self._clock() < link.cannot_see_until:
            return CloudError(
                f"{name}'s model refused a picture lately", cause=CloudCause.CANNOT_SEE
            )
        if link.breaker.is_open:
            return _paused(name, link.breaker)
        return body

    def _failed(self, link: _Link, error: CloudError, kind: str) -> None:
        if kind == "image" and error.cause is CloudCause.CANNOT_SEE:
            link.cannot_see_until = self._clock() + CANNOT_SEE_PAUSE_SECONDS
        link.breaker.failed(error)


def _text_chars(messages: object) -> int:
    """The characters of text in a request's messages; a photo is not text (and a server that
    counts tokens charges it by its size in tiles, not by its base64)."""
    total = 0
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            parts = [part for part in content if isinstance(part, dict)]
            total += sum(len(str(part.get("text", ""))) for part in parts)
    return total


def _paused(name: str, breaker: CircuitBreaker) -> CloudError:
    """Why a paused provider is skipped, as the failure that paused it (a busy one's wait is
    what is left of the pause)."""
    last = breaker.last_error
    left = breaker.seconds_left
    if last is None:
        return CloudError(f"{name} is paused for {left:.0f} s")
    return CloudError(
        f"{name} is paused for {left:.0f} s after: {last}",
        cause=last.cause,
        retry_after_seconds=left if last.cause is CloudCause.BUSY else None,
    )
