"""What the device does by itself, offline: one method per intent, each returning the reply text.

skills = Skills(timers, notes, volume, camera=None, photos_dir=Path("photos"), ...)
skills.handle(parse("what time is it"))  # -> "It's 3:07 PM."
skills.confirmation(parse("delete my notes")).question  # -> "Delete all 12 notes? Say yes ..."

``handle`` does what it is told. Asking before what cannot be undone is the voice loop's part: it
puts ``confirmation``'s question to the user and calls ``handle`` only after a yes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from device.cancel import Cancellation
from device.errors import StorageError
from device.events import Heard
from device.skills.intents import Intent
from device.skills.phrasebook import ENGLISH, Phrasebook
from device.skills.phrasebooks import phrasebook_for
from device.skills.recordings import RECORDING_INTENTS, RecordingSkill
from device.skills.timers import Timers
from device.speaking.playback import Volume
from device.storage.files import write_atomically
from device.storage.memory import ConversationStore, MemoryStore
from device.storage.notes import NoteStore
from device.storage.trouble import kind_of
from device.system.status import BatteryGauge, describe, read_status
from drivers.audio_format import wav_bytes
from drivers.camera import Camera
from drivers.errors import DriverError

log = logging.getLogger(__name__)

HELP = (
    "I can tell the time and the date, set and cancel timers, take notes and read them back, "
    "take photos, record a meeting, change the volume, and repeat what I said. Anything else "
    "needs the cloud."
)

# Ends every question. The answer is listened for with the listener's pre-roll, which on a device
# without echo cancellation holds the question's last words: they must only ever cancel ("cancel
# yes" is not a yes, see ``is_confirmation``).
ANSWER_HINT = "Say yes to confirm, or no to cancel."
NO_TIMER = "There's no timer running."
TIMER_DONE = "Your {name} timer is done."  # announced when it rings (``device.loop.states``)
NO_NOTES = "You have no notes."
# The workshop's reset between visitors, asked by the long-hold gesture ([buttons]
# reset_hold_seconds): the state machine asks, and the skill acts on a yes.
VISITOR_RESET = "visitor_reset"
VISITOR_RESET_QUESTION = (
    "Forget everything from this visit: notes, what you told me, our conversation, photos and "
    f"recordings? {ANSWER_HINT}"
)
VISITOR_RESET_KEPT = "OK, I kept everything."
# What the wearer hears when a note cannot be saved, by what is wrong with the storage.
NOTE_NOT_SAVED = {
    "full": "I can't save that: the SD card is full.",
    "read-only": "I can't save that: my storage is read-only. Check the SD card.",
    "locked": "I can't save that: another program is using my notes.",
    "damaged": "I can't save that: my notes file is damaged.",
    "io": "I can't save that: the SD card is failing.",
    "other": "I couldn't save that note. The log says why.",
}


# Ends in a question, so the answer needs no wake word (``device.loop.follow_up``).
ASK_LENGTH = "Timers need a length, like five minutes. For how long?"


@dataclass(frozen=True)
class Confirmation:
    """A question to ask before an action that cannot be undone."""

    action: str  # the intent to carry out on a yes (one without slots)
    question: str  # "Delete all 12 notes? Say yes to confirm, or no to cancel."
    kept: str  # said when the answer is anything but a yes: "OK, I kept your notes."


class Asking(str):
    """The last fragment of a reply that asks before acting, as a brain yields it (the cloud
    brain before a tool that changes something in the world): text like any other, the question
    itself, which also carries the ``confirmation`` the voice loop waits for and ``then``, the
    rest of the answer, produced only on a yes (from what the wearer said and their cancel)."""

    confirmation: Confirmation
    then: Callable[[str, Cancellation], Iterator[str]]

    def __new__(
        cls,
        confirmation: Confirmation,
        then: Callable[[str, Cancellation], Iterator[str]],
    ) -> Asking:
        fragment = super().__new__(cls, confirmation.question)
        fragment.confirmation = confirmation
        fragment.then = then
        return fragment


class Skills:
    """Runs local intents. Collaborators are injected; nothing here reads global config."""

    def __init__(
        self,
        timers: Timers,
        notes: NoteStore,
        volume: Volume,
        *,
        camera: Camera | None,
        photos_dir: Path,
        state_dir: Path,
        battery: BatteryGauge | None = None,
        now: Callable[[], dt.datetime] = dt.datetime.now,
        max_notes_read: int = 5,
        memory: MemoryStore | None = None,
        conversation: ConversationStore | None = None,
        forget_visitor: Callable[[], str] | None = None,
        recording: RecordingSkill | None = None,
    ) -> None:
        self.timers = timers
        self.notes = notes
        self.volume = volume
        self.camera = camera
        self.photos_dir = photos_dir
        self.state_dir = state_dir
        self.battery = battery
        self.now = now
        self.max_notes_read = max_notes_read
        self.memory = memory
        self.conversation = conversation
        # wipes what the visitor left on the card and says what went; None: not on this device
        self.forget_visitor = forget_visitor
        self.recording = recording or RecordingSkill(None)  # none: "recording is turned off"
        self.last_reply = ""
        self.say: Phrasebook = ENGLISH  # the language of the intent being handled

    def handle(self, intent: Intent, heard: Heard | None = None) -> str:
        """The reply to ``intent`` (may be empty: "stop" says nothing); ``heard``, the utterance
        it was parsed from, gives a dictated note its audio. The reply is in the language the
        intent was said in."""
        self.say = phrasebook_for(intent.language)
        if intent.name == "note_add":
            reply = self._note_add(intent, heard)
        elif intent.name in RECORDING_INTENTS:
            reply = self.recording.handle(intent.name, self.say)
        else:
            method: Callable[[Intent], str] = getattr(self, f"_{intent.name}")
            reply = method(intent)
        if intent.name != "repeat" and reply:
            self.last_reply = reply
        return reply

    def confirmation(self, intent: Intent) -> Confirmation | None:
        """The question to ask before ``intent``; None when it may be done at once (also when
        there is nothing to delete, which ``handle`` then says)."""
        self.say = phrasebook_for(intent.language)
        if intent.name == "notes_delete":
            return self._confirm_notes_delete()
        if intent.name == "forget" and (self.memory is not None or self.conversation is not None):
            return self._confirm_forget()
        return None

    # ---- time ----------------------------------------------------------------------------
    def _time(self, intent: Intent) -> str:
        return self.say("It's {time}.", time=self.say.clock(self.now()))

    def _date(self, intent: Intent) -> str:
        return self.say("Today is {day}.", day=self.say.day(self.now()))

    # ---- timers --------------------------------------------------------------------------
    def _timer_set(self, intent: Intent) -> str:
        if "seconds" not in intent.slots:
            return self.say(ASK_LENGTH)
        seconds = float(intent.slots["seconds"])
        try:
            timer = self.timers.start(seconds, intent.slots.get("name"))
        except ValueError:
            return self.say("Timers can run from one second to one day.")
        length = self.say.duration(seconds)
        if timer.name[0].isdigit():
            return self.say("OK, timer set for {length}.", length=length)
        return self.say("OK, {name} timer set for {length}.", name=timer.name, length=length)

    def _timer_cancel(self, intent: Intent) -> str:
        cancelled = self.timers.cancel(intent.slots.get("name"))
        if not cancelled:
            return self.say(NO_TIMER)
        if len(cancelled) == 1:
            return self.say("Cancelled the {name} timer.", name=cancelled[0].name)
        return self.say("Cancelled {count} timers.", count=len(cancelled))

    def _timer_query(self, intent: Intent) -> str:
        active = self.timers.active()
        if not active:
            return self.say(NO_TIMER)
        say = self.say
        parts = [
            say(
                "{name} timer, {length} left",
                name=t.name,
                length=say.duration(self.timers.remaining(t)),
            )
            for t in active
        ]
        return say("{timers}.", timers=say("; ").join(parts))

    # ---- volume --------------------------------------------------------------------------
    def _volume_up(self, intent: Intent) -> str:
        return self._volume_is(self.volume.percent + self.volume.step)

    def _volume_down(self, intent: Intent) -> str:
        return self._volume_is(self.volume.percent - self.volume.step)

    def _volume_set(self, intent: Intent) -> str:
        return self._volume_is(int(intent.slots["percent"]))

    def _volume_is(self, percent: int) -> str:
        return self.say("Volume {percent} percent.", percent=self.volume.set(percent))

    def _mute(self, intent: Intent) -> str:
        self.volume.muted = True
        return ""  # anything said now would be silent

    def _unmute(self, intent: Intent) -> str:
        self.volume.muted = False
        return self.say("Sound is back on, at {percent} percent.", percent=self.volume.percent)

    # ---- conversation --------------------------------------------------------------------
    def _stop(self, intent: Intent) -> str:
        return ""

    def _repeat(self, intent: Intent) -> str:
        return self.last_reply or self.say("I haven't said anything yet.")

    def _help(self, intent: Intent) -> str:
        return self.say(HELP)

    def _status(self, intent: Intent) -> str:
        return describe(read_status(self.state_dir, self.battery))

    def _confirm_forget(self) -> Confirmation:
        try:
            facts = self.memory.count() if self.memory is not None else 0
        except StorageError as exc:  # still asked: a failing count must not skip the question
            log.warning("%s", exc)
            facts = 0
        told = {0: "", 1: "the one thing you told me, and "}.get(
            facts, f"the {facts} things you told me, and "
        )
        return Confirmation(
            "forget",
            f"Forget {told}our conversation? {ANSWER_HINT}",
            "OK, I haven't forgotten anything.",
        )

    def _forget(self, intent: Intent) -> str:
        """Wipe long-term memory and the conversation so far (notes are kept: they have
        their own "delete my notes")."""
        try:
            facts = self.memory.forget_all() if self.memory is not None else 0
            if self.conversation is not None:
                self.conversation.clear()
        except StorageError as exc:
            log.warning("%s", exc)
            return "I couldn't forget: the storage failed."
        things = f"{facts} thing{'s' if facts != 1 else ''}"
        return f"Done. I forgot {things} you told me, and our conversation."

    def _visitor_reset(self, intent: Intent) -> str:
        """Between two visitors at a workshop (asked first): what the last one left on the card,
        the conversation, and their timers."""
        if self.forget_visitor is None:
            return "I can't forget the visit here: nothing is saved on this device."
        try:
            gone = self.forget_visitor()
        except StorageError as exc:
            log.warning("%s", exc)
            return "I couldn't forget the visit: the storage failed."
        if self.conversation is not None:
            self.conversation.clear()
        self.timers.cancel()
        return f"Done. {gone} Ready for the next visitor."

    # ---- camera --------------------------------------------------------------------------
    def _photo(self, intent: Intent) -> str:
        if self.camera is None:
            return "There's no camera connected."
        try:
            photo = self.camera.capture()
        except DriverError as exc:
            log.warning("camera failed: %s", exc)
            return "The camera didn't work. Check its cable."
        suffix = ".png" if photo.mime == "image/png" else ".jpg"
        path = self.photos_dir / f"{self.now():%Y%m%d-%H%M%S}{suffix}"
        try:
            write_atomically(path, photo.data, mode=0o600)  # photos are private
        except OSError as exc:
            log.warning("could not save photo %s: %s", path, exc)
            return "I took the photo but couldn't save it. The card may be full."
        return "Photo saved."

    # ---- notes ---------------------------------------------------------------------------
    def _note_add(self, intent: Intent, heard: Heard | None = None) -> str:
        text = intent.slots.get("text", "").strip()
        if not text:
            return self.say("What should the note say?")
        try:
            if heard is None:  # typed, not said
                self.notes.add(text)
            else:  # what was said is kept, and a guess is a draft to transcribe again
                audio = wav_bytes(heard.audio) if heard.audio else b""
                self.notes.add(text, audio, heard.engine, draft=not heard.verbatim)
        except StorageError as exc:
            log.warning("%s", exc)
            return self.say(NOTE_NOT_SAVED[kind_of(exc)])
        return self.say("Noted: {text}.", text=text)

    def _notes_read(self, intent: Intent) -> str:
        if not self.notes.can_read:
            return self.say("I can't read your notes right now. The log says why.")
        try:
            count = self.notes.count()
            notes = self.notes.recent(self.max_notes_read)
        except StorageError as exc:
            log.warning("%s", exc)
            return self.say("I couldn't read your notes.")
        if count == 0:
            return self.say(NO_NOTES)
        listing = self.say.listing([n.text for n in notes])
        if count == 1:
            return self.say("You have one note: {listing}", listing=listing)
        said = self.say(
            "You have {count} notes. Newest first: {listing}", count=count, listing=listing
        )
        if count > len(notes):
            said += self.say(" And {count} older.", count=count - len(notes))
        return said

    def _confirm_notes_delete(self) -> Confirmation | None:
        try:
            count: int | None = self.notes.count()
        except StorageError as exc:  # still asked: a failing count must not skip the question
            log.warning("%s", exc)
            count = None
        if count == 0:
            return None
        say = self.say
        asked = {None: "Delete all your notes? ", 1: "Delete your one note? "}
        question = say(asked.get(count, "Delete all {count} notes? "), count=count)
        kept = say("OK, I kept your note." if count == 1 else "OK, I kept your notes.")
        return Confirmation("notes_delete", question + say(ANSWER_HINT), kept)

    def _notes_delete(self, intent: Intent) -> str:
        try:
            deleted = self.notes.delete_all()
        except StorageError as exc:
            log.warning("%s", exc)
            return self.say("I couldn't delete your notes.")
        if deleted == 1:
            return self.say("Deleted 1 note.")
        return self.say("Deleted {count} notes.", count=deleted) if deleted else self.say(NO_NOTES)
