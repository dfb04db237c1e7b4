"""``zeropin wakeword eval``: false rejects and false accepts of a wake-word model on recordings.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device.errors import ModelError
from device.listening.features import SAMPLE_RATE
from device.listening.tflite_wake import (
    STEP_SECONDS,
    ModelCard,
    Scorer,
    ScoreTrigger,
    open_scorer,
)
from drivers.audio_format import AUDIO_SUFFIXES, read_audio

LEAD_IN_SECONDS = 1.0
TAIL_SECONDS = 0.5
REFRACTORY_SECONDS = 2.0  # as the listener: one utterance is one firing


@dataclass(frozen=True)
class EvalResult:
    threshold: float
    trigger_level: int  # smoothed scores in a row at the threshold needed to fire
    smoothing: int  # scores averaged into each smoothed score
    false_reject_rate: float
    false_accepts_per_hour: float
    positives: int
    false_rejects: int
    negative_hours: float
    false_accepts: int
    cpu_per_audio_second: float  # scoring CPU time over audio time, on this machine

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Folders = str | Path | Sequence[str | Path]  # one folder of recordings, or several read as one


def audio_files(folders: Folders) -> list[Path]:
    """Every .wav and .flac file in the folders and their sub-folders, folder by folder, each
    file once (a folder named twice, or inside another named, adds nothing)."""
    named = [Path(folders)] if isinstance(folders, str | Path) else [Path(f) for f in folders]
    if not named:
        raise ModelError("no folder of recordings given")
    files: dict[Path, Path] = {}
    for folder in named:
        if not folder.is_dir():
            raise ModelError(f"{folder}: no such folder of recordings")
        found = sorted(f for f in folder.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES)
        if not found:
            raise ModelError(f"{folder}: no .wav or .flac files in it")
        for file in found:
            files.setdefault(file.resolve(), file)  # the first name a file is found by
    return list(files.values())


def stream_scores(scorer: Scorer, samples: np.ndarray) -> np.ndarray:
    """Scores for one recording, from a fresh scorer state, with the lead-in and tail."""
    scorer.reset()
    lead = np.zeros(int(LEAD_IN_SECONDS * SAMPLE_RATE), dtype=np.int16)
    tail = np.zeros(int(TAIL_SECONDS * SAMPLE_RATE), dtype=np.int16)
    return np.fromiter(scorer.scores(np.concatenate([lead, samples, tail])), dtype=np.float32)


REFRACTORY_STEPS = round(REFRACTORY_SECONDS / STEP_SECONDS)


def firings(scores: np.ndarray, threshold: float, level: int = 1, smoothing: int = 1) -> int:
    trigger = ScoreTrigger(threshold, level, REFRACTORY_STEPS, smoothing)
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
    negative_files: list[Path] = field(default_factory=list)
    negative_file_seconds: list[float] = field(default_factory=list)

    def subset(self, keep: Callable[[Path], bool]) -> ScoredSet:
        """The recordings whose files ``keep`` accepts (CPU and audio time in proportion)."""
        pos = [i for i, path in enumerate(self.positive_files) if keep(path)]
        neg = [i for i, path in enumerate(self.negative_files) if keep(path)]
        seconds = [self.negative_file_seconds[i] for i in neg]
        share = sum(seconds) / self.negative_seconds if self.negative_seconds else 1.0
        return ScoredSet(
            [self.positives[i] for i in pos],
            [self.negatives[i] for i in neg],
            sum(seconds),
            self.audio_seconds * share,
            self.cpu_seconds * share,
            [self.positive_files[i] for i in pos],
            [self.negative_files[i] for i in neg],
            seconds,
        )

    def false_rejects(self, threshold: float, level: int = 1, smoothing: int = 1) -> list[Path]:
        """The positive clips the model does not fire on."""
        return [
            path
            for path, scores in zip(self.positive_files, self.positives, strict=True)
            if firings(scores, threshold, level, smoothing) == 0
        ]

    def at(self, threshold: float, level: int = 1, smoothing: int = 1) -> EvalResult:
        rejects = len(self.false_rejects(threshold, level, smoothing))
        accepts = sum(firings(s, threshold, level, smoothing) for s in self.negatives)
        hours = self.negative_seconds / 3600
        return EvalResult(
            threshold=threshold,
            trigger_level=level,
            smoothing=smoothing,
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
    model: Path, positives: Folders, negatives: Folders, progress: Progress | None = None
) -> ScoredSet:
    scorer = open_scorer(model)
    # no positives (an empty list) scores the negatives alone: false accepts only
    scored = ScoredSet([], [], 0.0, 0.0, 0.0, audio_files(positives) if positives else [])
    for files, into, what in (
        (scored.positive_files, scored.positives, "scoring positives"),
        (audio_files(negatives), scored.negatives, "scoring negatives"),
    ):
        for path in progress(files, what) if progress else files:
            try:
                samples = np.frombuffer(read_audio(path), dtype="<i2")
            except (ValueError, OSError) as exc:  # read_audio names the file
                raise ModelError(str(exc)) from exc
            started = time.thread_time()
            into.append(stream_scores(scorer, samples))
            scored.cpu_seconds += time.thread_time() - started
            seconds = samples.size / SAMPLE_RATE + LEAD_IN_SECONDS + TAIL_SECONDS
            scored.audio_seconds += seconds
            if into is scored.negatives:
                scored.negative_seconds += samples.size / SAMPLE_RATE
                scored.negative_files.append(path)
                scored.negative_file_seconds.append(samples.size / SAMPLE_RATE)
    return scored


def evaluate(
    model: Path, positives: Folders, negatives: Folders, threshold: float | None = None
) -> EvalResult:
    """The model's figures on the positives and negatives folders, at ``threshold`` (default:
    its card's)."""
    scored = score_folders(model, positives, negatives)
    card = ModelCard.load(model)  # score_folders has checked it; this reads the JSON again
    chosen = card.threshold if threshold is None else threshold
    return scored.at(chosen, card.trigger_level, card.smoothing)


LEVELS = (1, 2, 3, 4)
SMOOTHINGS = (1, 2, 3, 4, 5, 6)
THRESHOLDS = np.arange(77, 256) / 256  # an int8 model's scores come in steps of 1/256: 0.30..0.996


def _run_lows(scores: np.ndarray, level: int, smoothing: int) -> np.ndarray:
    """For every step, the lowest of the last ``level`` smoothed scores (each the mean of the last
    ``smoothing`` scores, 0 before the first), as ``ScoreTrigger`` computes them: the trigger
    can fire at a step if and only if this reaches its threshold and those ``level`` steps all
    came after its last quiet time (``_count_firings``)."""
    if scores.size == 0:
        return np.zeros(0)
    padded = np.concatenate([np.zeros(smoothing - 1), scores.astype(np.float64)])
    # sums of an int8 model's scores (steps of 1/256) are exact in any order: the trigger's means
    means = np.lib.stride_tricks.sliding_window_view(padded, smoothing).sum(axis=1) / smoothing
    padded = np.concatenate([np.zeros(level - 1), means])
    return np.lib.stride_tricks.sliding_window_view(padded, level).min(axis=1)


def _count_firings(lows: np.ndarray, threshold: float, level: int) -> int:
    """``firings`` from ``_run_lows``: after a firing at step i the trigger is quiet for
    REFRACTORY_STEPS, then needs ``level`` fresh smoothed scores, so fires next at i+R+level."""
    count, allowed = 0, 0
    for step in np.flatnonzero(lows >= threshold):
        if step >= allowed:
            count, allowed = count + 1, step + REFRACTORY_STEPS + level
    return count


def _rates(scored: ScoredSet, level: int, smoothing: int) -> tuple[np.ndarray, np.ndarray]:
    """(false reject rate, false accepts per hour) at every one of THRESHOLDS."""
    tops = np.array([_run_lows(s, level, smoothing).max(initial=0.0) for s in scored.positives])
    rejects = (tops[None, :] < THRESHOLDS[:, None]).mean(axis=1)
    return rejects, _talk_rates(scored, level, smoothing)


def _talk_rates(scored: ScoredSet, level: int, smoothing: int) -> np.ndarray:
    """False accepts per hour of the negatives at every one of THRESHOLDS."""
    accepts = np.zeros(len(THRESHOLDS))
    for scores in scored.negatives:
        lows = _run_lows(scores, level, smoothing)
        top = lows.max(initial=0.0)
        for index, threshold in enumerate(THRESHOLDS):
            if top < threshold:
                break
            accepts[index] += _count_firings(lows, threshold, level)
    return accepts / (scored.negative_seconds / 3600)


TAIL_PEAKS = 20  # the usual size of a peaks-over-threshold fit; fewer recordings are only counted


def tail_rates(scored: ScoredSet, level: int, smoothing: int) -> np.ndarray:
    """False accepts per hour at every one of THRESHOLDS as the tail of the talk foretells them:
    an exponential fitted, on the logit scale, to the TAIL_PEAKS highest recording peaks (peaks
    over a threshold, with the maximum-likelihood scale). Never below the counted rate.

    An hour of talk fires no rule just above its highest peak, yet other speakers will: a rule
    chosen on the counts alone sits where the next hour's talk fires it (models/README.md, "The
    rule's margin"). Each recording gives one peak, so this fits sets of many short recordings
    (the real ones); with TAIL_PEAKS recordings or fewer it is the counted rate."""
    return np.maximum(_talk_rates(scored, level, smoothing), _tail_fit(scored, level, smoothing))


def _tail_fit(scored: ScoredSet, level: int, smoothing: int) -> np.ndarray:
    """``tail_rates`` without the counted rate (zeros where there are too few recordings)."""
    hours = scored.negative_seconds / 3600
    if len(scored.negatives) <= TAIL_PEAKS or not hours:
        return np.zeros(len(THRESHOLDS))
    tops = np.array([_run_lows(s, level, smoothing).max(initial=0.0) for s in scored.negatives])
    top = np.sort(_logit(tops))[::-1][: TAIL_PEAKS + 1]
    floor, scale = top[-1], max(float(np.mean(top[:-1] - top[-1])), 1e-3)
    above = np.maximum(_logit(THRESHOLDS) - floor, 0.0)  # under the floor the counts suffice
    return TAIL_PEAKS / hours * np.exp(-above / scale)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)  # an int8 model's scores: 0 and 1 included
    return np.log(p / (1 - p))


def choose_rule(
    scored: ScoredSet,
    max_false_accepts_per_hour: float,
    levels: tuple[int, ...] = LEVELS,
    smoothings: tuple[int, ...] = SMOOTHINGS,
    *,
    also: Sequence[ScoredSet] = (),
    foretold: bool = False,
) -> tuple[float, int, int]:
    """(threshold, trigger level, smoothing) with the fewest false rejects whose false-accept
    rate is within budget; of equals, the highest threshold, then the lowest level and
    smoothing (the quickest to fire). If none is within budget, the one with the fewest false
    accepts (then false rejects, and so on). The negatives of each set in ``also`` must keep
    within the budget too, each set on its own (their positives are not used): talk of other
    kinds, where the false accepts come from other voices. ``foretold``: ``scored``'s talk keeps
    within the budget as its tail foretells (``tail_rates``), not only as counted.

    Smoothing and levels 1-4, not levels 1-3 alone: fewer false rejects held out at the same
    false accepts, for firing about 0.2 s later (the figures: models/README.md).
    """
    within: list[tuple[float, float, int, int]] = []  # (rejects, -threshold, level, smoothing)
    over: list[tuple[float, float, float, int, int]] = []  # accepts first
    for level in levels:
        for smoothing in smoothings:
            rejects, accepts = _rates(scored, level, smoothing)
            if foretold:
                accepts = np.maximum(accepts, _tail_fit(scored, level, smoothing))
            for other in also:  # the worst of the sets decides
                accepts = np.maximum(accepts, _talk_rates(other, level, smoothing))
            for index, threshold in enumerate(THRESHOLDS):
                key = (float(rejects[index]), -float(threshold), level, smoothing)
                if accepts[index] <= max_false_accepts_per_hour:
                    within.append(key)
                else:
                    over.append((float(accepts[index]), *key))
    _, negative_threshold, level, smoothing = min(within) if within else min(over)[1:]
    return -negative_threshold, level, smoothing


def tune(
    model: Path, positives: Folders, negatives: Folders, max_false_accepts_per_hour: float
) -> EvalResult:
    """The model's figures on the folders at the rule ``choose_rule`` picks on them: for a maker
    fitting a model to their own voice and room (figures on the clips that chose the rule are
    better than other clips will give)."""
    scored = score_folders(model, positives, negatives)
    return scored.at(*choose_rule(scored, max_false_accepts_per_hour))


def config_lines(result: EvalResult) -> str:
    """The config.toml section that makes the device fire as ``result`` did."""
    return (f"[wake]\nthreshold = {result.threshold!r}\ntrigger_level = {result.trigger_level}\n"
            f"smoothing = {result.smoothing}\n")  # fmt: skip


def trigger_text(threshold: float, level: int, smoothing: int) -> str:
    """How a model fires, for people: "0.5078, 3 score(s) in a row, each the mean of the last 5"."""
    text = f"{threshold:.4g}, {level} score(s) in a row"
    return text + (f", each the mean of the last {smoothing}" if smoothing > 1 else "")


def format_result(result: EvalResult) -> str:
    return "\n".join(
        [
            "threshold               "
            + trigger_text(result.threshold, result.trigger_level, result.smoothing),
            f"false rejects           {result.false_rejects} of {result.positives} clips "
            f"({100 * result.false_reject_rate:.1f}%)",
            f"false accepts           {result.false_accepts} in {result.negative_hours:.2f} h "
            f"({result.false_accepts_per_hour:.2f} per hour)",
            f"CPU per audio second    {result.cpu_per_audio_second:.4f} (scoring, this machine)",
        ]
    )
