"""ZeroPin settings: nested frozen dataclasses loaded from layered TOML, validated once at start.

Layers, later wins: built-in defaults, the files in DEFAULT_PATHS, ``ZEROPIN_<SECTION>_<KEY>``
environment variables, then ``--set section.key=value`` flags. Components receive their own
section (``cfg.tts``), never the whole tree. Any problem raises ConfigError with one line naming
the layer, the key and the reason::

    /etc/zeropin/config.toml: [tts] rate_wpm: expected an integer, got "fast"
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from device.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_PATHS: tuple[Path, ...] = (
    Path("/etc/zeropin/config.toml"),
    Path("/boot/firmware/zeropin.toml"),
)
SYSTEM_STATE_DIR = Path("/var/lib/zeropin")
ENV_PREFIX = "ZEROPIN_"
SECRET_WORDS = ("key", "token", "secret", "password")  # keys containing these render masked


@dataclass(frozen=True)
class DeviceConfig:
    name: str = "zeropin"
    state_dir: str = ""  # "" = /var/lib/zeropin if writable, else ~/.local/share/zeropin


@dataclass(frozen=True)
class AudioConfig:
    mic: str = ""  # substring of the PyAudio input device name; "" = system default
    speaker: str = ""  # substring of the PyAudio output device name; "" = system default
    chunk_ms: int = 100  # milliseconds of audio per read: 10, 20, ..., 100


@dataclass(frozen=True)
class WakeConfig:
    engine: str = "pocketsphinx"
    phrase: str = "hey zero"
    threshold: float = 1e-40  # detection score needed to fire; scale depends on the engine
    model: str = ""  # model file path (tflite engine)
    refractory_seconds: float = 2.0  # detections this soon after one are ignored
    trigger_level: int = 1  # consecutive chunks above threshold needed to fire


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


# -- formatting ---------------------------------------------------------------------------------


def _masked(name: str, value: Any) -> Any:
    if any(word in name.lower() for word in SECRET_WORDS):
        return "***" if value else ""
    return value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # repr(1e-20) == "1e-20", repr(inf) == "inf": all valid TOML
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _show(value: Any) -> str:
    """A value as it would be written in TOML, for error messages."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    try:
        return _toml_value(value)
    except TypeError:
        return str(value)  # dates and times


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


_GPIO = _between(0, 27)
_RULES: dict[str, Check] = {
    "device.name": _not_empty,
    "audio.chunk_ms": _chunk_ms,
    "wake.engine": _one_of("pocketsphinx", "vosk", "tflite"),
    "wake.phrase": _not_empty,
    "wake.threshold": _above(0),
    "wake.refractory_seconds": _at_least(0),
    "wake.trigger_level": _at_least(1),
    "vad.aggressiveness": _between(0, 3),
    "vad.trailing_silence_seconds": _between(0.1, 5),
    "vad.max_utterance_seconds": _between(1, 60),
    "vad.no_speech_timeout_seconds": _between(0.5, 60),
    "vad.preroll_seconds": _between(0, 3),
    "asr.engine": _one_of("auto", "vosk", "pocketsphinx"),
    "tts.engine": _one_of("espeak-ng"),
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
}
_SECTIONS: dict[str, type] = get_type_hints(Config)
_FIELDS: dict[str, dict[str, type]] = {name: get_type_hints(cls) for name, cls in _SECTIONS.items()}
_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


@dataclass(frozen=True)
class _Setting:
    """One value from one layer, before validation."""

    where: str  # names the layer in errors: a path, "environment variable X", "flag --set a.b=c"
    source: str  # names the layer in render_config comments
    section: str
    key: str
    value: Any


def _typed(kind: type, value: Any) -> tuple[Any, str | None]:
    """Return the value as `kind` and the reason it is wrong, if any; ints widen to float."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        return value, f"expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {_show(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return value, f"must be a finite number, got {_show(value)}"
    return value, None


def _validated(setting: _Setting) -> Any:
    """Return the setting's value converted to its field type, or raise ConfigError."""
    section, key = setting.section, setting.key
    if section not in _FIELDS:
        raise _unknown_section(setting.where, section)
    fields = _FIELDS[section]
    if key not in fields:
        known = ", ".join(fields)
        raise ConfigError(f"{setting.where}: [{section}] {key}: unknown key (known: {known})")
    value, reason = _typed(fields[key], setting.value)
    rule = _RULES.get(f"{section}.{key}")
    if reason is None and rule is not None:
        reason = rule(value)
    if reason:
        raise ConfigError(f"{setting.where}: [{section}] {key}: {reason}")
    return value


def _unknown_section(where: str, section: str) -> ConfigError:
    return ConfigError(f"{where}: [{section}]: unknown section (known: {', '.join(_FIELDS)})")


# -- layers -------------------------------------------------------------------------------------


def _file_settings(path: Path) -> list[_Setting]:
    """Settings from one TOML file; a missing file gives none."""
    where = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")  # editors on other laptops may add a byte-order mark
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (bad byte at offset {exc.start})") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {_syntax_error(exc, text)}") from exc
    log.debug("read configuration from %s", where)
    settings = []
    for section, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: {_top_level_reason(section, table)}")
        if section not in _FIELDS:
            raise _unknown_section(where, section)
        settings += [_Setting(where, where, section, k, v) for k, v in table.items()]
    return settings


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str) -> str:
    message = " ".join(str(exc).split())
    match = re.search(r"at line (\d+)", message)
    line = match[1] if match else str(text.count("\n") + 1)  # "at end of document"
    return f"line {line}: {message}"


def _top_level_reason(name: str, value: Any) -> str:
    if name in _FIELDS:
        return f"[{name}]: expected a table, got {_show(value)}"
    owners = [section for section, fields in _FIELDS.items() if name in fields]
    hint = f"put it under [{owners[0]}]" if owners else f"sections are: {', '.join(_FIELDS)}"
    return f"{name}: key outside any [section]; {hint}"


def _env_settings(env: Mapping[str, str]) -> Iterator[_Setting]:
    """Settings from ZEROPIN_<SECTION>_<KEY>; other ZEROPIN_ variables belong to someone else."""
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section in _FIELDS:
            value = _parse_value(raw, _FIELDS[section].get(key))
            yield _Setting(f"environment variable {name}", f"env {name}", section, key, value)


def _flag_setting(text: str) -> _Setting:
    """The setting from one ``--set section.key=value`` flag."""
    where = f"flag --set {text}"
    name, equals, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not equals or not dot:
        raise ConfigError(f"{where}: expected section.key=value")
    value = _parse_value(raw.strip(), _FIELDS.get(section, {}).get(key))
    return _Setting(where, "flag --set", section, key, value)


def _parse_value(raw: str, kind: type | None) -> Any:
    """Read raw text as a TOML value; keep it as plain text if it is not one or a string is wanted.

    Taking the text verbatim for string keys lets ``ZEROPIN_DEVICE_NAME=42`` mean "42".
    """
    try:
        document = tomllib.loads(f"v = {raw}")
    except tomllib.TOMLDecodeError:
        return raw
    if document.keys() != {"v"} or (kind is str and not isinstance(document["v"], str)):
        return raw
    return document["v"]


def _settings(
    paths: Sequence[Path], env: Mapping[str, str], overrides: Sequence[str]
) -> Iterator[_Setting]:
    for path in paths:
        yield from _file_settings(Path(path))
    yield from _env_settings(env)
    for text in overrides:
        yield _flag_setting(text)


# -- public API ---------------------------------------------------------------------------------


def load_config_with_sources(
    paths: Sequence[Path] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
) -> tuple[Config, dict[str, str]]:
    """Merge every layer into a Config; also map each "section.key" to the layer that set it.

    A source is "default", a file path, "env ZEROPIN_X" or "flag --set".
    """
    values = dataclasses.asdict(Config())
    sources = {f"{s}.{k}": "default" for s, fields in _FIELDS.items() for k in fields}
    chosen_env = os.environ if env is None else env
    for setting in _settings(DEFAULT_PATHS if paths is None else paths, chosen_env, overrides):
        values[setting.section][setting.key] = _validated(setting)
        sources[f"{setting.section}.{setting.key}"] = setting.source
    config = Config(**{name: cls(**values[name]) for name, cls in _SECTIONS.items()})
    return config, sources


def load_config(
    paths: Sequence[Path] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
) -> Config:
    """Merge defaults, files (missing ones skipped), environment and flags; raise ConfigError."""
    return load_config_with_sources(paths, env, overrides)[0]


def render_config(cfg: Config, sources: Mapping[str, str] | None = None) -> str:
    """Return the config as TOML, each key commented with its source if given; secrets masked."""
    lines = ["# ZeroPin configuration, all layers merged"]
    for section in dataclasses.fields(cfg):
        part = getattr(cfg, section.name)
        lines += ["", f"[{section.name}]"]
        for item in dataclasses.fields(part):
            line = f"{item.name} = {_toml_value(_masked(item.name, getattr(part, item.name)))}"
            if sources is not None:
                source = sources.get(f"{section.name}.{item.name}", "default")
                line += "  # " + " ".join(source.split())
            lines.append(line)
    return "\n".join(lines) + "\n"


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
