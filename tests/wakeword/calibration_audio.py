"""Recordings for calibration tests: a room (noise, talk) and then the phrase said again and
again by espeak-ng, as a wearer would make with ``--from FILE``."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from device.speaking.tts import EspeakSynthesizer
from drivers.audio_format import RATE, write_wav

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "wakeword" / "hey_zero.tflite"
TAKE_VOICES = ("en-us+f2", "en+f3")  # voices the shipped model hears well


@functools.cache
def _said(text: str, voice: str) -> np.ndarray:
    """espeak-ng's speech, silent head and tail cut, peak at full scale."""
    pcm = EspeakSynthesizer(voice, 165, 50, volume_percent=100).synthesize(text)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    loud = np.flatnonzero(np.abs(samples) > 300)
    samples = samples[loud[0] : loud[-1] + 1]
    return samples / np.abs(samples).max()


def said(text: str, voice: str, peak_dbfs: float) -> np.ndarray:
    return _said(text, voice) * 32767 * 10 ** (peak_dbfs / 20)


def noise(seconds: float, dbfs: float, seed: int) -> np.ndarray:
    sd = 32768 * 10 ** (dbfs / 20)
    return np.random.default_rng(seed).normal(0, sd, int(seconds * RATE))


def room(
    seconds: float, *, noise_dbfs: float = -50.0, talk: Sequence[tuple[str, str]] = ()
) -> np.ndarray:
    """Noise, with the ``talk`` ((text, voice) pairs) at -12 dBFS peak, one every 6 s or so."""
    audio = noise(seconds, noise_dbfs, 1)
    at = 3 * RATE
    for index in range(len(talk) * 100):
        text, voice = talk[index % len(talk)]
        speech = said(text, voice, -12.0)
        if at + speech.size > audio.size - 2 * RATE:
            break
        audio[at : at + speech.size] += speech
        at += speech.size + 4 * RATE
    return audio


def takes(count: int, *, noise_dbfs: float = -50.0, peak_dbfs: float = -6.0) -> np.ndarray:
    """The phrase ``count`` times, 1.5 s of the room before each and 2 s after the last."""
    parts = []
    for index in range(count):
        parts += [noise(1.5, noise_dbfs, 10 + index)]
        parts += [said("hey zero", TAKE_VOICES[index % len(TAKE_VOICES)], peak_dbfs)]
    return np.concatenate([*parts, noise(2.0, noise_dbfs, 99)])


def recording(path: Path, *parts: np.ndarray) -> Path:
    """``parts`` one after another as a 16 kHz WAV file."""
    audio = np.clip(np.concatenate(parts), -32768, 32767).astype("<i2")
    write_wav(path, audio.tobytes())
    return path
