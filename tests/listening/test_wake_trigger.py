"""How a wake-word model's scores become firings: threshold, trigger level, smoothing, refractory
time; and the evaluator's threshold search, which counts firings its own fast way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from device.errors import ModelError
from device.listening.tflite_wake import ScoreTrigger
from device.wakeword.eval import (
    REFRACTORY_STEPS,
    TAIL_PEAKS,
    THRESHOLDS,
    ScoredSet,
    _rates,
    audio_files,
    choose_rule,
    firings,
    tail_rates,
)


def fired_at(trigger: ScoreTrigger, scores: list[float]) -> list[int]:
    return [step for step, score in enumerate(scores) if trigger.update(score)]


def test_a_lone_high_score_fires_only_without_smoothing():
    scores = [0.1, 0.1, 0.9, 0.1, 0.1]
    assert fired_at(ScoreTrigger(0.5), scores) == [2]
    assert fired_at(ScoreTrigger(0.5, smoothing=3), scores) == []  # (0.1 + 0.1 + 0.9) / 3


def test_a_wobbly_phrase_fires_with_smoothing_where_scores_in_a_row_do_not():
    scores = [0.6, 0.45, 0.6, 0.45, 0.6, 0.45]
    assert fired_at(ScoreTrigger(0.5, level=3), scores) == []
    # means of two: 0.3, 0.525, 0.525, ...: the third of them over 0.5 fires
    assert fired_at(ScoreTrigger(0.5, level=3, smoothing=2), scores) == [3]


def test_smoothing_counts_scores_before_the_first_as_zero_and_reset_forgets():
    trigger = ScoreTrigger(0.5, smoothing=2)
    assert fired_at(trigger, [0.8, 0.8]) == [1]  # 0.4, then 0.8
    trigger.reset()
    assert fired_at(trigger, [0.8]) == []


def test_refractory_steps_ignore_scores_then_the_level_counts_afresh():
    trigger = ScoreTrigger(0.5, level=2, refractory_steps=3)
    assert fired_at(trigger, [0.9] * 10) == [1, 6]  # quiet for steps 2-4, then 5 and 6 in a row


def scored_set(rng: np.random.Generator) -> ScoredSet:
    """Scores in an int8 model's steps of 1/256: positives with a bump of varied height and
    width, and negatives with random bursts, like talk."""
    positives = []
    for _ in range(40):
        scores = rng.integers(0, 60, 30)
        start, width = rng.integers(5, 20), rng.integers(1, 6)
        scores[start : start + width] = rng.integers(100, 256, width)
        positives.append(scores / 256)
    negatives = []
    for _ in range(3):
        scores = rng.integers(0, 80, 4000)
        for start in rng.integers(0, 3990, 60):
            scores[start : start + rng.integers(1, 8)] = rng.integers(60, 256)
        negatives.append(scores / 256)
    files = [Path(f"clip{i}.wav") for i in range(len(positives))]
    return ScoredSet(positives, negatives, 3 * 4000 * 0.1, 1.0, 0.0, files)


@pytest.mark.parametrize(("level", "smoothing"), [(1, 1), (3, 1), (1, 4), (2, 3), (4, 6)])
def test_the_threshold_search_counts_firings_as_the_trigger_does(level, smoothing):
    scored = scored_set(np.random.default_rng(level * 10 + smoothing))
    rejects, accepts = _rates(scored, level, smoothing)
    assert accepts.max() > 0 and rejects.max() > 0  # the data do test the counting
    for index in range(0, len(THRESHOLDS), 7):
        result = scored.at(float(THRESHOLDS[index]), level, smoothing)
        assert rejects[index] == result.false_reject_rate
        assert accepts[index] == pytest.approx(result.false_accepts_per_hour, abs=1e-9)


def test_a_clip_too_short_to_score_is_a_false_reject_not_an_error():
    scored = scored_set(np.random.default_rng(1))
    scored.positives[0] = np.zeros(0)
    rejects, _ = _rates(scored, 4, 6)
    assert rejects[0] == scored.at(float(THRESHOLDS[0]), 4, 6).false_reject_rate >= 1 / 40


def test_the_chosen_rule_has_the_fewest_false_rejects_within_the_budget():
    scored = scored_set(np.random.default_rng(7))
    budget = 30.0  # false accepts per hour, in this 20 minutes of made-up scores
    threshold, level, smoothing = choose_rule(scored, budget)
    chosen = scored.at(threshold, level, smoothing)
    assert chosen.false_accepts_per_hour <= budget
    for other_level in (1, 2, 3, 4):
        for other_smoothing in (1, 2, 3, 4, 5, 6):
            rejects, accepts = _rates(scored, other_level, other_smoothing)
            assert rejects[accepts <= budget].min() >= chosen.false_reject_rate


def test_other_talk_must_keep_within_the_budget_too_each_set_on_its_own():
    scored = scored_set(np.random.default_rng(7))
    budget = 30.0
    alone = scored.at(*choose_rule(scored, budget))
    other = scored_set(np.random.default_rng(8))
    for scores in other.negatives:  # louder talk, as if read by voices the network knows less
        scores[:] = np.minimum(scores * 1.6, 255 / 256)
    rule = choose_rule(scored, budget, also=[other])
    assert other.at(*rule).false_accepts_per_hour <= budget
    assert scored.at(*rule).false_accepts_per_hour <= budget
    # the other talk made it stricter; as one set with ours, it would only share the budget
    assert (
        other.at(alone.threshold, alone.trigger_level, alone.smoothing).false_accepts_per_hour
        > budget
    )
    assert scored.at(*rule).false_reject_rate > alone.false_reject_rate
    for level in (1, 2, 3, 4):
        for smoothing in (1, 2, 3, 4, 5, 6):
            rejects, accepts = _rates(scored, level, smoothing)
            _, other_accepts = _rates(other, level, smoothing)
            both_within = (accepts <= budget) & (other_accepts <= budget)
            assert rejects[both_within].min(initial=1.0) >= scored.at(*rule).false_reject_rate


def test_with_no_rule_in_budget_the_one_with_fewest_false_accepts_is_chosen():
    scored = scored_set(np.random.default_rng(3))
    scored.negatives[0][100:200] = 1.0  # a long loud stretch fires at any threshold
    # 10 s of it, at the strictest threshold, 4 in a row of means of 6: the sixth score in makes
    # the first full mean, the fourth mean fires (step 108), then 20 quiet steps and 4 more,
    # while it lasts: 132, 156, 180
    assert REFRACTORY_STEPS == 20  # 2 s at 10 scores a second, as the device
    assert firings(scored.negatives[0], THRESHOLDS[-1], 4, 6) == 4
    chosen = scored.at(*choose_rule(scored, 0.0))
    assert chosen.false_accepts > 0
    fewest = min(
        _rates(scored, level, smoothing)[1].min()
        for level in (1, 2, 3, 4)
        for smoothing in range(1, 7)
    )
    assert chosen.false_accepts_per_hour == pytest.approx(fewest)


def test_eval_reads_several_folders_each_file_once_and_refuses_none(tmp_path: Path):
    for name in ("a/x.wav", "a/sub/y.wav", "b/z.wav", "b/notes.txt", "d/talk.FLAC"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    a, b = tmp_path / "a", tmp_path / "b"
    # folder by folder, in the order named; a folder inside one named, or named twice, adds nothing
    assert audio_files([a / "sub", a, str(b), b]) == [a / "sub/y.wav", a / "x.wav", b / "z.wav"]
    assert audio_files(a) == [a / "sub/y.wav", a / "x.wav"]
    assert audio_files(tmp_path / "d") == [tmp_path / "d/talk.FLAC"]  # FLAC too (LibriSpeech)
    with pytest.raises(ModelError, match="^no folder of recordings given$"):
        audio_files([])
    with pytest.raises(ModelError, match=f"^{tmp_path / 'c'}: no such folder of recordings$"):
        audio_files([a, tmp_path / "c"])


def talk_with_a_known_tail(rng: np.random.Generator, recordings: int) -> ScoredSet:
    """``recordings`` one-second clips of talk, each with a peak whose logit is -2 plus an
    exponential of scale 0.5: in an hour of it (3,600 clips) a threshold t is reached
    3600 * exp(-(logit(t) + 2) / 0.5) times. Positives: 40 clips whose peaks reach 0.6 to 0.99,
    so that every step up the thresholds misses more of them."""
    logits = -2.0 + rng.exponential(0.5, recordings)
    # each clip holds its peak throughout: every trigger level and smoothing reaches it
    negatives = [np.full(10, peak) for peak in np.round(256 / (1 + np.exp(-logits))) / 256]
    positives = [np.full(10, round(peak * 256) / 256) for peak in np.linspace(0.6, 0.99, 40)]
    files = [Path(f"clip{i}.wav") for i in range(len(positives))]
    return ScoredSet(positives, negatives, float(recordings), 1.0, 0.0, files)


def test_the_tail_of_the_talk_foretells_false_accepts_above_its_highest_peak():
    talk = talk_with_a_known_tail(np.random.default_rng(5), 3600)
    index = int(np.searchsorted(THRESHOLDS, 0.5))  # logit 0: 3600 * e^-4 = 66 an hour
    beyond = int(np.searchsorted(THRESHOLDS, max(s.max() for s in talk.negatives), "right"))
    truth = np.array([known_rate(t) for t in THRESHOLDS])
    foretold, counted = tail_rates(talk, 1, 1), _rates(talk, 1, 1)[1]
    assert foretold[index] == pytest.approx(truth[index], rel=0.3)
    assert counted[beyond] == 0 and foretold[beyond] > 0  # an hour shows none; more hours will
    assert foretold[beyond] == pytest.approx(truth[beyond], rel=1.0)  # within a factor of two
    assert np.all(foretold >= counted)


def known_rate(threshold: float) -> float:
    """How often ``talk_with_a_known_tail``'s talk reaches ``threshold``, per hour."""
    return float(3600 * np.exp(-(np.log(threshold / (1 - threshold)) + 2) / 0.5))


def test_a_foretold_rule_keeps_within_the_budget_where_counting_an_hour_does_not():
    talk = talk_with_a_known_tail(np.random.default_rng(6), 3600)
    budget = 0.5
    counted = choose_rule(talk, budget)
    foretold = choose_rule(talk, budget, foretold=True)
    assert talk.at(*counted).false_accepts == 0  # just over the hour's highest peak
    assert known_rate(counted[0]) > budget >= known_rate(foretold[0])
    more = talk_with_a_known_tail(np.random.default_rng(7), 10 * 3600)  # ten more hours
    assert more.at(*foretold).false_accepts_per_hour < more.at(*counted).false_accepts_per_hour


def test_too_few_recordings_for_a_tail_are_only_counted():
    talk = talk_with_a_known_tail(np.random.default_rng(8), TAIL_PEAKS)
    assert np.array_equal(tail_rates(talk, 2, 3), _rates(talk, 2, 3)[1])
