"""With a cloud that transcribes, pocketsphinx's second pass waits until the cloud has failed.

The second pass decodes an utterance again (as much CPU again) to rescue a command the streamed
pass misheard; the cloud's transcript, decided on by the same intents, rescues it too. Real
espeak-ng speech, the real pocketsphinx recogniser, the loopback OpenAI-compatible server, the
privacy LED on gpiozero's MockFactory and the real egress ledger.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import loopback_provider
from gpiozero.pins.mock import MockFactory

from device.app import build_recognizer
from device.cloud.providers import Provider
from device.cloud.speech import CloudRecognizer
from device.config.sources import load_config
from device.egress import EgressGate, Ledger
from device.listening.asr import PocketsphinxRecognizer, Transcript
from device.listening.frames import FRAME_BYTES
from device.sim.voices import Speaker, Voice, room, with_noise
from device.skills.intents import jsgf_grammar, parse
from device.storage.database import Database
from drivers.leds import PrivacyLed

RESCUED = "hey zero read my notes"


@pytest.fixture(scope="module")
def misheard_first() -> bytes:
    """An utterance the first streamed pass of a fresh recogniser mishears and its second pass
    hears (as in tests/listening/test_confidence.py)."""
    rng = np.random.default_rng(0)
    speech = Speaker(Voice("en-us+m3", 150))("hey zero, read my notes")
    return np.concatenate(
        [room(rng, 0.3, 20.0), with_noise(speech, 20.0, rng), room(rng, 0.6, 20.0)]
    ).tobytes()


@pytest.fixture
def gate(tmp_path: Path):
    with Database(tmp_path / "zeropin.db") as db, PrivacyLed(16, pin_factory=MockFactory()) as led:
        yield EgressGate(Ledger(db), led)


def fresh_local(second_pass: bool) -> PocketsphinxRecognizer:
    recognizer = PocketsphinxRecognizer(
        jsgf_grammar(),
        lambda t: parse(t) is not None,
        wake_phrase="hey zero",
        second_pass=second_pass,
    )
    recognizer.phrase_said = True  # as after the wake word
    return recognizer


def hear(recognizer, audio: bytes) -> Transcript:
    recognizer.start()
    for offset in range(0, len(audio), FRAME_BYTES):
        recognizer.feed(audio[offset : offset + FRAME_BYTES])
    return recognizer.finish()


def provider(server) -> Provider:
    return loopback_provider(server, connect_timeout_seconds=2.0, transcription_model="whisper-1")


def test_without_its_second_pass_the_first_look_misses_and_the_second_look_is_left_waiting(
    misheard_first,
):
    local = fresh_local(second_pass=False)
    first = hear(local, misheard_first)
    assert parse(first.text) is None and not first.in_grammar
    assert local.second_look() == Transcript(RESCUED, True, "pocketsphinx")
    assert local.second_look() is None  # one look per utterance


def test_the_cloud_rescues_the_misheard_command_and_the_second_pass_never_runs(
    llm_server, gate, misheard_first
):
    llm_server.transcript = "Hey Zero, read my notes."
    local = fresh_local(second_pass=False)
    heard = hear(CloudRecognizer([provider(llm_server)], gate, local), misheard_first)
    assert heard == Transcript("Hey Zero, read my notes.", False, "cloud", verbatim=True)
    assert parse(heard.text).name == "notes_read"
    # the look the cloud made unnecessary is still waiting: it was never taken
    assert local.second_look() == Transcript(RESCUED, True, "pocketsphinx")


def test_when_the_cloud_fails_the_second_pass_rescues_the_command(llm_server, gate, misheard_first):
    llm_server.fail_next("status_500")
    local = fresh_local(second_pass=False)
    heard = hear(CloudRecognizer([provider(llm_server)], gate, local), misheard_first)
    assert heard == Transcript(RESCUED, True, "pocketsphinx")
    assert len(llm_server.requests) == 1
    assert local.second_look() is None  # taken


def test_a_command_heard_at_once_has_no_second_look_waiting(llm_server, gate):
    speech = Speaker(Voice("en-us", 160))("what time is it")
    local = fresh_local(second_pass=False)
    local.phrase_said = False
    heard = hear(CloudRecognizer([provider(llm_server)], gate, local), speech.tobytes())
    assert (heard.text, heard.engine) == ("what time is it", "pocketsphinx")
    assert llm_server.requests == []  # a command stays on the device
    assert local.second_look() is None


def test_the_app_leaves_the_second_pass_to_a_cloud_that_transcribes(llm_server, tmp_path: Path):
    with Database(tmp_path / "z.db") as db, PrivacyLed(16, pin_factory=MockFactory()) as led:
        gate = EgressGate(Ledger(db), led)
        cfg = load_config(paths=[], env={})
        transcribing = build_recognizer(cfg, [provider(llm_server)], gate)
        assert isinstance(transcribing, CloudRecognizer)
        assert transcribing.local.second_pass is False
        offline = build_recognizer(cfg, [], gate)
        assert isinstance(offline, PocketsphinxRecognizer) and offline.second_pass is True
