"""SentenceSplitter: the same sentences whatever the fragment size, and the tricky full stops."""

from __future__ import annotations

import random

import pytest

from device.speaking.sentences import SentenceSplitter

PARAGRAPH = (
    "Good morning! Dr. Smith said the trip takes approx. 3.5 hours, i.e. most of the day. "
    "J. R. R. Tolkien wrote it... and it shows. Bring snacks, water, maps etc. Then relax?! "
    '"Really." No. 5 is the gate. No. I will not go... Wait.\n'
    "# Packing list\n1. Boots\n2. A **warm** coat.\n\nThat is all… really. See example.com for more"
)

EXPECTED = [
    "Good morning!",
    "Dr. Smith said the trip takes approx. 3.5 hours, i.e. most of the day.",
    "J. R. R. Tolkien wrote it... and it shows.",
    "Bring snacks, water, maps etc.",
    "Then relax?!",
    '"Really."',
    "No. 5 is the gate.",
    "No.",
    "I will not go...",
    "Wait.",
    "# Packing list",
    "1. Boots",
    "2. A **warm** coat.",
    "That is all… really.",
    "See example.com for more",
]


def split_in_fragments(text: str, sizes: list[int], first_limit: int = 120) -> list[str]:
    splitter = SentenceSplitter(first_limit=first_limit)
    sentences: list[str] = []
    position = 0
    for size in sizes:
        sentences += splitter.feed(text[position : position + size])
        position += size
    sentences += splitter.feed(text[position:])
    return sentences + splitter.flush()


def test_whole_paragraph() -> None:
    assert split_in_fragments(PARAGRAPH, []) == EXPECTED


def test_one_character_at_a_time_gives_the_same_sentences() -> None:
    assert split_in_fragments(PARAGRAPH, [1] * len(PARAGRAPH)) == EXPECTED


@pytest.mark.parametrize("seed", range(20))
def test_random_fragments_give_the_same_sentences(seed: int) -> None:
    rng = random.Random(seed)
    sizes = [rng.randint(1, 12) for _ in range(len(PARAGRAPH))]
    assert split_in_fragments(PARAGRAPH, sizes) == EXPECTED


def test_sentence_is_returned_as_soon_as_it_is_complete() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Hello there") == []
    assert splitter.feed("! How are") == ["Hello there!"]
    assert splitter.feed(" you? I am") == ["How are you?"]
    assert splitter.feed(" fine.") == []  # "fine." might be "fine.com": wait for whitespace
    assert splitter.feed(" ") == ["I am fine."]
    assert splitter.flush() == []


@pytest.mark.parametrize(
    "text",
    [
        "Mr. and Mrs. Brown met Dr. Who at St. Pancras vs. the rest.",
        "Pi is 3.14 and e is 2.718 today.",
        "Use a thing, e.g. a fork, i.e. cutlery, approx. twice.",
        "J. R. R. Tolkien was born in 1892.",
        "We walked on... and on and on.",
        "Version 1.2.3 of example.com is out.",
    ],
)
def test_not_split_inside(text: str) -> None:
    assert split_in_fragments(text, [1] * len(text)) == [text]


def test_etc_and_no_depend_on_the_next_word() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Fruit, nuts etc. ") == []  # waits for the next word
    assert splitter.feed("are fine. No. 7 is") == ["Fruit, nuts etc. are fine."]
    assert splitter.feed(" free. No. ") == ["No. 7 is free."]
    assert splitter.feed("Thanks.") == ["No."]
    assert splitter.flush() == ["Thanks."]


def test_flush_returns_the_rest_and_resets() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("One. Two") == ["One."]
    assert splitter.flush() == ["Two"]
    assert splitter.flush() == []
    assert splitter.feed("  Three? ") == ["Three?"]
    assert splitter.flush() == []


def test_trailing_abbreviation_is_flushed() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Ask Dr.") == []
    assert splitter.flush() == ["Ask Dr."]


def test_blank_and_whitespace_only_input() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("   \n\n  ") == []
    assert splitter.flush() == []


LONG_FIRST = (
    "Well, after looking at the forecast for the whole week and comparing it with your calendar "
    "entries, it seems that Thursday, which is mostly dry, is best for the hike. Pack a coat."
)


def test_long_first_sentence_is_cut_early_at_a_comma() -> None:
    sentences = split_in_fragments(LONG_FIRST, [])
    assert sentences == [
        "Well, after looking at the forecast for the whole week and comparing it with your "
        "calendar entries,",
        "it seems that Thursday, which is mostly dry, is best for the hike.",
        "Pack a coat.",
    ]
    assert split_in_fragments(LONG_FIRST, [1] * len(LONG_FIRST)) == sentences
    assert " ".join(sentences) == LONG_FIRST


def test_only_the_first_sentence_is_cut_early() -> None:
    text = "Sure. " + LONG_FIRST
    assert split_in_fragments(text, []) == [
        "Sure.",
        LONG_FIRST.removesuffix(" Pack a coat."),
        "Pack a coat.",
    ]


def test_long_first_sentence_without_comma_is_not_cut() -> None:
    text = "word " * 40 + "end. Next."
    assert split_in_fragments(text, [1] * len(text)) == [text[: -len(" Next.")], "Next."]


def test_first_limit_applies_again_after_flush() -> None:
    splitter = SentenceSplitter(first_limit=20)
    text = "One, two, three, four, five, six. Seven."
    assert splitter.feed(text) + splitter.flush() == [
        "One, two, three,",
        "four, five, six.",
        "Seven.",
    ]
    assert splitter.feed(text) + splitter.flush() == [
        "One, two, three,",
        "four, five, six.",
        "Seven.",
    ]
