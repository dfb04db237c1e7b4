"""``zeropin web``: the companion page (``device.web``). ``serve`` runs it, on systemd's socket
when started by ``zeropin-web.socket``; ``token`` prints the secret that opens it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from device.cli.commands import load_settings


def add_web_parsers(sub: Any) -> None:
    web = sub.add_parser("web", help="the companion page on the LAN: status, turns, notes...")
    web_sub = web.add_subparsers()
    serve = web_sub.add_parser(
        "serve", help="serve the page (on the image, systemd starts it when someone connects)"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 for the LAN (default: this machine only)",
    )
    serve.add_argument("--port", type=int, help="port (default: [web] port, 8080)")
    serve.set_defaults(func=serve_command)
    token = web_sub.add_parser("token", help="print the token that opens the page")
    token.add_argument(
        "--new", action="store_true", help="make a new one: every browser must log in again"
    )
    token.set_defaults(func=token_command)


def _site(args: argparse.Namespace):  # noqa: ANN202 - returns (Site, Config)
    from device.system.paths import resolved_state_dir
    from device.web.app import Site
    from device.web.auth import page_token
    from device.web.settings import Layers, page_settings_file

    cfg = _settings_or_defaults(args)
    layers = Layers(files=args.config, page_file=page_settings_file(), overrides=tuple(args.set))
    state_dir = resolved_state_dir(cfg)
    return Site(layers, state_dir, page_token(cfg, state_dir)), cfg


def _settings_or_defaults(args: argparse.Namespace):  # noqa: ANN202 - returns Config
    """The settings; with a file broken, the defaults (and the flags), so that the page still
    starts and says what is broken, rather than failing at every visit until systemd stops
    starting it."""
    from device.config.schema import Config
    from device.config.sources import load_config
    from device.errors import ConfigError

    try:
        return load_settings(args)[0]
    except ConfigError as broken:
        print(f"zeropin web: {broken}; going on with the defaults", file=sys.stderr)
    try:
        return load_config(paths=[], env={}, overrides=args.set, secrets_paths=[], page_paths=[])
    except ConfigError:
        return Config()


def serve_command(args: argparse.Namespace) -> int:
    from device.web.app import create_app
    from device.web.serve import serve, socket_from_systemd

    sock = socket_from_systemd()
    site, cfg = _site(args)
    port = args.port or cfg.web.port
    if sock is None:
        print(
            f"ZeroPin's companion page: http://{args.host}:{port}/ ; `zeropin web token` prints "
            "the token that opens it. Ctrl-C stops it.",
            flush=True,
        )
    idle = cfg.web.idle_exit_minutes * 60 if sock is not None else 0.0
    serve(create_app(site), site, sock=sock, host=args.host, port=port, idle_exit_seconds=idle)
    return 0


def token_command(args: argparse.Namespace) -> int:
    from device.system.paths import resolved_state_dir
    from device.web.auth import read_or_make_token, token_path

    cfg = _settings_or_defaults(args)  # a broken file must not lock the owner out of the page
    if cfg.web.token:
        if args.new:
            print(
                "zeropin web token: [web] token is set in a settings file; change it there (a "
                "new one here would not be used)",
                file=sys.stderr,
            )
            return 1
        print(cfg.web.token.reveal())
        return 0
    print(read_or_make_token(token_path(resolved_state_dir(cfg)), new=args.new))
    return 0
