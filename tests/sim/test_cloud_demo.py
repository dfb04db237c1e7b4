"""The cloud part of the voice loop through the real runtime: the demo's cloud scenario, the
button cutting a streamed answer off (its HTTP stream closes), and ``zeropin ask``/``privacy``."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import TEST_KEY
from PIL import Image

from device.app import assemble
from device.config.sources import load_config
from device.events import ButtonPressed
from device.loop.pacing import Realtime
from device.loop.states import State
from device.sim.cloud_demo import CLOUD_SCENARIO, loopback_provider, run_cloud_demo
from device.sim.demo import USER_VOICE
from device.sim.loopback.scripted import DEFAULT_REPLY
from device.sim.loopback.server import LoopbackLLM
from device.speaking.tts import EspeakSynthesizer
from device.storage.database import Database
from device.storage.notes import NoteStore
from drivers.audio_format import wav_bytes, write_wav
from drivers.leds import NoLed
from drivers.mic import FileMicrophone
from drivers.speaker import WavSpeaker

CFG = load_config(paths=[], env={})


@pytest.fixture(scope="module")
def cloud_demo(tmp_path_factory):
    return run_cloud_demo(CFG, tmp_path_factory.mktemp("cloud-demo"), steps=CLOUD_SCENARIO)


def test_the_demo_streams_an_answer(cloud_demo):
    answers = [r for r in cloud_demo.reports if r.intent == "brain"]
    assert any(r.said == " ".join(DEFAULT_REPLY.split()) for r in answers)


def test_the_demo_answers_what_the_camera_sees_with_the_led_lit(cloud_demo):
    look = next(r for r in cloud_demo.reports if r.intent == "look")
    assert look.said.startswith("I see a picture 768 by 576 pixels, mostly blue.")
    assert cloud_demo.led_changes == [True, False]  # lit for the one image, then out
    images = [row for row in cloud_demo.ledger if row.kind == "image"]
    assert len(images) == 1 and images[0].purpose == "vision"
    assert all(row.host == "127.0.0.1" for row in cloud_demo.ledger)


def test_the_demo_shows_a_tool_call_and_memory(cloud_demo):
    said = [r.said for r in cloud_demo.reports]
    stored = next(s for s in said if s.startswith("Done. I'll remember that: Remembered: "))
    fact = stored.removeprefix("Done. I'll remember that: Remembered: ").rstrip(".")
    assert f"You told me: {fact}." in said  # recalled from memory put into the prompt


def test_the_demo_reports_end_of_speech_to_first_audio(cloud_demo):
    for report in cloud_demo.reports:
        assert report.timings_ms["end_of_speech_to_first_audio"] > 0


def test_pressing_the_button_closes_a_streaming_answer(tmp_path, caplog):
    """Barge-in while the cloud is still writing: the runtime cancels, the client shuts the
    socket, and the server sees the connection go long before the answer would have ended."""
    tts = EspeakSynthesizer(*USER_VOICE, volume_percent=100)
    speech = np.frombuffer(tts.synthesize("why is the sky blue"), "<i2")
    audio = np.concatenate([np.zeros(8000), speech, np.zeros(16000 * 6)])
    audio += np.random.default_rng(1).normal(0, 30, len(audio))  # room noise throughout
    write_wav(tmp_path / "mic.wav", audio.astype("<i2").tobytes())
    caplog.set_level(logging.INFO, logger="device.cloud.brain")
    pressed_at: list[float] = []
    pushed: list[bool] = []
    # 20 pieces of two words, one every 1.5 s: the answer would stream for 30 s.
    with (
        loopback_provider(first_token_seconds=0.2, token_interval_seconds=1.5) as (server, prov),
        FileMicrophone(tmp_path / "mic.wav", 1600, realtime=True) as mic,
        WavSpeaker(tmp_path / "replies") as speaker,
    ):
        runtime, database = assemble(
            CFG,
            mic=mic,
            speaker=speaker,
            light=NoLed(),
            camera=None,
            state_dir=tmp_path,
            pacing=Realtime(),
            providers=[prov],
            # Push to talk at the first chunk (a timer thread could post before the loop ran).
            on_tick=lambda _: pushed or pushed.append(True) or runtime.post(ButtonPressed()),
            on_state=lambda state: (
                state is State.SPEAKING
                and not pressed_at
                and (pressed_at.append(time.time()) or runtime.post(ButtonPressed()))
            ),
        )
        try:
            asyncio.run(runtime.run())
        finally:
            database.close()
        assert pressed_at, "the answer never started"
        assert len(server.requests) == 1
        # The stream is closed when the button is pressed, not when the next words would have
        # come (1.5 s later), which is when a merely abandoned stream would notice.
        cancelled = [r.created for r in caplog.records if r.getMessage() == "answer cancelled"]
        assert len(cancelled) == 1 and cancelled[0] - pressed_at[0] < 0.5
        # The server finds the socket shut down at its next write (every 1.5 s).
        deadline = time.monotonic() + 5
        while server.open_connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.open_connections == 0


def _zeropin(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "device.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ask_and_the_privacy_ledger_from_the_shell(tmp_path):
    picture = tmp_path / "sign.png"
    Image.new("RGB", (640, 480), (220, 40, 30)).save(picture)
    with LoopbackLLM(api_key=TEST_KEY) as server:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),  # the state directory goes under it
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": TEST_KEY,
            "ZEROPIN_LLM_MODEL": "loopback-chat",
        }
        text = _zeropin(["-v", "ask", "why is the sky blue"], env)
        image = _zeropin(["-v", "ask", "--image", str(picture), "what does this sign say"], env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.strip() == " ".join(DEFAULT_REPLY.split())
    assert image.returncode == 0, image.stderr
    assert image.stdout.startswith("I see a picture 640 by 480 pixels, mostly red.")
    ledger = _zeropin(["privacy", "ledger"], env)
    assert ledger.returncode == 0
    assert "image" in ledger.stdout and "127.0.0.1" in ledger.stdout
    shown = _zeropin(["config", "show"], env)
    for output in (text.stdout, text.stderr, image.stderr, ledger.stdout, shown.stdout):
        assert TEST_KEY not in output


@pytest.mark.parametrize(
    ("led", "shown"),
    [
        ([], "[LED capture]"),  # the shipped settings: no privacy LED, the status LED shows it
        (["--set", "led.kind=none"], ""),  # no light at all: the photo is refused
    ],
    ids=["shipped", "no-light"],
)
def test_the_simulator_shows_a_photo_leaving_or_refuses_it(tmp_path, led, shown):
    (tmp_path / "cam").mkdir()
    Image.new("RGB", (640, 480), (30, 60, 200)).save(tmp_path / "cam" / "view.jpg")
    speech = EspeakSynthesizer(*USER_VOICE, volume_percent=100).synthesize(
        "hey zero, what am I looking at"
    )
    audio = np.concatenate([np.zeros(32000), np.frombuffer(speech, "<i2"), np.zeros(16000 * 8)])
    audio += np.random.default_rng(1).normal(0, 30, len(audio))
    write_wav(tmp_path / "mic.wav", np.clip(audio, -32768, 32767).astype("<i2").tobytes())
    with LoopbackLLM(api_key=TEST_KEY) as server:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": TEST_KEY,
            "ZEROPIN_LLM_MODEL": "loopback-chat",
        }
        run = ["run", "--sim", "--mic", str(tmp_path / "mic.wav"), "--lockstep"]
        run += ["--speaker-file", str(tmp_path / "out"), "--camera-folder", str(tmp_path / "cam")]
        result = _zeropin(["--set", "camera.backend=folder", *led, *run], env)
        sent = [request.raw_size for request in server.requests]
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    if shown:  # lit while the frame was sent, before the answer was spoken
        assert lines.index(shown) < lines.index("[LED speaking]")
        assert "-> look: 'I see a picture 640 by 480 pixels, mostly blue." in result.stdout
        assert len(sent) == 1 and sent[0] > 10_000  # the photo
    else:
        assert "capture" not in result.stdout
        assert "this device has no light to show that a photo or recording is leaving" in (
            result.stdout
        )
        assert sent == []


def test_ask_without_a_provider_says_how_to_set_one_up(tmp_path):
    result = _zeropin(["ask", "hello"], {"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "OPENAI_API_KEY" in result.stderr and "docs/providers.md" in result.stderr


def test_notes_are_listed_and_exported_with_their_audio_from_the_shell(tmp_path):
    state = tmp_path / ".local" / "share" / "zeropin"  # the state directory under HOME
    audio = wav_bytes(b"\1\0" * 16000)
    with Database(state / "zeropin.db") as database:
        notes = NoteStore(database)
        kept = notes.add("by milk", audio, "pocketsphinx", draft=True)
        notes.add("call the dentist")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    listing = _zeropin(["notes"], env)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) == 2 and lines[0].endswith("call the dentist")
    assert "by milk  [draft: pocketsphinx's guess; audio: note-" in lines[1]
    exported = _zeropin(["notes", "--export", str(tmp_path / "out")], env)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out" / f"note-{kept.id}.wav").read_bytes() == audio
    assert (tmp_path / "out" / "notes.txt").read_text().splitlines() == lines
    (tmp_path / "a-file").write_text("")
    refused = _zeropin(["notes", "--export", str(tmp_path / "a-file" / "notes")], env)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"zeropin: could not export the notes to {tmp_path}")
    assert len(refused.stderr.strip().splitlines()) == 1
