"""``zeropin config show``: the merged settings as TOML, each value's source beside it.

Anything that looks like a key, token or password is masked, so the output can be pasted into a
bug report.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from device.config.schema import Config, Secret

SECRET_WORDS = ("key", "token", "secret", "password")  # keys ending in these render masked


def _is_secret(name: str) -> bool:
    """Whether a key holds a secret: its name ends in a SECRET_WORD (api_key, not api_key_env)."""
    return name.lower().endswith(SECRET_WORDS)


def _masked(name: str, value: Any) -> Any:
    if isinstance(value, Secret) or _is_secret(name):
        return "***" if value else ""
    return value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # repr(1e-20) == "1e-20", repr(inf) == "inf": all valid TOML
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(_toml_value, value)) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _show(value: Any) -> str:
    """A value as it would be written in TOML, for error messages."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(_show, value)) + "]"
    try:
        return _toml_value(value)
    except TypeError:
        return str(value)  # dates and times


def _hidden(value: Any) -> str:
    """What an error message says instead of showing a secret's value."""
    kinds = {bool: "true or false", int | float: "a number", str: "a string", list: "an array"}
    kind = next((name for types_, name in kinds.items() if isinstance(value, types_)), "a value")
    return f"{kind} (not shown)"


def render_config(cfg: Config, sources: Mapping[str, str] | None = None) -> str:
    """Return the config as TOML, each key commented with its source if given; secrets masked.

    Provider keys left unset (None: ``[llm]``'s value applies) are left out.
    """
    lines = ["# ZeroPin configuration, all layers merged"]
    for section in dataclasses.fields(cfg):
        part = getattr(cfg, section.name)
        lines += ["", f"[{section.name}]"]
        if dataclasses.is_dataclass(part):
            lines += _rendered_keys(section.name, part, sources)
            continue
        for name, table in part:  # the (name, table) pairs of [providers.NAME]
            lines += ["", f"[{section.name}.{name}]"]
            lines += _rendered_keys(f"{section.name}.{name}", table, sources)
    return "\n".join(lines) + "\n"


def _rendered_keys(prefix: str, part: Any, sources: Mapping[str, str] | None) -> list[str]:
    lines = []
    for item in dataclasses.fields(part):
        value = getattr(part, item.name)
        if value is None:
            continue
        line = f"{item.name} = {_toml_value(_masked(item.name, value))}"
        if sources is not None:
            source = sources.get(f"{prefix}.{item.name}", "default")
            line += "  # " + " ".join(source.split())
        lines.append(line)
    return lines
