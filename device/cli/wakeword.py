"""``zeropin wakeword ...``: eval and record here; train and testset are the trainer's.

The trainer (``models/wakeword/trainer``, TensorFlow) declares and parses its own commands'
options. Here they are names that hand the rest of the command line over (``main`` forwards it),
and the trainer is imported only when one of them runs: the daemon and the rest of the CLI never
load it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from device.cli.commands import load_settings
from device.errors import ModelError, ZeroPinError


def add_wakeword_parsers(sub: argparse._SubParsersAction) -> None:
    wakeword = sub.add_parser("wakeword", help="train and test wake-word models")
    wakeword.set_defaults(func=lambda _: wakeword.print_help() or 2)
    wake_sub = wakeword.add_subparsers()
    _trainer_command(
        wake_sub, "train", "train a model from synthetic speech, offline (needs the train extra)"
    )
    evaluate = wake_sub.add_parser(
        "eval", help="false rejects and false accepts on folders of recordings (.wav, .flac)"
    )
    evaluate.add_argument("model", type=Path)
    # repeatable: several test sets (the card's and a longer one) or a class's folders, read as one
    evaluate.add_argument(
        "--positives", type=Path, action="append", metavar="DIR",
        help="clips with the phrase (repeat for more folders)",
    )  # fmt: skip
    evaluate.add_argument(
        "--negatives", type=Path, action="append", metavar="DIR",
        help="audio without it (repeat for more folders)",
    )  # fmt: skip
    evaluate.add_argument(
        "--real-speech", type=Path, nargs="?", const="", metavar="DIR",
        help="instead of folders: real people's recordings (default: shared/real-speech beside "
        "the checkout), the model's phrase as positives and all other talk as negatives",
    )  # fmt: skip
    rule = evaluate.add_mutually_exclusive_group()
    rule.add_argument("--threshold", type=float, help="instead of the model card's")
    rule.add_argument(
        "--tune",
        type=float,
        metavar="FA_PER_HOUR",
        help="choose the threshold, trigger level and smoothing with the fewest false rejects "
        "on these folders with at most this many false accepts per hour, and print the "
        "[wake] config lines for it",
    )
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=_wakeword_eval)

    record = wake_sub.add_parser(
        "record", help="record your own clips of the phrase, for eval and train --recordings"
    )
    record.add_argument("phrase", help="what you will say")
    record.add_argument("folder", type=Path, help="where the clips go (made if missing)")
    record.add_argument("--takes", type=int, default=20, help="clips to keep (default 20)")
    record.add_argument(
        "--speaker", default="me", help="your name in the file names, e.g. ann: ann_001.wav"
    )
    record.add_argument(
        "--from",
        dest="from_file",
        type=Path,
        metavar="WAV",
        help="cut the takes from this recording (one per pause) instead of the microphone",
    )
    record.set_defaults(func=_wakeword_record)

    _trainer_command(
        wake_sub, "testset", "write held-out positives/ and negatives/ WAV folders (train extra)"
    )


def _trainer_command(wake_sub: argparse._SubParsersAction, name: str, help_text: str) -> None:
    # no options here, not even --help: main hands all that follows the name to the trainer
    command = wake_sub.add_parser(name, help=help_text, add_help=False)
    command.set_defaults(func=_wakeword_trainer, trainer_command=name, takes_rest=True)


def _wakeword_trainer(args: argparse.Namespace) -> int:
    """``zeropin wakeword train|testset ARGS...``: the trainer parses ``args.rest`` and runs it."""
    try:
        from wakeword_trainer.cli import run
    except ImportError as exc:
        raise ModelError(
            f"the wake-word trainer is not installed ({exc.name} is missing): "
            "pip install -e '.[train]' on a laptop"
        ) from exc
    return run(args.trainer_command, args.rest)


def _wakeword_eval(args: argparse.Namespace) -> int:
    import json

    from device.errors import ConfigError
    from device.wakeword.eval import config_lines, evaluate, format_result, tune

    if args.real_speech is not None:
        return _real_speech_eval(args)
    if not (args.positives and args.negatives):
        raise ConfigError("give --positives DIR and --negatives DIR, or --real-speech")
    if args.tune is None:
        result = evaluate(args.model, args.positives, args.negatives, args.threshold)
        print(json.dumps(result.as_dict()) if args.json else format_result(result))
        return 0
    if not 0 <= args.tune < float("inf"):  # also NaN
        raise ConfigError(f"--tune {args.tune}: false accepts per hour must be a number, 0 or more")
    result = tune(args.model, args.positives, args.negatives, args.tune)
    if args.json:
        print(json.dumps({**result.as_dict(), "tuned_for_false_accepts_per_hour": args.tune}))
        return 0
    print(format_result(result))
    print(
        f"\nChosen on these clips (at most {args.tune:g} false accepts per hour): other clips "
        f"will do worse. To use it, put in your config.toml:\n\n{config_lines(result)}"
    )
    return 0


def _real_speech_eval(args: argparse.Namespace) -> int:
    from device.errors import ConfigError
    from device.wakeword.real_speech import DEFAULT_ROOT, evaluate_real, format_report, report_json

    if args.positives or args.negatives or args.threshold is not None or args.tune is not None:
        raise ConfigError(
            "--real-speech chooses the clips and reports the card's rule and the best one "
            "itself: leave out --positives, --negatives, --threshold and --tune"
        )
    root = args.real_speech or DEFAULT_ROOT  # "": the option given without a folder
    if not root.is_dir():
        raise ConfigError(f"--real-speech {root}: no such folder")
    report = evaluate_real(args.model, root)
    print(report_json(report) if args.json else format_report(report))
    return 0


def _wakeword_record(args: argparse.Namespace) -> int:
    import shlex

    from device.errors import ConfigError
    from device.system.paths import resolved_wake_model
    from device.wakeword.record import check_speaker, record_clips
    from drivers.mic import FileMicrophone, Microphone, PyAudioMicrophone

    if args.takes < 1:
        raise ConfigError(f"--takes {args.takes}: keep at least 1")
    check_speaker(args.speaker)
    if args.folder.exists() and not args.folder.is_dir():
        raise ConfigError(f"{args.folder} is a file, not a folder for the clips")
    cfg, _ = load_settings(args)
    phrase = " ".join(args.phrase.split())
    frames = cfg.audio.chunk_ms * 16
    live = args.from_file is None
    mic: Microphone = (
        PyAudioMicrophone(cfg.audio.mic, frames) if live else FileMicrophone(args.from_file, frames)
    )
    if live:
        print(
            f"Recording {phrase!r} into {args.folder}/ as {args.speaker}_NNN.wav. Say it each "
            "time you are asked, a little differently each time: louder, softer, faster, "
            "nearer, further. Ctrl-C stops; the clips saved so far are kept."
        )

    def prompt(number: int) -> None:
        if live:
            print(f"take {number} of {args.takes}: say {phrase!r}", flush=True)

    with mic:
        saved = record_clips(
            mic,
            args.folder,
            speaker=args.speaker,
            takes=args.takes,
            prompt=prompt,
            tell=lambda line: print(f"  {line}" if live else line, flush=True),
            live=live,
        )
    if not saved:
        print(f"no clips saved in {args.folder}/")
        return 1
    try:
        model = str(resolved_wake_model(cfg))
    except ZeroPinError:
        model = "MODEL"
    folder = shlex.quote(str(args.folder))
    print(
        f"{len(saved)} clip(s) saved in {args.folder}/. How a model hears them:\n"
        f"  zeropin wakeword eval {shlex.quote(model)} --positives {folder} --negatives TALK\n"
        "(TALK: a folder of recordings without the phrase.) A model that has heard them:\n"
        f"  zeropin wakeword train {shlex.quote(phrase)} --out MY.tflite --recordings {folder}"
    )
    return 0
