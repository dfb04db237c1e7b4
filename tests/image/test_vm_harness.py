"""The boot-test harness itself: an arm64 Debian rootfs boots under qemu-system-aarch64 with
systemd as PID 1, and a probe's output comes back.

Run alone (as root: debootstrap, and mkfs.ext4 -d must read root-only files):
`.venv/bin/python -m pytest -m image tests/image/test_vm_harness.py -rA -s`; `./dev test-image`
runs it with the image build tests. About 1.5 min warm, 4 min cold.

Expensive artifacts are cached in $ZEROPIN_IMAGE_CACHE (default ~/.cache/zeropin-image-tests):
the debootstrapped rootfs tarball, Debian's arm64 kernel and the initrd. $ZEROPIN_IMAGE_ROOTFS
may name an existing arm64 rootfs directory to boot instead (it is only read).
$ZEROPIN_DEBIAN_MIRROR overrides debootstrap's default mirror (and the host's apt sources for
the kernel).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from . import vm

pytestmark = pytest.mark.image

PROBE = """\
uname -m
systemctl is-system-running --wait
cat /proc/1/comm
echo "failed units: $(systemctl --failed --plain --no-legend | tr '\\n' ';')"
echo "to stderr" >&2
exit 3
"""


def _require(*, debootstrap: bool = False, root: bool = False) -> None:
    if shutil.which("qemu-system-aarch64") is None:
        pytest.skip("qemu-system-aarch64 is not installed (apt-get install qemu-system-arm)")
    if debootstrap and shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed and no arm64 rootfs is cached")
    if debootstrap and not Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists():
        pytest.skip(
            "no qemu-aarch64 binfmt handler (apt-get install qemu-user-static "
            "binfmt-support): debootstrap cannot run its arm64 second stage"
        )
    if (root or debootstrap) and os.geteuid() != 0:
        pytest.skip("needs root: debootstrap, and mkfs.ext4 -d reading root-only files")
    missing = vm.missing_host_tools()
    if missing:
        pytest.skip(f"missing host tools: {', '.join(missing)}")


@pytest.fixture(scope="session")
def image_cache() -> Path:
    cache = vm.default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    return cache


@pytest.fixture(scope="session")
def arm64_rootfs(image_cache, tmp_path_factory) -> Path:
    """A minbase arm64 bookworm rootfs with systemd-sysv and udev (debootstrapped once)."""
    given = os.environ.get("ZEROPIN_IMAGE_ROOTFS")
    if given:
        _require(root=True)
        return Path(given)
    _require(debootstrap=not vm.rootfs_tarball_path(image_cache).is_file(), root=True)
    start = time.monotonic()
    tarball = vm.debootstrap_tarball(image_cache)
    made = time.monotonic()
    rootfs = vm.extract_tarball(tarball, tmp_path_factory.mktemp("arm64-rootfs"))
    print(f"\nrootfs: tarball {made - start:.1f} s, extracted {time.monotonic() - made:.1f} s")
    return rootfs


def _fake_rootfs(path: Path) -> Path:
    """A root filesystem that is only good for failing: fast to pack."""
    (path / "sbin").mkdir(parents=True)
    (path / "sbin/init").write_text("#!/bin/sh\n")
    (path / "sbin/init").chmod(0o755)
    return path


def _listing(root: Path) -> dict[str, tuple[int, float]]:
    watched = [root / "etc", root / "etc/systemd/system", root / "usr/local/lib"]
    out = {}
    for d in watched:
        for p in [d, *d.rglob("*")] if d.is_dir() else [d]:
            st = os.lstat(p)
            out[str(p.relative_to(root))] = (st.st_mode, st.st_mtime)
    return out


def test_kernel_and_initrd_are_cached(image_cache):
    _require()
    start = time.monotonic()
    kernel, initrd = vm.kernel_and_initrd(image_cache)
    first = time.monotonic() - start
    start = time.monotonic()
    assert vm.kernel_and_initrd(image_cache) == (kernel, initrd)
    again = time.monotonic() - start
    print(f"\nkernel and initrd: {first:.2f} s, then {again:.4f} s from the cache")
    assert again < 1
    assert kernel.read_bytes()[0x38:0x3C] == b"ARMd"  # arm64 Image header magic
    assert initrd.read_bytes()[:6] == b"070701"  # newc cpio
    manifest = (kernel.parent / "manifest.json").read_text()
    for module in ("virtio_blk", "virtio_mmio", "ext4"):
        assert f'"{module}"' in manifest


def test_boots_with_systemd_as_pid_1_and_returns_the_probe_output(
    arm64_rootfs, image_cache, tmp_path
):
    before = _listing(arm64_rootfs)
    result = vm.boot_result(
        arm64_rootfs, probe=PROBE, timeout_seconds=600, work=tmp_path, cache=image_cache
    )
    print(
        f"\nprepare {result.seconds_prepare:.1f} s, boot to probe end "
        f"{result.seconds_to_probe:.1f} s, to qemu exit {result.seconds_total:.1f} s"
    )
    lines = result.output.splitlines()
    assert lines[0] == "aarch64", result.console
    assert lines[2] == "systemd", result.console
    assert lines[1] == "running", f"system {lines[1]}; {lines[3]}"
    assert lines[4:] == ["to stderr"]
    assert result.returncode == 3
    assert _listing(arm64_rootfs) == before, "boot() changed the rootfs it was given"
    # the console ends with the VM powering off, not with qemu being killed
    assert "reboot: Power down" in result.console


def test_a_kernel_panic_is_reported_with_the_console_tail(image_cache, tmp_path):
    _require()
    rootfs = _fake_rootfs(tmp_path / "rootfs")
    start = time.monotonic()
    with pytest.raises(vm.KernelPanic) as caught:  # no initramfs init: no driver for /dev/vda
        vm.boot_result(
            rootfs,
            probe="true",
            timeout_seconds=300,
            work=tmp_path / "w",
            cache=image_cache,
            extra_kernel_args=["rdinit=/nonexistent"],
        )
    assert "Kernel panic" in str(caught.value)
    assert "--- last 60 console lines ---" in str(caught.value)
    assert time.monotonic() - start < 120


def test_an_initramfs_failure_stops_the_boot_at_once(image_cache, tmp_path):
    _require()
    rootfs = _fake_rootfs(tmp_path / "rootfs")
    with pytest.raises(vm.BootError, match="zeropin-initramfs: FAILED: no /nonexistent"):
        vm.boot_result(
            rootfs,
            probe="true",
            timeout_seconds=300,
            work=tmp_path / "w",
            cache=image_cache,
            extra_kernel_args=["init=/nonexistent"],
        )


def test_a_timeout_kills_qemu_and_raises(image_cache, tmp_path):
    _require()
    rootfs = _fake_rootfs(tmp_path / "rootfs")
    start = time.monotonic()
    with pytest.raises(vm.BootTimeout):
        vm.boot_result(
            rootfs, probe="true", timeout_seconds=1, work=tmp_path / "w", cache=image_cache
        )
    assert time.monotonic() - start < 60
