"""``zeropin web serve`` started the way the image starts it: by systemd's socket activation.

``systemd-socket-activate`` (from Debian's systemd package) listens, and at the first connection
starts the page with the socket as file descriptor 3 and LISTEN_FDS/LISTEN_PID set, which is what
``zeropin-web.socket`` does on the device. The page serves on that socket, then exits once it has
been idle for ``[web] idle_exit_minutes``, giving its memory back.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from web.conftest import TOKEN, environment, free_port, settings_flags

ACTIVATE = shutil.which("systemd-socket-activate")
IDLE_SECONDS = 3.0


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.skipif(ACTIVATE is None, reason="systemd-socket-activate: Debian package systemd")
def test_started_on_the_first_visit_and_gone_when_idle(spoken_state: Path) -> None:
    assert ACTIVATE is not None
    port = free_port()
    idle = f"web.idle_exit_minutes={IDLE_SECONDS / 60}"
    command = [sys.executable, "-m", "device.cli", *settings_flags(spoken_state),
               "--set", idle, "web", "serve"]  # fmt: skip
    listener = subprocess.Popen(
        [ACTIVATE, "--listen", f"127.0.0.1:{port}", *command],
        env=environment(spoken_state), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while "Listening on" not in (line := listener.stderr.readline()):  # type: ignore[union-attr]
            assert time.monotonic() < deadline and line, "systemd-socket-activate did not listen"
        # no page yet: only systemd-socket-activate, holding the socket
        assert _program(listener.pid) == ACTIVATE
        url = f"http://127.0.0.1:{port}"
        pages = ("/", "/turns", "/notes", "/privacy", "/wake", "/settings")
        for path in pages:
            response = requests.get(
                url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
            )
            assert response.status_code == 200, path
        # at the first visit systemd-socket-activate became the page (it execs it in place)
        assert _program(listener.pid) == sys.executable
        rss = _rss_mb(listener.pid)
        print(f"\ncompanion page: RSS {rss:.1f} MB after serving {len(pages)} pages")
        assert listener.wait(timeout=IDLE_SECONDS + 10) == 0  # idle: a clean exit
        # not served on a socket of its own: the stdout has no "http://" address line
        assert "http://" not in listener.stdout.read()  # type: ignore[union-attr]
    finally:
        listener.kill()
        listener.wait()


def _program(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
