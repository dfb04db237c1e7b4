"""What the user asked for, decided on the device from recognised text.

Each intent has regular expressions over normalised text (lowercase, no punctuation, wake words and
politeness removed) and a JSGF fragment: the same table builds the grammar that lets the bundled
pocketsphinx model recognise commands reliably. Text that matches nothing goes to the brain, and
so does a destructive command said with a negation or as a question.

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
from dataclasses import dataclass
from types import MappingProxyType

from device.skills import chinese
from device.skills.intent import Intent
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


@dataclass(frozen=True)
class IntentSpec:
    name: str
    patterns: tuple[str, ...]  # regexes over normalised text; named groups become slots
    grammar: str  # JSGF alternatives, may use <number>, <unit>, <words>
    examples: tuple[str, ...]  # canonical phrases, also used for fuzzy matching
    fuzzy: bool = True  # whether near-misses of the examples count (no free-text slots)


SPECS: tuple[IntentSpec, ...] = (
    # Answers to the device's own question (see ``is_confirmation``), first so that "yes delete
    # my notes" is the answer it is; anywhere else they are words for the brain.
    IntentSpec(
        "confirm",
        (
            r"^yes(?: do it)?$",
            r"^(?:yes )?(?:i )?confirm$",
            r"^yes (?:delete|clear|erase) (?:them|it|(?:all )?(?:of )?(?:my |the )?notes)"
            r"(?: all)?$",
            r"^yes forget (?:everything|it(?: all)?)$",
        ),
        "yes [(delete | clear) [all] [my | the] (notes | them | it) | forget (everything | it) "
        "| do it | [i] confirm] | [i] confirm",
        ("yes", "yes delete them", "confirm"),
        fuzzy=False,
    ),
    IntentSpec(
        "decline",
        (r"^(?:no|nope)(?: thanks| thank you| dont| keep (?:them|it))?$", r"^(?:dont|keep them)$"),
        "no [thanks | thank you | don't | keep them] | nope | don't | keep them",
        ("no", "no keep them"),
        fuzzy=False,
    ),
    IntentSpec(
        "time",
        (
            r"\bwhat time is it\b",
            r"\bwhats? (?:is )?the time\b",
            r"\btell me the time\b",
            r"^time$",
        ),
        "what time is it | what is the time | tell me the time",
        ("what time is it", "what is the time"),
    ),
    IntentSpec(
        "date",
        (
            r"\bwhats? (?:is )?(?:the|todays) date\b",
            r"\bwhat day is (?:it|today)\b",
            r"\bwhat is today\b",
            r"^date$",
        ),
        "what is the date [today] | what day is it [today]",
        ("what is the date", "what day is it"),
    ),
    IntentSpec(
        "timer_cancel",
        (
            r"\b(?:cancel|stop|delete|remove|clear) (?:the |my |all )?(?:(?:my |the )?timers?|"
            r"(?P<name>[a-z]+) timer)\b",
        ),
        "(cancel | stop | delete) [the | my | all] (timer | timers)",
        ("cancel the timer", "cancel all timers"),
        fuzzy=False,
    ),
    IntentSpec(
        "timer_query",
        (r"\bhow (?:much|long) (?:time )?(?:is )?left\b", r"\bwhat timers\b", r"\bany timers\b"),
        "how much time is left | how long is left | what timers are (running | set)",
        ("how much time is left", "what timers are running"),
    ),
    IntentSpec(
        "timer_set",
        (
            r"\b(?:set|start|make) (?:an? |the )?(?:(?P<name>[a-z]+) )?timer\b"
            r"(?: for)?(?P<duration>.*)$",
            r"\btimer for (?P<duration>.+)$",
            r"\bremind me in (?P<duration>.+)$",
        ),
        "(set | start) a timer for <number> [and a half] <unit> [and <number> <unit>]",
        ("set a timer for ten seconds", "set a timer for five minutes"),
        fuzzy=False,
    ),
    IntentSpec(
        "volume_set",
        (r"\b(?:set )?(?:the )?volume (?:to|at) (?P<level>[a-z0-9 ]+?)(?: percent)?$",),
        "[set] [the] volume to <number> [percent]",
        ("set the volume to fifty percent",),
        fuzzy=False,
    ),
    IntentSpec(
        "volume_up",
        (
            r"\bvolume up\b",
            r"\blouder\b",
            r"\bturn (?:it|the volume) up\b",
            r"\bincrease (?:the )?volume\b",
        ),
        "volume up | louder | turn it up",
        ("volume up", "louder"),
    ),
    IntentSpec(
        "volume_down",
        (
            r"\bvolume down\b",
            r"\bquieter\b",
            r"\bsofter\b",
            r"\bturn (?:it|the volume) down\b",
            r"\b(?:decrease|lower) (?:the )?volume\b",
        ),
        "volume down | quieter | turn it down",
        ("volume down", "quieter"),
    ),
    IntentSpec("unmute", (r"\bunmute\b",), "unmute", ("unmute",)),
    IntentSpec(
        "mute", (r"^mute\b", r"\bmute (?:the )?(?:sound|volume|speaker)\b"), "mute", ("mute",)
    ),
    IntentSpec(
        "repeat",
        (r"\brepeat(?: that| it)?\b", r"\bsay (?:that|it) again\b", r"\bwhat did you say\b"),
        "repeat [that] | say that again",
        ("repeat that", "say that again"),
    ),
    IntentSpec(
        "photo",
        (r"\btake (?:a |another )?(?:photo|picture|snapshot|pic)\b",),
        "take a (photo | picture)",
        ("take a photo", "take a picture"),
    ),
    IntentSpec(
        "look",  # answered by the cloud brain with the camera's view, see device.loop.router
        (
            r"\bwhat am i looking at\b",
            r"\bwhat (?:do you|can you) see\b",
            r"\bwhat (?:is|s) (?:this|that|in front of me)$",
            r"\bread (?:this|that|it)(?: for me| to me)?$",
            r"\bwhat does (?:this|that|the) (?:sign|label|page|note|screen) say\b",
            r"\bdescribe (?:what you see|this|the scene)\b",
        ),
        "what am i looking at | what do you see | what is this | read this [for me] "
        "| what does (this | the) sign say | describe what you see",
        ("what am i looking at", "what does this sign say", "read this"),
    ),
    IntentSpec(
        "forget",
        (r"\bforget (?:everything|all|it all|what i told you)\b",),
        "forget everything",
        ("forget everything",),
        fuzzy=False,
    ),
    IntentSpec(
        "notes_read",
        (
            r"\bread (?:me )?(?:my |the |all )*notes\b",
            r"\bwhat are my notes\b",
            r"\blist (?:my |the )?notes\b",
        ),
        "read [me] my notes | what are my notes",
        ("read my notes", "what are my notes"),
    ),
    IntentSpec(
        "notes_delete",
        (r"\b(?:delete|clear|erase|remove) (?:all )?(?:of )?(?:my |the )?notes\b",),
        "(delete | clear) [all] my notes",
        ("delete my notes", "clear all my notes"),
        fuzzy=False,
    ),
    IntentSpec(
        "note_add",
        (
            r"\b(?:take|make|write|add) (?:a |another )?note(?: that| saying| to)? (?P<text>.+)$",
            r"^note (?P<text>.+)$",
        ),
        "(take | make) a note <words>",
        ("take a note buy milk",),
        fuzzy=False,
    ),
    IntentSpec(
        "recording_start",  # never on a near-miss: the microphone is recorded to the card
        (
            r"^(?:start|begin) (?:a |the )?recording(?: (?:this|the) (?:meeting|call|lecture))?$",
            r"^record (?:this|the|our) (?:meeting|call|lecture|conversation|talk)$",
        ),
        "(start | begin) [a] recording | record (this | the) (meeting | call | conversation)",
        ("start recording", "record this meeting"),
        fuzzy=False,
    ),
    IntentSpec(
        "recording_stop",
        (r"^(?:stop|end|finish) (?:the |this )?recording$",),
        "(stop | end | finish) [the] recording",
        ("stop recording", "end the recording"),
    ),
    IntentSpec(
        "recording_status",
        (
            r"^are you (?:still )?recording$",
            r"\bhow long (?:have you been|has it been) recording\b",
        ),
        "are you recording | how long have you been recording",
        ("are you recording",),
    ),
    IntentSpec(
        "interpret",  # conversation translation: every utterance until the button
        (
            r"^(?:translate|interpret) for (?:me|us) between (?P<first>[a-z]+) and "
            r"(?P<second>[a-z]+)$",
            r"^(?:start translating|be (?:my|our) (?:interpreter|translator)) between "
            r"(?P<first>[a-z]+) and (?P<second>[a-z]+)$",
        ),
        "(translate for (me | us) | start translating) between <language> and <language>",
        ("translate for me between english and spanish",),
        fuzzy=False,
    ),
    IntentSpec(
        "translate",  # needs the cloud: said into the language by its own voice (languages.py)
        (
            r"^translate (?P<text>.+?) (?:into|to|in) (?P<language>[a-z]+)$",
            r"^how (?:do you|do i|would you|would i) say (?P<text>.+?) in (?P<language>[a-z]+)$",
        ),
        # No grammar: a phrase to translate is free text, which the cloud transcribes anyway (the
        # translation needs it); a second <words> in the grammar cost pocketsphinx 16 MB and a
        # third more CPU on every utterance.
        "",
        ("translate where is the station into spanish",),
        fuzzy=False,
    ),
    IntentSpec(
        "help",
        (r"\bwhat can you do\b", r"^help\b", r"\bwhat do you do\b", r"\bwhat are you\b"),
        "what can you do | help",
        ("what can you do",),
    ),
    IntentSpec(
        "status",
        (r"\bstatus\b", r"\bhow are you doing\b", r"\bare you online\b", r"\bbattery\b"),
        "status | system status | are you online",
        ("status", "are you online"),
    ),
    IntentSpec(
        "stop",
        (r"^(?:stop|cancel|never ?mind|shut up|be quiet|enough|quiet)(?: it| that)?$",),
        "stop | cancel | never mind | be quiet",
        ("stop", "never mind"),
    ),
)

# Commands that destroy what the user keeps. Said with a negation ("please don't delete my notes")
# or as a question ("how do I delete my notes") they are not commands: the words go to the brain,
# which has no tool that deletes (``device.cloud.tools``). None of them is matched fuzzily.
DESTRUCTIVE = ("notes_delete", "forget", "timer_cancel")
# Of those, the ones that cannot be undone: the device asks first and acts only on a clear yes
# (``device.loop.states``). A cancelled timer is set again in a breath; it is not asked about.
CONFIRMED = ("notes_delete", "forget")
# Answers to the device's question; anywhere else they are words for the brain.
ANSWERS = ("confirm", "decline")
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


def jsgf_grammar(wake_phrase: str = "hey zero") -> str:
    """A JSGF grammar of every command, with the wake phrase as an optional prefix."""
    units = "second | seconds | minute | minutes | hour | hours"
    commands = " | ".join(f"/1/ ( {spec.grammar} )" for spec in SPECS if spec.grammar)
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
        "<number> = <ones> [hundred] | <teens> | <tens> [<ones>] | zero | a | an;\n"
        f"<unit> = {units};\n"
        # A bounded phrase, not a (word)+ loop: the loop is slower and inserts words.
        f"<word> = {' | '.join(sorted(set(NOTE_WORDS)))};\n"
        "<words> = <word> [<word>] [<word>] [<word>];\n"
        f"<language> = {' | '.join(names())};\n"
        f"<question> = ({QUESTION_STARTS}) <qword> [<qword>] [<qword>] [<qword>] [<qword>];\n"
        f"<qword> = {' | '.join(sorted(set(QUESTION_WORDS)))};\n"
    )
