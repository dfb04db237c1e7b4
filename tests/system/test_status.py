"""Status read from route and meminfo files in a temp dir, and the sentence made of it."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from device.system.status import Status, describe, read_status, say_size
from drivers.power import Battery

ROUTE_HEADER = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
)
DEFAULT_ROUTE = "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
LAN_ROUTE = "wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n"
MEMINFO = "MemTotal:         427780 kB\nMemFree:           51234 kB\nMemAvailable:     307200 kB\n"


class FakeBattery:
    def __init__(self, percent: int | None, charging: bool | None) -> None:
        self._percent = percent
        self._charging = charging

    def percent(self) -> int | None:
        return self._percent

    def charging(self) -> bool | None:
        return self._charging


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def meminfo(tmp_path: Path) -> Path:
    return write(tmp_path / "meminfo", MEMINFO)


def test_online_with_default_route(tmp_path: Path, meminfo: Path) -> None:
    route = write(tmp_path / "route", ROUTE_HEADER + DEFAULT_ROUTE + LAN_ROUTE)
    status = read_status(tmp_path, FakeBattery(80, True), proc_net_route=route, meminfo=meminfo)
    assert status.online is True
    assert status.free_memory_mb == 300
    assert status.free_disk_mb == pytest.approx(shutil.disk_usage(tmp_path).free // 2**20, abs=64)
    assert status.battery_percent == 80
    assert status.charging is True


@pytest.mark.parametrize(
    "table",
    [
        ROUTE_HEADER,
        ROUTE_HEADER + LAN_ROUTE,
        ROUTE_HEADER + DEFAULT_ROUTE.replace("\t0003\t", "\t0002\t"),  # default route not up
    ],
)
def test_offline_without_usable_default_route(tmp_path: Path, meminfo: Path, table: str) -> None:
    route = write(tmp_path / "route", table)
    assert read_status(tmp_path, proc_net_route=route, meminfo=meminfo).online is False


def test_unreadable_files_mean_unknown_and_warn_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing_route, missing_meminfo = tmp_path / "no-route", tmp_path / "no-meminfo"
    with caplog.at_level(logging.WARNING, logger="device.system.status"):
        for _ in range(3):
            status = read_status(tmp_path, proc_net_route=missing_route, meminfo=missing_meminfo)
            assert status.online is None
            assert status.free_memory_mb is None
    assert len(caplog.records) == 2


def test_meminfo_without_mem_available(tmp_path: Path) -> None:
    meminfo = write(tmp_path / "meminfo", "MemTotal: 427780 kB\nMemFree: 51234 kB\n")
    route = write(tmp_path / "route", ROUTE_HEADER)
    assert read_status(tmp_path, proc_net_route=route, meminfo=meminfo).free_memory_mb is None


def test_state_dir_not_created_yet_uses_nearest_parent(tmp_path: Path, meminfo: Path) -> None:
    route = write(tmp_path / "route", ROUTE_HEADER)
    status = read_status(tmp_path / "a" / "b", proc_net_route=route, meminfo=meminfo)
    assert status.free_disk_mb == pytest.approx(shutil.disk_usage(tmp_path).free // 2**20, abs=64)
    assert not (tmp_path / "a").exists()


def test_no_battery(tmp_path: Path, meminfo: Path) -> None:
    route = write(tmp_path / "route", ROUTE_HEADER)
    status = read_status(tmp_path, proc_net_route=route, meminfo=meminfo)
    assert (status.battery_percent, status.charging) == (None, None)


def test_real_battery_driver_from_sysfs_files(tmp_path: Path, meminfo: Path) -> None:
    supply = tmp_path / "power_supply" / "max17048"
    supply.mkdir(parents=True)
    write(supply / "type", "Battery\n")
    write(supply / "capacity", "57\n")
    write(supply / "status", "Discharging\n")
    route = write(tmp_path / "route", ROUTE_HEADER + DEFAULT_ROUTE)
    status = read_status(
        tmp_path, Battery(tmp_path / "power_supply"), proc_net_route=route, meminfo=meminfo
    )
    assert (status.battery_percent, status.charging) == (57, False)


@pytest.mark.parametrize(
    ("status", "spoken"),
    [
        (
            Status(True, 12 * 1024, 300, 80, True),
            "I'm online. 12 gigabytes free on the card, 300 megabytes of memory free. "
            "Battery 80 percent, charging.",
        ),
        (
            Status(False, 1536, 1, 15, False),
            "I'm offline. 1.5 gigabytes free on the card, 1 megabyte of memory free. "
            "Battery 15 percent.",
        ),
        (Status(True, 900, None, None, None), "I'm online. 900 megabytes free on the card."),
        (
            Status(None, 1024, 2048, None, None),
            "1 gigabyte free on the card, 2 gigabytes of memory free.",
        ),
        (
            Status(False, 0, 50, None, True),
            "I'm offline. 0 megabytes free on the card, 50 megabytes of memory free. Charging.",
        ),
    ],
)
def test_describe(status: Status, spoken: str) -> None:
    assert describe(status) == spoken


@pytest.mark.parametrize(
    ("mebibytes", "spoken"),
    [
        (0, "0 megabytes"),
        (1, "1 megabyte"),
        (1023, "1023 megabytes"),
        (1024, "1 gigabyte"),
        (1075, "1 gigabyte"),
        (1126, "1.1 gigabytes"),
        (9 * 1024 + 1000, "10 gigabytes"),
        (12 * 1024 + 600, "13 gigabytes"),
        (29 * 1024, "29 gigabytes"),
    ],
)
def test_say_size(mebibytes: int, spoken: str) -> None:
    assert say_size(mebibytes) == spoken
