"""``--real-speech``: half of the real people choose the rule, the other half head the card.

Score sets are made by hand (scores in int8 steps of 1/256) so the rule each choice must give is
known; the split is checked on the real recordings' names where ../shared/real-speech is present.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_real_speech

from device.wakeword.eval import ScoredSet, audio_files
from device.wakeword.real_speech import DEFAULT_ROOT, half

pytest.importorskip("tensorflow")  # the train extra; ./dev installs it

from wakeword_trainer import real  # noqa: E402


def peaks(values: list[float], seconds: float = 10.0) -> list[np.ndarray]:
    """One recording per value: quiet scores with one peak of that value."""
    steps = int(seconds * 10)
    out = []
    for value in values:
        scores = np.full(steps, 10 / 256)
        scores[steps // 2] = round(value * 256) / 256
        out.append(scores)
    return out


def scored(positives: list[float], negatives: list[float], name: str) -> ScoredSet:
    pos, neg = peaks(positives), peaks(negatives, seconds=1800.0)
    return ScoredSet(
        pos,
        neg,
        1800.0 * len(neg),
        1.0,
        0.0,
        [Path(f"{name}-p{i}.wav") for i in range(len(pos))],
        [Path(f"{name}-n{i}.wav") for i in range(len(neg))],
        [1800.0] * len(neg),
    )


def test_people_saying_the_phrase_choose_the_rule_within_the_budget_of_every_talk():
    synthetic = scored([0.95] * 10, [0.30, 0.30], "synthetic")  # espeak-ng: easy
    people = scored([0.45] * 9 + [0.35], [0.40, 0.30], "people")  # people score lower
    threshold, _, _ = real.choose(synthetic, people, 0.25, [])
    assert 0.40 < threshold <= 0.45  # hears 9 of 10 people, and no talk fires it
    alone, _, _ = real.choose(synthetic, scored([], [0.30], "nobody"), 0.25, [])
    assert alone > 0.9  # synthetic clips alone would have set it far above everyone


def test_with_nobody_saying_the_phrase_real_talk_still_bounds_the_rule():
    synthetic = scored([0.95] * 10, [0.30, 0.30], "synthetic")
    talk = scored([], [0.80, 0.30], "talk")  # real talk that fires a rule synthetic talk keeps
    threshold, level, smoothing = real.choose(synthetic, talk, 0.25, [])
    assert talk.at(threshold, level, smoothing).false_accepts == 0
    assert threshold > 0.80


def test_the_rule_keeps_a_margin_over_the_real_talk_its_tail_foretells():
    """An hour of people's talk as 3,600 one-second clips whose peaks have a known tail: a rule
    just over the highest of them would false-accept 0.6 times an hour on more of the same."""
    logits = -2.0 + np.random.default_rng(4).exponential(0.5, 3600)
    talk = [np.full(10, p) for p in np.round(256 / (1 + np.exp(-logits))) / 256]
    people = scored([0.6 + 0.01 * i for i in range(40)], [], "people")
    people = ScoredSet(people.positives, talk, 3600.0, 1.0, 0.0, people.positive_files,
                       [Path(f"talk{i}.wav") for i in range(3600)], [1.0] * 3600)  # fmt: skip
    synthetic = scored([0.95] * 10, [0.30], "synthetic")
    for threshold, _, _ in (
        real.choose(synthetic, people, 0.5, []),
        real.choose_on_people(synthetic, people, 0.5),
    ):
        rate = 3600 * np.exp(-(np.log(threshold / (1 - threshold)) + 2) / 0.5)
        assert threshold > max(t.max() for t in talk) and rate <= 0.5


def test_a_subset_keeps_its_recordings_and_their_hours():
    everything = scored([0.5, 0.6, 0.7], [0.3, 0.4, 0.5, 0.6], "all")
    validation, test = (everything.subset(lambda p, k=k: p.stem[-1] in k) for k in ("02", "13"))
    assert len(validation.positives) + len(test.positives) == 3
    assert validation.negative_seconds + test.negative_seconds == everything.negative_seconds
    assert [p.name for p in test.negative_files] == ["all-n1.wav", "all-n3.wav"]


def test_the_figures_name_misses_only_where_people_said_the_phrase():
    talk_only = real.figures(scored([], [0.9], "talk").at(0.5))
    assert talk_only["false_reject_rate"] is None and talk_only["false_accepts"] == 1
    assert talk_only["false_accepts_per_hour"] == 2.0


@needs_real_speech
def test_the_halves_part_speakers_and_hold_every_recording_once():
    digits = audio_files(DEFAULT_ROOT / "digits")
    speakers = collections.defaultdict(set)
    for path in digits:
        speakers[path.stem.split("_")[1]].add(half(path))
    assert all(len(halves) == 1 for halves in speakers.values())  # no speaker in both
    assert {h for halves in speakers.values() for h in halves} == {0, 1}
    clips = audio_files(DEFAULT_ROOT / "keywords" / "computer")
    shares = collections.Counter(half(p) for p in clips)
    assert 0.4 < shares[0] / len(clips) < 0.6
