"""ZeroPin settings: nested frozen dataclasses loaded from layered TOML, validated once at start.

Layers, later wins: built-in defaults, the files in DEFAULT_PATHS, the secrets files in
SECRETS_PATHS, ``ZEROPIN_<SECTION>_<KEY>`` environment variables, then ``--set section.key=value``
flags. Components receive their own section (``cfg.tts``), never the whole tree. Any problem
raises ConfigError with one line naming the layer, the key and the reason::

    /etc/zeropin/config.toml: [tts] rate_wpm: expected an integer, got "fast"

Cloud providers are tables ``[providers.NAME]``, one per endpoint, kept in ``Config.providers``
in the order the files give them; a secrets file (mode 0600) may hold only their ``api_key``.
A key is held in a :class:`~device.cloud.providers.Secret` and never shown, in errors or dumps.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import tomllib
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from device.cloud.providers import PRESETS, Secret, is_clean_key
from device.errors import ConfigError
from device.system.audio_profiles import PROFILES

log = logging.getLogger(__name__)

DEFAULT_PATHS: tuple[Path, ...] = (
    Path("/etc/zeropin/config.toml"),
    Path("/boot/firmware/zeropin.toml"),
)
SECRETS_PATHS: tuple[Path, ...] = (
    Path("/etc/zeropin/secrets.toml"),
    Path("~/.config/zeropin/secrets.toml"),  # "~" is expanded when the file is read
)
SYSTEM_STATE_DIR = Path("/var/lib/zeropin")
ENV_PREFIX = "ZEROPIN_"
SECRET_WORDS = ("key", "token", "secret", "password")  # keys ending in these render masked
PROVIDER_NAME = re.compile(r"[a-z0-9_-]+")


@dataclass(frozen=True)
class DeviceConfig:
    name: str = "zeropin"
    state_dir: str = ""  # "" = /var/lib/zeropin if writable, else ~/.local/share/zeropin


@dataclass(frozen=True)
class AudioConfig:
    mic: str = ""  # substring of the PyAudio input device name; "" = system default
    speaker: str = ""  # substring of the PyAudio output device name; "" = system default
    chunk_ms: int = 100  # milliseconds of audio per read: 10, 20, ..., 100
    # sound hardware `zeropin firstboot` sets up (ALSA config, overlay, mixer): a name in
    # device.system.audio_profiles.PROFILES ("usb", "respeaker-2mic", ...); "" = leave audio alone
    profile: str = ""


@dataclass(frozen=True)
class SystemConfig:
    """What ``zeropin firstboot`` applies to the operating system; the daemon ignores it."""

    hostname: str = ""  # "" = leave it; e.g. "zeropin-07" for kit 7 on a workshop table
    wifi_country: str = ""  # ISO 3166 code, e.g. "GB"; a Pi keeps Wi-Fi off until one is set


@dataclass(frozen=True)
class WakeConfig:
    engine: str = "tflite"  # our own model; "pocketsphinx" and "vosk" spot the phrase by ASR
    phrase: str = "hey zero"  # a tflite model knows its phrase: this must match its card
    # Score needed to fire; 0 = the engine's default: the model card's threshold (tflite, scores
    # 0..1), 1e-40 (pocketsphinx keyphrase). Vosk has none.
    threshold: float = 0.0
    model: str = ""  # tflite model file; "" = the shipped "hey zero" model
    refractory_seconds: float = 2.0  # detections this soon after one are ignored
    trigger_level: int = 0  # tflite: smoothed scores in a row at the threshold; 0 = card's
    smoothing: int = 0  # tflite: scores averaged before the threshold; 0 = the card's


@dataclass(frozen=True)
class VadConfig:
    aggressiveness: int = 2  # webrtcvad mode, 0 (keeps most audio) .. 3 (drops most non-speech)
    trailing_silence_seconds: float = 0.6  # silence that ends an utterance
    max_utterance_seconds: float = 10.0
    no_speech_timeout_seconds: float = 5.0  # give up if nobody speaks after the wake word
    preroll_seconds: float = 0.5  # audio kept from before speech starts


@dataclass(frozen=True)
class AsrConfig:
    engine: str = "auto"
    vosk_model: str = ""  # "" = <state_dir>/models/vosk-model-small-en-us-0.15


@dataclass(frozen=True)
class TtsConfig:
    engine: str = "espeak-ng"
    voice: str = "en-us"
    rate_wpm: int = 165  # words per minute
    pitch: int = 50  # espeak-ng pitch, 0..99
    volume_percent: int = 80


@dataclass(frozen=True)
class ButtonsConfig:
    main_pin: int = 17  # BCM GPIO number
    hold_seconds: float = 1.0  # press longer than this counts as a hold


@dataclass(frozen=True)
class LedConfig:
    kind: str = "single"
    pin: int = 12  # BCM GPIO of the single LED
    red_pin: int = 5  # BCM GPIOs of the RGB LED
    green_pin: int = 6
    blue_pin: int = 13
    privacy_pin: int = 0  # BCM GPIO of the camera/mic privacy LED; 0 = none


@dataclass(frozen=True)
class CameraConfig:
    backend: str = "auto"
    folder: str = ""  # directory of images for the folder backend
    width: int = 1280  # pixels
    height: int = 960  # pixels


@dataclass(frozen=True)
class NotesConfig:
    max_notes_read: int = 5  # notes read aloud at most per request


@dataclass(frozen=True)
class LlmConfig:
    """The cloud brain: which providers to try, and how to talk to them."""

    chain: tuple[str, ...] = ()  # provider names, first tried first; () = OpenAI variables or none
    model: str = ""  # model for the provider OPENAI_BASE_URL/OPENAI_API_KEY give; "" = gpt-4o-mini
    stream: bool = True  # speak the answer sentence by sentence as it arrives
    max_tokens: int = 300  # longest answer, in tokens
    history_turns: int = 6  # question+answer pairs sent along as context
    history_minutes: float = 10.0  # turns older than this are left out
    log_prompt_text: bool = False  # the egress ledger records what was asked, not just its size
    image_max_side: int = 768  # pixels; photos are downscaled to fit before upload
    image_quality: int = 80  # JPEG quality of uploaded photos
    breaker_failures: int = 3  # failures in a row before a provider is skipped for a while
    breaker_cooldown_seconds: float = 60.0  # how long a failing provider is skipped
    connect_timeout_seconds: float = 3.0  # each provider may override these four
    first_token_timeout_seconds: float = 8.0  # from request sent to the first byte of answer
    deadline_seconds: float = 30.0  # whole request, streaming included
    max_retries: int = 1  # extra attempts on 429/5xx/reset before the chain moves on


@dataclass(frozen=True)
class ProviderConfig:
    """One ``[providers.NAME]`` table; what it leaves empty comes from its preset.

    ``preset`` defaults to NAME when NAME is a preset, so ``[providers.groq]`` needs no
    ``preset = "groq"``. The timeouts and retries are None ("not set": ``[llm]``'s value applies).
    """

    preset: str = ""  # a name in device.cloud.providers.PRESETS
    base_url: str = ""  # "https://host/v1"; "" = the preset's
    model: str = ""
    vision_model: str = ""  # a model that accepts images; "" = the preset's, if any
    api_key: Secret = field(default_factory=Secret)  # better kept in a secrets file
    api_key_env: str = ""  # NAME of the environment variable with the key; "" = the preset's
    transcription_model: str = ""
    speech_model: str = ""
    speech_voice: str = ""
    connect_timeout_seconds: float | None = None
    first_token_timeout_seconds: float | None = None
    deadline_seconds: float | None = None
    max_retries: int | None = None


@dataclass(frozen=True)
class Config:
    """All settings; each component receives only its own section."""

    device: DeviceConfig = field(default_factory=DeviceConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    wake: WakeConfig = field(default_factory=WakeConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    buttons: ButtonsConfig = field(default_factory=ButtonsConfig)
    led: LedConfig = field(default_factory=LedConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    notes: NotesConfig = field(default_factory=NotesConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    system: SystemConfig = field(default_factory=SystemConfig)  # for firstboot, not the daemon
    # (name, table) in the order the layers first name them; dict(cfg.providers) to look one up
    providers: tuple[tuple[str, ProviderConfig], ...] = ()

    def provider(self, name: str) -> ProviderConfig | None:
        """The ``[providers.NAME]`` table, if the configuration has one."""
        return dict(self.providers).get(name)


# -- formatting ---------------------------------------------------------------------------------


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


# -- validation: types come from the dataclass hints, values from this table ------------------

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
_SECTIONS: dict[str, Any] = {
    name: kind for name, kind in get_type_hints(Config).items() if dataclasses.is_dataclass(kind)
}
_FIELDS: dict[str, dict[str, Any]] = {name: get_type_hints(cls) for name, cls in _SECTIONS.items()}
_PROVIDER_FIELDS: dict[str, Any] = get_type_hints(ProviderConfig)
_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
_NAMES = tuple[str, ...]
_TABLE = ""  # the key of a setting that only says "this [providers.NAME] table exists"


@dataclass(frozen=True)
class _Setting:
    """One value from one layer, before validation."""

    where: str  # names the layer in errors: a path, "environment variable X", "flag --set a.b=c"
    source: str  # names the layer in render_config comments
    section: str  # "tts", or "providers.NAME" for a provider table
    key: str
    value: Any


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


def _validated(setting: _Setting) -> Any:
    """Return the setting's value converted to its field type, or raise ConfigError."""
    section, key = setting.section, setting.key
    if section.startswith("providers."):
        fields = _PROVIDER_FIELDS
    elif section in _FIELDS:
        fields = _FIELDS[section]
    else:
        raise _unknown_section(setting.where, section)
    if key not in fields:
        known = ", ".join(fields)
        raise ConfigError(f"{setting.where}: [{section}] {key}: unknown key (known: {known})")
    value, reason = _typed(fields[key], setting.value, _hidden if _is_secret(key) else _show)
    rule = _RULES.get(f"{section.partition('.')[0]}.{key}")
    if reason is None and rule is not None:
        reason = rule(value)
    if reason:
        raise ConfigError(f"{setting.where}: [{section}] {key}: {reason}")
    return value


def _unknown_section(where: str, section: str) -> ConfigError:
    known = ", ".join([*_FIELDS, "providers"])
    return ConfigError(f"{where}: [{section}]: unknown section (known: {known})")


def _check_chain(cfg: Config, where: str) -> None:
    """Every name in [llm] chain must be a [providers.NAME] table or a preset."""
    for name in cfg.llm.chain:
        if cfg.provider(name) is None and name not in PRESETS:
            raise ConfigError(
                f"{where}: [llm] chain: {_show(name)} is neither a [providers.{name}] table nor "
                f"a preset ({', '.join(PRESETS)})"
            )


# -- layers -------------------------------------------------------------------------------------


def _read(path: Path) -> tuple[bytes, int] | None:
    """A file's bytes and mode bits; None if it does not exist."""
    try:
        with path.open("rb") as file:
            return file.read(), os.fstat(file.fileno()).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _document(where: str, data: bytes) -> dict[str, Any]:
    try:
        text = data.decode("utf-8-sig")  # editors on other laptops may add a byte-order mark
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (bad byte at offset {exc.start})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {_syntax_error(exc, text)}") from exc


def _document_settings(where: str, document: dict[str, Any]) -> Iterator[_Setting]:
    for section, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: {_top_level_reason(section, table)}")
        if section == "providers":
            yield from _provider_settings(where, table)
        elif section in _FIELDS:
            yield from (_Setting(where, where, section, k, v) for k, v in table.items())
        else:
            raise _unknown_section(where, section)


def _provider_settings(where: str, tables: dict[str, Any]) -> Iterator[_Setting]:
    for name, table in tables.items():
        if not PROVIDER_NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: [providers] {_show(name)}: a provider name holds only lowercase "
                "letters, digits, - and _"
            )
        if not isinstance(table, dict):
            raise ConfigError(
                f"{where}: [providers] {name}: expected a table, got {_hidden(table)}; "
                f"write [providers.{name}] above its keys"
            )
        section = f"providers.{name}"
        yield _Setting(where, where, section, _TABLE, None)  # so that an empty table counts
        yield from (_Setting(where, where, section, k, v) for k, v in table.items())


def _file_settings(path: Path) -> list[_Setting]:
    """Settings from one TOML file; a missing file gives none."""
    found = _read(path)
    if found is None:
        return []
    data, mode = found
    where = str(path)
    settings = list(_document_settings(where, _document(where, data)))
    if mode & 0o077 and any(s.key == "api_key" and s.value for s in settings):
        log.warning(
            "%s holds an API key that other users can read (mode %04o); move it to %s",
            where,
            mode & 0o777,
            SECRETS_PATHS[0],
        )
    log.debug("read configuration from %s", where)
    return settings


def _secrets_settings(path: Path) -> list[_Setting]:
    """The API keys in one secrets file; refused if other users may read it."""
    found = _read(path)
    if found is None:
        return []
    data, mode = found
    where = str(path)
    if mode & 0o077:  # the mode bits, not access(): root can read anything
        raise ConfigError(
            f"{where}: mode {mode & 0o777:04o} lets other users read API keys; "
            f"run: chmod 600 {where}"
        )
    settings = list(_document_settings(where, _document(where, data)))
    for setting in settings:
        if not setting.section.startswith("providers.") or setting.key not in (_TABLE, "api_key"):
            raise ConfigError(
                f"{where}: [{setting.section}] {setting.key}: not allowed in a secrets file; "
                "it holds only [providers.NAME] api_key"
            )
    log.debug("read secrets from %s", where)
    return settings


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str) -> str:
    message = " ".join(str(exc).split())
    match = re.search(r"at line (\d+)", message)
    line = match[1] if match else str(text.count("\n") + 1)  # "at end of document"
    return f"line {line}: {message}"


def _top_level_reason(name: str, value: Any) -> str:
    if name in _FIELDS or name == "providers":
        return f"[{name}]: expected a table, got {_show(value)}"
    owners = [f"[{section}]" for section, fields in _FIELDS.items() if name in fields]
    if name in _PROVIDER_FIELDS:
        owners.append("[providers.NAME]")
    sections = ", ".join([*_FIELDS, "providers"])
    hint = f"put it under {owners[0]}" if owners else f"sections are: {sections}"
    return f"{name}: key outside any [section]; {hint}"


def _env_settings(env: Mapping[str, str]) -> Iterator[_Setting]:
    """Settings from ZEROPIN_<SECTION>_<KEY>; other ZEROPIN_ variables belong to someone else.

    Provider tables have none: their keys come from the variable each names in api_key_env.
    """
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section in _FIELDS:
            value = _parse_value(raw, _FIELDS[section].get(key))
            yield _Setting(f"environment variable {name}", f"env {name}", section, key, value)


def _flag_setting(text: str) -> _Setting:
    """The setting from one ``--set section.key=value`` or ``--set providers.NAME.key=value``."""
    name, equals, raw = text.partition("=")
    name = name.strip()
    where = f"flag --set {name}=***" if _is_secret(name) else f"flag --set {text}"
    section, dot, key = name.partition(".")
    if not equals or not dot:
        raise ConfigError(f"{where}: expected section.key=value")
    if section != "providers":
        value = _parse_value(raw.strip(), _FIELDS.get(section, {}).get(key))
        return _Setting(where, "flag --set", section, key, value)
    provider, dot, key = key.partition(".")
    if not dot or not PROVIDER_NAME.fullmatch(provider):
        raise ConfigError(f"{where}: expected providers.NAME.key=value, NAME like lan or groq")
    if _is_secret(key):
        raise ConfigError(
            f"{where}: any user can read a command line; put the key in {SECRETS_PATHS[0]} "
            "or name its environment variable in api_key_env"
        )
    value = _parse_value(raw.strip(), _PROVIDER_FIELDS.get(key))
    return _Setting(where, "flag --set", f"providers.{provider}", key, value)


def _parse_value(raw: str, kind: Any) -> Any:
    """Read raw text as a TOML value; keep it as plain text if it is not one or a string is wanted.

    Taking the text verbatim for string keys lets ``ZEROPIN_DEVICE_NAME=42`` mean "42"; a list of
    names may be given as ``lan,groq``.
    """
    try:
        document = tomllib.loads(f"v = {raw}")
    except tomllib.TOMLDecodeError:
        document = {}
    value = document["v"] if document.keys() == {"v"} else raw
    if kind is str and not isinstance(value, str):
        return raw
    if kind == _NAMES and isinstance(value, str):
        return [part.strip() for part in value.split(",")] if value.strip() else []
    return value


def _settings(
    paths: Sequence[Path],
    secrets_paths: Sequence[Path],
    env: Mapping[str, str],
    overrides: Sequence[str],
) -> Iterator[_Setting]:
    for path in paths:
        yield from _file_settings(Path(path))
    for path in secrets_paths:
        try:
            expanded = Path(path).expanduser()
        except RuntimeError:  # no home directory (a system user): no per-user file either
            continue
        yield from _secrets_settings(expanded)
    yield from _env_settings(env)
    for text in overrides:
        yield _flag_setting(text)


# -- public API ---------------------------------------------------------------------------------


def load_config_with_sources(
    paths: Sequence[Path] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
    secrets_paths: Sequence[Path] | None = None,
) -> tuple[Config, dict[str, str]]:
    """Merge every layer into a Config; also map each "section.key" to the layer that set it.

    A source is "default", a file path, "env ZEROPIN_X" or "flag --set"; provider keys appear as
    "providers.NAME.key". Secrets files (SECRETS_PATHS unless given) are read after the others.
    """
    values = dataclasses.asdict(Config())
    sources = {f"{s}.{k}": "default" for s, fields in _FIELDS.items() for k in fields}
    tables: dict[str, dict[str, Any]] = {}  # provider name -> its keys, in first-named order
    chain_where = "defaults"
    layers = _settings(
        DEFAULT_PATHS if paths is None else paths,
        SECRETS_PATHS if secrets_paths is None else secrets_paths,
        os.environ if env is None else env,
        overrides,
    )
    for setting in layers:
        if setting.section.startswith("providers."):
            table = tables.setdefault(setting.section.partition(".")[2], {})
            if setting.key == _TABLE:
                continue
            table[setting.key] = _validated(setting)
        else:
            values[setting.section][setting.key] = _validated(setting)
            if (setting.section, setting.key) == ("llm", "chain"):
                chain_where = setting.where
        sources[f"{setting.section}.{setting.key}"] = setting.source
    config = Config(
        **{name: cls(**values[name]) for name, cls in _SECTIONS.items()},
        providers=tuple((name, ProviderConfig(**keys)) for name, keys in tables.items()),
    )
    _check_chain(config, chain_where)
    return config, sources


def load_config(
    paths: Sequence[Path] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
    secrets_paths: Sequence[Path] | None = None,
) -> Config:
    """Merge defaults, files (missing ones skipped), secrets, environment and flags.

    Raises ConfigError naming the layer, key and reason.
    """
    return load_config_with_sources(paths, env, overrides, secrets_paths)[0]


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


def resolved_state_dir(cfg: Config) -> Path:
    """Where notes, photos and recordings live: the configured directory, or the usual place."""
    if cfg.device.state_dir:
        return Path(cfg.device.state_dir).expanduser()
    if SYSTEM_STATE_DIR.is_dir() and os.access(SYSTEM_STATE_DIR, os.W_OK | os.X_OK):
        return SYSTEM_STATE_DIR
    return Path.home() / ".local" / "share" / "zeropin"


def resolved_vosk_model(cfg: Config) -> Path:
    """The Vosk model directory: the configured one, or the small English model in the state dir."""
    if cfg.asr.vosk_model:
        return Path(cfg.asr.vosk_model).expanduser()
    return resolved_state_dir(cfg) / "models" / "vosk-model-small-en-us-0.15"
