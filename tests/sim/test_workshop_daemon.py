"""A workshop kit through the daemon: ``zeropin run --sim --lockstep`` on espeak-ng speech, its
cloud a loopback OpenAI-compatible gateway, under ``[llm] max_requests_per_day = 1``; the budget
outlives a restart, and ``zeropin workshop reset`` forgets the visitor but not the day's budget."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spoken_session import spoken_session

from device.cloud.spoken import BUDGET_DAY
from device.sim.loopback.server import LoopbackLLM

SHORT_ANSWER = "Because air scatters blue light the most."


def _zeropin(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "device.cli", "--config", str(tmp_path / "zeropin.toml"),
         "--set", f"device.state_dir={tmp_path / 'state'}", "--set", "camera.backend=none",
         *arguments],
        env={**os.environ, "HOME": str(tmp_path)}, cwd=Path(__file__).parents[2],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def _replay(tmp_path: Path, mic: Path, out: str) -> str:
    run = _zeropin(tmp_path, "run", "--sim", "--mic", str(mic), "--lockstep",
                   "--speaker-file", str(tmp_path / out))  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stdout


def _brain_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.strip().startswith("heard ") and
            "-> brain:" in line]  # fmt: skip


def _chats(server: LoopbackLLM) -> int:
    return sum(request.path == "/v1/chat/completions" for request in server.requests)


def _uploads(server: LoopbackLLM) -> int:
    return sum(request.path == "/v1/audio/transcriptions" for request in server.requests)


def test_the_days_budget_is_spoken_and_kept_over_a_restart_and_a_reset_between_visitors(
    tmp_path: Path,
) -> None:
    two = spoken_session(
        tmp_path / "two.wav",
        "hey zero, why is the sky blue",
        "hey zero, why is the sky blue",
        "hey zero, what time is it",
    )
    one = spoken_session(tmp_path / "one.wav", "hey zero, why is the sky blue")
    with LoopbackLLM() as server:
        server.reply_text = SHORT_ANSWER
        server.transcript = "why is the sky blue"
        (tmp_path / "zeropin.toml").write_text(
            '[llm]\nchain = ["gateway"]\nmax_requests_per_day = 1\n\n'
            f'[providers.gateway]\nbase_url = "{server.base_url}"\nmodel = "loopback-chat"\n'
            'transcription_model = "whisper-1"\n'
        )
        first = _replay(tmp_path, two, "first")
        answered, refused = _brain_lines(first)
        assert SHORT_ANSWER in answered
        assert refused.endswith(f": {BUDGET_DAY!r}")
        assert "-> time:" in first  # local commands still work
        assert _chats(server) == 1  # the second question never left the device
        assert _uploads(server) == 1  # not even as audio to be transcribed

        restarted = _replay(tmp_path, one, "restarted")
        [again] = _brain_lines(restarted)
        assert again.endswith(f": {BUDGET_DAY!r}")  # a restart is no new day
        assert (_chats(server), _uploads(server)) == (1, 1)

        reset = _zeropin(tmp_path, "workshop", "reset", "--yes")
        assert reset.returncode == 0, reset.stderr
        assert "conversation turn" in reset.stdout and "turn timing" in reset.stdout
        assert "the budget counts" in reset.stdout  # kept

        next_visitor = _replay(tmp_path, one, "next")
        [refused_again] = _brain_lines(next_visitor)
        assert refused_again.endswith(f": {BUDGET_DAY!r}")  # the day's budget is the teacher's
        assert _chats(server) == 1
