"""``zeropin workshop reset`` on a real database with real rows: what goes, what stays, and a
daemon writing at the same moment."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from device.egress import Ledger
from device.storage.database import Database
from device.storage.memory import ConversationStore, MemoryStore
from device.storage.notes import NoteStore
from device.storage.recordings import Line, RecordingStore, Segment
from device.storage.reset import RESTART_HINT, wipe_visitor
from device.storage.timings import TurnTiming, TurnTimings
from device.storage.usage import CloudUsage

VISITOR_WORDS = "my locker code is 4417"


def _visited(state: Path) -> None:
    """A state folder as a visitor leaves it."""
    with Database(state / "zeropin.db") as db:
        NoteStore(db).add(VISITOR_WORDS, audio=b"RIFF-not-really-a-wav")
        NoteStore(db).add("buy milk")
        MemoryStore(db).remember("the wearer's name is Ada")
        ConversationStore(db).add("user", "why is the sky blue")
        ConversationStore(db).add("assistant", "Because of scattering.")
        timing = TurnTiming(
            time.time(), "wake", "brain", "played", "tflite", "pocketsphinx", "espeak-ng",
            "gateway", 1.0, 2.0, 40.0, 45.0, 300.0, 350.0, 900.0,
        )  # fmt: skip
        TurnTimings(db).add(timing)
        CloudUsage(db).used_tokens(CloudUsage(db).sent(time.time()), 120)
        ledger = Ledger(db)
        ledger.append("http://192.168.4.1:4000/v1", "text", 812, "chat", content=VISITOR_WORDS)
        ledger.append("http://192.168.4.1:4000/v1", "image", 40_000, "vision")
        recordings = RecordingStore(db)
        recording = recordings.begin()
        recordings.add_segment(Segment(recording, 0, 0.0, 30.0, "00001/00000.flac", 4))
        line = Line(recording, 2.0, 5.0, VISITOR_WORDS + " said in a meeting", "cloud")
        recordings.transcribed(recordings.waiting_segments()[0], [line], "cloud")
        recordings.end(recording, "wearer")
    (state / "photos").mkdir(mode=0o700)
    (state / "photos/20250101-120000.jpg").write_bytes(b"\xff\xd8 a photo")
    (state / "recordings/00001").mkdir(parents=True)
    (state / "recordings/00001/00000.flac").write_bytes(b"fLaC")


def _reset(tmp_path: Path, state: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``zeropin workshop reset`` from the shell, as a teacher runs it (no terminal to ask on)."""
    (tmp_path / "none.toml").write_text("")
    return subprocess.run(
        [sys.executable, "-m", "device.cli", "--config", str(tmp_path / "none.toml"),
         "--set", f"device.state_dir={state}", "workshop", "reset", *options],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2],
        env={**os.environ, "HOME": str(tmp_path)}, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _count(db: Database, table: str) -> int:
    return int(db.query("count", f"SELECT count(*) FROM {table}")[0][0])


def test_reset_removes_the_visitor_and_keeps_the_ledger(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    _visited(state)
    result = _reset(tmp_path, state, "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"{state}: removed 1 note recording, 2 notes, 1 transcript line, 1 recording segment, "
        "1 recording, 1 remembered fact, 2 conversation turns, 1 turn timing, "
        "1 file in photos/, 1 file in recordings/\n"
        "kept the settings, the models, the budget counts and the privacy ledger (2 rows; the "
        "question text of 1 blanked)\n"
        f"{RESTART_HINT}\n"
    )
    with Database(state / "zeropin.db") as db:
        for table in (
            "notes", "note_audio", "memory", "turns", "turn_timings", "recordings",
            "recording_segments", "recording_lines", "recording_lines_fts",
        ):  # fmt: skip
            assert _count(db, table) == 0, table
        assert _count(db, "cloud_usage") == 1  # the teacher's budget, not the visitor's
        rows = db.query("read", "SELECT host, kind, size_bytes, content FROM egress_ledger")
        assert rows == [("192.168.4.1", "text", 812, ""), ("192.168.4.1", "image", 40_000, "")]
    assert list((state / "photos").iterdir()) == []  # the folder stays, still private
    assert (state / "photos").stat().st_mode & 0o777 == 0o700
    assert not any(p.is_file() for p in (state / "recordings").rglob("*"))
    # secure_delete and the checkpoint: the words are gone from the file itself, not just hidden.
    for file in state.glob("zeropin.db*"):
        assert VISITOR_WORDS.encode() not in file.read_bytes(), file
    again = _reset(tmp_path, state)
    assert (again.returncode, again.stderr) == (
        2, "zeropin workshop reset: add --yes to wipe without asking\n"
    )  # fmt: skip


def test_reset_waits_for_a_write_under_way_and_takes_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "zeropin.db"
    with Database(path) as daemon, Database(path) as cli:
        notes = NoteStore(daemon)
        notes.add("first")
        finished = threading.Event()
        # The daemon is in the middle of a write when the reset starts.
        with daemon.transaction("save two notes") as connection:
            connection.execute("INSERT INTO notes (text, created_at) VALUES ('second', 0)")
            worker = threading.Thread(
                target=lambda: (wipe_visitor(cli, tmp_path), finished.set()), daemon=True
            )
            worker.start()
            time.sleep(0.3)
            assert not finished.is_set()  # BEGIN IMMEDIATE waits for the daemon's transaction
            connection.execute("INSERT INTO notes (text, created_at) VALUES ('third', 0)")
        worker.join(timeout=10)
        assert finished.is_set()
        assert _count(daemon, "notes") == 0  # all three went, none half-way
        notes.add("next visitor's note")  # and the daemon goes on writing
        assert [n.text for n in notes.recent(5)] == ["next visitor's note"]


def test_reset_from_the_shell_waits_for_a_recording_to_end(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Database(state / "zeropin.db") as db:
        NoteStore(db).add("buy milk")
        RecordingStore(db).begin()  # the daemon is recording into it
    result = _reset(tmp_path, state, "--yes")
    assert result.returncode == 1 and "a recording is under way" in result.stderr
    with Database(state / "zeropin.db") as db:
        assert NoteStore(db).count() == 1  # nothing was wiped
