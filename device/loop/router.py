"""Decides who answers: a local skill when the words are a command, otherwise the brain.

"What am I looking at" and its kin are recognised locally (they are in the command grammar, so
the offline recogniser hears them reliably) and sent to the brain with the camera's view; so is
any question asked after a long press of the button. Speech heard without words the recogniser
could vouch for (``Heard`` with no text, see ``device.listening.listener``) is neither acted on
nor sent anywhere: the device says it did not catch that.

A command that cannot be undone ("delete my notes") is not carried out: the reply is the skill's
question, and the answer says so (``Answer.confirmation``); the voice loop listens for the yes and
asks again with ``confirmed``. "Yes" or "no" heard anywhere else is words for the brain. The brain
may end an answer with such a question too (before a tool that acts in the world): its last
fragment is then an ``Asking``, known only once the answer has been read (``Answer.asks``), and a
yes to it runs the rest of that answer. "Set a timer" without a length is answered "For how
long?", and a length said alone next ("five minutes", or "five", which is minutes) sets it.

"Translate ... into Spanish" goes to the translator (``device.skills.languages``), and its
answer carries the language it is in (``Answer.language``), for the voice that says it. "Translate
for me between English and Spanish" starts conversation translation (``Answer.interpreting``):
then every utterance the loop hears for it (trigger "interpret") is translated into the other
language of the pair, whatever its words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from device.cancel import Cancellation
from device.events import Heard
from device.loop.brain import Brain
from device.skills.chinese import has_chinese
from device.skills.intents import ANSWERS, CONFIRMED, Intent, parse, without_wake_words
from device.skills.languages import (
    CONVERSATION_UNHEARD,
    TRANSLATION_OFFLINE,
    Language,
    OfflineTranslator,
    Translator,
    language_named,
)
from device.skills.local import VISITOR_RESET, Asking, Confirmation, Skills
from device.skills.recordings import RECORDING_TOGGLE

LOOK = "look"  # the intent that sends the camera's view to the brain
BRAIN = "brain"  # not a command: the question goes to the brain
TRANSLATE = "translate"  # answered by the translator, in the voice of the language asked for
INTERPRET = "interpret"  # conversation translation: started, then each utterance translated
NOT_CAUGHT = "not_caught"  # speech the recogniser was not sure of: nothing is done with it
TIMER_LENGTH = "timer_length"  # a length said alone: the answer to a timer's "For how long?"
NOT_CAUGHT_REPLY = "Sorry, I didn't catch that."
NO_LONGER_ASKED = "I didn't do it: that question was no longer open."
# Said in the device's language: nothing was understood, so nothing says which else to use.
IN_CHINESE = {
    NOT_CAUGHT_REPLY: "对不起，我没听清。",
    NO_LONGER_ASKED: "我没有做：那个问题已经不算数了。",
}


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
    language: str = ""  # the code of the language the reply is in, when not the device's own
    interpreting: bool = False  # it starts conversation translation (``device.loop.states``)
    # a question the fragments themselves may end with, known once they have all been read
    asked_in_fragments: Callable[[], Confirmation | None] | None = None
    expects: str = ""  # what the reply asked to be told next ("length"), for the recogniser

    def asks(self) -> Confirmation | None:
        """The question this answer asked, if any; call it once the fragments have been read."""
        if self.asked_in_fragments is not None:
            return self.asked_in_fragments()
        return self.confirmation


class Router:
    def __init__(
        self,
        skills: Skills,
        brain: Brain,
        wake_phrase: str,
        translator: Translator | None = None,
        language: str = "en",
    ) -> None:
        self.skills = skills
        self.language = language  # the device's: what it says when it understood nothing
        self.brain = brain
        self.translator = translator or OfflineTranslator()
        self._pair: tuple[Language, Language] | None = None  # the conversation's two languages
        self.wake_phrase = wake_phrase  # what of it the recogniser heard is not the question
        # the rest of a brain's answer that asked before acting, by its action: done on a yes
        self._waiting: dict[str, Callable[[str, Cancellation], Iterator[str]]] = {}
        self._asked_length = False  # the last answer asked how long a timer should run

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
        waiting, self._waiting = self._waiting, {}  # only the last question can be answered
        asked_length, self._asked_length = self._asked_length, False
        if confirmed in waiting:
            return self._from_brain(waiting[confirmed](text, cancel or Cancellation()))
        if confirmed in (*CONFIRMED, VISITOR_RESET, RECORDING_TOGGLE):  # questions, a gesture
            done = self.skills.handle(Intent(confirmed, language=self._language_of(text)))
            return Answer(confirmed, iter([done]))
        if confirmed:  # a yes to a question another answer has since replaced
            return Answer(BRAIN, iter([self._said(NO_LONGER_ASKED)]))
        if heard is not None and heard.trigger == "interpret" and self._pair is not None:
            return self._interpreted(heard, cancel)
        if not text.strip():
            return Answer(NOT_CAUGHT, iter([self._said(NOT_CAUGHT_REPLY)]))
        intent = parse(text, self.wake_phrase)
        if asked_length and intent is not None and intent.name == TIMER_LENGTH:
            intent = Intent("timer_set", intent.slots, intent.text, intent.language)
        question = without_wake_words(text, self.wake_phrase)
        if intent is not None and intent.name == LOOK:
            reply = self.brain.reply(question, look=True, cancel=cancel)
            return self._from_brain(reply, LOOK)
        if intent is None or intent.name in ANSWERS:
            return self._from_brain(self.brain.reply(question, look=look, cancel=cancel))
        if intent.name == TRANSLATE:
            return self._translated(intent, cancel)
        if intent.name == INTERPRET:
            return self._interpreting(intent)
        confirmation = self.skills.confirmation(intent)
        if confirmation is not None:
            return Answer(intent.name, iter([confirmation.question]), confirmation)
        self._asked_length = intent.name == "timer_set" and "seconds" not in intent.slots
        expects = "length" if self._asked_length else ""
        return Answer(intent.name, iter([self.skills.handle(intent, heard)]), expects=expects)

    def _language_of(self, text: str) -> str:
        """What a yes (or a gesture, with no words) was said in, for the reply to be too."""
        if has_chinese(text):
            return "zh"
        return "en" if text.strip() else self.language

    def _said(self, sentence: str) -> str:
        return IN_CHINESE.get(sentence, sentence) if self.language == "zh" else sentence

    def _translated(self, intent: Intent, cancel: Cancellation | None) -> Answer:
        """The translation, said in its language's voice; or why there is none."""
        language = language_named(intent.slots["language"])
        assert language is not None  # the intent is only parsed for a language it knows
        done = self.translator.translate(intent.slots["text"], language, cancel)
        return Answer(TRANSLATE, iter([done.text]), language=done.language)

    def _interpreting(self, intent: Intent) -> Answer:
        """Conversation translation starts, when there is a cloud to translate."""
        first, second = (language_named(intent.slots[k]) for k in ("first", "second"))
        assert first is not None and second is not None  # parsed only for languages it knows
        if not self.translator.online:
            return Answer(INTERPRET, iter([TRANSLATION_OFFLINE]))
        if not self.translator.hears:
            return Answer(INTERPRET, iter([CONVERSATION_UNHEARD]))
        self._pair = (first, second)
        said = (
            f"Translating between {first.name.title()} and {second.name.title()}. "
            "Press the button to stop."
        )
        return Answer(INTERPRET, iter([said]), interpreting=True)

    def _interpreted(self, heard: Heard, cancel: Cancellation | None) -> Answer:
        """One utterance of the conversation, in the other language; what a cloud transcribed
        is used as it is, anything else is transcribed from its audio."""
        assert self._pair is not None
        words = heard.text if heard.engine == "cloud" else ""
        done = self.translator.interpret(words, heard.audio, self._pair, cancel)
        return Answer(INTERPRET, iter([done.text]), language=done.language)

    def _from_brain(self, fragments: Iterator[str], intent: str = BRAIN) -> Answer:
        """The brain's answer, watched for a question before acting (an ``Asking``)."""
        asked: list[Asking] = []

        def watched() -> Iterator[str]:
            try:
                for fragment in fragments:
                    if isinstance(fragment, Asking):
                        asked.append(fragment)
                        self._waiting = {fragment.confirmation.action: fragment.then}
                    yield fragment
            finally:
                close = getattr(fragments, "close", None)
                if close is not None:
                    close()  # the speaker stopped reading: the brain's stream ends now

        return Answer(intent, watched(), asked_in_fragments=lambda: _last(asked))


def _last(asked: list[Asking]) -> Confirmation | None:
    return asked[-1].confirmation if asked else None
