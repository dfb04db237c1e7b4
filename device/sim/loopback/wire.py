"""The OpenAI wire format as the loopback server speaks it.

Parsing request bodies (JSON, and multipart for audio uploads), splitting a scripted reply into
server-sent events as a real model streams it, OpenAI-style error objects, and the WAV tone
the speech endpoint answers with.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast

import numpy as np

from device.cloud.client import ToolCall
from device.sim.loopback.scripted import BadRequest, ScriptedReply
from drivers.audio_format import RATE, wav_bytes

SPEECH_RATE = RATE  # Hertz, mono, signed 16-bit: the bus format, as wav_bytes writes it
SPEECH_SECONDS_PER_CHARACTER = 0.05
SPEECH_MAX_SECONDS = 3.0
MAX_BODY_BYTES = 25 * 1024 * 1024  # OpenAI's own limit for audio uploads
_WORDS_PER_CHUNK = 2


@dataclass(frozen=True)
class UploadedFile:
    """One file field of a multipart request, as received."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


def _text_pieces(text: str) -> list[str]:
    """A few words per piece, spaces kept, so the pieces join back to the exact text."""
    words = re.findall(r"\S+\s*", text)
    return [
        "".join(words[i : i + _WORDS_PER_CHUNK]) for i in range(0, len(words), _WORDS_PER_CHUNK)
    ]


def _argument_pieces(arguments: str) -> list[str]:
    """The arguments JSON cut into three fragments, as real servers stream them."""
    cut = max(1, len(arguments) // 3)
    pieces = [arguments[:cut], arguments[cut : 2 * cut], arguments[2 * cut :]]
    return [piece for piece in pieces if piece]


def tone_wav(text: str) -> bytes:
    """A 440 Hz tone whose length grows with the text: the stand-in for synthesised speech."""
    seconds = min(SPEECH_MAX_SECONDS, SPEECH_SECONDS_PER_CHARACTER * len(text))
    count = int(SPEECH_RATE * seconds)
    step = 2 * math.pi * 440 / SPEECH_RATE
    samples = np.sin(step * np.arange(count)) * 8000
    return wav_bytes(samples.astype("<i2").tobytes())


def parse_body(content_type: str, raw: bytes) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    if content_type.lower().startswith("multipart/form-data"):
        return _parse_multipart(content_type, raw)
    if not raw:
        return {}, {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"We could not parse the JSON body of your request: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body, {}


def _parse_multipart(
    content_type: str, raw: bytes
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    # The email package parses MIME multipart exactly (binary-safe), now that cgi is gone.
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = cast(EmailMessage, BytesParser(policy=policy.HTTP).parsebytes(head + raw))
    if not message.is_multipart():
        raise BadRequest("The multipart body could not be parsed.")
    fields: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise BadRequest("A multipart part has no name.")
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = UploadedFile(filename, part.get_content_type(), data)
            fields[name] = f"<binary {len(data)} bytes>"
        elif name.endswith("[]"):
            # How the OpenAI SDKs send arrays in a form: one "include[]" field per item.
            fields.setdefault(name[:-2], []).append(data.decode("utf-8", "replace"))
        else:
            fields[name] = data.decode(part.get_content_charset() or "utf-8", "replace")
    return fields, files


def error_body(message: str, kind: str, code: str | None, param: str | None = None) -> bytes:
    error = {"message": message, "type": kind, "param": param, "code": code}
    return json.dumps({"error": error}).encode()


def bad_key_body() -> bytes:
    return error_body(
        "Incorrect API key provided. You can find your API key in your account settings.",
        "invalid_request_error",
        "invalid_api_key",
    )


@dataclass(frozen=True)
class Completion:
    """The parts every chunk of one answer shares."""

    id: str
    created: int  # Unix seconds
    model: str

    def chunk(self, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    def whole(self, reply: ScriptedReply, prompt: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if reply.tool_call is not None:
            message["tool_calls"] = [_tool_call_object(reply.tool_call)]
            finish_reason = "tool_calls"
        else:
            message["content"] = reply.text
            finish_reason = "stop"
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
            ],
            "usage": usage(reply, prompt),
        }

    def usage_chunk(self, reply: ScriptedReply, prompt: dict[str, Any]) -> dict[str, Any]:
        """The last event of a stream whose request asked ``stream_options.include_usage``:
        no choices, the usage (as OpenAI sends it)."""
        return {**self.chunk({}, None), "choices": [], "usage": usage(reply, prompt)}


def usage(reply: ScriptedReply, prompt: dict[str, Any]) -> dict[str, int]:
    """What a request "cost": words stand in for tokens, close enough for a budget check and
    honest about being rough."""
    call = reply.tool_call
    completion_words = len((call.arguments if call is not None else reply.text).split())
    prompt_words = len(json.dumps(prompt.get("messages", [])).split())
    return {
        "prompt_tokens": prompt_words,
        "completion_tokens": completion_words,
        "total_tokens": prompt_words + completion_words,
    }


def wants_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _tool_call_object(call: ToolCall) -> dict[str, Any]:
    function = {"name": call.name, "arguments": call.arguments}
    return {"id": call.id, "type": "function", "function": function}


def events_for(reply: ScriptedReply) -> list[tuple[dict[str, Any], str | None]]:
    """(delta, finish_reason) for each streamed chunk: role, tokens or tool call, finish."""
    call = reply.tool_call
    if call is None:
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": piece} for piece in _text_pieces(reply.text)]
        return [(d, None) for d in deltas] + [({}, "stop")]
    opening = _tool_call_object(replace(call, arguments=""))
    deltas = [{"role": "assistant", "content": None}, {"tool_calls": [{"index": 0, **opening}]}]
    deltas += [
        {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        for piece in _argument_pieces(call.arguments)
    ]
    return [(d, None) for d in deltas] + [({}, "tool_calls")]
