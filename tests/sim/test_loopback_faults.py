"""The loopback OpenAI server's injected faults, each seen on the wire by a plain client.

Every request has a timeout; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import loopback_client as client
import pytest
import requests
from openapi_schema import schema_errors

from device.sim.loopback.faults import (
    BAD_TOOL_CALLS,
    CAPTIVE_PORTAL_PAGE,
    ENDLESS_SENTENCE,
    HUGE_ANSWER_BYTES,
)
from device.sim.loopback.scripted import DEFAULT_REPLY
from device.sim.loopback.server import LoopbackLLM


@pytest.fixture
def server() -> Iterator[LoopbackLLM]:
    with client.checked_server() as running:
        yield running


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("status_401", 401, "invalid_api_key"),
        ("status_403", 403, "permission_denied"),
        ("status_404", 404, "model_not_found"),
        ("status_429", 429, "rate_limit_exceeded"),
        ("status_429_quota", 429, "insufficient_quota"),
        ("status_500", 500, None),
        ("status_503", 503, None),
    ],
)
def test_status_faults_answer_an_openai_error_once(
    server: LoopbackLLM, fault: str, status: int, code: str | None
) -> None:
    server.fail_next(fault)
    failed = client.chat(server, stream=False)
    assert failed.status_code == status
    assert schema_errors("ErrorResponse", failed.json()) == []
    assert failed.json()["error"]["code"] == code
    assert client.chat(server, stream=False).status_code == 200


def test_a_404_names_the_model_asked_for(server: LoopbackLLM) -> None:
    server.fail_next("status_404")
    message = client.chat(server, stream=False).json()["error"]["message"]
    assert message == f"The model `{client.MODEL}` does not exist or you do not have access to it."


@pytest.mark.parametrize("retry_after", [None, 25.0])
def test_a_503_carries_retry_after_only_when_given(
    server: LoopbackLLM, retry_after: float | None
) -> None:
    server.fail_next("status_503", retry_after=retry_after)
    response = client.chat(server, stream=False)
    assert response.status_code == 503
    assert response.headers.get("Retry-After") == (None if retry_after is None else "25")


def test_a_text_only_model_refuses_pictures_and_answers_text(server: LoopbackLLM) -> None:
    server.sees_images = False
    photo = [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]
    refused = client.chat(server, photo, stream=False)
    assert refused.status_code == 400
    assert "image_url is only supported by certain models" in refused.json()["error"]["message"]
    assert client.text(client.chunks(client.data_lines(client.chat(server)))) == DEFAULT_REPLY


def test_a_429_carries_retry_after_when_given(server: LoopbackLLM) -> None:
    server.fail_next("status_429", retry_after=1.5)
    response = client.chat(server, stream=False)
    assert response.headers["Retry-After"] == "1.5"
    assert response.headers["retry-after-ms"] == "1500"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_faults_are_taken_one_per_post_in_the_order_queued(server: LoopbackLLM) -> None:
    server.fail_next("status_500", times=2)
    server.fail_next("status_429")
    statuses = [client.chat(server, stream=False).status_code for _ in range(4)]
    assert statuses == [500, 500, 429, 200]


def test_an_unknown_fault_is_refused(server: LoopbackLLM) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        server.fail_next("status_418")


def test_reset_mid_stream_sends_some_text_then_a_tcp_reset(server: LoopbackLLM) -> None:
    server.fail_next("reset_mid_stream")
    received: list[str] = []
    with (
        client.chat(server) as response,
        pytest.raises(requests.exceptions.ChunkedEncodingError) as failure,
    ):
        for line in client.data_lines_lazily(response):
            received.append(line)
    assert "ConnectionResetError" in repr(failure.value)  # a reset, not a clean end
    chunks = client.chunks(received)
    assert len(chunks) == 3  # role, then two batches of text
    assert client.text(chunks) and DEFAULT_REPLY.startswith(client.text(chunks))


def test_reset_mid_answer_cuts_a_whole_answer_too(server: LoopbackLLM) -> None:
    server.fail_next("reset_mid_stream")
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as failure:
        client.chat(server, stream=False)
    assert "ConnectionResetError" in repr(failure.value)


def test_a_malformed_event_comes_mid_stream_and_the_stream_goes_on(server: LoopbackLLM) -> None:
    server.fail_next("malformed_event")
    with client.chat(server) as response:
        lines = client.data_lines(response)
    assert lines[3] == "{not json"
    assert lines[-1] == "[DONE]"
    assert client.text(client.chunks(lines[:3] + lines[4:])) == DEFAULT_REPLY


def test_empty_choices_is_a_stream_with_no_text_at_all(server: LoopbackLLM) -> None:
    server.fail_next("empty_choices")
    with client.chat(server) as response:
        lines = client.data_lines(response)
    chunks = client.chunks(lines)
    assert chunks and all(chunk["choices"] == [] for chunk in chunks)
    assert lines[-1] == "[DONE]"


def test_wrong_content_type_is_a_captive_portal_page(server: LoopbackLLM) -> None:
    server.fail_next("wrong_content_type")
    response = client.chat(server)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == CAPTIVE_PORTAL_PAGE.decode()


def test_slow_first_token_delays_the_first_event_by_slow_seconds(server: LoopbackLLM) -> None:
    server.fail_next("slow_first_token")
    started = time.monotonic()
    with client.chat(server) as response:
        headers_after = time.monotonic() - started
        lines = client.data_lines(response)
        done_after = time.monotonic() - started
    assert headers_after < 0.2 and done_after >= server.slow_seconds
    assert client.text(client.chunks(lines)) == DEFAULT_REPLY


def test_hang_says_nothing_until_the_client_gives_up(server: LoopbackLLM) -> None:
    server.fail_next("hang")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.chat(server, timeout=(client.TIMEOUT, 0.3))
    assert time.monotonic() - started < 2.0


def test_close_ends_a_hang_at_once() -> None:
    outcome: list[BaseException | requests.Response] = []
    with LoopbackLLM() as server:
        server.fail_next("hang")  # hang_seconds is 60 by default: close() must not wait for it

        def ask() -> None:
            try:
                outcome.append(client.chat(server, stream=False))
            except requests.RequestException as exc:
                outcome.append(exc)

        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        client.wait_for(lambda: len(server.requests) == 1)
        started = time.monotonic()
        server.close()
        closed_after = time.monotonic() - started
        asker.join(timeout=client.TIMEOUT)
    assert closed_after < 1.0
    assert not asker.is_alive()
    assert isinstance(outcome[0], requests.exceptions.ConnectionError)


def test_close_is_idempotent_and_a_closed_server_does_not_restart() -> None:
    server = LoopbackLLM()
    server.start()
    server.close()
    server.close()
    with pytest.raises(RuntimeError):
        server.start()


def test_hang_mid_stream_sends_some_text_then_nothing(server: LoopbackLLM) -> None:
    server.fail_next("hang_mid_stream")
    received: list[str] = []
    with (
        client.chat(server, timeout=(client.TIMEOUT, 0.5)) as response,
        pytest.raises(requests.exceptions.ConnectionError),  # the read timed out
    ):
        for line in client.data_lines_lazily(response):
            received.append(line)
    assert len(received) == 3 and "[DONE]" not in received


def test_a_huge_answer_is_megabytes_of_text_then_done(server: LoopbackLLM) -> None:
    server.fail_next("huge_answer")
    with client.chat(server) as response:
        lines = client.data_lines(response)
    assert lines[-1] == "[DONE]"
    assert len(client.text(client.chunks(lines))) >= HUGE_ANSWER_BYTES


def test_an_endless_answer_keeps_coming_and_never_finishes(server: LoopbackLLM) -> None:
    server.hang_seconds = 0.5  # text for this long, then silence
    server.fail_next("endless_answer")
    received: list[str] = []
    with (
        client.chat(server, timeout=(client.TIMEOUT, 1.0)) as response,
        pytest.raises(requests.RequestException),  # a read timeout, or the server hung up
    ):
        for line in client.data_lines_lazily(response):
            received.append(line)
    chunks = client.chunks(received)
    assert len(chunks) > 20 and "[DONE]" not in received
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in chunks)
    assert client.text(chunks).startswith(DEFAULT_REPLY + ENDLESS_SENTENCE)


def test_slow_drip_sends_one_event_per_drip(server: LoopbackLLM) -> None:
    server.drip_seconds = 0.1
    server.fail_next("slow_drip")
    started = time.monotonic()
    with client.chat(server) as response:
        lines = client.data_lines(response)
    chunks = client.chunks(lines)
    assert client.text(chunks) == DEFAULT_REPLY
    assert time.monotonic() - started >= 0.1 * (len(chunks) - 1)


@pytest.mark.parametrize("fault", sorted(BAD_TOOL_CALLS))
def test_bad_tool_calls_come_as_offered_ones_do(server: LoopbackLLM, fault: str) -> None:
    server.fail_next(fault)
    answer = client.chat(server, "hello", stream=False, tools=("set_timer",)).json()
    [call] = answer["choices"][0]["message"]["tool_calls"]
    name, arguments = BAD_TOOL_CALLS[fault]
    assert (call["function"]["name"], call["function"]["arguments"]) == (name, arguments)
