"""The device's states and the one pure function that moves between them.

    wake word / button        speech ended             first audio
  IDLE ------------------> LISTENING ----------> THINKING ----------> SPEAKING
   ^  ^                        |  nothing heard       |  nothing to say     |
   |  +------------------------+  or button           +---------+           |
   |                                                             v           |
   +------------------------ reply finished, or button (barge-in) ----------+

  IDLE <-> OFFLINE (connectivity), IDLE <-> MUTED (mic switch), any -> ERROR -> IDLE.

``transition`` has no side effects: the runtime carries out the commands it returns. Besides
the state, the machine remembers which replies it asked for (``Machine.replies``): a turn ends
when the last of them has been played, so a timer announced during an answer does not end the
turn early, and the end of a reply cut off by the button changes nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from device.events import (
    Announce,
    ButtonHeld,
    ButtonPressed,
    Command,
    ConnectivityChanged,
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
    StageRecovered,
    StopSpeaking,
    TimerFinished,
    Trigger,
    WakeWordDetected,
)
from device.skills.numbers import say_duration
from drivers.leds import LedPattern


class State(enum.StrEnum):
    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    ERROR = "error"
    OFFLINE = "offline"
    MUTED = "muted"


RESTING = (State.IDLE, State.OFFLINE)  # waiting for the wake word or a button
ANSWERING = (State.THINKING, State.SPEAKING)  # the turn ends when its replies have been played

_TO_REST: list[Command] = [Listen(ListenMode.WAKE), ShowLed(LedPattern.IDLE)]


@dataclass(frozen=True)
class Machine:
    """All the state machine remembers: its state, and the replies it is waiting for."""

    state: State = State.IDLE
    replies: frozenset[int] = frozenset()  # asked for, not yet played in full
    last_reply_id: int = 0  # ids count up, so the end of an old reply is never taken for a new

    def to(self, state: State) -> Machine:
        return replace(self, state=state)

    def stopped(self, state: State) -> Machine:
        """After StopSpeaking: the replies being made or played are dropped, none is waited for."""
        return replace(self, state=state, replies=frozenset())

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
    if isinstance(event, TimerFinished):
        return _timer_finished(machine, event)
    if isinstance(event, ReplyStarted | ReplyFinished):
        return _reply_progress(machine, event)

    if state in RESTING:
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

    elif state is State.LISTENING:
        if isinstance(event, Heard):
            thinking, reply_id = machine.with_reply(State.THINKING)
            return thinking, [
                Listen(ListenMode.OFF),
                ShowLed(LedPattern.THINKING),
                Respond(event, reply_id),
            ]
        if isinstance(event, NothingHeard):
            return machine.to(State.IDLE), [PlayEarcon("done"), *_TO_REST]
        if isinstance(event, ButtonHeld):  # the press that started the turn is held down
            return machine, [Listen(ListenMode.UTTERANCE, trigger="hold")]
        if isinstance(event, ButtonPressed):  # a second press cancels
            return machine.to(State.IDLE), list(_TO_REST)

    elif state in ANSWERING:
        if isinstance(event, ButtonPressed):  # barge-in
            return machine.stopped(State.IDLE), [StopSpeaking(), *_TO_REST]

    elif state is State.MUTED:
        if isinstance(event, MuteToggled):
            return machine.to(State.IDLE), list(_TO_REST)

    elif state is State.ERROR and isinstance(event, StageRecovered | ButtonPressed):
        return machine.to(State.IDLE), list(_TO_REST)

    return machine, []  # everything else is ignored in this state, e.g. a wake word while speaking


def _start_listening(machine: Machine, trigger: Trigger) -> tuple[Machine, list[Command]]:
    return machine.to(State.LISTENING), [
        Listen(ListenMode.UTTERANCE, trigger),
        ShowLed(LedPattern.LISTENING),
        PlayEarcon("wake"),
    ]


def _reply_progress(
    machine: Machine, event: ReplyStarted | ReplyFinished
) -> tuple[Machine, list[Command]]:
    """First audio of a reply: speaking. The last reply waited for has been played: rest."""
    if event.reply_id not in machine.replies:
        return machine, []  # cut off by the button, or not one this machine asked for
    if isinstance(event, ReplyStarted):
        if machine.state is State.THINKING:
            return machine.to(State.SPEAKING), [ShowLed(LedPattern.SPEAKING)]
        return machine, []
    left = replace(machine, replies=machine.replies - {event.reply_id})
    if left.replies or machine.state not in ANSWERING:
        return left, []  # more to say; or an announcement made while resting or muted ended
    return left.to(State.IDLE), list(_TO_REST)


def _timer_finished(machine: Machine, event: TimerFinished) -> tuple[Machine, list[Command]]:
    name = event.name
    if not name or name[0].isdigit():
        name = say_duration(event.duration_seconds, attributive=True)
    text = f"Your {name} timer is done."
    if machine.state in RESTING:
        speaking, reply_id = machine.with_reply(State.SPEAKING)
        return speaking, [
            Listen(ListenMode.OFF),
            ShowLed(LedPattern.SPEAKING),
            PlayEarcon("timer"),
            Announce(text, reply_id),
        ]
    # busy or muted: ring and say it after the current reply
    same, reply_id = machine.with_reply(machine.state)
    return same, [PlayEarcon("timer"), Announce(text, reply_id)]
