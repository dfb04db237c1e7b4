"""``zeropin wakeword train`` and ``testset``: the trainer's own command line.

``zeropin`` knows these two commands by name only and hands them the rest of its command line
(``run``), so neither the daemon nor the rest of the CLI ever imports the trainer. Each ``train``
option sets the TrainSettings or DataSettings field of its name (or the one it names) and shows
that field's default.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from device.listening.embedding_wake import KIND
from device.listening.features import FRONT_ENDS
from device.wakeword.real_speech import DEFAULT_ROOT

from .settings import LANGUAGES, DataSettings, TrainSettings


def run(command: str, argv: Sequence[str]) -> int:
    """``zeropin wakeword COMMAND ARGV...``, ``command`` "train" or "testset"; argparse exits
    with status 2 on a bad option, as ``zeropin`` does."""
    parser = {"train": train_parser, "testset": testset_parser}[command]()
    args = parser.parse_args(argv)
    return int(args.func(args))


def _at_least_one(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be a whole number, 1 or more")
    return number


def _finite(text: str) -> float:
    """``text`` as a finite number; NaN (which compares false with everything) for anything else."""
    try:
        number = float(text)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def _more_than_zero(text: str) -> float:
    number = _finite(text)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{text}: must be a number more than 0")
    return number


def _zero_or_more(text: str) -> float:
    number = _finite(text)
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"{text}: must be a number, 0 or more")
    return number


def _front_end(text: str) -> str:
    known = [*FRONT_ENDS, KIND]
    if text not in known:
        raise argparse.ArgumentTypeError(f"{text}: must be one of {', '.join(known)}")
    return text


def _language(text: str) -> str:
    if text not in LANGUAGES:
        raise argparse.ArgumentTypeError(f"{text}: must be one of {', '.join(LANGUAGES)}")
    return text


def _share(text: str) -> float:
    number = _finite(text)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"{text}: must be a share from 0 to 1")
    return number


@dataclasses.dataclass(frozen=True)
class _Option:
    help: str
    parse: Callable[[str], Any] | None = None  # checks the value; default: the field's type
    field: str = ""  # the settings field it sets, when that is not named as the option is
    metavar: str | None = None


# `train`'s options, in the order the card's command line gives them: training, then data.
# Their defaults are the settings' (argparse's stay None: the card names only the options given).
_OPTIONS = {
    "epochs": _Option("training epochs before mining"),
    "mining_rounds": _Option("rounds of hard-negative mining"),
    "mining_minutes": _Option("minutes of talk scored in each round"),
    "validation_minutes": _Option(
        "minutes of the held-out voices' talk to set the threshold", _more_than_zero
    ),
    "real_speech": _Option(
        "real recordings (laid out as shared/real-speech): half of them choose the rule, the "
        "other half's figures head the card; the speech-embedding recipe trains on a quarter of "
        "their talk, and takes ../shared/real-speech beside the checkout when it is there",
        Path,
        metavar="DIR",
    ),
    "accent_validation_minutes": _Option(
        "minutes of talk half read by other languages' voices, to set it too", _zero_or_more
    ),
    "validation_clips": _Option(
        "validation clips per noise level", _at_least_one, "validation_positives_per_snr"
    ),
    "test_minutes": _Option("minutes of held-out talk", _more_than_zero),
    "test_clips": _Option(
        "held-out clips per noise level", _at_least_one, "test_positives_per_snr"
    ),
    "networks": _Option(
        "networks to train on the same data and average; each adds its training time and its "
        "CPU on the device",
        _at_least_one,
    ),
    "language": _Option(
        "what the phrase is in: en, or zh (Chinese characters, said by espeak-ng's Mandarin "
        "voice from pinyin; no other engine)",
        _language,
        metavar="LANG",
    ),
    "positives": _Option("phrase clips to synthesise"),
    "sentences": _Option("sentences without the phrase"),
    "confusables": _Option('"hey there", "zero", ...'),
    "single_words": _Option("words said alone, then silence (negatives)"),
    "talk_minutes": _Option(
        "minutes of talk the speech-embedding recipe trains on", _more_than_zero
    ),
    "seed": _Option("of the data, and of the first network"),
    "made_up_variants": _Option("espeak-ng variants to breed from the training ones", metavar="N"),
    "recordings": _Option("your own WAV clips of the phrase, to add", Path, metavar="DIR"),
    "natural_share": _Option(
        "share of phrase clips and talk said by Piper's voice (with --other-engines)",
        _share,
    ),
    "other_engines": _Option("also speak with flite's, festival's, Piper's voices (if installed)"),
    "front_end": _Option(
        "the features: speech-embedding (openWakeWord's, learnt from real speech; the default "
        "for English), log-mel (the default for Chinese), or micro (TFLite Micro's: noise "
        "suppression, PCAN)",
        _front_end,
        metavar="KIND",
    ),
}


def _setting(name: str) -> tuple[str, Any]:
    """("train" or "data", the default) of the TrainSettings or DataSettings field ``name``."""
    for where, settings in (("train", TrainSettings), ("data", DataSettings)):
        for candidate in dataclasses.fields(settings):
            if candidate.name == name:
                return where, candidate.default
    raise LookupError(f"neither TrainSettings nor DataSettings has a field {name!r}")


def _add_option(group: argparse._ArgumentGroup, name: str, default: Any) -> None:
    option = _OPTIONS[name]
    flag = "--" + name.replace("_", "-")
    if isinstance(default, bool):  # --x and --no-x, so a default of either can be turned
        group.add_argument(
            flag,
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"{option.help} (default: {'on' if default else 'off'})",
        )
        return
    shown = f" (default {default:g})" if isinstance(default, int | float) else ""
    group.add_argument(
        flag,
        type=option.parse or type(default),
        metavar=option.metavar,
        help=option.help + shown,
    )


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zeropin wakeword train",
        description="Train a wake-word model from synthetic speech, offline. Needs the train "
        "extra (TensorFlow): a laptop, not the device.",
    )
    parser.add_argument("phrase", help='the wake phrase, e.g. "hey jarvis"')
    parser.add_argument(
        "--out", type=Path, required=True, help="the .tflite file to write (its card beside it)"
    )
    groups = {
        "train": parser.add_argument_group("training"),
        "data": parser.add_argument_group("data"),
    }
    for name, option in _OPTIONS.items():
        where, default = _setting(option.field or name)
        _add_option(groups[where], name, default)
    parser.add_argument(
        "--keep-test-set",
        type=Path,
        metavar="DIR",
        help="keep the test set's WAVs, the float networks and their calibration windows here",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_train)
    return parser


def testset_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zeropin wakeword testset",
        description="Write held-out positives/ and negatives/ WAV folders, of the kind the "
        "trainer tests on, by voices it never trains on. Needs the train extra.",
    )
    parser.add_argument("phrase")
    parser.add_argument("out", type=Path)
    clips = _setting("test_positives_per_snr")[1]
    minutes = _setting("test_minutes")[1]
    parser.add_argument(
        "--clips", type=int, default=clips, help=f"positive clips per noise level (default {clips})"
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=minutes,
        help=f"minutes of negative talk (default {minutes:g}, {minutes / 60:g} h: in 2 h, one "
        "false accept is 0.5 per hour)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--other-engines", action="store_true", help="flite's and festival's held-out voices too"
    )
    parser.add_argument(
        "--language",
        type=_language,
        default="en",
        metavar="LANG",
        help="what the phrase is in: en (default) or zh (Chinese: Mandarin voice, no other engine)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_testset)
    return parser


def train_settings(args: argparse.Namespace) -> tuple[TrainSettings, str]:
    """The TrainSettings ``zeropin wakeword train`` asked for, and the command line for the card
    (the options given, in a fixed order, so the card says how to make the model again)."""
    given = {name: getattr(args, name) for name in _OPTIONS if getattr(args, name) is not None}
    chosen: dict[str, dict[str, Any]] = {"train": {}, "data": {}}
    options = []
    for name, value in given.items():
        field = _OPTIONS[name].field or name
        where, default = _setting(field)
        chosen[where][field] = type(default)(value)  # the field's type: a Path as the str it is
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            options.append(flag if value else "--no-" + flag[2:])
        else:
            options.append(f"{flag}={value}")
    data = DataSettings(**chosen["data"])
    if data.features == KIND and "real_speech" not in given and DEFAULT_ROOT.is_dir():
        # the speech-embedding rule is held by people's talk (real.choose_on_people): without
        # it, by synthetic talk, at which its models missed 12-31% of people (models/README.md)
        chosen["train"]["real_speech"] = str(DEFAULT_ROOT)
        options.append(f"--real-speech={DEFAULT_ROOT}")
    settings = TrainSettings(data=data, **chosen["train"])
    command = ["zeropin", "wakeword", "train", args.phrase, "--out", str(args.out), *options]
    return settings, shlex.join(command)


def _check_train_extra() -> None:
    from device.errors import ModelError

    try:
        import scipy  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError as exc:
        raise ModelError(
            f"the wake-word trainer needs the train extra ({exc.name} is missing): "
            "pip install -e '.[train]' on a laptop"
        ) from exc


def _train(args: argparse.Namespace) -> int:
    _check_train_extra()
    from device.errors import ModelError

    if args.keep_test_set:  # made now: a bad folder fails at once, not after the first run
        try:
            args.keep_test_set.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelError(
                f"--keep-test-set {args.keep_test_set}: cannot make that folder "
                f"({exc.strerror or exc})"
            ) from exc
    if args.real_speech is not None:  # checked now: a bad folder fails at once, not after training
        from device.wakeword.real_speech import real_set

        real_set(args.real_speech, " ".join(args.phrase.lower().split()))
    try:
        import tensorflow  # noqa: F401
    except ImportError as exc:
        raise ModelError(
            "training needs TensorFlow: pip install -e '.[train]' (about 1.6 GB, laptop only)"
        ) from exc
    from .train import train_wake_word

    settings, command = train_settings(args)
    card = train_wake_word(
        args.phrase, args.out, settings, command, work_dir=args.keep_test_set, quiet=args.quiet
    )
    m = card.metrics
    print(
        f"{args.out}: threshold {card.threshold:.4g}, held out: false rejects "
        f"{100 * m['false_reject_rate']:.1f}%, false accepts {m['false_accepts_per_hour']} per hour"
    )
    return 0


def _testset(args: argparse.Namespace) -> int:
    _check_train_extra()
    from .chinese import split_voices as chinese_voices
    from .speech import split_voices
    from .testset import write_test_set

    if args.language == "zh":
        split = chinese_voices()
    else:
        split = split_voices(other_engines=args.other_engines)
    positives, negatives = write_test_set(
        " ".join(args.phrase.lower().split()),
        split,
        args.out,
        positives_per_snr=args.clips,
        negative_minutes=args.minutes,
        seed=args.seed,
        quiet=args.quiet,
    )
    print(f"{positives}\n{negatives}")
    return 0
