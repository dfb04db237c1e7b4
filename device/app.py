"""The composition root: the one place that turns configuration into concrete parts.

Everything else receives its collaborators; only this module names backends.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from device.cloud.brain import BrainSettings, CloudBrain
from device.cloud.chain import ProviderChain
from device.cloud.client import ChatClient
from device.cloud.providers import Provider, resolve_providers
from device.cloud.speech import CloudRecognizer, CloudSynthesizer
from device.cloud.tools import Toolbox
from device.config.schema import Config
from device.egress import EgressGate, Ledger
from device.errors import ConfigError, ModelError
from device.listening.asr import PocketsphinxRecognizer, Recognizer, VoskRecognizer
from device.listening.listener import Listener
from device.listening.tflite_wake import TFLiteWakeDetector
from device.listening.vad import EndpointSettings
from device.listening.wake import (
    PocketsphinxKeyphraseDetector,
    VoskGrammarDetector,
    WakeWordDetector,
)
from device.loop.brain import Brain, OfflineBrain
from device.loop.router import Router
from device.loop.runtime import Runtime
from device.skills.intents import jsgf_grammar, parse
from device.skills.local import Skills
from device.skills.timers import Timers
from device.speaking.playback import Volume
from device.speaking.tts import EspeakSynthesizer, Synthesizer
from device.storage.database import Database
from device.storage.memory import ConversationStore, MemoryStore
from device.storage.notes import NoteStore
from device.system.paths import (
    resolved_vosk_model,
    resolved_wake_model,
    state_paths,
)
from drivers.camera import Camera, FolderCamera, Picamera2Camera
from drivers.errors import DriverError
from drivers.leds import LedPattern, NoLed, PrivacyLed, RgbLed, SingleLed, StatusLight
from drivers.mic import Microphone
from drivers.power import Battery
from drivers.speaker import Speaker

log = logging.getLogger(__name__)


POCKETSPHINX_THRESHOLD = 1e-40
MIN_TFLITE_THRESHOLD = 0.05  # lower fires on nearly anything


def build_wake(cfg: Config) -> WakeWordDetector:
    engine = cfg.wake.engine
    threshold = cfg.wake.threshold or None  # 0: the engine's own default
    if engine == "pocketsphinx":
        return PocketsphinxKeyphraseDetector(cfg.wake.phrase, threshold or POCKETSPHINX_THRESHOLD)
    if engine == "vosk":
        return VoskGrammarDetector(cfg.wake.phrase, resolved_vosk_model(cfg))
    if threshold is not None and not MIN_TFLITE_THRESHOLD <= threshold < 1:
        hint = (
            " (a pocketsphinx threshold? set engine too, or remove it)" if threshold < 0.01 else ""
        )
        raise ConfigError(
            f"[wake] threshold: a tflite model scores 0..1; use {MIN_TFLITE_THRESHOLD} to 0.99, "
            f"or 0 for the model card's, not {threshold:g}{hint}"
        )
    detector = TFLiteWakeDetector(
        resolved_wake_model(cfg),
        threshold,
        cfg.wake.trigger_level or None,  # 0: the model card's
        cfg.wake.refractory_seconds,
        cfg.wake.smoothing or None,  # 0: the model card's
    )
    if detector.phrase != " ".join(cfg.wake.phrase.lower().split()):
        raise ConfigError(
            f"[wake] phrase: {cfg.wake.phrase!r}, but the model {detector.scorer.model_path.name} "
            f'listens for {detector.phrase!r}; set phrase = "{detector.phrase}"'
        )
    return detector


def build_recognizer(
    cfg: Config, providers: list[Provider] | None = None, gate: EgressGate | None = None
) -> Recognizer:
    """Vosk when its model is present (or asked for); else pocketsphinx with the command grammar.

    ``[asr] engine = "cloud"`` puts a CloudRecognizer over that local one, given the providers
    and the gate; without a gate (the benchmark) the local one alone, since nothing may be
    uploaded except through the gate.
    """
    engine = cfg.asr.engine
    if engine == "cloud" and gate is not None:
        able = _providers_with(providers, "transcription_model", "asr")
        return CloudRecognizer(
            able,
            gate,
            _local_recognizer(cfg, "auto"),
            is_command=lambda t: parse(t) is not None,
            failures=cfg.llm.breaker_failures,
            cooldown_seconds=cfg.llm.breaker_cooldown_seconds,
        )
    return _local_recognizer(cfg, "auto" if engine == "cloud" else engine)


def _local_recognizer(cfg: Config, engine: str) -> Recognizer:
    model = resolved_vosk_model(cfg)
    if engine == "vosk" or (engine == "auto" and model.exists()):
        return VoskRecognizer(model)
    if engine == "auto":
        log.warning(
            "no Vosk model at %s: recognising with pocketsphinx and the command grammar "
            "(zeropin models fetch vosk-small-en-us for free text)",
            model,
        )
    return PocketsphinxRecognizer(jsgf_grammar(cfg.wake.phrase), lambda t: parse(t) is not None)


def _providers_with(providers: list[Provider] | None, model: str, section: str) -> list[Provider]:
    """The providers that have ``model`` set, or ConfigError naming the key."""
    able = [p for p in providers or [] if getattr(p, model)]
    if not able:
        raise ConfigError(
            f'[{section}] engine: "cloud" needs a provider with {model} in [llm] chain'
        )
    return able


def build_listener(
    cfg: Config, providers: list[Provider] | None = None, gate: EgressGate | None = None
) -> Listener:
    v = cfg.vad
    endpoint = EndpointSettings(
        aggressiveness=v.aggressiveness,
        trailing_silence_seconds=v.trailing_silence_seconds,
        max_utterance_seconds=v.max_utterance_seconds,
        no_speech_timeout_seconds=v.no_speech_timeout_seconds,
    )
    return Listener(
        build_wake(cfg),
        build_recognizer(cfg, providers, gate),
        endpoint,
        preroll_seconds=v.preroll_seconds,
        refractory_seconds=cfg.wake.refractory_seconds,
    )


def build_synthesizer(
    cfg: Config, providers: list[Provider] | None = None, gate: EgressGate | None = None
) -> Synthesizer:
    """espeak-ng; with ``[tts] engine = "cloud"`` and a gate, cloud speech over it."""
    # Full level here: the volume skill scales everything the speaker plays, earcons included.
    local = EspeakSynthesizer(cfg.tts.voice, cfg.tts.rate_wpm, cfg.tts.pitch, volume_percent=100)
    if cfg.tts.engine != "cloud" or gate is None:
        return local
    able = _providers_with(providers, "speech_model", "tts")
    return CloudSynthesizer(able, gate, local, cooldown_seconds=cfg.llm.breaker_cooldown_seconds)


def build_light(cfg: Config, pin_factory: Any = None, on_change: Any = None) -> StatusLight:
    led = cfg.led
    if led.kind == "single":
        return SingleLed(led.pin, pin_factory=pin_factory, on_change=on_change)
    if led.kind == "rgb":
        return RgbLed(
            led.red_pin, led.green_pin, led.blue_pin, pin_factory=pin_factory, on_change=on_change
        )
    return NoLed(on_change=on_change)


def build_privacy_led(
    cfg: Config, pin_factory: Any = None, on_change: Any = None
) -> PrivacyLed | None:
    """The privacy LED, or None when ``[led] privacy_pin`` is 0 (none fitted)."""
    if not cfg.led.privacy_pin:
        return None
    return PrivacyLed(cfg.led.privacy_pin, pin_factory=pin_factory, on_change=on_change)


def build_gate(cfg: Config, database: Database, privacy_led: PrivacyLed | None) -> EgressGate:
    return EgressGate(Ledger(database), privacy_led, log_content=cfg.llm.log_prompt_text)


def build_chain(cfg: Config, providers: list[Provider], gate: EgressGate) -> ProviderChain:
    return ProviderChain(
        [ChatClient(provider, gate) for provider in providers],
        failures=cfg.llm.breaker_failures,
        cooldown_seconds=cfg.llm.breaker_cooldown_seconds,
    )


def build_brain(cfg: Config, providers: list[Provider], gate: EgressGate, skills: Skills) -> Brain:
    """The cloud brain over the provider chain, or the offline answer when there is none."""
    if not providers:
        log.info("no cloud provider configured: questions get the offline answer")
        return OfflineBrain()
    assert skills.memory is not None and skills.conversation is not None
    settings = BrainSettings(
        device_name=cfg.device.name,
        stream=cfg.llm.stream,
        max_tokens=cfg.llm.max_tokens,
        history_turns=cfg.llm.history_turns,
        history_minutes=cfg.llm.history_minutes,
        image_max_side=cfg.llm.image_max_side,
        image_quality=cfg.llm.image_quality,
    )
    toolbox = Toolbox(skills, skills.memory)
    return CloudBrain(
        build_chain(cfg, providers, gate), toolbox, skills.memory, skills.conversation, settings
    )


def build_skills(
    cfg: Config,
    database: Database,
    camera: Camera | None,
    state_dir: Path,
    timers: Timers,
    volume: Volume,
    now: Callable[[], dt.datetime] = dt.datetime.now,
) -> Skills:
    photos = state_paths(cfg, state_dir)[1]
    return Skills(
        timers,
        NoteStore(database),
        volume,
        camera=camera,
        photos_dir=photos,
        state_dir=state_dir,
        battery=Battery(),
        now=now,
        max_notes_read=cfg.notes.max_notes_read,
        memory=MemoryStore(database),
        conversation=ConversationStore(database),
    )


def assemble(
    cfg: Config,
    *,
    mic: Microphone,
    speaker: Speaker,
    light: StatusLight,
    camera: Camera | None,
    state_dir: Path,
    lockstep: bool,
    privacy_led: PrivacyLed | None = None,
    providers: list[Provider] | None = None,
    env: Mapping[str, str] | None = None,
    now: Callable[[], dt.datetime] = dt.datetime.now,
    **hooks: Any,
) -> tuple[Runtime, Database]:
    """A runtime wired from ``cfg`` and the given drivers; close the database after the run.

    ``providers`` defaults to the chain in ``cfg`` resolved against ``env`` (the process
    environment when None): pass a list to point the brain elsewhere (the demo's loopback).
    ``now`` is the clock the skills tell the time by. A simulation that must repeat exactly
    pins it: "It's 9:59 PM" and "It's 10:00 PM" are spoken for different lengths, and when a reply
    ends decides when the wake word listens again.
    """
    if providers is None:
        providers = resolve_providers(cfg, os.environ if env is None else env)
    database = Database(state_paths(cfg, state_dir)[0])
    try:
        # The gate comes first: cloud speech uploads through it as the brain does.
        gate = build_gate(cfg, database, privacy_led)
        listener = build_listener(cfg, providers, gate)
        synthesizer = build_synthesizer(cfg, providers, gate)
    except Exception:  # a config or model error: nothing will use the database
        database.close()
        raise
    timers = Timers(lambda: listener.seconds)  # audio time: deterministic in simulations
    volume = Volume(percent=cfg.tts.volume_percent)
    skills = build_skills(cfg, database, camera, state_dir, timers, volume, now)
    brain = build_brain(cfg, providers, gate, skills)
    runtime = Runtime(
        mic=mic,
        listener=listener,
        router=Router(skills, brain),
        synthesizer=synthesizer,
        speaker=speaker,
        light=light,
        timers=timers,
        volume=volume,
        lockstep=lockstep,
        **hooks,
    )
    return runtime, database


__all__ = [
    "build_wake",
    "build_recognizer",
    "build_listener",
    "build_synthesizer",
    "build_light",
    "build_privacy_led",
    "build_gate",
    "build_chain",
    "build_brain",
    "build_skills",
    "state_paths",
    "assemble",
    "LedPattern",
    "ModelError",
]


def _camera(cfg: Config, folder: Path | None, sim: bool) -> Camera | None:
    backend = "folder" if folder else cfg.camera.backend
    if backend == "folder" or (backend == "auto" and cfg.camera.folder):
        return FolderCamera(folder or Path(cfg.camera.folder))
    if backend == "picamera2":
        return Picamera2Camera((cfg.camera.width, cfg.camera.height))
    if backend == "auto" and not sim:
        try:
            return Picamera2Camera((cfg.camera.width, cfg.camera.height))
        except DriverError as exc:  # a pin without a camera still talks
            log.warning("no camera: %s", exc)
    return None
