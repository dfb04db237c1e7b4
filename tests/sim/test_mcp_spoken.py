"""Done when: an MCP server's tool is called from a spoken question in the simulator.

The real pipeline end to end, as `zeropin run --sim` assembles it from a config file and a
secrets file: the user speaks (espeak-ng) into the simulated microphone, the shipped wake word,
endpointer and recogniser hear it, the router sends it to the cloud brain, the loopback
OpenAI-compatible server on 127.0.0.1 decides to call the Home Assistant tool it was offered,
the device asks the wearer first, and on the spoken yes the tool runs on a real MCP server on
loopback (the official SDK's, checking its bearer token) and the answer is spoken. A "no" leaves
the light alone.
"""

from __future__ import annotations

from pathlib import Path

from mcp_home import McpHome

from device.cloud.brain import NOT_DONE
from device.config.sources import load_config
from device.egress import Ledger
from device.loop.states import State
from device.sim.cloud_demo import loopback_provider
from device.sim.demo import Step, run_demo
from device.skills.local import ANSWER_HINT
from device.storage.database import Database
from device.system.paths import database_path
from drivers.speaker import slug

TOKEN = "ha-token-DO-NOT-LEAK-91b2"
TURN_OFF = "hey zero, turn off the kitchen light"
CONVERSATION = (
    Step("testing the microphone, one, two, three"),  # the recogniser adapts to the room
    Step(TURN_OFF),
    Step("no", follow_up=True),  # the device asked: no, leave it
    Step(TURN_OFF),
    Step("yes", follow_up=True),
)


def test_a_spoken_question_turns_off_the_kitchen_light_after_a_yes(tmp_path: Path) -> None:
    (tmp_path / "zeropin.toml").write_text(
        '[mcp.servers.home]\nurl = "{url}"\nallow = ["HassTurnOff", "GetLiveContext"]\n'
    )
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[mcp.servers.home]\ntoken = "{TOKEN}"\n')
    secrets.chmod(0o600)
    states: list[State] = []
    with McpHome(token=TOKEN) as home, loopback_provider() as (llm, provider):
        config = tmp_path / "zeropin.toml"
        config.write_text(config.read_text().replace("{url}", home.url))
        cfg = load_config(
            [config], {}, ["asr.vosk_model=/nonexistent/vosk"], secrets_paths=[secrets]
        )
        reports = run_demo(
            cfg,
            tmp_path / "out",
            steps=CONVERSATION,
            providers=[provider],
            state_dir=tmp_path / "state",
            on_state=lambda state, _seconds: states.append(state),
        )
        chats = [r.body for r in llm.requests if r.path == "/v1/chat/completions"]
    turns = [(r.trigger, r.heard, r.intent, r.said) for r in reports]
    assert [turn[0] for turn in turns] == ["wake", "wake", "answer"], turns
    asked, _, done = reports
    assert "turn off the kitchen" in asked.heard and asked.intent == "brain"
    (name,) = [arguments["name"] for _, arguments in home.calls]
    assert name.startswith("kitchen light")  # pocketsphinx may hear "lights"
    assert asked.said == f"Hass turn off {name}? {ANSWER_HINT}"
    assert (done.heard, done.intent) == ("yes", "brain")
    assert done.said == f"Done. The tool said: Turned off {name}."
    assert done.reply_wav and Path(done.reply_wav).stat().st_size > 10_000  # it was spoken
    assert home.calls == [("HassTurnOff", {"name": name})]  # once: after the yes, not the no
    assert home.refused == 0  # the token from the secrets file went with every request
    assert states.count(State.CONFIRMING) == 2
    replies = sorted(p.name for p in (tmp_path / "out" / "replies").iterdir())
    assert any(p.endswith(f"-{slug(NOT_DONE)}.wav") for p in replies), replies
    offered = [tool["function"]["name"] for tool in chats[0]["tools"]]
    assert "home__HassTurnOff" in offered and "home__GetLiveContext" in offered
    with Database(database_path(tmp_path / "state")) as database:
        rows = [r for r in Ledger(database).recent(100) if r.purpose == "mcp HassTurnOff"]
    assert [(r.host, r.kind) for r in rows] == [("127.0.0.1", "text")]
