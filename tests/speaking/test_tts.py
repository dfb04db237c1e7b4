"""Speech from the real espeak-ng, speakable() and the generated earcons."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from device.errors import TtsError
from device.speaking.earcons import EARCONS, earcon
from device.speaking.tts import EspeakSynthesizer, speakable, wav_bytes_to_bus
from drivers.audio_format import RATE, seconds_of

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (sudo apt install espeak-ng)"
)


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def rms(pcm: bytes) -> float:
    return float(np.sqrt(np.mean(samples(pcm) ** 2)))


# --- EspeakSynthesizer ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tts() -> EspeakSynthesizer:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (sudo apt install espeak-ng)")
    return EspeakSynthesizer()


def test_hello_world_is_bus_pcm_of_plausible_length(tts: EspeakSynthesizer) -> None:
    pcm = tts.synthesize("hello world")
    assert len(pcm) % 2 == 0
    assert 0.5 <= seconds_of(pcm) <= 2.5
    assert rms(pcm) > 300  # clearly not silence
    assert np.abs(samples(pcm)).max() < 32767  # volume 80 % does not clip


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_blank_text_gives_no_audio(tts: EspeakSynthesizer, text: str) -> None:
    assert tts.synthesize(text) == b""


def test_text_starting_with_a_dash_is_spoken_not_parsed(tts: EspeakSynthesizer) -> None:
    assert seconds_of(tts.synthesize("-v xx --help")) > 0.5


@needs_espeak
def test_faster_rate_is_shorter() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    slow = EspeakSynthesizer(rate_wpm=120).synthesize(text)
    fast = EspeakSynthesizer(rate_wpm=240).synthesize(text)
    assert seconds_of(fast) < 0.75 * seconds_of(slow)


@needs_espeak
def test_set_volume_changes_loudness() -> None:
    tts = EspeakSynthesizer(volume_percent=80)
    loud = rms(tts.synthesize("testing the volume"))
    assert tts.set_volume(30) == 30
    quiet = rms(tts.synthesize("testing the volume"))
    assert quiet < 0.6 * loud
    assert tts.set_volume(150) == 100  # clamped
    assert tts.set_volume(-5) == 0
    assert rms(tts.synthesize("testing the volume")) < 0.05 * loud


@needs_espeak
@pytest.mark.parametrize("voice", ["en-us", "en-us+f2", "en-gb-x-rp", "en", "EN-US"])
def test_known_voices_are_accepted(voice: str) -> None:
    assert seconds_of(EspeakSynthesizer(voice=voice).synthesize("yes")) > 0.1


@needs_espeak
def test_unknown_voice_lists_alternatives() -> None:
    with pytest.raises(TtsError, match=r"no voice 'xx-nowhere'.*en-us"):
        EspeakSynthesizer(voice="xx-nowhere")


@needs_espeak
def test_unknown_variant_is_refused() -> None:
    # espeak-ng itself silently ignores an unknown variant; we refuse it at start-up.
    with pytest.raises(TtsError, match=r"no voice variant 'nosuch'.*f2"):
        EspeakSynthesizer(voice="en-us+nosuch")


def test_missing_binary_says_how_to_install() -> None:
    with pytest.raises(TtsError, match="apt install espeak-ng") as caught:
        EspeakSynthesizer(binary="no-such-espeak")
    assert isinstance(caught.value, RuntimeError)


@needs_espeak
def test_out_of_range_settings_are_refused() -> None:
    with pytest.raises(TtsError, match="rate_wpm"):
        EspeakSynthesizer(rate_wpm=10)
    with pytest.raises(TtsError, match="pitch"):
        EspeakSynthesizer(pitch=200)


def test_failing_binary_reports_its_stderr(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "espeak-ng"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$1" in --voices*) echo "Pty Language Age/Gender VoiceName File"; '
        'echo " 2  en-us --/M English_(America) gmw/en-US"; exit 0;; esac\n'
        'echo "Error: something broke" >&2\nexit 3\n'
    )
    fake.chmod(0o755)
    tts = EspeakSynthesizer(binary=str(fake))
    with pytest.raises(TtsError, match=r"-v en-us failed \(exit 3\): Error: something broke"):
        tts.synthesize("hello")


def test_a_crash_names_the_voice_it_crashed_in(tmp_path) -> None:
    # espeak-ng crashed (SIGSEGV) 30 s into a training run with made-up variants bred wider than
    # variants.py breeds them, and the message said only "exit -11": it must say which voice
    fake = tmp_path / "espeak-ng"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$1" in --voices*) echo "Pty Language Age/Gender VoiceName File"; '
        'echo " 2  en-us --/M English_(America) gmw/en-US"; exit 0;; esac\n'
        "kill -SEGV $$\n"
    )
    fake.chmod(0o755)
    with pytest.raises(TtsError, match=r"^espeak-ng -v en-us failed \(killed by SIGSEGV\)$"):
        EspeakSynthesizer(binary=str(fake)).synthesize("hello")


def test_wav_parser_handles_streamed_header_and_rejects_garbage() -> None:
    tone = (np.sin(np.arange(22050) / 22050 * 2 * np.pi * 440) * 10000).astype("<i2").tobytes()
    header = (
        b"RIFF\xff\xff\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
        + (22050).to_bytes(4, "little")
        + (44100).to_bytes(4, "little")
        + b"\x02\x00\x10\x00data\xff\xff\xff\x7f"  # placeholder sizes, as espeak streams them
    )
    pcm = wav_bytes_to_bus(header + tone)
    assert seconds_of(pcm) == pytest.approx(1.0, abs=0.01)
    with pytest.raises(TtsError):
        wav_bytes_to_bus(b"not a wav")


# --- speakable ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**Done!** That was *easy*.", "Done! That was easy."),
        ("Use `ls -l` here", "Use ls -l here"),
        ("## Forecast\nSunny.", "Forecast. Sunny."),
        ("- eggs\n- milk\n* bread", "eggs. milk. bread"),
        ("See [the docs](https://example.com/docs) now", "See the docs now"),
        ("Go to https://example.com/a?b=1.", "Go to a link."),
        (
            "It is 21°C, 70°F or 5° off",
            "It is 21 degrees Celsius, 70 degrees Fahrenheit or 5 degrees off",
        ),
        ("50% chance", "50 percent chance"),
        ("salt & pepper", "salt and pepper"),
        ("  lots \t of\n\n\n space  ", "lots of. space"),
        ("Great job 🎉👍🏽!", "Great job!"),
        ("> quoted line", "quoted line"),
        ("my_var_name and 3 * 4 * 5", "my_var_name and 3 * 4 * 5"),
        ("There are 1,250 steps.", "There are 1,250 steps."),
        ("", ""),
    ],
)
def test_speakable(text: str, expected: str) -> None:
    assert speakable(text) == expected


# --- earcons -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("wake", 0.15, 0.25), ("done", 0.15, 0.25), ("error", 0.2, 0.4), ("timer", 1.3, 1.7)],
)
def test_earcon_durations(name: str, low: float, high: float) -> None:
    assert low <= seconds_of(earcon(name)) <= high


@pytest.mark.parametrize("name", list(EARCONS))
def test_earcon_level_and_fades(name: str) -> None:
    x = samples(earcon(name))
    assert 0.1 * 32767 < np.abs(x).max() < 0.5 * 32767  # moderate, well below full scale
    assert abs(x[0]) < 50 and abs(x[-1]) < 50
    fade = int(0.005 * RATE)
    assert np.abs(x[: fade // 4]).max() < 0.2 * np.abs(x).max()  # still ramping up
    assert np.abs(np.diff(x)).max() < 0.5 * 32767  # no click-sized jumps


def test_wake_rises_and_done_falls() -> None:
    def dominant(pcm: bytes, start: float, seconds: float) -> float:
        x = samples(pcm)[int(start * RATE) : int((start + seconds) * RATE)]
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(spectrum)])

    wake, done = earcon("wake"), earcon("done")
    first = dominant(wake, 0.0, 0.08)
    assert first == pytest.approx(880, abs=15)
    assert dominant(wake, 0.10, 0.08) > first * 1.3
    assert dominant(done, 0.0, 0.08) > dominant(done, 0.10, 0.08) * 1.3


def test_earcons_are_cached_and_unknown_names_listed() -> None:
    assert earcon("wake") is earcon("wake")
    with pytest.raises(ValueError, match="wake, done, error, timer"):
        earcon("fanfare")


def test_chinese_lines_are_joined_with_a_chinese_full_stop():
    said = speakable("# 天空\n天是蓝的。\n- 因为散射\n- 波长短")
    assert said == "天空。 天是蓝的。 因为散射。 波长短"
