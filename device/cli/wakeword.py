"""``zeropin wakeword ...``: eval and record here; train and testset in the trainer.

The trainer (``models/wakeword/trainer``, TensorFlow) is imported only when one of its commands
runs, so the daemon and the rest of the CLI never load it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wakeword_trainer.cli import (
    _at_least_one,
    _more_than_zero,
    _wakeword_testset,
    _wakeword_train,
    _zero_or_more,
)

from device.cli.commands import _load
from device.errors import ZeroPinError


def _wakeword_parsers(sub: argparse._SubParsersAction) -> None:
    wakeword = sub.add_parser("wakeword", help="train and test wake-word models")
    wakeword.set_defaults(func=lambda _: wakeword.print_help() or 2)
    wake_sub = wakeword.add_subparsers()
    train = wake_sub.add_parser(
        "train", help="train a model from synthetic speech, offline (needs the train extra)"
    )
    train.add_argument("phrase", help='the wake phrase, e.g. "hey jarvis"')
    train.add_argument("--out", type=Path, required=True, help="the .tflite file to write")
    # no defaults here: TrainSettings and DataSettings hold them
    train.add_argument("--epochs", type=int)
    train.add_argument("--positives", type=int, help="phrase clips to synthesise")
    train.add_argument("--sentences", type=int, help="sentences without the phrase")
    train.add_argument("--confusables", type=int, help='"hey there", "zero", ...')
    train.add_argument("--mining-rounds", type=int, help="rounds of hard-negative mining")
    train.add_argument("--mining-minutes", type=float, help="talk scored in each round")
    train.add_argument(
        "--validation-minutes",
        type=_more_than_zero,
        help="the held-out voices' talk to set the threshold",
    )
    train.add_argument(
        "--accent-validation-minutes",
        type=_zero_or_more,
        help="talk half read by other languages' voices, to set it too (default 0: none)",
    )
    train.add_argument(
        "--validation-clips", type=_at_least_one, help="validation clips per noise level"
    )
    train.add_argument("--test-minutes", type=_more_than_zero, help="held-out talk")
    train.add_argument("--test-clips", type=_at_least_one, help="held-out clips per noise level")
    train.add_argument("--seed", type=int)
    train.add_argument(
        "--networks",
        type=_at_least_one,
        help="networks to train on the same data and average (default 1); each adds its "
        "training time and its CPU on the device",
    )
    train.add_argument(
        "--made-up-variants", type=int, metavar="N", help="espeak-ng variants to breed (0: none)"
    )
    train.add_argument(
        "--recordings", type=Path, metavar="DIR", help="your own WAV clips of the phrase, to add"
    )
    train.add_argument(
        "--other-engines",
        action="store_true",
        default=None,
        help="also speak with flite's and festival's voices (when installed)",
    )
    train.add_argument(
        "--keep-test-set",
        type=Path,
        metavar="DIR",
        help="keep the test set's WAVs, the float networks and their calibration windows here",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=_wakeword_train)

    evaluate = wake_sub.add_parser("eval", help="false rejects and false accepts on WAV folders")
    evaluate.add_argument("model", type=Path)
    # repeatable: several test sets (the card's and a longer one) or a class's folders, read as one
    evaluate.add_argument(
        "--positives", type=Path, action="append", required=True, metavar="DIR",
        help="clips with the phrase (repeat for more folders)",
    )  # fmt: skip
    evaluate.add_argument(
        "--negatives", type=Path, action="append", required=True, metavar="DIR",
        help="audio without it (repeat for more folders)",
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

    testset = wake_sub.add_parser(
        "testset", help="write held-out positives/ and negatives/ WAV folders (train extra)"
    )
    testset.add_argument("phrase")
    testset.add_argument("out", type=Path)
    testset.add_argument("--clips", type=int, default=100, help="positive clips per noise level")
    testset.add_argument(
        "--minutes",
        type=float,
        default=480.0,
        help="negative talk (8 h: in 2 h, one false accept is 0.5 per hour)",
    )
    testset.add_argument("--seed", type=int, default=7)
    testset.add_argument(
        "--other-engines", action="store_true", help="flite's and festival's held-out voices too"
    )
    testset.add_argument("--quiet", action="store_true", help="no progress bars")
    testset.set_defaults(func=_wakeword_testset)


def _wakeword_eval(args: argparse.Namespace) -> int:
    import json

    from device.errors import ConfigError
    from device.wakeword.eval import config_lines, evaluate, format_result, tune

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
    cfg, _ = _load(args)
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
