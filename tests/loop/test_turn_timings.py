"""Each turn's latency record, kept by the real daemon in simulation: a button-started turn
from the demo's scripted user (a gpiozero mock pin), and a card that is full or read-only (a real
tmpfs, ``tests/disks.py``) still answering every turn. ``tests/sim/test_turns_cli.py`` reads the
records back with ``zeropin turns``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from disks import fill, remount, small_disk
from spoken_session import STAGES_IN_ORDER, spoken_session

from device.app import assemble
from device.config.sources import load_config
from device.events import (
    ButtonPressed,
    Event,
    Heard,
    Listen,
    ListenMode,
    Respond,
    WakeWordDetected,
)
from device.loop.pacing import Lockstep
from device.loop.runtime import TurnReport
from device.loop.states import State
from device.loop.timing import Timekeeper
from device.sim.demo import Step, run_demo
from device.speaking.answer import Streamed
from device.storage.database import Database
from device.storage.notes import NoteStore
from device.storage.timings import TurnTiming, TurnTimings
from drivers.leds import NoLed
from drivers.mic import FileMicrophone
from drivers.speaker import WavSpeaker

CFG = load_config(paths=[], env={})


def _in_order(turn: TurnTiming) -> None:
    """Each stage no earlier than the one before, in the clock each is read on."""
    assert turn.trigger_s <= turn.speech_end_s, turn
    reached = [v for stage in STAGES_IN_ORDER if (v := getattr(turn, stage)) is not None]
    assert reached[0] >= 0, turn
    assert reached == sorted(reached), turn


def test_a_button_press_starts_the_clock_and_no_wake_engine_is_named(tmp_path: Path) -> None:
    run_demo(
        CFG,
        tmp_path / "out",
        steps=(
            Step("testing the microphone, one, two, three, four, five"),
            Step("what time is it", press_button=True),
        ),
        state_dir=tmp_path / "state",
    )
    with Database(tmp_path / "state" / "zeropin.db") as database:
        [turn] = TurnTimings(database).recent(5)
    assert (turn.trigger, turn.intent, turn.wake_engine, turn.provider) == (
        "button", "time", "", ""
    )  # fmt: skip
    # The press is taken in at the step the user presses it, before the first word.
    assert 0 < turn.listened_ms < 5000
    _in_order(turn)


@pytest.mark.parametrize("trouble", ["full", "read-only"])
def test_a_card_that_cannot_keep_the_record_does_not_break_a_turn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, trouble: str
) -> None:
    """Full: the card fills after the start (every INSERT fails). Read-only: the daemon starts
    on a stand-in, which refuses the record at once. Either way each turn is answered, and the
    record is skipped with one log line for all of them."""
    mic = spoken_session(
        tmp_path / "mic.wav", "hey zero, what time is it", "hey zero, what day is it"
    )
    caplog.set_level(logging.WARNING, "device.loop.timing")
    reports: list[TurnReport] = []
    with (
        small_disk(tmp_path / "disk", "2m") as disk,
        FileMicrophone(mic, 480) as microphone,
        WavSpeaker(tmp_path / "out") as speaker,
    ):
        state = disk / "state"
        with Database(state / "zeropin.db"):
            pass
        if trouble == "read-only":
            remount(disk, "ro")
        runtime, database = assemble(
            CFG, mic=microphone, speaker=speaker, light=NoLed(), camera=None,
            state_dir=state, pacing=Lockstep(), providers=[], on_turn=reports.append,
        )  # fmt: skip
        filler = fill(disk) if trouble == "full" else None
        try:
            asyncio.run(asyncio.wait_for(runtime.run(), 60))
        finally:
            database.close()
            if filler is not None:
                filler.unlink()
            else:
                remount(disk, "rw")
        with Database(state / "zeropin.db") as database:
            assert TurnTimings(database).count() == 0
    assert [report.intent for report in reports] == ["time", "date"]
    assert len(list((tmp_path / "out").glob("*-hey-zero-*.wav"))) == 2
    [line] = [r.getMessage() for r in caplog.records if r.name == "device.loop.timing"]
    expected = "the disk is full" if trouble == "full" else "the database is read-only"
    assert line.startswith("turn timings not kept: could not keep the turn's timings: "), line
    assert expected in line


def _timed(
    tmp_path: Path, mic: Path, posts: Callable[[State], list[Event]] = lambda state: []
) -> list[TurnTiming]:
    """Replay ``mic`` in lockstep; ``posts(state)`` are button events posted at a step; the
    records kept."""
    with FileMicrophone(mic, 480) as microphone, WavSpeaker(tmp_path / "out") as speaker:
        runtime, database = assemble(
            CFG, mic=microphone, speaker=speaker, light=NoLed(), camera=None,
            state_dir=tmp_path / "state", pacing=Lockstep(), providers=[],
            on_tick=lambda _: [runtime.post(event) for event in posts(runtime.state)],
        )  # fmt: skip
        try:
            asyncio.run(asyncio.wait_for(runtime.run(), 60))
            return TurnTimings(database).recent(10)
        finally:
            database.close()


def test_a_reply_cut_off_by_the_button_is_kept_without_its_last_audio(tmp_path: Path) -> None:
    mic = spoken_session(tmp_path / "mic.wav", "hey zero, why is the sky blue")
    pressed: list[State] = []

    def press_once_speaking(state: State) -> list[Event]:
        if state is State.SPEAKING and not pressed:
            pressed.append(state)
            return [ButtonPressed()]
        return []

    [turn] = _timed(tmp_path, mic, press_once_speaking)
    assert (turn.intent, turn.ended, turn.last_audio_ms) == ("brain", "cut off", None)
    _in_order(turn)  # its first audio went out


def test_the_answer_to_a_question_is_timed_from_the_question_s_end(tmp_path: Path) -> None:
    with Database(tmp_path / "state" / "zeropin.db") as database:
        NoteStore(database).add("buy milk")
    mic = spoken_session(tmp_path / "mic.wav", "hey zero, delete all my notes", "yes")
    asked, answered = _timed(tmp_path, mic)
    assert [(t.trigger, t.intent, t.wake_engine) for t in (asked, answered)] == [
        ("wake", "notes_delete", "tflite"), ("answer", "notes_delete", "")
    ]  # fmt: skip
    # The loop listens for the yes from when the question's last audio went out: in lockstep
    # its first audio goes out at the next 30 ms frame, and it plays for as long as it lasts.
    assert asked.last_audio_ms is not None and asked.first_audio_ms is not None
    played_s = (asked.last_audio_ms - asked.first_audio_ms) / 1000
    assert answered.trigger_s == pytest.approx(asked.speech_end_s + 0.03 + played_s, abs=0.031)
    for turn in (asked, answered):
        _in_order(turn)


def test_the_record_costs_little_per_turn(tmp_path: Path) -> None:
    """Printed, not asserted on: the readings and the hand-over to the writer thread, on the
    event loop; and the row's INSERT and prune (with an fsync: synchronous=FULL), in that
    thread, here on this machine's disk (an SD card's fsync takes longer; nothing waits)."""
    heard = Heard("hey zero what time is it", True, 3.0, "wake", {"asr_final": 2.0}, "vosk")
    records: list[TurnTiming] = []
    keeper = Timekeeper(records.append, lambda: 3.0, "wall", "espeak-ng")
    turns = 10_000

    async def readings() -> float:
        started = time.perf_counter()
        for reply_id in range(1, turns + 1):
            keeper.saw(WakeWordDetected(1.0, "tflite"), State.IDLE,
                       [Listen(ListenMode.UTTERANCE, "wake")], 0.0)  # fmt: skip
            keeper.saw(heard, State.LISTENING, [Respond(heard, reply_id)], time.perf_counter())
            keeper.decided(reply_id, "brain")
            for _ in keeper.watch(reply_id, iter([Streamed("It's", "x"), Streamed(" 9.", "x")])):
                pass
            keeper.first_audio(reply_id)
            keeper.played(reply_id)
        on_loop = (time.perf_counter() - started) / turns
        await keeper.flush()
        return on_loop

    on_loop = asyncio.run(readings())
    assert len(records) == turns and records[0].provider == "x"
    writes = 300
    with Database(tmp_path / "zeropin.db") as database:
        store = TurnTimings(database, keep=100)  # pruning on every write after the 100th
        started = time.perf_counter()
        for record in records[:writes]:
            store.add(record)
        written = (time.perf_counter() - started) / writes
    print(
        f"\nper turn: {on_loop * 1e6:.0f} us on the event loop (readings, hand-over); "
        f"{written * 1e3:.2f} ms to write the row in its own thread"
    )
