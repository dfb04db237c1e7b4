"""Training windows: one second of features each, labelled "the phrase just ended" or not.

A positive window ends 20-250 ms after the phrase does, as the device's scorer sees it when the
wearer has just said it. Negatives are everything else the scorer will see: speech without the
phrase, confusable phrases, the phrase cut short (so "hey" alone does not fire), and noise.
"""

from __future__ import annotations

import multiprocessing
import os
import random
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from device.errors import ModelError
from device.listening.features import CONTEXT_FRAMES, FRONT_ENDS, LOG_MEL, FrontEnd
from drivers.audio_format import read_wav

from . import chinese, engines
from .augment import RATE, Augmenter, to_float, to_int16
from .settings import DataSettings
from .speech import (
    CONFUSABLES,
    Voice,
    VoiceSplit,
    negative_sentence,
    phrase_spellings,
    random_voice,
    single_word,
    trim_silence,
)

RECORDING_COPIES = 10


def load_recordings(folder: Path) -> list[np.ndarray]:
    """Every WAV under ``folder`` as trimmed 16 kHz int16; ModelError naming a bad one."""
    if not folder.is_dir():
        raise ModelError(f"{folder}: no such folder of recordings")
    clips = []
    for path in sorted(folder.rglob("*.wav")):
        try:
            clip = trim_silence(np.frombuffer(read_wav(path), dtype="<i2"))
        except (ValueError, OSError) as exc:  # read_wav names the file
            raise ModelError(str(exc)) from exc
        if clip.size < RATE // 4:
            raise ModelError(f"{path}: under 0.25 s of sound; is the phrase in it?")
        clips.append(clip)
    if not clips:
        raise ModelError(f"{folder}: no .wav recordings in it")
    return clips


def _say(batch: list[tuple[Voice, str]]) -> list[np.ndarray]:
    voice = batch[0][0]
    if len(batch) == 1:
        return [trim_silence(voice.say(batch[0][1]))]
    spoken = engines.say_many(voice.name, [(v.rate_wpm, v.pitch, text) for v, text in batch])
    return [trim_silence(clip) for clip in spoken]


def _batches(jobs: list[tuple[Voice, str]]) -> list[list[int]]:
    """Job numbers in the order to speak them: one at a time, but festival's and Piper's in
    batches, voice by voice, since starting them takes longer than speaking a sentence."""
    batched: dict[str, list[int]] = {}
    batches = []
    for index, (voice, _) in enumerate(jobs):
        if voice.name.split(":")[0] in engines.BATCH:
            batched.setdefault(voice.name, []).append(index)
        else:
            batches.append([index])
    for name, indices in batched.items():
        step = engines.BATCH[name.split(":")[0]]
        batches += [indices[i : i + step] for i in range(0, len(indices), step)]
    return batches


def synthesize(jobs: list[tuple[Voice, str]], what: str, quiet: bool = False) -> list[np.ndarray]:
    """Speak every (voice, text), on all cores, with a progress bar; clips in the jobs' order.

    The same clips every time, for the voices speech.py lets through: espeak-ng's
    vi-vn-x-central voice said "bollmann" differently from one call to the next (274,322, 280,270
    and 277,766 bytes of WAV for one sentence), and that one sentence of the 6,000 was all that set
    two seed-0 builds of the windows apart; training then parts further (by 5 points of false
    rejects held out: models/README.md)."""
    batches = _batches(jobs)
    clips: list[np.ndarray] = [np.zeros(0, np.int16)] * len(jobs)
    # Forked workers only run the synthesisers and numpy, never TensorFlow, whose threads may be
    # running in the parent by now (during mining); forkserver would need a __main__ guard.
    with (
        multiprocessing.Pool(os.cpu_count() or 1) as pool,
        tqdm(total=len(jobs), desc=what, unit="clip", disable=quiet) as bar,
    ):
        spoken = pool.imap(_say, [[jobs[i] for i in batch] for batch in batches], chunksize=4)
        for batch, batch_clips in zip(batches, spoken, strict=True):
            for index, clip in zip(batch, batch_clips, strict=True):
                clips[index] = clip
            bar.update(len(batch))
    return clips


def positive_jobs(
    rng: random.Random,
    phrase: str,
    split: VoiceSplit,
    n: int,
    held_out: bool = False,
    accent_share: float = 0.0,
) -> list[tuple[Voice, str]]:
    """The phrase said ``n`` times; for training, ``accent_share`` of it by other languages'
    voices (``split.accent_voices``): the phrase as people who learnt English say it."""
    if split.language == "zh":
        return chinese.positive_jobs(rng, phrase, split, n, held_out)
    voices = split.heldout_voices if held_out else split.train_voices
    names = split.heldout_variants if held_out else split.train_variants
    accents = split.accent_voices if accent_share and not held_out else ()
    spellings = phrase_spellings(phrase)
    jobs = []
    for _ in range(n):
        pool = voices if held_out else split.training_pool(rng)
        pool = accents if accents and rng.random() < accent_share else pool
        jobs.append((random_voice(rng, pool, names), rng.choice(spellings)))
    return jobs


def negative_jobs(
    rng: random.Random,
    phrase: str,
    split: VoiceSplit,
    n: int,
    held_out: bool = False,
    confusable: bool = False,
    accents: bool = True,
    single: bool = False,
) -> list[tuple[Voice, str]]:
    """Talk without the phrase: sentences, or ``confusable`` phrases, or ``single`` words. For
    training, half of it in other languages' voices (unless not ``accents``): the more kinds of
    speech the model has heard not to be the phrase, the fewer new voices fool it."""
    if split.language == "zh":
        return chinese.negative_jobs(rng, phrase, split, n, held_out, confusable, single)
    voices = split.heldout_voices if held_out else split.train_voices
    names = split.heldout_variants if held_out else split.train_variants
    accents_pool = split.negative_voices if accents and not held_out else ()
    jobs = []
    for _ in range(n):
        if single:
            text = single_word(rng, phrase)
        else:
            text = rng.choice(CONFUSABLES) if confusable else negative_sentence(rng, phrase)
        pool = voices if held_out else split.training_pool(rng)
        pool = accents_pool if accents_pool and rng.random() < 0.5 else pool
        jobs.append((random_voice(rng, pool, names), text))
    return jobs


def _ms(rng: random.Random, low: float, high: float) -> int:
    return int(rng.uniform(low, high) * RATE / 1000)


class WindowMaker:
    """Builds utterances around clips, degrades them, and cuts labelled windows out.

    A window is the audio behind one model input (``window`` samples) and, for a front end that
    adapts to what it hears, the ``warmup`` before it."""

    def __init__(self, seed: int, babble: list[np.ndarray], front: FrontEnd = LOG_MEL) -> None:
        self.rng = random.Random(seed)
        self.augmenter = Augmenter(seed, [to_float(b) for b in babble[:200]])
        self.babble = babble
        self.window = front.span()
        self.span = self.window + front.warmup_samples

    def _cut(self, audio: np.ndarray, end: int) -> np.ndarray:
        """The ``span`` samples before ``end`` (or as many as there are), as int16; ``end`` is
        clamped into the audio and leaves a whole window before it."""
        end = min(max(end, self.window), audio.size)
        return to_int16(audio[max(0, end - self.span) : end])

    def _lead_in(self) -> np.ndarray:
        """What comes before a clip: a second or more of quiet, or the end of other speech."""
        quiet = np.zeros(self.span + _ms(self.rng, 50, 500), dtype=np.float32)
        if self.babble and self.rng.random() < 0.4:
            end = quiet.size - _ms(self.rng, 50, 400)
            talk = to_float(self.rng.choice(self.babble))[-end:]
            quiet[end - talk.size : end] = talk
        return quiet

    def around(self, clip: np.ndarray) -> tuple[np.ndarray, int]:
        """(utterance, where the clip ends in it), degraded."""
        after = np.zeros(_ms(self.rng, 300, 500), dtype=np.float32)
        if self.babble and self.rng.random() < 0.3:  # "hey zero, what time is it"
            follow = to_float(self.rng.choice(self.babble))
            after = np.concatenate([np.zeros(_ms(self.rng, 30, 200), np.float32), follow, after])
        lead = self._lead_in()
        spoken = self.augmenter.speed(to_float(clip))
        utterance = np.concatenate([lead, spoken, after])
        return self.augmenter.apply(utterance), lead.size + spoken.size

    def positive_windows(self, clip: np.ndarray) -> Iterable[tuple[np.ndarray, int]]:
        audio, end = self.around(clip)
        yield self._cut(audio, end + _ms(self.rng, 20, 250)), 1
        if clip.size > RATE // 2:  # the phrase cut short: must not fire yet
            yield self._cut(audio, end - _ms(self.rng, 200, 500)), 0

    def confusable_windows(self, clip: np.ndarray) -> Iterable[tuple[np.ndarray, int]]:
        audio, end = self.around(clip)
        yield self._cut(audio, end + _ms(self.rng, 20, 250)), 0

    def sentence_windows(self, clip: np.ndarray) -> Iterable[tuple[np.ndarray, int]]:
        audio, end = self.around(clip)
        # just after the sentence ends, as a positive is cut: a pause is not the phrase
        yield self._cut(audio, end + _ms(self.rng, 20, 250)), 0
        for _ in range(1 + clip.size // RATE):
            yield self._cut(audio, self.rng.randint(self.window, audio.size)), 0

    def noise_window(self) -> tuple[np.ndarray, int]:
        if self.rng.random() < 0.05:
            return np.zeros(self.span, dtype=np.int16), 0  # a muted or unplugged mic
        return to_int16(self.augmenter.background(self.span)), 0


def said_alone(
    rng: random.Random, phrase: str, split: VoiceSplit, settings: DataSettings, quiet: bool
) -> list[np.ndarray]:
    """``settings.confusables`` confusable phrases, then ``settings.single_words`` single
    words, each said on its own: negatives of both recipes."""
    confusables = synthesize(
        negative_jobs(rng, phrase, split, settings.confusables, confusable=True),
        "speaking confusables",
        quiet,
    )
    return confusables + synthesize(
        negative_jobs(rng, phrase, split, settings.single_words, single=True),
        "speaking single words",
        quiet,
    )


def build_windows(
    phrase: str, split: VoiceSplit, settings: DataSettings, quiet: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, CONTEXT_FRAMES, MEL_BANDS), labels (n,)) for training."""
    rng = random.Random(settings.seed)
    recorded = load_recordings(Path(settings.recordings)) if settings.recordings else []
    positives = synthesize(
        positive_jobs(rng, phrase, split, settings.positives, accent_share=settings.accent_share),
        "speaking the phrase",
        quiet,
    )
    positives += recorded * RECORDING_COPIES
    sentences = synthesize(
        negative_jobs(rng, phrase, split, settings.sentences), "speaking other sentences", quiet
    )
    confusables = said_alone(rng, phrase, split, settings, quiet)
    front = FRONT_ENDS[settings.features]
    maker = WindowMaker(settings.seed, [s for s in sentences if s.size], front)
    windows: list[tuple[np.ndarray, int]] = []
    bar = tqdm(
        total=settings.copies * (len(positives) + len(confusables))
        + len(sentences)
        + settings.noise_windows,
        desc="degrading and cutting windows",
        unit="clip",
        disable=quiet,
    )
    for _ in range(settings.copies):
        for clip in positives:
            if clip.size:
                windows.extend(maker.positive_windows(clip))
            bar.update()
        for clip in confusables:
            if clip.size:
                windows.extend(maker.confusable_windows(clip))
            bar.update()
    for clip in sentences:
        if clip.size:
            windows.extend(maker.sentence_windows(clip))
        bar.update()
    for _ in range(settings.noise_windows):
        windows.append(maker.noise_window())
        bar.update()
    bar.close()
    features = np.stack([front.rows(w)[-CONTEXT_FRAMES:] for w, _ in windows])
    labels = np.array([label for _, label in windows], dtype=np.float32)
    return features, labels
