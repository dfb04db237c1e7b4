"""The image build's Vosk model options, checked before any slow work: these run in seconds, in
the default test run (the builds themselves are in test_image_build.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from device.system.manifest import load_manifest
from image.stand_in import REPO


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "image-build" / script), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_vosk_zip_that_is_not_the_pinned_model_stops_the_build_at_once(tmp_path: Path) -> None:
    wrong = tmp_path / "vosk-model-small-en-us-0.15.zip"
    wrong.write_bytes(b"PK not the model")
    out = tmp_path / "out.img"
    result = run("build.sh", "--base", str(tmp_path / "base.img"), "--out", str(out),
                 "--vosk-zip", str(wrong))  # fmt: skip
    assert result.returncode == 1
    assert f"{wrong} does not match the sha256 of vosk-small-en-us" in result.stderr
    assert load_manifest()["vosk-small-en-us"].sha256 in result.stderr  # the manifest's pin
    assert not out.exists()


def test_a_missing_vosk_zip_is_named(tmp_path: Path) -> None:
    result = run("build.sh", "--base", "b.img", "--out", "o.img",
                 "--vosk-zip", str(tmp_path / "absent.zip"))  # fmt: skip
    assert result.returncode == 1
    assert f"no such file: {tmp_path / 'absent.zip'}" in result.stderr


def test_asking_for_a_vosk_zip_and_for_no_model_is_refused(tmp_path: Path) -> None:
    zip_file = tmp_path / "model.zip"
    zip_file.write_bytes(b"")
    build = run("build.sh", "--base", "b.img", "--out", "o.img",
                "--vosk-zip", str(zip_file), "--no-vosk-model")  # fmt: skip
    provision = run("provision.sh", "--wheel", "w.whl", "--models", "m", "--units", "u",
                    "--vosk-zip", str(zip_file), "--no-vosk-model")  # fmt: skip
    for result in (build, provision):
        assert result.returncode == 2
        assert "--vosk-zip and --no-vosk-model contradict each other" in result.stderr
