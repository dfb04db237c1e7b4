"""The wake-word calibration file: ``[wake]`` settings measured on this device, with the record of
how they were measured.

``zeropin wakeword calibrate`` writes it, the settings loader reads it as a layer (at
``device.config.sources.CALIBRATION_PATH``) and ``zeropin doctor`` shows its record. It is TOML
that a person can read: comments say when and how the rule was chosen and what was set before
(so the wearer can go back), one comment line holds the same record as JSON for the doctor, and
``[wake]`` holds the settings. A calibration that keeps the model card's rule writes 0s (the
card's own), so a newer model brings its own rule instead of inheriting an old one's threshold.

    write_calibration(path, record)  # keeps the file it replaces as calibration.toml.old
    print(read_calibration(path))    # None when no calibration was made
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from device.errors import ConfigError, StorageError
from device.storage.files import write_atomically

RECORD_PREFIX = "# record: "
CONFIDENCE = 0.95  # of the bounds put on a false-accept rate measured over a short time
HEARD_ENOUGH = 0.8  # of the wearer's takes: fewer heard, and the model misses their voice


@dataclass(frozen=True)
class Rule:
    """How a tflite wake-word model fires; in ``[wake]`` a 0 means the model card's own value."""

    threshold: float  # smoothed score, 0..1
    trigger_level: int  # smoothed scores in a row at the threshold
    smoothing: int  # scores averaged into each smoothed score

    def text(self) -> str:
        """For people, as eval prints it: 0.418, 4 score(s) in a row, each the mean of the last 2"""
        text = f"{self.threshold:.4g}, {self.trigger_level} score(s) in a row"
        return text + (
            f", each the mean of the last {self.smoothing}" if self.smoothing > 1 else ""
        )


CARDS_RULE = Rule(0.0, 0, 0)  # as written in [wake]: the model card's threshold, level, smoothing


@dataclass(frozen=True)
class CalibrationRecord:
    """What one calibration measured and chose."""

    when: str  # ISO 8601, UTC
    model: str  # the model file's name
    model_sha256: str  # so a replaced model shows that this calibration was not made for it
    phrase: str
    chosen: Rule  # the rule itself, card values filled in
    written: Rule  # what went into [wake]: CARDS_RULE when it is the card's
    takes: int  # of the phrase, spoken by the wearer
    takes_heard: int  # at the chosen rule
    room_seconds: float  # of the room's own sound, without the phrase
    room_false_accepts: int  # at the chosen rule
    why: str  # how the rule was chosen, for people
    before: Rule  # [wake] as it was (0s: the card's)
    before_from: str  # the layer the threshold came from: "default", a file, "env ..."

    def heard_text(self) -> str:
        return f"{self.takes_heard} of {self.takes} takes heard"

    def room_text(self) -> str:
        return rate_text(self.room_false_accepts, self.room_seconds)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CalibrationRecord:
        data: dict[str, Any] = json.loads(text)
        rules = {k: Rule(**data[k]) for k in ("chosen", "written", "before")}
        return cls(**{**data, **rules})


# -- how rough a false-accept rate from a few minutes is ---------------------------------------


def _poisson_cdf(count: int, mean: float) -> float:
    """P(X <= count) for X ~ Poisson(mean)."""
    if mean <= 0:
        return 1.0
    return sum(math.exp(k * math.log(mean) - mean - math.lgamma(k + 1)) for k in range(count + 1))


def _solve(count: int, target: float) -> float:
    """The mean at which P(X <= count) = target (it falls as the mean grows)."""
    low, high = 0.0, 10.0 + 10.0 * count
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if _poisson_cdf(count, middle) > target else (low, middle)
    return (low + high) / 2


def rate_bounds(count: int, seconds: float) -> tuple[float, float]:
    """(lowest, highest) false accepts per hour that ``count`` firings in ``seconds`` of audio
    leave plausible: one-sided bounds at CONFIDENCE (exact Poisson)."""
    hours = seconds / 3600
    low = _solve(count - 1, CONFIDENCE) / hours if count > 0 else 0.0
    return low, _solve(count, 1 - CONFIDENCE) / hours


def hours_to_show(rate_per_hour: float) -> float:
    """Hours of audio with no false accept that show a rate under ``rate_per_hour``."""
    return _solve(0, 1 - CONFIDENCE) / rate_per_hour


def rate_text(count: int, seconds: float) -> str:
    """How many, and the rate the audio allows: 0 in 3.0 min: under about 60 per hour."""
    low, high = rate_bounds(count, seconds)
    span = f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"
    if count == 0:
        return f"0 in {span}: under about {_rough(high)} per hour"
    rate = count / (seconds / 3600)
    return f"{count} in {span}: about {_rough(rate)} per hour ({_rough(low)} to {_rough(high)})"


def _rough(rate: float) -> str:
    return f"{rate:.0f}" if rate >= 10 else f"{rate:.1f}" if rate >= 0.1 else f"{rate:.2f}"


# -- the file ----------------------------------------------------------------------------------


def render_calibration(record: CalibrationRecord, card: Rule, *, read_after: str = "") -> str:
    """The calibration file's text; ``card`` is the model card's rule (for the comments),
    ``read_after`` names the layers this one wins over."""
    when = record.when.replace("T", " ")[:16] + " UTC"
    comments = [
        f"The wake word fitted to this device by `zeropin wakeword calibrate`, {when}.",
        *([f"Read after {read_after}: these lines win over theirs."] if read_after else []),
        f'Model: {record.model} ("{record.phrase}"), the card\'s rule {card.text()}',
        f"Takes: {record.heard_text()} at the rule below",
        f"Room: false accepts {record.room_text()} (bounds at {CONFIDENCE:.0%})",
        f"Chosen: {record.why}",
        "",
        f"Before (the threshold from {_layer(record.before_from)}); to go back, put these in "
        "place of the lines under [wake], or delete this file:",
    ]
    wrapped = [line for text in comments for line in textwrap.wrap(text, 96) or [""]]
    lines = [f"# {line}".rstrip() for line in wrapped]
    lines += [f"#   {line}" for line in _wake_lines(record.before)]
    lines += ["#", RECORD_PREFIX + record.to_json(), "[wake]"]
    if record.written == CARDS_RULE:
        lines.append("# 0: the model card's own, so a new model brings its own")
    return "\n".join([*lines, *_wake_lines(record.written)]) + "\n"


def _layer(source: str) -> str:
    return "the defaults" if source == "default" else source


def _wake_lines(rule: Rule) -> list[str]:
    return [
        f"threshold = {float(rule.threshold)!r}",
        f"trigger_level = {rule.trigger_level}",
        f"smoothing = {rule.smoothing}",
    ]


def read_calibration(path: Path) -> CalibrationRecord | None:
    """The record in the calibration file; None when there is no file. ConfigError when it
    cannot be read or holds no record (written by hand?)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    for line in text.splitlines():
        if line.startswith(RECORD_PREFIX):
            try:
                return CalibrationRecord.from_json(line[len(RECORD_PREFIX) :])
            except (ValueError, TypeError, KeyError) as exc:
                raise ConfigError(f"{path}: its calibration record is damaged ({exc})") from exc
    raise ConfigError(f"{path}: holds no calibration record (not written by zeropin?)")


def check_writable(path: Path) -> None:
    """StorageError now, rather than after minutes of listening, if ``write_calibration`` will
    fail for want of permission, or refuse a file that calibrate did not write."""
    _ours_or_absent(path)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # write_atomically makes the missing folders
    if not folder.is_dir():
        raise StorageError(f"cannot write {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageError(
            f"cannot write {path} (no permission in {folder}): run it as root (sudo), or "
            "add --dry-run to measure without writing"
        )


def _ours_or_absent(path: Path) -> bytes | None:
    """The calibration file's bytes, None if there is none; StorageError for another file."""
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read {path} ({exc.strerror}); nothing written") from exc
    if RECORD_PREFIX.encode() not in old:
        raise StorageError(
            f"{path} was not written by `zeropin wakeword calibrate`; nothing written: move it "
            "away, or write the calibration to another file with --write FILE"
        )
    return old


def write_calibration(path: Path, text: str) -> Path | None:
    """Replace the calibration file with ``text``; the file it replaces is kept beside it as
    ``<name>.old``, whose path is returned. A file there that calibrate did not write is never
    overwritten. Raises StorageError, and then nothing has changed."""
    old = _ours_or_absent(path)
    backup = path.with_name(path.name + ".old") if old is not None else None
    try:
        if backup is not None and old is not None:
            write_atomically(backup, old)
        write_atomically(path, text.encode("utf-8"))
    except OSError as exc:
        raise StorageError(
            f"cannot write in {path.parent} ({exc.strerror or exc}); {path} is as it was. Run it "
            "as root (sudo), or write the [wake] lines above into a config file yourself"
        ) from exc
    return backup
