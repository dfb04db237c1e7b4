"""Facts (past tense) that drive the state machine, and commands (imperative) it returns.

One small frozen dataclass each. Times are audio seconds since the microphone opened, so a run
over a file is deterministic.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from drivers.leds import LedPattern

# What started a turn: the wake word, a press of the main button, a press held long (the
# question is then about what the camera sees), the device's own question, whose answer is
# listened for without the wake word, or the window for a follow-up after an answer.
Trigger = Literal["wake", "button", "hold", "answer", "follow_up", "interpret"]

# ---- facts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WakeWordDetected:
    at_seconds: float  # audio time when the phrase ended
    engine: str


@dataclass(frozen=True)
class StopHeard:
    """The stop word, heard over the device's own voice (``ListenMode.BARGE``)."""

    at_seconds: float  # audio time when the word ended


@dataclass(frozen=True)
class ButtonPressed:
    name: str = "main"


@dataclass(frozen=True)
class ButtonHeld:
    name: str = "main"


@dataclass(frozen=True)
class ButtonHeldLong:
    """Held past ``[buttons] reset_hold_seconds``: the gesture that asks to forget the visitor."""

    name: str = "main"


@dataclass(frozen=True)
class ButtonDoublePressed:
    """Pressed again within ``[buttons] double_press_seconds``: starts or stops a recording."""

    name: str = "main"


@dataclass(frozen=True)
class Heard:
    text: str
    in_grammar: bool  # False: the recogniser's best guess outside its command grammar
    speech_ended_at_seconds: float  # audio time the endpointer decided speech had ended
    trigger: Trigger  # what started the turn: given to the listener by the Listen command
    # wall-clock measurements for reports (ms, e.g. "asr"); not part of the decision
    timings_ms: Mapping[str, float] = field(default_factory=dict, compare=False)
    engine: str = ""  # the recogniser that heard it
    verbatim: bool = False  # free text a recogniser knew every word of (see Transcript)
    audio: bytes = field(default=b"", compare=False, repr=False)  # the utterance, 16 kHz PCM


@dataclass(frozen=True)
class NothingHeard:
    reason: str  # "no speech" | "empty transcript"


@dataclass(frozen=True)
class ReplyStarted:
    """The first audio of a reply reached the speaker queue."""

    reply_id: int  # as given in the Respond or Announce command


@dataclass(frozen=True)
class ReplyFinished:
    """The reply has been played in full (or there was nothing to say)."""

    reply_id: int
    at_seconds: float = 0.0  # audio time it ended


@dataclass(frozen=True)
class ConfirmationAsked:
    """A reply asks the user to confirm an action that cannot be undone; it is not done yet."""

    reply_id: int  # the reply that asks
    action: str  # the intent to carry out on a yes, e.g. "notes_delete"
    kept: str  # what to say when the answer is anything else: "OK, I kept your notes."


@dataclass(frozen=True)
class FollowUpInvited:
    """A reply invites a follow-up ([wake] follow_up): once it has been played, the next question
    is listened for without the wake word."""

    reply_id: int
    seconds: float  # how long to wait for the follow-up to start


@dataclass(frozen=True)
class InterpretingStarted:
    """A reply started conversation translation ("translate for me between English and
    Spanish"): once it has been played, every utterance is translated, until the button."""

    reply_id: int


@dataclass(frozen=True)
class TimerFinished:
    name: str
    duration_seconds: float


@dataclass(frozen=True)
class RecorderStopped:
    """The recorder stopped by itself (a full card); ``said`` tells the wearer why."""

    said: str


@dataclass(frozen=True)
class MuteToggled:
    """The microphone privacy switch was flipped."""


@dataclass(frozen=True)
class ConnectivityChanged:
    online: bool


@dataclass(frozen=True)
class StageFailed:
    stage: str  # "mic", "speaker", ...
    message: str


@dataclass(frozen=True)
class StageRecovered:
    stage: str


Event = (
    WakeWordDetected
    | StopHeard
    | ButtonPressed
    | ButtonHeld
    | ButtonHeldLong
    | ButtonDoublePressed
    | Heard
    | NothingHeard
    | ReplyStarted
    | ReplyFinished
    | ConfirmationAsked
    | FollowUpInvited
    | InterpretingStarted
    | TimerFinished
    | RecorderStopped
    | MuteToggled
    | ConnectivityChanged
    | StageFailed
    | StageRecovered
)

# ---- commands ---------------------------------------------------------------------------


class ListenMode(enum.Enum):
    WAKE = "wake"  # idle: only the wake word is armed
    UTTERANCE = "utterance"  # recording and recognising one utterance
    # answering: the stop word and the wake word are armed on echo-cancelled audio; without a
    # canceller, as OFF (the device would hear itself)
    BARGE = "barge"
    OFF = "off"  # muted, failed, or answering without a canceller: nothing is armed


@dataclass(frozen=True)
class Listen:
    """Arm the wake word, record an utterance, or stop listening.

    For UTTERANCE, ``trigger`` is put on the Heard fact. After the wake word the user is
    mid-sentence, so the recording starts back where the phrase can have begun. Sent again while
    recording, only the trigger changes: a press held long becomes a question about the camera.
    ``no_speech_seconds``: how long to wait for speech to start, if not ``[vad]``'s.
    """

    mode: ListenMode
    trigger: Trigger = "button"
    no_speech_seconds: float | None = None


@dataclass(frozen=True)
class ShowLed:
    pattern: LedPattern


@dataclass(frozen=True)
class PlayEarcon:
    name: str


@dataclass(frozen=True)
class Respond:
    heard: Heard
    reply_id: int  # numbered by the state machine, which waits for this reply to finish
    confirmed: str = ""  # an action the user has just said yes to: carry it out


@dataclass(frozen=True)
class Announce:
    text: str
    reply_id: int


@dataclass(frozen=True)
class StopSpeaking:
    """Barge-in: cut the reply off and cancel any work still producing it."""


Command = Listen | ShowLed | PlayEarcon | Respond | Announce | StopSpeaking
