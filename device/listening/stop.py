"""The stop word: "stop" heard while the device is answering, over its own (cancelled) voice.

A pocketsphinx keyphrase search with a dictionary of the one word, so only the acoustic model
is loaded (about 7 MB; pocketsphinx's full dictionary alone would cost about 22 MB).

    spotter = PocketsphinxStopSpotter()
    for frame in echo_cancelled_frames:
        if spotter.process(frame):
            print("stop!")
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

STOP_WORD = "stop"
PRONUNCIATION = "S T AA P"  # from pocketsphinx's en-us dictionary

# Chosen on espeak-ng speech (six voices over four replies, echo 0 and -10 dB, cancelled): at
# 1e-30 it missed 5 of 24 "stop"s, at 1e-35 1; down to 1e-35 nothing fired on 27 s of replies
# at +6, 0 and -10 dB echo, at 1e-40 once or three times.
STOP_THRESHOLD = 1e-35


class StopSpotter(Protocol):
    name: str

    def process(self, frame: bytes) -> bool:
        """Feed one frame; True when the stop word has just ended in it."""

    def reset(self) -> None:
        """Forget partial evidence (called when the spotter is armed)."""


class PocketsphinxStopSpotter:
    """Spots "stop" with pocketsphinx's bundled en-us acoustic model (no download needed)."""

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

    def process(self, frame: bytes) -> bool:
        self._decoder.process_raw(frame, False, False)
        if self._decoder.hyp() is None:
            return False
        self.reset()
        return True

    def reset(self) -> None:
        self._decoder.end_utt()
        self._decoder.start_utt()
