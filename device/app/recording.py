"""The recorder's parts, from ``[recorder]``: the recorder, its transcriber, the skill that
starts and stops it, and the search a question about a recording uses.

Who transcribes (``[recorder] transcribe``): "auto" is the cloud when a provider has a
``transcription_model``, else the local recogniser; "cloud" needs such a provider; "off" keeps
the audio only. Summaries come from the provider chain, when there is one and
``[recorder] summarise`` is on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from device.cloud.chain import ProviderChain
from device.cloud.providers import Provider
from device.cloud.speech import CloudRecognizer
from device.cloud.transcripts import Transcriber, TranscriberSettings
from device.config.schema import Config
from device.egress import EgressGate
from device.errors import ConfigError, StorageError
from device.listening.asr import PocketsphinxFreeText, Recognizer
from device.listening.vosk_asr import VoskRecognizer
from device.skills.recordings import Recalled, RecordingSkill, recall
from device.storage.database import Database
from device.storage.recorder import Recorder, RecorderSettings
from device.storage.recordings import RECORDINGS_FOLDER, RecordingStore, expire
from device.system.paths import resolved_vosk_model
from drivers.leds import UploadIndicator

log = logging.getLogger(__name__)


@dataclass
class RecordingParts:
    recorder: Recorder | None  # None: [recorder] enabled = false
    transcriber: Transcriber | None
    skill: RecordingSkill
    recall: Callable[[str], Recalled]

    def show(self, tally: UploadIndicator | None, status_light: bool) -> None:
        """What shows a recording: ``tally``, a privacy LED held lit for each whole recording,
        and the status light's RECORDING pattern (``status_light``: the build has one)."""
        self.skill.tally = tally
        self.skill.shown = tally is not None or status_light
        if self.recorder is not None:
            self.recorder.on_change = self.skill.changed

    def close(self) -> None:
        """Stop a recording under way (its last segment is saved) and the transcriber."""
        if self.recorder is not None:
            self.recorder.close()
        if self.transcriber is not None:
            self.transcriber.close()


def build_recording(
    cfg: Config,
    database: Database,
    state_dir: Path,
    providers: list[Provider],
    gate: EgressGate,
    heard_by: Recognizer,
    chain: ProviderChain | None,
    now: Callable[[], dt.datetime] = dt.datetime.now,
    budget_spent: Callable[[], bool] = lambda: False,
) -> RecordingParts:
    """``heard_by`` is the voice loop's recogniser (its cloud, or its Vosk model, is shared).
    Once the lights are known, ``RecordingParts.show`` says which of them show a recording."""
    store = RecordingStore(database)
    root = state_dir / RECORDINGS_FOLDER
    recalled = partial(recall, store=store, now=now)
    if not cfg.recorder.enabled:
        return RecordingParts(None, None, RecordingSkill(None), recalled)
    r = cfg.recorder
    settings = RecorderSettings(
        segment_seconds=r.segment_seconds,
        max_segment_seconds=r.segment_seconds * 2,
        sync_seconds=r.sync_seconds,
        min_free_mb=r.min_free_mb,
    )
    recorder = Recorder(store, root, settings)
    transcriber = Transcriber(
        store,
        root,
        TranscriberSettings(
            cloud=_cloud(cfg, providers, gate, heard_by, budget_spent),
            local=_local(cfg, heard_by),
            chain=chain if r.summarise else None,
            recording=lambda: recorder.active,
        ),
    )
    recorder.on_segment = transcriber.wake
    try:
        recorder.recover()
        expire(store, root, r.keep_days)
    except (StorageError, OSError) as exc:  # a full or failing card: the daemon still starts
        log.warning("recordings left from before not checked: %s", exc)
    transcriber.start()
    return RecordingParts(
        recorder,
        transcriber,
        RecordingSkill(recorder, transcriber.mode, summarised=chain is not None and r.summarise),
        recalled,
    )


def _cloud(
    cfg: Config,
    providers: list[Provider],
    gate: EgressGate,
    heard_by: Recognizer,
    budget_spent: Callable[[], bool],
) -> CloudRecognizer | None:
    """The cloud that transcribes recordings, or None. "auto" follows ``[asr] engine``: an owner
    who chose a local recogniser has chosen that speech stays on the device."""
    mode = cfg.recorder.transcribe
    if mode == "auto" and cfg.asr.engine in ("vosk", "pocketsphinx"):
        return None
    able = [p for p in providers if p.transcription_model]
    if mode == "cloud" and not able:
        raise ConfigError(
            '[recorder] transcribe: "cloud" needs a provider with transcription_model in '
            "[llm] chain"
        )
    if mode not in ("auto", "cloud") or not able:
        return None
    if isinstance(heard_by, CloudRecognizer):
        return heard_by  # one set of circuit breakers for the cloud's transcription
    return CloudRecognizer(
        able,
        gate,
        heard_by,
        failures=cfg.llm.breaker_failures,
        cooldown_seconds=cfg.llm.breaker_cooldown_seconds,
        budget_spent=budget_spent,
    )


def _local(cfg: Config, heard_by: Recognizer) -> Callable[[], Recognizer] | None:
    if cfg.recorder.transcribe == "off":
        return None
    local = heard_by.local if isinstance(heard_by, CloudRecognizer) else heard_by
    if isinstance(local, VoskRecognizer):
        return local.sharing_model
    model = resolved_vosk_model(cfg)
    if model.exists():
        return partial(VoskRecognizer, model)
    return PocketsphinxFreeText
