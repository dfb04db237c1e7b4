"""The English command rescue's trainer (``zeropin commands train --language en``): its texts,
its voices, and a tiny model trained end to end that the device loads and scores as the trainer
did."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import small_real_speech_tree

from device.errors import ModelError
from device.listening.command_model import UNKNOWN
from device.listening.command_rescue import CommandRescue
from device.loop.router import decide
from device.sim.intents_eval import HELDOUT_VOICES, QUESTIONS, TUNING_VOICES
from device.skills.intents import jsgf_grammar, may_guess
from device.wakeword.real_speech import DEFAULT_ROOT, half

pytest.importorskip("tensorflow")  # the train extra; ./dev installs it

from commands_trainer import english  # noqa: E402
from commands_trainer.cli import settings_from, train_parser  # noqa: E402
from commands_trainer.grammar import rules, sample  # noqa: E402
from commands_trainer.network import int8_probabilities  # noqa: E402
from commands_trainer.train import Settings  # noqa: E402


def test_every_command_is_said_in_phrasings_its_grammar_hears():
    grammar, rng = rules(jsgf_grammar()), random.Random(0)
    for name in english.command_names():
        said = {english.command_text(name, grammar, rng) for _ in range(40)}
        assert all(decide(text, "hey zero") == name for text in said), (name, said)
    phrasings = {english.command_text("volume_down", grammar, rng) for _ in range(60)}
    assert "turn it down" in phrasings  # in the grammar, in none of the examples


def test_the_sampler_reads_groups_options_and_rules():
    grammar = {"unit": "second | minute", "count": "one | two"}
    seen = {sample("(set | start) a timer [for <count> <unit>]", grammar, random.Random(k))
            for k in range(200)}  # fmt: skip
    assert "set a timer" in seen and "start a timer for two minute" in seen
    assert all(text.split()[1:3] == ["a", "timer"] for text in seen)
    with pytest.raises(ValueError, match="unbalanced"):
        sample("(set a timer", grammar, random.Random(0))


def test_no_unknown_text_is_a_command_and_none_is_the_evaluations_question():
    grammar, rng = rules(jsgf_grammar()), random.Random(0)
    unknown = {english.unknown_text(grammar, rng) for _ in range(500)}
    assert not any(decide(text, "hey zero") in english.command_names() for text in unknown)
    assert not any(question in text for question in QUESTIONS for text in unknown)


def test_no_voice_or_variant_the_evaluation_holds_out_is_trained_or_validated_on():
    split = english.split()
    tuning = {v.name.split("+")[0] for v in TUNING_VOICES}
    held_accents = {v.name.split("+")[0] for v in HELDOUT_VOICES} - tuning
    held_variants = {v.name.split("+")[1].lower() for v in HELDOUT_VOICES if "+" in v.name}
    assert "en-gb-x-rp" in held_accents and "flite:slt" in held_accents and "annie" in held_variants
    for voices, kinds in ((split.train_voices, split.train_variants),
                          (split.validation_voices, split.validation_variants)):  # fmt: skip
        assert not set(voices) & held_accents
        assert not any(h in kind.lower() for h in held_variants for kind in kinds)
    assert "AnxiousAndy" not in split.train_variants  # named after a held-out variant
    assert not set(split.train_variants) & set(split.validation_variants)


def test_the_labels_are_phrases_and_the_device_acts_on_the_safe_ones():
    labels = english.labels()
    assert labels[-1] == UNKNOWN and "what time is it" in labels and "set a timer" in labels
    acting = english.acts(labels)
    assert acting[labels.index("set a timer")] and not acting[labels.index("start recording")]
    assert not acting[labels.index("stop recording")]
    assert list(acting) == [may_guess(label) for label in labels]


def test_english_takes_the_real_speech_folder_and_its_own_epochs(tmp_path):
    args = train_parser().parse_args(
        ["--language", "en", "--out", "m/en.tflite", "--real-speech", str(tmp_path)]
    )
    with pytest.raises(ModelError, match="real-speech folder"):
        settings_from(args)
    args = train_parser().parse_args(["--language", "en", "--out", "m/en.tflite"])
    settings = settings_from(args)
    assert settings.epochs == 60 and settings.real_speech == (
        str(DEFAULT_ROOT) if DEFAULT_ROOT.is_dir() else ""
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("english")
    real_tree = small_real_speech_tree(out / "real", 8) if DEFAULT_ROOT.is_dir() else ""
    model = out / "en.tflite"
    settings = Settings("en", str(model), epochs=2, scale=0.01, quiet=True,
                        real_speech=str(real_tree))  # fmt: skip
    assert english.run(settings, "(test)") == 0
    return model


def test_the_device_loads_the_model_and_scores_what_the_trainer_computed(tiny_model):
    card = json.loads(tiny_model.with_suffix(".json").read_text())
    assert card["labels"] == list(english.labels()) and 0.5 <= card["threshold"] <= 0.99
    assert card["made"]["command"] == "(test)"
    rescue = CommandRescue(tiny_model, may_guess)
    job = english.Job(0, "what time is it", english.Voice("en-us+m3", 150, 50), 7)
    features = english.features_of(job)
    assert features.shape == (english.FEATURES,) and features.any()
    content = tiny_model.read_bytes()
    trainer = int8_probabilities(content, features[None, :])[0]
    device = rescue.probabilities(features)
    # tflite-runtime and TensorFlow's interpreter may round one int8 output a step apart
    assert np.abs(device - trainer).max() <= 1 / 256 + 1e-6
    assert device.argmax() == trainer.argmax()


@pytest.mark.skipif(not DEFAULT_ROOT.is_dir(), reason=f"no real recordings at {DEFAULT_ROOT}")
def test_real_talk_is_split_by_speaker(tiny_model):
    card = json.loads(tiny_model.with_suffix(".json").read_text())
    assert card["metrics"]["real_talk_unheard_speakers"]["utterances"] > 0
    root = Path(card["made"]["settings"]["real_speech"])
    jobs = {part: english.real_jobs(root, part, 100, 0) for part in ("train", "validation", "test")}
    assert all(half(Path(job.text)) == 1 for job in jobs["test"])
    assert all(half(Path(job.text)) == 0 for job in jobs["train"] + jobs["validation"])
    assert not {j.text for j in jobs["train"]} & {j.text for j in jobs["validation"]}
