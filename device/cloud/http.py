"""HTTP plumbing shared by every cloud call: POST with a watchdog, back-off, errors.

``post`` sends through ``requests``; a :class:`Watchdog` thread closes the socket when a time
limit passes or the wearer interrupts; ``backoff`` says how long to wait before asking again
(the server's Retry-After when it sent one). An error answer or a broken connection becomes a
one-line :class:`~device.errors.CloudError`, key scrubbed, whose ``cause`` says what went wrong.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import random
import re
import socket
import threading
import time
from collections.abc import Iterator

import requests
import urllib3

from device.cancel import Cancellation
from device.cloud.providers import Provider
from device.errors import CloudCause, CloudError

MAX_BACKOFF_SECONDS = 8.0


USER_AGENT = "zeropin"


class Watchdog:
    """Closes the response when a time limit passes or the work is cancelled."""

    def __init__(self, cancel: Cancellation) -> None:
        self._cancel = cancel
        self._timer: threading.Timer | None = None
        self._response: requests.Response | None = None
        self._lock = threading.Lock()
        self._remove = cancel.on_cancel(self._close)
        self.expired = False
        self.reason = ""

    def arm(self, seconds: float, reason: str) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self.reason = f"{reason} within {seconds:.1f} s"
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def attach(self, response: requests.Response) -> None:
        with self._lock:
            self._response = response
        if self.expired or self._cancel.cancelled:
            self._close()

    def stop(self) -> None:
        self._remove()
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()

    def _expire(self) -> None:
        self.expired = True
        self._close()

    def _close(self) -> None:
        with self._lock:
            response = self._response
        if response is not None:
            _shut_down(response)
            response.close()


def _shut_down(response: requests.Response) -> None:
    """Wake a read blocked on this response's socket in another thread.

    Closing a file descriptor does not wake a thread blocked in recv() on Linux; shutting the
    socket down does (the read returns at once). urllib3 exposes the socket only privately, so
    look for it carefully and fall back to a plain close.
    """
    connection = getattr(response.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        fp = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def post(
    session: requests.Session,
    provider: Provider,
    path: str,
    body: bytes,
    content_type: str,
    accept: str,
) -> requests.Response:
    """POST ``body`` to ``{base_url}/{path}`` with the key and the provider's connect and
    first-byte timeouts; the response is streamed (read it with ``response.raw.read1``)."""
    headers = {"Content-Type": content_type, "Accept": accept, "User-Agent": USER_AGENT}
    if provider.api_key:
        headers["Authorization"] = f"Bearer {provider.api_key.reveal()}"
    return session.post(
        f"{provider.base_url}/{path}",
        data=body,
        headers=headers,
        stream=True,
        timeout=(provider.connect_timeout_seconds, provider.first_token_timeout_seconds),
    )


def wrong_content_type(provider: Provider, kind: str, wanted: str = "a model reply") -> CloudError:
    """The error for an answer of the wrong type: most often a captive portal's login page."""
    return CloudError(
        f"{provider.name} answered with {kind or 'no content type'}, not {wanted} "
        "(a Wi-Fi login page or a proxy?)"
    )


def backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return max(0.0, retry_after)
    return min(MAX_BACKOFF_SECONDS, 0.5 * 2**attempt) * random.uniform(0.8, 1.2)


# The longest Retry-After believed: a server (or a proxy) asking for days would otherwise pause
# its provider until the daemon restarts.
MAX_RETRY_AFTER_SECONDS = 3600.0


def _retry_after(response: requests.Response) -> float | None:
    """Seconds the server asked to wait, at most MAX_RETRY_AFTER_SECONDS."""
    asked = _asked_wait(response)
    return None if asked is None else min(asked, MAX_RETRY_AFTER_SECONDS)


def _asked_wait(response: requests.Response) -> float | None:
    """Seconds the server asked to wait: OpenAI's retry-after-ms when sent, else Retry-After."""
    millis = response.headers.get("retry-after-ms", "").strip()
    if millis.replace(".", "", 1).isdigit():
        return float(millis) / 1000
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# Servers word "this model takes no pictures" many ways (OpenAI, vLLM, Ollama, llama.cpp,
# OpenRouter); each names images and says they are not supported.
_IMAGES = re.compile(r"image|vision|multi-?modal", re.IGNORECASE)
_NOT_SUPPORTED = re.compile(
    r"not support|n't support|unsupported|only supported|not a multi-?modal|no endpoints found"
    r"|at most 0 image",
    re.IGNORECASE,
)
# A gateway's own budget refusal. LiteLLM's proxy sends {"error": {"message": "Budget has been
# exceeded! ... Max budget: 2.5", "type": "budget_exceeded", "code": "400"}} with 400, 429 or
# (newer releases) 422, whichever its budget_exceeded_status_code says; others word it alike.
_BUDGET_TYPES = frozenset({"budget_exceeded", "budget_exceeded_error", "exceededbudget"})
_BUDGET_WORDS = re.compile(
    r"budget (has been |is |was )?(exceeded|used up|spent|exhausted)|(exceeded|over) (the |your )?"
    r"(max |maximum )?budget|max(imum)? budget (reached|limit)",
    re.IGNORECASE,
)
_BUDGET_STATUSES = frozenset({400, 402, 403, 422, 429})
_MISSING_MODEL = re.compile(
    r"model.*(not found|does not exist|not exist|not a valid model)|(unknown|no such) model",
    re.IGNORECASE,
)


def raise_for_status(response: requests.Response, provider: Provider) -> None:
    """Nothing for a 200; otherwise the CloudError whose cause says what went wrong."""
    status = response.status_code
    if status == 200:
        return
    message, code, kind = _error_detail(response)
    detail = _scrubbed(message, provider)
    name = provider.name
    if _is_budget_refusal(status, message, code, kind):
        # Before 403 and 429: waiting a minute or a new key will not bring the budget back.
        cause = CloudCause.BUDGET_DAY
        raise CloudError(f"{name}'s budget is used up ({status}): {detail}", cause=cause)
    # Refusals of what was asked, whatever the status: a missing model can come as 400, 403
    # (OpenAI, no access to it) or 404, and llama.cpp refuses images with a 500.
    if _IMAGES.search(message) and _NOT_SUPPORTED.search(message):
        cause = CloudCause.CANNOT_SEE
        raise CloudError(f"{name}'s model cannot see pictures ({status}): {detail}", cause=cause)
    if code == "model_not_found" or (status in (400, 404) and _MISSING_MODEL.search(message)):
        cause = CloudCause.MODEL_UNKNOWN
        raise CloudError(f"{name} does not know the model ({status}): {detail}", cause=cause)
    if status in (401, 403):
        cause = CloudCause.KEY_REFUSED
        raise CloudError(f"{name} refused the API key ({status}): {detail}", cause=cause)
    if status == 429 and code == "insufficient_quota":  # waiting will not bring money back
        cause = CloudCause.OUT_OF_CREDIT
        raise CloudError(f"{name} is out of quota (429): {detail}", cause=cause)
    if status in (429, 503):
        what = "is rate-limited (429)" if status == 429 else "is overloaded (503)"
        raise CloudError(
            f"{name} {what}: {detail}",
            cause=CloudCause.BUSY,
            retryable=True,
            retry_after_seconds=_retry_after(response),
        )
    if status >= 500:
        raise CloudError(
            f"{name} had a server error ({status}): {detail}",
            cause=CloudCause.SERVER_ERROR,
            retryable=True,
            retry_after_seconds=_retry_after(response),
        )
    if status == 404:  # no model named: the address itself is wrong (a typo in base_url)
        cause = CloudCause.NOT_FOUND
        raise CloudError(f"{name} has no such service (404): {detail}", cause=cause)
    cause = CloudCause.REJECTED
    raise CloudError(f"{name} rejected the request ({status}): {detail}", cause=cause)


def _is_budget_refusal(status: int, message: str, code: str, kind: str) -> bool:
    if status not in _BUDGET_STATUSES:
        return False
    named = kind.lower() in _BUDGET_TYPES or code.lower() in _BUDGET_TYPES
    return named or bool(_BUDGET_WORDS.search(message))


def _error_detail(response: requests.Response) -> tuple[str, str, str]:
    """The error body's message, one line, its ``code`` and its ``type`` ("" when none)."""
    try:
        text = response.raw.read(4096, decode_content=True).decode("utf-8", "replace")
    except Exception:  # the body of an error is a nicety; the status already says enough
        return "no details", "", ""
    try:
        error = json.loads(text).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        message, code, kind = error.get("message"), error.get("code"), error.get("type")
    else:
        message, code, kind = error, None, None
    if message:
        return " ".join(str(message).split())[:200], str(code or ""), str(kind or "")
    return " ".join(text.split())[:120] or "no details", str(code or ""), str(kind or "")


def _scrubbed(text: str, provider: Provider) -> str:
    """Servers sometimes echo the key back in errors; never pass it on."""
    key = provider.api_key.reveal()
    return text.replace(key, "***") if key else text


def network_error(exc: BaseException, provider: Provider) -> CloudError:
    name = provider.name
    # Timeouts are not retried on the same provider: the next one in the chain is a better bet.
    if isinstance(exc, requests.ConnectTimeout):
        return CloudError(f"{name} did not accept a connection in time")
    if isinstance(exc, requests.ReadTimeout):
        return CloudError(f"{name} did not start answering in time")
    # Nor are a name that does not resolve and a failed TLS handshake: a second later they
    # fail the same way.
    if isinstance(exc, requests.exceptions.SSLError):
        return CloudError(f"no secure connection to {name} ({provider.host})")
    if _is_name_not_resolved(exc):
        return CloudError(f"cannot find {name}'s address ({provider.host})")
    if isinstance(exc, requests.ConnectionError):
        return CloudError(f"cannot reach {name} ({provider.host})", retryable=True)
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.HTTPError | OSError
    ):
        return CloudError(f"the connection to {name} broke off", retryable=True)
    return CloudError(
        f"{name} sent something that is not a model reply ({type(exc).__name__})",
        cause=CloudCause.SERVER_ERROR,
    )


def _is_name_not_resolved(exc: BaseException) -> bool:
    # requests wraps urllib3's MaxRetryError, whose ``reason`` is the resolver's failure.
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(reason, urllib3.exceptions.NameResolutionError)


def content_type_of(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def raw_chunks(response: requests.Response) -> Iterator[bytes]:
    """Bytes as the socket delivers them (``iter_content`` would wait for 128 bytes or EOF)."""
    raw = response.raw
    while True:
        data = raw.read1(65536)
        if not data:
            return
        yield data
