"""Real small disks for storage tests: a tmpfs mounted for the test, filled or made read-only.

Mounting needs root (or CAP_SYS_ADMIN); without it a test that needs a disk is skipped, saying
so. tmpfs has no blocks reserved for root, so "full" is full for root as for anyone.
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` (made if missing), unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs for a real small disk: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], timeout=30, check=False)


def fill(disk: Path) -> Path:
    """Write a file on ``disk`` until no byte more fits; the file."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        try:  # the last partial block
            while True:
                out.write(b"\0")
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def remount(disk: Path, mode: str) -> None:
    """Remount ``disk`` "ro" or "rw"."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], timeout=30, check=True)
