"""A real MCP server on loopback for the tests, made with the official SDK: a stand-in for Home
Assistant's (its tool names, its URL path, a bearer token), served over streamable HTTP by
uvicorn in a thread of the test process.

Tools: ``HassTurnOff`` and ``HassTurnOn`` (act in the world; unmarked, as Home Assistant leaves
them), ``GetLiveContext`` (unmarked too), ``GetTemperature`` (marked read-only) and
``OpenGarage`` (marked destructive). Each records what it was asked; ``delay_seconds`` makes
every tool that long in answering.

Example::

    with McpHome(token="t") as home:
        home.url  # "http://127.0.0.1:PORT/api/mcp"
        ...
        home.calls  # [("HassTurnOff", {"name": "kitchen light"})]
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

HA_PATH = "/api/mcp"  # where Home Assistant serves its MCP server
LIVE_CONTEXT = "kitchen light: on\nhall light: off"


class McpHome:
    def __init__(self, token: str = "", delay_seconds: float = 0.0) -> None:
        self.token = token
        self.delay_seconds = delay_seconds
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refused = 0  # requests without the right bearer token
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HA_PATH}"

    def _tools(self) -> MCPServer:
        server = MCPServer("home-assistant")
        record = self._record

        @server.tool()
        async def HassTurnOff(name: str = "", area: str = "") -> str:  # noqa: N802
            """Turns off/closes a device or entity."""
            return await record("HassTurnOff", name=name, area=area)

        @server.tool()
        async def HassTurnOn(name: str = "", area: str = "") -> str:  # noqa: N802
            """Turns on/opens a device or entity."""
            return await record("HassTurnOn", name=name, area=area)

        @server.tool()
        async def GetLiveContext() -> str:  # noqa: N802
            """Provides real-time information about the devices in the home."""
            await record("GetLiveContext")
            return LIVE_CONTEXT

        @server.tool(title="Read the temperature", annotations=ToolAnnotations(readOnlyHint=True))
        async def GetTemperature(area: str) -> str:  # noqa: N802
            """The temperature in an area."""
            await record("GetTemperature", area=area)
            return f"21 degrees in the {area}"

        @server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True))
        async def OpenGarage() -> str:  # noqa: N802
            """Opens the garage door."""
            return await record("OpenGarage")

        return server

    async def _record(self, tool: str, **arguments: Any) -> str:
        self.calls.append((tool, {k: v for k, v in arguments.items() if v}))
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        done = {"HassTurnOff": "Turned off", "HassTurnOn": "Turned on"}.get(tool, "Done")
        return f"{done} {arguments.get('name', '')}".strip()

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The SDK's app behind a bearer-token check, as Home Assistant has one."""
        if scope["type"] == "http" and self.token:
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != f"Bearer {self.token}".encode():
                self.refused += 1
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"401: Unauthorized"})
                return
        await self._inner(scope, receive, send)

    def start(self) -> McpHome:
        self._inner = self._tools().streamable_http_app(streamable_http_path=HA_PATH)
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))  # a restart keeps its port
        self.port = listener.getsockname()[1]
        config = uvicorn.Config(self._app, log_level="warning", lifespan="on", interface="asgi3")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [listener]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the MCP test server did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        self._server = self._thread = None

    def __enter__(self) -> McpHome:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
