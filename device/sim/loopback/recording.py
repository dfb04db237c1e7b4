"""What the loopback server received, kept so a test can check what the client sent.

Multipart uploads are recorded with their text fields as strings (repeated ``name[]`` fields
become one list under ``name``) and each file field as the placeholder string
``"<binary N bytes>"``, so a recorded body is exactly what the OpenAPI schema expects (it types
files as ``string``, ``format: binary``); the bytes themselves are in ``RecordedRequest.files``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from device.sim.loopback.wire import UploadedFile

logger = logging.getLogger(__name__)

# Checks a body against the named OpenAPI schema; returns one message per error.
Validator = Callable[[str, dict[str, Any]], list[str]]

SCHEMA_FOR_PATH = {
    "/v1/chat/completions": "CreateChatCompletionRequest",
    "/v1/audio/transcriptions": "CreateTranscriptionRequest",
    "/v1/audio/speech": "CreateSpeechRequest",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    path: str  # "/v1/chat/completions"
    headers: dict[str, str]  # names as the client spelled them
    body: dict[str, Any]  # parsed JSON, or multipart text fields (see the module docstring)
    raw_size: int  # bytes of request body on the wire
    files: dict[str, UploadedFile] = field(default_factory=dict, repr=False)  # multipart only


class RequestLog:
    """Every request received, in order, the model names they asked for, and each body's
    schema errors when a ``validator`` is given. Thread-safe: each handler thread adds to it."""

    def __init__(self, validator: Validator | None = None) -> None:
        self.validator = validator
        self.requests: list[RecordedRequest] = []
        self.validation_errors: list[str] = []  # "<schema>: <error>", every request's
        self._models: list[str] = []
        self._lock = threading.Lock()

    def add(self, request: RecordedRequest, *, validate: bool) -> None:
        """Keep ``request``; with ``validate``, check its body against its path's schema."""
        with self._lock:
            self.requests.append(request)
            model = request.body.get("model")
            if isinstance(model, str) and model not in self._models:
                self._models.append(model)
        if validate:
            self._validate(request.path, request.body)

    def models(self) -> list[str]:
        """The model names requests have asked for, first seen first."""
        with self._lock:
            return list(self._models)

    def _validate(self, path: str, body: dict[str, Any]) -> None:
        schema = SCHEMA_FOR_PATH.get(path)
        if self.validator is None or schema is None:
            return
        try:
            errors = [f"{schema}: {error}" for error in self.validator(schema, body)]
        except Exception as exc:  # a broken check must fail the test, not drop the connection
            errors = [f"{schema}: the validator failed: {exc!r}"]
        if errors:
            # Not the errors themselves: they quote the body, which may hold what the user said.
            logger.warning(
                "loopback LLM: a %s breaks the OpenAPI schema (%d errors)", schema, len(errors)
            )
            with self._lock:
                self.validation_errors.extend(errors)
