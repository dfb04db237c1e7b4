"""``zeropin commands train --language en``: the English command rescue
(``device.listening.command_rescue``), a small network over the speech embedding.

**Labels.** One for each command the grammar hears (its first example's phrase; "set a timer",
"set the volume" and "take a note" for those that carry a length, a level or words), then
``_unknown``. The answers to the device's own questions (yes, no, a length) are no command.

**Speech.** espeak-ng's English voices and variants, flite's and Piper's, less every voice,
accent and variant of ``device.sim.intents_eval.HELDOUT_VOICES``: that evaluation, through the
daemon's listener, is the test. A fifth of the remaining accents and variants are set aside to
choose the threshold on. Each command is said in the phrasings its grammar accepts
(``grammar.sample``); the unknown are the grammar's question branch, everyday sentences, runs of
words, words said alone and the wake phrase alone. Each utterance is degraded as the wake word's
training is (``wakeword_trainer.augment``), with a little room before it (sometimes the end of the
wake phrase, as the listener cuts after it) and the endpointer's silence after.

**People.** With ``../shared/real-speech``, pieces of its real talk (read speech, digits, the
keywords) are unknown too: the speakers ``wakeword_trainer.real.trained_on`` names to train on, the
rest of that half to hold the threshold, and the other half, never heard, for the card.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm
from wakeword_trainer import engines, real
from wakeword_trainer.augment import RATE, Augmenter, to_float, to_int16
from wakeword_trainer.network import int8_tflite
from wakeword_trainer.speech import (
    SHORT_WORDS,
    Voice,
    english_voices,
    negative_sentence,
    trim_silence,
    variants,
)

from device.listening.command_model import UNKNOWN
from device.listening.command_rescue import CARD_FEATURES, FEATURES, utterance_features
from device.listening.embedding_wake import SpeechEmbedding
from device.loop.router import decide
from device.sim.intents_eval import HELDOUT_VOICES, QUESTIONS, TUNING_VOICES
from device.skills.intent_specs import SPECS
from device.skills.intents import jsgf_grammar, may_guess
from device.wakeword.real_speech import half
from drivers.audio_format import read_audio

from .card import write_card
from .grammar import rules, sample
from .network import int8_probabilities

WAKE_PHRASE = "hey zero"
NO_COMMAND = ("confirm", "decline", "translate")  # answers, or heard by no grammar
SHORTENED = {"timer_set": "set a timer", "volume_set": "set the volume", "note_add": "take a note"}
GRAMMAR_SHARE = 0.7  # of a command's texts drawn from its grammar; the rest are its examples
BEFORE, AFTER = (0.1, 0.5), (0.3, 1.0)  # seconds of room around the speech
PHRASE_TAIL = (0.5, (0.05, 0.3))  # share of utterances after the phrase's end, and its length
PIECE = (1.0, 4.0)  # seconds of a piece of real talk
MAX_UNKNOWN_ACCEPTED = 0.01  # of the validation's unknown utterances the threshold may accept
UNITS, DROPOUT = 256, 0.5


@dataclass(frozen=True)
class Sizes:
    per_command: int = 160
    unknown: int = 2400
    real_pieces: int = 1200  # at most, of the real talk trained on


@dataclass(frozen=True)
class Split:
    train_voices: tuple[str, ...]
    train_variants: tuple[str, ...]
    validation_voices: tuple[str, ...]
    validation_variants: tuple[str, ...]


def labels() -> tuple[str, ...]:
    return (*(_phrase(name) for name in command_names()), UNKNOWN)


def command_names() -> tuple[str, ...]:
    return tuple(s.name for s in SPECS if s.grammar and not s.answers and s.name not in NO_COMMAND)


def _phrase(name: str) -> str:
    return SHORTENED.get(name) or next(s.examples[0] for s in SPECS if s.name == name)


UNKNOWN_INDEX = len(command_names())  # the last label


def split() -> Split:
    """The voices and variants to train on and to validate on. The evaluation's held-out speakers
    are an accent and a variant each: neither is used (nor a variant named after one, as
    AnxiousAndy after Andy), unless the accent is also a tuning voice's (en-us). espeak-ng's few
    English accents are all in both parts; a fifth of the variants, and no other engine's voice,
    validate."""
    tuning = {v.name.split("+")[0] for v in TUNING_VOICES}
    held = {v.name.split("+")[0] for v in HELDOUT_VOICES} - tuning
    held_variants = {v.name.split("+")[1].lower() for v in HELDOUT_VOICES if "+" in v.name}
    accents = tuple(v for v in english_voices() if v not in held)
    kinds = [v for v in variants() if not any(h in v.lower() for h in held_variants)]
    return Split(
        train_voices=accents + tuple(v for v in engines.voices() if v not in held),
        train_variants=tuple(v for k, v in enumerate(kinds) if k % 5 != 2),
        validation_voices=accents,
        validation_variants=tuple(v for k, v in enumerate(kinds) if k % 5 == 2),
    )


def command_text(name: str, grammar: dict[str, str], rng: random.Random) -> str:
    """A way to say command ``name`` that the router decides as it: from its grammar, or one of
    its examples."""
    spec = next(s for s in SPECS if s.name == name)
    if rng.random() < GRAMMAR_SHARE:
        for _ in range(20):
            text = sample(spec.grammar, grammar, rng)
            if decide(text, WAKE_PHRASE) == name:
                return text
    return rng.choice(spec.examples)


# What people ask an assistant, in whole sentences. The grammar's question branch (a run of
# question words) does not sound like them, and a question shaped like a command ("why is the sky
# blue", "what time is it") is told from it only by a network that has heard such questions.
ASKED = (
    "why is the grass green", "why do cats purr", "why is the ocean salty", "why is it so cold",
    "why do we dream", "why are you so slow", "how do airplanes fly", "how old is the universe",
    "how do i get to the station", "how long does it take to boil an egg", "how tall is everest",
    "how many people live in london", "who wrote hamlet", "who is the president of france",
    "who invented the telephone", "who is playing tonight", "what is the tallest mountain",
    "what should i cook tonight", "what is the meaning of life", "what is two plus two",
    "what is the weather like tomorrow", "what does this word mean", "what is a black hole",
    "where is the nearest pharmacy", "where do penguins live", "where is my phone",
    "when does the sun set", "when was the eiffel tower built", "when is the next bus",
    "which planet is the biggest", "which way is north", "is it going to snow",
    "is the shop still open", "are we there yet", "do you like music", "does it rain a lot here",
    "could you recommend a good book", "can dogs eat chocolate", "should i bring an umbrella",
    "will it be sunny on saturday", "tell me a story", "tell me something interesting",
    "explain how a rainbow forms", "give me a recipe for pancakes", "say something funny",
    "how do you make bread", "spell necessary", "what rhymes with orange",
    "is this the right way", "how are you today",
)  # fmt: skip


def unknown_text(grammar: dict[str, str], rng: random.Random) -> str:
    """Words that are no command: a question as the grammar hears one or as people ask it, talk,
    a word alone, or the wake phrase alone; never one of the intents evaluation's questions."""
    roll = rng.random()
    if roll < 0.3:
        text = sample(grammar["question"], grammar, rng)
    elif roll < 0.55:
        text = rng.choice(ASKED)
    elif roll < 0.85:
        text = negative_sentence(rng, WAKE_PHRASE)
    elif roll < 0.96:
        text = rng.choice(SHORT_WORDS)
    else:
        text = WAKE_PHRASE
    command = decide(text, WAKE_PHRASE) in command_names()
    tested = any(question in text for question in QUESTIONS)  # the evaluation's own
    return unknown_text(grammar, rng) if command or tested else text


@dataclass(frozen=True)
class Job:
    label: int
    text: str
    voice: Voice | None  # None: ``text`` names a real recording and its piece
    seed: int


def synthetic_jobs(seed: int, split_: Split, sizes: Sizes, validation: bool) -> list[Job]:
    rng = random.Random(seed)
    grammar = rules(jsgf_grammar(WAKE_PHRASE))
    voices = split_.validation_voices if validation else split_.train_voices
    kinds = split_.validation_variants if validation else split_.train_variants
    said = [
        (label, command_text(name, grammar, rng))
        for label, name in enumerate(command_names())
        for _ in range(sizes.per_command)
    ]
    said += [(UNKNOWN_INDEX, unknown_text(grammar, rng)) for _ in range(sizes.unknown)]
    return [
        Job(label, text, _voice(rng, voices, kinds, validation), seed * 100_000 + k)
        for k, (label, text) in enumerate(said)
    ]


def _voice(
    rng: random.Random, voices: tuple[str, ...], kinds: tuple[str, ...], always: bool
) -> Voice:
    """A speaker; ``always`` with a variant (validation's accents are training's too)."""
    name = rng.choice(voices)
    if (always or rng.random() < 0.8) and not engines.is_other_engine(name):
        name += "+" + rng.choice(kinds)
    return Voice(name, rng.randint(120, 210), rng.randint(20, 80))


def real_jobs(root: Path, part: str, most: int, seed: int) -> list[Job]:
    """Pieces of real talk as unknown: ``part`` "train" (the speakers ``real.trained_on``),
    "validation" (the rest of half 0) or "test" (half 1, never heard)."""
    wanted = {
        "train": real.trained_on,
        "validation": lambda f: half(f) == 0 and not real.trained_on(f),
        "test": lambda f: half(f) == 1,
    }[part]
    files = real.talk_files(root, WAKE_PHRASE, wanted)
    random.Random(seed).shuffle(files)
    return [
        Job(UNKNOWN_INDEX, str(f), None, seed * 100_000 + k) for k, f in enumerate(files[:most])
    ]


_EMBEDDING: SpeechEmbedding | None = None


def features_of(job: Job) -> np.ndarray:
    """The pooled embedding of one utterance, built and degraded as the module docstring says."""
    global _EMBEDDING
    if _EMBEDDING is None:
        _EMBEDDING = SpeechEmbedding()
    rng = np.random.default_rng(job.seed)
    augment = Augmenter(job.seed)
    if job.voice is None:
        talk = to_float(np.frombuffer(read_audio(job.text), dtype="<i2"))
        size = min(talk.size, int(rng.uniform(*PIECE) * RATE))
        start = int(rng.integers(0, talk.size - size + 1))
        speech = talk[start : start + size]
    else:
        speech = augment.speed(to_float(trim_silence(job.voice.say(job.text))))
    parts = [np.zeros(int(rng.uniform(*BEFORE) * RATE), np.float32)]
    if job.voice is not None and rng.random() < PHRASE_TAIL[0]:
        phrase = to_float(trim_silence(job.voice.say(WAKE_PHRASE)))
        parts.insert(0, phrase[-int(rng.uniform(*PHRASE_TAIL[1]) * RATE) :])
    parts += [speech, np.zeros(int(rng.uniform(*AFTER) * RATE), np.float32)]
    audio = np.concatenate(parts)
    audio = augment.apply(audio, clean_share=0.15) if job.voice is not None else audio
    audio = audio + augment.background(audio.size)
    return utterance_features(_EMBEDDING, to_int16(audio))


def build(jobs: list[Job], what: str, quiet: bool) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, FEATURES), labels (n,)) of the jobs, on every core."""
    with multiprocessing.get_context("spawn").Pool() as pool:
        rows = list(
            tqdm(pool.imap(features_of, jobs, chunksize=8), total=len(jobs), desc=what,
                 disable=quiet)
        )  # fmt: skip
    data = np.stack(rows) if rows else np.zeros((0, FEATURES), np.float32)
    return data.astype(np.float32), np.array([j.label for j in jobs], dtype=np.int64)


def build_model(features: np.ndarray, classes: int, seed: int) -> Any:
    """Each feature scaled by its spread over the training set, a layer of UNITS, a softmax."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    scale = tf.keras.layers.Normalization()
    scale.adapt(features)
    model = tf.keras.Sequential([
        tf.keras.layers.Input((FEATURES,)),
        scale,
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(UNITS, activation="relu"),
        tf.keras.layers.Dropout(DROPOUT),
        tf.keras.layers.Dense(classes, activation="softmax"),
    ])  # fmt: skip
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def acts(label_names: tuple[str, ...]) -> np.ndarray:
    """Whether the device acts on each label (``intents.may_guess``)."""
    return np.array([may_guess(n, WAKE_PHRASE) for n in label_names])


def outcomes(p: np.ndarray, truth: np.ndarray, threshold: float, acting: np.ndarray) -> dict:
    """Shares of the commands acted on right, and of the unknown (and of all) acted on wrongly."""
    best = p.argmax(axis=1)
    acted = acting[best] & (p.max(axis=1) >= threshold)
    unknown = truth == len(acting) - 1
    command = ~unknown & acting[truth]
    heard = acted & (best == truth)
    return {
        "commands_right": round(float(np.mean(heard[command])), 4) if command.any() else None,
        "unknown_acted_on": round(float(np.mean(acted[unknown])), 4) if unknown.any() else None,
        "wrong": round(float(np.mean(acted & (best != truth))), 4),
        "utterances": int(truth.size),
    }  # fmt: skip


def choose_threshold(parts: list[tuple[np.ndarray, np.ndarray]], acting: np.ndarray) -> float:
    """The lowest threshold that, in every validation part (probabilities, truth) on its own,
    acts on at most MAX_UNKNOWN_ACCEPTED of the unknown utterances and wrongly on at most as many
    of all: the most commands heard within that."""
    for threshold in np.arange(0.5, 0.995, 0.01):
        found = [outcomes(p, truth, float(threshold), acting) for p, truth in parts]
        if all(
            (f["unknown_acted_on"] or 0.0) <= MAX_UNKNOWN_ACCEPTED
            and f["wrong"] <= MAX_UNKNOWN_ACCEPTED
            for f in found
        ):
            return round(float(threshold), 2)
    return 0.99


@dataclass
class Data:
    """The utterances' features and labels: training, validation (its synthetic ones first) and
    the real talk of speakers never heard."""

    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    synthetic_validation: int
    real_test: tuple[np.ndarray, np.ndarray]


def make_data(settings: Any, split_: Split) -> Data:
    sizes = Sizes(*(max(1, round(n * settings.scale)) for n in asdict(Sizes()).values()))
    train_jobs = synthetic_jobs(settings.seed, split_, sizes, validation=False)
    fifth = Sizes(*(max(1, n // 5) for n in asdict(sizes).values()))
    check_jobs = synthetic_jobs(settings.seed + 1000, split_, fifth, validation=True)
    real_parts: dict[str, list[Job]] = {"validation": [], "test": []}
    if settings.real_speech:
        root = Path(settings.real_speech)
        train_jobs += real_jobs(root, "train", sizes.real_pieces, settings.seed + 1)
        for k, part in enumerate(real_parts):
            real_parts[part] = real_jobs(root, part, sizes.real_pieces, settings.seed + 2 + k)
    return Data(
        train=build(train_jobs, "training utterances", settings.quiet),
        validation=build(check_jobs + real_parts["validation"], "validation", settings.quiet),
        synthetic_validation=len(check_jobs),
        real_test=build(real_parts["test"], "real talk, unheard speakers", settings.quiet),
    )


def run(settings: Any, command: str) -> int:
    """Train, choose the threshold, write the model and its card; ``settings`` as ``train.run``'s
    (``scale`` scales the clips, ``real_speech`` names the real recordings or is "")."""
    started = time.monotonic()
    names, split_ = labels(), split()
    data = make_data(settings, split_)
    data_minutes = (time.monotonic() - started) / 60
    (x, y), (xv, yv), (xt, yt) = data.train, data.validation, data.real_test
    model = build_model(x, len(names), settings.seed)
    verbose = 0 if settings.quiet else 2
    model.fit(x, y, epochs=settings.epochs, batch_size=64, verbose=verbose, shuffle=True)
    content = int8_tflite(model, x[np.random.default_rng(0).permutation(len(x))[:500]])
    acting = acts(names)
    pv = int8_probabilities(content, xv)
    cut = data.synthetic_validation
    parts = {"validation_synthetic": (pv[:cut], yv[:cut]), "validation_real": (pv[cut:], yv[cut:])}
    parts = {name: part for name, part in parts.items() if len(part[1])}
    threshold = choose_threshold(list(parts.values()), acting)
    metrics = {name: outcomes(p, truth, threshold, acting) for name, (p, truth) in parts.items()}
    if len(xt):
        unheard = outcomes(int8_probabilities(content, xt), yt, threshold, acting)
        metrics["real_talk_unheard_speakers"] = unheard
    out = Path(settings.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    made = {
        "command": command,
        "settings": {k: v for k, v in asdict(settings).items() if k != "copies"},  # zh's
        "utterances": {"train": len(y), "validation": len(yv), "test": len(yt)},
        "minutes": round((time.monotonic() - started) / 60, 1),
        "data_minutes": round(data_minutes, 1),
    }
    write_card(out, names, threshold, "en", metrics, made, window=None, features=CARD_FEATURES,
               about=about(names, acting, split_))  # fmt: skip
    print(f"wrote {out} ({len(content):,} bytes), threshold {threshold}")
    for name, figures in metrics.items():
        print(f"  {name}: {figures}")
    return 0


def about(names: tuple[str, ...], acting: np.ndarray, split_: Split) -> dict[str, Any]:
    """What the card says of the model, for people (``card.write_card``)."""
    return {
        "acted_on": [n for n, a in zip(names, acting, strict=True) if a],
        "network": f"{FEATURES} pooled features, {UNITS} ReLU units, softmax; int8 TFLite",
        "voices": asdict(split_),
    }
