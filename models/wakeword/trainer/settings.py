"""What ``zeropin wakeword train`` makes a model from, and how: plain dataclasses, no imports.

The command's options (``cli.py``) set these fields by name and show their defaults. How each
default was measured, with the figures, is in ``models/README.md`` ("How the trainer's defaults
were chosen").
"""

from __future__ import annotations

from dataclasses import dataclass, field

HELDOUT_VOICES = ("en-029", "en-gb-scotland")  # Caribbean and Scottish English
LANGUAGES = ("en", "zh")  # what a phrase can be in (zh: chinese.py)
# English: the speech embedding, whose models missed 1-2% of real people saying "computer"
# against 26.5% for log-mel's (models/README.md, "On real people"). Chinese: log-mel, the one
# its recipe was made and measured with.
DEFAULT_FRONT_ENDS = {"en": "speech-embedding", "zh": "log-mel"}


@dataclass(frozen=True)
class DataSettings:
    # Twice these four for half the epochs (to keep the time) held out worse.
    positives: int = 4000  # phrase clips, each giving `copies` augmented positive windows
    sentences: int = 6000  # sentences without the phrase
    confusables: int = 1500  # confusable phrases ("hey there", "zero", ...)
    noise_windows: int = 2000  # noise alone
    single_words: int = 1500  # a word said alone, then silence: windows cut as confusables are
    copies: int = 2  # each clip degraded this many ways; 4 held out worse
    seed: int = 0  # of the data, and of the first network
    # Your own WAV clips of the phrase, each degraded RECORDING_COPIES times beside the synthetic
    # ones: a few real voices are worth many synthetic ones.
    recordings: str = ""
    # Phrase clips said by other languages' voices (accents); off: the held-out voices did worse.
    accent_share: float = 0.0
    # flite's, festival's and Piper's voices too, when installed. On: real people saying
    # "computer" were missed half as often (espeak-ng's held-out voices alone had said off).
    other_engines: bool = True
    # Of the phrase clips and the talk, the share said by Piper's neural voice (of a real
    # speaker) when --other-engines finds it; else it speaks as one voice among the others.
    natural_share: float = 0.0
    # espeak-ng variants bred from the training ones (variants.py); off: 100 did not help.
    made_up_variants: int = 0
    # What the phrase is in: "en", or "zh" (Chinese characters, said by espeak-ng's Mandarin
    # voice from pinyin; the talk without it Chinese and some English: chinese.py).
    language: str = "en"
    # The features the model sees: "log-mel" or "micro" (device/listening/features.py), or
    # "speech-embedding" (device/listening/embedding_wake.py; recipe: embedding.py); "": the
    # language's own (DEFAULT_FRONT_ENDS).
    front_end: str = ""
    # Minutes of synthetic talk the speech-embedding recipe trains on, every window of it.
    talk_minutes: float = 120.0

    @property
    def features(self) -> str:
        """The front end the model is made for: the one asked for, or the language's own."""
        return self.front_end or DEFAULT_FRONT_ENDS[self.language]


@dataclass(frozen=True)
class TrainSettings:
    data: DataSettings = field(default_factory=DataSettings)
    epochs: int = 25  # validation loss stops falling by about epoch 13; 30 bought little
    # Rounds of: score fresh English talk, train on what the model mistook for the phrase.
    mining_rounds: int = 4  # 6 held out no better
    # Talk scored a round: each hour brings its own near misses. 240 held out far better than 60;
    # 480 no better, for more time and memory.
    mining_minutes: float = 240.0
    mining_epochs: int = 8  # training after each round; 10 bought little, as 30 epochs did
    heldout_voices: tuple[str, ...] = HELDOUT_VOICES  # never trained on: they judge the model
    # The threshold: the fewest false rejects on validation within this budget.
    max_false_accepts_per_hour: float = 0.25
    validation_positives_per_snr: int = 100  # as many as the test's: a false reject is 0.25%
    # The held-out voices' talk, from another seed than the test's: talk by the training voices
    # foretold held-out false accepts the worse, the more the network had mined them. 8 h allow
    # 2 false accepts at 0.25 per hour.
    validation_minutes: float = 480.0
    # Talk half read by other languages' voices, which must keep within the budget too. Off: which
    # of its sentences fool a network proved too much a matter of chance for one set to judge.
    accent_validation_minutes: float = 0.0
    # A folder of real recordings (as shared/real-speech): half chooses the rule with the
    # synthetic validation, the other half's figures head the card (real.py).
    real_speech: str = ""
    test_positives_per_snr: int = 100
    test_minutes: float = 480.0  # in 2 h one false accept is 0.5 per hour, the target itself
    # Scores are the sigmoid of the logit over this (network.cooled): an int8 score has 256
    # steps, and uncooled, every logit over 5.5 fell on the top one.
    temperature: float = 4.0
    # Networks trained on the same windows, averaged (network.averaged): two seldom mistake the
    # same talk for the phrase. Each adds its training time and its CPU on the device.
    networks: int = 1
