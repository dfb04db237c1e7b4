"""The device's health in a sentence: network, free space, free memory, battery.

Everything is read locally and cheaply, so asking "how are you doing?" sends nothing over the
network: "online" means the kernel has a default route, read from ``/proc/net/route``.

Example::

    from drivers.power import Battery

    status = read_status(Path("/var/lib/zeropin"), battery=Battery())
    speak(describe(status))
    # "I'm online. 12 gigabytes free on the card, 300 megabytes of memory free.
    #  Battery 80 percent, charging."
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["BatteryGauge", "Status", "describe", "read_status"]

log = logging.getLogger(__name__)

_RTF_UP = 0x1  # route flag: the route is usable
_MIB = 1024 * 1024

_warned: set[str] = set()  # fallbacks already logged, so a status asked every minute logs once


class BatteryGauge(Protocol):
    """What status needs of a battery; :class:`drivers.power.Battery` is one."""

    def percent(self) -> int | None:
        """State of charge 0..100, or None if unknown."""
        ...

    def charging(self) -> bool | None:
        """True while charging, None if unknown."""
        ...


@dataclass(frozen=True)
class Status:
    """A snapshot of the device's health."""

    online: bool | None  # a default route exists; None when the route table is unreadable
    free_disk_mb: int  # mebibytes free on the file system holding the state directory
    free_memory_mb: int | None  # mebibytes, MemAvailable; None when unreadable
    battery_percent: int | None  # 0..100; None without a fuel gauge
    charging: bool | None  # None when unknown


def read_status(
    state_dir: Path,
    battery: BatteryGauge | None = None,
    proc_net_route: Path = Path("/proc/net/route"),
    meminfo: Path = Path("/proc/meminfo"),
) -> Status:
    """Read the current :class:`Status`; ``battery`` None means the device has no gauge.

    Free disk space is for ``state_dir``, or its nearest existing parent if it is not created
    yet. Raises OSError only if even that cannot be measured.
    """
    return Status(
        online=has_default_route(proc_net_route),
        free_disk_mb=shutil.disk_usage(_nearest_existing(state_dir)).free // _MIB,
        free_memory_mb=available_memory_mb(meminfo),
        battery_percent=None if battery is None else battery.percent(),
        charging=None if battery is None else battery.charging(),
    )


def has_default_route(proc_net_route: Path = Path("/proc/net/route")) -> bool | None:
    """True if the IPv4 route table (``/proc/net/route`` format) has a usable default route.

    None when the table cannot be read (e.g. the simulator on macOS).
    """
    try:
        lines = proc_net_route.read_text().splitlines()
    except OSError as exc:
        _warn_once(str(proc_net_route), "cannot read %s (%s); online state unknown", exc)
        return None
    for line in lines[1:]:  # the first line names the columns
        fields = line.split()
        # Iface Destination Gateway Flags RefCnt Use Metric Mask ...
        if len(fields) < 8:
            continue
        destination, flags, mask = fields[1], fields[3], fields[7]
        try:
            up = bool(int(flags, 16) & _RTF_UP)
        except ValueError:
            continue
        if up and destination == "00000000" and mask == "00000000":
            return True
    return False


def available_memory_mb(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """MemAvailable from a ``/proc/meminfo`` format file in mebibytes, or None if absent."""
    try:
        text = meminfo.read_text()
    except OSError as exc:
        _warn_once(str(meminfo), "cannot read %s (%s); free memory unknown", exc)
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "MemAvailable":
            amount = value.split()
            if amount and amount[0].isdigit():
                return int(amount[0]) // 1024  # the file says "kB" but means KiB
    return None


def describe(status: Status) -> str:
    """One to three short sentences for speech.

    E.g. "I'm online. 12 gigabytes free on the card, 300 megabytes of memory free. Battery 80
    percent, charging." Unknown parts are left out.
    """
    sentences = []
    if status.online is not None:
        sentences.append("I'm online." if status.online else "I'm offline.")
    space = f"{say_size(status.free_disk_mb)} free on the card"
    if status.free_memory_mb is not None:
        space += f", {say_size(status.free_memory_mb)} of memory free"
    sentences.append(space + ".")
    if status.battery_percent is not None:
        charging = ", charging" if status.charging else ""
        sentences.append(f"Battery {status.battery_percent} percent{charging}.")
    elif status.charging:
        sentences.append("Charging.")
    return " ".join(sentences)


def say_size(mebibytes: int) -> str:
    """A size for speech: "300 megabytes" below 1024, else "1.5 gigabytes" or "12 gigabytes".

    Gigabytes get one decimal below 10 (dropped when it is 0) and none from 10 up.
    """
    if mebibytes < 1024:
        return f"{mebibytes} megabyte" + ("" if mebibytes == 1 else "s")
    gigabytes = mebibytes / 1024
    amount = f"{gigabytes:.1f}".removesuffix(".0") if gigabytes < 9.95 else f"{gigabytes:.0f}"
    return f"{amount} gigabyte" + ("" if amount == "1" else "s")


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _warn_once(key: str, message: str, *args: object) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message, key, *args)
