"""`zeropin run --lockstep`: a recording replayed as fast as the machine can, replies to files.

The daemon runs as a user would start it (``python -m device.cli run --sim``), with its own HOME
and state directory, on espeak-ng speech in a quiet room followed by a long silence.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np

from device.daemon import LISTENING_CPU_PREFIX
from device.sim.demo import ROOM_NOISE_RMS, USER_VOICE
from device.speaking.tts import EspeakSynthesizer
from drivers.audio_format import write_wav

RATE = 16000


def _recording(path: Path, quiet_after_seconds: float) -> float:
    """A sound check, a wake phrase with a command, then quiet; returns the seconds of audio."""
    tts = EspeakSynthesizer(*USER_VOICE, volume_percent=100)

    def say(text: str) -> np.ndarray:
        return np.frombuffer(tts.synthesize(text), "<i2").astype(np.float64)

    audio = np.concatenate(
        [
            np.zeros(RATE // 2),
            say("testing the microphone, one, two, three, four, five"),
            np.zeros(int(RATE * 1.5)),
            say("hey zero, what time is it"),
            np.zeros(int(RATE * quiet_after_seconds)),
        ]
    )
    audio += np.random.default_rng(1).normal(0, ROOM_NOISE_RMS, len(audio))
    write_wav(path, np.clip(audio, -32768, 32767).astype("<i2").tobytes())
    return len(audio) / RATE


def _zeropin_run(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "device.cli", "--config", str(tmp_path / "none.toml"),
         "--set", f"device.state_dir={tmp_path / 'state'}", "--set", "camera.backend=none",
         "run", "--sim", *options],
        env={**os.environ, "HOME": str(tmp_path)},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_recording_is_replayed_much_faster_than_it_lasts(tmp_path: Path) -> None:
    mic = tmp_path / "mic.wav"
    audio_seconds = _recording(mic, quiet_after_seconds=50)
    started = time.monotonic()
    result = _zeropin_run(
        tmp_path, "--mic", str(mic), "--speaker-file", str(tmp_path / "out"), "--lockstep"
    )
    wall_seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "heard 'hey zero what time is it' -> time" in result.stdout, result.stdout
    [reply] = (tmp_path / "out").glob("*-hey-zero-what-time-is-it.wav")
    with wave.open(str(reply)) as wav:
        assert wav.getnframes() > RATE // 2  # "It's 1:28 PM." is over a second long
    # About 5 s here for 60 s of audio, start-up included; real time would take the full minute.
    assert wall_seconds < audio_seconds / 4, (wall_seconds, audio_seconds)
    # The replay ends with the listener's CPU, for the bench: every stage that ran is counted.
    [line] = [x for x in result.stdout.splitlines() if x.startswith(LISTENING_CPU_PREFIX)]
    cpu = json.loads(line[len(LISTENING_CPU_PREFIX) :])
    assert cpu["audio_s"] == round(audio_seconds, 1)
    assert 0 < cpu["asr_audio_s"] < 10  # one question, with its pre-roll
    assert cpu["wake_cpu_per_audio_s"] > 0 and cpu["asr_cpu_per_audio_s"] > 0


def test_lockstep_needs_a_recording_and_a_speaker_folder(tmp_path: Path) -> None:
    mic = tmp_path / "mic.wav"
    write_wav(mic, b"\0\0" * RATE)
    for options in (["--lockstep"], ["--mic", str(mic), "--lockstep"]):
        result = _zeropin_run(tmp_path, *options)
        assert result.returncode == 2
        assert "--lockstep" in result.stderr and "--speaker-file DIR" in result.stderr
