"""The pure state machine: every path a user can take, without running anything."""

from device.events import (
    Announce,
    ButtonHeld,
    ButtonPressed,
    Event,
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
from device.loop.states import Machine, State, transition
from drivers.leds import LedPattern

HEARD = Heard("what time is it", True, 3.0, "button")


def run(machine: Machine, *events: Event) -> Machine:
    """The machine after ``events``, their commands dropped."""
    for event in events:
        machine, _ = transition(machine, event)
    return machine


def test_wake_word_starts_listening_with_earcon_and_led():
    machine, commands = transition(Machine(), WakeWordDetected(1.0, "pocketsphinx"))
    assert machine.state is State.LISTENING
    assert Listen(ListenMode.UTTERANCE, trigger="wake") in commands
    assert ShowLed(LedPattern.LISTENING) in commands and PlayEarcon("wake") in commands


def test_the_trigger_is_given_to_the_listener_and_a_held_press_turns_it_into_hold():
    _, commands = transition(Machine(), ButtonPressed())
    assert Listen(ListenMode.UTTERANCE, trigger="button") in commands
    listening = run(Machine(), ButtonPressed())
    machine, commands = transition(listening, ButtonHeld())
    assert machine == listening  # still recording the same utterance
    assert commands == [Listen(ListenMode.UTTERANCE, trigger="hold")]
    _, commands = transition(Machine(), ButtonHeld())  # a hold seen before its press
    assert Listen(ListenMode.UTTERANCE, trigger="hold") in commands


def test_full_turn_returns_to_idle_with_wake_word_rearmed():
    machine, commands = transition(run(Machine(), ButtonPressed()), HEARD)
    assert machine.state is State.THINKING and Respond(HEARD, 1) in commands
    assert Listen(ListenMode.OFF) in commands  # no self-wake while answering
    machine, commands = transition(machine, ReplyStarted(1))
    assert machine.state is State.SPEAKING and commands == [ShowLed(LedPattern.SPEAKING)]
    machine, commands = transition(machine, ReplyFinished(1))
    assert machine.state is State.IDLE and Listen(ListenMode.WAKE) in commands
    assert machine.replies == frozenset()


def test_a_reply_with_nothing_to_say_ends_the_turn():
    thinking = run(Machine(), ButtonPressed(), HEARD)
    machine, commands = transition(thinking, ReplyFinished(1))
    assert machine.state is State.IDLE and Listen(ListenMode.WAKE) in commands


def test_each_reply_gets_a_new_id():
    machine = run(Machine(), ButtonPressed(), HEARD, ReplyFinished(1), ButtonPressed())
    _, commands = transition(machine, HEARD)
    assert Respond(HEARD, 2) in commands


def test_the_end_of_a_reply_cut_off_by_the_button_changes_nothing():
    speaking = run(Machine(), ButtonPressed(), HEARD, ReplyStarted(1))
    machine, commands = transition(speaking, ButtonPressed())
    assert machine.state is State.IDLE and StopSpeaking() in commands
    thinking = run(machine, ButtonPressed(), HEARD)  # the next turn waits for reply 2
    assert transition(thinking, ReplyStarted(1)) == (thinking, [])
    assert transition(thinking, ReplyFinished(1)) == (thinking, [])


def test_a_timer_announced_while_answering_is_waited_for_too():
    thinking = run(Machine(), ButtonPressed(), HEARD)
    machine, commands = transition(thinking, TimerFinished("pasta", 600.0))
    assert machine.state is State.THINKING
    assert commands == [PlayEarcon("timer"), Announce("Your pasta timer is done.", 2)]
    machine = run(machine, ReplyStarted(1), ReplyFinished(1))
    assert machine.state is State.SPEAKING  # the announcement is still to be heard
    machine, commands = transition(machine, ReplyFinished(2))
    assert machine.state is State.IDLE and Listen(ListenMode.WAKE) in commands


def test_wake_word_is_ignored_while_answering():
    for state in (State.SPEAKING, State.THINKING):
        machine = Machine(state, frozenset({1}), 1)
        assert transition(machine, WakeWordDetected(5.0, "x")) == (machine, [])


def test_button_barges_in_on_speech_and_thinking():
    for state in (State.SPEAKING, State.THINKING):
        machine, commands = transition(Machine(state, frozenset({1}), 1), ButtonPressed())
        assert machine.state is State.IDLE and StopSpeaking() in commands
        assert machine.replies == frozenset()


def test_nothing_heard_goes_back_to_idle():
    machine, commands = transition(Machine(State.LISTENING), NothingHeard("no speech"))
    assert machine.state is State.IDLE and PlayEarcon("done") in commands


def test_timer_announced_when_idle_and_rings_while_busy():
    machine, commands = transition(Machine(), TimerFinished("10 second", 10.0))
    assert machine.state is State.SPEAKING
    assert Announce("Your 10 second timer is done.", 1) in commands
    assert run(machine, ReplyFinished(1)).state is State.IDLE
    machine, commands = transition(Machine(State.LISTENING), TimerFinished("pasta", 600.0))
    assert machine.state is State.LISTENING and Announce("Your pasta timer is done.", 1) in commands
    assert run(machine, ReplyFinished(1)) == Machine(State.LISTENING, frozenset(), 1)


def test_mute_switch_disarms_and_rearms():
    machine, commands = transition(Machine(), MuteToggled())
    assert machine.state is State.MUTED and Listen(ListenMode.OFF) in commands
    assert transition(machine, WakeWordDetected(1.0, "x")) == (machine, [])
    announced = run(machine, TimerFinished("tea", 180.0), ReplyFinished(1))
    assert announced.state is State.MUTED  # a timer still rings, the microphone stays off
    machine, commands = transition(announced, MuteToggled())
    assert machine.state is State.IDLE and Listen(ListenMode.WAKE) in commands


def test_failure_from_any_state_goes_to_error_and_button_recovers():
    for state in State:
        machine, commands = transition(Machine(state, frozenset({1}), 1), StageFailed("mic", "x"))
        assert machine.state is State.ERROR and ShowLed(LedPattern.ERROR) in commands
        assert machine.replies == frozenset()
    assert transition(Machine(State.ERROR), ButtonPressed())[0].state is State.IDLE
