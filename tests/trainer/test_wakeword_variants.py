"""Made-up espeak-ng variants (wakeword_trainer.variants): bred only from training variants, within
their ranges, spoken by the real espeak-ng, and gone with the block that made them."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
from wakeword_trainer.variants import MOST, child, data_folder, made_up_variants, parse, spans

from device.errors import TtsError
from device.speaking.tts import EspeakSynthesizer

PARENTS = ("m1", "f2", "klatt3", "Mario", "whisper")


def _numbers(lines):
    return {(key, i): float(w) for key, words in lines for i, w in enumerate(words)
            if w.lstrip("-").replace(".", "", 1).isdigit()}  # fmt: skip


def test_parse_drops_comments_keys_formants_by_number_and_keeps_case():
    lines = parse(
        "## a comment line\nlanguage variant\nname x\n"
        "formant 2 90 60 40 // trailing comment\nstressAdd -10 -10 0 0\npitch 80 120 # hz\n\n"
    )
    assert lines == [
        ("language", ["variant"]),
        ("name", ["x"]),
        ("formant 2", ["90", "60", "40"]),
        ("stressAdd", ["-10", "-10", "0", "0"]),
        ("pitch", ["80", "120"]),
    ]


def test_a_child_takes_its_settings_from_its_parents_within_their_ranges():
    mother = parse("formant 1 80 100 60\npitch 70 110\nklatt 3\n")
    father = parse("formant 1 120 50 140\npitch 150 200\ntone 600 255 1200 100\n")
    bounds = spans([mother, father])
    rng = random.Random(3)
    children = [parse(child(rng, mother, father, bounds, f"zp-{i}")) for i in range(200)]
    seen_keys = set()
    for lines in children:
        assert lines[:2] == [("language", ["variant"]), ("name", [lines[1][1][0]])]
        for (key, position), value in _numbers(lines[2:]).items():
            seen_keys.add(key)
            if key == "klatt":
                assert value == 3  # a mode, copied as it is
                continue
            if key == "tone":  # only one parent has it: nudged, but no range to clamp to
                continue
            low, high = bounds[(key, position)]
            assert low <= value <= high, (key, position, value)
    assert seen_keys == {"formant 1", "pitch", "klatt", "tone"}
    # nudged and crossed: many different formant-1 frequencies, not just the parents' two
    assert (
        len({_numbers(c)[("formant 1", 0)] for c in children if ("formant 1", 0) in _numbers(c)})
        > 20
    )


def test_made_up_variants_speak_and_vanish_with_the_block():
    before = os.environ.get("ESPEAK_DATA_PATH")
    plain = np.frombuffer(EspeakSynthesizer("en-us").synthesize("hey zero"), "<i2")
    with made_up_variants(PARENTS, count=3, seed=1) as names:
        assert names == ("zp-000", "zp-001", "zp-002")
        folder = os.environ["ESPEAK_DATA_PATH"]
        files = [f"{folder}/espeak-ng-data/voices/!v/{n}" for n in names]
        # the voice check knows them, though it listed espeak-ng's voices before the block
        spoken = [
            np.frombuffer(EspeakSynthesizer(f"en-us+{n}").synthesize("hey zero"), "<i2")
            for n in names
        ]
    assert os.environ.get("ESPEAK_DATA_PATH") == before
    assert not any(os.path.exists(f) for f in files)
    for audio in spoken:
        n = min(audio.size, plain.size)
        assert audio.size > 0.5 * plain.size
        assert not np.array_equal(audio[:n], plain[:n])  # another throat, not the plain voice
    with pytest.raises(TtsError, match="no voice variant .zp-000."):
        EspeakSynthesizer("en-us+zp-000")


def test_made_up_variants_read_only_the_parents_given(monkeypatch):
    # a parent's setting no other parent has (breath) only ever comes from that parent
    breathy = [p for p in PARENTS if any(k == "breath" for k, _ in parse(
        (data_folder() / "voices" / "!v" / p).read_text("utf-8", "replace")))]  # fmt: skip
    without = tuple(p for p in PARENTS if p not in breathy)
    assert breathy and len(without) >= 2
    with made_up_variants(without, count=20, seed=2):
        folder = Path(os.environ["ESPEAK_DATA_PATH"], "espeak-ng-data", "voices", "!v")
        texts = [(folder / f"zp-{i:03d}").read_text() for i in range(20)]
    assert not any("breath" in text for text in texts)


def test_asking_for_more_variants_than_espeak_ng_lists_is_a_clear_error():
    too_many = made_up_variants(PARENTS, count=MOST + 60, seed=0)
    with pytest.raises(TtsError, match=f"ask for fewer, say {MOST}"), too_many:
        pass
    assert "zeropin-espeak" not in os.environ.get("ESPEAK_DATA_PATH", "")
