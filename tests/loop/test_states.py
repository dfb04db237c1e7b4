"""The pure state machine: every path a user can take, without running anything."""

from device.events import (
    Announce,
    ButtonHeld,
    ButtonPressed,
    ConfirmationAsked,
    Event,
    FollowUpInvited,
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
    StopHeard,
    StopSpeaking,
    TimerFinished,
    WakeWordDetected,
)
from device.loop.states import ANSWER_SECONDS, Machine, Pending, State, transition
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
    # heard from now on: "stop" and the wake word are listened for on echo-cancelled audio
    assert machine.state is State.SPEAKING
    assert commands == [ShowLed(LedPattern.SPEAKING), Listen(ListenMode.BARGE)]
    machine, commands = transition(machine, ReplyFinished(1))
    assert machine.state is State.IDLE and Listen(ListenMode.WAKE) in commands
    assert machine.replies == frozenset()


def test_stop_heard_over_a_reply_stops_it_and_rests():
    speaking = run(Machine(), ButtonPressed(), HEARD, ReplyStarted(1))
    machine, commands = transition(speaking, StopHeard(3.0))
    assert machine.state is State.IDLE and machine.replies == frozenset()
    assert commands[0] == StopSpeaking() and Listen(ListenMode.WAKE) in commands
    assert transition(machine, ReplyFinished(1)) == (machine, [])  # its end changes nothing


def test_the_wake_word_over_a_reply_stops_it_and_listens_for_a_new_question():
    speaking = run(Machine(), ButtonPressed(), HEARD, ReplyStarted(1))
    machine, commands = transition(speaking, WakeWordDetected(3.0, "tflite"))
    assert machine.state is State.LISTENING and machine.replies == frozenset()
    assert commands[0] == StopSpeaking()
    assert Listen(ListenMode.UTTERANCE, "wake") in commands and PlayEarcon("wake") in commands


def test_stop_changes_nothing_at_rest():
    for event in (StopHeard(1.0), ReplyStarted(7)):  # a stop word is never armed at rest
        assert transition(Machine(), event) == (Machine(), [])


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


def test_wake_word_while_answering_is_a_new_question():
    # heard only over a reply, on echo-cancelled audio (ListenMode.BARGE): never self-wake
    for state in (State.SPEAKING, State.THINKING):
        machine = Machine(state, frozenset({1}), 1)
        listening, commands = transition(machine, WakeWordDetected(5.0, "x"))
        assert listening.state is State.LISTENING and commands[0] == StopSpeaking()


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


ASK = ConfirmationAsked(1, "notes_delete", "OK, I kept your notes.")
DELETE = Heard("delete all my notes", True, 3.0, "wake")


def asked(at_seconds: float = 10.0) -> Machine:
    """The question "Delete all 12 notes?" has just been played in full at ``at_seconds``."""
    return run(
        Machine(), WakeWordDetected(1.0, "x"), DELETE, ASK, ReplyStarted(1),
        ReplyFinished(1, at_seconds),
    )  # fmt: skip


def answer(text: str, ended_at: float) -> Heard:
    return Heard(text, True, ended_at, "answer")


def test_a_question_is_answered_without_the_wake_word_within_its_time():
    machine, commands = transition(
        run(Machine(), WakeWordDetected(1.0, "x"), DELETE, ASK, ReplyStarted(1)),
        ReplyFinished(1, 10.0),
    )
    assert machine.state is State.CONFIRMING
    assert machine.pending == Pending(
        "notes_delete", "OK, I kept your notes.", 10.0 + ANSWER_SECONDS
    )
    assert Listen(ListenMode.UTTERANCE, trigger="answer") in commands
    assert ShowLed(LedPattern.LISTENING) in commands


def test_only_a_clear_yes_in_time_carries_the_action_out():
    yes = answer("yes delete them", 12.0)
    machine, commands = transition(asked(), yes)
    assert machine.state is State.THINKING and machine.pending is None
    assert commands[-1] == Respond(yes, 2, confirmed="notes_delete")
    for event in (
        answer("no", 12.0),
        answer("", 12.0),  # speech the recogniser could not vouch for
        answer("yes", 10.0 + ANSWER_SECONDS + 0.1),  # too late
        NothingHeard("no speech"),  # the listener's silence timeout
        ButtonPressed(),
    ):
        machine, commands = transition(asked(), event)
        assert machine.state is State.THINKING and machine.pending is None, event
        assert Listen(ListenMode.OFF) in commands, event
        assert commands[-1] == Announce("OK, I kept your notes.", 2), event
        assert run(machine, ReplyStarted(2), ReplyFinished(2, 14.0)).state is State.IDLE


def test_a_question_cut_off_by_the_button_leaves_nothing_waiting_for_a_yes():
    thinking = run(Machine(), ButtonPressed(), DELETE)
    stopped = run(thinking, ButtonPressed())  # barge-in before the router's question came
    assert run(stopped, ASK) == stopped and stopped.pending is None
    speaking = run(thinking, ASK, ReplyStarted(1))
    machine, commands = transition(speaking, ButtonPressed())
    assert machine == Machine(State.IDLE, frozenset(), 1) and StopSpeaking() in commands
    assert run(machine, ReplyFinished(1, 9.0)).state is State.IDLE


def test_a_timer_ringing_while_the_answer_is_awaited_does_not_end_the_wait():
    machine, commands = transition(asked(), TimerFinished("pasta", 600.0))
    assert Announce("Your pasta timer is done.", 2) in commands
    machine = run(machine, ReplyStarted(2), ReplyFinished(2, 12.0))
    assert machine.state is State.CONFIRMING and machine.pending is not None
    assert transition(machine, WakeWordDetected(12.5, "x")) == (machine, [])


# ---- follow-ups ---------------------------------------------------------------------------

FOLLOW_UP = Listen(ListenMode.UTTERANCE, "follow_up", no_speech_seconds=4.0)


def test_a_reply_that_invites_a_follow_up_is_followed_by_listening_without_the_wake_word():
    speaking = run(Machine(), WakeWordDetected(1.0, "tflite"), HEARD, ReplyStarted(1))
    invited = run(speaking, FollowUpInvited(1, 4.0))
    machine, commands = transition(invited, ReplyFinished(1, 9.0))
    assert machine.state is State.FOLLOWING
    assert commands == [FOLLOW_UP, ShowLed(LedPattern.LISTENING)]  # no earcon to be heard
    follow_up = Heard("and tomorrow", False, 11.0, "follow_up")
    machine, commands = transition(machine, follow_up)
    assert machine.state is State.THINKING and Respond(follow_up, 2) in commands
    # the next reply invites nothing: the conversation ends with it
    machine, commands = transition(run(machine, ReplyStarted(2)), ReplyFinished(2, 14.0))
    assert machine.state is State.IDLE and Listen(ListenMode.WAKE) in commands


def test_silence_or_the_button_ends_a_follow_up_window_quietly():
    following = run(Machine(), ButtonPressed(), HEARD, FollowUpInvited(1, 4.0), ReplyFinished(1))
    assert following.state is State.FOLLOWING
    for event in (NothingHeard("no speech"), ButtonPressed()):
        machine, commands = transition(following, event)
        assert machine.state is State.IDLE
        assert commands == [Listen(ListenMode.WAKE), ShowLed(LedPattern.IDLE)]
    machine, commands = transition(following, MuteToggled())
    assert machine.state is State.MUTED and Listen(ListenMode.OFF) in commands


def test_a_follow_up_invited_by_a_reply_cut_off_by_the_button_is_dropped():
    speaking = run(Machine(), ButtonPressed(), HEARD, ReplyStarted(1))
    stopped = run(speaking, ButtonPressed())
    assert transition(stopped, FollowUpInvited(1, 4.0)) == (stopped, [])
    invited = run(speaking, FollowUpInvited(1, 4.0), ButtonPressed())  # invited, then cut off
    assert invited.state is State.IDLE and invited.follow_up_seconds is None


def test_a_question_asking_to_confirm_waits_for_its_yes_not_a_follow_up():
    asked = run(
        Machine(),
        ButtonPressed(),
        HEARD,
        ConfirmationAsked(1, "notes_delete", "OK, I kept your notes."),
        FollowUpInvited(1, 4.0),
    )
    machine, _ = transition(asked, ReplyFinished(1, 5.0))
    assert machine.state is State.CONFIRMING


def test_a_timer_ringing_in_a_follow_up_window_ends_it_and_is_announced():
    following = run(Machine(), ButtonPressed(), HEARD, FollowUpInvited(1, 4.0), ReplyFinished(1))
    machine, commands = transition(following, TimerFinished("tea", 180.0))
    assert machine.state is State.SPEAKING
    assert Listen(ListenMode.OFF) in commands  # the announcement is not heard as a follow-up
    assert Announce("Your tea timer is done.", 2) in commands


def test_the_reset_gesture_stops_what_was_going_on_and_asks_first():
    from device.events import ButtonHeldLong
    from device.skills.local import VISITOR_RESET_QUESTION

    speaking = run(Machine(), ButtonPressed(), HEARD, ReplyStarted(1))
    assert speaking.state is State.SPEAKING
    asking, commands = transition(speaking, ButtonHeldLong())
    assert commands == [
        StopSpeaking(),
        Listen(ListenMode.OFF),
        ShowLed(LedPattern.THINKING),
        Announce(VISITOR_RESET_QUESTION, 2),
    ]
    assert asking.state is State.THINKING and asking.replies == frozenset({2})
    assert asking.pending == Pending("visitor_reset", "OK, I kept everything.")
    # the question played in full: the answer is listened for, as for "delete all my notes"
    confirming = run(asking, ReplyStarted(2), ReplyFinished(2, at_seconds=20.0))
    assert confirming.state is State.CONFIRMING
    yes = Heard("yes", True, 22.0, "answer")
    _, commands = transition(confirming, yes)
    assert Respond(yes, 3, confirmed="visitor_reset") in commands
    # from rest there is nothing to stop; muted, the answer could not be heard: not asked
    _, commands = transition(Machine(), ButtonHeldLong())
    assert StopSpeaking() not in commands and Announce(VISITOR_RESET_QUESTION, 1) in commands
    muted = run(Machine(), MuteToggled())
    assert transition(muted, ButtonHeldLong()) == (muted, [])


def test_a_chinese_device_announces_a_ringing_timer_in_chinese():
    machine, commands = transition(Machine(language="zh"), TimerFinished("10 second", 10.0))
    assert Announce("定时时间到了。", 1) in commands
