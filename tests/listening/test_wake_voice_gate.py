"""The wake-word model runs only on windows with voice in them (``VOICE_GATE_MODE``).

The shipped model, the real webrtcvad and espeak-ng speech: a quiet room costs no model run, and
every window the gate lets through is scored exactly as without it.
"""

from __future__ import annotations

import numpy as np

from device.config.sources import load_config
from device.listening.tflite_wake import ModelCard, StreamingScorer
from device.speaking.tts import EspeakSynthesizer
from device.system.paths import resolved_wake_model

MODEL = resolved_wake_model(load_config(paths=[], env={}))


def quiet(seconds: float, seed: int = 0) -> np.ndarray:
    """A quiet room's hiss, about -64 dBFS."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 20, int(16000 * seconds)).astype("<i2")


def scored(samples: np.ndarray, voice_gate: bool) -> tuple[list[float], int]:
    scorer = StreamingScorer(MODEL, voice_gate=voice_gate)
    scores: list[float] = []
    for start in range(0, samples.size, 480):  # 30 ms chunks, as the listener's frames
        scores += scorer.scores(samples[start : start + 480])
    return scores, scorer.model_runs


def test_a_quiet_room_never_runs_the_model():
    room = quiet(6.0)
    gated, runs = scored(room, voice_gate=True)
    ungated, all_runs = scored(room, voice_gate=False)
    assert len(gated) == len(ungated) == all_runs > 40
    assert runs == 0 and set(gated) == {0.0}


def test_windows_with_voice_are_scored_as_without_the_gate():
    tts = EspeakSynthesizer("en-us+f2", 140, 50, volume_percent=100)
    talk = np.frombuffer(tts.synthesize("the meeting is at noon. hey zero, what time is it"), "<i2")
    # in the room's hiss, as a microphone hears it: after espeak-ng's digital silence, hiss alone
    # is voice to webrtcvad (its noise floor fell to zero)
    hiss = quiet(talk.size / 16000, seed=2)
    talk = np.clip(talk.astype(np.int32) + hiss, -32768, 32767).astype("<i2")
    audio = np.concatenate([quiet(2.0), talk, quiet(3.0, seed=1)])
    gated, runs = scored(audio, voice_gate=True)
    ungated, all_runs = scored(audio, voice_gate=False)
    assert len(gated) == len(ungated)
    assert 0 < runs < all_runs - 20  # the quiet before and after is skipped
    kept = [i for i, score in enumerate(gated) if score != 0.0]
    assert all(gated[i] == ungated[i] for i in kept)
    threshold = ModelCard.load(MODEL).threshold
    assert max(gated) == max(ungated) > threshold  # the phrase is heard through the gate
    skipped = [ungated[i] for i in range(len(gated)) if i not in kept]
    assert max(skipped) < threshold / 4  # what it skipped, the model scored as nothing


def test_a_long_recording_pushed_at_once_is_gated_as_in_frames():
    """``zeropin wakeword eval`` pushes whole recordings: seconds of voice at once must open the
    gate for each window they reach, as frame by frame."""
    tts = EspeakSynthesizer("en-us", 160, 50, volume_percent=100)
    words = "the meeting moved to thursday afternoon, could you pass me the salt please, " * 3
    talk = np.frombuffer(tts.synthesize(words), "<i2")
    hiss = quiet(talk.size / 16000, seed=3)
    audio = np.clip(talk.astype(np.int32) + hiss, -32768, 32767).astype("<i2")
    assert audio.size > 16000 * 10
    in_frames, runs = scored(audio, voice_gate=True)
    at_once = StreamingScorer(MODEL)
    assert list(at_once.scores(audio)) == in_frames
    assert at_once.model_runs == runs > len(in_frames) * 0.8
