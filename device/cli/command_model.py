"""``zeropin commands train``: the command-model trainer's, by name only.

As with ``zeropin wakeword train``, the trainer (``models/commands/trainer``, TensorFlow) parses
its own options: ``main`` hands it the rest of the command line, and it is imported only when
run, so the daemon and the rest of the CLI never load it.
"""

from __future__ import annotations

import argparse

from device.errors import ModelError


def add_command_model_parsers(sub: argparse._SubParsersAction) -> None:
    commands = sub.add_parser("commands", help="train offline command models (Chinese)")
    commands.set_defaults(func=lambda _: commands.print_help() or 2)
    command_sub = commands.add_subparsers()
    # no options here, not even --help: main hands all that follows the name to the trainer
    train = command_sub.add_parser(
        "train",
        help="train a command model from synthetic speech, offline (needs the train extra)",
        add_help=False,
    )
    train.set_defaults(func=_trainer, trainer_command="train", takes_rest=True)


def _trainer(args: argparse.Namespace) -> int:
    try:
        from commands_trainer.cli import run
    except ImportError as exc:
        raise ModelError(
            f"the command-model trainer is not installed ({exc.name} is missing): "
            "pip install -e '.[train]' on a laptop"
        ) from exc
    return run(args.trainer_command, args.rest)
