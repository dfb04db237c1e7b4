"""A real OpenAI-compatible HTTP server on loopback, with a thin scripted model behind it.

The HTTP side is real: a ``ThreadingHTTPServer`` on 127.0.0.1 speaking the OpenAI wire format
(JSON and multipart bodies, bearer-key auth, OpenAI-style error objects, server-sent events in
chunked transfer encoding with one chunk flushed per event). A client talking to it goes through
its real socket, HTTP and SSE code, and every injected fault happens for real on the wire.

The model behind it is NOT a language model: ``scripted.scripted_reply`` derives its answer from
the request by a few fixed rules, so a test can prove what the client sent. The demo, the
benchmark and the tests use it because no real cloud model is reachable on these offline machines.

    with LoopbackLLM(api_key="sk-test", first_token_seconds=0.3) as server:
        server.fail_next("status_429", retry_after=1.0)
        ...  # point the client at server.base_url, "http://127.0.0.1:PORT/v1"
        assert server.requests[-1].path == "/v1/chat/completions"

Endpoints: POST ``/v1/chat/completions`` (streaming or not), POST ``/v1/audio/transcriptions``
(multipart; answers ``transcript``), POST ``/v1/audio/speech`` (answers a WAV tone, 16 kHz mono
s16, 50 ms per input character up to 3 s, whatever ``response_format`` asks), GET ``/v1/models``.

Faults queued with :meth:`LoopbackLLM.fail_next` break the next POSTs (``faults`` lists them);
every request is kept in ``LoopbackLLM.requests`` (see ``recording``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from device.sim.loopback.faults import (
    CAPTIVE_PORTAL_PAGE,
    MALFORMED_JSON,
    UNFINISHED,
    FaultQueue,
    TimedEvents,
    break_stream,
    break_whole,
    carries_image,
    reset,
    status_answer,
    tool_fault_reply,
    unknown_parameter_body,
    vision_refusal_body,
)
from device.sim.loopback.recording import RecordedRequest, RequestLog, Validator
from device.sim.loopback.scripted import DEFAULT_REPLY, BadRequest, ScriptedReply, scripted_reply
from device.sim.loopback.wire import (
    MAX_BODY_BYTES,
    Completion,
    UploadedFile,
    bad_key_body,
    error_body,
    events_for,
    parse_body,
    tone_wav,
    wants_usage,
)

logger = logging.getLogger(__name__)

DEFAULT_TRANSCRIPT = "what time is it"
LOOPBACK_MODEL = "loopback-chat"


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
        request = RecordedRequest(self.route, dict(self.headers.items()), {}, 0)
        self.owner._record(request, validate=False)
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
            body, files = parse_body(self.headers.get("Content-Type", ""), raw)
        except BadRequest as exc:
            body, files, problem = {}, {}, exc
        headers = dict(self.headers.items())
        request = RecordedRequest(self.route, headers, body, len(raw), files)
        self.owner._record(request, validate=problem is None)
        fault = self.owner._faults.take()
        if fault.is_status:
            self._send(*status_answer(fault, body.get("model")))
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
        elif fault.name == "hang":
            self._hang()
        elif fault.name == "wrong_content_type":
            self._send(200, CAPTIVE_PORTAL_PAGE, {}, "text/html; charset=utf-8")
        else:
            try:
                answer(body, files, fault.name)
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
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would be taken for the next request
            self._send_error(413, f"The body must be 0 to {MAX_BODY_BYTES} bytes.")
            return None
        return self.rfile.read(length)

    def _authorised(self) -> bool:
        key = self.owner.api_key
        if not key or self.headers.get("Authorization", "") == f"Bearer {key}":
            return True
        self._send(401, bad_key_body())
        return False

    # -- answers

    def _chat(self, body: dict[str, Any], files: dict[str, UploadedFile], fault: str) -> None:
        owner = self.owner
        if not owner.sees_images and carries_image(body):
            self._send(400, vision_refusal_body())
            return
        refused = sorted(owner.refused_fields & body.keys())
        if refused:
            self._send(400, unknown_parameter_body(refused[0]))
            return
        reply = tool_fault_reply(fault) or scripted_reply(body, owner.reply_text)
        model = body.get("model") if isinstance(body.get("model"), str) else LOOPBACK_MODEL
        completion = Completion(owner._next_id(), int(time.time()), str(model))
        if body.get("stream") is True:
            usage = completion.usage_chunk(reply, body) if wants_usage(body) else None
            self._stream_chat(completion, reply, fault, usage)
            return
        # As long as the streamed answer would take: first token, then one interval per batch.
        batches = len(events_for(reply)) - 2  # not the role event nor the finish event
        interval = owner.drip_seconds if fault == "slow_drip" else owner.token_interval_seconds
        delay = owner.first_token_seconds + interval * max(0, batches - 1)
        if fault == "slow_first_token":
            delay += owner.slow_seconds
        if not self._pause(delay):
            return
        whole = break_whole(completion.whole(reply, prompt=body), fault)
        self._send_answer(json.dumps(whole).encode(), fault)

    def _stream_chat(
        self, completion: Completion, reply: ScriptedReply, fault: str, usage: dict | None
    ) -> None:
        owner = self.owner
        chunks = [completion.chunk(delta, finish) for delta, finish in events_for(reply)]
        first_delay = owner.first_token_seconds
        if fault == "slow_first_token":
            first_delay += owner.slow_seconds
        # The role event waits for the first token and rides with it; later batches come one
        # interval apart; the finish event follows the last batch at once.
        last = len(chunks) - 1
        timed: TimedEvents = [
            (first_delay if i == 0 else 0.0 if i in (1, last) else owner.token_interval_seconds, c)
            for i, c in enumerate(chunks)
        ]
        events = break_stream(
            timed, fault, drip_seconds=owner.drip_seconds, endless_seconds=owner.hang_seconds
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for delay, event in events:
            if not self._pause(delay):
                return
            text = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
            self._write_chunk(f"data: {text}\n\n".encode())
        if fault == "reset_mid_stream":
            self._reset_after_a_moment()
            return
        if fault in UNFINISHED:
            self._hang()
            return
        if usage is not None:
            self._write_chunk(f"data: {json.dumps(usage)}\n\n".encode())
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _transcribe(self, body: dict[str, Any], files: dict[str, UploadedFile], fault: str) -> None:
        if "file" not in files:
            raise BadRequest("A file field named 'file' is required.", "file")
        if fault == "slow_first_token" and not self._pause(self.owner.slow_seconds):
            return
        said = self.owner.transcript  # a text, or the demo's stand-in that hears the file
        text = said if isinstance(said, str) else said(files["file"])
        text = "" if fault == "empty_choices" else text
        if body.get("response_format") == "text":
            self._send_answer(text.encode(), fault, "text/plain; charset=utf-8")
        else:
            self._send_answer(json.dumps({"text": text}).encode(), fault)

    def _speak(self, body: dict[str, Any], files: dict[str, UploadedFile], fault: str) -> None:
        text = body.get("input")
        if not isinstance(text, str):
            raise BadRequest("'input' must be a string.", "input")
        if fault == "slow_first_token" and not self._pause(self.owner.slow_seconds):
            return
        self._send_answer(tone_wav("" if fault == "empty_choices" else text), fault, "audio/wav")

    def _hang(self) -> None:
        # Say nothing; the client's own timeout (or close()) has to end this.
        self._pause(self.owner.hang_seconds)
        self.close_connection = True

    # -- sending

    def _send(
        self,
        status: int,
        data: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        *,
        cut_short: bool = False,  # send half the body, then reset the connection
        hang: bool = False,  # with cut_short: fall silent instead of resetting
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if cut_short:
            self.wfile.write(data[: len(data) // 2])
            if hang:
                self._hang()
            else:
                self._reset_after_a_moment()
        else:
            self.wfile.write(data)

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode())

    def _send_error(self, status: int, message: str, param: str | None = None) -> None:
        self._send(status, error_body(message, "invalid_request_error", None, param))

    def _send_not_found(self) -> None:
        self._send_error(404, f"Invalid URL ({self.command} {self.route})")

    def _send_answer(self, data: bytes, fault: str, content_type: str = "application/json") -> None:
        """A whole (non-streamed) 200 answer, or the fault's broken version of it."""
        if fault == "malformed_event":
            self._send(200, MALFORMED_JSON)
        elif fault in UNFINISHED and self.route == "/v1/chat/completions":
            self._send(200, data, {}, content_type, cut_short=True, hang=True)
        else:
            self._send(200, data, {}, content_type, cut_short=fault == "reset_mid_stream")

    def _write_chunk(self, data: bytes) -> None:
        # One HTTP chunk per SSE event, flushed, so the client sees each token as it is made.
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _reset_after_a_moment(self) -> None:
        # A short pause lets the client read what was sent, as on a real dropped link.
        self._pause(0.1)
        self.close_connection = True
        reset(self.connection)


class LoopbackLLM:
    """An OpenAI-compatible server on 127.0.0.1 with a scripted model; see the module docstring.

    ``first_token_seconds``, ``token_interval_seconds``, ``slow_seconds``, ``hang_seconds``,
    ``drip_seconds``, ``sees_images``, ``reply_text``, ``transcript`` and ``on_request`` are
    plain attributes a test may change between requests.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        api_key: str = "",
        first_token_seconds: float = 0.0,
        token_interval_seconds: float = 0.0,
        validator: Validator | None = None,
    ) -> None:
        self.api_key = api_key
        self.first_token_seconds = first_token_seconds
        self.token_interval_seconds = token_interval_seconds
        self.slow_seconds = 3.0  # extra wait before the first event under "slow_first_token"
        self.hang_seconds = 60.0  # how long "hang" says nothing, unless close() comes first
        self.drip_seconds = 1.0  # between events under "slow_drip"
        self.sees_images = True  # False: a text-only model, refusing every picture
        # request fields this server does not know and refuses, as older servers do
        self.refused_fields: frozenset[str] = frozenset()
        self.reply_text = DEFAULT_REPLY
        self.transcript: str | Callable[[UploadedFile], str] = DEFAULT_TRANSCRIPT
        # Called in the server thread with each request as it arrives, before it is answered:
        # a test can look at the device while the upload is in flight (is the privacy LED lit?).
        self.on_request: Callable[[RecordedRequest], None] | None = None
        self.base_url = ""
        self.port = 0
        self._log = RequestLog(validator)
        self._lock = threading.Lock()
        self._faults = FaultQueue()
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
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        return self._log.requests

    @property
    def validation_errors(self) -> list[str]:
        """What the ``validator`` found wrong in request bodies: "<schema>: <error>" each."""
        return self._log.validation_errors

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
        """Break the next ``times`` POST requests with ``fault`` (queued after earlier faults);
        ``retry_after`` seconds go with "status_429" and "status_503". See ``faults`` for what
        each one does."""
        self._faults.add(fault, times=times, retry_after=retry_after)

    # -- used by the handler threads

    def _record(self, request: RecordedRequest, *, validate: bool) -> None:
        self._log.add(request, validate=validate)
        hook = self.on_request
        if hook is not None:
            try:
                hook(request)
            except Exception:  # a broken hook must not look like a broken server
                logger.warning("loopback LLM: on_request hook failed", exc_info=True)

    def _model_names(self) -> list[str]:
        names = self._log.models()
        # The server's own name is always listed, so a health check finds at least one model.
        return names if LOOPBACK_MODEL in names else [*names, LOOPBACK_MODEL]

    def _next_id(self) -> str:
        return f"chatcmpl-loopback-{next(self._ids)}"

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)
