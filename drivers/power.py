"""Battery level and charging state from the Linux power-supply class in sysfs."""

from __future__ import annotations

import logging
from pathlib import Path

from drivers.base import Driver

logger = logging.getLogger(__name__)

CHARGING_STATES = {"Charging": True, "Discharging": False, "Not charging": False, "Full": False}


class Battery(Driver):
    """The first battery under ``/sys/class/power_supply`` (``type`` is ``Battery``).

    A fuel gauge with a kernel driver (e.g. a MAX17048 or BQ27441 on I2C with its overlay)
    appears there; a UPS board read only by its own tool does not, and then both readings are
    None. Files are re-read on every call, so a gauge that appears later is found. Example::

        from drivers.power import Battery

        battery = Battery()
        print(battery.percent(), battery.charging())   # e.g. 83 False, or None None
    """

    def __init__(self, root: str | Path = "/sys/class/power_supply") -> None:
        self.root = Path(root)

    def percent(self) -> int | None:
        """State of charge 0..100, or None without a fuel gauge."""
        supply = self._battery()
        if supply is None:
            return None
        capacity = _read(supply / "capacity")
        if capacity is not None and capacity.isdigit():
            return max(0, min(100, int(capacity)))
        for kind in ("energy", "charge"):  # some gauges give only raw counters
            now, full = _read(supply / f"{kind}_now"), _read(supply / f"{kind}_full")
            if now and full and now.isdigit() and full.isdigit() and int(full) > 0:
                return max(0, min(100, round(100 * int(now) / int(full))))
        return None

    def charging(self) -> bool | None:
        """True while charging; False on battery, when full or not charging; None if unknown."""
        supply = self._battery()
        status = None if supply is None else _read(supply / "status")
        return None if status is None else CHARGING_STATES.get(status)

    def _battery(self) -> Path | None:
        try:
            supplies = sorted(self.root.iterdir())
        except OSError:
            return None
        for supply in supplies:
            if _read(supply / "type") == "Battery":
                return supply
        return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
