"""Talking to a real MCP server (the official SDK's, on loopback): the session runs in the
background, tools are listed and filtered by the allow-list, the bearer token is required, calls
carry their arguments, and a slow, dead or silent server costs a bounded wait and a sentence,
never a stalled answer or a delayed start."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from mcp_home import LIVE_CONTEXT, McpHome

from device.cancel import Cancellation, Cancelled
from device.cloud import mcp
from device.cloud.mcp import McpServer
from device.config.schema import McpServerConfig, Secret
from device.errors import ToolServerError

TOKEN = "ha-token-DO-NOT-LEAK-5e1d"


def server(url: str, token: str = TOKEN, **settings: object) -> McpServer:
    return McpServer("home", McpServerConfig(url=url, token=Secret(token), **settings))


@pytest.fixture
def home() -> Iterator[McpHome]:
    with McpHome(token=TOKEN) as running:
        yield running


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mcp, "FIRST_PAUSE_SECONDS", 0.2)
    monkeypatch.setattr(mcp, "LIST_SECONDS", 1.0)


def started(client: McpServer) -> McpServer:
    client.start()
    assert client.wait_tried(10)
    return client


def test_tools_are_listed_in_the_background_and_offered_by_the_allow_list(home: McpHome) -> None:
    client = server(home.url, allow=("HassTurnOff", "GetTemperature", "NoSuchTool"))
    began = time.monotonic()
    client.start()
    assert time.monotonic() - began < 0.1  # the daemon's start does not wait for the server
    try:
        assert client.wait_tried(10) and client.connected
        listed = {tool.name: tool for tool in client.tools()}
        assert set(listed) == {
            "HassTurnOff", "HassTurnOn", "GetLiveContext", "GetTemperature", "OpenGarage"
        }  # fmt: skip
        assert [tool.name for tool in client.offered()] == ["HassTurnOff", "GetTemperature"]
        temperature = listed["GetTemperature"]
        assert temperature.read_only and temperature.title == "Read the temperature"
        assert temperature.parameters["type"] == "object"
        assert "area" in temperature.parameters["properties"]
        assert not listed["HassTurnOff"].read_only and not listed["OpenGarage"].read_only
    finally:
        client.close()
        client.close()  # safe twice


def test_nothing_is_offered_until_allowed_and_every_tool_with_a_star(home: McpHome) -> None:
    for allow, offered in (((), 0), (("*",), 5)):
        client = started(server(home.url, allow=allow))
        try:
            assert len(client.tools()) == 5 and len(client.offered()) == offered
        finally:
            client.close()


def test_a_call_carries_its_arguments_and_brings_back_the_answer(home: McpHome) -> None:
    client = started(server(home.url, allow=("*",)))
    try:
        answer = client.call("HassTurnOff", {"name": "kitchen light"}, 5.0, Cancellation())
        assert answer == ("Turned off kitchen light", False)
        assert client.call("GetLiveContext", {}, 5.0, Cancellation()) == (LIVE_CONTEXT, False)
        text, failed = client.call("GetTemperature", {}, 5.0, Cancellation())  # area missing
        assert failed and "area" in text
    finally:
        client.close()
    assert home.calls == [("HassTurnOff", {"name": "kitchen light"}), ("GetLiveContext", {})]


def test_the_token_is_required_and_never_logged(
    home: McpHome, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client = started(server(home.url, token="wrong-" + TOKEN))
        try:
            assert not client.connected and client.tools() == ()
            assert client.problem == (
                "HTTP 401: the token was refused; check [mcp.servers.home] token"
            )
            with pytest.raises(ToolServerError, match="not connected: HTTP 401"):
                client.call("HassTurnOff", {"name": "kitchen light"}, 1.0, Cancellation())
        finally:
            client.close()
    assert home.refused >= 1 and home.calls == []
    assert TOKEN not in caplog.text
    assert "the token was refused" in caplog.text


def test_a_slow_tool_costs_its_timeout_and_the_session_goes_on(home: McpHome) -> None:
    client = started(server(home.url))
    try:
        home.delay_seconds = 5.0
        began = time.monotonic()
        with pytest.raises(ToolServerError) as caught:
            client.call("HassTurnOn", {"name": "hall light"}, 0.5, Cancellation())
        assert 0.5 <= time.monotonic() - began < 1.0
        assert str(caught.value) == "the home server did not answer within 0.5 seconds"
        home.delay_seconds = 0.0
        assert client.call("GetLiveContext", {}, 5.0, Cancellation())[0] == LIVE_CONTEXT
    finally:
        client.close()


def test_the_wearer_cancelling_ends_a_call_at_once(home: McpHome) -> None:
    client = started(server(home.url))
    home.delay_seconds = 5.0
    cancel = Cancellation()
    threading.Timer(0.3, cancel.cancel).start()
    began = time.monotonic()
    try:
        with pytest.raises(Cancelled):
            client.call("HassTurnOn", {"name": "hall light"}, 5.0, cancel)
        assert time.monotonic() - began < 1.0
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_dead_server_is_given_up_on_quickly_and_said_once(
    caplog: pytest.LogCaptureFixture, quick_retries: None
) -> None:
    client = server(f"http://127.0.0.1:{_free_port()}/api/mcp")
    with caplog.at_level(logging.WARNING, logger="device.cloud.mcp"):
        began = time.monotonic()
        started(client)
        assert time.monotonic() - began < 2.0
        time.sleep(1.0)  # a few retries meanwhile
        try:
            assert not client.connected and client.offered() == ()
            with pytest.raises(ToolServerError, match="^the home server is not connected"):
                client.call("HassTurnOff", {}, 1.0, Cancellation())
        finally:
            client.close()
    said = [r.getMessage() for r in caplog.records if "its tools are left out" in r.getMessage()]
    assert len(said) == 1, said


def test_a_server_that_never_answers_is_given_up_on_after_the_listing_time(
    quick_retries: None,
) -> None:
    with socket.socket() as silent:  # accepts connections, says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = server(f"http://127.0.0.1:{silent.getsockname()[1]}/api/mcp")
        began = time.monotonic()
        started(client)
        waited = time.monotonic() - began
        try:
            assert 1.0 <= waited < 2.0 and not client.connected
            assert client.problem == "no answer within 1 seconds"
        finally:
            client.close()


def test_a_server_that_comes_back_is_used_again(quick_retries: None) -> None:
    home = McpHome(token=TOKEN).start()
    client = started(server(home.url, allow=("*",)))
    try:
        home.stop()
        with pytest.raises(ToolServerError):
            client.call("HassTurnOff", {"name": "kitchen light"}, 2.0, Cancellation())
        home.start()  # the same port
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                answer = client.call("HassTurnOff", {"name": "kitchen light"}, 2.0, Cancellation())
                break
            except ToolServerError:
                time.sleep(0.1)
        assert answer == ("Turned off kitchen light", False)
    finally:
        client.close()
        home.stop()


def test_without_the_sdk_the_server_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = mcp.importlib.util.find_spec
    monkeypatch.setattr(
        mcp.importlib.util, "find_spec", lambda name: None if name == "mcp" else real(name)
    )
    client = server("http://127.0.0.1:9/api/mcp")
    with caplog.at_level(logging.WARNING, logger="device.cloud.mcp"):
        client.start()
    assert client.wait_tried(0) and not client.connected
    assert client.problem == mcp.NO_SDK
    assert "pip install 'mcp>=2.3,<3'" in caplog.text
    with pytest.raises(ToolServerError, match="not connected: the MCP SDK is not installed"):
        client.call("HassTurnOff", {}, 1.0, Cancellation())
    client.close()


def test_the_log_never_shows_a_key_written_into_the_url(
    caplog: pytest.LogCaptureFixture, quick_retries: None
) -> None:
    port = _free_port()
    client = server(f"http://me:{TOKEN}@127.0.0.1:{port}/api/mcp?key={TOKEN}", token="")
    with caplog.at_level(logging.DEBUG):
        started(client).close()
    assert f"MCP server home (http://127.0.0.1:{port}/api/mcp): " in caplog.text
    assert TOKEN not in caplog.text
