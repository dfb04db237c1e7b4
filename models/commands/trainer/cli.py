"""``zeropin commands train``: the trainer's own options, parsed before TensorFlow loads."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from pathlib import Path

from device.errors import ModelError
from device.wakeword.real_speech import DEFAULT_ROOT, real_set

from .train import ENGLISH_EPOCHS, Settings


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zeropin commands train",
        description="train a command model from espeak-ng speech, offline (the train extra)",
    )
    parser.add_argument(
        "--language", required=True, choices=["zh", "en"],
        help="whose commands: zh, the Chinese command model; en, the English command rescue",
    )  # fmt: skip
    parser.add_argument("--out", required=True, help="the .tflite to write (its card beside it)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--epochs", type=int, default=None,
        help=f"{Settings.epochs} for zh, {ENGLISH_EPOCHS} for en",
    )  # fmt: skip
    parser.add_argument(
        "--scale", type=float, default=Settings.scale,
        help="of the training clips (1: zh, 400 a command and 6,350 unknown; en, 160 and 2,400)",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--real-speech", default=None, metavar="FOLDER",
        help="en: real recordings (laid out as shared/real-speech) whose talk is no command; "
        "../shared/real-speech beside the checkout when it is there",
    )  # fmt: skip
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    if not args.out.endswith(".tflite"):
        raise ModelError(f"--out {args.out}: the model's file name must end in .tflite")
    real_speech = args.real_speech
    if real_speech is None and args.language == "en" and DEFAULT_ROOT.is_dir():
        real_speech = str(DEFAULT_ROOT)
    if real_speech:
        real_set(Path(real_speech), "hey zero")  # a bad folder fails now, not after the synthesis
    return Settings(
        language=args.language, out=args.out, seed=args.seed,
        epochs=args.epochs or (ENGLISH_EPOCHS if args.language == "en" else Settings.epochs),
        scale=args.scale, quiet=args.quiet, real_speech=real_speech or "",
    )  # fmt: skip


def run(command: str, rest: Sequence[str]) -> int:
    """Run ``zeropin commands COMMAND REST...``; only ``train`` exists."""
    if command != "train":
        raise ModelError(f"no commands trainer command {command!r}")
    args = train_parser().parse_args(list(rest))
    settings = settings_from(args)
    from .train import run as train

    return train(settings, "zeropin commands train " + shlex.join(rest))
