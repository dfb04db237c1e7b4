"""Shared fixtures: a loopback OpenAI-compatible server that checks every request it gets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from openapi_schema import request_errors

from device.cloud.providers import Provider
from device.config import sources
from device.config.presets import PRESETS
from device.config.schema import Secret
from device.config.sources import ENV_PREFIX
from device.sim.loopback.server import LoopbackLLM
from device.system import live, paths
from device.wakeword.real_speech import DEFAULT_ROOT

TEST_KEY = "sk-test-DO-NOT-LEAK-7f3a9c"  # distinctive, so a scan for it cannot miss

needs_real_speech = pytest.mark.skipif(
    not DEFAULT_ROOT.is_dir(), reason=f"no real recordings at {DEFAULT_ROOT}"
)


def small_real_speech_tree(root: Path, per_folder: int = 12) -> Path:
    """A real-speech folder of links to the first few real recordings of each kind."""
    for kind in ("keywords/computer", "keywords/snowboy", "speech/librispeech", "digits"):
        source = DEFAULT_ROOT / kind
        if kind == "speech/librispeech":
            source = next((DEFAULT_ROOT / "speech").glob("librispeech*"))
        target = root / kind
        target.mkdir(parents=True)
        files = sorted(p for p in source.iterdir() if p.suffix in (".wav", ".flac"))
        for path in files[: per_folder if kind != "speech/librispeech" else 3]:
            (target / path.name).symlink_to(path)
    return root


@pytest.fixture(autouse=True, scope="session")
def _nothing_from_this_machines_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests find no models, saved state, settings or API keys of the machine they run on: a
    Vosk model fetched into ~/.local/share/zeropin or /var/lib/zeropin would change which
    recogniser they get. Tests that start ``zeropin`` pass it a HOME of their own, but a
    ``zeropin`` run by root still finds /var/lib/zeropin if it exists (CI's machines have none)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        absent = tmp_path_factory.mktemp("var") / "absent"
        patch.setattr(paths, "SYSTEM_STATE_DIR", absent)
        # nor the settings its companion page saved, nor what its daemon's lights show now
        page_settings = (absent / "settings.toml", sources.PAGE_SETTINGS_PATHS[1])
        patch.setattr(sources, "PAGE_SETTINGS_PATHS", page_settings)
        patch.setattr(live, "RUN_DIR", absent / "run")
        # Nor its settings or API keys: a daemon started with them could reach a real provider.
        keys = {preset.api_key_env for preset in PRESETS.values()} | {"OPENAI_BASE_URL"}
        for name in list(os.environ):
            if name.startswith(ENV_PREFIX) or name in keys:
                patch.delenv(name)
        yield


@pytest.fixture
def llm_server() -> Iterator[LoopbackLLM]:
    """A started loopback server requiring TEST_KEY; every request body is validated against
    the official OpenAPI document, and the test fails if one does not."""
    with LoopbackLLM(api_key=TEST_KEY, validator=request_errors) as server:
        yield server
        assert server.validation_errors == [], server.validation_errors


def loopback_provider(server: LoopbackLLM, **overrides: Any) -> Provider:
    """A provider table pointing at ``server`` with TEST_KEY and short time limits."""
    settings: dict[str, Any] = {
        "name": "loop",
        "base_url": server.base_url,
        "model": "loopback-chat",
        "api_key": Secret(TEST_KEY),
        "first_token_timeout_seconds": 2.0,
        "deadline_seconds": 10.0,
    }
    return Provider(**{**settings, **overrides})


class BrokenLedFactory(MockFactory):
    """gpiozero's mock pins, except that driving one high fails as a dead GPIO would."""

    def pin(self, spec, **kwargs):
        pin = super().pin(spec, **kwargs)
        if not getattr(pin, "_broken", False):
            pin._broken = True
            original = pin._set_state

            def refuse(value):
                if value:
                    raise OSError("GPIO write failed")
                original(value)

            pin._set_state = refuse
        return pin
