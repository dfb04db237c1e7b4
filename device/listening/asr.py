"""Speech recognition, streamed while the user speaks: what every recogniser gives and may do.

``device.listening.vosk_asr.VoskRecognizer`` recognises free text (or a grammar's words) with a
downloaded Vosk model. ``PocketsphinxRecognizer`` uses the model bundled with pocketsphinx and a
grammar of the device's commands (see ``device.skills.intents.jsgf_grammar``). Where a brain
needs free text that no cloud transcribes, a second decoder with pocketsphinx's language model
hears the same audio at the same time, so when an utterance is outside the grammar the brain gets
that decoder's best guess without decoding the utterance again.
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
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
class ListensFor(Protocol):
    """Optional: a recogniser told what the device's last reply asked to be told (``expecting``:
    "length" after a timer's "For how long?", "" otherwise; the listener sets it before
    ``start``), which it then hears besides its commands; and whether it may guess at a command
    (``guesses``: not in the answer to the device's question, nor in a translated conversation,
    where a guessed "stop" would end it)."""

    expecting: str
    guesses: bool


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


def _grammar_decoder(grammars: Mapping[str, str]) -> Any:
    """A pocketsphinx decoder with a search for each JSGF grammar, by name; "commands" active."""
    from pocketsphinx import Config, Decoder

    # bestpath=False: lattice rescoring at the end of an utterance took 16 s on this grammar.
    # lm=None and a dictionary of the grammars' words only: the full language model and
    # dictionary cost 65 and 22 MB, and a grammar search uses neither.
    with _command_dictionary("\n".join(grammars.values()), Path(Config()["dict"])) as words:
        decoder = Decoder(
            loglevel="FATAL", bestpath=False, lm=None, dict=str(words), **GRAMMAR_BEAMS
        )
    for word, phones in EXTRA_PRONUNCIATIONS.items():
        if decoder.lookup_word(word) is None:
            decoder.add_word(word, phones, True)
    for name, grammar in grammars.items():
        try:
            decoder.add_jsgf_string(name, grammar)
        except ValueError as exc:  # pocketsphinx says why only on stderr
            raise ModelError(
                f"the {name} grammar did not load into pocketsphinx: a word in it is not in "
                "the dictionary or the JSGF is malformed (run with --verbose to see which)"
            ) from exc
    decoder.activate_search("commands")
    return decoder


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
        answers: Mapping[str, str] = MappingProxyType({}),
        rescue: Callable[[bytes], str | None] | None = None,
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
        a misheard command (a cloud's transcript, decided on by the same intents).

        ``answers``: grammars by what they answer ("length": ``jsgf`` and a length said alone),
        searched instead of ``jsgf`` while ``expecting`` names them.

        ``rescue``: asked, after both passes heard no command, for the command in what followed
        the wake phrase (``device.listening.command_rescue``); a phrase it returns is the
        command. Not while ``guesses`` is false, nor while an answer's search listens."""
        from pocketsphinx import Decoder

        self._is_command = is_command
        self._anchor = wake_phrase.lower().split()
        self.phrase_said = False
        self.phrase_bytes = 0
        self._whole = ""  # the grammar's words for the whole utterance just finished
        self._decoder = _grammar_decoder({"commands": jsgf, **answers})
        self._searches = {"", *answers}
        self.expecting = ""
        self.guesses = True
        self._search = "commands"  # the utterance's: "commands", or the answer expected
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
        self._rescue = rescue
        self._guessed = False  # the command just heard came from the rescue

    @property
    def decodes_free_text(self) -> bool:
        return self._free is not None

    def start(self) -> None:
        if self._started:
            self._decoder.end_utt()
        expected = self.expecting if self.expecting in self._searches else ""
        self._search = expected or "commands"
        self._decoder.activate_search(self._search)
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
        self._guessed = False
        if command is None and self.second_pass:
            command = self._second_pass()
        if command is not None or self.second_pass:
            self._audio.clear()  # no second look is due
        if command is not None:
            return Transcript(command, True, self._heard_by())
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
        return None if command is None else Transcript(command, True, self._heard_by())

    def _heard_by(self) -> str:
        """The engine a command is credited to: a guess shows as one in the turn log."""
        return f"{self.name}+rescue" if self._guessed else self.name

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
        if self._rescue is not None and self._may_rescue(command, after):
            command = self._rescue(bytes(self._audio[after:]))
            self._guessed = command is not None
        return command

    def _may_rescue(self, command: str | None, after: int) -> bool:
        """Whether to ask a rescue: no command heard, guessing allowed, the commands searched (not
        an answer's grammar), and something after the phrase to hear."""
        wanted = self.guesses and self._search == "commands"
        return command is None and wanted and after < len(self._audio)

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
