"""``zeropin``: the command line. Logging is configured here and nowhere else."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from device import __version__
from device.cli import commands
from device.cli.command_model import add_command_model_parsers
from device.cli.recordings import add_recordings_parsers
from device.cli.wakeword import add_wakeword_parsers
from device.cli.web import add_web_parsers
from device.cli.workshop import add_workshop_parsers
from device.errors import ZeroPinError

log = logging.getLogger("zeropin")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if getattr(args, "takes_rest", False):  # wakeword|commands train: the trainer parses the rest
        args.rest = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")  # as parse_args says it
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ZeroPinError as exc:  # a clear one-line message, no traceback
        print(f"zeropin: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def echo_setting(text: str) -> tuple[float, float]:
    # imported when used: the echo path loads numpy, which `zeropin web serve` (a page kept
    # small for the Zero's memory) and `zeropin --help` have no need of
    from drivers.echo_path import parse_echo

    try:
        return parse_echo(text)
    except ValueError as exc:  # argparse shows an ArgumentTypeError's words, not a ValueError's
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zeropin", description="ZeroPin AI wearable daemon")
    parser.add_argument("--version", action="version", version=f"zeropin {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--config",
        action="append",
        type=Path,
        metavar="FILE",
        help="read this TOML file instead of the default locations (repeatable)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting (repeatable)",
    )
    sub = parser.add_subparsers()

    demo = sub.add_parser("demo", help="scripted conversation through the real pipeline, offline")
    demo.add_argument("--json", action="store_true", help="one JSON object per utterance")
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="folder for WAV files")
    demo.add_argument(
        "--offline-only", action="store_true", help="skip the cloud and recorder parts"
    )
    demo.add_argument(
        "--language",
        choices=("en", "zh"),
        default="en",
        help="zh: the offline part in Chinese (the wake word 你好零, the offline commands)",
    )
    demo.set_defaults(func=commands.demo)

    run = sub.add_parser("run", help="run the voice loop")
    run.add_argument("--sim", action="store_true", help="simulator: no GPIO, Enter is the button")
    run.add_argument("--mic", type=Path, help="a WAV or raw 16 kHz file instead of a microphone")
    run.add_argument(
        "--speaker-file",
        type=Path,
        metavar="DIR",
        help="write replies as WAV files into DIR instead of playing them",
    )
    run.add_argument("--camera-folder", type=Path, help="images that stand in for the camera")
    run.add_argument(
        "--lockstep",
        action="store_true",
        help="replay --mic as fast as the machine can, in audio time (each turn's work is "
        "waited for); needs --mic and --speaker-file",
    )
    run.add_argument(
        "--echo",
        type=echo_setting,
        metavar="DELAY_MS:GAIN_DB",
        help="simulate the speaker reaching the microphone: this late and this loud (e.g. "
        "40:-6); needs --mic and --speaker-file",
    )
    run.set_defaults(func=commands.run)

    config = sub.add_parser("config", help="configuration")
    config_sub = config.add_subparsers()
    show = config_sub.add_parser("show", help="print the merged configuration, secrets masked")
    show.set_defaults(func=commands.config_show)

    models = sub.add_parser("models", help="speech models")
    models_sub = models.add_subparsers()
    fetch = models_sub.add_parser("fetch", help="download and verify a model from the manifest")
    fetch.add_argument("name")
    fetch.add_argument(
        "--from", dest="source", type=Path, metavar="FILE", help="a copy of the download on disk"
    )
    fetch.set_defaults(func=commands.models_fetch)
    listing = models_sub.add_parser("list", help="the models in the manifest and where they go")
    listing.set_defaults(func=commands.models_list)

    firstboot = sub.add_parser(
        "firstboot", help="apply the boot partition's zeropin.toml to the system (as root)"
    )
    firstboot.add_argument(
        "--boot-config", type=Path, help="the file to apply (default /boot/firmware/zeropin.toml)"
    )
    firstboot.add_argument("--root", type=Path, default=Path("/"), help="apply to this folder")
    firstboot.add_argument(
        "--reboot-if-needed", action="store_true", help="reboot when a new overlay needs it"
    )
    firstboot.set_defaults(func=commands.firstboot)

    ask = sub.add_parser("ask", help="ask the cloud brain from the shell; the answer streams out")
    ask.add_argument("question")
    ask.add_argument("--image", type=Path, help="a photo to ask about (instead of the camera)")
    ask.set_defaults(func=commands.ask)

    privacy = sub.add_parser("privacy", help="what has left the device")
    privacy_sub = privacy.add_subparsers()
    ledger = privacy_sub.add_parser("ledger", help="every upload: time, host, kind, bytes, why")
    ledger.add_argument("--limit", type=int, default=50, help="newest rows to show")
    ledger.set_defaults(func=commands.privacy_ledger)

    notes = sub.add_parser("notes", help="the notes, newest first; drafts are marked")
    notes.add_argument("--limit", type=int, default=20, help="newest notes to show")
    notes.add_argument(
        "--export", type=Path, metavar="DIR", help="write every note and its audio to DIR"
    )
    notes.set_defaults(func=commands.notes)
    add_recordings_parsers(sub)

    turns = sub.add_parser("turns", help="how long the last turns took, stage by stage")
    turns.add_argument("--last", type=int, default=20, metavar="N", help="turns to show")
    turns.add_argument("--json", action="store_true", help="one JSON object")
    turns.set_defaults(func=commands.turns)

    add_wakeword_parsers(sub)
    add_command_model_parsers(sub)
    add_workshop_parsers(sub)
    add_web_parsers(sub)

    bench = sub.add_parser("bench", help="measure CPU per audio second and latency")
    bench.add_argument("--json", action="store_true", help="one flat JSON object")
    bench.add_argument("--runs", type=int, default=3, help="runs to take the median of")
    bench.set_defaults(func=commands.bench)

    doctor = sub.add_parser(
        "doctor", help="check mic, speaker, camera, button, LEDs, models, network, keys, clock"
    )
    doctor.add_argument(
        "--sim", action="store_true", help="check the simulator's parts: no hardware or network"
    )
    doctor.add_argument("--json", action="store_true", help="one JSON object per line per check")
    doctor.add_argument(
        "--button-seconds",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for a press of the main button; 0 skips (default 10)",
    )
    doctor.set_defaults(func=commands.doctor)
    return parser


if __name__ == "__main__":
    sys.exit(main())
