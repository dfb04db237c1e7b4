"""The speech-embedding recipe (``--front-end speech-embedding``): trained, loaded, streamed.

A tiny model is trained once for the module, with a small tree of real recordings when
../shared/real-speech is there; the device's scorer must score what the trainer trained on.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_real_speech, small_real_speech_tree

from device.app import build_recognizer
from device.config.sources import load_config
from device.listening.embedding_wake import (
    STEP_SAMPLES,
    SpeechEmbedding,
    embeddings_of,
    shared_embedding,
)
from device.listening.tflite_wake import ModelCard, TFLiteWakeDetector, open_scorer
from device.speaking.tts import EspeakSynthesizer
from device.wakeword.eval import ScoredSet, audio_files
from device.wakeword.real_speech import DEFAULT_ROOT, half

pytest.importorskip("tensorflow")  # the train extra; ./dev installs it

from wakeword_trainer import embedding, real  # noqa: E402
from wakeword_trainer.settings import DataSettings, TrainSettings  # noqa: E402
from wakeword_trainer.train import train_wake_word  # noqa: E402

TINY = TrainSettings(
    data=DataSettings(positives=30, sentences=20, confusables=10, noise_windows=20, copies=1,
                      single_words=10, front_end="speech-embedding", talk_minutes=1.0),
    epochs=1, mining_rounds=1, mining_minutes=0.3, mining_epochs=1,
    validation_positives_per_snr=2, validation_minutes=0.3, accent_validation_minutes=0,
    test_positives_per_snr=2, test_minutes=0.3,
)  # fmt: skip


def speech(text: str) -> np.ndarray:
    audio = EspeakSynthesizer("en-us+f2", 140, 50, volume_percent=100).synthesize(text)
    room = np.random.default_rng(0).normal(0, 30, 12000).astype(np.int16)
    return np.concatenate([room, np.frombuffer(audio, dtype="<i2"), room])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("embedding")
    settings = TINY
    if DEFAULT_ROOT.is_dir():
        real_tree = small_real_speech_tree(out / "real", per_folder=8)
        settings = replace(TINY, real_speech=str(real_tree))
    model = out / "hey_zero.tflite"
    train_wake_word("hey zero", model, settings, command="(test)", quiet=True)
    return model


def test_the_device_loads_the_model_with_its_card(tiny_model):
    card = ModelCard.load(tiny_model)
    assert card.features == embedding.features()
    detector = TFLiteWakeDetector(tiny_model)
    assert detector.phrase == "hey zero" and detector.threshold == card.threshold
    # the recogniser is given as much audio from before a firing as the phrase reached in
    # training: the longest positive, and the 0.3 s a positive window could run on after it
    assert 0.6 < card.phrase_reach_seconds < 2.0
    assert detector.phrase_seconds == card.phrase_reach_seconds + 0.1 * (
        card.smoothing + card.trigger_level - 2
    )
    assert card.phrase_reach_seconds < detector.scorer.context_seconds
    markdown = tiny_model.with_suffix(".md").read_text()
    assert "a two-layer classifier\nover 16 speech embeddings" in markdown
    words = " ".join(markdown.split())
    assert "Windows that end inside the phrase" in words  # the partial phrases: negatives
    if card.metrics.get("real"):  # with ../shared/real-speech: the rule is people's
        assert "false accepts per hour in the real talk below, as the tail" in words
        assert "Synthetic voices only" not in words


def test_the_scorer_scores_what_the_trainer_trained_on(tiny_model):
    """Windows of embeddings_of (the trainer's) through the classifier give the device's
    scores, step for step, for any chunking."""
    audio = speech("hey zero, what time is it")
    per_chunk = []
    for chunk in (320, 1111, 1600):
        scorer = open_scorer(tiny_model, voice_gate=False)
        scores = [
            s for at in range(0, audio.size, chunk) for s in scorer.scores(audio[at:][:chunk])
        ]
        per_chunk.append(np.array(scores))
    np.testing.assert_array_equal(per_chunk[0], per_chunk[1])
    np.testing.assert_array_equal(per_chunk[0], per_chunk[2])
    scorer = open_scorer(tiny_model, voice_gate=False)
    # every stream starts with the scorer's quiet room before it
    heard = np.concatenate([scorer.primer, audio])
    windows = embedding.windows(embeddings_of(SpeechEmbedding(), heard))
    offline = np.array([scorer._classify(w[None]) for w in windows])
    assert len(offline) == len(per_chunk[0]) > 5
    np.testing.assert_allclose(offline, per_chunk[0], atol=1e-6)


def test_a_reset_scores_as_a_fresh_scorer_does_and_runs_no_network(tiny_model, monkeypatch):
    """The listener resets the wake word after every answer: the primed state is copied, not
    computed again (22 mel-network runs on the microphone's loop)."""
    audio = speech("hey zero, what time is it")
    fresh = list(open_scorer(tiny_model, voice_gate=False).scores(audio))
    scorer = open_scorer(tiny_model, voice_gate=False)
    list(scorer.scores(speech("the meeting is at noon")))
    runs: list[int] = []
    mels = scorer.embedding.mels
    monkeypatch.setattr(scorer.embedding, "mels", lambda samples: runs.append(1) or mels(samples))
    scorer.reset()
    assert runs == []
    assert list(scorer.scores(audio)) == fresh and len(fresh) > 20
    assert runs  # the audio itself did run it
    scorer.reset()
    assert list(scorer.scores(audio)) == fresh  # and again: the primed state was not changed


def test_the_wake_word_and_the_command_rescue_share_one_pair_of_networks(tiny_model):
    """Each loaded pair costs the daemon about 8 MB of its 150."""
    cfg = load_config(paths=[], env={}, overrides=["asr.engine=pocketsphinx"])
    rescue = build_recognizer(cfg)._rescue
    assert rescue is not None
    assert open_scorer(tiny_model).embedding is rescue._embedding is shared_embedding()


def test_windows_that_end_inside_the_phrase_are_negatives():
    """So the model fires once the phrase is over, not as it begins. Of one clip in its room,
    the positives end 0-0.3 s after the phrase, the partial ones 0.2 s after it begins to
    0.15 s before it ends: 100 ms apart, as the device scores."""
    clip = np.frombuffer(EspeakSynthesizer("en-us", 160, 50).synthesize("hey zero"), "<i2")
    maker = embedding._Windows(seed=0, quiet=True)
    whole, partial = maker.positives([clip], copies=1)
    spoken = maker.longest_phrase
    assert len(whole) == pytest.approx(0.3 / 0.1 + 1, abs=1)
    # (fewer when the room before it is short: no window ends before 2.3 s into the recording)
    assert 3 <= len(partial) <= (spoken - 0.35) / 0.1 + 1.5
    assert whole.shape[1:] == partial.shape[1:] == (16, 96)

    ends = np.round(np.arange(2.3, 5.0, 0.1), 1)  # a recording's window ends, 100 ms apart
    start, end = 2.52, 3.32  # when the phrase was said
    assert list(ends[embedding.whole_phrase(ends, end)]) == [3.4, 3.5, 3.6]
    assert list(ends[embedding.part_of_phrase(ends, start, end)]) == [2.8, 2.9, 3.0, 3.1]


def test_a_quiet_room_runs_neither_the_embedding_nor_the_classifier(tiny_model):
    scorer = open_scorer(tiny_model)
    room = np.random.default_rng(1).normal(0, 20, 5 * 16000).astype(np.int16)
    scores = list(scorer.scores(room))
    assert len(scores) == 50  # a score every 100 ms step from the start: 5 s is 50 steps
    assert set(scores) == {0.0} and scorer.model_runs == 0
    assert not scorer._embedded
    spoken = list(scorer.scores(speech("hey zero")))
    assert scorer.model_runs > 0 and len(spoken) > 0


def test_a_phrase_said_at_once_after_a_reset_is_scored(tiny_model):
    """The window is 2.2 s long, and a wearer speaks as soon as the device has answered (the
    listener resets the scorer then): every step is scored from the first, over the quiet room
    every stream starts with."""
    scorer = open_scorer(tiny_model)
    list(scorer.scores(speech("the meeting is at noon")))
    scorer.reset()
    audio = speech("hey zero")[8000:]  # 0.25 s of room before the phrase
    runs = scorer.model_runs
    scores = list(scorer.scores(audio))
    assert len(scores) == audio.size // STEP_SAMPLES
    assert scorer.model_runs - runs > 5  # the phrase's steps, run through the classifier


@needs_real_speech
def test_real_talk_is_split_three_ways_by_speaker(tiny_model):
    files = audio_files([DEFAULT_ROOT / "speech", DEFAULT_ROOT / "digits"])
    trained = [f for f in files if real.trained_on(f)]
    checking = [f for f in files if half(f) == real.VALIDATION and not real.trained_on(f)]
    assert trained and checking
    assert all(half(f) == real.VALIDATION for f in trained)
    speakers = {f.stem.split("_")[1] for f in trained if f.parent.name == "digits"}
    others = {f.stem.split("_")[1] for f in checking if f.parent.name == "digits"}
    assert not speakers & others  # a speaker's talk is trained on or checks the rule, not both
    card = json.loads(tiny_model.with_suffix(".json").read_text())
    assert card["metrics"]["real"]["test_half"]["negative_hours"] > 0


def _scored(positive_peaks: list[float], talk_peaks: list[float], files: list[str]) -> ScoredSet:
    def clip(peak: float) -> np.ndarray:
        return np.array([0.0, peak, 0.0], dtype=np.float32)

    return ScoredSet(
        [clip(p) for p in positive_peaks],
        [clip(p) for p in talk_peaks],
        3600.0 * len(talk_peaks),
        1.0,
        0.0,
        [Path(f"p{i}.wav") for i in range(len(positive_peaks))],
        [Path(f) for f in files],
        [3600.0] * len(talk_peaks),
    )


def test_the_rule_is_bounded_by_the_real_talk_of_the_validation_half():
    """Synthetic talk that scores high does not hold the rule up; real talk does, the talk the
    model was trained on as well as the talk it was not."""
    names = [f"{n}-1-0" for n in range(400)]  # LibriSpeech-style: speaker-1-0
    trained = next(n for n in names if real.trained_on(Path(n)))
    checking = next(n for n in names if half(Path(n)) == 0 and not real.trained_on(Path(n)))
    synthetic = _scored([0.95, 0.9, 0.85, 0.8], [0.99], ["talk_001"])
    people = _scored([], [0.75, 0.5], [trained, checking])
    threshold, level, smoothing = real.choose_on_people(synthetic, people, budget=0.5)
    assert (level, smoothing) == (1, 1)
    assert 0.75 < threshold <= 0.8  # over the real talk, under the synthetic clips
