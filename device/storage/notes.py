"""Notes the wearer dictates, kept in ZeroPin's one SQLite database (``device.storage.database``).

A dictated note keeps its audio beside the text, in the same transaction, so a bad transcript
never loses what the wearer said. A note only a recogniser's guess could write down (the
pocketsphinx fallback knows a few hundred words) is a *draft*: ``revise_drafts`` transcribes its
audio again when a better recogniser (the cloud) can be reached, and keeps the first text.

Example::

    with Database(Path("/var/lib/zeropin/zeropin.db")) as db:
        notes = NoteStore(db)
        notes.add("buy oat milk")
        notes.add("by oat mill", audio=wav, engine="pocketsphinx", draft=True)
        print([note.text for note in notes.recent(5)])
        revise_drafts(notes, transcribe)  # "buy oat milk", when the cloud hears it
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from device.storage.database import Database
from device.storage.files import write_atomically

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Note:
    """A note as saved."""

    id: int
    text: str
    created_at: float  # unix seconds
    engine: str = ""  # the recogniser that heard it ("" when typed or from before audio)
    draft: bool = False  # a guess, to transcribe again from its audio
    first_heard: str = ""  # the text a revision replaced
    has_audio: bool = False


_COLUMNS = (
    "notes.id, text, created_at, engine, draft, first_heard, note_audio.note_id IS NOT NULL "
    "FROM notes LEFT JOIN note_audio ON note_audio.note_id = notes.id"
)


def _note(row: tuple) -> Note:
    id_, text, created_at, engine, draft, first_heard, has_audio = row
    return Note(id_, text, created_at, engine, bool(draft), first_heard, bool(has_audio))


class NoteStore:
    """The wearer's notes: add, list newest first, search by words, delete all."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def add(self, text: str, audio: bytes = b"", engine: str = "", draft: bool = False) -> Note:
        """Save a note (surrounding whitespace stripped), with its ``audio`` (WAV) when given,
        and return it. Text and audio are saved together or not at all.

        Raises ``ValueError`` for empty text and StorageError when it could not be saved; notes
        saved before are kept either way.
        """
        text = text.strip()
        if not text:
            raise ValueError("a note needs some text")
        created_at = self._clock()
        with self._db.transaction("save the note", durable=True) as connection:
            cursor = connection.execute(
                "INSERT INTO notes (text, created_at, engine, draft) VALUES (?, ?, ?, ?)",
                (text, created_at, engine, int(draft)),
            )
            note_id = cursor.lastrowid
            assert note_id is not None  # set by every successful INSERT
            if audio:
                connection.execute(
                    "INSERT INTO note_audio (note_id, wav) VALUES (?, ?)", (note_id, audio)
                )
        log.debug("saved note %d: %d characters, %d bytes of audio", note_id, len(text), len(audio))
        return Note(note_id, text, created_at, engine, draft, "", bool(audio))

    @property
    def can_read(self) -> bool:
        """False on an empty stand-in in memory (a damaged or locked file): no notes here does
        not mean the wearer has none."""
        return self._db.access != "memory"

    @property
    def can_save(self) -> bool:
        """False on a stand-in database (a full or read-only disk), which refuses new notes."""
        return self._db.unsaved is None

    def audio(self, note_id: int) -> bytes:
        """The WAV the note was dictated as; empty when it has none."""
        rows = self._db.query(
            "read the note's audio", "SELECT wav FROM note_audio WHERE note_id = ?", (note_id,)
        )
        return bytes(rows[0][0]) if rows else b""

    def drafts(self, limit: int = 10) -> list[Note]:
        """Drafts with audio, oldest first: the notes to transcribe again."""
        _check_limit(limit)
        rows = self._db.query(
            "read the draft notes",
            f"SELECT {_COLUMNS} WHERE draft = 1 AND note_audio.note_id IS NOT NULL "
            "ORDER BY created_at, notes.id LIMIT ?",
            (limit,),
        )
        return [_note(row) for row in rows]

    def revise(self, note_id: int, text: str, engine: str) -> None:
        """Replace a draft's text with what ``engine`` heard in its audio; the first text is kept
        in ``first_heard``. Blank ``text`` leaves the note as it is and no longer a draft."""
        text = text.strip()
        with self._db.transaction("revise the note", durable=True) as connection:
            if text:
                connection.execute(
                    "UPDATE notes SET first_heard = text, text = ?, engine = ?, draft = 0 "
                    "WHERE id = ? AND draft = 1",
                    (text, engine, note_id),
                )
            else:
                connection.execute("UPDATE notes SET draft = 0 WHERE id = ?", (note_id,))

    def recent(self, limit: int = 10) -> list[Note]:
        """The ``limit`` newest notes, newest first."""
        _check_limit(limit)
        rows = self._db.query(
            "read the notes",
            f"SELECT {_COLUMNS} ORDER BY created_at DESC, notes.id DESC LIMIT ?",
            (limit,),
        )
        return [_note(row) for row in rows]

    def count(self) -> int:
        """How many notes are saved."""
        return int(self._db.query("count the notes", "SELECT count(*) FROM notes")[0][0])

    def delete_all(self) -> int:
        """Delete every note; return how many were deleted."""
        with self._db.transaction("delete the notes", durable=True) as connection:
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
            f"SELECT {_COLUMNS} WHERE {where} ORDER BY created_at DESC, notes.id DESC LIMIT ?",
            (*patterns, limit),
        )
        return [_note(row) for row in rows]


def revise_drafts(
    notes: NoteStore, transcribe: Callable[[bytes], tuple[str, str] | None], limit: int = 5
) -> int:
    """Transcribe up to ``limit`` drafts' audio again with ``transcribe`` (WAV -> (text, engine),
    or None when no better recogniser can be reached now); how many were revised.

    Stops at the first None: the network is down, and the rest can wait for the next call.
    Raises StorageError when the notes cannot be read or written."""
    if not notes.can_save:
        return 0  # a revision could not be saved: the audio stays on the device
    revised = 0
    for note in notes.drafts(limit):
        heard = transcribe(notes.audio(note.id))
        if heard is None:
            break
        notes.revise(note.id, *heard)
        revised += 1
        log.info("note %d transcribed again by %s", note.id, heard[1])
    return revised


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")


def describe(note: Note) -> str:
    """One line: when, the text, and how sure it is ("2026-12-06 14:03  buy milk  [draft]")."""
    when = dt.datetime.fromtimestamp(note.created_at).strftime("%Y-%m-%d %H:%M")
    marks = []
    if note.draft:
        marks.append(f"draft: {note.engine or 'a recogniser'}'s guess")
    if note.first_heard:
        marks.append(f"first heard as {note.first_heard!r}")
    if note.has_audio:
        marks.append(f"audio: note-{note.id}.wav")
    return f"{when}  {note.text}" + (f"  [{'; '.join(marks)}]" if marks else "")


def export(notes: NoteStore, folder: Path, limit: int = 100_000) -> int:
    """Write every note to ``folder``: ``notes.txt`` (``describe``'s lines, newest first) and
    each note's audio as ``note-ID.wav``; how many notes. Files are written whole or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    every = notes.recent(limit)
    for note in every:
        if note.has_audio:
            write_atomically(folder / f"note-{note.id}.wav", notes.audio(note.id), mode=0o600)
    text = "".join(describe(note) + "\n" for note in every)
    write_atomically(folder / "notes.txt", text.encode("utf-8"), mode=0o600)
    return len(every)
