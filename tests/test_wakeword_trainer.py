"""The wake-word trainer end to end on a tiny budget, and ``zeropin wakeword eval``'s output.

The budget is far too small for a useful model; what is checked is that every step runs offline
and hands over a model the device loads, with a card that says how it was made and how it did.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from device.errors import ModelError
from device.wake_features import FEATURES
from device.wake_tflite import ModelCard, TFLiteWakeDetector

pytest.importorskip("tensorflow")  # the train extra; ./dev installs it

from wakeword_trainer.dataset import (  # noqa: E402
    RECORDING_COPIES,
    WINDOW,
    DataSettings,
    build_windows,
)
from wakeword_trainer.speech import split_voices  # noqa: E402
from wakeword_trainer.train import TrainSettings, train_wake_word  # noqa: E402

TINY = TrainSettings(
    data=DataSettings(positives=60, sentences=40, confusables=20, noise_windows=40, copies=1),
    epochs=1,
    mining_rounds=1,
    mining_minutes=0.5,
    mining_epochs=1,
    validation_positives_per_snr=3,
    validation_minutes=0.5,
    test_positives_per_snr=3,
    test_minutes=0.5,
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("trained")
    model = out / "hey_jarvis.tflite"
    train_wake_word("Hey  Jarvis", model, TINY, command="(test)", work_dir=out / "work", quiet=True)
    return model, out / "work" / "heldout"


def test_tiny_training_run_gives_a_model_the_device_loads(tiny_model):
    model, _ = tiny_model
    detector = TFLiteWakeDetector(model)
    assert detector.phrase == "hey jarvis"
    assert 0.3 <= detector.threshold <= 255 / 256
    audio = np.zeros(32000, dtype="<i2").tobytes()
    detector.process(audio)
    assert 0.0 <= detector.last_score <= 1.0
    assert 10_000 < model.stat().st_size < 100_000  # tens of KB, int8


def test_card_says_how_it_was_made_and_how_it_did(tiny_model):
    model, _ = tiny_model
    card = ModelCard.load(model)
    assert card.features == FEATURES
    assert set(card.metrics) >= {"false_reject_rate", "false_accepts_per_hour", "positives"}
    assert card.metrics["positives"] == 3 * 4  # three clips at each of four noise levels
    assert card.extra["command"] == "(test)"
    assert set(card.extra["data"]["heldout_voices"]).isdisjoint(card.extra["data"]["train_voices"])
    markdown = model.with_suffix(".md").read_text()
    assert '# Wake-word model card: "hey jarvis"' in markdown
    assert (
        f"| threshold | {card.threshold:.4g}, {card.trigger_level} score(s) in a row |" in markdown
    )


def test_training_windows_are_labelled_and_shaped():
    features, labels = build_windows("hey zero", split_voices(), TINY.data, quiet=True)
    assert features.shape[1:] == (49, 40)
    assert features.dtype == np.float32 and np.isfinite(features).all()
    positives = int(labels.sum())
    assert positives == 60  # one window per phrase clip with copies=1
    assert len(labels) > 2 * positives  # cut-short phrases, talk, confusables and noise
    assert WINDOW == 15840


def test_your_own_recordings_join_the_positives(tmp_path):
    """Three clips "recorded" (here: spoken by a voice the trainer would not use, at 44.1 kHz),
    each added RECORDING_COPIES times; a folder without recordings is named."""
    for n, pitch in enumerate((30, 50, 70)):
        raw = tmp_path / f"raw{n}.wav"
        subprocess.run(["espeak-ng", "-v", "en-gb-scotland", "-p", str(pitch), "-w", str(raw),
                        "hey zero"], check=True)  # fmt: skip
        subprocess.run(["sox", "-D", str(raw), "-r", "44100", str(tmp_path / f"me{n}.wav")],
                       check=True)  # fmt: skip
        raw.unlink()
    settings = replace(TINY.data, recordings=str(tmp_path))
    _, labels = build_windows("hey zero", split_voices(), settings, quiet=True)
    assert int(labels.sum()) == 60 + 3 * RECORDING_COPIES
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match=f"^{empty}: no .wav recordings in it$"):
        build_windows("hey zero", split_voices(), replace(TINY.data, recordings=str(empty)))


def zeropin_eval(model: Path, positives: Path, negatives: Path, *options: str):
    command = [sys.executable, "-m", "device.cli", "wakeword", "eval", str(model)]
    command += ["--positives", str(positives), "--negatives", str(negatives), *options]
    return subprocess.run(command, capture_output=True, text=True)


def test_eval_command_prints_the_promised_json(tiny_model):
    model, heldout = tiny_model
    result = zeropin_eval(model, heldout / "positives", heldout / "negatives", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert {"false_reject_rate", "false_accepts_per_hour", "threshold"} <= figures.keys()
    card = ModelCard.load(model)
    assert figures["threshold"] == card.threshold
    assert figures["positives"] == 12
    assert figures["false_reject_rate"] == pytest.approx(
        card.metrics["false_reject_rate"], abs=1e-4
    )


def test_eval_of_an_empty_folder_says_so(tiny_model, tmp_path):
    model, heldout = tiny_model
    result = zeropin_eval(model, tmp_path, heldout / "negatives")
    assert result.returncode == 1
    assert result.stderr.strip() == f"zeropin: {tmp_path}: no .wav files in it"
