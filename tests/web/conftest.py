"""The companion page's fixtures: a state directory the real daemon filled by hearing a spoken
session, the page served by ``zeropin web serve`` as its own process, and a headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from spoken_session import spoken_session

from device.sim.loopback.server import LoopbackLLM

TOKEN = "page-token-for-the-tests-4d91b7e2"  # distinctive, so a scan for it cannot miss
API_KEY = "sk-page-DO-NOT-LEAK-9c2e"  # the provider's key, in the page server's secrets file
SPOKEN = (
    "hey zero, what time is it",
    "hey zero, take a note buy milk and eggs",
    "hey zero, why is the sky blue",
)
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def zeropin(root: Path, *arguments: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """``zeropin`` with the session's config and state directory, and a HOME of its own."""
    return subprocess.run(
        [sys.executable, "-m", "device.cli", *settings_flags(root), *arguments],
        env=environment(root), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=180, **kwargs,  # type: ignore[call-overload]
    )  # fmt: skip


def settings_flags(root: Path) -> list[str]:
    return ["--config", str(root / "zeropin.toml"), "--set", f"device.state_dir={root / 'state'}",
            "--set", "camera.backend=none"]  # fmt: skip


def environment(root: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(root / "home")}


@pytest.fixture(scope="session")
def spoken_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose state/ the daemon (``zeropin run --sim --lockstep``) filled by answering
    SPOKEN, the cloud question through the loopback server: turns, a note, a ledger row."""
    root = tmp_path_factory.mktemp("spoken")
    (root / "home").mkdir()
    mic = spoken_session(root / "mic.wav", *SPOKEN, last_pause_seconds=20)
    with LoopbackLLM(first_token_seconds=0.3) as server:
        (root / "zeropin.toml").write_text(
            f'[llm]\nchain = ["homelab"]\n[providers.homelab]\nbase_url = "{server.base_url}"\n'
            f'model = "loopback-chat"\n[web]\ntoken = "{TOKEN}"\n'
        )
        run = zeropin(root, "run", "--sim", "--mic", str(mic), "--lockstep",
                      "--speaker-file", str(root / "out"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    return root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PageServer:
    url: str
    root: Path
    process: subprocess.Popen[str]

    def log(self) -> str:
        """What the server wrote to stderr so far (it is stopped first)."""
        self.process.terminate()
        _, err = self.process.communicate(timeout=10)
        return err

    @property
    def page_file(self) -> Path:
        return self.root / "home" / ".local" / "share" / "zeropin" / "settings.toml"


def wait_until_serving(url: str, process: subprocess.Popen[str], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the page server exited: {process.communicate()}")
        try:
            requests.get(url + "/login", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"nothing served at {url} within {seconds} s")


def _copy(spoken_state: Path, root: Path) -> Path:
    shutil.copytree(spoken_state, root, ignore=shutil.ignore_patterns("out", "mic.wav"))
    secrets = root / "home" / ".config" / "zeropin" / "secrets.toml"
    secrets.parent.mkdir(parents=True)
    secrets.write_text(f'[providers.homelab]\napi_key = "{API_KEY}"\n')
    secrets.chmod(0o600)
    return root


@contextlib.contextmanager
def serving(root: Path) -> Iterator[PageServer]:
    """``zeropin web serve`` over the state folder ``root``, on a free port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "device.cli", *settings_flags(root), "web", "serve",
         "--port", str(port)],
        env=environment(root), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    server = PageServer(f"http://127.0.0.1:{port}", root, process)
    try:
        wait_until_serving(server.url, process)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def page_server(spoken_state: Path, tmp_path: Path) -> Iterator[PageServer]:
    """``zeropin web serve`` over a copy of the spoken state (tests may change settings), its
    token in the config file."""
    with serving(_copy(spoken_state, tmp_path / "device")) as server:
        yield server


@pytest.fixture
def spoken_state_token_file(spoken_state: Path, tmp_path: Path) -> Iterator[PageServer]:
    """The same, without [web] token: the token is the file ``zeropin web token`` keeps."""
    root = _copy(spoken_state, tmp_path / "device")
    config = root / "zeropin.toml"
    config.write_text(config.read_text().split("[web]")[0])
    with serving(root) as server:
        yield server
