"""Notes keep their audio; a note only the fallback's guess wrote down is transcribed again.

Real parts: the listener with the shipped wake word and pocketsphinx hearing espeak-ng speech,
the skills on a real SQLite file, and cloud transcription through the egress gate to the
loopback server (its requests validated against the OpenAI OpenAPI document).
"""

from __future__ import annotations

import io
import threading
import wave
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from test_cloud_speech import hear, provider_for

from device.app import build_skills, build_stores, build_wake
from device.cloud.drafts import DraftReviser
from device.cloud.speech import CloudRecognizer
from device.config.sources import load_config
from device.egress import EgressGate, Ledger
from device.events import Heard, ListenMode
from device.listening.asr import PocketsphinxRecognizer
from device.listening.listener import Listener
from device.listening.vad import EndpointSettings
from device.loop.router import Router
from device.skills.intents import decided_locally, dictated_text, jsgf_grammar, parse
from device.skills.timers import Timers
from device.speaking.playback import Volume
from device.speaking.tts import EspeakSynthesizer
from device.storage.database import Database
from drivers.audio_format import wav_bytes
from drivers.leds import PrivacyLed

CFG = load_config(paths=[], env={})
DICTATED = "take a note buy milk and eggs"


class NoBrain:
    def reply(self, text: str, **kwargs: object) -> object:
        raise AssertionError(f"sent {text!r} to the brain")


@pytest.fixture(scope="module")
def dictation() -> Heard:
    """The note as the device hears it offline: the real listener, pocketsphinx's grammar."""
    local = PocketsphinxRecognizer(jsgf_grammar(CFG.wake.phrase), lambda t: parse(t) is not None)
    listener = Listener(build_wake(CFG), local, EndpointSettings())
    speech = EspeakSynthesizer("en-us", 160, 50, volume_percent=100).synthesize(DICTATED)
    listener.set_mode(ListenMode.UTTERANCE, "button")
    [event] = listener.process(bytes(6400) + speech + bytes(64000))
    assert isinstance(event, Heard), event
    return event


@pytest.fixture
def device(tmp_path: Path, llm_server):
    with Database(tmp_path / "zeropin.db") as database:
        stores = build_stores(database)
        skills = build_skills(CFG, stores, None, tmp_path, Timers(lambda: 0.0), Volume())
        with PrivacyLed(16, pin_factory=MockFactory()) as led:
            ledger = Ledger(database)
            cloud = CloudRecognizer([provider_for(llm_server)], EgressGate(ledger, led), None)
            yield Router(skills, NoBrain(), CFG.wake.phrase), stores.notes, cloud, ledger


def test_a_note_heard_offline_is_a_draft_that_keeps_its_audio(dictation, device):
    router, notes, _, _ = device
    assert (dictation.engine, dictation.verbatim) == ("pocketsphinx", False)
    # the audio is the utterance the recogniser heard: pre-roll, speech, and the pause that ended it
    assert 2.0 < len(dictation.audio) / 32000 < 4.5
    name, reply = router.route(dictation.text, heard=dictation)
    assert name == "note_add"
    assert next(reply).startswith("Noted: ")
    [note] = notes.recent(5)
    assert (note.draft, note.engine, note.has_audio) == (True, "pocketsphinx", True)
    assert notes.audio(note.id) == wav_bytes(dictation.audio)
    assert [n.id for n in notes.drafts()] == [note.id]


def test_the_cloud_rewrites_a_draft_from_its_audio_and_keeps_the_first_text(
    dictation, device, llm_server
):
    router, notes, cloud, ledger = device
    router.route(dictation.text, heard=dictation)
    [draft] = notes.recent(5)
    llm_server.transcript = "Take a note: buy oat milk and eggs."
    assert DraftReviser(notes, cloud, CFG.wake.phrase).revise() == 1
    [note] = notes.recent(5)
    assert (note.text, note.first_heard) == ("buy oat milk and eggs", draft.text)
    assert (note.draft, note.engine) == (False, "cloud")
    assert notes.drafts() == []
    request = llm_server.requests[-1]
    assert request.path == "/v1/audio/transcriptions"
    with wave.open(io.BytesIO(request.files["file"].data)) as wav:
        assert wav.readframes(wav.getnframes()) == dictation.audio
    [row] = ledger.recent()
    assert (row.kind, row.purpose) == ("audio", "transcription")
    assert notes.audio(note.id) == wav_bytes(dictation.audio)  # the audio stays with the note


def test_drafts_wait_while_the_cloud_is_down(dictation, device, llm_server):
    router, notes, cloud, _ = device
    router.route(dictation.text, heard=dictation)
    [draft] = notes.recent(5)
    reviser = DraftReviser(notes, cloud, CFG.wake.phrase)
    llm_server.fail_next("status_500")
    assert reviser.revise() == 0
    assert notes.recent(5) == [draft]  # text, draft mark and audio as they were
    assert notes.audio(draft.id) == wav_bytes(dictation.audio)
    llm_server.transcript = "take a note buy milk and eggs"
    thread = reviser.revise_soon()
    thread.join(10)
    assert not thread.is_alive() and notes.drafts() == []
    assert notes.recent(5)[0].text == "buy milk and eggs"


def test_a_note_goes_to_the_cloud_at_once_when_it_can_transcribe(llm_server, device, dictation):
    """Dictation is free text: the grammar can only guess at it, so it is uploaded like a
    question, while other commands stay local."""
    _, _, cloud, ledger = device
    assert not decided_locally(DICTATED) and decided_locally("what time is it")
    local = PocketsphinxRecognizer(jsgf_grammar(CFG.wake.phrase), lambda t: parse(t) is not None)
    recognizer = CloudRecognizer(
        cloud.providers, cloud.gate, local, is_command=lambda t: decided_locally(t)
    )
    llm_server.transcript = "Take a note, buy milk and eggs."
    heard = hear(recognizer, dictation.audio)
    assert (heard.text, heard.engine, heard.verbatim) == (llm_server.transcript, "cloud", True)
    assert dictated_text(heard.text) == "buy milk and eggs"
    assert [row.kind for row in ledger.recent()] == ["audio"]


def test_a_typed_note_and_an_answer_heard_verbatim_are_not_drafts(device, dictation):
    router, notes, _, _ = device
    router.route("take a note call the dentist")  # `zeropin ask`, no utterance
    verbatim = Heard(
        "take a note water the plants", False, 1.0, "wake", engine="vosk", verbatim=True,
        audio=dictation.audio,
    )  # fmt: skip
    router.route(verbatim.text, heard=verbatim)
    plants, dentist = notes.recent(5)
    assert (dentist.draft, dentist.has_audio) == (False, False)
    assert (plants.draft, plants.has_audio, plants.engine) == (False, True, "vosk")
    assert notes.drafts() == []


def test_the_daemon_sends_drafts_left_from_before_when_it_starts_with_the_cloud(
    llm_server, dictation, tmp_path
):
    from test_cloud_speech import cloud_config

    from device.app import assemble
    from device.loop.pacing import Lockstep
    from drivers.leds import NoLed
    from drivers.mic import FileMicrophone
    from drivers.speaker import WavSpeaker

    cfg = cloud_config(tmp_path)
    with Database(tmp_path / "state" / "zeropin.db") as offline:  # the last run, offline
        build_stores(offline).notes.add(
            "by milk", wav_bytes(dictation.audio), "pocketsphinx", draft=True
        )
    llm_server.transcript = "take a note buy milk and eggs"
    silence = tmp_path / "silence.wav"
    silence.write_bytes(wav_bytes(bytes(32000)))
    with (
        FileMicrophone(silence, 1600) as mic,
        WavSpeaker(tmp_path / "out") as speaker,
        PrivacyLed(16, pin_factory=MockFactory()) as led,
    ):
        runtime, database = assemble(
            cfg, mic=mic, speaker=speaker, light=NoLed(), camera=None,
            state_dir=tmp_path / "state", pacing=Lockstep(), privacy_led=led,
            providers=[provider_for(llm_server)],
        )  # fmt: skip
        try:
            notes = build_stores(database).notes
            for _ in range(100):
                if not notes.drafts():
                    break
                threading.Event().wait(0.1)
            assert [(n.text, n.draft, n.first_heard) for n in notes.recent(5)] == [
                ("buy milk and eggs", False, "by milk")
            ]
        finally:
            database.close()
