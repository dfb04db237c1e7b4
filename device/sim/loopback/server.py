"""A real OpenAI-compatible HTTP server on loopback, with a thin scripted model behind it.

The HTTP side is real: a ``ThreadingHTTPServer`` on 127.0.0.1 speaking the OpenAI wire format
(JSON and multipart bodies, bearer-key auth, OpenAI-style error objects, server-sent events in
chunked transfer encoding with one chunk flushed per event). A client talking to it goes through
its real socket, HTTP and SSE code, and every fault below happens for real on the wire.

The model behind it is NOT a language model. It is a small scripted stand-in
(:func:`scripted_reply`) that derives its answer from the request by a few fixed rules, so a
test can prove what the client sent: which tools were offered, which facts were in the system
prompt, how big the photo was. The demo, the benchmark and the tests use it because no real
cloud model is reachable on these offline machines.

    with LoopbackLLM(api_key="sk-test", first_token_seconds=0.3) as server:
        server.fail_next("status_429", retry_after=1.0)
        ...  # point the client at server.base_url, "http://127.0.0.1:PORT/v1"
        assert server.requests[-1].path == "/v1/chat/completions"

Endpoints: POST ``/v1/chat/completions`` (streaming or not), POST ``/v1/audio/transcriptions``
(multipart; answers ``transcript``), POST ``/v1/audio/speech`` (answers a WAV tone, 16 kHz mono
s16, 50 ms per input character up to 3 s, whatever ``response_format`` asks), GET ``/v1/models``.

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

Multipart uploads are recorded with their text fields as strings (repeated ``name[]`` fields
become one list under ``name``) and each file field as the placeholder string
``"<binary N bytes>"``, so a recorded body is exactly what the OpenAPI schema expects (it types
files as ``string``, ``format: binary``); the bytes themselves are in ``RecordedRequest.files``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from device.sim.loopback.scripted import DEFAULT_REPLY, BadRequest, ScriptedReply, scripted_reply
from device.sim.loopback.wire import (
    _MAX_BODY_BYTES,
    UploadedFile,
    _bad_key_body,
    _Completion,
    _error_body,
    _events_for,
    _parse_body,
    tone_wav,
)

logger = logging.getLogger(__name__)


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


DEFAULT_TRANSCRIPT = "what time is it"


LOOPBACK_MODEL = "loopback-chat"


CAPTIVE_PORTAL_PAGE = b"<html>captive portal</html>"


_SCHEMA_FOR_PATH = {
    "/v1/chat/completions": "CreateChatCompletionRequest",
    "/v1/audio/transcriptions": "CreateTranscriptionRequest",
    "/v1/audio/speech": "CreateSpeechRequest",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, kept so a test can check what the client sent."""

    path: str  # "/v1/chat/completions"
    headers: dict[str, str]  # names as the client spelled them
    body: dict[str, Any]  # parsed JSON, or multipart text fields (see the module docstring)
    raw_size: int  # bytes of request body on the wire
    files: dict[str, UploadedFile] = field(default_factory=dict, repr=False)  # multipart only


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hung handler must never keep the test process alive
    timeout = 0  # handle_request() runs only once select() has seen a client waiting

    def __init__(self, owner: LoopbackLLM) -> None:
        self.owner = owner
        self._wake_reader, self._wake_writer = socket.socketpair()
        super().__init__((owner.host, 0), _Handler)

    def serve_until_stopped(self) -> None:
        # Not serve_forever(): its polling makes every close() wait up to a poll interval and
        # keeps an idle server waking up. This sleeps until a client connects or wake() is called.
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self.owner._stopping.is_set():
                ready = [key.fileobj for key, _ in selector.select()]
                if self.socket in ready and not self.owner._stopping.is_set():
                    self.handle_request()

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")

    def server_close(self) -> None:
        super().server_close()
        self._wake_reader.close()
        self._wake_writer.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.warning("loopback LLM: error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, as real servers do
    timeout = 10  # seconds an idle keep-alive connection or a half-sent body may hold a thread

    # -- plumbing

    @property
    def owner(self) -> LoopbackLLM:
        return cast(_Server, self.server).owner

    def setup(self) -> None:
        super().setup()
        self.owner._opened(self.connection)

    def finish(self) -> None:
        self.owner._closed(self.connection)
        with contextlib.suppress(OSError):  # the connection was reset, on purpose or not
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("loopback LLM %s: " + format, self.address_string(), *args)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            # The client went away or stalled mid-request: normal in fault tests, not a bug here.
            logger.debug("loopback LLM: client disconnected", exc_info=True)
            self.close_connection = True

    @property
    def route(self) -> str:
        return urlsplit(self.path).path.rstrip("/")

    def _pause(self, seconds: float) -> bool:
        """Sleep, unless the server closes first; False means stop answering."""
        if seconds > 0 and self.owner._stopping.wait(seconds):
            self.close_connection = True
            return False
        return not self.owner._stopping.is_set()

    # -- requests

    def do_GET(self) -> None:
        self.owner._record(RecordedRequest(self.route, dict(self.headers.items()), {}, 0))
        if not self._authorised():
            return
        if self.route != "/v1/models":
            self._send_not_found()
            return
        models = [
            {"id": name, "object": "model", "created": 0, "owned_by": "loopback"}
            for name in self.owner._model_names()
        ]
        self._send_json(200, {"object": "list", "data": models})

    def do_POST(self) -> None:
        raw = self._read_body()
        if raw is None:
            return
        problem: BadRequest | None = None
        try:
            body, files = _parse_body(self.headers.get("Content-Type", ""), raw)
        except BadRequest as exc:
            body, files, problem = {}, {}, exc
        headers = dict(self.headers.items())
        self.owner._record(RecordedRequest(self.route, headers, body, len(raw), files))
        if problem is None:
            self.owner._validate(self.route, body)
        fault, retry_after = self.owner._take_fault()
        if fault and fault.startswith("status_"):
            self._send_status_fault(fault, retry_after)
            return
        if not self._authorised():
            return
        answer = {
            "/v1/chat/completions": self._chat,
            "/v1/audio/transcriptions": self._transcribe,
            "/v1/audio/speech": self._speak,
        }.get(self.route)
        if answer is None:
            self._send_not_found()
        elif problem is not None:
            self._send_error(400, str(problem), param=problem.param)
        elif fault == "hang":
            self._hang()
        elif fault == "wrong_content_type":
            self._send(200, "text/html; charset=utf-8", CAPTIVE_PORTAL_PAGE)
        else:
            try:
                answer(body, files, fault)
            except BadRequest as exc:
                self._send_error(400, str(exc), param=exc.param)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send_error(411, "Send the body with a Content-Length.")
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would be taken for the next request
            self._send_error(413, f"The body must be 0 to {_MAX_BODY_BYTES} bytes.")
            return None
        return self.rfile.read(length)

    def _authorised(self) -> bool:
        key = self.owner.api_key
        if not key or self.headers.get("Authorization", "") == f"Bearer {key}":
            return True
        self._send(401, "application/json", _bad_key_body())
        return False

    # -- answers

    def _chat(self, body: dict[str, Any], files: dict[str, UploadedFile], fault: str) -> None:
        reply = scripted_reply(body, self.owner.reply_text)
        model = body.get("model") if isinstance(body.get("model"), str) else LOOPBACK_MODEL
        completion = _Completion(self.owner._next_id(), int(time.time()), str(model))
        if body.get("stream") is True:
            self._stream_chat(completion, reply, fault)
            return
        # As long as the streamed answer would take: first token, then one interval per batch.
        batches = len(_events_for(reply)) - 2  # not the role event nor the finish event
        owner = self.owner
        delay = owner.first_token_seconds + owner.token_interval_seconds * max(0, batches - 1)
        if fault == "slow_first_token":
            delay += owner.slow_seconds
        if not self._pause(delay):
            return
        whole = completion.whole(reply, prompt=body)
        if fault == "empty_choices":
            whole["choices"] = []
        self._send_answer(json.dumps(whole).encode(), "application/json", fault)

    def _stream_chat(self, completion: _Completion, reply: ScriptedReply, fault: str) -> None:
        owner = self.owner
        chunks = [completion.chunk(delta, finish) for delta, finish in _events_for(reply)]
        first_delay = owner.first_token_seconds
        if fault == "slow_first_token":
            first_delay += owner.slow_seconds
        # The role event waits for the first token and rides with it; later batches come one
        # interval apart; the finish event follows the last batch at once.
        last = len(chunks) - 1
        timed: list[tuple[float, dict[str, Any] | str]] = [
            (first_delay if i == 0 else 0.0 if i in (1, last) else owner.token_interval_seconds, c)
            for i, c in enumerate(chunks)
        ]
        if fault == "empty_choices":
            timed = [
                (delay, {**chunk, "choices": []})
                for (delay, _), chunk in zip(timed, chunks, strict=True)
            ]
        elif fault == "malformed_event":
            timed.insert(3, (0.0, "{not json"))
        elif fault == "reset_mid_stream":
            timed = timed[:3]  # the role event and two batches of text
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for delay, event in timed:
            if not self._pause(delay):
                return
            text = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
            self._write_chunk(f"data: {text}\n\n".encode())
        if fault == "reset_mid_stream":
            self._reset_after_a_moment()
            return
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _transcribe(self, body: dict[str, Any], files: dict[str, UploadedFile], fault: str) -> None:
        if "file" not in files:
            raise BadRequest("A file field named 'file' is required.", "file")
        if fault == "slow_first_token" and not self._pause(self.owner.slow_seconds):
            return
        text = "" if fault == "empty_choices" else self.owner.transcript
        if body.get("response_format") == "text":
            self._send_answer(text.encode(), "text/plain; charset=utf-8", fault)
        else:
            self._send_answer(json.dumps({"text": text}).encode(), "application/json", fault)

    def _speak(self, body: dict[str, Any], files: dict[str, UploadedFile], fault: str) -> None:
        text = body.get("input")
        if not isinstance(text, str):
            raise BadRequest("'input' must be a string.", "input")
        if fault == "slow_first_token" and not self._pause(self.owner.slow_seconds):
            return
        self._send_answer(tone_wav("" if fault == "empty_choices" else text), "audio/wav", fault)

    def _hang(self) -> None:
        # Say nothing; the client's own timeout (or close()) has to end this.
        self._pause(self.owner.hang_seconds)
        self.close_connection = True

    # -- sending

    def _send(
        self, status: int, content_type: str, data: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(payload).encode())

    def _send_error(self, status: int, message: str, param: str | None = None) -> None:
        body = _error_body(message, "invalid_request_error", None, param)
        self._send(status, "application/json", body)

    def _send_not_found(self) -> None:
        self._send_error(404, f"Invalid URL ({self.command} {self.route})")

    def _send_status_fault(self, fault: str, retry_after: float | None) -> None:
        if fault == "status_401":
            self._send(401, "application/json", _bad_key_body())
        elif fault == "status_429":
            # Seconds as a decimal, like OpenAI's SDKs read it; also in milliseconds.
            headers = {}
            if retry_after is not None:
                headers = {
                    "Retry-After": f"{retry_after:g}",
                    "retry-after-ms": str(round(retry_after * 1000)),
                }
            body = _error_body("Rate limit reached.", "requests", "rate_limit_exceeded")
            self._send(429, "application/json", body, headers)
        else:
            message = "The server had an error while processing your request. Sorry about that!"
            self._send(500, "application/json", _error_body(message, "server_error", None))

    def _send_answer(self, data: bytes, content_type: str, fault: str) -> None:
        """A whole (non-streamed) 200 answer, or the fault's broken version of it."""
        if fault == "malformed_event":
            self._send(200, "application/json", b"{not json")
        elif fault == "reset_mid_stream":
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self._reset_after_a_moment()
        else:
            self._send(200, content_type, data)

    def _write_chunk(self, data: bytes) -> None:
        # One HTTP chunk per SSE event, flushed, so the client sees each token as it is made.
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _reset_after_a_moment(self) -> None:
        # A short pause lets the client read what was sent, as on a real dropped link;
        # SO_LINGER 0 then makes close() send RST instead of FIN: a reset, not a clean end.
        self._pause(0.1)
        self.close_connection = True
        linger = struct.pack("ii", 1, 0)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        self.connection.close()


class LoopbackLLM:
    """An OpenAI-compatible server on 127.0.0.1 with a scripted model; see the module docstring.

    ``first_token_seconds``, ``token_interval_seconds``, ``slow_seconds``, ``hang_seconds``,
    ``reply_text``, ``transcript`` and ``on_request`` are plain attributes a test may change
    between requests.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        api_key: str = "",
        first_token_seconds: float = 0.0,
        token_interval_seconds: float = 0.0,
        validator: Callable[[str, dict[str, Any]], list[str]] | None = None,
    ) -> None:
        self.api_key = api_key
        self.first_token_seconds = first_token_seconds
        self.token_interval_seconds = token_interval_seconds
        self.validator = validator
        self.slow_seconds = 3.0  # extra wait before the first event under "slow_first_token"
        self.hang_seconds = 60.0  # how long "hang" says nothing, unless close() comes first
        self.reply_text = DEFAULT_REPLY
        self.transcript = DEFAULT_TRANSCRIPT
        # Called in the server thread with each request as it arrives, before it is answered:
        # a test can look at the device while the upload is in flight (is the privacy LED lit?).
        self.on_request: Callable[[RecordedRequest], None] | None = None
        self.base_url = ""
        self.port = 0
        self.requests: list[RecordedRequest] = []
        self.validation_errors: list[str] = []
        self._lock = threading.Lock()
        self._faults: deque[tuple[str, float | None]] = deque()
        self._models_seen: list[str] = []
        self._ids = itertools.count(1)
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._stopping.is_set():
            raise RuntimeError("this LoopbackLLM was closed; make a new one")
        if self._server is not None:
            return
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_until_stopped, name=f"loopback-llm-{self.port}", daemon=True
        )
        self._thread.start()
        logger.debug("loopback LLM listening at %s", self.base_url)

    def close(self) -> None:
        """Stop serving and drop every connection, hung or streaming ones included."""
        if self._stopping.is_set():
            return
        self._stopping.set()  # wakes any handler sleeping in a delay, a slow token or a hang
        if self._server is None:
            return
        self._server.wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)

    @property
    def open_connections(self) -> int:
        """Client connections still open (a cancelled stream's goes once the client drops it)."""
        with self._lock:
            return len(self._connections)

    def __enter__(self) -> LoopbackLLM:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fail_next(self, fault: str, *, times: int = 1, retry_after: float | None = None) -> None:
        """Break the next ``times`` POST requests with ``fault`` (queued after earlier faults)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(sorted(FAULTS))}")
        with self._lock:
            self._faults.extend([(fault, retry_after)] * times)

    # -- used by the handler threads

    def _take_fault(self) -> tuple[str, float | None]:
        with self._lock:
            return self._faults.popleft() if self._faults else ("", None)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            model = request.body.get("model")
            if isinstance(model, str) and model not in self._models_seen:
                self._models_seen.append(model)
        hook = self.on_request
        if hook is not None:
            try:
                hook(request)
            except Exception:  # a broken hook must not look like a broken server
                logger.warning("loopback LLM: on_request hook failed", exc_info=True)

    def _model_names(self) -> list[str]:
        with self._lock:
            names = list(self._models_seen)
        # The server's own name is always listed, so a health check finds at least one model.
        return names if LOOPBACK_MODEL in names else [*names, LOOPBACK_MODEL]

    def _validate(self, path: str, body: dict[str, Any]) -> None:
        schema = _SCHEMA_FOR_PATH.get(path)
        if self.validator is None or schema is None:
            return
        try:
            errors = [f"{schema}: {error}" for error in self.validator(schema, body)]
        except Exception as exc:  # a broken check must fail the test, not drop the connection
            errors = [f"{schema}: the validator failed: {exc!r}"]
        if errors:
            # Not the errors themselves: they quote the body, which may hold what the user said.
            logger.warning(
                "loopback LLM: a %s breaks the OpenAPI schema (%d errors)", schema, len(errors)
            )
            with self._lock:
                self.validation_errors.extend(errors)

    def _next_id(self) -> str:
        return f"chatcmpl-loopback-{next(self._ids)}"

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)
