"""A broken model manifest is one clear line naming it and how to get it back, not a traceback:
through the real loader, and through the daemon's real start."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from device.errors import ModelError
from device.system.manifest import MANIFEST_PATH, load_manifest
from drivers.audio_format import write_wav

VOSK_ONLY = """\
[vosk-small-en-us]
url = "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip"
sha256 = "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498"
size_bytes = 41205931
licence = "Apache-2.0"
archive = "zip"
unpacks_to = "vosk-model-small-en-us-0.15"
audio = "16 kHz mono"
description = "Vosk small US English"
"""


@pytest.mark.parametrize("text", ["", "# every model was deleted\n"])
def test_an_empty_manifest_is_one_clear_error_saying_how_to_restore_it(
    tmp_path: Path, text: str
) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(text)
    with pytest.raises(ModelError) as caught:
        load_manifest(manifest)
    message = str(caught.value)
    assert message.startswith(f"{manifest}: the model manifest is empty")
    assert "git checkout -- models/manifest.toml" in message and "reinstall" in message


def test_a_model_missing_from_the_manifest_is_a_model_error_naming_the_file(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(VOSK_ONLY)
    with pytest.raises(ModelError) as caught:
        load_manifest(manifest)["wakeword-hey-zero"]
    message = str(caught.value)
    assert message.startswith(f"{manifest}: no model 'wakeword-hey-zero' in the model manifest")
    assert "(it has vosk-small-en-us)" in message


def test_the_daemon_with_an_empty_manifest_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    # A copy of ZeroPin whose models/manifest.toml is empty, started as a user would start it:
    # the manifest is found beside the code, so the copy reads its own.
    repo = MANIFEST_PATH.parents[1]
    copy = tmp_path / "zeropin"
    for package in ("device", "drivers"):
        shutil.copytree(
            repo / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    (copy / "models").mkdir()
    (copy / "models" / "manifest.toml").write_text("")
    write_wav(tmp_path / "quiet.wav", bytes(32000))
    result = subprocess.run(
        [sys.executable, "-m", "device.cli", "--config", str(tmp_path / "none.toml"),
         "--set", f"device.state_dir={tmp_path / 'state'}", "--set", "camera.backend=none",
         "run", "--sim", "--mic", str(tmp_path / "quiet.wav"),
         "--speaker-file", str(tmp_path / "out"), "--lockstep"],
        cwd=copy, env={**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(copy)},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("zeropin: ")]
    assert line.startswith(f"zeropin: {copy / 'models' / 'manifest.toml'}: the model manifest is")
    assert "git checkout -- models/manifest.toml" in line
