"""Microphones: a live one through PortAudio, and audio files that stand in for one.

Both deliver bus-format PCM (16 kHz s16le mono, see ``drivers.audio_format``) in fixed chunks of
``chunk_frames`` samples, so the wake word, VAD and ASR never see another format or chunk size.
The PortAudio helpers here (device lookup, opening, resampling) are shared with ``drivers.speaker``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from drivers.audio_format import BYTES_PER_SECOND, RATE, SAMPLE_WIDTH, wav_problem
from drivers.base import Closable, Driver
from drivers.errors import DriverError

if TYPE_CHECKING:
    import pyaudio

logger = logging.getLogger(__name__)

Direction = Literal["input", "output"]


class Microphone(Closable, Protocol):
    """What the voice loop reads audio from."""

    chunk_frames: int  # samples per read()
    realtime: bool  # True when read() is paced by a clock, False when a file is read flat out

    def read(self) -> bytes:
        """Return exactly ``chunk_frames * 2`` bytes of bus PCM; a file returns b"" at its end."""
        ...


def open_pyaudio() -> pyaudio.PyAudio:
    """Initialise PortAudio, turning a missing PyAudio into a DriverError that says what to do."""
    try:
        import pyaudio
    except ImportError as exc:
        raise DriverError(
            "PyAudio is not installed: `sudo apt install portaudio19-dev` then "
            "`pip install pyaudio==0.2.14` in the venv"
        ) from exc
    try:
        return pyaudio.PyAudio()
    except OSError as exc:
        raise DriverError(f"PortAudio failed to start ({exc}); check `aplay -L`") from exc


def find_pyaudio_device(pa: pyaudio.PyAudio, device: str, direction: Direction) -> tuple[int, str]:
    """Return (index, name) of the PortAudio ``direction`` device named by ``device``.

    "" means PortAudio's default; otherwise ``device`` is a case-insensitive part of a device name
    (an exact name wins over a partial one). Raises DriverError listing what PortAudio sees.
    """
    channels_key = "maxInputChannels" if direction == "input" else "maxOutputChannels"
    available: list[tuple[int, str]] = []
    for index in range(pa.get_device_count()):
        info = pa.get_device_info_by_index(index)
        if int(info[channels_key]) > 0:
            available.append((index, str(info["name"])))
    tool = "arecord -L" if direction == "input" else "aplay -L"
    if not available:
        raise DriverError(
            f"no audio {direction} device: PortAudio sees none. Check `{tool}`, that the sound "
            "card or USB device is attached, and that this user is in the 'audio' group"
        )
    names = ", ".join(repr(name) for _, name in available)
    if not device:
        try:
            info = (
                pa.get_default_input_device_info()
                if direction == "input"
                else pa.get_default_output_device_info()
            )
        except OSError as exc:
            raise DriverError(
                f"no default audio {direction} device; PortAudio sees {direction}s: {names}. "
                "Set the device to part of one of these names"
            ) from exc
        return int(info["index"]), str(info["name"])
    wanted = device.casefold()
    exact = [entry for entry in available if entry[1].casefold() == wanted]
    partial = [entry for entry in available if wanted in entry[1].casefold()]
    matches = exact or partial
    if not matches:
        raise DriverError(
            f"no audio {direction} device matching {device!r}; PortAudio sees {direction}s: "
            f'{names}. Use part of one of these names, or "" for the default (see `{tool}`)'
        )
    if len(matches) > 1:
        logger.info(
            "%d %s devices match %r; using %r", len(matches), direction, device, matches[0][1]
        )
    return matches[0]


def pyaudio_rate(pa: pyaudio.PyAudio, index: int, name: str, direction: Direction) -> int:
    """The bus rate when the device takes it for mono int16, else the device's default rate."""
    import pyaudio

    spec = {
        f"{direction}_device": index,
        f"{direction}_channels": 1,
        f"{direction}_format": pyaudio.paInt16,
    }
    try:
        if pa.is_format_supported(RATE, **spec):
            return RATE
    except ValueError:
        pass  # PyAudio reports "unsupported" by raising
    rate = int(pa.get_device_info_by_index(index)["defaultSampleRate"])
    logger.warning(
        "audio %s %r refuses %d Hz mono; using %d Hz and resampling", direction, name, RATE, rate
    )
    return rate


def open_pyaudio_device(device: str, direction: Direction) -> tuple[pyaudio.PyAudio, int, str, int]:
    """Start PortAudio and find ``device`` (see ``find_pyaudio_device``).

    Returns (PortAudio, device index, device name, rate), the rate from ``pyaudio_rate``;
    PortAudio is terminated again when the device cannot be used.
    """
    pa = open_pyaudio()
    try:
        index, name = find_pyaudio_device(pa, device, direction)
        return pa, index, name, pyaudio_rate(pa, index, name, direction)
    except BaseException:
        pa.terminate()
        raise


def open_pyaudio_stream(
    pa: pyaudio.PyAudio, index: int, name: str, rate: int, direction: Direction, **options: Any
) -> Any:
    """A mono 16-bit ``direction`` stream on device ``index``; DriverError if it will not open."""
    import pyaudio

    device = {direction: True, f"{direction}_device_index": index}
    try:
        return pa.open(format=pyaudio.paInt16, channels=1, rate=rate, **device, **options)
    except (OSError, ValueError) as exc:
        raise DriverError(
            f"cannot open audio {direction} {name!r} at {rate} Hz mono 16-bit ({exc}); "
            "is another program using it? (`fuser -v /dev/snd/*`)"
        ) from exc


class PcmResampler:
    """Streaming s16le mono rate conversion (libsoxr) that keeps its state between chunks."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        import soxr

        self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16")

    def convert(self, pcm: bytes, last: bool = False) -> bytes:
        """Convert ``pcm``; output lags input a little until ``last=True`` flushes the rest."""
        samples = np.frombuffer(pcm, dtype="<i2")
        return self._stream.resample_chunk(samples, last=last).astype("<i2").tobytes()


class PyAudioMicrophone(Driver):
    """A live microphone through PortAudio (ALSA on the Pi), read as 16 kHz mono chunks.

    Wiring: a USB microphone, or an I2S MEMS microphone (e.g. INMP441: SCK to GPIO 18, WS to
    GPIO 19, SD to GPIO 20, L/R to GND) with its overlay in ``/boot/firmware/config.txt``. A device
    that refuses 16 kHz mono is opened at its default rate and resampled; for a stereo-only card
    name an ALSA ``plug`` pcm instead. Example::

        from drivers.mic import PyAudioMicrophone

        with PyAudioMicrophone("usb") as mic:   # "" = the default input
            chunk = mic.read()                  # 0.1 s: 3200 bytes of bus PCM
    """

    realtime: bool = True

    def __init__(self, device: str = "", chunk_frames: int = 1600) -> None:
        if chunk_frames <= 0:
            raise ValueError(f"chunk_frames must be positive, not {chunk_frames}")
        self.chunk_frames = chunk_frames
        self._lock = threading.Lock()  # read() and close() may run on different threads
        self._pending = bytearray()
        self._pa, index, self.device_name, rate = open_pyaudio_device(device, "input")
        try:
            self._resampler = None if rate == RATE else PcmResampler(rate, RATE)
            self._device_frames = -(-chunk_frames * rate // RATE)  # ceiling: one read feeds a chunk
            self._stream = open_pyaudio_stream(
                self._pa,
                index,
                self.device_name,
                rate,
                "input",
                frames_per_buffer=self._device_frames,
            )
        except BaseException:
            self._pa.terminate()
            raise
        logger.info("microphone %r open at %d Hz", self.device_name, rate)

    def read(self) -> bytes:
        """Block until the next chunk is recorded; return ``chunk_frames * 2`` bytes."""
        want = self.chunk_frames * SAMPLE_WIDTH
        with self._lock:
            if self.closed:
                raise DriverError("the microphone is closed")
            try:
                if self._resampler is None:
                    return bytes(self._stream.read(self.chunk_frames, exception_on_overflow=False))
                while len(self._pending) < want:
                    raw = self._stream.read(self._device_frames, exception_on_overflow=False)
                    self._pending += self._resampler.convert(raw)
            except OSError as exc:
                raise DriverError(
                    f"reading audio input {self.device_name!r} failed ({exc}); was it unplugged?"
                ) from exc
            chunk = bytes(self._pending[:want])
            del self._pending[:want]
            return chunk

    def _release(self) -> None:
        with self._lock:  # waits for a read() in progress
            try:
                self._stream.stop_stream()
                self._stream.close()
            except OSError as exc:
                logger.warning("closing audio input %r: %s", self.device_name, exc)
            self._pa.terminate()


class FileMicrophone(Driver):
    """An audio file played into the voice loop as if it were a microphone.

    ``.wav`` and ``.flac`` files of any rate and channel count are converted to the bus format;
    ``.raw`` and ``.pcm`` files are taken as 16 kHz s16le mono already. The file is read a block
    at a time as the loop asks for audio, so an hours-long recording costs the memory of a
    second of it. With ``realtime=True`` each chunk is returned when it would have finished
    recording, so the file behaves like a live microphone. Example::

        from drivers.mic import FileMicrophone

        with FileMicrophone("tests/data/hello.wav") as mic:
            while chunk := mic.read():          # b"" at the end of the file
                ...
    """

    def __init__(self, path: str | Path, chunk_frames: int = 1600, realtime: bool = False) -> None:
        if chunk_frames <= 0:
            raise ValueError(f"chunk_frames must be positive, not {chunk_frames}")
        self.path = Path(path)
        self.chunk_frames = chunk_frames
        self.realtime = realtime
        self._audio = _AudioFile(self.path)
        self._lock = threading.Lock()  # a realtime read() runs in a thread; close() may not
        self._heard = 0  # bytes of the file's audio returned so far
        self._paced = 0  # the same with the last chunk's padding: what realtime waits for
        self._started: float | None = None  # time.monotonic() of the first read

    @property
    def position_seconds(self) -> float:
        """Seconds of the file's audio read so far (zero padding not counted)."""
        return self._heard / BYTES_PER_SECOND

    def read(self) -> bytes:
        """Return the next chunk, zero-padding the last one; b"" once the file is used up."""
        want = self.chunk_frames * SAMPLE_WIDTH
        with self._lock:
            if self.closed:
                raise DriverError(f"the file microphone for {self.path} is closed")
            chunk = self._audio.read(want)
        if not chunk:
            return b""
        self._heard += len(chunk)
        self._paced += want
        if self.realtime:
            now = time.monotonic()
            if self._started is None:
                self._started = now
            delay = self._started + self._paced / BYTES_PER_SECOND - now
            if delay > 0:
                time.sleep(delay)
        return chunk.ljust(want, b"\x00")

    def _release(self) -> None:
        with self._lock:  # waits for a read() in progress
            self._audio.close()


class _AudioFile:
    """An audio file as bus PCM, read and converted a block at a time, as ``read_audio``
    converts a whole file: channels averaged, 8- and 32-bit samples made 16-bit, the rate changed
    by libsoxr, whose stream carries its state from block to block. DriverError naming the file
    and what would work, when it cannot be opened or read."""

    BLOCK_FRAMES = 16000  # frames of the file per block: a second at the bus rate

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pending = bytearray()  # converted, not yet read
        self._ended = False
        self._file: Any = None  # a binary file, a wave reader or a soundfile
        self._kind = "raw"  # "raw" | "wav" | "flac"
        self._width = SAMPLE_WIDTH  # bytes per sample, in a WAV file
        self._channels = 1
        with _reading(path):
            rate = self._open()
        self._resampler = None if rate == RATE else _FloatResampler(rate)

    def _open(self) -> int:
        """Open the file; its rate."""
        suffix = self.path.suffix.lower()
        if suffix in (".raw", ".pcm"):
            self._kind, self._file = "raw", self.path.open("rb")
            return RATE
        if suffix == ".flac":
            import soundfile  # imported here: only FLAC input needs it

            try:
                self._file = soundfile.SoundFile(str(self.path))
            except (soundfile.LibsndfileError, RuntimeError) as exc:
                reason = getattr(exc, "error_string", exc)
                raise ValueError(f"not a readable FLAC file ({reason})") from exc
            self._kind = "flac"
            return int(self._file.samplerate)
        try:
            wav = wave.open(str(self.path), "rb")  # noqa: SIM115 (open until close())
        except (wave.Error, EOFError) as exc:
            raise ValueError(f"not a PCM WAV file ({wav_problem(exc)})") from exc
        self._kind, self._file = "wav", wav
        self._width, self._channels = wav.getsampwidth(), wav.getnchannels()
        if self._width not in (1, 2, 4):
            wav.close()
            raise ValueError(f"{8 * self._width}-bit WAV is not supported (use 16-bit PCM)")
        return wav.getframerate()

    def read(self, nbytes: int) -> bytes:
        """Up to ``nbytes`` of bus PCM; fewer only at the end, b"" after it."""
        while len(self._pending) < nbytes and not self._ended:
            with _reading(self.path):
                self._pending += self._next_block()
        chunk = bytes(self._pending[:nbytes])
        del self._pending[:nbytes]
        return chunk

    def _next_block(self) -> bytes:
        if self._kind == "raw":
            raw = self._file.read(self.BLOCK_FRAMES * SAMPLE_WIDTH)
            self._ended = not raw
            if len(raw) % SAMPLE_WIDTH:  # only the last block can be short
                logger.warning("%s: odd length, dropping the last byte", self.path)
                raw = raw[:-1]
            return raw
        if self._kind == "flac":
            samples = self._file.read(self.BLOCK_FRAMES, dtype="int16", always_2d=False)
        else:
            samples = _wav_samples(self._file.readframes(self.BLOCK_FRAMES), self._width)
            if self._channels > 1:
                samples = samples.reshape(-1, self._channels)
        self._ended = not len(samples)
        return self._to_bus(samples)

    def _to_bus(self, samples: np.ndarray) -> bytes:
        if self._resampler is None and samples.ndim == 1:
            return samples.astype("<i2").tobytes()  # already the bus format
        if samples.ndim == 2:
            samples = samples.astype(np.float32).mean(axis=1)
        floats = samples.astype(np.float32) / 32768.0
        if self._resampler is not None:
            floats = self._resampler.convert(floats, last=self._ended)
        return (np.clip(floats, -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes()

    def close(self) -> None:
        self._file.close()


class _FloatResampler:
    """Float samples at ``rate`` to the bus rate, as ``to_bus_format`` resamples a whole file."""

    def __init__(self, rate: int) -> None:
        import soxr  # imported here: only files at another rate need it

        self._stream = soxr.ResampleStream(rate, RATE, 1, dtype="float32")

    def convert(self, floats: np.ndarray, last: bool) -> np.ndarray:
        return self._stream.resample_chunk(floats, last=last)


def _wav_samples(raw: bytes, width: int) -> np.ndarray:
    """WAV frames of ``width`` bytes per sample as int16 samples (8-bit WAV is unsigned)."""
    if width == 2:
        return np.frombuffer(raw, dtype="<i2")
    if width == 1:
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Errors opening or reading ``path`` as a DriverError naming it and what would work."""
    try:
        yield
    except FileNotFoundError as exc:
        raise DriverError(f"audio file not found: {path}") from exc
    except (ValueError, wave.Error, EOFError, RuntimeError) as exc:  # RuntimeError: libsndfile
        raise DriverError(
            f"cannot use {path} as a microphone: {exc}. Give a PCM .wav, a .flac, or a "
            ".raw/.pcm file of 16 kHz 16-bit mono"
        ) from exc
    except OSError as exc:
        raise DriverError(f"cannot read audio file {path}: {exc}") from exc
