"""Translation's parts: the translator over the provider chain, and the voices of replies in
other languages than the device's own."""

from __future__ import annotations

from collections.abc import Callable

from device.app.chinese import voice_for_language
from device.cloud.chain import ProviderChain
from device.cloud.speech import CloudRecognizer, CloudSynthesizer
from device.cloud.translate import CloudTranslator
from device.config.schema import Config
from device.listening.asr import Recognizer
from device.skills.languages import language_coded
from device.speaking.tts import Synthesizer


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
            voices[code] = voice_for_language(cfg, code, language.voice)
        return voices[code]

    return voice_for


def build_translator(chain: ProviderChain | None, heard_by: Recognizer) -> CloudTranslator | None:
    """The cloud's translator; None without a cloud. A conversation is heard through the voice
    loop's own cloud recogniser, which ``build_recognizer`` makes whenever a provider transcribes
    and ``[asr] engine`` leaves speech to the cloud: an owner who chose a local recogniser
    chose that speech stays on the device, and then conversations are not translated."""
    if chain is None:
        return None
    return CloudTranslator(chain, heard_by if isinstance(heard_by, CloudRecognizer) else None)
