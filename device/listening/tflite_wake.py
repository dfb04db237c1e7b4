"""The default wake-word engine: our own small int8 TFLite model over streaming features.

A model is two files side by side: ``hey_zero.tflite`` and its card ``hey_zero.json`` (phrase,
threshold, the features it was trained on, how it was made and how well it did). The scorer keeps
the last second of features (a window that shifts by one step at a time) and runs the model every
``STEP_FRAMES`` frames, at fixed positions in the stream, so any chunk size gives the same scores.

    detector = TFLiteWakeDetector(Path("models/wakeword/hey_zero.tflite"))
    for frame in frames:
        if detector.process(frame):
            print("wake!")

A card whose features are ``speech-embedding`` belongs to a classifier over a speech embedding
(``embedding_wake.py``); ``open_scorer`` gives each model the scorer its card names, and both
kinds score every 100 ms, so the trigger and the evaluation are the same for both.

The runtime is ``tflite_runtime`` (Python <= 3.11, numpy < 2) or else ``ai_edge_litert``
(``interpreter.py``).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device.errors import ModelError
from device.listening import embedding_wake
from device.listening.features import (
    CONTEXT_FRAMES,
    CONTEXT_SECONDS,
    FRONT_ENDS,
    HOP_SAMPLES,
    LOG_MEL,
    MEL_BANDS,
    SAMPLE_RATE,
    FrontEnd,
    front_end_for,
)
from device.listening.interpreter import TRAIN_HINT, load_interpreter
from device.listening.vad import settled_vad

log = logging.getLogger(__name__)

STEP_FRAMES = 5  # the model runs every 5 frames: 10 times a second
STEP_SAMPLES = STEP_FRAMES * HOP_SAMPLES
STEP_SECONDS = STEP_SAMPLES / SAMPLE_RATE
# The model runs only on windows with voice in them, as webrtcvad's most permissive mode (0)
# hears it in 20 ms hops; a window without any is scored 0. The model is 80% of the always-on
# path's CPU, and a quiet room, most of a wearable's day, then costs the features alone.
VOICE_GATE_MODE = 0


@dataclass(frozen=True)
class ModelCard:
    """What a wake-word model is and how well it did: ``<model>.json`` beside the ``.tflite``."""

    phrase: str
    threshold: float  # score in 0..1 at which the model fires, chosen by the trainer
    features: dict[str, Any]
    trigger_level: int = 1
    smoothing: int = 1  # scores averaged before the threshold (1: each score on its own)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # data, command, sizes: for people
    # how far before the end of a window the model fired on in training the phrase began, at
    # most; None: anywhere in its window
    phrase_reach_seconds: float | None = None

    @classmethod
    def load(cls, model_path: Path) -> ModelCard:
        path = model_path.with_suffix(".json")
        if not path.is_file():
            raise ModelError(
                f"{path}: the model card of {model_path.name} is missing; the trainer writes it "
                f"next to the model ({TRAIN_HINT})"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ModelError(f"{path}: cannot read the model card: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{path}: not a wake-word model card (expected a JSON object)")
        card = cls(
            phrase=_card_value(path, data, "phrase", str, lambda v: bool(v.strip())),
            threshold=float(_card_value(path, data, "threshold", float, lambda v: 0 < v < 1)),
            features=_card_value(path, data, "features", dict, lambda v: True),
            trigger_level=_card_value(path, data, "trigger_level", int, lambda v: v >= 1, 1),
            smoothing=_card_value(path, data, "smoothing", int, lambda v: v >= 1, 1),
            metrics=_card_value(path, data, "metrics", dict, lambda v: True, {}),
            phrase_reach_seconds=(
                _card_value(path, data, "phrase_reach_seconds", float, lambda v: v > 0)
                if data.get("phrase_reach_seconds") is not None
                else None
            ),
            extra={k: v for k, v in data.items() if k not in _CARD_KEYS},
        )
        if card.features.get("kind") == embedding_wake.KIND:
            problem = embedding_wake.card_problem(card.features)
            if problem:
                raise ModelError(
                    f"{model_path}: trained on other features than this version computes "
                    f"({problem}); retrain it ({TRAIN_HINT})"
                )
        elif front_end_for(card.features) is None:
            known = FRONT_ENDS.get(str(card.features.get("kind")), LOG_MEL).card
            changed = sorted(
                k
                for k in known.keys() | card.features.keys()
                if card.features.get(k) != known.get(k)
            )
            raise ModelError(
                f"{model_path}: trained on other features than this version computes "
                f"({', '.join(changed)} differ); retrain it ({TRAIN_HINT})"
            )
        return card

    @property
    def front_end(self) -> FrontEnd:
        front = front_end_for(self.features)
        assert front is not None, "load() refuses cards of unknown features"
        return front

    def to_json(self) -> str:
        data = {
            "phrase": self.phrase,
            "threshold": self.threshold,
            "trigger_level": self.trigger_level,
            "smoothing": self.smoothing,
            "features": self.features,
            "metrics": self.metrics,
            **(
                {"phrase_reach_seconds": self.phrase_reach_seconds}
                if self.phrase_reach_seconds
                else {}
            ),
            **self.extra,
        }
        return json.dumps(data, indent=2) + "\n"


_CARD_KEYS = (
    "phrase",
    "threshold",
    "features",
    "trigger_level",
    "smoothing",
    "metrics",
    "phrase_reach_seconds",
)
_CARD_RULES = {
    "phrase": "a non-empty string",
    "threshold": "a number between 0 and 1",
    "features": "a table",
    "trigger_level": "a whole number of at least 1",
    "smoothing": "a whole number of at least 1",
    "metrics": "a table",
    "phrase_reach_seconds": "a number of seconds above 0",
}


def _card_value(
    path: Path,
    data: dict[str, Any],
    key: str,
    kind: type,
    ok: Callable[[Any], bool],
    default: Any = None,
) -> Any:
    """``data[key]`` if it is of ``kind`` and ``ok``; else ModelError naming the card and key."""
    if key not in data and default is not None:
        return default
    value = data.get(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) or not ok(value):
        problem = "missing" if key not in data else f"got {value!r}"
        raise ModelError(f"{path}: {key} must be {_CARD_RULES[key]} ({problem})")
    return value


class StreamingScorer:
    """Wake-word scores (0..1) for a stream of 16 kHz int16 audio, one per ``STEP_SECONDS``.

    Scores start once a whole second of features is buffered; each one covers the second of
    audio up to its position. Positions are counted from the start of the stream (or the last
    ``reset``), never from chunk boundaries. With ``voice_gate`` a window in which webrtcvad
    heard no voice is scored 0 without running the model (see ``VOICE_GATE_MODE``);
    ``model_runs`` counts the windows that were scored by it.
    """

    def __init__(self, model_path: Path, voice_gate: bool = True) -> None:
        self.model_path = model_path
        self._vad = settled_vad(VOICE_GATE_MODE) if voice_gate else None
        self.model_runs = 0
        self._interpreter = load_interpreter(model_path)
        self.card = ModelCard.load(model_path)
        self.context_seconds = CONTEXT_SECONDS  # the audio one score covers
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        shape = tuple(self._input["shape"])
        if shape not in ((1, CONTEXT_FRAMES, MEL_BANDS, 1), (1, CONTEXT_FRAMES, MEL_BANDS)):
            raise ModelError(
                f"{model_path}: input shape {shape} does not match {CONTEXT_FRAMES} frames of "
                f"{MEL_BANDS} mel bands; retrain it ({TRAIN_HINT})"
            )
        self._in_scale, self._in_zero = self._input["quantization"]
        self._out_scale, self._out_zero = self._output["quantization"]
        self.reset()

    def reset(self) -> None:
        try:
            self._stream = self.card.front_end.stream()
        except ImportError as exc:  # the micro front end's package is missing
            raise ModelError(f"{self.model_path}: {exc}") from exc
        self._rows = np.zeros((CONTEXT_FRAMES, MEL_BANDS), dtype=np.float32)
        self._count = 0  # rows since the start or the last reset
        self._unheard = np.zeros(0, dtype=np.int16)  # samples short of a whole hop for the VAD
        self._hops = 0  # hops the VAD has heard since the start or the last reset
        self._voiced: deque[int] = deque()  # those with voice, from the window's start on

    @property
    def features(self) -> np.ndarray:
        """The window the model sees: the last CONTEXT_FRAMES feature rows, oldest first."""
        return self._rows.copy()

    def scores(self, samples: np.ndarray) -> Iterator[float]:
        """Feed int16 samples; yields the score of every step they complete."""
        self._listen_for_voice(samples)
        for row in self._stream.push(samples):
            self._rows = np.concatenate((self._rows[1:], row[None, :]))
            self._count += 1
            # every STEP_FRAMES rows, once a whole window of real audio is in
            if self._count % STEP_FRAMES == 0 and self._count >= CONTEXT_FRAMES:
                yield self.score_window(self._rows) if self._voice_in_window() else 0.0

    def _listen_for_voice(self, samples: np.ndarray) -> None:
        """Run the VAD over every whole 20 ms hop of the stream, remembering those with voice."""
        vad = self._vad
        if vad is None:
            return
        pending = np.concatenate((self._unheard, np.asarray(samples, dtype=np.int16)))
        whole = pending.size - pending.size % HOP_SAMPLES
        for at in range(0, whole, HOP_SAMPLES):
            if vad.is_speech(pending[at : at + HOP_SAMPLES].tobytes(), SAMPLE_RATE):
                self._voiced.append(self._hops)
            self._hops += 1
        self._unheard = pending[whole:]

    def _voice_in_window(self) -> bool:
        """Whether the VAD heard voice in a hop the window's rows start in, or the one before.

        Row ``r`` starts at hop ``r``, so the window of rows ``count - CONTEXT_FRAMES`` to
        ``count - 1`` starts in those hops, all heard by now. Hops the VAD heard past them
        depend on the chunk size, so they are left out: scores stay the same for any chunks."""
        if self._vad is None:
            return True
        last = self._count - 1
        first = last - CONTEXT_FRAMES
        while self._voiced and self._voiced[0] < first:  # windows only move on
            self._voiced.popleft()
        return bool(self._voiced) and self._voiced[0] <= last

    def score_window(self, rows: np.ndarray) -> float:
        """The model's score for one window of CONTEXT_FRAMES feature rows."""
        features = rows.reshape(self._input["shape"])
        if self._input["dtype"] == np.int8:
            features = np.clip(np.round(features / self._in_scale + self._in_zero), -128, 127)
        self._interpreter.set_tensor(self._input["index"], features.astype(self._input["dtype"]))
        self._interpreter.invoke()
        self.model_runs += 1
        out = self._interpreter.get_tensor(self._output["index"]).reshape(-1)[0]
        if self._output["dtype"] == np.int8:
            return float((int(out) - self._out_zero) * self._out_scale)
        return float(out)


Scorer = StreamingScorer | embedding_wake.EmbeddingScorer


def open_scorer(model_path: Path, voice_gate: bool = True) -> Scorer:
    """The scorer for the kind of model the card beside ``model_path`` names."""
    if not model_path.is_file():  # before its card: the model is what is missing
        raise ModelError(f"wake-word model {model_path} not found; {TRAIN_HINT}")
    card = ModelCard.load(model_path)
    if card.features.get("kind") == embedding_wake.KIND:
        scorer = embedding_wake.EmbeddingScorer(model_path, card.features, voice_gate)
        scorer.card = card
        return scorer
    return StreamingScorer(model_path, voice_gate)


class ScoreTrigger:
    """Fires when ``level`` smoothed scores in a row reach ``threshold``, then not again for
    ``refractory_steps`` scores. A smoothed score is the mean of the last ``smoothing`` scores
    (those before the first count as 0): one score just over the threshold between low ones is
    not enough, and a phrase that scores a little under it for a few steps is still heard, as
    posterior smoothing in Chen et al., "Small-footprint keyword spotting using deep neural
    networks" (2014)."""

    def __init__(
        self, threshold: float, level: int = 1, refractory_steps: int = 0, smoothing: int = 1
    ) -> None:
        self.threshold = threshold
        self.level = level
        self.refractory_steps = refractory_steps
        self.smoothing = smoothing
        self.reset()

    def reset(self) -> None:
        self._run = 0
        self._quiet = 0
        self._recent = deque([0.0] * self.smoothing, maxlen=self.smoothing)

    def update(self, score: float) -> bool:
        self._recent.append(score)  # also while quiet: the mean is over the last scores
        if self._quiet > 0:
            self._quiet -= 1
            return False
        smoothed = sum(self._recent) / self.smoothing
        self._run = self._run + 1 if smoothed >= self.threshold else 0
        if self._run < self.level:
            return False
        self._run = 0
        self._quiet = self.refractory_steps
        return True


class TFLiteWakeDetector:
    """``WakeWordDetector`` over a ZeroPin wake-word model (see ``zeropin wakeword train``).

    ``threshold``, ``trigger_level`` and ``smoothing`` default to the model card's;
    ``refractory_seconds`` keeps one utterance from firing twice.
    """

    name = "tflite"

    def __init__(
        self,
        model_path: Path,
        threshold: float | None = None,
        trigger_level: int | None = None,
        refractory_seconds: float = 2.0,
        smoothing: int | None = None,
    ) -> None:
        self.scorer = open_scorer(model_path)
        card = self.scorer.card
        self.phrase = card.phrase
        self.trigger = ScoreTrigger(
            threshold if threshold is not None else card.threshold,
            trigger_level if trigger_level is not None else card.trigger_level,
            round(refractory_seconds / STEP_SECONDS),
            smoothing if smoothing is not None else card.smoothing,
        )
        self.last_score = 0.0

    @property
    def threshold(self) -> float:
        return self.trigger.threshold

    @property
    def phrase_seconds(self) -> float:
        """How far back the phrase can begin when the detector fires: as far back in the oldest
        score's window (the first of the scores averaged for the first of the trigger level's
        smoothed scores) as a phrase reached in training, or its whole window, and the steps
        since."""
        steps = (self.trigger.smoothing - 1) + (self.trigger.level - 1)
        reach = self.scorer.card.phrase_reach_seconds or self.scorer.context_seconds
        return min(reach, self.scorer.context_seconds) + steps * STEP_SECONDS

    def process(self, frame: bytes) -> bool:
        fired = False
        for score in self.scorer.scores(np.frombuffer(frame, dtype="<i2")):
            self.last_score = score
            fired = self.trigger.update(score) or fired
        return fired

    def reset(self) -> None:
        """Forget buffered audio: nothing heard before (e.g. while the device spoke) can fire."""
        self.scorer.reset()
        self.trigger.reset()
