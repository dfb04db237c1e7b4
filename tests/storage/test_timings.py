"""The turn_timings table: one row per turn, only the newest kept, read back as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.errors import StorageError
from device.storage.database import Database, Unsaved
from device.storage.timings import KEEP_TURNS, TurnTiming, TurnTimings


def _timing(n: int, **changes: object) -> TurnTiming:
    fields: dict[str, object] = dict(
        at=1e9 + n, trigger="wake", intent="time", ended="played", wake_engine="tflite",
        asr_engine="pocketsphinx", tts_engine="espeak-ng", provider="", trigger_s=float(n),
        speech_end_s=n + 1.5, asr_final_ms=3.0, intent_ms=4.0, first_token_ms=None,
        first_audio_ms=20.0, last_audio_ms=1500.0,
    )  # fmt: skip
    return TurnTiming(**(fields | changes))  # type: ignore[arg-type]


def test_a_turn_is_read_back_as_it_was_written(tmp_path: Path) -> None:
    with Database(tmp_path / "zeropin.db") as database:
        store = TurnTimings(database)
        cloud = _timing(2, intent="brain", provider="groq", first_token_ms=412.5)
        cut = _timing(3, ended="cut off", first_audio_ms=None, last_audio_ms=None)
        for timing in (_timing(1), cloud, cut):
            store.add(timing)
        assert store.recent(2) == [cloud, cut]  # the newest, oldest first
        assert cloud.listened_ms == 1500.0
        with pytest.raises(ValueError, match="ended must be one of played, cut off, failed"):
            store.add(_timing(4, ended="done"))
        assert store.count() == 3


def test_only_the_newest_turns_are_kept(tmp_path: Path) -> None:
    # About a week of heavy use, some 150 KB; enough turns for a steady 95th percentile.
    assert KEEP_TURNS == 1000
    with Database(tmp_path / "zeropin.db") as database:
        store = TurnTimings(database, keep=5)
        for n in range(12):
            store.add(_timing(n))
        assert store.count() == 5
        assert [t.trigger_s for t in store.recent(20)] == [7, 8, 9, 10, 11]
        assert TurnTimings(database).recent(1) == [_timing(11)]


def test_a_stand_in_database_keeps_none(tmp_path: Path) -> None:
    """Nobody could read them (``zeropin turns`` is another process): refused at once, with
    the reason the file could not be written."""
    with Database(tmp_path / "zeropin.db", "memory") as database:
        database.unsaved = Unsaved("full", "the disk is full; free space on the drive")
        with pytest.raises(StorageError, match="could not keep the turn's timings: the disk"):
            TurnTimings(database).add(_timing(1))
        assert TurnTimings(database).count() == 0
