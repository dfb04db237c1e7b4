"""Cloud providers: where an OpenAI-compatible endpoint lives, which models it has, and its key.

A :class:`Provider` is one resolved entry of the chain. Keys are wrapped in :class:`Secret`,
whose ``str`` and ``repr`` never show the value, so a key cannot leak through a log line, an
exception or a config dump by accident; only :meth:`Secret.reveal` gives it, for the
Authorization header.

:func:`resolve_providers` turns ``[llm] chain`` and the ``[providers.NAME]`` tables into the
chain, filling what a table leaves out from its :data:`PRESETS` entry, ``[llm]`` and the
environment::

    [llm]
    chain = ["groq", "lan"]          # groq first; the LAN box when groq fails

    [providers.lan]
    preset = "ollama"
    base_url = "http://192.168.1.20:11434/v1"
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from device.config.presets import PRESETS, Preset
from device.config.schema import Secret, is_clean_key
from device.errors import ConfigError

if TYPE_CHECKING:
    from device.config.schema import Config, LlmConfig, ProviderConfig

log = logging.getLogger(__name__)
_T = TypeVar("_T")

LAN_SUFFIXES = (".local", ".lan", ".home.arpa", ".internal", ".localhost")


@dataclass(frozen=True)
class Provider:
    """One OpenAI-compatible endpoint in the chain, with everything needed to call it."""

    name: str  # the chain's name for it: "groq", "lan", "env"
    base_url: str  # up to and including the version, no trailing slash: "https://x/v1"
    model: str  # chat model
    vision_model: str = ""  # chat model that accepts images; "" = this provider cannot see
    api_key: Secret = field(default_factory=Secret)  # empty for LAN servers without auth
    connect_timeout_seconds: float = 3.0
    first_token_timeout_seconds: float = 8.0  # from request sent to the first byte of answer
    deadline_seconds: float = 30.0  # whole request, streaming included
    max_retries: int = 1  # extra attempts on 429/5xx/reset before the chain moves on
    transcription_model: str = ""  # for /audio/transcriptions; "" = no cloud ASR here
    speech_model: str = ""  # for /audio/speech; "" = no cloud TTS here
    speech_voice: str = "alloy"

    @property
    def host(self) -> str:
        """The host name requests go to (for the egress ledger)."""
        return urlsplit(self.base_url).hostname or self.base_url


def is_lan_url(url: str) -> bool:
    """Whether url points at this machine or the local network rather than a cloud service.

    Plain http counts as local: no cloud service takes a key over it.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith(LAN_SUFFIXES)
    return address.is_private or address.is_loopback or address.is_link_local


def resolve_providers(cfg: Config, env: Mapping[str, str]) -> list[Provider]:
    """The provider chain, first to try first; [] means the device answers offline.

    Each chain name is a ``[providers.NAME]`` table (its ``preset``, or the preset of the same
    name, fills what it leaves out) or a bare preset name. With no chain, the OpenAI SDK's
    variables ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` give one provider named "env". Raises
    ConfigError naming the table and key when one cannot be called; no message shows a key.
    """
    if not cfg.llm.chain:
        return _from_openai_variables(cfg.llm, env)
    from device.config.schema import ProviderConfig

    tables = dict(cfg.providers)
    chain = []
    for name in cfg.llm.chain:
        if name not in tables and name not in PRESETS:
            raise ConfigError(f"[llm] chain: {json.dumps(name)} is neither a table nor a preset")
        chain.append(_resolved(name, tables.get(name, ProviderConfig()), cfg.llm, env))
    return chain


def _resolved(name: str, table: ProviderConfig, llm: LlmConfig, env: Mapping[str, str]) -> Provider:
    label = f"[providers.{name}]"
    preset_name = table.preset or (name if name in PRESETS else "")
    preset = PRESETS.get(preset_name, Preset("", "", "", ""))
    base_url = (table.base_url or preset.base_url).rstrip("/")
    if not base_url:
        raise ConfigError(
            f"{label} base_url: not set; give the server's address, like \"http://192.168.1.20"
            f':11434/v1", or a preset ({", ".join(PRESETS)})'
        )
    model = table.model or preset.model
    if not model:
        why = f"the {preset_name} preset has no default" if preset_name else "there is no default"
        raise ConfigError(f"{label} model: not set and {why}; name a model the server offers")
    key_env = table.api_key_env or preset.api_key_env
    api_key = table.api_key or _key_from_env(key_env, env, label)
    if not api_key and key_env and (table.api_key_env or not is_lan_url(base_url)):
        raise ConfigError(f"{label}: no API key; {_where_keys_go(label, key_env)}")
    if not api_key and not is_lan_url(base_url):
        host = urlsplit(base_url).hostname
        log.warning("%s: no API key; requests to %s go without one", label, host)
    voice = table.speech_voice or preset.speech_voice
    return Provider(
        name=name,
        base_url=base_url,
        model=model,
        vision_model=table.vision_model or preset.vision_model,
        api_key=api_key,
        connect_timeout_seconds=_inherit(
            table.connect_timeout_seconds, llm.connect_timeout_seconds
        ),
        first_token_timeout_seconds=_inherit(
            table.first_token_timeout_seconds, llm.first_token_timeout_seconds
        ),
        deadline_seconds=_inherit(table.deadline_seconds, llm.deadline_seconds),
        max_retries=_inherit(table.max_retries, llm.max_retries),
        transcription_model=table.transcription_model or preset.transcription_model,
        speech_model=table.speech_model or preset.speech_model,
        **({"speech_voice": voice} if voice else {}),
    )


def _inherit(own: _T | None, default: _T) -> _T:
    return default if own is None else own


def _where_keys_go(label: str, key_env: str) -> str:
    from device.config.sources import SECRETS_PATHS

    return f'put it in {SECRETS_PATHS[0]} as {label} api_key = "..." or set {key_env}'


def _key_from_env(name: str, env: Mapping[str, str], label: str = "") -> Secret:
    """The key in environment variable `name`, surrounding whitespace dropped; never shown."""
    value = env.get(name, "").strip() if name else ""
    if not is_clean_key(value):
        raise ConfigError(
            f"{label}{': ' if label else ''}environment variable {name} holds spaces, line "
            "breaks or non-ASCII characters; it must hold the key alone (value not shown)"
        )
    return Secret(value)


def _from_openai_variables(llm: LlmConfig, env: Mapping[str, str]) -> list[Provider]:
    """The provider the OpenAI SDK would use from its variables, if any are set."""
    key = _key_from_env("OPENAI_API_KEY", env)
    base_url = env.get("OPENAI_BASE_URL", "").strip().rstrip("/")
    if not key and not base_url:
        return []
    if base_url and not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            "environment variable OPENAI_BASE_URL: must start with http:// or https://, "
            f"got {json.dumps(base_url)}"
        )
    base_url = base_url or PRESETS["openai"].base_url
    if not key and not is_lan_url(base_url):
        raise ConfigError(
            f"environment variable OPENAI_BASE_URL: {urlsplit(base_url).hostname} needs a key; "
            "set OPENAI_API_KEY"
        )
    model = llm.model or PRESETS["openai"].model
    return [
        Provider(
            name="env",
            base_url=base_url,
            model=model,
            vision_model=model,
            api_key=key,
            connect_timeout_seconds=llm.connect_timeout_seconds,
            first_token_timeout_seconds=llm.first_token_timeout_seconds,
            deadline_seconds=llm.deadline_seconds,
            max_retries=llm.max_retries,
        )
    ]
