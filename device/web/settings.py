"""Changing a setting from the companion page, with the daemon's own validation.

The page writes one file of its own, ``device.config.sources.PAGE_SETTINGS_PATHS`` (the daemon's
user cannot write ``/etc/zeropin``), which is read after the other files and so wins over them;
the settings page says so beside each value it set. A change is made to that file's text with
tomlkit, so its comments and order stay, then the whole configuration is loaded with the new text
in its place: a value the daemon would refuse is refused here with the daemon's one-line error,
and the file is not touched. Only then is it replaced, atomically (a power cut leaves the old
file or the new one).

Providers (``[providers.NAME]``) and MCP servers (``[mcp.servers.NAME]``) are not changed here
either: a provider's address decides where its key (from the secrets file) and every question
go, and a server's what the cloud brain may do in the home. Those are changes for SSH, where the
page's cookie, sniffed on a workshop's Wi-Fi, cannot make them.

Secrets are never changed here: an API key or the page's token typed into a form would travel
the LAN in the clear (the page has no TLS). ``[system]`` is left out too: firstboot applies it
from the boot partition, at boot, as root.

Example::

    layers = Layers(files=None, page_file=page_settings_file())
    print(change(layers, "tts.rate_wpm", "160"))  # "[tts] rate_wpm = 160 saved in ..."
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import tomlkit
import tomlkit.exceptions

from device.config import sources
from device.config.schema import Config
from device.config.sources import SECRETS_PATHS, load_config_with_sources, typed_value
from device.config.text import is_secret
from device.errors import ConfigError, StorageError
from device.storage.files import write_atomically

__all__ = ["Layers", "change", "editable_keys", "page_settings_file"]

RESTART = "sudo systemctl restart zeropin"
# [system] is firstboot's, applied at boot from the boot partition; providers and MCP servers
# decide where keys and words go (see above)
_NOT_HERE = ("system", "providers", "mcp_servers")
_lock = threading.Lock()  # one change at a time: each reads the file the last one wrote


def page_settings_file() -> Path:
    """Where the page writes: the image's state directory when it may, else the user's."""
    system, user = sources.page_settings_paths()
    return system if os.access(system.parent, os.W_OK | os.X_OK) else user


@dataclass(frozen=True)
class Layers:
    """The layers the daemon reads, as the page must read them to show and check a change."""

    files: Sequence[Path] | None  # the config files (--config); None: the daemon's defaults
    page_file: Path  # one of PAGE_SETTINGS_PATHS, "~" expanded: where the page writes
    secrets_paths: Sequence[Path] | None = None  # None: SECRETS_PATHS
    env: Mapping[str, str] | None = None  # None: this process's environment
    overrides: Sequence[str] = ()

    def load(self, page_text: bytes | None = None) -> tuple[Config, dict[str, str]]:
        """The merged settings and their sources; with ``page_text`` read as the page's file."""
        replaced = {} if page_text is None else {self.page_file: page_text}
        # the daemon's page files; the page's own among them even where it is not one (a test's)
        pages = sources.page_settings_paths()
        return load_config_with_sources(
            paths=self.files,
            env=self.env,
            overrides=self.overrides,
            secrets_paths=self.secrets_paths,
            replaced=replaced,
            page_paths=pages if self.page_file in pages else (self.page_file,),
        )


def editable_keys(cfg: Config) -> list[str]:
    """Every "section.key" the page may change."""
    names = []
    for section in dataclasses.fields(cfg):
        part = getattr(cfg, section.name)
        if section.name not in _NOT_HERE and dataclasses.is_dataclass(part):
            names += [f"{section.name}.{f.name}" for f in dataclasses.fields(part)]
    return [name for name in names if not is_secret(name)]


def _split(name: str) -> tuple[str, str]:
    """("tts", "rate_wpm") from "tts.rate_wpm"."""
    parts = name.strip().split(".")
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise ConfigError(f"{name!r}: expected section.key, like tts.rate_wpm")


def change(layers: Layers, name: str, raw: str, *, forget: bool = False) -> str:
    """Set ``name`` ("section.key") to the TOML value ``raw`` in the page's file, or ``forget``
    the page's value (the other layers' applies again). Returns what was done, for the page.

    ConfigError, the daemon's own one-line error, when the value or the name is wrong; StorageError
    when the file cannot be written. Either way the file is as it was.
    """
    if name.strip().startswith("mcp."):
        raise ConfigError(
            f"{name.strip()}: MCP servers are set up over SSH, not here (docs/mcp.md): what they "
            "may do in the home is not a change for the LAN"
        )
    if name.strip().startswith("providers."):
        raise ConfigError(
            f"{name.strip()}: providers are set up over SSH, not here (docs/providers.md): a "
            "provider's address decides where its key and every question go"
        )
    section, key = _split(name)
    if is_secret(key):
        raise ConfigError(
            f"[{section}] {key}: secrets are not changed over the network; put it in "
            f"{SECRETS_PATHS[0]} on the device"
        )
    if section in _NOT_HERE:
        raise ConfigError(
            f"[{section}] {key}: applied at boot from the boot partition (zeropin.toml), not here"
        )
    with _lock:
        path = layers.page_file
        try:
            old = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            old = ""
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"could not read {path}: {exc}; nothing changed") from exc
        try:
            document = tomlkit.parse(old)
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigError(f"{path}: {exc}; fix it over SSH first") from exc
        if forget and section not in document:
            return f"[{section}] {key}: the page had not set it; nothing changed"
        table = document.setdefault(section, tomlkit.table())
        if forget:
            table.pop(key, None)
        else:
            value = typed_value(section, key, raw.strip())
            table[key] = list(value) if isinstance(value, tuple) else value
        text = tomlkit.dumps(document).encode("utf-8")
        layers.load(text)  # raises the daemon's error, naming the page's file and the key
        try:
            write_atomically(path, text, mode=0o640)
        except OSError as exc:
            raise StorageError(
                f"could not save {path} ({exc.strerror or exc}); nothing changed"
            ) from exc
    done = "forgotten" if forget else f"= {table[key].as_string()} saved"
    return (
        f"[{section}] {key} {done} in {path}. The daemon reads settings when it starts: {RESTART}"
    )
