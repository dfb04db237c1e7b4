"""Wake-word detectors: streaming, fed fixed-size frames of bus-format audio.

Every engine implements ``WakeWordDetector``; the listener feeds them 30 ms frames, so decisions
do not depend on the microphone's chunk size. Engines import their runtime in the constructor.

    detector = PocketsphinxKeyphraseDetector("hey zero", threshold=1e-40)
    for frame in frames:
        if detector.process(frame):
            print("wake!")
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Protocol

from device.errors import ModelError

log = logging.getLogger(__name__)


class WakeWordDetector(Protocol):
    name: str  # engine name, for logs and the bench

    @property
    def phrase_seconds(self) -> float:
        """How far back the phrase can begin when ``process`` returns True (0: unknown). The
        listener gives the recogniser that much pre-roll, so it hears the whole phrase (which
        its grammar expects) rather than the phrase's tail."""

    def process(self, frame: bytes) -> bool:
        """Feed one frame; True when the wake phrase has just ended in it."""

    def reset(self) -> None:
        """Forget partial evidence (called when the detector is re-armed)."""


class PocketsphinxKeyphraseDetector:
    """Keyphrase spotting with pocketsphinx's bundled en-us acoustic model (no download needed).

    ``threshold`` trades false rejects for false accepts: smaller detects more. Every word of the
    phrase must be in pocketsphinx's dictionary.
    """

    name = "pocketsphinx"
    phrase_seconds = 0.0

    def __init__(self, phrase: str, threshold: float = 1e-40) -> None:
        from pocketsphinx import Decoder

        self.phrase = phrase.lower()
        self._decoder = Decoder(keyphrase=self.phrase, kws_threshold=threshold, loglevel="FATAL")
        missing = [w for w in self.phrase.split() if self._decoder.lookup_word(w) is None]
        if missing:
            raise ModelError(
                f"wake phrase {phrase!r}: {', '.join(missing)} not in pocketsphinx's dictionary; "
                "pick common English words"
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

    @property
    def cmn(self) -> str:
        """Cepstral mean normalisation, adapted to this microphone from all audio heard idle."""
        return str(self._decoder.get_cmn(False))

    @cmn.setter
    def cmn(self, value: str) -> None:
        self._decoder.set_cmn(value)


class VoskGrammarDetector:
    """Wake phrase spotting with a Vosk model restricted to the phrase and "[unk]".

    Needs a Vosk model (``zeropin models fetch vosk-small-en-us``) that has the word "[unk]":
    without it the grammar is the phrase alone, which Vosk then hears in any speech.
    """

    name = "vosk"
    phrase_seconds = 0.0

    def __init__(self, phrase: str, model_path: Path) -> None:
        from vosk import KaldiRecognizer

        from device.listening.vosk_asr import load_vosk_model, vosk_grammar, vosk_has_unknown_word

        self.phrase = " ".join(phrase.lower().split())
        model = load_vosk_model(model_path)
        if not vosk_has_unknown_word(model):
            raise ModelError(
                f"the Vosk model at {model_path} has no [unk] word, so it cannot tell the wake "
                "phrase from other speech; use one that has it (vosk-small-en-us does) or "
                '[wake] engine = "tflite"'
            )
        grammar = vosk_grammar(model, model_path, [self.phrase])
        self._recognizer = KaldiRecognizer(model, 16000, grammar)

    def process(self, frame: bytes) -> bool:
        if self._recognizer.AcceptWaveform(frame):
            text = json.loads(self._recognizer.Result()).get("text", "")
        else:
            text = json.loads(self._recognizer.PartialResult()).get("partial", "")
        if self.phrase not in text:
            return False
        self.reset()
        return True

    def reset(self) -> None:
        self._recognizer.Reset()
