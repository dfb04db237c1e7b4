"""What each page of the companion shows, read from the device as it is now: plain data for the
templates, so each can be tested without a browser or a web server.

Everything is read, never written (settings are ``device.web.settings``'s), and the database is
opened read-only for each page: the daemon owns it, and a page must never hold a lock that makes
the wearer's note wait.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from device.cloud.budget import start_of_day
from device.config import sources
from device.config.calibration import CalibrationRecord, Rule, read_calibration
from device.config.schema import Config
from device.doctor.calibration import check_calibration
from device.doctor.findings import Finding
from device.doctor.models import model_findings
from device.egress import Ledger, LedgerRow
from device.errors import ConfigError, ModelError, StorageError
from device.storage.database import Database
from device.storage.notes import Note, NoteStore
from device.storage.timings import STAGES, TurnTiming, TurnTimings, stage_figures
from device.storage.usage import CloudUsage, UsageTotals
from device.system.live import Live, live_path, read_live
from device.system.paths import database_path, resolved_wake_model
from device.system.status import Status, read_status
from device.web import waterfall

TURNS_SHOWN = 20
NOTES_SHOWN = 50
LEDGER_SHOWN = 100


@contextlib.contextmanager
def _reading(state_dir: Path) -> Iterator[Database | None]:
    """The database opened read-only; None when the daemon has not made one yet."""
    path = database_path(state_dir)
    if not path.is_file():
        yield None
        return
    with Database(path, access="read") as database:
        yield database


@dataclass(frozen=True)
class StatusPage:
    host: str
    live: Live | None  # None: the daemon never ran here
    health: Status | None
    health_error: str
    models: list[Finding]
    usage: UsageTotals | None
    limits: dict[str, int]  # the budget's nonzero limits by name
    now: float = field(default_factory=time.time)

    @property
    def sending(self) -> bool:
        """Whether the privacy indicator shows something leaving the device now."""
        live = self.live
        return bool(live and live.running and (live.privacy_lit or live.light == "capture"))


def status_page(cfg: Config, state_dir: Path) -> StatusPage:
    from drivers.power import Battery

    health, health_error = None, ""
    try:
        with Battery() as battery:
            health = read_status(state_dir, battery=battery)
    except OSError as exc:
        health_error = f"cannot read the device's health: {exc}"
    usage = None
    with contextlib.suppress(StorageError), _reading(state_dir) as database:
        if database is not None:
            now = time.time()
            usage = CloudUsage(database).totals(since_hour=now - 3600, since_day=start_of_day(now))
    llm = cfg.llm
    limits = {
        "requests this hour": llm.max_requests_per_hour,
        "requests today": llm.max_requests_per_day,
        "tokens today": llm.max_tokens_per_day,
    }
    return StatusPage(
        host=socket.gethostname(),
        live=read_live(live_path(state_dir)),
        health=health,
        health_error=health_error,
        models=model_findings(cfg),
        usage=usage,
        limits={name: limit for name, limit in limits.items() if limit},
    )


@dataclass(frozen=True)
class TurnRow:
    timing: TurnTiming
    bars: list[waterfall.Bar]


@dataclass(frozen=True)
class TurnsPage:
    rows: list[TurnRow]  # newest first
    figures: list[tuple[str, dict[str, float]]]  # (stage's name, its turns, median, p95)
    ticks: list[tuple[str, float]]


def turns_page(state_dir: Path, limit: int = TURNS_SHOWN) -> TurnsPage:
    timings: list[TurnTiming] = []
    with _reading(state_dir) as database:
        if database is not None:
            timings = TurnTimings(database).recent(limit)
    scale = waterfall.scale_ms(timings)
    rows = [TurnRow(t, waterfall.bars(t, scale)) for t in reversed(timings)]
    found = stage_figures(timings)
    figures = [(summary, found[name]) for name, _, summary in STAGES if name in found]
    return TurnsPage(rows, figures, waterfall.ticks(scale))


def notes_page(state_dir: Path, limit: int = NOTES_SHOWN) -> tuple[list[Note], int]:
    """The newest notes, and how many there are."""
    with _reading(state_dir) as database:
        if database is None:
            return [], 0
        store = NoteStore(database)
        return store.recent(limit), store.count()


def ledger_page(
    state_dir: Path, limit: int = LEDGER_SHOWN
) -> tuple[list[LedgerRow], dict[str, tuple[int, int]]]:
    """The newest uploads, and the totals per kind over the whole ledger."""
    with _reading(state_dir) as database:
        if database is None:
            return [], {}
        ledger = Ledger(database)
        return ledger.recent(limit), ledger.totals()


@dataclass(frozen=True)
class WakePage:
    engine: str
    finding: Finding | None  # the doctor's verdict; None for an engine without calibration
    record: CalibrationRecord | None
    problem: str  # why the calibration file cannot be read


def wake_page(cfg: Config) -> WakePage:
    """The calibration's record and the doctor's verdict on it. The verdict leaves out the model
    card's own rule (reading a card loads the wake-word engine, numpy and all, which a page has
    no need of): with no calibration it says only that the card's rule is in use."""
    record, problem = None, ""
    try:
        record = read_calibration(sources.CALIBRATION_PATH)
    except ConfigError as exc:
        problem = str(exc)
    if cfg.wake.engine != "tflite":
        return WakePage(cfg.wake.engine, None, record, problem)
    sha = ""
    with contextlib.suppress(ModelError, OSError):
        sha = hashlib.sha256(resolved_wake_model(cfg).read_bytes()).hexdigest()
    wake = cfg.wake
    in_use = Rule(wake.threshold, wake.trigger_level, wake.smoothing)
    finding = check_calibration(record, in_use=in_use, card=None, model_sha256=sha, problem=problem)
    return WakePage(cfg.wake.engine, finding, record, problem)
