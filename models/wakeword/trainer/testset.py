"""Test sets as folders of WAV files, for ``zeropin wakeword eval``.

``positives/`` holds short clips with the phrase said once, by voices the model did not train on,
in rooms with noise at several signal-to-noise ratios, with about a second of the room around it.
``negatives/`` holds long recordings of talk without the phrase, a share of it confusable ("hey
there", "zero", "hero"), with pauses of room noise between sentences.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np

from drivers.audio_format import write_wav

from .augment import RATE, Augmenter, to_float, to_int16
from .dataset import negative_jobs, positive_jobs, synthesize
from .speech import VoiceSplit

SNRS = (math.inf, 20.0, 10.0, 5.0)  # dB; inf: no added noise (echo and band-limiting still)
# Seconds of the clip's own room before and after the phrase (the same on both sides). The
# evaluator puts digital silence around every file (device.wakeword.eval), and a room never falls
# silent on the device, so the one-second windows the model decides on must not reach it: with
# 0.1-0.6 s they did, a step from the room to silence no microphone makes, and twice the clips
# were missed (models/README.md).
PAD_SECONDS = (0.8, 1.2)


def _name(snr: float) -> str:
    return "clean" if math.isinf(snr) else f"snr{snr:g}db"


def write_test_set(
    phrase: str,
    split: VoiceSplit,
    out: Path,
    *,
    held_out: bool = True,
    positives_per_snr: int = 100,
    snrs: tuple[float, ...] = SNRS,
    negative_minutes: float = 120.0,
    file_minutes: float = 10.0,
    seed: int = 1,
    quiet: bool = False,
) -> tuple[Path, Path]:
    """Write ``out/positives`` and ``out/negatives``; returns both folders."""
    rng = random.Random(seed)
    augmenter = Augmenter(seed)
    pos_dir, neg_dir = out / "positives", out / "negatives"
    pos_dir.mkdir(parents=True, exist_ok=True)
    neg_dir.mkdir(parents=True, exist_ok=True)

    jobs = positive_jobs(rng, phrase, split, positives_per_snr * len(snrs), held_out)
    clips = synthesize(jobs, "test set: speaking the phrase", quiet)
    for index, ((voice, _), clip) in enumerate(zip(jobs, clips, strict=True)):
        snr = snrs[index % len(snrs)]
        pad = np.zeros(int(rng.uniform(*PAD_SECONDS) * RATE), dtype=np.float32)
        audio = augmenter.apply(np.concatenate([pad, to_float(clip), pad]), snr_db=snr)
        voice_tag = voice.name.replace("+", "_")
        folder = pos_dir / _name(snr)
        folder.mkdir(exist_ok=True)
        write_wav(folder / f"{index:04d}_{voice_tag}.wav", to_int16(audio).tobytes())

    write_talk(phrase, split, neg_dir, negative_minutes, held_out=held_out, seed=seed,
               file_minutes=file_minutes, quiet=quiet)  # fmt: skip
    return pos_dir, neg_dir


def write_talk(
    phrase: str,
    split: VoiceSplit,
    out: Path,
    minutes: float,
    *,
    held_out: bool,
    seed: int,
    accents: bool = False,
    file_minutes: float = 10.0,
    quiet: bool = False,
) -> Path:
    """``talk`` as WAV files of ``file_minutes`` each in ``out``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    samples_per_file = int(file_minutes * 60 * RATE)
    parts: list[np.ndarray] = []
    length = files = 0
    said = talk(phrase, split, minutes, held_out=held_out, seed=seed, quiet=quiet, accents=accents)
    for part in said:
        parts.append(part)
        length += part.size
        if length >= samples_per_file:
            files += 1
            write_wav(out / f"talk_{files:03d}.wav", to_int16(np.concatenate(parts)).tobytes())
            parts, length = [], 0
    if parts:
        write_wav(out / f"talk_{files + 1:03d}.wav", to_int16(np.concatenate(parts)).tobytes())
    return out


def talk(
    phrase: str,
    split: VoiceSplit,
    minutes: float,
    *,
    held_out: bool,
    seed: int,
    quiet: bool = False,
    accents: bool = False,
) -> list[np.ndarray]:
    """At least ``minutes`` of talk without the phrase, one sentence in four confusable: degraded
    sentences with pauses of room noise between them, as float parts in order. English voices
    only, unless ``accents`` and not ``held_out`` (then half in other languages' voices: the
    trainer chooses the threshold on that too)."""
    rng = random.Random(seed)
    augmenter = Augmenter(seed + 1)
    wanted = math.ceil(minutes * 60 * RATE)  # any time at all is at least a sentence
    parts: list[np.ndarray] = []
    length = 0
    while length < wanted:  # in batches, since sentence lengths vary: about 3 s each, 1 s pause
        sentences = max(4, int((wanted - length) / RATE / 4.0))
        jobs = negative_jobs(rng, phrase, split, sentences * 3 // 4, held_out, accents=accents)
        jobs += negative_jobs(
            rng, phrase, split, sentences - len(jobs), held_out, confusable=True, accents=accents
        )
        rng.shuffle(jobs)
        for clip in synthesize(jobs, "speaking talk without the phrase", quiet):
            parts.append(augmenter.background(int(rng.uniform(0.2, 1.5) * RATE)))
            parts.append(augmenter.apply(to_float(clip), clean_share=0.3))
            length += parts[-2].size + parts[-1].size
            if length >= wanted:
                break
    return parts
