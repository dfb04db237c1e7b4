"""The one audio format on ZeroPin's bus, and conversion into it.

Every stage (wake word, VAD, ASR, TTS, speaker) exchanges 16 kHz, 16-bit signed little-endian,
mono PCM as ``bytes``. Files in any other rate or channel count are converted on the way in.
"""

from __future__ import annotations

import io
import math
import wave
from pathlib import Path

import numpy as np

RATE = 16000  # Hertz
SAMPLE_WIDTH = 2  # bytes per sample (s16le)
CHANNELS = 1
BYTES_PER_SECOND = RATE * SAMPLE_WIDTH * CHANNELS


def seconds_of(pcm: bytes) -> float:
    """Duration in seconds of bus-format PCM."""
    return len(pcm) / BYTES_PER_SECOND


def frames_for(seconds: float) -> int:
    """Number of samples in ``seconds`` of bus-format audio."""
    return int(round(seconds * RATE))


def to_bus_format(samples: np.ndarray, rate: int) -> bytes:
    """Convert int16 samples shaped (n,) or (n, channels) at ``rate`` Hz to bus-format PCM.

    Channels are averaged to mono; the rate is converted with libsoxr (high quality, fast on ARM).
    """
    if samples.ndim == 2:
        samples = samples.astype(np.float32).mean(axis=1)
    floats = samples.astype(np.float32) / 32768.0
    if rate != RATE:
        import soxr  # imported here: only file input at another rate needs it

        floats = soxr.resample(floats, rate, RATE)
    return (np.clip(floats, -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes()


CLIPPED_SHARE = 0.001  # more samples than this at full scale: the capture gain is too high


def audio_level(pcm: bytes) -> tuple[float, float]:
    """(RMS level in dBFS, share of samples at full scale) of bus PCM; silence is -inf dBFS."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if not samples.size:
        return -math.inf, 0.0
    rms = math.sqrt(float(np.mean(samples**2))) / 32768.0
    clipped = float(np.mean(np.abs(samples) >= 32767))
    return (20 * math.log10(rms) if rms > 0 else -math.inf), clipped


AUDIO_SUFFIXES = (".wav", ".flac")  # what read_audio takes


def read_audio(path: str | Path) -> bytes:
    """A .wav or .flac file of any rate and channel count as bus-format PCM.

    FLAC is read with soundfile (libsndfile); ``ValueError`` names the file when it cannot be
    read."""
    path = Path(path)
    if path.suffix.lower() != ".flac":
        return read_wav(path)
    import soundfile  # imported here: only FLAC input needs it

    try:
        samples, rate = soundfile.read(str(path), dtype="int16", always_2d=False)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise ValueError(f"{path}: not a readable FLAC file ({exc})") from exc
    return to_bus_format(samples, rate)


def wav_problem(exc: wave.Error | EOFError) -> str:
    """What the ``wave`` module's error means, in words: an EOFError has no message."""
    if isinstance(exc, EOFError):
        return "it ends before its header does: empty or cut short"
    return str(exc)


def read_wav(path: str | Path) -> bytes:
    """Read a PCM WAV file of any rate and channel count as bus-format PCM.

    Raises ``ValueError`` naming the file when it is not 8/16/32-bit integer PCM WAV.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as wav:
            rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path}: not a PCM WAV file ({wav_problem(exc)})") from exc
    if width == 2:
        samples = np.frombuffer(raw, dtype="<i2")
    elif width == 1:  # unsigned 8-bit
        samples = ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(
            np.int16
        )
    elif width == 4:
        samples = (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    else:
        raise ValueError(f"{path}: {8 * width}-bit WAV is not supported (use 16-bit PCM)")
    if channels > 1:
        samples = samples.reshape(-1, channels)
    return to_bus_format(samples, rate)


def wav_bytes(pcm: bytes) -> bytes:
    """Bus-format PCM as the bytes of a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(RATE)
        wav.writeframes(pcm)
    return out.getvalue()


def write_wav(path: str | Path, pcm: bytes) -> None:
    """Write bus-format PCM to a WAV file."""
    Path(path).write_bytes(wav_bytes(pcm))
