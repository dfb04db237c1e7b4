"""What the daemon shows right now, for other processes: one small JSON file it rewrites whenever
its status light or privacy LED changes.

The companion page (``device.web``) is another process, started only when someone opens it, so it
cannot ask the daemon; it reads this file. The file says what the wearer sees on the device:
the status light's pattern and whether the privacy LED is lit (something is leaving the device).
On the image it lives in ``/run/zeropin`` (memory, so a few writes per turn never wear the card);
elsewhere in the state directory. A file whose process is gone means the daemon is not running.

Example::

    live = LiveFile(live_path(state_dir))
    live.light(LedPattern.LISTENING)   # the daemon, from the light's on_change
    read_live(live_path(state_dir))    # the page: Live(running=True, light="listening", ...)
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RUN_DIR", "Live", "LiveFile", "live_path", "read_live"]

log = logging.getLogger(__name__)

RUN_DIR = Path("/run/zeropin")  # zeropin.service's RuntimeDirectory=


def live_path(state_dir: Path) -> Path:
    """Where the daemon writes what it shows: in /run/zeropin when there is one."""
    folder = RUN_DIR if RUN_DIR.is_dir() else state_dir
    return folder / "live.json"


@dataclass(frozen=True)
class Live:
    """The daemon as the page sees it."""

    running: bool  # the process that wrote the file is alive
    light: str  # the status light's pattern (drivers.leds.LedPattern), "" before the first
    privacy_lit: bool | None  # the privacy LED; None when none is fitted
    since: float  # unix time of the last change
    started: float  # unix time the daemon started


class LiveFile:
    """The daemon's side: call ``light`` and ``privacy`` from the lights' ``on_change``.

    A write that fails (a full disk in the simulator) is logged once and otherwise ignored: the
    voice loop must never stop because a page cannot be told.
    """

    def __init__(self, path: Path, *, has_privacy_led: bool) -> None:
        self.path = path
        self._state: dict[str, object] = {
            "pid": os.getpid(),
            "started": time.time(),
            "light": "",
            "privacy_lit": False if has_privacy_led else None,
        }
        self._warned = False
        self._lock = threading.Lock()
        self._write()

    def light(self, pattern: object) -> None:
        self._state["light"] = str(pattern)
        self._write()

    def privacy(self, lit: bool) -> None:
        self._state["privacy_lit"] = bool(lit)
        self._write()

    def stopped(self) -> None:
        """At exit: the lights are off; the file stays, to say since when."""
        self._state["light"] = "off"
        if self._state["privacy_lit"] is not None:
            self._state["privacy_lit"] = False
        self._write()

    def _write(self) -> None:
        # The status light changes on the loop's thread, the privacy LED on the upload's: one
        # write at a time, each whole, so the file never holds the older of two states.
        with self._lock:
            self._state["since"] = time.time()
            text = json.dumps(self._state)
            temp = ""
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(temp, self.path)  # a reader sees the old file or the new, never half
            except OSError as exc:
                if temp:
                    Path(temp).unlink(missing_ok=True)
                if not self._warned:
                    log.warning(
                        "cannot write %s (%s); the companion page will not see the daemon's state",
                        self.path,
                        exc.strerror or exc,
                    )
                    self._warned = True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


def read_live(path: Path) -> Live | None:
    """What the daemon last wrote; None when it never wrote (or the file is unreadable)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        pid = int(state["pid"])
        privacy = state.get("privacy_lit")
        return Live(
            running=_alive(pid),
            light=str(state.get("light", "")),
            privacy_lit=None if privacy is None else bool(privacy),
            since=float(state.get("since", 0.0)),
            started=float(state.get("started", 0.0)),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None
