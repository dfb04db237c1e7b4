"""``zeropin wakeword train`` and ``testset``: the trainer's own options, reached only when run.

None of these needs TensorFlow: the options are parsed before the trainer's libraries load.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from dataclasses import replace

import pytest
from wakeword_trainer import cli
from wakeword_trainer.cli import _OPTIONS, train_parser, train_settings
from wakeword_trainer.settings import DataSettings, TrainSettings

from device.cli.main import main

ZEROPIN = [sys.executable, "-m", "device.cli"]


def test_the_cli_parses_every_command_without_importing_the_trainer():
    code = (
        "import sys\n"
        "from device.cli.main import _parser\n"
        "_parser().parse_known_args(['wakeword', 'train', 'hey zero', '--out', 'x.tflite'])\n"
        "_parser().parse_args(['wakeword', 'eval', 'm', '--positives', 'p', '--negatives', 'n'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('wakeword_trainer')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.fixture(autouse=True)
def _no_real_speech_beside_the_checkout(monkeypatch, tmp_path):
    """The command lines here are the same with or without ../shared/real-speech."""
    monkeypatch.setattr(cli, "DEFAULT_ROOT", tmp_path / "absent")


def test_train_options_reach_the_settings_and_the_card_command():
    args = train_parser().parse_args(
        ["hey jarvis", "--out", "jarvis.tflite", "--seed", "3",
         "--validation-minutes", "30", "--validation-clips", "20", "--test-clips", "50",
         "--networks", "3", "--accent-validation-minutes", "0", "--other-engines",
         "--recordings", "my clips/"]
    )  # fmt: skip
    settings, command = train_settings(args)
    assert settings == replace(
        TrainSettings(),
        data=DataSettings(seed=3, recordings="my clips", other_engines=True),
        validation_minutes=30.0,
        accent_validation_minutes=0.0,
        validation_positives_per_snr=20,
        test_positives_per_snr=50,
        networks=3,
    )
    assert command == (
        "zeropin wakeword train 'hey jarvis' --out jarvis.tflite --validation-minutes=30.0 "
        "--accent-validation-minutes=0.0 --validation-clips=20 --test-clips=50 --networks=3 "
        "--seed=3 '--recordings=my clips' --other-engines"
    )


def test_no_options_give_the_settings_defaults_and_a_bare_command():
    settings, command = train_settings(train_parser().parse_args(["hey zero", "--out", "z.tflite"]))
    assert settings == TrainSettings() and settings.data.features == "speech-embedding"
    assert command == "zeropin wakeword train 'hey zero' --out z.tflite"


def test_the_embedding_recipe_takes_the_real_speech_beside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "DEFAULT_ROOT", tmp_path)
    settings, command = train_settings(train_parser().parse_args(["hey zero", "--out", "z.tflite"]))
    assert settings.real_speech == str(tmp_path)
    assert command.endswith(f"--real-speech={tmp_path}")  # the card says how to make it again
    log_mel = train_parser().parse_args(["hey zero", "--out", "z.tflite", "--front-end", "log-mel"])
    assert train_settings(log_mel)[0].real_speech == ""  # the log-mel recipe only when asked
    chinese = train_parser().parse_args(["你好零", "--out", "z.tflite", "--language", "zh"])
    settings, _ = train_settings(chinese)
    assert settings.data.features == "log-mel" and settings.real_speech == ""


def test_every_train_option_sets_a_settings_field_and_shows_its_default():
    fields = {f.name: f for s in (TrainSettings, DataSettings) for f in dataclasses.fields(s)}
    help_text = " ".join(train_parser().format_help().split())
    for name, option in _OPTIONS.items():
        field = fields[option.field or name]
        flag = "--" + name.replace("_", "-")
        assert flag in help_text
        if not isinstance(field.default, bool | str):
            assert f"{option.help} (default {field.default:g})" in help_text


def test_testset_defaults_are_the_trainers_test_set():
    args = cli.testset_parser().parse_args(["hey zero", "out"])
    assert (args.clips, args.minutes) == (
        TrainSettings.test_positives_per_snr,
        TrainSettings.test_minutes,
    )


def test_zeropin_wakeword_train_help_lists_the_trainers_options():
    result = subprocess.run(
        [*ZEROPIN, "wakeword", "train", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: zeropin wakeword train ")
    for name in (*_OPTIONS, "out", "keep_test_set", "quiet"):
        assert "--" + name.replace("_", "-") in result.stdout


def test_other_commands_still_refuse_what_they_do_not_know(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["models", "list", "--bogus", "x"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "zeropin: error: unrecognized arguments: --bogus x"
    )


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--networks", "0", "0: must be a whole number, 1 or more"),
        ("--validation-minutes", "0", "0: must be a number more than 0"),
        ("--test-clips", "-2", "-2: must be a whole number, 1 or more"),
        ("--validation-minutes", "abc", "abc: must be a number more than 0"),
        ("--accent-validation-minutes", "-1", "-1: must be a number, 0 or more"),
        ("--accent-validation-minutes", "nan", "nan: must be a number, 0 or more"),
        ("--validation-minutes", "inf", "inf: must be a number more than 0"),
        ("--networks", "2.5", "2.5: must be a whole number, 1 or more"),
    ],
)
def test_a_train_option_that_would_fail_after_the_training_fails_at_once(option, value, said):
    command = [*ZEROPIN, "wakeword", "train", "hey zero"]
    result = subprocess.run(
        [*command, "--out", "x.tflite", option, value], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert (
        result.stderr.splitlines()[-1]
        == f"zeropin wakeword train: error: argument {option}: {said}"
    )


@pytest.mark.parametrize("command", ["train", "testset"])
def test_without_the_train_extra_the_commands_say_what_to_install(tmp_path, command):
    """scipy stands for the train extra: with it hidden, the command names it and the fix."""
    argv = ["wakeword", command, "hey zero", str(tmp_path / "out")]
    if command == "train":
        argv[-1:] = ["--out", str(tmp_path / "x.tflite")]
    code = (
        "import sys\n"
        "sys.modules['scipy'] = None\n"  # import scipy now fails, as without the extra
        "from device.cli.main import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "zeropin: the wake-word trainer needs the train extra (scipy is missing): "
        "pip install -e '.[train]' on a laptop"
    )
    assert not list(tmp_path.iterdir())


def test_a_keep_test_set_that_cannot_be_a_folder_fails_at_once(tmp_path):
    pytest.importorskip("scipy")  # the train extra; ./dev installs it
    pytest.importorskip("tqdm")
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    command = [*ZEROPIN, "wakeword", "train", "hey zero"]
    result = subprocess.run(
        [*command, "--out", str(tmp_path / "x.tflite"), "--keep-test-set", str(taken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"zeropin: --keep-test-set {taken}: cannot make that folder (File exists)"
    )
    assert taken.read_text() == "mine"


def test_a_switch_can_be_turned_off_and_the_card_says_so():
    args = train_parser().parse_args(["computer", "--out", "c.tflite", "--no-other-engines"])
    settings, command = train_settings(args)
    assert settings.data.other_engines is False
    assert command.endswith("--no-other-engines")


def test_the_natural_share_is_a_share():
    args = train_parser().parse_args(["computer", "--out", "c.tflite", "--natural-share", "0.3"])
    assert train_settings(args)[0].data.natural_share == 0.3
    with pytest.raises(SystemExit):
        train_parser().parse_args(["computer", "--out", "c.tflite", "--natural-share", "1.5"])


def test_a_real_speech_folder_that_is_not_one_fails_before_any_training(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "device.cli", "wakeword", "train", "computer",
         "--out", str(tmp_path / "c.tflite"), "--real-speech", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        f"{tmp_path}: no keywords/ folder: is this a real-speech folder?"
    )
    assert not (tmp_path / "c.tflite").exists()
