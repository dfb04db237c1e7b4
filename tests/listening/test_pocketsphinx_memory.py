"""The pocketsphinx recogniser as shipped: a grammar decoder that holds only its grammar's words,
and a free-text decoder only where a cloud brain reads words no cloud transcribes.

Memory is measured in a fresh process (peak RSS is a process's high-water mark, so one that has
built other decoders says nothing); the figures are printed for the record, and the assertion is
only that the grammar-only recogniser is the smaller by the language model's order of size.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from device.app import build_recognizer
from device.config.sources import load_config
from device.listening.asr import PocketsphinxRecognizer, grammar_words
from device.sim.voices import Speaker, Voice, room, with_noise
from device.skills.intents import jsgf_grammar, parse

NO_VOSK = ["asr.vosk_model=/nonexistent/vosk"]
VOICE = Speaker(Voice("en-us", 165))  # a tuning voice


def recognise(recognizer: PocketsphinxRecognizer, text: str):
    rng = np.random.default_rng(0)
    speech = with_noise(VOICE(text), 20.0, rng)
    audio = np.concatenate([room(rng, 0.3, 20.0), speech, room(rng, 0.6, 20.0)]).tobytes()
    recognizer.start()
    for at in range(0, len(audio), 960):
        recognizer.feed(audio[at : at + 960])
    return recognizer.finish()


def test_the_grammar_words_are_the_words_its_rules_can_say():
    words = grammar_words(jsgf_grammar("hey zero"))
    assert {"hey", "zero", "timer", "minutes", "note", "unmute", "don't"} <= words
    # rule names, weights and the header are not words
    assert not any(w.startswith(("<", "/", "#")) or w in {"public", "grammar"} for w in words)
    assert not any(set(w) & set("()[]|;=*+") for w in words)


def test_commands_are_heard_with_the_grammar_alone_and_a_question_is_a_guess():
    recognizer = PocketsphinxRecognizer(
        jsgf_grammar(), lambda t: parse(t) is not None, wake_phrase="hey zero"
    )
    assert not recognizer.decodes_free_text
    recognizer.phrase_said = True
    command = recognise(recognizer, "hey zero, set a timer for ten minutes")
    assert (command.text, command.in_grammar, command.confident) == (
        "hey zero set a timer for ten minutes",
        True,
        True,
    )
    question = recognise(recognizer, "hey zero, why is the sky blue")
    # the grammar's question branch: enough to tell a question from silence, not its words
    assert (question.in_grammar, question.confident) == (False, True)
    assert question.text.startswith("hey zero ") and parse(question.text) is None


def test_free_text_is_decoded_only_for_a_cloud_brain_that_nobody_transcribes_for(tmp_path):
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    from device.cloud.providers import Provider
    from device.egress import EgressGate, Ledger
    from device.storage.database import Database
    from drivers.leds import PrivacyLed

    cfg = load_config(paths=[], env={}, overrides=NO_VOSK)
    chat = Provider(name="chat", base_url="http://127.0.0.1:9/v1", model="m")
    hears = Provider(
        name="hears", base_url="http://127.0.0.1:9/v1", model="m", transcription_model="w"
    )
    Device.pin_factory = MockFactory()
    try:
        with Database(tmp_path / "z.db") as db, PrivacyLed(16) as led:
            gate = EgressGate(Ledger(db), led)
            offline = build_recognizer(cfg, [], gate)
            assert isinstance(offline, PocketsphinxRecognizer) and not offline.decodes_free_text
            chat_only = build_recognizer(cfg, [chat], gate)
            assert isinstance(chat_only, PocketsphinxRecognizer) and chat_only.decodes_free_text
            transcribed = build_recognizer(cfg, [chat, hears], gate)
            assert not transcribed.local.decodes_free_text  # type: ignore[attr-defined]
    finally:
        Device.pin_factory.close()
        Device.pin_factory = None


MEASURE = """
import sys
from device.listening.asr import PocketsphinxRecognizer
from device.skills.intents import jsgf_grammar
PocketsphinxRecognizer(jsgf_grammar(), free_text=sys.argv[1] == "free")
# VmHWM: this program's own peak (ru_maxrss would include the parent's, from before the exec)
print(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


def test_the_grammar_only_recogniser_leaves_out_the_language_model():
    def peak_mb(kind: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", MEASURE, kind],
            capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2],
        )  # fmt: skip
        return int(out.stdout) / 1024  # kB

    grammar, free = peak_mb("grammar"), peak_mb("free")
    print(f"\npeak RSS of a process with the recogniser: grammar {grammar:.0f} MB, "
          f"with free text {free:.0f} MB")  # fmt: skip
    assert free - grammar > 60  # the language model and full dictionary: about 90 MB
