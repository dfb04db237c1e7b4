"""Tests for device.cloud.providers: presets, resolving the chain, and that keys never leak."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from device.cloud.providers import Provider, is_lan_url, resolve_providers
from device.config.presets import PRESETS
from device.config.render import render_config
from device.config.schema import Config, LlmConfig, ProviderConfig, Secret
from device.config.sources import load_config
from device.errors import ConfigError

FAKE_KEY = "sk-test-DO-NOT-LEAK-1234"  # distinctive, so a scan for it cannot miss


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def chain(
    tmp_path: Path,
    text: str = "",
    env: dict[str, str] | None = None,
    secrets: str = "",
    flags: tuple[str, ...] = (),
) -> list[Provider]:
    """Load a config file (and a secrets file) the daemon's way, then resolve the chain."""
    config_file = write(tmp_path / "config.toml", text)
    secrets_file = write(tmp_path / "secrets.toml", secrets)
    cfg = load_config([config_file], env or {}, flags, secrets_paths=[secrets_file])
    return resolve_providers(cfg, env or {})


def chain_error(tmp_path: Path, text: str = "", env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        chain(tmp_path, text, env)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- presets ------------------------------------------------------------------------------------


def test_presets_cover_the_documented_endpoints() -> None:
    assert list(PRESETS) == [
        "openai",
        "dashscope",
        "openrouter",
        "groq",
        "gemini",
        "ollama",
        "llamacpp",
        "vllm",
    ]
    urls = {name: preset.base_url for name, preset in PRESETS.items()}
    assert urls == {
        "openai": "https://api.openai.com/v1",
        "dashscope": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        "openrouter": "https://openrouter.ai/api/v1",
        "groq": "https://api.groq.com/openai/v1",
        "gemini": "https://generativelanguage.googleapis.com/v1beta/openai",
        "ollama": "http://localhost:11434/v1",
        "llamacpp": "http://localhost:8080/v1",
        "vllm": "http://localhost:8000/v1",
    }
    keys = {name: preset.api_key_env for name, preset in PRESETS.items()}
    assert keys == {
        "openai": "OPENAI_API_KEY",
        "dashscope": "DASHSCOPE_API_KEY",
        "openrouter": "OPENROUTER_API_KEY",
        "groq": "GROQ_API_KEY",
        "gemini": "GEMINI_API_KEY",
        "ollama": "",
        "llamacpp": "",
        "vllm": "",
    }
    openai = PRESETS["openai"]
    assert (openai.model, openai.vision_model) == ("gpt-4o-mini", "gpt-4o-mini")
    assert (openai.transcription_model, openai.speech_model, openai.speech_voice) == (
        "whisper-1",
        "tts-1",
        "alloy",
    )
    assert (PRESETS["dashscope"].model, PRESETS["dashscope"].vision_model) == (
        "qwen-plus",
        "qwen-vl-plus",
    )
    assert PRESETS["groq"].transcription_model == "whisper-large-v3-turbo"
    assert PRESETS["llamacpp"].model == "local"
    assert PRESETS["vllm"].model == ""  # the user names the model the server runs


def test_every_preset_is_usable_as_a_bare_name(tmp_path: Path) -> None:
    env = {preset.api_key_env: FAKE_KEY for preset in PRESETS.values() if preset.api_key_env}
    for name, preset in PRESETS.items():
        if not preset.model:
            continue
        (provider,) = chain(tmp_path, f'[llm]\nchain = ["{name}"]\n', env)
        assert (provider.name, provider.base_url, provider.model) == (
            name,
            preset.base_url,
            preset.model,
        )
        assert provider.api_key.reveal() == (FAKE_KEY if preset.api_key_env else "")
        assert not provider.base_url.endswith("/")


# -- resolving the chain ------------------------------------------------------------------------


def test_chain_keeps_its_order_and_fills_in_from_presets_and_llm(tmp_path: Path) -> None:
    text = """
[llm]
chain = ["groq", "lan", "openai"]
connect_timeout_seconds = 2
first_token_timeout_seconds = 5
deadline_seconds = 20
max_retries = 2

[providers.lan]
preset = "ollama"
base_url = "http://192.168.1.20:11434/v1/"
model = "qwen2.5:3b"
vision_model = "llava"
connect_timeout_seconds = 1
max_retries = 0
"""
    env = {"GROQ_API_KEY": "gsk", "OPENAI_API_KEY": FAKE_KEY}
    groq, lan, openai = chain(tmp_path, text, env)
    assert groq == Provider(
        name="groq",
        base_url="https://api.groq.com/openai/v1",
        model=PRESETS["groq"].model,
        vision_model=PRESETS["groq"].vision_model,
        api_key=Secret("gsk"),
        connect_timeout_seconds=2.0,
        first_token_timeout_seconds=5.0,
        deadline_seconds=20.0,
        max_retries=2,
        transcription_model="whisper-large-v3-turbo",
    )
    assert lan == Provider(
        name="lan",
        base_url="http://192.168.1.20:11434/v1",  # trailing slash dropped
        model="qwen2.5:3b",
        vision_model="llava",
        connect_timeout_seconds=1.0,
        first_token_timeout_seconds=5.0,
        deadline_seconds=20.0,
        max_retries=0,
    )
    assert (openai.speech_model, openai.speech_voice, openai.api_key.reveal()) == (
        "tts-1",
        "alloy",
        FAKE_KEY,
    )


def test_table_named_after_a_preset_overrides_only_what_it_sets(tmp_path: Path) -> None:
    text = (
        '[llm]\nchain = ["groq"]\n[providers.groq]\nmodel = "openai/gpt-oss-120b"\n'
        'vision_model = "meta-llama/llama-4-scout-17b-16e-instruct"\n'
    )
    (groq,) = chain(tmp_path, text, {"GROQ_API_KEY": "gsk"})
    assert groq.base_url == "https://api.groq.com/openai/v1"
    assert groq.model == "openai/gpt-oss-120b"
    assert groq.vision_model == "meta-llama/llama-4-scout-17b-16e-instruct"
    assert groq.transcription_model == "whisper-large-v3-turbo"


def test_table_can_use_a_preset_under_its_own_name(tmp_path: Path) -> None:
    text = (
        '[llm]\nchain = ["work"]\n[providers.work]\npreset = "openai"\napi_key_env = "WORK_KEY"\n'
    )
    (work,) = chain(tmp_path, text, {"WORK_KEY": "k-work", "OPENAI_API_KEY": "k-home"})
    assert (work.name, work.base_url, work.model) == (
        "work",
        "https://api.openai.com/v1",
        "gpt-4o-mini",
    )
    assert work.api_key.reveal() == "k-work"


def test_key_in_a_table_or_secrets_file_wins_over_the_environment(tmp_path: Path) -> None:
    secrets = f'[providers.groq]\napi_key = "{FAKE_KEY}"\n'
    (groq,) = chain(tmp_path, '[llm]\nchain = ["groq"]\n', {"GROQ_API_KEY": "env"}, secrets)
    assert groq.api_key.reveal() == FAKE_KEY


def test_key_from_the_environment_loses_surrounding_whitespace(tmp_path: Path) -> None:
    (groq,) = chain(tmp_path, '[llm]\nchain = ["groq"]\n', {"GROQ_API_KEY": f" {FAKE_KEY}\n"})
    assert groq.api_key.reveal() == FAKE_KEY


def test_key_with_inner_spaces_in_the_environment_is_refused_unseen(tmp_path: Path) -> None:
    message = chain_error(tmp_path, '[llm]\nchain = ["groq"]\n', {"GROQ_API_KEY": f"{FAKE_KEY} x"})
    assert message == (
        "[providers.groq]: environment variable GROQ_API_KEY holds spaces, line breaks or "
        "non-ASCII characters; it must hold the key alone (value not shown)"
    )


def test_cloud_preset_without_a_key_is_an_error(tmp_path: Path) -> None:
    assert chain_error(tmp_path, '[llm]\nchain = ["groq"]\n') == (
        "[providers.groq]: no API key; put it in /etc/zeropin/secrets.toml as [providers.groq] "
        'api_key = "..." or set GROQ_API_KEY'
    )
    text = '[llm]\nchain = ["qwen"]\n[providers.qwen]\npreset = "dashscope"\n'
    assert chain_error(tmp_path, text).endswith(
        '[providers.qwen] api_key = "..." or set DASHSCOPE_API_KEY'
    )


def test_lan_servers_need_no_key(tmp_path: Path) -> None:
    text = (
        '[llm]\nchain = ["ollama", "box", "proxy"]\n'
        '[providers.box]\npreset = "vllm"\nbase_url = "https://gpu.lan:8000/v1"\nmodel = "qwen"\n'
        '[providers.proxy]\npreset = "openai"\nbase_url = "http://10.0.0.9:4000/v1"\n'
    )
    providers = chain(tmp_path, text)
    assert [p.name for p in providers] == ["ollama", "box", "proxy"]
    assert not any(p.api_key for p in providers)


def test_named_key_variable_that_is_missing_is_an_error_even_on_a_lan(tmp_path: Path) -> None:
    text = (
        '[llm]\nchain = ["box"]\n[providers.box]\npreset = "vllm"\nmodel = "m"\n'
        'api_key_env = "BOX_KEY"\n'
    )
    assert chain_error(tmp_path, text) == (
        "[providers.box]: no API key; put it in /etc/zeropin/secrets.toml as [providers.box] "
        'api_key = "..." or set BOX_KEY'
    )
    (box,) = chain(tmp_path, text, {"BOX_KEY": "token-abc123"})
    assert box.api_key.reveal() == "token-abc123"


def test_custom_cloud_endpoint_without_a_key_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = (
        '[llm]\nchain = ["free"]\n'
        '[providers.free]\nbase_url = "https://llm.example.com/v1"\nmodel = "m"\n'
    )
    with caplog.at_level(logging.WARNING, logger="device.cloud.providers"):
        (free,) = chain(tmp_path, text)
    assert not free.api_key
    assert [r.getMessage() for r in caplog.records] == [
        "[providers.free]: no API key; requests to llm.example.com go without one"
    ]


def test_table_without_base_url_or_model_is_an_error(tmp_path: Path) -> None:
    text = '[llm]\nchain = ["lan"]\n[providers.lan]\nmodel = "m"\n'
    assert chain_error(tmp_path, text).startswith(
        "[providers.lan] base_url: not set; give the server's address, like \"http://192.168.1.20"
    )
    text = '[llm]\nchain = ["lan"]\n[providers.lan]\nbase_url = "http://10.1.1.1/v1"\n'
    assert chain_error(tmp_path, text) == (
        "[providers.lan] model: not set and there is no default; name a model the server offers"
    )
    assert chain_error(tmp_path, '[llm]\nchain = ["vllm"]\n') == (
        "[providers.vllm] model: not set and the vllm preset has no default; "
        "name a model the server offers"
    )


def test_chain_name_unknown_to_a_hand_built_config_is_an_error() -> None:
    cfg = Config(llm=LlmConfig(chain=("nowhere",)))
    with pytest.raises(
        ConfigError, match=r'^\[llm\] chain: "nowhere" is neither a table nor a preset$'
    ):
        resolve_providers(cfg, {})


def test_chain_from_the_environment_and_flags(tmp_path: Path) -> None:
    env = {"ZEROPIN_LLM_CHAIN": "gemini, ollama", "GEMINI_API_KEY": "g"}
    assert [p.name for p in chain(tmp_path, env=env)] == ["gemini", "ollama"]
    flags = (
        "llm.chain=lan",
        "providers.lan.base_url=http://10.0.0.2:8080/v1",
        "providers.lan.preset=llamacpp",
    )
    (lan,) = chain(tmp_path, flags=flags)
    assert (lan.base_url, lan.model) == ("http://10.0.0.2:8080/v1", "local")


# -- no chain: the OpenAI SDK's variables, or nothing -------------------------------------------


def test_no_chain_and_no_openai_variables_means_offline(tmp_path: Path) -> None:
    assert chain(tmp_path, env={"GROQ_API_KEY": "x", "PATH": "/bin"}) == []
    assert chain(tmp_path, env={"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}) == []


def test_openai_key_alone_gives_the_openai_endpoint(tmp_path: Path) -> None:
    (env_provider,) = chain(
        tmp_path, "[llm]\ndeadline_seconds = 12\n", {"OPENAI_API_KEY": FAKE_KEY}
    )
    assert env_provider == Provider(
        name="env",
        base_url="https://api.openai.com/v1",
        model="gpt-4o-mini",
        vision_model="gpt-4o-mini",
        api_key=Secret(FAKE_KEY),
        deadline_seconds=12.0,
    )


def test_openai_base_url_of_a_lan_box_needs_no_key(tmp_path: Path) -> None:
    env = {"OPENAI_BASE_URL": "http://192.168.1.20:11434/v1/", "ZEROPIN_LLM_MODEL": "llama3.2"}
    (env_provider,) = chain(tmp_path, env=env)
    assert (env_provider.base_url, env_provider.model, env_provider.vision_model) == (
        "http://192.168.1.20:11434/v1",
        "llama3.2",
        "llama3.2",
    )
    assert not env_provider.api_key


def test_openai_variables_that_cannot_work_are_errors(tmp_path: Path) -> None:
    assert chain_error(tmp_path, env={"OPENAI_BASE_URL": "https://api.openai.com/v1"}) == (
        "environment variable OPENAI_BASE_URL: api.openai.com needs a key; set OPENAI_API_KEY"
    )
    assert chain_error(tmp_path, env={"OPENAI_BASE_URL": "api.openai.com"}) == (
        "environment variable OPENAI_BASE_URL: must start with http:// or https://, "
        'got "api.openai.com"'
    )
    message = chain_error(tmp_path, env={"OPENAI_API_KEY": f"{FAKE_KEY}\tx"})
    assert message.startswith("environment variable OPENAI_API_KEY holds spaces")
    assert FAKE_KEY not in message


def test_a_chain_ignores_the_openai_variables(tmp_path: Path) -> None:
    env = {"OPENAI_BASE_URL": "http://10.0.0.1/v1", "OPENAI_API_KEY": "k"}
    assert [p.name for p in chain(tmp_path, '[llm]\nchain = ["ollama"]\n', env)] == ["ollama"]


# -- what counts as a LAN address ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "lan"),
    [
        ("http://api.example.com/v1", True),  # plain http: no cloud service takes keys over it
        ("https://localhost:8443/v1", True),
        ("https://127.0.0.1/v1", True),
        ("https://[::1]:8000/v1", True),
        ("https://192.168.1.20/v1", True),
        ("https://10.2.3.4/v1", True),
        ("https://172.16.0.1/v1", True),
        ("https://169.254.1.1/v1", True),
        ("https://[fd00::1]/v1", True),
        ("https://gpu-box:8000/v1", True),
        ("https://gpu.local/v1", True),
        ("https://gpu.lan/v1", True),
        ("https://gpu.home.arpa/v1", True),
        ("https://api.groq.com/openai/v1", False),
        ("https://8.8.8.8/v1", False),
        ("https://[2001:4860::8888]/v1", False),
        ("https://LOCALHOST.example.com/v1", False),
    ],
)
def test_is_lan_url(url: str, lan: bool) -> None:
    assert is_lan_url(url) is lan


# -- keys never leak ----------------------------------------------------------------------------


def test_secret_hides_its_value() -> None:
    secret = Secret(FAKE_KEY)
    assert (str(secret), repr(secret), f"{secret}", bool(secret)) == (
        "***",
        "Secret('***')",
        "***",
        True,
    )
    assert (str(Secret()), bool(Secret())) == ("", False)
    assert secret.reveal() == FAKE_KEY


def test_resolved_providers_and_config_never_show_the_key(tmp_path: Path) -> None:
    secrets = f'[providers.lan]\napi_key = "{FAKE_KEY}"\n'
    text = '[llm]\nchain = ["lan", "groq"]\n[providers.lan]\npreset = "vllm"\nmodel = "m"\n'
    providers = chain(tmp_path, text, {"GROQ_API_KEY": FAKE_KEY}, secrets)
    assert all(p.api_key.reveal() == FAKE_KEY for p in providers)
    cfg = load_config([tmp_path / "config.toml"], {}, secrets_paths=[tmp_path / "secrets.toml"])
    shown = [str(p) for p in providers] + [repr(p) for p in providers]
    shown += [repr(cfg), str(cfg), render_config(cfg), str(providers)]
    assert not [text for text in shown if FAKE_KEY in text]


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ('[llm]\nchain = ["groq"]\n[providers.groq]\nmodel = ""\nbase_url = "x"\n', {}),
        (
            '[llm]\nchain = ["groq"]\n[providers.groq]\napi_key_env = "GROQ_API_KEY"\nmodel = 1\n',
            {},
        ),
        (f'[llm]\nchain = ["groq"]\n[providers.groq]\napi_key_env = "{FAKE_KEY}"\n', {}),
        (f'[llm]\nchain = ["groq"]\n[providers.groq]\napi_key = "{FAKE_KEY} "\n', {}),
        (f'[llm]\nchain = ["groq"]\n[providers.groq]\napi_key = ["{FAKE_KEY}"]\n', {}),
        (f'[llm]\nchain = ["groq"]\n[providers.groq]\napi_key = "{FAKE_KEY}"\nmodel = 3\n', {}),
        ('[llm]\nchain = ["vllm"]\n', {"GROQ_API_KEY": FAKE_KEY}),
        ('[llm]\nchain = ["grok"]\n', {"GROQ_API_KEY": FAKE_KEY}),
        ('[llm]\nchain = ["groq"]\n', {"GROQ_API_KEY": f"{FAKE_KEY} \u00e9"}),
        ("", {"OPENAI_API_KEY": f"\x00{FAKE_KEY}"}),
        ("", {"OPENAI_API_KEY": FAKE_KEY, "OPENAI_BASE_URL": "ftp://x"}),
        (f"[providers]\ngroq = {FAKE_KEY!r}\n", {}),
        (f'[providers.groq]\napi_key = "{FAKE_KEY}"\n[providers.groq.extra]\nx = 1\n', {}),
    ],
)
def test_no_error_message_or_log_shows_a_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, env: dict[str, str]
) -> None:
    with caplog.at_level(logging.DEBUG):
        message = chain_error(tmp_path, text, env)
    assert FAKE_KEY not in message
    assert FAKE_KEY not in caplog.text


def test_flag_with_a_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        chain(tmp_path, flags=(f"providers.groq.api_key={FAKE_KEY}",))
    assert FAKE_KEY not in str(caught.value)
    assert FAKE_KEY not in repr(caught.value)


def test_provider_config_is_frozen_and_hashable() -> None:
    table = ProviderConfig(api_key=Secret(FAKE_KEY), max_retries=2)
    assert hash(table) == hash(ProviderConfig(api_key=Secret(FAKE_KEY), max_retries=2))
    assert FAKE_KEY not in repr(table)


# -- the documentation's examples ---------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "providers.md"


def test_every_toml_example_in_the_docs_loads_and_resolves(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 10
    env = {preset.api_key_env: "k" for preset in PRESETS.values() if preset.api_key_env}
    env["GOOGLE_API_KEY"] = "k"
    for block in blocks:
        if block.startswith("[providers."):  # the secrets file example
            path = write(tmp_path / "secrets.toml", block)
            assert load_config([], {}, secrets_paths=[path]).providers
            continue
        providers = chain(tmp_path, block, env)
        assert providers, block


def test_the_error_quoted_in_the_docs_is_the_real_one(tmp_path: Path) -> None:
    assert chain_error(tmp_path, '[llm]\nchain = ["groq"]\n') in DOCS.read_text(encoding="utf-8")
