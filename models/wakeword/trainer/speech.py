"""Speech to train and test on: espeak-ng voices (and flite's and festival's, when installed),
the wake phrase, and text without it.

Voices are split in two, by voice and by variant: the network trains on one part, and the other
chooses its threshold (validation) and judges it (the test), each from its own seed, so its
figures say how it does on voices it never heard (a little kindly: they chose the threshold).
"""

from __future__ import annotations

import functools
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.errors import TtsError
from device.speaking.mandarin import MANDARIN_VOICE, pinyin
from device.speaking.tts import EspeakSynthesizer

from . import engines
from .settings import HELDOUT_VOICES

# Sounds like part of the phrase: heard as negatives, in training and in the held-out test. Near
# rhymes that differ in one sound ("say zero", "hey hero") are left out: a model small enough for
# a Pi cannot refuse them without missing the phrase itself, and people rarely say them.
CONFUSABLES = (
    "hey there", "hey", "zero", "hero", "hey siri", "hey google", "hey joe", "hey sarah",
    "zero zero", "hey zed", "hazy roads", "hey you", "hey zack", "nero", "hey there hero",
    "hey zebra", "they sell", "hey ziggy", "zero one two", "hey cheerio", "hey ray", "hello",
    "the hero", "heroes", "a zero sum game", "hey everyone", "hey there zack",
)  # fmt: skip

# Things people say to and around a wearable; the rest of the negative text is random words.
EVERYDAY = (
    "what time is it",
    "set a timer for ten minutes",
    "what's the weather like today",
    "could you pass me the salt please",
    "the meeting moved to thursday afternoon",
    "turn the volume up",
    "take a note buy milk and eggs",
    "what am I looking at",
    "I think we should leave at seven",
    "how far is the station from here",
    "can you hear me now",
    "testing the microphone one two three",
    "remember to call mum",
    "let's grab lunch after the talk",
    "the train is running twenty minutes late",
    "is it going to rain this afternoon",
    "that was a great demo",
    "where did I put my keys",
    "the battery is almost empty",
    "please speak a little louder",
)


# Words people say alone, then stop: answers, counts, names of things. A word followed by
# silence fired models that had heard words only inside sentences ("three", on real recordings).
SHORT_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "yes", "no", "okay", "right", "sure", "thanks", "hello", "hi", "stop", "wait", "what",
    "sorry", "please", "maybe", "done", "next", "again", "later", "good", "cool", "wow",
)  # fmt: skip


@dataclass(frozen=True)
class Voice:
    """One speaker: a voice, a variant, a speed and a pitch (as espeak-ng counts them)."""

    name: str  # e.g. "en-gb-scotland+m3", or another engine's "flite:slt"
    rate_wpm: int
    pitch: int

    def say(self, text: str) -> np.ndarray:
        if engines.is_other_engine(self.name):
            return engines.say_many(self.name, [(self.rate_wpm, self.pitch, text)])[0]
        if self.name.split("+")[0] == MANDARIN_VOICE:  # it reads pinyin, not characters
            text = pinyin(text, phrases=True)
        tts = EspeakSynthesizer(self.name, self.rate_wpm, self.pitch, volume_percent=100)
        pcm = tts.synthesize(text)
        return np.frombuffer(pcm, dtype="<i2").copy()


def espeak_listing(option: str) -> list[list[str]]:
    """The fields of each voice ``espeak-ng OPTION`` lists (--voices, --voices=variant, ...), as
    it sees them now: in a made_up_variants block, with the made-up variants."""
    try:
        out = subprocess.run(
            ["espeak-ng", option], capture_output=True, check=True, timeout=10
        ).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError) as exc:
        raise TtsError(f"espeak-ng {option} failed ({exc}): sudo apt install espeak-ng") from exc
    return [line.split() for line in out.splitlines()[1:] if len(line.split()) >= 5]


@functools.cache
def english_voices() -> tuple[str, ...]:
    """espeak-ng's own English voices (MBROLA ones need data we do not install)."""
    return tuple(sorted({f[1] for f in espeak_listing("--voices=en") if f[4].startswith("gmw/")}))


@functools.cache
def variants() -> tuple[str, ...]:
    """Voice variants (male, female, klatt, whisper, ...), usable as ``voice+variant``."""
    return tuple(sorted({f[4].removeprefix("!v/") for f in espeak_listing("--voices=variant")}))


# Said REPEAT_TIMES by each voice: a voice that says it differently once is left out, so one
# command builds the same training data every time. espeak-ng 1.51's vi-vn-x-central and
# vi-vn-x-south say "mann" differently on almost every call (12 md5s in 12 calls each; 15 in 16),
# so two calls now and then agree: with two, one CI run let vi-vn-x-central through. Across 129
# voices and 40 sentences each, said three times, no other voice varied.
REPEAT_PROBE = "bollmann mann hermann"
REPEAT_TIMES = 4  # about 15 ms a call: 120 voices in 7 s


def _speaks_repeatably(voice: str) -> bool:
    """Whether ``espeak-ng -v voice`` works (a few listed names are refused, chr-US-Qaaa-x-west)
    and says REPEAT_PROBE the same way every time, REPEAT_TIMES times."""
    first = b""
    for _ in range(REPEAT_TIMES):
        try:
            run = subprocess.run(
                ["espeak-ng", "--stdout", "-v", voice, REPEAT_PROBE],
                capture_output=True,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        if run.returncode != 0 or not run.stdout:
            return False
        first = first or run.stdout
        if run.stdout != first:
            return False
    return True


@functools.cache
def other_voices() -> tuple[str, ...]:
    """espeak-ng's voices for languages other than English (about 120), MBROLA ones and those
    not repeatable aside."""
    listing = espeak_listing("--voices")
    names = {f[1] for f in listing if not f[4].startswith("mb/") and not f[1].startswith("en")}
    return tuple(sorted(name for name in names if _speaks_repeatably(name)))


def accent_voices(phrase: str) -> tuple[str, ...]:
    """Other languages' voices that say ``phrase`` as words, with their accent: not those that
    spell it out letter by letter (Japanese, Hebrew)."""
    words = len(phrase.split())
    said = []
    for voice in other_voices():
        out = subprocess.run(["espeak-ng", "-q", "-x", "-v", voice, phrase],
                             capture_output=True, text=True, timeout=10).stdout  # fmt: skip
        if len(out.split()) == words:
            said.append(voice)
    return tuple(said)


@dataclass(frozen=True)
class VoiceSplit:
    """Which voices and variants train the model, and which are kept to test it."""

    train_voices: tuple[str, ...]
    train_variants: tuple[str, ...]
    heldout_voices: tuple[str, ...]
    heldout_variants: tuple[str, ...]
    # Other languages' voices reading English: accents that say what the wake word is not.
    negative_voices: tuple[str, ...] = ()
    # Those of them that say the phrase as words: accents that say it, for training positives.
    accent_voices: tuple[str, ...] = ()
    # Neural voices of real speakers (Piper's) among the training voices, and the share of the
    # phrase clips and of the talk they say (the rest is shared by all the training voices).
    natural_voices: tuple[str, ...] = ()
    natural_share: float = 0.0
    # What the phrase and most of the talk are in: "en", or "zh" (chinese.py: then
    # negative_voices are English ones, for the English talk, and these the held-out ones).
    language: str = "en"
    heldout_negative_voices: tuple[str, ...] = ()

    def training_pool(self, rng: random.Random) -> tuple[str, ...]:
        """The training voices to draw the next speaker from."""
        if self.natural_share and self.natural_voices and rng.random() < self.natural_share:
            return self.natural_voices
        return self.train_voices


def split_voices(
    heldout: tuple[str, ...] = HELDOUT_VOICES,
    phrase: str = "",
    other_engines: bool = False,
    natural_share: float = 0.0,
) -> VoiceSplit:
    """espeak-ng's English voices less ``heldout``; with ``other_engines``, also flite's and
    festival's installed voices less one speaker each (engines.HELD_OUT). With a ``phrase``,
    accents that say it, for positives."""
    voices = english_voices()
    missing = [v for v in heldout if v not in voices]
    if missing:
        raise TtsError(f"espeak-ng has no voice {', '.join(missing)}; it has {', '.join(voices)}")
    every = variants()
    held_variants = every[::4]  # a quarter of the variants, spread through the list
    others = engines.voices() if other_engines else ()
    return VoiceSplit(
        train_voices=tuple(v for v in voices if v not in heldout)
        + tuple(v for v in others if v not in engines.HELD_OUT),
        train_variants=tuple(v for v in every if v not in held_variants),
        heldout_voices=heldout + tuple(v for v in others if v in engines.HELD_OUT),
        heldout_variants=held_variants,
        negative_voices=other_voices(),
        accent_voices=accent_voices(phrase) if phrase else (),
        natural_voices=tuple(v for v in others if v.startswith("piper:")),
        natural_share=natural_share,
    )


def random_voice(
    rng: random.Random,
    voices: tuple[str, ...],
    variant_names: tuple[str, ...],
    rates: tuple[int, int] = (120, 210),
    always_variant: bool = False,
) -> Voice:
    """A speaker: a voice, often (or ``always_variant``) with a variant, at a random speed and
    pitch."""
    name = rng.choice(voices)
    with_variant = always_variant or rng.random() < 0.8
    if with_variant and not engines.is_other_engine(name):  # variants are espeak-ng's
        name += "+" + rng.choice(variant_names)
    return Voice(name, rng.randint(*rates), rng.randint(20, 80))


def phrase_spellings(phrase: str) -> tuple[str, ...]:
    """Ways to write the phrase that espeak-ng says a little differently."""
    words = phrase.split()
    forms = {phrase, phrase + ".", phrase + "!", phrase + "?", ", ".join(words)}
    return tuple(sorted(forms))


@functools.cache
def _dictionary_words() -> tuple[str, ...]:
    """Plain words from pocketsphinx's bundled pronouncing dictionary: speech sounds aplenty."""
    from pocketsphinx import get_model_path

    words = []
    with open(Path(get_model_path()) / "en-us" / "cmudict-en-us.dict", encoding="utf-8") as lines:
        for line in lines:
            word = line.split(" ", 1)[0]
            if word.isalpha() and 2 <= len(word) <= 10:
                words.append(word)
    return tuple(words)


def single_word(rng: random.Random, phrase: str) -> str:
    """One word said on its own (never the phrase itself): half the time a common short one."""
    word = rng.choice(SHORT_WORDS) if rng.random() < 0.5 else rng.choice(_dictionary_words())
    return word if word != phrase else single_word(rng, phrase)


def negative_sentence(rng: random.Random, phrase: str) -> str:
    """Text without the phrase: everyday talk, confusable bits, or a run of random words."""
    roll = rng.random()
    if roll < 0.25:
        text = rng.choice(EVERYDAY)
    elif roll < 0.45:
        text = f"{rng.choice(CONFUSABLES)} {rng.choice(EVERYDAY)}"
    else:
        words = _dictionary_words()
        text = " ".join(rng.choice(words) for _ in range(rng.randint(4, 14)))
    return text if phrase not in text else negative_sentence(rng, phrase)


def trim_silence(samples: np.ndarray, level: int = 300) -> np.ndarray:
    """Cut the quiet head and tail espeak-ng puts around speech."""
    loud = np.flatnonzero(np.abs(samples) > level)
    if loud.size == 0:
        return samples[:0]
    return samples[max(0, loud[0] - 160) : loud[-1] + 160]
