"""A decision about what the wearer asked for, whichever language they asked in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Intent:
    """A decision: which skill to run, with what it needs (``slots``)."""

    name: str
    slots: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    text: str = ""  # the normalised text it was decided from
    language: str = "en"  # what it was said in, and so what the reply is said in
