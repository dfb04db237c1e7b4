"""A setting's value as its field's type: what a TOML file, a variable or a flag gave, checked
and converted (ints widen to float, a list of names becomes a tuple, a key a ``Secret``)."""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any, Union, get_args, get_origin

from device.config.schema import Secret
from device.config.text import shown

NAMES = tuple[str, ...]  # the type of a list of names, like [llm] chain

TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def typed(kind: Any, value: Any, show: Callable[[Any], str] = shown) -> tuple[Any, str | None]:
    """Return the value as `kind` and the reason it is wrong, if any; ints widen to float.

    ``X | None`` reads as X: TOML has no null, so None is said by leaving the key out.
    """
    if get_origin(kind) in (Union, types.UnionType):
        (kind,) = (arg for arg in get_args(kind) if arg is not type(None))
    if kind == NAMES:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return value, f"expected an array of strings, got {show(value)}"
        if not all(value):
            return value, f"expected an array of non-empty strings, got {show(value)}"
        return tuple(value), None
    if kind is Secret:
        text, reason = typed(str, value, show)
        return (Secret(text) if reason is None else text), reason
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        return value, f"expected {TYPE_NAMES.get(kind, kind.__name__)}, got {show(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return value, f"must be a finite number, got {show(value)}"
    return value, None
