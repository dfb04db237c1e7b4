"""The companion page's parts on their own: the waterfall's geometry, the daemon's live file, the
brake on guessing, the token file, and a settings change that cannot be written."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from device.errors import ConfigError, StorageError
from device.storage.timings import TurnTiming
from device.system.live import LiveFile, read_live
from device.web import settings, waterfall
from device.web.auth import Brake, is_session, read_or_make_token, session_cookie


def _timing(**stages: float | None) -> TurnTiming:
    values: dict[str, float | None] = {
        "asr_final_ms": 100.0,
        "intent_ms": 110.0,
        "first_token_ms": None,
        "first_audio_ms": 150.0,
        "last_audio_ms": 2150.0,
    }
    values.update(stages)
    return TurnTiming(
        at=0.0, trigger="wake", intent="time", ended="played", wake_engine="tflite",
        asr_engine="pocketsphinx", tts_engine="espeak-ng", provider="", trigger_s=1.0,
        speech_end_s=2.0, **values,  # type: ignore[arg-type]
    )  # fmt: skip


def test_the_scale_holds_the_slowest_wait_and_speaking_runs_past_it() -> None:
    local = _timing()
    cloud = _timing(first_token_ms=900.0, first_audio_ms=1300.0, last_audio_ms=15000.0)
    scale = waterfall.scale_ms([local, cloud])
    assert scale == 2000.0  # the cloud turn's wait, 1.3 s, rounded up; not its 15 s of speech
    drawn = waterfall.bars(cloud, scale)
    assert [b.label for b in drawn] == ["recognise", "decide", "cloud", "voice", "speak"]
    assert [(b.start_ms, b.end_ms) for b in drawn][2] == (110.0, 900.0)
    assert drawn[2].x == pytest.approx(5.5) and drawn[2].width == pytest.approx(39.5)
    assert drawn[-1].clipped and not any(b.clipped for b in drawn[:-1])
    assert drawn[-1].x + drawn[-1].width == pytest.approx(100.0)
    local_bars = [b.label for b in waterfall.bars(local, scale)]
    assert local_bars == ["recognise", "decide", "voice", "speak"]


def test_a_stage_never_runs_backwards_and_a_short_one_still_shows() -> None:
    # the speaker's clock may read a hair before the wall clock's last stage
    drawn = waterfall.bars(_timing(first_audio_ms=109.0, last_audio_ms=None), 1000.0)
    assert [b.label for b in drawn] == ["recognise", "decide", "voice"]
    assert drawn[-1].start_ms == drawn[-1].end_ms == 110.0
    assert drawn[-1].width > 0
    assert waterfall.scale_ms([]) == 100.0
    assert waterfall.ticks(2000.0) == [("0 s", 0.0), ("1 s", 50.0), ("2 s", 100.0)]


def test_the_live_file_says_what_the_lights_show_and_whether_the_daemon_lives(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.json"
    live = LiveFile(path, has_privacy_led=True)
    live.light("listening")
    live.privacy(True)
    now = read_live(path)
    assert now is not None and now.running
    assert (now.light, now.privacy_lit) == ("listening", True)
    live.stopped()
    after = read_live(path)
    assert after is not None and (after.light, after.privacy_lit) == ("off", False)
    # a file left by a process that is gone: not running
    path.write_text(path.read_text().replace(f'"pid": {os.getpid()}', '"pid": 999999999'))
    gone = read_live(path)
    assert gone is not None and not gone.running
    assert read_live(tmp_path / "none.json") is None
    (tmp_path / "torn.json").write_text("{")
    assert read_live(tmp_path / "torn.json") is None


def test_a_live_file_that_cannot_be_written_never_stops_the_daemon(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    live = LiveFile(blocked / "live.json", has_privacy_led=False)  # its folder is a file
    live.light("thinking")  # logged once, not raised
    assert read_live(blocked / "live.json") is None


def test_the_brake_lets_through_the_limit_then_waits_out_the_window() -> None:
    now = [100.0]
    brake = Brake(3, 60.0, clients=2, clock=lambda: now[0])
    for _ in range(3):
        assert brake.blocked_for("10.0.0.2") == 0
        brake.count("10.0.0.2")
    assert brake.blocked_for("10.0.0.2") == 60.0
    assert brake.blocked_for("10.0.0.3") == 0  # another address has its own count
    now[0] += 59.0
    assert brake.blocked_for("10.0.0.2") == pytest.approx(1.0)
    now[0] += 1.0
    assert brake.blocked_for("10.0.0.2") == 0
    brake.count("10.0.0.4")
    brake.count("10.0.0.5")  # only the two most recent addresses are remembered
    assert brake.blocked_for("10.0.0.2") == 0


def test_the_token_is_made_once_kept_private_and_renewed_on_asking(tmp_path: Path) -> None:
    path = tmp_path / "state" / "web-token"
    token = read_or_make_token(path)
    assert len(token) >= 32 and read_or_make_token(path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    renewed = read_or_make_token(path, new=True)
    assert renewed != token and read_or_make_token(path) == renewed
    assert is_session(session_cookie(renewed), renewed)
    assert not is_session(session_cookie(token), renewed)  # a new token logs browsers out
    assert token not in session_cookie(token)


def test_a_change_that_cannot_be_written_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page_file = tmp_path / "settings.toml"
    page_file.write_text("[tts]\nrate_wpm = 150\n")
    layers = settings.Layers(files=[], page_file=page_file, secrets_paths=[], env={})

    def full_disk(path: Path, data: bytes, **_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(settings, "write_atomically", full_disk)
    with pytest.raises(StorageError) as caught:
        settings.change(layers, "tts.rate_wpm", "170")
    assert str(caught.value) == (
        f"could not save {page_file} (No space left on device); nothing changed"
    )
    assert page_file.read_text() == "[tts]\nrate_wpm = 150\n"
    with pytest.raises(ConfigError, match=r"'tts': expected section.key, like tts.rate_wpm"):
        settings.change(layers, "tts", "1")


def test_every_editable_key_is_one_the_daemon_takes(tmp_path: Path) -> None:
    layers = settings.Layers(files=[], page_file=tmp_path / "s.toml", secrets_paths=[], env={})
    cfg, _ = layers.load()
    keys = settings.editable_keys(cfg)
    assert "tts.rate_wpm" in keys and "web.idle_exit_minutes" in keys
    assert not [k for k in keys if k.endswith(("key", "token", "password"))]
    assert not [k for k in keys if k.startswith(("system.", "mcp", "providers"))]
    with pytest.raises(ConfigError, match="MCP servers are set up over SSH"):
        settings.change(layers, "mcp.servers.home.url", '"http://x"')
    # a list of names, the one kind tomlkit and the loader each spell their own way
    assert "saved" in settings.change(layers, "llm.chain", '["groq"]')
    assert layers.load()[0].llm.chain == ("groq",)


def test_the_wake_page_shows_the_calibration_the_device_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the page's own routes and templates (Flask's test client: rendering only; the
    served page is tested over HTTP and in Chromium)."""
    import hashlib
    import re
    from dataclasses import replace
    from html import unescape

    from device.config import sources
    from device.config.calibration import (
        CARDS_RULE,
        CalibrationRecord,
        Rule,
        render_calibration,
        write_calibration,
    )
    from device.web.app import Site, create_app

    path = tmp_path / "calibration.toml"
    monkeypatch.setattr(sources, "CALIBRATION_PATH", path)
    model = Path(__file__).resolve().parents[2] / "models" / "wakeword" / "hey_zero.tflite"
    shipped = hashlib.sha256(model.read_bytes()).hexdigest()
    record = CalibrationRecord(
        when="2025-03-01T09:30:00+00:00", model="hey_zero.tflite", model_sha256=shipped,
        phrase="hey zero", chosen=Rule(0.5, 4, 2), written=Rule(0.5, 4, 2), takes=8,
        takes_heard=7, room_seconds=180.0, room_false_accepts=0, why="the fewest misses",
        before=CARDS_RULE, before_from="default",
    )  # fmt: skip
    write_calibration(path, render_calibration(record, Rule(0.41796875, 4, 2)))
    layers = settings.Layers(
        files=[path], page_file=tmp_path / "s.toml", secrets_paths=[], env={},
        overrides=[f"device.state_dir={tmp_path}"],
    )  # fmt: skip
    token = "t" * 20
    client = create_app(Site(layers, tmp_path, token)).test_client()
    page = client.get("/wake", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200
    shown = " ".join(unescape(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True))).split())
    assert "OK 2025-03-01 09:30 UTC: 0.5, 4" in shown
    assert "Wearer's takes 7 of 8 takes heard" in shown
    assert "Model hey_zero.tflite (“hey zero”)" in shown
    assert "from default; 0s: the card's" in shown
    # the same record for another model: the page says to calibrate again
    path.unlink()
    elsewhere = replace(record, model_sha256="0" * 64)
    write_calibration(path, render_calibration(elsewhere, record.chosen))
    again = client.get("/wake", headers={"Authorization": f"Bearer {token}"}).get_data(as_text=True)
    assert "for another model than the one in use now" in again


def test_the_live_file_is_whole_and_the_last_state_when_two_threads_write_it(
    tmp_path: Path,
) -> None:
    """The status light changes on the loop's thread and the privacy LED on the upload's."""
    import json
    import threading

    path = tmp_path / "live.json"
    live = LiveFile(path, has_privacy_led=True)
    torn: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                json.loads(path.read_text())
            except ValueError as exc:
                torn.append(str(exc))

    def lights() -> None:
        for n in range(300):
            live.light("thinking" if n % 2 else "speaking")

    def privacy() -> None:
        for n in range(300):
            live.privacy(n % 2 == 0)

    threads = [threading.Thread(target=f) for f in (lights, privacy)]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()
    final = read_live(path)
    assert torn == [] and final is not None
    assert (final.light, final.privacy_lit) == ("thinking", False)  # each thread's last
    assert [p.name for p in tmp_path.iterdir()] == ["live.json"]  # no temporary file left


def test_forgetting_what_the_page_never_set_changes_nothing(tmp_path: Path) -> None:
    page_file = tmp_path / "settings.toml"
    layers = settings.Layers(files=[], page_file=page_file, secrets_paths=[], env={})
    said = settings.change(layers, "tts.rate_wpm", "", forget=True)
    assert said == "[tts] rate_wpm: the page had not set it; nothing changed"
    assert not page_file.exists()
    page_file.write_text("[tts\n")
    with pytest.raises(ConfigError, match=f"{page_file}: "):
        settings.change(layers, "tts.rate_wpm", "150")
    assert page_file.read_text() == "[tts\n"
