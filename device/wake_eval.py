"""``zeropin wakeword eval``: false rejects and false accepts of a wake-word model on WAV files.

Positives are clips that each contain the phrase once: a clip counts as heard if the model fires
anywhere in it. Negatives are any recordings without the phrase, long ones included: every firing
is a false accept, and they are counted per hour of negative audio. Each file is streamed through
the same scorer the device runs, after a second of silence (the device is always listening, so
it has a full second of context when someone speaks) and followed by half a second more.

    result = evaluate(Path("hey_zero.tflite"), Path("test/positives"), Path("test/negatives"))
    print(result.false_reject_rate, result.false_accepts_per_hour)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from device.errors import ModelError
from device.wake_features import SAMPLE_RATE
from device.wake_tflite import STEP_SECONDS, ModelCard, ScoreTrigger, StreamingScorer
from drivers.audio_format import read_wav

LEAD_IN_SECONDS = 1.0
TAIL_SECONDS = 0.5
REFRACTORY_SECONDS = 2.0  # as the listener: one utterance is one firing


@dataclass(frozen=True)
class EvalResult:
    threshold: float
    trigger_level: int  # scores in a row at the threshold needed to fire
    false_reject_rate: float
    false_accepts_per_hour: float
    positives: int
    false_rejects: int
    negative_hours: float
    false_accepts: int
    cpu_per_audio_second: float  # scoring CPU time over audio time, on this machine

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wav_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ModelError(f"{folder}: no such folder of WAV files")
    files = sorted(folder.rglob("*.wav"))
    if not files:
        raise ModelError(f"{folder}: no .wav files in it")
    return files


def stream_scores(scorer: StreamingScorer, samples: np.ndarray) -> np.ndarray:
    """Scores for one recording, from a fresh scorer state, with the lead-in and tail."""
    scorer.reset()
    lead = np.zeros(int(LEAD_IN_SECONDS * SAMPLE_RATE), dtype=np.int16)
    tail = np.zeros(int(TAIL_SECONDS * SAMPLE_RATE), dtype=np.int16)
    return np.fromiter(scorer.scores(np.concatenate([lead, samples, tail])), dtype=np.float32)


def firings(scores: np.ndarray, threshold: float, level: int = 1) -> int:
    trigger = ScoreTrigger(threshold, level, round(REFRACTORY_SECONDS / STEP_SECONDS))
    return sum(trigger.update(float(s)) for s in scores)


@dataclass
class ScoredSet:
    """Scores of every positive clip and every negative recording: threshold-free."""

    positives: list[np.ndarray]
    negatives: list[np.ndarray]
    negative_seconds: float
    audio_seconds: float
    cpu_seconds: float
    positive_files: list[Path]

    def false_rejects(self, threshold: float, level: int = 1) -> list[Path]:
        """The positive clips the model does not fire on."""
        return [
            path
            for path, scores in zip(self.positive_files, self.positives, strict=True)
            if firings(scores, threshold, level) == 0
        ]

    def at(self, threshold: float, level: int = 1) -> EvalResult:
        rejects = len(self.false_rejects(threshold, level))
        accepts = sum(firings(s, threshold, level) for s in self.negatives)
        hours = self.negative_seconds / 3600
        return EvalResult(
            threshold=threshold,
            trigger_level=level,
            false_reject_rate=rejects / len(self.positives) if self.positives else float("nan"),
            false_accepts_per_hour=accepts / hours if hours else float("nan"),
            positives=len(self.positives),
            false_rejects=rejects,
            negative_hours=round(hours, 3),
            false_accepts=accepts,
            cpu_per_audio_second=self.cpu_seconds / self.audio_seconds,
        )


Progress = Callable[[list[Path], str], Iterable[Path]]  # (files, what) -> the files, reported


def score_folders(
    model: Path, positives: Path, negatives: Path, progress: Progress | None = None
) -> ScoredSet:
    scorer = StreamingScorer(model)
    scored = ScoredSet([], [], 0.0, 0.0, 0.0, wav_files(positives))
    for files, into, what in (
        (scored.positive_files, scored.positives, "scoring positives"),
        (wav_files(negatives), scored.negatives, "scoring negatives"),
    ):
        for path in progress(files, what) if progress else files:
            try:
                samples = np.frombuffer(read_wav(path), dtype="<i2")
            except (ValueError, OSError) as exc:  # read_wav names the file
                raise ModelError(str(exc)) from exc
            started = time.thread_time()
            into.append(stream_scores(scorer, samples))
            scored.cpu_seconds += time.thread_time() - started
            seconds = samples.size / SAMPLE_RATE + LEAD_IN_SECONDS + TAIL_SECONDS
            scored.audio_seconds += seconds
            if into is scored.negatives:
                scored.negative_seconds += samples.size / SAMPLE_RATE
    return scored


def evaluate(
    model: Path, positives: Path, negatives: Path, threshold: float | None = None
) -> EvalResult:
    """The model's figures on two folders, at ``threshold`` (default: its card's)."""
    scored = score_folders(model, positives, negatives)
    card = ModelCard.load(model)  # score_folders has checked it; this reads the JSON again
    return scored.at(card.threshold if threshold is None else threshold, card.trigger_level)


def choose_threshold(
    scored: ScoredSet, max_false_accepts_per_hour: float, levels: tuple[int, ...] = (1, 2, 3)
) -> tuple[float, int]:
    """(threshold, trigger level) with the fewest false rejects whose false-accept rate is within
    budget; of equals, the highest threshold, then the lowest level (the quickest to fire)."""
    best: tuple[float, float, int] | None = None  # (false reject rate, -threshold, level)
    for level in levels:
        for step in range(77, 256):  # an int8 model's scores come in steps of 1/256: 0.30..0.996
            threshold = step / 256  # exact in binary: 0.99609375
            result = scored.at(threshold, level)
            if result.false_accepts_per_hour > max_false_accepts_per_hour:
                continue
            key = (result.false_reject_rate, -threshold, level)
            best = key if best is None or key < best else best
    if best is None:
        return 255 / 256, max(levels)
    return -best[1], best[2]


def format_result(result: EvalResult) -> str:
    return "\n".join(
        [
            f"threshold               {result.threshold:.4g}, {result.trigger_level} in a row",
            f"false rejects           {result.false_rejects} of {result.positives} clips "
            f"({100 * result.false_reject_rate:.1f}%)",
            f"false accepts           {result.false_accepts} in {result.negative_hours:.2f} h "
            f"({result.false_accepts_per_hour:.2f} per hour)",
            f"CPU per audio second    {result.cpu_per_audio_second:.4f} (scoring, this machine)",
        ]
    )
