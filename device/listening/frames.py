"""30 ms frames: the unit every listening stage works in, whatever the microphone's chunk size.

webrtcvad accepts 10, 20 or 30 ms frames; 30 keeps the per-frame cost of the wake word, the
endpointer and the recogniser lowest. Cutting with a carried remainder makes the cut, and so
every decision made on it, identical for any chunk size.

    framer = Framer()
    for chunk in mic_chunks:
        framer.push(chunk)
        while (frame := framer.pop()) is not None:
            ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from drivers.audio_format import BYTES_PER_SECOND

FRAME_MS = 30
FRAME_SECONDS = FRAME_MS / 1000
FRAME_BYTES = BYTES_PER_SECOND * FRAME_MS // 1000


def frame_rms(frame: bytes) -> float:
    """Loudness of a frame of bus PCM (int16): the RMS of its samples, 0 for an empty one."""
    samples = np.frombuffer(frame, "<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def frames_in(seconds: float) -> int:
    """Whole frames in ``seconds`` of audio (rounded down)."""
    return int(seconds * 1000 / FRAME_MS)


class Framer:
    """Whole frames out of chunks of any size; the remainder waits for the next chunk."""

    def __init__(self) -> None:
        self._buffer = b""
        self._offset = 0  # bytes of _buffer already handed out

    @property
    def carried_bytes(self) -> int:
        """Bytes waiting for the rest of their frame (or frames not yet popped)."""
        return len(self._buffer) - self._offset

    def push(self, chunk: bytes) -> None:
        self._buffer = self._buffer[self._offset :] + chunk
        self._offset = 0

    def pop(self) -> bytes | None:
        """The next whole frame, or None until more audio is pushed."""
        end = self._offset + FRAME_BYTES
        if end > len(self._buffer):
            return None
        frame = self._buffer[self._offset : end]
        self._offset = end
        return frame


def frames(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Every whole frame of a stream of chunks; a last partial frame is dropped."""
    framer = Framer()
    for chunk in chunks:
        framer.push(chunk)
        while (frame := framer.pop()) is not None:
            yield frame
