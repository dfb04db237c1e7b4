"""Speech synthesisers besides espeak-ng, used when installed: flite and festival.

espeak-ng makes speech from formant rules; flite and festival join recorded diphones or drive a
statistical model of one real speaker (clustergen, HTS). A model that has heard all three leans
less on how any one engine sounds, and each engine keeps one speaker back for the held-out test.

Their voices are named ``engine:voice`` (``flite:slt``, ``festival:kal_diphone``) beside
espeak-ng's, and speak at a rate and pitch given as espeak-ng's words per minute and 0..99.

    sudo apt install flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soxr

from device.errors import TtsError
from drivers.audio_format import RATE, read_wav

# Voices that say any text (flite's awb_time only says the time); kal and kal16 are one speaker.
FLITE_VOICES = ("awb", "kal", "kal16", "rms", "slt")
# Speakers no training voice of any engine shares: the test set's, never trained on.
HELD_OUT = ("flite:awb", "festival:ked_diphone")
FESTIVAL_BATCH = 24  # utterances per festival run: starting it costs about 0.3 s
TIMEOUT_SECONDS = 60.0
# The voices' own mean pitch in Hz, so espeak-ng's pitch 50 leaves a voice as it is.
FLITE_PITCH_HZ = {"slt": 170.0}
FLITE_DEFAULT_PITCH_HZ = 105.0


def _run(command: list[str], text: str | None = None) -> None:
    try:
        subprocess.run(
            command,
            input=None if text is None else text.encode("utf-8"),
            capture_output=True,
            check=True,
            timeout=TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise TtsError(f"{command[0]} failed: {exc}") from exc


@functools.cache
def voices() -> tuple[str, ...]:
    """Every installed voice of these engines, as ``engine:voice``; none when none is installed."""
    found: list[str] = []
    if shutil.which("flite"):
        listing = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=10)
        have = set(listing.stdout.split(":", 1)[-1].split())
        found += [f"flite:{v}" for v in FLITE_VOICES if v in have]
    if shutil.which("festival") and shutil.which("text2wave"):
        listing = subprocess.run(
            ["festival", "--batch", "(print (voice.list))"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        found += [f"festival:{v}" for v in sorted(listing.stdout.strip("()\n ").split())]
    return tuple(found)


def is_other_engine(voice: str) -> bool:
    return ":" in voice


def _stretch(rate_wpm: int) -> float:
    return 175 / rate_wpm  # espeak-ng's default rate is 175 words per minute


def _flite(voice: str, rate_wpm: int, pitch: int, text: str, out: Path) -> None:
    hz = FLITE_PITCH_HZ.get(voice, FLITE_DEFAULT_PITCH_HZ) * 2 ** ((pitch - 50) / 100)
    _run(["flite", "-voice", voice, "--setf", f"duration_stretch={_stretch(rate_wpm):.3f}",
          "--setf", f"int_f0_target_mean={hz:.0f}", "-t", text, "-o", str(out)])  # fmt: skip


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _festival(voice: str, jobs: list[tuple[int, str]], folder: Path) -> list[Path]:
    """One festival run for many (rate, text) in one voice (HTS voices ignore the rate)."""
    lines = [f"(voice_{voice})"]
    paths = []
    for index, (rate_wpm, text) in enumerate(jobs):
        path = folder / f"{index}.wav"
        lines.append(f"(Parameter.set 'Duration_Stretch {_stretch(rate_wpm):.3f})")
        lines.append(f"(utt.save.wave (utt.synth (Utterance Text {_scheme_string(text)})) "
                     f"{_scheme_string(str(path))} 'riff)")  # fmt: skip
        paths.append(path)
    script = folder / "say.scm"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _run(["festival", "--batch", str(script)])
    return paths


def say_many(voice: str, jobs: list[tuple[int, int, str]]) -> list[np.ndarray]:
    """int16 16 kHz speech of every (rate_wpm, pitch, text), in ``voice`` (``engine:voice``)."""
    engine, name = voice.split(":", 1)
    with tempfile.TemporaryDirectory(prefix="zeropin-tts-") as scratch:
        folder = Path(scratch)
        if engine == "festival":
            paths = _festival(name, [(rate, text) for rate, _, text in jobs], folder)
        elif engine == "flite":
            paths = []
            for index, (rate, pitch, text) in enumerate(jobs):
                paths.append(folder / f"{index}.wav")
                _flite(name, rate, pitch, text, paths[-1])
        else:
            raise TtsError(f"{voice}: no such speech engine (flite or festival)")
        try:
            clips = [np.frombuffer(read_wav(path), dtype="<i2").copy() for path in paths]
        except (OSError, ValueError) as exc:
            raise TtsError(f"{engine} wrote no speech for {voice}: {exc}") from exc
    if engine == "festival":  # no pitch setting that all its voices obey: play faster or slower
        clips = [_played_at(clip, 2 ** ((pitch - 50) / 100)) for clip, (_, pitch, _) in
                 zip(clips, jobs, strict=True)]  # fmt: skip
    return clips


def _played_at(clip: np.ndarray, speed: float) -> np.ndarray:
    """``clip`` played ``speed`` times as fast: pitch and tempo move together."""
    floats = soxr.resample(clip.astype(np.float32) / 32768.0, RATE * speed, RATE)
    return (np.clip(floats, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)
