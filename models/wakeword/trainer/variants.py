"""Made-up espeak-ng voice variants: crosses of the training variants, with their numbers nudged.

An espeak-ng variant is a small text file of numbers: formant frequencies, strengths and widths,
pitch, tone (an equaliser), voicing, breath, roughness. The ~75 training variants still leave gaps,
and the held-out clips missed most were of the variants least like them. A child of two training
variants, each number moved by up to ``NUDGE`` and kept within the range the training variants
span, is a throat the model has not heard, yet never a held-out variant's: only training
variants are read. (Off by default: 100 of them did not help, see models/README.md. What did
help is moving the formants of the training windows beyond that range: network.VOICE_SHARE.)

    with made_up_variants(split.train_variants, count=100, seed=0) as names:
        ...  # espeak-ng -v en-us+zp-000 works in this process and its children

espeak-ng finds them because ``ESPEAK_DATA_PATH`` points, for the duration, at a copy of its data
folder made of symbolic links, with the new variant files beside the real ones.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from device.errors import TtsError

from .speech import espeak_listing

PREFIX = "zp-"  # made-up variants' names: zp-000, zp-001, ...
NUDGE = 0.15  # each number times 1 +- up to this
MOST = 100  # made-up variants espeak-ng will list beside its own (115 did, here; 120 did not)
# Lines copied from a parent as they are: names, modes and per-stress lists, not voice shape.
KEPT = {"language", "name", "gender", "klatt", "intonation", "stressAdd", "stressAmp",
        "stressLength", "echo", "breath", "breathw"}  # fmt: skip

# (key, its numbers as written): "formant 2 90 60 40" is ("formant 2", ["90", "60", "40"])
Line = tuple[str, list[str]]


def data_folder() -> Path:
    """espeak-ng's data folder, as ``espeak-ng --version`` reports it."""
    try:
        out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True,
                             check=True, timeout=10).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise TtsError(f"espeak-ng --version failed ({exc}): sudo apt install espeak-ng") from exc
    found = re.search(r"Data at: (\S+)", out)
    if not found or not Path(found.group(1), "voices", "!v").is_dir():
        raise TtsError(f"espeak-ng did not say where its voice variants are: {out.strip()!r}")
    return Path(found.group(1))


def parse(text: str) -> list[Line]:
    """A variant file's settings, comments dropped; formant lines keyed by their number. Keys keep
    their case: espeak-ng's are case-sensitive (stressAdd)."""
    lines = []
    for raw in text.splitlines():
        words = re.split(r"//|#", raw, maxsplit=1)[0].split()
        if not words:
            continue
        key = words[0]
        if key == "formant" and len(words) > 1:
            key, words = f"formant {words[1]}", words[1:]
        lines.append((key, words[1:]))
    return lines


def _number(word: str) -> float | None:
    try:
        return float(word)
    except ValueError:
        return None


def spans(parents: list[list[Line]]) -> dict[tuple[str, int], tuple[float, float]]:
    """(key, position) -> (lowest, highest) value the parents give it."""
    found: dict[tuple[str, int], tuple[float, float]] = {}
    for lines in parents:
        for key, words in lines:
            for position, word in enumerate(words):
                value = _number(word)
                if value is not None:
                    low, high = found.get((key, position), (value, value))
                    found[(key, position)] = (min(low, value), max(high, value))
    return found


def child(
    rng: random.Random,
    mother: list[Line],
    father: list[Line],
    bounds: dict[tuple[str, int], tuple[float, float]],
    name: str,
) -> str:
    """A variant file: each setting from one parent or the other, its numbers nudged in bounds."""
    mine, theirs = dict(mother), dict(father)
    out = ["language variant", f"name {name}"]
    for key in sorted(set(mine) | set(theirs)):
        if key in ("language", "name"):
            continue
        words = mine.get(key) if rng.random() < 0.5 else theirs.get(key)
        if words is None:  # the parent picked has no such line: keep espeak-ng's default
            continue
        if key not in KEPT:
            words = [_nudged(rng, word, bounds.get((key, i))) for i, word in enumerate(words)]
        out.append(" ".join([key, *words]))
    return "\n".join(out) + "\n"


def _nudged(rng: random.Random, word: str, bounds: tuple[float, float] | None) -> str:
    value = _number(word)
    if value is None or value == 0 or bounds is None:  # a silenced formant stays silent
        return word
    nudged = value * (1 + rng.uniform(-NUDGE, NUDGE))
    return str(round(min(max(nudged, bounds[0]), bounds[1])))


def _linked_copy(source: Path, into: Path) -> Path:
    """``into/espeak-ng-data``: links to everything in ``source``, with ``voices/!v`` a real
    folder of links, so new variant files can sit beside the real ones."""
    data = into / "espeak-ng-data"
    (data / "voices" / "!v").mkdir(parents=True)
    for item in source.iterdir():
        if item.name != "voices":
            (data / item.name).symlink_to(item)
    for item in (source / "voices").iterdir():
        # MBROLA's voices (voices/mb) are left out: unused here, and espeak-ng lists at most 350
        if item.name not in ("!v", "mb"):
            (data / "voices" / item.name).symlink_to(item)
    for item in (source / "voices" / "!v").iterdir():
        (data / "voices" / "!v" / item.name).symlink_to(item)
    return data / "voices" / "!v"


def _check_listing(voices: int, names: tuple[str, ...]) -> None:
    """espeak-ng lists at most 350 voice files and, past that, quietly drops voices: check that
    it still lists every voice it did (``voices`` of them), and every new variant."""
    listed = {fields[4] for fields in espeak_listing("--voices=variant")}
    if len(espeak_listing("--voices")) < voices or any(f"!v/{n}" not in listed for n in names):
        raise TtsError(
            f"espeak-ng cannot list {len(names)} more variants beside its own voices "
            f"(it keeps at most 350 voice files): ask for fewer, say {MOST}"
        )


@contextmanager
def made_up_variants(parents: tuple[str, ...], count: int, seed: int) -> Iterator[tuple[str, ...]]:
    """``count`` new variants bred from ``parents`` (variant names), usable by espeak-ng in this
    process and any it starts until the block ends; yields their names."""
    if count <= 0:
        yield ()
        return
    source = data_folder()
    files = [source / "voices" / "!v" / name for name in parents]
    # (espeak-ng lists "Mr serious" as "Mr": a name it cannot be asked for, so not a parent)
    parsed = [parse(file.read_text("utf-8", "replace")) for file in files if file.is_file()]
    if len(parsed) < 2:
        raise TtsError("made-up variants need at least two training variants to cross")
    bounds = spans(parsed)
    rng = random.Random(seed)
    names = tuple(f"{PREFIX}{index:03d}" for index in range(count))
    before = os.environ.get("ESPEAK_DATA_PATH")
    voices = len(espeak_listing("--voices"))
    with tempfile.TemporaryDirectory(prefix="zeropin-espeak-") as scratch:
        folder = _linked_copy(source, Path(scratch))
        for name in names:
            mother, father = rng.sample(parsed, 2)
            (folder / name).write_text(child(rng, mother, father, bounds, name), "utf-8")
        os.environ["ESPEAK_DATA_PATH"] = scratch
        try:
            _check_listing(voices, names)
            yield names
        finally:
            if before is None:
                os.environ.pop("ESPEAK_DATA_PATH", None)
            else:
                os.environ["ESPEAK_DATA_PATH"] = before
