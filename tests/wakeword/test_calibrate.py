"""`zeropin wakeword calibrate`: the shipped model fitted to a room and a wearer, both made of
espeak-ng speech over noise and played through a file microphone, and the [wake] settings
written as a config layer that the settings loader reads and a person can undo."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from calibration_audio import SHIPPED, noise, recording, room, takes

from device.cli.main import main
from device.config import sources
from device.config.calibration import (
    CARDS_RULE,
    Rule,
    check_writable,
    rate_bounds,
    rate_text,
    read_calibration,
    write_calibration,
)
from device.config.sources import load_config_with_sources
from device.errors import StorageError
from device.wakeword.calibrate import (
    CalibrationPlan,
    CalibrationRefused,
    Room,
    ScoredTake,
    Ui,
    calibrate,
    choose,
)
from device.wakeword.progress import TextProgress
from drivers.mic import FileMicrophone

NEAR_MISS = [("hey hero", "en-us"), ("the weather is mild today", "en-gb")]
TALK = [("the weather is mild today", "en-gb"), ("put the kettle on please", "en-us+m3")]


@pytest.fixture
def layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default config layers moved into tmp_path: an empty config.toml, then the
    calibration file, which is returned."""
    config = tmp_path / "etc" / "config.toml"
    config.parent.mkdir()
    config.write_text("")
    monkeypatch.setattr(sources, "DEFAULT_PATHS", (config,))
    monkeypatch.setattr(sources, "CALIBRATION_PATH", tmp_path / "etc" / "calibration.toml")
    return sources.CALIBRATION_PATH


def run(*args: str | Path) -> int:
    return main(["wakeword", "calibrate", *map(str, args)])


def test_a_quiet_room_keeps_the_cards_rule_written_as_its_own(
    tmp_path: Path, layers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = recording(tmp_path / "s.wav", room(60, talk=TALK), takes(6))
    assert run("--from", session, "--room-minutes", "1", "--takes", "6") == 0
    out = capsys.readouterr().out
    assert "listening to the room: 1:00 of 1:00" in out  # the progress, into a pipe
    assert "take 6: heard" in out
    assert "0 in 1.0 min: under about 180 per hour  <- card's and chosen" in out
    assert "cannot show that a looser rule keeps under 0.5 false accepts per hour" in out
    assert f"Written to {layers}." in out
    record = read_calibration(layers)
    assert record is not None and record.written == CARDS_RULE
    assert (record.takes, record.takes_heard, record.room_false_accepts) == (6, 6, 0)
    assert record.chosen == Rule(0.41796875, 4, 2)  # the shipped card's
    cfg, layer_of = load_config_with_sources(env={}, secrets_paths=[])
    assert layer_of["wake.threshold"] == str(layers)
    assert cfg.wake.threshold == 0.0  # 0: the card's, so a new model brings its own


def test_a_room_that_fires_the_model_gets_a_stricter_rule_and_the_old_one_is_kept(
    tmp_path: Path, layers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = recording(tmp_path / "quiet.wav", room(60), takes(5))
    assert run("--from", quiet, "--room-minutes", "1", "--takes", "5") == 0
    first = layers.read_text()
    session = recording(tmp_path / "s.wav", room(60, talk=NEAR_MISS), takes(6))
    assert run("--from", session, "--room-minutes", "1", "--takes", "6") == 0
    out = capsys.readouterr().out
    assert "stricter than the model card's rule, which the room fired 4 in 1.0 min" in out
    assert f"the one before is kept as {layers}.old" in out
    assert (tmp_path / "etc" / "calibration.toml.old").read_text() == first
    record = read_calibration(layers)
    assert record is not None and record.room_false_accepts == 0 and record.takes_heard == 6
    assert record.written == record.chosen and record.chosen.threshold > 0.45
    assert record.before == CARDS_RULE and record.before_from == str(layers)
    cfg = load_config_with_sources(env={}, secrets_paths=[])[0]
    assert cfg.wake.threshold == record.chosen.threshold
    assert "#   threshold = 0.0" in layers.read_text()  # the way back, in the file


def test_a_silent_microphone_is_told_within_seconds(tmp_path: Path) -> None:
    silent = recording(tmp_path / "silent.wav", np.zeros(120 * 16000))
    with FileMicrophone(silent, 480) as mic, pytest.raises(CalibrationRefused) as refused:
        calibrate(mic, SHIPPED, CalibrationPlan(live=False))
    assert "the microphone gives silence (digital silence in 5 s)" in str(refused.value)
    assert mic.position_seconds < 6


def test_a_loud_room_is_refused_and_nothing_is_written(
    tmp_path: Path, layers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loud = recording(tmp_path / "loud.wav", noise(60, -15, 1), takes(6, noise_dbfs=-15))
    assert run("--from", loud, "--room-minutes", "1") == 1
    assert "the room is too loud for the phrase to be told apart" in capsys.readouterr().err
    assert not layers.exists()


def test_takes_drowned_in_the_room_are_refused(tmp_path: Path) -> None:
    session = recording(tmp_path / "s.wav", room(60, noise_dbfs=-40), takes(6, peak_dbfs=-36))
    plan = CalibrationPlan(room_seconds=60, takes=6, live=False)
    with FileMicrophone(session, 480) as mic, pytest.raises(CalibrationRefused) as refused:
        calibrate(mic, SHIPPED, plan)
    assert "too loud" in str(refused.value) or "take(s) of the phrase" in str(refused.value)


def test_too_few_takes_choose_nothing(
    tmp_path: Path, layers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = recording(tmp_path / "s.wav", room(60), takes(3))
    assert run("--from", session, "--room-minutes", "1") == 1
    err = capsys.readouterr().err
    assert "only 3 take(s) of the phrase: a rule chosen on fewer than 5 would be a guess" in err
    assert not layers.exists()


def test_a_file_calibrate_did_not_write_is_never_overwritten(
    tmp_path: Path, layers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layers.write_text("[wake]\nthreshold = 0.6\n")
    session = recording(tmp_path / "s.wav", room(60), takes(5))
    assert run("--from", session, "--room-minutes", "1") == 1
    assert "was not written by `zeropin wakeword calibrate`" in capsys.readouterr().err
    assert layers.read_text() == "[wake]\nthreshold = 0.6\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_folder_it_cannot_write_is_told_before_listening(
    tmp_path: Path, layers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layers.parent.chmod(0o555)
    try:
        assert run("--from", tmp_path / "never-read.wav") == 1
    finally:
        layers.parent.chmod(0o755)
    assert "run it as root (sudo), or add --dry-run" in capsys.readouterr().err


def test_a_failed_write_leaves_the_calibration_as_it_was(tmp_path: Path, layers: Path) -> None:
    layers.write_text("# record: {}\n[wake]\n")
    (tmp_path / "etc" / "calibration.toml.old").mkdir()  # the backup cannot go there
    with pytest.raises(StorageError, match="is as it was"):
        write_calibration(layers, "[wake]\nthreshold = 0.5\n")
    assert layers.read_text() == "# record: {}\n[wake]\n"


def test_a_place_that_is_not_a_folder_is_told_before_listening(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageError, match="Not a directory.*nothing written"):
        check_writable(tmp_path / "file" / "calibration.toml")


def test_dry_run_and_config_files_say_where_the_settings_would_go(
    tmp_path: Path, layers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = recording(tmp_path / "s.wav", room(60), takes(5))
    assert run("--from", session, "--room-minutes", "1", "--dry-run") == 0
    assert f"--dry-run: nothing written. It would write {layers}" in capsys.readouterr().out
    assert not layers.exists()
    config = tmp_path / "mine.toml"
    config.write_text("[wake]\nthreshold = 0.6\n")
    args = ["--config", str(config), "wakeword", "calibrate", "--from", str(session)]
    assert main([*args, "--room-minutes", "1", "--write", str(tmp_path / "c.toml")]) == 1
    assert f"add --config {tmp_path / 'c.toml'} to read it" in capsys.readouterr().out


def test_the_calibration_layer_is_read_after_the_config_files_and_not_with_config(
    tmp_path: Path, layers: Path
) -> None:
    (tmp_path / "etc" / "config.toml").write_text("[wake]\nthreshold = 0.6\nsmoothing = 3\n")
    layers.write_text("[wake]\nthreshold = 0.55\n")
    cfg, layer_of = load_config_with_sources(env={}, secrets_paths=[])
    assert (cfg.wake.threshold, cfg.wake.smoothing) == (0.55, 3)
    assert layer_of["wake.threshold"] == str(layers)
    cfg = load_config_with_sources(paths=[tmp_path / "etc" / "config.toml"], env={})[0]
    assert cfg.wake.threshold == 0.6


def _scores(peak: float, steps: int = 30) -> np.ndarray:
    scores = np.zeros(steps, dtype=np.float32)
    scores[10:20] = peak
    return scores


def test_hours_of_room_audio_let_a_looser_rule_be_chosen() -> None:
    card = Rule(0.5, 1, 1)
    heard = [ScoredTake(_scores(p), 20.0) for p in (0.32, 0.35, 0.9, 0.9, 0.9)]
    six_hours = Room(np.full(6 * 36000, 0.05, dtype=np.float32), 6 * 3600.0, -50.0, -40.0, 0.0)
    choice = choose(card, heard, six_hours, 0.5)
    assert 0.3 < choice.rule.threshold <= 0.32 and not choice.cards  # hears all five
    assert "0 in 6.0 h: under about 0.5 per hour, which shows it within 0.5" in choice.why
    minutes = Room(six_hours.scores[:1800], 180.0, -50.0, -40.0, 0.0)
    assert choose(card, heard, minutes, 0.5).rule == card


def test_false_accept_rates_say_how_rough_they_are() -> None:
    assert rate_text(0, 180) == "0 in 3.0 min: under about 60 per hour"
    assert rate_text(0, 6 * 3600) == "0 in 6.0 h: under about 0.5 per hour"
    assert rate_text(3, 180) == "3 in 3.0 min: about 60 per hour (16 to 155)"
    low, high = rate_bounds(10, 3600)
    assert 5.4 < low < 5.5 and 16.9 < high < 17.0  # the exact Poisson bounds at 95%


def test_the_progress_bar_draws_in_place_on_a_terminal_and_quarters_into_a_pipe() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    pipe, terminal = io.StringIO(), Terminal()
    for out in (pipe, terminal):
        bar = TextProgress("listening", 180.0, out)
        for second in range(0, 181, 3):
            bar.update(second)
        bar.close()
    assert pipe.getvalue().splitlines() == [
        f"listening: {t} of 3:00" for t in ("0:00", "0:45", "1:30", "2:15", "3:00")
    ]
    assert terminal.getvalue().count("\r") == 25  # each of 24 steps of the bar, and the start
    assert terminal.getvalue().endswith("[########################]  3:00 of 3:00\n")


def test_a_live_microphone_is_prompted_and_gives_up_on_silence(tmp_path: Path) -> None:
    session = recording(tmp_path / "s.wav", room(60), noise(30, -50, 2))
    prompts: list[int] = []
    plan = CalibrationPlan(room_seconds=60, takes=5, live=True)
    ui = Ui(prompt=lambda number, wanted: prompts.append(number))
    with FileMicrophone(session, 480) as mic, pytest.raises(CalibrationRefused) as refused:
        calibrate(mic, SHIPPED, plan, ui)
    assert "heard no speech 3 times in a row: speak up or come nearer" in str(refused.value)
    assert prompts == [1, 1, 1]
