"""Between two visitors at a workshop: forget what the last one said and saved.

``wipe_visitor`` empties, in one SQLite transaction, the notes (and their audio), the facts the
model was asked to remember, the conversation and the turn timings, then deletes the files in
``photos/`` and ``recordings/``. It keeps the settings, the models, the cloud usage counted for
the budget and the egress ledger.

Why the budget counts stay: the day's budget is the teacher's guard on the shared account, not
the visitor's; a reset that gave it back would make it a budget per visitor.

Why the ledger stays: it is the record of what left the device, when and to which host, and
the one a teacher or a parent asks for afterwards ("did anything of my child's go anywhere?").
Wiping it between visitors would erase exactly that answer. What it keeps of a visitor is only
times, hosts, kinds and sizes, except the text of each question when the owner turned on
``[llm] log_prompt_text``: that text is blanked here, since it is the visitor's words.

Safe while the daemon runs: the deletes are one ``BEGIN IMMEDIATE`` transaction, which waits
for the daemon's own writes (``busy_timeout``) and is seen by it whole or not at all; a note
being saved at that moment lands before or after, never half. ``secure_delete`` overwrites the
deleted rows in the file, so the next visitor's notes are not written beside the last one's
words, and a WAL checkpoint then moves them out of the write-ahead log when the daemon allows.

Example::

    with Database(path) as db:
        print(describe(wipe_visitor(db, state_dir)))
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from device.errors import StorageError
from device.storage.database import Database

log = logging.getLogger(__name__)

# (table, what a row is, for the report), in the order they are emptied: note_audio before
# notes (it refers to them).
WIPED_TABLES: tuple[tuple[str, str], ...] = (
    ("note_audio", "note recording"),
    ("notes", "note"),
    ("recording_lines", "transcript line"),
    ("recording_segments", "recording segment"),
    ("recordings", "recording"),
    ("memory", "remembered fact"),
    ("turns", "conversation turn"),
    ("turn_timings", "turn timing"),
)
WIPED_FOLDERS = ("photos", "recordings")
# What a running daemon keeps in memory: the last reply ("repeat that" says it again) and timers.
RESTART_HINT = (
    "then restart the daemon (sudo systemctl restart zeropin): it still holds the last reply "
    "and any timer"
)


@dataclass
class WipeReport:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    files: dict[str, int] = field(default_factory=dict)  # folder -> files deleted
    ledger_rows: int = 0  # kept
    ledger_texts_blanked: int = 0
    problems: list[str] = field(default_factory=list)  # files that could not be deleted


def wipe_visitor(db: Database, state_dir: Path) -> WipeReport:
    """Forget the last visitor (see the module docstring); StorageError if the database could
    not be changed, in which case nothing in it was."""
    report = WipeReport()
    with db.transaction("wipe the last visitor's data") as connection:
        connection.execute("PRAGMA secure_delete = ON")
        for table, _ in WIPED_TABLES:
            report.rows[table] = connection.execute(f"DELETE FROM {table}").rowcount
        report.ledger_texts_blanked = connection.execute(
            "UPDATE egress_ledger SET content = '' WHERE content != ''"
        ).rowcount
        report.ledger_rows = connection.execute("SELECT count(*) FROM egress_ledger").fetchone()[0]
    _checkpoint(db)
    for folder in WIPED_FOLDERS:
        report.files[folder] = _empty(state_dir / folder, report.problems)
    return report


def _checkpoint(db: Database) -> None:
    """Copy the WAL into the file and truncate it; a running daemon's reader may stop that
    for now (it then happens at its next checkpoint), which is not a failure."""
    try:
        db.query("checkpoint the write-ahead log", "PRAGMA wal_checkpoint(TRUNCATE)")
    except StorageError as exc:
        log.info("WAL checkpoint postponed: %s", exc)


def _empty(folder: Path, problems: list[str]) -> int:
    """Delete the files in ``folder`` (and its sub-folders); how many. The folder stays."""
    if not folder.is_dir():
        return 0
    deleted = 0
    for path in sorted(folder.rglob("*"), reverse=True):  # files before their folders
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
                deleted += 1
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror or exc}")
    return deleted


def describe(report: WipeReport) -> str:
    """What was removed and what was kept, in a few lines for the teacher."""
    removed = [
        _count(report.rows.get(table, 0), noun)
        for table, noun in WIPED_TABLES
        if report.rows.get(table, 0)
    ]
    removed += [_count(n, f"file in {folder}/") for folder, n in report.files.items() if n]
    lines = ["removed " + (", ".join(removed) if removed else "nothing: it was already empty")]
    ledger = _count(report.ledger_rows, "row")
    kept = f"kept the settings, the models, the budget counts and the privacy ledger ({ledger}"
    if report.ledger_texts_blanked:
        kept += f"; the question text of {report.ledger_texts_blanked} blanked"
    lines.append(kept + ")")
    lines += [f"could not delete {problem}" for problem in report.problems]
    lines.append(RESTART_HINT)
    return "\n".join(lines)


def spoken(report: WipeReport) -> str:
    """What was forgotten, said to the wearer: "I forgot 3 notes, 2 photos and what you told
    me." (the daemon's own conversation and timers go too; it says so itself)."""
    said = [
        _count(report.rows.get("notes", 0), "note") if report.rows.get("notes") else "",
        _count(report.files.get("photos", 0), "photo") if report.files.get("photos") else "",
        _count(report.rows.get("recordings", 0), "recording")
        if report.rows.get("recordings")
        else "",
        "what you told me" if report.rows.get("memory") else "",
    ]
    said = [part for part in said if part]
    if not said:
        return "There was nothing saved to forget."
    listing = said[0] if len(said) == 1 else f"{', '.join(said[:-1])} and {said[-1]}"
    problems = " A file could not be deleted: the log says which." if report.problems else ""
    return f"I forgot {listing}.{problems}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
