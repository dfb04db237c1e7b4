"""Errors the daemon raises on purpose. Each leaf also subclasses the built-in it resembles."""

from enum import StrEnum

from drivers.errors import DriverError, ZeroPinError

__all__ = [
    "ZeroPinError",
    "DriverError",
    "ConfigError",
    "ModelError",
    "StorageError",
    "TtsError",
    "EgressRefused",
    "CloudCause",
    "CloudError",
    "ToolServerError",
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


class CloudCause(StrEnum):
    """Why a cloud provider could not answer, in the terms the wearer is told."""

    UNREACHABLE = "unreachable"  # no connection, timed out, a captive portal: maybe later
    KEY_REFUSED = "key_refused"  # 401/403: only a new key helps
    OUT_OF_CREDIT = "out_of_credit"  # 429 insufficient_quota: only paying helps
    MODEL_UNKNOWN = "model_unknown"  # the model named in the settings is not there
    NOT_FOUND = "not_found"  # 404 with no model named: the base_url points at no such service
    CANNOT_SEE = "cannot_see"  # the model does not take pictures (or none is configured)
    BUSY = "busy"  # 429/503: rate-limited or overloaded, for ``retry_after_seconds`` if known
    SERVER_ERROR = "server_error"  # 5xx, or an answer with nothing in it
    REJECTED = "rejected"  # any other 4xx: this request, as sent, will not be answered
    # The usage budget ran out: the device's own daily one ([llm] max_requests_per_day,
    # max_tokens_per_day) or a gateway's (a LiteLLM virtual key's max_budget)
    BUDGET_DAY = "budget_day"
    BUDGET_HOUR = "budget_hour"  # the device's [llm] max_requests_per_hour


class CloudError(ZeroPinError, ConnectionError):
    """A cloud provider failed (unreachable, refused, timed out, bad answer); never shows a key.

    ``cause`` says why, for what the wearer hears and for whether pausing the provider helps.
    ``retryable`` says whether trying the same provider again may help (429, 5xx, reset).
    ``retry_after_seconds`` is the server's Retry-After, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: CloudCause = CloudCause.UNREACHABLE,
        retryable: bool = False,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds

    @property
    def key_refused(self) -> bool:
        """The server rejected the API key, so no retry will help until the key is fixed."""
        return self.cause is CloudCause.KEY_REFUSED


class ToolServerError(ZeroPinError, ConnectionError):
    """An MCP server could not run a tool: away, too slow, or it refused the call. The message
    is a sentence the model can pass on to the wearer; it never shows a token."""
