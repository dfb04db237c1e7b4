"""The shipped "hey zero" model on speech it never trained on, at the threshold in its card.

Held-out espeak-ng voices and variants (named in the card) say the phrase in rooms with noise at
several signal-to-noise ratios; the same voices talk for ten minutes without it, a quarter of the
sentences confusable. The threshold is the card's: nothing is tuned here.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from device.config.sources import load_config
from device.listening.tflite_wake import ModelCard, StreamingScorer
from device.system.paths import resolved_wake_model
from device.wakeword.eval import firings, score_folders, stream_scores

pytest.importorskip("scipy")  # the trainer's data tools (the train extra)

from wakeword_trainer.speech import CONFUSABLES, VoiceSplit, random_voice  # noqa: E402
from wakeword_trainer.testset import write_test_set  # noqa: E402

MODEL = resolved_wake_model(load_config(paths=[], env={}))
CARD = ModelCard.load(MODEL)
RULE = (CARD.threshold, CARD.trigger_level, CARD.smoothing)  # how the device fires
DATA = CARD.extra["data"]
HELD_OUT = VoiceSplit(
    train_voices=(),
    train_variants=(),
    heldout_voices=tuple(DATA["heldout_voices"]),
    heldout_variants=tuple(DATA["heldout_variants"]),
)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heldout")
    # a seed of its own: not the trainer's validation or test sets
    positives, negatives = write_test_set(
        CARD.phrase,
        HELD_OUT,
        folder,
        positives_per_snr=30,
        negative_minutes=10,
        seed=31,
        quiet=True,
    )
    return score_folders(MODEL, positives, negatives)


def test_card_figures_meet_the_targets():
    """Issue 4's targets, on the card's held-out test (400 clips, 8 h of talk)."""
    assert CARD.metrics["false_reject_rate"] < 0.05
    assert CARD.metrics["false_accepts_per_hour"] < 0.5


def test_card_figures_rest_on_enough_audio():
    assert CARD.metrics["positives"] >= 400
    # enough talk for the false-accept figure to mean it: in 2 h one is 0.5 per hour, the target
    assert CARD.metrics["negative_hours"] >= 8


def test_recall_on_held_out_voices_in_noise_is_what_the_card_says(scored):
    """A fresh held-out set (120 clips), at the card's threshold: false rejects within what 120
    clips allow of the card's figure (three standard errors), clean speech better than 5 dB."""
    result = scored.at(*RULE)
    assert result.positives == 120
    rate = CARD.metrics["false_reject_rate"]
    allowed = rate + 3 * (rate * (1 - rate) / 120) ** 0.5
    missed = [p.relative_to(p.parents[1]) for p in scored.false_rejects(*RULE)]
    assert result.false_reject_rate <= allowed, missed
    clean = sum(p.parts[0] == "clean" for p in missed)
    noisiest = sum(p.parts[0] == "snr5db" for p in missed)
    assert clean <= noisiest, missed


def test_false_accepts_in_ten_minutes_of_talk(scored):
    """At the card's rate (under 0.5 per hour), ten minutes of talk should give none; one is
    allowed (under a one in twelve chance), two or more says the card is wrong."""
    result = scored.at(*RULE)
    assert result.negative_hours >= 10 / 60
    assert result.false_accepts <= 1


def test_confusable_phrases_seldom_wake_it():
    """Each confusable said by 10 held-out speakers (270 utterances): at most 2% wake it. (None
    at all is luck on a smaller draw: models/README.md.)"""
    rng = random.Random(5)
    scorer = StreamingScorer(MODEL)
    fired, said = [], 0
    for text in CONFUSABLES:
        for _ in range(10):
            voice = random_voice(rng, HELD_OUT.heldout_voices, HELD_OUT.heldout_variants)
            audio = np.frombuffer(voice.say(text), dtype="<i2")
            said += 1
            if firings(stream_scores(scorer, audio), *RULE):
                fired.append((text, voice))
    assert said == 10 * len(CONFUSABLES)
    assert len(fired) <= 0.02 * said, fired


def test_test_set_files_are_where_eval_looks(tmp_path: Path):
    positives, negatives = write_test_set(
        CARD.phrase,
        HELD_OUT,
        tmp_path,
        positives_per_snr=1,
        negative_minutes=0.2,
        file_minutes=0.1,
        seed=2,
        quiet=True,
    )
    assert sorted(p.name for p in positives.iterdir()) == ["clean", "snr10db", "snr20db", "snr5db"]
    assert len(list(negatives.glob("*.wav"))) >= 2
