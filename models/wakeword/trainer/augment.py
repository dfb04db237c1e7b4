"""Make clean synthetic speech sound like a cheap wearable in a real room.

``Augmenter.speed`` changes a clip's speed and pitch. ``Augmenter.apply`` draws: a room echo, a
small speaker/mic band (high-pass and low-pass), a level from whisper-quiet to hot, and background
noise (white, pink, brown, mains hum or babble made from other speech) at a random signal-to-noise
ratio. All of it is numpy, scipy and soxr, seeded.
"""

from __future__ import annotations

import numpy as np
import soxr
from scipy import signal

RATE = 16000


def to_float(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / 32768.0


def to_int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)) + 1e-9)


def active_rms(audio: np.ndarray) -> float:
    """RMS over the 20 ms blocks within 30 dB of the loudest: the speech, not the pauses."""
    blocks = audio[: audio.size // 320 * 320].astype(np.float64).reshape(-1, 320)
    if blocks.size == 0:
        return rms(audio)
    energy = np.mean(blocks**2, axis=1)
    return float(np.sqrt(np.mean(energy[energy > energy.max() * 1e-3])) + 1e-9)


def coloured_noise(rng: np.random.Generator, n: int, colour: str) -> np.ndarray:
    """Unit-RMS noise: ``white``, ``pink`` (1/f) or ``brown`` (1/f^2)."""
    white = rng.standard_normal(n)
    if colour == "white":
        return (white / rms(white)).astype(np.float32)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    freqs[0] = freqs[1]
    spectrum /= np.sqrt(freqs) if colour == "pink" else freqs
    noise = np.fft.irfft(spectrum, n)
    return (noise / rms(noise)).astype(np.float32)


def hum(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mains hum with harmonics, plus a little hiss: fans, chargers, a hall's lights."""
    t = np.arange(n) / RATE
    base = rng.choice([50.0, 60.0])
    tone = sum(np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 6))
    tone = tone + 0.1 * rng.standard_normal(n)
    return (tone / rms(tone)).astype(np.float32)


def room_echo(rng: np.random.Generator, rt60: float) -> np.ndarray:
    """A synthetic room impulse response: a direct sound, then noise decaying by 60 dB in rt60."""
    n = int(rt60 * RATE)
    t = np.arange(n) / RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * 0.3
    tail[: int(0.002 * RATE)] = 0.0  # first reflections arrive after about 2 ms
    tail[0] = 1.0
    return (tail / np.sqrt(np.sum(tail**2))).astype(np.float32)


class Augmenter:
    """Random, seeded degradations of 16 kHz float audio; ``babble`` is a pool of other speech."""

    def __init__(self, seed: int, babble: list[np.ndarray] | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.babble = babble or []

    def noise(self, n: int) -> np.ndarray:
        kinds = ["white", "pink", "brown", "hum"] + (["babble"] * 3 if self.babble else [])
        kind = self.rng.choice(kinds)
        if kind == "hum":
            return hum(self.rng, n)
        if kind != "babble":
            return coloured_noise(self.rng, n, kind)
        mix = np.zeros(n, dtype=np.float32)
        for _ in range(self.rng.integers(2, 6)):
            talk = self.babble[self.rng.integers(len(self.babble))]
            if talk.size == 0:
                continue
            reps = int(np.ceil(n / talk.size)) + 1
            start = self.rng.integers(talk.size)
            mix += np.tile(talk, reps)[start : start + n] * self.rng.uniform(0.3, 1.0)
        return (
            (mix / rms(mix)).astype(np.float32)
            if rms(mix) > 1e-6
            else coloured_noise(self.rng, n, "pink")
        )

    def speed(self, audio: np.ndarray, low: float = 0.85, high: float = 1.2) -> np.ndarray:
        """Played faster or slower, most of the time: pitch, formants and tempo move together, so
        a few synthetic voices stand in for many more throats."""
        if self.rng.random() < 0.3:
            return audio
        factor = self.rng.uniform(low, high)
        return soxr.resample(audio, RATE * factor, RATE).astype(np.float32)

    def apply(
        self, audio: np.ndarray, clean_share: float = 0.15, snr_db: float | None = None
    ) -> np.ndarray:
        """``audio`` degraded at random; ``clean_share`` of calls only change the level.

        ``snr_db`` fixes the noise level instead of drawing it (``math.inf``: no noise at all).
        """
        rng = self.rng
        out = audio.astype(np.float32)
        if snr_db is not None or rng.random() >= clean_share:
            if rng.random() < 0.5:
                wet = signal.fftconvolve(out, room_echo(rng, rng.uniform(0.15, 0.8)))[: out.size]
                out = wet.astype(np.float32)
            if rng.random() < 0.6:
                low = rng.uniform(80, 400)
                high = rng.uniform(3000, 7500)
                sos = signal.butter(4, [low, high], btype="bandpass", fs=RATE, output="sos")
                out = signal.sosfilt(sos, out).astype(np.float32)
            snr = rng.uniform(0, 30) if snr_db is None else snr_db
            if np.isfinite(snr):
                out = out + self.noise(out.size) * active_rms(out) / (10 ** (snr / 20))
        peak_db = rng.uniform(-40, -3)  # from far and quiet to close and loud
        peak = float(np.max(np.abs(out))) + 1e-9
        return (out * (10 ** (peak_db / 20)) / peak).astype(np.float32)

    def background(self, n: int) -> np.ndarray:
        """Noise alone at a random level: what the microphone hears when nobody talks to it."""
        level_db = self.rng.uniform(-70, -25)
        return (self.noise(n) * 10 ** (level_db / 20)).astype(np.float32)
