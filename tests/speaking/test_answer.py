"""spoken_sentences: a reply's stream becomes sentences, and a long one is cut and closed.

The stream sources here are plain generators that record how far they were read and whether
they were closed; test_answer_e2e.py drives the same cap through the runtime and a real HTTP
stream."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

import pytest

from device.speaking.answer import CUT_SHORT, AnswerLimits, spoken_sentences
from device.speaking.sentences import SentenceSplitter


class Stream:
    """A reply's fragments as a generator that counts what was read and notes its closing."""

    def __init__(self, fragments: Iterator[str]) -> None:
        self.read = 0  # fragments handed out
        self.closed = False
        self.generator = self._run(fragments)

    def _run(self, fragments: Iterator[str]) -> Iterator[str]:
        try:
            for fragment in fragments:
                self.read += 1
                yield fragment
        finally:
            self.closed = True


def endless(fragment: str) -> Iterator[str]:
    while True:
        yield fragment


REPLY = (
    "Sunlight is made of every colour. Air molecules scatter short blue waves much more than red "
    "ones. So blue light reaches your eyes from all over the sky."
)


def test_a_short_reply_gives_the_splitters_sentences_and_nothing_more() -> None:
    pieces = [REPLY[start : start + 7] for start in range(0, len(REPLY), 7)]
    stream = Stream(iter(pieces))
    sentences = list(spoken_sentences(stream.generator))
    splitter = SentenceSplitter()
    assert sentences == splitter.feed(REPLY) + splitter.flush()
    assert len(sentences) == 3 and CUT_SHORT not in sentences
    assert stream.read == len(pieces) and stream.closed


@pytest.mark.parametrize(
    "fragment",
    ["word ", "The sky is blue today. ", "x" * 50, "**Bold**, and *more*; "],
)
def test_an_endless_stream_is_cut_and_closed(fragment: str) -> None:
    limits = AnswerLimits(max_answer_chars=1000, max_sentence_chars=200)
    stream = Stream(endless(fragment))
    sentences = list(islice(spoken_sentences(stream.generator, limits), 1000))
    assert sentences[-1] == CUT_SHORT
    spoken = sentences[:-1]
    assert spoken and CUT_SHORT not in spoken
    assert 1000 - 200 < sum(map(len, spoken)) <= 1000  # whole sentences up to the cap
    assert stream.closed
    # Read no further than the cap, one sentence and the splitter's lookahead past it.
    assert stream.read * len(fragment) <= 1000 + 200 + 32 + 2 * len(fragment)


def test_the_stream_is_closed_before_the_cut_sentence_is_spoken() -> None:
    stream = Stream(endless("Another sentence that goes on. "))
    sentences = spoken_sentences(stream.generator, AnswerLimits(max_answer_chars=300))
    for sentence in sentences:
        if sentence == CUT_SHORT:
            break
        assert not stream.closed
    else:
        pytest.fail("the answer was not cut")
    assert stream.closed  # already, while CUT_SHORT is being spoken
    read = stream.read
    assert list(sentences) == []
    assert stream.read == read


def test_a_reply_exactly_at_the_cap_is_spoken_whole() -> None:
    sentence = "This sentence is one of four in the reply."
    text = " ".join([sentence] * 4)
    cap = 4 * len(sentence)  # characters of the sentences; the spaces between are not spoken
    said = list(spoken_sentences(iter([text]), AnswerLimits(max_answer_chars=cap)))
    assert said == [sentence] * 4
    said = list(spoken_sentences(iter([text]), AnswerLimits(max_answer_chars=cap - 1)))
    assert said == [sentence] * 3 + [CUT_SHORT]


def test_closing_the_sentences_early_closes_the_stream() -> None:
    stream = Stream(endless("One more. "))
    sentences = spoken_sentences(stream.generator)
    assert next(sentences) == "One more."
    assert not stream.closed
    sentences.close()  # the user pressed the button, say
    assert stream.closed


def test_an_unpunctuated_flood_is_spoken_in_bounded_sentences() -> None:
    stream = Stream(endless("and then "))
    sentences = list(islice(spoken_sentences(stream.generator), 1000))
    limits = AnswerLimits()
    assert sentences[-1] == CUT_SHORT
    assert all(len(sentence) <= limits.max_sentence_chars for sentence in sentences)
    assert len(sentences) - 1 == limits.max_answer_chars // limits.max_sentence_chars
    assert stream.closed
