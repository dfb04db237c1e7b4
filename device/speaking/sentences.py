"""Cutting a stream of LLM text into sentences, so speech can start before the reply is complete.

Rules, in the order they are tried at each candidate end:

- ``!`` and ``?`` (runs like ``?!`` too) followed by whitespace end a sentence.
- ``.`` followed by whitespace ends a sentence, except after an abbreviation (Mr. Mrs. Dr. St.
  e.g. i.e. vs. approx. and a few more), after a single capital (initials: J. R. R. Tolkien)
  or after a number at the start of a line (a list item, "1. Preheat the oven").
  ``etc.`` ends one only when the next word is capitalised, ``No.`` only when no number follows.
  A ``.`` not followed by whitespace (3.14, e.g., example.com) never ends one.
- An ellipsis (``...`` or ``…``) ends a sentence only when the next word is capitalised; before
  lower case it is a pause inside the sentence, which espeak-ng honours anyway.
- Chinese full stops, exclamation and question marks (``。！？``) end a sentence wherever they
  are: Chinese puts no space after them.
- A line break ends a sentence: LLMs do not hard-wrap, so a line break closes a heading, a list
  item or a paragraph.
- Closing quotes, brackets and Markdown emphasis right after the punctuation stay with it.

Early first phrase: if the first sentence of a reply grows past ``first_limit`` characters
(default 120) without ending, it is cut after the last comma, semicolon or colon inside those
characters, so the device starts speaking about a second sooner on long-winded openings. Only
the first sentence is cut; later ones are synthesised while earlier ones play.

Longest sentence: one that reaches ``max_chars`` (default 300) without ending is broken there,
after the last clause mark in its second half, else at the last space, else (a 300-character
"word") right at ``max_chars``. espeak-ng speaks 300 characters in about 17 s and synthesises them
in about 50 ms on the build machine, far inside the 10 s timeout that a long unpunctuated answer
spoken in one piece would run past.

Decisions wait for the lookahead they need (the whitespace after a full stop, or the next word),
so feeding a reply in fragments of any size gives the same sentences as feeding it whole. The
work is linear in the text: each character is searched once, a decision still waiting is
retried over at most ``max_chars`` characters, and the buffer never holds much more than one
sentence, so an endless unpunctuated stream costs neither quadratic time nor memory.

Example::

    splitter = SentenceSplitter()
    for fragment in llm_stream:
        for sentence in splitter.feed(fragment):
            speak(sentence)
    for sentence in splitter.flush():
        speak(sentence)
"""

from __future__ import annotations

import re

__all__ = ["ABBREVIATIONS", "SentenceSplitter", "joined"]

# Lower-case, without the final full stop. "etc" and "no" have their own rules; "Inc." and
# "Ltd." are left out because they often end a sentence.
ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "vs", "approx",
        "e.g", "i.e", "cf", "ca", "fig", "dept", "jan", "feb", "mar",
        "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    }
)  # fmt: skip

_TERMINATORS = ".!?…"
_OPENERS = "\"'([{“‘«*_"

# The searches run in C; a loop over characters in Python would cost about 0.1 s per megabyte.
_CANDIDATE = re.compile(r"[\n.!?…。！？]")  # where a sentence may end
_FULL_WIDTH_ENDS = "。！？"
_TERMINATOR_RUN = re.compile(r"[.!?…]*")
_FULL_WIDTH_RUN = re.compile(r"[。！？]*")
_CLOSER_RUN = re.compile(r"[\"')\]}”’»*_」』）]*")
_SPACE_RUN = re.compile(r"\s*")
_LAST_CLAUSE_END = re.compile(r".*[,;:](?=\s)", re.DOTALL)  # greedy: the last one in range
_LAST_SPACE = re.compile(r".*\s", re.DOTALL)

# How far past max_chars a decision may look (closing quotes, spaces, the next word's first
# letter) before the sentence is broken instead.
_LOOKAHEAD = 32  # characters

_WAIT = -1  # a decision needs text that has not arrived yet
_NO = -2  # this candidate does not end a sentence


class SentenceSplitter:
    """Streaming sentence splitter for one reply at a time; see the module docstring for rules."""

    def __init__(self, first_limit: int = 120, max_chars: int = 300) -> None:
        if not 0 < first_limit <= max_chars:
            raise ValueError(f"need 0 < first_limit <= max_chars, not {first_limit}, {max_chars}")
        self.first_limit = first_limit  # characters
        self.max_chars = max_chars  # characters
        self._buffer = ""
        self._begin = 0  # where the sentence being read starts in the buffer
        self._scanned = 0  # candidate ends before this index were decided: none of them ends it
        self._first = True

    def feed(self, fragment: str) -> list[str]:
        """Add text; return the sentences it completed, in order (often none)."""
        self._buffer += fragment
        return self._take(final=False)

    def flush(self) -> list[str]:
        """End of reply: return the remaining sentences and get ready for the next reply."""
        sentences = self._take(final=True)
        rest = self._buffer.strip()
        if rest:
            sentences.append(rest)
        self._buffer = ""
        self._begin = self._scanned = 0
        self._first = True
        return sentences

    def _take(self, final: bool) -> list[str]:
        sentences: list[str] = []
        while (end := self._find_end(final)) is not None:
            sentence = self._buffer[self._begin : end].strip()
            self._begin = self._scanned = end
            self._first = False
            if sentence:
                sentences.append(sentence)
        # What is left is shorter than max_chars + _LOOKAHEAD, so copying it is cheap.
        self._buffer = self._buffer[self._begin :]
        self._scanned -= self._begin
        self._begin = 0
        return sentences

    def _find_end(self, final: bool) -> int | None:
        """Index just past the sentence starting at ``_begin``, or None if not decided yet."""
        text = self._buffer
        begin = self._begin = _skip(_SPACE_RUN, text, self._begin, len(text))
        index = max(self._scanned, begin)
        view = min(len(text), begin + self.max_chars + _LOOKAHEAD)  # what decisions may read
        final = final and view == len(text)
        while True:
            limit = begin + (self.first_limit if self._first else self.max_chars)
            match = _CANDIDATE.search(text, index, limit)
            if match is None:
                self._scanned = index = min(len(text), limit)
                if len(text) <= limit:
                    return None
                if not self._first:
                    return self._break_long(text, begin)
                self._first = False  # an early cut is tried once, on the first sentence
                early = _LAST_CLAUSE_END.match(text, begin + 1, limit + 1)
                if early is not None:
                    return early.end()
                continue
            index = match.start()
            if text[index] == "\n":
                return index
            if text[index] in _FULL_WIDTH_ENDS:
                end = _skip(_CLOSER_RUN, text, _skip(_FULL_WIDTH_RUN, text, index, view), view)
                if end < len(text) or final:
                    return end
                self._scanned = index
                return None  # a closing quote may follow in the next fragment
            if index > begin and text[index - 1] in _TERMINATORS:
                index += 1  # inside a run like "?!", which its first mark decides
                continue
            end = _decide(text, index, begin, view, final)
            if end == _WAIT:
                self._scanned = index
                return self._break_long(text, begin) if view < len(text) else None
            if end != _NO:
                return end
            index += 1

    def _break_long(self, text: str, begin: int) -> int:
        """Where to break a sentence that reached ``max_chars`` without ending."""
        limit = begin + self.max_chars
        clause = _LAST_CLAUSE_END.match(text, begin + self.max_chars // 2, limit + 1)
        if clause is not None:
            return clause.end()
        space = _LAST_SPACE.match(text, begin + 1, limit + 1)
        return limit if space is None else space.end() - 1


def _decide(text: str, start: int, begin: int, stop: int, final: bool) -> int:
    """Where the sentence ends if the punctuation run at ``start`` ends it; else _NO or _WAIT.

    The sentence starts at ``begin``; ``text`` is read up to ``stop``, the end of the reply if
    ``final``."""
    end = _skip(_TERMINATOR_RUN, text, start, stop)
    run = text[start:end]
    end = _skip(_CLOSER_RUN, text, end, stop)
    if end == stop:
        return end if final else _WAIT
    if not text[end].isspace():
        return _NO
    if "!" in run or "?" in run:
        return end

    next_word = _skip(_SPACE_RUN, text, end, stop)
    line_break = "\n" in text[end:next_word]
    if next_word == stop and not final:
        upcoming: str | None = None  # the next word has not arrived yet
    else:
        upcoming = text[next_word : next_word + 1]  # "" at the end of the reply

    if run != ".":  # an ellipsis
        if line_break:
            return end
        if upcoming is None:
            return _WAIT
        return end if upcoming == "" or upcoming.isupper() else _NO

    word = _word_before(text, start, begin)
    lowered = word.lower()
    if lowered in ABBREVIATIONS:
        return _NO
    if len(word) == 1 and word.isupper():
        return _NO  # an initial
    if word.isdigit() and start - len(word) == begin:
        return _NO  # "1." opening a list item (a line break ends a sentence, so it starts a line)
    if lowered in ("etc", "no"):
        if upcoming is None:
            return _WAIT
        if lowered == "etc":
            return end if upcoming == "" or upcoming.isupper() else _NO
        return _NO if upcoming.isdigit() else end
    return end


def joined(sentences: list[str]) -> str:
    """Sentences back into one text: a space after each, but none after a Chinese one."""
    out = ""
    for sentence in sentences:
        out += sentence if not out or out[-1] in _FULL_WIDTH_ENDS else " " + sentence
    return out


def _skip(run: re.Pattern[str], text: str, start: int, stop: int) -> int:
    """Index just past the characters ``run`` matches from ``start`` (it also matches none)."""
    match = run.match(text, start, stop)
    return start if match is None else match.end()


def _word_before(text: str, dot: int, begin: int) -> str:
    """The word ending just before ``text[dot]``, without opening quotes or brackets."""
    start = dot
    while start > begin and not text[start - 1].isspace():
        start -= 1
    return text[start:dot].lstrip(_OPENERS)
