"""``zeropin wakeword ...``: eval, record and calibrate here; train and testset are the trainer's.

The trainer (``models/wakeword/trainer``, TensorFlow) declares and parses its own commands'
options. Here they are names that hand the rest of the command line over (``main`` forwards it),
and the trainer is imported only when one of them runs: the daemon and the rest of the CLI never
load it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from device.cli.commands import load_settings
from device.errors import ModelError, ZeroPinError

if TYPE_CHECKING:
    from device.config.calibration import Rule
    from device.config.schema import Config
    from device.wakeword.calibrate import Calibration


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
        "--real-speech", nargs="?", const="", metavar="DIR",
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

    _add_calibrate_parser(wake_sub)
    _trainer_command(
        wake_sub, "testset", "write held-out positives/ and negatives/ WAV folders (train extra)"
    )


def _add_calibrate_parser(wake_sub: argparse._SubParsersAction) -> None:
    calibrate = wake_sub.add_parser(
        "calibrate",
        help="fit the wake word to this room and your voice: listens to the room for a few "
        "minutes, asks for the phrase 5-10 times, and writes the rule it chooses",
    )
    calibrate.add_argument(
        "--from", dest="from_file", type=Path, metavar="FILE",
        help="a recording instead of the microphone: the room for --room-minutes, then the "
        "phrase said 5-10 times with a pause before each",
    )  # fmt: skip
    calibrate.add_argument(
        "--room", type=Path, metavar="FILE",
        help="the room's sound from this recording, all of it (6 hours or more let a looser "
        "rule than the model card's be chosen); the takes then start at once",
    )  # fmt: skip
    calibrate.add_argument(
        "--room-minutes", type=float, default=3.0, help="of listening to the room (default 3)"
    )
    calibrate.add_argument(
        "--takes", type=int, default=8, help="of the phrase, 5 to 20 (default 8)"
    )
    calibrate.add_argument(
        "--write", type=Path, metavar="FILE",
        help="where the [wake] settings go (default /etc/zeropin/calibration.toml, read after "
        "the config files)",
    )  # fmt: skip
    calibrate.add_argument(
        "--dry-run", action="store_true", help="measure and show the choice, write nothing"
    )
    calibrate.set_defaults(func=_wakeword_calibrate)


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
    # "": the option given without a folder (a str, since argparse would make Path("") ".")
    root = Path(args.real_speech) if args.real_speech else DEFAULT_ROOT
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


def _wakeword_calibrate(args: argparse.Namespace) -> int:
    """``zeropin wakeword calibrate``: measure, choose, report, write (unless --dry-run)."""
    import hashlib
    from datetime import UTC, datetime

    from device.config.calibration import (
        Rule,
        check_writable,
        rate_text,
        render_calibration,
        write_calibration,
    )
    from device.config.sources import CALIBRATION_PATH, DEFAULT_PATHS
    from device.errors import ConfigError
    from device.system.paths import resolved_wake_model
    from device.wakeword.calibrate import MIN_HEARD_SHARE, format_table, record_of

    if not 5 <= args.takes <= 20:
        raise ConfigError(f"--takes {args.takes}: 5 to 20 (fewer cannot choose a rule)")
    if not 1 <= args.room_minutes < float("inf"):
        raise ConfigError(f"--room-minutes {args.room_minutes}: at least 1")
    cfg, sources = load_settings(args)
    if cfg.wake.engine != "tflite":
        raise ConfigError(
            f'calibrate fits the tflite wake word; [wake] engine is "{cfg.wake.engine}"'
        )
    target = args.write or CALIBRATION_PATH
    if not args.dry_run:
        check_writable(target)  # now, not after minutes of listening
    model = resolved_wake_model(cfg)
    result = _calibrate(args, cfg, model)
    print(f"\n{format_table(result)}\n")
    print(f"Chosen: {result.choice.rule.text()}\n  {result.choice.why}.")
    print(f"Heard {result.heard} of {result.takes} takes; false accepts in the room "
          f"{rate_text(result.room_false_accepts, result.room_seconds)} "
          f"(took {result.seconds_taken:.0f} s).")  # fmt: skip
    if result.heard < MIN_HEARD_SHARE * result.takes:
        print(
            "The model misses your voice. Say it as you would to a person, nearer; or record "
            "clips (`zeropin wakeword record`) and train a model that has heard them."
        )
    before = Rule(cfg.wake.threshold, cfg.wake.trigger_level, cfg.wake.smoothing)
    record = record_of(
        result, model, hashlib.sha256(model.read_bytes()).hexdigest(), before,
        sources["wake.threshold"], datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    layers = " and ".join(str(p) for p in DEFAULT_PATHS)
    text = render_calibration(record, result.card, read_after=layers)
    if args.dry_run:
        print(f"\n--dry-run: nothing written. It would write {target}:\n\n{text}")
        return 0
    backup = write_calibration(target, text)
    kept = f"; the one before is kept as {backup}" if backup else ""
    print(f"\nWritten to {target}{kept}. `zeropin doctor` shows it; restart the daemon to use it.")
    return _in_force(args, target, record.written)


def _calibrate(args: argparse.Namespace, cfg: Config, model: Path) -> Calibration:
    """Listen, with a progress bar over the room and a prompt before each take."""
    import contextlib

    from device.app.hardware import build_mic
    from device.listening.tflite_wake import ModelCard
    from device.wakeword.calibrate import CalibrationPlan, Ui, calibrate
    from device.wakeword.progress import TextProgress

    live = args.from_file is None
    phrase = ModelCard.load(model).phrase
    minutes = "" if args.room else f"{args.room_minutes:g} minutes of "
    if live:
        print(
            f"First I listen to {minutes}the room as it usually sounds: carry on talking, leave "
            f"the TV or radio on, but nobody says {phrase!r}. Then you say it {args.takes} "
            "times, as you would to the device. (Stop the daemon first: sudo systemctl stop "
            "zeropin.)",
            flush=True,
        )
    bar = TextProgress("listening to the room", args.room_minutes * 60)

    def prompt(number: int, wanted: int) -> None:
        if live:
            print(f"take {number} of {wanted}: say {phrase!r}", flush=True)

    def progress(done: float, total: float) -> None:
        if total < float("inf"):  # a --room recording is read to its end, quickly
            bar.update(done)

    ui = Ui(tell=lambda line: print(f"  {line}", flush=True), prompt=prompt, room_progress=progress)
    plan = CalibrationPlan(room_seconds=args.room_minutes * 60, takes=args.takes, live=live)
    with contextlib.ExitStack() as stack:
        mic = stack.enter_context(build_mic(cfg, args.from_file, realtime=False))
        room = stack.enter_context(build_mic(cfg, args.room, realtime=False)) if args.room else None
        try:
            return calibrate(mic, model, plan, ui, room_mic=room)
        finally:
            bar.close()


def _in_force(args: argparse.Namespace, target: Path, written: Rule) -> int:
    """0 when the settings read now are the ones written; else say which layer wins."""
    from device.config.calibration import Rule

    cfg, sources = load_settings(args)
    wake = cfg.wake
    now = Rule(wake.threshold, wake.trigger_level, wake.smoothing)
    if now == written:
        return 0
    if args.config is not None:
        print(f"Not in force with --config: add --config {target} to read it.")
        return 1
    key = next(k for k in ("threshold", "trigger_level", "smoothing")
               if getattr(now, k) != getattr(written, k))  # fmt: skip
    print(
        f"Not in force: [wake] {key} comes from {sources[f'wake.{key}']}, which wins over "
        f"{target}. Remove it there to use the calibration."
    )
    return 1
