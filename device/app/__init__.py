"""The composition root: the one place that turns configuration into concrete parts.

Everything else receives its collaborators; only this package names backends. This module
assembles the voice loop, the cloud and storage; ``device.app.hardware`` the parts on pins and
sound cards.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from device.app.chinese import local_voice
from device.app.hardware import build_privacy_led, upload_indicator
from device.app.local_asr import local_recognizer
from device.app.recording import RecordingParts, build_recording
from device.app.translation import build_translator, build_voices
from device.app.turns import revising_drafts, waking
from device.cloud.brain import BrainSettings, CloudBrain
from device.cloud.budget import BudgetLimits, UsageMeter
from device.cloud.chain import ProviderChain
from device.cloud.client import ChatClient
from device.cloud.mcp import McpServer
from device.cloud.mcp_tools import McpTools
from device.cloud.providers import Provider, resolve_providers
from device.cloud.speech import CloudRecognizer, CloudSynthesizer
from device.cloud.tools import Toolbox
from device.config.schema import Config
from device.egress import EgressGate, Ledger
from device.errors import ConfigError
from device.listening.asr import Recognizer
from device.listening.echo import barge_in
from device.listening.listener import Listener
from device.listening.tflite_wake import TFLiteWakeDetector
from device.listening.vad import EndpointSettings
from device.listening.wake import (
    PocketsphinxKeyphraseDetector,
    VoskGrammarDetector,
    WakeWordDetector,
)
from device.loop.brain import Brain, OfflineBrain
from device.loop.follow_up import FollowUps
from device.loop.pacing import Pacing
from device.loop.router import Router
from device.loop.runtime import Runtime, TurnReport
from device.loop.states import State
from device.skills.intents import decided_locally
from device.skills.local import Skills
from device.skills.recordings import Recalled, RecordingSkill, recall
from device.skills.timers import Timers
from device.speaking.answer import AnswerLimits
from device.speaking.playback import Volume
from device.speaking.tts import Synthesizer
from device.storage.database import Database, open_state
from device.storage.memory import ConversationStore, MemoryStore
from device.storage.notes import NoteStore
from device.storage.recordings import RecordingStore
from device.storage.reset import spoken, wipe_visitor
from device.storage.timings import TurnTimings
from device.storage.usage import CloudUsage
from device.system.paths import (
    NO_CHINESE_POCKETSPHINX,
    resolved_state_dir,
    resolved_vosk_model,
    resolved_wake_model,
    state_paths,
)
from drivers.camera import Camera
from drivers.leds import PrivacyLed, SharedIndicator, StatusLight, UploadIndicator
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
        if cfg.device.language == "zh":
            raise ConfigError(f'[wake] engine: {NO_CHINESE_POCKETSPHINX}; use "tflite"')
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
    cfg: Config,
    providers: list[Provider] | None = None,
    gate: EgressGate | None = None,
    usage: CloudUsage | None = None,
) -> Recognizer:
    """Vosk when its model is present (or asked for); else pocketsphinx with the command grammar.

    Over that local one, a CloudRecognizer transcribes what it did not confidently hear as a
    command: with ``[asr] engine = "auto"`` when a provider has a ``transcription_model``, and
    always with ``"cloud"`` (which needs one). Without a gate (the benchmark) the local one
    alone: nothing is uploaded except through the gate. Pocketsphinx decodes free text only for
    a cloud brain that no cloud transcribes for (it doubles pocketsphinx's memory and CPU)."""
    engine, transcribes = cfg.asr.engine, any(p.transcription_model for p in providers or [])
    cloud = gate is not None and (engine == "cloud" or (engine == "auto" and transcribes))
    local = local_recognizer(
        cfg, "auto" if engine == "cloud" else engine, bool(providers) and not cloud, cloud
    )
    if gate is None or not cloud:
        return local
    return CloudRecognizer(
        _providers_with(providers, "transcription_model", "asr"),
        gate,
        local,
        is_command=lambda t: decided_locally(t, cfg.wake.phrase),
        failures=cfg.llm.breaker_failures,
        cooldown_seconds=cfg.llm.breaker_cooldown_seconds,
        budget_spent=_budget_spent(cfg, usage),
        language="" if cfg.device.language == "en" else cfg.device.language,
    )


def _budget_spent(cfg: Config, usage: CloudUsage | None) -> Callable[[], bool]:
    """Whether the ``[llm]`` usage budget is used up, for what uploads besides the brain."""
    meter = None if usage is None else build_meter(cfg, usage)
    return (lambda: False) if meter is None else meter.spent


def _providers_with(providers: list[Provider] | None, model: str, section: str) -> list[Provider]:
    """The providers that have ``model`` set, or ConfigError naming the key."""
    able = [p for p in providers or [] if getattr(p, model)]
    if not able:
        raise ConfigError(
            f'[{section}] engine: "cloud" needs a provider with {model} in [llm] chain'
        )
    return able


def build_listener(
    cfg: Config,
    providers: list[Provider] | None = None,
    gate: EgressGate | None = None,
    usage: CloudUsage | None = None,
) -> Listener:
    v = cfg.vad
    endpoint = EndpointSettings(
        aggressiveness=v.aggressiveness,
        trailing_silence_seconds=v.trailing_silence_seconds,
        max_utterance_seconds=v.max_utterance_seconds,
        no_speech_timeout_seconds=v.no_speech_timeout_seconds,
    )
    # (None, None): nothing is listened for over the device's replies
    echo, stop = barge_in(cfg.wake.stop_word)
    return Listener(
        build_wake(cfg),
        build_recognizer(cfg, providers, gate, usage),
        endpoint,
        preroll_seconds=v.preroll_seconds,
        refractory_seconds=cfg.wake.refractory_seconds,
        echo=echo,
        stop=stop,
    )


def build_synthesizer(
    cfg: Config, providers: list[Provider] | None = None, gate: EgressGate | None = None
) -> Synthesizer:
    """espeak-ng; with ``[tts] engine = "cloud"`` and a gate, cloud speech over it."""
    local = local_voice(cfg)
    if cfg.tts.engine != "cloud" or gate is None:
        return local
    able = _providers_with(providers, "speech_model", "tts")
    return CloudSynthesizer(able, gate, local, cooldown_seconds=cfg.llm.breaker_cooldown_seconds)


def build_gate(
    cfg: Config, database: Database, indicator: UploadIndicator | None, *, unlit: bool = False
) -> EgressGate:
    """The egress gate; images and audio go with no indicator if ``unlit`` or ``[led]`` allows."""
    allow = unlit or cfg.led.allow_uploads_without_indicator
    return EgressGate(
        Ledger(database),
        indicator,
        allow_without_indicator=allow,
        log_content=cfg.llm.log_prompt_text,
    )


def build_chain(
    cfg: Config, providers: list[Provider], gate: EgressGate, usage: CloudUsage | None = None
) -> ProviderChain:
    """The provider chain; with ``usage``, under the ``[llm]`` usage budget counted there."""
    return ProviderChain(
        [ChatClient(provider, gate) for provider in providers],
        failures=cfg.llm.breaker_failures,
        cooldown_seconds=cfg.llm.breaker_cooldown_seconds,
        meter=None if usage is None else build_meter(cfg, usage),
    )


def budget_limits(cfg: Config) -> BudgetLimits:
    return BudgetLimits(
        max_requests_per_hour=cfg.llm.max_requests_per_hour,
        max_requests_per_day=cfg.llm.max_requests_per_day,
        max_tokens_per_day=cfg.llm.max_tokens_per_day,
    )


def build_meter(cfg: Config, usage: CloudUsage) -> UsageMeter | None:
    limits = budget_limits(cfg)
    return UsageMeter(usage, limits) if limits.limited else None


@dataclass(frozen=True)
class Stores:
    """What the device keeps in its database, made once and shared by the skills and the brain."""

    notes: NoteStore
    memory: MemoryStore
    conversation: ConversationStore
    usage: CloudUsage  # the cloud requests counted for the usage budget
    database: Database  # all of it, for the reset between visitors


def build_stores(database: Database) -> Stores:
    return Stores(
        NoteStore(database),
        MemoryStore(database),
        ConversationStore(database),
        CloudUsage(database),
        database,
    )


def build_brain(
    cfg: Config,
    providers: list[Provider],
    gate: EgressGate,
    skills: Skills,
    stores: Stores,
    camera: Camera | None,
    recall: Callable[[str], Recalled] | None = None,
) -> Brain:
    """The cloud brain over the provider chain, or the offline answer when there is none.
    ``recall`` finds what a question about a recording needs."""
    if not providers:
        log.info("no cloud provider configured: questions get the offline answer")
        return OfflineBrain(recall, cfg.device.language)
    settings = BrainSettings(
        device_name=cfg.device.name,
        stream=cfg.llm.stream,
        max_tokens=cfg.llm.max_tokens,
        history_turns=cfg.llm.history_turns,
        history_minutes=cfg.llm.history_minutes,
        image_max_side=cfg.llm.image_max_side,
        image_quality=cfg.llm.image_quality,
        count_usage=cfg.llm.max_tokens_per_day > 0,
        deadline_seconds=cfg.llm.deadline_seconds,
        language=cfg.device.language,
    )
    return CloudBrain(
        build_chain(cfg, providers, gate, stores.usage),
        Toolbox(skills, stores.memory, build_mcp_tools(cfg, gate)),
        stores.memory,
        stores.conversation,
        settings,
        camera=camera,
        recall=recall,
    )


def build_mcp_tools(cfg: Config, gate: EgressGate) -> McpTools | None:
    """The tools of the ``[mcp.servers.NAME]`` servers, connecting in the background; None
    without any (then the SDK is never imported)."""
    if not cfg.mcp_servers:
        return None
    tools = McpTools([McpServer(name, table) for name, table in cfg.mcp_servers], gate)
    tools.start()
    return tools


def build_skills(
    cfg: Config,
    stores: Stores,
    camera: Camera | None,
    state_dir: Path,
    timers: Timers,
    volume: Volume,
    now: Callable[[], dt.datetime] = dt.datetime.now,
    recording: RecordingSkill | None = None,
) -> Skills:
    photos = state_paths(cfg, state_dir)[1]
    return Skills(
        timers,
        stores.notes,
        volume,
        camera=camera,
        photos_dir=photos,
        state_dir=state_dir,
        battery=Battery(),
        now=now,
        max_notes_read=cfg.notes.max_notes_read,
        memory=stores.memory,
        conversation=stores.conversation,
        forget_visitor=partial(_forget_visitor, stores.database, state_dir, recording),
        recording=recording,
    )


def _forget_visitor(database: Database, state_dir: Path, recording: RecordingSkill | None) -> str:
    if recording is not None:
        recording.stop_for_reset()
    return spoken(wipe_visitor(database, state_dir))


@contextmanager
def brain_alone(cfg: Config, providers: list[Provider], camera: Camera | None) -> Iterator[Brain]:
    """The cloud brain without the voice loop (``zeropin ask``), on the device's own notes,
    memory and ledger."""
    state_dir = resolved_state_dir(cfg)
    with open_state(*state_paths(cfg, state_dir)) as database:
        timers = Timers(time.monotonic)
        volume = Volume(cfg.tts.volume_percent)
        stores = build_stores(database)
        skills = build_skills(cfg, stores, camera, state_dir, timers, volume)
        # Only the privacy LED: the status light belongs to the daemon. Without one, images
        # still go: ``ask`` never opens a camera or a microphone, it sends the file its caller
        # named (--image), and the caller is the one watching.
        privacy_led = build_privacy_led(cfg)
        gate = build_gate(cfg, database, privacy_led, unlit=True)
        recalled = partial(recall, store=RecordingStore(database))
        brain = build_brain(cfg, providers, gate, skills, stores, camera, recalled)
        try:
            yield brain
        finally:
            brain.close()


def assemble(
    cfg: Config,
    *,
    mic: Microphone,
    speaker: Speaker,
    light: StatusLight,
    camera: Camera | None,
    state_dir: Path,
    pacing: Pacing,
    privacy_led: PrivacyLed | None = None,
    providers: list[Provider] | None = None,
    env: Mapping[str, str] | None = None,
    now: Callable[[], dt.datetime] = dt.datetime.now,
    on_turn: Callable[[TurnReport], None] | None = None,
    on_state: Callable[[State], None] | None = None,
    on_tick: Callable[[float], None] | None = None,
) -> tuple[Runtime, Database]:
    """A runtime wired from ``cfg`` and the given drivers; close the database after the run.

    ``pacing`` is ``Realtime()`` live, ``Lockstep()`` in simulations (``device.loop.pacing``).
    ``on_turn`` gets each answered turn, ``on_state`` each new state, ``on_tick`` the audio time.
    ``providers`` defaults to the chain in ``cfg`` resolved against ``env`` (the process
    environment when None): pass a list to point the brain elsewhere (the demo's loopback).
    ``now`` is the skills' clock. A simulation that must repeat exactly pins it: "It's 9:59 PM"
    is not as long as "It's 10:00 PM", and when a reply ends decides when the wake word listens.
    """
    if providers is None:
        providers = resolve_providers(cfg, os.environ if env is None else env)
    database = open_state(*state_paths(cfg, state_dir))
    gate, stores, listener, synthesizer, chain, recording = _on_the_database(
        cfg, database, state_dir, providers, light, privacy_led, now
    )
    timers = Timers(lambda: listener.seconds)  # audio time: deterministic in simulations
    volume = Volume(percent=cfg.tts.volume_percent)
    skills = build_skills(cfg, stores, camera, state_dir, timers, volume, now, recording.skill)
    brain = build_brain(cfg, providers, gate, skills, stores, camera, recording.recall)
    translator = build_translator(chain, listener.recognizer)
    on_turn = revising_drafts(listener.recognizer, stores.notes, cfg.wake.phrase, on_turn)
    runtime = Runtime(
        mic=mic,
        listener=listener,
        router=Router(skills, brain, cfg.wake.phrase, translator, cfg.device.language),
        synthesizer=synthesizer,
        voice_for=build_voices(cfg, synthesizer),
        speaker=speaker if listener.echo is None else listener.echo.tap(speaker),
        light=light,
        timers=timers,
        volume=volume,
        pacing=pacing,
        on_turn=waking(recording.transcriber, on_turn),
        answer_limits=AnswerLimits(max_answer_chars=cfg.tts.max_answer_chars),
        follow_ups=FollowUps(cfg.wake.follow_up, cfg.wake.follow_up_seconds),
        on_state=on_state,
        on_tick=on_tick,
        keep_timing=TurnTimings(database).add,
        recorder=recording.recorder,
        on_close=recording.close,
    )
    return runtime, database


def _on_the_database(
    cfg: Config,
    database: Database,
    state_dir: Path,
    providers: list[Provider],
    light: StatusLight,
    privacy_led: PrivacyLed | None,
    now: Callable[[], dt.datetime],
) -> tuple[EgressGate, Stores, Listener, Synthesizer, ProviderChain | None, RecordingParts]:
    """The parts that keep what they do in the database; on a config or model error the
    database is closed (nothing will use it) and the error raised."""
    try:
        # The gate comes first: cloud speech uploads through it as the brain does. A privacy LED
        # is shared: lit for each upload, and for each whole recording.
        shared = None if privacy_led is None else SharedIndicator(privacy_led)
        uploads = upload_indicator(light, None) if shared is None else shared.holder("uploads")
        gate = build_gate(cfg, database, uploads)
        stores = build_stores(database)
        listener = build_listener(cfg, providers, gate, stores.usage)
        synthesizer = build_synthesizer(cfg, providers, gate)
        chain = build_chain(cfg, providers, gate, stores.usage) if providers else None
        recording = build_recording(
            cfg,
            database,
            state_dir,
            providers,
            gate,
            listener.recognizer,
            chain,
            now,
            _budget_spent(cfg, stores.usage),
        )
        unlit_allowed = light.can_show_capture or cfg.led.allow_uploads_without_indicator
        recording.show(shared.holder("recording") if shared else None, unlit_allowed)
    except Exception:
        database.close()
        raise
    return gate, stores, listener, synthesizer, chain, recording


# -- the hardware, or its stand-ins -------------------------------------------------------------
