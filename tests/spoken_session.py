"""A recorded session for replays through the daemon: a sound check, then each line spoken by
the demo's user (espeak-ng) with a quiet room after it. Shared by the turn-timing tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.sim.demo import ROOM_NOISE_RMS, USER_VOICE
from device.speaking.tts import EspeakSynthesizer
from drivers.audio_format import RATE, write_wav

# A turn's stages after the end of speech, in the order they happen (device.storage.timings)
STAGES_IN_ORDER = ("asr_final_ms", "intent_ms", "first_token_ms", "first_audio_ms", "last_audio_ms")


def spoken_session(path: Path, *texts: str, last_pause_seconds: int = 5) -> Path:
    """A sound check, then each of ``texts`` followed by 5 s of a quiet room (the last by
    ``last_pause_seconds``: the replay ends there, and with it the audio clock)."""
    tts = EspeakSynthesizer(*USER_VOICE, volume_percent=100)
    parts = [np.zeros(RATE // 2)]
    for text in ("testing the microphone, one, two, three, four, five", *texts):
        parts += [np.frombuffer(tts.synthesize(text), "<i2").astype(np.float64), np.zeros(5 * RATE)]
    parts[-1] = np.zeros(last_pause_seconds * RATE)
    audio = np.concatenate(parts)
    audio += np.random.default_rng(4).normal(0, ROOM_NOISE_RMS, len(audio))
    write_wav(path, np.clip(audio, -32768, 32767).astype("<i2").tobytes())
    return path
