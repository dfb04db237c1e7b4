"""Windows to train and test the command model on, cut as the device cuts them.

Every utterance is built as the device hears one: a little room before (sometimes the wake
phrase), the speech, a little room after, then the wake-word trainer's degradations (room echo, a
small speaker's band, noise at a signal-to-noise ratio, a level) and a faint noise floor
everywhere (a real microphone is never digitally silent). The device's own code then turns it
into a window: log-mel rows (``device.listening.features``), cut by ``command_window``.

espeak-ng has one Mandarin voice and about 100 variants of it: the variants are split three
ways, a quarter (every fourth) kept for the test, a sixth of the rest for validation (the
threshold), and the rest to train on, so the card's figures are on throats the model never heard.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import re
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm
from wakeword_trainer.augment import RATE, Augmenter, to_float, to_int16
from wakeword_trainer.speech import english_voices, negative_sentence, trim_silence, variants

from device.listening.command_model import command_window
from device.listening.features import LOG_MEL
from device.speaking.mandarin import MANDARIN_VOICE, pinyin
from device.speaking.tts import EspeakSynthesizer

from .texts import phrasings, unknown_text

WAKE_PHRASES = {"zh": "你好零", "en": "hey zero"}  # the Chinese device's, and the English one
RATES = (120, 210)  # words per minute
PITCHES = (20, 80)
SPEED = (0.9, 1.15)  # played faster or slower: more throats (training only)
# Of training utterances that begin with the wake phrase (said by the same speaker), as the
# listener hands over an utterance after a wake word: the phrase, then the command.
PREFIX_SHARE = 0.5
UNKNOWN_KINDS = ("talk", "everyday", "fragment", "timer", "english", "wake", "noise")


@dataclass(frozen=True)
class VariantSplit:
    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]


def split_variants() -> VariantSplit:
    """espeak-ng's variants: every fourth to test, a sixth of the rest to validate, the rest
    (and the voice's own sound, "") to train."""
    every = variants()
    test = every[::4]
    rest = tuple(v for v in every if v not in test)
    validation = rest[1::6]
    train = ("",) + tuple(v for v in rest if v not in validation)
    return VariantSplit(train, validation, test)


@dataclass(frozen=True)
class Speaker:
    voice: str  # "" for the Mandarin voice, else an English espeak-ng voice
    variant: str  # an espeak-ng variant, or "" for the voice's own
    rate_wpm: int
    pitch: int
    # Mandarin read word by word (pypinyin's phrase dictionary: 一点 yi4 dian3, as people say
    # it), or character by character in each one's commonest reading, as the device reads
    phrases: bool = True

    @property
    def wake_phrase(self) -> str:
        return WAKE_PHRASES["en" if self.voice else "zh"]

    def say(self, text: str) -> np.ndarray:
        if self.voice:
            name = f"{self.voice}+{self.variant}" if self.variant else self.voice
        else:
            name = f"{MANDARIN_VOICE}+{self.variant}" if self.variant else MANDARIN_VOICE
            text = said_in_pinyin(text, self.phrases)
        tts = EspeakSynthesizer(name, self.rate_wpm, self.pitch, volume_percent=100)
        return trim_silence(np.frombuffer(tts.synthesize(text), dtype="<i2").copy())


def said_in_pinyin(text: str, phrases: bool) -> str:
    """``text`` in tone-numbered pinyin, word by word or character by character. (The phrase
    dictionary, once loaded, reads every text in the process: a character alone is read as the
    device reads it.)"""
    if phrases:
        return pinyin(text, phrases=True)
    pinyin("", phrases=True)  # the same dictionary either way, whichever comes first
    return re.sub(r" ([,.!?;:)])", r"\1", " ".join(pinyin(char, phrases=True) for char in text))


@dataclass(frozen=True)
class Job:
    """One text said once and made into ``copies`` windows (noise: no text, no speaker)."""

    label: int
    kind: str  # "command" or one of UNKNOWN_KINDS
    text: str
    speaker: Speaker | None
    seed: int
    copies: int = 1
    snr_db: float | None = None  # None: drawn at random; math.inf: no noise
    prefix_share: float = 0.0


@dataclass(frozen=True)
class Sizes:
    """Texts said per command, and per kind of unknown."""

    per_command: int
    unknown: dict[str, int]

    def scaled(self, factor: float) -> Sizes:
        return Sizes(
            max(1, round(self.per_command * factor)),
            {k: max(1, round(n * factor)) for k, n in self.unknown.items()},
        )


# Timers of other lengths and pieces of commands were the unknowns most often heard as commands
# (6-7% and 2-3% of the test's, with 1,000 and 700 here, in a trial run): more of them.
TRAIN_SIZES = Sizes(
    400,
    {"talk": 1600, "everyday": 600, "fragment": 900, "timer": 1500, "english": 600,
     "wake": 150, "noise": 600},
)  # fmt: skip


def _speaker(rng: random.Random, variant_pool: tuple[str, ...], english: bool) -> Speaker:
    if english:
        variant = rng.choice(variant_pool) if rng.random() < 0.8 else ""
        return Speaker(
            rng.choice(english_voices()), variant, rng.randint(*RATES), rng.randint(*PITCHES)
        )
    variant = rng.choice(variant_pool)
    return Speaker("", variant, rng.randint(*RATES), rng.randint(*PITCHES), rng.random() < 0.5)


def make_jobs(
    seed: int,
    variant_pool: tuple[str, ...],
    sizes: Sizes,
    labels: tuple[str, ...],
    copies: int = 1,
    snr_db: float | None = None,
    prefix_share: float = 0.0,
) -> list[Job]:
    """Jobs for every command (its phrasings at random) and every kind of unknown."""
    rng = random.Random(seed)
    said = phrasings()
    unknown = len(labels) - 1
    jobs: list[Job] = []

    def add(label: int, kind: str, text: str, speaker: Speaker | None) -> None:
        job_seed = seed * 1_000_003 + len(jobs)
        jobs.append(Job(label, kind, text, speaker, job_seed, copies, snr_db, prefix_share))

    for label, phrase in enumerate(labels[:-1]):
        for _ in range(sizes.per_command):
            add(label, "command", rng.choice(said[phrase]), _speaker(rng, variant_pool, False))
    for kind in UNKNOWN_KINDS:
        for _ in range(sizes.unknown.get(kind, 0)):
            if kind == "noise":
                add(unknown, kind, "", None)
            elif kind == "wake":  # the wake phrase alone, in either language
                speaker = _speaker(rng, variant_pool, rng.random() < 0.5)
                add(unknown, kind, speaker.wake_phrase, speaker)
            elif kind == "english":
                text = negative_sentence(rng, WAKE_PHRASES["en"])
                add(unknown, kind, text, _speaker(rng, variant_pool, True))
            else:
                add(unknown, kind, unknown_text(rng, kind), _speaker(rng, variant_pool, False))
    return jobs


# Other speech, as noise (babble); set before the pool forks, so every worker has it.
_BABBLE: list[np.ndarray] = []


def prepare_sounds(seed: int, variant_pool: tuple[str, ...]) -> None:
    """Speak the babble the workers mix in (once, before the windows)."""
    rng = random.Random(seed)
    _BABBLE[:] = [
        to_float(_speaker(rng, variant_pool, False).say(unknown_text(rng, "talk")))
        for _ in range(60)
    ]


def _quiet(rng: random.Random, low: float, high: float) -> np.ndarray:
    return np.zeros(int(rng.uniform(low, high) * RATE), dtype=np.float32)


def utterance(
    job: Job, clip: np.ndarray, wake: np.ndarray, augmenter: Augmenter, rng: random.Random
) -> np.ndarray:
    """The int16 audio the device would hear of ``clip`` (float), as ``job`` says; ``wake``:
    the speaker's wake phrase, for an utterance that begins with it."""
    if job.kind == "noise":
        audio = augmenter.background(int(rng.uniform(1.0, 4.0) * RATE))
    else:
        lead = [_quiet(rng, 0.1, 0.6)]
        if wake.size and rng.random() < job.prefix_share:
            lead = [_quiet(rng, 0.1, 0.3), wake, _quiet(rng, 0.05, 0.5)]
        if job.snr_db is None:  # training: faster and slower too
            clip = augmenter.speed(clip, *SPEED)
        audio = np.concatenate([*lead, clip, _quiet(rng, 0.1, 0.8)])
        audio = augmenter.apply(audio, snr_db=job.snr_db)
    floor_db = rng.uniform(-78, -62)
    audio = audio + augmenter.rng.standard_normal(audio.size).astype(np.float32) * 10 ** (
        floor_db / 20
    )
    return to_int16(audio)


def windows_of(job: Job) -> list[tuple[np.ndarray, bool]]:
    """(window, too long) for each copy of ``job``: the device's cut of each utterance."""
    rng = random.Random(job.seed)
    augmenter = Augmenter(job.seed, _BABBLE)
    speaker = job.speaker
    clip = to_float(speaker.say(job.text)) if speaker is not None else np.zeros(0)
    wake = np.zeros(0, np.float32)
    if speaker is not None and job.prefix_share > 0:
        wake = to_float(speaker.say(speaker.wake_phrase))
    out = []
    for _ in range(job.copies):
        if job.kind != "noise" and clip.size == 0:
            break  # espeak-ng said nothing: nothing to learn
        audio = utterance(job, clip, wake, augmenter, rng)
        out.append(command_window(LOG_MEL.rows(audio)))
    return out


def condition(job: Job) -> str:
    """How the job's utterances were heard, for the card: its noise, and the wake phrase."""
    if job.snr_db is None:
        return "random"
    noise = "clean" if math.isinf(job.snr_db) else f"{job.snr_db:g} dB"
    return f"{noise} after the wake phrase" if job.prefix_share >= 1 else noise


@dataclass
class WindowSet:
    features: np.ndarray  # (n, WINDOW_FRAMES, MEL_BANDS) float32
    labels: np.ndarray  # (n,) int
    kinds: np.ndarray  # (n,) str: "command" or the kind of unknown
    too_long: np.ndarray  # (n,) bool: the device would call it talk without asking the model
    condition: np.ndarray  # (n,) str: "clean", "20 dB", "20 dB after the wake phrase", ...


def build(jobs: list[Job], what: str, quiet: bool = False) -> WindowSet:
    """Speak and cut every job, on all cores (forked: the workers never run TensorFlow)."""
    rows: list[tuple[Job, np.ndarray, bool]] = []
    with (
        multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool,
        tqdm(total=len(jobs), desc=what, unit="clip", disable=quiet) as bar,
    ):
        for job, cut in zip(jobs, pool.imap(windows_of, jobs, chunksize=16), strict=True):
            rows.extend((job, window, too_long) for window, too_long in cut)
            bar.update()
    return WindowSet(
        np.stack([window for _, window, _ in rows]).astype(np.float32),
        np.array([job.label for job, _, _ in rows], dtype=np.int64),
        np.array([job.kind for job, _, _ in rows]),
        np.array([too_long for _, _, too_long in rows], dtype=bool),
        np.array([condition(job) for job, _, _ in rows]),
    )
