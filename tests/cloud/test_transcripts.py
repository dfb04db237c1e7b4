"""A recording's segments transcribed and summarised in the background: through the egress gate
to the loopback server (its requests validated against the OpenAI OpenAPI document), retried
after a failure with nothing lost, or on the device by pocketsphinx once the recording ends.
Real segments: the recorder on espeak-ng speech, real SQLite, mock-pin privacy LED."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from test_cloud_speech import provider_for

from device.cloud.chain import ProviderChain
from device.cloud.client import ChatClient
from device.cloud.speech import RECORDING, CloudRecognizer
from device.cloud.transcripts import SUMMARY_PURPOSE, Transcriber, TranscriberSettings
from device.egress import EgressGate, Ledger
from device.listening.asr import PocketsphinxFreeText
from device.loop.brain import OfflineBrain
from device.sim.meeting import MEETING, meeting_audio
from device.skills.recordings import NOTHING_RECORDED, about_recordings, recall
from device.storage.database import Database
from device.storage.recorder import Recorder, RecorderSettings
from device.storage.recordings import Line, RecordingStore, Segment
from drivers.leds import PrivacyLed

SAID = "The stage budget is four hundred pounds. Priya will book it by Friday."


@pytest.fixture(scope="module")
def meeting() -> bytes:
    return meeting_audio(MEETING[:6])[0]  # about half a minute


@pytest.fixture
def recorded(tmp_path: Path, meeting: bytes):
    """A recording of the meeting in segments of about 10 s, ended by the wearer."""
    with Database(tmp_path / "zeropin.db") as database:
        store = RecordingStore(database)
        recorder = Recorder(store, tmp_path / "recordings", RecorderSettings(segment_seconds=10))
        recorder.start()
        for start in range(0, len(meeting), 960):
            recorder.feed(meeting[start : start + 960])
        recorder.stop()
        recorder.close()
        yield store, tmp_path / "recordings", database


def _cloud_parts(database: Database, server, led: PrivacyLed):
    gate = EgressGate(Ledger(database), led)
    provider = provider_for(server)
    cloud = CloudRecognizer([provider], gate, PocketsphinxFreeText(), failures=10)
    chain = ProviderChain([ChatClient(provider, gate)])
    return cloud, chain


def test_segments_go_through_the_gate_and_a_failure_loses_nothing(recorded, llm_server) -> None:
    store, root, database = recorded
    segments = store.segments(1)
    assert len(segments) >= 3
    llm_server.transcript = SAID
    with PrivacyLed(16, pin_factory=MockFactory()) as led:
        cloud, chain = _cloud_parts(database, llm_server, led)
        transcriber = Transcriber(store, root, TranscriberSettings(cloud=cloud, chain=chain))
        llm_server.fail_next("status_500")
        assert transcriber.run_once() is False  # the first segment failed: the round stops
        waiting = store.waiting_segments()
        assert len(waiting) == len(segments) and waiting[-1].attempts == 1
        assert all((root / s.file).is_file() for s in segments)  # the audio stays
        assert transcriber.run_once() is True
    assert store.waiting_segments() == []
    lines = store.lines(1)
    assert len(lines) == 2 * len(segments)  # one line per sentence of each segment's text
    first, second = lines[:2]
    assert (first.text, second.text) == (
        "The stage budget is four hundred pounds.",
        "Priya will book it by Friday.",
    )
    assert first.start_s == 0.0 and first.end_s == second.start_s < second.end_s
    assert second.end_s == pytest.approx(segments[0].seconds, abs=0.01)
    uploads = [r for r in Ledger(database).recent(100) if r.purpose == RECORDING]
    assert len(uploads) == len(segments) + 1 and {r.kind for r in uploads} == {"audio"}
    assert [r.purpose for r in Ledger(database).recent(100)].count(SUMMARY_PURPOSE) == 1
    recording = store.get(1)
    assert recording is not None and recording.summary.startswith("Key points: ")
    asked = [r for r in llm_server.requests if r.path == "/v1/audio/transcriptions"]
    assert asked[-1].files["file"].content_type == "audio/flac"


def test_a_silent_segment_is_transcribed_as_nothing_not_retried(recorded, llm_server) -> None:
    store, root, database = recorded
    llm_server.transcript = ""
    with PrivacyLed(16, pin_factory=MockFactory()) as led:
        cloud, _ = _cloud_parts(database, llm_server, led)
        assert Transcriber(store, root, TranscriberSettings(cloud=cloud)).run_once() is True
    assert store.waiting_segments() == [] and store.lines(1) == []
    llm_server.transcript = SAID


def test_offline_the_device_transcribes_once_the_recording_has_ended(recorded) -> None:
    store, root, _ = recorded
    recording = [True]
    local = TranscriberSettings(local=PocketsphinxFreeText, recording=lambda: recording[0])
    transcriber = Transcriber(store, root, local)
    assert transcriber.mode == "local"
    assert transcriber.run_once() is True and len(store.waiting_segments()) > 0  # not while on
    recording[0] = False
    assert transcriber.run_once() is True and store.waiting_segments() == []
    lines = store.lines(1)
    assert len(lines) >= 4 and {line.engine for line in lines} == {"pocketsphinx"}
    total = store.get(1)
    assert total is not None
    assert all(0 <= a.start_s < a.end_s <= total.seconds + 0.05 for a in lines)
    # pocketsphinx turns espeak's meeting into other words; some of its own survive
    heard = " ".join(line.text for line in lines).split()
    assert {"the", "budget", "stage", "pounds", "four", "hundred"} & set(heard)


def test_offline_a_question_about_the_meeting_reads_the_passage(tmp_path: Path) -> None:
    nine = dt.datetime(2026, 12, 7, 9, 0)
    line = "Then we agreed the stage budget is four hundred pounds and no more."
    with Database(tmp_path / "zeropin.db") as database:
        store = RecordingStore(database, clock=nine.timestamp)
        recording_id = store.begin()
        store.add_segment(Segment(recording_id, 0, 60.0, 30.0, "00001/00000.flac", 1))
        (segment,) = store.waiting_segments()
        store.transcribed(segment, [Line(recording_id, 75.0, 80.0, line, "cloud")], "cloud")
        store.end(recording_id, "wearer")
        brain = OfflineBrain(lambda q: recall(q, store, lambda: nine.replace(hour=11)))
        asked = "what did we decide about the stage budget in this morning's meeting"
        assert list(brain.reply(asked)) == [
            f"In the Monday 7 December, 09:00 recording, 1 minute in, I heard: {line}"
        ]
        yesterday = "what did we decide about the budget in yesterday's meeting"
        assert list(brain.reply(yesterday)) == [NOTHING_RECORDED]
        assert list(brain.reply("what did they say about tickets in the meeting")) == [
            "I didn't find that in your recordings."
        ]
        assert "cloud connection" in next(brain.reply("what time is it in tokyo"))


def test_only_questions_about_a_recording_carry_its_words(tmp_path: Path) -> None:
    nine = dt.datetime(2026, 12, 7, 9, 0)
    with Database(tmp_path / "zeropin.db") as database:
        store = RecordingStore(database, clock=nine.timestamp)
        recording_id = store.begin()
        store.end(recording_id, "wearer")
        store.summarised(recording_id, "Key points: 12 layoffs in Priya's team.", "loop")
        at_eleven = lambda q: recall(q, store, lambda: nine.replace(hour=11))  # noqa: E731
        for unrelated in ("how do I call a taxi", "is the interview dress code formal"):
            assert not about_recordings(unrelated)
        # about some recording but naming none, and nothing found: no summary goes along
        assert at_eleven("what did they say about parking in the meeting").summaries() == []
        named = at_eleven("what did we decide in this morning's meeting").summaries()
        assert named == [
            "Monday 7 December, 09:00 recording: Key points: 12 layoffs in Priya's team."
        ]
