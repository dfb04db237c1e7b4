"""Tests for device.config: layering, validation messages, rendering and the state directory."""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from device.config import sources
from device.config.checks import rules
from device.config.render import render_config
from device.config.schema import CameraConfig, Config, LlmConfig, ProviderConfig, TtsConfig
from device.config.sources import load_config, load_config_with_sources
from device.config.text import is_secret
from device.errors import ConfigError
from device.system import paths
from device.system.paths import resolved_state_dir, resolved_vosk_model


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def load(
    *paths: Path,
    env: dict[str, str] | None = None,
    flags: tuple[str, ...] = (),
    secrets: tuple[Path, ...] = (),
) -> Config:
    return load_config(paths=list(paths), env=env or {}, overrides=flags, secrets_paths=secrets)


def error(
    *paths: Path,
    env: dict[str, str] | None = None,
    flags: tuple[str, ...] = (),
    secrets: tuple[Path, ...] = (),
) -> str:
    with pytest.raises(ConfigError) as caught:
        load(*paths, env=env, flags=flags, secrets=secrets)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- defaults and layering ----------------------------------------------------------------------


def test_defaults_load_without_files_or_environment() -> None:
    cfg, sources = load_config_with_sources(paths=[], env={}, secrets_paths=[])
    assert cfg == Config()
    assert cfg.tts.rate_wpm == 165
    assert (cfg.wake.engine, cfg.wake.threshold) == ("tflite", 0.0)  # 0: the model card's
    assert cfg.vad.aggressiveness == 2
    assert set(sources.values()) == {"default"}
    assert "led.privacy_pin" in sources


def test_missing_files_are_skipped(tmp_path: Path) -> None:
    assert load(tmp_path / "absent.toml", tmp_path / "nodir" / "x.toml") == Config()


def test_default_paths_are_etc_then_boot() -> None:
    etc, boot = sources.DEFAULT_PATHS
    assert (etc, boot) == (Path("/etc/zeropin/config.toml"), Path("/boot/firmware/zeropin.toml"))


def test_layers_apply_in_order_and_report_their_source(tmp_path: Path) -> None:
    etc = write(
        tmp_path / "etc.toml",
        '[tts]\nrate_wpm = 100\npitch = 10\nvolume_percent = 20\nvoice = "en-gb"\n',
    )
    boot = write(tmp_path / "boot.toml", "[tts]\nrate_wpm = 110\npitch = 11\nvolume_percent = 21\n")
    env = {"ZEROPIN_TTS_RATE_WPM": "120", "ZEROPIN_TTS_PITCH": "12"}
    cfg, sources = load_config_with_sources(
        paths=[etc, boot], env=env, overrides=["tts.rate_wpm=130"], secrets_paths=[]
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
        ("[wake]\nthreshold = -1", "[wake] threshold: must be >= 0, got -1.0"),
        ("[wake]\ntrigger_level = -1", "[wake] trigger_level: must be >= 0, got -1"),
        ("[wake]\nsmoothing = -2", "[wake] smoothing: must be >= 0, got -2"),
        ("[wake]\nrefractory_seconds = -1", "[wake] refractory_seconds: must be 0..60, got -1.0"),
        ('[wake]\nengine = "snowboy"', '[wake] engine: must be one of "pocketsphinx", "vosk", '),
        ("[vad]\ntrailing_silence_seconds = 0.05", "must be 0.1..5, got 0.05"),
        ("[asr]\nvosk_cache_mb = -1", "[asr] vosk_cache_mb: must be >= 0, got -1"),
        ("[tts]\nrate_wpm = 500", "[tts] rate_wpm: must be 80..450, got 500"),
        (
            '[tts]\nengine = "piper"',
            '[tts] engine: must be one of "espeak-ng", "cloud", got "piper"',
        ),
        ("[buttons]\nmain_pin = 28", "[buttons] main_pin: must be 0..27, got 28"),
        ('[led]\nkind = "oled"', '[led] kind: must be one of "single", "rgb", "none"'),
        ("[camera]\nwidth = 0", "[camera] width: must be >= 1, got 0"),
        ("[notes]\nmax_notes_read = 51", "[notes] max_notes_read: must be 1..50, got 51"),
        ('[device]\nname = ""', "[device] name: must not be empty"),
    ],
)
def test_rules(tmp_path: Path, line: str, reason: str) -> None:
    assert reason in error(write(tmp_path / "c.toml", line + "\n"))


def test_a_rule_travels_with_its_field_and_a_field_without_one_takes_any_value() -> None:
    tts, providers = rules(TtsConfig), rules(ProviderConfig)
    assert tts["rate_wpm"](500) == "must be 80..450, got 500"
    assert "voice" not in tts
    assert providers["preset"]("") is None  # empty: NAME's preset, if any
    reason = providers["preset"]("acme") or ""
    assert reason.startswith('must be one of "openai", ') and reason.endswith(', got "acme"')


def test_every_default_passes_its_rule() -> None:
    for section in [*(type(part) for part in vars(Config()).values()), ProviderConfig]:
        if dataclasses.is_dataclass(section):
            defaults = section()
            for name, rule in rules(section).items():
                value = getattr(defaults, name)
                assert value is None or rule(value) is None, f"{section.__name__}.{name}"


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
        paths=[etc],
        env={"ZEROPIN_TTS_VOICE": "en-gb"},
        overrides=["tts.rate_wpm=170"],
        secrets_paths=[],
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


# -- [llm] --------------------------------------------------------------------------------------


def test_llm_defaults() -> None:
    llm = load().llm
    assert llm == LlmConfig()
    assert (llm.chain, llm.model, llm.stream, llm.max_tokens) == ((), "", True, 300)
    assert (llm.history_turns, llm.history_minutes, llm.log_prompt_text) == (6, 10.0, False)
    assert (llm.image_max_side, llm.image_quality) == (768, 80)
    assert (llm.breaker_failures, llm.breaker_cooldown_seconds) == (3, 60.0)
    assert (llm.connect_timeout_seconds, llm.first_token_timeout_seconds) == (3.0, 8.0)
    assert (llm.deadline_seconds, llm.max_retries) == (30.0, 1)


def test_chain_is_a_toml_array_of_names(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[llm]\nchain = ["openai", "groq"]\n')
    assert load(path).llm.chain == ("openai", "groq")


@pytest.mark.parametrize(
    ("raw", "chain"),
    [
        ("groq", ("groq",)),
        ("gemini,groq", ("gemini", "groq")),
        (" gemini , groq ", ("gemini", "groq")),
        ('["gemini", "groq"]', ("gemini", "groq")),
        ('"groq"', ("groq",)),
        ("", ()),
    ],
)
def test_chain_from_flags_and_environment_may_be_comma_separated(
    raw: str, chain: tuple[str, ...]
) -> None:
    assert load(flags=(f"llm.chain={raw}",)).llm.chain == chain
    assert load(env={"ZEROPIN_LLM_CHAIN": raw}).llm.chain == chain


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('"groq"', 'expected an array of strings, got "groq"'),
        ('["groq", 3]', 'expected an array of strings, got ["groq", 3]'),
        ('["groq", ""]', 'expected an array of non-empty strings, got ["groq", ""]'),
        ('["Groq"]', '"Groq" is not a provider name (lowercase letters, digits, - and _)'),
        ('["groq", "lan", "groq"]', 'names "groq" twice'),
    ],
)
def test_bad_chain_is_named(tmp_path: Path, value: str, reason: str) -> None:
    path = write(tmp_path / "c.toml", f"[llm]\nchain = {value}\n")
    assert error(path) == f"{path}: [llm] chain: {reason}"


def test_chain_naming_neither_a_table_nor_a_preset_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[llm]\nchain = ["groq", "grok"]\n')
    assert error(path) == (
        f'{path}: [llm] chain: "grok" is neither a [providers.grok] table nor a preset '
        "(openai, dashscope, openrouter, groq, gemini, ollama, llamacpp, vllm)"
    )
    message = error(env={"ZEROPIN_LLM_CHAIN": "lan"})
    assert message.startswith('environment variable ZEROPIN_LLM_CHAIN: [llm] chain: "lan" is')
    assert error(flags=("llm.chain=lan",)).startswith(
        'flag --set llm.chain=lan: [llm] chain: "lan"'
    )


def test_chain_may_name_a_table_in_another_file_or_a_bare_preset(tmp_path: Path) -> None:
    etc = write(tmp_path / "etc.toml", '[llm]\nchain = ["lan", "groq"]\n')
    boot = write(tmp_path / "boot.toml", '[providers.lan]\nbase_url = "http://10.0.0.2/v1"\n')
    cfg = load(etc, boot)
    assert cfg.llm.chain == ("lan", "groq")
    assert cfg.provider("groq") is None  # a bare preset needs no table


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("max_tokens = 0", "max_tokens: must be 1..4096, got 0"),
        ("max_tokens = 4097", "max_tokens: must be 1..4096, got 4097"),
        ("history_turns = 51", "history_turns: must be 0..50, got 51"),
        ("history_minutes = -1", "history_minutes: must be 0..1440, got -1.0"),
        ("history_minutes = 1441", "history_minutes: must be 0..1440, got 1441.0"),
        ("image_max_side = 127", "image_max_side: must be 128..2048, got 127"),
        ("image_max_side = 2049", "image_max_side: must be 128..2048, got 2049"),
        ("image_quality = 29", "image_quality: must be 30..95, got 29"),
        ("image_quality = 96", "image_quality: must be 30..95, got 96"),
        ("breaker_failures = 0", "breaker_failures: must be >= 1, got 0"),
        ("breaker_cooldown_seconds = -1", "breaker_cooldown_seconds: must be 0..86400, got -1.0"),
        ("connect_timeout_seconds = 0", "connect_timeout_seconds: must be > 0 and <= 600, got 0.0"),
        (
            "first_token_timeout_seconds = 0",
            "first_token_timeout_seconds: must be > 0 and <= 600, got 0.0",
        ),
        ("deadline_seconds = -5", "deadline_seconds: must be > 0 and <= 600, got -5.0"),
        # A typo that passed once, then failed inside the socket library mid-request:
        ("deadline_seconds = 1e308", "deadline_seconds: must be > 0 and <= 600, got 1e+308"),
        (
            "connect_timeout_seconds = 1e308",
            "connect_timeout_seconds: must be > 0 and <= 600, got 1e+308",
        ),
        ("max_retries = 6", "max_retries: must be 0..5, got 6"),
        ("max_retries = -1", "max_retries: must be 0..5, got -1"),
        ('stream = "yes"', 'stream: expected true or false, got "yes"'),
        ("log_prompt_text = 1", "log_prompt_text: expected true or false, got 1"),
    ],
)
def test_llm_rules(tmp_path: Path, line: str, reason: str) -> None:
    path = write(tmp_path / "c.toml", f"[llm]\n{line}\n")
    assert error(path) == f"{path}: [llm] {reason}"


def test_llm_edges_are_allowed() -> None:
    flags = (
        "llm.max_tokens=4096",
        "llm.history_turns=0",
        "llm.history_minutes=0",
        "llm.image_max_side=128",
        "llm.image_quality=95",
        "llm.breaker_cooldown_seconds=0",
        "llm.max_retries=0",
    )
    llm = load(flags=flags).llm
    assert (llm.max_tokens, llm.history_turns, llm.image_quality, llm.max_retries) == (
        4096,
        0,
        95,
        0,
    )


def test_llm_model_comes_through_the_environment() -> None:
    assert load(env={"ZEROPIN_LLM_MODEL": "qwen2.5:7b"}).llm.model == "qwen2.5:7b"


# -- [providers.NAME] ---------------------------------------------------------------------------

FAKE_KEY = "sk-test-DO-NOT-LEAK-1234"  # distinctive, so a scan for it cannot miss
LAN_TABLE = '[providers.lan]\npreset = "ollama"\nbase_url = "http://192.168.1.20:11434/v1"\n'


def test_provider_tables_keep_their_order_and_merge_across_layers(tmp_path: Path) -> None:
    etc = write(
        tmp_path / "etc.toml",
        '[providers.zeta]\nbase_url = "http://z/v1"\nmodel = "m1"\n\n[providers.alpha]\n',
    )
    boot = write(tmp_path / "boot.toml", '[providers.mid]\n[providers.zeta]\nmodel = "m2"\n')
    cfg, sources = load_config_with_sources(
        [etc, boot], {}, ["providers.alpha.model=a"], secrets_paths=[]
    )
    assert [name for name, _ in cfg.providers] == ["zeta", "alpha", "mid"]
    assert cfg.provider("zeta") == ProviderConfig(base_url="http://z/v1", model="m2")
    assert cfg.provider("alpha") == ProviderConfig(model="a")
    assert cfg.provider("mid") == ProviderConfig()  # an empty table still counts
    assert sources["providers.zeta.base_url"] == str(etc)
    assert sources["providers.zeta.model"] == str(boot)
    assert sources["providers.alpha.model"] == "flag --set"
    hash(cfg)  # frozen all the way down


def test_provider_table_fields_and_inherited_timeouts(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        LAN_TABLE + 'vision_model = "llava"\napi_key_env = "LAN_KEY"\ndeadline_seconds = 60\n'
        "max_retries = 0\n",
    )
    table = load(path).provider("lan")
    assert table is not None
    assert (table.preset, table.base_url, table.vision_model) == (
        "ollama",
        "http://192.168.1.20:11434/v1",
        "llava",
    )
    assert (table.api_key_env, table.deadline_seconds, table.max_retries) == ("LAN_KEY", 60.0, 0)
    assert isinstance(table.deadline_seconds, float)
    assert table.connect_timeout_seconds is None  # not set: [llm] applies
    assert table.first_token_timeout_seconds is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            'base_url = "api.groq.com"',
            'base_url: must start with http:// or https://, got "api.groq.com"',
        ),
        ('base_url = "https://"', 'base_url: has no host name, got "https://"'),
        ("base_url = 3", "base_url: expected a string, got 3"),
        ('preset = "qwen"', 'preset: must be one of "openai", "dashscope", "openrouter", "groq",'),
        ("connect_timeout_seconds = 0", "connect_timeout_seconds: must be > 0 and <= 600, got 0.0"),
        (
            "first_token_timeout_seconds = -1",
            "first_token_timeout_seconds: must be > 0 and <= 600, got -1.0",
        ),
        ("deadline_seconds = 0", "deadline_seconds: must be > 0 and <= 600, got 0.0"),
        ("max_retries = 6", "max_retries: must be 0..5, got 6"),
        ("max_retries = 1.5", "max_retries: expected an integer, got 1.5"),
        (
            'api_key_env = "gsk live 123"',
            "api_key_env: must be the NAME of an environment variable, like GROQ_API_KEY "
            "(value not shown)",
        ),
    ],
)
def test_provider_rules_name_the_file_table_and_key(tmp_path: Path, line: str, reason: str) -> None:
    path = write(tmp_path / "c.toml", f"[providers.groq]\n{line}\n")
    assert error(path).startswith(f"{path}: [providers.groq] {reason}")


def test_unknown_provider_key_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[providers.lan]\nurl = "http://x/v1"\n')
    assert error(path) == (
        f"{path}: [providers.lan] url: unknown key (known: preset, base_url, model, vision_model, "
        "api_key, api_key_env, transcription_model, speech_model, speech_voice, "
        "connect_timeout_seconds, first_token_timeout_seconds, deadline_seconds, max_retries)"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('[providers."My Box"]\nmodel = "m"', '[providers] "My Box": a provider name holds only'),
        ("[providers]\ngroq = 3", "[providers] groq: expected a table, got a number (not shown);"),
        ("providers = 3", "[providers]: expected a table, got 3"),
        ('base_url = "http://x"', "base_url: key outside any [section]; put it under [providers."),
        ("[providers.lan.extra]\nx = 1", "[providers.lan] extra: unknown key"),
    ],
)
def test_provider_table_structure_errors(tmp_path: Path, text: str, reason: str) -> None:
    path = write(tmp_path / "c.toml", text + "\n")
    assert error(path).startswith(f"{path}: {reason}")


def test_unknown_section_mentions_providers(tmp_path: Path) -> None:
    assert error(write(tmp_path / "c.toml", "[provider.lan]\n")).endswith(
        "notes, recorder, llm, system, web, providers, mcp)"
    )


def test_flags_can_set_provider_keys_but_not_api_keys() -> None:
    cfg = load(flags=("providers.lan.base_url=http://10.0.0.5:8000/v1", "providers.lan.model=m"))
    assert cfg.provider("lan") == ProviderConfig(base_url="http://10.0.0.5:8000/v1", model="m")
    message = error(flags=(f"providers.lan.api_key={FAKE_KEY}",))
    assert message == (
        "flag --set providers.lan.api_key=***: any user can read a command line; put the key "
        "in /etc/zeropin/secrets.toml or name its environment variable in api_key_env"
    )
    assert error(flags=("providers.base_url=http://x",)).startswith(
        "flag --set providers.base_url=http://x: expected providers.NAME.key=value"
    )
    assert error(flags=("providers.lan.url=http://x",)).startswith(
        "flag --set providers.lan.url=http://x: [providers.lan] url: unknown key"
    )


def test_provider_tables_have_no_environment_variables() -> None:
    assert load(env={"ZEROPIN_PROVIDERS_LAN_MODEL": "m"}).providers == ()


# -- API keys and the secrets file --------------------------------------------------------------


def test_secrets_file_supplies_api_keys(tmp_path: Path) -> None:
    config_file = write(tmp_path / "c.toml", LAN_TABLE + '\n[llm]\nchain = ["lan", "groq"]\n')
    secrets = write(
        tmp_path / "secrets.toml",
        f'[providers.groq]\napi_key = "{FAKE_KEY}"\n\n[providers.lan]\napi_key = "lan-key"\n',
    )
    cfg, sources = load_config_with_sources([config_file], {}, (), secrets_paths=[secrets])
    groq, lan = cfg.provider("groq"), cfg.provider("lan")
    assert groq is not None and lan is not None
    assert groq.api_key.reveal() == FAKE_KEY
    assert (lan.api_key.reveal(), lan.base_url) == ("lan-key", "http://192.168.1.20:11434/v1")
    assert sources["providers.groq.api_key"] == str(secrets)
    assert [name for name, _ in cfg.providers] == ["lan", "groq"]


def test_secrets_file_wins_over_a_config_file(tmp_path: Path) -> None:
    config_file = write(tmp_path / "c.toml", '[providers.groq]\napi_key = "old"\n')
    secrets = write(tmp_path / "s.toml", '[providers.groq]\napi_key = "new"\n')
    table = load(config_file, secrets=(secrets,)).provider("groq")
    assert table is not None and table.api_key.reveal() == "new"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o700 | 0o020])
def test_secrets_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = write(tmp_path / "secrets.toml", f'[providers.groq]\napi_key = "{FAKE_KEY}"\n', mode)
    assert error(secrets=(path,)) == (
        f"{path}: mode {mode:04o} lets other users read API keys; run: chmod 600 {path}"
    )


def test_secrets_file_of_mode_0400_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "secrets.toml", f'[providers.groq]\napi_key = "{FAKE_KEY}"\n', 0o400)
    table = load(secrets=(path,)).provider("groq")
    assert table is not None and table.api_key.reveal() == FAKE_KEY


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[providers.groq]\nbase_url = "http://x/v1"', "[providers.groq] base_url"),
        ("[tts]\npitch = 3", "[tts] pitch"),
        ('[llm]\nchain = ["groq"]', "[llm] chain"),
    ],
)
def test_secrets_file_holds_only_api_keys(tmp_path: Path, text: str, named: str) -> None:
    path = write(tmp_path / "secrets.toml", text + "\n")
    assert error(secrets=(path,)) == (
        f"{path}: {named}: not allowed in a secrets file; it holds only [providers.NAME] api_key, "
        "[mcp.servers.NAME] token and [web] token"
    )


def test_secrets_file_errors_never_show_a_key(tmp_path: Path) -> None:
    for text in (
        f'api_key = "{FAKE_KEY}"',
        f'[providers.groq]\napikey = "{FAKE_KEY}"',
        f'[providers.groq]\napi_key = " {FAKE_KEY}\\n"',
        f"[providers]\ngroq = {FAKE_KEY!r}",
        f'[providers.groq]\napi_key = ["{FAKE_KEY}"]',
    ):
        path = write(tmp_path / "secrets.toml", text + "\n")
        message = error(secrets=(path,))
        assert message.startswith(f"{path}: ")
        assert FAKE_KEY not in message, message


def test_api_key_that_is_not_a_clean_string_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", f'[providers.groq]\napi_key = "{FAKE_KEY} "\n')
    assert error(secrets=(path,)) == (
        f"{path}: [providers.groq] api_key: must hold the key alone: no spaces, line breaks or "
        "non-ASCII (value not shown)"
    )
    path = write(tmp_path / "s.toml", "[providers.groq]\napi_key = 1234567\n")
    assert error(secrets=(path,)) == (
        f"{path}: [providers.groq] api_key: expected a string, got a number (not shown)"
    )


def test_missing_secrets_files_are_skipped(tmp_path: Path) -> None:
    assert load(secrets=(tmp_path / "absent.toml",)) == Config()


def test_default_secrets_paths_expand_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc, home = sources.SECRETS_PATHS
    assert (etc, home) == (
        Path("/etc/zeropin/secrets.toml"),
        Path("~/.config/zeropin/secrets.toml"),
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sources, "SECRETS_PATHS", (tmp_path / "none.toml", Path("~/s.toml")))
    write(tmp_path / "s.toml", '[providers.groq]\napi_key = "from-home"\n')
    table = load_config(paths=[], env={}).provider("groq")
    assert table is not None and table.api_key.reveal() == "from-home"


def test_api_key_in_a_world_readable_config_file_is_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    boot = write(
        tmp_path / "zeropin.toml",
        f'[providers.groq]\napi_key = "{FAKE_KEY}"\n[providers.dashscope]\napi_key = "k2"\n',
        0o755,
    )
    with caplog.at_level(logging.DEBUG, logger="device.config.sources"):
        table = load(boot).provider("groq")
    assert table is not None and table.api_key.reveal() == FAKE_KEY
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].getMessage() == (
        f"{boot} holds an API key or token that other users can read (mode 0755); "
        "move it to /etc/zeropin/secrets.toml"
    )
    assert FAKE_KEY not in caplog.text


def test_no_warning_for_a_private_config_file_or_an_empty_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    private = write(tmp_path / "a.toml", f'[providers.groq]\napi_key = "{FAKE_KEY}"\n', 0o600)
    empty = write(tmp_path / "b.toml", '[providers.lan]\napi_key = ""\n', 0o644)
    with caplog.at_level(logging.WARNING):
        load(private, empty)
    assert not caplog.records


def test_keys_never_show_in_repr_render_or_errors(tmp_path: Path) -> None:
    secrets = write(tmp_path / "s.toml", f'[providers.groq]\napi_key = "{FAKE_KEY}"\n')
    config_file = write(tmp_path / "c.toml", '[llm]\nchain = ["groq"]\n')
    cfg, sources = load_config_with_sources([config_file], {}, (), secrets_paths=[secrets])
    table = cfg.provider("groq")
    assert table is not None and table.api_key.reveal() == FAKE_KEY
    for text in (repr(cfg), str(cfg), repr(table), render_config(cfg), render_config(cfg, sources)):
        assert FAKE_KEY not in text
    assert 'api_key = "***"' in render_config(cfg).splitlines()
    # a later layer failing must not echo the key either
    bad = write(tmp_path / "bad.toml", "[providers.groq]\nmodel = 3\n")
    message = error(config_file, bad, secrets=(secrets,))
    assert FAKE_KEY not in message


# -- rendering the cloud settings ---------------------------------------------------------------


def test_render_shows_llm_and_provider_tables_and_round_trips(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[llm]\nchain = ["lan", "groq"]\nmax_tokens = 200\n\n' + LAN_TABLE + "max_retries = 0\n"
        '\n[providers.groq]\napi_key_env = "MY_GROQ_KEY"\n',
    )
    cfg, sources = load_config_with_sources([path], {}, (), secrets_paths=[])
    text = render_config(cfg, sources)
    lines = text.splitlines()
    assert f'chain = ["lan", "groq"]  # {path}' in lines
    assert f"max_tokens = 200  # {path}" in lines
    assert "[providers.lan]" in lines and "[providers.groq]" in lines
    assert f'api_key_env = "MY_GROQ_KEY"  # {path}' in lines  # a variable's name, not masked
    assert 'api_key = ""  # default' in lines
    assert "first_token_timeout_seconds = 8.0  # default" in lines  # [llm]'s
    assert lines.count("first_token_timeout_seconds = 8.0  # default") == 1  # unset: left out
    document = tomllib.loads(text)
    assert document["providers"]["lan"]["max_retries"] == 0
    assert "connect_timeout_seconds" not in document["providers"]["lan"]
    assert load(write(tmp_path / "rendered.toml", text)) == cfg


def test_render_masks_only_keys_whose_last_word_is_secret() -> None:
    assert [is_secret(name) for name in ("api_key", "apikey", "Auth_Token")] == [True] * 3
    names = ("api_key_env", "max_tokens", "token_count", "keyboard", "secret_word_list")
    assert [is_secret(name) for name in names] == [False] * len(names)
    text = render_config(load(flags=("llm.max_tokens=123",)))
    assert "max_tokens = 123" in text.splitlines()


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
    monkeypatch.setattr(paths, "SYSTEM_STATE_DIR", system)
    assert resolved_state_dir(Config()) == system


def test_empty_state_dir_falls_back_to_home_when_the_system_one_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "SYSTEM_STATE_DIR", tmp_path / "absent")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolved_state_dir(Config()) == tmp_path / ".local" / "share" / "zeropin"


def test_empty_state_dir_falls_back_to_home_when_the_system_one_is_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "var-lib-zeropin"
    system.mkdir()
    monkeypatch.setattr(paths, "SYSTEM_STATE_DIR", system)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # root may write anywhere, so stand in for a read-only directory by denying access to it
    real_access = os.access
    monkeypatch.setattr(
        paths.os, "access", lambda path, mode: path != system and real_access(path, mode)
    )
    assert resolved_state_dir(Config()) == tmp_path / "home" / ".local" / "share" / "zeropin"


def test_vosk_model_defaults_to_the_state_dir(tmp_path: Path) -> None:
    cfg = load(flags=(f"device.state_dir={tmp_path}",))
    assert resolved_vosk_model(cfg) == tmp_path / "models" / "vosk-model-small-en-us-0.15"
    cfg = load(flags=(f"device.state_dir={tmp_path}", "asr.vosk_model=/opt/vosk"))
    assert resolved_vosk_model(cfg) == Path("/opt/vosk")


def test_a_chinese_device_listens_for_the_chinese_wake_phrase_unless_told_another(
    tmp_path: Path,
) -> None:
    assert load().device.language == "en" and load().wake.phrase == "hey zero"
    chinese = write(tmp_path / "zh.toml", '[device]\nlanguage = "zh"\n')
    cfg = load(chinese)
    assert (cfg.device.language, cfg.wake.phrase) == ("zh", "你好零")
    own = write(tmp_path / "own.toml", '[wake]\nphrase = "hey zero"\n')
    assert load(chinese, own).wake.phrase == "hey zero"  # set by the owner: kept
    message = error(write(tmp_path / "bad.toml", '[device]\nlanguage = "cn"\n'))
    assert message.startswith(f"{tmp_path / 'bad.toml'}: [device] language: must be one of")
