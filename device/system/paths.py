"""Where things live on disk: the state directory, the database, photos and models.

One place for every path the daemon writes or reads by default, so ``zeropin run``, ``doctor`` and
``bench`` agree. Dev machines use ``~/.local/share/zeropin``; the image ``/var/lib/zeropin``.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

from device.config.schema import Config
from device.errors import ConfigError
from device.system.manifest import load_manifest, shipped_file

log = logging.getLogger(__name__)

SYSTEM_STATE_DIR = Path("/var/lib/zeropin")


def resolved_state_dir(cfg: Config) -> Path:
    """Where notes, photos and recordings live: the configured directory, or the usual place."""
    if cfg.device.state_dir:
        return Path(cfg.device.state_dir).expanduser()
    if SYSTEM_STATE_DIR.is_dir() and os.access(SYSTEM_STATE_DIR, os.W_OK | os.X_OK):
        return SYSTEM_STATE_DIR
    return Path.home() / ".local" / "share" / "zeropin"


def resolved_vosk_model(cfg: Config) -> Path:
    """The Vosk model directory: the configured one, or the small model of the device's language
    in the state dir."""
    if cfg.asr.vosk_model:
        return Path(cfg.asr.vosk_model).expanduser()
    return models_dir(cfg) / VOSK_MODELS[cfg.device.language][1]


def hears_with_vosk(cfg: Config) -> bool:
    """Whether Vosk is the device's own recogniser: asked for, or ``auto`` (or ``cloud``, under
    the cloud) with its model installed; otherwise pocketsphinx (English) or the command model."""
    engine = "auto" if cfg.asr.engine == "cloud" else cfg.asr.engine
    return engine == "vosk" or (engine == "auto" and resolved_vosk_model(cfg).exists())


def command_rescued(cfg: Config) -> bool:
    """Whether the English command rescue runs (``device.listening.command_rescue``)."""
    english = cfg.device.language == "en" and cfg.asr.command_rescue
    return english and not hears_with_vosk(cfg)


def models_dir(cfg: Config) -> Path:
    """Where ``zeropin models fetch`` unpacks speech models."""
    return resolved_state_dir(cfg) / "models"


def database_path(state_dir: Path) -> Path:
    """The one SQLite file: notes, memory, conversation turns and the egress ledger."""
    return state_dir / "zeropin.db"


SHIPPED_WAKE_MODEL = "wakeword-hey-zero"  # the manifest entry of the default wake-word model
# The shipped wake-word model of each shipped phrase, by the manifest entry
SHIPPED_WAKE_MODELS = {"hey zero": SHIPPED_WAKE_MODEL, "你好零": "wakeword-ni-hao-ling"}
CHINESE_COMMANDS = "commands-zh"  # the command model that hears the offline Chinese commands
ENGLISH_COMMANDS = "commands-en-rescue"  # what pocketsphinx's grammar missed (command_rescue.py)
# What pocketsphinx lacks, said wherever Chinese is asked of it
NO_CHINESE_POCKETSPHINX = (
    "pocketsphinx has no Chinese model: the offline Chinese commands are heard by the command "
    f"model ({CHINESE_COMMANDS}), free speech by Vosk's Chinese model or the cloud"
)
# The manifest's Vosk model of each [device] language, and the folder it unpacks to
VOSK_MODELS = {
    "en": ("vosk-small-en-us", "vosk-model-small-en-us-0.15"),
    "zh": ("vosk-small-cn", "vosk-model-small-cn-0.22"),
}


def resolved_wake_model(cfg: Config) -> Path:
    """The tflite wake-word model: the configured file, or the shipped one (sha256 checked)."""
    if cfg.wake.model:
        return Path(cfg.wake.model).expanduser()
    return shipped_model(shipped_wake_model(cfg))


def shipped_model(name: str) -> Path:
    """A model that ships in the repository, by its manifest entry, checked against its sha256."""
    return shipped_file(load_manifest()[name])


def shipped_wake_model(cfg: Config) -> str:
    """The manifest entry of the shipped model for the ``[wake] phrase`` ("hey zero"'s for a
    phrase none is shipped for: the phrase check then says which phrase it listens for)."""
    return SHIPPED_WAKE_MODELS.get(cfg.wake.phrase.lower().strip(), SHIPPED_WAKE_MODEL)


def state_paths(cfg: Config, state_dir: Path | None = None) -> tuple[Path, Path]:
    """(database file, photos folder) under the state directory, created if missing."""
    root = state_dir or resolved_state_dir(cfg)
    try:
        (root / "photos").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            raise ConfigError(f"[device] state_dir: cannot create {root}: {exc.strerror}") from exc
        # A full or read-only card: the device still starts (and says it cannot save).
        log.warning("cannot create %s: %s; photos cannot be saved", root / "photos", exc.strerror)
    return database_path(root), root / "photos"
