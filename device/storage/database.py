"""ZeroPin's one SQLite database file: connection settings, schema migrations, transactions.

Notes, memory, conversation turns (``device.storage``) and the egress ledger (``device.egress``)
are tables in it; this module owns the file and turns SQLite errors into one-line
:class:`~device.errors.StorageError` messages. The file and its -wal and -shm files are mode 0600:
they hold what the wearer said.

When the file cannot be opened to write (a full SD card, a read-only mount, a damaged or locked
file), the daemon still starts, on a stand-in (``open_or_stand_in``): the file read-only, or an
empty database in memory. Saving a note is then refused with the reason, and the file is never
written, so it stays as it was.

Durability: ``journal_mode=WAL`` with ``synchronous=FULL``. NORMAL is the usual WAL choice and
never corrupts the file, but a power cut can roll back the last commits; on a battery wearable a
pulled battery is the common way to stop, and once the device has said "noted" the note must
survive it. Writes are human-paced (a few a minute), so one extra fsync per commit costs nothing
anyone notices, even on an SD card.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from device.errors import StorageError
from device.storage.files import private_folder
from device.storage.trouble import Trouble, storage_error, trouble

log = logging.getLogger(__name__)


BUSY_TIMEOUT_MS = 5000


# Schema migrations, applied in order; ``PRAGMA user_version`` counts how many have run.
# Append new entries for new tables; never edit a shipped one. 1: notes; 2: memory, turns and the
# egress ledger; 3: what each note was heard by, and its audio; 4: how long each turn took
# (``device.storage.timings``: no words, only times, engines and the intent); 5: the cloud
# requests of the last two days, for the usage budget (``device.storage.usage``); 6: recordings,
# their audio segments and their transcripts, searchable (``device.storage.recordings``).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        text TEXT NOT NULL CHECK (length(text) > 0),
        created_at REAL NOT NULL  -- unix seconds
    );
    CREATE INDEX notes_by_created_at ON notes (created_at);
    """,
    """
    CREATE TABLE memory (
        id INTEGER PRIMARY KEY,
        text TEXT NOT NULL CHECK (length(text) > 0),
        created_at REAL NOT NULL  -- unix seconds
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        text TEXT NOT NULL,
        at REAL NOT NULL  -- unix seconds
    );
    CREATE INDEX turns_by_at ON turns (at);
    CREATE TABLE egress_ledger (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,  -- unix seconds
        host TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('text', 'image', 'audio')),
        size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
        purpose TEXT NOT NULL,
        content TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX egress_ledger_by_at ON egress_ledger (at);
    """,
    """
    ALTER TABLE notes ADD COLUMN engine TEXT NOT NULL DEFAULT '';  -- the recogniser that heard it
    -- 1: a recogniser's guess (pocketsphinx's few words), to transcribe again from the audio
    ALTER TABLE notes ADD COLUMN draft INTEGER NOT NULL DEFAULT 0 CHECK (draft IN (0, 1));
    ALTER TABLE notes ADD COLUMN first_heard TEXT NOT NULL DEFAULT '';  -- the text it replaced
    CREATE TABLE note_audio (
        note_id INTEGER PRIMARY KEY REFERENCES notes (id) ON DELETE CASCADE,
        wav BLOB NOT NULL  -- 16 kHz mono 16-bit WAV, as the microphone heard the note
    );
    CREATE INDEX notes_drafts ON notes (draft) WHERE draft = 1;
    """,
    """
    CREATE TABLE turn_timings (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,  -- unix seconds
        trigger TEXT NOT NULL,
        intent TEXT NOT NULL,
        ended TEXT NOT NULL CHECK (ended IN ('played', 'cut off', 'failed')),
        wake_engine TEXT NOT NULL,
        asr_engine TEXT NOT NULL,
        tts_engine TEXT NOT NULL,
        provider TEXT NOT NULL,
        trigger_s REAL NOT NULL,  -- audio clock, seconds
        speech_end_s REAL NOT NULL,
        asr_final_ms REAL NOT NULL,  -- ms after the end of speech; NULL: not reached
        intent_ms REAL,
        first_token_ms REAL,
        first_audio_ms REAL,
        last_audio_ms REAL
    );
    """,
    """
    CREATE TABLE cloud_usage (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,  -- unix seconds the request was sent
        tokens INTEGER NOT NULL DEFAULT 0 CHECK (tokens >= 0)  -- as the server counted them
    );
    CREATE INDEX cloud_usage_by_at ON cloud_usage (at);
    """,
    """
    -- AUTOINCREMENT: an id is never given twice (folders are named by it, and a transcript on
    -- its way must not land in a recording made after a reset)
    CREATE TABLE recordings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at REAL NOT NULL,  -- unix seconds
        ended_at REAL,  -- NULL while recording
        ended_by TEXT NOT NULL DEFAULT '',  -- the wearer, a full disk, a power cut, a shutdown
        seconds REAL NOT NULL DEFAULT 0 CHECK (seconds >= 0),  -- audio saved in segments
        summary TEXT NOT NULL DEFAULT '',
        summary_engine TEXT NOT NULL DEFAULT ''  -- the provider that wrote it
    );
    CREATE TABLE recording_segments (
        recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
        number INTEGER NOT NULL CHECK (number >= 0),
        start_s REAL NOT NULL,  -- seconds into the recording
        seconds REAL NOT NULL CHECK (seconds > 0),
        file TEXT NOT NULL,  -- a FLAC file, relative to the recordings folder
        bytes INTEGER NOT NULL CHECK (bytes >= 0),
        transcribed_by TEXT NOT NULL DEFAULT '',  -- '' until transcribed
        attempts INTEGER NOT NULL DEFAULT 0,  -- failed transcriptions so far
        PRIMARY KEY (recording_id, number)
    );
    CREATE INDEX segments_to_transcribe ON recording_segments (transcribed_by)
        WHERE transcribed_by = '';
    CREATE TABLE recording_lines (
        id INTEGER PRIMARY KEY,
        recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
        start_s REAL NOT NULL,
        end_s REAL NOT NULL,
        text TEXT NOT NULL CHECK (length(text) > 0),
        engine TEXT NOT NULL
    );
    CREATE INDEX lines_by_recording ON recording_lines (recording_id, start_s);
    CREATE VIRTUAL TABLE recording_lines_fts USING fts5(
        text, content='recording_lines', content_rowid='id'
    );
    CREATE TRIGGER recording_lines_indexed AFTER INSERT ON recording_lines BEGIN
        INSERT INTO recording_lines_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER recording_lines_unindexed AFTER DELETE ON recording_lines BEGIN
        INSERT INTO recording_lines_fts (recording_lines_fts, rowid, text)
            VALUES ('delete', old.id, old.text);
    END;
    """,
)


Access = Literal["write", "read", "memory"]
FILE_MODE = 0o600  # notes, memory and the conversation are the wearer's alone
# isolation_level=None: no implicit transactions; transaction() says BEGIN itself.
_CONNECT: dict[str, Any] = {"isolation_level": None, "check_same_thread": False}


@dataclass(frozen=True)
class Unsaved:
    """Why a stand-in database saves nothing (``open_or_stand_in``): what went wrong."""

    kind: Trouble
    reason: str  # completes "could not <action>: ", naming the file and what to do


def _create_private(path: Path) -> None:
    """Create the database file with mode 0600, whatever the umask, before SQLite does: SQLite
    would make it 0644, and it makes the -wal and -shm files with the database's own mode, so
    all three stay private. A file from before that others may read is made private."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _make_private(path)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:  # made by another process since the check
        return
    try:
        os.fchmod(fd, FILE_MODE)  # a umask like 0277 would leave it unwritable
    finally:
        os.close(fd)


def _make_private(path: Path) -> None:
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                os.chmod(file, mode & 0o700)
                log.info("%s was readable by other users; it is not any more", file)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("%s is readable by other users and cannot be changed: %s", file, exc)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """``path`` opened for reading, changing nothing on disk.

    A reader of a WAL database needs the -shm file, which a full or read-only disk cannot give;
    then the file is read as immutable, which needs none but does not see changes still in the
    WAL (left by a power cut): those are missing until the disk is fixed, and never lost. Not
    when another program holds a lock: it may be writing, and an immutable reader would not know.
    """
    if not path.is_file():
        raise StorageError(f"could not open the database: there is no {path} to read")
    uri = path.resolve().as_uri()
    connection = sqlite3.connect(f"{uri}?mode=ro", uri=True, **_CONNECT)
    try:
        connection.execute("PRAGMA schema_version").fetchone()  # opens the file and its WAL
        return connection
    except sqlite3.Error as exc:
        connection.close()
        if trouble(exc, path)[0] == "locked":
            raise
        log.debug("%s: no -shm file to be had (%s): reading it as immutable", path, exc)
    wal = path.with_name(f"{path.name}-wal")
    if wal.is_file() and wal.stat().st_size:
        log.warning(
            "%s: the last changes, in %s, cannot be read until the disk is fixed", path, wal
        )
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, **_CONNECT)


class Database:
    """One SQLite file shared by ZeroPin's stores, migrated to the current schema on open.

    ``access``: "write" (the file, created 0600 if missing, migrated), "read" (the file, never
    changed; its schema must be current) or "memory" (an empty database in memory, migrated;
    ``path`` names the file it stands in for). StorageError when it cannot be opened.

    ``unsaved`` is set on a stand-in (``open_or_stand_in``): writes that must outlive the process
    (``durable=True``) are then refused with its reason.

    Safe to share between threads: statements and transactions are serialised by a lock.
    ``close()`` may be called twice; the object is also a context manager.
    """

    def __init__(self, path: Path, access: Access = "write") -> None:
        self.path = Path(path)
        self.access = access
        self.unsaved: Unsaved | None = None
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None
        try:
            connection = self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise storage_error(exc, "open the database", self.path) from exc
        try:
            self._prepare(connection)
        except (sqlite3.Error, OSError) as exc:
            connection.close()
            raise storage_error(exc, "open the database", self.path) from exc
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _connect(self) -> sqlite3.Connection:
        if self.access == "memory":
            return sqlite3.connect(":memory:", **_CONNECT)
        if self.access == "read":
            return _connect_read_only(self.path)
        _create_private(self.path)
        return sqlite3.connect(self.path, **_CONNECT)

    def _prepare(self, connection: sqlite3.Connection) -> None:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.access == "read":
            connection.execute("PRAGMA temp_store = MEMORY")  # the disk may have no room
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version != len(MIGRATIONS):
                raise StorageError(
                    f"could not open the database: {self.path} has schema version {version}, "
                    f"not {len(MIGRATIONS)}, and cannot be updated while it is read-only"
                )
            return
        if self.access == "write":
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                log.warning("%s: journal_mode is %s, not wal", self.path, mode)
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
        self._migrate(connection)

    def _migrate(self, connection: sqlite3.Connection) -> None:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StorageError(
                f"could not open the database: {self.path} has schema version {version}, newer "
                f"than this ZeroPin knows ({len(MIGRATIONS)}); update ZeroPin"
            )
        for number in range(version + 1, len(MIGRATIONS) + 1):
            log.info("%s: migrating schema to version %d", self.path, number)
            try:
                # One script, one transaction: a migration is applied whole or not at all.
                connection.executescript(
                    f"BEGIN IMMEDIATE;\n{MIGRATIONS[number - 1]};\n"
                    f"PRAGMA user_version = {number};\nCOMMIT;"
                )
            except sqlite3.Error:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def keep_in_memory(self, tables: Iterable[str]) -> None:
        """Write ``tables`` to empty copies in memory from now on, which hide the file's own
        (SQLite looks in the temp schema first); for a database opened to read."""
        with self._lock:
            for table in tables:
                row = self.connection.execute(
                    "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?",
                    (table,),
                ).fetchone()
                if row is None:
                    raise StorageError(f"could not open the database: {self.path} has no {table}")
                try:
                    self.connection.execute(row[0].replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
                except sqlite3.Error as exc:
                    raise storage_error(exc, f"keep {table} in memory", self.path) from exc

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection, in autocommit mode; write through :meth:`transaction`."""
        if self._connection is None:
            raise StorageError(f"the database {self.path} is closed")
        return self._connection

    @property
    def schema_version(self) -> int:
        """How many of :data:`MIGRATIONS` have been applied."""
        return int(self.query("read the schema version", "PRAGMA user_version")[0][0])

    @contextmanager
    def transaction(self, action: str, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """Run the block as one write transaction; roll back and raise StorageError on failure.

        ``action`` completes the error message "could not ...", e.g. "save the note".
        ``durable``: the wearer counts on it after a restart (a note, a fact to remember), so a
        stand-in (``unsaved``) refuses it at once rather than keep it in memory.
        """
        if durable and self.unsaved is not None:
            raise StorageError(f"could not {action}: {self.unsaved.reason}")
        with self._lock:
            connection = self.connection
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                if self.unsaved is not None:  # a read-only stand-in: the first problem is why
                    raise StorageError(f"could not {action}: {self.unsaved.reason}") from exc
                raise storage_error(exc, action, self.path) from exc

    def query(self, action: str, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple]:
        """Run one read statement and return all rows; StorageError (could not ``action``)."""
        with self._lock:
            try:
                return self.connection.execute(sql, parameters).fetchall()
            except sqlite3.Error as exc:
                raise storage_error(exc, action, self.path) from exc

    def close(self) -> None:
        """Close the connection (checkpointing the WAL); safe to call more than once."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# Written without durable=True, so a stand-in keeps them in memory: the device still answers
# (a cloud answer needs its ledger row written first), and forgets them when it stops; the
# usage budget then counts from the start.
IN_MEMORY_TABLES = ("turns", "egress_ledger", "cloud_usage")


def open_or_stand_in(path: Path, *, memory: bool = True) -> Database:
    """The database at ``path``, or, when it cannot be opened to write (a full or read-only
    disk, a damaged or locked file), a stand-in, so the device still starts and can say why.

    The stand-in is the file opened to read, so the notes can still be read, else (``memory``)
    an empty database in memory. Its ``unsaved`` says what went wrong; notes and facts to
    remember are refused with that reason, and the conversation and the egress ledger
    (:data:`IN_MEMORY_TABLES`) are kept in memory until the process ends. The file itself is
    never written. Without ``memory`` (commands that only read) the first error is raised when
    the file cannot be read either.
    """
    try:
        return Database(path)
    except StorageError as exc:
        problem = exc
    kind, reason = trouble(problem, path)
    try:
        database = _read_stand_in(path)
        kept = "its notes can be read"
    except StorageError as exc:
        if not memory:
            raise problem  # noqa: B904 (its cause is the SQLite error that says why)
        log.debug("%s cannot be read either: %s", path, exc)
        database = Database(path, "memory")
        kept = "an empty database in memory stands in for it"
    database.unsaved = Unsaved(kind, reason)
    log.warning(
        "%s. Nothing is saved until that is fixed and ZeroPin restarts: %s, and the conversation "
        "and the egress ledger are kept in memory until then",
        problem,
        kept,
    )
    return database


def open_state(database_file: Path, photos: Path) -> Database:
    """What the daemon keeps, opened at start: the database, or a stand-in for it
    (``open_or_stand_in``), and ``photos`` made a folder only its owner may open."""
    try:
        private_folder(photos)
    except OSError as exc:  # a full or read-only card: start anyway, saving photos will say so
        log.warning("cannot make the photos folder %s: %s", photos, exc.strerror or exc)
    return open_or_stand_in(database_file)


def _read_stand_in(path: Path) -> Database:
    database = Database(path, "read")
    try:
        database.keep_in_memory(IN_MEMORY_TABLES)
    except BaseException:
        database.close()
        raise
    return database
