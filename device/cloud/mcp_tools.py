"""MCP servers' tools as the cloud model sees them, and the rules for calling them.

- Offered: the tools each server's ``allow`` names, as ``SERVER__TOOL`` (``home__HassTurnOff``),
  so a server's ``set_timer`` never shadows the device's own; names that OpenAI would refuse
  (more than 64 characters, or other than letters, digits, _ and -) are left out.
- Asking first: a tool the server does not mark read-only (``readOnlyHint``), and the maker did
  not list in the server's ``read_only``, may change something in the world, so the wearer is
  asked before it runs, unless the server's ``confirm = false``. :meth:`McpTools.question` gives
  the words of that question ("hass turn off kitchen light").
- Leaving the device: a call's arguments are text sent off the device, so each passes through
  the egress gate: a ledger row first, and nothing is sent when the row cannot be written.
- Time: a call waits at most its server's ``timeout_seconds`` and never past the answer's
  deadline; a server that is away, slow or refusing becomes a result the model explains.

Example::

    tools = McpTools([McpServer("home", config)], gate)
    tools.start()
    tools.schemas()  # [{"type": "function", "function": {"name": "home__HassTurnOff", ...}}]
    tools.question(call)  # "hass turn off kitchen light": ask the wearer before running it
    tools.run(call, deadline=time.monotonic() + 10, cancel=Cancellation()).content
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from device.cancel import Cancellation
from device.cloud.client import ToolCall
from device.cloud.mcp import ListedTool, McpServer
from device.cloud.tools import ToolResult
from device.egress import EgressGate
from device.errors import EgressRefused, ToolServerError

log = logging.getLogger(__name__)

SEPARATOR = "__"  # between a server's name and its tool's, in the name offered to the model
OFFERED_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what OpenAI accepts as a function name
MAX_DESCRIPTION_CHARS = 1000
# A question asked in the first moments after start waits this long, at most, for servers still
# connecting, so the first question after boot already has their tools.
FIRST_LISTING_WAIT_SECONDS = 2.0
MIN_CALL_SECONDS = 0.2  # less time than this left before the deadline: the server is not asked
MAX_QUESTION_WORDS_CHARS = 120  # of what the wearer is asked to say yes to


def asks_first(server: McpServer, tool: ListedTool) -> bool:
    """Whether the wearer is asked before ``tool`` runs: it may act in the world (neither the
    server nor the maker says it only reads) and the server's ``confirm`` is on."""
    config = server.config
    return config.confirm and not (tool.read_only or tool.name in config.read_only)


@dataclass(frozen=True)
class _Offer:
    server: McpServer
    tool: ListedTool

    @property
    def asks_first(self) -> bool:
        return asks_first(self.server, self.tool)


class McpTools:
    """The tools of every configured MCP server, as one more part of the model's toolbox."""

    def __init__(self, servers: Sequence[McpServer], gate: EgressGate) -> None:
        self.servers = list(servers)
        self.gate = gate
        self._unnamable: set[str] = set()  # tools already said to be left out for their name

    def start(self) -> None:
        """Connect to every server in the background; returns at once."""
        for server in self.servers:
            server.start()

    def close(self) -> None:
        for server in self.servers:
            server.close()

    # ---- what the model is offered ---------------------------------------------------------
    def schemas(self) -> list[dict[str, Any]]:
        """The offered tools as Chat Completions function tools (none while servers are away)."""
        waited_until = time.monotonic() + FIRST_LISTING_WAIT_SECONDS
        for server in self.servers:
            server.wait_tried(max(0.0, waited_until - time.monotonic()))
        return [_schema(name, offer.tool) for name, offer in self._offers().items()]

    def owns(self, name: str) -> bool:
        """Whether ``name`` is one of these servers' tools (offered or not)."""
        return self._server_of(name) is not None

    def question(self, call: ToolCall) -> str:
        """What the wearer is asked to say yes to before ``call`` runs ("hass turn off kitchen
        light"); "" when it may run at once (it only reads, or its server's confirm is off)."""
        offer = self._offers().get(call.name)
        if offer is None or not offer.asks_first:
            return ""
        arguments = _arguments(call)
        return _said(offer.tool, arguments if isinstance(arguments, dict) else {})

    # ---- calling -----------------------------------------------------------------------------
    def run(self, call: ToolCall, *, deadline: float, cancel: Cancellation) -> ToolResult:
        """Run ``call`` on its server, waiting until ``deadline`` (monotonic seconds) at most.

        Never raises but Cancelled: a server away, slow or refusing, or an upload the gate
        refused, is a result the model can explain.
        """
        server = self._server_of(call.name)
        offer = self._offers().get(call.name)
        if server is not None and not server.connected:
            return ToolResult(f"Error: {_not_connected(server)}.")
        if server is None or offer is None:
            return ToolResult(f"Error: there is no tool called {call.name}.")
        arguments = _arguments(call)
        if not isinstance(arguments, dict):
            return ToolResult("Error: the arguments must be a JSON object.")
        timeout = min(server.config.timeout_seconds, deadline - time.monotonic())
        if timeout < MIN_CALL_SECONDS:
            return ToolResult(f"Error: no time was left to ask the {server.name} server.")
        return self._sent(server, offer.tool, arguments, timeout, cancel)

    def _sent(
        self,
        server: McpServer,
        tool: ListedTool,
        arguments: dict[str, Any],
        timeout: float,
        cancel: Cancellation,
    ) -> ToolResult:
        payload = json.dumps(arguments, ensure_ascii=False)
        log.info("tool call: %s on MCP server %s", tool.name, server.name)
        try:
            with self.gate.upload(
                host=server.config.url,
                kind="text",
                size_bytes=len(payload.encode()),
                purpose=f"mcp {tool.name}",
                content=payload,
            ):
                text, failed = server.call(tool.name, arguments, timeout, cancel)
        except EgressRefused as exc:
            log.error("%s", exc)
            return ToolResult(
                f"Error: nothing was sent to the {server.name} server: the device could not "
                "record it in its privacy ledger."
            )
        except ToolServerError as exc:
            log.warning("tool %s on MCP server %s: %s", tool.name, server.name, exc)
            return ToolResult(f"Error: {exc}.")
        return ToolResult(f"Error: the tool failed: {text}" if failed else text)

    # ---- names -------------------------------------------------------------------------------
    def _offers(self) -> dict[str, _Offer]:
        offers: dict[str, _Offer] = {}
        for server in self.servers:
            for tool in server.offered():
                name = f"{server.name}{SEPARATOR}{tool.name.replace('.', '_')}"
                if OFFERED_NAME.fullmatch(name) and name not in offers:
                    offers[name] = _Offer(server, tool)
                elif name not in self._unnamable:
                    self._unnamable.add(name)
                    log.warning("MCP tool %s is left out: its name cannot be offered", name)
        return offers

    def _server_of(self, name: str) -> McpServer | None:
        prefix = name.partition(SEPARATOR)[0]
        return next((s for s in self.servers if s.name == prefix and SEPARATOR in name), None)


def _schema(name: str, tool: ListedTool) -> dict[str, Any]:
    description = tool.description or tool.title or tool.name
    if len(description) > MAX_DESCRIPTION_CHARS:
        description = description[:MAX_DESCRIPTION_CHARS] + "…"
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": tool.parameters},
    }


def _arguments(call: ToolCall) -> object:
    """The call's arguments as JSON, or None when they are not JSON at all."""
    try:
        return json.loads(call.arguments or "{}")
    except ValueError:
        return None


def _not_connected(server: McpServer) -> str:
    away = f" ({server.problem})" if server.problem else ""
    return f"the {server.name} server is not connected{away}"


def _said(tool: ListedTool, arguments: dict[str, Any]) -> str:
    """A call in words for the wearer: the tool's title (or its name cut into words) and the
    values it is given, e.g. "hass turn off kitchen light" or "hass light set kitchen,
    brightness 40"."""
    values = []
    for key, value in arguments.items():
        if isinstance(value, str) and value.strip():
            values.append(" ".join(value.split()))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            values.append(" and ".join(value))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            values.append(f"{_words(key)} {value:g}")
    said = " ".join(part for part in (tool.title or _words(tool.name), ", ".join(values)) if part)
    return said[:MAX_QUESTION_WORDS_CHARS]


def _words(name: str) -> str:
    """ "HassTurnOff" -> "hass turn off"; "get_weather" -> "get weather"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return " ".join(re.split(r"[\s_.-]+", spaced)).strip().lower()
