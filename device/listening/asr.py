"""Speech recognition, streamed while the user speaks.

``VoskRecognizer`` recognises free text with a downloaded Vosk model. ``PocketsphinxRecognizer``
uses the model bundled with pocketsphinx and a grammar of the device's commands (see
``device.skills.intents.jsgf_grammar``); a second decoder with pocketsphinx's language model hears
the same audio at the same time, so when an utterance is outside the grammar the brain gets that
decoder's best guess without decoding the utterance again.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from device.errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transcript:
    text: str
    in_grammar: bool = True  # False: a best guess outside the command grammar
    engine: str = ""


class Recognizer(Protocol):
    name: str

    def start(self) -> None:
        """Begin an utterance."""

    def feed(self, pcm: bytes) -> None:
        """Recognise more audio of the current utterance (runs while the user speaks)."""

    def finish(self) -> Transcript:
        """End the utterance and return what was said."""


@runtime_checkable
class HasCepstralMean(Protocol):
    """Optional: pocketsphinx's cepstral mean normalisation, the microphone's average spectrum.

    A pocketsphinx wake detector learns it from everything heard idle; a pocketsphinx recogniser
    given it hears the first utterance after start-up as well as later ones."""

    cmn: str


@runtime_checkable
class Adaptable(Protocol):
    """Optional: a recogniser that can tune itself to the microphone from speech heard idle."""

    def adapt(self, pcm: bytes) -> None: ...


# Words our commands use that pocketsphinx's dictionary lacks (CMU phone set).
EXTRA_PRONUNCIATIONS = {"unmute": "AH N M Y UW T"}


class PocketsphinxRecognizer:
    """Commands by grammar, everything else by language model, with pocketsphinx's en-us model."""

    name = "pocketsphinx"

    def __init__(self, jsgf: str, is_command: Callable[[str], bool] = lambda text: True) -> None:
        """``is_command`` tells a command from the grammar's catch-all question branch."""
        from pocketsphinx import Decoder

        self._is_command = is_command
        # bestpath=False: lattice rescoring at the end of an utterance took 16 s on this grammar.
        # lm=None: the grammar decoder does not need the language model (saves 60 MB).
        self._decoder = Decoder(loglevel="FATAL", bestpath=False)
        for word, phones in EXTRA_PRONUNCIATIONS.items():
            if self._decoder.lookup_word(word) is None:
                self._decoder.add_word(word, phones, True)
        try:
            self._decoder.add_jsgf_string("commands", jsgf)
        except ValueError as exc:  # pocketsphinx says why only on stderr
            raise ModelError(
                "the command grammar did not load into pocketsphinx: a word in it is not in "
                "the dictionary or the JSGF is malformed (run with --verbose to see which)"
            ) from exc
        self._decoder.activate_search("commands")
        # Free text, decoded alongside. Its end of utterance runs a second pass (fwdflat) that
        # costs 150-200 ms here, so it is only ended when its text is needed; after a command
        # it is ended when the next utterance starts, while the user is speaking.
        self._free = Decoder(loglevel="FATAL", bestpath=False)
        self._started = False
        self._free_open = False  # the free decoder is inside an utterance

    def start(self) -> None:
        if self._started:
            self._decoder.end_utt()
        if self._free_open:
            self._free.end_utt()
        self._free.set_cmn(self._decoder.get_cmn(False))
        self._decoder.start_utt()
        self._free.start_utt()
        self._started = self._free_open = True

    def feed(self, pcm: bytes) -> None:
        self._decoder.process_raw(pcm, False, False)
        self._free.process_raw(pcm, False, False)

    def finish(self) -> Transcript:
        self._decoder.end_utt()
        self._started = False
        hyp = self._decoder.hyp()
        if hyp is not None and hyp.hypstr and self._is_command(hyp.hypstr):
            return Transcript(hyp.hypstr, True, self.name)
        self._free.end_utt()
        self._free_open = False
        free = self._free.hyp()
        return Transcript(free.hypstr if free is not None else "", False, self.name)

    @property
    def cmn(self) -> str:
        return str(self._decoder.get_cmn(False))

    @cmn.setter
    def cmn(self, value: str) -> None:
        """Start from the wake detector's adapted normalisation, not the generic default."""
        self._decoder.set_cmn(value)
        self._free.set_cmn(value)

    def adapt(self, pcm: bytes) -> None:
        """Adapt the cepstral mean to this microphone from ``pcm`` (audio heard while idle): it is
        decoded once as an utterance of its own, and the result thrown away."""
        if self._started:
            self._decoder.end_utt()
            self._started = False
        if self._free_open:
            self._free.end_utt()
            self._free_open = False
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, False, True)
        self._decoder.end_utt()
        self._free.set_cmn(self._decoder.get_cmn(False))


def load_vosk_model(path: Path) -> Any:
    """Load a Vosk model directory, turning Vosk's bare errors into a ModelError that says how to
    get the model."""
    path = Path(path)
    hint = (
        f"Fetch it with: zeropin models fetch vosk-small-en-us (it unpacks to {path.parent}), "
        "or set [asr] vosk_model to where you unpacked one"
    )
    if not (path / "am").is_dir() and not (path / "final.mdl").exists():
        what = "not found" if not path.exists() else "is not a Vosk model (no am/ folder)"
        raise ModelError(f"Vosk model {what}: {path}. {hint}")
    import vosk

    vosk.SetLogLevel(-1)
    try:
        return vosk.Model(os.fspath(path))
    except Exception as exc:  # vosk raises a bare Exception for every failure
        raise ModelError(f"Vosk could not load the model at {path} ({exc}). {hint}") from exc


class VoskRecognizer:
    """Free-text recognition with a Vosk model (``[asr] vosk_model``)."""

    name = "vosk"

    def __init__(self, model_path: Path) -> None:
        from vosk import KaldiRecognizer

        self._recognizer = KaldiRecognizer(load_vosk_model(model_path), 16000)
        self._parts: list[str] = []

    def start(self) -> None:
        self._recognizer.Reset()
        self._parts = []

    def feed(self, pcm: bytes) -> None:
        if self._recognizer.AcceptWaveform(pcm):
            self._parts.append(json.loads(self._recognizer.Result()).get("text", ""))

    def finish(self) -> Transcript:
        self._parts.append(json.loads(self._recognizer.FinalResult()).get("text", ""))
        return Transcript(" ".join(p for p in self._parts if p), True, self.name)
