"""Cloud providers: where an OpenAI-compatible endpoint lives, which models it has, and its key.

A :class:`Provider` is one resolved entry of the chain. Keys are wrapped in :class:`Secret`,
whose ``str`` and ``repr`` never show the value, so a key cannot leak through a log line, an
exception or a config dump by accident; only :meth:`Secret.reveal` gives it, for the
Authorization header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Secret:
    """A value that must never be printed: ``str(secret)`` is "***" (or "" when empty)."""

    _value: str = field(default="", repr=False)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __str__(self) -> str:
        return "***" if self._value else ""

    def __repr__(self) -> str:
        return f"Secret({str(self)!r})"


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
