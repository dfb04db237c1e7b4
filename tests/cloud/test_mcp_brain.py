"""An MCP server's tools in the cloud brain: a real MCP server (the official SDK's) and the
loopback OpenAI-compatible server on 127.0.0.1, which checks every request against the OpenAPI
document and calls a tool when the question asks for it. Offered by the allow-list under the
server's name; the wearer asked first before a tool that acts; every call's arguments in the
egress ledger, none sent when the ledger cannot be written; a slow, dead or vanished server
costs a bounded wait and a clear sentence."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import loopback_provider
from gpiozero.pins.mock import MockFactory
from mcp_home import LIVE_CONTEXT, McpHome

from device.app import build_brain, build_skills, build_stores
from device.cancel import Cancellation
from device.cloud.brain import NOT_DONE, CloudBrain
from device.cloud.client import ToolCall
from device.cloud.mcp_tools import McpTools
from device.config.schema import Config
from device.config.sources import load_config
from device.egress import EgressGate, Ledger
from device.loop.router import BRAIN, NO_LONGER_ASKED, Router
from device.skills.local import ANSWER_HINT, Asking
from device.skills.timers import Timers
from device.speaking.playback import Volume
from device.storage.database import Database
from drivers.leds import PrivacyLed

TOKEN = "ha-token-DO-NOT-LEAK-0c44"
ASKED = f"Hass turn off kitchen light? {ANSWER_HINT}"


@dataclass
class Device:
    brain: CloudBrain
    ledger: Ledger
    gate: EgressGate
    database: Database
    router: Router


@pytest.fixture
def home() -> Iterator[McpHome]:
    with McpHome(token=TOKEN) as running:
        yield running


def config(tmp_path: Path, url: str, *lines: str, flags: tuple[str, ...] = ()) -> Config:
    """The device's settings with the server as a maker writes it, its token in secrets."""
    table = f'[mcp.servers.home]\nurl = "{url}"\n' + "".join(f"{line}\n" for line in lines)
    (tmp_path / "zeropin.toml").write_text(table)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[mcp.servers.home]\ntoken = "{TOKEN}"\n')
    secrets.chmod(0o600)
    return load_config([tmp_path / "zeropin.toml"], {}, flags, secrets_paths=[secrets])


@pytest.fixture
def make_device(tmp_path: Path, llm_server) -> Iterator:
    made: list[Device] = []

    def make(cfg: Config) -> Device:
        database = Database(tmp_path / f"zeropin{len(made)}.db")
        ledger = Ledger(database)
        gate = EgressGate(ledger, PrivacyLed(16, pin_factory=MockFactory()), log_content=True)
        stores = build_stores(database)
        skills = build_skills(cfg, stores, None, tmp_path, Timers(lambda: 0.0), Volume())
        brain = build_brain(cfg, [loopback_provider(llm_server)], gate, skills, stores, None)
        assert isinstance(brain, CloudBrain)
        device = Device(brain, ledger, gate, database, Router(skills, brain, "hey zero"))
        made.append(device)
        return device

    yield make
    for device in made:
        device.brain.close()
        device.database.close()


def mcp_rows(ledger: Ledger) -> list[tuple[str, str, int, str]]:
    rows = [r for r in ledger.recent(100) if r.purpose.startswith("mcp")]
    return [(r.host, r.purpose, r.size_bytes, r.content) for r in rows]


def test_allowed_tools_are_offered_under_the_servers_name(tmp_path, home, llm_server, make_device):
    device = make_device(config(tmp_path, home.url, 'allow = ["HassTurnOff", "GetTemperature"]'))
    "".join(device.brain.reply("why is the sky blue"))
    offered = {tool["function"]["name"]: tool for tool in llm_server.requests[-1].body["tools"]}
    assert {"home__HassTurnOff", "home__GetTemperature", "set_timer"} <= set(offered)
    assert not {"home__HassTurnOn", "home__GetLiveContext", "home__OpenGarage"} & set(offered)
    schema = offered["home__GetTemperature"]["function"]
    assert schema["description"] == "The temperature in an area."
    assert schema["parameters"]["properties"]["area"]["type"] == "string"
    system = llm_server.requests[-1].body["messages"][0]["content"]
    assert "the device itself asks the wearer to confirm" in system


def test_a_tool_the_maker_marks_read_only_runs_at_once(tmp_path, home, make_device):
    device = make_device(
        config(tmp_path, home.url, 'allow = ["GetLiveContext"]', 'read_only = ["GetLiveContext"]')
    )
    said = "".join(device.brain.reply("which lights are on"))
    assert said == f"Done. The tool said: {LIVE_CONTEXT}."
    assert home.calls == [("GetLiveContext", {})]
    assert mcp_rows(device.ledger) == [("127.0.0.1", "mcp GetLiveContext", 2, "{}")]


def test_a_tool_that_acts_runs_only_after_the_wearers_yes(tmp_path, home, make_device):
    device = make_device(config(tmp_path, home.url, 'allow = ["HassTurnOff"]'))
    fragments = list(device.brain.reply("turn off the kitchen light"))
    asking = fragments[-1]
    assert isinstance(asking, Asking) and "".join(fragments) == ASKED
    assert asking.confirmation.kept == NOT_DONE
    assert home.calls == [] and mcp_rows(device.ledger) == []  # nothing sent: not yet asked
    said = "".join(asking.then("yes", Cancellation()))
    assert said == "Done. The tool said: Turned off kitchen light."
    assert home.calls == [("HassTurnOff", {"name": "kitchen light"})]
    sent = json.dumps({"name": "kitchen light"})
    assert mcp_rows(device.ledger) == [("127.0.0.1", "mcp HassTurnOff", len(sent), sent)]


def test_the_router_carries_the_question_and_runs_the_call_on_yes_only(tmp_path, home, make_device):
    device = make_device(config(tmp_path, home.url, 'allow = ["HassTurnOff"]'))
    answer = device.router.answer("hey zero, turn off the kitchen light")
    assert answer.intent == BRAIN and "".join(answer.fragments) == ASKED
    asked = answer.asks()
    assert asked is not None and asked.question == ASKED and home.calls == []
    done = device.router.answer("yes", confirmed=asked.action)
    assert "".join(done.fragments) == "Done. The tool said: Turned off kitchen light."
    assert done.asks() is None and len(home.calls) == 1
    # a second yes to the same question does nothing more: it was answered
    again = device.router.answer("hey zero, turn off the kitchen light")
    "".join(again.fragments)
    "".join(device.router.answer("what time is it").fragments)  # another question meanwhile
    stale = device.router.answer("yes", confirmed=asked.action)
    assert list(stale.fragments) == [NO_LONGER_ASKED]
    assert len(home.calls) == 1


def test_with_confirm_off_a_tool_that_acts_runs_at_once(tmp_path, home, make_device):
    device = make_device(config(tmp_path, home.url, 'allow = ["*"]', "confirm = false"))
    said = "".join(device.brain.reply("switch on the hall light"))
    assert said == "Done. The tool said: Turned on hall light."
    assert home.calls == [("HassTurnOn", {"name": "hall light"})]


def test_a_slow_server_does_not_hold_the_answer_past_the_deadline(tmp_path, home, make_device):
    cfg = config(
        tmp_path,
        home.url,
        'allow = ["*"]',
        "confirm = false",
        "timeout_seconds = 30",
        flags=("llm.deadline_seconds=1.5",),
    )
    device = make_device(cfg)
    home.delay_seconds = 10.0
    began = time.monotonic()
    said = "".join(device.brain.reply("turn off the kitchen light"))
    assert time.monotonic() - began < 3.0
    assert re.fullmatch(
        r"Done\. The tool said: Error: the home server did not answer within 1\.\d seconds\.", said
    ), said


def test_a_dead_server_leaves_its_tools_out_without_delay(tmp_path, llm_server, make_device):
    with McpHome(token=TOKEN) as gone:
        url = gone.url
    device = make_device(config(tmp_path, url, 'allow = ["*"]'))
    began = time.monotonic()
    said = "".join(device.brain.reply("turn off the kitchen light"))
    assert time.monotonic() - began < 2.0
    assert said.startswith("Sunlight is made of every colour.")  # no tool to call
    offered = [tool["function"]["name"] for tool in llm_server.requests[-1].body["tools"]]
    assert not any(name.startswith("home__") for name in offered)


def test_a_server_gone_after_listing_is_a_sentence_not_a_stall(tmp_path, home, make_device):
    device = make_device(config(tmp_path, home.url, 'allow = ["*"]', "confirm = false"))
    "".join(device.brain.reply("why is the sky blue"))  # listed
    home.stop()
    began = time.monotonic()
    said = "".join(device.brain.reply("turn off the kitchen light"))
    assert time.monotonic() - began < 5.0
    assert said.startswith("Done. The tool said: Error: the home server ")


def test_nothing_is_sent_when_the_ledger_cannot_be_written(tmp_path, home, make_device):
    device = make_device(config(tmp_path, home.url, 'allow = ["*"]', "confirm = false"))
    remote = device.brain.toolbox.remote
    assert isinstance(remote, McpTools) and remote.schemas()
    db = device.database
    pages = db.connection.execute("PRAGMA page_count").fetchone()[0]
    db.connection.execute(f"PRAGMA max_page_count = {pages}")
    for _ in range(10_000):  # fill the card, as tests/test_egress.py does
        try:
            device.ledger.append("127.0.0.1", "text", 30, "mcp HassTurnOff", "x" * 30)
        except Exception:
            break
    call = ToolCall("call_1", "home__HassTurnOff", '{"name": "kitchen light"}')
    result = remote.run(call, deadline=time.monotonic() + 5, cancel=Cancellation())
    assert result.content == (
        "Error: nothing was sent to the home server: the device could not record it in its "
        "privacy ledger."
    )
    assert home.calls == []
