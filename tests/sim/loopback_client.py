"""A plain-requests client for the loopback OpenAI server, shared by its test files.

Every request has a timeout; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from openapi_schema import request_errors

from device.sim.loopback.server import LoopbackLLM

TIMEOUT = 5.0  # seconds, for every request unless a test wants a shorter one
MODEL = "test-model"
_WARM_UP = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@contextmanager
def checked_server() -> Iterator[LoopbackLLM]:
    """A started server with short fault delays that checks every body against the OpenAPI
    document, and fails the test if one breaks it (every body these tests send is meant to be
    valid, so this also checks the check)."""
    # The server checks each request before its headers go out: load the 3.4 MB document now
    # (0.1 s here), not inside the first test that times the headers.
    assert request_errors("CreateChatCompletionRequest", _WARM_UP) == []
    with LoopbackLLM(validator=request_errors) as running:
        running.slow_seconds = 0.3
        running.hang_seconds = 5.0
        yield running
        assert running.validation_errors == []


def function_tools(*names: str) -> list[dict[str, Any]]:
    parameters = {"type": "object", "properties": {}}
    return [{"type": "function", "function": {"name": n, "parameters": parameters}} for n in names]


def chat(
    server: LoopbackLLM,
    content: Any = "why is the sky blue?",
    *,
    stream: bool = True,
    tools: tuple[str, ...] = (),
    messages: list[dict[str, Any]] | None = None,
    timeout: Any = TIMEOUT,
) -> requests.Response:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": messages or [{"role": "user", "content": content}],
        "stream": stream,
    }
    if tools:
        body["tools"] = function_tools(*tools)
    url = f"{server.base_url}/chat/completions"
    return requests.post(url, json=body, stream=stream, timeout=timeout)


def data_lines_lazily(response: requests.Response) -> Iterator[str]:
    """The data of each server-sent event, as it arrives."""
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("data: "):
            yield line.removeprefix("data: ")


def data_lines(response: requests.Response) -> list[str]:
    return list(data_lines_lazily(response))


def chunks(data_lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data_lines if line != "[DONE]"]


def text(chunks: list[dict[str, Any]]) -> str:
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    return "".join(delta.get("content") or "" for delta in deltas)


def wait_for(condition: Any, seconds: float = TIMEOUT) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)
