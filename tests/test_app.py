"""The composition root decides each backend once: `zeropin run` and `doctor` agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from device.app import build_listener, build_synthesizer
from device.app.hardware import build_camera, build_mic, camera_backend, frames_for
from device.config.sources import load_config
from device.doctor.run import _device_camera
from device.errors import ConfigError
from device.speaking.mandarin import BilingualSynthesizer
from drivers.audio_format import write_wav
from drivers.camera import FolderCamera
from drivers.mic import FileMicrophone


def _cfg(*overrides: str):
    return load_config(paths=[], env={}, secrets_paths=[], overrides=list(overrides))


def test_a_folder_camera_without_a_folder_is_one_clear_error_for_run_and_doctor():
    cfg = _cfg('camera.backend="folder"')
    with pytest.raises(ConfigError, match=r"\[camera\].*folder") as raised:
        build_camera(cfg)  # zeropin run used to scan its working directory instead
    assert _device_camera(cfg) == (None, str(raised.value))


def test_auto_is_made_concrete_once(tmp_path: Path):
    assert camera_backend(_cfg(), sim=True)[0] == "none"
    assert build_camera(_cfg(), sim=True) is None
    assert camera_backend(_cfg(f'camera.folder="{tmp_path}"'))[0] == "folder"
    Image.new("RGB", (8, 8)).save(tmp_path / "view.jpg")
    camera = build_camera(_cfg(), tmp_path, sim=True)  # --camera-folder wins over the config
    assert isinstance(camera, FolderCamera)
    assert camera.capture().data[:2] == b"\xff\xd8"  # a JPEG
    assert camera_backend(_cfg('camera.backend="none"')) == (
        "none",
        'disabled ([camera] backend = "none")',
    )


def test_a_recording_is_read_in_chunks_of_the_configured_length(tmp_path: Path):
    cfg = _cfg("audio.chunk_ms=20")
    assert frames_for(cfg) == 320
    recording = tmp_path / "talk.wav"
    write_wav(recording, bytes(16000 * 2))
    with build_mic(cfg, recording, realtime=False) as mic:
        assert isinstance(mic, FileMicrophone)
        assert len(mic.read()) == 320 * 2


def test_a_chinese_device_refuses_pocketsphinx_saying_why_and_what_hears_instead():
    for key in ("asr.engine", "wake.engine"):
        cfg = load_config(paths=[], env={}, overrides=["device.language=zh", f"{key}=pocketsphinx"])
        with pytest.raises(ConfigError) as refused:
            build_listener(cfg)
        assert str(refused.value).startswith(f"[{key.split('.')[0]}] engine: pocketsphinx has no")
        assert "command model" in str(refused.value)


def test_a_chinese_device_hears_with_the_command_model_and_reads_chinese_in_mandarin(tmp_path):
    cfg = load_config(
        paths=[], env={}, overrides=["device.language=zh", f"device.state_dir={tmp_path}"]
    )
    listener = build_listener(cfg)
    assert listener.recognizer.name == "command-model"  # no Vosk Chinese model fetched here
    assert listener.wake.phrase == "你好零"
    voice = build_synthesizer(cfg)
    assert isinstance(voice, BilingualSynthesizer)
