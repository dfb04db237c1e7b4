"""`zeropin doctor` shows the wake word's calibration: when, what was chosen and measured, or
that none was made; and warns when it is not the one in use."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from device.config import sources
from device.config.calibration import (
    CARDS_RULE,
    CalibrationRecord,
    Rule,
    render_calibration,
    write_calibration,
)
from device.config.sources import load_config
from device.doctor.calibration import check_calibration
from device.doctor.checks import Finding, Level
from device.doctor.run import run_doctor

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "wakeword" / "hey_zero.tflite"
CARD = Rule(0.41796875, 4, 2)
SHA = hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
RECORD = CalibrationRecord(
    when="2025-03-01T09:30:00+00:00",
    model="hey_zero.tflite",
    model_sha256=SHA,
    phrase="hey zero",
    chosen=CARD,
    written=CARDS_RULE,
    takes=8,
    takes_heard=8,
    room_seconds=180.0,
    room_false_accepts=0,
    why="the model card's rule",
    before=CARDS_RULE,
    before_from="default",
)


def check(
    record: CalibrationRecord | None, in_use: Rule = CARDS_RULE, problem: str = ""
) -> Finding:
    return check_calibration(record, in_use=in_use, card=CARD, model_sha256=SHA, problem=problem)


def test_none_made_says_which_rule_is_in_use_and_how_to_calibrate() -> None:
    finding = check(None)
    assert finding.level is Level.OK and finding.subject == "calibration"
    assert "none made; in use: the model card's rule (0.418, 4 score(s) in a row" in finding.detail
    assert "`zeropin wakeword calibrate`" in finding.detail
    assert "[wake] threshold 0.6" in check(None, Rule(0.6, 0, 0)).detail


def test_a_calibration_in_use_shows_when_what_and_how_rough() -> None:
    finding = check(RECORD)
    assert finding.level is Level.OK
    assert finding.detail == (
        "2025-03-01 09:30 UTC: 0.418, 4 score(s) in a row, each the mean of the last 2 (the "
        "card's rule); 8 of 8 takes heard; false accepts in the room 0 in 3.0 min: under "
        "about 60 per hour"
    )


def test_warnings_a_replaced_model_another_layer_a_missed_voice_a_firing_room() -> None:
    replaced = check(dataclasses.replace(RECORD, model_sha256="0" * 64))
    assert "for another model than the one in use now" in replaced.detail
    overridden = check(RECORD, Rule(0.7, 0, 0))
    assert "not in force: [wake] reads 0.7/0/0 instead of 0/0/0" in overridden.detail
    missed = check(dataclasses.replace(RECORD, takes_heard=5))
    assert "5 of 8 takes heard" in missed.detail
    assert missed.detail.endswith("under about 60 per hour: the model misses the wearer")
    fired = check(dataclasses.replace(RECORD, room_false_accepts=2))
    assert "2 in 3.0 min: about 40 per hour" in fired.detail and "again" in fired.detail
    damaged = check(None, problem="calibration.toml: holds no calibration record")
    assert damaged.detail == "calibration.toml: holds no calibration record"
    assert {f.level for f in (replaced, overridden, missed, fired, damaged)} == {Level.WARN}


def test_the_doctor_reads_the_calibration_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "calibration.toml"
    monkeypatch.setattr(sources, "CALIBRATION_PATH", path)
    pinned = dataclasses.replace(RECORD, chosen=Rule(0.5, 4, 2), written=Rule(0.5, 4, 2))
    write_calibration(path, render_calibration(pinned, CARD))
    cfg = load_config(paths=[path], env={}, secrets_paths=[],
                      overrides=[f"device.state_dir={tmp_path}"])  # fmt: skip
    findings = list(run_doctor(cfg, sim=True, button_seconds=0, prompt=lambda _: None))
    (finding,) = [f for f in findings if f.subject == "calibration"]
    assert finding.level is Level.OK, finding.line()
    assert finding.line().startswith("OK    models   calibration: 2025-03-01 09:30 UTC: 0.5, 4")
    path.write_text("[wake]\nthreshold = 0.5\n")  # edited by hand: no record
    findings = list(run_doctor(cfg, sim=True, button_seconds=0, prompt=lambda _: None))
    (finding,) = [f for f in findings if f.subject == "calibration"]
    assert finding.level is Level.WARN and "holds no calibration record" in finding.detail
