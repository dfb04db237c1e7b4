"""``zeropin commands train``: data, network, threshold, test, and the model with its card.

The threshold is chosen on validation windows (other variants than the training and the test
ones, other texts: another seed), never on the test windows, whose figures go on the card.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from device.listening.command_model import UNKNOWN
from device.skills.chinese_commands import canonical_phrases

from . import dataset, network
from .card import write_card
from .dataset import TRAIN_SIZES, Job, Sizes, WindowSet
from .texts import check_texts

ENGLISH_EPOCHS = 60  # the English rescue's network (english.py), as its card was made
MAX_FALSE_ACCEPTS = 0.01  # of validation's unknown windows a threshold may let through
TEST_SNRS = (math.inf, 20.0, 10.0)
VALIDATION_SIZES = TRAIN_SIZES.scaled(0.1)
TEST_SIZES = Sizes(
    40, {"talk": 120, "everyday": 60, "fragment": 60, "timer": 80, "english": 50, "wake": 15,
         "noise": 30},
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    language: str
    out: str
    seed: int = 0
    epochs: int = 40
    copies: int = 2  # windows made of each training clip, each degraded its own way
    scale: float = 1.0  # of the training clips (TRAIN_SIZES)
    quiet: bool = False
    real_speech: str = ""  # English: real recordings whose talk is no command (english.py)


def labels_for(language: str) -> tuple[str, ...]:
    if language != "zh":
        raise ValueError(f"no command list for language {language!r} (known: zh)")
    check_texts()
    return (*canonical_phrases(), UNKNOWN)


def decide(
    probabilities: np.ndarray, windows: WindowSet, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(the label heard, or -1 for nothing; whether it was right) for every window, as the device
    decides: a command needs the threshold and speech short enough to be one."""
    unknown = probabilities.shape[1] - 1
    best = probabilities.argmax(axis=1)
    heard = (best != unknown) & (probabilities.max(axis=1) >= threshold) & ~windows.too_long
    said = np.where(heard, best, -1)
    truth = np.where(windows.labels == unknown, -1, windows.labels)
    return said, said == truth


def choose_threshold(probabilities: np.ndarray, windows: WindowSet) -> tuple[float, dict]:
    """The threshold with the most commands heard right that accepts at most MAX_FALSE_ACCEPTS
    of the unknown windows (the highest such, on a tie)."""
    unknown = probabilities.shape[1] - 1
    commands = windows.labels != unknown
    best: tuple[float, float, float] = (-1.0, 0.99, 1.0)
    for threshold in np.arange(0.30, 0.995, 0.01):
        said, right = decide(probabilities, windows, float(threshold))
        accepted = float(np.mean(said[~commands] >= 0))
        accuracy = float(np.mean(right[commands]))
        if accepted <= MAX_FALSE_ACCEPTS and accuracy >= best[0]:
            best = (accuracy, round(float(threshold), 2), accepted)
    accuracy, threshold, accepted = best
    return threshold, {"commands_right": accuracy, "unknown_accepted": accepted}


def test_metrics(
    probabilities: np.ndarray, windows: WindowSet, labels: tuple[str, ...], threshold: float
) -> dict[str, Any]:
    """Per condition (noise level; the wake phrase before): each command's share heard right
    (and as another command), and each kind of unknown's share heard as a command."""
    said, right = decide(probabilities, windows, threshold)
    unknown = len(labels) - 1
    out: dict[str, Any] = {}
    for name in dict.fromkeys(windows.condition):
        at = windows.condition == name
        commands = {}
        for k in range(unknown):
            mine = at & (windows.labels == k)
            commands[labels[k]] = {
                "right": round(float(np.mean(right[mine])), 4),
                "as_another": round(float(np.mean((said[mine] >= 0) & (said[mine] != k))), 4),
                "clips": int(np.sum(mine)),
            }
        kinds = sorted(set(windows.kinds[windows.labels == unknown]))
        false_accepts = {
            kind: {
                "accepted": round(float(np.mean(said[at & (windows.kinds == kind)] >= 0)), 4),
                "clips": int(np.sum(at & (windows.kinds == kind))),
            }
            for kind in kinds
        }
        is_command = at & (windows.labels != unknown)
        out[str(name)] = {
            "commands_right": round(float(np.mean(right[is_command])), 4),
            "unknown_accepted": round(float(np.mean(said[at & ~is_command] >= 0)), 4),
            "commands": commands,
            "unknown": false_accepts,
        }
    return out


def test_jobs(seed: int, split: dataset.VariantSplit, labels: tuple[str, ...]) -> list[Job]:
    """The held-out variants' texts at each of TEST_SNRS, and at 20 dB after the wake phrase
    (as the listener hands an utterance over after a wake word: the phrase, then the command)."""
    jobs = [
        job
        for snr in TEST_SNRS
        for job in dataset.make_jobs(seed, split.test, TEST_SIZES, labels, snr_db=snr)
    ]
    return jobs + dataset.make_jobs(
        seed + 1, split.test, TEST_SIZES.scaled(0.5), labels, snr_db=20.0, prefix_share=1.0
    )


def run(settings: Settings, command: str) -> int:
    if settings.language == "en":
        from .english import run as run_english

        return run_english(settings, command)
    started = time.monotonic()
    labels = labels_for(settings.language)
    split = dataset.split_variants()
    dataset.prepare_sounds(settings.seed + 500, split.train)
    train = dataset.build(
        dataset.make_jobs(
            settings.seed, split.train, TRAIN_SIZES.scaled(settings.scale), labels,
            copies=settings.copies, prefix_share=dataset.PREFIX_SHARE,
        ),
        "training clips", settings.quiet,
    )  # fmt: skip
    validation = dataset.build(
        dataset.make_jobs(
            settings.seed + 1000, split.validation, VALIDATION_SIZES, labels,
            prefix_share=dataset.PREFIX_SHARE,
        ),
        "validation clips", settings.quiet,
    )  # fmt: skip
    test = dataset.build(
        test_jobs(settings.seed + 2000, split, labels), "test clips", settings.quiet
    )
    data_seconds = time.monotonic() - started
    model = network.train(
        train.features, train.labels, len(labels), settings.epochs, settings.seed,
        quiet=settings.quiet,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    content = network.export_int8(model, train.features[rng.permutation(len(train.labels))[:500]])
    threshold, chosen = choose_threshold(
        network.int8_probabilities(content, validation.features), validation
    )
    metrics = test_metrics(
        network.int8_probabilities(content, test.features), test, labels, threshold
    )
    out = Path(settings.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    write_card(
        out, labels, threshold, settings.language,
        metrics={"validation": chosen, "test": metrics},
        made={
            "command": command, "settings": asdict(settings), "variants": asdict(split),
            "windows": {"train": len(train.labels), "validation": len(validation.labels),
                        "test": len(test.labels)},
            "minutes": round((time.monotonic() - started) / 60, 1),
            "data_minutes": round(data_seconds / 60, 1),
        },
    )  # fmt: skip
    print(f"wrote {out} ({len(content):,} bytes), threshold {threshold}")
    for level, figures in metrics.items():
        print(f"  {level}: commands right {figures['commands_right']:.1%}, "
              f"unknown accepted {figures['unknown_accepted']:.1%}")  # fmt: skip
    return 0
