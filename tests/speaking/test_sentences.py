"""SentenceSplitter: the same sentences whatever the fragment size, and the tricky full stops."""

from __future__ import annotations

import random
import time
import tracemalloc

import pytest

from device.speaking.sentences import SentenceSplitter, joined

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


# --- the longest sentence ------------------------------------------------------------------------


def test_unpunctuated_text_is_broken_at_word_boundaries_within_max_chars() -> None:
    text = " ".join(f"word{index}" for index in range(400))  # 3,289 characters, no punctuation
    whole = split_in_fragments(text, [])
    assert len(whole) > 10
    assert all(len(piece) <= 300 for piece in whole)
    assert " ".join(whole) == text  # every break is at a space: no word is cut in two
    assert all(len(piece) > 290 for piece in whole[:-1])  # the last space before the limit
    assert split_in_fragments(text, [1] * len(text)) == whole
    assert split_in_fragments(text, [7] * (len(text) // 7)) == whole


def test_a_long_sentence_breaks_after_a_clause_mark_in_its_second_half() -> None:
    clause = "we walked along the river for a long while, "  # 44 characters
    text = clause * 10 + "and then went home."
    sentences = split_in_fragments(text, [3] * (len(text) // 3), first_limit=40)
    assert sentences[0] == (clause * 6).strip()  # 264 characters: the last comma before 300
    assert all(sentence.endswith(",") for sentence in sentences[:-1])
    assert " ".join(sentences) == text


def test_a_word_longer_than_max_chars_is_cut_at_max_chars() -> None:
    word = "x" * 1000  # a pasted hash or base64: no space to break at
    assert split_in_fragments(f"See {word} done.", []) == [
        "See",  # the last space within 300 characters
        "x" * 300,
        "x" * 300,
        "x" * 300,
        "x" * 100 + " done.",
    ]


def test_a_decision_that_would_need_more_than_max_chars_of_lookahead_breaks_instead() -> None:
    # "etc." waits for the next word; a flood of spaces or of "!" must not keep it waiting.
    for text in ["Fruit, nuts etc." + " " * 5000 + "then more.", "Wow" + "!" * 5000 + " Yes."]:
        splitter = SentenceSplitter(first_limit=50, max_chars=100)
        sentences: list[str] = [
            s for start in range(0, len(text), 20) for s in splitter.feed(text[start : start + 20])
        ]
        sentences += splitter.flush()
        assert all(len(sentence) <= 100 + 32 for sentence in sentences)
        assert "".join(sentences).replace(" ", "") == text.replace(" ", "")


def test_max_chars_must_leave_room_for_the_first_phrase() -> None:
    with pytest.raises(ValueError):
        SentenceSplitter(first_limit=200, max_chars=100)


# --- linear work, bounded memory -----------------------------------------------------------------


def _prose(size: int) -> str:
    rng = random.Random(3)
    words = "the sky is blue because air scatters short waves more than long ones".split()
    sentences: list[str] = []
    length = 0
    while length < size:
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(4, 30)))
        sentences.append(sentence.capitalize() + rng.choice([". ", "? ", ", and "]))
        length += len(sentences[-1])
    return "".join(sentences)[:size]


def _unpunctuated(size: int) -> str:
    return ("word " * (size // 5 + 1))[:size]


def _cpu_seconds_to_split(text: str, fragment_chars: int) -> float:
    best = float("inf")
    for _ in range(3):
        splitter = SentenceSplitter()
        started = time.process_time()
        for start in range(0, len(text), fragment_chars):
            splitter.feed(text[start : start + fragment_chars])
        splitter.flush()
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("make", [_prose, _unpunctuated])
@pytest.mark.parametrize("fragment_chars", [20, 10**9])  # as streamed, and all at once
def test_splitting_time_grows_linearly_with_the_text(make, fragment_chars: int) -> None:
    # Ten times the text takes about ten times as long; the splitter that rescanned its whole
    # buffer on every fragment took 130 times as long (100 KB of unpunctuated text: 12 s).
    small = _cpu_seconds_to_split(make(50_000), fragment_chars)
    large = _cpu_seconds_to_split(make(500_000), fragment_chars)
    assert large < 25 * max(small, 1e-3), (small, large)


def test_an_endless_unpunctuated_stream_does_not_pile_up() -> None:
    splitter = SentenceSplitter()
    tracemalloc.start()
    try:
        for _ in range(20_000):  # 400 KB
            splitter.feed("word word word word ")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000  # bytes: about one sentence, not the 400 KB that went through


def test_chinese_sentences_end_at_full_width_marks_without_a_space():
    reply = "天是蓝的，因为阳光散射。蓝光波长短！你知道吗？“好的。”最后一句"
    whole = split_in_fragments(reply, [len(reply)])
    assert whole == [
        "天是蓝的，因为阳光散射。",
        "蓝光波长短！",
        "你知道吗？",
        "“好的。”",
        "最后一句",
    ]
    assert split_in_fragments(reply, [1] * len(reply)) == whole  # a character at a time


def test_sentences_are_joined_with_a_space_except_after_a_chinese_one():
    assert joined(["It's late.", "Go home."]) == "It's late. Go home."
    assert joined(["好的。", "定时5分钟。", "OK."]) == "好的。定时5分钟。OK."
    assert joined([]) == ""
