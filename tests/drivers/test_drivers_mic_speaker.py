"""Microphones and speakers, through real PyAudio on a file-backed ALSA device and real files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from alsa_file_device import INPUT_NAME, OUTPUT_NAME, AlsaFileDevice, alsa_file_device

from drivers.audio_format import BYTES_PER_SECOND, RATE, write_wav
from drivers.errors import DriverError
from drivers.mic import FileMicrophone, Microphone, PyAudioMicrophone
from drivers.speaker import PyAudioSpeaker, Speaker, WavSpeaker, slug

pyaudio = pytest.importorskip("pyaudio")
needs_alsa = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ALSA is Linux-only")

T = TypeVar("T")
DEVICE_RATE = 44100  # what the ALSA file plugin reports as its default rate


def within(seconds: float, work: Callable[[], T]) -> T:
    """Run ``work`` on a thread and fail the test if it takes longer than ``seconds``."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed back to the test thread below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if errors:
        raise errors[0]
    return result[0]


def tone(hertz: float, seconds: float, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave_ = (0.5 * 32767 * np.sin(2 * np.pi * hertz * t)).astype("<i2")
    return np.repeat(wave_[:, None], channels, axis=1) if channels > 1 else wave_


def peak_hertz(pcm: bytes, rate: int = RATE) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def noise(seconds: float, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    return rng.integers(-32768, 32767, int(seconds * RATE), dtype="<i2").tobytes()


def refuse_16k(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every device refuse 16 kHz, as many USB and I2S cards do."""
    original = pyaudio.PyAudio.is_format_supported

    def is_format_supported(self: Any, rate: float, **kwargs: Any) -> bool:
        if rate == RATE:
            raise ValueError("Invalid sample rate", pyaudio.paInvalidSampleRate)
        return bool(original(self, rate, **kwargs))

    monkeypatch.setattr(pyaudio.PyAudio, "is_format_supported", is_format_supported)


@pytest.fixture
def alsa(tmp_path: Path) -> Iterator[AlsaFileDevice]:
    with alsa_file_device(tmp_path / "alsa") as device:
        yield device


# --- PyAudioMicrophone -----------------------------------------------------------------------


@needs_alsa
@pytest.mark.parametrize("name", [INPUT_NAME, "ZEROPIN_IN", "pin_in"])
def test_pyaudio_microphone_returns_the_exact_input(alsa: AlsaFileDevice, name: str) -> None:
    pcm = noise(1.0)
    alsa.feed(pcm)

    def record() -> list[bytes]:
        with PyAudioMicrophone(name, chunk_frames=1600) as mic:
            assert mic.device_name == INPUT_NAME
            assert mic.realtime is True
            return [mic.read() for _ in range(10)]

    chunks = within(10, record)
    assert {len(chunk) for chunk in chunks} == {3200}
    assert b"".join(chunks) == pcm


@needs_alsa
def test_pyaudio_microphone_resamples_a_device_that_refuses_16k(
    alsa: AlsaFileDevice, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    refuse_16k(monkeypatch)
    alsa.feed(tone(440, 1.5, DEVICE_RATE).tobytes(), rate=DEVICE_RATE)

    def record() -> list[bytes]:
        with PyAudioMicrophone(INPUT_NAME, chunk_frames=480) as mic:
            return [mic.read() for _ in range(40)]  # 1.2 s at 16 kHz

    chunks = within(10, record)
    assert {len(chunk) for chunk in chunks} == {960}
    assert peak_hertz(b"".join(chunks)[BYTES_PER_SECOND // 10 :]) == pytest.approx(440, abs=3)
    assert "refuses 16000 Hz" in caplog.text


@needs_alsa
def test_missing_input_device_lists_what_there_is(alsa: AlsaFileDevice) -> None:
    with pytest.raises(DriverError) as caught:
        within(10, lambda: PyAudioMicrophone("no-such-mic"))
    message = str(caught.value)
    assert "'no-such-mic'" in message
    assert repr(INPUT_NAME) in message


# --- FileMicrophone --------------------------------------------------------------------------


def test_file_microphone_reads_a_16k_wav_and_pads_the_last_chunk(tmp_path: Path) -> None:
    pcm = noise(1.05)
    write_wav(tmp_path / "speech.wav", pcm)
    with FileMicrophone(tmp_path / "speech.wav", chunk_frames=1600) as mic:
        assert mic.realtime is False
        chunks = [mic.read() for _ in range(11)]
        assert mic.read() == b""
        assert mic.read() == b""
        assert mic.position_seconds == pytest.approx(1.05)
    assert {len(chunk) for chunk in chunks} == {3200}
    assert b"".join(chunks) == pcm + bytes(11 * 3200 - len(pcm))


@pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox (apt install sox)")
def test_file_microphone_resamples_a_44k_stereo_wav(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "44100",
            "-c",
            "2",
            "-b",
            "16",
            str(path),
            "synth",
            "1.5",
            "sine",
            "440",
        ],
        check=True,
        timeout=30,
    )
    with wave.open(str(path)) as original:
        assert (original.getframerate(), original.getnchannels()) == (44100, 2)
    with FileMicrophone(path, chunk_frames=1600) as mic:
        pcm = b"".join(iter(mic.read, b""))
        assert mic.position_seconds == pytest.approx(1.5, abs=0.01)
    assert len(pcm) == 15 * 3200  # 1.5 s in whole 0.1 s chunks
    assert peak_hertz(pcm) == pytest.approx(440, abs=3)


@pytest.mark.parametrize("suffix", [".raw", ".pcm"])
def test_file_microphone_takes_raw_files_as_they_are(tmp_path: Path, suffix: str) -> None:
    pcm = noise(0.3)
    (tmp_path / f"audio{suffix}").write_bytes(pcm)
    with FileMicrophone(tmp_path / f"audio{suffix}", chunk_frames=800) as mic:
        assert b"".join(iter(mic.read, b"")) == pcm


def test_file_microphone_missing_or_garbage_files_raise(tmp_path: Path) -> None:
    with pytest.raises(DriverError, match="not found"):
        FileMicrophone(tmp_path / "missing.wav")
    (tmp_path / "garbage.wav").write_bytes(b"this is not a RIFF file at all" * 10)
    with pytest.raises(DriverError, match="garbage.wav"):
        FileMicrophone(tmp_path / "garbage.wav")


def test_file_microphone_in_realtime_takes_as_long_as_the_audio(tmp_path: Path) -> None:
    write_wav(tmp_path / "half.wav", noise(0.5))
    with FileMicrophone(tmp_path / "half.wav", chunk_frames=1600, realtime=True) as mic:
        started = time.monotonic()
        chunks = within(10, lambda: list(iter(mic.read, b"")))
        elapsed = time.monotonic() - started
    assert len(chunks) == 5
    assert 0.4 <= elapsed < 3.0


def _wav(path: Path, samples: np.ndarray, rate: int, width: int = 2) -> Path:
    """``samples`` (int16, (n,) or (n, channels)) as a WAV of ``width`` bytes per sample."""
    channels = samples.shape[1] if samples.ndim == 2 else 1
    data = samples.astype("<i2")
    if width == 1:  # unsigned 8-bit
        data = ((data.astype(np.int32) >> 8) + 128).astype(np.uint8)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(data.tobytes())
    return path


@pytest.mark.parametrize("chunk_frames", [480, 1600, 16000 * 3 + 7])
@pytest.mark.parametrize(
    ("name", "rate", "channels", "width"),
    [
        ("stereo-44k.wav", 44100, 2, 2),
        ("mono-48k-8bit.wav", 48000, 1, 1),
        ("mono.flac", 22050, 1, 2),
    ],
)
def test_file_microphone_streams_what_reading_the_whole_file_gives(
    tmp_path: Path, chunk_frames: int, name: str, rate: int, channels: int, width: int
) -> None:
    from drivers.audio_format import read_audio

    path = _wav(tmp_path / "source.wav", tone(440, 3.3, rate, channels), rate, width)
    if name.endswith(".flac"):
        import soundfile

        samples, _ = soundfile.read(str(path), dtype="int16")
        soundfile.write(str(tmp_path / name), samples, rate)
        path = tmp_path / name
    whole = read_audio(path)
    with FileMicrophone(path, chunk_frames=chunk_frames) as mic:
        streamed = b"".join(iter(mic.read, b""))
        assert mic.position_seconds == pytest.approx(len(whole) / BYTES_PER_SECOND)
    assert streamed[: len(whole)] == whole  # the same samples, whatever the chunk size
    assert streamed[len(whole) :] == bytes(len(streamed) - len(whole))  # then the padding
    assert len(streamed) % (chunk_frames * 2) == 0


def test_a_long_recording_is_not_held_in_memory(tmp_path: Path) -> None:
    import tracemalloc

    seconds = 120  # 23 MB at 48 kHz stereo: read whole, it took several times that
    path = _wav(tmp_path / "long.wav", tone(440, seconds, 48000, 2), 48000)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with FileMicrophone(path, chunk_frames=480) as mic:
            chunks = sum(1 for _ in iter(mic.read, b""))
            assert mic.position_seconds == pytest.approx(seconds, abs=0.01)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert chunks == seconds * RATE // 480
    assert peak < size / 10, (peak, size)  # a few blocks of a second, never the file


# --- PyAudioSpeaker --------------------------------------------------------------------------


@needs_alsa
def test_pyaudio_speaker_writes_exactly_what_it_plays(alsa: AlsaFileDevice) -> None:
    pcm = noise(1.0, seed=2)

    def reply() -> None:
        with PyAudioSpeaker(OUTPUT_NAME) as speaker:
            assert speaker.realtime is True
            speaker.begin("hello")
            for start in range(0, len(pcm), 1001):  # odd sizes: samples split across calls
                speaker.play(pcm[start : start + 1001])
            speaker.end()

    within(10, reply)
    assert alsa.played() == pcm


@needs_alsa
def test_pyaudio_speaker_abort_stops_a_reply_and_drops_the_rest(alsa: AlsaFileDevice) -> None:
    chunk = noise(0.1, seed=3)
    first_played = threading.Event()
    stopped = threading.Event()
    with PyAudioSpeaker(OUTPUT_NAME) as speaker:
        speaker.abort()  # nothing playing: harmless

        def produce() -> None:
            speaker.begin("long reply")
            for _ in range(1000):  # 100 s of audio, unless aborted
                speaker.play(chunk)
                first_played.set()
            stopped.set()

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        assert first_played.wait(10)
        speaker.abort()
        assert stopped.wait(30), "play() kept going after abort()"
        producer.join(10)
        heard = alsa.played()
        assert 0 < len(heard) < 1000 * len(chunk)
        speaker.abort()

        def next_reply() -> None:
            speaker.begin("next")
            speaker.play(chunk)
            speaker.end()

        within(10, next_reply)
    assert alsa.played() == chunk


@needs_alsa
def test_pyaudio_speaker_resamples_for_a_device_that_refuses_16k(
    alsa: AlsaFileDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_16k(monkeypatch)

    def reply() -> None:
        with PyAudioSpeaker(OUTPUT_NAME) as speaker:
            speaker.begin("tone")
            speaker.play(tone(440, 1.0).tobytes())
            speaker.end()

    within(10, reply)
    heard = alsa.played()
    assert len(heard) // 2 == pytest.approx(DEVICE_RATE, abs=50)
    assert peak_hertz(heard, DEVICE_RATE) == pytest.approx(440, abs=3)


@needs_alsa
def test_missing_output_device_lists_what_there_is(alsa: AlsaFileDevice) -> None:
    with pytest.raises(DriverError) as caught:
        within(10, lambda: PyAudioSpeaker("no-such-speaker"))
    assert "'no-such-speaker'" in str(caught.value)
    assert repr(OUTPUT_NAME) in str(caught.value)


# --- WavSpeaker ------------------------------------------------------------------------------


def read_wav_file(path: Path) -> tuple[int, int, bytes]:
    with wave.open(str(path)) as wav:
        return wav.getframerate(), wav.getnchannels(), wav.readframes(wav.getnframes())


def test_wav_speaker_writes_one_numbered_file_per_reply(tmp_path: Path) -> None:
    first, second = noise(0.2, seed=4), noise(0.3, seed=5)
    with WavSpeaker(tmp_path / "out") as speaker:
        assert speaker.realtime is False
        speaker.begin("It's 3 PM -- in Zürich!")
        speaker.play(first[:101])
        speaker.play(first[101:])
        speaker.end()
        speaker.begin("x" * 60)
        speaker.play(second)
        speaker.end()
    names = [path.name for path in speaker.files]
    assert names == ["01-it-s-3-pm-in-zürich.wav", f"02-{'x' * 40}.wav"]
    assert read_wav_file(speaker.files[0]) == (RATE, 1, first)
    assert read_wav_file(speaker.files[1]) == (RATE, 1, second)


def test_wav_speaker_play_without_begin_and_abort(tmp_path: Path) -> None:
    pcm = noise(0.1, seed=6)
    with WavSpeaker(tmp_path) as speaker:
        speaker.abort()  # nothing playing: harmless
        speaker.play(pcm)
        speaker.abort()
        speaker.play(pcm)  # dropped: the reply was interrupted
        speaker.begin("")
        speaker.play(pcm)
    assert [path.name for path in speaker.files] == ["01-audio.wav", "02-audio.wav"]
    assert read_wav_file(speaker.files[0])[2] == pcm
    assert read_wav_file(speaker.files[1])[2] == pcm


def test_slug() -> None:
    assert slug("  Hello, World  ") == "hello-world"
    assert slug("???") == "audio"
    assert slug("你好零，现在几点？") == "你好零-现在几点"
    assert len(slug("a-" * 100)) <= 40


# --- contracts -------------------------------------------------------------------------------


@pytest.fixture(params=["pyaudio", "file"])
def microphone(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Microphone]]:
    pcm = noise(0.5, seed=7)
    if request.param == "file":
        write_wav(tmp_path / "in.wav", pcm)
        yield lambda: FileMicrophone(tmp_path / "in.wav", chunk_frames=400)
        return
    if not sys.platform.startswith("linux"):
        pytest.skip("ALSA is Linux-only")
    with alsa_file_device(tmp_path / "alsa") as device:
        device.feed(pcm)
        yield lambda: PyAudioMicrophone(INPUT_NAME, chunk_frames=400)


def test_every_microphone_keeps_the_contract(microphone: Callable[[], Microphone]) -> None:
    def use() -> None:
        mic = microphone()
        with mic as entered:
            assert entered is mic
            assert mic.chunk_frames == 400
            assert isinstance(mic.realtime, bool)
            first = mic.read()
            assert len(first) == 800
            assert first == noise(0.5, seed=7)[:800]
        mic.close()
        with pytest.raises(DriverError):
            mic.read()

    within(10, use)


SpeakerBackend = tuple[Callable[[], Speaker], Callable[[], bytes]]  # (make, last reply heard)


@pytest.fixture(params=["pyaudio", "wav"])
def speaker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SpeakerBackend]:
    if request.param == "wav":
        made: list[WavSpeaker] = []

        def make() -> WavSpeaker:
            made.append(WavSpeaker(tmp_path / "wav"))
            return made[-1]

        yield make, lambda: read_wav_file(made[-1].files[-1])[2]
        return
    if not sys.platform.startswith("linux"):
        pytest.skip("ALSA is Linux-only")
    with alsa_file_device(tmp_path / "alsa") as device:
        yield (lambda: PyAudioSpeaker(OUTPUT_NAME)), device.played


def test_every_speaker_keeps_the_contract(speaker: SpeakerBackend) -> None:
    make, heard = speaker
    pcm = noise(0.2, seed=8)

    def use() -> None:
        out = make()
        with out as entered:
            assert entered is out
            assert isinstance(out.realtime, bool)
            out.abort()
            out.begin("one")
            out.play(pcm)
            out.end()
            out.end()
            assert heard() == pcm
            out.play(pcm)  # outside a reply: starts one
            out.abort()
        out.close()
        out.abort()
        with pytest.raises(DriverError):
            out.begin("after close")

    within(10, use)
