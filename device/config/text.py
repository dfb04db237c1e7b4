"""Settings as text: TOML values for ``zeropin config show`` and for the values errors quote.

Anything whose key looks like a key, token or password stays out of both, so the output and the
errors can be pasted into a bug report.
"""

from __future__ import annotations

import json
import re
from typing import Any

SECRET_WORDS = ("key", "token", "secret", "password")  # keys ending in these render masked


def is_secret(name: str) -> bool:
    """Whether a key holds a secret: its name ends in a SECRET_WORD (api_key, not api_key_env)."""
    return name.lower().endswith(SECRET_WORDS)


def toml_value(value: Any) -> str:
    """A value written as TOML; TypeError for what TOML cannot hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # repr(1e-20) == "1e-20", repr(inf) == "inf": all valid TOML
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def toml_key(name: str) -> str:
    """A key or table name written as TOML: bare when it may be, quoted when not ("my.lan")."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else toml_value(name)


def shown(value: Any) -> str:
    """A value as it would be written in TOML, for error messages."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(shown, value)) + "]"
    try:
        return toml_value(value)
    except TypeError:
        return str(value)  # dates and times


def hidden(value: Any) -> str:
    """What an error message says instead of showing a secret's value."""
    kinds = {bool: "true or false", int | float: "a number", str: "a string", list: "an array"}
    kind = next((name for types_, name in kinds.items() if isinstance(value, types_)), "a value")
    return f"{kind} (not shown)"


_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#\"']*@")  # to the last @
_URL_SECRET_PARAMETER = re.compile(
    r"(?i)([?&][^\s=&#\"']*(?:key|token|secret|password|passwd|auth|sig)[^\s=&#\"']*=)"
    r"[^\s&#\"']+"
)


def without_credentials(text: str) -> str:
    """``text`` with credentials in any URL in it masked.

    >>> without_credentials('base_url = "http://me:sk-1@lan:8080/v1?key=sk-2&n=1"')
    'base_url = "http://***@lan:8080/v1?key=***&n=1"'
    """
    return _URL_SECRET_PARAMETER.sub(r"\1***", _URL_USERINFO.sub(r"\1***@", text))
