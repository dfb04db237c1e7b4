"""Talking to MCP servers: one session per ``[mcp.servers.NAME]``, its tools listed, called.

The official SDK (the ``mcp`` package, an optional extra) is asynchronous and the daemon is
threaded, so each server's session lives in a background thread of its own, with its own event
loop; the SDK is imported there, only when a server is configured, so a daemon without one pays
no memory for it. :meth:`McpServer.start` returns at once: connecting and listing the tools go
on in the background, a server that does not answer in ``LIST_SECONDS`` is given up on for a
while (its tools are simply absent, and the log says why, once), and a session that breaks is
opened again, after a pause that grows while the server stays away.

:meth:`McpServer.call` waits at most the timeout it is given and never raises anything but
:class:`~device.errors.ToolServerError` (or ``Cancelled``), whose message is a sentence the
model can pass on to the wearer. The token goes only into the ``Authorization`` header; no
message here includes it.

Example::

    home = McpServer("home", McpServerConfig(url="http://ha.local:8123/api/mcp",
                                             token=Secret(token), allow=("HassTurnOff",)))
    home.start()
    [tool.name for tool in home.offered()]  # once listed: ["HassTurnOff"]
    home.call("HassTurnOff", {"name": "kitchen light"}, 5.0, Cancellation())
    home.close()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import json
import logging
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from device.cancel import Cancellation
from device.config.schema import McpServerConfig
from device.errors import ToolServerError

log = logging.getLogger(__name__)

LIST_SECONDS = 10.0  # connecting and listing the tools; then the server is tried again later
CONNECT_SECONDS = 5.0  # TCP (and TLS) set-up of each HTTP request
# How long one HTTP read may wait. Calls are bounded by their own timeouts; this bounds what
# nothing else does, such as a server that accepts the first request and never answers it.
READ_SECONDS = 60.0
FIRST_PAUSE_SECONDS = 5.0  # before connecting again after a failure; doubled each time
MAX_PAUSE_SECONDS = 300.0
MAX_PAGES = 20  # of a tool listing: a server that pages for ever cannot hold the thread
MAX_RESULT_CHARS = 6000  # of a tool's answer sent on to the model (Home Assistant's live
# context for a flat with a few dozen devices is 2,000 to 4,000 characters)
CLOSE_SECONDS = 3.0  # to end the session politely at shut-down
NO_SDK = (
    "the MCP SDK is not installed: pip install 'mcp>=2.3,<3' into the daemon's venv "
    "(on the device: sudo /opt/zeropin/venv/bin/pip install 'mcp>=2.3,<3')"
)


@dataclass(frozen=True)
class ListedTool:
    """One tool as the server lists it."""

    name: str  # the server's name for it, e.g. "HassTurnOff"
    title: str  # human-readable, "" when the server gave none
    description: str
    parameters: dict[str, Any]  # JSON Schema of its arguments (an object)
    read_only: bool  # the server marks it as only reading (readOnlyHint)


class McpServer:
    """One MCP server over streamable HTTP, its session held open by a thread of its own."""

    def __init__(self, name: str, config: McpServerConfig) -> None:
        self.name = name
        self.config = config
        self.problem = ""  # why it is not connected now, for the log and the doctor
        self._tools: tuple[ListedTool, ...] = ()
        self._client: Any = None  # the SDK's Client while connected; used on the loop only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._broken: asyncio.Event | None = None
        self._tried = threading.Event()  # the first attempt to connect has ended, either way
        self._thread: threading.Thread | None = None
        self._last_status = 0  # the last HTTP error status seen, to say what it means

    # ---- what the server has -------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._client is not None

    def tools(self) -> tuple[ListedTool, ...]:
        """Every tool the server listed when last connected (none before, or while away)."""
        return self._tools if self.connected else ()

    def offered(self) -> tuple[ListedTool, ...]:
        """The tools ``allow`` lets the model call."""
        allow = self.config.allow
        return tuple(tool for tool in self.tools() if "*" in allow or tool.name in allow)

    def wait_tried(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the first attempt to connect to end; whether it has."""
        return self._tried.wait(seconds)

    # ---- start and stop ------------------------------------------------------------------
    def start(self) -> None:
        """Connect and list the tools in the background; returns at once."""
        if self._thread is not None or self._tried.is_set():
            return
        if importlib.util.find_spec("mcp") is None:  # an optional extra: say what to install
            self._failed(NO_SDK)
            self._tried.set()
            return
        self._thread = threading.Thread(
            target=asyncio.run,
            args=(self._keep_connected(),),
            name=f"mcp-{self.name}",
            daemon=True,  # a server that will not let go must not hold up the daemon's exit
        )
        self._thread.start()

    def close(self) -> None:
        """End the session (politely, within ``CLOSE_SECONDS``) and the thread. Safe twice."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(stop.set)
        thread.join(CLOSE_SECONDS)
        self._client = None

    # ---- calling a tool ------------------------------------------------------------------
    def call(
        self, tool: str, arguments: dict[str, Any], timeout_seconds: float, cancel: Cancellation
    ) -> tuple[str, bool]:
        """Call ``tool``; its answer as text, and whether the tool says it failed.

        Waits at most ``timeout_seconds``. Raises ToolServerError when the server is away, does
        not answer in time or refuses the call; Cancelled when ``cancel`` is.
        """
        loop, client = self._loop, self._client
        if loop is None or client is None:
            away = f": {self.problem}" if self.problem else ""
            raise ToolServerError(f"the {self.name} server is not connected{away}")
        future = self._submit(loop, _call(client, tool, arguments))
        remove = cancel.on_cancel(future.cancel)
        try:
            result = future.result(timeout_seconds)
        except TimeoutError:
            future.cancel()  # the request is abandoned; the session goes on
            raise ToolServerError(
                f"the {self.name} server did not answer within {_said(timeout_seconds)} seconds"
            ) from None
        except concurrent.futures.CancelledError:
            cancel.check()
            raise ToolServerError(f"the call to the {self.name} server was cut off") from None
        except Exception as exc:  # the SDK's or the network's: the session may be gone
            reason = self._reason(exc)
            log.warning("MCP server %s: %s failed: %s", self.name, tool, reason)
            if _session_lost(exc):
                loop.call_soon_threadsafe(self._mark_broken)
            raise ToolServerError(f"the {self.name} server failed: {reason}") from None
        finally:
            remove()
        return _result_text(result)

    def _submit(
        self, loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, Any]
    ) -> concurrent.futures.Future[Any]:
        try:
            return asyncio.run_coroutine_threadsafe(work, loop)
        except RuntimeError:  # the loop ended (closing): the call never started
            work.close()
            raise ToolServerError(f"the {self.name} server is not connected") from None

    def _mark_broken(self) -> None:
        if self._broken is not None:
            self._broken.set()

    # ---- the session, on the server's own event loop ---------------------------------------
    async def _keep_connected(self) -> None:
        """Connect, list, hold the session until stopped or broken; again after a pause."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        pause = FIRST_PAUSE_SECONDS
        while not self._stop.is_set():
            if await self._one_session():
                pause = FIRST_PAUSE_SECONDS  # it was up: try again soon
            self._client = None
            self._tried.set()
            if self._stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), pause)
            pause = min(pause * 2, MAX_PAUSE_SECONDS)

    async def _one_session(self) -> bool:
        """One session from connecting to its end; whether it got as far as listing tools."""
        assert self._stop is not None
        self._broken = asyncio.Event()
        listed = asyncio.Event()
        session = asyncio.ensure_future(self._session(listed))
        await _first(session, listed.wait(), timeout=LIST_SECONDS)
        if not listed.is_set() and not session.done():
            session.cancel()
            self._failed(f"no answer within {LIST_SECONDS:g} seconds")
        try:
            await session
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # not the session given up on above: this task itself is being cancelled
        except Exception as exc:  # whatever the SDK or the network raised: log once, try later
            self._failed(self._reason(exc))
        return listed.is_set()

    async def _session(self, listed: asyncio.Event) -> None:
        import httpx2  # the SDK's HTTP client; both come with the `mcp` extra
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        _quiet_sdk_logs()
        headers = {"Authorization": f"Bearer {self.config.token.reveal()}"}
        http = httpx2.AsyncClient(
            headers=headers if self.config.token else {},
            timeout=httpx2.Timeout(CONNECT_SECONDS, read=READ_SECONDS),
            event_hooks={"response": [self._saw_response]},
        )
        transport = streamable_http_client(self.config.url, http_client=http)
        async with http, Client(transport) as client:
            self._tools = await _listing(client)
            self._client = client
            self.problem = ""
            listed.set()
            self._tried.set()
            self._log_listing()
            assert self._stop is not None and self._broken is not None
            await _first(self._stop.wait(), self._broken.wait())

    async def _saw_response(self, response: Any) -> None:
        if response.status_code >= 400:
            self._last_status = response.status_code

    # ---- what is said about it -------------------------------------------------------------
    def _reason(self, exc: BaseException) -> str:
        """Why a connection or call failed, in a few words that never include the token."""
        status, self._last_status = self._last_status, 0
        if status in (401, 403):
            return f"HTTP {status}: the token was refused; check [mcp.servers.{self.name}] token"
        if status:
            return f"HTTP {status}"
        return _innermost(exc)

    def _failed(self, reason: str) -> None:
        """Log a failure once: a server that stays away is said to be away, not every retry."""
        if reason != self.problem:
            log.warning(
                "MCP server %s (%s): %s; its tools are left out until it answers",
                self.name,
                _shown(self.config.url),
                reason,
            )
        self.problem = reason

    def _log_listing(self) -> None:
        names = [tool.name for tool in self._tools]
        offered = [tool.name for tool in self.offered()]
        log.info(
            "MCP server %s: %d tools (%s); offered to the model: %s",
            self.name,
            len(names),
            ", ".join(names),
            ", ".join(offered) or "none",
        )
        if not offered:
            log.warning(
                "MCP server %s: no tool is offered to the model: name those it may use in "
                "[mcp.servers.%s] allow",
                self.name,
                self.name,
            )
        missing = sorted(set(self.config.allow) - set(names) - {"*"})
        if missing:
            log.warning("MCP server %s has no tool %s", self.name, ", ".join(missing))


async def _first(*work: Any, timeout: float | None = None) -> None:
    """Wait until the first of ``work`` (coroutines or futures) is done, or ``timeout``; the
    coroutines still waiting are cancelled (a future passed in is left to its owner)."""
    tasks = [asyncio.ensure_future(item) for item in work]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when this task is cancelled while waiting
        for item, task in zip(work, tasks, strict=True):
            if task is not item:
                task.cancel()


async def _listing(client: Any) -> tuple[ListedTool, ...]:
    tools: list[ListedTool] = []
    cursor = None
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools += [_listed(tool) for tool in page.tools]
        cursor = page.next_cursor
        if cursor is None:
            break
    return tuple(tools)


def _listed(tool: Any) -> ListedTool:
    annotations = tool.annotations
    title = tool.title or (annotations.title if annotations is not None else None) or ""
    parameters = dict(tool.input_schema or {})
    parameters.setdefault("type", "object")
    return ListedTool(
        name=tool.name,
        title=title,
        description=tool.description or "",
        parameters=parameters,
        read_only=bool(annotations is not None and annotations.read_only_hint),
    )


async def _call(client: Any, tool: str, arguments: dict[str, Any]) -> Any:
    return await client.call_tool(tool, arguments)


def _result_text(result: Any) -> tuple[str, bool]:
    """A tool's answer as text for the model (cut to MAX_RESULT_CHARS), and whether it failed."""
    parts = []
    for block in result.content or []:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(block, 'type', 'content')}]")
    text = "\n".join(parts).strip()
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + "…"
    return text or "(no output)", bool(result.is_error)


def _shown(url: str) -> str:
    """``url`` as the log may show it: no user, password or query, where a key may hide."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def _said(seconds: float) -> str:
    """Seconds as they would be said: "0.5", "1.4", "10"."""
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}".removesuffix(".0")


def _session_lost(exc: BaseException) -> bool:
    """Whether a failed call means the session itself is gone (the server restarted, the
    network broke), rather than this one call being refused."""
    message = _innermost(exc).lower()
    return "session terminated" in message or not hasattr(exc, "error")


def _innermost(exc: BaseException) -> str:
    """The message of the first leaf of an exception (group): what actually went wrong."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split())[:200]
    return text or type(exc).__name__


_QUIETED = ("httpx2", "httpcore2", "mcp")  # INFO for each request (with its URL) and reconnect


def _quiet_sdk_logs() -> None:
    """The SDK and its HTTP client log every request at INFO; the daemon's INFO log is for the
    wearer's turns. Their warnings still show."""
    for name in _QUIETED:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
