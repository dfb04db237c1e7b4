"""NoteStore and Database against real SQLite files in a temp dir."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from device.errors import StorageError, ZeroPinError
from device.storage.database import MIGRATIONS, Database
from device.storage.notes import Note, NoteStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "zeropin.db"


@pytest.fixture
def db(db_path: Path):
    with Database(db_path) as database:
        yield database


def ticking_clock(start: float = 1_700_000_000.0):
    """A clock that advances one second per call, so ordering is deterministic."""
    counter = itertools.count()
    return lambda: start + next(counter)


def test_add_strips_and_returns_note(db: Database) -> None:
    store = NoteStore(db, clock=lambda: 1234.5)
    note = store.add("  buy oat milk \n")
    assert note == Note(id=note.id, text="buy oat milk", created_at=1234.5)
    assert store.count() == 1


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_add_rejects_empty_text(db: Database, text: str) -> None:
    with pytest.raises(ValueError):
        NoteStore(db).add(text)


def test_recent_is_newest_first_and_limited(db: Database) -> None:
    store = NoteStore(db, clock=ticking_clock())
    for text in ["one", "two", "three"]:
        store.add(text)
    assert [n.text for n in store.recent(2)] == ["three", "two"]
    assert [n.text for n in store.recent(10)] == ["three", "two", "one"]
    assert store.recent(0) == []


def test_same_timestamp_orders_by_id(db: Database) -> None:
    store = NoteStore(db, clock=lambda: 5.0)
    store.add("first")
    store.add("second")
    assert [n.text for n in store.recent(2)] == ["second", "first"]


def test_delete_all_returns_count(db: Database) -> None:
    store = NoteStore(db)
    for text in ["a", "b", "c"]:
        store.add(text)
    assert store.delete_all() == 3
    assert store.count() == 0
    assert store.delete_all() == 0


def test_search_needs_every_word_case_insensitive(db: Database) -> None:
    store = NoteStore(db, clock=ticking_clock())
    store.add("Call Anna about the Garden party")
    store.add("garden: water the tomatoes")
    store.add("call the dentist")
    assert [n.text for n in store.search("garden")] == [
        "garden: water the tomatoes",
        "Call Anna about the Garden party",
    ]
    assert [n.text for n in store.search("CALL garden")] == ["Call Anna about the Garden party"]
    assert store.search("garden dentist") == []
    assert store.search("   ") == []
    assert len(store.search("the", limit=2)) == 2


def test_search_treats_like_wildcards_literally(db: Database) -> None:
    store = NoteStore(db)
    store.add("battery at 50% today")
    store.add("battery at 505 volts")
    store.add("file name my_notes")
    store.add("file name mynotes")
    assert [n.text for n in store.search("50%")] == ["battery at 50% today"]
    assert [n.text for n in store.search("my_notes")] == ["file name my_notes"]


def test_notes_survive_reopen(db_path: Path) -> None:
    with Database(db_path) as db:
        NoteStore(db).add("remember me")
    with Database(db_path) as db:
        assert [n.text for n in NoteStore(db).recent(5)] == ["remember me"]
        assert db.schema_version == len(MIGRATIONS)


def test_wal_mode_foreign_keys_and_parent_dirs(db: Database, db_path: Path) -> None:
    assert db_path.parent.is_dir()
    assert db.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_second_connection_sees_committed_notes(db: Database, db_path: Path) -> None:
    store = NoteStore(db)
    store.add("first")
    reader = sqlite3.connect(db_path)
    try:
        assert reader.execute("SELECT text FROM notes").fetchall() == [("first",)]
        store.add("second")
        assert reader.execute("SELECT count(*) FROM notes").fetchone()[0] == 2
    finally:
        reader.close()


def test_close_is_idempotent_and_closed_db_raises(db_path: Path) -> None:
    db = Database(db_path)
    db.close()
    db.close()
    with pytest.raises(StorageError, match="closed"):
        NoteStore(db).count()


def test_disk_full_keeps_earlier_notes(db: Database, db_path: Path) -> None:
    store = NoteStore(db)
    page_count = db.connection.execute("PRAGMA page_count").fetchone()[0]
    # A per-connection cap a few pages above the current size: SQLite itself reports
    # SQLITE_FULL ("database or disk is full") once the notes outgrow it.
    db.connection.execute(f"PRAGMA max_page_count = {page_count + 4}")
    saved: list[str] = []
    with pytest.raises(StorageError) as caught:
        for number in range(1000):
            text = f"note {number} " + "x" * 1500
            store.add(text)
            saved.append(text)
    message = str(caught.value)
    assert "could not save the note: the disk is full" in message
    assert str(db_path) in message
    assert "\n" not in message
    assert isinstance(caught.value, OSError) and isinstance(caught.value, ZeroPinError)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert len(saved) >= 2
    assert store.count() == len(saved)  # the connection is still usable after the rollback
    db.close()

    with Database(db_path) as reopened:
        assert [n.text for n in NoteStore(reopened).recent(1000)] == saved[::-1]
        assert reopened.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_read_only_database_raises_storage_error(db: Database) -> None:
    store = NoteStore(db)
    store.add("kept")
    db.connection.execute("PRAGMA query_only = ON")  # root ignores file modes; SQLite does not
    with pytest.raises(StorageError, match="could not save the note: the database is read-only"):
        store.add("lost")
    with pytest.raises(StorageError, match="could not delete the notes"):
        store.delete_all()
    assert [n.text for n in store.recent(5)] == ["kept"]


def test_garbage_file_raises_storage_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "zeropin.db"
    path.write_bytes(b"this is not an SQLite database at all" * 200)
    with pytest.raises(StorageError) as caught:
        Database(path)
    assert str(path) in str(caught.value)
    assert "not a ZeroPin database or is damaged" in str(caught.value)


def test_unopenable_path_raises_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(StorageError, match="could not open the database"):
        Database(blocker / "zeropin.db")


def test_newer_schema_is_refused(db_path: Path) -> None:
    with Database(db_path) as db:
        db.connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StorageError, match="update ZeroPin"):
        Database(db_path)


def test_failed_block_rolls_back(db: Database) -> None:
    store = NoteStore(db)
    store.add("kept")
    with pytest.raises(RuntimeError), db.transaction("test") as connection:
        connection.execute("INSERT INTO notes (text, created_at) VALUES ('gone', 0)")
        raise RuntimeError("boom")
    assert [n.text for n in store.recent(5)] == ["kept"]


def test_negative_limit_rejected(db: Database) -> None:
    with pytest.raises(ValueError):
        NoteStore(db).recent(-1)


def test_a_note_and_its_audio_are_saved_together_or_not_at_all(db: Database) -> None:
    store = NoteStore(db)
    kept = store.add("kept", b"RIFF" + bytes(2000), "pocketsphinx", draft=True)
    page_count = db.connection.execute("PRAGMA page_count").fetchone()[0]
    db.connection.execute(f"PRAGMA max_page_count = {page_count + 2}")
    with pytest.raises(StorageError, match="could not save the note: the disk is full"):
        store.add("too big to keep", b"RIFF" + bytes(64000), "pocketsphinx", draft=True)
    assert [n.text for n in store.recent(5)] == ["kept"]  # no note without its audio
    assert db.query("count", "SELECT count(*) FROM note_audio") == [(1,)]
    assert store.audio(kept.id) == b"RIFF" + bytes(2000)


def test_deleting_the_notes_deletes_their_audio(db: Database) -> None:
    store = NoteStore(db)
    store.add("one", b"RIFF1")
    store.add("two")
    assert store.delete_all() == 2
    assert db.query("count", "SELECT count(*) FROM note_audio") == [(0,)]


def test_a_revision_keeps_the_first_text_and_a_blank_one_keeps_the_draft_as_it_is(
    db: Database,
) -> None:
    store = NoteStore(db, clock=ticking_clock())
    first = store.add("by oat mill", b"RIFF1", "pocketsphinx", draft=True)
    second = store.add("cold dentist", b"RIFF2", "pocketsphinx", draft=True)
    store.add("typed")
    assert [n.id for n in store.drafts()] == [first.id, second.id]  # oldest first
    store.revise(first.id, " buy oat milk ", "cloud")
    store.revise(second.id, "", "cloud")  # the cloud heard nothing: keep the guess
    newest, revised_blank, revised = store.recent(5)
    assert (revised.text, revised.first_heard, revised.engine) == (
        "buy oat milk", "by oat mill", "cloud",
    )  # fmt: skip
    assert (revised_blank.text, revised_blank.draft, revised_blank.engine) == (
        "cold dentist", False, "pocketsphinx",
    )  # fmt: skip
    assert store.drafts() == []


def test_notes_from_before_audio_are_kept_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from device.storage import database

    path = tmp_path / "zeropin.db"
    with monkeypatch.context() as before_audio:
        before_audio.setattr(database, "MIGRATIONS", MIGRATIONS[:2])
        with Database(path) as old, old.transaction("save") as connection:
            connection.execute("INSERT INTO notes (text, created_at) VALUES ('old note', 5)")
    with Database(path) as db:
        assert db.schema_version == len(MIGRATIONS) >= 3
        [note] = NoteStore(db).recent(5)
        assert note == Note(note.id, "old note", 5.0, "", False, "", False)
