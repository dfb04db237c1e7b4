"""A stand-in for the Raspberry Pi OS Lite image, made offline from Debian arm64 packages.

Raspberry Pi OS's own image cannot be downloaded here, so the image tests build one of the same
shape: an MBR disk with a FAT boot partition (config.txt, cmdline.txt, the maker's zeropin.toml)
and an ext4 root made by debootstrap. What it lacks (Raspberry Pi OS's archive: picamera2,
libcamera, raspi-config, lgpio) the build must skip, as it would on plain Debian.

Needs root, debootstrap, qemu-user-static with binfmt (to run the arm64 root's programs),
parted, dosfstools and mtools: ``./dev test-image`` installs them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

from image import vm

# Raspberry Pi OS Lite has these; minbase does not.
INCLUDE = ("systemd-sysv", "udev", "kmod", "python3", "ca-certificates")
BOOT_MB = 256
MiB = 1024 * 1024

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-test-boot-partition-1234"  # a made-up key: it must end up 0600 and off the FAT
MAKER_TOML = f"""\
[system]
hostname = "zeropin-07"
wifi_country = "GB"

[audio]
profile = "sim"

[llm]
chain = ["openai"]

[providers.openai]
api_key = "{KEY}"
"""
BOOT = {
    "config.txt": "# stand-in for Raspberry Pi OS's config.txt\narm_64bit=1\n",
    "cmdline.txt": "console=serial0,115200 root=/dev/vda2 rootfstype=ext4 rootwait\n",
    "zeropin.toml": MAKER_TOML,
}


def missing_tools() -> str:
    """Why the image tests cannot run here, or "" when they can."""
    if os.geteuid() != 0:
        return "needs root (loop devices, chroot)"
    for tool in ("debootstrap", "parted", "mkfs.vfat", "mcopy", "losetup", "chroot"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (./dev test-image installs it)"
    if not Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists():
        return "no qemu-aarch64 binfmt handler (./dev test-image installs qemu-user-static)"
    return ""


def cache_dir() -> Path:
    """Where slow artifacts are kept between runs, keyed by what made them."""
    path = Path(os.environ.get("ZEROPIN_IMAGE_CACHE", vm.DEFAULT_CACHE))
    path.mkdir(parents=True, exist_ok=True)
    return path


def base_rootfs_tar(cache: Path) -> Path:
    """A tarball of a debootstrapped arm64 root (about 2.5 minutes, once)."""
    return vm.debootstrap_tarball(cache, include=INCLUDE)


def make_base_image(rootfs_tar: Path, boot_files: Mapping[str, str], out: Path) -> Path:
    """Write a two-partition image (FAT boot, ext4 root) like Raspberry Pi OS's.

    Returns ``out`` compressed, ``out.xz``, with its sha256 beside it in ``out.xz.sha256``.
    """
    work = out.parent / (out.name + ".d")
    shutil.rmtree(work, ignore_errors=True)
    root = work / "root"
    root.mkdir(parents=True)
    _run("tar", "--numeric-owner", "--xattrs", "-C", str(root), "-xf", str(rootfs_tar))
    (root / "boot/firmware").mkdir(parents=True, exist_ok=True)
    (root / "etc/fstab").write_text(
        "/dev/vda2 / ext4 defaults,noatime 0 1\n/dev/vda1 /boot/firmware vfat defaults 0 2\n"
    )
    root_mb = _tree_mb(root) + 400  # room for apt's lists; build.sh grows it further
    boot_img, root_img = work / "boot.img", work / "root.img"
    _run("mkfs.vfat", "-n", "bootfs", "-C", str(boot_img), str(BOOT_MB * 1024))
    for name, text in boot_files.items():
        source = work / name
        source.write_text(text)
        _run("mcopy", "-i", str(boot_img), str(source), f"::{name}")
    _run("mkfs.ext4", "-q", "-L", "rootfs", "-d", str(root), str(root_img), f"{root_mb}M")
    start_boot, start_root = 4, 4 + BOOT_MB
    with out.open("wb") as image:
        image.truncate((start_root + root_mb + 1) * MiB)
    _run("parted", "-s", str(out), "mklabel", "msdos")
    _run("parted", "-s", str(out), "mkpart", "primary", "fat32", f"{start_boot}MiB",
         f"{start_root}MiB")  # fmt: skip
    _run("parted", "-s", str(out), "mkpart", "primary", "ext4", f"{start_root}MiB",
         f"{start_root + root_mb}MiB")  # fmt: skip
    for part, start in ((boot_img, start_boot), (root_img, start_root)):
        _run("dd", f"if={part}", f"of={out}", "bs=1M", f"seek={start}", "conv=notrunc,sparse",
             "status=none")  # fmt: skip
    shutil.rmtree(work)
    # Published as the official images are: xz-compressed, with the sha256 of the .xz beside it.
    _run("xz", "-0", "-T0", str(out))
    packed = Path(f"{out}.xz")
    digest = hashlib.sha256(packed.read_bytes()).hexdigest()
    Path(f"{packed}.sha256").write_text(f"{digest}  {packed.name}\n")
    return packed


@contextlib.contextmanager
def mounted_root(image: Path, mount_point: Path) -> Iterator[Path]:
    """Mount the image's ext4 root at ``mount_point`` (the FAT boot partition: see boot_files)."""
    start, size = partitions(image)[1]
    loop = _out("losetup", "--find", "--show", "--offset", str(start), "--sizelimit", str(size),
                str(image))  # fmt: skip
    try:
        mount_point.mkdir(parents=True, exist_ok=True)
        _run("mount", loop, str(mount_point))
        try:
            yield mount_point
        finally:
            subprocess.run(["umount", str(mount_point)], check=False)
    finally:
        subprocess.run(["losetup", "-d", loop], check=False)


def boot_files(image: Path, into: Path) -> Path:
    """Copy the FAT boot partition's files into ``into`` with mtools (no vfat driver needed)."""
    into.mkdir(parents=True, exist_ok=True)
    _run("mcopy", "-s", "-n", "-i", f"{image}@@{partitions(image)[0][0]}", "::*", f"{into}/")
    return into


def partitions(image: Path) -> list[tuple[int, int]]:
    """(start, size) in bytes of each partition, from parted's machine-readable table."""
    table = _out("parted", "-s", "-m", str(image), "unit", "B", "print")
    rows = [line.rstrip(";").split(":") for line in table.splitlines()[2:]]
    return [(int(row[1].rstrip("B")), int(row[3].rstrip("B"))) for row in rows]


def chroot(root: Path, *command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in the arm64 root under qemu-user, with a clean environment."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8",
           "HOME": "/root"}  # fmt: skip
    for sub in ("proc", "dev"):
        if not os.path.ismount(root / sub):
            _run("mount", "--bind", f"/{sub}", str(root / sub))
    try:
        return subprocess.run(
            ["chroot", str(root), *command],
            env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    finally:
        for sub in ("dev", "proc"):
            subprocess.run(["umount", "-l", str(root / sub)], check=False)


def _tree_mb(root: Path) -> int:
    return int(_out("du", "-sm", "--apparent-size", str(root)).split()[0])


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=1200)


def _out(*command: str) -> str:
    return subprocess.run(
        command, check=True, capture_output=True, text=True, timeout=120
    ).stdout.strip()
