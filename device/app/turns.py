"""What runs after each answered turn, besides the caller's own ``on_turn``: background work
that may go now that a turn has reached (or failed to reach) the cloud."""

from __future__ import annotations

from collections.abc import Callable

from device.cloud.drafts import DraftReviser
from device.cloud.speech import CloudRecognizer
from device.cloud.transcripts import Transcriber
from device.listening.asr import Recognizer
from device.loop.runtime import TurnReport
from device.storage.notes import NoteStore

OnTurn = Callable[[TurnReport], None]


def _after(on_turn: OnTurn | None, then: Callable[[], object]) -> OnTurn:
    def after_turn(report: TurnReport) -> None:
        if on_turn is not None:
            on_turn(report)
        then()

    return after_turn


def waking(transcriber: Transcriber | None, on_turn: OnTurn | None) -> OnTurn | None:
    """``on_turn``, then the transcriber woken: the recording segments waiting for the cloud
    may go now."""
    return on_turn if transcriber is None else _after(on_turn, transcriber.wake)


def revising_drafts(
    recognizer: Recognizer, notes: NoteStore, wake_phrase: str, on_turn: OnTurn | None
) -> OnTurn | None:
    """``on_turn``, and after it a round of draft notes to the cloud, when it can transcribe;
    one round now, for the drafts left from before."""
    if not isinstance(recognizer, CloudRecognizer):
        return on_turn
    reviser = DraftReviser(notes, recognizer, wake_phrase)
    reviser.revise_soon()
    return _after(on_turn, reviser.revise_soon)
