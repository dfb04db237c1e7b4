"""Conversation translation in the pure state machine: how it starts, what keeps it going, and
every way it ends (a press, "stop", silence, fifteen minutes, mute, a button over a reply), so
that a wearer who thinks it stopped is right."""

from __future__ import annotations

from device.events import (
    Announce,
    ButtonPressed,
    Event,
    FollowUpInvited,
    Heard,
    InterpretingStarted,
    Listen,
    ListenMode,
    MuteToggled,
    NothingHeard,
    PlayEarcon,
    ReplyFinished,
    ReplyStarted,
    Respond,
    ShowLed,
    StopSpeaking,
    TimerFinished,
    WakeWordDetected,
)
from device.loop.states import (
    INTERPRET_MAX_SECONDS,
    INTERPRET_QUIET_SECONDS,
    Machine,
    State,
    transition,
)
from drivers.leds import LedPattern

START = Heard("translate for me between english and spanish", True, 3.0, "wake")


def _run(machine: Machine, *events: Event) -> tuple[Machine, list]:
    commands: list = []
    for event in events:
        machine, commands = transition(machine, event)
    return machine, commands


def _interpreting(at: float = 6.0) -> Machine:
    """Asked for, its announcement played: listening for words to translate."""
    machine, _ = _run(Machine(), WakeWordDetected(1.0, "tflite"), START)
    machine, commands = _run(machine, ReplyStarted(1), InterpretingStarted(1), ReplyFinished(1, at))
    assert machine.state is State.INTERPRETING and machine.interpreting
    assert commands == [
        Listen(ListenMode.UTTERANCE, "interpret", no_speech_seconds=INTERPRET_QUIET_SECONDS),
        ShowLed(LedPattern.TRANSLATING),
    ]
    return machine


def _said(text: str, at: float) -> Heard:
    return Heard(text, False, at, "interpret", engine="cloud")


def test_each_utterance_is_translated_then_it_listens_again() -> None:
    machine = _interpreting()
    machine, commands = _run(machine, _said("where is the station", 9.0))
    assert machine.state is State.THINKING and isinstance(commands[-1], Respond)
    # the translation ends in "?": asked of someone else, it is no follow-up of the wearer's
    machine, commands = _run(
        machine, ReplyStarted(2), FollowUpInvited(2, 4.0), ReplyFinished(2, 11.0)
    )
    assert machine.state is State.INTERPRETING and commands[0].mode is ListenMode.UTTERANCE


def test_a_cough_is_listened_past_but_silence_ends_it() -> None:
    machine = _interpreting()
    machine, commands = _run(machine, NothingHeard("empty transcript"))
    assert machine.state is State.INTERPRETING and commands[0].trigger == "interpret"
    machine, commands = _run(machine, NothingHeard("no speech"))
    assert (machine.state, machine.interpreting) == (State.IDLE, False)
    assert commands == [PlayEarcon("done"), Listen(ListenMode.WAKE), ShowLed(LedPattern.IDLE)]


def test_stop_the_button_or_mute_end_it() -> None:
    for event in (_said("stop", 9.0), _said("stop translating please", 9.0), ButtonPressed()):
        machine, commands = _run(_interpreting(), event)
        assert (machine.state, machine.interpreting) == (State.IDLE, False), event
        assert not any(isinstance(c, Respond) for c in commands)  # "stop" is not translated
    machine, _ = _run(_interpreting(), MuteToggled())
    assert (machine.state, machine.interpreting) == (State.MUTED, False)


def test_the_button_over_a_translation_ends_the_conversation_too() -> None:
    machine, _ = _run(_interpreting(), _said("where is the station", 9.0), ReplyStarted(2))
    machine, commands = _run(machine, ButtonPressed())
    assert StopSpeaking() in commands and (machine.state, machine.interpreting) == (
        State.IDLE,
        False,
    )
    machine, _ = _run(
        machine, WakeWordDetected(20.0, "tflite"), Heard("what time is it", True, 22.0, "wake")
    )
    machine, _ = _run(machine, ReplyStarted(3), ReplyFinished(3, 24.0))
    assert machine.state is State.IDLE  # the next question is a question again


def test_it_ends_by_itself_after_fifteen_minutes_of_talk() -> None:
    machine = _interpreting(at=6.0)
    late = 6.0 + INTERPRET_MAX_SECONDS + 1.0
    machine, _ = _run(machine, _said("where is the station", late - 2.0), ReplyStarted(2))
    machine, commands = _run(machine, ReplyFinished(2, late))
    assert (machine.state, machine.interpreting) == (State.IDLE, False)
    assert commands[0] == PlayEarcon("done")


def test_a_timer_is_said_with_the_microphone_closed_then_translating_goes_on() -> None:
    machine, commands = _run(_interpreting(), TimerFinished("tea", 60.0))
    assert machine.state is State.SPEAKING and Listen(ListenMode.OFF) in commands
    assert any(isinstance(c, Announce) for c in commands)
    machine, _ = _run(machine, ReplyFinished(machine.last_reply_id, 70.0))
    assert machine.state is State.INTERPRETING
