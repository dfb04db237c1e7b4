"""A simulated room between the speaker and the microphone: what the speaker plays comes back.

On a wearable the loudspeaker sits a few centimetres from the microphone, so the device hears
its own replies, often louder than the wearer. ``EchoPath`` gives the simulator that: everything
played through its speaker reaches its microphone ``delay_ms`` later and ``gain_db`` louder
(negative: quieter), mixed with the recording the microphone replays.

The speaker plays at the microphone's pace: audio handed to the speaker is queued and taken out
as the microphone delivers the same amount, so a reply written all at once to a WAV speaker is
heard over as much microphone time as it lasts. The microphone reads 30 ms at a time, so in a
lockstep run (``device.loop.pacing``) what the speaker played after one frame is in the next
frame's echo, ``delay_ms`` on. Example::

    from drivers.echo_path import EchoPath
    from drivers.mic import FileMicrophone
    from drivers.speaker import WavSpeaker

    path = EchoPath(delay_ms=40, gain_db=-6)
    mic = path.microphone(FileMicrophone("user.wav", 480))
    speaker = path.speaker(WavSpeaker("out"))
    # ... run the voice loop on mic and speaker; path.aborted_at_seconds lists each barge-in
"""

from __future__ import annotations

import threading

import numpy as np

from drivers.audio_format import BYTES_PER_SECOND, RATE, SAMPLE_WIDTH
from drivers.base import Driver
from drivers.mic import Microphone
from drivers.speaker import Speaker, TappedSpeaker

FRAME_SAMPLES = RATE * 30 // 1000  # the microphone's chunk: one frame of the voice loop


def parse_echo(text: str) -> tuple[float, float]:
    """``"DELAY_MS:GAIN_DB"`` (e.g. ``"40:-6"``) as (delay ms, gain dB); ValueError if not."""
    delay, sep, gain = text.partition(":")
    try:
        values = float(delay), float(gain)
    except ValueError:
        values = (-1.0, 0.0)
    if not sep or not 0 <= values[0] <= 1000 or not -60 <= values[1] <= 20:
        raise ValueError(
            f"echo {text!r}: give DELAY_MS:GAIN_DB, the delay 0 to 1000 ms and the gain "
            "-60 to 20 dB, e.g. 40:-6"
        )
    return values


class EchoPath:
    """The acoustic path from a simulated speaker back to a simulated microphone."""

    def __init__(self, delay_ms: float = 40.0, gain_db: float = -6.0) -> None:
        self.delay_ms = delay_ms
        self.gain_db = gain_db
        self.aborted_at_seconds: list[float] = []  # microphone time of each speaker abort()
        self._gain = 10 ** (gain_db / 20)
        self._lock = threading.Lock()  # the speaker may be fed from another thread
        self._queued = bytearray()  # handed to the speaker, not yet in the air
        # in the air: delay_ms of silence before the first sound arrives
        self._air = bytearray(round(delay_ms * RATE / 1000) * SAMPLE_WIDTH)
        self._heard = 0  # bytes the microphone has delivered

    @property
    def seconds(self) -> float:
        """Microphone time: seconds delivered so far."""
        return self._heard / BYTES_PER_SECOND

    def speaker(self, inner: Speaker) -> TappedSpeaker:
        """``inner``, its sound also going into this path."""
        return TappedSpeaker(inner, self.played, self.aborted)

    def microphone(self, inner: Microphone) -> EchoPathMicrophone:
        return EchoPathMicrophone(self, inner)

    def played(self, pcm: bytes) -> None:
        with self._lock:
            self._queued += pcm

    def aborted(self) -> None:
        """Barge-in: what the speaker had not played yet never reaches the air."""
        with self._lock:
            self._queued.clear()
            self.aborted_at_seconds.append(self.seconds)

    def echo(self, nbytes: int) -> np.ndarray:
        """The next ``nbytes`` of echo at the microphone, as float samples."""
        with self._lock:
            played = bytes(self._queued[:nbytes]).ljust(nbytes, b"\x00")
            del self._queued[:nbytes]
            self._air += played
            arriving = bytes(self._air[:nbytes])
            del self._air[:nbytes]
            self._heard += nbytes
        return np.frombuffer(arriving, "<i2").astype(np.float32) * self._gain


class EchoPathMicrophone(Driver):
    """A microphone that hears ``inner`` (the user and the room) plus the speaker's echo.

    It delivers 30 ms at a time whatever ``inner`` delivers, so the echo of a frame's reply
    audio is heard from the next frame on; it ends when ``inner`` ends."""

    chunk_frames = FRAME_SAMPLES

    def __init__(self, path: EchoPath, inner: Microphone) -> None:
        self._path = path
        self._inner = inner
        self.realtime = inner.realtime
        self._pending = b""  # read from inner, not yet delivered

    def read(self) -> bytes:
        want = FRAME_SAMPLES * SAMPLE_WIDTH
        while len(self._pending) < want:
            chunk = self._inner.read()
            if not chunk:
                break
            self._pending += chunk
        if not self._pending:
            return b""
        user = self._pending[:want].ljust(want, b"\x00")
        self._pending = self._pending[want:]
        mixed = np.frombuffer(user, "<i2").astype(np.float32) + self._path.echo(want)
        return np.clip(mixed, -32768, 32767).astype("<i2").tobytes()

    def _release(self) -> None:
        self._inner.close()
