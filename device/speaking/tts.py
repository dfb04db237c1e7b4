"""Speech synthesis with the espeak-ng program, and making LLM text fit to be spoken.

``EspeakSynthesizer`` runs ``espeak-ng --stdout`` (text on stdin, no shell, no temp files), parses
the 22050 Hz WAV it writes and converts it to bus format (16 kHz s16le mono PCM).

Measured on the x86-64 build machine (espeak-ng 1.51): "The weather today is sunny and warm."
(2.4 s of speech at 165 wpm) takes 15 ms (median of 20; 12 ms at best) from text to bus PCM,
process start and resampling included. Expect several times that on a Pi Zero 2 W, still well
under the length of the sentence, so speaking sentence by sentence keeps ahead of playback.

Example::

    tts = EspeakSynthesizer(voice="en-us+f2", rate_wpm=165)
    pcm = tts.synthesize(speakable("**Done!** It's 21°C & sunny."))
    tts.set_volume(60)  # the volume buttons change this at run time
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import struct
import subprocess
import unicodedata
from functools import cache
from typing import Protocol

import numpy as np

from device.errors import TtsError
from drivers.audio_format import to_bus_format

__all__ = ["EspeakSynthesizer", "Synthesizer", "has_chinese", "speakable"]

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
# espeak's -a amplitude is linear up to its default of 100 (peaks about -2 dBFS on plain
# sentences); above about 130 it clips. So volume_percent maps 1:1 onto -a, capped at 100.
MAX_AMPLITUDE = 100


class Synthesizer(Protocol):
    """Turns text into speech."""

    def synthesize(self, text: str) -> bytes:
        """Bus-format PCM of ``text`` spoken; ``b""`` for blank text. Raises TtsError."""
        ...


def _how_it_ended(returncode: int) -> str:
    """How a process ended: "exit 3", or for a signal (a negative code) "killed by SIGSEGV"."""
    if returncode >= 0:
        return f"exit {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


class EspeakSynthesizer:
    """Speech from the espeak-ng program (``sudo apt install espeak-ng``).

    ``voice`` is an espeak-ng language or voice file, optionally with a variant: ``"en-us"``,
    ``"en-gb-x-rp"``, ``"en-us+f2"``. ``rate_wpm`` is words per minute (80..450), ``pitch`` 0..99,
    ``volume_percent`` 0..100 (see :meth:`set_volume`). The binary and voice are checked here,
    so a wrong setting fails at start-up rather than at the first reply.
    """

    name = "espeak-ng"

    def __init__(
        self,
        voice: str = "en-us",
        rate_wpm: int = 165,
        pitch: int = 50,
        volume_percent: int = 80,
        binary: str = "espeak-ng",
    ) -> None:
        path = shutil.which(binary)
        if path is None:
            raise TtsError(f"{binary} is not installed: sudo apt install espeak-ng")
        if not 80 <= rate_wpm <= 450:
            raise TtsError(f"rate_wpm must be 80..450 words per minute, not {rate_wpm}")
        if not 0 <= pitch <= 99:
            raise TtsError(f"pitch must be 0..99, not {pitch}")
        _check_voice(path, voice)
        self.binary = path
        self.voice = voice
        self.rate_wpm = rate_wpm
        self.pitch = pitch
        self.volume_percent = 0
        self.set_volume(volume_percent)

    def set_volume(self, percent: int) -> int:
        """Set the speech volume, clamped to 0..100 percent; return the value now in effect."""
        self.volume_percent = max(0, min(100, int(percent)))
        return self.volume_percent

    def synthesize(self, text: str) -> bytes:
        """Bus-format PCM of ``text`` spoken; ``b""`` for blank text. Raises TtsError."""
        if not text.strip():
            return b""
        amplitude = round(self.volume_percent * MAX_AMPLITUDE / 100)
        command = [
            self.binary,
            "--stdout",
            "-v", self.voice,
            "-s", str(self.rate_wpm),
            "-p", str(self.pitch),
            "-a", str(amplitude),
        ]  # fmt: skip
        try:
            result = subprocess.run(
                command,
                input=text.encode("utf-8"),  # on stdin: text starting with "-" stays text
                capture_output=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TtsError(f"espeak-ng took longer than {TIMEOUT_SECONDS:g} s") from exc
        except OSError as exc:
            raise TtsError(f"could not run {self.binary}: {exc}") from exc
        if result.returncode != 0:
            stderr = " ".join(result.stderr.decode("utf-8", "replace").split())
            message = f"espeak-ng -v {self.voice} failed ({_how_it_ended(result.returncode)})"
            raise TtsError(f"{message}: {stderr}" if stderr else message)
        return wav_bytes_to_bus(result.stdout)


def wav_bytes_to_bus(wav: bytes) -> bytes:
    """Convert a 16-bit PCM WAV held in memory to bus-format PCM.

    Written for espeak's streamed WAV, whose header gives placeholder sizes: the data chunk is
    taken to run to the end of the bytes when it claims more than is there.
    """
    if len(wav) < 12 or wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise TtsError("espeak-ng did not write a WAV file")
    offset = 12
    rate = channels = bits = 0
    while offset + 8 <= len(wav):
        chunk_id, size = wav[offset : offset + 4], struct.unpack_from("<I", wav, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"fmt ":
            audio_format, channels, rate = struct.unpack_from("<HHI", wav, body)
            bits = struct.unpack_from("<H", wav, body + 14)[0]
            if audio_format != 1 or bits != 16:
                raise TtsError(f"espeak-ng wrote WAV format {audio_format}/{bits}-bit, not PCM16")
        elif chunk_id == b"data":
            if not rate:
                raise TtsError("espeak-ng wrote a WAV without a format chunk")
            data = wav[body : body + size]
            data = data[: len(data) - len(data) % (2 * channels)]
            samples = np.frombuffer(data, dtype="<i2")
            if channels > 1:
                samples = samples.reshape(-1, channels)
            return to_bus_format(samples, rate)
        offset = body + size + (size & 1)
    raise TtsError("espeak-ng wrote a WAV without audio data")


@cache
def _voice_names(binary: str, data_path: str | None) -> frozenset[str]:
    """Lower-cased languages and voice files that ``-v`` accepts (MBROLA ones only if usable).
    ``data_path`` is ESPEAK_DATA_PATH, which changes the listing (the wake-word trainer sets it)."""
    output = _run_listing(binary, "--voices")
    mbrola = shutil.which("mbrola") is not None
    names: set[str] = set()
    for line in output.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 5:
            continue
        language, voice_file = fields[1], fields[4]
        if voice_file.startswith("mb/") and not mbrola:
            continue  # listed, but MBROLA voices need the separate mbrola program and data
        names.update({language.lower(), voice_file.lower(), voice_file.rsplit("/", 1)[-1].lower()})
        # "Other Languages" come as "(en 3)(en-gb 4)": each is another name for the voice.
        names.update(re.findall(r"\(([\w-]+) \d+\)", " ".join(fields[5:]).lower()))
    return frozenset(names)


@cache
def _variant_names(binary: str, data_path: str | None) -> frozenset[str]:
    """Variant names for ``voice+variant`` (case-sensitive, as espeak-ng treats them)."""
    output = _run_listing(binary, "--voices=variant")
    return frozenset(
        fields[4].removeprefix("!v/")
        for fields in (line.split() for line in output.splitlines()[1:])
        if len(fields) >= 5
    )


def _run_listing(binary: str, option: str) -> str:
    try:
        result = subprocess.run(
            [binary, option], capture_output=True, timeout=TIMEOUT_SECONDS, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise TtsError(f"could not list espeak-ng voices with {binary} {option}: {exc}") from exc
    return result.stdout.decode("utf-8", "replace")


def _check_voice(binary: str, voice: str) -> None:
    base, _, variant = voice.partition("+")
    data_path = os.environ.get("ESPEAK_DATA_PATH")
    voices = _voice_names(binary, data_path)
    if base.lower() not in voices:
        english = sorted(name for name in voices if name.startswith("en") and "/" not in name)
        raise TtsError(
            f"espeak-ng has no voice {base!r}; try one of: {', '.join(english[:8])} "
            "(all: espeak-ng --voices)"
        )
    if variant:
        variants = _variant_names(binary, data_path)
        if variant not in variants:
            examples = sorted(name for name in variants if re.fullmatch(r"[fm]\d", name))
            raise TtsError(
                f"espeak-ng has no voice variant {variant!r}; try one of: "
                f"{', '.join(examples)} (all: espeak-ng --voices=variant)"
            )


# --- making text speakable ---------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~).*$", re.MULTILINE)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"]")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_QUOTE = re.compile(r"^\s*>\s?", re.MULTILINE)
_BULLET = re.compile(r"^\s*[-*+•]\s+", re.MULTILINE)
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$", re.MULTILINE)
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_CODE = re.compile(r"`+([^`]*)`+")
_SYMBOLS = (
    (re.compile(r"\s*°\s*C\b"), " degrees Celsius"),
    (re.compile(r"\s*°\s*F\b"), " degrees Fahrenheit"),
    (re.compile(r"\s*°"), " degrees"),
    (re.compile(r"\s*%"), " percent"),
    (re.compile(r"\s*&\s*"), " and "),
)
_SENTENCE_END = ".!?:;,。！？：；，"
_CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")  # Han characters
_SPACE_BEFORE_PUNCTUATION = re.compile(r"[ \t]+([.,!?;:])")
# Emoji and other pictographs (So), joiners (Cf), private use; and what modifies emoji.
_DROPPED_CATEGORIES = frozenset({"So", "Cf", "Co", "Cs"})
_EMOJI_MODIFIERS = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")  # variation, skin tone


def has_chinese(text: str) -> bool:
    """Whether ``text`` holds Chinese characters."""
    return bool(_CHINESE.search(text))


def _stop(line: str) -> str:
    """The full stop a line of its script takes."""
    return "。" if has_chinese(line) else "."


def speakable(text: str) -> str:
    """Make LLM or Markdown text fit for speech: one line, no markup, symbols in words.

    Links keep their text, bare URLs become "a link", code keeps its content without backticks,
    headings, bullets, quotes, rules and emoji go. Lines are joined with a full stop where they
    had no punctuation, so list items and headings are still heard as separate phrases. Numbers
    stay digits: espeak-ng reads them well.
    """
    text = _FENCE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("a link", text)
    text = _RULE.sub("", text)
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub("", text)
    text = _CODE.sub(r"\1", text)
    text = _STRONG.sub(r"\2", text)
    text = _EMPHASIS.sub(r"\2", text)
    for pattern, words in _SYMBOLS:
        text = pattern.sub(words, text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    text = _EMOJI_MODIFIERS.sub("", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    joined = [
        line if index == len(lines) - 1 or line[-1] in _SENTENCE_END else line + _stop(line)
        for index, line in enumerate(lines)
    ]
    return " ".join(joined)
