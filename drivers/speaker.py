"""Speakers: a live one through PortAudio, and a folder of WAV files that stands in for one.

A reply is ``begin(label)``, any number of ``play(pcm)`` calls with bus-format PCM, then ``end()``.
``abort()`` is barge-in: it stops the reply at once and drops its later ``play()`` calls until the
next ``begin()`` (or ``end()``), so a producer still pushing the rest of an interrupted reply is
silenced; with no reply playing it does nothing. ``play()`` outside a reply starts one.
"""

from __future__ import annotations

import logging
import re
import threading
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from drivers.audio_format import CHANNELS, RATE, SAMPLE_WIDTH
from drivers.base import Closable, Driver
from drivers.errors import DriverError
from drivers.mic import PcmResampler, open_pyaudio_device, open_pyaudio_stream

logger = logging.getLogger(__name__)

SLICE_SECONDS = 0.05  # PyAudioSpeaker writes this much at a time, so abort() waits at most this


class Speaker(Closable, Protocol):
    """What the voice loop plays replies through."""

    realtime: bool  # True when play() keeps pace with a real device

    def begin(self, label: str) -> None:
        """A reply starts; ``label`` names it (e.g. its first words) for logs and file names."""
        ...

    def play(self, pcm: bytes) -> None:
        """Queue bus PCM; a realtime backend blocks until it is in the device buffer."""
        ...

    def end(self) -> None:
        """The reply is complete; a realtime backend returns once it has been heard."""
        ...

    def abort(self) -> None:
        """Barge-in: stop now and drop what is buffered; safe when nothing plays."""
        ...


class PyAudioSpeaker(Driver):
    """A loudspeaker through PortAudio (ALSA on the Pi); the device is held only during a reply.

    Wiring: a USB sound card, or an I2S amplifier (e.g. MAX98357A: BCLK to GPIO 18, LRC to
    GPIO 19, DIN to GPIO 21, VIN to 5 V) with its overlay in ``/boot/firmware/config.txt``.
    A device that refuses 16 kHz mono gets the audio resampled to its default rate. Example::

        from drivers.speaker import PyAudioSpeaker

        with PyAudioSpeaker("max98357") as speaker:   # "" = the default output
            speaker.begin("greeting")
            speaker.play(pcm)                         # bus PCM, blocks while it plays
            speaker.end()                             # waits until the last sample is out
    """

    realtime: bool = True

    def __init__(self, device: str = "") -> None:
        self._pa, self._index, self.device_name, self._rate = open_pyaudio_device(device, "output")
        self._lock = threading.Lock()  # guards the stream: abort() comes from another thread
        self._aborted = threading.Event()  # set by abort(), cleared by begin()/end()
        self._stream: Any = None
        self._resampler: PcmResampler | None = None
        self._carry = b""  # an odd trailing byte, kept until its other half arrives
        self._slice_bytes = int(self._rate * SLICE_SECONDS) * SAMPLE_WIDTH

    def begin(self, label: str) -> None:
        """Open the device for a new reply (finishing any reply still open)."""
        self.end()
        logger.debug("speaker: begin %r", label)
        with self._lock:
            self._open_locked()

    def play(self, pcm: bytes) -> None:
        """Write bus PCM, blocking until it is in the device buffer; dropped after abort()."""
        if self._aborted.is_set():
            return
        with self._lock:
            if self._stream is None:
                self._open_locked()
            data = self._carry + pcm
            cut = len(data) - len(data) % SAMPLE_WIDTH
            data, self._carry = data[:cut], data[cut:]
            if self._resampler is not None:
                data = self._resampler.convert(data)
        for start in range(0, len(data), self._slice_bytes):
            with self._lock:
                if self._stream is None or self._aborted.is_set():
                    return
                self._write_locked(data[start : start + self._slice_bytes])

    def end(self) -> None:
        """Finish the reply: wait until everything played, then release the device."""
        with self._lock:
            self._aborted.clear()
            if self._stream is None:
                return
            if self._resampler is not None:
                self._write_locked(self._resampler.convert(b"", last=True))
            try:
                self._stream.stop_stream()  # drains what is buffered
            except OSError as exc:
                logger.warning("speaker %r: draining failed: %s", self.device_name, exc)
            self._close_locked()

    def abort(self) -> None:
        """Stop at once, discarding buffered audio; the reply's later play() calls are dropped."""
        if self._stream is None:
            return  # no reply: nothing to stop, nothing to drop
        self._aborted.set()  # first, without the lock: play() checks it between slices
        with self._lock:
            if self._stream is not None:
                logger.info("speaker %r: playback aborted", self.device_name)
                self._close_locked()

    def _release(self) -> None:
        self.abort()
        with self._lock:
            self._pa.terminate()

    def _open_locked(self) -> None:
        if self.closed:
            raise DriverError("the speaker is closed")
        self._stream = open_pyaudio_stream(
            self._pa, self._index, self.device_name, self._rate, "output"
        )
        self._resampler = None if self._rate == RATE else PcmResampler(RATE, self._rate)
        self._carry = b""

    def _write_locked(self, data: bytes) -> None:
        try:
            self._stream.write(data)
        except OSError as exc:
            self._close_locked()
            raise DriverError(
                f"writing to audio output {self.device_name!r} failed ({exc}); was it unplugged?"
            ) from exc

    def _close_locked(self) -> None:
        try:
            self._stream.close()  # PortAudio discards anything still buffered
        except OSError as exc:
            logger.warning("speaker %r: closing failed: %s", self.device_name, exc)
        self._stream = None
        self._resampler = None


class WavSpeaker(Driver):
    """Writes each reply to ``folder/NN-<label>.wav`` instead of playing it (simulator, tests).

    Numbering starts at 01 for each WavSpeaker, so an earlier run's files of the same number are
    overwritten. Example::

        from drivers.speaker import WavSpeaker

        with WavSpeaker("demo-out") as speaker:
            speaker.begin("It is 3 pm")
            speaker.play(pcm)
            speaker.end()              # demo-out/01-it-is-3-pm.wav
        print(speaker.files)
    """

    realtime: bool = False

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DriverError(
                f"cannot create the speaker output folder {self.folder}: {exc}"
            ) from exc
        self.files: list[Path] = []
        self._lock = threading.Lock()
        self._wav: wave.Wave_write | None = None
        self._dropping = False  # after abort(), until begin()/end()

    def begin(self, label: str) -> None:
        """Start a new file named after ``label`` (closing any file still open)."""
        with self._lock:
            self._end_locked()
            self._open_locked(label)

    def play(self, pcm: bytes) -> None:
        """Append bus PCM to the current file, opening ``NN-audio.wav`` outside a reply."""
        with self._lock:
            if self._dropping:
                return
            if self._wav is None:
                self._open_locked("audio")
            assert self._wav is not None
            self._wav.writeframes(pcm)

    def end(self) -> None:
        """Close the current file."""
        with self._lock:
            self._end_locked()

    def abort(self) -> None:
        """Close the reply's file as it is and drop its later play() calls (until begin())."""
        with self._lock:
            if self._wav is not None:
                self._end_locked()
                self._dropping = True

    def _release(self) -> None:
        with self._lock:
            self._end_locked()

    def _open_locked(self, label: str) -> None:
        if self.closed:
            raise DriverError("the WAV speaker is closed")
        path = self.folder / f"{len(self.files) + 1:02d}-{slug(label)}.wav"
        try:
            wav = wave.open(str(path), "wb")  # noqa: SIM115 (open until end(), across calls)
        except OSError as exc:
            raise DriverError(f"cannot write {path}: {exc}") from exc
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(RATE)
        self._wav = wav
        self.files.append(path)
        logger.debug("speaker: writing %s", path)

    def _end_locked(self) -> None:
        self._dropping = False
        if self._wav is not None:
            self._wav.close()
            self._wav = None


def slug(label: str, max_length: int = 40) -> str:
    """``label`` as a file-name part: lowercase letters of any script, digits and '-', at most
    ``max_length`` chars ("现在几点" stays itself, "Hello, World" is "hello-world")."""
    text = re.sub(r"[\W_]+", "-", label.lower()).strip("-")
    return text[:max_length].rstrip("-") or "audio"


class TappedSpeaker(Driver):
    """``inner``, also telling ``on_play`` everything it plays and ``on_abort`` each barge-in:
    the echo canceller's reference (``device.listening.echo``) and the simulator's echo path
    (``drivers.echo_path``) listen to the speaker this way."""

    def __init__(
        self,
        inner: Speaker,
        on_play: Callable[[bytes], None],
        on_abort: Callable[[], None],
    ) -> None:
        self.inner = inner
        self._on_play = on_play
        self._on_abort = on_abort
        self.realtime = inner.realtime

    def begin(self, label: str) -> None:
        self.inner.begin(label)

    def play(self, pcm: bytes) -> None:
        self._on_play(pcm)
        self.inner.play(pcm)

    def end(self) -> None:
        self.inner.end()

    def abort(self) -> None:
        self._on_abort()
        self.inner.abort()

    def _release(self) -> None:
        self.inner.close()
