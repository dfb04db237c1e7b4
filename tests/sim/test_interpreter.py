"""Conversation translation through the real pipeline: "translate for me between English and
Spanish", then an English speaker and a Spanish one (espeak-ng's Spanish voice) each heard
without the wake word, each answered in the other language by that language's voice, until
the button ends it. The loopback server transcribes (knowing what was said: the stand-in for a
cloud recogniser, ``device.sim.meeting``) and its scripted model translates."""

from __future__ import annotations

import wave
from dataclasses import replace
from pathlib import Path

import numpy as np

from device.config.sources import load_config
from device.loop.states import State
from device.sim.cloud_demo import loopback_provider
from device.sim.demo import ROOM_NOISE_RMS, USER_VOICE, Step, run_demo
from device.sim.meeting import ScriptTranscriber, SpokenLine
from device.skills.languages import TRANSLATION_OFFLINE
from device.speaking.tts import EspeakSynthesizer
from drivers.buttons import simulated_pin_factory
from drivers.leds import LedPattern, NoLed, PrivacyLed

CFG = load_config(paths=[], env={}, overrides=["asr.vosk_model=/nonexistent/vosk"])
SOUND_CHECK = "testing the microphone, one, two, three, four, five"
START = "hey zero, translate for me between english and spanish"
ENGLISH = "where is the station"
SPANISH = "está detrás del museo"


def test_each_utterance_is_said_in_the_other_language_until_the_button(tmp_path: Path) -> None:
    voice, rate, pitch = USER_VOICE
    wearer = EspeakSynthesizer(voice, rate, pitch, volume_percent=100)
    spanish_speaker = EspeakSynthesizer("es", 150, 40, volume_percent=100).synthesize(SPANISH)
    # in a room: digital silence after it would throw webrtcvad's idea of the noise floor
    said = np.frombuffer(spanish_speaker, "<i2").astype(np.float64)
    said += np.random.default_rng(3).normal(0, ROOM_NOISE_RMS, len(said))
    in_the_room = np.clip(said, -32768, 32767).astype("<i2").tobytes()
    known = [SpokenLine(voice, t, 0.0, wearer.synthesize(t)) for t in (SOUND_CHECK, START, ENGLISH)]
    known.append(SpokenLine("es", SPANISH, 0.0, spanish_speaker))
    states: list[State] = []
    shown: list[LedPattern] = []
    with (
        loopback_provider() as (server, provider),
        PrivacyLed(16, pin_factory=simulated_pin_factory()) as privacy_led,
    ):
        server.transcript = ScriptTranscriber(known)
        reports = run_demo(
            CFG,
            tmp_path,
            steps=(
                Step(SOUND_CHECK),
                Step(START),
                Step(ENGLISH, follow_up=True),  # no wake word: the device is translating
                Step(audio=in_the_room, follow_up=True),
                Step(pause_seconds=2.0, follow_up=True),  # the room, while the device hears it
                Step(press_button=True, follow_up=True),  # ends it
                Step(pause_seconds=2.0),
            ),
            providers=[replace(provider, transcription_model="loopback-transcribe")],
            light=NoLed(on_change=shown.append),
            privacy_led=privacy_led,  # audio leaves only with a light showing it
            on_state=lambda state, _: states.append(state),
        )
        chats = [r.body for r in server.requests if r.path == "/v1/chat/completions"]
    turns = [(r.trigger, r.intent, r.said) for r in reports]
    assert turns == [
        ("wake", "interpret", "Translating between English and Spanish. Press the button to stop."),
        ("interpret", "interpret", "¿Dónde está la estación?"),
        ("interpret", "interpret", "It is behind the museum."),
    ]
    assert states.count(State.INTERPRETING) == 3 and states[-1] is State.IDLE
    assert LedPattern.TRANSLATING in shown and shown[-1] is LedPattern.IDLE
    assert len(chats) == 2 and all(
        "English or in Spanish" in c["messages"][0]["content"] for c in chats
    )
    # each translation in its language's voice: as long as espeak-ng's voice for it makes it
    for report, code in zip(reports[1:], ("es", "en-us"), strict=True):
        said = EspeakSynthesizer(code, CFG.tts.rate_wpm, CFG.tts.pitch).synthesize(report.said)
        with wave.open(report.reply_wav) as wav:
            assert wav.getnframes() * 2 == len(said), report.said


def test_offline_it_says_translation_needs_the_cloud_and_does_not_start(tmp_path: Path) -> None:
    states: list[State] = []
    reports = run_demo(
        CFG,
        tmp_path,
        steps=(Step(SOUND_CHECK), Step(START)),
        on_state=lambda state, _: states.append(state),
    )
    assert [(r.intent, r.said) for r in reports] == [("interpret", TRANSLATION_OFFLINE)]
    assert State.INTERPRETING not in states
