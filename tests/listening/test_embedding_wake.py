"""The speech-embedding front end: the networks from pyopen-wakeword, checked and streamed.

A model's classifier is tested in tests/trainer/test_embedding_recipe.py (it needs the trainer);
here the front end alone, on espeak-ng speech.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from device.errors import ModelError
from device.listening import embedding_wake
from device.listening.embedding_wake import (
    EMBED_MELS,
    EMBED_SIZE,
    FRONT_END_SHA256,
    STEP_MELS,
    STEP_SAMPLES,
    EmbeddingStream,
    SpeechEmbedding,
    card_features,
    card_problem,
    embeddings_of,
)
from device.listening.tflite_wake import ModelCard
from device.speaking.tts import EspeakSynthesizer


def speech(text: str, voice: str = "en-us+f2") -> np.ndarray:
    audio = EspeakSynthesizer(voice, 150, 50, volume_percent=100).synthesize(text)
    lead = np.zeros(8000, dtype=np.int16)
    return np.concatenate([lead, np.frombuffer(audio, dtype="<i2"), lead])


@pytest.fixture(scope="module")
def embedding() -> SpeechEmbedding:
    return SpeechEmbedding()


@pytest.mark.parametrize("chunk", [160, 777, 1600, 4000])
def test_the_stream_gives_the_same_rows_for_any_chunking(embedding, chunk):
    samples = speech("what time is it")
    whole = EmbeddingStream(embedding).push(samples)
    stream = EmbeddingStream(embedding)
    parts = [stream.push(samples[at : at + chunk]) for at in range(0, samples.size, chunk)]
    chunked = np.concatenate(parts)
    assert chunked.shape == whole.shape == (samples.size // STEP_SAMPLES, STEP_MELS, 32)
    np.testing.assert_array_equal(chunked, whole)


def test_speech_and_silence_give_different_embeddings(embedding):
    talk = embeddings_of(embedding, speech("hey zero, set a timer for five minutes"))
    silence = embeddings_of(embedding, np.zeros(3 * 16000, dtype=np.int16))
    assert talk.shape[1] == silence.shape[1] == EMBED_SIZE
    # every step after the first whole window: 3 s is 30 steps, the first 7 have no embedding
    assert silence.shape[0] == 30 - EMBED_MELS // STEP_MELS
    assert np.ptp(silence, axis=0).max() < 1e-3  # silence: the same embedding every step
    assert np.abs(talk - silence[0]).max() > 1.0


def test_a_card_for_other_embedding_settings_is_refused_naming_them():
    assert card_problem(card_features(16, 1)) is None
    wrong = card_features(16, 1) | {"step_mels": 8}
    assert card_problem(wrong) == "step_mels differ"
    assert "stride must be one of 1 (got 2)" in str(card_problem(card_features(16, 2)))
    assert "embeddings must be" in str(card_problem(card_features(0, 1)))


def test_a_model_trained_on_other_networks_is_refused(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\0\0\0\0TFL3")
    features = card_features(16, 1)
    features["front_end_sha256"] = dict(FRONT_END_SHA256, **{"embedding_model.tflite": "0" * 64})
    card = {"phrase": "hey zero", "threshold": 0.5, "features": features}
    model.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"front_end_sha256 differ\); retrain it"):
        ModelCard.load(model)


def test_without_the_package_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(embedding_wake.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="pip install pyopen-wakeword==1.1.0"):
        SpeechEmbedding()


def test_a_changed_network_in_the_package_is_refused(monkeypatch, tmp_path):
    for name in FRONT_END_SHA256:
        shutil.copy(embedding_wake.front_end_dir() / name, tmp_path / name)
    changed = bytearray((tmp_path / "embedding_model.tflite").read_bytes())
    changed[-1] ^= 0xFF
    (tmp_path / "embedding_model.tflite").write_bytes(bytes(changed))
    monkeypatch.setattr(embedding_wake, "front_end_dir", lambda: tmp_path)
    with pytest.raises(
        ModelError, match=r"embedding_model.tflite: not the network .*expected c0aea21eb84a"
    ):
        SpeechEmbedding()


def test_the_installed_package_holds_the_pinned_networks():
    folder = embedding_wake.front_end_dir()
    assert folder.parent.name == "pyopen_wakeword"
    for name, digest in FRONT_END_SHA256.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
