"""What the user asked for, decided on the device from recognised text.

Each intent has regular expressions over normalised text (lowercase, no punctuation, wake words and
politeness removed) and a JSGF fragment (``device.skills.intent_specs``): the same table builds the
grammar that lets the bundled pocketsphinx model recognise commands reliably. Text that matches
nothing goes to the brain, and so does a destructive command said with a negation or as a
question.

    >>> parse("Hey zero, set a timer for ten seconds please").name
    'timer_set'
    >>> parse("please don't delete my notes") is None
    True
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from types import MappingProxyType

from device.skills import chinese
from device.skills.intent import Intent
from device.skills.intent_specs import SPECS
from device.skills.languages import language_named, names
from device.skills.numbers import parse_duration, parse_number
from device.skills.vocabulary import (
    NOTE_WORDS,
    ONES,
    QUESTION_STARTS,
    QUESTION_WORDS,
    TEENS,
    TENS,
)

# Commands that destroy what the user keeps. Said with a negation ("please don't delete my notes")
# or as a question ("how do I delete my notes") they are not commands: the words go to the brain,
# which has no tool that deletes (``device.cloud.tools``). None of them is matched fuzzily.
DESTRUCTIVE = ("notes_delete", "forget", "timer_cancel")
# Of those, the ones that cannot be undone: the device asks first and acts only on a clear yes
# (``device.loop.states``). A cancelled timer is set again in a breath; it is not asked about.
CONFIRMED = ("notes_delete", "forget")
# Answers to the device's question; anywhere else they are words for the brain.
ANSWERS = ("confirm", "decline", "timer_length")
# Commands that act on the world (a photo taken, a camera frame sent, a sound changed): "don't
# take a photo" or "never read this" is not one. Only a negation before the words counts, since
# these are asked as questions too ("what am I looking at").
ACTING = (
    "photo",
    "look",
    "timer_set",
    "volume_set",
    "volume_up",
    "volume_down",
    "mute",
    "unmute",
    "recording_start",
)

_NEGATION = re.compile(
    r"\b(?:dont|do not|does not|doesnt|never(?! ?mind)|not|no|stop|cant|cannot|wont|shouldnt)\b"
)
_QUESTION = re.compile(
    r"\b(?:how|why|what|when|where|who|which|whether|if)\b"
    r"|^(?:is|are|was|do|does|did|can|could|should|shall|would|will|may|might|must)\b"
)

DEFAULT_WAKE_PHRASE = "hey zero"  # [wake] phrase's default; the daemon passes the configured one
GREETINGS = ("hey", "hi", "ok", "okay")  # said in place of each other before a name
LEADING_POLITENESS = ("can you", "could you", "would you", "will you", "i want you to", "now")

_COMPILED = [(spec, [re.compile(p) for p in spec.patterns]) for spec in SPECS]


@functools.cache
def wake_remnants(phrase: str) -> tuple[str, ...]:
    """What of the wake phrase a recogniser may leave at the start of an utterance, longest
    first: the phrase, its greeting said another way ("hi zero" for "hey zero"), each word."""
    words = phrase.lower().split()
    forms = {" ".join(words), *words}
    if len(words) > 1 and words[0] in GREETINGS:
        forms |= {" ".join([greeting, *words[1:]]) for greeting in GREETINGS}
    return tuple(sorted(forms, key=lambda form: (-len(form), form)))


def without_wake_words(text: str, wake_phrase: str = DEFAULT_WAKE_PHRASE) -> str:
    """``text`` without a leading wake phrase the recogniser heard in the pre-roll ("zero ...").

    Case and punctuation are kept: this is what the brain is asked.
    """
    lowered = text.lower()
    for remnant in wake_remnants(wake_phrase):
        if lowered == remnant or re.match(re.escape(remnant) + r"\b[\s,.!?]*", lowered):
            rest = text[len(remnant) :].lstrip(" ,.!?，。！？")
            if rest:
                return rest
    return text


# Intents whose slot is free text: a grammar recogniser can only guess at its words, so they
# are transcribed by the cloud when one can (``decided_locally``), and a note is kept with its
# audio (``device.storage.notes``).
DICTATION = ("note_add", "translate")
# Decided on the cloud's words when there is a cloud to hear them: conversation translation,
# which the grammar also hears in "translate <anything> into Spanish" (translate has no grammar
# of its own), must not start on a guess.
CLOUD_HEARD = (*DICTATION, "interpret")


def decided_locally(text: str, wake_phrase: str = DEFAULT_WAKE_PHRASE) -> bool:
    """Whether ``text`` is a command the device runs on its own recogniser's words."""
    intent = parse(text, wake_phrase)
    return intent is not None and intent.name not in CLOUD_HEARD


def may_guess(text: str, wake_phrase: str = DEFAULT_WAKE_PHRASE) -> bool:
    """Whether the device may run ``text`` when it was guessed, not heard in the grammar
    (``device.listening.command_rescue``): a command whose near-misses count
    (``IntentSpec.fuzzy``: no slot, nothing recorded or deleted) other than ending a recording,
    or a timer without its length, which only asks for one."""
    intent = parse(text, wake_phrase)
    if intent is None:
        return False
    if intent.name == "timer_set":
        return not intent.slots
    if intent.name == "recording_stop":  # a wrong guess would end a meeting's recording
        return False
    return any(spec.fuzzy for spec in SPECS if spec.name == intent.name)


def dictated_text(text: str, wake_phrase: str = DEFAULT_WAKE_PHRASE) -> str:
    """What a dictation said, from a new transcript of its whole utterance: the note's words
    ("hey zero take a note buy milk" -> "buy milk"), or all of it less the wake words."""
    intent = parse(text, wake_phrase)
    if intent is not None and intent.name in DICTATION:
        return intent.slots.get("text", "")
    return without_wake_words(text, wake_phrase)


def normalise(text: str, wake_phrase: str = DEFAULT_WAKE_PHRASE) -> str:
    """Lowercase, drop punctuation and apostrophes, remove wake words and politeness."""
    text = text.lower().replace("'", "")
    text = re.sub(r"[^a-z0-9%]+", " ", text)
    text = " ".join(word for word in text.split() if word != "please")
    for remnant in wake_remnants(wake_phrase):  # only at the start: "zero" elsewhere is a number
        if text == remnant or text.startswith(remnant + " "):
            text = text[len(remnant) :].strip()
            break
    for phrase in LEADING_POLITENESS:
        if text.startswith(phrase + " "):
            text = text[len(phrase) :].strip()
    return text


def parse(text: str, wake_phrase: str = DEFAULT_WAKE_PHRASE) -> Intent | None:
    """The intent in ``text``, or None when it is a question for the brain. Chinese text is
    parsed by ``device.skills.chinese``, whatever the device's language: its reply is Chinese."""
    if chinese.has_chinese(text):
        return chinese.parse(text)
    norm = normalise(text, wake_phrase)
    if not norm:
        return None
    for spec, patterns in _COMPILED:
        for pattern in patterns:
            match = pattern.search(norm)
            if match and not _refused(spec.name, norm, match):
                intent = _with_slots(spec.name, match.groupdict(), norm)
                if intent is not None:
                    return intent
    return _fuzzy(norm)


def is_confirmation(text: str) -> bool:
    """Whether ``text`` is a clear yes to the device's question: "yes", "yes delete them",
    "confirm". All of it must be: "yes but don't", "no yes" or "yeah" is not one."""
    intent = parse(text)
    return intent is not None and intent.name == "confirm"


def is_stop(text: str) -> bool:
    """Whether ``text`` asks the device to stop: "stop", "cancel", "stop translating"."""
    intent = parse(text)
    return (intent is not None and intent.name == "stop") or bool(
        re.search(r"\bstop (?:translating|interpreting)\b", normalise(text))
    )


def _refused(name: str, norm: str, match: re.Match[str]) -> bool:
    """Whether the command ``name`` matched in ``norm`` is not meant: a destructive one negated
    anywhere around its words or asked about before them ("can you tell me how to delete my
    notes"), an acting one negated before them ("don't take a photo")."""
    before, after = norm[: match.start()], norm[match.end() :]
    if name in DESTRUCTIVE:
        return bool(_NEGATION.search(before) or _NEGATION.search(after) or _QUESTION.search(before))
    return name in ACTING and bool(_NEGATION.search(before))


def _with_slots(name: str, groups: Mapping[str, str | None], norm: str) -> Intent | None:
    slots = {k: v.strip() for k, v in groups.items() if v and v.strip()}
    if name == "timer_set":
        seconds = parse_duration(slots.get("duration", ""))
        if seconds is None:
            return Intent("timer_set", MappingProxyType({}), norm)  # the skill asks for a length
        slots = {"seconds": repr(seconds), **({"name": slots["name"]} if "name" in slots else {})}
        if slots.get("name") in ("a", "an", "the", "new"):
            slots.pop("name")
    elif name == "timer_length":
        spoken = slots.get("duration", "")
        seconds = parse_duration(spoken)
        if seconds is None:
            number = int(spoken) if spoken.isdigit() else parse_number(spoken)
            seconds = None if number is None else number * 60.0
        if seconds is None:
            return None
        slots = {"seconds": repr(seconds)}
    elif name == "translate":
        if language_named(slots.get("language", "")) is None:
            return None  # "what is the capital of france in words": a question
    elif name == "interpret":
        first, second = (language_named(slots.get(k, "")) for k in ("first", "second"))
        if first is None or second is None or first.code == second.code:
            return None
    elif name == "volume_set":
        level = slots.get("level", "")
        number = int(level) if level.isdigit() else parse_number(level)
        if number is None:
            return None
        slots = {"percent": str(number)}
    return Intent(name, MappingProxyType(slots), norm)


def _fuzzy(norm: str) -> Intent | None:
    """Near-misses of a slot-free intent's examples (an ASR that dropped or swapped a word)."""
    words = norm.split()
    negated = bool(_NEGATION.search(norm))
    best: tuple[float, str] = (0.0, "")
    for spec in SPECS:
        if not spec.fuzzy or (negated and spec.name in ACTING):
            continue
        for example in spec.examples:
            ratio = difflib.SequenceMatcher(None, words, example.split()).ratio()
            if ratio > best[0]:
                best = (ratio, spec.name)
    return Intent(best[1], MappingProxyType({}), norm) if best[0] >= 0.75 else None


def jsgf_grammar(wake_phrase: str = "hey zero", expecting: str = "") -> str:
    """A JSGF grammar of every command, with the wake phrase as an optional prefix.

    With ``expecting`` ("length"), the grammar of the answers to the device's question instead
    (``IntentSpec.answers``), and "stop": a second search costs the recogniser about 18 MB with
    every command in it and 7 MB without. Anything else is a question, as always."""
    units = "second | seconds | minute | minutes | hour | hours"
    answering = [spec for spec in SPECS if spec.name == "stop" or spec.answers == expecting]
    heard = answering if expecting else [spec for spec in SPECS if not spec.answers]
    commands = " | ".join(f"/1/ ( {spec.grammar} )" for spec in heard if spec.grammar)
    commands += " | /0.05/ <question>"
    wake = " ".join(f"[{word}]" for word in wake_phrase.split())
    return (
        "#JSGF V1.0;\n"
        "grammar zeropin;\n"
        f"public <utterance> = {wake} [please] <command> [please];\n"
        f"<command> = {commands};\n"
        f"<ones> = {' | '.join(ONES)};\n"
        f"<teens> = {' | '.join(TEENS)};\n"
        f"<tens> = {' | '.join(TENS)};\n"
        "<count> = <ones> [hundred] | <teens> | <tens> [<ones>] | zero;\n"
        "<number> = <count> | a | an;\n"
        f"<unit> = {units};\n"
        # A bounded phrase, not a (word)+ loop: the loop is slower and inserts words.
        f"<word> = {' | '.join(sorted(set(NOTE_WORDS)))};\n"
        "<words> = <word> [<word>] [<word>] [<word>];\n"
        f"<language> = {' | '.join(names())};\n"
        f"<question> = ({QUESTION_STARTS}) <qword> [<qword>] [<qword>] [<qword>] [<qword>];\n"
        f"<qword> = {' | '.join(sorted(set(QUESTION_WORDS)))};\n"
    )
