"""Each turn's stopwatch: a reading as the voice loop reaches each stage, one record per turn.

The runtime calls the ``Timekeeper`` at each stage; when the turn's reply has been played (or cut
off) the readings become one ``TurnTiming`` (``device.storage.timings``), written in a thread of
its own. Where each reading is taken, and on which clock:

- trigger: the wake word's ``at_seconds``; for a button press (or a question's end, when the
  loop listens for a yes) the audio time it was taken in. Audio clock.
- end of speech: ``Heard.speech_ended_at_seconds``, when the endpointer decided (after its
  trailing silence). Audio clock; on the wall clock it is the moment the Heard left the
  listener less the recogniser's finishing time, which ties the two clocks together.
- recogniser final: the end of speech plus that finishing time (``Heard.timings_ms``).
- intent decided: the router returned who answers (the brain's request is not sent yet).
- first cloud token: the first text a provider streamed (a ``Streamed`` fragment) reached the
  thread that reads the answer; a tool call before it is not text.
- first audio out: the reply's first audio was handed to the speaker, not queued
  (``Playback.on_first_audio``): behind an earcon or another reply it waits.
- last audio out: the reply's end reached the speaker (its ``end()`` returned). On the device
  that is a wall-clock reading; in a lockstep simulation the speaker plays by audio time, so it
  is the first audio out plus the audio time between the two (``Pacing.speaker_clock``). A
  recording that ends mid-reply stops that clock: the rest is played at once, at its end.

The stages after the end of speech are stored in ms after it: that is what the wearer waits.
The audio clock stands still while a lockstep simulation works, so there it would read 0. And
there each turn's work is finished before the next frame is heard, so a streamed answer's first
audio goes out once the whole answer has been synthesised; on the device, once its first
sentence has.

Turns answered by the router are timed (``Respond``); announcements (a timer, "OK, I kept your
notes") are not: no one asked for them at that moment. Cost: a few ``perf_counter`` readings and
dictionary updates per turn on the event loop; the row's INSERT, with its fsync, in a thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from device.errors import StorageError
from device.events import (
    Command,
    Event,
    Heard,
    Listen,
    ListenMode,
    ReplyFinished,
    Respond,
    StopSpeaking,
    WakeWordDetected,
)
from device.loop.pacing import SpeakerClock
from device.loop.states import State
from device.speaking.answer import Streamed
from device.storage.timings import TurnTiming

log = logging.getLogger(__name__)

Reading = tuple[float, float]  # (perf_counter seconds, audio seconds)


@dataclass
class _Turn:
    """The readings of one turn, taken as it goes."""

    trigger_s: float
    wake_engine: str
    heard: Heard
    heard_wall: float  # perf_counter when the Heard left the listener
    intent: str = ""
    decided_wall: float | None = None
    first_token_wall: float | None = None  # set in the thread that reads the answer
    provider: str = ""
    first_audio: Reading | None = None
    failed: bool = False


class Timekeeper:
    """Times each turn from its trigger to its last audio and hands on one record per turn.

    ``record`` stores one (e.g. ``TurnTimings.add``); it runs in a thread of its own, so a slow
    card holds up nothing, and when it fails the turn is not affected: the record is skipped,
    and logged once until a record is kept again. ``audio_now`` is the listener's audio clock.
    """

    def __init__(
        self,
        record: Callable[[TurnTiming], None] | None,
        audio_now: Callable[[], float],
        speaker_clock: SpeakerClock,
        tts_engine: str,
    ) -> None:
        self._record = record
        self._audio_now = audio_now
        self._speaker_clock = speaker_clock
        self._tts_engine = tts_engine
        self._trigger: tuple[float, str] | None = None  # (audio seconds, wake engine)
        self._turns: dict[int, _Turn] = {}  # by reply id
        self._writer: concurrent.futures.ThreadPoolExecutor | None = None
        self._writes: set[asyncio.Future[None]] = set()
        self._problem = ""  # the last failure logged, until a record is kept again

    # ---- readings ------------------------------------------------------------------------
    def saw(self, event: Event, before: State, commands: Sequence[Command], wall: float) -> None:
        """The state machine took ``event`` (at ``wall``) in state ``before``: a trigger starts
        a turn's clock, a reply asked for starts its record, a stop cuts the turns off."""
        for command in commands:
            if isinstance(command, Listen) and command.mode is ListenMode.UTTERANCE:
                if before is not State.LISTENING:  # not a press held longer in the same turn
                    self._trigger = _trigger(event, self._audio_now())
            elif isinstance(command, Respond):
                trigger_s, engine = self._trigger or (command.heard.speech_ended_at_seconds, "")
                self._trigger = None
                self._turns[command.reply_id] = _Turn(trigger_s, engine, command.heard, wall)
            elif isinstance(command, StopSpeaking):
                for reply_id in list(self._turns):
                    self._finish(reply_id, "cut off", None)

    def decided(self, reply_id: int, intent: str) -> None:
        if (turn := self._turns.get(reply_id)) is not None:
            turn.intent, turn.decided_wall = intent, time.perf_counter()

    def watch(self, reply_id: int, fragments: Iterator[str]) -> Iterator[str]:
        """``fragments``, noting when the first one a cloud provider streamed arrives."""
        turn = self._turns.get(reply_id)
        return fragments if turn is None else _first_token(turn, fragments)

    def failed(self, reply_id: int) -> None:
        if (turn := self._turns.get(reply_id)) is not None:
            turn.failed = True

    def first_audio(self, reply_id: int) -> None:
        turn = self._turns.get(reply_id)
        if turn is not None and turn.first_audio is None:
            turn.first_audio = (time.perf_counter(), self._audio_now())

    def played(self, reply_id: int) -> None:
        if (turn := self._turns.get(reply_id)) is not None:
            ended = "failed" if turn.failed else "played"
            self._finish(reply_id, ended, (time.perf_counter(), self._audio_now()))

    # ---- records ---------------------------------------------------------------------------
    def _finish(self, reply_id: int, ended: str, last_audio: Reading | None) -> None:
        turn = self._turns.pop(reply_id)
        timing = _timing(turn, ended, last_audio, self._speaker_clock, self._tts_engine)
        if self._record is None:
            return
        if self._writer is None:
            self._writer = concurrent.futures.ThreadPoolExecutor(1, "turn-timings")
        write = asyncio.get_running_loop().run_in_executor(self._writer, self._write, timing)
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)

    def _write(self, timing: TurnTiming) -> None:
        assert self._record is not None
        try:
            self._record(timing)
        except (StorageError, ValueError) as exc:
            if str(exc) != self._problem:
                log.warning("turn timings not kept: %s", exc)
            self._problem = str(exc)
            return
        self._problem = ""

    async def flush(self) -> None:
        """Wait for the records being written; then the database may be closed."""
        if self._writes:
            await asyncio.wait(set(self._writes))
        if self._writer is not None:
            self._writer.shutdown(wait=False)
            self._writer = None


def _trigger(event: Event, audio_now: float) -> tuple[float, str]:
    """When a turn started, on the audio clock, and the wake engine that started it."""
    if isinstance(event, WakeWordDetected):
        return event.at_seconds, event.engine
    if isinstance(event, ReplyFinished):  # the question asking for a yes has been played
        return event.at_seconds, ""
    return audio_now, ""


def _first_token(turn: _Turn, fragments: Iterator[str]) -> Iterator[str]:
    try:
        for fragment in fragments:
            if turn.first_token_wall is None and isinstance(fragment, Streamed):
                turn.first_token_wall = time.perf_counter()
                turn.provider = fragment.provider
            yield fragment
    finally:
        close = getattr(fragments, "close", None)
        if close is not None:
            close()  # a cloud answer's stream is closed when the reply stops reading it


def _timing(
    turn: _Turn,
    ended: str,
    last_audio: Reading | None,
    speaker_clock: SpeakerClock,
    tts_engine: str,
) -> TurnTiming:
    heard = turn.heard
    asr_final_ms = heard.timings_ms.get("asr_final", 0.0)
    speech_ended = turn.heard_wall - asr_final_ms / 1000  # on the wall clock

    def after(wall: float | None) -> float | None:
        return None if wall is None else (wall - speech_ended) * 1000

    first = turn.first_audio
    first_audio_ms = after(first[0] if first else None)
    last_audio_ms = after(last_audio[0] if last_audio else None)
    if speaker_clock == "audio" and first and last_audio and first_audio_ms is not None:
        last_audio_ms = first_audio_ms + (last_audio[1] - first[1]) * 1000
    return TurnTiming(
        at=time.time(),
        trigger=heard.trigger,
        intent=turn.intent,
        ended=ended,
        wake_engine=turn.wake_engine,
        asr_engine=heard.engine,
        tts_engine=tts_engine,
        provider=turn.provider,
        trigger_s=turn.trigger_s,
        speech_end_s=heard.speech_ended_at_seconds,
        asr_final_ms=asr_final_ms,
        intent_ms=after(turn.decided_wall),
        first_token_ms=after(turn.first_token_wall),
        first_audio_ms=first_audio_ms,
        last_audio_ms=last_audio_ms,
    )
