"""Phrase matching over recognised text, and the grammar built from it."""

import pytest

from device.listening.asr import PocketsphinxRecognizer
from device.skills.intents import (
    SPECS,
    jsgf_grammar,
    normalise,
    parse,
    wake_remnants,
    without_wake_words,
)


@pytest.mark.parametrize(
    ("text", "name", "slots"),
    [
        ("Hey zero, what time is it?", "time", {}),
        ("zero what is the time please", "time", {}),
        ("what's the date today", "date", {}),
        ("set a timer for ten seconds", "timer_set", {"seconds": "10.0"}),
        (
            "hey zero set a pasta timer for 5 minutes",
            "timer_set",
            {"seconds": "300.0", "name": "pasta"},
        ),
        ("set a timer", "timer_set", {}),
        ("cancel the timer", "timer_cancel", {}),
        ("volume up", "volume_up", {}),
        ("turn it down", "volume_down", {}),
        ("set the volume to fifty percent", "volume_set", {"percent": "50"}),
        ("mute", "mute", {}),
        ("unmute", "unmute", {}),
        ("stop", "stop", {}),
        ("say that again", "repeat", {}),
        ("take a picture", "photo", {}),
        ("take a note buy milk", "note_add", {"text": "buy milk"}),
        ("zero read my notes", "notes_read", {}),
        ("delete all my notes", "notes_delete", {}),
        ("can you tell me what can you do", "help", {}),
        ("zero please what can you do", "help", {}),
        ("what is the status", "status", {}),
        ("what tim is it", "time", {}),  # a dropped letter from the recogniser: fuzzy match
    ],
)
def test_parse(text, name, slots):
    intent = parse(text)
    assert intent is not None, text
    assert intent.name == name
    assert dict(intent.slots) == slots


@pytest.mark.parametrize(
    "text", ["why is the sky blue", "who won the football match", "", "zero", "tell me a joke"]
)
def test_questions_are_left_for_the_brain(text):
    assert parse(text) is None


def test_normalise_only_strips_wake_words_at_the_start():
    assert normalise("Hey Zero, set a timer for zero seconds!") == "set a timer for zero seconds"


def test_every_example_is_parsed_as_its_own_intent():
    for spec in SPECS:
        for example in spec.examples:
            intent = parse(example)
            assert intent is not None and intent.name == spec.name, example


def test_grammar_loads_into_pocketsphinx_with_every_word_known():
    PocketsphinxRecognizer(jsgf_grammar("hey zero"))  # raises ModelError on an unknown word


def test_wake_remnants_follow_the_configured_phrase():
    assert set(wake_remnants("hey zero")) == {
        "hey zero", "hi zero", "ok zero", "okay zero", "hey", "zero"
    }  # fmt: skip
    assert wake_remnants("computer") == ("computer",)
    assert parse("hey jarvis what time is it", "hey jarvis").name == "time"
    assert parse("hi jarvis, set a timer for ten seconds", "hey jarvis").name == "timer_set"
    assert without_wake_words("Jarvis, why is the sky blue?", "hey jarvis") == (
        "why is the sky blue?"
    )
    # another device's phrase is not stripped: "zero" is only a wake word where it is the phrase
    assert without_wake_words("Zero gravity, how does it feel?", "hey jarvis") == (
        "Zero gravity, how does it feel?"
    )
