"""Decides who answers: a local skill when the words are a command, otherwise the brain.

"What am I looking at" and its kin are recognised locally (they are in the command grammar, so
the offline recogniser hears them reliably) and sent to the brain with the camera's view; so is
any question asked after a long press of the button. Speech heard without words the recogniser
could vouch for (``Heard`` with no text, see ``device.listening.listener``) is neither acted on
nor sent anywhere: the device says it did not catch that.
"""

from __future__ import annotations

from collections.abc import Iterator

from device.cancel import Cancellation
from device.events import Heard
from device.loop.brain import Brain
from device.skills.intents import parse, without_wake_words
from device.skills.local import Skills

LOOK = "look"  # the intent that sends the camera's view to the brain
BRAIN = "brain"  # not a command: the question goes to the brain
NOT_CAUGHT = "not_caught"  # speech the recogniser was not sure of: nothing is done with it
NOT_CAUGHT_REPLY = "Sorry, I didn't catch that."


def decide(text: str, wake_phrase: str) -> str:
    """Who answers ``text``: an intent's name, ``BRAIN``, or ``NOT_CAUGHT`` for no words."""
    if not text.strip():
        return NOT_CAUGHT
    intent = parse(text, wake_phrase)
    return BRAIN if intent is None else intent.name


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
        """The intent's name ("brain" for the cloud) and the reply's text fragments.

        ``look``: the user long-pressed the button, so a question goes out with a photo.
        ``heard``: the utterance ``text`` came from, for the skills that keep its audio.
        """
        if not text.strip():
            return NOT_CAUGHT, iter([NOT_CAUGHT_REPLY])
        intent = parse(text, self.wake_phrase)
        question = without_wake_words(text, self.wake_phrase)
        if intent is not None and intent.name == LOOK:
            return LOOK, self.brain.reply(question, look=True, cancel=cancel)
        if intent is None:
            return BRAIN, self.brain.reply(question, look=look, cancel=cancel)
        return intent.name, iter([self.skills.handle(intent, heard)])
