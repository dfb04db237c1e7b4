"""Boot an arm64 root filesystem under qemu-system-aarch64 with systemd as PID 1 and run a probe.

The boot test's harness. `boot()` packs a root filesystem directory into an ext4 disk image
(`mkfs.ext4 -d`, no copy of the tree), writes a probe service into the image with `debugfs -w`
(the directory passed in is never touched), boots it under `qemu-system-aarch64 -M virt -cpu
cortex-a53` (software emulation) with Debian's arm64 kernel, and returns what the probe printed
on the serial console between two markers.

Debian's arm64 kernel has virtio-blk, virtio-mmio and ext4 as modules, and the rootfs under test
has no kernel of its own, so `kernel_and_initrd()` builds a tiny initramfs on the host: the static
busybox from Debian's `busybox-static` (arm64) and the few `.ko` files needed to mount a virtio
ext4 disk, with their dependencies read from each module's `.modinfo`. The `.deb`s come through
apt with a private arm64 state directory and the host's own sources, or $ZEROPIN_DEBIAN_MIRROR's
(nothing on the host changes: no `dpkg --add-architecture`). That takes seconds, where
initramfs-tools in an arm64 chroot takes many minutes under qemu-user. Both are cached by what
made them.

No traffic leaves the VM: it has no network device (`-nic none`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

SUITE = "bookworm"
KERNEL_PACKAGE = "linux-image-arm64"  # the metapackage; its Depends names the versioned image
BUSYBOX_PACKAGE = "busybox-static"

# What /init loads (dependencies are added from each module's .modinfo), in this order.
# The rootfs under test has no /lib/modules for this kernel, so what systemd itself would load
# is loaded here too (a module stays loaded after switch_root): autofs4 for automount units,
# binfmt_misc or proc-sys-fs-binfmt_misc.mount and systemd-binfmt.service fail ("degraded").
INITRAMFS_MODULES = (
    "virtio_mmio",
    "virtio_blk",
    "crc32c_generic",
    "ext4",
    "autofs4",
    "binfmt_misc",
)

# Applets /init uses; each becomes a symlink to /bin/busybox in the initramfs.
BUSYBOX_APPLETS = (
    "sh", "mount", "umount", "mkdir", "insmod", "switch_root", "sleep", "cat", "echo",
    "poweroff", "ls", "dmesg", "tr", "tail",
)  # fmt: skip

INIT_SCRIPT = r"""#!/bin/sh
# ZeroPin boot-test initramfs: load virtio + ext4, mount the root disk, hand over to its init.
fail() {
    echo "zeropin-initramfs: FAILED: $*"
    echo "zeropin-initramfs: block devices: $(ls /sys/class/block 2>&1 | tr '\n' ' ')"
    dmesg | tail -n 20
    poweroff -f
    sleep 5
}
mkdir -p /proc /sys /dev /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev || fail "devtmpfs"
root=/dev/vda fstype=ext4 mode=rw init=/sbin/init
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        root=*) root=${arg#root=} ;;
        rootfstype=*) fstype=${arg#rootfstype=} ;;
        ro) mode=ro ;;
        rw) mode=rw ;;
        init=*) init=${arg#init=} ;;
    esac
done
for m in $(cat /modules/order); do
    insmod "/modules/$m.ko" || fail "insmod $m"
done
i=0
while [ ! -b "$root" ]; do
    i=$((i + 1))
    [ "$i" -gt 100 ] && fail "no block device $root after 10 s"
    sleep 0.1
done
mount -t "$fstype" -o "$mode" "$root" /root || fail "mount $root"
[ -x "/root$init" ] || [ -L "/root$init" ] || fail "no $init in the root filesystem"
umount /sys
umount /proc
mount --move /dev /root/dev || fail "move /dev"
exec switch_root /root "$init"
"""

BEGIN_MARKER = "ZEROPIN-PROBE-BEGIN"
END_MARKER = "ZEROPIN-PROBE-END"
PROBE_UNIT = "zeropin-probe.service"
PROBE_DIR = "/usr/local/lib/zeropin-probe"

# Kernel and systemd settings for a fast, quiet, non-interactive boot. No getty on the serial
# console (its login prompt would interleave with the probe's output, and nobody logs in) nor on
# VTs the VM does not have (Debian's getty-static.service took 6 s under emulation, on the way to
# multi-user.target); no e2scrub_reap (6 s, LVM snapshots the image has none of) and no apt timers
# (no network). systemd only reports failures on the console. boot_result(extra_kernel_args=...)
# adds to these; a later systemd.mask= cannot unmask, so drop one here if a test needs it.
KERNEL_ARGS = (
    "console=ttyAMA0",
    "root=/dev/vda",
    "rootfstype=ext4",
    "rw",
    "quiet",
    "panic=-1",  # reboot at once on a panic; with -no-reboot qemu then exits
    "fsck.mode=skip",
    "audit=0",
    "systemd.show_status=error",
    "systemd.mask=serial-getty@ttyAMA0.service",
    "systemd.mask=getty@tty1.service",
    "systemd.mask=getty-static.service",
    "systemd.mask=e2scrub_reap.service",
    "systemd.mask=systemd-networkd-wait-online.service",
    "systemd.mask=apt-daily.timer",
    "systemd.mask=apt-daily-upgrade.timer",
    f"systemd.wants={PROBE_UNIT}",
    "SYSTEMD_COLORS=0",  # not a kernel parameter: the kernel passes it to init's environment
)

# Console text that means the probe will never run: stop at once rather than wait for the timeout.
# (The initramfs powers off after printing its failure, so qemu exits anyway.)
FAILURE_PATTERNS = {
    "Kernel panic - not syncing": "KernelPanic",
    "zeropin-initramfs: FAILED": "",
    "You are in emergency mode": "",  # systemd gave up (an fstab entry, say): no probe will run
}
DEFAULT_CACHE = Path.home() / ".cache" / "zeropin-image-tests"


class BootError(RuntimeError):
    """The VM did not produce the probe's output; the message ends with the console's tail."""

    def __init__(self, reason: str, console: str, tail_lines: int = 60):
        self.reason = reason
        self.console = console
        tail = "\n".join(console.splitlines()[-tail_lines:])
        super().__init__(f"{reason}\n--- last {tail_lines} console lines ---\n{tail}")


class BootTimeout(BootError):
    pass


class KernelPanic(BootError):
    pass


@dataclasses.dataclass(frozen=True)
class BootResult:
    output: str  # what the probe printed (stdout and stderr), without the markers
    returncode: int  # the probe's exit status
    console: str  # the whole serial console
    seconds_prepare: float  # kernel and initrd (cached or not), mkfs.ext4 -d and debugfs
    seconds_to_probe: float  # from starting qemu to the end marker
    seconds_total: float  # from starting qemu to qemu's exit (or kill)


def default_cache() -> Path:
    return Path(os.environ.get("ZEROPIN_IMAGE_CACHE") or DEFAULT_CACHE)


def missing_host_tools(*, for_kernel: bool = True) -> list[str]:
    """Host programs this harness needs that are not on PATH."""
    tools = ["qemu-system-aarch64", "mkfs.ext4", "debugfs"]
    if for_kernel:
        tools += ["apt-get", "apt-cache", "dpkg-deb"]
    return [t for t in tools if shutil.which(t) is None]


# --- kernel and initramfs ---------------------------------------------------------------------


def _recipe_key() -> str:
    recipe = json.dumps(
        {
            "suite": SUITE,
            "kernel": KERNEL_PACKAGE,
            "busybox": BUSYBOX_PACKAGE,
            "modules": INITRAMFS_MODULES,
            "applets": BUSYBOX_APPLETS,
            "init": INIT_SCRIPT,
            "format": 1,
        },
        sort_keys=True,
    )
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def kernel_and_initrd(cache: Path) -> tuple[Path, Path]:
    """Debian's arm64 kernel and an initrd able to mount a virtio-blk ext4 root, cached in `cache`.

    The cache entry is keyed by the recipe (suite, packages, modules, /init); the package versions
    it was built from are in its manifest.json. Delete the entry to pick up a newer kernel."""
    entry = Path(cache) / f"kernel-{SUITE}-arm64-{_recipe_key()}"
    kernel, initrd = entry / "vmlinuz", entry / "initrd.img"
    if (entry / "manifest.json").is_file() and kernel.is_file() and initrd.is_file():
        return kernel, initrd
    missing = [t for t in ("apt-get", "apt-cache", "dpkg-deb") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(f"building the arm64 kernel and initrd needs {', '.join(missing)}")
    entry.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kernel-build-", dir=entry.parent) as tmp:
        build = Path(tmp)
        debs = _download_arm64_debs(build / "apt", [KERNEL_PACKAGE, BUSYBOX_PACKAGE])
        out = build / "out"
        out.mkdir()
        manifest = _build_kernel_and_initrd(debs, build / "x", out)
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        try:
            out.rename(entry)
        except OSError:
            if not (entry / "manifest.json").is_file():  # not a concurrent build that won
                raise
    return kernel, initrd


def _apt_sources(aptdir: Path) -> list[str]:
    """apt options naming the sources: $ZEROPIN_DEBIAN_MIRROR's SUITE if set, else the host's
    own sources, which must then be Debian SUITE's."""
    mirror = os.environ.get("ZEROPIN_DEBIAN_MIRROR")
    if mirror:
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        sources = aptdir / "sources.list"
        sources.write_text(
            f"deb [signed-by={keyring}] {mirror} {SUITE} main\n"
            f"deb [signed-by={keyring}] {mirror} {SUITE}-updates main\n"
        )
        (aptdir / "sources.list.d").mkdir(exist_ok=True)
        return [
            "-o", f"Dir::Etc::SourceList={sources}",
            "-o", f"Dir::Etc::SourceParts={aptdir}/sources.list.d",
        ]  # fmt: skip
    os_release = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    codename = re.search(r"^VERSION_CODENAME=\"?(\w+)", os_release, re.M)
    if not (codename and codename.group(1) == SUITE and "ID=debian" in os_release):
        raise RuntimeError(
            f"this host is not Debian {SUITE}, so its apt sources cannot give {SUITE}'s arm64 "
            "kernel: set ZEROPIN_DEBIAN_MIRROR to a Debian mirror's URL"
        )
    return []


def _apt_options(aptdir: Path) -> list[str]:
    """apt options for a private arm64-only state and cache (the host's dpkg is not touched)."""
    return [
        "-q",
        "-o", "APT::Architecture=arm64",
        "-o", "APT::Architectures::=arm64",
        "-o", f"Dir::State={aptdir}/state",
        "-o", f"Dir::State::status={aptdir}/state/status",
        "-o", f"Dir::Cache={aptdir}/cache",
        "-o", "Acquire::Languages=none",
        # as root apt would fetch as _apt, who cannot write into a private directory
        *(["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []),
        *_apt_sources(aptdir),
    ]  # fmt: skip


def _download_arm64_debs(aptdir: Path, packages: Sequence[str]) -> dict[str, Path]:
    """{package: .deb} for `packages` (a metapackage is replaced by what it depends on first)."""
    for d in ("state/lists/partial", "cache/archives/partial", "debs"):
        (aptdir / d).mkdir(parents=True, exist_ok=True)
    (aptdir / "state/status").touch()
    opts = _apt_options(aptdir)
    env = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", *opts, "update"], env=env)
    resolved = []
    for package in packages:
        show = _run(["apt-cache", *opts, "show", "--no-all-versions", package], env=env)
        depends = re.search(r"^Depends: (\S+)", show, re.M)
        # linux-image-arm64 -> linux-image-6.1.0-NN-arm64; busybox-static has no Depends
        if package == KERNEL_PACKAGE and depends:
            resolved.append(depends.group(1))
        else:
            resolved.append(package)
    _run(["apt-get", *opts, "download", *resolved], env=env, cwd=aptdir / "debs")
    debs = {}
    for package in resolved:
        (deb,) = (aptdir / "debs").glob(f"{package}_*.deb")
        debs[package] = deb
    return debs


def _build_kernel_and_initrd(debs: dict[str, Path], scratch: Path, out: Path) -> dict:
    kernel_deb = next(d for p, d in debs.items() if p.startswith("linux-image-"))
    busybox_deb = debs[BUSYBOX_PACKAGE]
    kx, bx = scratch / "kernel", scratch / "busybox"
    kx.mkdir(parents=True)
    bx.mkdir(parents=True)
    _run(["dpkg-deb", "-x", str(kernel_deb), str(kx)])
    _run(["dpkg-deb", "-x", str(busybox_deb), str(bx)])
    (vmlinuz,) = (kx / "boot").glob("vmlinuz-*")
    (config,) = (kx / "boot").glob("config-*")
    release = vmlinuz.name.removeprefix("vmlinuz-")
    shutil.copyfile(vmlinuz, out / "vmlinuz")
    shutil.copyfile(config, out / "config")

    modules = {  # name as the kernel spells it (dashes are underscores) -> file
        ko.name.removesuffix(".ko").replace("-", "_"): ko
        for ko in (kx / "lib/modules" / release).rglob("*.ko")
    }
    order = _load_order(INITRAMFS_MODULES, modules)
    busybox = (bx / "bin/busybox").read_bytes()

    cpio = _Cpio()
    for d in ("bin", "dev", "proc", "sys", "root", "modules"):
        cpio.directory(d)
    cpio.char_device("dev/console", 0o600, 5, 1)
    cpio.file("bin/busybox", busybox, 0o755)
    for applet in BUSYBOX_APPLETS:
        cpio.symlink(f"bin/{applet}", "busybox")
    cpio.file("init", INIT_SCRIPT.encode(), 0o755)
    for name in order:
        cpio.file(f"modules/{name}.ko", modules[name].read_bytes(), 0o644)
    cpio.file("modules/order", ("\n".join(order) + "\n").encode(), 0o644)
    (out / "initrd.img").write_bytes(cpio.finish())

    return {
        "sources": os.environ.get("ZEROPIN_DEBIAN_MIRROR") or "the host's apt sources",
        "kernel_release": release,
        "debs": sorted(d.name for d in debs.values()),
        "modules": order,
        "recipe": _recipe_key(),
    }


def _modinfo(ko: Path) -> dict[str, list[str]]:
    """The key=value pairs of a kernel module's .modinfo section (ELF64 little-endian)."""
    data = ko.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{ko}: not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + i * shentsize
        )
        return name, offset, size

    _, stroff, _ = section(shstrndx)
    info: dict[str, list[str]] = {}
    for i in range(shnum):
        name, offset, size = section(i)
        end = data.index(b"\0", stroff + name)
        if data[stroff + name : end] == b".modinfo":
            for item in data[offset : offset + size].split(b"\0"):
                if b"=" in item:
                    key, _, value = item.decode(errors="replace").partition("=")
                    info.setdefault(key, []).append(value)
    return info


def _load_order(wanted: Iterable[str], modules: dict[str, Path]) -> list[str]:
    """`wanted` and their dependencies, each after what it depends on."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        name = name.replace("-", "_")
        if name in order:
            return
        if name in path:
            raise ValueError(f"module dependency cycle: {' -> '.join((*path, name))}")
        if name not in modules:
            raise KeyError(f"module {name} is not in the kernel package (built in?)")
        for dep in _modinfo(modules[name]).get("depends", [""])[0].split(","):
            if dep:
                visit(dep, (*path, name))
        order.append(name)

    for name in wanted:
        visit(name, ())
    return order


class _Cpio:
    """A newc ("070701") cpio archive, as the kernel unpacks for an initramfs; root-owned,
    mtime 0, so the same inputs give the same bytes."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)):
        nlink = 2 if mode & 0o170000 == 0o040000 else 1
        # ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
        fields = (
            self._ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0,
        )  # fmt: skip
        self._ino += 1
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._parts += [header, name.encode(), b"\0", _pad(len(header) + len(name) + 1)]
        self._parts += [data, _pad(len(data))]

    def directory(self, name: str, perm: int = 0o755) -> None:
        self._entry(name, 0o040000 | perm)

    def file(self, name: str, data: bytes, perm: int) -> None:
        self._entry(name, 0o100000 | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, 0o120777, target.encode())

    def char_device(self, name: str, perm: int, major: int, minor: int) -> None:
        self._entry(name, 0o020000 | perm, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self._parts)


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 4)


# --- disk image and probe ---------------------------------------------------------------------


def _tree_size(root: Path) -> tuple[int, int]:
    """(bytes allocated, number of inodes) under `root`, without following symlinks."""
    total, count = 0, 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            total += st.st_blocks * 512
            count += 1
    return total, count


def pack_ext4(rootfs: Path, image: Path, *, extra_mb: int = 256) -> None:
    """`rootfs` into a fresh ext4 image (mkfs.ext4 -d reads the tree; nothing is copied)."""
    used, inodes = _tree_size(rootfs)
    size_mb = (used * 12 // 10) // 2**20 + extra_mb
    image.unlink(missing_ok=True)
    with open(image, "wb") as f:
        f.truncate(size_mb * 2**20)
    _run([
        "mkfs.ext4", "-F", "-q", "-L", "zeropin-root", "-N", str(inodes + inodes // 2 + 4096),
        "-E", "lazy_itable_init=1,lazy_journal_init=1", "-d", str(rootfs), str(image),
    ])  # fmt: skip


def _probe_files(probe: str, token: str) -> dict[str, str]:
    run = f"""#!/bin/sh
# Runs the boot-test probe, prints its output between markers on the serial console, powers off.
exec </dev/null
# The probe's stdout is a pipe, not the console: no pager, colours or ellipsized columns.
export SYSTEMD_PAGER=cat PAGER=cat
mkdir -p /run/zeropin-probe
{{
    echo "{BEGIN_MARKER} {token}"
    {{ /bin/sh {PROBE_DIR}/probe 2>&1; echo "$?" >/run/zeropin-probe/rc; }} | cat
    echo "{END_MARKER} {token} rc=$(cat /run/zeropin-probe/rc)"
}} >/dev/ttyAMA0 2>&1
systemctl poweroff --no-block
"""
    unit = f"""[Unit]
Description=ZeroPin boot-test probe
After=multi-user.target

[Service]
# Type=exec, not oneshot: a oneshot's start job would keep the boot "starting" until the probe
# exits, so a probe calling `systemctl is-system-running --wait` would wait for itself.
Type=exec
ExecStart=/bin/sh {PROBE_DIR}/run
StandardOutput=journal
"""
    return {
        f"{PROBE_DIR}/probe": probe,
        f"{PROBE_DIR}/run": run,
        f"/etc/systemd/system/{PROBE_UNIT}": unit,
    }


def _inject(image: Path, files: dict[str, str], scratch: Path) -> None:
    """Write `files` ({absolute path: text}) into the ext4 `image` with debugfs, root-owned."""
    scratch.mkdir(parents=True, exist_ok=True)
    commands = []
    dirs = sorted({str(Path(p).parent) for p in files})
    for d in dirs:
        parts = Path(d).parts[1:]
        for i in range(1, len(parts) + 1):
            commands.append("mkdir /" + "/".join(parts[:i]))  # an existing one just errors
    for i, (path, text) in enumerate(sorted(files.items())):
        local = scratch / f"inject-{i}"
        local.write_text(text)
        local.chmod(0o755 if path.startswith(PROBE_DIR) else 0o644)
        commands += [f"rm {path}", f"write {local} {path}"]
        commands += [f"sif {path} uid 0", f"sif {path} gid 0"]
    cmdfile = scratch / "debugfs.cmds"
    cmdfile.write_text("\n".join(commands) + "\n")
    _run(["debugfs", "-w", "-f", str(cmdfile), str(image)])
    for path, text in files.items():  # debugfs reports errors but exits 0: check the result
        got = _run(["debugfs", "-R", f"cat {path}", str(image)])
        if got != text:
            raise RuntimeError(f"debugfs did not write {path} into {image}")


def _machine_id_missing(rootfs: Path) -> bool:
    mid = rootfs / "etc/machine-id"
    try:
        return not mid.read_text().strip()
    except OSError:
        return True


# --- boot ---------------------------------------------------------------------------------------


def boot(
    rootfs: Path,
    *,
    probe: str,
    timeout_seconds: float,
    work: Path,
    cache: Path,
    memory_mb: int = 1024,
) -> str:
    """Boot `rootfs` (an arm64 root filesystem directory with systemd) and return what `probe`
    (a shell script, run as root by a service ordered after multi-user.target) printed.

    Raises BootTimeout, KernelPanic or BootError with the console's tail. The disk image and the
    full console log stay in `work`."""
    return boot_result(
        rootfs,
        probe=probe,
        timeout_seconds=timeout_seconds,
        work=work,
        cache=cache,
        memory_mb=memory_mb,
    ).output


def boot_result(
    rootfs: Path,
    *,
    probe: str,
    timeout_seconds: float,
    work: Path,
    cache: Path,
    memory_mb: int = 1024,
    cpus: int = 2,
    extra_kernel_args: Sequence[str] = (),
    shutdown_grace_seconds: float = 30.0,
) -> BootResult:
    """boot(), with the probe's exit status, the whole console and timings."""
    rootfs, work = Path(rootfs), Path(work)
    if shutil.which("qemu-system-aarch64") is None:
        raise RuntimeError("qemu-system-aarch64 is not installed (apt-get install qemu-system-arm)")
    # lexists: /sbin/init is an absolute symlink, which only resolves inside the VM
    if not os.path.lexists(rootfs / "sbin/init"):
        raise ValueError(f"{rootfs} has no /sbin/init (install systemd-sysv)")
    work.mkdir(parents=True, exist_ok=True)
    prepare_start = time.monotonic()
    kernel, initrd = kernel_and_initrd(cache)

    image, console_log = work / "root.img", work / "console.log"
    pack_ext4(rootfs, image)
    token = uuid.uuid4().hex[:12]
    files = _probe_files(probe, token)
    if _machine_id_missing(rootfs):
        files["/etc/machine-id"] = uuid.uuid4().hex + "\n"
    _inject(image, files, work / "inject")

    console_log.write_bytes(b"")
    qemu_log = work / "qemu.log"
    cmd = [
        "qemu-system-aarch64",
        "-M", "virt", "-cpu", "cortex-a53", "-smp", str(cpus), "-m", str(memory_mb),
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-monitor", "none",
        "-chardev", f"file,id=console,path={_opt(console_log)}", "-serial", "chardev:console",
        "-nic", "none",
        "-kernel", str(kernel), "-initrd", str(initrd),
        "-append", " ".join((*KERNEL_ARGS, *extra_kernel_args)),
        "-drive", f"file={_opt(image)},format=raw,if=none,id=root,cache=unsafe",
        "-device", "virtio-blk-device,drive=root",
    ]  # fmt: skip
    begin = f"{BEGIN_MARKER} {token}"
    end = re.compile(rf"{END_MARKER} {token} rc=(\d+)\n")
    start = time.monotonic()
    seconds_prepare = start - prepare_start
    with open(qemu_log, "wb") as log:
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        output, rc, at = _watch(qemu, console_log, qemu_log, begin, end, start + timeout_seconds)
        seconds_to_probe = at - start
        # the probe powers the VM off; a clean shutdown is not worth waiting long for
        with contextlib.suppress(subprocess.TimeoutExpired):
            qemu.wait(timeout=shutdown_grace_seconds)
    finally:
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()
    seconds_total = time.monotonic() - start
    console = _read_console(console_log)
    return BootResult(output, rc, console, seconds_prepare, seconds_to_probe, seconds_total)


def _read_console(path: Path) -> str:
    return path.read_bytes().decode(errors="replace").replace("\r\n", "\n").replace("\r", "")


def _opt(path: Path) -> str:
    """`path` as a qemu option value (a comma there is written twice)."""
    return str(path).replace(",", ",,")


def _watch(qemu, console_log, qemu_log, begin, end, deadline) -> tuple[str, int, float]:
    """(the probe's output, its exit status, when it ended), once the end marker shows."""
    while True:
        console = _read_console(console_log)
        if begin in console:
            after = console.split(begin, 1)[1].partition("\n")[2]
            m = end.search(after)
            if m:
                return after[: m.start()], int(m.group(1)), time.monotonic()
        for pattern, kind in FAILURE_PATTERNS.items():
            if pattern in console:
                time.sleep(1)  # let the rest of the message reach the log
                error = KernelPanic if kind == "KernelPanic" else BootError
                raise error(f"boot failed: {pattern!r}", _read_console(console_log))
        if qemu.poll() is not None:
            said = qemu_log.read_text(errors="replace").strip() or "(nothing)"
            raise BootError(
                f"qemu exited ({qemu.returncode}) before the probe finished; qemu said: {said}\n"
                f"command: {' '.join(qemu.args)}",
                _read_console(console_log),
            )
        if time.monotonic() > deadline:
            raise BootTimeout("timed out before the probe finished", console)
        time.sleep(0.25)


# --- a root filesystem to boot, for tests ---------------------------------------------------


def debootstrap_tarball(
    cache: Path,
    *,
    include: Sequence[str] = ("systemd-sysv", "udev"),
    suite: str = SUITE,
    variant: str = "minbase",
    mirror: str | None = None,
) -> Path:
    """A cached tarball of `debootstrap --arch=arm64 --variant=minbase --include=...`.

    The mirror is debootstrap's default unless `mirror` or $ZEROPIN_DEBIAN_MIRROR names one.
    Needs root and a qemu-aarch64 binfmt handler (qemu-user-static) for the second stage."""
    mirror = mirror or os.environ.get("ZEROPIN_DEBIAN_MIRROR") or None
    tarball = rootfs_tarball_path(
        cache, include=include, suite=suite, variant=variant, mirror=mirror
    )
    if tarball.is_file():
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rootfs-build-", dir=tarball.parent) as tmp:
        target = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--arch=arm64", f"--variant={variant}"]
        if include:
            cmd.append("--include=" + ",".join(include))
        cmd += [suite, str(target)]
        if mirror:
            cmd.append(mirror)
        _run(cmd, env=dict(os.environ, LC_ALL="C"))
        partial = Path(tmp) / tarball.name
        tar = ["tar", "--numeric-owner", "--xattrs", "--zstd", "-C", str(target)]
        _run([*tar, "-cf", str(partial), "."])
        partial.rename(tarball)
    return tarball


def rootfs_tarball_path(
    cache: Path,
    *,
    include: Sequence[str] = ("systemd-sysv", "udev"),
    suite: str = SUITE,
    variant: str = "minbase",
    mirror: str | None = None,
) -> Path:
    """Where debootstrap_tarball() keeps the rootfs made with these settings."""
    mirror = mirror or os.environ.get("ZEROPIN_DEBIAN_MIRROR") or None
    key = hashlib.sha256(
        json.dumps([suite, "arm64", variant, sorted(include), mirror]).encode()
    ).hexdigest()[:16]
    return Path(cache) / f"vm-rootfs-{suite}-arm64-{variant}-{key}.tar.zst"


def extract_tarball(tarball: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    _run(["tar", "--numeric-owner", "--xattrs", "--zstd", "-C", str(dest), "-xpf", str(tarball)])
    return dest


def _run(cmd: Sequence[str], **kwargs) -> str:
    try:
        proc = subprocess.run(
            list(cmd),
            check=True,
            text=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            **kwargs,
        )
    except subprocess.CalledProcessError as e:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({e.returncode}):\n{e.stderr[-3000:]}{e.stdout[-2000:]}"
        ) from None
    return proc.stdout
