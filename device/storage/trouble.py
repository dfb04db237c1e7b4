"""What went wrong with the database file, in one line: the kind of trouble and what to do.

SQLite's error names say most of it; the file system says the rest (SQLite reports a disk too
full to grow its -shm file as an I/O error, and a read-only mount as "unable to open").
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Literal

from device.errors import StorageError

# For the words the wearer hears: "full" asks for space, "read-only" for the card or its mount.
Trouble = Literal["full", "read-only", "io", "damaged", "locked", "other"]

NEARLY_FULL_BYTES = 1 << 20  # less free than this, and an I/O error is the disk being full


def storage_error(exc: sqlite3.Error | OSError, action: str, path: Path) -> StorageError:
    """Turn an SQLite or OS error into a one-line StorageError: what failed, why, what to do.

    ``action`` completes "could not ...", e.g. "save the note".
    """
    return StorageError(f"could not {action}: {trouble(exc, path)[1]}")


def trouble(exc: BaseException, path: Path) -> tuple[Trouble, str]:
    """(kind, reason) for an error on the database ``path``; the reason names the file and what
    to do. A StorageError is judged by the error it was raised from."""
    if isinstance(exc, StorageError) and isinstance(exc.__cause__, sqlite3.Error | OSError):
        exc = exc.__cause__
    name = getattr(exc, "sqlite_errorname", "") or ""
    number = exc.errno if isinstance(exc, OSError) else None
    if isinstance(exc, StorageError):
        return "other", str(exc).partition(": ")[2] or str(exc)
    # SQLite reports a disk too full to grow its -shm file as an I/O error (SQLITE_IOERR_SHMSIZE).
    if (
        name == "SQLITE_FULL"
        or number in (errno.ENOSPC, errno.EDQUOT)
        or (name.startswith("SQLITE_IOERR") and _nearly_full(path.parent))
    ):
        return "full", f"the disk is full; free space on the drive holding {path}"
    if (
        name.startswith("SQLITE_READONLY")
        or number in (errno.EROFS, errno.EACCES, errno.EPERM)
        or (name.startswith("SQLITE_CANTOPEN") and _read_only(path.parent))
    ):
        return "read-only", (
            f"the database is read-only; check the permissions and mount of {path} and its folder"
        )
    if name.startswith("SQLITE_IOERR") or number == errno.EIO:
        return "io", f"a disk I/O error occurred on {path}; check the SD card"
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
        return "damaged", (
            f"{path} is not a ZeroPin database or is damaged; move it aside to start afresh"
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "locked", (
            f"{path} is locked by another program; stop that program (`fuser -v {path}` "
            "names it) and try again"
        )
    if name.startswith("SQLITE_CANTOPEN"):
        return "other", f"cannot open {path}; check that its folder exists and is writable"
    return "other", f"{exc} ({path})"


def _existing(folder: Path) -> Path:
    """``folder``, or its nearest ancestor that exists (the one a new file would go on)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _nearly_full(folder: Path) -> bool:
    try:
        space = os.statvfs(_existing(folder))
    except OSError:
        return False
    blocks = space.f_bfree if os.geteuid() == 0 else space.f_bavail  # root may use the reserve
    return blocks * space.f_frsize < NEARLY_FULL_BYTES


def _read_only(folder: Path) -> bool:
    folder = _existing(folder)
    try:
        mounted_read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
    return mounted_read_only or not os.access(folder, os.W_OK | os.X_OK)


# The words ``trouble`` puts in each reason, so a StorageError raised far from the file can still
# be told apart (a note that cannot be saved says why in the wearer's words).
_REASON_WORDS: tuple[tuple[str, Trouble], ...] = (
    ("the disk is full", "full"),
    ("is read-only", "read-only"),
    ("locked by another program", "locked"),
    ("is damaged", "damaged"),
    ("disk I/O error", "io"),
)


def kind_of(error: StorageError) -> Trouble:
    """The kind of trouble a StorageError's message reports ("other" when it names none)."""
    text = str(error)
    return next((kind for words, kind in _REASON_WORDS if words in text), "other")
