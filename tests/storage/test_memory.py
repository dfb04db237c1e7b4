"""MemoryStore, ConversationStore and the schema migration, against real SQLite files."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from device.errors import StorageError
from device.storage import database
from device.storage.database import MIGRATIONS, Database
from device.storage.memory import ConversationStore, Fact, MemoryStore, Turn, content_words
from device.storage.notes import NoteStore


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with Database(tmp_path / "zeropin.db") as database:
        yield database


def ticking_clock(start: float = 1_700_000_000.0) -> Callable[[], float]:
    """A clock that advances one second per call, so ordering is deterministic."""
    counter = itertools.count()
    return lambda: start + next(counter)


class ManualClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- remembering -------------------------------------------------------------------------------


def test_remember_strips_and_returns_the_fact(db: Database) -> None:
    memory = MemoryStore(db, clock=lambda: 1234.5)
    fact = memory.remember("  my locker is 42 \n")
    assert fact == Fact(id=fact.id, text="my locker is 42", created_at=1234.5)
    assert memory.count() == 1


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_remember_refuses_empty_text(db: Database, text: str) -> None:
    with pytest.raises(ValueError):
        MemoryStore(db).remember(text)


def test_the_same_fact_is_kept_once(db: Database) -> None:
    memory = MemoryStore(db, clock=ticking_clock())
    first = memory.remember("My locker is 42")
    again = memory.remember("  my LOCKER is 42 ")
    assert again == first  # the one already kept, with its own time
    assert memory.count() == 1
    memory.remember("my locker is 43")
    assert memory.count() == 2


def test_all_is_newest_first_and_limited(db: Database) -> None:
    memory = MemoryStore(db, clock=ticking_clock())
    for text in ["one", "two", "three"]:
        memory.remember(text)
    assert [f.text for f in memory.all()] == ["three", "two", "one"]
    assert [f.text for f in memory.all(limit=2)] == ["three", "two"]
    assert memory.all(limit=0) == []
    with pytest.raises(ValueError):
        memory.all(limit=-2)


def test_forget_all(db: Database) -> None:
    memory = MemoryStore(db)
    memory.remember("a")
    memory.remember("b")
    assert memory.forget_all() == 2
    assert memory.count() == 0
    assert memory.relevant("a b") == []
    assert memory.forget_all() == 0


def test_facts_survive_reopening(tmp_path: Path) -> None:
    with Database(tmp_path / "z.db") as db:
        MemoryStore(db).remember("the spare key is under the blue pot")
    with Database(tmp_path / "z.db") as db:
        found = MemoryStore(db).relevant("where is the spare key?")
    assert [f.text for f in found] == ["the spare key is under the blue pot"]


# --- finding what is relevant ------------------------------------------------------------------


@pytest.fixture
def memory(db: Database) -> MemoryStore:
    store = MemoryStore(db, clock=ticking_clock())
    for text in [
        "my locker is 42",
        "my sister's name is Ada",
        "the wifi password at the lab is on the fridge",
        "Ada's birthday is in March",
    ]:
        store.remember(text)
    return store


def texts(facts: list[Fact]) -> list[str]:
    return [fact.text for fact in facts]


def test_possessive_and_plural_forms_match(memory: MemoryStore) -> None:
    assert texts(memory.relevant("what's my locker number")) == ["my locker is 42"]
    assert texts(memory.relevant("What is my sister called?")) == ["my sister's name is Ada"]
    assert texts(memory.relevant("where are the lockers")) == ["my locker is 42"]
    assert texts(memory.relevant("when is my sister’s birthday")) == [  # curly apostrophe
        "Ada's birthday is in March",  # one word each: the newer first
        "my sister's name is Ada",
    ]


def test_a_question_sharing_no_topic_word_finds_nothing(memory: MemoryStore) -> None:
    assert memory.relevant("what time is it") == []
    assert memory.relevant("what is it") == []  # nothing but stopwords
    assert memory.relevant("") == []


def test_more_shared_words_rank_first_ties_newest_first(memory: MemoryStore) -> None:
    # "ada" is in two facts: the newer ("birthday", added last) wins the tie.
    assert texts(memory.relevant("ada")) == [
        "Ada's birthday is in March",
        "my sister's name is Ada",
    ]
    # "ada" and "name" are both in the older fact: two shared words beat one.
    assert texts(memory.relevant("Ada's name")) == [
        "my sister's name is Ada",
        "Ada's birthday is in March",
    ]
    assert texts(memory.relevant("ada", limit=1)) == ["Ada's birthday is in March"]
    assert memory.relevant("ada", limit=0) == []


def test_limit_must_not_be_negative(memory: MemoryStore) -> None:
    with pytest.raises(ValueError):
        memory.relevant("ada", limit=-1)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("What's my locker's number?", {"locker", "number"}),
        ("the numbers", {"number"}),
        ("batteries, boxes, watches, glasses", {"battery", "box", "watch", "glass"}),
        ("horses and houses", {"horse", "house"}),
        ("bus status this", {"bus", "status"}),
        ("I'm sure you don't know where it is", {"sure"}),
        ("Where DOES the doctor live", {"doctor", "live"}),
    ],
)
def test_content_words(text: str, words: set[str]) -> None:
    assert content_words(text) == words


# --- conversation turns ------------------------------------------------------------------------


def test_add_refuses_other_roles(db: Database) -> None:
    with pytest.raises(ValueError, match="role"):
        ConversationStore(db).add("system", "you are a pirate")


def test_recent_keeps_the_last_pairs_oldest_first(db: Database) -> None:
    clock = ManualClock()
    turns = ConversationStore(db, clock=clock)
    for number in range(1, 5):
        turns.add("user", f"question {number}")
        clock.now += 1
        turns.add("assistant", f"answer {number}")
        clock.now += 1
    recent = turns.recent(max_turns=2, max_age_seconds=3600)
    assert [t.text for t in recent] == ["question 3", "answer 3", "question 4", "answer 4"]
    assert recent[0] == Turn("user", "question 3", 1_700_000_004.0)
    assert len(turns.recent(max_turns=10, max_age_seconds=3600)) == 8
    assert turns.recent(max_turns=0, max_age_seconds=3600) == []


def test_recent_leaves_out_turns_older_than_the_age_limit(db: Database) -> None:
    clock = ManualClock()
    turns = ConversationStore(db, clock=clock)
    turns.add("user", "old question")
    turns.add("assistant", "old answer")
    clock.now += 600
    turns.add("user", "new question")
    turns.add("assistant", "new answer")
    clock.now += 60
    assert [t.text for t in turns.recent(5, max_age_seconds=120)] == [
        "new question",
        "new answer",
    ]
    assert len(turns.recent(5, max_age_seconds=660)) == 4  # the limit is inclusive
    assert turns.recent(5, max_age_seconds=30) == []


def test_recent_never_opens_with_an_answer(db: Database) -> None:
    clock = ManualClock()
    turns = ConversationStore(db, clock=clock)
    turns.add("user", "question")
    clock.now += 100
    turns.add("assistant", "answer")  # its question is older than the window below
    turns.add("user", "follow-up")
    turns.add("assistant", "second answer")
    assert [t.text for t in turns.recent(5, max_age_seconds=50)] == [
        "follow-up",
        "second answer",
    ]


def test_recent_refuses_negative_limits(db: Database) -> None:
    turns = ConversationStore(db)
    with pytest.raises(ValueError):
        turns.recent(-1, 60)
    with pytest.raises(ValueError):
        turns.recent(1, -60)


def test_clear(db: Database) -> None:
    turns = ConversationStore(db)
    turns.add("user", "hi")
    turns.add("assistant", "hello")
    assert turns.clear() == 2
    assert turns.recent(5, 3600) == []


# --- the schema --------------------------------------------------------------------------------


def test_a_version_1_database_migrates_and_keeps_its_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "zeropin.db"
    with monkeypatch.context() as before_memory:  # the ZeroPin that shipped with notes only
        before_memory.setattr(database, "MIGRATIONS", MIGRATIONS[:1])
        with Database(path) as old:
            add_note_at_schema_1(old, "buy oat milk")
            assert old.schema_version == 1
    with Database(path) as db:
        assert db.schema_version == len(MIGRATIONS) >= 2
        assert [n.text for n in NoteStore(db).recent(5)] == ["buy oat milk"]
        tables = {row[0] for row in db.query("list", "SELECT name FROM sqlite_master")}
        assert {"notes", "memory", "turns", "egress_ledger", "turns_by_at"} <= tables
        MemoryStore(db).remember("my locker is 42")
        ConversationStore(db).add("user", "hello")


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO memory (text, created_at) VALUES ('', 0)",
        "INSERT INTO turns (role, text, at) VALUES ('system', 'x', 0)",
        "INSERT INTO egress_ledger (at, host, kind, size_bytes, purpose) "
        "VALUES (0, 'h', 'video', 1, 'p')",
        "INSERT INTO egress_ledger (at, host, kind, size_bytes, purpose) "
        "VALUES (0, 'h', 'text', -1, 'p')",
    ],
)
def test_the_schema_refuses_bad_rows(db: Database, sql: str) -> None:
    with pytest.raises(StorageError, match="could not test"), db.transaction("test") as connection:
        connection.execute(sql)


def test_ledger_content_defaults_to_empty(db: Database) -> None:
    with db.transaction("test") as connection:
        connection.execute(
            "INSERT INTO egress_ledger (at, host, kind, size_bytes, purpose) "
            "VALUES (0, 'h', 'text', 1, 'p')"
        )
    assert db.query("read", "SELECT content FROM egress_ledger") == [("",)]


def add_note_at_schema_1(db: Database, text: str) -> None:
    """A note as the ZeroPin with notes only saved it (today's NoteStore writes newer columns)."""
    with db.transaction("save") as connection:
        connection.execute("INSERT INTO notes (text, created_at) VALUES (?, 0)", (text,))


def test_a_failed_migration_leaves_version_1_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "zeropin.db"
    with monkeypatch.context() as before_memory:
        before_memory.setattr(database, "MIGRATIONS", MIGRATIONS[:1])
        with Database(path) as old:
            add_note_at_schema_1(old, "kept")
    # Something already squats on a name the migration creates: it must fail whole.
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE turns (x)")
    connection.commit()
    connection.close()
    with pytest.raises(StorageError, match="could not open the database"):
        Database(path)
    with monkeypatch.context() as before_memory:
        before_memory.setattr(database, "MIGRATIONS", MIGRATIONS[:1])
        with Database(path) as old:
            assert old.schema_version == 1
            assert old.query("read", "SELECT text FROM notes") == [("kept",)]
            tables = {row[0] for row in old.query("list", "SELECT name FROM sqlite_master")}
            assert "memory" not in tables


def test_prune_deletes_only_turns_past_the_window(tmp_path) -> None:
    now = [1000.0]
    with Database(tmp_path / "z.db") as db:
        turns = ConversationStore(db, clock=lambda: now[0])
        turns.add("user", "old question")
        turns.add("assistant", "old answer")
        now[0] = 1500.0
        turns.add("user", "new question")
        assert turns.prune(max_age_seconds=100) == 2
        assert [t.text for t in turns.recent(10, 10_000)] == ["new question"]
