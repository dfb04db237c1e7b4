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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from device.listening.features import FEATURES
from device.listening.tflite_wake import STEP_SECONDS, ModelCard
from device.wakeword.eval import (
    ScoredSet,
    choose_rule,
    score_folders,
    trigger_text,
)

from . import network
from .dataset import DataSettings, build_windows
from .mining import hard_negatives
from .speech import HELDOUT_VOICES, VoiceSplit, split_voices
from .testset import talk, write_talk, write_test_set
from .variants import made_up_variants


@dataclass(frozen=True)
class TrainSettings:
    data: DataSettings = field(default_factory=DataSettings)
    # 25 and 8 (mining_epochs), not 30 and 10: validation loss stops falling by about epoch 13,
    # and the time went to validation talk (then 4 h). Held out (seed 0), 11.8% false rejects at the
    # best threshold with 1 false accept in 2 h, 5.0% at 10; with 30 and 10, 11.5% and 4.0%.
    epochs: int = 25
    # After training: score fresh talk, add what the model mistakes for the phrase, train on.
    # On English talk: where the false accepts are. 6 rounds (20 epochs first, to keep the time)
    # held out no better than 4 with band means removed: 10.8% false rejects at 1 false accept in
    # 2 h, 10.0% at 4, 6.0% at 10 (4 rounds: 11.5%, 5.5%, 4.0%); rounds 5 and 6 still found 137
    # hard negatives each, so each hour of fresh talk brings its own near misses. Mining talk half
    # read by other languages' voices did worse too: 16.5% at 1, 14.2% at 4, 7.5% at 10.
    mining_rounds: int = 4
    # More talk a round finds more near misses, and held out it shows. Three seed-0 runs with 40
    # made-up variants (formants 1-3 bred wider than variants.py does: a scratch change) and 60, 240
    # and 480 minutes a round: 2,255, 7,074 and 13,460 hard negatives; on the 8 h held-out set
    # (testset --seed 3000) the best any rule gave with at most 3 false accepts was 15.5%, 7.0% and
    # 4.5% false rejects (r14, shipped until 2026-12-05: 6.5%), but validation's rule let 12, 18 and
    # 16 false accepts through there. 29.6, 31.6 and 38.5 minutes; peak RSS 4.5, 6.2 and 8.4 GB. The
    # mining, not the variants: the default command with 240 minutes a round (the twin of the one
    # with 60) went from 15.0% to 4.5% there, 5,335 hard negatives, 30.3 minutes; its validation
    # rule let 21 false accepts through in the 8 h and 8 in the card's 2 h. On both held-out sets
    # together (800 clips, 10 h), the best rule with at most 4 false accepts: 16.25% false rejects
    # with 60 minutes, for seed 0 and for seed 1; 7.0% and 6.0% with 240 (r14: 6.6%), in 15.0 and
    # 18.9 minutes here with nothing else running. Validation's rule: 2.9% and 29 false accepts
    # (seed 0), 6.25% and 6 (seed 1). With 480: 6.75% and 7.4% (seeds 0 and 1), in 22.0 and 23.2
    # minutes, peak RSS 8.3 GB: no better than 240, for more time and memory. It was 60 while
    # validation (the training voices' talk) could not pick a rule for held-out talk after 240; by
    # the held-out voices it can (see validation_minutes).
    mining_minutes: float = 240.0
    mining_epochs: int = 8
    heldout_voices: tuple[str, ...] = HELDOUT_VOICES
    # The threshold: fewest false rejects on validation with at most this many false accepts.
    max_false_accepts_per_hour: float = 0.25
    # 100 a noise level (400 clips; was 60): as many as the test, so a false reject is 0.25%.
    validation_positives_per_snr: int = 100
    # Clips and talk by the held-out voices, from another seed than the test's (the random sentences
    # differ; the confusables recur, said anew), so the test still checks the choice. Talk by the
    # training voices (the validation before) foretold held-out false accepts the less, the more the
    # network mined them: on the card's 2 h and the 8 h held-out set together (800 clips, 10 h;
    # testset seeds 2000 and 3000), its rule let through 7 false accepts (r14, shipped until
    # 2026-12-05; 5.1% false rejects), 12 (60 minutes of mining, seed 0; 9.5%) and 29 (240 minutes;
    # 2.9%). Made-up variants' talk, a training voice kept out, and accents' talk (below) did no
    # better. 8 h by the held-out voices (testset seed 4000, scratch) on the same 10 h: 8.4% and 4
    # (240 minutes, seed 0; there 8.0% and 2), 9.25% and 2 (seed 1; there 9.25% and 2): what it sees
    # is what the test sees. 8 h allow 2 false accepts at 0.25 per hour; it takes about 2.5 minutes
    # to speak here and 2 to score per network.
    validation_minutes: float = 480.0
    # Accents' talk too (off by default): talk half read by other languages' voices, whose talk
    # is never mined; both kinds must keep within the budget, each on its own. Measured while
    # validation was the training voices' talk, and not since. On one such 4 h
    # set (scratch, seed 0's validation clips), on the 10 h, for networks of seeds 0 and 1
    # trained with 60, 240 and 480 minutes of mining a round: 60: 9.5% and 12 false accepts,
    # 10.6% and 6 (the training voices' talk alone: the same); 240: 6.1% and 7, 4.75% and 8
    # (alone: 2.9% and 29, 2.9% and 14); 480: 3.75% and 8, 3.75% and 8 (alone: 2.5% and 23, 3.0%
    # and 33). But the trainer's own 4 h of it (seed 1500), with --mining-minutes 240 (seed 0,
    # the same network): 3.4% and 30 false accepts. 4 h allow one false accept, and which
    # sentences fool a network is chance: one set is not enough, and both as one 8 h set (2
    # allowed) still let 17, 8, 18 and 11 through for the four mined networks. 4 h cost 51-79 s
    # to speak and about 50 s to score here.
    accent_validation_minutes: float = 0.0
    test_positives_per_snr: int = 100
    # 8 h (was 2): in 2 h a single false accept is 0.5 per hour, the target itself, so the card
    # could not show it met. The default command took 24.6 minutes with it (and the formant warp),
    # against 21.4 with 2 h before.
    test_minutes: float = 480.0
    # The device's scores are the sigmoid of the logit over this (network.cooled): an int8 score
    # has 256 steps, and uncooled, every logit over 5.5 fell on the top one (a fifth of the
    # shipped model's held-out positives, and its false accepts). Cooling alone did not make a
    # better model: the one run so far (seed 0, shipped settings) held out 17.2% false rejects at
    # 2 false accepts in 2 h, its best threshold 17.8% at 1; yet 5.5% at 10 (the shipped: 8.0%).
    # The same settings with seed 1: 23.5% at 1, 8.8% at 10. Runs differ by several points.
    temperature: float = 4.0
    # Networks trained on the same windows, each from its own seed (the data's, then the next ones),
    # each mining the same talk for its own mistakes; the model is their average (network.averaged),
    # so the device runs them all. Which talk fools a network is partly chance, and two seldom agree
    # on it. With 240 minutes of mining, on 18 h of held-out talk (testset seeds 2000, 3000 and
    # 4000; 1,200 clips), the fewest false rejects any rule gave at 0.4 false accepts per hour or
    # fewer: networks alone 7.6%, 7.3% and 6.0% (data seed 0; 1; 0 with network seed 1), pairs
    # averaged 3.75% (seed 0's windows, network seeds 0 and 1), 3.8% and 3.7% (each its own data).
    # Shared windows are as good, and cost one set of data. Each network adds its training time and
    # its CPU on the device: two keep within the CPU targets (under 1% of a core, a third of
    # pocketsphinx's), three would not. The rule validation chose for two (before the formant
    # warp, network.VOICE_SHARE; shipped in e9e37cd) gave 5.75% and 3 false accepts on the 10 h of
    # seeds 2000 and 3000: stricter than the best rule there (3.75% with 4).
    networks: int = 1


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(content)
    os.replace(temp, path)


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
    split = split_voices(
        settings.heldout_voices,
        phrase if settings.data.accent_share else "",
        other_engines=settings.data.other_engines,
    )
    with made_up_variants(
        split.train_variants, settings.data.made_up_variants, settings.data.seed
    ) as made_up:
        split = replace(split, train_variants=split.train_variants + made_up)
        return _train(phrase, out, settings, command, split, started, work_dir, quiet)


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
    model = network.train(features, labels, settings.epochs, seed, quiet=quiet)
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
        hard = hard_negatives(model, parts)
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
        )
    return _Fitted(model, seed, network.calibration_windows(features), int(labels.size), mined)


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
    def bars(files: list[Path], what: str) -> Iterable[Path]:
        return tqdm(files, desc=what, unit="file", disable=quiet)

    features, labels = build_windows(phrase, split, settings.data, quiet)
    data_seconds = time.monotonic() - started

    with tempfile.TemporaryDirectory() as scratch:

        def write_set(folder: Path, seed_offset: int, clips: int, minutes: float) -> Path:
            write_test_set(phrase, split, folder, held_out=True, positives_per_snr=clips,
                           negative_minutes=minutes, seed=settings.data.seed + seed_offset,
                           quiet=quiet)  # fmt: skip
            return folder

        def scored_set(model: bytes, folder: Path, negatives: Path | None = None) -> ScoredSet:
            # the model is tested from here; it goes to `out` once its card is done
            draft = Path(scratch) / out.name
            draft.write_bytes(model)
            card = ModelCard(phrase=phrase, threshold=0.5, features=dict(FEATURES))
            draft.with_suffix(".json").write_text(card.to_json())
            return score_folders(
                draft, folder / "positives", negatives or folder / "negatives", bars
            )

        # the held-out voices; another seed than the test's (seed + 2000)
        validation = write_set(
            Path(scratch) / "validation",
            1000,
            settings.validation_positives_per_snr,
            settings.validation_minutes,
        )
        accent_dir = None
        if settings.accent_validation_minutes > 0:
            accent_dir = write_talk(phrase, split, Path(scratch) / "validation_accents",
                                    settings.accent_validation_minutes, held_out=False,
                                    seed=settings.data.seed + 1500,  # not validation's 1000
                                    accents=True, quiet=quiet)  # fmt: skip
        fitted = []
        for number in range(settings.networks):
            seed = settings.data.seed + number  # the data's, then the next ones
            fitted.append(_fit(phrase, split, settings, features, labels, seed, quiet))
            if settings.networks > 1 and not quiet:
                print(f"network {number + 1} of {settings.networks} trained", flush=True)
        tflite = network.export_int8(
            [f.model for f in fitted],
            np.concatenate([f.calibration for f in fitted]),
            settings.temperature,
        )
        scored = scored_set(tflite, validation)
        accent_scored = None
        if accent_dir is not None:
            # (its positives are validation's again: a few seconds, and choose_rule skips them)
            accent_scored = scored_set(tflite, validation, accent_dir)
        also = [accent_scored] if accent_scored is not None else []
        threshold, level, smoothing = choose_rule(
            scored, settings.max_false_accepts_per_hour, also=also
        )
        on_validation = scored.at(threshold, level, smoothing)
        on_accents = (
            accent_scored.at(threshold, level, smoothing) if accent_scored is not None else None
        )
        budget = settings.max_false_accepts_per_hour
        over = [name for name, result in (("the held-out voices' talk", on_validation),
                                          ("accents' talk", on_accents))
                if result is not None and result.false_accepts_per_hour > budget]  # fmt: skip
        if over:
            print(
                f"warning: no threshold keeps validation false accepts within {budget} per hour "
                f"on {' and '.join(over)}; train on more data",
                file=sys.stderr,
            )
        if work_dir:  # the float model(s) too, to try other exports without training again:
            # network.export_int8(networks, calibration, temperature)
            work_dir.mkdir(parents=True, exist_ok=True)
            for index, f in enumerate(fitted):
                f.model.save(
                    work_dir / ("model.keras" if index == 0 else f"model_{index + 1}.keras")
                )
            np.save(work_dir / "calibration.npy", np.concatenate([f.calibration for f in fitted]))
        train_seconds = time.monotonic() - started - data_seconds

        test = (work_dir / "heldout") if work_dir else Path(scratch) / "heldout"
        write_set(test, 2000, settings.test_positives_per_snr, settings.test_minutes)
        scored = scored_set(tflite, test)
        on_test = scored.at(threshold, level, smoothing)
        by_snr = _reject_rate_by_folder(scored, threshold, level, smoothing)

    card = ModelCard(
        phrase=phrase,
        threshold=threshold,
        trigger_level=level,
        smoothing=smoothing,
        features=dict(FEATURES),
        metrics={
            "false_reject_rate": round(on_test.false_reject_rate, 4),
            "false_accepts_per_hour": round(on_test.false_accepts_per_hour, 3),
            "false_reject_rate_by_noise": by_snr,
            "positives": on_test.positives,
            "negative_hours": on_test.negative_hours,
            "false_accepts": on_test.false_accepts,
            "validation": {
                "false_reject_rate": round(on_validation.false_reject_rate, 4),
                "false_accepts_per_hour": round(on_validation.false_accepts_per_hour, 3),
                "false_accepts_per_hour_budget": settings.max_false_accepts_per_hour,
                "negative_hours": on_validation.negative_hours,
                "within_budget": not over,
                **(
                    {
                        "accents_false_accepts_per_hour": round(
                            on_accents.false_accepts_per_hour, 3
                        ),
                        "accents_negative_hours": on_accents.negative_hours,
                    }
                    if on_accents is not None
                    else {}
                ),
            },
            "cpu_per_audio_second": round(on_test.cpu_per_audio_second, 5),
        },
        extra={
            "command": command,
            "model_bytes": len(tflite),
            "parameters": sum(int(f.model.count_params()) for f in fitted),
            "scores_per_second": round(1 / STEP_SECONDS, 1),
            "temperature": settings.temperature,
            "band_means_removed": network.BAND_MEANS_REMOVED,
            "formant_warp": {
                "share": network.VOICE_SHARE,
                "factors": [round(1 - network.WARP, 3), round(1 + network.WARP, 3)],
                "tilt_db": network.EQ_DB,
            },
            "data": {
                "train_voices": list(split.train_voices),
                "train_variants": len(split.train_variants) - settings.data.made_up_variants,
                "made_up_variants": settings.data.made_up_variants,
                "heldout_voices": list(split.heldout_voices),
                "heldout_variants": list(split.heldout_variants),
                "accent_voices": len(split.accent_voices),
                "accent_share": settings.data.accent_share,
                "positive_clips": settings.data.positives,
                "recordings": settings.data.recordings or None,
                "windows": int(labels.size),
                "hard_negatives": sum(f.mined for f in fitted),
                "positive_windows": int(labels.sum()),
                "seed": settings.data.seed,
                "network_seeds": [f.seed for f in fitted],
                "test_snrs_db": ["clean" if math.isinf(s) else s for s in (math.inf, 20, 10, 5)],
            },
            "networks": [
                {"network_seed": f.seed, "windows": f.windows, "hard_negatives": f.mined}
                for f in fitted
            ],
            "trained_on": f"{platform.machine()}, {os.cpu_count()} cores, "
            f"{time.strftime('%Y-%m-%d')}",
            "minutes": {
                "data": round(data_seconds / 60, 1),
                "training": round(train_seconds / 60, 1),
                "total": round((time.monotonic() - started) / 60, 1),
            },
        },
    )
    _write_atomically(out, tflite)
    _write_atomically(out.with_suffix(".json"), card.to_json().encode())
    _write_atomically(out.with_suffix(".md"), model_card_markdown(card, out.name).encode())
    return card


def _other_engines_sentence(data: dict) -> str:
    others = [v for v in data["train_voices"] if ":" in v]
    held = [v for v in data["heldout_voices"] if ":" in v]
    if not others:
        return "Only espeak-ng spoke (--other-engines adds flite's and festival's voices)."
    return (f"Other engines' voices (--other-engines) joined them: "
            f"{', '.join(others)}; each engine keeps one speaker for the test "
            f"({', '.join(held) or 'none'}).")  # fmt: skip


def _warp_sentence(card: dict) -> str:
    warp = card.get("formant_warp") or {}
    if not warp.get("share"):
        return ""
    low, high = warp["factors"]
    tilt = f" and tilted by up to {warp['tilt_db']:g} dB" if warp.get("tilt_db") else ""
    share = f"{100 * warp['share']:g}%"
    return (
        f"In {share} of the windows, drawn afresh every epoch, the formants are scaled by a "
        f"factor between {low:g} and {high:g} (other throats){tilt}. "
    )


def _made_up(data: dict) -> str:
    count = data.get("made_up_variants", 0)
    return f" and {count} more bred from them (crosses, nudged)" if count else ""


def _threshold_sentence(validation: dict) -> str:
    hours = validation.get("negative_hours")  # not in cards made before it was recorded
    talk = f"{hours:g} h of their talk" if hours else "their talk"
    accents = validation.get("accents_negative_hours")  # nor in those made before this
    if accents:
        talk += (f" and in {accents:g} h of talk half read by other languages' voices, each on "
                 f"its own")  # fmt: skip
    budget = validation["false_accepts_per_hour_budget"]
    return (f"The threshold, trigger level and smoothing have the fewest false rejects on clips "
            f"by the held-out voices (from another seed than the test's, so these voices chose "
            f"the rule too) with at most {budget:g} false accepts per hour in {talk}.")  # fmt: skip


def _networks_sentence(extra: dict) -> str:
    networks = extra.get("networks", [])  # not in cards made before there could be several
    if len(networks) < 2:
        return ""
    seeds = ", ".join(str(n["network_seed"]) for n in networks)
    return (f" The model is the average of {len(networks)} networks trained on these windows, "
            f"each from its own seed ({seeds}) and mining the same talk for its own mistakes "
            f"(counted together above); the device runs them all.")  # fmt: skip


def model_card_markdown(card: ModelCard, file_name: str) -> str:
    m, x = card.metrics, card.extra
    data = x["data"]
    espeak_voices = [v for v in data["train_voices"] if ":" not in v]
    accents = data.get("accent_voices", 0)
    said_by_accents = (
        f"{data['accent_share']:.0%} of the phrase clips are said by {accents} of espeak-ng's "
        f"voices for other languages (accents); half the talk without the phrase is read by its "
        f"other-language voices."
        if accents
        else "Half the talk without the phrase is read by espeak-ng's voices for other "
        "languages, as accents."
    )
    fa_per_hour = m["false_accepts_per_hour"]
    means = " (each band less its mean over the second)" if x.get("band_means_removed") else ""
    count = len(x.get("networks", []))
    what = f"the average of {count} DS-CNNs" if count > 1 else "a DS-CNN"
    by_noise = ", ".join(f"{k} {100 * v:.1f}%" for k, v in m["false_reject_rate_by_noise"].items())
    return f"""# Wake-word model card: "{card.phrase}"

`{file_name}`: {x["model_bytes"]:,} bytes, {x["parameters"]:,} parameters, int8 TFLite, {what}
over 1 s of 40-band log-mel features{means}, scored {x["scores_per_second"]} times a second. Made by
ZeroPin's own trainer; the device reads the threshold, trigger level and smoothing from
`{Path(file_name).stem}.json`.

## How it was made

    {x["command"]}

On {x["trained_on"]}, in {x["minutes"]["total"]} minutes ({x["minutes"]["data"]} making data,
{x["minutes"]["training"]} training). Speech from espeak-ng: {len(espeak_voices)} English
voices ({", ".join(espeak_voices)}) with {data["train_variants"]} variants{_made_up(data)}, at
random speeds and pitches. {_other_engines_sentence(data)} {data["positive_clips"]:,} phrase
clips and {data["windows"]:,} windows in all ({data["positive_windows"]:,} positive).
{said_by_accents} Clips are sped up or slowed down and degraded with room
echo, small-speaker band-limiting, level changes and noise (white, pink, brown, hum, babble).
{_warp_sentence(x)}SpecAugment masks frames and bands.
Then {data.get("hard_negatives", 0):,} hard negatives mined from fresh English talk in rounds.
Seed {data["seed"]}.{_networks_sentence(x)}

## How well it does

Held out: voices {", ".join(data["heldout_voices"])} with variants the model never heard
({", ".join(data["heldout_variants"][:8])}, ...).

| | |
|---|---|
| threshold | {trigger_text(card.threshold, card.trigger_level, card.smoothing)} |
| false rejects | {100 * m["false_reject_rate"]:.1f}% of {m["positives"]} clips ({by_noise}) |
| false accepts | {m["false_accepts"]} in {m["negative_hours"]} h of talk ({fa_per_hour} per hour) |
| CPU per audio second | {m["cpu_per_audio_second"]} (this machine, scoring) |

The negatives are sentences from random dictionary words and everyday phrases, a quarter of them
confusable ("hey there", "zero", "hero", "hey hero", ...), with pauses of room noise.
{_threshold_sentence(m["validation"])}

## Limits

Synthetic voices only. Real voices, children, strong accents and real rooms will do worse: record
a few dozen of your own clips (`zeropin wakeword record "{card.phrase}" YOUR_CLIPS`) and check with
`zeropin wakeword eval {file_name} --positives YOUR_CLIPS --negatives SOME_TALK`.
"""
