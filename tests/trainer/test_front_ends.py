"""The trainer and the device see the same features, whichever front end a model is made for."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

from device.config.sources import load_config
from device.errors import ModelError
from device.listening.features import CONTEXT_FRAMES, FRONT_ENDS, LOG_MEL, MEL_BANDS, MICRO
from device.listening.tflite_wake import ModelCard, StreamingScorer, TFLiteWakeDetector
from device.speaking.tts import EspeakSynthesizer
from device.system.paths import resolved_wake_model

pytest.importorskip("tensorflow")  # the train extra; ./dev installs it

from wakeword_trainer.dataset import WindowMaker, build_windows  # noqa: E402
from wakeword_trainer.mining import stream_windows  # noqa: E402
from wakeword_trainer.settings import DataSettings, TrainSettings  # noqa: E402
from wakeword_trainer.speech import split_voices  # noqa: E402
from wakeword_trainer.train import train_wake_word  # noqa: E402

SHIPPED = resolved_wake_model(load_config(paths=[], env={}))


def speech(text: str) -> bytes:
    return EspeakSynthesizer("en-us+f2", 140, 50, volume_percent=100).synthesize(text)


def quiet(seconds: float) -> bytes:
    return np.random.default_rng(0).normal(0, 20, int(16000 * seconds)).astype("<i2").tobytes()


def model_for(front, folder):
    """The shipped network under a card of ``front``'s features: the same input shape."""
    model = folder / "hey_zero.tflite"
    shutil.copy(SHIPPED, model)
    card = ModelCard.load(SHIPPED)
    model.with_suffix(".json").write_text(replace(card, features=dict(front.card)).to_json())
    return model


@pytest.mark.parametrize("front", [LOG_MEL, MICRO], ids=lambda f: f.kind)
def test_mined_windows_are_the_windows_the_device_scores(front, tmp_path):
    audio = np.frombuffer(quiet(0.7) + speech("the meeting is at noon, hey zero"), dtype="<i2")
    scorer = StreamingScorer(model_for(front, tmp_path))
    seen = []
    for at in range(0, audio.size, 700):
        for _ in scorer.scores(audio[at : at + 700]):
            seen.append(scorer.features)
    mined = stream_windows(audio.astype(np.float32) / 32768, front)
    assert len(seen) == len(mined) > 10
    np.testing.assert_allclose(np.array(seen), mined, atol=1e-4)


def test_a_stateful_front_end_hears_a_warmup_before_each_training_window():
    maker = WindowMaker(0, [], MICRO)
    assert maker.window == MICRO.span() == 16000
    assert maker.span == 16000 + MICRO.warmup_samples
    cut = maker.noise_window()[0]
    assert cut.size == maker.span
    assert MICRO.rows(cut)[-CONTEXT_FRAMES:].shape == (CONTEXT_FRAMES, MEL_BANDS)
    assert WindowMaker(0, [], LOG_MEL).span == LOG_MEL.span() == 15840  # stateless: no warm-up


def test_a_model_trained_on_the_micro_front_end_is_loaded_with_it(tmp_path):
    settings = TrainSettings(
        data=DataSettings(positives=30, sentences=20, confusables=10, noise_windows=20, copies=1,
                          single_words=10, front_end="micro"),
        epochs=1, mining_rounds=1, mining_minutes=0.3, mining_epochs=1,
        validation_positives_per_snr=2, validation_minutes=0.3, accent_validation_minutes=0,
        test_positives_per_snr=2, test_minutes=0.3,
    )  # fmt: skip
    features, labels = build_windows("hey zero", split_voices(), settings.data, quiet=True)
    assert features.shape[1:] == (CONTEXT_FRAMES, MEL_BANDS) and labels.sum() == 30
    assert features.min() >= 0  # the micro front end's scale, not log-mel's
    model = tmp_path / "hey_zero.tflite"
    train_wake_word("hey zero", model, settings, command="(test)", quiet=True)
    card = ModelCard.load(model)
    assert card.features == MICRO.card and card.front_end is FRONT_ENDS["micro"]
    assert "TFLite Micro (noise-suppressed, PCAN) features" in model.with_suffix(".md").read_text()
    detector = TFLiteWakeDetector(model)
    detector.process(quiet(1.5))
    assert 0.0 <= detector.last_score <= 1.0


def test_a_card_for_features_nobody_computes_is_refused_naming_them(tmp_path):
    model = model_for(MICRO, tmp_path)
    card = ModelCard.load(model)
    wrong = {**MICRO.card, "pooled_steps": 3}
    model.with_suffix(".json").write_text(replace(card, features=wrong).to_json())
    with pytest.raises(ModelError, match=r"\(pooled_steps differ\); retrain it"):
        ModelCard.load(model)
