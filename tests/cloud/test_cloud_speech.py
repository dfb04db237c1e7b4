"""Cloud speech against a loopback OpenAI-compatible server: real espeak-ng speech through the real
pocketsphinx recogniser, a real privacy LED on gpiozero's MockFactory, the real egress ledger.

Every request body is checked against the OpenAPI document (``CreateTranscriptionRequest``,
``CreateSpeechRequest``) by the ``llm_server`` fixture; every wait is bounded by the provider's
own time limits.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
import wave
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_KEY, BrokenLedFactory
from gpiozero.pins.mock import MockFactory
from openapi_schema import request_errors

from device.app import assemble, build_listener, build_recognizer, build_synthesizer
from device.cloud.providers import Provider
from device.cloud.speech import CloudRecognizer, CloudSynthesizer
from device.config.schema import Secret
from device.config.sources import load_config
from device.egress import EgressGate, Ledger
from device.errors import ConfigError
from device.listening.asr import Adaptable, PocketsphinxRecognizer, Transcript
from device.listening.frames import FRAME_BYTES
from device.loop.pacing import Lockstep
from device.sim.loopback.server import LoopbackLLM
from device.sim.loopback.wire import SPEECH_MAX_SECONDS, SPEECH_RATE, SPEECH_SECONDS_PER_CHARACTER
from device.skills.intents import jsgf_grammar, parse
from device.speaking.mandarin import BilingualSynthesizer
from device.speaking.tts import EspeakSynthesizer
from device.storage.database import Database
from drivers.leds import NoLed, PrivacyLed
from drivers.mic import FileMicrophone
from drivers.speaker import WavSpeaker

CLOUD_TEXT = "why is the sky blue in the daytime"


def provider_for(server: LoopbackLLM, name: str = "loop", **overrides) -> Provider:
    settings: dict[str, Any] = {
        "name": name,
        "base_url": server.base_url,
        "model": "loopback-chat",
        "api_key": Secret(TEST_KEY),
        "connect_timeout_seconds": 2.0,
        "first_token_timeout_seconds": 2.0,
        "deadline_seconds": 10.0,
        "transcription_model": "whisper-1",
        "speech_model": "tts-1",
    }
    settings.update(overrides)
    return Provider(**settings)


@pytest.fixture(scope="module")
def espeak() -> EspeakSynthesizer:
    return EspeakSynthesizer("en-us", 160, 50, volume_percent=100)


@pytest.fixture(scope="module")
def speech(espeak):
    """Utterances as the recogniser hears them: a little silence either side."""
    pad = b"\0" * 6400
    return {
        text: pad + espeak.synthesize(text) + pad
        for text in ("why is the sky blue", "what time is it")
    }


@pytest.fixture(scope="module")
def local() -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer(jsgf_grammar("hey zero"), lambda t: parse(t) is not None)


@pytest.fixture
def database(tmp_path: Path):
    with Database(tmp_path / "zeropin.db") as db:
        yield db


@pytest.fixture
def led():
    with PrivacyLed(16, pin_factory=MockFactory()) as light:
        yield light


@pytest.fixture
def ledger(database) -> Ledger:
    return Ledger(database)


@pytest.fixture
def gate(ledger, led) -> EgressGate:
    return EgressGate(ledger, led)


@pytest.fixture
def leak_check(caplog):
    """Every log record, DEBUG included; the key must be in none of them."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    assert TEST_KEY not in caplog.text


def hear(recognizer, audio: bytes) -> Transcript:
    recognizer.start()
    for offset in range(0, len(audio), FRAME_BYTES):  # in frames, as the listener feeds it
        recognizer.feed(audio[offset : offset + FRAME_BYTES])
    return recognizer.finish()


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# --- recognition --------------------------------------------------------------------------------


def test_a_question_is_transcribed_in_the_cloud_with_the_led_lit(
    llm_server, gate, led, ledger, local, speech, leak_check
):
    llm_server.transcript = CLOUD_TEXT
    seen = []
    llm_server.on_request = lambda request: seen.append(led.is_lit)
    recognizer = CloudRecognizer([provider_for(llm_server)], gate, local)
    assert hear(recognizer, speech["why is the sky blue"]) == Transcript(
        CLOUD_TEXT, False, "cloud", verbatim=True
    )
    assert seen == [True]  # lit while the audio was at the server
    assert not led.is_lit  # and out after
    request = llm_server.requests[-1]
    assert request.path == "/v1/audio/transcriptions"
    assert request.body["model"] == "whisper-1"
    assert request.body["response_format"] == "json"
    upload = request.files["file"]
    assert (upload.filename, upload.content_type) == ("utterance.wav", "audio/wav")
    with wave.open(io.BytesIO(upload.data)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        assert wav.readframes(wav.getnframes()) == speech["why is the sky blue"]
    [row] = ledger.recent()
    assert (row.kind, row.purpose, row.host) == ("audio", "transcription", "127.0.0.1")
    assert row.size_bytes == request.raw_size  # the whole multipart body, as it went out
    assert warnings(leak_check) == []


def test_a_command_is_never_uploaded(llm_server, gate, ledger, local, speech):
    recognizer = CloudRecognizer(
        [provider_for(llm_server)], gate, local, is_command=lambda t: parse(t) is not None
    )
    heard = hear(recognizer, speech["what time is it"])
    assert (heard.in_grammar, heard.engine) == (True, "pocketsphinx")
    assert parse(heard.text) is not None
    assert llm_server.requests == []
    assert ledger.recent() == []


def test_a_failing_privacy_led_keeps_the_audio_on_the_device(
    llm_server, ledger, local, speech, leak_check
):
    with PrivacyLed(16, pin_factory=BrokenLedFactory()) as broken:
        gate = EgressGate(ledger, broken)
        second = provider_for(llm_server, "second")
        recognizer = CloudRecognizer([provider_for(llm_server), second], gate, local)
        heard = hear(recognizer, speech["why is the sky blue"])
    assert (heard.in_grammar, heard.engine) == (False, "pocketsphinx")
    assert heard.text and heard.text != llm_server.transcript
    assert llm_server.requests == []  # neither provider was tried
    assert ledger.recent() == []
    [warning] = warnings(leak_check)
    assert "the privacy LED on GPIO 16 could not be lit" in warning


@pytest.mark.parametrize(
    "fault", ["status_500", "hang", "wrong_content_type", "malformed_event", "empty_choices"]
)
def test_a_failed_transcription_falls_back_to_the_local_one(
    llm_server, gate, led, local, speech, leak_check, fault
):
    llm_server.fail_next(fault)
    provider = provider_for(llm_server, first_token_timeout_seconds=0.5)
    recognizer = CloudRecognizer([provider], gate, local)
    started = time.monotonic()
    heard = hear(recognizer, speech["why is the sky blue"])
    assert time.monotonic() - started < 3.0  # the hang ends at the 0.5 s read timeout
    assert (heard.in_grammar, heard.engine) == (False, "pocketsphinx")
    assert heard.text != llm_server.transcript
    assert len(llm_server.requests) == 1  # not retried: the local text is ready now
    assert not led.is_lit
    [warning] = warnings(leak_check)
    assert warning.startswith("cloud transcription failed") and "loop" in warning


def test_the_next_provider_transcribes_when_the_first_fails(
    llm_server, gate, ledger, local, speech
):
    with LoopbackLLM(api_key=TEST_KEY, validator=request_errors) as backup:
        backup.transcript = CLOUD_TEXT
        no_asr = provider_for(llm_server, "chat-only", transcription_model="")
        first, second = provider_for(llm_server, "first"), provider_for(backup, "second")
        llm_server.fail_next("status_500")
        recognizer = CloudRecognizer([no_asr, first, second], gate, local)
        assert [p.name for p in recognizer.providers] == ["first", "second"]
        heard = hear(recognizer, speech["why is the sky blue"])
        assert heard == Transcript(CLOUD_TEXT, False, "cloud", verbatim=True)
        assert backup.validation_errors == []
    assert len(llm_server.requests) == 1
    assert [row.purpose for row in ledger.recent()] == ["transcription", "transcription"]


class Unsure:
    """A local recogniser that guessed ``text`` but cannot vouch for it."""

    name = "unsure"

    def __init__(self, text: str) -> None:
        self.text = text

    def start(self) -> None: ...
    def feed(self, pcm: bytes) -> None: ...
    def finish(self) -> Transcript:
        return Transcript(self.text, True, self.name, confident=False)


def test_an_unsure_command_is_transcribed_from_its_audio_and_decided_on_the_clouds_text(
    llm_server, gate, ledger, speech
):
    llm_server.transcript = "What time is it?"
    command = lambda t: parse(t) is not None  # noqa: E731
    recognizer = CloudRecognizer(
        [provider_for(llm_server)], gate, Unsure("mute"), is_command=command
    )
    heard = hear(recognizer, speech["what time is it"])
    assert heard == Transcript("What time is it?", False, "cloud", verbatim=True)
    assert parse(heard.text).name == "time"
    [row] = ledger.recent()  # the audio went out, never the guess
    assert (row.kind, row.purpose) == ("audio", "transcription")


def test_an_unsure_guess_stays_unsure_when_the_cloud_cannot_transcribe(
    llm_server, gate, ledger, speech, caplog
):
    llm_server.fail_next("status_500")
    recognizer = CloudRecognizer([provider_for(llm_server)], gate, Unsure("mute"))
    heard = hear(recognizer, speech["what time is it"])
    assert heard == Transcript("mute", True, "unsure", confident=False)  # not acted on
    assert [row.kind for row in ledger.recent()] == ["audio"]


def test_the_cloud_recogniser_lets_its_local_one_adapt_to_the_microphone(gate, local, speech):
    recognizer = CloudRecognizer([], gate, local)
    assert isinstance(recognizer, Adaptable)  # the listener adapts what it is given
    before = local.cmn
    recognizer.adapt(speech["why is the sky blue"])
    assert local.cmn != before
    CloudRecognizer([], gate, Unsure("x")).adapt(speech["what time is it"])  # cannot: ignored


def test_acoustic_normalisation_reaches_the_local_recogniser(gate, local):
    recognizer = CloudRecognizer([], gate, local)
    recognizer.cmn = local.cmn
    assert recognizer.cmn == local.cmn

    class WithoutCmn:
        name = "plain"

        def start(self) -> None: ...
        def feed(self, pcm: bytes) -> None: ...
        def finish(self) -> Transcript:
            return Transcript("")

    assert not hasattr(CloudRecognizer([], gate, WithoutCmn()), "cmn")


# --- synthesis ----------------------------------------------------------------------------------


def tone_bytes(text: str) -> int:
    seconds = min(SPEECH_MAX_SECONDS, SPEECH_SECONDS_PER_CHARACTER * len(text))
    return 2 * int(SPEECH_RATE * seconds)


def test_cloud_speech_becomes_bus_audio(llm_server, gate, led, ledger, espeak, leak_check):
    seen = []
    llm_server.on_request = lambda request: seen.append(led.is_lit)
    synthesizer = CloudSynthesizer([provider_for(llm_server)], gate, espeak)
    text = "The sky is blue."
    assert len(synthesizer.synthesize(text)) == tone_bytes(text)
    assert len(synthesizer.synthesize("x" * 100)) == tone_bytes("x" * 100)  # capped at 3 s
    assert llm_server.requests[0].body == {
        "model": "tts-1",
        "input": text,
        "voice": "alloy",
        "response_format": "wav",
    }
    assert seen == [False, False]  # text goes out: no camera or microphone data, no light
    rows = ledger.recent()
    assert [(r.kind, r.purpose) for r in rows] == [("text", "speech")] * 2
    assert rows[-1].size_bytes == llm_server.requests[0].raw_size
    assert synthesizer.synthesize("  ") == b""
    assert len(llm_server.requests) == 2
    assert warnings(leak_check) == []


@pytest.mark.parametrize("fault", ["status_500", "wrong_content_type", "empty_choices"])
def test_failed_cloud_speech_is_spoken_by_espeak_and_paused(
    llm_server, gate, espeak, leak_check, fault
):
    now = [0.0]
    synthesizer = CloudSynthesizer(
        [provider_for(llm_server)], gate, espeak, cooldown_seconds=60.0, clock=lambda: now[0]
    )
    llm_server.fail_next(fault, times=2)
    first, second = "The sky is blue.", "Air scatters blue light the most."
    assert synthesizer.synthesize(first) == espeak.synthesize(first)
    assert synthesizer.synthesize(second) == espeak.synthesize(second)
    assert len(llm_server.requests) == 1  # the second sentence did not wait for the server
    now[0] = 61.0  # the cool-down is over: one sentence tries the cloud again
    assert synthesizer.synthesize(second) == espeak.synthesize(second)
    assert len(llm_server.requests) == 2
    assert len(warnings(leak_check)) == 1  # the same failure again is not logged again
    now[0] = 122.0
    assert len(synthesizer.synthesize(first)) == tone_bytes(first)  # the provider is back


def test_a_hung_speech_provider_costs_one_timeout(llm_server, gate, espeak):
    llm_server.fail_next("hang")
    provider = provider_for(llm_server, first_token_timeout_seconds=0.5)
    synthesizer = CloudSynthesizer([provider], gate, espeak)
    sentences = ("One.", "Two.", "Three.")
    by_espeak = [espeak.synthesize(sentence) for sentence in sentences]  # not inside the timing
    started = time.monotonic()
    assert [synthesizer.synthesize(sentence) for sentence in sentences] == by_espeak
    assert time.monotonic() - started < 2.5  # one 0.5 s timeout, then espeak-ng three times
    assert len(llm_server.requests) == 1


# --- wiring -------------------------------------------------------------------------------------


def cloud_config(tmp_path: Path):
    return load_config(
        paths=[],
        env={},
        overrides=["asr.engine=cloud", "tts.engine=cloud", f"asr.vosk_model={tmp_path}/none"],
    )


def test_cloud_engines_are_built_from_config(llm_server, gate, tmp_path):
    cfg = cloud_config(tmp_path)
    chat_only = provider_for(llm_server, "chat-only", transcription_model="", speech_model="")
    providers = [chat_only, provider_for(llm_server)]
    recognizer = build_recognizer(cfg, providers, gate)
    assert isinstance(recognizer, CloudRecognizer)
    assert isinstance(recognizer.local, PocketsphinxRecognizer)
    assert [p.name for p in recognizer.providers] == ["loop"]
    assert isinstance(build_listener(cfg, providers, gate).recognizer, CloudRecognizer)
    synthesizer = build_synthesizer(cfg, providers, gate)
    assert isinstance(synthesizer, CloudSynthesizer)
    assert isinstance(synthesizer.local, BilingualSynthesizer)  # espeak-ng, Mandarin for Chinese
    assert isinstance(synthesizer.local.other, EspeakSynthesizer)
    # Without a gate nothing may be uploaded: the benchmark measures the local engines.
    assert isinstance(build_recognizer(cfg), PocketsphinxRecognizer)
    assert isinstance(build_synthesizer(cfg), BilingualSynthesizer)
    with pytest.raises(ConfigError) as missing:
        build_recognizer(cfg, [chat_only], gate)
    assert str(missing.value) == (
        '[asr] engine: "cloud" needs a provider with transcription_model in [llm] chain'
    )
    with pytest.raises(ConfigError, match=r'\[tts\] engine: "cloud" needs a provider with speech'):
        build_synthesizer(cfg, [chat_only], gate)
    with pytest.raises(ConfigError, match="transcription_model"):
        build_listener(cfg, [], gate)


def test_auto_transcribes_in_the_cloud_only_when_a_provider_can(llm_server, gate, tmp_path):
    cfg = load_config(paths=[], env={}, overrides=[f"asr.vosk_model={tmp_path}/none"])
    assert cfg.asr.engine == "auto"
    recognizer = build_recognizer(cfg, [provider_for(llm_server)], gate)
    assert isinstance(recognizer, CloudRecognizer)
    assert isinstance(recognizer.local, PocketsphinxRecognizer)
    chat_only = provider_for(llm_server, "chat-only", transcription_model="")
    assert isinstance(build_recognizer(cfg, [chat_only], gate), PocketsphinxRecognizer)
    assert isinstance(build_recognizer(cfg, [], gate), PocketsphinxRecognizer)
    assert isinstance(build_recognizer(cfg, [provider_for(llm_server)]), PocketsphinxRecognizer)


def test_a_spoken_question_goes_through_cloud_speech_end_to_end(llm_server, led, tmp_path):
    llm_server.transcript = CLOUD_TEXT
    llm_server.reply_text = "Sunlight scatters. Blue scatters most."
    wav = tmp_path / "question.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000)
        tts = EspeakSynthesizer("en-us+f2", 140, 50, volume_percent=100)
        silence = b"\0" * 16000
        out.writeframes(
            tts.synthesize("testing the microphone, one two three")
            + silence
            + tts.synthesize("hey zero, why is the sky blue")
            + silence * 4
        )
    reports = []
    with FileMicrophone(wav, 1600) as mic, WavSpeaker(tmp_path / "out") as speaker:
        runtime, database = assemble(
            cloud_config(tmp_path),
            mic=mic,
            speaker=speaker,
            light=NoLed(),
            camera=None,
            state_dir=tmp_path / "state",
            pacing=Lockstep(),
            privacy_led=led,
            providers=[provider_for(llm_server)],
            on_turn=reports.append,
        )
        try:
            asyncio.run(asyncio.wait_for(runtime.run(), 60))
            rows = Ledger(database).recent()
        finally:
            database.close()
    assert [(r.heard, r.intent) for r in reports] == [(CLOUD_TEXT, "brain")]
    assert reports[0].said == "Sunlight scatters. Blue scatters most."
    paths = [request.path for request in llm_server.requests]
    assert paths == [
        "/v1/audio/transcriptions",
        "/v1/chat/completions",
        "/v1/audio/speech",
        "/v1/audio/speech",
    ]
    assert sorted((r.kind, r.purpose) for r in rows) == [
        ("audio", "transcription"),
        ("text", "chat"),
        ("text", "speech"),
        ("text", "speech"),
    ]
