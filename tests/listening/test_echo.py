"""The echo canceller on the device's own earcon and a voice: which frames were mostly the
device's own sound (those may not start an utterance) and which a person's."""

from __future__ import annotations

import numpy as np

from device.listening.echo import EchoCancellation, EchoReference, WebrtcEchoCanceller
from device.speaking.earcons import earcon
from device.speaking.tts import EspeakSynthesizer
from drivers.audio_format import RATE

FRAME = RATE * 30 // 1000
DELAY = RATE * 40 // 1000  # the echo reaches the microphone 40 ms late


def _frames(samples: np.ndarray) -> list[bytes]:
    usable = len(samples) // FRAME * FRAME
    return [samples[i : i + FRAME].astype("<i2").tobytes() for i in range(0, usable, FRAME)]


def _mostly_echo(echo: EchoCancellation, mic: np.ndarray) -> np.ndarray:
    """Per frame of ``mic``: whether the canceller was running, and whether it found the frame
    mostly echo."""
    flags = []
    for frame in _frames(mic):
        echo.clean(frame)
        flags.append((echo.active, echo.mostly_echo))
    return np.array(flags)


def _hiss(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 30, int(seconds * RATE))


def test_the_earcons_echo_is_mostly_echo_and_a_voice_after_it_is_not() -> None:
    echo = EchoCancellation(WebrtcEchoCanceller(), EchoReference())
    tones = np.frombuffer(earcon("wake") * 5, "<i2").astype(np.float64)
    echo.reference.push(tones.astype("<i2").tobytes())
    heard = np.concatenate([np.zeros(DELAY), tones * 2.0])  # the speaker is louder than played
    flags = _mostly_echo(echo, heard + _hiss(len(heard) / RATE))
    voiced = np.abs(heard[: len(flags) * FRAME]).reshape(len(flags), FRAME).max(1) > 1000
    assert np.mean(flags[voiced, 1]) > 0.8  # the tones, once the canceller has them

    said = np.frombuffer(EspeakSynthesizer("en-us+f2", 140, 50).synthesize("stop"), "<i2")
    voice = said[np.flatnonzero(np.abs(said) > 300)[0] :].astype(np.float64)  # from its start
    flags = _mostly_echo(echo, voice[: RATE // 2] + _hiss(0.5, 1))
    loud = np.abs(voice[: len(flags) * FRAME]).reshape(len(flags), FRAME).max(1) > 3000
    during_the_tail = loud & flags[:, 0]  # the half second after the earcon
    # AEC3 damps the first 30 ms of a voice begun as the earcon ends; the rest is the voice
    assert during_the_tail.sum() >= 5 and not flags[during_the_tail, 1][1:].any()


def test_when_nothing_has_played_frames_pass_untouched_and_are_no_echo() -> None:
    echo = EchoCancellation(WebrtcEchoCanceller(), EchoReference())
    frame = _frames(_hiss(0.03) * 100)[0]
    assert echo.clean(frame) == frame
    assert not echo.mostly_echo and echo.taken_out_db == 0.0
