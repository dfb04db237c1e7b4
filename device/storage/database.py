"""ZeroPin's one SQLite database file: connection settings, schema migrations, transactions.

Notes, memory, conversation turns (``device.storage``) and the egress ledger (``device.egress``)
are tables in it; this module owns the file and turns SQLite errors into one-line
:class:`~device.errors.StorageError` messages.

Durability: ``journal_mode=WAL`` with ``synchronous=FULL``. NORMAL is the usual WAL choice and
never corrupts the file, but a power cut can roll back the last commits; on a battery wearable a
pulled battery is the common way to stop, and once the device has said "noted" the note must
survive it. Writes are human-paced (a few a minute), so one extra fsync per commit costs nothing
anyone notices, even on an SD card.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from device.errors import StorageError

log = logging.getLogger(__name__)


BUSY_TIMEOUT_MS = 5000


# Schema migrations, applied in order; ``PRAGMA user_version`` counts how many have run.
# Append new entries for new tables; never edit a shipped one. 1: notes; 2: memory, turns and the
# egress ledger; 3: what each note was heard by, and its audio.
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
)


def storage_error(exc: sqlite3.Error | OSError, action: str, path: Path) -> StorageError:
    """Turn an SQLite or OS error into a one-line StorageError: what failed, why, what to do.

    ``action`` completes "could not ...", e.g. "save the note".
    """
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL":
        reason = f"the disk is full; free space on the drive holding {path}"
    elif name.startswith("SQLITE_READONLY"):
        reason = f"the database is read-only; check the permissions and mount of {path}"
    elif name.startswith("SQLITE_IOERR"):
        reason = f"a disk I/O error occurred on {path}; check the SD card"
    elif name in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
        reason = f"{path} is not a ZeroPin database or is damaged; move it aside to start afresh"
    elif name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        reason = f"{path} is locked by another process"
    elif name.startswith("SQLITE_CANTOPEN"):
        reason = f"cannot open {path}; check that its folder exists and is writable"
    else:
        reason = f"{exc} ({path})"
    return StorageError(f"could not {action}: {reason}")


class Database:
    """One SQLite file shared by ZeroPin's stores, migrated to the current schema on open.

    Safe to share between threads: statements and transactions are serialised by a lock.
    ``close()`` may be called twice; the object is also a context manager.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: no implicit transactions; transaction() says BEGIN itself.
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise storage_error(exc, "open the database", self.path) from exc
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                log.warning("%s: journal_mode is %s, not wal", self.path, mode)
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            self._migrate(connection)
        except (sqlite3.Error, OSError) as exc:
            connection.close()
            raise storage_error(exc, "open the database", self.path) from exc
        self._connection = connection

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
    def transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """Run the block as one write transaction; roll back and raise StorageError on failure.

        ``action`` completes the error message "could not ...", e.g. "save the note".
        """
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
