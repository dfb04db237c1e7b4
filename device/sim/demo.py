"""``zeropin demo``: a scripted conversation through the real pipeline, with no hardware.

A simulated user speaks with espeak-ng into a simulated microphone (room noise between turns) and
waits for each answer before speaking again, like a person would; the button is a gpiozero
MockFactory pin. Wake word, endpointing, recognition, skills, speech and the speaker path are the
real ones. Everything the microphone heard is saved as ``mic.wav``, each reply as a WAV file.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from device.app import assemble
from device.cloud.providers import Provider
from device.config.schema import Config
from device.events import ButtonPressed
from device.loop.pacing import Lockstep
from device.loop.runtime import TurnReport
from device.loop.states import State
from device.speaking.tts import EspeakSynthesizer, Synthesizer
from drivers.audio_format import RATE, frames_for, write_wav
from drivers.buttons import Buttons, simulated_pin_factory
from drivers.camera import Camera
from drivers.leds import NoLed, PrivacyLed, StatusLight
from drivers.speaker import WavSpeaker, slug


@dataclass(frozen=True)
class Step:
    text: str = ""  # what the user says
    press_button: bool = False  # press the main button first (push-to-talk)
    pause_seconds: float = 0.0  # wait this long in silence instead of speaking
    # answer the device's question without the wake word: speak as soon as it listens for a
    # follow-up or for a yes or no (or, if it does neither, once it is idle again, where it is
    # not heard)
    follow_up: bool = False
    audio: bytes = b""  # played instead of speaking ``text`` (a recorded meeting)
    # before this step, wait (wall time, the audio clock stopped) until this holds: work the
    # device does in the background, such as transcribing a recording, is done
    wait_for: Callable[[], bool] | None = None


WAIT_LIMIT_SECONDS = 20.0
SCENARIO: tuple[Step, ...] = (
    # A sound check, as at any demo: no wake word, so no answer. pocketsphinx adapts to the
    # microphone on it (its first utterance after start-up is otherwise often misheard).
    Step("testing the microphone, one, two, three, four, five"),
    Step("hey zero, what time is it"),
    Step("hey zero, set a timer for ten seconds"),
    Step("hey zero, take a note buy milk"),
    Step(pause_seconds=6.0),  # the timer rings meanwhile
    Step("hey zero, read my notes"),
    Step("what can you do", press_button=True),
    Step("hey zero, set the volume to fifty percent"),
    Step("hey zero, why is the sky blue"),
)
USER_VOICE = ("en-us+f2", 140, 50)  # voice, words per minute, pitch: not the device's voice
ROOM_NOISE_RMS = 30  # int16 units, about -60 dBFS: a quiet room


class ScriptedMicrophone:
    """A microphone whose user speaks the next step once the device is idle again (a follow-up
    step: once it listens for one, or for the answer to its question).

    A simulation part for the demo and tests: it reads the runtime's state to know when the
    answer is over, as a person listening would. Deterministic (seeded noise).
    """

    realtime = False

    def __init__(
        self,
        steps: tuple[Step, ...],
        state: Callable[[], State],
        press: Callable[[], None],
        chunk_frames: int,
        settle_seconds: float = 1.0,
        seed: int = 7,
        user: Synthesizer | None = None,
    ) -> None:
        voice, rate, pitch = USER_VOICE
        self._tts = user or EspeakSynthesizer(voice, rate, pitch, volume_percent=100)
        self.chunk_frames = chunk_frames
        self._state = state
        self._press = press
        self._steps = collections.deque(steps)
        self._rng = np.random.default_rng(seed)
        self._pending = b""
        self._idle_frames = 0
        self._settle_frames = frames_for(settle_seconds)
        self._finished = False
        self.recorded: list[bytes] = []

    def _noise(self, frames: int) -> bytes:
        return (self._rng.normal(0, ROOM_NOISE_RMS, frames)).astype("<i2").tobytes()

    def _next_step(self) -> None:
        step = self._steps.popleft()
        if step.wait_for is not None:
            _wait(step.wait_for)
        if step.audio:
            self._pending = step.audio
            return
        if step.pause_seconds:
            self._pending = self._noise(frames_for(step.pause_seconds))
            return
        if step.press_button:
            self._press()
            if not step.text:  # a press alone: the room goes on
                self._pending = self._noise(frames_for(0.5))
                return
        speech = np.frombuffer(self._tts.synthesize(step.text), dtype="<i2").astype(np.float32)
        noise = np.frombuffer(self._noise(len(speech)), dtype="<i2")
        self._pending = np.clip(speech + noise, -32768, 32767).astype("<i2").tobytes()

    def read(self) -> bytes:
        if self._finished:
            return b""
        size = self.chunk_frames * 2
        if not self._pending:
            waiting: tuple[State, ...] = (State.IDLE, State.OFFLINE)
            if self._steps and self._steps[0].follow_up:
                waiting += (State.FOLLOWING, State.CONFIRMING, State.INTERPRETING)
            idle = self._state() in waiting
            self._idle_frames = self._idle_frames + self.chunk_frames if idle else 0
            if self._idle_frames >= self._settle_frames:
                self._idle_frames = 0
                if not self._steps:
                    self._finished = True
                    return b""
                self._next_step()
        chunk, self._pending = self._pending[:size], self._pending[size:]
        chunk += self._noise((size - len(chunk)) // 2)
        self.recorded.append(chunk)
        return chunk

    def close(self) -> None:
        self._finished = True

    def __enter__(self) -> ScriptedMicrophone:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _wait(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the device's background work was not done in {WAIT_LIMIT_SECONDS:g} s"
            )
        time.sleep(0.05)


def run_demo(
    cfg: Config,
    out_dir: Path,
    *,
    steps: tuple[Step, ...] = SCENARIO,
    chunk_ms: int | None = None,
    providers: Sequence[Provider] = (),
    camera: Camera | None = None,
    privacy_led: PrivacyLed | None = None,
    light: StatusLight | None = None,
    state_dir: Path | None = None,
    now: Callable[[], dt.datetime] = dt.datetime.now,
    on_state: Callable[[State, float], None] | None = None,
    user: Synthesizer | None = None,
) -> list[TurnReport]:
    """Run the scenario; returns one report per answered utterance.

    With no ``providers`` questions get the offline answer (the demo never uses the cloud
    set up in the environment); ``light`` defaults to none (``NoLed``), so with neither it nor
    ``privacy_led`` photos are refused; ``state_dir`` defaults to a temporary folder. ``now`` is the
    skills' clock: pin it for a run that repeats exactly, since the user waits for each answer
    and "It's 9:59 PM" is not as long as "It's 10:00 PM". ``on_state`` is told each new state and
    the audio time it came at. ``user`` is the user's voice (USER_VOICE's by default)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    reports: list[TurnReport] = []
    factory = simulated_pin_factory()
    pin = cfg.buttons.main_pin
    with (
        tempfile.TemporaryDirectory(prefix="zeropin-demo-") as temporary_dir,
        WavSpeaker(out_dir / "replies") as speaker,
        Buttons({"main": pin}, pin_factory=factory) as buttons,
    ):
        finger = _Finger(factory.pin(pin))
        frames = (chunk_ms or cfg.audio.chunk_ms) * RATE // 1000
        mic = ScriptedMicrophone(steps, lambda: runtime.state, finger.press, frames, user=user)
        runtime, database = assemble(
            cfg,
            mic=mic,
            speaker=speaker,
            light=light or NoLed(),
            camera=camera,
            state_dir=state_dir or Path(temporary_dir),
            pacing=Lockstep(),
            privacy_led=privacy_led,
            providers=list(providers),
            on_turn=reports.append,
            on_tick=finger.lift,
            now=now,
            on_state=(lambda state: on_state(state, runtime.listener.seconds))
            if on_state
            else None,
        )
        buttons.on_press = lambda name: runtime.post(ButtonPressed(name))
        try:
            asyncio.run(runtime.run())
        finally:
            database.close()
        write_wav(out_dir / "mic.wav", b"".join(mic.recorded))
        _attach_replies(reports, list(speaker.files))
    return reports


def _attach_replies(reports: list[TurnReport], files: list[Path]) -> None:
    """Each report's reply WAV, found by the slug of what was heard."""
    for report in reports:
        report_file = next(
            (f for f in files if f.name.endswith(f"-{slug(report.heard)}.wav")), None
        )
        report.reply_wav = str(report_file) if report_file else ""


class _Finger:
    """The user's finger on the mock main button: a real gpiozero press, lifted at the loop's
    next step (the runtime's ``on_tick``), so the press lasts one step of audio time."""

    def __init__(self, pin: Any) -> None:
        self._pin = pin
        self._down = False

    def press(self) -> None:
        self._pin.drive_low()
        self._down = True

    def lift(self, _seconds: float) -> None:
        if self._down:
            self._pin.drive_high()
            self._down = False


def as_json(report: TurnReport, part: str = "offline") -> str:
    return json.dumps(
        {
            "part": part,
            "trigger": report.trigger,
            "heard": report.heard,
            "intent": report.intent,
            "said": report.said,
            "reply_wav": report.reply_wav,
            "heard_by": report.engine,
            "ms": {k: round(v, 1) for k, v in report.timings_ms.items()},
        }
    )


def print_reports(
    reports: list[TurnReport], out_dir: Path, json_lines: bool, part: str = "offline"
) -> None:
    out = sys.stdout
    if json_lines:
        for report in reports:
            print(as_json(report, part), file=out)
        return
    for n, r in enumerate(reports, 1):
        t = r.timings_ms
        print(f"{n}. [{r.trigger}] heard: {r.heard!r} (by {r.engine or 'nothing'})", file=out)
        print(f"   decided: {r.intent}", file=out)
        print(f"   said:    {r.said!r}", file=out)
        print(
            f"   ms: recognise {t.get('asr_final', 0):.0f}, decide {t.get('intent', 0):.0f}, "
            f"first speech {t.get('tts_first', 0):.0f}; end of speech to first audio "
            f"{t.get('end_of_speech_to_first_audio', 0):.0f}",
            file=out,
        )
        print(f"   reply:   {r.reply_wav}", file=out)
    print(f"\nmicrophone input: {out_dir / 'mic.wav'}; replies in {out_dir / 'replies'}", file=out)
