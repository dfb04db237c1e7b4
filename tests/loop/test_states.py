"""The pure state machine: every path a user can take, without running anything."""

from device.events import (
    Announce,
    ButtonPressed,
    Heard,
    Listen,
    ListenMode,
    MuteToggled,
    NothingHeard,
    PlayEarcon,
    ReplyFinished,
    ReplyStarted,
    Respond,
    ShowLed,
    StageFailed,
    StopSpeaking,
    TimerFinished,
    WakeWordDetected,
)
from device.loop.states import State, transition
from drivers.leds import LedPattern

HEARD = Heard("what time is it", True, 3.0)


def test_wake_word_starts_listening_with_earcon_and_led():
    state, commands = transition(State.IDLE, WakeWordDetected(1.0, "pocketsphinx"))
    assert state is State.LISTENING
    assert Listen(ListenMode.UTTERANCE, after_wake=True) in commands
    assert ShowLed(LedPattern.LISTENING) in commands and PlayEarcon("wake") in commands


def test_full_turn_returns_to_idle_with_wake_word_rearmed():
    state, _ = transition(State.IDLE, ButtonPressed())
    state, commands = transition(state, HEARD)
    assert state is State.THINKING and Respond(HEARD) in commands
    assert Listen(ListenMode.OFF) in commands  # no self-wake while answering
    state, commands = transition(state, ReplyStarted())
    assert state is State.SPEAKING and commands == [ShowLed(LedPattern.SPEAKING)]
    state, commands = transition(state, ReplyFinished())
    assert state is State.IDLE and Listen(ListenMode.WAKE) in commands


def test_wake_word_is_ignored_while_speaking():
    assert transition(State.SPEAKING, WakeWordDetected(5.0, "x")) == (State.SPEAKING, [])
    assert transition(State.THINKING, WakeWordDetected(5.0, "x")) == (State.THINKING, [])


def test_button_barges_in_on_speech_and_thinking():
    for state in (State.SPEAKING, State.THINKING):
        new, commands = transition(state, ButtonPressed())
        assert new is State.IDLE and StopSpeaking() in commands


def test_nothing_heard_goes_back_to_idle():
    state, commands = transition(State.LISTENING, NothingHeard("no speech"))
    assert state is State.IDLE and PlayEarcon("done") in commands


def test_timer_announced_when_idle_and_rings_while_busy():
    state, commands = transition(State.IDLE, TimerFinished("10 second", 10.0))
    assert state is State.SPEAKING
    assert Announce("Your 10 second timer is done.") in commands
    state, commands = transition(State.LISTENING, TimerFinished("pasta", 600.0))
    assert state is State.LISTENING and Announce("Your pasta timer is done.") in commands


def test_mute_switch_disarms_and_rearms():
    state, commands = transition(State.IDLE, MuteToggled())
    assert state is State.MUTED and Listen(ListenMode.OFF) in commands
    assert transition(State.MUTED, WakeWordDetected(1.0, "x")) == (State.MUTED, [])
    state, commands = transition(state, MuteToggled())
    assert state is State.IDLE and Listen(ListenMode.WAKE) in commands


def test_failure_from_any_state_goes_to_error_and_button_recovers():
    for state in State:
        new, commands = transition(state, StageFailed("mic", "unplugged"))
        assert new is State.ERROR and ShowLed(LedPattern.ERROR) in commands
    assert transition(State.ERROR, ButtonPressed())[0] is State.IDLE
