"""The answer cap through the real voice loop: push to talk, a question in synthesised speech,
the cloud brain streaming a far too long answer from the loopback server over real HTTP. The
device speaks about two minutes of it, says it stopped, and closes the stream."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np

from device.app import assemble
from device.config.sources import load_config
from device.events import ButtonPressed
from device.loop.pacing import Lockstep
from device.loop.runtime import TurnReport
from device.sim.cloud_demo import loopback_provider
from device.sim.demo import USER_VOICE
from device.sim.loopback.scripted import DEFAULT_REPLY
from device.speaking.answer import CUT_SHORT, AnswerLimits
from device.speaking.tts import EspeakSynthesizer
from drivers.audio_format import read_wav, seconds_of, write_wav
from drivers.leds import NoLed
from drivers.mic import FileMicrophone
from drivers.speaker import WavSpeaker

CFG = load_config(paths=[], env={})


def test_a_far_too_long_streamed_answer_is_cut_said_so_and_its_stream_closed(
    tmp_path: Path,
) -> None:
    tts = EspeakSynthesizer(*USER_VOICE, volume_percent=100)
    speech = np.frombuffer(tts.synthesize("why is the sky blue"), "<i2")
    audio = np.concatenate([np.zeros(8000), speech, np.zeros(16000 * 3)])
    audio += np.random.default_rng(1).normal(0, 30, len(audio))  # room noise throughout
    write_wav(tmp_path / "mic.wav", audio.astype("<i2").tobytes())
    reports: list[TurnReport] = []
    pushed: list[bool] = []

    def push_to_talk(_seconds: float) -> None:
        # At the first step: the recogniser's words then all go to the brain.
        if not pushed:
            pushed.append(True)
            runtime.post(ButtonPressed())

    # 90 KB in pieces of two words, one every 10 ms: the server would stream for 80 s, and the
    # client's 30 s deadline would end it with "the connection dropped" if nothing else did.
    with (
        loopback_provider(first_token_seconds=0.0, token_interval_seconds=0.01) as (server, prov),
        FileMicrophone(tmp_path / "mic.wav", 480) as mic,
        WavSpeaker(tmp_path / "replies") as speaker,
    ):
        server.reply_text = " ".join([DEFAULT_REPLY] * 400)
        runtime, database = assemble(
            CFG,
            mic=mic,
            speaker=speaker,
            light=NoLed(),
            camera=None,
            state_dir=tmp_path,
            pacing=Lockstep(),
            providers=[prov],
            on_turn=reports.append,
            on_tick=push_to_talk,
        )
        try:
            asyncio.run(asyncio.wait_for(runtime.run(), 60))
        finally:
            database.close()
        # The client shut the socket; the server notices at its next write, 10 ms later.
        deadline = time.monotonic() + 5
        while server.open_connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.open_connections == 0
        assert len(server.requests) == 1

    [report] = reports
    assert report.intent == "brain"
    assert report.said.startswith(DEFAULT_REPLY.split(". ")[0])
    assert report.said.endswith(" " + CUT_SHORT)
    cap = AnswerLimits().max_answer_chars
    sentences = report.said.count(". ") + 1
    assert cap - 300 < len(report.said) - len(CUT_SHORT) - sentences <= cap
    spoken = seconds_of(read_wav(speaker.files[-1]))
    assert 90 < spoken < 150  # about two minutes: not the 4.5 minutes queued before the cap
