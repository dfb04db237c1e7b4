"""Reading the settings: layered TOML, environment and flags into one validated ``Config``.

Layers, later wins: built-in defaults, the files in DEFAULT_PATHS, the device's wake-word
calibration (CALIBRATION_PATH, written by ``zeropin wakeword calibrate``), the secrets files in
SECRETS_PATHS, ``ZEROPIN_<SECTION>_<KEY>`` environment variables, then ``--set section.key=value``
flags. Components receive their own section (``cfg.tts``), never the whole tree. Any problem
raises ConfigError with one line naming the layer, the key and the reason::

    /etc/zeropin/config.toml: [tts] rate_wpm: expected an integer, got "fast"

Cloud providers are tables ``[providers.NAME]``, one per endpoint, kept in ``Config.providers``
in the order the files give them; MCP servers likewise ``[mcp.servers.NAME]``, kept in
``Config.mcp_servers``. A secrets file (mode 0600) may hold only the providers' ``api_key`` and
the servers' ``token``. Either is held in a :class:`~device.config.schema.Secret` and never
shown, in errors or dumps.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

from device.config.checks import PROVIDER_NAME, Check, rules
from device.config.presets import PRESETS
from device.config.schema import WAKE_PHRASES, Config, McpServerConfig, ProviderConfig
from device.config.text import hidden, is_secret, shown
from device.config.values import NAMES, typed
from device.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_PATHS: tuple[Path, ...] = (
    Path("/etc/zeropin/config.toml"),
    Path("/boot/firmware/zeropin.toml"),
)


# Read after DEFAULT_PATHS, and only when they are (not with --config): a measured fit of the
# wake word to this device's room and wearer wins over the settings written before it.
CALIBRATION_PATH = Path("/etc/zeropin/calibration.toml")


# Read after the config files (whichever they are, like the secrets files): what the owner
# changed on the companion page (``device.web``). The daemon's user cannot write /etc/zeropin, so
# the page keeps its changes in the state directory; the first is the image's, the second a
# laptop's ("~" expanded when read).
PAGE_SETTINGS_PATHS: tuple[Path, ...] = (
    Path("/var/lib/zeropin/settings.toml"),
    Path("~/.local/share/zeropin/settings.toml"),
)


SECRETS_PATHS: tuple[Path, ...] = (
    Path("/etc/zeropin/secrets.toml"),
    Path("~/.config/zeropin/secrets.toml"),  # "~" is expanded when the file is read
)


ENV_PREFIX = "ZEROPIN_"


_SECTIONS: dict[str, Any] = {
    name: kind for name, kind in get_type_hints(Config).items() if dataclasses.is_dataclass(kind)
}


_FIELDS: dict[str, dict[str, Any]] = {name: get_type_hints(cls) for name, cls in _SECTIONS.items()}


_PROVIDER_FIELDS: dict[str, Any] = get_type_hints(ProviderConfig)


SERVERS = "mcp.servers"  # [mcp.servers.NAME]: one MCP server each
_SERVER_FIELDS: dict[str, Any] = get_type_hints(McpServerConfig)


_SECTION_RULES: dict[str, dict[str, Check]] = {  # read from the fields' setting(default, rule)
    name: rules(cls)
    for name, cls in [*_SECTIONS.items(), ("providers", ProviderConfig), ("mcp", McpServerConfig)]
}


_SECRET_KEYS = ("api_key", "token")  # the keys a secrets file may hold


_TABLE = ""  # the key of a setting that only says "this [providers.NAME] table exists"


def _named_table(section: str) -> tuple[str, str] | None:
    """("providers", NAME) or ("mcp.servers", NAME) for a named table's section, else None."""
    for prefix in ("providers", SERVERS):
        if section.startswith(prefix + "."):
            return prefix, section[len(prefix) + 1 :]
    return None


@dataclass(frozen=True)
class _Setting:
    """One value from one layer, before validation."""

    where: str  # names the layer in errors: a path, "environment variable X", "flag --set a.b=c"
    source: str  # names the layer in render_config comments
    section: str  # "tts", or "providers.NAME" for a provider table
    key: str
    value: Any


def _validated(setting: _Setting) -> Any:
    """Return the setting's value converted to its field type, or raise ConfigError."""
    section, key = setting.section, setting.key
    if section.startswith("providers."):
        fields = _PROVIDER_FIELDS
    elif section.startswith(SERVERS + "."):
        fields = _SERVER_FIELDS
    elif section in _FIELDS:
        fields = _FIELDS[section]
    else:
        raise _unknown_section(setting.where, section)
    if key not in fields:
        known = ", ".join(fields)
        raise ConfigError(f"{setting.where}: [{section}] {key}: unknown key (known: {known})")
    value, reason = typed(fields[key], setting.value, hidden if is_secret(key) else shown)
    rule = _SECTION_RULES[section.partition(".")[0]].get(key)
    if reason is None and rule is not None:
        reason = rule(value)
    if reason:
        raise ConfigError(f"{setting.where}: [{section}] {key}: {reason}")
    return value


def _unknown_section(where: str, section: str) -> ConfigError:
    known = ", ".join([*_FIELDS, "providers", "mcp"])
    return ConfigError(f"{where}: [{section}]: unknown section (known: {known})")


def _check_chain(cfg: Config, where: str) -> None:
    """Every name in [llm] chain must be a [providers.NAME] table or a preset."""
    for name in cfg.llm.chain:
        if cfg.provider(name) is None and name not in PRESETS:
            raise ConfigError(
                f"{where}: [llm] chain: {shown(name)} is neither a [providers.{name}] table nor "
                f"a preset ({', '.join(PRESETS)})"
            )


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
            yield from _table_settings(where, "providers", "a provider", table)
        elif section == "mcp":
            yield from _table_settings(where, SERVERS, "an MCP server", _servers(where, table))
        elif section in _FIELDS:
            yield from (_Setting(where, where, section, k, v) for k, v in table.items())
        else:
            raise _unknown_section(where, section)


def _servers(where: str, mcp: dict[str, Any]) -> dict[str, Any]:
    """The tables under [mcp.servers], the one thing [mcp] holds."""
    for key in mcp:
        if key != "servers":
            raise ConfigError(
                f"{where}: [mcp] {shown(key)}: unknown key; a server is a [mcp.servers.NAME] table"
            )
    servers = mcp.get("servers", {})
    if not isinstance(servers, dict):
        raise ConfigError(f"{where}: [mcp] servers: expected tables [mcp.servers.NAME]")
    return servers


def _table_settings(
    where: str, prefix: str, what: str, tables: dict[str, Any]
) -> Iterator[_Setting]:
    """The settings of the named tables [PREFIX.NAME] (``what``: "a provider")."""
    for name, table in tables.items():
        if not PROVIDER_NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: [{prefix}] {shown(name)}: {what} name holds only lowercase "
                "letters, digits, - and _"
            )
        if not isinstance(table, dict):
            raise ConfigError(
                f"{where}: [{prefix}] {name}: expected a table, got {hidden(table)}; "
                f"write [{prefix}.{name}] above its keys"
            )
        section = f"{prefix}.{name}"
        yield _Setting(where, where, section, _TABLE, None)  # so that an empty table counts
        yield from (_Setting(where, where, section, k, v) for k, v in table.items())


def _file_settings(path: Path, data: bytes | None = None) -> list[_Setting]:
    """Settings from one TOML file, or from ``data`` read as if it were that file; a missing file
    gives none."""
    found = _read(path) if data is None else (data, 0o600)
    if found is None:
        return []
    data, mode = found
    where = str(path)
    settings = list(_document_settings(where, _document(where, data)))
    if mode & 0o077 and any(s.key in _SECRET_KEYS and s.value for s in settings):
        log.warning(
            "%s holds an API key or token that other users can read (mode %04o); move it to %s",
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
        table = _named_table(setting.section)
        secret = {"providers": "api_key", SERVERS: "token"}.get(table[0]) if table else None
        web_token = (setting.section, setting.key) == ("web", "token")
        if setting.key not in (_TABLE, secret) and not web_token:
            raise ConfigError(
                f"{where}: [{setting.section}] {setting.key}: not allowed in a secrets file; "
                "it holds only [providers.NAME] api_key, [mcp.servers.NAME] token and [web] token"
            )
    log.debug("read secrets from %s", where)
    return settings


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str) -> str:
    message = " ".join(str(exc).split())
    match = re.search(r"at line (\d+)", message)
    line = match[1] if match else str(text.count("\n") + 1)  # "at end of document"
    return f"line {line}: {message}"


def _top_level_reason(name: str, value: Any) -> str:
    if name in _FIELDS or name in ("providers", "mcp"):
        return f"[{name}]: expected a table, got {shown(value)}"
    owners = [f"[{section}]" for section, fields in _FIELDS.items() if name in fields]
    if name in _PROVIDER_FIELDS:
        owners.append("[providers.NAME]")
    if name in _SERVER_FIELDS:
        owners.append(f"[{SERVERS}.NAME]")
    sections = ", ".join([*_FIELDS, "providers", "mcp"])
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
    where = f"flag --set {name}=***" if is_secret(name) else f"flag --set {text}"
    section, dot, key = name.partition(".")
    if not equals or not dot:
        raise ConfigError(f"{where}: expected section.key=value")
    if section == "mcp":
        return _server_flag(where, key, raw)
    if section != "providers":
        value = _parse_value(raw.strip(), _FIELDS.get(section, {}).get(key))
        return _Setting(where, "flag --set", section, key, value)
    provider, dot, key = key.partition(".")
    if not dot or not PROVIDER_NAME.fullmatch(provider):
        raise ConfigError(f"{where}: expected providers.NAME.key=value, NAME like lan or groq")
    if is_secret(key):
        raise ConfigError(
            f"{where}: any user can read a command line; put the key in {SECRETS_PATHS[0]} "
            "or name its environment variable in api_key_env"
        )
    value = _parse_value(raw.strip(), _PROVIDER_FIELDS.get(key))
    return _Setting(where, "flag --set", f"providers.{provider}", key, value)


def typed_value(section: str, key: str, raw: str) -> Any:
    """``raw`` read as ``--set section.key=raw`` reads it (``section`` may be providers.NAME)."""
    if section.startswith("providers."):
        return _parse_value(raw, _PROVIDER_FIELDS.get(key))
    return _parse_value(raw, _FIELDS.get(section, {}).get(key))


def _server_flag(where: str, rest: str, raw: str) -> _Setting:
    """The setting of ``--set mcp.servers.NAME.key=value`` (``rest``: after "mcp.")."""
    servers, _, rest = rest.partition(".")
    name, dot, key = rest.partition(".")
    if servers != "servers" or not dot or not PROVIDER_NAME.fullmatch(name):
        raise ConfigError(f"{where}: expected mcp.servers.NAME.key=value, NAME like home")
    if is_secret(key):
        raise ConfigError(
            f"{where}: any user can read a command line; put the token in {SECRETS_PATHS[0]}"
        )
    value = _parse_value(raw.strip(), _SERVER_FIELDS.get(key))
    return _Setting(where, "flag --set", f"{SERVERS}.{name}", key, value)


def _check_servers(cfg: Config, named_in: Mapping[str, str]) -> None:
    """Every [mcp.servers.NAME] needs its url (``named_in``: where each table was first named)."""
    for name, server in cfg.mcp_servers:
        if not server.url:
            raise ConfigError(
                f"{named_in[name]}: [{SERVERS}.{name}] url: not set; give the server's address, "
                "like http://homeassistant.local:8123/api/mcp"
            )


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
    if kind == NAMES and isinstance(value, str):
        return [part.strip() for part in value.split(",")] if value.strip() else []
    return value


def _settings(
    paths: Sequence[Path],
    secrets_paths: Sequence[Path],
    env: Mapping[str, str],
    overrides: Sequence[str],
    replaced: Mapping[Path, bytes],
) -> Iterator[_Setting]:
    for path in paths:  # the config files, then the page's
        yield from _file_settings(_expanded(path), replaced.get(_expanded(path)))
    for path in secrets_paths:
        try:
            expanded = Path(path).expanduser()
        except RuntimeError:  # no home directory (a system user): no per-user file either
            continue
        yield from _secrets_settings(expanded)
    yield from _env_settings(env)
    for text in overrides:
        yield _flag_setting(text)


def _expanded(path: Path) -> Path:
    try:
        return Path(path).expanduser()
    except RuntimeError:  # no home directory (a system user): the path names no file
        return Path(path)


def page_settings_paths() -> tuple[Path, ...]:
    """PAGE_SETTINGS_PATHS with "~" expanded (a user without a home has no second one)."""
    return tuple(_expanded(path) for path in PAGE_SETTINGS_PATHS)


def load_config_with_sources(
    paths: Sequence[Path] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
    secrets_paths: Sequence[Path] | None = None,
    replaced: Mapping[Path, bytes] | None = None,
    page_paths: Sequence[Path] | None = None,
) -> tuple[Config, dict[str, str]]:
    """Merge every layer into a Config; also map each "section.key" to the layer that set it.

    A source is "default", a file path, "env ZEROPIN_X" or "flag --set"; provider keys appear as
    "providers.NAME.key". Without ``paths``, DEFAULT_PATHS and then CALIBRATION_PATH are read;
    after them the companion page's files (PAGE_SETTINGS_PATHS unless given), then the secrets
    files (SECRETS_PATHS unless given). ``replaced`` maps a file of the page's to bytes read in
    its place: what a change would make of it, checked before it is written.
    """
    defaults = Config()
    # Field by field, not dataclasses.asdict: that would turn a Secret default into a dict.
    values = {
        name: {item.name: getattr(getattr(defaults, name), item.name) for item in fields(cls)}
        for name, cls in _SECTIONS.items()
    }
    sources = {f"{s}.{k}": "default" for s, fields in _FIELDS.items() for k in fields}
    # (kind, name) -> its keys, in first-named order; kind "providers" or "mcp.servers"
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    servers_named_in: dict[str, str] = {}
    chain_where = "defaults"
    files = (*DEFAULT_PATHS, CALIBRATION_PATH) if paths is None else paths
    pages = PAGE_SETTINGS_PATHS if page_paths is None else page_paths
    layers = _settings(
        [*files, *pages],
        SECRETS_PATHS if secrets_paths is None else secrets_paths,
        os.environ if env is None else env,
        overrides,
        {_expanded(path): data for path, data in (replaced or {}).items()},
    )
    for setting in layers:
        named = _named_table(setting.section)
        if named is not None:
            table = tables.setdefault(named, {})
            if named[0] == SERVERS:
                servers_named_in.setdefault(named[1], setting.where)
            if setting.key == _TABLE:
                continue
            table[setting.key] = _validated(setting)
        else:
            values[setting.section][setting.key] = _validated(setting)
            if (setting.section, setting.key) == ("llm", "chain"):
                chain_where = setting.where
        sources[f"{setting.section}.{setting.key}"] = setting.source
    config = _config(values, sources, tables)
    _check_chain(config, chain_where)
    _check_servers(config, servers_named_in)
    return config, sources


def _config(
    values: dict[str, dict[str, Any]],
    sources: dict[str, str],
    tables: dict[tuple[str, str], dict[str, Any]],
) -> Config:
    """The Config of the layers' ``values`` and named ``tables``; the device's language gives
    the wake phrase when no layer set one."""
    if sources["wake.phrase"] == "default":
        values["wake"]["phrase"] = WAKE_PHRASES[values["device"]["language"]]
    return Config(
        **{name: cls(**values[name]) for name, cls in _SECTIONS.items()},
        providers=tuple((n, ProviderConfig(**t)) for (k, n), t in tables.items() if k != SERVERS),
        mcp_servers=tuple(
            (n, McpServerConfig(**t)) for (k, n), t in tables.items() if k == SERVERS
        ),
    )


def load_config(
    paths: Sequence[Path] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
    secrets_paths: Sequence[Path] | None = None,
    page_paths: Sequence[Path] | None = None,
) -> Config:
    """Merge defaults, files (missing ones skipped), the page's, secrets, environment and flags.

    Raises ConfigError naming the layer, key and reason.
    """
    return load_config_with_sources(
        paths, env, overrides, secrets_paths, page_paths=page_paths
    )[0]
