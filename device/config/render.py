"""``zeropin config show``: the merged settings as TOML, each value's source beside it.

Anything that looks like a key, token or password is masked, so the output can be pasted into a
bug report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from device.config.schema import Config, Secret
from device.config.text import is_secret, toml_value

_TABLES = {"mcp_servers": "mcp.servers"}  # a Config field -> its TOML table, where they differ


def _masked(name: str, value: Any) -> Any:
    if isinstance(value, Secret) or is_secret(name):
        return "***" if value else ""
    return value


def render_config(cfg: Config, sources: Mapping[str, str] | None = None) -> str:
    """Return the config as TOML, each key commented with its source if given; secrets masked.

    Provider keys left unset (None: ``[llm]``'s value applies) are left out.
    """
    lines = ["# ZeroPin configuration, all layers merged"]
    for section in dataclasses.fields(cfg):
        part = getattr(cfg, section.name)
        title = _TABLES.get(section.name, section.name)
        lines += ["", f"[{title}]"]
        if dataclasses.is_dataclass(part):
            lines += _rendered_keys(title, part, sources)
            continue
        for name, table in part:  # the (name, table) pairs of [providers.NAME]
            lines += ["", f"[{title}.{name}]"]
            lines += _rendered_keys(f"{title}.{name}", table, sources)
    return "\n".join(lines) + "\n"


def _rendered_keys(prefix: str, part: Any, sources: Mapping[str, str] | None) -> list[str]:
    lines = []
    for item in dataclasses.fields(part):
        value = getattr(part, item.name)
        if value is None:
            continue
        line = f"{item.name} = {toml_value(_masked(item.name, value))}"
        if sources is not None:
            source = sources.get(f"{prefix}.{item.name}", "default")
            line += "  # " + " ".join(source.split())
        lines.append(line)
    return lines
