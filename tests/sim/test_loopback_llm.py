"""The loopback OpenAI server, driven with plain requests over real loopback sockets.

Also the OpenAPI request check in openapi_schema.py, which the server runs on every body here.
Faults are in test_loopback_faults.py. Every request has a timeout; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import base64
import io
import json
import time
import wave
from collections.abc import Iterator
from typing import Any

import loopback_client as client
import openapi_schema
import pytest
import requests
from openapi_schema import request_errors, schema_errors
from PIL import Image

from device.cloud.tools import as_data
from device.sim.loopback.scripted import DEFAULT_REPLY
from device.sim.loopback.server import DEFAULT_TRANSCRIPT, LOOPBACK_MODEL, LoopbackLLM

# As the cloud brain writes remembered facts: quoted, as data (device.cloud.tools.as_data).
FACTS = ["my locker is 42", "my bike is the blue one"]
SYSTEM_WITH_FACTS = (
    "You are ZeroPin, a voice assistant worn on a shirt.\n"
    f"Facts the wearer asked you to remember {as_data(FACTS)}\n"
)


@pytest.fixture
def server() -> Iterator[LoopbackLLM]:
    with client.checked_server() as running:
        yield running


def _jpeg_data_url(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


# --- Chat: text -------------------------------------------------------------------------------


def test_streamed_text_arrives_chunk_by_chunk_in_the_openai_format(server: LoopbackLLM) -> None:
    server.token_interval_seconds = 0.02
    arrivals: list[float] = []
    lines: list[str] = []
    with client.chat(server) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Transfer-Encoding"] == "chunked"
        for line in client.data_lines_lazily(response):
            arrivals.append(time.monotonic())
            lines.append(line)

    assert lines[-1] == "[DONE]"
    chunks = client.chunks(lines)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert client.text(chunks) == DEFAULT_REPLY
    assert client.text(chunks).count(". ") == 4  # five sentences, for the benchmark
    assert {chunk["model"] for chunk in chunks} == {client.MODEL}
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
    with client.chat(server) as response:
        headers_after = time.monotonic() - started
        first_line = next(client.data_lines_lazily(response))
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
    response = client.chat(server, stream=False)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    answer = response.json()
    assert schema_errors("CreateChatCompletionResponse", answer) == []
    assert answer["model"] == client.MODEL
    assert answer["choices"][0]["message"]["content"] == "One two three four five six."
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert elapsed >= 0.05 + 2 * 0.01  # three two-word batches


# --- Chat: tools ------------------------------------------------------------------------------


def test_a_tool_call_is_streamed_as_a_head_then_argument_fragments(server: LoopbackLLM) -> None:
    with client.chat(
        server, "Remember that my locker is 42.", tools=("remember", "set_timer")
    ) as r:
        lines = client.data_lines(r)
    chunks = client.chunks(lines)
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
    answer = client.chat(server, said, stream=False, tools=("remember", "set_timer", "take_photo"))
    call = answer.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == tool
    assert json.loads(call["function"]["arguments"]) == arguments


def test_a_tool_that_is_not_offered_is_never_called(server: LoopbackLLM) -> None:
    answer = client.chat(
        server, "remember that my locker is 42", stream=False, tools=("set_timer",)
    )
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
    with client.chat(server, messages=messages) as response:
        text = client.text(client.chunks(client.data_lines(response)))
    assert text == "Done. I'll remember that: my locker is 42."


def test_remembered_facts_in_the_system_prompt_are_recalled(server: LoopbackLLM) -> None:
    def ask(question: str) -> str:
        messages = [
            {"role": "system", "content": SYSTEM_WITH_FACTS},
            {"role": "user", "content": question},
        ]
        return client.chat(server, messages=messages, stream=False).json()["choices"][0]["message"][
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
    with client.chat(server, content) as response:
        text = client.text(client.chunks(client.data_lines(response)))
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
    response = client.chat(server, content, stream=False)
    assert response.status_code == 400
    assert schema_errors("ErrorResponse", response.json()) == []
    assert response.json()["error"]["param"] == "messages"


# --- Auth, routes, recording ------------------------------------------------------------------


def test_a_key_is_required_when_the_server_has_one() -> None:
    with LoopbackLLM(api_key="sk-test") as server:
        url = f"{server.base_url}/chat/completions"
        body = {"model": client.MODEL, "messages": [{"role": "user", "content": "hi"}]}
        missing = requests.post(url, json=body, timeout=client.TIMEOUT)
        wrong = requests.post(url, json=body, headers=_bearer("sk-wrong"), timeout=client.TIMEOUT)
        right = requests.post(url, json=body, headers=_bearer("sk-test"), timeout=client.TIMEOUT)
        models = requests.get(f"{server.base_url}/models", timeout=client.TIMEOUT)
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert models.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert schema_errors("ErrorResponse", missing.json()) == []


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_every_request_is_recorded_as_received(server: LoopbackLLM) -> None:
    body = {"model": client.MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": False}
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Test": "yes"}
    url = f"{server.base_url}/chat/completions"
    requests.post(url, data=raw, headers=headers, timeout=client.TIMEOUT)
    requests.get(f"{server.base_url}/models", timeout=client.TIMEOUT)

    chat, models = server.requests
    assert chat.path == "/v1/chat/completions"
    assert chat.body == body
    assert chat.raw_size == len(raw)
    assert chat.headers["X-Test"] == "yes"
    assert models.path == "/v1/models"


def test_models_lists_the_models_asked_for_and_the_servers_own(server: LoopbackLLM) -> None:
    client.chat(server, stream=False)
    listing = requests.get(f"{server.base_url}/models", timeout=client.TIMEOUT).json()
    assert schema_errors("ListModelsResponse", listing) == []
    assert [model["id"] for model in listing["data"]] == [client.MODEL, LOOPBACK_MODEL]


def test_unknown_paths_are_404_and_bad_json_is_400(server: LoopbackLLM) -> None:
    missing = requests.post(f"{server.base_url}/completions", json={}, timeout=client.TIMEOUT)
    broken = requests.post(
        f"{server.base_url}/chat/completions",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=client.TIMEOUT,
    )
    assert missing.status_code == 404
    assert broken.status_code == 400
    assert schema_errors("ErrorResponse", missing.json()) == []
    assert schema_errors("ErrorResponse", broken.json()) == []


def test_bodies_that_break_the_schema_are_collected_not_refused() -> None:
    with LoopbackLLM(validator=request_errors) as server:
        body = {"model": client.MODEL, "messages": [{"role": "robot", "content": "hi"}]}
        url = f"{server.base_url}/chat/completions"
        response = requests.post(url, json=body, timeout=client.TIMEOUT)
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
    response = requests.post(url, files=files, data=form, timeout=client.TIMEOUT)

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
    response = requests.post(url, files=files, data=form, timeout=client.TIMEOUT)
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "set a timer for ten minutes"


def test_a_transcription_without_a_file_is_a_400() -> None:
    with LoopbackLLM() as server:
        url = f"{server.base_url}/audio/transcriptions"
        response = requests.post(url, files={"model": (None, "whisper-1")}, timeout=client.TIMEOUT)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"


@pytest.mark.parametrize(("text", "seconds"), [("hi there", 0.4), ("word " * 100, 3.0)])
def test_speech_is_a_wav_tone_as_long_as_the_text(
    server: LoopbackLLM, text: str, seconds: float
) -> None:
    body = {"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav"}
    response = requests.post(f"{server.base_url}/audio/speech", json=body, timeout=client.TIMEOUT)
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
