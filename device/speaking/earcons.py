"""Short sounds that say what the device is doing, generated here rather than shipped as files.

Each earcon is bus-format PCM (16 kHz s16le mono) built from sine tones at a moderate level
(peaks about -10 dBFS, so speech at full volume stays the loudest thing), every tone with a 5 ms
raised-cosine fade in and out so nothing clicks.

Example::

    speaker.play(earcon("wake"))
"""

from __future__ import annotations

from functools import cache

import numpy as np

from drivers.audio_format import RATE

__all__ = ["EARCONS", "earcon"]

LEVEL = 0.3  # peak amplitude, fraction of full scale (about -10 dBFS)
FADE_SECONDS = 0.005

# Notes, Hertz: A5, E6 (a rising fifth reads as "listening"), C6, G6 for the chime.
A5, E6, C6, G6 = 880.0, 1318.5, 1046.5, 1568.0


def _fade(samples: np.ndarray) -> np.ndarray:
    """Apply a raised-cosine fade of FADE_SECONDS at both ends."""
    n = min(int(RATE * FADE_SECONDS), len(samples) // 2)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))
    samples = samples.copy()
    samples[:n] *= ramp
    samples[len(samples) - n :] *= ramp[::-1]
    return samples


def _time(seconds: float) -> np.ndarray:
    return np.arange(int(round(RATE * seconds))) / RATE


def _tone(hertz: float, seconds: float) -> np.ndarray:
    """A faded sine tone with peak 1.0."""
    return _fade(np.sin(2 * np.pi * hertz * _time(seconds)))


def _buzz(hertz: float, seconds: float) -> np.ndarray:
    """A faded low buzz: a fundamental with its odd harmonics (a softened square wave)."""
    t = _time(seconds)
    wave = sum(np.sin(2 * np.pi * hertz * k * t) / k for k in (1, 3, 5, 7))
    return _fade(wave / np.max(np.abs(wave)))


def _chime(seconds: float) -> np.ndarray:
    """A faded bell-like two-note chord that decays."""
    t = _time(seconds)
    wave = (np.sin(2 * np.pi * C6 * t) + 0.6 * np.sin(2 * np.pi * G6 * t)) * np.exp(-t / 0.12)
    return _fade(wave / np.max(np.abs(wave)))


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(RATE * seconds)))


def _wake() -> np.ndarray:
    return np.concatenate([_tone(A5, 0.08), _silence(0.02), _tone(E6, 0.08), _silence(0.02)])


def _done() -> np.ndarray:
    return np.concatenate([_tone(E6, 0.08), _silence(0.02), _tone(A5, 0.08), _silence(0.02)])


def _error() -> np.ndarray:
    return np.concatenate([_buzz(165.0, 0.12), _silence(0.06), _buzz(165.0, 0.12)])


def _timer() -> np.ndarray:
    # Three chimes, 0.5 s apart: long enough to notice, short enough not to annoy.
    return np.concatenate([_chime(0.5) for _ in range(3)])


EARCONS = {"wake": _wake, "done": _done, "error": _error, "timer": _timer}


@cache  # functools.lru_cache without a size limit: four small byte strings
def earcon(name: str) -> bytes:
    """Bus-format PCM of the earcon ``name``: "wake", "done", "error" or "timer".

    Raises ``ValueError`` naming the known earcons for any other name.
    """
    try:
        build = EARCONS[name]
    except KeyError:
        raise ValueError(f"no earcon {name!r}; known: {', '.join(EARCONS)}") from None
    samples = build() * LEVEL
    return (np.round(samples * 32767)).astype("<i2").tobytes()
