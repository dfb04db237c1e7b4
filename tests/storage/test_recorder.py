"""The recorder on a real SQLite database and real files: espeak-ng speech with pauses goes in,
closed FLAC segments cut at pauses come out; a power cut (the process gone without a stop)
loses at most the unsynced seconds; a nearly full card stops it with the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from device.errors import StorageError
from device.speaking.tts import EspeakSynthesizer
from device.storage.database import Database
from device.storage.recorder import (
    DISK_FULL,
    POWER_CUT,
    Recorder,
    RecorderSettings,
    read_segment,
)
from device.storage.recordings import RecordingStore, fts_query

RATE = 16000
CHUNK = 480 * 2  # 30 ms, as the voice loop hands it over


def _meeting(seconds: float) -> bytes:
    """Sentences by espeak-ng with a second's pause after each, in a quiet room, for about
    ``seconds``."""
    tts = EspeakSynthesizer("en-us", 175, volume_percent=100)
    lines = [
        "Let's start with the budget for the spring fair.",
        "We agreed to spend four hundred pounds on the stage.",
        "Priya will book the sound system by Friday.",
    ]
    rng = np.random.default_rng(1)
    parts: list[np.ndarray] = []
    total = 0
    n = 0
    while total < seconds * RATE:
        speech = np.frombuffer(tts.synthesize(lines[n % len(lines)]), "<i2").astype(np.float64)
        parts += [speech, np.zeros(RATE)]
        total += len(speech) + RATE
        n += 1
    audio = np.concatenate(parts)[: int(seconds * RATE)]
    audio += rng.normal(0, 30, len(audio))
    return np.clip(audio, -32768, 32767).astype("<i2").tobytes()


def _feed(recorder: Recorder, pcm: bytes) -> str | None:
    for start in range(0, len(pcm), CHUNK):
        reason = recorder.feed(pcm[start : start + CHUNK])
        if reason:
            return reason
    return None


@pytest.fixture
def db(tmp_path: Path):
    with Database(tmp_path / "zeropin.db") as database:
        yield database


def test_segments_are_cut_at_pauses_and_hold_every_sample(db: Database, tmp_path: Path) -> None:
    pcm = _meeting(50.0)
    store = RecordingStore(db)
    settings = RecorderSettings(segment_seconds=10.0, max_segment_seconds=20.0)
    recorder = Recorder(store, tmp_path / "recordings", settings)
    changes: list[bool] = []
    recorder.on_change = changes.append
    recording_id = recorder.start()
    assert _feed(recorder, pcm) is None
    assert recorder.stop() == pytest.approx(50.0, abs=0.03)
    recorder.close()
    segments = store.segments(recording_id)
    assert len(segments) >= 3
    joined = b"".join(read_segment(tmp_path / "recordings" / s.file) for s in segments)
    assert joined == pcm[: len(joined)] and len(pcm) - len(joined) < CHUNK
    for before, after in zip(segments, segments[1:], strict=False):
        assert after.start_s == pytest.approx(before.start_s + before.seconds)
        assert 10.0 <= before.seconds <= 20.0
        # cut in a pause: the last 0.2 s of each segment is the quiet room, not a word
        tail = np.frombuffer(read_segment(tmp_path / "recordings" / before.file), "<i2")[-3200:]
        assert np.sqrt(np.mean(tail.astype(float) ** 2)) < 100
    recording = store.get(recording_id)
    assert recording is not None and recording.ended_by == "wearer"
    assert recording.seconds == pytest.approx(len(joined) / 2 / RATE)
    assert changes == [True, False]
    assert not list((tmp_path / "recordings").rglob("*.pcm"))  # journals gone once encoded
    flac_bytes = sum(s.bytes for s in segments)
    assert flac_bytes < 0.8 * len(joined)  # FLAC is smaller than the PCM it holds
    info = soundfile.info(tmp_path / "recordings" / segments[0].file)
    assert (info.samplerate, info.channels, info.format) == (RATE, 1, "FLAC")
    assert os.stat(tmp_path / "recordings" / segments[0].file).st_mode & 0o077 == 0


_CUT_SCRIPT = """
import sys, time
from pathlib import Path
from device.storage.database import Database
from device.storage.recorder import Recorder, RecorderSettings
from device.storage.recordings import RecordingStore
pcm = Path(sys.argv[2]).read_bytes()
db = Database(Path(sys.argv[1]) / "zeropin.db")
recorder = Recorder(RecordingStore(db), Path(sys.argv[1]) / "recordings",
                    RecorderSettings(segment_seconds=10.0, max_segment_seconds=20.0))
recorder.start()
for start in range(0, len(pcm), 960):
    recorder.feed(pcm[start:start + 960])
time.sleep(1.0)  # the worker has encoded the closed segments
print("fed", flush=True)
time.sleep(60)  # killed here, mid-segment, as by a pulled battery
"""


def test_a_power_cut_loses_at_most_the_unsynced_seconds(db: Database, tmp_path: Path) -> None:
    pcm = _meeting(33.0)
    (tmp_path / "meeting.pcm").write_bytes(pcm)
    process = subprocess.Popen(
        [sys.executable, "-c", _CUT_SCRIPT, str(tmp_path), str(tmp_path / "meeting.pcm")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "fed"
    process.kill()  # SIGKILL: no stop, no close, nothing flushed by Python
    process.wait()
    store = RecordingStore(db)
    recorder = Recorder(store, tmp_path / "recordings")
    (recording_id,) = recorder.recover()
    recorder.close()
    recording = store.get(recording_id)
    assert recording is not None and recording.ended_by == POWER_CUT
    assert recording.seconds >= 33.0 - RecorderSettings().sync_seconds - 0.03
    segments = store.segments(recording_id)
    joined = b"".join(read_segment(tmp_path / "recordings" / s.file) for s in segments)
    assert joined == pcm[: len(joined)]
    assert not list((tmp_path / "recordings").rglob("*.pcm"))
    assert recorder.recover() == []  # once


def test_a_nearly_full_card_stops_the_recording_and_keeps_it(db: Database, tmp_path: Path) -> None:
    store = RecordingStore(db)
    root = tmp_path / "recordings"
    recorder = Recorder(store, root, RecorderSettings(segment_seconds=10.0))
    recording_id = recorder.start()
    # what the card has free now, plus some: the next segment's check finds too little
    recorder.settings = RecorderSettings(segment_seconds=10.0, min_free_mb=10**9)
    assert _feed(recorder, _meeting(30.0)) == DISK_FULL
    assert not recorder.active
    recorder.close()
    recording = store.get(recording_id)
    assert recording is not None and recording.ended_by == DISK_FULL
    assert recording.seconds >= 10.0 and store.segments(recording_id)
    with pytest.raises(StorageError, match=r"MB free, under the 1000000000 MB \[recorder\]"):
        Recorder(store, root, recorder.settings).start()


def test_search_finds_the_passage_by_its_words(db: Database) -> None:
    store = RecordingStore(db)
    from device.storage.recordings import Line, Segment

    first = store.begin()
    store.add_segment(Segment(first, 0, 0.0, 30.0, "00001/00000.flac", 1000))
    said = [
        "let's start with the budget for the spring fair",
        "we agreed to spend four hundred pounds on the stage",
        "priya will book the sound system by friday",
    ]
    lines = [Line(first, 10.0 * i, 10.0 * i + 9, text, "cloud") for i, text in enumerate(said)]
    store.transcribed(store.waiting_segments()[0], lines, "loopback")
    assert store.waiting_segments() == []
    found = store.search("what did we decide about the budget in this morning's meeting")
    assert [line.text for line in found] == [said[0]]
    assert [line.text for line in store.search("who books the sound?")][0] == said[2]
    assert store.search("what did we say in the meeting") == []  # no content words
    assert fts_query('budget" OR stage') == '"budget"* OR "stage"*'


def test_a_write_that_finds_the_card_full_stops_cleanly(db: Database, tmp_path: Path) -> None:
    from disks import small_disk

    store = RecordingStore(db)
    with small_disk(tmp_path / "card", "1m") as card:
        recorder = Recorder(store, card, RecorderSettings(segment_seconds=5.0, min_free_mb=0))
        recording_id = recorder.start()
        pcm, second, reason = _meeting(60.0), 2 * RATE, None
        for start in range(0, len(pcm), second):  # a second at a time, as the card sees it
            reason = reason or _feed(recorder, pcm[start : start + second])
            recorder.drain()
        assert reason == DISK_FULL  # 1 MB holds about 30 s of PCM
        recorder.close()
        recording = store.get(recording_id)
        assert recording is not None and recording.ended_by == DISK_FULL
        segments = store.segments(recording_id)
        assert segments, "the segments closed before the card filled are kept"
        for segment in segments:
            assert read_segment(card / segment.file)  # each one whole and readable


def test_recover_puts_a_late_journal_back_in_its_place(db: Database, tmp_path: Path) -> None:
    """Segment 1's encoding failed while recording went on; at the next start its journal goes
    back between segments 0 and 2, and the recording's length counts it once."""
    from device.storage.recorder import flac_bytes
    from device.storage.recordings import Segment, recording_folder

    store = RecordingStore(db)
    root = tmp_path / "recordings"
    recording_id = store.begin()
    folder = recording_folder(root, recording_id)
    folder.mkdir(parents=True)
    pcm = _meeting(70.0)
    for number, (start, end) in {0: (0, 30), 2: (40, 70)}.items():
        samples = np.frombuffer(pcm[start * 2 * RATE : end * 2 * RATE], "<i2")
        (folder / f"{number:05d}.flac").write_bytes(flac_bytes(samples))
        store.add_segment(
            Segment(recording_id, number, start, end - start, f"{folder.name}/{number:05d}.flac", 1)
        )
    (folder / "00001.pcm").write_bytes(pcm[30 * 2 * RATE : 40 * 2 * RATE])
    recorder = Recorder(store, root)
    assert recorder.recover() == [recording_id]
    recorder.close()
    segments = store.segments(recording_id)
    assert [(s.number, s.start_s, s.seconds) for s in segments] == [
        (0, 0.0, 30.0), (1, 30.0, 10.0), (2, 40.0, 30.0)
    ]  # fmt: skip
    joined = b"".join(read_segment(root / s.file) for s in segments)
    assert joined == pcm
    recording = store.get(recording_id)
    assert recording is not None and recording.seconds == 70.0 and recording.ended_by == POWER_CUT


def test_an_id_is_never_given_twice_and_a_late_transcript_lands_nowhere(db: Database) -> None:
    from device.storage.recordings import Line, Segment

    store = RecordingStore(db)
    first = store.begin()
    store.add_segment(Segment(first, 0, 0.0, 30.0, "00001/00000.flac", 1))
    (on_its_way,) = store.waiting_segments()
    assert store.delete(first)  # a reset, while the transcriber was busy with it
    second = store.begin()
    assert second != first
    store.add_segment(Segment(second, 0, 0.0, 30.0, f"{second:05d}/00000.flac", 1))
    store.transcribed(
        on_its_way, [Line(first, 0.0, 5.0, "the last visitor's words", "cloud")], "cloud"
    )
    assert store.lines(first) == [] and store.lines(second) == []
    assert len(store.waiting_segments()) == 1  # the new recording's segment still waits
