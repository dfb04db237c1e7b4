"""The table of intents: for each, the regular expressions that find it in normalised text, the
JSGF fragment the recogniser's grammar hears it with, and canonical examples
(``device.skills.intents`` parses with it and builds the grammar from it)."""

from __future__ import annotations

from dataclasses import dataclass

from device.skills.vocabulary import NUMBER_WORDS

# The words a timer's length can be said in, digits too (a cloud transcript's "5 minutes").
_LENGTH_WORD = "|".join(
    [
        *NUMBER_WORDS,
        "a",
        "an",
        "and",
        "half",
        r"\d+",
        *(u + "s?" for u in ("second", "minute", "hour")),
    ]
)


@dataclass(frozen=True)
class IntentSpec:
    name: str
    patterns: tuple[str, ...]  # regexes over normalised text; named groups become slots
    grammar: str  # JSGF alternatives, may use <number>, <count> (no "a"), <unit>, <words>
    examples: tuple[str, ...]  # canonical phrases, also used for fuzzy matching
    fuzzy: bool = True  # whether near-misses of the examples count (no free-text slots)
    # In the grammar only while the device waits for this answer to its question (numbers
    # alone fit much misheard speech: "turn it down" is "thirty eight hours" to them).
    answers: str = ""


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
    # The answer to the timer's "For how long?": a length alone ("five minutes", "for ten
    # seconds", "an hour"), or a number alone, which is minutes. Anywhere else, words for the brain.
    IntentSpec(
        "timer_length",
        (rf"^(?:for )?(?P<duration>(?:{_LENGTH_WORD})(?: (?:{_LENGTH_WORD}))*)$",),
        "[for] <count> [and a half] [<unit> [and <count> <unit>]] | [for] (a | an) <unit>",
        ("five minutes", "ten seconds"),
        fuzzy=False,
        answers="length",
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
        "(set | start) a timer [for <number> [and a half] <unit> [and <number> <unit>]]",
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
