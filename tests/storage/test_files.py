"""write_atomically: the old file or the new one, never half of one, and never readable early."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

from device.storage.files import write_atomically


def test_replaces_the_file_with_the_given_mode(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text("old")
    write_atomically(path, b"new", mode=0o600)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.toml"]  # no temp file left


def test_a_full_disk_leaves_the_old_file_whole_and_no_temp_file(tmp_path: Path) -> None:
    # A file-size limit makes the kernel refuse the write (EFBIG) as a full card would (ENOSPC).
    path = tmp_path / "notes.txt"
    path.write_bytes(b"saved before\n")
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from device.storage.files import write_atomically\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        "    write_atomically(Path(sys.argv[1]), b'x' * 100_000)\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == str(errno.EFBIG), result.stderr
    assert path.read_bytes() == b"saved before\n"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_sets_the_owner_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "owned"
    write_atomically(path, b"x", owner=(os.getuid(), os.getgid()))
    assert (path.stat().st_uid, path.stat().st_gid) == (os.getuid(), os.getgid())
