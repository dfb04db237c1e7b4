"""The built image's root, booted under qemu-system-aarch64: firstboot, READY, the watchdog.

The stand-in image has no Raspberry Pi firmware or kernel, so the VM boots Debian's arm64 kernel
(tests/image/vm.py) with 512 MB like a Zero 2 W, no network, no sound card and no GPIO: the boot
file asks for the "sim" audio profile (ALSA reads silence, plays into nothing) and
/etc/zeropin/environment, the unit's drop-in point, gives gpiozero mock pins. Software emulation
is slow, so the unit's start timeout is raised by a test-only drop-in; everything else is the
unit as shipped, the 30 s watchdog included. Run with ``./dev test-image``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from image import stand_in, vm
from image.conftest import Built
from image.stand_in import KEY

pytestmark = [
    pytest.mark.image,
    pytest.mark.skipif(bool(stand_in.missing_tools()), reason=stand_in.missing_tools() or "ok"),
    pytest.mark.skipif(
        shutil.which("qemu-system-aarch64") is None, reason="apt-get install qemu-system-arm"
    ),
]

# Runs as root after multi-user.target; prints "name: value" lines the test reads.
PROBE = r"""
set -u
state() { systemctl show -p "$1" --value zeropin.service; }
echo "firstboot: $(systemctl is-active zeropin-firstboot.service)"
echo "hostname: $(cat /etc/hostname)"
echo "secrets: $(stat -c '%a %U' /etc/zeropin/secrets.toml 2>&1)"
echo "key_on_boot_partition: $(grep -c "$1" /boot/firmware/zeropin.toml)"
echo "asound: $(grep -c zeropin_mic /etc/asound.conf 2>&1)"
for i in $(seq 1 600); do [ "$(state ActiveState)" = active ] && break; sleep 1; done
echo "active_after_s: $i"
echo "state: $(state ActiveState) $(state SubState) $(state StatusText)"
echo "ready_after_boot_s: $(( $(state ActiveEnterTimestampMonotonic) / 1000000 ))"
echo "user: $(stat -c %U "/proc/$(state MainPID)")"
# Memory on arm64 (issue 28): the daemon's peak (VmHWM) and current (VmRSS) resident set in kB,
# once READY and again after a minute of the always-on path (wake word over the sim profile's
# silence), with its CPU seconds so far to show it was working and its PID to show it was the
# same process; MemAvailable is what the 512 MB VM had left beside it.
pid=$(state MainPID)
rss() { awk '/^VmHWM/ {h = $2} /^VmRSS/ {r = $2} END {print h, r}' "/proc/$pid/status"; }
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$pid/stat"; }  # USER_HZ is 100 on arm64
echo "rss_ready_kb: $(rss) $(cpu)"
sleep 60
echo "rss_after_60s_kb: $(rss) $(cpu)"
echo "same_pid: $([ "$(state MainPID)" = "$pid" ] && echo yes || echo no)"
echo "mem_available_kb: $(awk '/^MemAvailable/ {print $2}' /proc/meminfo)"
# The companion page: nothing runs until a visit, then the socket starts it as the daemon's user.
echo "web_before: $(systemctl is-active zeropin-web.service)"
fetch="import sys, urllib.request as u; print(u.urlopen(sys.argv[1], timeout=300).status)"
echo "web_login: $(/opt/zeropin/venv/bin/python -c "$fetch" http://127.0.0.1/login 2>&1 | tail -1)"
web=$(systemctl show -p MainPID --value zeropin-web.service)
echo "web_after: $(systemctl is-active zeropin-web.service) $(stat -c %U "/proc/$web")"
echo "web_rss_kb: $(awk '/^VmRSS/ {print $2}' "/proc/$web/status")"
before=$(state NRestarts)
echo "restarts_before: $before"
kill -STOP "$(state MainPID)"   # a hung daemon: no more watchdog pings
stopped=$(date +%s)
for i in $(seq 1 900); do
    [ "$(state NRestarts)" -gt "$before" ] && [ "$(state ActiveState)" = active ] && break
    sleep 1
done
echo "restarts_after: $(state NRestarts)"
echo "back_after_s: $(( $(date +%s) - stopped ))"
echo "watchdog_logged: $(journalctl -u zeropin.service --no-pager | grep -c -i 'watchdog timeout')"
"""

# Issue 28's figure for the memory a 512 MB Zero 2 W leaves usable once the GPU has its share.
USABLE_ON_A_ZERO_2_W_MB = 426

TEST_ONLY_DROP_IN = """\
# Added by tests/image/test_image_boot.py: emulating a Cortex-A53 in software loads the models
# several times slower than a Zero 2 W does.
[Service]
TimeoutStartSec=900
"""


def test_the_image_boots_to_a_ready_daemon_and_the_watchdog_restarts_a_hung_one(
    built: Built, tmp_path: Path
) -> None:
    rootfs = tmp_path / "rootfs"
    with stand_in.mounted_root(built.image, tmp_path / "mnt") as mounted:
        subprocess.run(["cp", "-a", f"{mounted}/.", str(rootfs)], check=True, timeout=600)
    # The VM has one disk, the root: the boot partition's files go into /boot/firmware on it,
    # and its fstab line (a second disk here) goes, or systemd would wait for it.
    stand_in.boot_files(built.image, rootfs / "boot/firmware")
    fstab = rootfs / "etc/fstab"
    fstab.write_text(
        "".join(line for line in fstab.read_text().splitlines(True) if "vfat" not in line)
    )
    (rootfs / "etc/zeropin/environment").write_text(
        "GPIOZERO_PIN_FACTORY=mock\nGPIOZERO_MOCK_PIN_CLASS=mockpwmpin\n"
    )
    drop_in = rootfs / "etc/systemd/system/zeropin.service.d"
    drop_in.mkdir(parents=True)
    (drop_in / "emulation.conf").write_text(TEST_ONLY_DROP_IN)
    probe = f"set -- {KEY}\n{PROBE}"

    result = vm.boot_result(
        rootfs,
        probe=probe,
        timeout_seconds=2400,
        work=tmp_path / "vm",
        cache=stand_in.cache_dir(),
        memory_mb=512,  # a Zero 2 W's RAM
    )
    lines = dict(line.split(": ", 1) for line in result.output.splitlines() if ": " in line)
    print(f"\nboot: to probe end {result.seconds_to_probe:.0f} s; {lines}")
    assert lines["firstboot"] == "active"
    assert lines["hostname"] == "zeropin-07"
    assert lines["secrets"] == "600 zeropin"
    assert lines["key_on_boot_partition"] == "0"
    assert int(lines["asound"]) >= 1
    assert lines["state"].startswith("active running listening"), result.console[-3000:]
    assert lines["user"] == "zeropin"
    ready_hwm_kb, ready_rss_kb, ready_cpu_s = (float(v) for v in lines["rss_ready_kb"].split())
    hwm_kb, rss_kb, cpu_s = (float(v) for v in lines["rss_after_60s_kb"].split())
    print(  # MB as daemon_budget counts them: kB / 1024
        f"arm64 daemon: at READY peak RSS {ready_hwm_kb / 1024:.1f} MB, RSS "
        f"{ready_rss_kb / 1024:.1f} MB ({ready_cpu_s:.1f} CPU-s); after 60 s of silence peak RSS "
        f"{hwm_kb / 1024:.1f} MB, RSS {rss_kb / 1024:.1f} MB ({cpu_s:.1f} CPU-s); the VM's "
        f"MemAvailable {int(lines['mem_available_kb']) / 1024:.0f} MB"
    )
    assert lines["same_pid"] == "yes"
    # the companion page: started by its socket at the first visit, as the daemon's user
    assert lines["web_before"] == "inactive"
    assert lines["web_login"] == "200", result.console[-3000:]
    assert lines["web_after"] == "active zeropin"
    print(f"arm64 companion page: RSS {int(lines['web_rss_kb']) / 1024:.1f} MB after one page")
    # Not a budget but a limit a daemon can cross: past it, it cannot run on a Zero 2 W at all.
    # Issue 28's budgets are measured on x86 over a whole session (device/sim/daemon_budget.py);
    # this is the arm64 figure beside them, at idle.
    assert 0 < hwm_kb < USABLE_ON_A_ZERO_2_W_MB * 1024
    assert int(lines["restarts_after"]) == int(lines["restarts_before"]) + 1
    assert int(lines["watchdog_logged"]) >= 1
