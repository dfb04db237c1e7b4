"""What each ``zeropin`` command does, once ``main`` has parsed its arguments.

Heavy modules are imported inside each command, so ``zeropin --help`` stays fast on a Pi Zero.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from device.config.text import without_credentials

if TYPE_CHECKING:
    from device.config.schema import Config


def load_settings(args: argparse.Namespace):  # noqa: ANN202 - returns (Config, sources)
    from device.config.sources import load_config_with_sources
    from device.errors import ConfigError

    try:
        return load_config_with_sources(paths=args.config, overrides=args.set)
    except ConfigError as exc:  # it quotes the bad value, which may be a URL with a key in it
        masked = without_credentials(str(exc))
        if masked == str(exc):
            raise
        raise ConfigError(masked) from None


def demo(args: argparse.Namespace) -> int:
    from device.egress import format_ledger
    from device.sim.cloud_demo import run_cloud_demo
    from device.sim.demo import print_reports, run_demo
    from device.sim.recorder_demo import print_recording, run_recorder_demo

    cfg, _ = load_settings(args)
    if args.language == "zh":
        return _chinese_demo(cfg, args)
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
    recorder_out = args.out / "recorder"
    if not args.json:
        print(
            "\nRecorder part: a meeting recorded, transcribed through the loopback server, "
            "summarised, then asked about\n"
        )
    recorded = run_recorder_demo(cfg, recorder_out)
    print_reports(recorded.reports, recorder_out, args.json, part="recorder")
    if not args.json:
        print_recording(recorded)
    return 0


def _chinese_demo(cfg: Config, args: argparse.Namespace) -> int:
    from device.sim.chinese_demo import run_chinese_demo
    from device.sim.demo import print_reports

    if not args.json:
        print("Offline part, in Chinese: no cloud provider, answered on the device\n")
    reports = run_chinese_demo(cfg, args.out)
    print_reports(reports, args.out, args.json, part="offline-zh")
    return 0


def run(args: argparse.Namespace) -> int:
    from device.daemon import run_interactive

    if args.lockstep and (args.mic is None or args.speaker_file is None):
        # A live microphone delivers audio at real speed, and a sound card plays at real speed:
        # there is nothing to replay faster than that.
        print(
            "zeropin run: --lockstep replays a recording faster than real time: it needs "
            "--mic FILE (not a live microphone) and --speaker-file DIR (not a sound card)",
            file=sys.stderr,
        )
        return 2
    if args.echo is not None and (args.mic is None or args.speaker_file is None):
        print("zeropin run: --echo needs --mic FILE and --speaker-file DIR", file=sys.stderr)
        return 2
    cfg, _ = load_settings(args)
    return run_interactive(
        cfg,
        sim=args.sim,
        mic_file=args.mic,
        speaker_dir=args.speaker_file,
        camera_folder=args.camera_folder,
        lockstep=args.lockstep,
        echo=args.echo,
    )


def config_show(args: argparse.Namespace) -> int:
    from device.config.render import render_config

    cfg, sources = load_settings(args)
    print(without_credentials(render_config(cfg, sources)), end="")
    return 0


# A URL's user:password@, and the value of a query parameter named like a secret (?api_key=...):
# servers take keys both ways, and config show is written to be pasted into bug reports.
def models_fetch(args: argparse.Namespace) -> int:
    from device.errors import ModelError
    from device.system.manifest import fetch, load_manifest
    from device.system.paths import models_dir

    cfg, _ = load_settings(args)
    specs = load_manifest()
    if args.name not in specs:
        raise ModelError(f"no model {args.name!r} in the manifest (known: {', '.join(specs)})")

    def progress(done: int, total: int) -> None:
        print(f"\r{done / 1e6:6.1f} / {total / 1e6:.1f} MB", end="", file=sys.stderr)

    path = fetch(specs[args.name], models_dir(cfg), progress=progress, source=args.source)
    print(f"\n{args.name}: {path}")
    return 0


def models_list(args: argparse.Namespace) -> int:
    from device.system.manifest import MANIFEST_PATH, load_manifest, verify
    from device.system.paths import models_dir

    cfg, _ = load_settings(args)
    root = models_dir(cfg)
    for name, spec in load_manifest().items():
        if spec.path:
            print(f"{name:22} {'shipped':9} {MANIFEST_PATH.parent / spec.path}  ({spec.licence})")
            continue
        path = root / spec.unpacks_to
        state = "installed" if verify(spec, path) else "missing"
        print(f"{name:22} {state:9} {path}  ({spec.size_bytes / 1e6:.0f} MB, {spec.licence})")
    return 0


def firstboot(args: argparse.Namespace) -> int:
    import subprocess

    from device.system.boot_secrets import describe_moved
    from device.system.firstboot import apply_boot_config

    report = apply_boot_config(args.root, args.boot_config)
    moved = describe_moved(report.keys_moved)
    done = [
        f"moved {moved} to /etc/zeropin/secrets.toml" if moved else "",
        f"host name {report.hostname}" if report.hostname else "",
        f"Wi-Fi country {report.wifi_country}" if report.wifi_country else "",
        f"Wi-Fi network {report.wifi_network!r}" if report.wifi_network else "",
        f"time zone {report.timezone}" if report.timezone else "",
        f"audio profile {report.audio_profile}" if report.audio_profile else "",
    ]
    print("zeropin firstboot: " + ("; ".join(filter(None, done)) or "nothing to apply"))
    if report.reboot_needed:
        print("zeropin firstboot: config.txt changed; a reboot loads the new overlay")
        if args.reboot_if_needed:
            subprocess.run(["systemctl", "--no-block", "reboot"], check=False)
    return 0


def ask(args: argparse.Namespace) -> int:
    import os

    from device.app import brain_alone
    from device.cloud.providers import resolve_providers
    from drivers.camera import FolderCamera

    cfg, _ = load_settings(args)
    providers = resolve_providers(cfg, os.environ)
    if not providers:
        print(
            "zeropin: no cloud provider is configured: set OPENAI_API_KEY (and OPENAI_BASE_URL "
            "for other services) or add [llm] chain to the config; see docs/providers.md",
            file=sys.stderr,
        )
        return 1
    camera = FolderCamera(args.image) if args.image else None
    with brain_alone(cfg, providers, camera) as brain:
        for fragment in brain.reply(args.question, look=args.image is not None):
            print(fragment, end="", flush=True)
        print()
    return 0


def privacy_ledger(args: argparse.Namespace) -> int:
    from device.egress import Ledger, format_ledger
    from device.storage.database import open_or_stand_in
    from device.system.paths import database_path, resolved_state_dir

    cfg, _ = load_settings(args)
    # Read-only when it cannot be written (a full card): the ledger is most wanted then too.
    with open_or_stand_in(database_path(resolved_state_dir(cfg)), memory=False) as database:
        ledger = Ledger(database)
        print(format_ledger(ledger.recent(args.limit), ledger.totals()))
    return 0


def notes(args: argparse.Namespace) -> int:
    """``zeropin notes`` lists the notes; ``--export DIR`` writes them and their audio there."""
    from device.errors import StorageError
    from device.storage import notes as stored
    from device.storage.database import open_or_stand_in
    from device.system.paths import database_path, resolved_state_dir

    cfg, _ = load_settings(args)
    # Read-only when it cannot be written: exporting the notes is how a full card is emptied.
    with open_or_stand_in(database_path(resolved_state_dir(cfg)), memory=False) as database:
        store = stored.NoteStore(database)
        if args.export is not None:
            try:
                count = stored.export(store, args.export)
            except OSError as exc:
                raise StorageError(f"could not export the notes to {args.export}: {exc}") from exc
            print(f"wrote {count} note(s) to {args.export / 'notes.txt'}, with their audio")
            return 0
        for note in store.recent(args.limit):
            print(stored.describe(note))
    return 0


def turns(args: argparse.Namespace) -> int:
    """``zeropin turns``: the last turns' latency, stage by stage, and each stage's figures."""
    from device.cli.turns import print_turns
    from device.storage.database import open_or_stand_in
    from device.storage.timings import TurnTimings
    from device.system.paths import database_path, resolved_state_dir

    if args.last < 1:
        print(f"zeropin turns: --last must be 1 or more, not {args.last}", file=sys.stderr)
        return 2
    cfg, _ = load_settings(args)
    path = database_path(resolved_state_dir(cfg))
    # Read-only when it cannot be written: a slow device on a full card is worth a look too.
    with open_or_stand_in(path, memory=False) as database:
        timings = TurnTimings(database).recent(args.last)
    print_turns(timings, path, as_json_object=args.json)
    return 0


def bench(args: argparse.Namespace) -> int:
    from device.sim.bench import print_bench, run_bench
    from device.system.paths import resolved_wake_model
    from device.wakeword.real_speech import bench_figures

    cfg, _ = load_settings(args)
    if cfg.device.language != "en":
        print(
            "zeropin bench: its audio and demo are English, so it measures [device] language = "
            f'"en" only, not "{cfg.device.language}". For Chinese: python -m '
            "device.sim.daemon_budget --language zh (the daemon over the Chinese demo), and "
            "the model cards models/wakeword/ni_hao_ling.md and models/commands/zh_commands.md",
            file=sys.stderr,
        )
        return 2
    result = run_bench(cfg, runs=args.runs)
    result |= bench_figures(resolved_wake_model(cfg))  # real people, where recorded
    print_bench(result, as_json=args.json)
    return 0


def doctor(args: argparse.Namespace) -> int:
    from device.doctor.run import print_doctor

    cfg, _ = load_settings(args)
    return print_doctor(cfg, sim=args.sim, as_json=args.json, button_seconds=args.button_seconds)
