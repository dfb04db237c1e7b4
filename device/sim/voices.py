"""Speakers for measuring recognition: espeak-ng voices and variants, and flite's when installed.

A voice is named like espeak-ng's (``en-gb-scotland+m4``) or ``flite:NAME``; each speaks at a
rate in words per minute. Speech comes out in bus format (16 kHz mono int16) at a fixed level,
and ``with_noise`` adds pink noise at a signal-to-noise ratio measured on the speech.

    say = Speaker(Voice("en-029+f4", 160))
    pcm = with_noise(say("what time is it"), snr_db=10, rng=np.random.default_rng(0))
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.errors import TtsError
from device.speaking.tts import EspeakSynthesizer
from drivers.audio_format import RATE, read_wav

SPEECH_DBFS = -26.0  # RMS of the speech as the microphone delivers it, about a metre away
FLITE_VOICES = ("awb", "kal16", "rms", "slt")  # kal and kal16 are one speaker


@dataclass(frozen=True)
class Voice:
    name: str  # espeak-ng voice[+variant], or flite:NAME
    rate_wpm: int = 150
    pitch: int = 50  # espeak-ng's 0..99; flite voices keep their own

    def __str__(self) -> str:
        return f"{self.name}@{self.rate_wpm}"


def flite_installed() -> bool:
    return shutil.which("flite") is not None


class Speaker:
    """Says text in one voice; bus-format PCM at ``SPEECH_DBFS``."""

    def __init__(self, voice: Voice) -> None:
        self.voice = voice
        self._espeak = (
            None
            if voice.name.startswith("flite:")
            else EspeakSynthesizer(voice.name, voice.rate_wpm, voice.pitch, volume_percent=100)
        )

    def __call__(self, text: str) -> np.ndarray:
        if self._espeak is not None:
            pcm = self._espeak.synthesize(text)
        else:
            pcm = _flite(self.voice.name.split(":", 1)[1], self.voice.rate_wpm, text)
        return at_level(np.frombuffer(pcm, dtype="<i2"), SPEECH_DBFS)


def _flite(name: str, rate_wpm: int, text: str) -> bytes:
    stretch = 175 / rate_wpm  # espeak-ng's default rate is flite's too, near enough
    with tempfile.TemporaryDirectory(prefix="zeropin-flite-") as scratch:
        out = Path(scratch) / "say.wav"
        command = ["flite", "-voice", name, "--setf", f"duration_stretch={stretch:.3f}"]
        try:
            subprocess.run(
                [*command, "-t", text, "-o", str(out)], capture_output=True, check=True, timeout=60
            )
            return read_wav(out)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            raise TtsError(f"flite could not say {text!r} in {name}: {exc}") from exc


def _active_rms(samples: np.ndarray) -> float:
    """RMS over the 30 ms frames within 30 dB of the loudest: speech, not the pauses in it."""
    floats = samples.astype(np.float64)
    n = len(floats) // 480 * 480
    if n == 0:
        return float(np.sqrt(np.mean(floats**2))) if len(floats) else 0.0
    energy = np.mean(floats[:n].reshape(-1, 480) ** 2, axis=1)
    loud = energy[energy >= energy.max() / 1000]
    return float(np.sqrt(np.mean(loud)))


def at_level(samples: np.ndarray, dbfs: float) -> np.ndarray:
    """``samples`` scaled so their speech is at ``dbfs`` RMS."""
    rms = _active_rms(samples)
    if rms == 0:
        return samples.astype(np.int16)
    gain = 32768 * 10 ** (dbfs / 20) / rms
    return np.clip(samples * gain, -32768, 32767).astype(np.int16)


def pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS noise falling 3 dB an octave, like a room's hum and fans more than a hiss."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, n)
    return noise / (np.sqrt(np.mean(noise**2)) or 1.0)


def noise_level(snr_db: float) -> float:
    """The noise RMS, as a sample value, that puts speech at ``SPEECH_DBFS`` ``snr_db`` above."""
    if math.isinf(snr_db):
        return 3.0  # a quiet microphone's own hiss
    return 32768 * 10 ** ((SPEECH_DBFS - snr_db) / 20)


def room(rng: np.random.Generator, seconds: float, snr_db: float) -> np.ndarray:
    """``seconds`` of the room's noise alone."""
    n = int(RATE * seconds)
    return np.clip(pink_noise(rng, n) * noise_level(snr_db), -32768, 32767).astype(np.int16)


def with_noise(speech: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``speech`` (at ``SPEECH_DBFS``) in the room's noise at ``snr_db``."""
    noise = pink_noise(rng, len(speech)) * noise_level(snr_db)
    return np.clip(speech.astype(np.float64) + noise, -32768, 32767).astype(np.int16)


def check_voice(voice: Voice) -> None:
    """TtsError when ``voice`` cannot speak here."""
    Speaker(voice)("test")
