"""image-build/build.sh on a stand-in Raspberry Pi OS image, checked in an arm64 chroot.

Slow (minutes: apt and pip run under qemu-user), so marked ``image`` and kept out of the default
run. Run it with ``./dev test-image``, which installs debootstrap, qemu-user and friends first.
"""

from __future__ import annotations

import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from device.system.manifest import load_manifest, marker_path
from image import stand_in
from image.conftest import Built
from image.stand_in import BOOT, KEY, MAKER_TOML, REPO

pytestmark = [
    pytest.mark.image,
    pytest.mark.skipif(bool(stand_in.missing_tools()), reason=stand_in.missing_tools() or "ok"),
]


def test_build_refuses_a_base_image_that_does_not_match_its_sha256(tmp_path: Path) -> None:
    base = tmp_path / "base.img"
    base.write_bytes(b"not an image")
    Path(f"{base}.sha256").write_text("0" * 64 + "  base.img\n")
    result = subprocess.run(
        [str(REPO / "image-build/build.sh"), "--base", str(base), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "does not match its sha256" in result.stderr
    assert not (tmp_path / "o").exists()


def test_the_venv_imports_the_daemon_under_arm64_emulation(root: Path) -> None:
    result = stand_in.chroot(
        root,
        "/opt/zeropin/venv/bin/python",
        "-c",
        "import platform, device, drivers, device.app; print(platform.machine())",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "aarch64"


RECORD_IN_THE_IMAGE = """
import pathlib, tempfile
import numpy as np
from device.storage.database import Database
from device.storage.recorder import Recorder, RecorderSettings, read_segment
from device.storage.recordings import RecordingStore
folder = pathlib.Path(tempfile.mkdtemp())
pcm = (np.sin(np.arange(16000 * 12) / 5) * 3000).astype("<i2").tobytes()
with Database(folder / "zeropin.db") as db:
    store = RecordingStore(db)
    recorder = Recorder(store, folder / "recordings", RecorderSettings(segment_seconds=5))
    recorder.start()
    for start in range(0, len(pcm), 3200):
        recorder.feed(pcm[start : start + 3200])
    recorder.stop()
    recorder.close()
    segments = store.segments(1)
    joined = b"".join(read_segment(folder / "recordings" / s.file) for s in segments)
    print(len(segments), joined == pcm[: len(joined)], len(joined))
"""


def test_the_recorder_writes_flac_segments_under_arm64_emulation(root: Path) -> None:
    """libsndfile's FLAC, as the image's wheels ship it for aarch64, round-trips a recording."""
    result = stand_in.chroot(root, "/opt/zeropin/venv/bin/python", "-c", RECORD_IN_THE_IMAGE)
    assert result.returncode == 0, result.stderr
    segments, same, length = result.stdout.split()
    assert int(segments) >= 2 and same == "True" and int(length) >= 16000 * 2 * 11


def test_zeropin_version_and_doctor_sim_run_in_the_image(root: Path) -> None:
    version = stand_in.chroot(root, "/usr/local/bin/zeropin", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("zeropin ")
    doctor = stand_in.chroot(
        root, "/usr/local/bin/zeropin", "doctor", "--sim", "--button-seconds", "2", timeout=900
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "mic" in doctor.stdout and "models" in doctor.stdout


def test_units_are_installed_and_enabled(root: Path) -> None:
    units = root / "etc/systemd/system"
    wanted = {
        "zeropin.service": "multi-user.target.wants",
        "zeropin-firstboot.service": "multi-user.target.wants",
        "zeropin-web.socket": "sockets.target.wants",  # the page itself starts on a visit
        "zeropin-web.service": None,
    }
    for unit, wants in wanted.items():
        assert (units / unit).read_text() == (REPO / "systemd" / unit).read_text()
        if wants is not None:
            assert (units / wants / unit).is_symlink(), f"{unit} is not enabled"
    assert not list(units.glob("*.wants/zeropin-web.service"))


def test_the_daemon_user_models_and_state_folder_are_in_place(root: Path) -> None:
    passwd = (root / "etc/passwd").read_text()
    assert any(line.startswith("zeropin:") for line in passwd.splitlines())
    group = {line.split(":")[0]: line for line in (root / "etc/group").read_text().splitlines()}
    for name in ("audio", "video", "gpio"):
        assert "zeropin" in group[name].split(":")[3].split(","), f"zeropin is not in {name}"
    for spec in load_manifest().values():  # every model that ships in the repository
        if spec.path:
            shipped = root / "opt/zeropin/models" / spec.path
            assert shipped.read_bytes() == (REPO / "models" / spec.path).read_bytes(), spec.name
    state = root / "var/lib/zeropin"
    assert stat.S_IMODE(state.stat().st_mode) == 0o750


def test_the_vosk_model_is_installed_unless_the_build_opted_out(built: Built, root: Path) -> None:
    spec = load_manifest()["vosk-small-en-us"]
    model = root / "var/lib/zeropin/models" / spec.unpacks_to
    if built.vosk_zip is None:
        assert "WARNING: no Vosk model (--no-vosk-model)" in built.log
        assert not model.exists()
        return
    assert (model / "am").is_dir()
    assert marker_path(model).read_text().strip() == spec.sha256
    uid = int(_passwd_field(root, "zeropin", 2))
    assert model.stat().st_uid == uid, "the daemon's user must own its models"


def test_the_boot_partition_keeps_the_makers_file(built: Built, tmp_path: Path) -> None:
    boot = stand_in.boot_files(built.image, tmp_path / "boot")
    assert (boot / "zeropin.toml").read_text() == MAKER_TOML  # applied at boot, not at build
    assert (boot / "config.txt").read_text() == BOOT["config.txt"]


def test_firstboot_in_the_image_applies_the_boot_config_and_moves_the_key(
    built: Built, root: Path, tmp_path: Path
) -> None:
    # What zeropin-firstboot.service does at the first boot, run in the image's own chroot.
    boot = root / "boot/firmware"
    stand_in.boot_files(built.image, boot)
    try:
        result = stand_in.chroot(root, "/usr/local/bin/zeropin", "firstboot")
        assert result.returncode == 0, result.stdout + result.stderr
        assert (root / "etc/hostname").read_text() == "zeropin-07\n"
        assert "cfg80211.ieee80211_regdom=GB" in (boot / "cmdline.txt").read_text()
        secrets = root / "etc/zeropin/secrets.toml"
        info = secrets.stat()
        assert stat.S_IMODE(info.st_mode) == 0o600
        uid = int(_passwd_field(root, "zeropin", 2))
        assert info.st_uid == uid, "the daemon's user must own its secrets"
        assert tomllib.loads(secrets.read_text())["providers"]["openai"]["api_key"] == KEY
        left = (boot / "zeropin.toml").read_text()
        assert KEY not in left
        assert tomllib.loads(left)["system"]["hostname"] == "zeropin-07"
        assert "pcm" in (root / "etc/asound.conf").read_text()  # the sim profile's ALSA config
        # the daemon, as its own user, reads the merged config with the key from secrets
        show = stand_in.chroot(
            root, "runuser", "-u", "zeropin", "--", "/usr/local/bin/zeropin", "config", "show"
        )
        assert show.returncode == 0, show.stderr
        assert 'api_key = "***"' in show.stdout and KEY not in show.stdout
    finally:
        for child in boot.iterdir():
            child.unlink()


def _passwd_field(root: Path, user: str, index: int) -> str:
    for line in (root / "etc/passwd").read_text().splitlines():
        if line.startswith(f"{user}:"):
            return line.split(":")[index]
    raise AssertionError(f"no {user} in /etc/passwd")
