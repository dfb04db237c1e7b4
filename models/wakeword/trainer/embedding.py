"""The ``speech-embedding`` recipe: a small classifier over Google's speech embedding.

The embedding (device/listening/embedding_wake.py) was learnt from a large body of real speech,
so a classifier trained on it with the same synthetic voices carries over to people far better
than a network that learnt its features from those voices alone (models/README.md, "On real
people"). The data:

- the phrase said by the training voices, trimmed, played faster or slower, with 1.6-2.2 s of
  room before it and 0.4-0.8 s after, each clip in ``copies`` rooms; its positive windows are
  those whose last step ends 0-0.3 s after the phrase does;
- every window of synthetic talk (a quarter of it confusable phrases), and of confusable
  phrases ("hey there", "zero") and single words each said alone in a room;
- with ``--real-speech``, every window of the real talk of a quarter of its speakers
  (``real.trained_on``): people, not voices, saying other things. The phrase's own recordings
  are never trained on, and the rule is chosen on the validation half's people
  (``real.choose_on_people``).

Every window is computed by the device's own stream, so training sees what the device sees.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from device.listening.embedding_wake import (
    EMBED_SIZE,
    FIRST_STEP,
    STEP_SAMPLES,
    SpeechEmbedding,
    card_features,
    embeddings_of,
)
from drivers.audio_format import read_audio

from . import real
from .augment import RATE, Augmenter, to_float, to_int16
from .dataset import positive_jobs, said_alone, synthesize
from .settings import DataSettings
from .speech import VoiceSplit, trim_silence
from .testset import talk

EMBEDDINGS = 16  # the classifier sees 1.5 s of embeddings (each 0.78 s long): 2.3 s of audio
STRIDE = 1  # an embedding every step (100 ms)
POSITIVE_AFTER = (0.0, 0.3)  # seconds after the phrase ends that a positive window ends in
# A window that ends from this long after the phrase begins to this long before it ends holds
# only part of it, and is a negative: so the model fires after the last syllable, and its earcon
# does not sound over it (models/README.md, "On the device").
PARTIAL = (0.2, 0.15)
BEFORE, AFTER = (1.6, 2.2), (0.4, 0.8)  # seconds of room around a phrase clip
UNITS, DROPOUT = 128, 0.5
EPOCHS = 12
POSITIVE_WEIGHT = 0.25  # positives weigh a quarter of the negatives in all


def features() -> dict[str, Any]:
    return card_features(EMBEDDINGS, STRIDE)


def windows(steps: np.ndarray) -> np.ndarray:
    """(n, EMBEDDINGS, EMBED_SIZE): every window of a recording's per-step embeddings."""
    span = (EMBEDDINGS - 1) * STRIDE + 1
    if steps.shape[0] < span:
        return np.zeros((0, EMBEDDINGS, EMBED_SIZE), dtype=np.float32)
    index = np.arange(0, span, STRIDE)[None, :] + np.arange(steps.shape[0] - span + 1)[:, None]
    return steps[index]


def window_ends(steps: int) -> np.ndarray:
    """Seconds from the recording's start at which each of ``windows``' windows ends."""
    span = (EMBEDDINGS - 1) * STRIDE + 1
    # embeddings_of's row k is step FIRST_STEP + k, which ends at (step + 1) * STEP_SAMPLES
    last = FIRST_STEP + np.arange(span - 1, steps)
    return (last + 1) * STEP_SAMPLES / RATE


def whole_phrase(ends: np.ndarray, end: float) -> np.ndarray:
    """Which windows (by their ends, s) hold the whole phrase that ends at ``end``: positives."""
    return (ends >= end + POSITIVE_AFTER[0]) & (ends <= end + POSITIVE_AFTER[1])


def part_of_phrase(ends: np.ndarray, start: float, end: float) -> np.ndarray:
    """Which windows end inside the phrase (``PARTIAL``): negatives."""
    return (ends >= start + PARTIAL[0]) & (ends <= end - PARTIAL[1])


class _Windows:
    def __init__(self, seed: int, quiet: bool) -> None:
        self.embedding = SpeechEmbedding()
        self.augmenter = Augmenter(seed)
        self.rng = random.Random(seed)
        self.quiet = quiet
        self.longest_phrase = 0.0  # seconds, of the positives as spoken in their rooms

    def bar(self, items: list[Any], what: str) -> Iterable[Any]:
        return tqdm(items, desc=what, unit="clip", disable=self.quiet)

    def around(self, clip: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The clip in a room, and when (s) it starts and ends."""
        spoken = self.augmenter.speed(to_float(trim_silence(clip)))
        lead = np.zeros(int(self.rng.uniform(*BEFORE) * RATE), dtype=np.float32)
        tail = np.zeros(int(self.rng.uniform(*AFTER) * RATE), dtype=np.float32)
        audio = self.augmenter.apply(np.concatenate([lead, spoken, tail]))
        return to_int16(audio), lead.size / RATE, (lead.size + spoken.size) / RATE

    def positives(self, clips: list[np.ndarray], copies: int) -> tuple[np.ndarray, np.ndarray]:
        """(the windows that end just after the phrase, those that end inside it: ``PARTIAL``)."""
        whole, partial = [], []
        for clip in self.bar(clips * copies, "embedding the phrase"):
            if clip.size:
                audio, start, end = self.around(clip)
                self.longest_phrase = max(self.longest_phrase, end - start)
                steps = embeddings_of(self.embedding, audio)
                ends, found = window_ends(steps.shape[0]), windows(steps)
                whole.append(found[whole_phrase(ends, end)])
                partial.append(found[part_of_phrase(ends, start, end)])
        return np.concatenate(whole), np.concatenate(partial)

    def alone(self, clips: list[np.ndarray], copies: int) -> np.ndarray:
        """Every window of confusable phrases and single words, each said alone in a room."""
        return np.concatenate(
            [windows(embeddings_of(self.embedding, self.around(clip)[0]))
             for clip in self.bar(clips * copies, "embedding confusables and words") if clip.size]
        )  # fmt: skip

    def recordings(self, audio: Iterable[np.ndarray], what: str) -> np.ndarray:
        found = [windows(embeddings_of(self.embedding, a)) for a in self.bar(list(audio), what)]
        return np.concatenate(found)


def real_talk(root: Path, phrase: str) -> list[np.ndarray]:
    """The real talk to train on (every folder but the phrase's own; ``real.trained_on``), as
    int16 audio."""
    return [np.frombuffer(read_audio(f), dtype="<i2") for f in real.talk_files(root, phrase)]


def build_embedding_windows(
    phrase: str, split: VoiceSplit, settings: DataSettings, real_speech: str, quiet: bool
) -> tuple[np.ndarray, np.ndarray, float]:
    """(windows (n, EMBEDDINGS, EMBED_SIZE), labels (n,), the phrase's reach) for training.

    The reach is how far before a positive window's end the phrase began, at most (the card's
    ``phrase_reach_seconds``): the device hands the recogniser that much audio from before a
    firing, not the whole 2.3 s window with whatever was said before the phrase."""
    rng = random.Random(settings.seed)
    maker = _Windows(settings.seed, quiet)
    jobs = positive_jobs(rng, phrase, split, settings.positives, accent_share=settings.accent_share)
    positives, partial = maker.positives(
        synthesize(jobs, "speaking the phrase", quiet), settings.copies
    )
    parts = [partial, maker.alone(said_alone(rng, phrase, split, settings, quiet), settings.copies)]
    said = talk(phrase, split, settings.talk_minutes, held_out=False, seed=settings.seed + 50,
                quiet=quiet, accents=True)  # fmt: skip
    parts.append(maker.recordings([to_int16(np.concatenate(said))], "embedding talk"))
    if real_speech:
        parts.append(maker.recordings(real_talk(Path(real_speech), phrase), "embedding real talk"))
    negatives = np.concatenate(parts)
    data = np.concatenate([positives, negatives])
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    reach = math.ceil((maker.longest_phrase + POSITIVE_AFTER[1]) * 100) / 100  # never short
    return data.astype(np.float32), labels.astype(np.float32), reach


def build_model() -> Any:
    import tensorflow as tf

    layers = tf.keras.layers
    model = tf.keras.Sequential([layers.Input((EMBEDDINGS, EMBED_SIZE)), layers.Flatten()])
    for index in range(2):
        model.add(layers.Dense(UNITS))
        model.add(layers.LayerNormalization())
        model.add(layers.ReLU())
        if index == 0:
            model.add(layers.Dropout(DROPOUT))
    model.add(layers.Dense(1, activation="sigmoid"))
    return model


def train(features: np.ndarray, labels: np.ndarray, epochs: int, seed: int, quiet: bool) -> Any:
    """The classifier, trained with a cosine learning rate; positives weigh POSITIVE_WEIGHT of
    the negatives in all."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    model = build_model()
    rate = 1e-3
    model.compile(optimizer=tf.keras.optimizers.Adam(rate), loss="binary_crossentropy")
    cosine = tf.keras.callbacks.LearningRateScheduler(
        lambda epoch: rate * 0.5 * (1 + np.cos(np.pi * epoch / max(1, epochs))) + 1e-5
    )
    positives = float(labels.sum())
    weight = {0: 1.0, 1: POSITIVE_WEIGHT * (len(labels) - positives) / max(positives, 1.0)}
    model.fit(features, labels, batch_size=512, epochs=epochs, class_weight=weight,
              shuffle=True, callbacks=[cosine], verbose=0 if quiet else 2)  # fmt: skip
    return model
