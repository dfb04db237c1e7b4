"""The voices of replies in other languages than the device's own (translations)."""

from __future__ import annotations

from collections.abc import Callable

from device.cloud.speech import CloudSynthesizer
from device.config.schema import Config
from device.skills.languages import language_coded
from device.speaking.tts import EspeakSynthesizer, Synthesizer


def build_voices(cfg: Config, synthesizer: Synthesizer) -> Callable[[str], Synthesizer]:
    """The voice for a reply in another language (a translation), by its code: cloud speech
    speaks the language of its text; else espeak-ng's voice for it, made once per language."""
    if isinstance(synthesizer, CloudSynthesizer):
        return lambda code: synthesizer
    voices: dict[str, Synthesizer] = {}

    def voice_for(code: str) -> Synthesizer:
        language = language_coded(code)
        if language is None:
            return synthesizer
        if code not in voices:
            t = cfg.tts
            voices[code] = EspeakSynthesizer(
                language.voice, t.rate_wpm, t.pitch, volume_percent=100
            )
        return voices[code]

    return voice_for
