"""The device's states and the one pure function that moves between them.

    wake word / button        speech ended             first audio
  IDLE ------------------> LISTENING ----------> THINKING ----------> SPEAKING
   ^  ^                        |  nothing heard       |  nothing to say     |
   |  +------------------------+  or button           +---------+           |
   |                                                             v           |
   +------------------------ reply finished, or button (barge-in) ----------+

  IDLE <-> OFFLINE (connectivity), IDLE <-> MUTED (mic switch), any -> ERROR -> IDLE.

``transition`` has no side effects: the runtime carries out the commands it returns.
"""

from __future__ import annotations

import enum

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

_TO_REST: list[Command] = [Listen(ListenMode.WAKE), ShowLed(LedPattern.IDLE)]


def transition(state: State, event: Event) -> tuple[State, list[Command]]:
    """The next state and what to do, for ``event`` arriving in ``state``."""
    if isinstance(event, StageFailed):
        return State.ERROR, [
            StopSpeaking(),
            Listen(ListenMode.OFF),
            ShowLed(LedPattern.ERROR),
            PlayEarcon("error"),
        ]
    if isinstance(event, TimerFinished):
        return _timer_finished(state, event)

    if state in RESTING:
        if isinstance(event, WakeWordDetected):
            return _start_listening(after_wake=True)
        if isinstance(event, ButtonPressed | ButtonHeld):
            return _start_listening(after_wake=False)
        if isinstance(event, MuteToggled):
            return State.MUTED, [Listen(ListenMode.OFF), ShowLed(LedPattern.MUTED)]
        if isinstance(event, ConnectivityChanged):
            if event.online:
                return State.IDLE, [ShowLed(LedPattern.IDLE)]
            return State.OFFLINE, [ShowLed(LedPattern.OFFLINE)]
        if isinstance(event, ReplyFinished):  # an announcement made while resting has ended
            return state, []

    elif state is State.LISTENING:
        if isinstance(event, Heard):
            return State.THINKING, [
                Listen(ListenMode.OFF),
                ShowLed(LedPattern.THINKING),
                Respond(event),
            ]
        if isinstance(event, NothingHeard):
            return State.IDLE, [PlayEarcon("done"), *_TO_REST]
        if isinstance(event, ButtonPressed):  # a second press cancels
            return State.IDLE, list(_TO_REST)

    elif state is State.THINKING:
        if isinstance(event, ReplyStarted):
            return State.SPEAKING, [ShowLed(LedPattern.SPEAKING)]
        if isinstance(event, ReplyFinished):
            return State.IDLE, list(_TO_REST)
        if isinstance(event, ButtonPressed):
            return State.IDLE, [StopSpeaking(), *_TO_REST]

    elif state is State.SPEAKING:
        if isinstance(event, ReplyFinished):
            return State.IDLE, list(_TO_REST)
        if isinstance(event, ButtonPressed):  # barge-in
            return State.IDLE, [StopSpeaking(), *_TO_REST]

    elif state is State.MUTED:
        if isinstance(event, MuteToggled):
            return State.IDLE, list(_TO_REST)

    elif state is State.ERROR and isinstance(event, StageRecovered | ButtonPressed):
        return State.IDLE, list(_TO_REST)

    return state, []  # everything else is ignored in this state, e.g. a wake word while speaking


def _start_listening(after_wake: bool) -> tuple[State, list[Command]]:
    return State.LISTENING, [
        Listen(ListenMode.UTTERANCE, after_wake=after_wake),
        ShowLed(LedPattern.LISTENING),
        PlayEarcon("wake"),
    ]


def _timer_finished(state: State, event: TimerFinished) -> tuple[State, list[Command]]:
    name = event.name
    if not name or name[0].isdigit():
        name = say_duration(event.duration_seconds, attributive=True)
    commands: list[Command] = [PlayEarcon("timer"), Announce(f"Your {name} timer is done.")]
    if state in RESTING:
        return State.SPEAKING, [Listen(ListenMode.OFF), ShowLed(LedPattern.SPEAKING), *commands]
    return state, commands  # busy or muted: ring and say it after the current reply
