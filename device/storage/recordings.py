"""Recordings the wearer asked for: their audio segments and their transcripts, in SQLite.

The audio itself is in FLAC files under ``<state_dir>/recordings/<id>/`` (``device.storage.
recorder`` writes them); this store keeps which segments a recording has, which of them still
wait for transcription, the transcript's lines with their times, and the summary. The lines are
indexed with SQLite's FTS5, so "what did we decide about the budget" finds its passage in
hours of meetings without reading them all.

Example::

    with Database(path) as db:
        store = RecordingStore(db)
        for recording in store.recent(5):
            print(recording.id, recording.title, store.lines(recording.id)[:3])
        print(store.search("budget"))
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from device.errors import StorageError
from device.storage.database import Database

RECORDINGS_FOLDER = "recordings"  # under the state directory


@dataclass(frozen=True)
class Recording:
    id: int
    started_at: float  # unix seconds
    ended_at: float | None  # None while it is being recorded
    ended_by: str  # "wearer", "disk full", "power cut", "shutdown"; "" while recording
    seconds: float  # audio saved
    summary: str = ""
    summary_engine: str = ""
    segments: int = 0
    waiting: int = 0  # segments not transcribed yet
    bytes: int = 0  # of audio on the card

    @property
    def title(self) -> str:
        """How the wearer would name it: "Monday 7 December, 10:02"."""
        start = dt.datetime.fromtimestamp(self.started_at)
        return f"{start:%A} {start.day} {start:%B}, {start:%H:%M}"


@dataclass(frozen=True)
class Segment:
    recording_id: int
    number: int
    start_s: float  # seconds into the recording
    seconds: float
    file: str  # relative to the recordings folder
    bytes: int
    transcribed_by: str = ""
    attempts: int = 0


@dataclass(frozen=True)
class Line:
    """A stretch of the transcript and when in the recording it was said."""

    recording_id: int
    start_s: float
    end_s: float
    text: str
    engine: str


@dataclass(frozen=True)
class Passage:
    """A line found by a search, with its recording for "this morning's meeting"."""

    recording: Recording
    line: Line


_RECORDING = (
    "SELECT r.id, r.started_at, r.ended_at, r.ended_by, r.seconds, r.summary, r.summary_engine, "
    "count(s.number), count(s.number) FILTER (WHERE s.transcribed_by = ''), "
    "coalesce(sum(s.bytes), 0) FROM recordings r LEFT JOIN recording_segments s "
    "ON s.recording_id = r.id"
)
_SEGMENT = (
    "SELECT recording_id, number, start_s, seconds, file, bytes, transcribed_by, attempts "
    "FROM recording_segments"
)
_LINE = "SELECT recording_id, start_s, end_s, text, engine FROM recording_lines"


class RecordingStore:
    """What is known of each recording; the audio files are the recorder's."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    # ---- the recorder's side ----------------------------------------------------------------
    def begin(self) -> int:
        """A new recording, started now; its id."""
        with self.db.transaction("start a recording", durable=True) as connection:
            cursor = connection.execute(
                "INSERT INTO recordings (started_at) VALUES (?)", (self.clock(),)
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def add_segment(self, segment: Segment) -> None:
        """A closed segment, and the recording's length with it."""
        with self.db.transaction("save a recording segment", durable=True) as connection:
            # a segment saved again (its journal encoded twice after a crash) keeps its state
            connection.execute(
                "INSERT INTO recording_segments "
                "(recording_id, number, start_s, seconds, file, bytes) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (recording_id, number) DO UPDATE SET bytes = excluded.bytes",
                (
                    segment.recording_id,
                    segment.number,
                    segment.start_s,
                    segment.seconds,
                    segment.file,
                    segment.bytes,
                ),
            )
            connection.execute(
                "UPDATE recordings SET seconds = max(seconds, ?) WHERE id = ?",
                (segment.start_s + segment.seconds, segment.recording_id),
            )

    def end(self, recording_id: int, ended_by: str, at: float | None = None) -> None:
        with self.db.transaction("end a recording", durable=True) as connection:
            connection.execute(
                "UPDATE recordings SET ended_at = ?, ended_by = ? WHERE id = ?",
                (self.clock() if at is None else at, ended_by, recording_id),
            )

    def unfinished(self) -> list[Recording]:
        """Recordings never ended: the daemon stopped without closing them (a power cut)."""
        return self._recordings("WHERE r.ended_at IS NULL GROUP BY r.id ORDER BY r.id", ())

    # ---- transcription -----------------------------------------------------------------------
    def waiting_segments(self, limit: int = 10) -> list[Segment]:
        """Segments not yet transcribed, oldest first, the least tried first."""
        rows = self.db.query(
            "list the segments to transcribe",
            f"{_SEGMENT} WHERE transcribed_by = '' ORDER BY attempts, recording_id, number LIMIT ?",
            (limit,),
        )
        return [Segment(*row) for row in rows]

    def transcribed(self, segment: Segment, lines: Iterable[Line], engine: str) -> None:
        """The segment's lines, saved with the segment marked done, in one transaction: a
        restart never transcribes a segment twice or loses its lines. Nothing is saved when the
        segment is no longer waiting (done meanwhile, or deleted with its recording)."""
        with self.db.transaction("save a transcript", durable=True) as connection:
            waiting = connection.execute(
                "UPDATE recording_segments SET transcribed_by = ? "
                "WHERE recording_id = ? AND number = ? AND file = ? AND transcribed_by = ''",
                (engine, segment.recording_id, segment.number, segment.file),
            ).rowcount
            if waiting != 1:
                return
            connection.executemany(
                "INSERT INTO recording_lines (recording_id, start_s, end_s, text, engine) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (line.recording_id, line.start_s, line.end_s, line.text, line.engine)
                    for line in lines
                    if line.text.strip()
                ],
            )

    def failed(self, segment: Segment) -> None:
        with self.db.transaction("count a failed transcription") as connection:
            connection.execute(
                "UPDATE recording_segments SET attempts = attempts + 1 "
                "WHERE recording_id = ? AND number = ?",
                (segment.recording_id, segment.number),
            )

    def to_summarise(self) -> list[Recording]:
        """Ended recordings, transcribed whole, with words and no summary yet."""
        rows = self._recordings(
            "WHERE r.ended_at IS NOT NULL AND r.summary = '' GROUP BY r.id "
            "HAVING count(s.number) FILTER (WHERE s.transcribed_by = '') = 0 ORDER BY r.id",
            (),
        )
        return [r for r in rows if self.has_words(r.id)]

    def summarised(self, recording_id: int, summary: str, engine: str) -> None:
        with self.db.transaction("save a summary") as connection:
            connection.execute(
                "UPDATE recordings SET summary = ?, summary_engine = ? WHERE id = ?",
                (summary, engine, recording_id),
            )

    # ---- reading -----------------------------------------------------------------------------
    def get(self, recording_id: int) -> Recording | None:
        rows = self._recordings("WHERE r.id = ? GROUP BY r.id", (recording_id,))
        return rows[0] if rows else None

    def recent(self, limit: int = 20) -> list[Recording]:
        """Newest first."""
        return self._recordings("GROUP BY r.id ORDER BY r.started_at DESC LIMIT ?", (limit,))

    def between(self, since: float, until: float) -> list[Recording]:
        """Recordings started in [since, until), newest first."""
        return self._recordings(
            "WHERE r.started_at >= ? AND r.started_at < ? GROUP BY r.id ORDER BY r.started_at DESC",
            (since, until),
        )

    def end_of(self, recording_id: int, before: int) -> float:
        """Where segment ``before`` starts: the end of the saved segment just before it."""
        rows = self.db.query(
            "read a recording's segments",
            "SELECT start_s + seconds FROM recording_segments WHERE recording_id = ? AND "
            "number < ? ORDER BY number DESC LIMIT 1",
            (recording_id, before),
        )
        return float(rows[0][0]) if rows else 0.0

    def segments(self, recording_id: int) -> list[Segment]:
        rows = self.db.query(
            "list a recording's segments",
            f"{_SEGMENT} WHERE recording_id = ? ORDER BY number",
            (recording_id,),
        )
        return [Segment(*row) for row in rows]

    def lines(self, recording_id: int) -> list[Line]:
        rows = self.db.query(
            "read a transcript",
            f"{_LINE} WHERE recording_id = ? ORDER BY start_s, id",
            (recording_id,),
        )
        return [Line(*row) for row in rows]

    def has_words(self, recording_id: int) -> bool:
        return bool(
            self.db.query(
                "read a transcript",
                "SELECT 1 FROM recording_lines WHERE recording_id = ? LIMIT 1",
                (recording_id,),
            )
        )

    def search(self, words: str, recording_ids: Iterable[int] = (), limit: int = 8) -> list[Line]:
        """The lines that best match ``words`` (any of them), best first (BM25), in
        ``recording_ids`` when given."""
        query = fts_query(words)
        if not query:
            return []
        ids = list(recording_ids)
        within = f"AND l.recording_id IN ({','.join('?' * len(ids))})" if ids else ""
        rows = self.db.query(
            "search the transcripts",
            "SELECT l.recording_id, l.start_s, l.end_s, l.text, l.engine "
            "FROM recording_lines_fts f JOIN recording_lines l ON l.id = f.rowid "
            f"WHERE recording_lines_fts MATCH ? {within} ORDER BY bm25(recording_lines_fts) "
            "LIMIT ?",
            (query, *ids, limit),
        )
        return [Line(*row) for row in rows]

    def delete(self, recording_id: int) -> bool:
        """The recording's rows (its files are the caller's to delete first); False if none."""
        with self.db.transaction("delete a recording", durable=True) as connection:
            connection.execute("PRAGMA secure_delete = ON")
            return bool(
                connection.execute("DELETE FROM recordings WHERE id = ?", (recording_id,)).rowcount
            )

    def _recordings(self, where: str, parameters: tuple[object, ...]) -> list[Recording]:
        rows = self.db.query("list the recordings", f"{_RECORDING} {where}", parameters)
        return [Recording(*row) for row in rows]


# Words too common to find anything by; the rest of the question is what is searched for.
_STOP_WORDS = frozenset(
    "a an and are as at be but by did do does for from had has have how i in is it its me my "
    "of on or our so that the their them then there these they this those to us was we were "
    "what when where which who why will with you your about said say talk talked decide "
    "decided agree agreed meeting meetings recording recordings call today todays yesterday "
    "yesterdays morning mornings afternoon afternoons evening evenings last this".split()
)


def fts_query(words: str) -> str:
    """An FTS5 query matching any of the question's content words (prefixes, so "budgets"
    finds "budget"); "" when none is left. Each word is quoted: nothing the wearer says is
    read as FTS syntax."""
    tokens = [
        t
        for t in re.findall(r"\w+", words.lower())
        if t not in _STOP_WORDS and (len(t) > 2 or t.isdigit())  # "s" of "morning's" finds all
    ]
    stems = sorted({t[:-1] if len(t) > 4 and t.endswith("s") else t for t in tokens})
    return " OR ".join(f'"{t}"*' for t in stems)


def recording_folder(recordings_root: Path, recording_id: int) -> Path:
    return recordings_root / f"{recording_id:05d}"


def delete_recording(store: RecordingStore, root: Path, recording_id: int) -> bool:
    """A recording's audio files, then its rows; False when there is no such recording. A file
    that cannot be deleted raises StorageError before any row goes, so nothing is orphaned."""
    if store.get(recording_id) is None:
        return False
    folder = recording_folder(root, recording_id)
    try:
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            path.unlink()
        if folder.is_dir():
            folder.rmdir()
    except OSError as exc:
        raise StorageError(f"could not delete {folder}: {exc.strerror}") from exc
    return store.delete(recording_id)


def expire(store: RecordingStore, root: Path, keep_days: int) -> list[int]:
    """Delete the ended recordings older than ``keep_days`` (0: none); their ids."""
    if keep_days <= 0:
        return []
    cutoff = store.clock() - keep_days * 86400
    old = [
        r.id for r in store.between(0.0, cutoff) if r.ended_at is not None and r.ended_at < cutoff
    ]
    return [recording_id for recording_id in old if delete_recording(store, root, recording_id)]
