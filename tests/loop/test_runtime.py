"""The runtime carrying out the state machine's commands, in lockstep on synthesised speech:
the trigger travels from the button to the router, a failing reply is the error earcon, and
deleting notes waits for a spoken yes (a real SQLite notes database)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import numpy as np

from device.app import assemble, build_synthesizer
from device.cancel import Cancellation
from device.config.sources import load_config
from device.events import ButtonHeld, ButtonPressed, Event, Heard
from device.loop.pacing import Lockstep
from device.loop.router import Answer, Router
from device.loop.runtime import Runtime, TurnReport
from device.loop.states import State
from device.sim.demo import ROOM_NOISE_RMS, USER_VOICE
from device.speaking.tts import EspeakSynthesizer
from device.storage.database import Database
from device.storage.notes import NoteStore
from device.system.paths import state_paths
from drivers.audio_format import RATE, write_wav
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

    def answer(
        self,
        text: str,
        *,
        look: bool = False,
        cancel: Cancellation | None = None,
        heard: Heard | None = None,
        confirmed: str = "",
    ) -> Answer:
        self.looks.append(look)
        if self.fail:
            raise RuntimeError("a skill failed")
        return super().answer(text, look=look, cancel=cancel, heard=heard, confirmed=confirmed)


def _recording(path: Path, *texts: str | float) -> Path:
    """The user saying ``texts``, each followed by 3 s of the room, or by the seconds given."""
    tts = EspeakSynthesizer(*USER_VOICE, volume_percent=100)
    parts = [np.zeros(16000)]
    for text in texts:
        if isinstance(text, float):
            parts[-1] = np.zeros(round(text * RATE))
            continue
        parts += [np.frombuffer(tts.synthesize(text), "<i2").astype(np.float64), np.zeros(48000)]
    audio = np.concatenate(parts)
    audio += np.random.default_rng(2).normal(0, ROOM_NOISE_RMS, len(audio))
    write_wav(path, np.clip(audio, -32768, 32767).astype("<i2").tobytes())
    return path


def _run(
    tmp_path: Path,
    mic: Path,
    fail: bool = False,
    posts: Callable[[int, State], list[Event]] = lambda step, state: [],
) -> tuple[Runtime, RecordingRouter, list[TurnReport], list[State]]:
    """Replay ``mic`` in lockstep; ``posts(step, state)`` are button events posted at that step,
    in that state."""
    reports: list[TurnReport] = []
    states: list[State] = []
    steps = iter(range(10**9))

    def post_buttons(_seconds: float) -> None:
        for event in posts(next(steps), runtime.state):
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
    _, router, reports, _ = _run(tmp_path, mic, posts=lambda step, _: pressed.get(step, []))
    assert router.looks == [True]
    assert [(report.trigger, report.intent) for report in reports] == [("hold", "brain")]


QUESTION = "Delete all 3 notes? Say yes to confirm, or no to cancel."


def _notes_then_run(
    tmp_path: Path,
    *texts: str | float,
    posts: Callable[[int, State], list[Event]] = lambda step, state: [],
) -> tuple[int, list[TurnReport], list[State], list[str]]:
    """Three notes kept, then the user's ``texts`` heard; the notes left, the turns, the states
    and the names of the replies' files."""
    with Database(state_paths(CFG, tmp_path / "state")[0]) as database:
        for text in ("buy milk", "call mum", "water the plants"):
            NoteStore(database).add(text)
    mic = _recording(tmp_path / "mic.wav", *texts)
    runtime, _, reports, states = _run(tmp_path, mic, posts=posts)
    assert runtime.state is State.IDLE and runtime.machine.pending is None
    with Database(state_paths(CFG, tmp_path / "state")[0]) as database:
        left = NoteStore(database).count()
    return left, reports, states, [path.name for path in sorted((tmp_path / "out").iterdir())]


def _after_the_question(extra_seconds: float) -> float:
    """Silence from the end of "delete all my notes" to ``extra_seconds`` after the device has
    asked (the endpointer's trailing silence, then the question played in lockstep)."""
    question = build_synthesizer(CFG).synthesize(QUESTION)
    return CFG.vad.trailing_silence_seconds + len(question) / (2 * RATE) + extra_seconds


def test_delete_all_my_notes_then_no_keeps_them(tmp_path: Path) -> None:
    delete = "hey zero, delete all my notes"
    left, reports, states, files = _notes_then_run(tmp_path, delete, _after_the_question(1.0), "no")
    assert left == 3
    assert [(r.trigger, r.intent, r.said) for r in reports] == [("wake", "notes_delete", QUESTION)]
    assert State.CONFIRMING in states and states[-1] is State.IDLE
    assert files[-1].endswith("-ok-i-kept-your-notes.wav"), files


def test_delete_all_my_notes_then_yes_deletes_them(tmp_path: Path) -> None:
    delete = "hey zero, delete all my notes"
    left, reports, _, _ = _notes_then_run(tmp_path, delete, _after_the_question(1.0), "yes")
    assert left == 0
    assert [(r.trigger, r.heard, r.intent, r.said) for r in reports][-1] == (
        "answer", "yes", "notes_delete", "Deleted 3 notes."
    )  # fmt: skip


def test_silence_after_the_question_keeps_the_notes(tmp_path: Path) -> None:
    silence = _after_the_question(CFG.vad.no_speech_timeout_seconds + 2.0)
    left, reports, states, files = _notes_then_run(
        tmp_path, "hey zero, delete all my notes", silence
    )
    assert left == 3 and [r.intent for r in reports] == ["notes_delete"]
    assert State.CONFIRMING in states and files[-1].endswith("-ok-i-kept-your-notes.wav"), files


def test_a_press_while_the_answer_is_awaited_keeps_the_notes(tmp_path: Path) -> None:
    """The press cancels, and the yes said after it is not taken for an answer."""
    pressed_at: list[int] = []

    def press_once_confirming(step: int, state: State) -> list[Event]:
        if state is State.CONFIRMING and not pressed_at:
            pressed_at.append(step)
            return [ButtonPressed()]
        return []

    delete = "hey zero, delete all my notes"
    left, reports, _, files = _notes_then_run(
        tmp_path, delete, _after_the_question(1.5), "yes", posts=press_once_confirming
    )
    assert left == 3 and len(pressed_at) == 1
    assert [r.intent for r in reports] == ["notes_delete"]
    assert files[-1].endswith("-ok-i-kept-your-notes.wav"), files


def test_please_dont_delete_my_notes_neither_asks_nor_deletes(tmp_path: Path) -> None:
    left, reports, states, _ = _notes_then_run(tmp_path, "hey zero, please don't delete my notes")
    assert left == 3 and State.CONFIRMING not in states
    assert [r.intent for r in reports] in (["brain"], ["not_caught"]), reports
