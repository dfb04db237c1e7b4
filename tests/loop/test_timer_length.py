"""A timer asked for without a length: the device asks "For how long?", and a length said alone
next ("five minutes", or a bare number, which is minutes) sets it; anywhere else such words are
for the brain.

The router with the real skills and timers; then the whole voice loop in the simulator, where
the answer is spoken (espeak-ng) without the wake word, in the follow-up the question opens.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from device.app import build_wake
from device.config.sources import load_config
from device.errors import ModelError
from device.events import ListenMode
from device.listening.asr import PocketsphinxRecognizer
from device.listening.listener import Listener
from device.listening.vad import EndpointSettings
from device.loop.brain import OFFLINE_ANSWER, OfflineBrain
from device.loop.follow_up import FollowUps
from device.loop.router import BRAIN, Router, decide
from device.sim.demo import Step, run_demo
from device.sim.voices import Speaker, Voice, room, with_noise
from device.skills.intent_specs import SPECS
from device.skills.intents import jsgf_grammar, parse
from device.skills.local import ASK_LENGTH, Skills
from device.skills.timers import Timers
from device.speaking.playback import Volume
from device.storage.database import Database
from device.storage.notes import NoteStore


@pytest.fixture
def timers_and_router(tmp_path: Path):
    timers = Timers(lambda: 0.0)
    with Database(tmp_path / "zeropin.db") as database:
        skills = Skills(
            timers,
            NoteStore(database),
            Volume(50),
            camera=None,
            photos_dir=tmp_path / "photos",
            state_dir=tmp_path,
        )
        yield timers, Router(skills, OfflineBrain(), "hey zero")


@pytest.mark.parametrize(
    ("said", "seconds"),
    [
        ("five minutes", 300.0),
        ("for ten seconds", 10.0),
        ("an hour", 3600.0),
        ("two and a half minutes", 150.0),
        ("one minute and thirty seconds", 90.0),
        ("5 minutes", 300.0),  # a cloud transcript's digits
        ("five", 300.0),  # a number alone is minutes
        ("hey zero twenty", 1200.0),
    ],
)
def test_a_length_said_alone_is_the_answer_to_for_how_long(said, seconds):
    intent = parse(said)
    assert intent is not None and intent.name == "timer_length"
    assert float(intent.slots["seconds"]) == seconds
    assert decide(said, "hey zero") == BRAIN  # out of that question: words for the brain


@pytest.mark.parametrize(
    "said", ["i will be there in five minutes", "minutes", "and", "a", "five minutes ago"]
)
def test_other_words_with_numbers_are_no_length(said):
    intent = parse(said)
    assert intent is None or intent.name != "timer_length"


def test_the_timer_asks_for_a_length_and_the_next_words_give_it(timers_and_router):
    timers, router = timers_and_router
    asked = router.answer("hey zero set a timer")
    assert asked.intent == "timer_set" and list(asked.fragments) == [ASK_LENGTH]
    assert asked.expects == "length"  # the recogniser is told to hear lengths alone
    assert FollowUps().invited_by(ASK_LENGTH)  # so the answer needs no wake word
    assert timers.active() == []
    answered = router.answer("five")
    assert answered.intent == "timer_set"
    assert list(answered.fragments) == ["OK, timer set for 5 minutes."]
    assert [t.duration_seconds for t in timers.active()] == [300.0]


def test_only_the_next_words_answer_the_question(timers_and_router):
    timers, router = timers_and_router
    router.answer("set a timer")
    other = router.answer("what time is it")
    assert other.intent == "time" and other.expects == ""
    late = router.answer("ten minutes")
    assert (late.intent, list(late.fragments)) == (BRAIN, [OFFLINE_ANSWER])
    assert timers.active() == []
    unasked = router.answer("ten minutes")  # and never without the question
    assert unasked.intent == BRAIN and timers.active() == []


def test_a_length_out_of_range_is_said_so(timers_and_router):
    timers, router = timers_and_router
    router.answer("set a timer")
    too_long = router.answer("ninety hours")
    assert list(too_long.fragments) == ["Timers can run from one second to one day."]
    assert timers.active() == []


def test_in_the_voice_loop_the_answer_needs_no_wake_word(tmp_path):
    cfg = load_config(paths=[], env={}, overrides=["asr.vosk_model=/nonexistent/vosk"])
    cfg = dataclasses.replace(cfg, wake=dataclasses.replace(cfg.wake, follow_up="question"))
    steps = (
        Step("testing the microphone, one, two, three"),  # the recogniser adapts to the room
        Step("hey zero, set a timer"),
        Step("ten seconds", follow_up=True),
    )
    reports = run_demo(cfg, tmp_path / "out", steps=steps, state_dir=tmp_path)
    assert [(r.trigger, r.intent) for r in reports] == [
        ("wake", "timer_set"),
        ("follow_up", "timer_set"),
    ]
    assert reports[0].said == ASK_LENGTH
    assert reports[1].heard == "ten seconds"
    assert reports[1].said == "OK, timer set for 10 seconds."


def test_the_recogniser_hears_a_length_alone_only_while_one_is_asked_for():
    """Numbers alone fit much misheard speech, so they are in the grammar only then."""
    grammar = {spec.name: spec.grammar for spec in SPECS}
    answers = jsgf_grammar(expecting="length")
    assert grammar["timer_length"] in answers and grammar["timer_length"] not in jsgf_grammar()
    # the answer, or "stop", or anything else as a question: no other command is searched
    assert grammar["stop"] in answers and grammar["time"] not in answers
    recognizer = PocketsphinxRecognizer(
        jsgf_grammar(),
        lambda t: parse(t) is not None,
        wake_phrase="hey zero",
        answers={"length": jsgf_grammar(expecting="length")},
    )
    rng = np.random.default_rng(0)
    say = Speaker(Voice("en-us+m3", 150))  # a tuning voice
    recognizer.adapt(
        with_noise(say("testing the microphone, one, two, three"), 20.0, rng).tobytes()
    )
    speech = [
        room(rng, 0.3, 20.0),
        with_noise(say("five minutes"), 20.0, rng),
        room(rng, 0.6, 20.0),
    ]
    audio = np.concatenate(speech).tobytes()

    def heard(expecting: str) -> str:
        recognizer.expecting = expecting
        recognizer.start()
        recognizer.feed(audio)
        return recognizer.finish().text

    assert heard("length") == "five minutes"
    assert heard("") != "five minutes"
    assert heard("colour") != "five minutes"  # an answer it has no grammar for: commands


def test_the_listener_passes_on_what_the_device_asked():
    cfg = load_config(paths=[], env={})
    recognizer = PocketsphinxRecognizer(jsgf_grammar(), wake_phrase="hey zero")
    listener = Listener(build_wake(cfg), recognizer, EndpointSettings())
    listener.expecting = "length"
    listener.set_mode(ListenMode.UTTERANCE, "follow_up")
    assert recognizer.expecting == "length"
    listener.set_mode(ListenMode.WAKE)
    listener.expecting = ""
    listener.set_mode(ListenMode.UTTERANCE, "wake")
    assert recognizer.expecting == ""


def test_a_broken_answer_grammar_is_named_when_the_recogniser_is_built():
    broken = "#JSGF V1.0;\ngrammar x;\npublic <u> = five (;\n"
    with pytest.raises(ModelError, match="the length grammar did not load into pocketsphinx"):
        PocketsphinxRecognizer(jsgf_grammar(), answers={"length": broken})
