"""The English command rescue: when pocketsphinx's grammar heard no command, a classifier over the
speech embedding is asked (device/listening/command_rescue.py), and acted on only when it is sure
and the command is one the device may run on a guess."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from device.app import build_recognizer, build_wake
from device.config.sources import load_config
from device.errors import ModelError
from device.events import ListenMode
from device.listening.asr import PocketsphinxRecognizer
from device.listening.command_rescue import CommandRescue, pooled
from device.listening.listener import Listener
from device.listening.vad import EndpointSettings
from device.sim.voices import Speaker, Voice, room, with_noise
from device.skills.intents import jsgf_grammar, may_guess, parse
from device.system.paths import ENGLISH_COMMANDS, shipped_model


class Asked:
    """A rescue that answers ``answer`` and keeps what it was given: the recogniser's side of
    the hook, without the network."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.heard: list[bytes] = []

    def __call__(self, pcm: bytes) -> str | None:
        self.heard.append(pcm)
        return self.answer


def _said(text: str, voice: str = "en-us+m3", seed: int = 0) -> tuple[bytes, bytes]:
    """("hey zero", then ``text``) at 20 dB, as the listener hands them over after a wake word."""
    rng = np.random.default_rng(seed)
    say = Speaker(Voice(voice, 150))
    phrase = np.concatenate([room(rng, 0.3, 20.0), with_noise(say("hey zero"), 20.0, rng)])
    command = [room(rng, 0.2, 20.0), with_noise(say(text), 20.0, rng), room(rng, 0.6, 20.0)]
    return phrase.tobytes(), np.concatenate(command).tobytes()


def _heard(text: str, rescue: Asked, expecting: str = "", guesses: bool = True) -> str:
    phrase, command = _said(text)
    recognizer = PocketsphinxRecognizer(
        jsgf_grammar(),
        lambda t: parse(t) is not None,
        wake_phrase="hey zero",
        answers={"length": jsgf_grammar(expecting="length")},
        rescue=rescue,
    )
    recognizer.adapt(phrase + command)
    recognizer.phrase_said, recognizer.phrase_bytes = True, len(phrase)
    recognizer.expecting, recognizer.guesses = expecting, guesses
    recognizer.start()
    recognizer.feed(phrase + command)
    transcript = recognizer.finish()
    assert not rescue.heard or rescue.heard == [command]  # only what followed the phrase
    # a guess is credited as one, in the turn log and the demo's "heard_by"
    guessed = bool(rescue.heard) and rescue.answer is not None
    assert transcript.engine == ("pocketsphinx+rescue" if guessed else "pocketsphinx")
    return transcript.text if transcript.in_grammar else ""


def test_the_rescue_is_asked_only_when_the_grammar_heard_no_command():
    rescue = Asked("what time is it")
    assert _heard("why is the sky blue", rescue) == "what time is it"
    assert len(rescue.heard) == 1
    rescue = Asked("what time is it")
    assert parse(_heard("volume up", rescue)).name == "volume_up"
    assert rescue.heard == []


def test_an_unsure_rescue_leaves_the_utterance_unheard():
    rescue = Asked(None)
    assert _heard("why is the sky blue", rescue) == ""
    assert len(rescue.heard) == 1


def test_no_rescue_while_the_device_waits_for_an_answer():
    """After "For how long?" the length search listens; the rescue knows no lengths."""
    rescue = Asked("what time is it")
    assert _heard("why is the sky blue", rescue, expecting="length") == ""
    assert rescue.heard == []


def test_no_rescue_in_a_confirmation_or_a_translated_conversation():
    """The listener says so (``guesses``): in an answer to yes-or-no, only yes matters; in a
    conversation being translated, a guessed "stop" would end it."""
    rescue = Asked("stop")
    assert _heard("why is the sky blue", rescue, guesses=False) == ""
    assert rescue.heard == []
    cfg = load_config(paths=[], env={})
    recognizer = PocketsphinxRecognizer(jsgf_grammar(), wake_phrase="hey zero")
    listener = Listener(build_wake(cfg), recognizer, EndpointSettings())
    for trigger, guesses in (("interpret", False), ("answer", False), ("wake", True),
                             ("follow_up", True), ("button", True)):  # fmt: skip
        listener.set_mode(ListenMode.UTTERANCE, trigger)
        assert recognizer.guesses is guesses, trigger
        listener.set_mode(ListenMode.WAKE)


def test_nothing_after_the_phrase_is_not_asked_about():
    phrase = room(np.random.default_rng(0), 1.0, 20.0).tobytes()  # all of it counted as phrase
    rescue = Asked("what time is it")
    recognizer = PocketsphinxRecognizer(
        jsgf_grammar(), lambda t: parse(t) is not None, wake_phrase="hey zero", rescue=rescue
    )
    recognizer.phrase_said, recognizer.phrase_bytes = True, len(phrase)
    recognizer.start()
    recognizer.feed(phrase)
    assert not recognizer.finish().in_grammar and rescue.heard == []
    recognizer.phrase_bytes = len(phrase) // 2
    recognizer.start()
    recognizer.feed(phrase)
    assert recognizer.finish().text == "what time is it" and len(rescue.heard) == 1


def test_only_commands_safe_to_run_on_a_guess_are_rescued():
    for text in ("what time is it", "volume up", "stop", "read my notes", "set a timer", "mute"):
        assert may_guess(text), text
    for text in (
        "start recording",  # records the microphone to the card
        "stop recording",  # ends a meeting's recording
        "delete my notes",
        "forget everything",
        "cancel the timer",
        "set a timer for five minutes",  # a length the network cannot have heard
        "set the volume",
        "take a note",
        "why is the sky blue",
    ):
        assert not may_guess(text), text


def test_the_shipped_model_hears_commands_and_lets_questions_go():
    rescue = CommandRescue(shipped_model(ENGLISH_COMMANDS), may_guess)
    commands = ("what time is it", "take a photo")
    assert {text: rescue(_said(text)[1]) for text in commands} == {t: t for t in commands}
    for question in ("why is the sky blue", "tell me a joke about cats"):
        assert rescue(_said(question)[1]) is None, rescue.last_label
        assert rescue.last_label == "_unknown"
    # sure of a command the device may not guess at: not acted on, whatever its probability
    refused = CommandRescue(shipped_model(ENGLISH_COMMANDS), lambda text: False)
    assert refused(_said("what time is it")[1]) is None
    assert refused.last_label == "what time is it" and refused.last_probability > refused.threshold


def test_silence_is_no_command():
    rescue = CommandRescue(shipped_model(ENGLISH_COMMANDS), may_guess)
    rng = np.random.default_rng(0)
    assert rescue(room(rng, 1.5, 20.0).tobytes()) is None
    assert rescue(b"") is None  # too short for one embedding
    assert not pooled(np.zeros((0, 96), np.float32)).any()


def test_the_daemon_builds_pocketsphinx_with_the_rescue_unless_turned_off():
    pocketsphinx = ["asr.engine=pocketsphinx"]
    cfg = load_config(paths=[], env={}, overrides=pocketsphinx)
    assert isinstance(build_recognizer(cfg)._rescue, CommandRescue)
    cfg = load_config(paths=[], env={}, overrides=[*pocketsphinx, "asr.command_rescue=false"])
    assert build_recognizer(cfg)._rescue is None


def _copy(tmp_path: Path) -> Path:
    model = tmp_path / "en_commands.tflite"
    shipped = shipped_model(ENGLISH_COMMANDS)
    shutil.copy(shipped, model)
    shutil.copy(shipped.with_suffix(".json"), model.with_suffix(".json"))
    return model


def test_a_missing_or_changed_model_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="not found.*commands train --language en"):
        CommandRescue(tmp_path / "nothing.tflite", may_guess)
    model = _copy(tmp_path)
    manifest = tmp_path / "manifest.toml"
    entry = (Path(__file__).parents[2] / "models" / "manifest.toml").read_text()
    manifest.write_text(entry.replace('path = "commands/en_commands', f'path = "{model.stem}'))
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="sha256.*commands train --language en"):
        CommandRescue(model, may_guess, manifest_path=manifest)


def test_a_card_for_other_features_is_refused(tmp_path):
    model = _copy(tmp_path)
    card = json.loads(model.with_suffix(".json").read_text())
    card["features"]["pooling"] = ["mean"]
    model.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="en_commands.json: made for other features"):
        CommandRescue(model, may_guess)
    model.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="card of en_commands.tflite is missing"):
        CommandRescue(model, may_guess)


def test_a_rescue_that_will_not_load_leaves_the_grammar_alone(tmp_path, monkeypatch, caplog):
    from device.app import local_asr

    monkeypatch.setattr(local_asr, "shipped_model", lambda name: tmp_path / "gone.tflite")
    cfg = load_config(paths=[], env={}, overrides=["asr.engine=pocketsphinx"])
    recognizer = build_recognizer(cfg)
    assert isinstance(recognizer, PocketsphinxRecognizer) and recognizer._rescue is None
    assert "no command rescue, the grammar alone hears commands" in caplog.text
    assert "gone.tflite not found" in caplog.text
