"""Taking secrets off the boot partition: each ``[providers.NAME] api_key``, each
``[mcp.servers.NAME] token`` and the companion page's ``[web] token`` go from the FAT file anyone
holding the card can read into ``/etc/zeropin/secrets.toml`` (mode 0600, the daemon's user's),
a comment left where each was. The secrets are written and synced to their new home before they
are taken from the old one, so a power cut in between leaves them in both, never in neither.

A file that parses is changed only if the result parses to the same document less the secrets;
one that does not parse has its secret lines moved one by one (the rest is the loader's to
report). ``zeropin firstboot`` (``device.system.firstboot``) runs this first, at every boot.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from device.config.text import toml_key, toml_value
from device.errors import ConfigError, StorageError
from device.storage.files import write_atomically

log = logging.getLogger(__name__)

DAEMON_USER = "zeropin"
MOVED_NOTE = "# api_key moved to /etc/zeropin/secrets.toml by zeropin firstboot"
TOKEN_MOVED_NOTE = "# token moved to /etc/zeropin/secrets.toml by zeropin firstboot"
WEB = "web"  # in what move_secrets returns: the companion page's [web] token moved too
MCP_SERVERS = "mcp.servers"  # and "mcp.servers.NAME": that MCP server's token
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")  # [table], not [[array of tables]]
_API_KEY_LINE = re.compile(r"^\s*(api_key|\"api_key\")\s*=")
_TOKEN_LINE = re.compile(r"^\s*(token|\"token\")\s*=")


# A secret's place: the path of its table, and its key. (("providers", "lan"), "api_key")
Place = tuple[tuple[str, ...], str]


def move_secrets(boot_file: Path, secrets_file: Path, owner: str = DAEMON_USER) -> list[str]:
    """Move the API keys and the tokens (MCP servers', the companion page's) in ``boot_file``
    into ``secrets_file``; return what moved: the providers' names, "mcp.servers.NAME", WEB.

    A file that is not valid TOML has its secrets moved line by line; what is wrong with the
    rest is for ``load_config`` to report."""
    try:
        text = boot_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{boot_file}: cannot read it: {exc}") from exc
    stripped: str | None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        found, stripped, left = _take_secret_lines(text)
        if left:
            log.warning("%s: %d secret line(s) cannot be read to move them", boot_file, left)
    else:
        found = _secrets_in(document)
        stripped = _without_secrets(text) if found else text
    if not found:
        return []
    if stripped is None:
        log.warning(
            "%s: secrets are written in a form firstboot cannot take out safely (an inline "
            'table?); write each as api_key = "..." under its [providers.NAME] (token = "..." '
            "under [web] or [mcp.servers.NAME]), or move them to /etc/zeropin/secrets.toml by hand",
            boot_file,
        )
        return []
    secrets = _read_secrets(secrets_file)
    for (path, key), value in found.items():
        part = secrets
        for name in path:
            part = part.setdefault(name, {})
        part[key] = value
    write_file(secrets_file, _render_secrets(secrets), mode=0o600, owner=owner)
    write_file(boot_file, stripped, mode=None)
    moved = [_label(path) for path, _ in found]
    log.warning("moved %s from %s to %s", describe_moved(moved), boot_file, secrets_file)
    return moved


def _label(path: tuple[str, ...]) -> str:
    return path[1] if path[0] == "providers" else ".".join(path)


def describe_moved(moved: Sequence[str]) -> str:
    """What ``move_secrets`` moved, in words: "the API keys of lan, groq and the companion
    page's token"."""
    servers = [name.removeprefix(f"{MCP_SERVERS}.") for name in moved if name.startswith("mcp.")]
    keys = [name for name in moved if name != WEB and not name.startswith("mcp.")]
    parts = [f"the API keys of {', '.join(keys)}"] if keys else []
    parts += [f"the tokens of MCP servers {', '.join(servers)}"] if servers else []
    return " and ".join(parts + (["the companion page's token"] if WEB in moved else []))


def _secrets_in(document: dict[str, Any]) -> dict[Place, str]:
    """Each provider's api_key, each MCP server's token, then [web] token."""
    found: dict[Place, str] = {}
    tables: list[tuple[tuple[str, ...], Any, str]] = [
        (("providers", name), table, "api_key")
        for name, table in _tables(document.get("providers")).items()
    ]
    servers = _tables(document.get("mcp")).get("servers")
    tables += [
        (("mcp", "servers", name), table, "token") for name, table in _tables(servers).items()
    ]
    tables.append(((WEB,), document.get(WEB), "token"))
    for path, table, key in tables:
        if isinstance(table, dict) and isinstance(table.get(key), str) and table[key]:
            found[(path, key)] = table[key]
    return found


def _tables(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _without_secrets(text: str) -> str | None:
    """``text`` with each secret's line replaced by a note; None if unsure.

    Sure means: the result parses to the same document minus the secrets, so nothing else moved.
    """
    result = _take_secret_lines(text)[1]
    expected = tomllib.loads(text)
    for path, key in _secrets_in(expected):
        part: Any = expected
        for name in path:
            part = part[name]
        part.pop(key, None)
    try:
        return result if tomllib.loads(result) == expected else None
    except tomllib.TOMLDecodeError:
        return None


def _secret_key(path: tuple[str, ...], line: str) -> str:
    """The secret a line of the table at ``path`` sets ("api_key", "token"), or ""."""
    if len(path) == 2 and path[0] == "providers" and _API_KEY_LINE.match(line):
        return "api_key"
    mcp_server = len(path) == 3 and path[:2] == ("mcp", "servers")
    if (path == (WEB,) or mcp_server) and _TOKEN_LINE.match(line):
        return "token"
    return ""


def _header_path(line: str) -> tuple[str, ...]:
    """The path of the table a ``[a."b.c"]`` header line opens; () when it is not readable."""
    try:
        part: Any = tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        return ()
    path: list[str] = []
    while isinstance(part, dict) and len(part) == 1:
        (name, part), *_ = part.items()
        path.append(name)
    return tuple(path)


def _take_secret_lines(text: str) -> tuple[dict[Place, str], str, int]:
    """The secrets on ``api_key = "..."`` lines of [providers.NAME] tables and the
    ``token = "..."`` lines of [web] and [mcp.servers.NAME], ``text`` with a note in their
    place, and how many such lines were left as they were (not readable on their own)."""
    found: dict[Place, str] = {}
    lines: list[str] = []
    path: tuple[str, ...] = ()
    left = 0
    for line in text.splitlines(keepends=True):
        if _TABLE_HEADER.match(line):
            path = _header_path(line)
        key = _secret_key(path, line)
        if key:
            try:
                value = tomllib.loads(line).get(key)
            except tomllib.TOMLDecodeError:
                value = None
            if isinstance(value, str) and value:
                found[(path, key)] = value
                note = MOVED_NOTE if key == "api_key" else TOKEN_MOVED_NOTE
                line = note + ("\r\n" if line.endswith("\r\n") else "\n")
            else:
                left += 1
        lines.append(line)
    return found, "".join(lines), left


def _read_secrets(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # Never overwrite a file we cannot read: the keys in it would be lost.
        raise ConfigError(f"{path}: cannot read it to add keys: {exc}") from exc


def _render_secrets(secrets: dict[str, Any]) -> str:
    lines = [
        "# API keys and tokens, moved here from the boot partition by zeropin firstboot. Mode 0600."
    ]
    tables: list[tuple[tuple[str, ...], Any]] = [
        (("providers", name), t) for name, t in _tables(secrets.get("providers")).items()
    ]
    servers = _tables(_tables(secrets.get("mcp")).get("servers"))
    tables += [(("mcp", "servers", name), table) for name, table in servers.items()]
    if _tables(secrets.get(WEB)):
        tables.append(((WEB,), secrets[WEB]))
    for path, table in tables:
        lines += ["", f"[{'.'.join(map(toml_key, path))}]"]
        lines += [f"{toml_key(key)} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def write_file(path: Path, text: str, *, mode: int | None, owner: str = "") -> None:
    """write_atomically, keeping a file's mode unless told, as StorageError naming the file."""
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    try:
        write_atomically(path, text.encode("utf-8"), mode=mode, owner=_uid_gid(owner, path))
    except OSError as exc:
        raise StorageError(
            f"{path}: cannot write it: {exc.strerror or exc}; left as it was"
        ) from exc


def _uid_gid(owner: str, path: Path) -> tuple[int, int] | None:
    if not owner or os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam(owner)
    except KeyError:
        log.warning("no user %s: %s stays owned by root", owner, path)
        return None
    return user.pw_uid, user.pw_gid
