"""`zeropin run` as zeropin.service runs it: READY, watchdog pings and SIGTERM, over a real socket.

systemd is stood in for by what it gives the daemon: a datagram socket in $NOTIFY_SOCKET and
$WATCHDOG_USEC. Buttons and LEDs use gpiozero's mock pins (GPIOZERO_PIN_FACTORY=mock, as the
unit's environment file sets in a VM); the microphone is a recording played at real speed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest


def _silence(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * int(16000 * seconds))
    return path


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    with tempfile.TemporaryDirectory(prefix="zp-") as folder:  # short: socket paths max ~107
        path = os.path.join(folder, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.5)
        yield sock, path
        sock.close()


@contextlib.contextmanager
def _daemon(tmp_path: Path, mic: Path, notify: str) -> Iterator[subprocess.Popen[str]]:
    """The daemon, killed if still running at the end; it must have exited with status 0."""
    env = {
        **os.environ,
        "NOTIFY_SOCKET": notify,
        "WATCHDOG_USEC": "400000",  # a ping every 0.2 s
        "GPIOZERO_PIN_FACTORY": "mock",
        "GPIOZERO_MOCK_PIN_CLASS": "mockpwmpin",  # the status LED dims
        "HOME": str(tmp_path),
    }
    daemon = subprocess.Popen(
        [sys.executable, "-m", "device.cli", "--config", str(tmp_path / "none.toml"),
         "--set", f"device.state_dir={tmp_path / 'state'}", "--set", "camera.backend=none",
         "run", "--mic", str(mic), "--speaker-file", str(tmp_path / "out")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield daemon
    finally:
        daemon.kill()
    assert daemon.wait(timeout=10) == 0, daemon.stderr.read() if daemon.stderr else ""


def _messages(sock: socket.socket, until: str, seconds: float) -> list[str]:
    """Datagrams received until one contains ``until`` (or the time is up)."""
    got: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
        if until in got[-1]:
            break
    return got


def test_ready_after_loading_then_pings_while_audio_flows_then_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    with _daemon(tmp_path, _silence(tmp_path / "quiet.wav", 3.0), path) as daemon:
        got = _messages(sock, "STOPPING=1", 60)
        daemon.wait(timeout=30)
    kinds = [message.split("\n")[0] for message in got]
    assert kinds[0] == "READY=1", kinds
    assert kinds[-1] == "STOPPING=1", kinds
    pings = kinds.count("WATCHDOG=1")
    assert 5 <= pings <= 20, f"{pings} pings over 3 s of audio at one per 0.2 s"


def test_sigterm_stops_the_daemon_cleanly(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    with _daemon(tmp_path, _silence(tmp_path / "long.wav", 60.0), path) as daemon:
        assert "READY=1" in "".join(_messages(sock, "READY=1", 60))
        daemon.send_signal(signal.SIGTERM)
        started = time.monotonic()
        daemon.wait(timeout=15)
        stopped_in = time.monotonic() - started
    assert stopped_in < 5
    assert "STOPPING=1" in "".join(_messages(sock, "STOPPING=1", 5))
