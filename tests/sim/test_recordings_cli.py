"""``zeropin recordings list|show|export|delete`` on a real state directory: a SQLite database
made by the RecordingStore and FLAC segments of espeak-ng speech, read through the real command
line as a user runs it."""

from __future__ import annotations

import json
import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest

from device.cli.main import main
from device.cli.recordings import clock
from device.speaking.tts import EspeakSynthesizer
from device.storage.database import Database
from device.storage.recorder import POWER_CUT, flac_bytes, read_segment
from device.storage.recordings import (
    RECORDINGS_FOLDER,
    Line,
    Recording,
    RecordingStore,
    Segment,
    recording_folder,
)

SENTENCES = (
    "Let's start with the budget for the spring fair.",
    "We agreed to spend four hundred pounds on the stage.",
    "Priya will book the sound system by Friday.",
)
SUMMARY = (
    "Key points\n- The stage costs four hundred pounds.\nAction items\n- Priya books the sound."
)
STARTED = 1_765_000_000.0  # the first recording's start, unix seconds


@pytest.fixture(scope="module")
def speech() -> list[bytes]:
    tts = EspeakSynthesizer("en-us", 175)
    return [tts.synthesize(sentence) for sentence in SENTENCES]


def _record(store: RecordingStore, root: Path, pcms: list[bytes]) -> int:
    """A recording begun now with one FLAC segment per PCM, as the recorder saves them."""
    recording_id = store.begin()
    folder = recording_folder(root, recording_id)
    folder.mkdir(parents=True)
    start = 0.0
    for number, pcm in enumerate(pcms):
        path = folder / f"{number:05d}.flac"
        path.write_bytes(flac_bytes(np.frombuffer(pcm, dtype="<i2")))
        seconds = len(pcm) / 32000
        file = path.relative_to(root).as_posix()
        store.add_segment(Segment(recording_id, number, start, seconds, file, path.stat().st_size))
        start += seconds
    return recording_id


def _transcribe(store: RecordingStore, recording_id: int, number: int, text: str) -> None:
    segment = store.segments(recording_id)[number]
    line = Line(
        recording_id, segment.start_s + 0.2, segment.start_s + segment.seconds, text, "vosk"
    )
    store.transcribed(segment, [line], "vosk")


@pytest.fixture
def state(tmp_path: Path, speech: list[bytes]) -> Path:
    """1: a meeting (three segments, two transcribed, a summary), stopped by the wearer;
    2: one a power cut ended, transcribed; 3: one being recorded now."""
    state = tmp_path / "state"
    root = state / RECORDINGS_FOLDER
    now = [STARTED]
    with Database(state / "zeropin.db") as database:
        store = RecordingStore(database, clock=lambda: now[0])
        meeting = _record(store, root, speech)
        _transcribe(store, meeting, 0, SENTENCES[0])
        _transcribe(store, meeting, 1, SENTENCES[1])
        store.end(meeting, "wearer", STARTED + 600)
        store.summarised(meeting, SUMMARY, "gpt-4o-mini")
        now[0] = STARTED + 3600
        cut = _record(store, root, speech[2:])
        _transcribe(store, cut, 0, SENTENCES[2])
        store.end(cut, POWER_CUT)
        now[0] = STARTED + 7200
        _record(store, root, speech[:1])
    return state


def _zeropin(state: Path, capsys: pytest.CaptureFixture[str], *arguments: str):  # noqa: ANN202
    """(exit status, stdout, stderr) of ``zeropin ARGUMENTS`` on ``state``."""
    status = main(["--set", f"device.state_dir={state}", *arguments])
    out, err = capsys.readouterr()
    return status, out, err


def _recording(state: Path, recording_id: int) -> Recording:
    with Database(state / "zeropin.db") as database:
        recording = RecordingStore(database).get(recording_id)
    assert recording is not None
    return recording


def test_list_shows_the_newest_first_with_length_transcription_size_and_ending(state, capsys):
    status, out, err = _zeropin(state, capsys, "recordings", "list")
    assert status == 0, err
    lines = out.splitlines()
    assert [int(line.split()[0]) for line in lines] == [3, 2, 1]
    meeting = _recording(state, 1)
    length = int(meeting.seconds)
    assert meeting.title in lines[2]
    assert f"  0:00:{length:02d}  " in lines[2]
    assert "3 segments, 1 to transcribe" in lines[2]
    assert "  summary  " in lines[2]
    assert f"{meeting.bytes / 1e6:.1f} MB" in lines[2]
    assert lines[2].endswith("stopped by the wearer")
    assert "1 segments, all transcribed" in lines[1] and "no summary" in lines[1]
    assert lines[1].endswith("cut off (power cut)")
    assert lines[0].endswith("recording now")
    assert _zeropin(state, capsys, "recordings")[1] == out  # `zeropin recordings` alone lists


def test_show_prints_the_summary_then_the_timed_transcript_and_what_waits(state, capsys):
    status, out, err = _zeropin(state, capsys, "recordings", "show", "1")
    assert status == 0, err
    first = len(read_segment(state / RECORDINGS_FOLDER / "00001/00000.flac")) / 32000
    assert out.index("Summary (gpt-4o-mini):") < out.index("Transcript:")
    assert "  - The stage costs four hundred pounds." in out
    lines = out.splitlines()
    assert f"[0:00] {SENTENCES[0]}" in lines
    assert f"[{clock(first + 0.2)}] {SENTENCES[1]}" in lines
    assert out.index(SENTENCES[0]) < out.index(SENTENCES[1])
    waiting = out[out.index("Waiting for transcription: 1 segment(s)") :]
    assert "00001/00002.flac  from 0:0" in waiting


def test_times_are_minutes_and_seconds_then_hours_past_an_hour() -> None:
    assert [clock(s) for s in (0, 9.9, 65, 3599, 3600, 3725.5)] == [
        "0:00",
        "0:09",
        "1:05",
        "59:59",
        "1:00:00",
        "1:02:05",
    ]


def test_markdown_export_has_the_title_summary_and_timed_transcript(state, capsys, tmp_path):
    status, out, err = _zeropin(state, capsys, "recordings", "export", "1")
    assert status == 0, err
    meeting = _recording(state, 1)
    assert out.startswith(f"# {meeting.title}\n")
    assert out.index("## Summary") < out.index(SUMMARY) < out.index("## Transcript")
    assert f"- [0:00] {SENTENCES[0]}\n" in out
    assert "_1 segment(s) not transcribed yet._" in out
    status, said, err = _zeropin(
        state, capsys, "recordings", "export", "1", "--out", str(tmp_path / "meeting.md")
    )
    assert status == 0, err
    assert said == f"wrote recording 1 to {tmp_path / 'meeting.md'}\n"
    assert (tmp_path / "meeting.md").read_text() == out
    assert (tmp_path / "meeting.md").stat().st_mode & 0o777 == 0o600


def test_json_export_round_trips_the_recording_its_lines_and_segments(state, capsys, tmp_path):
    status, out, err = _zeropin(state, capsys, "recordings", "export", "2", "--format", "json")
    assert status == 0, err
    exported = json.loads(out)
    cut = _recording(state, 2)
    with Database(state / "zeropin.db") as database:
        store = RecordingStore(database)
        lines, segments = store.lines(2), store.segments(2)
    assert exported["id"] == 2 and exported["title"] == cut.title
    assert exported["started_at"] == cut.started_at and exported["ended_at"] == cut.ended_at
    assert exported["ended_by"] == POWER_CUT and exported["seconds"] == cut.seconds
    assert exported["summary"] == "" and exported["bytes"] == cut.bytes
    assert exported["lines"] == [
        {"start_s": x.start_s, "end_s": x.end_s, "text": x.text, "engine": x.engine} for x in lines
    ]
    assert exported["segments"] == [
        {"file": s.file, "start_s": s.start_s, "seconds": s.seconds, "transcribed_by": "vosk"}
        for s in segments
    ]
    _zeropin(state, capsys, "recordings", "export", "2", "--format", "json", "--out", str(tmp_path))
    assert json.loads((tmp_path / "recording-00002.json").read_text()) == exported


def _wav(path: Path) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(str(path), "rb") as wav:
        form = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
        return form, wav.readframes(wav.getnframes())


def test_audio_export_is_every_segment_in_order_in_one_wav(
    state, capsys, tmp_path, monkeypatch, speech
):
    monkeypatch.chdir(tmp_path)
    status, out, err = _zeropin(state, capsys, "recordings", "export", "1", "--format", "audio")
    assert status == 0, err
    segments = sorted((state / RECORDINGS_FOLDER / "00001").glob("*.flac"))
    form, pcm = _wav(tmp_path / "recording-00001.wav")
    assert form == (1, 2, 16000)
    assert pcm == b"".join(read_segment(path) for path in segments) == b"".join(speech)
    assert out.startswith(f"wrote recording 1 to recording-00001.wav ({clock(len(pcm) / 32000)}")
    assert (tmp_path / "recording-00001.wav").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    status, _, err = _zeropin(
        state, capsys, "recordings", "export", "1", "--format", "audio", "--out", "x/talk.wav"
    )
    assert status == 0, err
    assert _wav(tmp_path / "x" / "talk.wav")[1] == pcm


def test_audio_export_holds_one_segment_at_a_time(tmp_path, capsys):
    """Twelve 10 s segments (3.8 MB of PCM): the export never holds much more than one."""
    state = tmp_path / "state"
    rng = np.random.default_rng(7)
    pcms = [rng.integers(-3000, 3000, 160_000, dtype="<i2").tobytes() for _ in range(12)]
    with Database(state / "zeropin.db") as database:
        store = RecordingStore(database)
        _record(store, state / RECORDINGS_FOLDER, pcms)
        store.end(1, "wearer")
    tracemalloc.start()
    try:
        status, _, err = _zeropin(
            state, capsys, "recordings", "export", "1", "--format", "audio", "--out", str(tmp_path)
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 0, err
    assert _wav(tmp_path / "recording-00001.wav")[1] == b"".join(pcms)
    assert peak < 1_600_000, f"{peak / 1e6:.1f} MB held at once"


def test_delete_removes_the_audio_folder_and_every_row(state, capsys):
    meeting = _recording(state, 1)
    status, out, err = _zeropin(state, capsys, "recordings", "delete", "1")
    assert status == 0, err
    assert out == (
        f"deleted recording 1 ({meeting.title}, {clock(meeting.seconds)}, "
        f"{meeting.bytes / 1e6:.1f} MB)\n"
    )
    assert not (state / RECORDINGS_FOLDER / "00001").exists()
    with Database(state / "zeropin.db") as database:
        store = RecordingStore(database)
        assert store.get(1) is None and store.segments(1) == [] and store.lines(1) == []
        assert store.search("budget") == []  # its transcript is gone from the index too
        assert [r.id for r in store.recent()] == [3, 2]
    assert (state / RECORDINGS_FOLDER / "00002" / "00000.flac").is_file()
    status, _, err = _zeropin(state, capsys, "recordings", "show", "1")
    assert status == 1 and "no recording 1" in err


def test_a_recording_still_being_recorded_is_not_deleted(state, capsys):
    status, out, err = _zeropin(state, capsys, "recordings", "delete", "3")
    assert status == 1 and out == ""
    assert err.startswith("zeropin: recording 3 is still being recorded: stop it first")
    assert len(err.splitlines()) == 1
    assert (state / RECORDINGS_FOLDER / "00003" / "00000.flac").is_file()
    assert _recording(state, 3).segments == 1


@pytest.mark.parametrize(
    "command",
    [["show", "42"], ["export", "42"], ["export", "42", "--format", "audio"], ["delete", "42"]],
)
def test_an_unknown_id_is_one_line_naming_it_and_the_list(state, capsys, command):
    status, out, err = _zeropin(state, capsys, "recordings", *command)
    assert status == 1 and out == ""
    assert err == (
        f"zeropin: no recording 42 in {state / 'zeropin.db'}: `zeropin recordings list` shows "
        "the recordings there are\n"
    )


def test_without_a_database_there_are_no_recordings_and_none_is_made(tmp_path, capsys):
    state = tmp_path / "state"
    status, out, err = _zeropin(state, capsys, "recordings", "list")
    assert status == 0, err
    assert (
        out == f'no recordings yet in {state / "zeropin.db"}: say "start recording" to make one\n'
    )
    for command in (["show", "1"], ["delete", "1"]):
        status, out, err = _zeropin(state, capsys, "recordings", *command)
        assert status == 1 and out == ""
        assert (
            err
            == f"zeropin: no recording 1: there are no recordings yet (no {state / 'zeropin.db'})\n"
        )
    assert not state.exists()
