"""``zeropin doctor`` on the [mcp.servers.NAME] servers, against a real MCP server on loopback:
what each has, what the model is offered and what asks the wearer first, or why it is away."""

from __future__ import annotations

import socket

from mcp_home import McpHome

from device.config.schema import McpServerConfig, Secret
from device.doctor.checks import Level
from device.doctor.mcp_servers import check_mcp_servers

TOKEN = "ha-token-DO-NOT-LEAK-d0c7"


def test_each_server_is_reported_with_its_tools_or_why_it_is_away() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/api/mcp"
    with McpHome(token=TOKEN) as home:
        servers = [
            ("home", McpServerConfig(
                url=home.url,
                token=Secret(TOKEN),
                allow=("HassTurnOff", "GetLiveContext", "GetTemperature"),
                read_only=("GetLiveContext",),
            )),
            ("bare", McpServerConfig(url=home.url, token=Secret(TOKEN))),
            ("stranger", McpServerConfig(url=home.url, token=Secret("not-" + TOKEN))),
            ("gone", McpServerConfig(url=dead)),
        ]  # fmt: skip
        found = {f.subject: f for f in check_mcp_servers(servers, seconds=5.0)}
    assert [(f.check, f.level) for f in found.values()] == [
        ("mcp", Level.OK), ("mcp", Level.WARN), ("mcp", Level.FAIL), ("mcp", Level.FAIL)
    ]  # fmt: skip
    assert found["home"].detail == (
        "5 tools; offered: HassTurnOff (asks first), GetLiveContext, GetTemperature; "
        "not offered: HassTurnOn, OpenGarage"
    )
    assert found["bare"].detail == (
        "5 tools, none offered to the model: name those it may use in [mcp.servers.bare] allow "
        "(it has HassTurnOff, HassTurnOn, GetLiveContext, GetTemperature, OpenGarage)"
    )
    assert found["stranger"].detail == (
        "HTTP 401: the token was refused; check [mcp.servers.stranger] token; "
        "its tools are left out"
    )
    assert found["gone"].detail.endswith("; its tools are left out")
    assert all(TOKEN not in f.line() for f in found.values())
