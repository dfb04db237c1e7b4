"""Vosk: free text, or a grammar's words, with a downloaded model, one loaded copy of which
serves every part that needs it (the wake detector and the recogniser)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import mmap
import os
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from device.errors import ModelError
from device.listening.asr import Transcript

log = logging.getLogger(__name__)


# One model per folder, shared by everyone who asks while anyone holds it: the wake detector and
# the recogniser would otherwise each load a copy (every load costs the model's full size in RAM
# again: 530 MB twice for the small Korean one).
_vosk_models: weakref.WeakValueDictionary[Path, Any] = weakref.WeakValueDictionary()
_vosk_models_lock = threading.Lock()

UNKNOWN_WORD = "[unk]"  # Vosk's word for "anything else" in a grammar, where a model has it
STATM = "/proc/self/statm"  # Linux: the process's sizes in pages, resident second


def load_vosk_model(path: Path) -> Any:
    """Load a Vosk model directory, or return the copy already loaded from it, turning Vosk's bare
    errors into a ModelError that says how to get the model."""
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
    key = path.resolve()
    with _vosk_models_lock:
        model = _vosk_models.get(key)
        if model is not None:
            return model
        try:
            model = vosk.Model(os.fspath(path))
        except Exception as exc:  # vosk raises a bare Exception for every failure
            raise ModelError(f"Vosk could not load the model at {path} ({exc}). {hint}") from exc
        _vosk_models[key] = model
        return model


def vosk_grammar(model: Any, model_path: Path, phrases: Sequence[str]) -> str:
    """The grammar Vosk takes for ``phrases`` (JSON), with "[unk]" when the model has that word.

    Vosk itself only logs, and then ignores, a grammar word its model lacks, and it does not
    decode JSON's \\u escapes, so every non-ASCII word would be lost: the words are checked
    here (ModelError naming those missing), and the JSON keeps its letters as they are.
    """
    words = dict.fromkeys(word for phrase in phrases for word in phrase.split())
    missing = [word for word in words if model.vosk_model_find_word(word) < 0]
    if missing:
        raise ModelError(
            f"not in the vocabulary of the Vosk model at {model_path}: {', '.join(missing)}"
        )
    known = [*phrases, UNKNOWN_WORD] if vosk_has_unknown_word(model) else list(phrases)
    return json.dumps(known, ensure_ascii=False)


def vosk_has_unknown_word(model: Any) -> bool:
    """Whether a grammar can let Vosk say "none of these" (the small Korean model cannot)."""
    return bool(model.vosk_model_find_word(UNKNOWN_WORD) >= 0)


def resident_mb() -> float | None:
    """This process's resident memory in MB, or None where /proc cannot tell (not Linux)."""
    try:
        with open(STATM, "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * mmap.PAGESIZE / 2**20


def _release_freed_memory() -> None:
    """Give the memory just freed back to the system: glibc keeps it for later allocations
    otherwise, and the process's resident size would not fall. Without glibc, nothing to do."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class VoskRecognizer:
    """Recognition with a Vosk model (``[asr] vosk_model``): free text, or only the words of
    ``grammar``'s phrases when given (any order; "[unk]" for other speech where the model has
    it, and then the transcript is marked as outside the grammar).

    ``partial`` is what has been heard so far while the utterance is still being fed.

    Vosk's recogniser keeps every part of the decoding graph it has expanded, so it grows with
    each utterance and never shrinks (about 220 MB over five minutes of speech with the small
    Korean model). With ``cache_mb`` it is rebuilt, between utterances, once the process has
    grown more than that since it was built; 0 keeps it for good. ``rebuilds`` counts them.
    """

    name = "vosk"

    def __init__(
        self,
        model_path: Path,
        grammar: Sequence[str] = (),
        *,
        cache_mb: int = 0,
        loaded: Any = None,
    ) -> None:
        """``loaded``: a model another recogniser loaded from ``model_path``, shared (a second
        copy of the small English one would cost the Zero 2 W 80 MB or more)."""
        self._model = loaded if loaded is not None else load_vosk_model(model_path)
        self.model_path = model_path
        self._spec = vosk_grammar(self._model, model_path, grammar) if grammar else ""
        self._grammar = tuple(grammar)
        self.cache_mb = cache_mb
        self.rebuilds = 0
        self._recognizer = self._build()
        self._parts: list[str] = []

    def sharing_model(self) -> VoskRecognizer:
        """A free-text recogniser on this one's loaded model."""
        return VoskRecognizer(self.model_path, loaded=self._model)

    def _build(self) -> Any:
        from vosk import KaldiRecognizer

        spec = (self._spec,) if self._spec else ()
        recognizer = KaldiRecognizer(self._model, 16000, *spec)
        self._built_mb = resident_mb()
        return recognizer

    def _grown_mb(self) -> float:
        """How much the process has grown since the recogniser was built; 0 where unknown."""
        now = resident_mb()
        return 0.0 if now is None or self._built_mb is None else now - self._built_mb

    def start(self) -> None:
        # Only here, between utterances, and nothing an utterance needs is lost: Vosk starts each
        # one after a final result with a new decoder and features. The new recogniser expands
        # the graph again as it decodes, so a rebuild costs a few utterances' worth of CPU.
        grown = self._grown_mb() if self.cache_mb else 0.0
        if self.cache_mb and grown > self.cache_mb:
            self._recognizer = None  # freed before the new one is built, not after
            _release_freed_memory()
            self._recognizer = self._build()
            self.rebuilds += 1
            log.info("Vosk recogniser rebuilt: the process had grown %.0f MB since", grown)
        else:
            self._recognizer.Reset()
        self._parts = []

    def feed(self, pcm: bytes) -> None:
        if self._recognizer.AcceptWaveform(pcm):
            self._parts.append(json.loads(self._recognizer.Result()).get("text", ""))

    @property
    def partial(self) -> str:
        """The utterance so far: its finished segments, then Vosk's guess at the current one
        (which may still change). Worked out only when asked."""
        current = json.loads(self._recognizer.PartialResult()).get("partial", "")
        return " ".join(part for part in (*self._parts, current) if part)

    def finish(self) -> Transcript:
        self._parts.append(json.loads(self._recognizer.FinalResult()).get("text", ""))
        text = " ".join(p for p in self._parts if p)
        in_grammar = not (self._grammar and UNKNOWN_WORD in text.split())
        return Transcript(text, in_grammar, self.name, verbatim=not self._grammar)
