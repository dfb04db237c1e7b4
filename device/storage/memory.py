"""What ZeroPin remembers: facts the wearer asked it to keep, and the recent conversation.

Both live in the one SQLite database (:class:`~device.storage.database.Database`). Facts are found
again by the words they share with a question, after light normalisation, with no embeddings: on a
Pi Zero, with a few hundred facts, counting shared words is instant, predictable and easy to explain
("it matched on *locker*"). Conversation turns give the cloud model the last few questions and
answers, so "and what about tomorrow?" makes sense.

Example::

    from pathlib import Path
    from device.storage.memory import ConversationStore, MemoryStore
    from device.storage.database import Database

    with Database(Path("/var/lib/zeropin/zeropin.db")) as db:
        memory = MemoryStore(db)
        memory.remember("my locker is 42")
        print([fact.text for fact in memory.relevant("what's my locker number?")])
        turns = ConversationStore(db)
        turns.add("user", "what's my locker number?")
        turns.add("assistant", "Your locker is 42.")
        print(turns.recent(max_turns=3, max_age_seconds=600))
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from device.storage.database import Database

__all__ = ["ConversationStore", "Fact", "MemoryStore", "ROLES", "Turn", "content_words"]

log = logging.getLogger(__name__)

ROLES = ("user", "assistant")

# Words that carry no topic in a spoken question or a remembered fact.
STOPWORDS = frozenset(
    """
    a about all am an and any are as at be been but by can could did do does don for from had has
    have he her hers him his how i if in into is it its know me mine my no not now of on or our ours
    please remember she so some tell that the their them there these they this those to us was we
    were what when where which who why will with would you your yours
    cant didnt doesnt dont im isnt ive youre
    """.split()
)
_WORD = re.compile(r"[a-z0-9']+")


def content_words(text: str) -> set[str]:
    """The topic words of ``text``: lower case, stopwords dropped, possessives and plurals cut.

    >>> sorted(content_words("What's my locker's number? The numbers!"))
    ['locker', 'number']
    """
    found = set()
    for word in _WORD.findall(text.lower().replace("\u2019", "'")):
        word = word.strip("'").removesuffix("'s").replace("'", "")  # "sister's", "don't"
        if word and word not in STOPWORDS:
            stem = _singular(word)
            if stem not in STOPWORDS:  # "does" -> "doe" is no topic either
                found.add(stem)
    return found


def _singular(word: str) -> str:
    """Cut a regular plural: "numbers" -> "number", "boxes" -> "box", "batteries" -> "battery"."""
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):  # "bus", "glass", "status", "this"
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"  # "batteries"
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]  # "glasses", "boxes", "watches"
    if word.endswith("s"):
        return word[:-1]  # "numbers", "keys", "horses"
    return word


@dataclass(frozen=True)
class Fact:
    """Something the wearer asked ZeroPin to remember."""

    id: int
    text: str
    created_at: float  # unix seconds


class MemoryStore:
    """Long-term facts: remember, find the ones relevant to a question, list, forget all."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def remember(self, text: str) -> Fact:
        """Keep ``text`` (surrounding whitespace stripped) and return it as a Fact.

        The same text already kept (ignoring case) is returned as it was, not stored twice.
        ValueError for empty text, StorageError when it could not be saved.
        """
        text = text.strip()
        if not text:
            raise ValueError("there is nothing to remember")
        with self._db.transaction("remember that", durable=True) as connection:
            # SQLite's lower() folds ASCII only: enough to catch a repeated spoken sentence.
            existing = connection.execute(
                "SELECT id, text, created_at FROM memory WHERE lower(text) = lower(?) LIMIT 1",
                (text,),
            ).fetchone()
            if existing is not None:
                return Fact(*existing)
            created_at = self._clock()
            cursor = connection.execute(
                "INSERT INTO memory (text, created_at) VALUES (?, ?)", (text, created_at)
            )
        assert cursor.lastrowid is not None  # set by every successful INSERT
        log.debug("remembered fact %d (%d characters)", cursor.lastrowid, len(text))
        return Fact(cursor.lastrowid, text, created_at)

    def relevant(self, query: str, limit: int = 5) -> list[Fact]:
        """Up to ``limit`` facts sharing topic words with ``query``, most shared first.

        Ties go newest first; facts sharing no word are left out (so "what time is it" finds
        nothing unless a fact mentions time). Reads every fact: fine for the hundreds a wearer
        keeps.
        """
        _check_count("limit", limit)
        wanted = content_words(query)
        if not wanted or not limit:
            return []
        scored = []
        for fact in self.all(limit=-1):
            shared = len(wanted & content_words(fact.text))
            if shared:
                scored.append((shared, fact))
        # all() is newest first and sort() is stable, so equal scores stay newest first.
        scored.sort(key=lambda pair: pair[0], reverse=True)
        return [fact for _, fact in scored[:limit]]

    def all(self, limit: int = 100) -> list[Fact]:
        """The ``limit`` newest facts, newest first (``-1``: every fact)."""
        if limit != -1:
            _check_count("limit", limit)
        rows = self._db.query(
            "read the memory",
            "SELECT id, text, created_at FROM memory ORDER BY created_at DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [Fact(*row) for row in rows]

    def forget_all(self) -> int:
        """Forget every fact; return how many were forgotten."""
        with self._db.transaction("forget the memory", durable=True) as connection:
            forgotten = connection.execute("DELETE FROM memory").rowcount
        log.info("forgot %d facts", forgotten)
        return forgotten

    def count(self) -> int:
        """How many facts are kept."""
        return int(self._db.query("count the memory", "SELECT count(*) FROM memory")[0][0])


@dataclass(frozen=True)
class Turn:
    """One side of an exchange in the conversation."""

    role: str  # "user" | "assistant"
    text: str
    at: float  # unix seconds


class ConversationStore:
    """The recent conversation, so a follow-up question has its context."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def add(self, role: str, text: str) -> None:
        """Record what the user asked or the assistant answered; ValueError for another role."""
        if role not in ROLES:
            raise ValueError(f"role must be 'user' or 'assistant', not {role!r}")
        with self._db.transaction("record the conversation") as connection:
            connection.execute(
                "INSERT INTO turns (role, text, at) VALUES (?, ?, ?)",
                (role, text.strip(), self._clock()),
            )

    def recent(self, max_turns: int, max_age_seconds: float) -> list[Turn]:
        """The last ``max_turns`` question-and-answer pairs (``2 * max_turns`` rows at most),
        none older than ``max_age_seconds``, oldest first.

        An answer whose question fell outside the window is left out too, so the history never
        opens with an assistant turn. ``max_turns=0`` gives ``[]``.
        """
        _check_count("max_turns", max_turns)
        if max_age_seconds < 0:
            raise ValueError(f"max_age_seconds must be 0 or more, not {max_age_seconds}")
        rows = self._db.query(
            "read the conversation",
            "SELECT role, text, at FROM turns WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?",
            (self._clock() - max_age_seconds, 2 * max_turns),
        )
        turns = [Turn(*row) for row in reversed(rows)]
        while turns and turns[0].role == "assistant":
            turns.pop(0)
        return turns

    def prune(self, max_age_seconds: float) -> int:
        """Delete turns older than ``max_age_seconds``: they will never be context again, and
        what the wearer said should not outlive its use. Returns how many were deleted."""
        if max_age_seconds < 0:
            raise ValueError(f"max_age_seconds must be 0 or more, not {max_age_seconds}")
        with self._db.transaction("prune the conversation") as connection:
            cutoff = self._clock() - max_age_seconds
            return connection.execute("DELETE FROM turns WHERE at < ?", (cutoff,)).rowcount

    def clear(self) -> int:
        """Forget the conversation; return how many turns were deleted."""
        with self._db.transaction("clear the conversation") as connection:
            deleted = connection.execute("DELETE FROM turns").rowcount
        log.info("cleared %d conversation turns", deleted)
        return deleted


def _check_count(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be 0 or more, not {value}")
