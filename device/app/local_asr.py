"""The recogniser on the device itself: Vosk when its model is there, else pocketsphinx with the
command grammar and, for English, the command rescue (``device.listening.command_rescue``)."""

from __future__ import annotations

import logging

from device.app.chinese import chinese_recognizer
from device.config.schema import Config
from device.errors import ModelError
from device.listening.asr import PocketsphinxRecognizer, Recognizer
from device.listening.command_rescue import CommandRescue
from device.listening.vosk_asr import VoskRecognizer
from device.skills.intents import jsgf_grammar, may_guess, parse
from device.system.paths import (
    ENGLISH_COMMANDS,
    command_rescued,
    hears_with_vosk,
    resolved_vosk_model,
    shipped_model,
)

log = logging.getLogger(__name__)


def local_recognizer(cfg: Config, engine: str, free_text: bool, cloud: bool) -> Recognizer:
    """``cloud``: a cloud transcribes what the grammar did not hear as a command, and its text
    is decided on by the same intents, so pocketsphinx's second pass (as much CPU again) runs
    only when the cloud did not."""
    if cfg.device.language == "zh":
        return chinese_recognizer(cfg, engine)
    model = resolved_vosk_model(cfg)
    if hears_with_vosk(cfg):
        return VoskRecognizer(model, cache_mb=cfg.asr.vosk_cache_mb)
    if engine == "auto":
        log.warning(
            "no Vosk model at %s: recognising with pocketsphinx and the command grammar "
            "(zeropin models fetch vosk-small-en-us for free text)",
            model,
        )
    phrase = cfg.wake.phrase
    return PocketsphinxRecognizer(
        jsgf_grammar(phrase),
        lambda t: parse(t, phrase) is not None,
        wake_phrase=phrase,
        free_text=free_text,
        second_pass=not cloud,
        answers={"length": jsgf_grammar(phrase, expecting="length")},
        rescue=_command_rescue(cfg) if command_rescued(cfg) else None,
    )


def _command_rescue(cfg: Config) -> CommandRescue | None:
    """The English command rescue, or None (logged) when its model or networks cannot load:
    the grammar still hears what it hears."""
    try:
        return CommandRescue(
            shipped_model(ENGLISH_COMMANDS), lambda t: may_guess(t, cfg.wake.phrase)
        )
    except ModelError as exc:
        log.warning("no command rescue, the grammar alone hears commands: %s", exc)
        return None
