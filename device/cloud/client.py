"""A client for one OpenAI-compatible endpoint: streamed chat completions over ``requests``.

It sends a Chat Completions body (built by the caller) and yields what the model says as it
arrives: :class:`TextDelta` for words, :class:`ToolCall` for each finished function call. Every
request passes through the egress gate (ledger row; privacy LED for images and audio).

Time limits, each turning into a :class:`~device.errors.CloudError` the chain can act on:

- ``connect_timeout_seconds``: TCP and TLS set-up;
- ``first_token_timeout_seconds``: from sending to the first word or tool call (a role-only
  chunk does not count: some servers send it at once and then think);
- ``deadline_seconds``: the whole exchange.

A watchdog thread closes the response when a limit passes or the user interrupts, so a read
blocked on a silent socket ends at once instead of at the next timeout. 429 and 5xx answers
and dropped connections are retried with back-off (honouring Retry-After) while nothing has been
yielded yet, unless the wait would pass ``max_wait_seconds`` (the chain's choice: short when
another provider could answer) or the deadline; after that, a failure is a
:class:`PartialAnswer` so the caller can say the answer was cut off instead of starting again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import sseclient
import urllib3

from device.cancel import Cancellation, Cancelled
from device.cloud.http import (
    Watchdog,
    backoff,
    content_type_of,
    network_error,
    post,
    raise_for_status,
    raw_chunks,
    wrong_content_type,
)
from device.cloud.providers import Provider
from device.egress import EgressGate
from device.errors import CloudCause, CloudError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it (may be invalid: the caller checks)


Delta = TextDelta | ToolCall


@dataclass(frozen=True)
class Usage:
    """The tokens the server says a request used: the last thing an answer yields, when the
    server counts (a streamed answer only when asked: ``stream_options.include_usage``)."""

    tokens: int


ClientDelta = Delta | Usage


class PartialAnswer(CloudError):
    """The stream broke after some of the answer was already given out."""


@dataclass
class _ToolCallParts:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ChatClient:
    """Chat completions against one provider. Thread-safe; one instance per provider.

    Example::

        client = ChatClient(provider, gate)
        body = {"model": provider.model, "messages": [{"role": "user", "content": "Hi"}]}
        for delta in client.chat(body, purpose="chat", cancel=Cancellation()):
            print(delta)
    """

    def __init__(
        self,
        provider: Provider,
        gate: EgressGate,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,  # tests: record back-offs, don't wait
    ) -> None:
        self.provider = provider
        self.gate = gate
        self.session = session or requests.Session()
        self._sleep = sleep

    # ---- chat ----------------------------------------------------------------------------
    def chat(
        self,
        body: dict[str, Any],
        *,
        purpose: str,
        cancel: Cancellation,
        kind: str = "text",
        prompt_text: str = "",
        max_wait_seconds: float | None = None,
    ) -> Iterator[ClientDelta]:
        """Send ``body`` to /chat/completions; yield the answer as it streams (or all at once
        when ``body["stream"]`` is false), then its :class:`Usage` if the server counted it.
        Raises CloudError, PartialAnswer or Cancelled.

        ``kind`` is what the request carries for the egress ledger ("image" lights the privacy
        LED); ``prompt_text`` is the user's words, recorded only when the ledger is configured
        to keep prompt text. ``max_wait_seconds``: the longest back-off worth sitting through
        before asking again (None: any that ends before the deadline); a failure asking for a
        longer wait is raised at once, its ``retry_after_seconds`` saying how long.
        """
        payload = json.dumps(body, ensure_ascii=False).encode()
        started = time.monotonic()
        attempt = 0
        while True:
            cancel.check()
            given_out = False
            try:
                with self.gate.upload(
                    host=self.provider.host,
                    kind=kind,
                    size_bytes=len(payload),
                    purpose=purpose,
                    content=prompt_text,
                ):
                    for delta in self._exchange(payload, bool(body.get("stream")), started, cancel):
                        given_out = given_out or not isinstance(delta, Usage)
                        yield delta
                return
            except CloudError as exc:
                if given_out:
                    raise PartialAnswer(str(exc), cause=exc.cause) from exc
                wait = self._retry_wait(exc, attempt, started, max_wait_seconds)
                if wait is None:
                    raise
                log.warning("%s: %s; retrying in %.1f s", self.provider.name, exc, wait)
                attempt += 1
                self._sleep_unless_cancelled(wait, cancel)

    def _retry_wait(
        self, exc: CloudError, attempt: int, started: float, max_wait: float | None
    ) -> float | None:
        """Seconds to wait before asking again, or None: give up on this provider now."""
        if not exc.retryable or attempt >= self.provider.max_retries:
            return None
        wait = backoff(attempt, exc.retry_after_seconds)
        remaining = self.provider.deadline_seconds - (time.monotonic() - started)
        if wait > remaining or (max_wait is not None and wait > max_wait):
            return None  # the caller is better served by the next provider or a spoken reason
        return wait

    def _exchange(
        self, payload: bytes, stream: bool, started: float, cancel: Cancellation
    ) -> Iterator[ClientDelta]:
        provider = self.provider
        watchdog = Watchdog(cancel)
        watchdog.arm(provider.first_token_timeout_seconds, "did not start answering")
        try:
            response = self._post(payload, stream)
            with response:
                watchdog.attach(response)
                raise_for_status(response, provider)
                if stream:
                    deltas = _stream_deltas(response, provider)
                else:
                    deltas = _whole_deltas(response, provider)
                first = True
                for delta in deltas:
                    if first and not isinstance(delta, Usage):
                        first = False
                        elapsed = time.monotonic() - started
                        watchdog.arm(max(0.0, provider.deadline_seconds - elapsed), "took too long")
                    yield delta
                if first:
                    raise CloudError(
                        f"{provider.name} sent an empty answer", cause=CloudCause.SERVER_ERROR
                    )
        except Exception as exc:
            # A closed response surfaces as whatever the read was doing; what closed it decides.
            cancel.check()
            if watchdog.expired:
                raise CloudError(f"{provider.name} {watchdog.reason}") from None
            if isinstance(exc, CloudError):
                raise
            if isinstance(
                exc, requests.RequestException | urllib3.exceptions.HTTPError | OSError | ValueError
            ):
                raise network_error(exc, provider) from None
            raise
        finally:
            watchdog.stop()

    def _post(self, payload: bytes, stream: bool) -> requests.Response:
        accept = "text/event-stream" if stream else "application/json"
        # The read timeout also bounds waiting for the headers; the watchdog bounds the rest.
        return post(
            self.session, self.provider, "chat/completions", payload, "application/json", accept
        )

    def _sleep_unless_cancelled(self, seconds: float, cancel: Cancellation) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        else:  # a back-off the user's button press can cut short
            woken = threading.Event()
            remove = cancel.on_cancel(woken.set)
            try:
                woken.wait(seconds)
            finally:
                remove()
        cancel.check()


def _stream_deltas(response: requests.Response, provider: Provider) -> Iterator[ClientDelta]:
    kind = content_type_of(response)
    if kind == "application/json":  # a server that ignores "stream": true
        yield from _whole_deltas(response, provider)
        return
    if kind != "text/event-stream":
        raise wrong_content_type(provider, kind)
    calls: dict[int, _ToolCallParts] = {}
    finished = False  # "[DONE]" or a finish_reason: the answer is whole
    usage: Usage | None = None  # the last chunk carries it when include_usage was asked for
    for event in sseclient.SSEClient(raw_chunks(response)).events():
        data = event.data.strip()
        if not data:
            continue
        if data == "[DONE]":
            finished = True
            break
        try:
            chunk = json.loads(data)
        except ValueError:
            log.warning("%s: skipped an unreadable event (%d bytes)", provider.name, len(data))
            continue
        if isinstance(chunk, dict) and "error" in chunk:  # some servers report errors in-stream
            raise CloudError(
                f"{provider.name} failed mid-answer: {_in_stream_error(chunk)}",
                cause=CloudCause.SERVER_ERROR,
            )
        usage = _usage(chunk) or usage
        for choice in (chunk.get("choices") or []) if isinstance(chunk, dict) else []:
            finished = finished or bool(choice.get("finish_reason"))
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                yield TextDelta(text)
            for part in delta.get("tool_calls") or []:
                parts = calls.setdefault(int(part.get("index", 0)), _ToolCallParts())
                function = part.get("function") or {}
                parts.id = part.get("id") or parts.id
                parts.name = function.get("name") or parts.name
                parts.arguments.append(function.get("arguments") or "")
    if not finished:
        raise CloudError(f"the connection to {provider.name} broke off", retryable=True)
    for index in sorted(calls):
        parts = calls[index]
        if parts.name:
            yield ToolCall(parts.id or f"call_{index}", parts.name, "".join(parts.arguments))
    if usage is not None:
        yield usage


def _usage(document: object) -> Usage | None:
    """A chunk's or an answer's ``usage``, when it has a usable one."""
    usage = document.get("usage") if isinstance(document, dict) else None
    if not isinstance(usage, dict):
        return None
    total = usage.get("total_tokens")
    if not isinstance(total, int) or isinstance(total, bool):
        parts = [usage.get("prompt_tokens"), usage.get("completion_tokens")]
        total = sum(p for p in parts if isinstance(p, int) and not isinstance(p, bool))
    return Usage(max(0, total))


def _in_stream_error(chunk: dict[str, Any]) -> str:
    error = chunk["error"]
    message = error.get("message") if isinstance(error, dict) else error
    return " ".join(str(message).split())[:200]


def _whole_deltas(response: requests.Response, provider: Provider) -> Iterator[ClientDelta]:
    if content_type_of(response) != "application/json":
        raise wrong_content_type(provider, content_type_of(response))
    try:
        document = json.loads(b"".join(raw_chunks(response)))
        message = document["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise CloudError(
            f"{provider.name} sent an answer without a message", cause=CloudCause.SERVER_ERROR
        ) from None
    if message.get("content"):
        yield TextDelta(message["content"])
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        if function.get("name"):
            yield ToolCall(
                call.get("id") or f"call_{index}", function["name"], function.get("arguments", "")
            )
    usage = _usage(document)
    if usage is not None:
        yield usage


__all__ = [
    "ChatClient",
    "ClientDelta",
    "Delta",
    "PartialAnswer",
    "TextDelta",
    "ToolCall",
    "Usage",
    "Cancelled",
]
