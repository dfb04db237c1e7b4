"""`zeropin wakeword eval --real-speech`: real people's recordings, chosen by the model's phrase.

The plumbing is tested on a small tree of links to the real recordings in ../shared/real-speech
(skipped where that folder is absent); the figures themselves come from the full folder and are
reported in models/README.md, not asserted here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
from conftest import needs_real_speech, small_real_speech_tree

from device.cli.main import _parser
from device.wakeword.real_speech import BUDGET, evaluate_real, real_set, report_json

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "wakeword" / "hey_zero.tflite"


def _model_for(phrase: str, folder: Path) -> Path:
    """The shipped network under a card that claims another phrase: a model that is wrong for
    it, but exercises the path where people did record the phrase."""
    model = folder / "other.tflite"
    shutil.copyfile(SHIPPED, model)
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps({**card, "phrase": phrase}))
    return model


def _hours(folder: Path) -> float:
    return sum(soundfile.info(str(p)).duration for p in folder.rglob("*") if p.is_file()) / 3600


def test_the_option_alone_means_the_folder_beside_the_checkout(tmp_path: Path):
    command = [sys.executable, "-m", "device.cli", "wakeword", "eval", str(SHIPPED)]
    result = subprocess.run(
        [*command, "--real-speech", "--threshold", "0.5"],  # refused before any scoring
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # not the checkout: "." must not be taken for the folder
    )
    assert result.returncode == 1
    assert "leave out --positives, --negatives, --threshold and --tune" in result.stderr
    parsed = _parser().parse_args(["wakeword", "eval", "m.tflite", "--real-speech"])
    assert parsed.real_speech == ""  # resolved to DEFAULT_ROOT when run, not to "."
    given = _parser().parse_args(["wakeword", "eval", "m.tflite", "--real-speech", "here"])
    assert given.real_speech == "here"


def test_the_phrase_chooses_positives_and_everything_else_is_talk(tmp_path: Path):
    for kind in ("keywords/computer", "keywords/snowboy", "speech/libri", "digits", "other"):
        (tmp_path / kind).mkdir(parents=True)
    chosen = real_set(tmp_path, "Computer")
    assert chosen.positives == tmp_path / "keywords/computer"
    assert chosen.negatives == (
        tmp_path / "keywords/snowboy",
        tmp_path / "speech",
        tmp_path / "digits",
    )
    nobody = real_set(tmp_path, "hey zero")
    assert nobody.positives is None
    assert nobody.negatives[:2] == (tmp_path / "keywords/computer", tmp_path / "keywords/snowboy")


@needs_real_speech
def test_a_model_of_a_recorded_word_is_scored_on_people_saying_it(tmp_path: Path):
    root = small_real_speech_tree(tmp_path / "real")
    report = evaluate_real(_model_for("computer", tmp_path), root)
    card = report.at_card
    assert card.positives == 12
    assert 0 <= card.false_rejects <= 12
    assert [f.folder for f in report.by_folder] == ["keywords/snowboy", "speech", "digits"]
    for found in report.by_folder:
        assert found.hours == pytest.approx(_hours(root / found.folder), abs=0.001)
    assert card.negative_hours == pytest.approx(sum(f.hours for f in report.by_folder), abs=0.002)
    assert card.false_accepts == sum(f.false_accepts for f in report.by_folder)
    assert report.at_budget is not None
    assert report.at_budget.false_accepts_per_hour <= BUDGET or report.at_budget.false_accepts == 0
    assert report.synthetic["false_accepts_per_hour"] == 0.375  # the card's, kept beside
    # the half no --real-speech training chooses on: part of the clips and of the talk
    unseen = report.unseen_half
    assert 0 < unseen.positives < card.positives
    assert 0 < unseen.negative_hours < card.negative_hours
    assert unseen.false_rejects <= card.false_rejects


@needs_real_speech
def test_the_command_reports_false_accepts_alone_for_an_unrecorded_phrase(tmp_path: Path):
    root = small_real_speech_tree(tmp_path / "real", per_folder=4)
    command = [sys.executable, "-m", "device.cli", "wakeword", "eval", str(SHIPPED)]
    result = subprocess.run(
        [*command, "--real-speech", str(root), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["phrase"] == "hey zero"
    assert report["real_at_card_rule"]["positives"] == 0
    assert report["real_at_budget"] is None  # no positives: no operating point to choose
    assert report["real_at_card_rule_unseen_half"]["negative_hours"] > 0
    folders = [f["folder"] for f in report["real_false_accepts_by_folder"]]
    assert folders == ["keywords/computer", "keywords/snowboy", "speech", "digits"]
    mixed = subprocess.run(
        [*command, "--real-speech", str(root), "--tune", "0.5"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert mixed.returncode == 1
    assert "leave out --positives, --negatives, --threshold and --tune" in mixed.stderr


@needs_real_speech
def test_the_bench_reports_the_shipped_models_real_false_accepts_and_the_recipes_last_figures(
    tmp_path: Path,
):
    from device.sim.bench import _real_rows
    from device.wakeword.real_speech import bench_figures

    root = small_real_speech_tree(tmp_path / "real", per_folder=4)
    recipe = tmp_path / "recipe-real.json"
    recipe.write_text(report_json(evaluate_real(_model_for("computer", tmp_path), root)))
    figures = bench_figures(SHIPPED, root, recipe)
    shipped = evaluate_real(SHIPPED, root).at_card
    assert figures["wake_fa_per_hour_real"] == round(shipped.false_accepts_per_hour, 3)
    assert figures["wake_real_hours"] == shipped.negative_hours > 0
    kept = json.loads(recipe.read_text())["real_at_card_rule"]
    assert figures["recipe_phrase"] == "computer"
    assert figures["recipe_wake_frr_real"] == kept["false_reject_rate"]
    assert figures["recipe_wake_fa_per_hour_real"] == kept["false_accepts_per_hour"]
    unseen = json.loads(recipe.read_text())["real_at_card_rule_unseen_half"]
    assert figures["recipe_wake_frr_real_unseen"] == unseen["false_reject_rate"]
    assert figures["recipe_wake_fa_per_hour_real_unseen"] == unseen["false_accepts_per_hour"]
    rows = dict(_real_rows(figures))
    assert "wake word on real talk" in rows
    assert rows["trainer's default recipe ('computer'), real people"].endswith("per hour")
    assert rows["  on the half of the speakers it never heard"].endswith("per hour")
    nothing = bench_figures(SHIPPED, tmp_path / "absent", tmp_path / "absent.json")
    assert set(nothing.values()) == {None} and _real_rows(nothing) == []
