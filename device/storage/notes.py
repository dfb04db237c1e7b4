"""Notes the wearer dictates, kept in ZeroPin's one SQLite database (``device.storage.database``).

Example::

    with Database(Path("/var/lib/zeropin/zeropin.db")) as db:
        notes = NoteStore(db)
        notes.add("buy oat milk")
        print([note.text for note in notes.recent(5)])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from device.storage.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Note:
    """A note as saved."""

    id: int
    text: str
    created_at: float  # unix seconds


class NoteStore:
    """The wearer's notes: add, list newest first, search by words, delete all."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def add(self, text: str) -> Note:
        """Save a note (surrounding whitespace stripped) and return it.

        Raises ``ValueError`` for empty text and StorageError when it could not be saved; notes
        saved before are kept either way.
        """
        text = text.strip()
        if not text:
            raise ValueError("a note needs some text")
        created_at = self._clock()
        with self._db.transaction("save the note") as connection:
            cursor = connection.execute(
                "INSERT INTO notes (text, created_at) VALUES (?, ?)", (text, created_at)
            )
            note_id = cursor.lastrowid
        assert note_id is not None  # set by every successful INSERT
        log.debug("saved note %d (%d characters)", note_id, len(text))
        return Note(id=note_id, text=text, created_at=created_at)

    def recent(self, limit: int = 10) -> list[Note]:
        """The ``limit`` newest notes, newest first."""
        _check_limit(limit)
        rows = self._db.query(
            "read the notes",
            "SELECT id, text, created_at FROM notes ORDER BY created_at DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [Note(*row) for row in rows]

    def count(self) -> int:
        """How many notes are saved."""
        return int(self._db.query("count the notes", "SELECT count(*) FROM notes")[0][0])

    def delete_all(self) -> int:
        """Delete every note; return how many were deleted."""
        with self._db.transaction("delete the notes") as connection:
            deleted = connection.execute("DELETE FROM notes").rowcount
        log.info("deleted %d notes", deleted)
        return deleted

    def search(self, words: str, limit: int = 10) -> list[Note]:
        """Notes containing every word of ``words`` (case-insensitive substrings), newest first.

        Empty ``words`` matches nothing.
        """
        _check_limit(limit)
        terms = words.split()
        if not terms:
            return []
        # LIKE with each word escaped; SQLite's LIKE folds ASCII case only, which is enough for
        # spoken English and needs no custom function on the shared connection.
        where = " AND ".join("text LIKE ? ESCAPE '\\'" for _ in terms)
        patterns = tuple(f"%{_escape_like(term)}%" for term in terms)
        rows = self._db.query(
            "search the notes",
            f"SELECT id, text, created_at FROM notes WHERE {where} "
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            (*patterns, limit),
        )
        return [Note(*row) for row in rows]


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
