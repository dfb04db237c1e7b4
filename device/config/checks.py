"""What makes a setting valid: its type from the schema's hints, its value from a rule.

Each rule is keyed by ``section.key`` and returns the reason a typed value is bad, or None;
``tests/config`` checks that every key names a real field.
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Callable
from typing import Any, Union, get_args, get_origin
from urllib.parse import urlsplit

from device.config.presets import PRESETS
from device.config.render import _show
from device.config.schema import Secret, is_clean_key
from device.system.audio_profiles import PROFILES

PROVIDER_NAME = re.compile(r"[a-z0-9_-]+")


Check = Callable[[Any], str | None]  # returns the reason a typed value is bad, or None


def _between(low: float, high: float) -> Check:
    return lambda v: None if low <= v <= high else f"must be {low:g}..{high:g}, got {_show(v)}"


def _at_least(low: float) -> Check:
    return lambda v: None if v >= low else f"must be >= {low:g}, got {_show(v)}"


def _above(low: float) -> Check:
    return lambda v: None if v > low else f"must be > {low:g}, got {_show(v)}"


def _one_of(*choices: str) -> Check:
    known = ", ".join(map(_show, choices))
    return lambda v: None if v in choices else f"must be one of {known}, got {_show(v)}"


def _not_empty(v: str) -> str | None:
    return None if v else "must not be empty"


def _chunk_ms(v: int) -> str | None:
    return None if v % 10 == 0 and 10 <= v <= 100 else f"must be 10, 20, ..., 100, got {v}"


def _hostname(v: str) -> str | None:
    if not v or re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", v):
        return None
    return f"must be lowercase letters, digits and inner hyphens, at most 63, got {_show(v)}"


def _country(v: str) -> str | None:
    if not v or re.fullmatch(r"[A-Z]{2}", v):
        return None
    return f'must be a two-letter country code in capitals, like "GB" or "US", got {_show(v)}'


def _provider_names(v: tuple[str, ...]) -> str | None:
    for name in v:
        if not PROVIDER_NAME.fullmatch(name):
            return f"{_show(name)} is not a provider name (lowercase letters, digits, - and _)"
        if v.count(name) > 1:
            return f"names {_show(name)} twice"
    return None


def _http_url(v: str) -> str | None:
    if v and not v.startswith(("http://", "https://")):
        return f"must start with http:// or https://, got {_show(v)}"
    return None if not v or urlsplit(v).hostname else f"has no host name, got {_show(v)}"


def _env_var_name(v: str) -> str | None:
    if not v or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
        return None
    return "must be the NAME of an environment variable, like GROQ_API_KEY (value not shown)"


def _key_text(v: Secret) -> str | None:
    if is_clean_key(v.reveal()):
        return None
    return "must hold the key alone: no spaces, line breaks or non-ASCII (value not shown)"


_GPIO = _between(0, 27)


_POSITIVE = _above(0)


_RULES: dict[str, Check] = {
    "device.name": _not_empty,
    "audio.chunk_ms": _chunk_ms,
    "audio.profile": _one_of("", *PROFILES),
    "system.hostname": _hostname,
    "system.wifi_country": _country,
    "wake.engine": _one_of("pocketsphinx", "vosk", "tflite"),
    "wake.phrase": _not_empty,
    "wake.threshold": _at_least(0),
    "wake.refractory_seconds": _at_least(0),
    "wake.trigger_level": _at_least(0),
    "wake.smoothing": _at_least(0),
    "vad.aggressiveness": _between(0, 3),
    "vad.trailing_silence_seconds": _between(0.1, 5),
    "vad.max_utterance_seconds": _between(1, 60),
    "vad.no_speech_timeout_seconds": _between(0.5, 60),
    "vad.preroll_seconds": _between(0, 3),
    "asr.engine": _one_of("auto", "vosk", "pocketsphinx", "cloud"),
    "tts.engine": _one_of("espeak-ng", "cloud"),
    "tts.rate_wpm": _between(80, 450),
    "tts.pitch": _between(0, 99),
    "tts.volume_percent": _between(0, 100),
    "buttons.main_pin": _GPIO,
    "buttons.hold_seconds": _between(0.2, 10),
    "led.kind": _one_of("single", "rgb", "none"),
    "led.pin": _GPIO,
    "led.red_pin": _GPIO,
    "led.green_pin": _GPIO,
    "led.blue_pin": _GPIO,
    "led.privacy_pin": _GPIO,
    "camera.backend": _one_of("auto", "picamera2", "folder", "none"),
    "camera.width": _at_least(1),
    "camera.height": _at_least(1),
    "notes.max_notes_read": _between(1, 50),
    "llm.chain": _provider_names,
    "llm.max_tokens": _between(1, 4096),
    "llm.history_turns": _between(0, 50),
    "llm.history_minutes": _between(0, 1440),
    "llm.image_max_side": _between(128, 2048),
    "llm.image_quality": _between(30, 95),
    "llm.breaker_failures": _at_least(1),
    "llm.breaker_cooldown_seconds": _at_least(0),
    "llm.connect_timeout_seconds": _POSITIVE,
    "llm.first_token_timeout_seconds": _POSITIVE,
    "llm.deadline_seconds": _POSITIVE,
    "llm.max_retries": _between(0, 5),
    # every [providers.NAME] table
    "providers.preset": lambda v: _one_of(*PRESETS)(v) if v else None,
    "providers.base_url": _http_url,
    "providers.api_key": _key_text,
    "providers.api_key_env": _env_var_name,
    "providers.connect_timeout_seconds": _POSITIVE,
    "providers.first_token_timeout_seconds": _POSITIVE,
    "providers.deadline_seconds": _POSITIVE,
    "providers.max_retries": _between(0, 5),
}


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


_NAMES = tuple[str, ...]


def _typed(kind: Any, value: Any, show: Callable[[Any], str] = _show) -> tuple[Any, str | None]:
    """Return the value as `kind` and the reason it is wrong, if any; ints widen to float.

    ``X | None`` reads as X: TOML has no null, so None is said by leaving the key out.
    """
    if get_origin(kind) in (Union, types.UnionType):
        (kind,) = (arg for arg in get_args(kind) if arg is not type(None))
    if kind == _NAMES:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return value, f"expected an array of strings, got {show(value)}"
        if not all(value):
            return value, f"expected an array of non-empty strings, got {show(value)}"
        return tuple(value), None
    if kind is Secret:
        text, reason = _typed(str, value, show)
        return (Secret(text) if reason is None else text), reason
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        return value, f"expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {show(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return value, f"must be a finite number, got {show(value)}"
    return value, None
