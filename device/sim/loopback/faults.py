"""The faults the loopback server injects, and how each one breaks an answer.

Faults queued with :meth:`LoopbackLLM.fail_next` are taken one per POST, first in first out:

==================  ==============================================  ===========================
fault               streamed chat                                   any other POST
==================  ==============================================  ===========================
slow_first_token    headers, then silence for ``slow_seconds``      silence, then the answer
status_401/403      OpenAI error JSON: the key is refused           same
status_404          OpenAI error JSON: ``model_not_found``          same
status_429/503      OpenAI error JSON (``Retry-After`` when given)  same
status_429_quota    429 ``insufficient_quota``: the account is dry  same
status_budget       400 ``budget_exceeded``, as LiteLLM's proxy     same
                    refuses a virtual key over its max_budget
status_429_budget   the same with 429 (LiteLLM's                    same
                    ``budget_exceeded_status_code: 429``)
status_500          OpenAI error JSON                               same
reset_mid_stream    role and two content events, then a TCP reset   half the body, then a reset
malformed_event     ``data: {not json`` after two content events    body ``{not json`` (JSON)
empty_choices       chunks with ``"choices": []``, then [DONE]      no choices / "" / no audio
wrong_content_type  200 ``text/html`` captive-portal page           same
hang                nothing for ``hang_seconds`` or until close()   same
hang_mid_stream     role and two content events, then silence       chat: half the body, then
                    for ``hang_seconds``; no [DONE]                 silence
huge_answer         HUGE_ANSWER_BYTES of text in 4 KB events        chat: the text in one body
endless_answer      the answer, then more text every 10 ms for      as hang_mid_stream
                    ``hang_seconds``, then silence; no [DONE]
slow_drip           one event every ``drip_seconds``                chat: as late as the drip
bad_tool_json       a ``set_timer`` call, arguments not JSON        chat: the same call
unknown_tool        a call to ``launch_rocket``, never offered      chat: the same call
tool_args_overflow  ``set_timer`` with ``{"seconds": 1e400}``       chat: the same call
==================  ==============================================  ===========================

The faults below ``hang`` are for chat: other endpoints answer as if there were none.

A server with ``sees_images = False`` is a text-only model: every chat request carrying an
image gets a 400 saying so (OpenAI's wording), as long as the setting stays. One with
``refused_fields`` is an older OpenAI-compatible server: a chat request naming any of those
fields (``stream_options``, say) gets a 400 naming it.

Every fault happens for real on the wire: a reset is a TCP RST, a hang is a silent socket.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from device.cloud.client import ToolCall
from device.sim.loopback.scripted import SCRIPTED_CALL_ID, ScriptedReply
from device.sim.loopback.wire import bad_key_body, error_body

FAULTS = frozenset(
    {
        "slow_first_token",
        "status_401",
        "status_403",
        "status_404",
        "status_429",
        "status_429_quota",
        "status_budget",
        "status_429_budget",
        "status_500",
        "status_503",
        "reset_mid_stream",
        "malformed_event",
        "empty_choices",
        "wrong_content_type",
        "hang",
        "hang_mid_stream",
        "huge_answer",
        "endless_answer",
        "slow_drip",
        "bad_tool_json",
        "unknown_tool",
        "tool_args_overflow",
    }
)
UNFINISHED = frozenset({"hang_mid_stream", "endless_answer"})  # fall silent, never end
CAPTIVE_PORTAL_PAGE = b"<html>captive portal</html>"  # what "wrong_content_type" answers
MALFORMED_JSON = b"{not json"
HUGE_ANSWER_BYTES = 4 * 1024 * 1024
HUGE_SENTENCE = "This answer goes on and on. "
ENDLESS_SENTENCE = "And it goes on. "
ENDLESS_INTERVAL_SECONDS = 0.01
VISION_REFUSAL = "Invalid content type. image_url is only supported by certain models."
# LiteLLM's wording; the key is named by its hash, never the key itself.
BUDGET_EXCEEDED = (
    "Budget has been exceeded! Key=5f1c2a0e9b7d4c3a Current cost: 0.2512, Max budget: 0.25"
)
BAD_TOOL_CALLS = {
    "bad_tool_json": ("set_timer", '{"seconds": 5'),
    "unknown_tool": ("launch_rocket", "{}"),
    "tool_args_overflow": ("set_timer", '{"seconds": 1e400}'),
}

# A streamed answer as the handler sends it: (seconds to wait first, event), where an event is
# a chunk object, or raw text sent as it is.
TimedEvents = list[tuple[float, dict[str, Any] | str]]


@dataclass(frozen=True)
class Fault:
    """How to break one answer: a name from FAULTS, or "" for none."""

    name: str = ""
    retry_after: float | None = None  # seconds, for "status_429" and "status_503"

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


def status_answer(fault: Fault, model: object = None) -> tuple[int, bytes, dict[str, str]]:
    """(status, OpenAI error JSON, extra headers) that a ``status_*`` fault answers with;
    ``model`` is what the request asked for (named by a 404, as OpenAI does)."""
    name = fault.name
    if name == "status_401":
        return 401, bad_key_body(), {}
    if name == "status_403":
        message = "You have insufficient permissions for this operation."
        return 403, error_body(message, "invalid_request_error", "permission_denied"), {}
    if name == "status_404":
        message = f"The model `{model}` does not exist or you do not have access to it."
        return 404, error_body(message, "invalid_request_error", "model_not_found"), {}
    if name == "status_429_quota":
        message = "You exceeded your current quota, please check your plan and billing details."
        return 429, error_body(message, "insufficient_quota", "insufficient_quota"), {}
    if name in ("status_budget", "status_429_budget"):
        status = 429 if name == "status_429_budget" else 400
        return status, error_body(BUDGET_EXCEEDED, "budget_exceeded", str(status)), {}
    headers = {}
    if fault.retry_after is not None:
        # Seconds as a decimal, as OpenAI's SDKs read it; also in milliseconds.
        headers = {
            "Retry-After": f"{fault.retry_after:g}",
            "retry-after-ms": str(round(fault.retry_after * 1000)),
        }
    if name == "status_429":
        return 429, error_body("Rate limit reached.", "requests", "rate_limit_exceeded"), headers
    if name == "status_503":
        message = "The engine is currently overloaded, please try again later."
        return 503, error_body(message, "server_error", None), headers
    message = "The server had an error while processing your request. Sorry about that!"
    return 500, error_body(message, "server_error", None), {}


def vision_refusal_body() -> bytes:
    """The 400 a text-only model answers a picture with."""
    return error_body(VISION_REFUSAL, "invalid_request_error", None, "messages")


def unknown_parameter_body(name: str) -> bytes:
    """The 400 a server that knows no such request field answers with (OpenAI's wording)."""
    return error_body(
        f"Unrecognized request argument supplied: {name}", "invalid_request_error", None, None
    )


def carries_image(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    return any(
        isinstance(part, dict) and part.get("type") == "image_url"
        for message in (messages if isinstance(messages, list) else [])
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
    )


def tool_fault_reply(fault: str) -> ScriptedReply | None:
    """The bad tool call a ``bad_tool_json``-like fault answers with instead; else None."""
    if fault not in BAD_TOOL_CALLS:
        return None
    name, arguments = BAD_TOOL_CALLS[fault]
    return ScriptedReply(tool_call=ToolCall(SCRIPTED_CALL_ID, name, arguments))


def break_whole(whole: dict[str, Any], fault: str) -> dict[str, Any]:
    """A whole (non-streamed) chat answer as ``fault`` breaks it."""
    if fault == "empty_choices":
        return {**whole, "choices": []}
    if fault == "huge_answer":
        message = {**whole["choices"][0]["message"], "content": _huge_text()}
        return {**whole, "choices": [{**whole["choices"][0], "message": message}]}
    return whole


def break_stream(
    timed: TimedEvents, fault: str, *, drip_seconds: float, endless_seconds: float
) -> TimedEvents | Iterator[tuple[float, dict[str, Any] | str]]:
    """The streamed chat's events as ``fault`` breaks them; unchanged for other faults."""
    if fault == "empty_choices":
        return [
            (delay, {**event, "choices": []} if isinstance(event, dict) else event)
            for delay, event in timed
        ]
    if fault == "malformed_event":
        return [*timed[:3], (0.0, MALFORMED_JSON.decode()), *timed[3:]]
    if fault in ("reset_mid_stream", "hang_mid_stream"):
        return timed[:3]  # the role event and two batches of text
    if fault == "slow_drip":
        return [
            (delay if i == 0 else drip_seconds, event) for i, (delay, event) in enumerate(timed)
        ]
    if fault == "huge_answer":
        piece = HUGE_SENTENCE * (4 * 1024 // len(HUGE_SENTENCE))
        count = -(-HUGE_ANSWER_BYTES // len(piece))  # rounded up
        return [timed[0], *[(0.0, _with_text(timed[1][1], piece))] * count, timed[-1]]
    if fault == "endless_answer":
        return _endless(timed, endless_seconds)
    return timed


def _endless(timed: TimedEvents, seconds: float) -> Iterator[tuple[float, dict[str, Any] | str]]:
    yield from timed[:-1]  # the whole answer but its finish event
    more = _with_text(timed[1][1], ENDLESS_SENTENCE)
    for _ in range(int(seconds / ENDLESS_INTERVAL_SECONDS)):
        yield ENDLESS_INTERVAL_SECONDS, more


def _with_text(event: dict[str, Any] | str, text: str) -> dict[str, Any]:
    """A content chunk like ``event`` carrying ``text``."""
    base = event if isinstance(event, dict) else {}
    return {**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


def _huge_text() -> str:
    return HUGE_SENTENCE * -(-HUGE_ANSWER_BYTES // len(HUGE_SENTENCE))  # rounded up


def reset(connection: socket.socket) -> None:
    """Close ``connection`` with a TCP reset, as a dropped link ends, instead of a clean FIN."""
    # SO_LINGER with a zero timeout makes close() send RST.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()
