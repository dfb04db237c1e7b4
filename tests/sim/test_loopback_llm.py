"""The loopback OpenAI server, driven with plain requests over real loopback sockets.

Also the OpenAPI request check in openapi_schema.py, which the server runs on every body here.
Every request has a timeout; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import wave
from collections.abc import Iterator
from typing import Any

import openapi_schema
import pytest
import requests
from openapi_schema import request_errors, schema_errors
from PIL import Image

from device.sim.loopback.scripted import DEFAULT_REPLY
from device.sim.loopback.server import DEFAULT_TRANSCRIPT, LOOPBACK_MODEL, LoopbackLLM

TIMEOUT = 5.0  # seconds, for every request unless a test wants a shorter one
MODEL = "test-model"
SYSTEM_WITH_FACTS = (
    "You are ZeroPin, a voice assistant worn on a shirt.\n"
    "Things the user asked you to remember:\n"
    "- my locker is 42\n"
    "- my bike is the blue one\n"
)


_WARM_UP = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def server() -> Iterator[LoopbackLLM]:
    # The server checks each request before its headers go out: load the 3.4 MB document now
    # (0.1 s here), not inside the first test that times the headers.
    assert request_errors("CreateChatCompletionRequest", _WARM_UP) == []
    with LoopbackLLM(validator=request_errors) as running:
        running.slow_seconds = 0.3
        running.hang_seconds = 5.0
        yield running
        # Every body these tests send is meant to be valid, so this also checks the check.
        assert running.validation_errors == []


def _tools(*names: str) -> list[dict[str, Any]]:
    parameters = {"type": "object", "properties": {}}
    return [{"type": "function", "function": {"name": n, "parameters": parameters}} for n in names]


def _chat(
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
        body["tools"] = _tools(*tools)
    url = f"{server.base_url}/chat/completions"
    return requests.post(url, json=body, stream=stream, timeout=timeout)


def _data_lines_lazily(response: requests.Response) -> Iterator[str]:
    """The data of each server-sent event, as it arrives."""
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("data: "):
            yield line.removeprefix("data: ")


def _data_lines(response: requests.Response) -> list[str]:
    return list(_data_lines_lazily(response))


def _chunks(data_lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data_lines if line != "[DONE]"]


def _text(chunks: list[dict[str, Any]]) -> str:
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    return "".join(delta.get("content") or "" for delta in deltas)


def _jpeg_data_url(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


# --- Chat: text -------------------------------------------------------------------------------


def test_streamed_text_arrives_chunk_by_chunk_in_the_openai_format(server: LoopbackLLM) -> None:
    server.token_interval_seconds = 0.02
    arrivals: list[float] = []
    lines: list[str] = []
    with _chat(server) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Transfer-Encoding"] == "chunked"
        for line in _data_lines_lazily(response):
            arrivals.append(time.monotonic())
            lines.append(line)

    assert lines[-1] == "[DONE]"
    chunks = _chunks(lines)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert _text(chunks) == DEFAULT_REPLY
    assert _text(chunks).count(". ") == 4  # five sentences, for the benchmark
    assert {chunk["model"] for chunk in chunks} == {MODEL}
    assert len({chunk["id"] for chunk in chunks}) == 1
    for chunk in chunks:
        assert schema_errors("CreateChatCompletionStreamResponse", chunk) == []
    # Tokens are flushed as made, not buffered to the end: ~18 batches 20 ms apart.
    assert arrivals[-1] - arrivals[0] > 0.15


def test_the_first_token_waits_first_token_seconds_but_headers_do_not(
    server: LoopbackLLM,
) -> None:
    server.first_token_seconds = 0.25
    started = time.monotonic()
    with _chat(server) as response:
        headers_after = time.monotonic() - started
        first_line = next(_data_lines_lazily(response))
        first_after = time.monotonic() - started
    assert json.loads(first_line)["choices"][0]["delta"]["role"] == "assistant"
    assert headers_after < 0.2 <= 0.25 <= first_after


def test_a_whole_answer_is_one_chat_completion_after_the_whole_stream_time(
    server: LoopbackLLM,
) -> None:
    server.first_token_seconds = 0.05
    server.token_interval_seconds = 0.01
    server.reply_text = "One two three four five six."
    started = time.monotonic()
    response = _chat(server, stream=False)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    answer = response.json()
    assert schema_errors("CreateChatCompletionResponse", answer) == []
    assert answer["model"] == MODEL
    assert answer["choices"][0]["message"]["content"] == "One two three four five six."
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert elapsed >= 0.05 + 2 * 0.01  # three two-word batches


# --- Chat: tools ------------------------------------------------------------------------------


def test_a_tool_call_is_streamed_as_a_head_then_argument_fragments(server: LoopbackLLM) -> None:
    with _chat(server, "Remember that my locker is 42.", tools=("remember", "set_timer")) as r:
        lines = _data_lines(r)
    chunks = _chunks(lines)
    for chunk in chunks:
        assert schema_errors("CreateChatCompletionStreamResponse", chunk) == []
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:-1]]
    head, fragments = calls[0], calls[1:]
    assert head == {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "remember", "arguments": ""},
    }
    assert len(fragments) >= 2
    assert all(fragment.keys() == {"index", "function"} for fragment in fragments)
    arguments = "".join(fragment["function"]["arguments"] for fragment in fragments)
    assert json.loads(arguments) == {"fact": "my locker is 42"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert lines[-1] == "[DONE]"


@pytest.mark.parametrize(
    ("said", "tool", "arguments"),
    [
        ("set a timer for 90 seconds", "set_timer", {"seconds": 90}),
        ("set a timer please", "set_timer", {"seconds": 60}),
        ("take a photo of this", "take_photo", {}),
        ("what is in this picture", "take_photo", {}),
    ],
)
def test_each_tool_rule_calls_its_tool_when_offered(
    server: LoopbackLLM, said: str, tool: str, arguments: dict[str, Any]
) -> None:
    answer = _chat(server, said, stream=False, tools=("remember", "set_timer", "take_photo"))
    call = answer.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == tool
    assert json.loads(call["function"]["arguments"]) == arguments


def test_a_tool_that_is_not_offered_is_never_called(server: LoopbackLLM) -> None:
    answer = _chat(server, "remember that my locker is 42", stream=False, tools=("set_timer",))
    message = answer.json()["choices"][0]["message"]
    assert "tool_calls" not in message
    assert message["content"] == DEFAULT_REPLY


def test_a_tool_result_is_answered_by_quoting_it(server: LoopbackLLM) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "remember", "arguments": '{"fact": "my locker is 42"}'},
    }
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Remember that my locker is 42."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "my locker is 42"},
    ]
    with _chat(server, messages=messages) as response:
        text = _text(_chunks(_data_lines(response)))
    assert text == "Done. I'll remember that: my locker is 42."


def test_remembered_facts_in_the_system_prompt_are_recalled(server: LoopbackLLM) -> None:
    def ask(question: str) -> str:
        messages = [
            {"role": "system", "content": SYSTEM_WITH_FACTS},
            {"role": "user", "content": question},
        ]
        return _chat(server, messages=messages, stream=False).json()["choices"][0]["message"][
            "content"
        ]

    assert ask("What is my locker number?") == "You told me: my locker is 42."
    assert ask("which bike is mine") == "You told me: my bike is the blue one."
    assert ask("tell me about the sea") == DEFAULT_REPLY  # no word shared with any fact


# --- Chat: vision -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("colour", "name"),
    [((250, 10, 10), "red"), ((10, 20, 240), "blue"), ((255, 255, 0), "yellow")],
)
def test_a_photo_is_described_by_its_size_and_colour(
    server: LoopbackLLM, colour: tuple[int, int, int], name: str
) -> None:
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": _jpeg_data_url(colour), "detail": "low"}},
    ]
    with _chat(server, content) as response:
        text = _text(_chunks(_data_lines(response)))
    assert text == f'I see a picture 64 by 48 pixels, mostly {name}. You asked: "what is this?"'
    assert server.requests[-1].raw_size > 500  # the photo itself went over the wire


@pytest.mark.parametrize(
    "url",
    [
        "data:image/jpeg;base64,bm90IGFuIGltYWdl",  # valid base64 of "not an image"
        "data:image/jpeg;base64,@@@",
        "https://example.invalid/cat.jpg",  # would need the internet: refused
    ],
)
def test_an_image_that_cannot_be_decoded_is_a_400(server: LoopbackLLM, url: str) -> None:
    content = [{"type": "image_url", "image_url": {"url": url}}]
    response = _chat(server, content, stream=False)
    assert response.status_code == 400
    assert schema_errors("ErrorResponse", response.json()) == []
    assert response.json()["error"]["param"] == "messages"


# --- Faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 401])
def test_status_faults_answer_an_openai_error_once(server: LoopbackLLM, status: int) -> None:
    server.fail_next(f"status_{status}")
    failed = _chat(server, stream=False)
    assert failed.status_code == status
    assert schema_errors("ErrorResponse", failed.json()) == []
    assert _chat(server, stream=False).status_code == 200


def test_a_429_carries_retry_after_when_given(server: LoopbackLLM) -> None:
    server.fail_next("status_429", retry_after=1.5)
    response = _chat(server, stream=False)
    assert response.headers["Retry-After"] == "1.5"
    assert response.headers["retry-after-ms"] == "1500"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_faults_are_taken_one_per_post_in_the_order_queued(server: LoopbackLLM) -> None:
    server.fail_next("status_500", times=2)
    server.fail_next("status_429")
    statuses = [_chat(server, stream=False).status_code for _ in range(4)]
    assert statuses == [500, 500, 429, 200]


def test_an_unknown_fault_is_refused(server: LoopbackLLM) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        server.fail_next("status_418")


def test_reset_mid_stream_sends_some_text_then_a_tcp_reset(server: LoopbackLLM) -> None:
    server.fail_next("reset_mid_stream")
    received: list[str] = []
    with (
        _chat(server) as response,
        pytest.raises(requests.exceptions.ChunkedEncodingError) as failure,
    ):
        for line in _data_lines_lazily(response):
            received.append(line)
    assert "ConnectionResetError" in repr(failure.value)  # a reset, not a clean end
    chunks = _chunks(received)
    assert len(chunks) == 3  # role, then two batches of text
    assert _text(chunks) and DEFAULT_REPLY.startswith(_text(chunks))


def test_reset_mid_answer_cuts_a_whole_answer_too(server: LoopbackLLM) -> None:
    server.fail_next("reset_mid_stream")
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as failure:
        _chat(server, stream=False)
    assert "ConnectionResetError" in repr(failure.value)


def test_a_malformed_event_comes_mid_stream_and_the_stream_goes_on(server: LoopbackLLM) -> None:
    server.fail_next("malformed_event")
    with _chat(server) as response:
        lines = _data_lines(response)
    assert lines[3] == "{not json"
    assert lines[-1] == "[DONE]"
    assert _text(_chunks(lines[:3] + lines[4:])) == DEFAULT_REPLY


def test_empty_choices_is_a_stream_with_no_text_at_all(server: LoopbackLLM) -> None:
    server.fail_next("empty_choices")
    with _chat(server) as response:
        lines = _data_lines(response)
    chunks = _chunks(lines)
    assert chunks and all(chunk["choices"] == [] for chunk in chunks)
    assert lines[-1] == "[DONE]"


def test_wrong_content_type_is_a_captive_portal_page(server: LoopbackLLM) -> None:
    server.fail_next("wrong_content_type")
    response = _chat(server)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == "<html>captive portal</html>"


def test_slow_first_token_delays_the_first_event_by_slow_seconds(server: LoopbackLLM) -> None:
    server.fail_next("slow_first_token")
    started = time.monotonic()
    with _chat(server) as response:
        headers_after = time.monotonic() - started
        lines = _data_lines(response)
        done_after = time.monotonic() - started
    assert headers_after < 0.2 and done_after >= server.slow_seconds
    assert _text(_chunks(lines)) == DEFAULT_REPLY


def test_hang_says_nothing_until_the_client_gives_up(server: LoopbackLLM) -> None:
    server.fail_next("hang")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        _chat(server, timeout=(TIMEOUT, 0.3))
    assert time.monotonic() - started < 2.0


def test_close_ends_a_hang_at_once() -> None:
    outcome: list[BaseException | requests.Response] = []
    with LoopbackLLM() as server:
        server.fail_next("hang")  # hang_seconds is 60 by default: close() must not wait for it

        def ask() -> None:
            try:
                outcome.append(_chat(server, stream=False))
            except requests.RequestException as exc:
                outcome.append(exc)

        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        _wait_for(lambda: len(server.requests) == 1)
        started = time.monotonic()
        server.close()
        closed_after = time.monotonic() - started
        asker.join(timeout=TIMEOUT)
    assert closed_after < 1.0
    assert not asker.is_alive()
    assert isinstance(outcome[0], requests.exceptions.ConnectionError)


def _wait_for(condition: Any, seconds: float = TIMEOUT) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_close_is_idempotent_and_a_closed_server_does_not_restart() -> None:
    server = LoopbackLLM()
    server.start()
    server.close()
    server.close()
    with pytest.raises(RuntimeError):
        server.start()


# --- Auth, routes, recording ------------------------------------------------------------------


def test_a_key_is_required_when_the_server_has_one() -> None:
    with LoopbackLLM(api_key="sk-test") as server:
        url = f"{server.base_url}/chat/completions"
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        missing = requests.post(url, json=body, timeout=TIMEOUT)
        wrong = requests.post(url, json=body, headers=_bearer("sk-wrong"), timeout=TIMEOUT)
        right = requests.post(url, json=body, headers=_bearer("sk-test"), timeout=TIMEOUT)
        models = requests.get(f"{server.base_url}/models", timeout=TIMEOUT)
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert models.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert schema_errors("ErrorResponse", missing.json()) == []


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_every_request_is_recorded_as_received(server: LoopbackLLM) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": False}
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Test": "yes"}
    url = f"{server.base_url}/chat/completions"
    requests.post(url, data=raw, headers=headers, timeout=TIMEOUT)
    requests.get(f"{server.base_url}/models", timeout=TIMEOUT)

    chat, models = server.requests
    assert chat.path == "/v1/chat/completions"
    assert chat.body == body
    assert chat.raw_size == len(raw)
    assert chat.headers["X-Test"] == "yes"
    assert models.path == "/v1/models"


def test_models_lists_the_models_asked_for_and_the_servers_own(server: LoopbackLLM) -> None:
    _chat(server, stream=False)
    listing = requests.get(f"{server.base_url}/models", timeout=TIMEOUT).json()
    assert schema_errors("ListModelsResponse", listing) == []
    assert [model["id"] for model in listing["data"]] == [MODEL, LOOPBACK_MODEL]


def test_unknown_paths_are_404_and_bad_json_is_400(server: LoopbackLLM) -> None:
    missing = requests.post(f"{server.base_url}/completions", json={}, timeout=TIMEOUT)
    broken = requests.post(
        f"{server.base_url}/chat/completions",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert missing.status_code == 404
    assert broken.status_code == 400
    assert schema_errors("ErrorResponse", missing.json()) == []
    assert schema_errors("ErrorResponse", broken.json()) == []


def test_bodies_that_break_the_schema_are_collected_not_refused() -> None:
    with LoopbackLLM(validator=request_errors) as server:
        body = {"model": MODEL, "messages": [{"role": "robot", "content": "hi"}]}
        url = f"{server.base_url}/chat/completions"
        response = requests.post(url, json=body, timeout=TIMEOUT)
    assert response.status_code == 200
    assert server.validation_errors == [
        "CreateChatCompletionRequest: $.messages[0].role: 'robot' is not one of"
        " ['developer', 'system', 'user', 'assistant', 'tool', 'function']"
    ]


# --- Audio ------------------------------------------------------------------------------------


def test_a_transcription_upload_is_recorded_and_answered(server: LoopbackLLM) -> None:
    audio = bytes(range(256)) * 40 + b"\r\n--not-a-boundary\r\n"  # binary-safe, boundary-like
    files = {"file": ("speech.wav", audio, "audio/wav")}
    form = {"model": "whisper-1", "language": "en", "temperature": "0", "include[]": "logprobs"}
    url = f"{server.base_url}/audio/transcriptions"
    response = requests.post(url, files=files, data=form, timeout=TIMEOUT)

    assert response.status_code == 200
    assert response.json() == {"text": DEFAULT_TRANSCRIPT}
    recorded = server.requests[-1]
    assert recorded.body == {
        "model": "whisper-1",
        "language": "en",
        "temperature": "0",
        "include": ["logprobs"],
        "file": f"<binary {len(audio)} bytes>",
    }
    upload = recorded.files["file"]
    assert (upload.filename, upload.content_type, upload.data) == ("speech.wav", "audio/wav", audio)
    assert request_errors("CreateTranscriptionRequest", recorded.body) == []


def test_a_transcription_can_answer_plain_text_and_be_changed(server: LoopbackLLM) -> None:
    server.transcript = "set a timer for ten minutes"
    files = {"file": ("speech.wav", b"RIFF", "audio/wav")}
    form = {"model": "whisper-1", "response_format": "text"}
    url = f"{server.base_url}/audio/transcriptions"
    response = requests.post(url, files=files, data=form, timeout=TIMEOUT)
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "set a timer for ten minutes"


def test_a_transcription_without_a_file_is_a_400() -> None:
    with LoopbackLLM() as server:
        url = f"{server.base_url}/audio/transcriptions"
        response = requests.post(url, files={"model": (None, "whisper-1")}, timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"


@pytest.mark.parametrize(("text", "seconds"), [("hi there", 0.4), ("word " * 100, 3.0)])
def test_speech_is_a_wav_tone_as_long_as_the_text(
    server: LoopbackLLM, text: str, seconds: float
) -> None:
    body = {"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav"}
    response = requests.post(f"{server.base_url}/audio/speech", json=body, timeout=TIMEOUT)
    assert response.headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        assert wav.getnframes() == pytest.approx(16000 * seconds, abs=1)


# --- The OpenAPI check itself -----------------------------------------------------------------


MINIMAL_CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_a_minimal_chat_body_is_valid() -> None:
    assert request_errors("CreateChatCompletionRequest", MINIMAL_CHAT) == []


def test_a_chat_body_without_model_names_the_missing_field() -> None:
    body = {"messages": MINIMAL_CHAT["messages"]}
    assert request_errors("CreateChatCompletionRequest", body) == [
        "$: 'model' is a required property"
    ]


def test_a_wrong_role_is_named_with_the_roles_allowed() -> None:
    body = {**MINIMAL_CHAT, "messages": [{"role": "robot", "content": "hi"}]}
    (error,) = request_errors("CreateChatCompletionRequest", body)
    assert error.startswith("$.messages[0].role: 'robot' is not one of ['developer', 'system'")


def test_errors_inside_a_message_name_the_branch_meant() -> None:
    tool_without_id = {"role": "tool", "content": "ok"}
    image_without_url = {"role": "user", "content": [{"type": "image_url", "image_url": {}}]}
    body = {**MINIMAL_CHAT, "messages": [tool_without_id, image_without_url]}
    assert request_errors("CreateChatCompletionRequest", body) == [
        "$.messages[0]: 'tool_call_id' is a required property",
        "$.messages[1].content[0].image_url: 'url' is a required property",
    ]


def test_nullable_fields_accept_null() -> None:
    # OpenAPI 3.0's "nullable: true" is still in the 3.1 document; JSON Schema alone ignores it.
    body = {**MINIMAL_CHAT, "stream": None, "max_tokens": None, "n": None}
    assert request_errors("CreateChatCompletionRequest", body) == []


def test_a_transcription_file_is_a_string_placeholder_and_form_fields_are_typed() -> None:
    form = {"file": "<binary 44 bytes>", "model": "whisper-1", "temperature": "0.2"}
    assert request_errors("CreateTranscriptionRequest", form) == []
    as_bytes = {**form, "file": b"RIFF"}
    assert request_errors("CreateTranscriptionRequest", as_bytes) == [
        "$.file: b'RIFF' is not of type 'string'"
    ]
    assert request_errors("CreateTranscriptionRequest", {**form, "temperature": "warm"}) == [
        "$.temperature: 'warm' is not of type 'number'"
    ]


def test_a_speech_body_needs_a_voice() -> None:
    body = {"model": "tts-1", "input": "hello", "voice": "alloy", "response_format": "wav"}
    assert request_errors("CreateSpeechRequest", body) == []
    del body["voice"]
    assert request_errors("CreateSpeechRequest", body) == ["$: 'voice' is a required property"]


@pytest.mark.skipif(
    not openapi_schema.SHARED_SPEC_PATH.exists(), reason="the shared specs folder is not beside"
)
def test_the_vendored_openapi_document_matches_the_shared_one():
    shared = openapi_schema.SHARED_SPEC_PATH.read_bytes()
    assert openapi_schema.SPEC_PATH.read_bytes() == shared
