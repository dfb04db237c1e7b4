"""Real people's recordings as a wake-word test: ``zeropin wakeword eval MODEL --real-speech``.

The folder (``shared/real-speech`` beside a checkout; its README says what and under which
licences) holds crowd-sourced clips of single keywords (``keywords/<word>/``), read English
sentences (``speech/``) and spoken digits (``digits/``, 8 kHz). For a model of one of the
keywords, its clips are the positives; every other recording (the other keywords' clips, the
sentences, the digits) is negative speech, and its false accepts are counted per hour of it,
folder by folder, since one kind of talk can fire a model that others never do. A model whose
phrase nobody recorded (the shipped "hey zero") gets the false accepts alone.

Two rules are scored: the model card's (the figure that holds for other people too) and the
rule with the fewest misses at most ``budget`` false accepts per hour on these very clips (an
operating point: chosen on the clips it is reported on, so better than other people will see).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device.errors import ModelError
from device.listening.tflite_wake import ModelCard
from device.wakeword.eval import (
    EvalResult,
    Progress,
    ScoredSet,
    choose_rule,
    format_result,
    score_folders,
    trigger_text,
)

# beside the checkout, as CI lays it out: <root>/main (this project) and <root>/shared
DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "shared" / "real-speech"
KEYWORDS, TALK = "keywords", ("speech", "digits")
# The last real-speech evaluation of a model made by the trainer's default command (written by
# `zeropin wakeword eval MODEL --real-speech --json`; models/README.md says which command).
RECIPE_RESULT = Path(__file__).resolve().parents[2] / "models" / "wakeword" / "recipe-real.json"
BUDGET = 0.5  # false accepts per hour the product allows


@dataclass(frozen=True)
class RealSet:
    phrase: str
    positives: Path | None  # None: nobody in the folder says the phrase
    negatives: tuple[Path, ...]  # one folder per kind of talk


def real_set(root: Path, phrase: str) -> RealSet:
    """The positives and negative folders for ``phrase`` in a real-speech folder."""
    keywords = root / KEYWORDS
    if not keywords.is_dir():
        raise ModelError(f"{root}: no {KEYWORDS}/ folder: is this a real-speech folder?")
    word = "_".join(phrase.lower().split())
    words = sorted(d for d in keywords.iterdir() if d.is_dir())
    talk = [root / name for name in TALK if (root / name).is_dir()]
    positives = keywords / word if (keywords / word).is_dir() else None
    negatives = tuple(d for d in words if d != positives) + tuple(talk)
    return RealSet(phrase, positives, negatives)


# LibriSpeech's "103-1240-0000" and the spoken digits' "3_jackson_12": the speaker comes first,
# or after the digit; any other name (the keyword clips' random ones) is a speaker of its own.
_SPEAKER = re.compile(r"^(\d+)-\d+-\d+$|^\d_([a-z]+)_\d+$")


def speaker_digest(path: Path) -> bytes:
    """sha256 of the recording's speaker (where the name tells it), the same on every machine."""
    found = _SPEAKER.match(path.stem)
    speaker = next((g for g in found.groups() if g), path.stem) if found else path.stem
    return hashlib.sha256(speaker.encode("utf-8")).digest()


def half(path: Path) -> int:
    """0 or 1, by speaker: the trainer chooses its rule on half 0 (validation) and reports
    half 1, whose speakers it never heard."""
    return speaker_digest(path)[0] % 2


@dataclass(frozen=True)
class FolderAccepts:
    folder: str
    hours: float
    false_accepts: int


@dataclass(frozen=True)
class RealReport:
    phrase: str
    at_card: EvalResult  # the model card's rule
    by_folder: tuple[FolderAccepts, ...]  # the card rule's false accepts, kind by kind of talk
    at_budget: EvalResult | None  # the best rule within BUDGET on these clips (positives only)
    synthetic: dict[str, Any] = field(default_factory=dict)  # the card's own held-out figures
    # the card's rule on half 1 alone (``half``): speakers a --real-speech training never chose on
    unseen_half: EvalResult | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "phrase": self.phrase,
            "real_at_card_rule": self.at_card.as_dict(),
            "real_false_accepts_by_folder": [vars(f) for f in self.by_folder],
            "real_at_budget": self.at_budget.as_dict() if self.at_budget else None,
            "budget_false_accepts_per_hour": BUDGET,
            "synthetic_card": self.synthetic,
            "real_at_card_rule_unseen_half": self.unseen_half.as_dict()
            if self.unseen_half
            else None,
        }


def score_real(model: Path, chosen: RealSet, progress: Progress | None = None) -> list[ScoredSet]:
    """``model``'s scores on each negative folder of ``chosen``, the first with the positives."""
    positives = [chosen.positives] if chosen.positives else []
    return [
        score_folders(model, positives if index == 0 else [], [folder], progress)
        for index, folder in enumerate(chosen.negatives)
    ]


def evaluate_real(model: Path, root: Path = DEFAULT_ROOT) -> RealReport:
    """Score ``model`` on the real recordings in ``root`` for its own phrase."""
    card = ModelCard.load(model)
    chosen = real_set(root, card.phrase)
    rule = (card.threshold, card.trigger_level, card.smoothing)
    parts = score_real(model, chosen)
    everything = merged(parts)
    by_folder = tuple(
        FolderAccepts(
            str(folder.relative_to(root)),
            round(part.negative_seconds / 3600, 3),
            part.at(*rule).false_accepts,
        )
        for folder, part in zip(chosen.negatives, parts, strict=True)
    )
    at_budget = everything.at(*choose_rule(everything, BUDGET)) if chosen.positives else None
    unseen = everything.subset(lambda path: half(path) == 1).at(*rule)
    return RealReport(card.phrase, everything.at(*rule), by_folder, at_budget, card.metrics, unseen)


def merged(parts: list[ScoredSet]) -> ScoredSet:
    """One set from the per-folder ones (the first holds the positives)."""
    return ScoredSet(
        positives=parts[0].positives,
        negatives=[scores for part in parts for scores in part.negatives],
        negative_seconds=sum(part.negative_seconds for part in parts),
        audio_seconds=sum(part.audio_seconds for part in parts),
        cpu_seconds=sum(part.cpu_seconds for part in parts),
        positive_files=parts[0].positive_files,
        negative_files=[path for part in parts for path in part.negative_files],
        negative_file_seconds=[s for part in parts for s in part.negative_file_seconds],
    )


def format_report(report: RealReport) -> str:
    card = report.at_card
    lines = [f"Real people ({report.phrase!r}): the model card's rule, {_rule(card)}"]
    if card.positives:
        lines.append(format_result(card).split("\n", 1)[1])
    else:
        lines.append(f"(nobody in the folder says {report.phrase!r}: false accepts only)")
        lines.append(format_result(card).split("\n")[2])
    lines += [f"  {f.folder:<40} {f.false_accepts} in {f.hours:.2f} h" for f in report.by_folder]
    if report.unseen_half is not None:
        unseen = report.unseen_half
        misses = (
            f"false rejects {100 * unseen.false_reject_rate:.1f}% "
            f"({unseen.false_rejects} of {unseen.positives}), "
            if unseen.positives
            else ""
        )
        lines += [
            "",
            "The half of the speakers that a training with --real-speech never chooses on:",
            f"{misses}false accepts {unseen.false_accepts_per_hour:.2f} per hour "
            f"({unseen.false_accepts} in {unseen.negative_hours:.2f} h)",
        ]  # fmt: skip
    if report.at_budget is not None:
        best = report.at_budget
        lines += [
            "",
            f"At most {BUDGET} false accepts per hour, the rule chosen on these same clips "
            f"({_rule(best)}; better than other people will see):",
            f"false rejects {100 * best.false_reject_rate:.1f}%, "
            f"false accepts {best.false_accepts_per_hour:.2f} per hour",
        ]
    synthetic = report.synthetic
    if "false_reject_rate" in synthetic:
        lines += [
            "",
            f"Synthetic, from the model card (held-out voices): false rejects "
            f"{100 * synthetic['false_reject_rate']:.1f}%, false accepts "
            f"{synthetic['false_accepts_per_hour']} per hour",
        ]
    return "\n".join(lines)


def _rule(result: EvalResult) -> str:
    return trigger_text(result.threshold, result.trigger_level, result.smoothing)


def report_json(report: RealReport) -> str:
    return json.dumps(report.as_dict())


def bench_figures(model: Path, root: Path = DEFAULT_ROOT, recipe: Path = RECIPE_RESULT) -> dict:
    """``zeropin bench``'s real-speech figures: ``model``'s false accepts per hour on the real
    talk (when the recordings are there) and the default recipe's last evaluation (when kept)."""
    figures: dict[str, Any] = {"wake_fa_per_hour_real": None, "wake_real_hours": None}
    if root.is_dir():
        at_card = evaluate_real(model, root).at_card
        figures["wake_fa_per_hour_real"] = round(at_card.false_accepts_per_hour, 3)
        figures["wake_real_hours"] = at_card.negative_hours
    kept = json.loads(recipe.read_text()) if recipe.is_file() else {}
    at_rule = kept.get("real_at_card_rule") or {}
    unseen = kept.get("real_at_card_rule_unseen_half") or {}
    figures |= {
        "recipe_phrase": kept.get("phrase"),
        "recipe_wake_frr_real": at_rule.get("false_reject_rate"),
        "recipe_wake_fa_per_hour_real": at_rule.get("false_accepts_per_hour"),
        # the speakers a --real-speech training neither trained on nor chose its rule on
        "recipe_wake_frr_real_unseen": unseen.get("false_reject_rate"),
        "recipe_wake_fa_per_hour_real_unseen": unseen.get("false_accepts_per_hour"),
    }
    return figures
