"""``zeropin doctor``'s look at the ``[mcp.servers.NAME]`` servers: can each be reached with its
token, which tools does it have, which are offered to the model, and which ask the wearer first.

::

    OK    mcp      home: 14 tools; offered: HassTurnOff (asks first), GetLiveContext; not
                   offered: HassTurnOn, ...
    FAIL  mcp      lab: HTTP 401: the token was refused; check [mcp.servers.lab] token
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from device.cloud.mcp import LIST_SECONDS, McpServer
from device.cloud.mcp_tools import asks_first
from device.config.schema import McpServerConfig
from device.doctor.checks import Finding, Level

CHECK_SECONDS = LIST_SECONDS + 1.0  # all servers are asked at once


def check_mcp_servers(
    servers: Sequence[tuple[str, McpServerConfig]], seconds: float = CHECK_SECONDS
) -> list[Finding]:
    """One finding per server, all of them connected to at once and let go of after."""
    clients = [McpServer(name, table) for name, table in servers]
    for client in clients:
        client.start()
    until = time.monotonic() + seconds
    try:
        return [_finding(client, max(0.0, until - time.monotonic())) for client in clients]
    finally:
        for client in clients:
            client.close()


def _finding(server: McpServer, seconds: float) -> Finding:
    if not server.wait_tried(seconds) or not server.connected:
        problem = server.problem or f"no answer within {seconds:.0f} s"
        return Finding("mcp", Level.FAIL, f"{problem}; its tools are left out", server.name)
    listed = server.tools()
    offered = server.offered()
    left = [tool.name for tool in listed if tool not in offered]
    if not offered:
        return Finding(
            "mcp",
            Level.WARN,
            f"{len(listed)} tools, none offered to the model: name those it may use in "
            f"[mcp.servers.{server.name}] allow (it has {', '.join(left)})",
            server.name,
        )
    said = [tool.name + (" (asks first)" if asks_first(server, tool) else "") for tool in offered]
    detail = f"{len(listed)} tools; offered: {', '.join(said)}"
    if left:
        detail += f"; not offered: {', '.join(left)}"
    return Finding("mcp", Level.OK, detail, server.name)
