"""Voice activity endpointing with webrtcvad: when did the user start, and stop, speaking.

Counted in audio time (frames), never wall-clock time, so tests run faster than real time and
give the same answer every run.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from device.listening.frames import FRAME_MS

FRAME_SAMPLES = 16000 * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2


class Endpoint(enum.Enum):
    NONE = "none"
    SPEECH_STARTED = "speech_started"
    SPEECH_ENDED = "speech_ended"
    TOO_LONG = "too_long"  # max utterance length reached: treat as ended
    NO_SPEECH = "no_speech"  # nothing said within the timeout


@dataclass(frozen=True)
class EndpointSettings:
    aggressiveness: int = 2  # 0 (keeps most audio) .. 3 (drops most non-speech)
    start_frames: int = 3  # voiced frames in a row that count as the start of speech
    trailing_silence_seconds: float = 0.6
    max_utterance_seconds: float = 10.0
    no_speech_timeout_seconds: float = 5.0


def settled_vad(aggressiveness: int) -> Any:
    """A webrtcvad past its start-up: a new one takes its first frames of any sound, even a
    quiet room, for speech. Five frames of a quiet room's hiss spend that."""
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    hiss = np.random.default_rng(0).normal(0, 30, 5 * FRAME_SAMPLES).astype("<i2")
    for start in range(0, len(hiss), FRAME_SAMPLES):
        vad.is_speech(hiss[start : start + FRAME_SAMPLES].tobytes(), 16000)
    return vad


class Endpointer:
    """Feed 30 ms frames of one utterance; ``process`` says when speech started and ended."""

    def __init__(self, settings: EndpointSettings) -> None:
        self.settings = settings
        # Unsettled, three start-up frames were a speech start: the first utterance after
        # start-up "began" at once and ended before a user who paused after the earcon spoke.
        self._vad = settled_vad(settings.aggressiveness)
        self._frames = 0
        self._voiced_run = 0
        self._silent_run = 0
        self.in_speech = False
        self._no_speech_seconds = settings.no_speech_timeout_seconds

    def begin(self, already_speaking: bool = False, no_speech_seconds: float | None = None) -> None:
        """Start a new utterance; ``already_speaking`` after a wake word said mid-sentence;
        ``no_speech_seconds`` for this utterance instead of the settings' timeout."""
        self._frames = self._voiced_run = self._silent_run = 0
        self.in_speech = already_speaking
        self._no_speech_seconds = (
            self.settings.no_speech_timeout_seconds
            if no_speech_seconds is None
            else no_speech_seconds
        )

    @property
    def hears_voice(self) -> bool:
        """In speech, or the last frame was voiced: a start may be under way."""
        return self.in_speech or self._voiced_run > 0

    def is_speech(self, frame: bytes) -> bool:
        return bool(self._vad.is_speech(frame, 16000))

    def process(self, frame: bytes, may_start: bool = True) -> Endpoint:
        """``may_start`` False: speech cannot start on this frame (the device's own sound may be
        in it); once started, it is followed as usual."""
        s = self.settings
        self._frames += 1
        elapsed = self._frames * FRAME_MS / 1000
        voiced = self.is_speech(frame) and (may_start or self.in_speech)
        if not self.in_speech:
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run >= s.start_frames:
                self.in_speech = True
                self._silent_run = 0
                return Endpoint.SPEECH_STARTED
            if elapsed >= self._no_speech_seconds:
                return Endpoint.NO_SPEECH
            return Endpoint.NONE
        self._silent_run = 0 if voiced else self._silent_run + 1
        if self._silent_run * FRAME_MS / 1000 >= s.trailing_silence_seconds:
            return Endpoint.SPEECH_ENDED
        if elapsed >= s.max_utterance_seconds:
            return Endpoint.TOO_LONG
        return Endpoint.NONE


def utterances(
    pcm: bytes, settings: EndpointSettings = EndpointSettings(), preroll_frames: int = 10
) -> Iterator[tuple[float, float, bytes]]:
    """The stretches of speech in ``pcm`` (bus PCM), as (start s, end s, audio with
    ``preroll_frames`` before the start), for transcribing a recording utterance by utterance."""
    endpointer = Endpointer(settings)
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]
    endpointer.begin(no_speech_seconds=float("inf"))
    start = None
    for index, frame in enumerate(frames):
        endpoint = endpointer.process(frame)
        if endpoint is Endpoint.SPEECH_STARTED:
            start = max(0, index - settings.start_frames + 1 - preroll_frames)
        elif endpoint in (Endpoint.SPEECH_ENDED, Endpoint.TOO_LONG) and start is not None:
            yield _stretch(frames, start, index + 1)
            start = None
            endpointer.begin(no_speech_seconds=float("inf"))
    if start is not None:
        yield _stretch(frames, start, len(frames))


def _stretch(frames: list[bytes], start: int, end: int) -> tuple[float, float, bytes]:
    return start * FRAME_MS / 1000, end * FRAME_MS / 1000, b"".join(frames[start:end])
