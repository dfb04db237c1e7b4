"""``zeropin wakeword train`` and ``testset``: the trainer's options beside its settings."""

from __future__ import annotations

import argparse
import math
from typing import Any


def _at_least_one(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be a whole number, 1 or more")
    return number


def _finite(text: str) -> float:
    """``text`` as a finite number; NaN (which compares false with everything) for anything else."""
    try:
        number = float(text)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def _more_than_zero(text: str) -> float:
    number = _finite(text)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{text}: must be a number more than 0")
    return number


def _zero_or_more(text: str) -> float:
    number = _finite(text)
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"{text}: must be a number, 0 or more")
    return number


def _trainer():  # noqa: ANN202 - the trainer package, imported only for these commands
    from device.errors import ModelError

    try:
        import scipy  # noqa: F401
        import tqdm  # noqa: F401
        import wakeword_trainer  # noqa: F401
    except ImportError as exc:
        raise ModelError(
            f"the wake-word trainer needs the train extra ({exc.name} is missing): "
            "pip install -e '.[train]' on a laptop"
        ) from exc
    return wakeword_trainer


# `zeropin wakeword train` options and the settings they set; their defaults are the settings'.
_DATA_OPTIONS = ("positives", "sentences", "confusables", "seed", "made_up_variants")


_TRAIN_OPTIONS = {
    "epochs": "epochs",
    "mining_rounds": "mining_rounds",
    "mining_minutes": "mining_minutes",
    "validation_minutes": "validation_minutes",
    "accent_validation_minutes": "accent_validation_minutes",
    "validation_clips": "validation_positives_per_snr",
    "test_minutes": "test_minutes",
    "test_clips": "test_positives_per_snr",
    "networks": "networks",
}


def train_settings(args: argparse.Namespace) -> tuple[Any, str]:
    """The TrainSettings ``zeropin wakeword train`` asked for, and the command line for the card
    (the options given, in a fixed order, so the card says how to make the model again)."""
    import shlex

    from wakeword_trainer.dataset import DataSettings
    from wakeword_trainer.train import TrainSettings

    given = {name: value for name, value in vars(args).items() if value is not None}
    data: dict[str, Any] = {k: given[k] for k in _DATA_OPTIONS if k in given}
    if args.recordings:
        data["recordings"] = str(args.recordings)
    if args.other_engines:
        data["other_engines"] = True
    training = {field: given[option] for option, field in _TRAIN_OPTIONS.items() if option in given}
    settings = TrainSettings(data=DataSettings(**data), **training)
    options = [
        f"--{name.replace('_', '-')}={given[name]}"
        for name in (*_TRAIN_OPTIONS, *_DATA_OPTIONS, "recordings")
        if name in given
    ]
    if args.other_engines:
        options.append("--other-engines")
    command = ["zeropin", "wakeword", "train", args.phrase, "--out", str(args.out), *options]
    return settings, shlex.join(command)


def _wakeword_train(args: argparse.Namespace) -> int:
    _trainer()
    from device.errors import ModelError

    if args.keep_test_set:  # made now: a bad folder fails at once, not after the first run
        try:
            args.keep_test_set.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelError(
                f"--keep-test-set {args.keep_test_set}: cannot make that folder "
                f"({exc.strerror or exc})"
            ) from exc
    try:
        import tensorflow  # noqa: F401
    except ImportError as exc:
        raise ModelError(
            "training needs TensorFlow: pip install -e '.[train]' (about 1.6 GB, laptop only)"
        ) from exc
    from wakeword_trainer.train import train_wake_word

    settings, command = train_settings(args)
    card = train_wake_word(
        args.phrase, args.out, settings, command, work_dir=args.keep_test_set, quiet=args.quiet
    )
    m = card.metrics
    print(
        f"{args.out}: threshold {card.threshold:.4g}, held out: false rejects "
        f"{100 * m['false_reject_rate']:.1f}%, false accepts {m['false_accepts_per_hour']} per hour"
    )
    return 0


def _wakeword_testset(args: argparse.Namespace) -> int:
    _trainer()
    from wakeword_trainer.speech import split_voices
    from wakeword_trainer.testset import write_test_set

    positives, negatives = write_test_set(
        " ".join(args.phrase.lower().split()),
        split_voices(other_engines=args.other_engines),
        args.out,
        positives_per_snr=args.clips,
        negative_minutes=args.minutes,
        seed=args.seed,
        quiet=args.quiet,
    )
    print(f"{positives}\n{negatives}")
    return 0
