"""``zeropin turns`` over a session the daemon replayed as a user runs it.

``zeropin run --sim --lockstep`` replays espeak-ng speech; the cloud question goes to the
loopback OpenAI-compatible server, named as a provider in the config file; ``zeropin turns``
then reads the same state directory, as JSON and as a table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

from spoken_session import STAGES_IN_ORDER, spoken_session

from device.sim.loopback.server import LoopbackLLM
from device.storage.timings import percentile

FIRST_TOKEN_SECONDS = 0.3  # the loopback model's wait before its first words


def _zeropin(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "device.cli", "--config", str(tmp_path / "zeropin.toml"),
         "--set", f"device.state_dir={tmp_path / 'state'}", "--set", "camera.backend=none",
         *arguments],
        env={**os.environ, "HOME": str(tmp_path)},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def _in_order(turn: dict[str, Any]) -> None:
    """Each stage no earlier than the one before, in the clock each is read on."""
    assert turn["trigger_s"] <= turn["speech_end_s"], turn
    reached = [turn[stage] for stage in STAGES_IN_ORDER if turn[stage] is not None]
    assert reached[0] >= 0, turn
    assert reached == sorted(reached), turn


def _seconds(wav: Path) -> float:
    with wave.open(str(wav)) as file:
        return file.getnframes() / file.getframerate()


def test_zeropin_turns_times_each_stage_of_a_replayed_session(tmp_path: Path) -> None:
    mic = spoken_session(
        tmp_path / "mic.wav",
        "hey zero, what time is it",
        "hey zero, set the volume to fifty percent",
        "hey zero, why is the sky blue",
        last_pause_seconds=20,  # the loopback model's answer takes 14 s to say
    )
    empty = _zeropin(tmp_path, "turns")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout == (
        f"no turns recorded yet in {tmp_path / 'state' / 'zeropin.db'}: one is kept for each "
        "turn the daemon answers\n"
    )
    refused = _zeropin(tmp_path, "turns", "--last", "0")
    assert (refused.returncode, refused.stderr) == (
        2, "zeropin turns: --last must be 1 or more, not 0\n"
    )  # fmt: skip
    with LoopbackLLM(first_token_seconds=FIRST_TOKEN_SECONDS) as server:
        (tmp_path / "zeropin.toml").write_text(
            f'[llm]\nchain = ["homelab"]\n[providers.homelab]\nbase_url = "{server.base_url}"\n'
            'model = "loopback-chat"\n'
        )
        run = _zeropin(tmp_path, "run", "--sim", "--mic", str(mic), "--lockstep",
                       "--speaker-file", str(tmp_path / "out"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "turn timings not kept" not in run.stderr
    listed = _zeropin(tmp_path, "turns", "--json")
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    turns = report["turns"]
    assert [t["intent"] for t in turns] == ["time", "volume_set", "brain"], run.stdout
    for turn in turns:
        _in_order(turn)
        assert (turn["trigger"], turn["ended"], turn["wake_engine"]) == ("wake", "played", "tflite")
        assert (turn["asr_engine"], turn["tts_engine"]) == ("pocketsphinx", "espeak-ng")
    *local, cloud = turns
    assert all(t["provider"] == "" and t["first_token_ms"] is None for t in local)
    assert cloud["provider"] == "homelab"
    # The request goes out after the intent is decided; the model waits before its first words.
    assert cloud["first_token_ms"] - cloud["intent_ms"] >= FIRST_TOKEN_SECONDS * 1000
    # In lockstep the speaker plays by audio time: from first to last audio is the reply's
    # length, to one 30 ms frame.
    replies = sorted((tmp_path / "out").glob("*-hey-zero-*.wav"))
    assert len(replies) == 3, replies
    for turn, reply in zip(turns, replies, strict=True):
        played_ms = turn["last_audio_ms"] - turn["first_audio_ms"]
        assert abs(played_ms - _seconds(reply) * 1000) <= 30, (turn, reply)
    assert report["percentiles"] == "nearest-rank"
    assert report["stages"]["first_token_ms"]["turns"] == 1
    assert report["stages"]["first_audio_ms"] == {
        "turns": 3,
        "median_ms": round(sorted(t["first_audio_ms"] for t in turns)[1], 1),
        "p95_ms": round(max(t["first_audio_ms"] for t in turns), 1),
    }
    table = _zeropin(tmp_path, "turns", "--last", "2")
    assert table.returncode == 0, table.stderr
    print(f"\n{table.stdout}")
    lines = table.stdout.splitlines()
    assert [line.split()[2] for line in lines[2:4]] == ["volume_set", "brain"]
    assert lines[3].endswith("tflite > pocketsphinx > espeak-ng > homelab")
    assert "over these 2 turns, nearest-rank" in lines[5]
    [token] = [line for line in lines if line.strip().startswith("first cloud token")]
    count, median, p95 = token.split()[3:]
    assert count == "1" and median == p95  # one cloud turn: it is its own median and p95
    assert abs(int(median) - cloud["first_token_ms"]) <= 1


def test_nearest_rank_percentiles_are_turns_that_happened() -> None:
    assert percentile([5.0], 50) == percentile([5.0], 95) == 5.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0  # the lower middle
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95)) == (50.0, 95.0)
    assert percentile(values[:19], 95) == 19.0  # ceil(0.95 * 19) = 19: the slowest
