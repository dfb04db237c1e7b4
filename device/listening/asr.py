"""Speech recognition, streamed while the user speaks.

``VoskRecognizer`` recognises free text (or a grammar's words) with a downloaded Vosk model, one
loaded copy of which serves every part that needs it. ``PocketsphinxRecognizer`` uses the model
bundled with pocketsphinx and a grammar of the device's commands (see
``device.skills.intents.jsgf_grammar``). Where a brain needs free text that no cloud transcribes,
a second decoder with pocketsphinx's language model hears the same audio at the same time, so
when an utterance is outside the grammar the brain gets that decoder's best guess without
decoding the utterance again.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import mmap
import os
import re
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
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
    # False: a guess the recogniser cannot vouch for; it is neither acted on nor sent as text
    confident: bool = True
    # True: free text from a recogniser that knows the language's words (Vosk with no grammar,
    # the cloud), so a dictated note is kept as heard; else a note is a draft (NoteStore)
    verbatim: bool = False
    # True with no text: speech that a closed-set recogniser (the command model) knows is none
    # of its commands. The wearer hears that it was not understood, and a cloud may transcribe
    # it; a blank result without it is noise, and nothing is said or sent.
    not_understood: bool = False


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
class ChecksWakePhrase(Protocol):
    """Optional: a recogniser told whether the utterance begins with the wake phrase (the
    listener sets ``phrase_said`` before ``start``), which it can use to check itself, and how
    many of the bytes it is fed first are that phrase (``phrase_bytes``: the pre-roll), which a
    second look can leave out."""

    phrase_said: bool
    phrase_bytes: int


@runtime_checkable
class LooksTwice(Protocol):
    """Optional: a recogniser whose second look at an utterance (a slower pass that rescues a
    misheard command) can wait until it is known to be needed: built not to look twice in
    ``finish``, it runs the second look in ``second_look`` when asked, until the next ``start``.
    """

    def second_look(self) -> Transcript | None: ...


@runtime_checkable
class Adaptable(Protocol):
    """Optional: a recogniser that can tune itself to the microphone from speech heard idle."""

    def adapt(self, pcm: bytes) -> None: ...


# Narrower than pocketsphinx's defaults (1e-48, 1e-48, 7e-29): a fifth less CPU per second of
# utterance on the demo's, with the tuning voices' commands decided as well (91.1 -> 91.9% at
# 20 dB); 1e-35 lost whole utterances.
GRAMMAR_BEAMS = {"beam": 1e-40, "pbeam": 1e-40, "wbeam": 1e-24}
MAX_SECOND_PASS_BYTES = 12 * 32000  # a command is said within this; longer speech is not one
# Words our commands use that pocketsphinx's dictionary lacks (CMU phone set).
EXTRA_PRONUNCIATIONS = {"unmute": "AH N M Y UW T"}


_JSGF_SYNTAX = re.compile(r"<[^>]*>|/[^/]*/|[()\[\]|;*+=]")


def grammar_words(jsgf: str) -> set[str]:
    """The words a JSGF grammar's rules can say (not its rule names, weights or header)."""
    words: set[str] = set()
    for line in jsgf.splitlines():
        if "=" in line:
            words.update(_JSGF_SYNTAX.sub(" ", line.split("=", 1)[1]).split())
    return words


@contextlib.contextmanager
def _command_dictionary(jsgf: str, full: Path) -> Iterator[Path]:
    """A temporary pronouncing dictionary of the grammar's words (with their variants, "word(2)")
    from ``full``, read a line at a time so the whole never sits in memory."""
    wanted = grammar_words(jsgf)
    with tempfile.TemporaryDirectory(prefix="zeropin-dict-") as folder:
        path = Path(folder) / "commands.dict"
        with full.open(encoding="utf-8") as source, path.open("w", encoding="utf-8") as out:
            for line in source:
                if line.split("(", 1)[0].split(" ", 1)[0] in wanted:
                    out.write(line)
        yield path


class PocketsphinxRecognizer:
    """Commands by grammar with pocketsphinx's en-us model; free text, when asked for, by its
    language model."""

    name = "pocketsphinx"

    def __init__(
        self,
        jsgf: str,
        is_command: Callable[[str], bool] = lambda text: True,
        wake_phrase: str = "",
        *,
        free_text: bool = False,
        second_pass: bool = True,
    ) -> None:
        """``is_command`` tells a command from the grammar's catch-all question branch.

        A command the grammar heard is confident. After the wake word (``phrase_said``) the
        free decoder's guess is confident only when it begins with ``wake_phrase``: words known
        to have been said, heard right, are the evidence that this voice in this room is being
        heard right; a guess that garbled them is returned unconfident. A guess after a button
        press has nothing to be checked against and is passed on as it is.

        Without ``free_text`` the guess is the grammar's own: its question branch, a few hundred
        words, enough to tell a question from silence (the offline brain's answer) and nothing
        more; a cloud transcribes what the brain is asked (``device.cloud.speech``).

        ``second_pass``: when the grammar heard no command, decode the utterance again in
        ``finish``; False leaves it to ``second_look``, for a caller with a better way to rescue
        a misheard command (a cloud's transcript, decided on by the same intents)."""
        from pocketsphinx import Config, Decoder

        self._is_command = is_command
        self._anchor = wake_phrase.lower().split()
        self.phrase_said = False
        self.phrase_bytes = 0
        self._whole = ""  # the grammar's words for the whole utterance just finished
        # bestpath=False: lattice rescoring at the end of an utterance took 16 s on this grammar.
        # lm=None and a dictionary of the grammar's words only: the full language model and
        # dictionary cost 65 and 22 MB, and a grammar search uses neither.
        with _command_dictionary(jsgf, Path(Config()["dict"])) as words:
            self._decoder = Decoder(
                loglevel="FATAL", bestpath=False, lm=None, dict=str(words), **GRAMMAR_BEAMS
            )
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
        # Free text (``free_text``), decoded alongside, for a brain that needs the words of a
        # question and no cloud to transcribe them: with the full language model it is a second
        # decoder of about 90 MB and as much CPU again, so it is built only when asked for. Its
        # end of utterance runs a second pass (fwdflat) that costs 150-200 ms here, so it is only
        # ended when its text is needed; after a command it is ended when the next utterance
        # starts, while the user is speaking.
        self._free = Decoder(loglevel="FATAL", bestpath=False) if free_text else None
        self._started = False
        self._free_open = False  # the free decoder is inside an utterance
        self._audio = bytearray()  # the utterance so far, for a second pass
        self.second_pass = second_pass  # in finish(); else second_look() runs it when asked

    @property
    def decodes_free_text(self) -> bool:
        return self._free is not None

    def start(self) -> None:
        if self._started:
            self._decoder.end_utt()
        self._decoder.start_utt()
        self._started = True
        if self._free is not None:
            if self._free_open:
                self._free.end_utt()
            self._free.set_cmn(self._decoder.get_cmn(False))
            self._free.start_utt()
            self._free_open = True
        self._audio.clear()

    def feed(self, pcm: bytes) -> None:
        self._decoder.process_raw(pcm, False, False)
        if self._free is not None:
            self._free.process_raw(pcm, False, False)
        self._audio += pcm[: max(0, MAX_SECOND_PASS_BYTES - len(self._audio))]

    def finish(self) -> Transcript:
        self._decoder.end_utt()
        self._started = False
        hyp = self._decoder.hyp()
        self._whole = str(hyp.hypstr) if hyp is not None else ""
        command = self._command(self._whole)
        if command is None and self.second_pass:
            command = self._second_pass()
        if command is not None or self.second_pass:
            self._audio.clear()  # no second look is due
        if command is not None:
            return Transcript(command, True, self.name)
        text = self._guess()
        return Transcript(text, False, self.name, confident=self._anchored(text))

    def _guess(self) -> str:
        """What was said, when it was no command: the free decoder's words, or the grammar's for
        the whole utterance (the second pass's, when it ran)."""
        if self._free is None:
            return self._whole
        self._free.end_utt()
        self._free_open = False
        hyp = self._free.hyp()
        return str(hyp.hypstr) if hyp is not None else ""

    def _anchored(self, text: str) -> bool:
        if not self.phrase_said:
            return True
        return bool(self._anchor) and text.lower().split()[: len(self._anchor)] == self._anchor

    def _command(self, text: str) -> str | None:
        return text if text and self._is_command(text) else None

    def second_look(self) -> Transcript | None:
        """The command the second pass hears in the utterance just finished, or None (also when
        the first pass heard one, or the second pass already ran)."""
        command = self._second_pass()
        self._audio.clear()
        return None if command is None else Transcript(command, True, self.name)

    def _second_pass(self) -> str | None:
        """The utterance decoded again with its own cepstral mean, computed over all of it.

        When that hears the wake phrase right and no command, what followed the phrase is decoded
        on its own: some voices' phrase runs into the next word ("hey zero-w"), and heard with it
        the command is taken for a question ("when ..."). A phrase heard wrong says this voice is
        not being heard right; a pass that can only choose a command would choose one anyway."""
        if not self._audio:
            return None
        self._whole = self._decode(bytes(self._audio))
        command = self._command(self._whole)
        after = self.phrase_bytes if self.phrase_said else 0
        if command is None and 0 < after < len(self._audio) and self._anchored(self._whole):
            command = self._command(self._decode(bytes(self._audio[after:])))
        return command

    def _decode(self, pcm: bytes) -> str:
        """The grammar's words for ``pcm`` as an utterance of its own, with its own mean."""
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, False, True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return str(hyp.hypstr) if hyp is not None else ""

    @property
    def cmn(self) -> str:
        return str(self._decoder.get_cmn(False))

    @cmn.setter
    def cmn(self, value: str) -> None:
        """Start from the wake detector's adapted normalisation, not the generic default."""
        self._decoder.set_cmn(value)
        if self._free is not None:
            self._free.set_cmn(value)

    def adapt(self, pcm: bytes) -> None:
        """Adapt the cepstral mean to this microphone from ``pcm`` (audio heard while idle): it is
        decoded once as an utterance of its own, and the result thrown away."""
        if self._started:
            self._decoder.end_utt()
            self._started = False
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, False, True)
        self._decoder.end_utt()
        if self._free is not None:
            if self._free_open:
                self._free.end_utt()
                self._free_open = False
            self._free.set_cmn(self._decoder.get_cmn(False))


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


class PocketsphinxFreeText:
    """Free text with pocketsphinx's en-us language model and nothing else: for transcribing a
    recording in the background when there is neither a cloud nor a Vosk model. About 90 MB
    while it is held; words outside its few thousand common ones come out as near misses."""

    name = "pocketsphinx"

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self._decoder = Decoder(loglevel="FATAL", bestpath=False)

    def start(self) -> None:
        self._decoder.start_utt()

    def feed(self, pcm: bytes) -> None:
        self._decoder.process_raw(pcm, False, False)

    def finish(self) -> Transcript:
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        text = hypothesis.hypstr if hypothesis is not None else ""
        return Transcript(text, in_grammar=False, engine=self.name)
