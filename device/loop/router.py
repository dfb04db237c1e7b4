"""Decides who answers: a local skill when the words are a command, otherwise the brain.

"What am I looking at" and its kin are recognised locally (they are in the command grammar, so
the offline recogniser hears them reliably) and sent to the brain with the camera's view; so is
any question asked after a long press of the button. Speech heard without words the recogniser
could vouch for (``Heard`` with no text, see ``device.listening.listener``) is neither acted on
nor sent anywhere: the device says it did not catch that.

A command that cannot be undone ("delete my notes") is not carried out: the reply is the skill's
question, and the answer says so (``Answer.confirmation``); the voice loop listens for the yes and
asks again with ``confirmed``. "Yes" or "no" heard anywhere else is words for the brain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from device.cancel import Cancellation
from device.events import Heard
from device.loop.brain import Brain
from device.skills.intents import ANSWERS, Intent, parse, without_wake_words
from device.skills.local import Confirmation, Skills

LOOK = "look"  # the intent that sends the camera's view to the brain
BRAIN = "brain"  # not a command: the question goes to the brain
NOT_CAUGHT = "not_caught"  # speech the recogniser was not sure of: nothing is done with it
NOT_CAUGHT_REPLY = "Sorry, I didn't catch that."


def decide(text: str, wake_phrase: str) -> str:
    """Who answers ``text``: an intent's name, ``BRAIN``, or ``NOT_CAUGHT`` for no words."""
    if not text.strip():
        return NOT_CAUGHT
    intent = parse(text, wake_phrase)
    return BRAIN if intent is None or intent.name in ANSWERS else intent.name


@dataclass(frozen=True)
class Answer:
    """Who answered (an intent's name, ``BRAIN`` or ``NOT_CAUGHT``) and the reply's fragments."""

    intent: str
    fragments: Iterator[str]
    confirmation: Confirmation | None = None  # asked, not done: the action waits for a yes


class Router:
    def __init__(self, skills: Skills, brain: Brain, wake_phrase: str) -> None:
        self.skills = skills
        self.brain = brain
        self.wake_phrase = wake_phrase  # what of it the recogniser heard is not the question

    def route(
        self,
        text: str,
        *,
        look: bool = False,
        cancel: Cancellation | None = None,
        heard: Heard | None = None,
    ) -> tuple[str, Iterator[str]]:
        """``answer``'s intent and fragments (a question asked is then not followed up)."""
        answer = self.answer(text, look=look, cancel=cancel, heard=heard)
        return answer.intent, answer.fragments

    def answer(
        self,
        text: str,
        *,
        look: bool = False,
        cancel: Cancellation | None = None,
        heard: Heard | None = None,
        confirmed: str = "",
    ) -> Answer:
        """Who answers ``text`` and what they say.

        ``look``: the user long-pressed the button, so a question goes out with a photo.
        ``heard``: the utterance ``text`` came from, for the skills that keep its audio.
        ``confirmed``: an action ``text`` said yes to, carried out now.
        """
        if confirmed:
            return Answer(confirmed, iter([self.skills.handle(Intent(confirmed))]))
        if not text.strip():
            return Answer(NOT_CAUGHT, iter([NOT_CAUGHT_REPLY]))
        intent = parse(text, self.wake_phrase)
        question = without_wake_words(text, self.wake_phrase)
        if intent is not None and intent.name == LOOK:
            return Answer(LOOK, self.brain.reply(question, look=True, cancel=cancel))
        if intent is None or intent.name in ANSWERS:
            return Answer(BRAIN, self.brain.reply(question, look=look, cancel=cancel))
        confirmation = self.skills.confirmation(intent)
        if confirmation is not None:
            return Answer(intent.name, iter([confirmation.question]), confirmation)
        return Answer(intent.name, iter([self.skills.handle(intent, heard)]))
