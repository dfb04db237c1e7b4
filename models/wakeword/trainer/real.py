"""Real people's recordings in the choice of the rule and on the card: ``--real-speech DIR``.

Synthetic validation alone ranked models backwards on people and set rules that false-accepted
many times more often on real talk (models/README.md, "On real people"). Given a folder of real
recordings laid out as ``shared/real-speech`` (its README), the trainer splits it in two by
speaker (``device.wakeword.real_speech.half``):

- half 0 joins validation: the rule must keep within the false-accept budget on its talk as well
  as on the synthetic talk, and where people say the phrase in it, the rule is the one that
  misses the fewest of them (never chosen on synthetic clips alone);
- half 1, whose speakers chose nothing, gives the card's headline figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from device.wakeword.eval import EvalResult, Progress, ScoredSet, audio_files, choose_rule
from device.wakeword.real_speech import half, merged, real_set, score_real, speaker_digest

VALIDATION, TEST = 0, 1


def score(model: Path, root: Path, phrase: str, progress: Progress | None = None) -> ScoredSet:
    """The model's scores on every real recording in ``root`` (both halves)."""
    return merged(score_real(model, real_set(root, phrase), progress))


def halves(scored: ScoredSet) -> tuple[ScoredSet, ScoredSet]:
    """(validation, test)."""
    return (
        scored.subset(lambda path: half(path) == VALIDATION),
        scored.subset(lambda path: half(path) == TEST),
    )


def choose(
    synthetic: ScoredSet, real: ScoredSet, budget: float, also: list[ScoredSet]
) -> tuple[float, int, int]:
    """The rule: within ``budget`` on every set's talk, on real talk as its tail foretells; the
    fewest misses of people saying the phrase when there are any, else of the synthetic clips."""
    return choose_rule(_people(real, synthetic), budget, also=[synthetic, *also], foretold=True)


def _people(real: ScoredSet, synthetic: ScoredSet) -> ScoredSet:
    """The real talk, with people saying the phrase where there are any, else synthetic clips."""
    if real.positives:
        return real
    return replace(real, positives=synthetic.positives, positive_files=synthetic.positive_files)


def trained_on(path: Path) -> bool:
    """Real talk the speech-embedding recipe trains on: the speakers of half the validation
    half (all of which bounds its rule); half 1 is never heard."""
    return half(path) == VALIDATION and speaker_digest(path)[1] % 2 == 0


def talk_files(root: Path, phrase: str, wanted: Callable[[Path], bool] = trained_on) -> list[Path]:
    """The real talk (every folder but the phrase's own) whose files ``wanted`` picks: by
    default those the speech-embedding recipes train on."""
    return [f for f in audio_files(list(real_set(root, phrase).negatives)) if wanted(f)]


def choose_on_people(
    synthetic: ScoredSet, validation: ScoredSet, budget: float
) -> tuple[float, int, int]:
    """The speech-embedding recipe's rule: within ``budget`` on the validation half's real talk
    (the quarter it was trained on as well as the quarter it was not: each alone is under half
    an hour, where 0.5 per hour is not one false accept), as its tail foretells; the fewest
    misses of people saying the phrase, or else of the synthetic clips. Synthetic talk does not
    bound it: a quarter of it is confusable phrases in voices no person has, and it held rules at
    19.5% missed where real talk allowed 6.9% (models/README.md)."""
    return choose_rule(_people(validation, synthetic), budget, foretold=True)


def figures(result: EvalResult) -> dict[str, Any]:
    return {
        "false_reject_rate": round(result.false_reject_rate, 4) if result.positives else None,
        "positives": result.positives,
        "false_rejects": result.false_rejects,
        "false_accepts_per_hour": round(result.false_accepts_per_hour, 3),
        "false_accepts": result.false_accepts,
        "negative_hours": result.negative_hours,
    }


def markdown(real: dict[str, Any]) -> str:
    """The card's section on real people, from its metrics' ``real``."""
    test, validation = real["test_half"], real["validation_half"]

    def misses(part: dict[str, Any]) -> str:
        if not part["positives"]:
            return "nobody says the phrase there"
        rate = 100 * part["false_reject_rate"]
        return f"{rate:.1f}% ({part['false_rejects']} of {part['positives']} clips)"

    def accepts(part: dict[str, Any]) -> str:
        return (f"{part['false_accepts_per_hour']:g} per hour ({part['false_accepts']} in "
                f"{part['negative_hours']:g} h)")  # fmt: skip

    return f"""## On real people

Recordings of real people from `{real["folder"]}`, split in two by speaker. The rule was chosen
with one half (it had to keep within the budget there too, as the tail of that half's talk
foretells it beyond its hours); the other half's speakers chose nothing, and its figures are
this card's headline.

| | people the rule never heard (the headline) | the half that chose the rule |
|---|---|---|
| false rejects | {misses(test)} | {misses(validation)} |
| false accepts | {accepts(test)} | {accepts(validation)} |
"""
