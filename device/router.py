"""Decides who answers: a local skill when the words are a command, otherwise the brain."""

from __future__ import annotations

from collections.abc import Iterator

from device.brain import Brain
from device.intents import parse
from device.skills import Skills


class Router:
    def __init__(self, skills: Skills, brain: Brain) -> None:
        self.skills = skills
        self.brain = brain

    def route(self, text: str) -> tuple[str, Iterator[str]]:
        """The intent's name (or "brain") and the reply's text fragments."""
        intent = parse(text)
        if intent is None:
            return "brain", self.brain.reply(text)
        return intent.name, iter([self.skills.handle(intent)])
