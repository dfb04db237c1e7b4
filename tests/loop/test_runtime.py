"""The runtime carrying out the state machine's commands, in lockstep on synthesised speech:
the trigger travels from the button to the router, and a failing reply is the error earcon."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from device.app import assemble
from device.cancel import Cancellation
from device.config.sources import load_config
from device.events import ButtonHeld, ButtonPressed, Event, Heard
from device.loop.pacing import Lockstep
from device.loop.router import Router
from device.loop.runtime import Runtime, TurnReport
from device.loop.states import State
from device.sim.demo import ROOM_NOISE_RMS, USER_VOICE
from device.speaking.tts import EspeakSynthesizer
from drivers.audio_format import write_wav
from drivers.leds import NoLed
from drivers.mic import FileMicrophone
from drivers.speaker import WavSpeaker

CFG = load_config(paths=[], env={})


class RecordingRouter(Router):
    """The real router, noting whether each question was to be asked with the camera."""

    def __init__(self, real: Router, fail: bool = False) -> None:
        super().__init__(real.skills, real.brain, real.wake_phrase)
        self.looks: list[bool] = []
        self.fail = fail

    def route(
        self,
        text: str,
        *,
        look: bool = False,
        cancel: Cancellation | None = None,
        heard: Heard | None = None,
    ) -> tuple[str, Iterator[str]]:
        self.looks.append(look)
        if self.fail:
            raise RuntimeError("a skill failed")
        return super().route(text, look=look, cancel=cancel, heard=heard)


def _recording(path: Path, *texts: str) -> Path:
    tts = EspeakSynthesizer(*USER_VOICE, volume_percent=100)
    parts = [np.zeros(16000)]
    for text in texts:
        parts += [np.frombuffer(tts.synthesize(text), "<i2").astype(np.float64), np.zeros(48000)]
    audio = np.concatenate(parts)
    audio += np.random.default_rng(2).normal(0, ROOM_NOISE_RMS, len(audio))
    write_wav(path, np.clip(audio, -32768, 32767).astype("<i2").tobytes())
    return path


def _run(
    tmp_path: Path,
    mic: Path,
    fail: bool = False,
    posts: Callable[[int], list[Event]] = lambda step: [],
) -> tuple[Runtime, RecordingRouter, list[TurnReport], list[State]]:
    """Replay ``mic`` in lockstep; ``posts(step)`` are button events posted at that step."""
    reports: list[TurnReport] = []
    states: list[State] = []
    steps = iter(range(10**9))

    def post_buttons(_seconds: float) -> None:
        for event in posts(next(steps)):
            runtime.post(event)

    with FileMicrophone(mic, 480) as microphone, WavSpeaker(tmp_path / "out") as speaker:
        runtime, database = assemble(
            CFG,
            mic=microphone,
            speaker=speaker,
            light=NoLed(),
            camera=None,
            state_dir=tmp_path / "state",
            pacing=Lockstep(),
            providers=[],
            on_turn=reports.append,
            on_state=states.append,
            on_tick=post_buttons,
        )
        router = runtime.router = RecordingRouter(runtime.router, fail)
        try:
            asyncio.run(asyncio.wait_for(runtime.run(), 60))
        finally:
            database.close()
    return runtime, router, reports, states


def test_a_failing_reply_is_the_error_earcon_and_the_turn_still_ends(tmp_path: Path) -> None:
    mic = _recording(tmp_path / "mic.wav", "testing the microphone, one, two, three, four, five",
                     "hey zero, what time is it")  # fmt: skip
    runtime, router, reports, states = _run(tmp_path, mic, fail=True)
    assert router.looks == [False]
    assert reports == []  # no answer to report
    assert states[-2:] == [State.THINKING, State.IDLE] and runtime.state is State.IDLE
    files = [path.name for path in sorted((tmp_path / "out").iterdir())]
    assert files[-1].endswith("-error.wav"), files  # the reply, after the wake earcon


def test_a_press_held_while_listening_asks_with_the_camera(tmp_path: Path) -> None:
    mic = _recording(tmp_path / "mic.wav", "why is the sky blue")
    # as gpiozero reports a long press: when_pressed, then when_held while still down
    pressed: dict[int, list[Event]] = {0: [ButtonPressed()], 1: [ButtonHeld()]}
    _, router, reports, _ = _run(tmp_path, mic, posts=lambda step: pressed.get(step, []))
    assert router.looks == [True]
    assert [(report.trigger, report.intent) for report in reports] == [("hold", "brain")]
