"""Lint and type checks run with the tests, so CI enforces what STYLE.md asks for."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "device", "drivers", "models", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing():
    # each trainer is a package named "trainer" in its own folder, so mypy checks them apart
    for paths in (("device", "drivers", "models/wakeword/trainer"), ("models/commands/trainer",)):
        result = _run("mypy", *paths)
        assert result.returncode == 0, result.stdout + result.stderr
