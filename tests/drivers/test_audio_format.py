"""Recordings in other formats come onto the bus as 16 kHz mono s16le."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from drivers.audio_format import RATE, read_audio
from drivers.mic import FileMicrophone


def _tone(rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def test_a_flac_at_another_rate_in_stereo_becomes_bus_audio(tmp_path: Path):
    path = tmp_path / "talk.flac"
    left = _tone(8000, 1.5)
    soundfile.write(path, np.stack([left, left], axis=1), 8000, subtype="PCM_16")
    samples = np.frombuffer(read_audio(path), dtype="<i2")
    assert abs(samples.size - int(1.5 * RATE)) <= 2  # resampled 8 kHz -> 16 kHz
    # the tone survives: its level is that of a 0.5 sine (RMS 0.354 of full scale)
    assert np.sqrt(np.mean((samples[2000:-2000] / 32768.0) ** 2)) == pytest.approx(0.354, abs=0.01)
    with FileMicrophone(path, 1600) as mic:  # a file microphone takes FLAC too
        assert len(mic.read()) == 3200


def test_a_broken_flac_is_a_clear_error_naming_the_file(tmp_path: Path):
    path = tmp_path / "broken.flac"
    path.write_bytes(b"fLaC not really")
    with pytest.raises(ValueError, match=f"^{path}: not a readable FLAC file"):
        read_audio(path)
