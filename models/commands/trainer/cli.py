"""``zeropin commands train``: the trainer's own options, parsed before TensorFlow loads."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence

from device.errors import ModelError

from .train import Settings


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zeropin commands train",
        description="train a command model from espeak-ng speech, offline (the train extra)",
    )
    parser.add_argument("--language", required=True, choices=["zh"], help="whose commands")
    parser.add_argument("--out", required=True, help="the .tflite to write (its card beside it)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=Settings.epochs)
    parser.add_argument(
        "--scale", type=float, default=Settings.scale,
        help="of the training clips (1 = 400 a command and 6,350 unknown)",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    if not args.out.endswith(".tflite"):
        raise ModelError(f"--out {args.out}: the model's file name must end in .tflite")
    return Settings(
        language=args.language, out=args.out, seed=args.seed, epochs=args.epochs,
        scale=args.scale, quiet=args.quiet,
    )  # fmt: skip


def run(command: str, rest: Sequence[str]) -> int:
    """Run ``zeropin commands COMMAND REST...``; only ``train`` exists."""
    if command != "train":
        raise ModelError(f"no commands trainer command {command!r}")
    args = train_parser().parse_args(list(rest))
    settings = settings_from(args)
    from .train import run as train

    return train(settings, "zeropin commands train " + shlex.join(rest))
