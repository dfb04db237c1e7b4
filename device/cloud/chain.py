"""The provider chain: ask the first provider that is up; when it fails, ask the next.

Each provider has a circuit breaker. After ``failures`` failures in a row it opens and the chain
skips that provider for ``cooldown_seconds`` (or as long as its Retry-After asked, if longer), so
a dead Wi-Fi uplink or an exhausted quota costs one timeout, not one per question. After the
cool-down one request is let through; success closes the breaker again. A rejected key opens it
at once: asking again will not help.

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

from device.cancel import Cancellation
from device.cloud.client import ChatClient, Delta, PartialAnswer
from device.cloud.providers import Provider
from device.errors import CloudError

log = logging.getLogger(__name__)


class CircuitBreaker:
    """Counts one provider's consecutive failures; says whether to try it now."""

    def __init__(
        self,
        failures: int = 3,
        cooldown_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._count = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """True while the provider should be skipped."""
        return self._clock() < self._open_until

    def succeeded(self) -> None:
        with self._lock:
            self._count = 0
            self._open_until = 0.0

    def failed(self, error: CloudError) -> None:
        with self._lock:
            self._count += 1
            if self._count >= self.failures or error.key_refused:
                pause = max(self.cooldown_seconds, error.retry_after_seconds or 0.0)
                self._open_until = self._clock() + pause
                self._count = self.failures - 1  # half-open: one more failure re-opens it


class AllProvidersFailed(CloudError):
    """No provider in the chain could answer; ``reasons`` says why, one line each.

    ``incapable``: none of them can do this kind of request at all (no vision model), so
    trying again later will not help.
    """

    def __init__(self, reasons: list[str], *, incapable: bool = False) -> None:
        super().__init__("; ".join(reasons) or "no cloud provider is configured")
        self.reasons = reasons
        self.incapable = incapable


@dataclass
class _Link:
    client: ChatClient
    breaker: CircuitBreaker


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
    ) -> None:
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
        reasons: list[str] = []
        capable = 0
        for link in self._links:
            provider = link.client.provider
            body = body_for(provider)
            if body is None:
                reasons.append(f"{provider.name} cannot do {purpose}")
                continue
            capable += 1
            if link.breaker.is_open:
                reasons.append(f"{provider.name} is paused after repeated failures")
                continue
            try:
                for delta in link.client.chat(
                    body, purpose=purpose, cancel=cancel, kind=kind, prompt_text=prompt_text
                ):
                    yield provider, delta
            except PartialAnswer as exc:
                link.breaker.failed(exc)
                raise
            except CloudError as exc:
                log.warning("cloud provider failed, trying the next: %s", exc)
                link.breaker.failed(exc)
                reasons.append(str(exc))
                continue
            link.breaker.succeeded()
            return
        raise AllProvidersFailed(reasons, incapable=bool(self._links) and not capable)
