"""``zeropin workshop``: twenty kits on one table. ``kits`` writes one boot-partition file per
kit; ``reset`` forgets the last visitor (``device.storage.reset`` says what and why)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_workshop_parsers(sub: Any) -> None:
    workshop = sub.add_parser("workshop", help="a workshop: kit files, reset between visitors")
    workshop_sub = workshop.add_subparsers()
    kits = workshop_sub.add_parser(
        "kits", help="write one boot-partition zeropin.toml per kit: DIR/kit-01/zeropin.toml ..."
    )
    kits.add_argument("--count", type=int, required=True, help="how many kits")
    kits.add_argument("--prefix", default="kit", help="host name before the number (kit-01)")
    kits.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write")
    kits.add_argument("--wifi-ssid", default="", help="the Wi-Fi network every kit joins")
    kits.add_argument(
        "--wifi-password-file",
        type=Path,
        metavar="FILE",
        help="a file whose first line is its password (a file, not an argument: arguments show "
        "in ps and in shell history); written into each kit file, never shown",
    )
    kits.add_argument("--country", default="", help='Wi-Fi country, two capitals ("GB")')
    kits.add_argument(
        "--timezone",
        default="",
        help='the workshop\'s time zone ("Europe/London"): the kits\' clock and budget day',
    )
    kits.add_argument("--profile", default="", help="audio profile (docs/audio-profiles.md)")
    kits.add_argument(
        "--provider-url", default="", metavar="URL", help="the OpenAI-compatible gateway, .../v1"
    )
    kits.add_argument("--model", default="", help="the gateway's model name (gpt-4o-mini)")
    kits.add_argument("--vision-model", default="", help="a model that takes pictures")
    kits.add_argument("--transcription-model", default="", help="a speech-to-text model")
    kits.add_argument(
        "--key-file", type=Path, metavar="FILE", help="one key per line, one per kit, in order"
    )
    for name in ("max-requests-per-hour", "max-requests-per-day", "max-tokens-per-day"):
        kits.add_argument(f"--{name}", type=int, default=0, help="the device's own budget")
    kits.add_argument(
        "--reset-hold-seconds",
        type=float,
        default=8.0,
        metavar="SECONDS",
        help="holding the button this long asks to forget the visitor (a spoken yes does it); "
        "0 for no such gesture (default 8)",
    )
    kits.add_argument(
        "--web-tokens",
        action="store_true",
        help="give each kit a companion-page token, listed for the teacher in DIR/web-tokens.txt",
    )
    kits.add_argument("--force", action="store_true", help="write over kit files already there")
    kits.set_defaults(func=kits_command)

    reset = workshop_sub.add_parser(
        "reset",
        help="forget the last visitor: notes, memory, conversation, photos, recordings, turn "
        "timings (keeps settings, models, budget counts, the privacy ledger)",
    )
    reset.add_argument("--yes", action="store_true", help="do not ask first")
    reset.set_defaults(func=reset_command)


def _first_line(path: Path | None) -> str:
    """The first line of ``path`` ("" for no file); errors name the file, never its text."""
    from device.errors import ConfigError

    if path is None:
        return ""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the Wi-Fi password: {exc}") from exc
    if not lines or not lines[0]:
        raise ConfigError(f"{path}: the first line should be the Wi-Fi password, and it is empty")
    return lines[0]


def kits_command(args: argparse.Namespace) -> int:
    from device.errors import ConfigError
    from device.system.workshop import (
        KitPlan,
        kit_names,
        new_web_tokens,
        read_keys,
        write_kits,
        write_token_sheet,
    )

    if args.key_file is not None and not args.provider_url:
        raise ConfigError("--key-file: the keys are for a gateway; give its --provider-url too")
    plan = KitPlan(
        count=args.count,
        prefix=args.prefix,
        wifi_ssid=args.wifi_ssid,
        wifi_password=_first_line(args.wifi_password_file),
        country=args.country,
        timezone=args.timezone,
        profile=args.profile,
        provider_url=args.provider_url,
        model=args.model,
        vision_model=args.vision_model,
        transcription_model=args.transcription_model,
        max_requests_per_hour=args.max_requests_per_hour,
        max_requests_per_day=args.max_requests_per_day,
        max_tokens_per_day=args.max_tokens_per_day,
        reset_hold_seconds=args.reset_hold_seconds,
        web_tokens=new_web_tokens(args.count) if args.web_tokens else (),
    )
    keys = read_keys(args.key_file, args.count) if args.key_file is not None else None
    written = write_kits(plan, args.out, keys, force=args.force)
    first, last = written[0].parent.name, written[-1].parent.name
    each = "its own key" if keys else "no key"
    print(f"wrote {len(written)} kit file(s), {first} to {last}, in {args.out} (mode 0600, {each})")
    if plan.web_tokens:
        names = kit_names(plan.prefix, plan.count)
        sheet = write_token_sheet(args.out, names, plan.web_tokens)
        print(f"each kit's companion page and token: {sheet} (mode 0600; keep it to yourself)")
    print("copy each kit's zeropin.toml onto its card's boot partition (bootfs)")
    return 0


def reset_command(args: argparse.Namespace) -> int:
    from device.cli.commands import load_settings
    from device.storage.database import Database
    from device.storage.recordings import RecordingStore
    from device.storage.reset import describe, wipe_visitor
    from device.system.paths import database_path, resolved_state_dir

    cfg, _ = load_settings(args)
    state_dir = resolved_state_dir(cfg)
    path = database_path(state_dir)
    if not args.yes:
        if not sys.stdin.isatty():
            print("zeropin workshop reset: add --yes to wipe without asking", file=sys.stderr)
            return 2
        answer = input(
            f"Forget the last visitor's notes, memory, photos and recordings in {state_dir}? "
            "[y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 1
    if not path.is_file():
        print(f"nothing to remove: no database at {path}")
        return 0
    with Database(path) as database:
        if RecordingStore(database).unfinished():
            # the daemon would go on writing into a folder emptied under it
            print(
                "zeropin workshop reset: a recording is under way; stop it first (say stop "
                "recording, or press the button twice), or use the reset on the kit itself",
                file=sys.stderr,
            )
            return 1
        report = wipe_visitor(database, state_dir)
    print(f"{state_dir}: " + describe(report))
    return 1 if report.problems else 0
