"""Barge-in through the simulator's echo path: the device hears its replies (delayed, loud) mixed
with the user, cancels them, and stops for "stop" or the wake word said over them, never for its
own voice. Real espeak-ng speech, listener, state machine and shipped wake-word model, in
lockstep; the latency figures are printed (``-s``), not asserted."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from device.app import assemble
from device.config.schema import Config
from device.config.sources import load_config
from device.events import Event, Heard, StopHeard, WakeWordDetected
from device.loop.pacing import Lockstep
from device.loop.runtime import Runtime, TurnReport
from device.loop.states import State
from device.sim.barge import InterruptingUser, Line
from drivers.echo_path import EchoPath, parse_echo
from drivers.leds import NoLed
from drivers.speaker import WavSpeaker

CFG = load_config(paths=[], env={})
PINNED_NOW = dt.datetime(2026, 3, 14, 21, 59)


@dataclass
class Run:
    runtime: Runtime
    user: InterruptingUser
    echo: EchoPath
    reports: list[TurnReport]
    heard: list[tuple[Event, State]] = field(default_factory=list)  # facts, and the state then

    def facts(self, kind: type, *states: State) -> list[Event]:
        return [e for e, s in self.heard if isinstance(e, kind) and (not states or s in states)]


def _converse(tmp_path: Path, lines: list[Line], echo: str = "40:0", cfg: Config = CFG) -> Run:
    path = EchoPath(*parse_echo(echo))
    reports: list[TurnReport] = []
    runtime: Runtime | None = None
    user = InterruptingUser(lines, state=lambda: runtime.state if runtime else State.IDLE)
    with path.microphone(user) as mic, path.speaker(WavSpeaker(tmp_path / "out")) as speaker:
        runtime, database = assemble(
            cfg,
            mic=mic,
            speaker=speaker,
            light=NoLed(),
            camera=None,
            state_dir=tmp_path / "state",
            pacing=Lockstep(),
            providers=[],
            now=lambda: PINNED_NOW,
            on_turn=reports.append,
        )
        run = Run(runtime, user, path, reports)
        listen = runtime.listener.process

        def noting(chunk: bytes) -> list[Event]:
            assert runtime is not None
            events = listen(chunk)
            run.heard += [(event, runtime.state) for event in events]
            return events

        runtime.listener.process = noting  # type: ignore[method-assign]
        try:
            asyncio.run(asyncio.wait_for(runtime.run(), 120))
        finally:
            database.close()
    return run


QUESTIONS = [
    "hey zero, what time is it",
    "hey zero, why is the sky blue",
    "hey zero, set a timer for ten minutes",
    "hey zero, what is the date today",
]


def test_its_own_replies_through_a_loud_echo_never_wake_or_stop_it(tmp_path: Path) -> None:
    run = _converse(tmp_path, [Line(q) for q in QUESTIONS], echo="40:6")
    answered = [report.said for report in run.reports]
    assert len(answered) == len(QUESTIONS) and len(set(answered)) >= 2, answered
    speaking = run.runtime.listener.echo
    assert speaking is not None and speaking.audio_seconds > 10
    assert run.facts(StopHeard) == []
    assert run.facts(WakeWordDetected, State.THINKING, State.SPEAKING) == []
    assert run.echo.aborted_at_seconds == []
    print(f"\nself-triggers: 0 over {speaking.audio_seconds:.1f} s of cancelled replies at +6 dB")


@pytest.mark.parametrize("echo", ["40:0", "80:-10"])
def test_stop_said_over_a_reply_stops_it_promptly(tmp_path: Path, echo: str) -> None:
    lines = [Line("hey zero, why is the sky blue"), Line("stop", over_reply=1.5)]
    run = _converse(tmp_path, lines, echo=echo)
    assert len(run.facts(StopHeard, State.SPEAKING)) == 1
    assert len(run.echo.aborted_at_seconds) == 1
    latency = run.echo.aborted_at_seconds[0] - run.user.ended_at_seconds[-1]
    print(f"\nstop (echo {echo}): speaker stopped {latency * 1000:.0f} ms after the word's end")
    assert -0.3 < latency < 1.0  # the spotter may decide on the closure before the "p"
    assert run.runtime.state is State.IDLE
    assert len(run.reports) == 1  # "stop" is not a question


def test_with_the_stop_word_off_stop_is_not_listened_for_over_a_reply(tmp_path: Path) -> None:
    quiet = load_config(paths=[], env={}, overrides=["wake.stop_word=false"])
    lines = [Line("hey zero, why is the sky blue"), Line("stop", over_reply=1.5)]
    run = _converse(tmp_path, lines, cfg=quiet)
    assert run.runtime.listener.stop is None and run.runtime.listener.can_barge_in
    assert run.facts(StopHeard) == [] and run.echo.aborted_at_seconds == []
    assert [r.intent for r in run.reports] == ["brain"]  # the answer was played to its end


def test_the_wake_word_over_a_reply_interrupts_and_the_question_is_heard(tmp_path: Path) -> None:
    # The user waits for the reply to stop: what is said while it still plays is damped by the
    # canceller (said on at once, "hey zero, what time is it" was not caught)
    lines = [
        Line("hey zero, why is the sky blue"),
        Line("hey zero", over_reply=1.5, then="what time is it"),
    ]
    run = _converse(tmp_path, lines)
    assert len(run.facts(WakeWordDetected, State.SPEAKING)) == 1
    assert len(run.echo.aborted_at_seconds) == 1
    heard = [e for e in run.facts(Heard) if isinstance(e, Heard)]
    assert [h.trigger for h in heard] == ["wake", "wake"]
    assert [r.intent for r in run.reports] == ["brain", "time"]


def test_the_wake_earcon_alone_is_never_heard_as_words(tmp_path: Path) -> None:
    run = _converse(tmp_path, [Line("hey zero"), Line("hey zero")], echo="40:6")
    assert len(run.facts(WakeWordDetected)) == 2
    assert len(list((tmp_path / "out").glob("*earcon-wake.wav"))) == 2  # it did sound
    assert run.facts(Heard) == []  # not even speech without words: nothing started an utterance


@pytest.mark.parametrize("echo", ["40:6", "40:-60"])
@pytest.mark.parametrize("pause", [0.3, 0.7])
def test_a_short_command_said_about_when_the_wake_earcon_is_due_is_heard(
    tmp_path: Path, pause: float, echo: str
) -> None:
    # After 0.3 s the user is beginning "stop" when the earcon is due: it does not sound. After
    # 0.7 s, "stop" begins as the earcon ends and is over before its half second of echo is.
    # (Begun while the earcon plays, a word is lost: the canceller silences it.)
    run = _converse(tmp_path, [Line("hey zero", then="stop", pause=pause)], echo=echo)
    sounded = len(list((tmp_path / "out").glob("*earcon-wake.wav")))
    assert sounded == (pause > 0.3)
    assert [(r.intent, r.heard) for r in run.reports] == [("stop", "hey zero stop")]


@pytest.mark.parametrize("echo", ["40:6", "40:-60"])
def test_a_command_said_on_after_the_wake_word_is_heard(tmp_path: Path, echo: str) -> None:
    run = _converse(tmp_path, [Line("hey zero, what time is it")], echo=echo)
    assert [r.intent for r in run.reports] == ["time"]
    assert list((tmp_path / "out").glob("*earcon-wake.wav")) == []  # the user went on: no earcon


def test_a_command_said_after_the_earcon_is_heard(tmp_path: Path) -> None:
    run = _converse(tmp_path, [Line("hey zero", then="what time is it")], echo="40:6")
    assert [r.intent for r in run.reports] == ["time"]
    assert len(list((tmp_path / "out").glob("*earcon-wake.wav"))) == 1
