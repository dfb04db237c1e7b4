"""Recording what the microphone hears, for hours, so that a power cut loses seconds at most.

While a recording is on, every chunk the voice loop reads is appended to a journal, raw 16 kHz
PCM (``NNNNN.pcm``), which is valid at any length; it is synced to the card every
``sync_seconds`` of audio, so a pulled battery loses at most that much (and the time a sync
takes: the syncs run in the recorder's worker thread, since an SD card's fsync can take long
enough to hold up the wake word). Every
``segment_seconds`` or so, at a pause (or after ``max_segment_seconds`` regardless), the journal
is closed and a worker thread encodes it to FLAC (lossless, about half the size of PCM for
speech), writes it atomically, records the segment in the database and deletes the journal. At
start-up ``recover`` turns the journals a power cut left into segments, and ends their
recordings "by power cut".

A segment ends at a pause so that transcription (``device.cloud.transcripts``) never gets a word
cut in half. A pause is simply quiet: 300 ms of chunks at most twice as loud as the quietest
chunk of the segment so far (the room's floor), which costs a few microseconds per chunk.

Disk: the recorder stops by itself, keeping what it has, when the card has less than
``min_free_mb`` free (checked at each segment) or a write fails for lack of space; ``feed``
returns the reason, and the voice loop says it.

Example::

    recorder = Recorder(RecordingStore(db), state_dir / "recordings")
    recorder.recover()
    recording_id = recorder.start()
    for chunk in mic_chunks:
        if recorder.feed(chunk):  # "disk full": it stopped by itself
            break
    recorder.stop()
    recorder.close()  # waits for the last segment to be encoded
"""

from __future__ import annotations

import errno
import io
import logging
import os
import queue
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import soundfile

from device.errors import StorageError
from device.storage.files import private_folder, write_atomically
from device.storage.recordings import RecordingStore, Segment, recording_folder

log = logging.getLogger(__name__)

RATE = 16000  # the audio bus (drivers.audio_format): 16 kHz, 16-bit, mono
BYTES_PER_SECOND = RATE * 2
PAUSE_SECONDS = 0.3
QUIET_FACTOR = 2.0  # a chunk this many times the segment's quietest is still quiet
FILE_MODE = 0o600  # what was said in a meeting is the wearer's alone

# Why a recording ended, as stored and as said.
BY_WEARER, DISK_FULL, POWER_CUT, SHUTDOWN, FAILED = (
    "wearer",
    "disk full",
    "power cut",
    "shutdown",
    "write failed",
)


@dataclass(frozen=True)
class RecorderSettings:
    segment_seconds: float = 30.0  # a segment ends at the first pause after this
    max_segment_seconds: float = 60.0  # ... or here, pause or not
    sync_seconds: float = 2.0  # the most a power cut can lose
    min_free_mb: int = 200  # left free for notes, photos and the system


class Recorder:
    """Writes the microphone to closed FLAC segments while a recording is on. ``start`` and
    ``stop`` may come from any thread; ``feed`` from the one that reads the microphone."""

    def __init__(
        self,
        store: RecordingStore,
        root: Path,
        settings: RecorderSettings = RecorderSettings(),
        *,
        on_segment: Callable[[Segment], None] | None = None,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.store = store
        self.root = root
        self.settings = settings
        self.on_segment = on_segment  # each segment saved (the transcriber is told)
        self.on_change = on_change  # True when a recording starts, False when it ends
        self._lock = threading.Lock()
        self._recording_id: int | None = None
        self._journal: _Journal | None = None
        self._number = 0
        self._start_s = 0.0  # where the open segment starts in the recording
        self._floor = float("inf")
        self._quiet_seconds = 0.0
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="recorder", daemon=True)
        self._worker.start()

    @property
    def active(self) -> bool:
        return self._recording_id is not None

    @property
    def seconds(self) -> float:
        """Length of the recording under way so far (0 when none is)."""
        with self._lock:
            if self._journal is None:
                return 0.0
            return self._start_s + self._journal.seconds

    def start(self) -> int:
        """Start a recording (or go on with the one under way); its id. StorageError when the
        card has too little room or its folder or first journal cannot be made."""
        with self._lock:
            if self._recording_id is not None:
                return self._recording_id
            self._check_room()
            recording_id = self.store.begin()
            folder = recording_folder(self.root, recording_id)
            try:
                private_folder(folder)
                journal = _Journal(folder / f"{0:05d}.pcm")
            except OSError as exc:
                self.store.end(recording_id, FAILED)
                raise StorageError(f"could not start a recording in {folder}: {exc}") from exc
            self._recording_id, self._number, self._start_s = recording_id, 0, 0.0
            self._journal = journal
        log.info("recording %d started", recording_id)
        self._changed(True)
        return recording_id

    def stop(self, ended_by: str = BY_WEARER) -> float:
        """End the recording under way; its length in seconds (0 when none was on). The last
        segment is encoded in the background (``close`` waits for it)."""
        with self._lock:
            recording_id = self._recording_id
            if recording_id is None:
                return 0.0
            seconds = self._start_s + self._close_segment()
            self._recording_id, self._journal = None, None
        at = self.store.clock()
        self._jobs.put(lambda: self.store.end(recording_id, ended_by, at))
        log.info("recording %d ended (%s) after %.1f s", recording_id, ended_by, seconds)
        self._changed(False)
        return seconds

    def feed(self, pcm: bytes) -> str | None:
        """Append a chunk when recording; the reason when the recorder had to stop."""
        if self._recording_id is None or not pcm:
            return None
        with self._lock:
            journal = self._journal
            if journal is None:
                return None
            reason: str | None
            try:
                journal.append(pcm)
                if journal.sync_due(self.settings.sync_seconds) and not journal.syncing.is_set():
                    # one at a time: a sync covers all written before it, and a worker held up
                    # by a slow card must not pile up descriptors until they run out
                    journal.syncing.set()
                    self._jobs.put(partial(_synced, journal.detach(), journal.syncing))
            except OSError as exc:
                reason = DISK_FULL if exc.errno in (errno.ENOSPC, errno.EDQUOT) else FAILED
                log.error("recording stopped: could not write %s: %s", journal.path, exc)
            else:
                reason = self._maybe_cut(pcm, journal)
        if reason:
            self.stop(reason)
        return reason

    def recover(self) -> list[int]:
        """Journals left unencoded (a power cut, or a card that was full) become segments;
        recordings never ended end "by power cut", even when a journal cannot be encoded now
        (it stays for the next start). The ids of the recordings looked at."""
        unfinished = {recording.id for recording in self.store.unfinished()}
        left = {int(p.parent.name) for p in self.root.glob("*/*.pcm") if p.parent.name.isdigit()}
        for recording_id in sorted(unfinished | left):
            for journal in sorted(recording_folder(self.root, recording_id).glob("*.pcm")):
                number = int(journal.stem)
                start = self.store.end_of(recording_id, number)
                try:
                    self._encode(recording_id, number, start, journal)
                except (OSError, StorageError, RuntimeError) as exc:
                    log.error("%s stays for the next start: %s", journal, exc)
            recording = self.store.get(recording_id)
            if recording is not None and recording_id in unfinished:
                self.store.end(recording_id, POWER_CUT, recording.started_at + recording.seconds)
                log.warning(
                    "recording %d was cut off: %.0f s kept", recording_id, recording.seconds
                )
        return sorted(unfinished | left)

    def close(self) -> None:
        """Stop any recording (as at shutdown) and wait for its last segment."""
        self.stop(SHUTDOWN)
        self._jobs.put(None)
        self._worker.join()

    # ---- segments ----------------------------------------------------------------------------
    def _maybe_cut(self, pcm: bytes, journal: _Journal) -> str | None:
        """Close the segment at a pause after ``segment_seconds``; the reason to stop, if the
        card is nearly full."""
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32)
        level = float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
        self._floor = min(self._floor, max(level, 1.0))
        quiet = level <= self._floor * QUIET_FACTOR
        self._quiet_seconds = self._quiet_seconds + len(pcm) / BYTES_PER_SECOND if quiet else 0.0
        settings = self.settings
        long_enough = journal.seconds >= settings.segment_seconds
        if journal.seconds < settings.max_segment_seconds and not (
            long_enough and self._quiet_seconds >= PAUSE_SECONDS
        ):
            return None
        self._start_s += self._close_segment()
        self._journal = None  # until the next one is open
        try:
            self._check_room()
        except StorageError as exc:
            log.warning("%s", exc)
            return DISK_FULL
        self._number += 1
        try:
            self._journal = self._open_journal()
        except OSError as exc:
            log.error("recording stopped: could not open a segment: %s", exc)
            return DISK_FULL if exc.errno in (errno.ENOSPC, errno.EDQUOT) else FAILED
        return None

    def _close_segment(self) -> float:
        """Close the open journal and queue its encoding; its seconds."""
        journal, recording_id = self._journal, self._recording_id
        if journal is None or recording_id is None:
            return 0.0
        last_sync = journal.close()
        seconds = journal.seconds
        number, start = self._number, self._start_s
        self._floor, self._quiet_seconds = float("inf"), 0.0
        self._jobs.put(partial(self._close_later, last_sync, recording_id, number, start, journal))
        return seconds

    def _open_journal(self) -> _Journal:
        assert self._recording_id is not None
        folder = recording_folder(self.root, self._recording_id)
        return _Journal(folder / f"{self._number:05d}.pcm")

    def _check_room(self) -> None:
        try:
            private_folder(self.root)
            free_mb = shutil.disk_usage(self.root).free / 1e6
        except OSError as exc:
            raise StorageError(f"could not make {self.root}: {exc.strerror}") from exc
        if free_mb < self.settings.min_free_mb:
            raise StorageError(
                f"the SD card has {free_mb:.0f} MB free, under the {self.settings.min_free_mb} MB "
                "[recorder] min_free_mb keeps for notes and the system"
            )

    def _close_later(
        self, last_sync: int, recording_id: int, number: int, start: float, journal: _Journal
    ) -> None:
        """In the worker: the journal's last sync, then its segment (or, empty, its deletion)."""
        try:
            _synced(last_sync)
        except OSError as exc:  # what reached the file is still encoded
            log.error("could not sync %s: %s", journal.path, exc)
        if journal.bytes:
            self._encode_logged(recording_id, number, start, journal.path)
        else:
            journal.path.unlink(missing_ok=True)

    def _encode_logged(self, recording_id: int, number: int, start: float, journal: Path) -> None:
        try:
            self._encode(recording_id, number, start, journal)
        except (OSError, StorageError, RuntimeError) as exc:
            # The journal stays, for ``recover`` at the next start.
            log.error("could not save segment %d of recording %d: %s", number, recording_id, exc)

    def _encode(self, recording_id: int, number: int, start: float, journal: Path) -> float:
        """``journal`` as a FLAC segment, recorded in the database, then deleted; its seconds."""
        pcm = journal.read_bytes()
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        seconds = samples.size / RATE
        if samples.size == 0:
            journal.unlink()
            return 0.0
        flac = journal.with_suffix(".flac")
        write_atomically(flac, flac_bytes(samples), mode=FILE_MODE)
        relative = flac.relative_to(self.root).as_posix()
        self.store.add_segment(
            Segment(recording_id, number, start, seconds, relative, flac.stat().st_size)
        )
        journal.unlink()
        if self.on_segment is not None:
            self.on_segment(Segment(recording_id, number, start, seconds, relative, 0))
        return seconds

    def drain(self) -> None:
        """Wait until the segments closed so far are encoded and saved."""
        self._jobs.join()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # one failed segment must not end the worker
                log.exception("recorder job failed")
            finally:
                self._jobs.task_done()

    def _changed(self, recording: bool) -> None:
        if self.on_change is not None:
            self.on_change(recording)


class _Journal:
    """Raw PCM appended to a file. Appending only copies into the page cache; ``sync_due`` says
    when ``sync_seconds`` of audio wait to reach the card, and ``detach`` hands over a
    descriptor to sync elsewhere, so the voice loop never waits for an SD card's fsync."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, FILE_MODE)
        self.bytes = 0
        self._unsynced = 0
        self.syncing = threading.Event()  # a sync of it waits in the worker's queue

    @property
    def seconds(self) -> float:
        return self.bytes / BYTES_PER_SECOND

    def append(self, pcm: bytes) -> None:
        os.write(self._fd, pcm)
        self.bytes += len(pcm)
        self._unsynced += len(pcm)

    def sync_due(self, sync_seconds: float) -> bool:
        return self._unsynced >= sync_seconds * BYTES_PER_SECOND

    def detach(self) -> int:
        """A descriptor of the file for a sync in another thread (which closes it)."""
        self._unsynced = 0
        return os.dup(self._fd)

    def close(self) -> int:
        """Close it; a descriptor left open for the last sync (which closes it)."""
        last = self.detach()
        os.close(self._fd)
        self._fd = -1
        return last


def _synced(fd: int, done: threading.Event | None = None) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
        if done is not None:
            done.clear()


def flac_bytes(samples: np.ndarray) -> bytes:
    """16 kHz mono 16-bit samples as a FLAC file."""
    out = io.BytesIO()
    soundfile.write(out, samples, RATE, format="FLAC", subtype="PCM_16")
    return out.getvalue()


def read_segment(path: Path) -> bytes:
    """A segment's audio as bus PCM (16 kHz mono s16le)."""
    samples, rate = soundfile.read(path, dtype="int16")
    if rate != RATE:
        raise StorageError(f"{path} is {rate} Hz, not the recorder's {RATE}")
    return np.asarray(samples, dtype="<i2").tobytes()
