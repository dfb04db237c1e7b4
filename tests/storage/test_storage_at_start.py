"""`zeropin run` starts whatever state its storage is in, says what it cannot do, keeps it whole.

The daemon runs as a user starts it (``python -m device.cli run --sim --lockstep``) on espeak-ng
speech, with its state on a real 1 MB tmpfs filled to the brim, the same remounted read-only, or
beside a database file of random bytes. The cloud is the loopback OpenAI-compatible server.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from disks import fill, remount, small_disk

from device.daemon import CANNOT_SAVE
from device.sim.demo import ROOM_NOISE_RMS, USER_VOICE
from device.sim.loopback.scripted import DEFAULT_REPLY
from device.sim.loopback.server import LoopbackLLM
from device.skills.local import NOTE_NOT_SAVED
from device.speaking.tts import EspeakSynthesizer
from device.storage.database import Database
from device.storage.notes import NoteStore
from drivers.audio_format import write_wav

RATE = 16000
NOTES = ["buy oat milk", "call the plumber", "the bike lock code is 1234"]


def _recording(path: Path, steps: list[tuple[str, float]]) -> Path:
    """Quiet while the device says what it must at start, then each phrase and its pause."""
    tts = EspeakSynthesizer(*USER_VOICE, volume_percent=100)
    parts = [np.zeros(RATE * 7)]
    for text, pause_seconds in steps:
        parts.append(np.frombuffer(tts.synthesize(text), "<i2").astype(np.float64))
        parts.append(np.zeros(int(RATE * pause_seconds)))
    audio = np.concatenate(parts)
    audio += np.random.default_rng(3).normal(0, ROOM_NOISE_RMS, len(audio))
    write_wav(path, np.clip(audio, -32768, 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def what_time(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mic")
    return _recording(folder / "mic.wav", [("hey zero, what time is it", 4)])


def _zeropin_run(
    tmp_path: Path, state: Path, mic: Path, env: dict[str, str] | None = None, umask: int = -1
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "device.cli", "--config", str(tmp_path / "none.toml"),
         "--set", f"device.state_dir={state}", "--set", "camera.backend=none",
         "run", "--sim", "--mic", str(mic), "--speaker-file", str(tmp_path / "out"),
         "--lockstep"],
        env={**os.environ, "HOME": str(tmp_path), **(env or {})}, umask=umask,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def _saved_notes(state: Path) -> None:
    (state / "photos").mkdir(parents=True)
    with Database(state / "zeropin.db") as database:
        for text in NOTES:
            NoteStore(database).add(text)


def _whole(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [text for (text,) in connection.execute("SELECT text FROM notes ORDER BY id")]


def _said_first(out: Path, words: str) -> None:
    """The first WAV the speaker wrote says ``words`` (its file is named after them)."""
    first = sorted(out.glob("*.wav"))[0]
    assert first.name.startswith(f"01-{words}"), sorted(p.name for p in out.glob("*.wav"))
    with wave.open(str(first)) as wav:
        assert wav.getnframes() > 2 * RATE


def _turns(stdout: str) -> list[str]:
    """The simulator's turn lines: "heard 'what' -> intent: 'reply'"."""
    return [line.strip() for line in stdout.splitlines() if line.strip().startswith("heard ")]


def test_a_full_disk_still_tells_the_time_runs_timers_answers_and_says_it_cannot_save(
    tmp_path: Path,
) -> None:
    mic = _recording(
        tmp_path / "mic.wav",
        [
            ("hey zero, what time is it", 5),
            ("hey zero, set a timer for ten seconds", 14),
            ("hey zero, take a note buy milk", 6),
            ("hey zero, why is the sky blue", 30),
        ],
    )
    with small_disk(tmp_path / "disk", "1m") as disk, LoopbackLLM() as server:
        state = disk / "state"
        _saved_notes(state)
        filler = fill(disk)
        result = _zeropin_run(tmp_path, state, mic, {"OPENAI_BASE_URL": server.base_url})
        filler.unlink()
        assert _whole(state / "zeropin.db") == NOTES  # not a byte of it was written
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    notice = "My storage is full, so I can't save notes or photos. Free some space on the SD card."
    assert f"said {notice!r}" in result.stdout
    _said_first(tmp_path / "out", "my-storage-is-full")
    assert f"the disk is full; free space on the drive holding {state / 'zeropin.db'}" in (
        result.stderr
    )
    time, timer, note, question = _turns(result.stdout)
    assert "-> time: \"It's " in time
    assert "-> timer_set: " in timer
    assert list((tmp_path / "out").glob("*-your-10-second-timer-is-done.wav"))
    assert f"-> note_add: {NOTE_NOT_SAVED['full']!r}" in note, note
    assert "-> brain: " in question and DEFAULT_REPLY.split(".")[0] in question, question


@pytest.mark.parametrize("photos_folder", [True, False], ids=["photos", "no-photos-folder-yet"])
def test_a_read_only_mount_starts_and_says_so(
    tmp_path: Path, what_time: Path, photos_folder: bool
) -> None:
    with small_disk(tmp_path / "disk", "4m") as disk:
        state = disk / "state"
        _saved_notes(state)
        if not photos_folder:
            (state / "photos").rmdir()
        remount(disk, "ro")
        try:
            result = _zeropin_run(tmp_path, state, what_time)
        finally:
            remount(disk, "rw")
        assert _whole(state / "zeropin.db") == NOTES
    assert result.returncode == 0, result.stderr
    assert f"said {CANNOT_SAVE['read-only']!r}" in result.stdout
    assert "read-only" in CANNOT_SAVE["read-only"]
    assert f"the database is read-only; check the permissions and mount of {state}" in (
        result.stderr
    )
    [turn] = _turns(result.stdout)
    assert turn.startswith("heard 'hey zero what time is it' -> time: \"It's "), turn


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any folder; see the mount test")
def test_a_folder_without_write_permission_starts_and_says_so(
    tmp_path: Path, what_time: Path
) -> None:
    state = tmp_path / "state"
    _saved_notes(state)
    state.chmod(0o500)
    try:
        result = _zeropin_run(tmp_path, state, what_time)
    finally:
        state.chmod(0o700)
    assert result.returncode == 0, result.stderr
    assert f"said {CANNOT_SAVE['read-only']!r}" in result.stdout
    assert str(state / "zeropin.db") in result.stderr
    assert _whole(state / "zeropin.db") == NOTES


def test_a_damaged_database_is_named_left_alone_and_the_device_starts(
    tmp_path: Path, what_time: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    garbage = np.random.default_rng(5).bytes(256 * 1024)
    (state / "zeropin.db").write_bytes(garbage)
    result = _zeropin_run(tmp_path, state, what_time)
    assert result.returncode == 0, result.stderr
    assert f"said {CANNOT_SAVE['damaged']!r}" in result.stdout
    assert "damaged" in CANNOT_SAVE["damaged"]
    assert f"{state / 'zeropin.db'} is not a ZeroPin database or is damaged; move it aside" in (
        result.stderr
    )
    [turn] = _turns(result.stdout)
    assert turn.startswith("heard 'hey zero what time is it' -> time: \"It's "), turn
    assert (state / "zeropin.db").read_bytes() == garbage


def test_outside_systemd_the_database_is_0600_and_photos_0700_whatever_the_umask(
    tmp_path: Path, what_time: Path
) -> None:
    state = tmp_path / "state"
    result = _zeropin_run(tmp_path, state, what_time, umask=0)
    assert result.returncode == 0, result.stderr
    assert "  said " not in result.stdout  # nothing wrong to say
    assert stat.S_IMODE((state / "zeropin.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "photos").stat().st_mode) == 0o700


def test_on_a_full_disk_the_notes_can_still_be_listed_and_exported(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "1m") as disk:
        state = disk / "state"
        _saved_notes(state)
        filler = fill(disk)
        listed, exported = (
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "device.cli",
                    "--config",
                    str(tmp_path / "none.toml"),
                    "--set",
                    f"device.state_dir={state}",
                    "notes",
                    *options,
                ],
                env={**os.environ, "HOME": str(tmp_path)},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )  # fmt: skip
            for options in ([], ["--export", str(tmp_path / "usb")])
        )
        filler.unlink()
        assert _whole(state / "zeropin.db") == NOTES
    assert listed.returncode == 0, listed.stderr
    assert [line.split("  ", 1)[1] for line in listed.stdout.splitlines()] == NOTES[::-1]
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "usb" / "notes.txt").read_text().count("\n") == len(NOTES)
