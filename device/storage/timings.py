"""How long each turn took, stage by stage: one row per turn, the newest ``KEEP_TURNS`` kept.

A row is about time, not words: it names the trigger, the intent that answered (an intent's name,
``brain``, ``look``...), the engines and the cloud provider that served the turn, and when each
stage was reached. What the wearer said and heard is not in it: the conversation (``turns``) is
pruned after minutes for that reason, and a latency record has no need of it.

Two clocks, each where it is exact (``device.loop.timing`` takes the readings):

- the audio clock, seconds of microphone audio since the daemon started: the trigger and the end
  of speech, both decided by the listener on audio frames. It makes a simulation repeat exactly.
- milliseconds after the end of speech, for the stages the device works through while the wearer
  waits: the wall clock (``time.perf_counter``), except that the last audio out is on the
  speaker's clock (the wall clock on the device; audio time in a lockstep simulation, where the
  speaker plays as fast as the simulation runs).

Why 1,000 turns: a heavy day is one or two hundred turns, so that is about a week of use, and
enough for a steady 95th percentile (its 50 slowest turns lie above it). At about 150 bytes a
row it is some 150 KB on the card. Older rows are deleted in the transaction that adds a new one.

Example::

    with Database(Path("zeropin.db")) as db:
        store = TurnTimings(db)
        for timing in store.recent(20):
            print(timing.intent, timing.first_audio_ms)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields

from device.storage.database import Database

__all__ = [
    "ENDINGS",
    "KEEP_TURNS",
    "STAGES",
    "TurnTiming",
    "TurnTimings",
    "percentile",
    "stage_figures",
]

KEEP_TURNS = 1000
ENDINGS = ("played", "cut off", "failed")  # how a turn's reply ended
WRITE = "keep the turn's timings"  # completes StorageError's "could not ..."


@dataclass(frozen=True)
class TurnTiming:
    """One turn: who served it and when each stage was reached. None: never reached."""

    at: float  # unix seconds the record was made (the turn's reply ended)
    trigger: str  # "wake" | "button" | "hold" | "answer"
    intent: str  # who answered; "" if the answer failed before anyone was decided on
    ended: str  # one of ENDINGS
    wake_engine: str  # "" when no wake word started the turn
    asr_engine: str
    tts_engine: str
    provider: str  # the cloud provider that streamed the first token; "" for none
    trigger_s: float  # audio clock: seconds of audio since the microphone opened
    speech_end_s: float  # audio clock: when the endpointer decided speech had ended
    asr_final_ms: float  # ms after the end of speech (wall clock)
    intent_ms: float | None  # the router returned who answers
    first_token_ms: float | None  # the first fragment a cloud provider streamed
    first_audio_ms: float | None  # the reply's first audio handed to the speaker
    last_audio_ms: float | None  # the reply's end reached the speaker (speaker's clock)

    @property
    def listened_ms(self) -> float:
        """From the trigger to the end of speech, on the audio clock."""
        return (self.speech_end_s - self.trigger_s) * 1000


_COLUMNS = tuple(field.name for field in fields(TurnTiming))


class TurnTimings:
    """The ``turn_timings`` table: add one turn, read the newest."""

    def __init__(self, db: Database, keep: int = KEEP_TURNS) -> None:
        if keep < 1:
            raise ValueError(f"keep must be 1 or more, not {keep}")
        self._db = db
        self.keep = keep

    def add(self, timing: TurnTiming) -> None:
        """One INSERT, and the rows beyond the newest ``keep`` deleted; StorageError on failure.

        ``durable``: on a stand-in database it is refused at once. Nobody can read the rows of
        a database held in memory (``zeropin turns`` is another process), so none are kept there.
        """
        if timing.ended not in ENDINGS:
            raise ValueError(f"ended must be one of {', '.join(ENDINGS)}, not {timing.ended!r}")
        with self._db.transaction(WRITE, durable=True) as connection:
            cursor = connection.execute(
                f"INSERT INTO turn_timings ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                astuple(timing),
            )
            assert cursor.lastrowid is not None  # set by every successful INSERT
            connection.execute(
                "DELETE FROM turn_timings WHERE id <= ?", (cursor.lastrowid - self.keep,)
            )

    def recent(self, limit: int = 20) -> list[TurnTiming]:
        """The newest ``limit`` turns, oldest first."""
        if limit < 0:
            raise ValueError(f"limit must be 0 or more, not {limit}")
        rows = self._db.query(
            "read the turn timings",
            f"SELECT {', '.join(_COLUMNS)} FROM turn_timings ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [TurnTiming(*row) for row in reversed(rows)]

    def count(self) -> int:
        rows = self._db.query("count the turn timings", "SELECT count(*) FROM turn_timings")
        return int(rows[0][0])


# (field, heading in the table, name in the summary)
STAGES: tuple[tuple[str, str, str], ...] = (
    ("listened_ms", "listened", "trigger to end of speech (audio clock)"),
    ("asr_final_ms", "asr", "recogniser final"),
    ("intent_ms", "intent", "intent decided"),
    ("first_token_ms", "token", "first cloud token"),
    ("first_audio_ms", "audio", "first audio out"),
    ("last_audio_ms", "last", "last audio out"),
)


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile of ``values`` (not empty).

    >>> percentile([40, 10, 30, 20], 50), percentile([40, 10, 30, 20], 95)
    (20, 40)
    """
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered) / 100)) - 1]


def stage_figures(timings: Sequence[TurnTiming]) -> dict[str, dict[str, float]]:
    """Per stage reached by at least one turn: how many turns reached it, median and p95 (ms)."""
    figures: dict[str, dict[str, float]] = {}
    for name, _, _ in STAGES:
        values = [v for t in timings if (v := getattr(t, name)) is not None]
        if values:
            figures[name] = {
                "turns": len(values),
                "median_ms": percentile(values, 50),
                "p95_ms": percentile(values, 95),
            }
    return figures
