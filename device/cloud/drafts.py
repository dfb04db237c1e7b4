"""Notes the device could only guess at, transcribed again by the cloud once it can be reached.

The pocketsphinx fallback knows a few hundred words, so a note it heard is saved as a draft with
its audio (``device.storage.notes``). After each turn, and when the daemon starts, the drafts'
audio goes to cloud transcription, through the egress gate like any upload, and each draft
takes the cloud's words. Offline, nothing is lost: the drafts wait, and the first failure ends
the round (the recogniser's circuit breaker keeps a dead provider from being asked again soon).
"""

from __future__ import annotations

import logging
import threading

from device.cloud.speech import CloudRecognizer
from device.errors import StorageError
from device.skills.intents import dictated_text
from device.storage.notes import NoteStore, revise_drafts

log = logging.getLogger(__name__)


class DraftReviser:
    """Revises draft notes in a background thread, one round at a time."""

    def __init__(self, notes: NoteStore, recognizer: CloudRecognizer, wake_phrase: str) -> None:
        self.notes = notes
        self.recognizer = recognizer
        self.wake_phrase = wake_phrase
        self._running = threading.Lock()

    def _transcribe(self, wav: bytes) -> tuple[str, str] | None:
        text = self.recognizer.transcribe(wav)
        if text is None:
            return None
        return dictated_text(text, self.wake_phrase), self.recognizer.name

    def revise(self) -> int:
        """One round, in this thread: how many drafts took the cloud's words."""
        if not self._running.acquire(blocking=False):
            return 0  # a round is under way
        try:
            return revise_drafts(self.notes, self._transcribe)
        except StorageError as exc:
            log.warning("%s", exc)
            return 0
        finally:
            self._running.release()

    def revise_soon(self) -> threading.Thread:
        """Start a round in the background (it does nothing if one is under way)."""
        thread = threading.Thread(target=self.revise, name="draft-notes", daemon=True)
        thread.start()
        return thread
