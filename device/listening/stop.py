"""The stop word: "stop" said on its own while the device answers, over its (cancelled) voice.

A pocketsphinx keyphrase search for the one word, with a dictionary of that word alone (about
7 MB, the acoustic model; pocketsphinx's full dictionary alone would cost about 22 MB), counts
only when the word was said on its own, as a command is: a short burst of voice with quiet
before and after it. On espeak-ng and flite talk over a reply the search alone fired 156 times
in 281 s; with the burst rule 41 times, for 20 of 33 "stop"s heard (WebRTC's canceller damps
the user's voice while the reply plays, and damps a word said over a loud reply away).

Also tried, on the same speech: bursts decoded by the device's command recogniser (no false
stop in 340 s of talk, but 5 of 33 "stop"s heard).

    spotter = PocketsphinxStopSpotter()
    for frame in echo_cancelled_frames:
        if spotter.process(frame):
            print("stop!")

The word counts once the quiet after it has lasted ``QUIET_AFTER_FRAMES`` (0.24 s), so the
reply stops about a quarter of a second after the word ends.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Protocol

from device.listening.frames import frame_rms

log = logging.getLogger(__name__)

STOP_WORD = "stop"
PRONUNCIATION = "S T AA P"  # from pocketsphinx's en-us dictionary
# Chosen on espeak-ng and flite speech over replies, with the burst rule: 1e-30 heard 14 of 33
# "stop"s (29 false in 281 s of talk), 1e-35 20 (41); on replies alone nothing fired down to
# 1e-35, at +6, 0 and -10 dB of echo.
STOP_THRESHOLD = 1e-35

VOICED_RMS = 200.0  # a frame this loud (about -44 dBFS) has voice; a user is about -26
MAX_BURST_FRAMES = 27  # 0.8 s of 30 ms frames: longer is a sentence, not a command
QUIET_BEFORE_FRAMES = 8  # 0.24 s of quiet before the burst
QUIET_AFTER_FRAMES = 8  # and after it, when it counts
GAP_FRAMES = 4  # quiet inside a word (the closure before a "p") does not end the burst


class StopSpotter(Protocol):
    name: str

    def process(self, frame: bytes) -> bool:
        """Feed one frame; True when the stop word has just been confirmed."""

    def reset(self) -> None:
        """Forget what was heard (called when the spotter is armed)."""


class PocketsphinxStopSpotter:
    """Spots "stop" said on its own, with pocketsphinx's bundled en-us acoustic model."""

    name = "pocketsphinx-kws"

    def __init__(self, threshold: float = STOP_THRESHOLD) -> None:
        from pocketsphinx import Decoder

        with tempfile.TemporaryDirectory(prefix="zeropin-stop-") as scratch:
            dictionary = Path(scratch) / "stop.dict"
            dictionary.write_text(f"{STOP_WORD} {PRONUNCIATION}\n", encoding="ascii")
            self._decoder = Decoder(
                dict=str(dictionary),
                keyphrase=STOP_WORD,
                kws_threshold=threshold,
                lm=None,
                loglevel="FATAL",
            )
        self._decoder.start_utt()
        self._quiet = 10**6  # quiet frames in a row
        self._before = 0  # quiet frames before the burst
        self._spoken = 0  # frames from the burst's first voiced frame to its last (0: none)
        self._spotted = False  # the word, in this burst

    def reset(self) -> None:
        self._decoder.end_utt()
        self._decoder.start_utt()
        self._quiet, self._spoken, self._spotted = 10**6, 0, False

    def process(self, frame: bytes) -> bool:
        self._decoder.process_raw(frame, False, False)
        if self._decoder.hyp() is not None:
            self._decoder.end_utt()
            self._decoder.start_utt()
            self._spotted = self._spotted or self._spoken > 0
        voiced = frame_rms(frame) >= VOICED_RMS
        if voiced:
            if not self._spoken or self._quiet > GAP_FRAMES:  # a new burst, after some quiet
                self._before, self._spoken, self._spotted = self._quiet, 0, False
            self._spoken += self._quiet + 1 if self._spoken else 1
            self._quiet = 0
        else:
            self._quiet += 1
        if not self._spoken or self._quiet < QUIET_AFTER_FRAMES:
            return False
        alone = self._spoken <= MAX_BURST_FRAMES and self._before >= QUIET_BEFORE_FRAMES
        said, self._spoken, self._spotted = self._spotted and alone, 0, False
        return said
