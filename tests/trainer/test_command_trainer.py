"""The command-model trainer's options and texts: no TensorFlow, no training."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from commands_trainer.cli import run, settings_from, train_parser
from commands_trainer.dataset import TRAIN_SIZES, make_jobs, split_variants
from commands_trainer.texts import check_texts, holds_command, other_timers, phrasings, random_talk
from commands_trainer.train import Settings, labels_for

from device.errors import ModelError
from device.listening.command_model import UNKNOWN
from device.skills.chinese_commands import canonical_phrases


def test_the_cli_parses_the_command_without_importing_the_trainer():
    code = (
        "import sys\n"
        "from device.cli.main import _parser\n"
        "args, rest = _parser().parse_known_args(\n"
        "    ['commands', 'train', '--language', 'zh', '--out', 'x.tflite'])\n"
        "print(args.takes_rest, rest)\n"
        "print(sorted(m for m in sys.modules if m.startswith('commands_trainer')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "True ['--language', 'zh', '--out', 'x.tflite']",
        "[]",
    ]


def test_train_options_reach_the_settings():
    args = train_parser().parse_args(
        ["--language", "zh", "--out", "m/zh.tflite", "--seed", "3", "--epochs", "5",
         "--scale", "0.5"]
    )  # fmt: skip
    assert settings_from(args) == Settings("zh", "m/zh.tflite", seed=3, epochs=5, scale=0.5)
    with pytest.raises(SystemExit):
        train_parser().parse_args(["--language", "fr", "--out", "x.tflite"])
    with pytest.raises(ModelError, match=".tflite"):
        settings_from(train_parser().parse_args(["--language", "zh", "--out", "x.bin"]))
    with pytest.raises(ModelError):
        run("testset", [])


def test_the_labels_are_the_canonical_phrases_then_unknown():
    assert labels_for("zh") == (*canonical_phrases(), UNKNOWN)
    assert all(phrasings()[phrase][0] == phrase for phrase in canonical_phrases())


def test_no_unknown_text_is_a_command():
    check_texts()
    rng = random.Random(0)
    assert not any(holds_command(random_talk(rng)) for _ in range(2000))
    assert {"定时二十分钟", "定时三秒", "二十分钟定时"} <= set(other_timers())
    said = {text for texts in phrasings().values() for text in texts}
    labels = labels_for("zh")
    jobs = make_jobs(0, ("f2",), TRAIN_SIZES.scaled(0.2), labels)
    unknown = [job for job in jobs if job.label == len(labels) - 1]
    assert {job.kind for job in unknown} >= {"talk", "timer", "fragment", "english", "noise"}
    assert not {job.text for job in unknown} & said
    assert all(job.text in phrasings()[labels[job.label]] for job in jobs if job.kind == "command")


def test_a_quarter_of_the_variants_is_kept_for_the_test():
    split = split_variants()
    every = set(split.train + split.validation + split.test) - {""}
    assert len(split.test) >= len(every) // 4
    assert not set(split.test) & set(split.train + split.validation)
    assert not set(split.validation) & set(split.train)
