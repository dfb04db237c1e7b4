"""The database when its file cannot be written: a stand-in, and the file left whole.

Real SQLite files on real disks: a 1 MB tmpfs filled to the last byte, the same remounted
read-only, a folder without write permission, a file of random bytes, and a lock held by another
process. Also the modes the file, its -wal and -shm and the photos folder are created with.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from disks import fill, remount, small_disk

from device.egress import Ledger
from device.errors import StorageError
from device.storage import database as database_module
from device.storage.database import Database, open_or_stand_in, open_state
from device.storage.files import private_folder
from device.storage.memory import ConversationStore, MemoryStore
from device.storage.notes import NoteStore, revise_drafts


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk") as mounted:
        yield mounted


def _notes_file(path: Path, count: int = 5) -> list[str]:
    texts = [f"note {number}" for number in range(count)]
    with Database(path) as database:
        notes = NoteStore(database)
        for text in texts:
            notes.add(text, audio=b"RIFF" + bytes(2000), engine="pocketsphinx", draft=True)
    return texts


def _whole(path: Path) -> list[str]:
    """The notes in ``path``, oldest first, after SQLite's own check of every page."""
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [text for (text,) in connection.execute("SELECT text FROM notes ORDER BY id")]


def test_a_full_disk_is_reported_as_full_not_as_an_io_error(disk: Path) -> None:
    path = disk / "zeropin.db"
    _notes_file(path)
    fill(disk)
    with pytest.raises(StorageError) as caught:
        Database(path)
    message = str(caught.value)
    assert message.startswith("could not open the database: the disk is full"), message
    assert f"free space on the drive holding {path}" in message
    assert "I/O" not in message


def test_on_a_full_disk_the_notes_are_read_saving_is_refused_and_the_file_stays_whole(
    disk: Path,
) -> None:
    path = disk / "zeropin.db"
    texts = _notes_file(path)
    filler = fill(disk)
    with open_or_stand_in(path) as database:
        assert database.access == "read"
        assert database.unsaved is not None and database.unsaved.kind == "full"
        notes = NoteStore(database)
        assert [note.text for note in notes.recent(10)] == texts[::-1]
        with pytest.raises(
            StorageError, match=f"could not save the note: the disk is full.*{path}"
        ):
            notes.add("buy milk")
        with pytest.raises(StorageError, match="could not remember that: the disk is full"):
            MemoryStore(database).remember("the key is under the mat")
        with pytest.raises(StorageError, match="could not delete the notes: the disk is full"):
            notes.delete_all()
        # Nothing to gain from the cloud's words for a draft that cannot be saved: no upload.
        assert revise_drafts(notes, lambda wav: pytest.fail("uploaded a draft")) == 0
        # A cloud answer writes its ledger row first, and the conversation goes on: in memory.
        Ledger(database).append("api.example.com", "text", 120, "chat")
        ConversationStore(database).add("user", "why is the sky blue")
        assert [row.host for row in Ledger(database).recent()] == ["api.example.com"]
        assert notes.count() == len(texts)
    filler.unlink()
    assert _whole(path) == texts
    with Database(path) as reopened:  # with space again, it is the device's database as before
        assert Ledger(reopened).recent() == []
        assert NoteStore(reopened).add("buy milk").text == "buy milk"


def test_a_full_disk_without_a_database_starts_on_an_empty_one_in_memory(disk: Path) -> None:
    path = disk / "state" / "zeropin.db"
    fill(disk)
    with open_or_stand_in(path) as database:
        assert database.access == "memory"
        assert database.unsaved is not None and database.unsaved.kind == "full"
        assert NoteStore(database).recent(5) == []
        with pytest.raises(StorageError, match="could not save the note: the disk is full"):
            NoteStore(database).add("buy milk")
        Ledger(database).append("api.example.com", "text", 10, "chat")


def test_a_read_only_mount_keeps_the_notes_readable_and_names_the_mount(disk: Path) -> None:
    path = disk / "zeropin.db"
    texts = _notes_file(path)
    remount(disk, "ro")
    try:
        with open_or_stand_in(path) as database:
            assert database.access == "read"
            assert database.unsaved is not None and database.unsaved.kind == "read-only"
            assert NoteStore(database).count() == len(texts)
            with pytest.raises(StorageError) as caught:
                NoteStore(database).add("buy milk")
            assert "read-only; check the permissions and mount of" in str(caught.value)
            assert str(path) in str(caught.value)
            Ledger(database).append("api.example.com", "text", 10, "chat")
    finally:
        remount(disk, "rw")
    assert _whole(path) == texts


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any folder; see the mount test")
def test_a_folder_without_write_permission_keeps_the_notes_readable(tmp_path: Path) -> None:
    path = tmp_path / "state" / "zeropin.db"
    texts = _notes_file(path)
    path.parent.chmod(0o500)
    try:
        with open_or_stand_in(path) as database:
            assert database.unsaved is not None and database.unsaved.kind == "read-only"
            assert NoteStore(database).count() == len(texts)
    finally:
        path.parent.chmod(0o700)
    assert _whole(path) == texts


def test_a_damaged_file_is_named_left_as_it_is_and_stood_in_for(tmp_path: Path) -> None:
    path = tmp_path / "zeropin.db"
    garbage = os.urandom(64 * 1024)
    path.write_bytes(garbage)
    with open_or_stand_in(path) as database:
        assert database.access == "memory"
        assert database.unsaved is not None and database.unsaved.kind == "damaged"
        assert f"{path} is not a ZeroPin database or is damaged" in database.unsaved.reason
        with pytest.raises(StorageError, match="could not save the note: .* move it aside"):
            NoteStore(database).add("buy milk")
    assert path.read_bytes() == garbage


def test_readers_without_memory_raise_the_first_error_when_nothing_can_be_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "zeropin.db"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StorageError, match="not a ZeroPin database or is damaged"):
        open_or_stand_in(path, memory=False)


HOLD_A_WRITE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
connection.execute("INSERT INTO notes (text, created_at) VALUES ('theirs', 0)")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
connection.execute("ROLLBACK")
"""


def test_a_lock_held_by_another_program_says_so_not_that_the_disk_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "zeropin.db"
    texts = _notes_file(path, 2)
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_MS", 200)
    with Database(path) as database:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_A_WRITE_LOCK, str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
            with pytest.raises(StorageError) as caught:
                NoteStore(database).add("buy milk")
        finally:
            holder.communicate(timeout=30)
        assert NoteStore(database).count() == len(texts)
    message = str(caught.value)
    assert message.startswith(f"could not save the note: {path} is locked by another program")
    assert "I/O" not in message and "privacy" not in message


def test_the_database_its_wal_and_shm_are_0600_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "state" / "zeropin.db"
    old = os.umask(0)
    try:
        with Database(path) as database:
            NoteStore(database).add("private")
            files = [path, path.with_name("zeropin.db-wal"), path.with_name("zeropin.db-shm")]
            modes = {file.name: stat.S_IMODE(file.stat().st_mode) for file in files}
    finally:
        os.umask(old)
    assert modes == {"zeropin.db": 0o600, "zeropin.db-wal": 0o600, "zeropin.db-shm": 0o600}


def test_a_database_others_could_read_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "zeropin.db"
    Database(path).close()
    path.chmod(0o644)  # as SQLite made it before
    with Database(path) as database:
        NoteStore(database).add("private")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.with_name("zeropin.db-wal").stat().st_mode) == 0o600


def test_a_umask_that_would_lock_the_owner_out_still_gives_0600(tmp_path: Path) -> None:
    path = tmp_path / "zeropin.db"
    old = os.umask(0o277)
    try:
        Database(path).close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_photos_folder_is_0700_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        made = private_folder(tmp_path / "state" / "photos")
        loose = tmp_path / "old-photos"
        loose.mkdir(mode=0o755)
        private_folder(loose)
        open_state(tmp_path / "new" / "zeropin.db", tmp_path / "new" / "photos").close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "photos").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "zeropin.db").stat().st_mode) == 0o600
