"""Echo cancellation: the microphone with the device's own voice taken out.

While a reply plays, the microphone hears the speaker (on a wearable, often louder than the
wearer). To hear "stop" or the wake word over it without ever hearing itself, the listener
subtracts an estimate of the echo, made from what the speaker was given (the reference).

    reference = EchoReference()
    # what the Playback hands the speaker becomes the reference
    speaker = TappedSpeaker(speaker, reference.push, reference.clear)
    echo = EchoCancellation(WebrtcEchoCanceller(), reference)
    clean = echo.clean(frame)  # per 30 ms microphone frame

The reference is taken out at the microphone's pace, one frame per frame, so it stays in step
with the echo whether the speaker is a sound card (which takes audio as fast as it plays it) or
a WAV file in a simulation. What is left of the alignment (the sound card's buffer, the air)
is the canceller's to find: WebRTC's AEC3 estimates the delay itself, up to a few hundred ms.

The canceller only runs while the speaker has played in the last ``ACTIVE_SECONDS``; otherwise
the frame is passed through untouched, so idle listening costs nothing here.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Protocol

import numpy as np

from device.listening.frames import frame_rms
from device.listening.stop import PocketsphinxStopSpotter, StopSpotter
from drivers.audio_format import BYTES_PER_SECOND
from drivers.speaker import Speaker, TappedSpeaker

log = logging.getLogger(__name__)

# How long after the last sound the canceller keeps running: the echo's tail (the room, the
# sound card's buffer) and the canceller's own delay estimate; longer only costs CPU.
ACTIVE_SECONDS = 0.5
# A frame the canceller took more than this out of was mostly the device's own sound: in the
# simulator's echo path (+6 dB) the wake earcon comes out 30-50 dB quieter, a voice begun after
# it (in the half second its echo may last) 0-16 dB. A voice begun while the earcon plays is
# silenced with it: AEC3 takes it for echo.
MOSTLY_ECHO_DB = 20.0
WARM_UP_SAMPLES = 16000  # one second: see WebrtcEchoCanceller


class EchoCanceller(Protocol):
    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        """The microphone ``near`` (int16) with the echo of the reference ``far`` removed."""
        ...


class WebrtcEchoCanceller:
    """WebRTC's AEC3 (through pywebrtc-audio): linear filter, delay estimator and a residual
    echo suppressor. Chosen over speexdsp's filter: on espeak replies it cancels from the first
    second (speex needed seconds to converge and let through "stop"s of its own), and its
    suppressor keeps the device's voice from ever spotting itself."""

    name = "webrtc-aec3"

    def __init__(self) -> None:
        from pywebrtc_audio import EchoCanceller as Aec3

        self._aec = Aec3(sample_rate=16000, num_channels=1, stream_delay_ms=0)
        # Started cold, AEC3 fades its output in over its first ~0.3 s: at the first earcon that
        # ramp on the room's noise looked like speech starting to the endpointer. A second of
        # quiet noise with nothing played settles it (about 10 ms of CPU, once).
        hiss = np.random.default_rng(0).normal(0, 30, WARM_UP_SAMPLES).astype(np.int16)
        self._aec.process(hiss, np.zeros_like(hiss))

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        result: np.ndarray = self._aec.process(near, far)
        return result


class EchoReference:
    """What the speaker has been given and the microphone has not yet been matched with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # played from the playback's thread, taken by the listener
        self._queued = bytearray()

    def push(self, pcm: bytes) -> None:
        with self._lock:
            self._queued += pcm

    def take(self, nbytes: int) -> bytes:
        """The next ``nbytes`` of reference, silence where the speaker had nothing."""
        with self._lock:
            pcm = bytes(self._queued[:nbytes])
            del self._queued[:nbytes]
        return pcm.ljust(nbytes, b"\x00")

    def clear(self) -> None:
        """The speaker dropped what it had not played (barge-in)."""
        with self._lock:
            self._queued.clear()


class EchoCancellation:
    """A canceller fed frame by frame with the microphone and the reference, and its CPU."""

    def __init__(self, canceller: EchoCanceller, reference: EchoReference) -> None:
        self.canceller = canceller
        self.reference = reference
        self.cpu_seconds = 0.0  # spent cancelling
        self.audio_seconds = 0.0  # of audio cancelled
        self._quiet_bytes = 10**9  # reference silence since the speaker last played
        self.taken_out_db = 0.0  # how much quieter the last frame came out than it went in

    def tap(self, speaker: Speaker) -> TappedSpeaker:
        """``speaker``, also handing what it plays to this canceller as its reference."""
        return TappedSpeaker(speaker, self.reference.push, self.reference.clear)

    @property
    def active(self) -> bool:
        """Whether the speaker has played recently enough that its echo may be in the air."""
        return self._quiet_bytes < ACTIVE_SECONDS * BYTES_PER_SECOND

    @property
    def mostly_echo(self) -> bool:
        """Whether the last frame was mostly the device's own sound: the canceller took more
        than ``MOSTLY_ECHO_DB`` out of it. What is left of it may still look like speech."""
        return self.active and self.taken_out_db > MOSTLY_ECHO_DB

    def skip(self, frame: bytes) -> bytes:
        """``frame`` as it is, the reference kept in step with it."""
        self._take_reference(len(frame))
        self.taken_out_db = 0.0
        return frame

    def clean(self, frame: bytes) -> bytes:
        """``frame`` with the echo of what the speaker played taken out (as is when idle)."""
        far = self._take_reference(len(frame))
        self.taken_out_db = 0.0
        if not self.active:
            return frame
        started = time.thread_time()
        near = np.frombuffer(frame, "<i2")
        out = self.canceller.process(near, np.frombuffer(far, "<i2")).astype("<i2").tobytes()
        self.taken_out_db = 20 * math.log10((frame_rms(frame) + 1) / (frame_rms(out) + 1))
        self.cpu_seconds += time.thread_time() - started
        self.audio_seconds += len(frame) / BYTES_PER_SECOND
        return out

    def _take_reference(self, nbytes: int) -> bytes:
        far = self.reference.take(nbytes)
        if far.count(0) == len(far):
            self._quiet_bytes += len(far)
        else:
            self._quiet_bytes = 0
        return far


def barge_in(stop_word: bool = True) -> tuple[EchoCancellation | None, StopSpotter | None]:
    """WebRTC's canceller over a new reference, and the stop-word spotter to use after it (none
    without ``stop_word``: the wake word alone is listened for); (None, None), logged, when
    pywebrtc-audio is missing: the device must then not listen over its own replies (the button
    still stops them)."""
    try:
        canceller = WebrtcEchoCanceller()
    except ImportError as exc:
        log.warning("no echo cancellation (%s): 'stop' over a reply is not heard", exc)
        return None, None
    spotter = PocketsphinxStopSpotter() if stop_word else None
    return EchoCancellation(canceller, EchoReference()), spotter
