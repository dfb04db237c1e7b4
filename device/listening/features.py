"""The wake-word model's features: one implementation for training and the device.

The trainer (``models/wakeword/trainer``) computes its training windows with a front end and the
detector on the device computes the same rows while streaming, so the model sees on the device
exactly what it was trained on. A model records its front end's ``card`` in its card, and the
detector refuses a model made for features this version does not compute.

Two front ends give rows of MEL_BANDS features, one row every 20 ms:

- ``LOG_MEL``: plain log-mel energies (numpy, stateless). Frames are 30 ms long; row ``k`` covers
  samples ``[k*HOP, k*HOP + WINDOW)``.
- ``MICRO``: TensorFlow Lite Micro's speech front end, as microWakeWord uses it (the
  pymicro-features package): per-band noise suppression, then per-channel energy normalisation
  (PCAN), which takes out the level and the steady colour of a microphone and room. It adapts
  to what it has heard, so it streams: the trainer runs it over ``warmup_samples`` of audio
  before each window. Its 10 ms steps are averaged in pairs, so the model is the same size.

    front = front_end_for(card.features)   # or LOG_MEL / MICRO
    rows = front.rows(samples)             # int16 at 16 kHz -> (rows, MEL_BANDS), a fresh stream
    stream = front.stream(); stream.push(chunk)  # the same rows, chunk by chunk
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

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

# What a log-mel model's card records.
LOG_MEL_CARD = {
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


def _band_edges_hz(low_hz: float = LOW_HZ, high_hz: float = HIGH_HZ) -> np.ndarray:
    """MEL_BANDS + 2 frequencies evenly spaced on the HTK mel scale: band b rises from edge b to
    its centre, edge b + 1, and falls to edge b + 2."""
    return _mel_to_hz(np.linspace(_hz_to_mel(low_hz), _hz_to_mel(high_hz), MEL_BANDS + 2))


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


def band_centres_hz(low_hz: float = LOW_HZ, high_hz: float = HIGH_HZ) -> np.ndarray:
    """The centre frequency of each mel band, low to high."""
    return _band_edges_hz(low_hz, high_hz)[1:-1]


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


class FeatureStream(Protocol):
    def push(self, samples: np.ndarray) -> np.ndarray:
        """Feed int16 samples; the (n, MEL_BANDS) rows they complete."""
        ...


def _no_rows() -> np.ndarray:
    return np.zeros((0, MEL_BANDS), dtype=np.float32)


class LogMelStream:
    """``log_mel`` of a stream, chunk by chunk: the rows it gives the whole of it."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.int16)

    def push(self, samples: np.ndarray) -> np.ndarray:
        self._pending = np.concatenate((self._pending, np.asarray(samples, dtype=np.int16)))
        count = frame_count(self._pending.size)
        if count == 0:
            return _no_rows()
        rows = log_mel(self._pending[: (count - 1) * HOP_SAMPLES + WINDOW_SAMPLES])
        self._pending = self._pending[count * HOP_SAMPLES :]
        return rows


MICRO_STEP_SAMPLES = 160  # the micro front end reads 10 ms at a time: 30 ms frames, 10 ms apart
MICRO_FRAME_SAMPLES = 480
MICRO_POOLED = HOP_SAMPLES // MICRO_STEP_SAMPLES  # its steps averaged into one row
MICRO_LOW_HZ, MICRO_HIGH_HZ = 125.0, 7500.0  # its filterbank's edges


class MicroStream:
    """TFLite Micro's front end (noise suppression, PCAN, log) over a stream, in 20 ms rows."""

    def __init__(self) -> None:
        try:
            from pymicro_features import MicroFrontend
        except ImportError as exc:  # a ModelError where a model is loaded (tflite_wake)
            raise ImportError(
                "this wake-word model needs the micro front end: pip install pymicro-features"
            ) from exc
        self._frontend = MicroFrontend()
        self._pending = np.zeros(0, dtype=np.int16)
        self._odd: list[list[float]] = []  # a step waiting for its pair

    def push(self, samples: np.ndarray) -> np.ndarray:
        pending = np.concatenate((self._pending, np.asarray(samples, dtype=np.int16)))
        whole = pending.size - pending.size % MICRO_STEP_SAMPLES
        steps = self._odd
        for at in range(0, whole, MICRO_STEP_SAMPLES):
            out = self._frontend.process_samples(pending[at : at + MICRO_STEP_SAMPLES].tobytes())
            if out.features:  # none until a whole frame has been read
                steps.append(out.features)
        self._pending = pending[whole:]
        paired = len(steps) - len(steps) % MICRO_POOLED
        self._odd = steps[paired:]
        if not paired:
            return _no_rows()
        rows = np.asarray(steps[:paired], dtype=np.float32).reshape(-1, MICRO_POOLED, MEL_BANDS)
        return rows.mean(axis=1)


@dataclass(frozen=True)
class FrontEnd:
    """How audio becomes the model's rows, and what a model card records of it."""

    card: dict[str, Any]
    first_row_samples: int  # the samples behind the first row
    warmup_samples: int  # what a stateful front end should hear before a training window
    low_hz: float
    high_hz: float
    stream: Callable[[], FeatureStream]

    @property
    def kind(self) -> str:
        return str(self.card["kind"])

    def span(self, rows: int = CONTEXT_FRAMES) -> int:
        """The samples behind ``rows`` rows, from a stream's start."""
        return self.first_row_samples + (rows - 1) * HOP_SAMPLES

    def rows(self, samples: np.ndarray) -> np.ndarray:
        """(rows, MEL_BANDS) float32 features of int16 ``samples``, from a fresh stream."""
        return self.stream().push(samples)

    def band_centres_hz(self) -> np.ndarray:
        return band_centres_hz(self.low_hz, self.high_hz)


LOG_MEL = FrontEnd(LOG_MEL_CARD, WINDOW_SAMPLES, 0, LOW_HZ, HIGH_HZ, LogMelStream)
MICRO = FrontEnd(
    {
        "kind": "micro",
        "frontend": "pymicro-features 2 (TFLite Micro: noise reduction, PCAN, log)",
        "sample_rate": SAMPLE_RATE,
        "window_samples": MICRO_FRAME_SAMPLES,
        "step_samples": MICRO_STEP_SAMPLES,
        "pooled_steps": MICRO_POOLED,
        "mel_bands": MEL_BANDS,
        "low_hz": MICRO_LOW_HZ,
        "high_hz": MICRO_HIGH_HZ,
        "context_frames": CONTEXT_FRAMES,
    },
    MICRO_FRAME_SAMPLES + (MICRO_POOLED - 1) * MICRO_STEP_SAMPLES,
    SAMPLE_RATE,  # its noise estimate settles within about a second
    MICRO_LOW_HZ,
    MICRO_HIGH_HZ,
    MicroStream,
)
FRONT_ENDS = {f.kind: f for f in (LOG_MEL, MICRO)}


def front_end_for(card: dict[str, Any]) -> FrontEnd | None:
    """The front end a model card's features name, if this version computes exactly those."""
    front = FRONT_ENDS.get(str(card.get("kind")))
    return front if front is not None and front.card == card else None
