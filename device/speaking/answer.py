"""From a reply's streamed text to the sentences spoken, with a cap on how much is spoken.

A cloud answer can run on: a model that ignores ``max_tokens``, or a stream that never ends.
``spoken_sentences`` stops at ``max_answer_chars``: it closes the reply's stream there (a cloud
answer closes its HTTP response, so nothing more is read or kept) and ends with ``CUT_SHORT``,
so the listener knows the answer was longer than what they heard.

Why 2,000 characters: espeak-ng at the default 165 words per minute speaks 16 to 18 characters a
second, so the cap is about two minutes of speech, already long to listen to. The brain's default
``max_tokens`` of 300 (about 1,200 to 1,500 characters of English) stays under it, so only an
answer the model was not asked for, or a raised ``max_tokens``, is cut. Characters are counted
as the model wrote them, before Markdown is removed, so the cap errs on the short side.

Example::

    for sentence in spoken_sentences(brain.reply(question), AnswerLimits()):
        speak(speakable(sentence))
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

from device.speaking.sentences import SentenceSplitter

__all__ = ["CUT_SHORT", "AnswerLimits", "Streamed", "spoken_sentences"]

log = logging.getLogger(__name__)

CUT_SHORT = "That answer was long, so I stopped there."


class Streamed(str):
    """A fragment of a reply as a cloud provider streamed it: text like any other, which also
    names the provider, so the voice loop can time the first token and say who served the turn
    (``device.loop.timing``) while a brain still yields plain strings."""

    provider: str

    def __new__(cls, text: str, provider: str) -> Streamed:
        fragment = super().__new__(cls, text)
        fragment.provider = provider
        return fragment


@dataclass(frozen=True)
class AnswerLimits:
    """How much of one reply is spoken, in characters of the text as written."""

    max_answer_chars: int = 2000  # about two minutes of speech
    max_sentence_chars: int = 300  # about 17 s: a longer sentence is broken (see sentences)
    first_phrase_chars: int = 120  # a long first sentence is cut at a comma within this


def spoken_sentences(
    fragments: Iterable[str], limits: AnswerLimits = AnswerLimits()
) -> Generator[str, None, None]:
    """The sentences of a reply streamed as ``fragments``, each yielded once it is complete.

    Whole sentences are yielded while they add up to at most ``limits.max_answer_chars``; the
    one that would go past it is not, ``fragments`` is closed (if it can be) and ``CUT_SHORT``
    is the last sentence. ``fragments`` is also closed when this generator is.
    """
    source = iter(fragments)
    said = 0  # characters
    try:
        for sentence in _sentences(source, limits):
            said += len(sentence)
            if said > limits.max_answer_chars:
                log.warning("answer longer than %d characters: cut", limits.max_answer_chars)
                break
            yield sentence
        else:
            return
    finally:
        _close(source)  # before CUT_SHORT is spoken: the stream stops now, not after it
    yield CUT_SHORT


def _sentences(source: Iterator[str], limits: AnswerLimits) -> Iterator[str]:
    splitter = SentenceSplitter(limits.first_phrase_chars, limits.max_sentence_chars)
    for fragment in source:
        yield from splitter.feed(fragment)
    yield from splitter.flush()


def _close(source: Iterator[str]) -> None:
    close = getattr(source, "close", None)
    if close is not None:
        close()
