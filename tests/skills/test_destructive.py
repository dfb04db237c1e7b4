"""Commands that destroy what the user keeps: never taken from a negation or a question, asked
about before they are done, and out of the cloud model's reach. Real SQLite files, real speech
through the real recogniser where the grammar matters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from device.cloud.client import ToolCall
from device.cloud.tools import TOOLS, Toolbox
from device.listening.asr import PocketsphinxRecognizer
from device.loop.brain import OFFLINE_ANSWER, OfflineBrain
from device.loop.router import BRAIN, Router, decide
from device.sim.voices import Speaker, Voice, room, with_noise
from device.skills.intents import (
    CONFIRMED,
    DESTRUCTIVE,
    SPECS,
    is_confirmation,
    jsgf_grammar,
    parse,
)
from device.skills.local import Skills
from device.skills.timers import Timers
from device.speaking.playback import Volume
from device.storage.database import Database
from device.storage.memory import ConversationStore, MemoryStore
from device.storage.notes import NoteStore


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # negations
        ("please don't delete my notes", None),
        ("do not erase my notes", None),
        ("never clear my notes", None),
        ("I don't want you to delete my notes", None),
        ("delete my notes, no", None),
        ("don't forget everything you know", None),
        ("hey zero, never forget what I told you", None),
        ("don't cancel the timer", None),
        ("never stop the pasta timer", None),
        # questions
        ("how do I delete my notes", None),
        ("can you tell me how to delete my notes", None),
        ("what happens if I delete my notes", None),
        ("should I clear all my notes", None),
        ("is it safe to delete the notes", None),
        ("why would you forget everything", None),
        ("how do I cancel a timer", None),
        # the commands, plain and polite
        ("delete all my notes", "notes_delete"),
        ("hey zero, please delete all my notes", "notes_delete"),
        ("could you clear my notes please", "notes_delete"),
        ("erase all of my notes", "notes_delete"),
        ("forget everything", "forget"),
        ("zero, forget what I told you", "forget"),
        ("never mind, forget everything", "forget"),  # "never mind" is not a negation
        ("cancel the timer", "timer_cancel"),
        ("stop the pasta timer", "timer_cancel"),
        # answers to the device's question
        ("yes", "confirm"),
        ("Yes, delete them.", "confirm"),
        ("confirm", "confirm"),
        ("no", "decline"),
        ("no, keep them", "decline"),
        ("yeah", None),
    ],
)
def test_destructive_commands_are_never_negated_or_asked_about(text: str, name: str | None):
    intent = parse(text)
    assert (intent.name if intent else None) == name, text


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("don't take a photo", None),  # a photo is not taken...
        ("never read this", None),  # ...and no camera frame leaves for the cloud
        ("please do not look at this", None),
        ("don't set a timer for five minutes", None),
        ("do not turn the volume up", None),
        ("dont mute", None),
        ("take a photo", "photo"),
        ("what am I looking at", "look"),  # a question, and meant
        ("read this", "look"),
        ("set a timer for five minutes", "timer_set"),
        ("turn it up", "volume_up"),
        ("take a note don't forget the milk", "note_add"),  # the negation is the note's
    ],
)
def test_acting_commands_are_never_negated(text: str, name: str | None):
    intent = parse(text)
    assert (intent and intent.name) == name


def test_destructive_intents_are_matched_by_their_words_only():
    """A near miss of "delete my notes" is what "don't delete my notes" is."""
    fuzzy = {spec.name for spec in SPECS if spec.fuzzy}
    assert set(CONFIRMED) <= set(DESTRUCTIVE) and not fuzzy & {*DESTRUCTIVE, "confirm"}


@pytest.mark.parametrize(
    ("text", "yes"),
    [
        ("yes", True),
        ("Yes please.", True),
        ("yes, delete them", True),
        ("yes delete my notes", True),
        ("yes, forget everything", True),
        ("I confirm", True),
        ("hey zero, yes", True),
        ("", False),
        ("no", False),
        ("yeah", False),
        ("yes but don't", False),
        ("no yes", False),
        ("cancel yes", False),  # the end of the question, heard again by the microphone
        ("yes delete them no", False),
        ("what", False),
    ],
)
def test_only_a_clear_yes_confirms(text: str, yes: bool):
    assert is_confirmation(text) is yes


def test_yes_and_no_outside_a_question_are_for_the_brain():
    assert [decide(t, "hey zero") for t in ("yes", "no", "confirm")] == [BRAIN] * 3


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[NoteStore, MemoryStore, ConversationStore]]:
    with Database(tmp_path / "zeropin.db") as database:
        yield NoteStore(database), MemoryStore(database), ConversationStore(database)


def _skills(stores: tuple[NoteStore, MemoryStore, ConversationStore], tmp_path: Path) -> Skills:
    notes, memory, conversation = stores
    return Skills(
        Timers(lambda: 0.0),
        notes,
        Volume(50),
        camera=None,
        photos_dir=tmp_path / "photos",
        state_dir=tmp_path,
        memory=memory,
        conversation=conversation,
    )


def test_deleting_notes_is_asked_first_and_done_only_when_confirmed(stores, tmp_path):
    notes, _, _ = stores
    for n in range(12):
        notes.add(f"note {n}")
    router = Router(_skills(stores, tmp_path), OfflineBrain(), "hey zero")
    asking = router.answer("hey zero, delete all my notes")
    asked = asking.confirmation
    assert asking.intent == "notes_delete" and asked is not None
    assert list(asking.fragments) == ["Delete all 12 notes? Say yes to confirm, or no to cancel."]
    assert (asked.action, asked.kept) == ("notes_delete", "OK, I kept your notes.")
    assert notes.count() == 12  # asking deleted nothing
    for text in ("please don't delete my notes", "how do I delete my notes", "yes"):
        answer = router.answer(text)  # "yes" with nothing asked: words for the brain
        assert (answer.intent, list(answer.fragments)) == (BRAIN, [OFFLINE_ANSWER]), text
    assert notes.count() == 12
    done = router.answer("yes", confirmed=asked.action)
    assert (done.intent, list(done.fragments)) == ("notes_delete", ["Deleted 12 notes."])
    assert notes.count() == 0
    nothing = router.answer("delete my notes")  # nothing to delete: nothing to ask
    assert nothing.confirmation is None and list(nothing.fragments) == ["You have no notes."]


def test_forgetting_is_asked_first(stores, tmp_path):
    _, memory, _ = stores
    for fact in ("my locker is 42", "my bike is blue", "my dog is Rex"):
        memory.remember(fact)
    skills = _skills(stores, tmp_path)
    asked = skills.confirmation(parse("forget everything"))
    assert asked is not None and asked.action == "forget"
    assert asked.question.startswith("Forget the 3 things you told me, and our conversation?")
    assert memory.count() == 3
    assert skills.confirmation(parse("cancel the timer")) is None  # a timer is set again at once


def test_the_cloud_model_has_no_tool_that_deletes(stores, tmp_path):
    """Every tool it may call, with arguments its schema allows, leaves notes and memories."""
    notes, memory, _ = stores
    notes.add("buy milk")
    memory.remember("my locker is 42")
    toolbox = Toolbox(_skills(stores, tmp_path), memory)
    for tool in TOOLS:
        function = tool["function"]
        properties = function["parameters"]["properties"]
        arguments = {
            key: spec.get("minimum", 1) if spec["type"] == "integer" else "milk"
            for key, spec in properties.items()
        }
        toolbox.run(ToolCall("call_1", function["name"], json.dumps(arguments)))
        assert notes.count() >= 1 and memory.count() >= 1, function["name"]
    destroying = ("delete", "forget", "clear", "erase", "remove", "wipe")
    assert not [t for t in TOOLS if any(word in json.dumps(t).lower() for word in destroying)]


def test_spoken_negations_and_questions_do_not_come_out_as_the_command():
    """Outside the command grammar, the free decoder hears them word for word ("please don't
    delete my notes"), and those words are not the command. An answer's yes and no are in the
    grammar, so the yes is heard as one."""
    recognizer = PocketsphinxRecognizer(jsgf_grammar(), lambda t: parse(t) is not None)
    say = Speaker(Voice("en-us+f2", 140))  # the demo's user, a tuning voice
    rng = np.random.default_rng(3)

    def decided(text: str) -> str:
        audio = np.concatenate(
            [room(rng, 0.3, 20.0), with_noise(say(text), 20.0, rng), room(rng, 0.6, 20.0)]
        ).tobytes()
        recognizer.start()
        for at in range(0, len(audio), 960):
            recognizer.feed(audio[at : at + 960])
        return recognizer.finish().text

    heard = {text: decided(text) for text in (
        "please don't delete my notes", "how do I delete my notes", "never clear my notes",
        "don't forget everything", "delete all my notes", "forget everything",
    )}  # fmt: skip
    decisions = {text: decide(words, "hey zero") for text, words in heard.items()}
    assert [decisions[t] for t in list(heard)[:4]] == [BRAIN] * 4, heard
    assert [decisions[t] for t in list(heard)[4:]] == ["notes_delete", "forget"], heard
    assert [is_confirmation(decided(t)) for t in ("yes", "yes delete them", "no")] == [
        True, True, False
    ]  # fmt: skip
