"""The noise floor under the recogniser's audio: a clean, close voice is heard as a voice at a
metre is, and a room that is loud already is left alone. The real listener, shipped wake word and
pocketsphinx recogniser hear espeak-ng speech."""

from __future__ import annotations

import numpy as np

from device.app import build_wake
from device.config.sources import load_config
from device.events import Heard, ListenMode, WakeWordDetected
from device.listening.asr import PocketsphinxRecognizer
from device.listening.floor import NoiseFloor
from device.listening.frames import frame_rms
from device.listening.listener import Listener
from device.listening.vad import EndpointSettings
from device.skills.intents import jsgf_grammar, parse
from device.speaking.tts import EspeakSynthesizer
from drivers.audio_format import RATE

CFG = load_config(paths=[], env={})
FRAME = RATE * 30 // 1000


def _noise(rms: float, seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, rms, int(seconds * RATE))


def _frames(samples: np.ndarray) -> list[bytes]:
    pcm = np.clip(samples, -32768, 32767).astype("<i2")
    return [pcm[i : i + FRAME].tobytes() for i in range(0, len(pcm) - FRAME + 1, FRAME)]


def _db(ratio: float) -> float:
    return 20 * np.log10(ratio)


def _loud_phrase() -> list[bytes]:
    """A second of a tone at about -15 dBFS, standing in for the wake phrase."""
    return _frames(np.sin(np.arange(RATE) / 5) * 8000)


def test_a_quiet_room_is_raised_to_the_floor_under_the_phrase() -> None:
    floor = NoiseFloor()
    for frame in _frames(_noise(30, 3.0)):  # about -60 dBFS
        floor.hear(frame)
    floor.start(_loud_phrase(), phrase=True)
    silence = _frames(_noise(30, 1.0, seed=1))
    raised = np.mean([frame_rms(floor.apply(f)) for f in silence])
    assert abs(_db(floor.voice_rms / raised) - floor.floor_db) < 0.5


def test_a_room_as_loud_as_the_floor_is_left_alone() -> None:
    floor = NoiseFloor()
    for frame in _frames(_noise(300, 3.0)):
        floor.hear(frame)
    floor.start(_loud_phrase(), phrase=True)
    frame = _frames(_noise(300, 0.03, seed=2))[0]
    assert floor.added_rms == 0.0 and floor.apply(frame) == frame


def test_nothing_is_added_without_a_voiced_wake_phrase() -> None:
    floor = NoiseFloor()
    for frame in _frames(_noise(30, 3.0)):
        floor.hear(frame)
    floor.start(_loud_phrase(), phrase=False)  # a press
    assert floor.added_rms == 0.0
    floor.start(_frames(_noise(30, 0.5, seed=4)), phrase=True)  # no voice in it after all
    assert floor.added_rms == 0.0


def _heard_in_a_row(texts: list[str], floor: NoiseFloor) -> list[str]:
    """What the listener heard of "hey zero, TEXT" for each text in turn, said loud and close in
    a quiet room. The audio each utterance keeps is the microphone's, without the floor."""
    recognizer = PocketsphinxRecognizer(
        jsgf_grammar("hey zero"), lambda t: parse(t, "hey zero") is not None, "hey zero"
    )
    listener = Listener(build_wake(CFG), recognizer, EndpointSettings(), floor=floor)
    tts = EspeakSynthesizer("en-us", 175, 50, volume_percent=100)  # about -19 dBFS when voiced
    phrase = np.frombuffer(tts.synthesize("hey zero"), "<i2").astype(np.float64)
    heard, microphone = [], bytearray()
    for index, text in enumerate(texts):
        said = np.frombuffer(tts.synthesize(text), "<i2").astype(np.float64)
        speech = np.concatenate([np.zeros(2 * RATE), phrase, np.zeros(RATE // 2), said])
        speech = np.concatenate([speech, np.zeros(2 * RATE)])
        pcm = np.clip(speech + _noise(30, len(speech) / RATE, index), -32768, 32767)
        microphone += pcm.astype("<i2").tobytes()
        events = listener.process(pcm.astype("<i2").tobytes())
        while events:
            if isinstance(events[0], WakeWordDetected):
                listener.set_mode(ListenMode.UTTERANCE, "wake")
            elif isinstance(events[0], Heard):
                heard.append(events[0].text)
                assert events[0].audio and events[0].audio in microphone
                listener.set_mode(ListenMode.WAKE)
            events = listener.process(b"")
    return heard


def test_a_loud_voice_in_a_quiet_room_is_heard_with_the_floor() -> None:
    texts = ["what time is it", "read my notes", "stop", "cancel the timer", "what time is it"]
    wanted = [f"hey zero {text}" for text in texts]
    assert _heard_in_a_row(texts, NoiseFloor()) == wanted
    # the same voice without it (a floor far below anything the room can be)
    assert _heard_in_a_row(texts, NoiseFloor(floor_db=200.0)) != wanted
