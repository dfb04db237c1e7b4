"""The Chinese interface's parts: what hears the wearer, and the voice that answers.

``[device] language = "zh"`` (docs/chinese.md) changes what ``build_recognizer`` makes: Vosk's
Chinese model when it is installed, else the command model trained on the offline Chinese
commands; pocketsphinx has no Chinese. Every device reads Chinese text in the Mandarin voice,
whatever its language, through ``BilingualSynthesizer``.
"""

from __future__ import annotations

from device.config.schema import Config
from device.errors import ConfigError
from device.listening.asr import Recognizer
from device.listening.command_model import CommandModelRecognizer
from device.listening.vosk_asr import VoskRecognizer
from device.speaking.mandarin import BilingualSynthesizer, MandarinSynthesizer
from device.speaking.tts import EspeakSynthesizer, Synthesizer
from device.system.paths import (
    CHINESE_COMMANDS,
    NO_CHINESE_POCKETSPHINX,
    resolved_vosk_model,
    shipped_model,
)


def chinese_recognizer(cfg: Config, engine: str) -> Recognizer:
    """Vosk's Chinese model when it is there (or asked for); else the command model, which hears
    the offline Chinese commands only (``device.skills.chinese_commands``)."""
    if engine == "pocketsphinx":
        raise ConfigError(f'[asr] engine: {NO_CHINESE_POCKETSPHINX}; use "auto"')
    model = resolved_vosk_model(cfg)
    if engine == "vosk" or model.exists():
        return VoskRecognizer(model, cache_mb=cfg.asr.vosk_cache_mb)
    return CommandModelRecognizer(shipped_model(CHINESE_COMMANDS))


def local_voice(cfg: Config) -> Synthesizer:
    """espeak-ng: ``[tts] voice`` for all but Chinese, which the Mandarin voice reads."""
    t = cfg.tts
    # Full level here: the volume skill scales everything the speaker plays, earcons included.
    voice = EspeakSynthesizer(t.voice, t.rate_wpm, t.pitch, volume_percent=100)
    return BilingualSynthesizer(voice, t.rate_wpm, t.pitch)


def voice_for_language(cfg: Config, code: str, voice: str) -> Synthesizer:
    """espeak-ng's voice for a translation into the language ``code`` (its voice ``voice``)."""
    t = cfg.tts
    if code == "zh":  # espeak-ng's cmn voice reads few characters: pinyin instead
        return MandarinSynthesizer(t.rate_wpm, t.pitch, volume_percent=100)
    return EspeakSynthesizer(voice, t.rate_wpm, t.pitch, volume_percent=100)
