"""The OpenAI-compatible client against a real HTTP server on loopback, fault by fault.

Each case checks what the caller gets (text, a tool call, or one CloudError saying what went
wrong) and that nothing hangs: every wait is bounded by the provider's own time limits.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_KEY

from device.cancel import Cancellation, Cancelled
from device.cloud.client import ChatClient, PartialAnswer, TextDelta, ToolCall
from device.cloud.providers import Provider
from device.config.schema import Secret
from device.egress import EgressGate, Ledger
from device.errors import CloudError
from device.sim.loopback.server import LoopbackLLM
from device.storage.database import Database


@pytest.fixture
def gate(tmp_path: Path):
    with Database(tmp_path / "zeropin.db") as db:
        yield EgressGate(Ledger(db), None)


def provider_for(server: LoopbackLLM, **overrides) -> Provider:
    settings: dict[str, Any] = {
        "name": "loop",
        "base_url": server.base_url,
        "model": "loopback-chat",
        "vision_model": "loopback-chat",
        "api_key": Secret(TEST_KEY),
        "connect_timeout_seconds": 2.0,
        "first_token_timeout_seconds": 2.0,
        "deadline_seconds": 10.0,
        "max_retries": 1,
    }
    settings.update(overrides)
    return Provider(**settings)


def body(text: str = "why is the sky blue", stream: bool = True, **extra) -> dict:
    return {
        "model": "loopback-chat",
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
        **extra,
    }


def collect(client: ChatClient, request: dict, cancel: Cancellation | None = None) -> list:
    return list(client.chat(request, purpose="chat", cancel=cancel or Cancellation()))


def text_of(deltas: list) -> str:
    return "".join(d.text for d in deltas if isinstance(d, TextDelta))


def test_streams_the_answer_as_it_is_written(llm_server, gate):
    llm_server.token_interval_seconds = 0.15
    client = ChatClient(provider_for(llm_server), gate)
    started = time.monotonic()
    arrivals = []
    deltas = []
    for delta in client.chat(body(), purpose="chat", cancel=Cancellation()):
        arrivals.append(time.monotonic() - started)
        deltas.append(delta)
    assert text_of(deltas).startswith("Sunlight is made of every colour.")
    assert len(deltas) > 5
    # The first words arrive while the server is still writing the rest.
    assert arrivals[0] < arrivals[-1] - 5 * 0.15


def test_waits_for_the_whole_answer_when_not_streaming(llm_server, gate):
    client = ChatClient(provider_for(llm_server), gate)
    deltas = collect(client, body(stream=False))
    assert len(deltas) == 1
    assert text_of(deltas).count(".") == 5
    assert llm_server.requests[-1].body["stream"] is False


def test_assembles_a_tool_call_streamed_in_pieces(llm_server, gate):
    client = ChatClient(provider_for(llm_server), gate)
    tools = [
        {
            "type": "function",
            "function": {
                "name": "remember",
                "description": "store a fact",
                "parameters": {
                    "type": "object",
                    "properties": {"fact": {"type": "string"}},
                    "required": ["fact"],
                },
            },
        }
    ]
    deltas = collect(client, body("remember that my locker is 42", tools=tools))
    calls = [d for d in deltas if isinstance(d, ToolCall)]
    assert [(c.name, c.arguments) for c in calls] == [("remember", '{"fact": "my locker is 42"}')]


def test_sends_the_key_and_a_valid_body(llm_server, gate):
    collect(ChatClient(provider_for(llm_server), gate), body())
    request = llm_server.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {TEST_KEY}"
    # llm_server's teardown asserts the body validated against CreateChatCompletionRequest.


def test_a_refused_key_is_not_retried_and_not_shown(llm_server, gate):
    client = ChatClient(provider_for(llm_server, api_key=Secret("sk-wrong-key-5150")), gate)
    with pytest.raises(CloudError) as caught:
        collect(client, body())
    assert caught.value.key_refused
    assert "sk-wrong-key-5150" not in str(caught.value)
    assert TEST_KEY not in str(caught.value)
    assert len(llm_server.requests) == 1


def test_429_is_retried_after_the_servers_retry_after(llm_server, gate):
    slept: list[float] = []
    client = ChatClient(provider_for(llm_server), gate, sleep=slept.append)
    llm_server.fail_next("status_429", retry_after=1.5)
    assert text_of(collect(client, body())).startswith("Sunlight")
    assert slept == [1.5]
    assert len(llm_server.requests) == 2


def test_a_retry_after_past_the_deadline_moves_on_at_once(llm_server, gate):
    slept: list[float] = []
    client = ChatClient(provider_for(llm_server, deadline_seconds=5), gate, sleep=slept.append)
    llm_server.fail_next("status_429", retry_after=3600)
    with pytest.raises(CloudError, match="429") as caught:
        collect(client, body())
    assert caught.value.retry_after_seconds == 3600
    assert slept == []


def test_500_is_retried_then_reported(llm_server, gate):
    slept: list[float] = []
    client = ChatClient(provider_for(llm_server, max_retries=1), gate, sleep=slept.append)
    llm_server.fail_next("status_500", times=2)
    with pytest.raises(CloudError, match="server error"):
        collect(client, body())
    assert len(slept) == 1 and 0.3 < slept[0] < 1.0
    assert len(llm_server.requests) == 2


def test_a_reset_mid_stream_is_a_partial_answer(llm_server, gate):
    client = ChatClient(provider_for(llm_server), gate)
    llm_server.fail_next("reset_mid_stream")
    received: list = []
    with pytest.raises(PartialAnswer):
        for delta in client.chat(body(), purpose="chat", cancel=Cancellation()):
            received.append(delta)
    assert text_of(received)  # the start was given out before the break
    assert len(llm_server.requests) == 1  # not asked again: the user has heard the start


def test_a_malformed_event_is_skipped(llm_server, gate, caplog):
    client = ChatClient(provider_for(llm_server), gate)
    llm_server.fail_next("malformed_event")
    text = text_of(collect(client, body()))
    assert "Sunlight" in text and text.rstrip().endswith("win.")
    assert "unreadable event" in caplog.text


def test_empty_choices_is_an_error_not_silence(llm_server, gate):
    client = ChatClient(provider_for(llm_server), gate)
    llm_server.fail_next("empty_choices")
    with pytest.raises(CloudError, match="empty answer"):
        collect(client, body())


def test_a_captive_portal_page_is_named(llm_server, gate):
    client = ChatClient(provider_for(llm_server), gate)
    llm_server.fail_next("wrong_content_type")
    with pytest.raises(CloudError, match="Wi-Fi login page"):
        collect(client, body())


def test_a_hanging_server_costs_the_first_token_timeout_only(llm_server, gate):
    llm_server.hang_seconds = 30
    client = ChatClient(provider_for(llm_server, first_token_timeout_seconds=0.5), gate)
    llm_server.fail_next("hang")
    started = time.monotonic()
    with pytest.raises(CloudError, match="answering"):
        collect(client, body())
    assert time.monotonic() - started < 3  # not retried: the chain's next provider is better


def test_a_slow_first_token_past_the_limit_times_out(llm_server, gate):
    llm_server.slow_seconds = 3
    client = ChatClient(provider_for(llm_server, first_token_timeout_seconds=0.5), gate)
    llm_server.fail_next("slow_first_token")
    started = time.monotonic()
    with pytest.raises(CloudError):
        collect(client, body())
    assert time.monotonic() - started < 2.5


def test_the_deadline_stops_an_answer_that_never_ends(llm_server, gate):
    llm_server.token_interval_seconds = 0.3
    client = ChatClient(provider_for(llm_server, deadline_seconds=1.0), gate)
    received: list = []
    with pytest.raises(PartialAnswer, match="took too long"):
        for delta in client.chat(body(), purpose="chat", cancel=Cancellation()):
            received.append(delta)
    assert received


def test_cancelling_closes_the_stream_at_once(llm_server, gate):
    llm_server.token_interval_seconds = 2.0
    client = ChatClient(provider_for(llm_server, deadline_seconds=30), gate)
    cancel = Cancellation()
    received: list = []
    pressed_at = 0.0
    with pytest.raises(Cancelled):
        for delta in client.chat(body(), purpose="chat", cancel=cancel):
            received.append(delta)
            if len(received) == 1:  # the user presses the button as the first words play
                pressed_at = time.monotonic()
                threading.Timer(0.05, cancel.cancel).start()
    assert len(received) == 1
    assert time.monotonic() - pressed_at < 1.0  # not at the next token, 2 s later


def test_unreachable_server_is_named(gate):
    with LoopbackLLM() as server:
        url = server.base_url
    client = ChatClient(provider_for(server, base_url=url, max_retries=0), gate)
    with pytest.raises(CloudError, match="cannot reach loop"):
        collect(client, body())


def test_every_request_is_in_the_ledger(llm_server, tmp_path):
    with Database(tmp_path / "ledger.db") as db:
        ledger = Ledger(db)
        client = ChatClient(provider_for(llm_server), EgressGate(ledger, None))
        llm_server.fail_next("status_500")
        collect(client, body())
        rows = ledger.recent()
    assert [(r.host, r.kind, r.purpose) for r in rows] == [("127.0.0.1", "text", "chat")] * 2
    assert all(r.size_bytes == llm_server.requests[0].raw_size for r in rows)
    assert all(r.content == "" for r in rows)  # prompt text is kept only when configured
