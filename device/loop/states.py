"""The device's states and the one pure function that moves between them.

    wake word / button        speech ended             first audio
  IDLE ------------------> LISTENING ----------> THINKING ----------> SPEAKING
   ^  ^                        |  nothing heard       |  nothing to say     |
   |  +------------------------+  or button           +---------+           |
   |                                                             v           |
   +------------------- reply finished, button or "stop" (barge-in) ---------+

  While SPEAKING, the wake word over the reply stops it and goes to LISTENING.

  IDLE <-> OFFLINE (connectivity), IDLE <-> MUTED (mic switch), any -> ERROR -> IDLE.

  A reply that invites a follow-up (FollowUpInvited: it ends in a question, or [wake] follow_up
  is "always"):

  SPEAKING ---> FOLLOWING ---- speech ended ----> THINKING
    reply played   |  (no wake word, LED listening)
                   +-- silence for its seconds, button, a timer --> IDLE (quietly)

  A reply that starts conversation translation (InterpretingStarted: "translate for me between
  English and Spanish") leads, once played, to INTERPRETING: each utterance (no wake word, LED
  translating) is translated and said, then it listens again; the button or two minutes without
  speech end it.

  A reply that asks to confirm an action (ConfirmationAsked: "Delete all 12 notes?"):

  SPEAKING --------------------> CONFIRMING ---- a clear yes, in time ----> THINKING (done)
           question played in full     |
                                       +-- anything else, silence, button --> THINKING ("OK, I
                                                                               kept your notes.")

  The reset gesture (ButtonHeldLong, [buttons] reset_hold_seconds), in any state but MUTED and
  ERROR, stops what was going on and asks the same way whether to forget the visit.

  The recording gesture (ButtonDoublePressed), in the same states, stops what was going on and
  starts or stops a recording (the second press would otherwise cancel what the first began).
  When the recorder stops by itself (RecorderStopped: the card is full) the device says why, as
  it announces a timer.

``transition`` has no side effects: the runtime carries out the commands it returns. Besides
the state, the machine remembers which replies it asked for (``Machine.replies``): a turn ends
when the last of them has been played, so a timer announced during an answer does not end the
turn early, and the end of a reply cut off by the button changes nothing. It also remembers an
action waiting for the user's yes (``Machine.pending``): the answer is listened for once, without
the wake word, and must end within ``ANSWER_SECONDS`` of audio after the question. And whether
the turn's last reply invited a follow-up (``Machine.follow_up_seconds``).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace

from device.events import (
    Announce,
    ButtonDoublePressed,
    ButtonHeld,
    ButtonHeldLong,
    ButtonPressed,
    Command,
    ConfirmationAsked,
    ConnectivityChanged,
    Event,
    FollowUpInvited,
    Heard,
    InterpretingStarted,
    Listen,
    ListenMode,
    MuteToggled,
    NothingHeard,
    PlayEarcon,
    RecorderStopped,
    ReplyFinished,
    ReplyStarted,
    Respond,
    ShowLed,
    StageFailed,
    StageRecovered,
    StopHeard,
    StopSpeaking,
    TimerFinished,
    Trigger,
    WakeWordDetected,
)
from device.skills.intents import is_confirmation, is_stop
from device.skills.local import (
    TIMER_DONE,
    VISITOR_RESET,
    VISITOR_RESET_KEPT,
    VISITOR_RESET_QUESTION,
)
from device.skills.numbers import say_duration
from device.skills.phrasebooks import phrasebook_for
from device.skills.recordings import RECORDING_TOGGLE
from drivers.leds import LedPattern


class State(enum.StrEnum):
    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    ERROR = "error"
    OFFLINE = "offline"
    MUTED = "muted"
    CONFIRMING = "confirming"  # listening, without the wake word, for the answer to a question
    FOLLOWING = "following"  # listening, without the wake word, for a follow-up question
    INTERPRETING = "interpreting"  # listening, without the wake word, for words to translate


RESTING = (State.IDLE, State.OFFLINE)  # waiting for the wake word or a button
ANSWERING = (State.THINKING, State.SPEAKING)  # the turn ends when its replies have been played
GESTURELESS = (State.MUTED, State.ERROR)  # where the reset and recording gestures do nothing

_TO_REST: list[Command] = [Listen(ListenMode.WAKE), ShowLed(LedPattern.IDLE)]
# Conversation translation ends by itself after this long without speech, and after this long
# in all: a forgotten mode must not go on sending what people nearby say to the cloud.
INTERPRET_QUIET_SECONDS = 120.0
INTERPRET_MAX_SECONDS = 15 * 60.0
_TO_INTERPRET: list[Command] = [
    Listen(ListenMode.UTTERANCE, "interpret", no_speech_seconds=INTERPRET_QUIET_SECONDS),
    ShowLed(LedPattern.TRANSLATING),
]

# Audio time from the end of the question to the end of the answer: enough to start (the listener
# gives up on silence sooner, after [vad] no_speech_timeout_seconds) and say "yes, delete them".
ANSWER_SECONDS = 8.0


@dataclass(frozen=True)
class Pending:
    """An action asked about and not done: done only on a clear yes heard before it expires."""

    action: str  # the intent to carry out
    kept: str  # said when it is not done
    expires_at_seconds: float = math.inf  # audio time; set once the question has been played


@dataclass(frozen=True)
class Machine:
    """All the state machine remembers: its state, the replies it is waiting for, and an action
    waiting for the user's yes."""

    state: State = State.IDLE
    replies: frozenset[int] = frozenset()  # asked for, not yet played in full
    last_reply_id: int = 0  # ids count up, so the end of an old reply is never taken for a new
    pending: Pending | None = None
    follow_up_seconds: float | None = None  # a reply invited a follow-up: listen this long
    interpreting: bool = False  # translating a conversation: listen again after each reply
    interpret_until: float = math.inf  # audio time conversation translation ends by itself
    language: str = "en"  # the device's: what a timer's ring is announced in

    def to(self, state: State) -> Machine:
        return replace(self, state=state)

    def stopped(self, state: State) -> Machine:
        """After StopSpeaking: the replies being made or played are dropped, none is waited for,
        and an action asked about is not done."""
        return replace(
            self,
            state=state,
            replies=frozenset(),
            pending=None,
            follow_up_seconds=None,
            interpreting=False,
            interpret_until=math.inf,
        )

    def with_reply(self, state: State) -> tuple[Machine, int]:
        """The machine waiting for one more reply, and that reply's id."""
        reply_id = self.last_reply_id + 1
        waiting = replace(
            self, state=state, replies=self.replies | {reply_id}, last_reply_id=reply_id
        )
        return waiting, reply_id


def transition(machine: Machine, event: Event) -> tuple[Machine, list[Command]]:
    """The next machine and what to do, for ``event`` arriving in ``machine``."""
    state = machine.state
    if isinstance(event, StageFailed):
        return machine.stopped(State.ERROR), [
            StopSpeaking(),
            Listen(ListenMode.OFF),
            ShowLed(LedPattern.ERROR),
            PlayEarcon("error"),
        ]
    if isinstance(event, TimerFinished | RecorderStopped):
        return _announced(machine, event)
    if isinstance(event, ReplyStarted | ReplyFinished):
        return _reply_progress(machine, event)
    if isinstance(event, ConfirmationAsked):
        return _confirmation_asked(machine, event)
    if isinstance(event, FollowUpInvited | InterpretingStarted):
        if event.reply_id not in machine.replies or state not in ANSWERING:
            return machine, []  # cut off by the button: the turn is over
        if isinstance(event, InterpretingStarted):
            return replace(machine, interpreting=True), []
        return replace(machine, follow_up_seconds=event.seconds), []

    if isinstance(event, ButtonHeldLong | ButtonDoublePressed) and state not in GESTURELESS:
        gesture = _ask_to_forget_the_visit if isinstance(event, ButtonHeldLong) else _recording
        return gesture(machine)

    waiting = _WAITING.get(state)  # at rest, or listening without the wake word
    if waiting is not None:
        return waiting(machine, event)

    if state is State.LISTENING:
        if isinstance(event, Heard):
            return _respond(machine, event)
        if isinstance(event, NothingHeard):
            return machine.to(State.IDLE), [PlayEarcon("done"), *_TO_REST]
        if isinstance(event, ButtonHeld):  # the press that started the turn is held down
            return machine, [Listen(ListenMode.UTTERANCE, trigger="hold")]
        if isinstance(event, ButtonPressed):  # a second press cancels
            return machine.to(State.IDLE), list(_TO_REST)

    elif state in ANSWERING:
        # barge-in: the button or "stop" (heard over the reply, ListenMode.BARGE) ends the turn;
        # the wake word over it starts a new question at once, as it would have after it
        if isinstance(event, ButtonPressed | StopHeard):
            return machine.stopped(State.IDLE), [StopSpeaking(), *_TO_REST]
        if isinstance(event, WakeWordDetected):
            listening, commands = _start_listening(machine.stopped(State.IDLE), "wake")
            return listening, [StopSpeaking(), *commands]

    elif state is State.MUTED:
        if isinstance(event, MuteToggled):
            return machine.to(State.IDLE), list(_TO_REST)

    elif state is State.ERROR and isinstance(event, StageRecovered | ButtonPressed):
        return machine.to(State.IDLE), list(_TO_REST)

    return machine, []  # everything else is ignored in this state, e.g. a wake word while muted


def _resting(machine: Machine, event: Event) -> tuple[Machine, list[Command]]:
    if isinstance(event, WakeWordDetected):
        return _start_listening(machine, "wake")
    if isinstance(event, ButtonPressed):
        return _start_listening(machine, "button")
    if isinstance(event, ButtonHeld):
        return _start_listening(machine, "hold")
    if isinstance(event, MuteToggled):
        return machine.to(State.MUTED), [Listen(ListenMode.OFF), ShowLed(LedPattern.MUTED)]
    if isinstance(event, ConnectivityChanged):
        if event.online:
            return machine.to(State.IDLE), [ShowLed(LedPattern.IDLE)]
        return machine.to(State.OFFLINE), [ShowLed(LedPattern.OFFLINE)]
    return machine, []


def _start_listening(machine: Machine, trigger: Trigger) -> tuple[Machine, list[Command]]:
    return machine.to(State.LISTENING), [
        Listen(ListenMode.UTTERANCE, trigger),
        ShowLed(LedPattern.LISTENING),
        PlayEarcon("wake"),
    ]


def _ask_to_forget_the_visit(machine: Machine) -> tuple[Machine, list[Command]]:
    """The reset gesture: whatever was going on stops, and the device asks; the answer is
    listened for as any confirmation's, and only a clear yes forgets."""
    stop: list[Command] = [StopSpeaking()] if machine.state in ANSWERING else []
    asking, reply_id = machine.stopped(State.THINKING).with_reply(State.THINKING)
    asking = replace(asking, pending=Pending(VISITOR_RESET, VISITOR_RESET_KEPT))
    return asking, [
        *stop,
        Listen(ListenMode.OFF),
        ShowLed(LedPattern.THINKING),
        Announce(VISITOR_RESET_QUESTION, reply_id),
    ]


def _recording(machine: Machine) -> tuple[Machine, list[Command]]:
    """The recording gesture: whatever was going on stops; the skill starts or stops the
    recording and says which (a gesture, so there is nothing to hear: the text is empty)."""
    stop: list[Command] = [StopSpeaking()] if machine.state in ANSWERING else []
    thinking, reply_id = machine.stopped(State.THINKING).with_reply(State.THINKING)
    pressed = Heard("", in_grammar=False, speech_ended_at_seconds=0.0, trigger="button")
    return thinking, [
        *stop,
        Listen(ListenMode.OFF),
        ShowLed(LedPattern.THINKING),
        Respond(pressed, reply_id, confirmed=RECORDING_TOGGLE),
    ]


def _reply_progress(
    machine: Machine, event: ReplyStarted | ReplyFinished
) -> tuple[Machine, list[Command]]:
    """First audio of a reply: speaking. The last reply waited for has been played: rest."""
    if event.reply_id not in machine.replies:
        return machine, []  # cut off by the button, or not one this machine asked for
    if isinstance(event, ReplyStarted):
        # the reply is heard from now on: listen over it for "stop" and the wake word
        barge = Listen(ListenMode.BARGE)
        if machine.state is State.THINKING:
            return machine.to(State.SPEAKING), [ShowLed(LedPattern.SPEAKING), barge]
        return machine, [barge] if machine.state is State.SPEAKING else []
    left = replace(machine, replies=machine.replies - {event.reply_id})
    if left.replies or machine.state not in ANSWERING:
        return left, []  # more to say; or an announcement made while resting or muted ended
    if left.interpreting:
        if left.interpret_until == math.inf:  # the first time: its clock starts
            left = replace(left, interpret_until=event.at_seconds + INTERPRET_MAX_SECONDS)
        if event.at_seconds >= left.interpret_until:
            return left.stopped(State.IDLE), [PlayEarcon("done"), *_TO_REST]
        return left.to(State.INTERPRETING), _TO_INTERPRET
    if left.follow_up_seconds is not None and left.pending is None:
        seconds = left.follow_up_seconds
        return replace(left, state=State.FOLLOWING, follow_up_seconds=None), [
            Listen(ListenMode.UTTERANCE, "follow_up", no_speech_seconds=seconds),
            ShowLed(LedPattern.LISTENING),
        ]
    if left.pending is not None:  # the question has been heard: listen for its answer
        pending = replace(left.pending, expires_at_seconds=event.at_seconds + ANSWER_SECONDS)
        return replace(left, state=State.CONFIRMING, pending=pending), [
            Listen(ListenMode.UTTERANCE, "answer"),
            ShowLed(LedPattern.LISTENING),
            PlayEarcon("wake"),
        ]
    return left.to(State.IDLE), list(_TO_REST)


def _confirmation_asked(
    machine: Machine, event: ConfirmationAsked
) -> tuple[Machine, list[Command]]:
    """Remember the action until its question has been played (and then listen for a yes)."""
    if event.reply_id not in machine.replies or machine.state not in ANSWERING:
        return machine, []  # the question was cut off by the button: nothing waits for a yes
    return replace(machine, pending=Pending(event.action, event.kept)), []


def _answered(machine: Machine, event: Event) -> tuple[Machine, list[Command]]:
    """In CONFIRMING: a clear yes in time carries the action out; anything else that was said,
    silence (the listener's no-speech timeout) or the button keeps things as they are."""
    pending = machine.pending
    if not isinstance(event, Heard | NothingHeard | ButtonPressed) or pending is None:
        return machine, []  # e.g. a timer rang: it is announced, the answer still awaited
    thinking, reply_id = replace(machine, pending=None).with_reply(State.THINKING)
    reply: Command = Announce(pending.kept, reply_id)
    if (
        isinstance(event, Heard)
        and event.speech_ended_at_seconds <= pending.expires_at_seconds
        and is_confirmation(event.text)
    ):
        reply = Respond(event, reply_id, confirmed=pending.action)
    return thinking, [Listen(ListenMode.OFF), ShowLed(LedPattern.THINKING), reply]


def _respond(machine: Machine, heard: Heard) -> tuple[Machine, list[Command]]:
    thinking, reply_id = machine.with_reply(State.THINKING)
    return thinking, [
        Listen(ListenMode.OFF),
        ShowLed(LedPattern.THINKING),
        Respond(heard, reply_id),
    ]


def _following(machine: Machine, event: Event) -> tuple[Machine, list[Command]]:
    """In FOLLOWING: speech is a new question, as after the wake word; silence (the listener's
    follow-up timeout) or the button end the conversation without a sound."""
    if isinstance(event, Heard):
        return _respond(machine, event)
    if isinstance(event, NothingHeard | ButtonPressed):
        return machine.to(State.IDLE), list(_TO_REST)
    if isinstance(event, MuteToggled):
        return machine.to(State.MUTED), [Listen(ListenMode.OFF), ShowLed(LedPattern.MUTED)]
    return machine, []


def _announced(
    machine: Machine, event: TimerFinished | RecorderStopped
) -> tuple[Machine, list[Command]]:
    """A timer that rang, or the recorder that stopped by itself (with the error earcon)."""
    if isinstance(event, RecorderStopped):
        return _announce(machine, event.said, "error")
    name = event.name
    if not name or name[0].isdigit():
        name = say_duration(event.duration_seconds, attributive=True)
    said = phrasebook_for(machine.language)(TIMER_DONE, name=name)
    return _announce(machine, said, "timer")


def _announce(machine: Machine, text: str, earcon: str) -> tuple[Machine, list[Command]]:
    """The earcon and ``text``: now when resting (a follow-up window just ends), else after the
    current reply (or while muted)."""
    if machine.state in (*RESTING, State.FOLLOWING, State.INTERPRETING):
        # the microphone is closed while it is said: translating, it would hear itself
        speaking, reply_id = machine.with_reply(State.SPEAKING)
        return speaking, [
            Listen(ListenMode.OFF),
            ShowLed(LedPattern.SPEAKING),
            PlayEarcon(earcon),
            Announce(text, reply_id),
        ]
    same, reply_id = machine.with_reply(machine.state)
    return same, [PlayEarcon(earcon), Announce(text, reply_id)]


def _interpreting(machine: Machine, event: Event) -> tuple[Machine, list[Command]]:
    """In INTERPRETING: each utterance is translated (as a question is answered). The button,
    "stop" (or "stop translating"), two minutes without speech, fifteen in all, or the mute
    switch end it; speech without words (a cough) is listened past."""
    if isinstance(event, Heard) and not is_stop(event.text):
        return _respond(machine, event)
    if isinstance(event, NothingHeard) and event.reason != "no speech":
        return machine, list(_TO_INTERPRET)
    if isinstance(event, Heard | NothingHeard | ButtonPressed):
        return machine.stopped(State.IDLE), [PlayEarcon("done"), *_TO_REST]
    if isinstance(event, MuteToggled):
        return machine.stopped(State.MUTED), [Listen(ListenMode.OFF), ShowLed(LedPattern.MUTED)]
    return machine, []


_WAITING = {
    State.IDLE: _resting,
    State.OFFLINE: _resting,
    State.CONFIRMING: _answered,
    State.FOLLOWING: _following,
    State.INTERPRETING: _interpreting,
}
