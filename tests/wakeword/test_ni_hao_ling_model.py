"""The shipped "你好零" (ni hao ling) model, loaded as the device loads it, on Mandarin it never
trained on: espeak-ng's Mandarin voice (the device's MandarinSynthesizer) with the variants the
card holds out, in a room with noise. The rule is the card's: nothing is tuned here.
"""

from __future__ import annotations

import numpy as np
import pytest

from device.listening.tflite_wake import ModelCard, TFLiteWakeDetector
from device.speaking.mandarin import MandarinSynthesizer
from device.system.manifest import load_manifest, shipped_file

pytest.importorskip("scipy")  # the trainer's rooms and noise (the train extra)

from wakeword_trainer.augment import RATE, Augmenter, to_float, to_int16  # noqa: E402
from wakeword_trainer.chinese import EVERYDAY, split_voices  # noqa: E402

MODEL = shipped_file(load_manifest()["wakeword-ni-hao-ling"])  # checked against its sha256
CARD = ModelCard.load(MODEL)
# eight of the variants the network never heard, spread through the card's list
SPEAKERS = CARD.extra["data"]["heldout_variants"][::3][:8]


def in_a_room(text: str, variant: str, seed: int) -> bytes:
    """``text`` said by the Mandarin voice with ``variant``, about a second of the room around
    it: echo and noise 20 dB under the speech."""
    rng = np.random.default_rng(seed)
    tts = MandarinSynthesizer(int(rng.integers(140, 190)), int(rng.integers(35, 65)),
                              volume_percent=100, variant=variant)  # fmt: skip
    speech = to_float(np.frombuffer(tts.synthesize(text), dtype="<i2"))
    pad = np.zeros(RATE, dtype=np.float32)
    audio = Augmenter(seed).apply(np.concatenate([pad, speech, pad]), snr_db=20.0)
    return to_int16(audio).tobytes()


def fires(audio: bytes) -> bool:
    detector = TFLiteWakeDetector(MODEL)
    frame = 960  # 30 ms, as the listener's frames
    return any(detector.process(audio[i : i + frame]) for i in range(0, len(audio), frame))


def test_the_card_is_the_chinese_one():
    assert CARD.phrase == "你好零"
    assert CARD.extra["data"]["language"] == "zh"
    assert len(SPEAKERS) == 8
    assert not set(SPEAKERS) & set(split_voices().train_variants)


def test_fires_on_the_phrase_said_by_held_out_variants_in_a_room():
    missed = [v for n, v in enumerate(SPEAKERS) if not fires(in_a_room("你好零", v, seed=n))]
    assert len(missed) <= 1, missed


def test_everyday_chinese_does_not_wake_it():
    woke = [
        (text, variant)
        for n, (text, variant) in enumerate(zip(EVERYDAY[:8], SPEAKERS, strict=True))
        if fires(in_a_room(text, variant, seed=100 + n))
    ]
    assert woke == []
