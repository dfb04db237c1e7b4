"""The words the command grammar knows (``device.skills.intents``): numbers, a note's words and
a question's, for the pocketsphinx fallback, whose grammar can only hear the words it is given."""

from __future__ import annotations

ONES = "one two three four five six seven eight nine".split()
TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS = ["zero", *ONES, *TEENS, *TENS, "hundred"]

# Words a note may contain when the bundled pocketsphinx model is the recogniser: up to four
# of these. Vosk (or the cloud) recognises free text; this keeps the fallback usable.
NOTE_WORDS = (
    "a an the and or to of for at in on with my me i it is this that buy get pick up call "
    "email text ring book pay send bring take make fix clean wash cook order check find "
    "remember milk bread eggs butter cheese coffee tea sugar rice pasta apples bananas water "
    "beer wine juice soap batteries tape mom dad mum sister brother doctor dentist friend "
    "boss team meeting appointment dinner lunch breakfast party gift card ticket tickets car "
    "bike keys phone laptop charger book books plants dog cat bills rent tomorrow today "
    "tonight morning evening monday tuesday wednesday thursday friday saturday sunday week "
    "next new old red blue green black white big small some more"
).split() + NUMBER_WORDS

# Questions the device cannot answer offline still need a path through the grammar, or the
# recogniser forces them onto the nearest command. They go to the brain.
QUESTION_STARTS = (
    "what | why | who | where | when | how | which | tell me | explain | is | are | do | does "
    "| can | should | will"
)
QUESTION_WORDS = (
    "the a an of in on is are was be it you your i my me to for and about with from this that "
    "there sky blue moon sun weather rain world country city capital france paris london "
    "history science music song film movie book game football match team won win score "
    "today tomorrow yesterday far away long big many much old best good joke cats dogs story "
    "recipe cook make meaning word president king queen people water food coffee why"
).split()
