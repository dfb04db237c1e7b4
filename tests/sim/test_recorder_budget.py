"""The recorder's bench (``python -m device.sim.recorder_budget``) on a short meeting: about a
minute, through the real daemon twice (recording, and the baseline that never records). Its
figures are produced and sane; the budgets themselves are in the bench's printed figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device.sim.recorder_budget import measure, print_table
from device.storage.recorder import BY_WEARER

HOURS = 0.02  # 72 s of meeting


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return measure(HOURS, Path(tmp_path_factory.mktemp("recorder-budget")))


def test_the_wearer_recorded_the_meeting_by_voice(figures: dict[str, Any]) -> None:
    recording = figures["recording"]
    assert recording["ended_by"] == BY_WEARER
    # from "start recording" to "stop recording": the meeting and the room around it
    assert 0 <= figures["recorded_minus_meeting_s"] < 20
    assert recording["segments"] >= 2 and recording["journals_left"] == 0
    assert recording["flac_files"] == recording["segments"]
    assert 0 < recording["flac_bytes"] == recording["db_bytes"]
    # FLAC is smaller than the raw PCM it encodes
    assert 0 < figures["flac_mb_per_h"] < figures["pcm_mb_per_h"]
    assert [t.split(" -> ")[1].split(":")[0] for t in figures["turns_recording"]] == [
        "recording_start",
        "recording_stop",
    ]


def test_both_runs_are_measured(figures: dict[str, Any]) -> None:
    for run in ("recording", "baseline"):
        assert figures[f"cpu_s_{run}"] > 0
        assert figures[f"cpu_per_audio_s_{run}"] > 0
        assert figures[f"peak_rss_mb_{run}"] > 20
        memory = figures[f"memory_{run}"]
        assert memory["rss_samples"] > 0
        # the sampled RSS follows the audio: at 10, 50 and 90 % of it, under the kernel's peak
        # (within 1 MB: the kernel updates its high-water mark lazily, and a sample was once
        # 0.1 MB over it)
        for at in ("rss_at_10pct_mb", "rss_at_50pct_mb", "rss_at_90pct_mb"):
            assert 20 < memory[at] <= figures[f"peak_rss_mb_{run}"] + 1.0
    assert figures["alone_cpu_s"] > 0


def test_the_table_prints(figures: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    print_table(figures)
    printed = capsys.readouterr().out
    assert "% of one core" in printed and "MB per hour recorded" in printed
