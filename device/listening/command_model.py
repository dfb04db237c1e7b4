"""Offline commands heard by a small classifier: one label for each command phrase, or none.

Where no speech recogniser knows the language (no Chinese model runs on the device), the offline
commands are a closed set, and a small int8 network trained on them (``zeropin commands train``)
tells which one the user said, or that it was none of them (the ``_unknown`` label). A model is
two files side by side: ``zh_commands.tflite`` and its card ``zh_commands.json`` (the labels in
order, the confidence threshold, the window and the features it was trained on).

The model sees a fixed window of log-mel rows (``WINDOW_FRAMES``, 3 s) that ends a little after
the last loud part of the utterance: the utterance's end is where a command is, whatever came
before it (the wake phrase, a pause after a button press). The trainer cuts its windows with
``command_window`` too, so the model sees on the device what it was trained on.

    recognizer = CommandModelRecognizer(Path("models/commands/zh_commands.tflite"))
    recognizer.start()
    recognizer.feed(pcm)              # 16 kHz s16le mono, any chunk size
    transcript = recognizer.finish()  # Transcript(text="现在几点", ...) or text ""
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device.errors import ModelError
from device.listening.asr import Transcript
from device.listening.features import HOP_SAMPLES, LOG_FLOOR, LOG_MEL, MEL_BANDS, SAMPLE_RATE
from device.listening.interpreter import load_interpreter, read_model_file
from device.system.manifest import MANIFEST_PATH, load_manifest

log = logging.getLogger(__name__)

WINDOW_FRAMES = 150  # 3.01 s: the longest command, said slowly, with room around it
TAIL_FRAMES = 10  # the window ends 0.2 s after the last loud frame (a soft last syllable)
SMOOTH_FRAMES = 5  # loudness is averaged over 0.1 s before it is judged
LOUD_SHARE = 0.5  # a loud frame is over halfway (in dB) from the room's floor to the peak
MIN_RANGE_DB = 10.0  # less between floor and peak: no speech stands out, the window is the end
MAX_SPEECH_SECONDS = 5.0  # first to last loud frame: longer is not a command (talk)
MAX_UTTERANCE_SECONDS = 12.0  # rows kept of an utterance: its last seconds
UNKNOWN = "_unknown"  # the model's label for all that is not a command

# What a model's card records of the window; a card that differs was cut another way.
WINDOW_CARD = {
    "frames": WINDOW_FRAMES,
    "tail_frames": TAIL_FRAMES,
    "smooth_frames": SMOOTH_FRAMES,
    "loud_share": LOUD_SHARE,
    "min_range_db": MIN_RANGE_DB,
    "max_speech_seconds": MAX_SPEECH_SECONDS,
}
TRAIN_HINT = (
    "restore the shipped one with `git checkout -- models/commands/`, or make one with "
    "`zeropin commands train --language zh --out FILE.tflite` (the train extra, on a laptop)"
)
_DB_PER_LOG = 10 / np.log(10)  # rows are natural logs of power
_MAX_SPEECH_FRAMES = round(MAX_SPEECH_SECONDS * SAMPLE_RATE / HOP_SAMPLES)
_MAX_ROWS = round(MAX_UTTERANCE_SECONDS * SAMPLE_RATE / HOP_SAMPLES)


def loudness(rows: np.ndarray) -> np.ndarray:
    """Each row's power over all bands (natural log), averaged over SMOOTH_FRAMES rows."""
    if rows.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    top = rows.max(axis=1, keepdims=True)
    power = (top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))).astype(np.float64)
    kernel = np.ones(min(SMOOTH_FRAMES, power.size)) / min(SMOOTH_FRAMES, power.size)
    return np.convolve(power, kernel, mode="same").astype(np.float32)


def speech_span(rows: np.ndarray) -> tuple[int, int] | None:
    """(first, last + 1) loud rows, or None when nothing stands out of the room's floor."""
    level = loudness(rows)
    if level.size == 0:
        return None
    floor, peak = float(np.percentile(level, 10)), float(level.max())
    if (peak - floor) * _DB_PER_LOG < MIN_RANGE_DB:
        return None
    loud = np.flatnonzero(level > floor + LOUD_SHARE * (peak - floor))
    return int(loud[0]), int(loud[-1]) + 1


def command_window(rows: np.ndarray) -> tuple[np.ndarray, bool]:
    """(the WINDOW_FRAMES rows the model sees, whether the speech was too long for a command).

    The window ends TAIL_FRAMES after the last loud row (or at the end); an utterance shorter
    than it is padded in front with its quietest rows' mean: the room, as the microphone heard it.
    """
    rows = np.asarray(rows, dtype=np.float32)
    span = speech_span(rows)
    end = rows.shape[0] if span is None else min(rows.shape[0], span[1] + TAIL_FRAMES)
    window = rows[max(0, end - WINDOW_FRAMES) : end]
    too_long = span is not None and span[1] - span[0] > _MAX_SPEECH_FRAMES
    if window.shape[0] < WINDOW_FRAMES:
        if rows.shape[0]:
            quiet = rows[np.argsort(loudness(rows))[: max(1, rows.shape[0] // 10)]].mean(axis=0)
        else:
            quiet = np.full(MEL_BANDS, np.log(LOG_FLOOR), dtype=np.float32)
        pad = np.repeat(quiet[None, :], WINDOW_FRAMES - window.shape[0], axis=0)
        window = np.concatenate([pad, window])
    return window.astype(np.float32), too_long


@dataclass(frozen=True)
class CommandCard:
    """What a command model answers and how: ``<model>.json`` beside the ``.tflite``."""

    labels: tuple[str, ...]  # the model's outputs in order: command phrases, then UNKNOWN
    threshold: float  # probability (0..1) a command needs to be heard
    language: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # metrics, data, command: for people

    @classmethod
    def load(
        cls,
        model_path: Path,
        features: dict[str, Any] = LOG_MEL.card,
        window: dict[str, Any] | None = WINDOW_CARD,
        hint: str = TRAIN_HINT,
    ) -> CommandCard:
        """The card beside ``model_path``; ModelError unless it was made for ``features`` and
        ``window`` (None: a model that sees no window), naming what to do (``hint``)."""
        path = model_path.with_suffix(".json")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelError(f"{path}: the card of {model_path.name} is missing; {hint}") from exc
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ModelError(f"{path}: cannot read the model card: {exc}") from exc
        labels = data.get("labels") if isinstance(data, dict) else None
        threshold = data.get("threshold") if isinstance(data, dict) else None
        if (
            not isinstance(labels, list)
            or not all(isinstance(label, str) and label for label in labels)
            or len(labels) < 2
            or labels[-1] != UNKNOWN
        ):
            raise ModelError(f"{path}: labels must be a list of phrases ending with {UNKNOWN!r}")
        if not isinstance(threshold, int | float) or not 0 < threshold < 1:
            raise ModelError(f"{path}: threshold must be a number between 0 and 1")
        if data.get("features") != features or data.get("window") != window:
            raise ModelError(
                f"{path}: made for other features or another window than this version "
                f"computes; {hint}"
            )
        known = ("labels", "threshold", "language")
        return cls(
            labels=tuple(labels),
            threshold=float(threshold),
            language=str(data.get("language", "")),
            extra={k: v for k, v in data.items() if k not in known},
        )


def check_manifest(
    model_path: Path, content: bytes, manifest_path: Path = MANIFEST_PATH, hint: str = TRAIN_HINT
) -> bool:
    """If a manifest entry ships ``model_path``, ModelError unless ``content`` matches its
    sha256; True when checked, False for a model of one's own (no entry names it)."""
    manifest = load_manifest(manifest_path)
    for spec in manifest.values():
        if not spec.path or (manifest_path.parent / spec.path).resolve() != model_path.resolve():
            continue
        if hashlib.sha256(content).hexdigest() != spec.sha256:
            raise ModelError(
                f"{model_path} does not match its sha256 in {manifest_path} ([{spec.name}]): "
                f"changed or damaged; {hint}"
            )
        return True
    return False


def check_model_file(model_path: Path, manifest_path: Path, what: str, hint: str) -> None:
    """ModelError, naming ``what`` and how to make one (``hint``), unless the model is there, can
    be read, and is the file the manifest's sha256 names when the manifest ships it."""
    content = read_model_file(model_path, what, hint)
    if not check_manifest(model_path, content, manifest_path, hint):
        log.info("%s is not in the model manifest: its sha256 is not checked", model_path)


class CommandModelRecognizer:
    """``Recognizer`` for a closed set of commands, by a command model (see module docstring).

    ``finish`` returns the command's phrase (its label) when the model gives it at least the
    card's threshold and the speech was short enough to be a command; otherwise text "" with
    ``in_grammar`` and ``confident`` False. ``last_label`` and ``last_probability`` say what the
    model thought of the last utterance either way.
    """

    name = "command-model"

    def __init__(self, model_path: Path, manifest_path: Path = MANIFEST_PATH) -> None:
        check_model_file(model_path, manifest_path, "command model", TRAIN_HINT)
        self.model_path = model_path
        self.card = CommandCard.load(model_path)
        self.labels = self.card.labels
        self.threshold = self.card.threshold
        self._interpreter = load_interpreter(model_path, TRAIN_HINT, "command model")
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        if tuple(self._input["shape"]) != (1, WINDOW_FRAMES, MEL_BANDS, 1) or tuple(
            self._output["shape"]
        ) != (1, len(self.labels)):
            raise ModelError(
                f"{model_path}: its input {tuple(self._input['shape'])} or output "
                f"{tuple(self._output['shape'])} does not fit {WINDOW_FRAMES} rows of "
                f"{MEL_BANDS} bands and {len(self.labels)} labels; {TRAIN_HINT}"
            )
        self.last_label = UNKNOWN
        self.last_probability = 0.0
        self.start()

    def start(self) -> None:
        self._stream = LOG_MEL.stream()
        self._rows: list[np.ndarray] = []
        self._row_count = 0

    def feed(self, pcm: bytes) -> None:
        rows = self._stream.push(np.frombuffer(pcm, dtype="<i2"))
        if rows.shape[0]:
            self._rows.append(rows)
            self._row_count += rows.shape[0]
        while self._rows and self._row_count - self._rows[0].shape[0] >= _MAX_ROWS:
            self._row_count -= self._rows.pop(0).shape[0]  # only the last seconds can matter

    def finish(self) -> Transcript:
        rows = np.concatenate(self._rows) if self._rows else np.zeros((0, MEL_BANDS), np.float32)
        self.start()
        label, probability, too_long = self.classify_rows(rows[-_MAX_ROWS:])
        heard = label != UNKNOWN and probability >= self.threshold and not too_long
        if not heard:
            return Transcript(
                "", in_grammar=False, engine=self.name, confident=False, not_understood=True
            )
        return Transcript(label, in_grammar=True, engine=self.name, confident=True)

    def classify_rows(self, rows: np.ndarray) -> tuple[str, float, bool]:
        """(the likeliest label, its probability, whether the speech was too long) for the
        log-mel rows of one utterance."""
        window, too_long = command_window(rows)
        probabilities = self.probabilities(window)
        best = int(np.argmax(probabilities))
        self.last_label, self.last_probability = self.labels[best], float(probabilities[best])
        return self.last_label, self.last_probability, too_long

    def probabilities(self, window: np.ndarray) -> np.ndarray:
        """The model's probability of each label for one window (``command_window``)."""
        return run_classifier(self._interpreter, self._input, self._output, window)


def run_classifier(interpreter: Any, given: dict, taken: dict, features: np.ndarray) -> np.ndarray:
    """The probabilities a classifier gives ``features`` (one input's worth), whether it is int8
    (scaled in and out by its quantization) or float."""
    data = np.asarray(features, dtype=np.float32).reshape(given["shape"])
    if given["dtype"] == np.int8:
        scale, zero = given["quantization"]
        data = np.clip(np.round(data / scale + zero), -128, 127)
    interpreter.set_tensor(given["index"], data.astype(given["dtype"]))
    interpreter.invoke()
    out = interpreter.get_tensor(taken["index"]).reshape(-1)
    if taken["dtype"] == np.int8:
        scale, zero = taken["quantization"]
        return ((out.astype(np.float32) - zero) * scale).astype(np.float32)
    return out.astype(np.float32)
