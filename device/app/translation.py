"""Translation's parts: the translator over the provider chain, and the voices of replies in
other languages than the device's own."""

from __future__ import annotations

from collections.abc import Callable

from device.cloud.chain import ProviderChain
from device.cloud.providers import Provider
from device.cloud.speech import CloudRecognizer, CloudSynthesizer
from device.cloud.translate import CloudTranslator
from device.config.schema import Config
from device.egress import EgressGate
from device.listening.asr import Recognizer
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


def build_translator(
    cfg: Config,
    chain: ProviderChain | None,
    heard_by: Recognizer,
    providers: list[Provider],
    gate: EgressGate,
    spent: Callable[[], bool],
) -> CloudTranslator | None:
    """The cloud's translator, hearing a conversation through the voice loop's cloud
    recogniser (or one of its own); None without a cloud. An owner who chose a local
    recogniser (``[asr] engine``) chose that speech stays on the device: it hears none."""
    if chain is None:
        return None
    if cfg.asr.engine in ("vosk", "pocketsphinx"):
        return CloudTranslator(chain, None)
    if isinstance(heard_by, CloudRecognizer):
        return CloudTranslator(chain, heard_by)
    able = [p for p in providers if p.transcription_model]
    if not able:
        return CloudTranslator(chain, None)
    cloud = CloudRecognizer(
        able,
        gate,
        heard_by,
        failures=cfg.llm.breaker_failures,
        cooldown_seconds=cfg.llm.breaker_cooldown_seconds,
        budget_spent=spent,
    )
    return CloudTranslator(chain, cloud)
