"""What makes a setting's value valid: the rule each field of ``schema`` carries.

A field is declared with ``setting(default, rule)``; a rule takes the value, already converted to
the field's type, and returns the reason it is bad, or None. ``rules(section)`` finds them again.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from device.config.text import shown

PROVIDER_NAME = re.compile(r"[a-z0-9_-]+")


Check = Callable[[Any], str | None]  # returns the reason a typed value is bad, or None


_T = TypeVar("_T")


_RULE = "zeropin.rule"  # the key of a field's rule in its dataclass metadata


def setting(default: _T, rule: Check) -> _T:
    """A settings field with this default; every value a layer gives it must pass ``rule``."""
    return field(default=default, metadata={_RULE: rule})


def rules(section: Any) -> dict[str, Check]:
    """The rules of a settings dataclass by field name; a field without one takes any value."""
    fields = dataclasses.fields(section)
    return {item.name: item.metadata[_RULE] for item in fields if _RULE in item.metadata}


def between(low: float, high: float) -> Check:
    return lambda v: None if low <= v <= high else f"must be {low:g}..{high:g}, got {shown(v)}"


def at_least(low: float) -> Check:
    return lambda v: None if v >= low else f"must be >= {low:g}, got {shown(v)}"


def above(low: float) -> Check:
    return lambda v: None if v > low else f"must be > {low:g}, got {shown(v)}"


def one_of(*choices: str) -> Check:
    known = ", ".join(map(shown, choices))
    return lambda v: None if v in choices else f"must be one of {known}, got {shown(v)}"


def empty_or(rule: Check) -> Check:
    """The rule for a value that may also be left empty ("": use the default)."""
    return lambda v: rule(v) if v else None


BCM_GPIO = between(0, 27)  # the GPIO numbers on a Pi's 40-pin header


POSITIVE = above(0)


def seconds_up_to(high: float) -> Check:
    """A wait in seconds: more than 0, and at most ``high``, so a typo of ``1e308`` is caught here
    rather than by the socket library mid-request."""
    return lambda v: None if 0 < v <= high else f"must be > 0 and <= {high:g}, got {shown(v)}"


TIMEOUT = seconds_up_to(600)  # a network wait no wearer would sit through longer


def not_empty(v: str) -> str | None:
    return None if v else "must not be empty"


def tens_of_ms(v: int) -> str | None:
    return None if v % 10 == 0 and 10 <= v <= 100 else f"must be 10, 20, ..., 100, got {v}"


def dns_label(v: str) -> str | None:
    if not v or re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", v):
        return None
    return f"must be lowercase letters, digits and inner hyphens, at most 63, got {shown(v)}"


def country_code(v: str) -> str | None:
    if not v or re.fullmatch(r"[A-Z]{2}", v):
        return None
    return f'must be a two-letter country code in capitals, like "GB" or "US", got {shown(v)}'


def timezone_name(v: str) -> str | None:
    """An IANA time zone this machine's tz database knows, like "Europe/London"."""
    import zoneinfo

    known = zoneinfo.available_timezones()
    if not v or v in known or (not known and re.fullmatch(r"[A-Za-z_]+(/[A-Za-z0-9_+-]+)+", v)):
        return None
    return f'must be a time zone name, like "Europe/London" or "America/New_York", got {shown(v)}'


def provider_names(v: tuple[str, ...]) -> str | None:
    for name in v:
        if not PROVIDER_NAME.fullmatch(name):
            return f"{shown(name)} is not a provider name (lowercase letters, digits, - and _)"
        if v.count(name) > 1:
            return f"names {shown(name)} twice"
    return None


MCP_TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # the MCP specification's tool names


def tool_names(v: tuple[str, ...]) -> str | None:
    """The rule of an MCP server's list of tool names; "*" stands for every tool."""
    for name in v:
        if name != "*" and not MCP_TOOL_NAME.fullmatch(name):
            return f'{shown(name)} is not a tool name (letters, digits, _, - and ., or "*")'
        if v.count(name) > 1:
            return f"names {shown(name)} twice"
    return None


def http_url(v: str) -> str | None:
    if v and not v.startswith(("http://", "https://")):
        return f"must start with http:// or https://, got {shown(v)}"
    return None if not v or urlsplit(v).hostname else f"has no host name, got {shown(v)}"


def env_var_name(v: str) -> str | None:
    if not v or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
        return None
    return "must be the NAME of an environment variable, like GROQ_API_KEY (value not shown)"
