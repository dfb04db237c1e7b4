"""``zeropin recordings``: what the recorder kept, from the shell. ``list`` them, ``show`` one's
summary and transcript, ``export`` one as Markdown, JSON or a single WAV file, ``delete`` one
(its audio files and its rows).

The database is opened as ``zeropin notes`` opens it: to read, it is read only when it cannot be
written (exporting is how a full card is emptied); ``delete`` needs to write. A recording still
being recorded is never deleted from under the recorder.

Example::

    zeropin recordings list
    zeropin recordings show 3
    zeropin recordings export 3 --format audio --out meeting.wav
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from device.cli.commands import load_settings
from device.errors import StorageError

if TYPE_CHECKING:  # the rest is imported by each command: `zeropin --help` stays quick
    from device.storage.recordings import Line, Recording, RecordingStore, Segment

FILE_MODE = 0o600  # what was said in a meeting is the wearer's alone, exported or not
LISTED = "`zeropin recordings list` shows the recordings there are"
ENDINGS = {
    "wearer": "stopped by the wearer",
    "disk full": "stopped: the card was full",
    "power cut": "cut off (power cut)",
    "shutdown": "stopped at shutdown",
    "write failed": "stopped: a write failed",
}
SUFFIXES = {"md": ".md", "json": ".json", "audio": ".wav"}


def add_recordings_parsers(sub: Any) -> None:
    recordings = sub.add_parser(
        "recordings", help="the recordings: list, show, export (Markdown, JSON, WAV), delete"
    )
    recordings.set_defaults(func=list_command, limit=20)  # `zeropin recordings` alone lists
    recordings_sub = recordings.add_subparsers()
    listing = recordings_sub.add_parser(
        "list", help="newest first: length, segments, transcription, summary, MB, how it ended"
    )
    listing.add_argument("--limit", type=int, default=20, help="newest recordings to show")
    listing.set_defaults(func=list_command)
    show = recordings_sub.add_parser("show", help="a recording's summary and transcript")
    show.add_argument("id", type=int, metavar="ID")
    show.set_defaults(func=show_command)
    export = recordings_sub.add_parser(
        "export", help="a recording as Markdown or JSON (to stdout), or its audio as one WAV"
    )
    export.add_argument("id", type=int, metavar="ID")
    export.add_argument(
        "--format", choices=("md", "json", "audio"), default="md", help="default md"
    )
    export.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="the file to write (a folder: recording-ID.md/.json/.wav in it); md and json go "
        "to stdout without it, audio to recording-ID.wav here",
    )
    export.set_defaults(func=export_command)
    delete = recordings_sub.add_parser(
        "delete", help="delete a recording: its audio files and its transcript (no undo)"
    )
    delete.add_argument("id", type=int, metavar="ID")
    delete.set_defaults(func=delete_command)


# ---- the commands ----------------------------------------------------------------------------
def list_command(args: argparse.Namespace) -> int:
    with _store(args) as (store, path):
        recordings = store.recent(args.limit) if store is not None else []
        if not recordings:
            print(f'no recordings yet in {path}: say "start recording" to make one')
            return 0
        for recording in recordings:
            print(describe(recording))
    return 0


def show_command(args: argparse.Namespace) -> int:
    with _recording(args) as (store, recording, _):
        print(f"{recording.title}. {headline(recording)}")
        if recording.summary:
            print(f"\nSummary ({recording.summary_engine or 'unknown engine'}):")
            print("  " + recording.summary.strip().replace("\n", "\n  "))
        lines = store.lines(recording.id)
        print("\nTranscript:" if lines else "\nTranscript: none yet")
        for line in lines:
            print(f"[{clock(line.start_s)}] {line.text}")
        waiting = [s for s in store.segments(recording.id) if not s.transcribed_by]
        if waiting:
            print(f"\nWaiting for transcription: {len(waiting)} segment(s)")
            for segment in waiting:
                print("  " + _waiting(segment))
    return 0


def export_command(args: argparse.Namespace) -> int:
    with _recording(args) as (store, recording, path):
        out = args.out
        if out is not None and out.is_dir():
            out = out / export_name(recording, args.format)
        if args.format == "audio":
            from device.storage.recordings import RECORDINGS_FOLDER

            segments = store.segments(recording.id)
            if not segments:
                raise StorageError(f"recording {recording.id} has no audio saved yet")
            out = out or Path(export_name(recording, "audio"))
            seconds = write_audio(segments, path.parent / RECORDINGS_FOLDER, out)
            print(f"wrote recording {recording.id} to {out} ({clock(seconds)} of audio)")
            return 0
        if args.format == "json":
            text = json.dumps(as_json(store, recording), indent=2, ensure_ascii=False) + "\n"
        else:
            text = as_markdown(store, recording)
        if out is None:
            print(text, end="")
            return 0
        from device.storage.files import write_atomically

        try:
            write_atomically(out, text.encode("utf-8"), mode=FILE_MODE)
        except OSError as exc:
            raise StorageError(
                f"could not export recording {recording.id} to {out}: {exc}"
            ) from exc
        print(f"wrote recording {recording.id} to {out}")
    return 0


def delete_command(args: argparse.Namespace) -> int:
    from device.storage.database import Database
    from device.storage.recordings import RECORDINGS_FOLDER, RecordingStore, delete_recording
    from device.system.paths import database_path, resolved_state_dir

    cfg, _ = load_settings(args)
    state_dir = resolved_state_dir(cfg)
    path = database_path(state_dir)
    if not path.is_file():
        raise StorageError(_unknown(args.id, path, no_database=True))
    with Database(path) as database:  # to write: a read-only stand-in would orphan the rows
        store = RecordingStore(database)
        recording = store.get(args.id)
        if recording is None:
            raise StorageError(_unknown(args.id, path, no_database=False))
        if recording.ended_at is None:
            raise StorageError(
                f'recording {recording.id} is still being recorded: stop it first (say "stop '
                'recording" or press the button twice); one cut off by a power cut is ended '
                "when the daemon next starts"
            )
        delete_recording(store, state_dir / RECORDINGS_FOLDER, recording.id)
    print(
        f"deleted recording {recording.id} ({recording.title}, {clock(recording.seconds)}, "
        f"{recording.bytes / 1e6:.1f} MB)"
    )
    return 0


# ---- reading the database --------------------------------------------------------------------
@contextmanager
def _store(args: argparse.Namespace) -> Iterator[tuple[RecordingStore | None, Path]]:
    """(the store, the database's path); the store is None when there is no database yet."""
    from device.storage.database import open_or_stand_in
    from device.storage.recordings import RecordingStore
    from device.system.paths import database_path, resolved_state_dir

    cfg, _ = load_settings(args)
    path = database_path(resolved_state_dir(cfg))
    if not path.is_file():  # not made just to be read
        yield None, path
        return
    # Read-only when it cannot be written: exporting is how a full card is emptied.
    with open_or_stand_in(path, memory=False) as database:
        yield RecordingStore(database), path


@contextmanager
def _recording(args: argparse.Namespace) -> Iterator[tuple[RecordingStore, Recording, Path]]:
    """(the store, recording ``args.id``, the database's path); StorageError when there is no
    such recording."""
    with _store(args) as (store, path):
        recording = store.get(args.id) if store is not None else None
        if store is None or recording is None:
            raise StorageError(_unknown(args.id, path, no_database=store is None))
        yield store, recording, path


def _unknown(recording_id: int, path: Path, *, no_database: bool) -> str:
    if no_database:
        return f"no recording {recording_id}: there are no recordings yet (no {path})"
    return f"no recording {recording_id} in {path}: {LISTED}"


# ---- words -----------------------------------------------------------------------------------
def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def hours(seconds: float) -> str:
    """h:mm:ss always, so a list of lengths lines up."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def ending(recording: Recording) -> str:
    if recording.ended_at is None:
        return "recording now"
    return ENDINGS.get(recording.ended_by, f"ended: {recording.ended_by or 'unknown'}")


def describe(recording: Recording) -> str:
    """One line: "3  Monday 7 December, 10:02  0:12:31  5 segments, 2 to transcribe  summary
    3.1 MB  stopped by the wearer"."""
    waiting = f"{recording.waiting} to transcribe" if recording.waiting else "all transcribed"
    if not recording.segments:
        waiting = "no audio yet"
    summary = "summary" if recording.summary else "no summary"
    return (
        f"{recording.id:>5}  {recording.title:29}  {hours(recording.seconds)}  "
        f"{recording.segments:>3} segments, {waiting:16}  {summary:10}  "
        f"{recording.bytes / 1e6:6.1f} MB  {ending(recording)}"
    )


def headline(recording: Recording) -> str:
    """Its id, length, how it ended, segments and size, as a sentence."""
    return (
        f"Recording {recording.id}: {hours(recording.seconds)}, {ending(recording)}; "
        f"{recording.segments} segment(s), {recording.bytes / 1e6:.1f} MB on the card."
    )


def _waiting(segment: Segment) -> str:
    tried = f", tried {segment.attempts} time(s)" if segment.attempts else ""
    return f"{segment.file}  from {clock(segment.start_s)}, {segment.seconds:.0f} s{tried}"


def export_name(recording: Recording, form: str) -> str:
    return f"recording-{recording.id:05d}{SUFFIXES[form]}"


def as_markdown(store: RecordingStore, recording: Recording) -> str:
    parts = [
        f"# {recording.title}",
        headline(recording),
        "## Summary",
        recording.summary.strip() or "_No summary yet._",
        "## Transcript",
    ]
    lines = store.lines(recording.id)
    parts += [f"- [{clock(line.start_s)}] {line.text}" for line in lines] or ["_None yet._"]
    if recording.waiting:
        parts.append(f"_{recording.waiting} segment(s) not transcribed yet._")
    return "\n\n".join(parts) + "\n"


def as_json(store: RecordingStore, recording: Recording) -> dict[str, Any]:
    """The recording's fields (``segments`` the list of them), its title, lines and segments."""
    fields = asdict(recording) | {"title": recording.title}
    fields["lines"] = [_line(line) for line in store.lines(recording.id)]
    fields["segments"] = [
        {
            "file": s.file,
            "start_s": s.start_s,
            "seconds": s.seconds,
            "transcribed_by": s.transcribed_by,
        }
        for s in store.segments(recording.id)
    ]
    return fields


def _line(line: Line) -> dict[str, Any]:
    return {"start_s": line.start_s, "end_s": line.end_s, "text": line.text, "engine": line.engine}


# ---- audio -----------------------------------------------------------------------------------
def write_audio(segments: list[Segment], root: Path, out: Path) -> float:
    """The segments, in order, as one 16 kHz mono WAV at ``out``, written a segment at a time
    (two hours is 230 MB) to a temp file renamed over ``out``; its seconds."""
    from drivers.audio_format import BYTES_PER_SECOND, CHANNELS, RATE, SAMPLE_WIDTH

    written = 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise StorageError(f"could not write {out}: {exc}") from exc
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), FILE_MODE)
            with wave.open(file, "wb") as wav:
                wav.setnchannels(CHANNELS)
                wav.setsampwidth(SAMPLE_WIDTH)
                wav.setframerate(RATE)
                for segment in sorted(segments, key=lambda s: s.number):
                    pcm = _segment_audio(root / segment.file)
                    wav.writeframes(pcm)
                    written += len(pcm)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, out)
    except BaseException as exc:
        Path(temp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, StorageError):
            raise StorageError(f"could not write {out}: {exc}") from exc
        raise
    return written / BYTES_PER_SECOND


def _segment_audio(path: Path) -> bytes:
    from device.storage.recorder import read_segment  # numpy and libsndfile: only here

    try:
        return read_segment(path)
    except (OSError, RuntimeError) as exc:  # libsndfile's errors are RuntimeErrors
        raise StorageError(f"could not read {path}: {exc}") from exc
