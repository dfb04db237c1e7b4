"""The faults the loopback server injects, and how each one breaks an answer.

Faults queued with :meth:`LoopbackLLM.fail_next` are taken one per POST, first in first out:

==================  ==============================================  ===========================
fault               streamed chat                                   any other POST
==================  ==============================================  ===========================
slow_first_token    headers, then silence for ``slow_seconds``      silence, then the answer
status_429/500/401  OpenAI error JSON (429: ``Retry-After``)        same
reset_mid_stream    role and two content events, then a TCP reset   half the body, then a reset
malformed_event     ``data: {not json`` after two content events    body ``{not json`` (JSON)
empty_choices       chunks with ``"choices": []``, then [DONE]      no choices / "" / no audio
wrong_content_type  200 ``text/html`` captive-portal page           same
hang                nothing for ``hang_seconds`` or until close()   same
==================  ==============================================  ===========================

Every fault happens for real on the wire: a reset is a TCP RST, a hang is a silent socket.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from device.sim.loopback.wire import bad_key_body, error_body

FAULTS = frozenset(
    {
        "slow_first_token",
        "status_429",
        "status_500",
        "status_401",
        "reset_mid_stream",
        "malformed_event",
        "empty_choices",
        "wrong_content_type",
        "hang",
    }
)
CAPTIVE_PORTAL_PAGE = b"<html>captive portal</html>"  # what "wrong_content_type" answers
MALFORMED_JSON = b"{not json"

# A streamed answer as the handler sends it: (seconds to wait first, event), where an event is
# a chunk object, or raw text sent as it is.
TimedEvents = list[tuple[float, dict[str, Any] | str]]


@dataclass(frozen=True)
class Fault:
    """How to break one answer: a name from FAULTS, or "" for none."""

    name: str = ""
    retry_after: float | None = None  # seconds, for "status_429"

    @property
    def is_status(self) -> bool:
        """Whether the fault replaces the answer with an HTTP error status."""
        return self.name.startswith("status_")


class FaultQueue:
    """Faults waiting for the next POST requests, first in first out; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()

    def add(self, name: str, *, times: int = 1, retry_after: float | None = None) -> None:
        """Queue ``name`` for the next ``times`` POSTs; ValueError for an unknown fault."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
        with self._lock:
            self._faults.extend([Fault(name, retry_after)] * times)

    def take(self) -> Fault:
        """The next fault, or ``Fault()`` (none) when the queue is empty."""
        with self._lock:
            return self._faults.popleft() if self._faults else Fault()


def status_answer(fault: Fault) -> tuple[int, bytes, dict[str, str]]:
    """(status, OpenAI error JSON, extra headers) that a ``status_*`` fault answers with."""
    if fault.name == "status_401":
        return 401, bad_key_body(), {}
    if fault.name == "status_429":
        headers = {}
        if fault.retry_after is not None:
            # Seconds as a decimal, as OpenAI's SDKs read it; also in milliseconds.
            headers = {
                "Retry-After": f"{fault.retry_after:g}",
                "retry-after-ms": str(round(fault.retry_after * 1000)),
            }
        return 429, error_body("Rate limit reached.", "requests", "rate_limit_exceeded"), headers
    message = "The server had an error while processing your request. Sorry about that!"
    return 500, error_body(message, "server_error", None), {}


def break_stream(timed: TimedEvents, fault: str) -> TimedEvents:
    """The streamed chat's events as ``fault`` breaks them; unchanged for other faults."""
    if fault == "empty_choices":
        return [
            (delay, {**event, "choices": []} if isinstance(event, dict) else event)
            for delay, event in timed
        ]
    if fault == "malformed_event":
        return [*timed[:3], (0.0, MALFORMED_JSON.decode()), *timed[3:]]
    if fault == "reset_mid_stream":
        return timed[:3]  # the role event and two batches of text
    return timed


def reset(connection: socket.socket) -> None:
    """Close ``connection`` with a TCP reset, as a dropped link ends, instead of a clean FIN."""
    # SO_LINGER with a zero timeout makes close() send RST.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()
