"""Replacing a file so that a power cut or a full disk leaves the old one or the new one whole;
folders only their owner may open.

A Pi is switched off by pulling the plug, and its SD card fills up: settings, secrets, photos and
the ALSA config are all written this way.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_FOLDER_MODE = 0o700


def write_atomically(
    path: Path, data: bytes, *, mode: int = 0o644, owner: tuple[int, int] | None = None
) -> None:
    """Write ``data`` to a temp file beside ``path``, sync it, rename it over ``path``.

    ``mode`` (and ``owner``, a (uid, gid) pair) are set before the first byte is written, so a
    secret is never readable by others, not even for a moment. The folder is synced after the
    rename where the file system allows it. Raises OSError; ``path`` is then as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)  # FAT ignores it; ext4 honours it
            if owner is not None:
                os.fchown(out.fileno(), *owner)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some file systems refuse to open a folder for this; the rename is done anyway
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def private_folder(path: Path) -> Path:
    """``path``, a folder made if missing, that only its owner may open (mode 0700), whatever
    the umask: photos and recordings are the wearer's. One that others could open is closed to
    them; when that fails (not the owner, a read-only disk) a WARNING says so. OSError when the
    folder cannot be made."""
    path.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != PRIVATE_FOLDER_MODE:
        try:
            os.chmod(path, PRIVATE_FOLDER_MODE)
        except OSError as exc:
            log.warning("%s stays mode %o, open to other users: %s", path, mode, exc)
    return path
