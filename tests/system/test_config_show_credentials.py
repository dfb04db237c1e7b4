"""`zeropin config show` and config errors never print a credential written into a URL.

A LAN server behind a proxy is often given as ``http://user:KEY@host/v1`` or with ``?api_key=``;
what config show prints is meant to be pasted into bug reports. Run as a user runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from device.config.text import without_credentials

KEYS = ("sk-userinfo-1111", "sk-query-2222", "sk-flag-3333")
CONFIG = f"""\
[llm]
chain = ["lan"]

[providers.lan]
base_url = "http://proxy:{KEYS[0]}@192.168.1.20:11434/v1?api_key={KEYS[1]}&region=eu"
model = "llama3.2"
"""


def _zeropin(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "device.cli", *args],
        env={**os.environ, "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_config_show_masks_userinfo_and_key_parameters_and_keeps_the_rest(tmp_path: Path) -> None:
    config = tmp_path / "zeropin.toml"
    config.write_text(CONFIG)
    result = _zeropin(
        tmp_path, "--config", str(config),
        "--set", f"providers.lan.speech_voice=http://u:{KEYS[2]}@tts.lan/",
        "config", "show",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for key in KEYS:
        assert key not in result.stdout + result.stderr
    assert 'base_url = "http://***@192.168.1.20:11434/v1?api_key=***&region=eu"' in result.stdout
    assert 'speech_voice = "http://***@tts.lan/"' in result.stdout
    assert 'model = "llama3.2"' in result.stdout


def test_an_error_quoting_a_url_masks_its_credentials(tmp_path: Path) -> None:
    config = tmp_path / "zeropin.toml"
    config.write_text(CONFIG.replace("http://proxy", "htp://proxy"))  # a typo in the scheme
    result = _zeropin(tmp_path, "--config", str(config), "config", "show")
    assert result.returncode == 1
    assert f"zeropin: {config}: [providers.lan] base_url:" in result.stderr
    assert "htp://***@192.168.1.20" in result.stderr
    for key in KEYS:
        assert key not in result.stderr


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("https://user:pa%40ss@api.example.com/v1", "https://***@api.example.com/v1"),
        ("http://user:p@ss@lan:8080/v1", "http://***@lan:8080/v1"),  # an @ left unencoded
        ("https://api.example.com/v1?key=abc&n=1", "https://api.example.com/v1?key=***&n=1"),
        ("wss://h/x?access_token=abc#top", "wss://h/x?access_token=***#top"),
        ("https://api.example.com/v1?model=gpt", "https://api.example.com/v1?model=gpt"),
        ("me@example.com, not a URL", "me@example.com, not a URL"),
    ],
)
def test_without_credentials(text: str, masked: str) -> None:
    assert without_credentials(text) == masked
