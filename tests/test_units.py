"""The systemd units, checked by systemd's own tools (``systemd-analyze``), without systemd running.

``verify`` loads a unit the way PID 1 would but only warns about unknown or misspelt keys, still
exiting 0, so these tests fail on any output on stderr. It also fails when ExecStart's program is
missing, so it runs on copies whose ``/opt/zeropin/venv/bin/zeropin`` points at a stand-in.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
UNIT_NAMES = [
    "zeropin.service",
    "zeropin-firstboot.service",
    "zeropin-web.socket",
    "zeropin-web.service",
]
INSTALLED_PROGRAM = "/opt/zeropin/venv/bin/zeropin"
# 1.8 with systemd 252 when written; a little headroom so a newer systemd's reweighting does not
# fail the build, while dropping one of the big options (ProtectSystem, an empty capability set,
# the syscall filter) would.
MAX_EXPOSURE = 2.5
TIMEOUT_SECONDS = 60

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None,
    reason="systemd-analyze not installed (Debian package `systemd`); the units are unchecked",
)


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
        # verify and security page and colour their output when they think a person is reading
        env={"PATH": "/usr/bin:/bin", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0", "LANG": "C"},
    )


@pytest.fixture
def unit_copies(tmp_path: Path) -> Path:
    """Both units, with ExecStart pointing at an executable that exists on this machine."""
    stand_in = tmp_path / "bin" / "zeropin"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for name in UNIT_NAMES:
        text = (UNITS / name).read_text()
        if name.endswith(".service"):
            assert INSTALLED_PROGRAM in text, f"{name} no longer runs {INSTALLED_PROGRAM}"
        (units / name).write_text(text.replace(INSTALLED_PROGRAM, str(stand_in)))
    return units


def _directives(name: str) -> dict[str, list[str]]:
    """``Key`` -> every value it is given; a unit file may repeat a key, unlike an INI file."""
    found: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_systemd_accepts_the_unit_without_a_warning(name: str, unit_copies: Path) -> None:
    # Both files sit in one folder, so references between them resolve to the real thing.
    result = _analyze("verify", str(unit_copies / name))
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


def test_verify_would_notice_a_misspelt_key(unit_copies: Path) -> None:
    """Guards the test above: a typo must show up on stderr, or that test checks nothing."""
    unit = unit_copies / "zeropin.service"
    unit.write_text(unit.read_text().replace("WatchdogSec=", "WatchdogSecs="))
    result = _analyze("verify", str(unit))
    assert "WatchdogSecs" in result.stderr


def _security(unit: Path) -> str:
    result = _analyze("security", "--offline=true", "--no-pager", str(unit))
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", ["zeropin.service", "zeropin-web.service"])
def test_exposure_score_is_low(name: str, unit_copies: Path) -> None:
    report = _security(unit_copies / name)
    match = re.search(rf"Overall exposure level for {re.escape(name)}: (\d+\.\d+)", report)
    assert match, report
    exposure = float(match.group(1))
    assert exposure <= MAX_EXPOSURE, f"exposure {exposure} > {MAX_EXPOSURE}:\n{report}"


def test_daemon_keeps_access_to_its_hardware(unit_copies: Path) -> None:
    """Microphone, speaker, camera and buttons live under /dev: no device sandbox may hide them.

    PrivateDevices= would; so would any device allow-list, and some systemd versions give
    ProtectClock= an implicit one (``char-rtc``) that blocks every other device. systemd's own
    reading of the unit must show no device ACL at all.
    """
    directives = _directives("zeropin.service")
    assert "PrivateDevices" not in directives
    assert "DeviceAllow" not in directives
    assert directives.get("DevicePolicy", ["auto"]) == ["auto"]
    report = _security(unit_copies / "zeropin.service")
    assert re.search(r"DeviceAllow=\s+Service has no device ACL", report), report
    assert directives["SupplementaryGroups"] == ["audio video gpio"]


def test_daemon_is_watched_and_restarted() -> None:
    directives = _directives("zeropin.service")
    assert directives["Type"] == ["notify"]
    assert directives["NotifyAccess"] == ["main"]  # only the daemon's own pings count
    assert directives["WatchdogSec"] == ["30"]
    assert directives["Restart"] == ["on-failure"]
    assert "StartLimitBurst" in directives and "StartLimitIntervalSec" in directives
    assert directives["ExecStart"] == [f"{INSTALLED_PROGRAM} run"]


def test_firstboot_runs_before_the_daemon_and_the_network() -> None:
    directives = _directives("zeropin-firstboot.service")
    before = " ".join(directives["Before"]).split()
    assert {"zeropin.service", "network-pre.target"} <= set(before)
    assert "network-pre.target" in " ".join(directives["Wants"]).split()
    assert directives["Type"] == ["oneshot"]
    assert "TimeoutStartSec" in directives, "a oneshot waits forever unless bounded"
    assert "zeropin-firstboot.service" in " ".join(_directives("zeropin.service")["After"])


def test_the_page_is_started_by_its_socket_and_only_for_the_lan() -> None:
    """No memory until someone connects; the service is the daemon's user, not root; the
    socket and the service both drop addresses outside the LAN before the page sees them."""
    socket_unit, service = _directives("zeropin-web.socket"), _directives("zeropin-web.service")
    assert socket_unit["ListenStream"] == ["80"]
    assert socket_unit["Accept"] == ["no"]  # one process for all connections
    assert socket_unit["WantedBy"] == ["sockets.target"]
    assert "WantedBy" not in service  # never started at boot: the socket starts it
    assert service["Requires"] == ["zeropin-web.socket"]
    assert service["ExecStart"] == [f"{INSTALLED_PROGRAM} web serve"]
    assert (service["User"], service["Group"]) == (["zeropin"], ["zeropin"])
    lan = "localhost link-local 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7"
    for unit in (socket_unit, service):
        assert (unit["IPAddressAllow"], unit["IPAddressDeny"]) == ([lan], ["any"])


def test_the_daemon_runs_with_the_environment_its_budget_is_measured_with():
    """glibc's allocator, held to two arenas, with freed blocks above 128 kB given back, keeps the
    daemon's peak memory 3-5 MB lower; daemon_budget runs the daemon with the same variables."""
    from device.sim.daemon_budget import DAEMON_ENVIRONMENT

    assert DAEMON_ENVIRONMENT["MALLOC_ARENA_MAX"] == "2"
    assigned = [a for line in _directives("zeropin.service")["Environment"] for a in line.split()]
    assert dict(a.split("=", 1) for a in assigned) == DAEMON_ENVIRONMENT
