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
- A line break ends a sentence: LLMs do not hard-wrap, so a line break closes a heading, a list
  item or a paragraph.
- Closing quotes, brackets and Markdown emphasis right after the punctuation stay with it.

Early first phrase: if the first sentence of a reply grows past ``first_limit`` characters
(default 120) without ending, it is cut after the last comma, semicolon or colon inside those
characters, so the device starts speaking about a second sooner on long-winded openings. Only
the first sentence is cut; later ones are synthesised while earlier ones play.

Decisions wait for the lookahead they need (the whitespace after a full stop, or the next word),
so feeding a reply in fragments of any size gives the same sentences as feeding it whole.

Example::

    splitter = SentenceSplitter()
    for fragment in llm_stream:
        for sentence in splitter.feed(fragment):
            speak(sentence)
    for sentence in splitter.flush():
        speak(sentence)
"""

from __future__ import annotations

__all__ = ["ABBREVIATIONS", "SentenceSplitter"]

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
_CLOSERS = "\"')]}”’»*_"
_OPENERS = "\"'([{“‘«*_"
_CLAUSE_ENDS = ",;:"

_WAIT = -1  # a decision needs text that has not arrived yet
_NO = -2  # this candidate does not end a sentence


class SentenceSplitter:
    """Streaming sentence splitter for one reply at a time; see the module docstring for rules."""

    def __init__(self, first_limit: int = 120) -> None:
        self.first_limit = first_limit  # characters
        self._buffer = ""
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
        self._first = True
        return sentences

    def _take(self, final: bool) -> list[str]:
        sentences: list[str] = []
        while True:
            self._buffer = self._buffer.lstrip()
            end = self._find_end(final)
            if end is None:
                return sentences
            self._first = False
            sentence = self._buffer[:end].strip()
            self._buffer = self._buffer[end:]
            if sentence:
                sentences.append(sentence)

    def _find_end(self, final: bool) -> int | None:
        """Index just past the first sentence in the buffer, or None if not decided yet."""
        text = self._buffer
        for index, char in enumerate(text):
            if self._first and index >= self.first_limit:
                return self._early_cut(final)
            if char == "\n":
                return index
            if char not in _TERMINATORS or (index > 0 and text[index - 1] in _TERMINATORS):
                continue
            end = _decide(text, index, final)
            if end == _WAIT:
                return None
            if end != _NO:
                return end
        return None

    def _early_cut(self, final: bool) -> int | None:
        """Cut after the last clause mark (followed by a space) in the first ``first_limit``."""
        self._first = False
        window = self._buffer[: self.first_limit + 1]
        for index in range(min(len(window), self.first_limit) - 1, 0, -1):
            if window[index] in _CLAUSE_ENDS and window[index + 1 : index + 2].isspace():
                return index + 1
        return self._find_end(final)  # no clause mark: wait for the sentence to end


def _decide(text: str, start: int, final: bool) -> int:
    """Where the sentence ends if the punctuation run at ``start`` ends it; else _NO or _WAIT."""
    end = start
    while end < len(text) and text[end] in _TERMINATORS:
        end += 1
    run = text[start:end]
    while end < len(text) and text[end] in _CLOSERS:
        end += 1
    if end == len(text):
        return end if final else _WAIT
    if not text[end].isspace():
        return _NO
    if "!" in run or "?" in run:
        return end

    next_word = end
    while next_word < len(text) and text[next_word].isspace():
        next_word += 1
    line_break = "\n" in text[end:next_word]
    if next_word == len(text) and not final:
        upcoming: str | None = None  # the next word has not arrived yet
    else:
        upcoming = text[next_word : next_word + 1]  # "" at the end of the reply

    if run != ".":  # an ellipsis
        if line_break:
            return end
        if upcoming is None:
            return _WAIT
        return end if upcoming == "" or upcoming.isupper() else _NO

    word = _word_before(text, start)
    lowered = word.lower()
    if lowered in ABBREVIATIONS:
        return _NO
    if len(word) == 1 and word.isupper():
        return _NO  # an initial
    if word.isdigit() and text[: start - len(word)].rsplit("\n", 1)[-1].strip() == "":
        return _NO  # "1." opening a list item
    if lowered in ("etc", "no"):
        if upcoming is None:
            return _WAIT
        if lowered == "etc":
            return end if upcoming == "" or upcoming.isupper() else _NO
        return _NO if upcoming.isdigit() else end
    return end


def _word_before(text: str, dot: int) -> str:
    """The word ending just before ``text[dot]``, without opening quotes or brackets."""
    begin = dot
    while begin > 0 and not text[begin - 1].isspace():
        begin -= 1
    return text[begin:dot].lstrip(_OPENERS)
