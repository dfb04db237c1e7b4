"""A progress bar for a terminal, with nothing to install: the daemon's dependencies lack tqdm.

On a terminal the bar is redrawn in place; into a pipe or a log it writes a line at every
quarter, so a teacher's script collecting twenty kits' output gets four lines, not thousands.

    bar = TextProgress("listening to the room", 180.0)
    bar.update(65.0)   # listening to the room  [#######.............]  1:05 of 3:00
    bar.close()
"""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 24  # characters of bar
STEPS = 4  # lines written into a pipe: at each quarter


def clock(seconds: float) -> str:
    """3:05 for 185 seconds."""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


class TextProgress:
    """How far a task of ``total`` seconds of audio has got."""

    def __init__(self, label: str, total: float, out: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1e-9)
        self.out = out if out is not None else sys.stdout
        self._live = self.out.isatty()
        self._shown = -1  # the last bar length drawn, or quarter written
        self._done = 0.0

    def update(self, done: float) -> None:
        self._done = min(max(done, 0.0), self.total)
        share = self._done / self.total
        if self._live:
            filled = int(share * WIDTH)
            if filled != self._shown or share >= 1:
                self._shown = filled
                bar = "#" * filled + "." * (WIDTH - filled)
                self.out.write(f"\r{self.label}  [{bar}]  {self._times()}")
                self.out.flush()
        elif (quarter := int(share * STEPS)) > self._shown:
            self._shown = quarter
            print(f"{self.label}: {self._times()}", file=self.out, flush=True)

    def close(self) -> None:
        if self._live:
            self.out.write("\n")
            self.out.flush()

    def _times(self) -> str:
        return f"{clock(self._done)} of {clock(self.total)}"
