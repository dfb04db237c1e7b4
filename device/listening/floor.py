"""A noise floor under what the recogniser hears: pocketsphinx hears very clean speech worst.

Its acoustic model learnt speech with a room behind it. A voice far above the room's noise (a
wearable a hand's width from the mouth, a quiet room) is heard wrong: the tuning voices' commands
were 89% right with the room 20 dB under the voice, 69% with it 40 dB under. So the recogniser is
given the utterance with white noise added, just enough to bring the room up to ``FLOOR_DB`` under
the voice (82% then; docs/recognition.md). A room already that loud gets nothing added, and what
is kept of the utterance (a note's audio) is the microphone's, without it.

Only after the wake word, whose phrase in the pre-roll gives the voice's level. After a press or
the device's own question (a follow-up) there is no phrase to measure; a floor 30 dB under the
last phrase made the demo's voice heard wrong ("ten seconds" as "thirty seconds"), so those are
heard as the microphone gives them.

    floor = NoiseFloor()
    floor.hear(frame)  # every microphone frame: the room's level is tracked
    floor.start(preroll, phrase=True)  # after the wake word: the voice's level, from the phrase
    recognizer.feed(floor.apply(frame))  # each of the utterance's frames

The levels are per frame (30 ms) RMS: the room is the 20th percentile of the last three seconds,
the voice the 90th percentile of the pre-roll.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence

import numpy as np

from device.listening.frames import frame_rms

FLOOR_DB = 35.0  # the room is raised to this far under the voice (chosen on the tuning voices)
ROOM_FRAMES = 100  # three seconds of 30 ms frames
ROOM_PERCENTILE = 20
VOICE_PERCENTILE = 90
MIN_VOICE_OVER_ROOM_DB = 10.0  # a pre-roll no louder than this over the room held no voice


class NoiseFloor:
    """Tracks the room's level and raises it, for one utterance at a time, under the voice's."""

    def __init__(self, floor_db: float = FLOOR_DB, seed: int = 0) -> None:
        self.floor_db = floor_db
        self._rng = np.random.default_rng(seed)  # the same noise every run: tests repeat
        self._room: collections.deque[float] = collections.deque(maxlen=ROOM_FRAMES)
        self.voice_rms = 0.0  # of the last wake phrase
        self.added_rms = 0.0  # of the noise added to this utterance's frames

    @property
    def room_rms(self) -> float:
        return float(np.percentile(self._room, ROOM_PERCENTILE)) if self._room else 0.0

    def hear(self, frame: bytes) -> None:
        """A frame from the microphone (any mode): the room's level follows it."""
        self._room.append(frame_rms(frame))

    def start(self, preroll: Sequence[bytes], phrase: bool) -> None:
        """A new utterance; ``phrase``: the pre-roll holds the wake phrase, whose level is the
        voice's. Without it, or with no voice in it, nothing is added."""
        self.added_rms = 0.0
        if not phrase or not preroll:
            return
        room = self.room_rms
        voice = float(np.percentile([frame_rms(f) for f in preroll], VOICE_PERCENTILE))
        if voice <= room * 10 ** (MIN_VOICE_OVER_ROOM_DB / 20):
            return
        self.voice_rms = voice
        target = voice * 10 ** (-self.floor_db / 20)
        self.added_rms = float(np.sqrt(max(0.0, target**2 - room**2)))

    def apply(self, frame: bytes) -> bytes:
        """``frame`` with this utterance's noise added (as it is when none is needed)."""
        if self.added_rms < 1.0:
            return frame
        samples = np.frombuffer(frame, "<i2").astype(np.float64)
        samples = samples + self._rng.normal(0.0, self.added_rms, samples.size)
        return np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()
