"""Mandarin speech from espeak-ng: Chinese characters turned into pinyin first.

espeak-ng 1.51's ``cmn`` voice knows only a few hundred characters and reads the rest as English
letter names ("你好零" comes out as nonsense), but its ``cmn-latn-pinyin`` voice reads
tone-numbered pinyin well, tone sandhi included. pypinyin turns characters into that pinyin;
digits, Latin words and punctuation pass through (the voice reads "3" and "20" in Chinese).

    tts = MandarinSynthesizer(rate_wpm=165)
    pcm = tts.synthesize("现在是下午3点20分。")   # "xian4 zai4 shi4 xia4 wu3 3 dian3 20 fen1."

pypinyin's phrase dictionary (which picks the reading of a character from the words around it:
银行 yin2 hang2, not yin2 xing2) costs about 44 MB of memory on top of its 12 MB character
table, a third of the device's budget, so the device reads character by character, each in its
most common reading (``phrases=True`` loads it: the trainers, on a laptop).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import cache

from device.speaking.tts import EspeakSynthesizer, Synthesizer, has_chinese

__all__ = ["MANDARIN_VOICE", "BilingualSynthesizer", "MandarinSynthesizer", "has_chinese", "pinyin"]

MANDARIN_VOICE = "cmn-latn-pinyin"
# Full-width punctuation to the ASCII marks espeak-ng pauses at.
_PUNCTUATION = str.maketrans({
    "，": ", ", "。": ". ", "！": "! ", "？": "? ", "；": "; ", "：": ": ", "、": ", ",
    "（": " (", "）": ") ", "“": ' "', "”": '" ', "‘": " '", "’": "' ", "《": ' "', "》": '" ',
    "…": "... ", "—": ", ",
})  # fmt: skip
_SPACE_BEFORE_MARK = re.compile(r" ([,.!?;:)])")


@cache
def _convert() -> Callable[[str], list[str]]:
    # Without the phrase dictionary unless asked for (_with_phrases): pypinyin reads this when
    # first imported, and would otherwise load it
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")
    from pypinyin import Style, lazy_pinyin

    def convert(text: str) -> list[str]:
        return lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)

    return convert


@cache
def _with_phrases() -> None:
    """Load pypinyin's phrase dictionary, once, for every reading in this process after it."""
    _convert()
    from pypinyin import load_phrases_dict
    from pypinyin.phrases_dict import phrases_dict

    load_phrases_dict(phrases_dict)


def pinyin(text: str, phrases: bool = False) -> str:
    """``text`` with each Chinese character as tone-numbered pinyin ("ni3 hao3"), a space
    between syllables; other text as it was, full-width punctuation made ASCII. ``phrases``
    loads the phrase dictionary (44 MB), after which every reading in the process uses it."""
    if phrases:
        _with_phrases()
    pieces = [piece.translate(_PUNCTUATION) for piece in _convert()(text)]
    return _SPACE_BEFORE_MARK.sub(r"\1", " ".join(" ".join(pieces).split()))


class MandarinSynthesizer(EspeakSynthesizer):
    """espeak-ng's Mandarin voice, fed pinyin. ``variant`` is an espeak-ng voice variant
    ("f2") or "" for the voice's own."""

    def __init__(
        self,
        rate_wpm: int = 165,
        pitch: int = 50,
        volume_percent: int = 80,
        variant: str = "",
        phrases: bool = False,
    ) -> None:
        voice = f"{MANDARIN_VOICE}+{variant}" if variant else MANDARIN_VOICE
        super().__init__(voice, rate_wpm, pitch, volume_percent)
        self.phrases = phrases

    def synthesize(self, text: str) -> bytes:
        return super().synthesize(pinyin(text, self.phrases))


class BilingualSynthesizer:
    """Each sentence in the voice of its script: Chinese in the Mandarin voice (made when first
    needed, so a device that never says Chinese never loads pypinyin), the rest in ``other``.

    A Chinese wearer's device says "OK" and English names in an English voice; an English
    wearer's device reads a Chinese answer in Mandarin instead of spelling it out.
    """

    def __init__(self, other: Synthesizer, rate_wpm: int = 165, pitch: int = 50) -> None:
        self.other = other
        self.name = getattr(other, "name", "espeak-ng")
        self._rate_wpm, self._pitch = rate_wpm, pitch
        self._mandarin: MandarinSynthesizer | None = None

    @property
    def mandarin(self) -> MandarinSynthesizer:
        if self._mandarin is None:
            self._mandarin = MandarinSynthesizer(self._rate_wpm, self._pitch, volume_percent=100)
        return self._mandarin

    def synthesize(self, text: str) -> bytes:
        return (self.mandarin if has_chinese(text) else self.other).synthesize(text)
