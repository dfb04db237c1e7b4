"""``zeropin``: the command line. Logging is configured here and nowhere else."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from device import __version__
from device.errors import ZeroPinError

log = logging.getLogger("zeropin")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
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
    demo.add_argument("--offline-only", action="store_true", help="skip the cloud part")
    demo.set_defaults(func=_demo)

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
    run.set_defaults(func=_run)

    config = sub.add_parser("config", help="configuration")
    config_sub = config.add_subparsers()
    show = config_sub.add_parser("show", help="print the merged configuration, secrets masked")
    show.set_defaults(func=_config_show)

    models = sub.add_parser("models", help="speech models")
    models_sub = models.add_subparsers()
    fetch = models_sub.add_parser("fetch", help="download and verify a model from the manifest")
    fetch.add_argument("name")
    fetch.add_argument(
        "--from", dest="source", type=Path, metavar="FILE", help="a copy of the download on disk"
    )
    fetch.set_defaults(func=_models_fetch)
    listing = models_sub.add_parser("list", help="the models in the manifest and where they go")
    listing.set_defaults(func=_models_list)

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
    firstboot.set_defaults(func=_firstboot)

    ask = sub.add_parser("ask", help="ask the cloud brain from the shell; the answer streams out")
    ask.add_argument("question")
    ask.add_argument("--image", type=Path, help="a photo to ask about (instead of the camera)")
    ask.set_defaults(func=_ask)

    privacy = sub.add_parser("privacy", help="what has left the device")
    privacy_sub = privacy.add_subparsers()
    ledger = privacy_sub.add_parser("ledger", help="every upload: time, host, kind, bytes, why")
    ledger.add_argument("--limit", type=int, default=50, help="newest rows to show")
    ledger.set_defaults(func=_privacy_ledger)

    _wakeword_parsers(sub)

    bench = sub.add_parser("bench", help="measure CPU per audio second and latency")
    bench.add_argument("--json", action="store_true", help="one flat JSON object")
    bench.add_argument("--runs", type=int, default=3, help="runs to take the median of")
    bench.set_defaults(func=_bench)

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
    doctor.set_defaults(func=_doctor)
    return parser


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

    from device.app import resolved_wake_model
    from device.errors import ConfigError
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


def _load(args: argparse.Namespace):  # noqa: ANN202 - returns (Config, sources)
    from device.config import load_config_with_sources

    return load_config_with_sources(paths=args.config, overrides=args.set)


def _demo(args: argparse.Namespace) -> int:
    from device.egress import format_ledger
    from device.sim.cloud_demo import run_cloud_demo
    from device.sim.demo import print_reports, run_demo

    cfg, _ = _load(args)
    if not args.json:
        print("Offline part: no cloud provider, answered on the device\n")
    reports = run_demo(cfg, args.out)
    print_reports(reports, args.out, args.json, part="offline")
    if args.offline_only:
        return 0
    cloud_out = args.out / "cloud"
    if not args.json:
        print("\nCloud part: a scripted OpenAI-compatible model on a loopback server, no key\n")
    cloud = run_cloud_demo(cfg, cloud_out)
    print_reports(cloud.reports, cloud_out, args.json, part="cloud")
    if not args.json:
        lit = sum(cloud.led_changes)
        print(f"\nprivacy LED lit {lit} time(s); what left the device ({cloud.server_url}):")
        print(format_ledger(cloud.ledger, cloud.totals))
    return 0


def _run(args: argparse.Namespace) -> int:
    from device.daemon import run_interactive

    cfg, _ = _load(args)
    return run_interactive(
        cfg,
        sim=args.sim,
        mic_file=args.mic,
        speaker_dir=args.speaker_file,
        camera_folder=args.camera_folder,
    )


def _config_show(args: argparse.Namespace) -> int:
    from device.config import render_config

    cfg, sources = _load(args)
    print(render_config(cfg, sources), end="")
    return 0


def _models_fetch(args: argparse.Namespace) -> int:
    from device.config import resolved_state_dir
    from device.errors import ModelError
    from device.system.manifest import fetch, load_manifest

    cfg, _ = _load(args)
    specs = load_manifest()
    if args.name not in specs:
        raise ModelError(f"no model {args.name!r} in the manifest (known: {', '.join(specs)})")

    def progress(done: int, total: int) -> None:
        print(f"\r{done / 1e6:6.1f} / {total / 1e6:.1f} MB", end="", file=sys.stderr)

    path = fetch(
        specs[args.name], resolved_state_dir(cfg) / "models", progress=progress, source=args.source
    )
    print(f"\n{args.name}: {path}")
    return 0


def _models_list(args: argparse.Namespace) -> int:
    from device.config import resolved_state_dir
    from device.system.manifest import MANIFEST_PATH, load_manifest, verify

    cfg, _ = _load(args)
    root = resolved_state_dir(cfg) / "models"
    for name, spec in load_manifest().items():
        if spec.path:
            print(f"{name:22} {'shipped':9} {MANIFEST_PATH.parent / spec.path}  ({spec.licence})")
            continue
        path = root / spec.unpacks_to
        state = "installed" if verify(spec, path) else "missing"
        print(f"{name:22} {state:9} {path}  ({spec.size_bytes / 1e6:.0f} MB, {spec.licence})")
    return 0


def _firstboot(args: argparse.Namespace) -> int:
    import subprocess

    from device.system.firstboot import apply_boot_config

    report = apply_boot_config(args.root, args.boot_config)
    done = [
        f"moved the API keys of {', '.join(report.keys_moved)} to /etc/zeropin/secrets.toml"
        if report.keys_moved
        else "",
        f"host name {report.hostname}" if report.hostname else "",
        f"Wi-Fi country {report.wifi_country}" if report.wifi_country else "",
        f"audio profile {report.audio_profile}" if report.audio_profile else "",
    ]
    print("zeropin firstboot: " + ("; ".join(filter(None, done)) or "nothing to apply"))
    if report.reboot_needed:
        print("zeropin firstboot: config.txt changed; a reboot loads the new overlay")
        if args.reboot_if_needed:
            subprocess.run(["systemctl", "--no-block", "reboot"], check=False)
    return 0


def _ask(args: argparse.Namespace) -> int:
    import os
    import time

    from device.app import build_brain, build_gate, build_privacy_led, build_skills
    from device.cloud.providers import resolve_providers
    from device.config import resolved_state_dir
    from device.skills.local import Volume
    from device.skills.timers import Timers
    from device.storage.notes import Database
    from drivers.camera import FolderCamera

    cfg, _ = _load(args)
    providers = resolve_providers(cfg, os.environ)
    if not providers:
        print(
            "zeropin: no cloud provider is configured: set OPENAI_API_KEY (and OPENAI_BASE_URL "
            "for other services) or add [llm] chain to the config; see docs/providers.md",
            file=sys.stderr,
        )
        return 1
    state_dir = resolved_state_dir(cfg)
    camera = FolderCamera(args.image) if args.image else None
    with Database(state_dir / "zeropin.db") as database:
        skills = build_skills(
            cfg, database, camera, state_dir, Timers(time.monotonic), Volume(cfg.tts.volume_percent)
        )
        gate = build_gate(cfg, database, build_privacy_led(cfg))
        brain = build_brain(cfg, providers, gate, skills)
        for fragment in brain.reply(args.question, look=args.image is not None):
            print(fragment, end="", flush=True)
        print()
    return 0


def _privacy_ledger(args: argparse.Namespace) -> int:
    from device.config import resolved_state_dir
    from device.egress import Ledger, format_ledger
    from device.storage.notes import Database

    cfg, _ = _load(args)
    with Database(resolved_state_dir(cfg) / "zeropin.db") as database:
        ledger = Ledger(database)
        print(format_ledger(ledger.recent(args.limit), ledger.totals()))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from device.sim.bench import print_bench, run_bench

    cfg, _ = _load(args)
    print_bench(run_bench(cfg, runs=args.runs), as_json=args.json)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from device.doctor.run import print_doctor

    cfg, _ = _load(args)
    return print_doctor(cfg, sim=args.sim, as_json=args.json, button_seconds=args.button_seconds)


if __name__ == "__main__":
    sys.exit(main())
