"""A second opinion on a command the grammar did not hear: a classifier over the speech embedding.

pocketsphinx's acoustic model hears the voices it was tuned on and few others (docs/recognition.md:
held-out voices' commands were about half right at 20 dB). The speech embedding
(``device.listening.embedding_wake``) was learnt from a large body of real speech and tells words
apart across voices. A small network over its mean, maximum and spread through an utterance,
trained on many synthetic voices (``zeropin commands train --language en``), says which command
was said, or that none was (``_unknown``).

The recogniser asks it only where its grammar heard no command, and acts on its answer only when
the network is sure (the card's threshold) and the answer is a command the router runs as it is:
"set a timer" then asks for its length; "set the volume" and "take a note" need words the network
cannot give, so they stay not caught. The model is two files, as the Chinese command model is: the
``.tflite`` and its card (``.json``: the labels, each a command's phrase, then ``_unknown``; the
threshold; the features).

    rescue = CommandRescue(shipped_model(ENGLISH_COMMANDS), may_guess)
    rescue(pcm)  # "what time is it", or None
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from device.errors import ModelError
from device.listening.command_model import (
    UNKNOWN,
    CommandCard,
    check_model_file,
    run_classifier,
)
from device.listening.embedding_wake import (
    EMBED_SIZE,
    FRONT_END_SHA256,
    SAMPLE_RATE,
    SpeechEmbedding,
    embeddings_of,
    shared_embedding,
)
from device.listening.interpreter import load_interpreter
from device.system.manifest import MANIFEST_PATH

log = logging.getLogger(__name__)

POOLING = ("mean", "max", "std")
FEATURES = len(POOLING) * EMBED_SIZE
# What a rescue model's card records under ``features``; a card that differs was made another way.
CARD_FEATURES = {
    "kind": "speech-embedding-pooled",
    "sample_rate": SAMPLE_RATE,
    "pooling": list(POOLING),
    "front_end_sha256": dict(FRONT_END_SHA256),
}
TRAIN_HINT = (
    "restore the shipped one with `git checkout -- models/commands/`, or make one with "
    "`zeropin commands train --language en --out FILE.tflite` (the train extra, on a laptop)"
)


def pooled(embeddings: np.ndarray) -> np.ndarray:
    """(FEATURES,): the mean, maximum and spread of an utterance's embeddings, each EMBED_SIZE
    long; zeros for an utterance too short for one."""
    if len(embeddings) == 0:
        return np.zeros(FEATURES, dtype=np.float32)
    parts = (embeddings.mean(axis=0), embeddings.max(axis=0), embeddings.std(axis=0))
    return np.concatenate(parts).astype(np.float32)


def utterance_features(embedding: SpeechEmbedding, samples: np.ndarray) -> np.ndarray:
    """The network's input for an utterance of int16 samples, as the trainer computes it."""
    return pooled(embeddings_of(embedding, np.asarray(samples, dtype=np.int16)))


class CommandRescue:
    """``rescue(pcm)``: the phrase of the command the network is sure of, or None.

    ``may_run`` says whether the device may run a phrase on a guess (``intents.may_guess``).
    ``last_label`` and ``last_probability`` say what it thought of the last utterance either
    way."""

    def __init__(
        self,
        model_path: Path,
        may_run: Callable[[str], bool],
        manifest_path: Path = MANIFEST_PATH,
        embedding: SpeechEmbedding | None = None,
    ) -> None:
        check_model_file(model_path, manifest_path, "command rescue model", TRAIN_HINT)
        self.card = CommandCard.load(model_path, CARD_FEATURES, None, TRAIN_HINT)
        self.labels, self.threshold = self.card.labels, self.card.threshold
        self._may_run = may_run
        self._interpreter = load_interpreter(model_path, TRAIN_HINT, "command rescue model")
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        shapes = (tuple(self._input["shape"]), tuple(self._output["shape"]))
        if shapes != ((1, FEATURES), (1, len(self.labels))):
            raise ModelError(
                f"{model_path}: its input {shapes[0]} or output {shapes[1]} does not fit "
                f"{FEATURES} features and {len(self.labels)} labels; {TRAIN_HINT}"
            )
        self._embedding = embedding or shared_embedding()
        self.last_label, self.last_probability = UNKNOWN, 0.0

    def __call__(self, pcm: bytes) -> str | None:
        samples = np.frombuffer(pcm, dtype="<i2")
        probabilities = self.probabilities(utterance_features(self._embedding, samples))
        best = int(np.argmax(probabilities))
        self.last_label, self.last_probability = self.labels[best], float(probabilities[best])
        heard = (
            self.last_label != UNKNOWN
            and self.last_probability >= self.threshold
            and self._may_run(self.last_label)
        )
        level = logging.INFO if heard else logging.DEBUG  # a guess acted on shows in the log
        log.log(level, "command rescue: %r at %.3f", self.last_label, self.last_probability)
        return self.last_label if heard else None

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """The network's probability of each label for one utterance's features."""
        return run_classifier(self._interpreter, self._input, self._output, features)
