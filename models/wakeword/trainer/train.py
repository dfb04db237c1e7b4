"""``zeropin wakeword train``: synthesise, degrade, train, export int8, pick a threshold, test.

    card = train_wake_word("hey jarvis", Path("hey_jarvis.tflite"), TrainSettings())

Writes ``hey_jarvis.tflite``, its card ``hey_jarvis.json`` (read by the device) and
``hey_jarvis.md`` (for people). The network never hears the held-out voices. The threshold is chosen
on a validation set they speak, and the card's figures come from a test set they speak: the same
kind of clips and talk from another seed.
"""

from __future__ import annotations

import math
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from device.listening.embedding_wake import KIND
from device.listening.features import FRONT_ENDS
from device.listening.tflite_wake import STEP_SECONDS, ModelCard
from device.storage.files import write_atomically
from device.wakeword.eval import EvalResult, ScoredSet, choose_rule, score_folders

from . import chinese, embedding, network, real
from .card import model_card_markdown
from .dataset import build_windows
from .mining import hard_negatives
from .settings import TrainSettings
from .speech import VoiceSplit, split_voices
from .testset import talk, write_talk, write_test_set
from .variants import made_up_variants


def _reject_rate_by_folder(
    scored: ScoredSet, threshold: float, level: int, smoothing: int
) -> dict[str, float]:
    """False-reject rate per positives sub-folder (one per noise level)."""
    missed = [p.parent.name for p in scored.false_rejects(threshold, level, smoothing)]
    folders = [p.parent.name for p in scored.positive_files]
    return {f: round(missed.count(f) / folders.count(f), 4) for f in sorted(set(folders))}


def train_wake_word(
    phrase: str,
    out: Path,
    settings: TrainSettings,
    command: str,
    work_dir: Path | None = None,
    quiet: bool = False,
) -> ModelCard:
    phrase = " ".join(phrase.lower().split())
    started = time.monotonic()
    random.seed(settings.data.seed)
    split = _split(phrase, settings)
    english = split.language == "en"
    if english and settings.data.other_engines and not any(":" in v for v in split.train_voices):
        print("note: only espeak-ng is installed to speak, and models trained on it alone miss "
              "real people about twice as often (models/README.md): sudo apt install flite, "
              "and pip install -e '.[train]' brings Piper", file=sys.stderr)  # fmt: skip
    with made_up_variants(
        split.train_variants, settings.data.made_up_variants, settings.data.seed
    ) as made_up:
        split = replace(split, train_variants=split.train_variants + made_up)
        return _train(phrase, out, settings, command, split, started, work_dir, quiet)


def _split(phrase: str, settings: TrainSettings) -> VoiceSplit:
    """The voices for ``settings.data.language``: Chinese has espeak-ng's Mandarin voice alone
    (no other engine speaks it), its variants split, and English voices for English talk."""
    if settings.data.language == "zh":
        return chinese.split_voices(settings.heldout_voices)
    return split_voices(
        settings.heldout_voices,
        phrase if settings.data.accent_share else "",
        other_engines=settings.data.other_engines,
        natural_share=settings.data.natural_share,
    )


@dataclass(frozen=True)
class _Fitted:
    """One network trained on the shared windows, then on what it mistook for the phrase."""

    model: Any
    seed: int
    calibration: np.ndarray  # the windows its int8 ranges are set from
    windows: int  # training windows, its hard negatives (each twice) included
    mined: int


def _fit(
    phrase: str,
    split: VoiceSplit,
    settings: TrainSettings,
    features: np.ndarray,
    labels: np.ndarray,
    seed: int,
    quiet: bool,
) -> _Fitted:
    """Train, then mine hard negatives from fresh talk in rounds."""
    if settings.data.features == KIND:  # no mining: its talk windows are all trained on
        model = embedding.train(features, labels, embedding.EPOCHS, seed, quiet)
        calibration = network.calibration_windows(features)
        return _Fitted(model, seed, calibration, int(labels.size), 0)
    front = FRONT_ENDS[settings.data.features]
    centres = front.band_centres_hz()
    model = network.train(features, labels, settings.epochs, seed, quiet=quiet, centres=centres)
    mined = 0
    for round_ in range(settings.mining_rounds):
        parts = talk(
            phrase,
            split,
            settings.mining_minutes,
            held_out=False,
            seed=settings.data.seed + 100 + round_,
            quiet=quiet,
        )
        hard = hard_negatives(model, parts, front)
        mined += len(hard)
        if not quiet:
            print(f"mining round {round_ + 1}: {len(hard)} hard negatives", flush=True)
        features = np.concatenate([features, hard, hard])  # twice: they are the rare ones
        labels = np.concatenate([labels, np.zeros(2 * len(hard), dtype=np.float32)])
        model = network.train(
            features,
            labels,
            settings.mining_epochs,
            seed,
            model=model,
            learning_rate=5e-4,
            quiet=quiet,
            centres=centres,
        )
    return _Fitted(model, seed, network.calibration_windows(features), int(labels.size), mined)


class _Sets:
    """The held-out voices' clip and talk folders: written, and scored by a model."""

    def __init__(
        self,
        phrase: str,
        split: VoiceSplit,
        settings: TrainSettings,
        scratch: Path,
        model_name: str,
        quiet: bool,
    ) -> None:
        self.phrase, self.split, self.settings = phrase, split, settings
        self.scratch, self.model_name, self.quiet = scratch, model_name, quiet

    def write(self, folder: Path, seed_offset: int, clips: int, minutes: float) -> Path:
        write_test_set(self.phrase, self.split, folder, held_out=True, positives_per_snr=clips,
                       negative_minutes=minutes, seed=self.settings.data.seed + seed_offset,
                       quiet=self.quiet)  # fmt: skip
        return folder

    def write_accents(self) -> Path:
        """Talk half read by other languages' voices (their phrase clips are never used)."""
        return write_talk(self.phrase, self.split, self.scratch / "validation_accents",
                          self.settings.accent_validation_minutes, held_out=False,
                          seed=self.settings.data.seed + 1500,  # not validation's 1000
                          accents=True, quiet=self.quiet)  # fmt: skip

    def scored(self, model: bytes, folder: Path, negatives: Path | None = None) -> ScoredSet:
        # the model is tested from here; it goes to `out` once its card is done
        draft = self.scratch / self.model_name
        draft.write_bytes(model)
        card = ModelCard(phrase=self.phrase, threshold=0.5, features=_features(self.settings))
        draft.with_suffix(".json").write_text(card.to_json())
        return score_folders(draft, folder / "positives", negatives or folder / "negatives",
                             self._bars)  # fmt: skip

    def real(self, model: bytes) -> ScoredSet:
        """The model's scores on every real recording (``--real-speech``), both halves."""
        draft = self.scratch / self.model_name  # scored() wrote it with its card
        draft.write_bytes(model)
        root = Path(self.settings.real_speech)
        return real.score(draft, root, self.phrase, lambda f, w: self._bars(f, f"real: {w}"))

    def _bars(self, files: list[Path], what: str) -> Iterable[Path]:
        return tqdm(files, desc=what, unit="file", disable=self.quiet)


@dataclass(frozen=True)
class _Chosen:
    """The rule chosen on validation, and what it did there."""

    threshold: float
    level: int
    smoothing: int
    on_validation: EvalResult
    on_accents: EvalResult | None
    over: list[str]  # the kinds of talk no rule kept within the budget
    on_real: EvalResult | None = None  # real people's validation half (real.py)

    @property
    def rule(self) -> tuple[float, int, int]:
        return self.threshold, self.level, self.smoothing


def _choose(
    scored: ScoredSet,
    accent_scored: ScoredSet | None,
    budget: float,
    real_validation: ScoredSet | None = None,
    on_people: bool = False,
) -> _Chosen:
    also = [accent_scored] if accent_scored is not None else []
    if real_validation is not None and on_people:
        rule = real.choose_on_people(scored, real_validation, budget)
    elif real_validation is None:
        rule = choose_rule(scored, budget, also=also)
    else:
        rule = real.choose(scored, real_validation, budget, also)
    on_validation = scored.at(*rule)
    on_accents = accent_scored.at(*rule) if accent_scored is not None else None
    on_real = real_validation.at(*rule) if real_validation is not None else None
    synthetic_talk = None if on_people else on_validation  # choose_on_people: not bounded by it
    over = [name for name, result in (("the held-out voices' talk", synthetic_talk),
                                      ("accents' talk", on_accents),
                                      ("real people's talk", on_real))
            if result is not None and result.false_accepts_per_hour > budget]  # fmt: skip
    if over:
        print(
            f"warning: no threshold keeps validation false accepts within {budget} per hour "
            f"on {' and '.join(over)}; train on more data",
            file=sys.stderr,
        )
    return _Chosen(*rule, on_validation, on_accents, over, on_real)


def _keep_networks(work_dir: Path, fitted: list[_Fitted]) -> None:
    """The float model(s) too, to try other exports without training again:
    network.export_int8(networks, calibration, temperature)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    for index, f in enumerate(fitted):
        f.model.save(work_dir / ("model.keras" if index == 0 else f"model_{index + 1}.keras"))
    np.save(work_dir / "calibration.npy", np.concatenate([f.calibration for f in fitted]))


def _fit_all(
    phrase: str,
    split: VoiceSplit,
    settings: TrainSettings,
    features: np.ndarray,
    labels: np.ndarray,
    quiet: bool,
) -> list[_Fitted]:
    """``settings.networks`` networks on the same windows, each from its own seed."""
    fitted = []
    for number in range(settings.networks):
        seed = settings.data.seed + number  # the data's, then the next ones
        fitted.append(_fit(phrase, split, settings, features, labels, seed, quiet))
        if settings.networks > 1 and not quiet:
            print(f"network {number + 1} of {settings.networks} trained", flush=True)
    return fitted


def _windows(
    phrase: str, split: VoiceSplit, settings: TrainSettings, quiet: bool
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """(windows, labels, the phrase's reach in a window: None for anywhere in it)."""
    if settings.data.features == KIND:
        data, real_speech = settings.data, settings.real_speech
        return embedding.build_embedding_windows(phrase, split, data, real_speech, quiet)
    return (*build_windows(phrase, split, settings.data, quiet), None)


def _train(
    phrase: str,
    out: Path,
    settings: TrainSettings,
    command: str,
    split: VoiceSplit,
    started: float,
    work_dir: Path | None,
    quiet: bool,
) -> ModelCard:
    features, labels, reach = _windows(phrase, split, settings, quiet)
    data_seconds = time.monotonic() - started

    with tempfile.TemporaryDirectory() as scratch:
        sets = _Sets(phrase, split, settings, Path(scratch), out.name, quiet)
        # the held-out voices; another seed than the test's (seed + 2000)
        validation = sets.write(Path(scratch) / "validation", 1000,
                                settings.validation_positives_per_snr,
                                settings.validation_minutes)  # fmt: skip
        accents = sets.write_accents() if settings.accent_validation_minutes > 0 else None
        fitted = _fit_all(phrase, split, settings, features, labels, quiet)
        tflite = network.export_int8(
            [f.model for f in fitted],
            np.concatenate([f.calibration for f in fitted]),
            settings.temperature,
        )
        scored = sets.scored(tflite, validation)
        # (accents' positives are validation's again: a few seconds, and choose_rule skips them)
        accent_scored = sets.scored(tflite, validation, accents) if accents else None
        people = sets.real(tflite) if settings.real_speech else None
        real_validation, real_test = real.halves(people) if people else (None, None)
        on_people = settings.data.features == KIND
        budget = settings.max_false_accepts_per_hour
        chosen = _choose(scored, accent_scored, budget, real_validation, on_people)
        if work_dir:
            _keep_networks(work_dir, fitted)
        train_seconds = time.monotonic() - started - data_seconds

        test = (work_dir / "heldout") if work_dir else Path(scratch) / "heldout"
        sets.write(test, 2000, settings.test_positives_per_snr, settings.test_minutes)
        tested = sets.scored(tflite, test)

    seconds = {"data": data_seconds, "training": train_seconds,
               "total": time.monotonic() - started}  # fmt: skip
    card = ModelCard(
        phrase=phrase,
        threshold=chosen.threshold,
        trigger_level=chosen.level,
        smoothing=chosen.smoothing,
        features=_features(settings),
        phrase_reach_seconds=reach,
        metrics=_metrics(tested, chosen, settings.max_false_accepts_per_hour)
        | _real_metrics(settings.real_speech, chosen, real_test),
        extra=_extra(
            command, tflite, fitted, settings, split, int(labels.size), int(labels.sum()), seconds
        ),
    )
    _write(out, tflite, card)
    return card


def _write(out: Path, tflite: bytes, card: ModelCard) -> None:
    """The model, its card and the card's text, each whole or not at all."""
    write_atomically(out, tflite)
    write_atomically(out.with_suffix(".json"), card.to_json().encode())
    write_atomically(out.with_suffix(".md"), model_card_markdown(card, out.name).encode())


def _features(settings: TrainSettings) -> dict[str, Any]:
    """What the card records of the features the model was trained on."""
    if settings.data.features == KIND:
        return embedding.features()
    return dict(FRONT_ENDS[settings.data.features].card)


def _metrics(scored: ScoredSet, chosen: _Chosen, budget: float) -> dict[str, Any]:
    """The card's figures: on the test set, at the rule chosen on validation."""
    on_test = scored.at(*chosen.rule)
    validation = chosen.on_validation
    accents = chosen.on_accents
    return {
        "false_reject_rate": round(on_test.false_reject_rate, 4),
        "false_accepts_per_hour": round(on_test.false_accepts_per_hour, 3),
        "false_reject_rate_by_noise": _reject_rate_by_folder(scored, *chosen.rule),
        "positives": on_test.positives,
        "negative_hours": on_test.negative_hours,
        "false_accepts": on_test.false_accepts,
        "validation": {
            "false_reject_rate": round(validation.false_reject_rate, 4),
            "false_accepts_per_hour": round(validation.false_accepts_per_hour, 3),
            "false_accepts_per_hour_budget": budget,
            "negative_hours": validation.negative_hours,
            "within_budget": not chosen.over,
            **(
                {
                    "accents_false_accepts_per_hour": round(accents.false_accepts_per_hour, 3),
                    "accents_negative_hours": accents.negative_hours,
                }
                if accents is not None
                else {}
            ),
        },
        "cpu_per_audio_second": round(on_test.cpu_per_audio_second, 5),
    }


def _real_metrics(folder: str, chosen: _Chosen, tested: ScoredSet | None) -> dict[str, Any]:
    """The card's figures on real people, when ``--real-speech`` gave them: the headline."""
    if tested is None or chosen.on_real is None:
        return {}
    return {"real": {"folder": folder, "test_half": real.figures(tested.at(*chosen.rule)),
                     "validation_half": real.figures(chosen.on_real)}}  # fmt: skip


def _language_data(split: VoiceSplit) -> dict[str, Any]:
    """For a Chinese phrase: the language, and who reads the English talk (none for English,
    whose cards stay as they were)."""
    if split.language != "zh":
        return {}
    return {
        "language": split.language,
        "english_voices": list(split.negative_voices),
        "heldout_english_voices": list(split.heldout_negative_voices),
        "english_share": chinese.ENGLISH_SHARE,
    }


def _ds_cnn_training() -> dict[str, Any]:
    return {
        "band_means_removed": network.BAND_MEANS_REMOVED,
        "formant_warp": {
            "share": network.VOICE_SHARE,
            "factors": [round(1 - network.WARP, 3), round(1 + network.WARP, 3)],
            "tilt_db": network.EQ_DB,
        },
    }


def _extra(
    command: str,
    tflite: bytes,
    fitted: list[_Fitted],
    settings: TrainSettings,
    split: VoiceSplit,
    windows: int,
    positive_windows: int,
    seconds: dict[str, float],
) -> dict[str, Any]:
    """The card's account of how the model was made."""
    return {
        "command": command,
        "model_bytes": len(tflite),
        "parameters": sum(int(f.model.count_params()) for f in fitted),
        "scores_per_second": round(1 / STEP_SECONDS, 1),
        "temperature": settings.temperature,
        **({} if settings.data.features == KIND else _ds_cnn_training()),
        "data": {
            **_language_data(split),
            "train_voices": list(split.train_voices),
            "train_variants": len(split.train_variants) - settings.data.made_up_variants,
            "made_up_variants": settings.data.made_up_variants,
            "heldout_voices": list(split.heldout_voices),
            "heldout_variants": list(split.heldout_variants),
            "accent_voices": len(split.accent_voices),
            "accent_share": settings.data.accent_share,
            "positive_clips": settings.data.positives,
            "recordings": settings.data.recordings or None,
            "windows": windows,
            "hard_negatives": sum(f.mined for f in fitted),
            "positive_windows": positive_windows,
            "seed": settings.data.seed,
            "network_seeds": [f.seed for f in fitted],
            "test_snrs_db": ["clean" if math.isinf(s) else s for s in (math.inf, 20, 10, 5)],
        },
        "networks": [
            {"network_seed": f.seed, "windows": f.windows, "hard_negatives": f.mined}
            for f in fitted
        ],
        "trained_on": f"{platform.machine()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}",
        "minutes": {name: round(value / 60, 1) for name, value in seconds.items()},
    }
