"""Mandarin speech: Chinese characters read as pinyin by espeak-ng's cmn-latn-pinyin voice."""

from __future__ import annotations

import subprocess

import numpy as np

from device.speaking.mandarin import (
    BilingualSynthesizer,
    MandarinSynthesizer,
    has_chinese,
    pinyin,
)
from device.speaking.tts import EspeakSynthesizer


def test_characters_become_tone_numbered_pinyin_and_the_rest_passes():
    assert pinyin("你好零，现在是下午3点20分。") == (
        "ni3 hao3 ling2, xian4 zai4 shi4 xia4 wu3 3 dian3 20 fen1."
    )
    assert pinyin("好的OK（你）") == "hao3 de5 OK ( ni3)"
    assert pinyin("银行", phrases=True) == "yin2 hang2"  # a word's reading, on a laptop
    assert pinyin("hello world") == "hello world"


def test_has_chinese():
    assert has_chinese("现在几点") and has_chinese("OK 好")
    assert not has_chinese("what time is it") and not has_chinese("¿Dónde está?")


def _seconds(pcm: bytes) -> float:
    return len(pcm) / 32000


def test_the_mandarin_voice_says_a_chinese_sentence_as_syllables():
    tts = MandarinSynthesizer(variant="f2", volume_percent=100)
    pcm = tts.synthesize("你好零，现在几点？")
    samples = np.frombuffer(pcm, dtype="<i2")
    assert 1.0 < _seconds(pcm) < 3.5  # six syllables and a pause
    assert np.abs(samples).max() > 3000


def _phonemes(voice: str, text: str) -> str:
    return subprocess.run(
        ["espeak-ng", "-q", "-x", "-v", voice, text], capture_output=True, text=True, check=True
    ).stdout


def test_espeak_ng_reads_pinyin_in_mandarin_but_most_characters_in_english():
    # why the device reads pinyin: the cmn voice switches to English for characters it lacks
    assert "(en)" in _phonemes("cmn", "你好零，现在几点")
    said = _phonemes("cmn-latn-pinyin", pinyin("你好零，现在几点"))
    assert "(en)" not in said and said.split("_|")[0].strip() == "n'i35"  # ni3, sandhi


def test_each_sentence_is_read_in_the_voice_of_its_script():
    english = EspeakSynthesizer("en-us", volume_percent=100)
    both = BilingualSynthesizer(english)
    assert both.synthesize("It's 3:07 PM.") == english.synthesize("It's 3:07 PM.")
    assert both._mandarin is None  # an English sentence never loads the Chinese reader
    chinese = both.synthesize("现在是下午3点7分。")
    assert chinese == MandarinSynthesizer(volume_percent=100).synthesize("现在是下午3点7分。")
