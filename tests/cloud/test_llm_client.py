"""The OpenAI-compatible client and the provider chain against a real HTTP server on loopback.

Each case checks what the caller gets (text, a tool call, or one CloudError whose cause says what
went wrong) and that nothing hangs: every wait is bounded by the provider's own time limits. What
the wearer hears for each fault, end to end, is in test_fault_matrix.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_KEY
from gpiozero.pins.mock import MockFactory

from device.cancel import Cancellation, Cancelled
from device.cloud.chain import AllProvidersFailed, CircuitBreaker, ProviderChain
from device.cloud.client import ChatClient, PartialAnswer, TextDelta, ToolCall, Usage
from device.cloud.providers import Provider
from device.cloud.spoken import (
    KEY_REFUSED,
    MODEL_UNKNOWN,
    NO_VISION,
    NOT_FOUND,
    OFFLINE_FALLBACK,
    in_about,
    most_actionable,
)
from device.config.schema import Secret
from device.egress import EgressGate, Ledger
from device.errors import CloudCause, CloudError
from device.sim.loopback.server import LoopbackLLM
from device.storage.database import Database
from drivers.leds import PrivacyLed


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


def body(text: str | list = "why is the sky blue", stream: bool = True, **extra) -> dict:
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
    # The whole text at once, then what the server said it cost (for the usage budget).
    [text, usage] = deltas
    assert isinstance(text, TextDelta) and isinstance(usage, Usage) and usage.tokens > 0
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


def test_a_long_retry_after_is_not_sat_through_when_the_caller_says_so(llm_server, gate):
    slept: list[float] = []
    client = ChatClient(provider_for(llm_server), gate, sleep=slept.append)
    llm_server.fail_next("status_429", retry_after=25)
    with pytest.raises(CloudError) as caught:
        list(client.chat(body(), purpose="chat", cancel=Cancellation(), max_wait_seconds=1.0))
    assert (caught.value.cause, caught.value.retry_after_seconds) == (CloudCause.BUSY, 25)
    assert slept == []
    llm_server.fail_next("status_503", retry_after=0.5)  # a short wait is still sat through
    deltas = client.chat(body(), purpose="chat", cancel=Cancellation(), max_wait_seconds=1.0)
    assert text_of(list(deltas)).startswith("Sunlight")
    assert slept == [0.5]


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        ("status_401", CloudCause.KEY_REFUSED),
        ("status_403", CloudCause.KEY_REFUSED),
        ("status_404", CloudCause.MODEL_UNKNOWN),
        ("status_429", CloudCause.BUSY),
        ("status_429_quota", CloudCause.OUT_OF_CREDIT),
        ("status_500", CloudCause.SERVER_ERROR),
        ("status_503", CloudCause.BUSY),
        ("empty_choices", CloudCause.SERVER_ERROR),
        ("wrong_content_type", CloudCause.UNREACHABLE),
    ],
)
def test_each_failure_says_its_cause(llm_server, gate, fault, cause):
    client = ChatClient(provider_for(llm_server, max_retries=0), gate)
    llm_server.fail_next(fault)
    with pytest.raises(CloudError) as caught:
        collect(client, body())
    assert caught.value.cause is cause, caught.value


PHOTO = [
    {"type": "text", "text": "what is this"},
    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
]


def test_a_model_refusing_pictures_is_told_apart(llm_server, gate):
    llm_server.sees_images = False
    client = ChatClient(provider_for(llm_server), gate)
    with pytest.raises(CloudError) as caught:
        collect(client, body(PHOTO))
    assert caught.value.cause is CloudCause.CANNOT_SEE
    assert not caught.value.retryable
    assert text_of(collect(client, body())).startswith("Sunlight")  # text still goes


# -- the chain ---------------------------------------------------------------------------------


def ask(chain: ProviderChain, kind: str = "text") -> str:
    def body_for(provider: Provider) -> dict:
        return body(PHOTO if kind == "image" else "why is the sky blue")

    deltas = chain.chat(body_for, "chat", Cancellation(), kind=kind)
    return text_of([delta for _, delta in deltas])


def test_capability_refusals_never_open_the_breaker():
    breaker = CircuitBreaker(failures=3)
    for cause in (CloudCause.CANNOT_SEE, CloudCause.MODEL_UNKNOWN, CloudCause.REJECTED):
        for _ in range(5):
            breaker.failed(CloudError("no", cause=cause))
    assert not breaker.is_open
    for _ in range(3):
        breaker.failed(CloudError("down"))
    assert breaker.is_open


@pytest.mark.parametrize("cause", [CloudCause.MODEL_UNKNOWN, CloudCause.REJECTED])
def test_a_breaker_for_one_kind_of_request_pauses_on_its_refusal(cause):
    """Transcription with a misspelt model would otherwise upload every utterance's audio to a
    provider that refuses each one."""
    breaker = CircuitBreaker(failures=3, cooldown_seconds=60, one_job=True)
    breaker.failed(CloudError("no such model", cause=cause))
    assert breaker.is_open and breaker.seconds_left == pytest.approx(60, abs=1)


def test_a_404_naming_no_model_is_a_wrong_address(llm_server, gate):
    wrong = llm_server.base_url.replace("/v1", "/api/v9")  # a typo in base_url
    chain = ProviderChain([ChatClient(provider_for(llm_server, base_url=wrong), gate)])
    with pytest.raises(AllProvidersFailed) as caught:
        ask(chain)
    assert caught.value.failures[0].cause is CloudCause.NOT_FOUND
    assert caught.value.spoken == NOT_FOUND
    assert chain.breaker("loop").is_open  # every question would fail the same way


def test_a_retry_after_of_days_pauses_the_provider_an_hour_at_most(llm_server, gate):
    chain = ProviderChain([ChatClient(provider_for(llm_server), gate)])
    llm_server.fail_next("status_429", retry_after=10**9)
    with pytest.raises(AllProvidersFailed):
        ask(chain)
    assert 3500 < chain.breaker("loop").seconds_left <= 3600


def test_a_retry_after_pauses_the_provider_for_that_long(llm_server, gate):
    now = [0.0]
    chain = ProviderChain([ChatClient(provider_for(llm_server), gate)], clock=lambda: now[0])
    llm_server.fail_next("status_429", retry_after=25)
    with pytest.raises(AllProvidersFailed) as caught:
        ask(chain)
    assert caught.value.spoken == "The cloud is busy. Try again in about 25 seconds."
    now[0] = 12.0
    with pytest.raises(AllProvidersFailed) as caught:
        ask(chain)  # not asked: it said when to come back
    assert caught.value.spoken == "The cloud is busy. Try again in about 15 seconds."
    assert len(llm_server.requests) == 1
    now[0] = 25.5
    assert ask(chain).startswith("Sunlight")


def test_a_refused_picture_is_not_sent_there_again_but_text_is(llm_server, tmp_path):
    llm_server.sees_images = False
    with Database(tmp_path / "photos.db") as db:
        gate = EgressGate(Ledger(db), PrivacyLed(16, pin_factory=MockFactory()))
        chain = ProviderChain([ChatClient(provider_for(llm_server), gate)])
        for _ in range(3):
            with pytest.raises(AllProvidersFailed) as caught:
                ask(chain, kind="image")
            assert (caught.value.incapable, caught.value.spoken) == (True, NO_VISION)
        assert len(llm_server.requests) == 1  # the photo left once, not three times
        assert ask(chain).startswith("Sunlight")


def test_the_most_actionable_failure_is_said():
    down = CloudError("down")
    blind = CloudError("blind", cause=CloudCause.CANNOT_SEE)
    key = CloudError("key", cause=CloudCause.KEY_REFUSED)
    busy_60 = CloudError("busy", cause=CloudCause.BUSY, retry_after_seconds=60)
    busy_20 = CloudError("busy", cause=CloudCause.BUSY, retry_after_seconds=20)
    assert AllProvidersFailed([blind, down]).spoken == OFFLINE_FALLBACK
    assert AllProvidersFailed([blind, blind]).spoken == NO_VISION
    assert AllProvidersFailed([down, busy_60, key]).spoken == KEY_REFUSED
    assert most_actionable([down, busy_60, busy_20]) is busy_20
    missing = CloudError("404", cause=CloudCause.MODEL_UNKNOWN)
    assert AllProvidersFailed([busy_20, missing]).spoken == MODEL_UNKNOWN
    assert AllProvidersFailed([]).spoken == OFFLINE_FALLBACK  # no provider at all


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (None, "in a moment"),
        (1.0, "in a moment"),
        (3.0, "in about 5 seconds"),
        (25.0, "in about 25 seconds"),
        (26.0, "in about 30 seconds"),
        (60.0, "in about a minute"),
        (150.0, "in about 3 minutes"),
        (3600.0, "in about an hour"),
        (86400.0, "in about 24 hours"),
    ],
)
def test_waits_are_said_rounded_up(seconds, said):
    assert in_about(seconds) == said
