"""Errors the daemon raises on purpose. Each leaf also subclasses the built-in it resembles."""

from drivers.errors import DriverError, ZeroPinError

__all__ = [
    "ZeroPinError",
    "DriverError",
    "ConfigError",
    "ModelError",
    "StorageError",
    "TtsError",
    "EgressRefused",
    "CloudError",
]


class ConfigError(ZeroPinError, ValueError):
    """A config file, variable or flag is wrong; the message names where, which key and why."""


class ModelError(ZeroPinError, FileNotFoundError):
    """A model is missing or broken; the message says how to fetch it."""


class StorageError(ZeroPinError, OSError):
    """Saving failed (disk full, read-only); what was saved before is intact."""


class TtsError(ZeroPinError, RuntimeError):
    """Speech synthesis failed; the message says what to install or change."""


class EgressRefused(ZeroPinError, PermissionError):
    """An upload was not sent; ``cause`` says why, for the sentence the wearer hears:

    - ``"indicator"``: the privacy LED (or the status LED's capture pattern) could not be lit;
    - ``"no indicator"``: nothing on this device can show an upload, and the owner has not
      allowed uploads without one;
    - ``"ledger"``: the egress ledger could not be written (``storage_reason`` says why).
    """

    def __init__(self, message: str, *, cause: str, storage_reason: str = "") -> None:
        super().__init__(message)
        self.cause = cause
        self.storage_reason = storage_reason


class CloudError(ZeroPinError, ConnectionError):
    """A cloud provider failed (unreachable, refused, timed out, bad answer); never shows a key.

    ``retryable`` says whether trying the same provider again may help (429, 5xx, reset).
    ``retry_after_seconds`` is the server's Retry-After, when it sent one. ``key_refused``: the
    server rejected the API key (401/403), so no retry will help until the key is fixed.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after_seconds: float | None = None,
        key_refused: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds
        self.key_refused = key_refused
