"""Errors the daemon raises on purpose. Each leaf also subclasses the built-in it resembles."""

from drivers.errors import DriverError, ZeroPinError

__all__ = ["ZeroPinError", "DriverError", "ConfigError", "ModelError", "StorageError", "TtsError"]


class ConfigError(ZeroPinError, ValueError):
    """A config file, variable or flag is wrong; the message names where, which key and why."""


class ModelError(ZeroPinError, FileNotFoundError):
    """A model is missing or broken; the message says how to fetch it."""


class StorageError(ZeroPinError, OSError):
    """Saving failed (disk full, read-only); what was saved before is intact."""


class TtsError(ZeroPinError, RuntimeError):
    """Speech synthesis failed; the message says what to install or change."""
