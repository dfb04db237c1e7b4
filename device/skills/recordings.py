"""The recorder's voice: "start recording", "stop recording", "are you recording", the double
press, and finding what was said in a recording for a question about it.

The recorder itself (``device.storage.recorder``) writes the audio; transcription and summary
happen in the background (``device.cloud.transcripts``). A question about a recording ("what
did we decide about the budget in this morning's meeting") is a question for the brain: it gets
the passages :func:`recall` finds, quoted as data (``device.cloud.brain``); offline, the device
reads the best passage itself (``device.loop.brain``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from device.errors import StorageError
from device.skills.numbers import say_duration
from device.skills.phrasebook import ENGLISH, Phrasebook
from device.storage.recorder import DISK_FULL, FAILED, Recorder
from device.storage.recordings import Line, Recording, RecordingStore
from drivers.errors import DriverError
from drivers.leds import UploadIndicator

log = logging.getLogger(__name__)

RECORDING_TOGGLE = "recording_toggle"  # the double press: start or stop
RECORDING_INTENTS = ("recording_start", "recording_stop", "recording_status", RECORDING_TOGGLE)

NO_RECORDER = "Recording is turned off on this device."
STARTED = "Recording. Say stop recording, or press the button twice, to stop."
# The wearer hears, as it starts, that the audio will leave the device to be transcribed.
STARTED_FOR_THE_CLOUD = (
    "Recording, for the cloud to transcribe. Say stop recording, or press the button twice, "
    "to stop."
)
NOT_RECORDING = "I'm not recording."
CANNOT_START = "I can't record: {reason}."
NO_LIGHT = "nothing on this device can show that it is recording"
LIGHT_FAILED = "the light that shows it isn't working. Check the LED"
# Said when the recorder stopped by itself, by its reason (``Recorder.feed``).
STOPPED_BY = {
    DISK_FULL: "My storage is full, so I stopped recording. What I recorded is saved.",
    FAILED: "I couldn't write to the SD card, so I stopped recording. What I recorded is saved.",
}
# What happens next to a recording, by ``[recorder] transcribe`` as the app resolved it.
AFTERWARDS = {
    "cloud": " I'll transcribe it and write a summary when I'm online.",
    "local": " I'll transcribe it on the device.",
    "off": "",
}
# ... when the transcript, made on the device, then goes to the cloud to be summarised
LOCAL_THEN_SUMMARY = " I'll transcribe it on the device, then the cloud will summarise it."
NOTHING_RECORDED = "I have no recordings to look in."
PASSAGES_PER_QUESTION = 8


def _rounded(seconds: float) -> float:
    """A recording's length as said: to the second under two minutes, else to the minute."""
    return seconds if seconds < 120 else round(seconds / 60) * 60


def _length(say: Phrasebook, recorder: Recorder) -> str:
    return say.duration(_rounded(recorder.seconds))


class RecordingSkill:
    """Starts and stops the recorder and says what it did."""

    def __init__(
        self,
        recorder: Recorder | None,
        transcribe: str = "off",
        *,
        tally: UploadIndicator | None = None,
        shown: bool = True,
        summarised: bool = False,
    ) -> None:
        """``tally``: a light held lit for each whole recording; ``shown``: something (it, or
        the status light's RECORDING pattern) shows a recording at all: else none starts."""
        self.recorder = recorder
        self.tally = tally
        self.shown = shown
        self.afterwards = AFTERWARDS.get(transcribe, "")
        if transcribe == "local" and summarised:
            self.afterwards = LOCAL_THEN_SUMMARY
        self.started = STARTED_FOR_THE_CLOUD if transcribe == "cloud" else STARTED

    def handle(self, name: str, say: Phrasebook = ENGLISH) -> str:
        """Start, stop or tell; the reply through ``say``, in the wearer's language."""
        recorder = self.recorder
        if recorder is None:
            return say(NO_RECORDER)
        if name == RECORDING_TOGGLE:
            name = "recording_stop" if recorder.active else "recording_start"
        if name == "recording_status":
            if not recorder.active:
                return say("No, " + NOT_RECORDING)
            return say("Yes, I've been recording for {length}.", length=_length(say, recorder))
        if name == "recording_stop":
            if not recorder.active:
                return say(NOT_RECORDING)
            seconds = recorder.stop()
            stopped = say("Stopped. I recorded {length}.", length=say.duration(_rounded(seconds)))
            return stopped + say(self.afterwards)
        if recorder.active:
            return say("I'm already recording: {length} so far.", length=_length(say, recorder))
        return say(self._start(recorder))

    def _start(self, recorder: Recorder) -> str:
        """Light first: no recording is ever made that the people nearby cannot see."""
        if not self.shown:
            return CANNOT_START.format(reason=NO_LIGHT)
        try:
            if self.tally is not None:
                self.tally.on()
        except DriverError as exc:
            log.error("not recording: %s", exc)
            return CANNOT_START.format(reason=LIGHT_FAILED)
        try:
            recorder.start()
        except StorageError as exc:
            log.warning("could not start recording: %s", exc)
            self.changed(False)
            return CANNOT_START.format(reason=_short_reason(exc))
        return self.started

    def changed(self, recording: bool) -> None:
        """The recorder started or stopped (by the wearer, a full card, shutdown): the tally
        is let go when it stops."""
        if not recording and self.tally is not None:
            try:
                self.tally.off()
            except DriverError as exc:
                log.warning("%s: %s", self.tally.description, exc)

    def stop_for_reset(self) -> None:
        """Before the files are wiped between visitors: the recording under way ends and its
        last segment is written, so nothing writes into a folder being emptied."""
        if self.recorder is None:
            return
        if self.recorder.active:
            self.recorder.stop()
        self.recorder.drain()  # also a segment still being saved from a recording just stopped


def _short_reason(exc: StorageError) -> str:
    text = str(exc)
    if "MB free" in text:
        return "my storage is nearly full"
    return "I couldn't write to the SD card"


# ---- questions about recordings ------------------------------------------------------------

# A recording named as one: "in this morning's meeting", "the last recording", "my recordings".
# Not "call" or "conversation" alone: "how do I call a taxi" is no question about a recording.
_RECORDED = r"(?:meeting|recording|lecture|interview|call|conversation|talk)s?"
_ABOUT = re.compile(
    r"\b(?:in|from|during|at|of|about)\s+(?:the|this|that|my|our|todays?|yesterdays?|"
    r"this\s+(?:mornings?|afternoons?|evenings?)|the\s+last|last|latest)\s+(?:\w+\s+)?"
    + _RECORDED
    + r"\b|\b(?:the|my|our)\s+(?:last\s+|latest\s+)?(?:recording|meeting)s?\b|\brecorded\b",
    re.IGNORECASE,
)
_ASKING = re.compile(
    r"^\s*(?:what|who|when|where|why|how|which|did|was|were|is|are|do|does|tell|remind|"
    r"summari[sz]e|find|search)\b",
    re.IGNORECASE,
)


# ... and asks about what was said: "when is the meeting tomorrow" asks about none.
_SAID = re.compile(
    r"\b(?:did|was|were|said|say|says|decided?|agreed?|talked|discussed|mentioned|asked|"
    r"spoke|happened|recorded|recordings?|summari[sz]e|summary)\b",
    re.IGNORECASE,
)


def about_recordings(text: str) -> bool:
    """Whether ``text`` asks about something recorded: "what did we decide about the budget in
    this morning's meeting", "summarise the last recording"."""
    spoken = text.replace("'", "").replace("’", "")
    return bool(_ABOUT.search(spoken) and _ASKING.search(spoken) and _SAID.search(spoken))


@dataclass(frozen=True)
class Recalled:
    """What a question about recordings found: the recordings it meant, and their passages."""

    recordings: list[Recording]
    lines: list[Line]
    named: bool = False  # the question named them (by day or as the last), not just "recent"

    def quoted(self) -> list[str]:
        """Each passage with its recording and time, for the brain to read as data."""
        by_id = {recording.id: recording for recording in self.recordings}
        in_order = sorted(self.lines, key=lambda line: (line.recording_id, line.start_s))
        return [
            f"{by_id[line.recording_id].title} recording, {_clock(line.start_s)} in: {line.text}"
            for line in in_order
            if line.recording_id in by_id
        ]

    def summaries(self) -> list[str]:
        """The summaries of the recordings the question named ("this morning's", "the last"),
        or of those a passage was found in: never every recent one, for any question."""
        found = {line.recording_id for line in self.lines}
        return [
            f"{r.title} recording: {r.summary}"
            for r in self.recordings
            if r.summary and (self.named or r.id in found)
        ]


def recall(
    question: str, store: RecordingStore, now: Callable[[], dt.datetime] = dt.datetime.now
) -> Recalled:
    """The recordings ``question`` means ("this morning's", "yesterday's", "the last"; else
    the recent ones) and the passages in them that match its words best."""
    recordings, named = _meant(question.lower(), store, now())
    ids = [recording.id for recording in recordings]
    lines = store.search(question, ids, PASSAGES_PER_QUESTION) if ids else []
    return Recalled(recordings, lines, named)


def _meant(question: str, store: RecordingStore, now: dt.datetime) -> tuple[list[Recording], bool]:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    windows = {
        "this morning": (midnight, midnight.replace(hour=12)),
        "this afternoon": (midnight.replace(hour=12), midnight.replace(hour=18)),
        "this evening": (midnight.replace(hour=18), midnight + dt.timedelta(days=1)),
        "today": (midnight, midnight + dt.timedelta(days=1)),
        "yesterday": (midnight - dt.timedelta(days=1), midnight),
    }
    spoken = question.replace("'s", "").replace("’s", "")
    for words, (since, until) in windows.items():
        if words in spoken:
            return store.between(since.timestamp(), until.timestamp()), True
    if re.search(r"\b(?:last|latest|previous|most recent)\b", spoken):
        return store.recent(1), True
    return store.recent(20), False


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def read_aloud(recalled: Recalled) -> str:
    """The offline answer: the best passage (``recalled.lines`` come best first) as it was
    said, or why there is none."""
    if not recalled.recordings:
        return NOTHING_RECORDED
    if not recalled.lines:
        if not any(r.seconds for r in recalled.recordings) or all(
            r.waiting for r in recalled.recordings
        ):
            return "That recording isn't transcribed yet, so I can't look in it."
        return "I didn't find that in your recordings."
    line = recalled.lines[0]
    recording = next(r for r in recalled.recordings if r.id == line.recording_id)
    minute = int(line.start_s // 60)
    when = "at the start" if minute == 0 else f"{say_duration(minute * 60)} in"
    return f"In the {recording.title} recording, {when}, I heard: {line.text}"
