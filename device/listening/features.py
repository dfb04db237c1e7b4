"""Log-mel features for the wake-word model: one numpy implementation for training and the device.

The trainer (``models/wakeword/trainer``) computes its training windows with ``log_mel`` and the
detector on the device computes the same rows while streaming, so the model sees on the device
exactly what it was trained on. A model records ``FEATURES`` in its card, and the detector refuses a
model made for other features.

    rows = log_mel(samples)          # int16 or float samples at 16 kHz -> (frames, MEL_BANDS)
    window = rows[-CONTEXT_FRAMES:]  # the model's input: the last second

Frames are 30 ms long, one every 20 ms; frame ``k`` covers samples ``[k*HOP, k*HOP + WINDOW)``.
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 480  # 30 ms
HOP_SAMPLES = 320  # 20 ms
FFT_SIZE = 512
MEL_BANDS = 40
LOW_HZ = 60.0
HIGH_HZ = 7600.0
CONTEXT_FRAMES = 49  # the model looks at 49 frames: 0.99 s of audio
CONTEXT_SECONDS = ((CONTEXT_FRAMES - 1) * HOP_SAMPLES + WINDOW_SAMPLES) / SAMPLE_RATE
LOG_FLOOR = 1e-6  # added before the log, so digital silence stays finite

# What a model card records; a model trained on other features is refused.
FEATURES = {
    "kind": "log-mel",
    "sample_rate": SAMPLE_RATE,
    "window_samples": WINDOW_SAMPLES,
    "hop_samples": HOP_SAMPLES,
    "fft_size": FFT_SIZE,
    "mel_bands": MEL_BANDS,
    "low_hz": LOW_HZ,
    "high_hz": HIGH_HZ,
    "context_frames": CONTEXT_FRAMES,
}


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def _band_edges_hz() -> np.ndarray:
    """MEL_BANDS + 2 frequencies evenly spaced on the HTK mel scale: band b rises from edge b to
    its centre, edge b + 1, and falls to edge b + 2."""
    return _mel_to_hz(np.linspace(_hz_to_mel(LOW_HZ), _hz_to_mel(HIGH_HZ), MEL_BANDS + 2))


@functools.cache
def mel_filterbank() -> np.ndarray:
    """(MEL_BANDS, FFT_SIZE // 2 + 1) triangular filters, evenly spaced on the HTK mel scale."""
    edges = _band_edges_hz()
    bins = np.fft.rfftfreq(FFT_SIZE, 1.0 / SAMPLE_RATE)
    bank = np.zeros((MEL_BANDS, bins.size), dtype=np.float32)
    for band in range(MEL_BANDS):
        low, centre, high = edges[band : band + 3]
        rising = (bins - low) / (centre - low)
        falling = (high - bins) / (high - centre)
        bank[band] = np.maximum(0.0, np.minimum(rising, falling))
    return bank


def band_centres_hz() -> np.ndarray:
    """The centre frequency of each mel band, low to high."""
    return _band_edges_hz()[1:-1]


@functools.cache
def _window() -> np.ndarray:
    return np.hanning(WINDOW_SAMPLES + 1)[:-1].astype(np.float32)  # periodic Hann


def frame_count(samples: int) -> int:
    """How many whole frames ``samples`` samples hold."""
    return 0 if samples < WINDOW_SAMPLES else (samples - WINDOW_SAMPLES) // HOP_SAMPLES + 1


def log_mel(samples: np.ndarray) -> np.ndarray:
    """(frames, MEL_BANDS) float32 log-mel energies of 16 kHz audio.

    ``samples`` is int16 (as from the microphone) or float in [-1, 1]. Only whole frames are
    returned: ``frame_count(len(samples))`` rows.
    """
    audio = np.asarray(samples)
    if audio.dtype == np.int16:
        audio = audio.astype(np.float32) / 32768.0
    count = frame_count(audio.size)
    if count == 0:
        return np.zeros((0, MEL_BANDS), dtype=np.float32)
    starts = np.arange(count) * HOP_SAMPLES
    frames = audio[starts[:, None] + np.arange(WINDOW_SAMPLES)].astype(np.float32) * _window()
    power = (np.abs(np.fft.rfft(frames, n=FFT_SIZE, axis=1)) ** 2).astype(np.float32)
    # einsum, not @: a multi-threaded BLAS may sum in a different order from run to run, and a
    # last-bit difference can move a score across the threshold and the wake by one step.
    mel = np.einsum("fk,bk->fb", power, mel_filterbank(), optimize=False)
    return np.log(mel + LOG_FLOOR).astype(np.float32)
