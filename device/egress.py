"""The egress gate: the one code path that sends anything off the device, and its ledger.

Every upload (a chat prompt, a camera frame, a recording) is wrapped in :meth:`EgressGate.upload`,
which keeps ZeroPin's privacy promise in this order:

1. For an image or audio, light the upload indicator first (the privacy LED, or the status LED's
   capture pattern on a build without one); if it cannot be lit, refuse
   (:class:`~device.errors.EgressRefused`) and send nothing. A device with no indicator at all
   refuses too, unless its owner set ``[led] allow_uploads_without_indicator``. Text prompts are
   not camera or microphone data, so they need no indicator (and leave it alone).
2. Append a row to the egress ledger *before* the block runs, so a crash mid-send still leaves a
   record; if the row cannot be written (disk full), refuse and put the indicator back out. On a
   stand-in database (a card that could not be written at start) rows last until restart only:
   text prompts still go, images and audio are refused.
3. Run the block (the actual request) with the indicator lit; it goes out when the last image or
   audio upload in progress leaves its block, however it leaves (return, exception, cancellation).

The ledger keeps the time, host, kind, size and purpose of each upload, never a URL (only its
host name, so no key in a query string can land there) and never the content of an image or
audio; prompt text only when the wearer asks for it (``log_content``).

Example::

    from pathlib import Path
    from drivers.leds import PrivacyLed
    from device.egress import EgressGate, Ledger, format_ledger
    from device.storage.database import Database

    with Database(Path("/var/lib/zeropin/zeropin.db")) as db, PrivacyLed(16) as led:
        ledger = Ledger(db)
        gate = EgressGate(ledger, led)
        jpeg = Path("frame.jpg").read_bytes()
        with gate.upload(host="api.example.com", kind="image", size_bytes=len(jpeg),
                         purpose="vision"):
            ...  # send it; the LED is lit until here
        print(format_ledger(ledger.recent(), ledger.totals()))
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from device.errors import DriverError, EgressRefused, StorageError
from device.storage.database import Database
from drivers.leds import UploadIndicator

__all__ = ["KINDS", "EgressGate", "Ledger", "LedgerRow", "format_ledger", "host_name"]

log = logging.getLogger(__name__)

KINDS = ("text", "image", "audio")
LIT_KINDS = frozenset({"image", "audio"})  # camera and microphone data: the indicator must be lit
LEDGER_WRITE = "write the egress ledger"  # completes StorageError's "could not ..."


@dataclass(frozen=True)
class LedgerRow:
    """One upload, as recorded before it was sent."""

    at: float  # unix seconds
    host: str  # host name only, never a URL
    kind: str  # "text" | "image" | "audio"
    size_bytes: int
    purpose: str  # "chat", "vision", "transcription", "speech", ...
    content: str = ""  # prompt text, only when configured (log_content); never for image/audio


def _check_upload(kind: str, size_bytes: int, purpose: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if size_bytes < 0:
        raise ValueError(f"size_bytes must be 0 or more, not {size_bytes}")
    if not purpose.strip():
        raise ValueError("an upload needs a purpose")


def host_name(host: str) -> str:
    """The bare host name in ``host``, which may be a URL: no scheme, user, port, path or query.

    >>> host_name("https://user:key@API.example.com:443/v1/chat?key=abc")
    'api.example.com'

    ValueError when there is no host name in it; the message never repeats the input, which may
    hold a key.
    """
    text = host.strip()
    try:
        name = urlsplit(text if "://" in text else f"//{text}").hostname
    except ValueError:
        name = None
    if not name:
        raise ValueError("an upload needs the host name it goes to")
    return name


class Ledger:
    """The egress ledger: one row per upload, in the shared database, for the wearer to read."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def append(
        self, host: str, kind: str, size_bytes: int, purpose: str, content: str = ""
    ) -> LedgerRow:
        """Record an upload about to be sent and return the row.

        ``host`` may be a URL; only its host name is stored. ValueError for an unknown kind, a
        negative size, an empty purpose or content given for an image or audio; StorageError
        when the row could not be written.
        """
        _check_upload(kind, size_bytes, purpose)
        if content and kind != "text":
            raise ValueError(f"the ledger never keeps the content of an {kind}")
        row = LedgerRow(self._clock(), host_name(host), kind, size_bytes, purpose.strip(), content)
        with self._db.transaction(LEDGER_WRITE) as connection:
            connection.execute(
                "INSERT INTO egress_ledger (at, host, kind, size_bytes, purpose, content) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (row.at, row.host, row.kind, row.size_bytes, row.purpose, row.content),
            )
        return row

    @property
    def lost_at_restart(self) -> str:
        """Why rows written now will not outlive the process ("" when they will): the database
        is a stand-in for one that cannot be written (a full or read-only card)."""
        unsaved = self._db.unsaved
        return "" if unsaved is None else unsaved.reason

    def recent(self, limit: int = 50) -> list[LedgerRow]:
        """The ``limit`` newest rows, newest first."""
        if limit < 0:
            raise ValueError(f"limit must be 0 or more, not {limit}")
        rows = self._db.query(
            "read the egress ledger",
            "SELECT at, host, kind, size_bytes, purpose, content FROM egress_ledger "
            "ORDER BY at DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [LedgerRow(*row) for row in rows]

    def totals(self) -> dict[str, tuple[int, int]]:
        """kind -> (uploads, bytes) over the whole ledger, for kinds that have any uploads."""
        rows = self._db.query(
            "total the egress ledger",
            "SELECT kind, count(*), sum(size_bytes) FROM egress_ledger GROUP BY kind",
        )
        found = {kind: (int(uploads), int(size)) for kind, uploads, size in rows}
        return {kind: found[kind] for kind in KINDS if kind in found}


class EgressGate:
    """Lights the upload indicator and writes the ledger before anything leaves the device.

    ``indicator`` is the privacy LED, or the status LED's capture pattern
    (:class:`~drivers.leds.CaptureOnStatusLight`) on a build without one: it is what makes the
    camera and microphone visible to the people around the wearer. With ``indicator=None``
    images and audio are refused, unless ``allow_without_indicator`` (the owner's explicit
    ``[led] allow_uploads_without_indicator``): then they are sent and ledgered with nothing lit,
    and a WARNING says so once, here.

    Safe to use from several threads at once: the LED stays lit while any image or audio upload
    is in progress. ``log_content`` keeps the text of prompts in the ledger (never images or
    audio). See the module docstring for the order of steps and an example.
    """

    def __init__(
        self,
        ledger: Ledger,
        indicator: UploadIndicator | None,
        *,
        allow_without_indicator: bool = False,
        log_content: bool = False,
    ) -> None:
        self._ledger = ledger
        self._led = indicator
        self._allow_unlit = allow_without_indicator
        self._log_content = log_content
        self._lock = threading.Lock()  # guards _uploads_lit and the indicator's on/off
        self._uploads_lit = 0  # image/audio uploads in progress
        if indicator is None and allow_without_indicator:
            log.warning(
                "uploads without an indicator are allowed here: images and audio will be sent "
                "with no light showing it"
            )

    @property
    def indicator(self) -> UploadIndicator | None:
        return self._led

    @contextmanager
    def upload(
        self, *, host: str, kind: str, size_bytes: int, purpose: str, content: str = ""
    ) -> Iterator[None]:
        """Send inside this block: LED lit (image, audio) and ledger row written, or refused.

        ``host`` may be a URL; only its host name is recorded. Raises EgressRefused, before the
        block runs, when the LED cannot be lit or the ledger cannot be written; ValueError for a
        bad kind, size or purpose (nothing lit, nothing recorded).
        """
        _check_upload(kind, size_bytes, purpose)
        host = host_name(host)
        kept = content if self._log_content and kind == "text" else ""
        if kind in LIT_KINDS and self._led is None and not self._allow_unlit:
            raise EgressRefused(
                f"not sending the {kind}: nothing on this device can show it (no privacy LED, no "
                "status LED); wire one, or set [led] allow_uploads_without_indicator = true",
                cause="no indicator",
            )
        lost = self._ledger.lost_at_restart if kind in LIT_KINDS else ""
        if lost:  # text still goes: the wearer asked, and nothing of camera or microphone leaves
            raise EgressRefused(
                f"not sending the {kind}: the egress ledger cannot keep its record ({lost})",
                cause="ledger",
                storage_reason=lost,
            )
        lit = kind in LIT_KINDS and self._led is not None
        if lit:
            self._light(kind)
        try:
            try:
                self._ledger.append(host, kind, size_bytes, purpose, kept)
            except StorageError as exc:
                reason = str(exc).removeprefix(f"could not {LEDGER_WRITE}: ")
                raise EgressRefused(
                    f"not sending the {kind}: the egress ledger could not be written ({reason})",
                    cause="ledger",
                    storage_reason=reason,
                ) from exc
            log.debug("egress: %s, %d bytes to %s for %s", kind, size_bytes, host, purpose)
            yield
        finally:
            if lit:
                self._put_out()

    def _light(self, kind: str) -> None:
        """Light the indicator and count this upload, or raise EgressRefused (count unchanged)."""
        assert self._led is not None
        with self._lock:
            try:
                self._led.on()
            except DriverError as exc:
                reason = str(exc)
            else:
                if self._led.is_lit:
                    self._uploads_lit += 1
                    return
                reason = "it still reads as off after being switched on"
        raise EgressRefused(
            f"not sending the {kind}: {self._led.description} could not be lit ({reason})",
            cause="indicator",
        )

    def _put_out(self) -> None:
        """Count this upload done; put the LED out when it was the last one in progress."""
        assert self._led is not None
        with self._lock:
            self._uploads_lit -= 1
            if self._uploads_lit:
                return
            try:
                self._led.off()
            except DriverError as exc:
                # Never raise over the upload's own outcome; the next upload lights it again.
                log.warning(
                    "%s could not be put out after an upload: %s", self._led.description, exc
                )


def format_ledger(rows: Sequence[LedgerRow], totals: Mapping[str, tuple[int, int]]) -> str:
    """The ledger as ``zeropin privacy ledger`` prints it: a header, one line per row (local time),
    totals per kind. Example::

        print(format_ledger(ledger.recent(20), ledger.totals()))
    """
    uploads = sum(count for count, _ in totals.values())
    if not rows and not uploads:
        return "Nothing has left this device."
    shown = f"the {len(rows)} newest of {uploads}" if len(rows) < uploads else "newest first"
    lines = [f"What has left this device ({shown}):"]
    for row in rows:
        when = datetime.fromtimestamp(row.at).isoformat(timespec="seconds")
        line = f"{when}  {row.kind:<5}  {row.size_bytes:>11,} bytes  {row.host}  {row.purpose}"
        if row.content:
            line += f'  "{" ".join(row.content.split())}"'
        lines.append(line)
    lines.append("Totals:")
    for kind, (count, size) in totals.items():
        plural = "upload " if count == 1 else "uploads"
        lines.append(f"  {kind:<5}  {count:>6,} {plural}  {size:>13,} bytes")
    return "\n".join(lines)
