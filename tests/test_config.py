"""Tests for device.config: layering, validation messages, rendering and the state directory."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from device import config
from device.config import (
    CameraConfig,
    Config,
    ConfigError,
    load_config,
    load_config_with_sources,
    render_config,
    resolved_state_dir,
    resolved_vosk_model,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def load(*paths: Path, env: dict[str, str] | None = None, flags: tuple[str, ...] = ()) -> Config:
    return load_config(paths=list(paths), env=env or {}, overrides=flags)


def error(*paths: Path, env: dict[str, str] | None = None, flags: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as caught:
        load(*paths, env=env, flags=flags)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- defaults and layering ----------------------------------------------------------------------


def test_defaults_load_without_files_or_environment() -> None:
    cfg, sources = load_config_with_sources(paths=[], env={})
    assert cfg == Config()
    assert cfg.tts.rate_wpm == 165
    assert cfg.wake.threshold == 1e-40
    assert cfg.vad.aggressiveness == 2
    assert set(sources.values()) == {"default"}
    assert "led.privacy_pin" in sources


def test_missing_files_are_skipped(tmp_path: Path) -> None:
    assert load(tmp_path / "absent.toml", tmp_path / "nodir" / "x.toml") == Config()


def test_default_paths_are_etc_then_boot() -> None:
    etc, boot = config.DEFAULT_PATHS
    assert (etc, boot) == (Path("/etc/zeropin/config.toml"), Path("/boot/firmware/zeropin.toml"))


def test_layers_apply_in_order_and_report_their_source(tmp_path: Path) -> None:
    etc = write(
        tmp_path / "etc.toml",
        '[tts]\nrate_wpm = 100\npitch = 10\nvolume_percent = 20\nvoice = "en-gb"\n',
    )
    boot = write(tmp_path / "boot.toml", "[tts]\nrate_wpm = 110\npitch = 11\nvolume_percent = 21\n")
    env = {"ZEROPIN_TTS_RATE_WPM": "120", "ZEROPIN_TTS_PITCH": "12"}
    cfg, sources = load_config_with_sources(
        paths=[etc, boot], env=env, overrides=["tts.rate_wpm=130"]
    )
    assert (cfg.tts.voice, cfg.tts.volume_percent, cfg.tts.pitch, cfg.tts.rate_wpm) == (
        "en-gb",
        21,
        12,
        130,
    )
    assert sources["tts.voice"] == str(etc)
    assert sources["tts.volume_percent"] == str(boot)
    assert sources["tts.pitch"] == "env ZEROPIN_TTS_PITCH"
    assert sources["tts.rate_wpm"] == "flag --set"
    assert sources["tts.engine"] == "default"


def test_config_is_frozen() -> None:
    cfg = load()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.tts.rate_wpm = 200  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.tts = cfg.tts  # type: ignore[misc]


# -- types --------------------------------------------------------------------------------------


def test_int_is_accepted_where_a_float_is_expected(tmp_path: Path) -> None:
    cfg = load(write(tmp_path / "c.toml", "[vad]\nmax_utterance_seconds = 12\n"))
    assert cfg.vad.max_utterance_seconds == 12.0
    assert isinstance(cfg.vad.max_utterance_seconds, float)


def test_bool_is_rejected_for_an_int(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[vad]\naggressiveness = true\n")
    assert error(path) == f"{path}: [vad] aggressiveness: expected an integer, got true"


def test_bool_is_rejected_for_a_float(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[wake]\nrefractory_seconds = false\n")
    assert "[wake] refractory_seconds: expected a number, got false" in error(path)


def test_string_is_rejected_for_an_int(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[tts]\nrate_wpm = "fast"\n')
    assert error(path) == f'{path}: [tts] rate_wpm: expected an integer, got "fast"'


def test_float_is_rejected_for_an_int(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[notes]\nmax_notes_read = 2.5\n")
    assert "[notes] max_notes_read: expected an integer, got 2.5" in error(path)


def test_number_is_rejected_for_a_string(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[wake]\nphrase = 3\n")
    assert "[wake] phrase: expected a string, got 3" in error(path)


def test_non_finite_float_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[wake]\nthreshold = inf\n")
    assert "[wake] threshold: must be a finite number, got inf" in error(path)


# -- structure and value errors -----------------------------------------------------------------


def test_unknown_key_lists_the_known_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[wake]\nengnie = "vosk"\n')
    assert error(path).startswith(
        f"{path}: [wake] engnie: unknown key (known: engine, phrase, threshold, model,"
    )


def test_unknown_section_lists_the_known_sections(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[wakee]\n")
    assert error(path).startswith(f"{path}: [wakee]: unknown section (known: device, audio, wake,")


def test_value_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[vad]\naggressiveness = 7\n")
    assert error(path) == f"{path}: [vad] aggressiveness: must be 0..3, got 7"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[audio]\nchunk_ms = 25", "[audio] chunk_ms: must be 10, 20, ..., 100, got 25"),
        ("[audio]\nchunk_ms = 110", "[audio] chunk_ms: must be 10, 20, ..., 100, got 110"),
        ("[wake]\nthreshold = 0", "[wake] threshold: must be > 0, got 0.0"),
        ("[wake]\ntrigger_level = 0", "[wake] trigger_level: must be >= 1, got 0"),
        ("[wake]\nrefractory_seconds = -1", "[wake] refractory_seconds: must be >= 0, got -1.0"),
        ('[wake]\nengine = "snowboy"', '[wake] engine: must be one of "pocketsphinx", "vosk", '),
        ("[vad]\ntrailing_silence_seconds = 0.05", "must be 0.1..5, got 0.05"),
        ("[tts]\nrate_wpm = 500", "[tts] rate_wpm: must be 80..450, got 500"),
        ('[tts]\nengine = "piper"', '[tts] engine: must be one of "espeak-ng", got "piper"'),
        ("[buttons]\nmain_pin = 28", "[buttons] main_pin: must be 0..27, got 28"),
        ('[led]\nkind = "oled"', '[led] kind: must be one of "single", "rgb", "none"'),
        ("[camera]\nwidth = 0", "[camera] width: must be >= 1, got 0"),
        ("[notes]\nmax_notes_read = 51", "[notes] max_notes_read: must be 1..50, got 51"),
        ('[device]\nname = ""', "[device] name: must not be empty"),
    ],
)
def test_rules(tmp_path: Path, line: str, reason: str) -> None:
    assert reason in error(write(tmp_path / "c.toml", line + "\n"))


def test_every_chunk_size_from_10_to_100_ms_is_allowed() -> None:
    for chunk_ms in range(10, 101, 10):
        assert load(flags=(f"audio.chunk_ms={chunk_ms}",)).audio.chunk_ms == chunk_ms


def test_range_error_names_the_layer_that_set_the_value(tmp_path: Path) -> None:
    etc = write(tmp_path / "etc.toml", "[tts]\npitch = 10\n")
    boot = write(tmp_path / "boot.toml", "[tts]\npitch = 120\n")
    assert error(etc, boot).startswith(f"{boot}: [tts] pitch: must be 0..99")
    env = {"ZEROPIN_TTS_PITCH": "150"}
    assert error(etc, env=env).startswith("environment variable ZEROPIN_TTS_PITCH: [tts] pitch:")
    message = error(etc, flags=("tts.pitch=200",))
    assert message == "flag --set tts.pitch=200: [tts] pitch: must be 0..99, got 200"


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[tts]\nvoice = "en-us"\nrate_wpm 180\n')
    message = error(path)
    assert message.startswith(f"{path}: line 3: ")
    assert "line 3, column" in message


def test_toml_error_at_end_of_document_still_names_a_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[tts]\nvoice = "en-us')
    assert error(path).startswith(f"{path}: line 2: ")


def test_unreadable_path_is_named(tmp_path: Path) -> None:
    directory = tmp_path / "config.toml"
    directory.mkdir()
    assert error(directory).startswith(f"{directory}: cannot read: ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_file_without_read_permission_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[tts]\npitch = 10\n")
    path.chmod(0)
    assert error(path) == f"{path}: cannot read: Permission denied"


def test_non_utf8_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b'[device]\nname = "caf\xe9"\n')
    assert error(path).startswith(f"{path}: not UTF-8 text")


def test_byte_order_mark_from_a_windows_editor_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b'\xef\xbb\xbf[device]\nname = "pin"\r\n')
    assert load(path).device.name == "pin"


def test_key_outside_a_section_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'name = "x"\n')
    assert error(path) == f"{path}: name: key outside any [section]; put it under [device]"


def test_section_that_is_not_a_table_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "tts = 3\n")
    assert error(path) == f"{path}: [tts]: expected a table, got 3"


def test_nested_table_is_an_unknown_key(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[wake.extra]\nx = 1\n")
    assert error(path).startswith(f"{path}: [wake] extra: unknown key")


# -- environment and flags ----------------------------------------------------------------------


def test_environment_values_are_read_as_toml() -> None:
    env = {
        "ZEROPIN_TTS_RATE_WPM": "180",
        "ZEROPIN_WAKE_THRESHOLD": "1e-30",
        "ZEROPIN_WAKE_ENGINE": "vosk",
        "ZEROPIN_WAKE_PHRASE": '"hey pin"',
        "ZEROPIN_AUDIO_MIC": "USB Audio",
    }
    cfg = load(env=env)
    assert cfg.tts.rate_wpm == 180
    assert cfg.wake.threshold == 1e-30
    assert cfg.wake.engine == "vosk"
    assert cfg.wake.phrase == "hey pin"
    assert cfg.audio.mic == "USB Audio"


def test_environment_value_for_a_string_key_is_taken_verbatim() -> None:
    cfg = load(env={"ZEROPIN_DEVICE_NAME": "42", "ZEROPIN_CAMERA_FOLDER": "true"})
    assert cfg.device.name == "42"
    assert cfg.camera.folder == "true"


def test_environment_text_for_a_number_key_is_an_error() -> None:
    message = error(env={"ZEROPIN_TTS_RATE_WPM": "fast"})
    assert message == (
        'environment variable ZEROPIN_TTS_RATE_WPM: [tts] rate_wpm: expected an integer, got "fast"'
    )


def test_environment_cannot_smuggle_extra_toml_keys() -> None:
    assert "expected an integer" in error(env={"ZEROPIN_TTS_PITCH": "10\nvolume_percent = 1"})


def test_unknown_key_in_a_known_section_of_the_environment_is_an_error() -> None:
    message = error(env={"ZEROPIN_WAKE_ENGNIE": "vosk"})
    assert message.startswith(
        "environment variable ZEROPIN_WAKE_ENGNIE: [wake] engnie: unknown key"
    )


def test_unrelated_zeropin_variables_are_ignored() -> None:
    env = {
        "ZEROPIN_LLM_MODEL": "gpt",
        "ZEROPIN_CONFIG": "/x.toml",
        "HOME": "/root",
        "ZEROPIN_TTS_PITCH": "60",
    }
    assert load(env=env).tts.pitch == 60


def test_flags_parse_values_and_report_bad_ones() -> None:
    cfg = load(flags=("led.kind=rgb", "vad.preroll_seconds = 1", 'wake.phrase="ok pin"'))
    assert (cfg.led.kind, cfg.vad.preroll_seconds, cfg.wake.phrase) == ("rgb", 1.0, "ok pin")
    assert error(flags=("tts.rate_wpm",)) == "flag --set tts.rate_wpm: expected section.key=value"
    assert error(flags=("rate_wpm=1",)) == "flag --set rate_wpm=1: expected section.key=value"
    assert error(flags=("ttss.pitch=1",)).startswith(
        "flag --set ttss.pitch=1: [ttss]: unknown section"
    )


# -- rendering ----------------------------------------------------------------------------------


def test_render_round_trips_through_tomllib(tmp_path: Path) -> None:
    odd = 'a "quoted" \\ path\twith\ncontrol \x7f chars and ünïcode'
    cfg = load(
        flags=("wake.threshold=1e-30", "vad.preroll_seconds=0", "led.kind=none"),
        env={"ZEROPIN_DEVICE_STATE_DIR": "/tmp/z"},
    )
    cfg = dataclasses.replace(cfg, camera=CameraConfig(folder=odd, width=640))
    text = render_config(cfg)
    assert tomllib.loads(text)["camera"]["folder"] == odd
    assert load(write(tmp_path / "rendered.toml", text)) == cfg
    assert render_config(Config()).count("\n[") == len(dataclasses.fields(Config))


def test_render_comments_each_key_with_its_source(tmp_path: Path) -> None:
    etc = write(tmp_path / "etc.toml", "[tts]\npitch = 10\n")
    cfg, sources = load_config_with_sources(
        paths=[etc], env={"ZEROPIN_TTS_VOICE": "en-gb"}, overrides=["tts.rate_wpm=170"]
    )
    lines = render_config(cfg, sources).splitlines()
    assert f"pitch = 10  # {etc}" in lines
    assert 'voice = "en-gb"  # env ZEROPIN_TTS_VOICE' in lines
    assert "rate_wpm = 170  # flag --set" in lines
    assert "volume_percent = 80  # default" in lines
    assert load(write(tmp_path / "rendered.toml", render_config(cfg, sources))) == cfg


@dataclasses.dataclass(frozen=True)
class _Secrets:
    api_key: str = "sk-live-123"
    Auth_Token: str = "tok"
    client_secret: str = ""
    db_password: str = "hunter2"
    endpoint: str = "https://example.invalid"


@dataclasses.dataclass(frozen=True)
class _ConfigWithSecrets:
    llm: _Secrets = dataclasses.field(default_factory=_Secrets)


def test_render_masks_secret_looking_keys() -> None:
    cfg: Any = _ConfigWithSecrets()
    text = render_config(cfg, {"llm.api_key": "env ZEROPIN_LLM_API_KEY"})
    assert "sk-live-123" not in text and 'tok"' not in text and "hunter2" not in text
    assert tomllib.loads(text)["llm"] == {
        "api_key": "***",
        "Auth_Token": "***",
        "client_secret": "",
        "db_password": "***",
        "endpoint": "https://example.invalid",
    }
    assert 'api_key = "***"  # env ZEROPIN_LLM_API_KEY' in text.splitlines()


# -- paths --------------------------------------------------------------------------------------


def test_explicit_state_dir_is_used_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolved_state_dir(load(flags=(f"device.state_dir={tmp_path}",))) == tmp_path
    assert resolved_state_dir(load(flags=("device.state_dir=~/zp",))) == tmp_path / "home" / "zp"


def test_empty_state_dir_prefers_a_writable_system_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "var-lib-zeropin"
    system.mkdir()
    monkeypatch.setattr(config, "SYSTEM_STATE_DIR", system)
    assert resolved_state_dir(Config()) == system


def test_empty_state_dir_falls_back_to_home_when_the_system_one_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "SYSTEM_STATE_DIR", tmp_path / "absent")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolved_state_dir(Config()) == tmp_path / ".local" / "share" / "zeropin"


def test_empty_state_dir_falls_back_to_home_when_the_system_one_is_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "var-lib-zeropin"
    system.mkdir()
    monkeypatch.setattr(config, "SYSTEM_STATE_DIR", system)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # root may write anywhere, so stand in for a read-only directory by denying access to it
    real_access = os.access
    monkeypatch.setattr(
        config.os, "access", lambda path, mode: path != system and real_access(path, mode)
    )
    assert resolved_state_dir(Config()) == tmp_path / "home" / ".local" / "share" / "zeropin"


def test_vosk_model_defaults_to_the_state_dir(tmp_path: Path) -> None:
    cfg = load(flags=(f"device.state_dir={tmp_path}",))
    assert resolved_vosk_model(cfg) == tmp_path / "models" / "vosk-model-small-en-us-0.15"
    cfg = load(flags=(f"device.state_dir={tmp_path}", "asr.vosk_model=/opt/vosk"))
    assert resolved_vosk_model(cfg) == Path("/opt/vosk")
