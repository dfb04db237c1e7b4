"""Words the recogniser cannot vouch for are neither acted on nor sent anywhere as text.

The real listener (the shipped wake word, the webrtcvad endpointer) hears real espeak-ng speech;
the recogniser is a stand-in whose answer the test chooses, and the router's skills and brain
refuse to be called.
"""

from __future__ import annotations

import numpy as np

from device.app import build_wake
from device.config.sources import load_config
from device.events import Heard, ListenMode
from device.listening.asr import PocketsphinxRecognizer, Transcript
from device.listening.listener import Listener
from device.listening.vad import EndpointSettings
from device.loop.router import BRAIN, NOT_CAUGHT, NOT_CAUGHT_REPLY, Router, decide
from device.sim.voices import Speaker, Voice, room, with_noise
from device.skills.intents import jsgf_grammar, parse
from device.speaking.tts import EspeakSynthesizer

CFG = load_config(paths=[], env={})


class ChosenAnswer:
    """A recogniser that answers what the test chose, whatever it hears."""

    name = "chosen"

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript

    def start(self) -> None: ...

    def feed(self, pcm: bytes) -> None: ...

    def finish(self) -> Transcript:
        return self.transcript


class Untouchable:
    """Skills and a brain that fail the test when asked anything."""

    def handle(self, intent: object) -> str:
        raise AssertionError(f"acted on {intent}")

    def reply(self, text: str, **kwargs: object) -> object:
        raise AssertionError(f"sent {text!r} to the brain")


def heard(transcript: Transcript) -> Heard:
    listener = Listener(build_wake(CFG), ChosenAnswer(transcript), EndpointSettings())
    speech = EspeakSynthesizer("en-us", 160, 50, volume_percent=100).synthesize("what time is it")
    listener.set_mode(ListenMode.UTTERANCE, "button")
    events = listener.process(speech + bytes(32000 * 2))
    assert len(events) == 1 and isinstance(events[0], Heard), events
    return events[0]


def test_an_unsure_guess_is_heard_without_words_and_the_device_says_so():
    event = heard(Transcript("set a timer for ten minutes", True, "chosen", confident=False))
    assert event.text == ""
    assert decide(event.text, CFG.wake.phrase) == NOT_CAUGHT
    router = Router(Untouchable(), Untouchable(), CFG.wake.phrase)
    name, reply = router.route(event.text)
    assert (name, list(reply)) == (NOT_CAUGHT, [NOT_CAUGHT_REPLY])


def test_a_confident_result_keeps_its_words():
    event = heard(Transcript("why is the sky blue", False, "chosen"))
    assert event.text == "why is the sky blue"
    assert decide(event.text, CFG.wake.phrase) == BRAIN


def test_the_first_utterance_after_start_is_heard_with_its_own_normalisation():
    """A fresh recogniser starts from pocketsphinx's generic cepstral mean; streamed from it, the
    first "read my notes" is misheard. The second pass decodes the utterance again with the
    mean of the utterance itself, and hears it."""
    rng = np.random.default_rng(0)
    speech = Speaker(Voice("en-us+m3", 150))("hey zero, read my notes")  # a tuning voice
    audio = np.concatenate(
        [room(rng, 0.3, 20.0), with_noise(speech, 20.0, rng), room(rng, 0.6, 20.0)]
    ).tobytes()

    def first_utterance(second_pass: bool) -> Transcript:
        recognizer = PocketsphinxRecognizer(
            jsgf_grammar(), lambda t: parse(t) is not None, wake_phrase="hey zero"
        )
        recognizer.second_pass = second_pass
        recognizer.phrase_said = True  # as after the wake word
        recognizer.start()
        for at in range(0, len(audio), 960):  # 30 ms frames, as the listener feeds it
            recognizer.feed(audio[at : at + 960])
        return recognizer.finish()

    streamed = first_utterance(False)
    assert parse(streamed.text) is None and not streamed.in_grammar  # a guess: no command
    second = first_utterance(True)
    assert (second.text, second.in_grammar, second.confident) == (
        "hey zero read my notes",
        True,
        True,
    )


def test_a_free_text_guess_after_the_wake_word_must_have_heard_the_phrase_right():
    recognizer = PocketsphinxRecognizer(jsgf_grammar(), wake_phrase="hey zero")
    recognizer.phrase_said = True
    assert recognizer._anchored("hey zero why is the sky blue")
    assert not recognizer._anchored("the the euro why is the sky blue")
    recognizer.phrase_said = False  # a button press: nothing to check the guess against
    assert recognizer._anchored("the the euro why is the sky blue")


def test_the_listener_tells_the_recogniser_whether_the_phrase_was_said():
    recognizer = PocketsphinxRecognizer(jsgf_grammar(), wake_phrase="hey zero")
    listener = Listener(build_wake(CFG), recognizer, EndpointSettings())
    listener.set_mode(ListenMode.UTTERANCE, "wake")
    assert recognizer.phrase_said
    listener.set_mode(ListenMode.WAKE)
    listener.set_mode(ListenMode.UTTERANCE, "button")
    assert not recognizer.phrase_said


def _after_the_phrase(phrase: str) -> tuple[bytes, bytes]:
    """(``phrase`` heard as the pre-roll, then "volume up"), in a tuning voice, at 20 dB."""
    rng = np.random.default_rng(0)
    say = Speaker(Voice("en-us+m3", 150))
    said = np.concatenate([room(rng, 0.3, 20.0), with_noise(say(phrase), 20.0, rng)])
    command = [room(rng, 0.2, 20.0), with_noise(say("volume up"), 20.0, rng), room(rng, 0.6, 20.0)]
    return said.tobytes(), np.concatenate(command).tobytes()


def _looked_at_twice(
    phrase: str, phrase_bytes: int | None = None
) -> tuple[Transcript, Transcript | None]:
    said, command = _after_the_phrase(phrase)
    recognizer = PocketsphinxRecognizer(
        jsgf_grammar(), lambda t: parse(t) is not None, wake_phrase="hey zero", second_pass=False
    )
    recognizer.adapt(said + command)
    recognizer.phrase_said = True
    recognizer.phrase_bytes = len(said) if phrase_bytes is None else phrase_bytes
    recognizer.start()
    audio = said + command
    for at in range(0, len(audio), 960):
        recognizer.feed(audio[at : at + 960])
    return recognizer.finish(), recognizer.second_look()


def test_the_second_look_leaves_out_a_phrase_that_ran_into_the_command():
    """Some voices' "hey zero" runs into the next word; heard with the phrase, "volume up" is
    taken for a question that starts "when". What followed the phrase, heard again, is the
    command."""
    first, second = _looked_at_twice("hey zero when")
    assert parse(first.text) is None and first.text.startswith("hey zero w"), first
    assert second is not None and second.text == "volume up"
    _, with_the_phrase = _looked_at_twice("hey zero when", phrase_bytes=0)
    assert with_the_phrase is None  # the whole utterance again: the same question


def test_no_second_look_when_the_phrase_was_said_and_not_heard():
    """A voice whose wake phrase the recogniser garbled is not being heard right; a second pass,
    which can only choose a command, would choose one anyway."""
    first, second = _looked_at_twice("the euro when")
    assert not first.confident and parse(first.text) is None
    assert second is None


def test_the_listener_tells_the_recogniser_how_much_of_the_start_is_the_phrase():
    recognizer = PocketsphinxRecognizer(jsgf_grammar(), wake_phrase="hey zero")
    listener = Listener(build_wake(CFG), recognizer, EndpointSettings(), preroll_seconds=0.5)
    listener.process(bytes(32000 * 3))  # three seconds of the room fill the pre-roll
    listener.set_mode(ListenMode.UTTERANCE, "wake")
    wanted = max(0.5, build_wake(CFG).phrase_seconds)  # the phrase, and at least the pre-roll
    assert wanted <= recognizer.phrase_bytes / 32000 < wanted + 0.03  # whole 30 ms frames
    listener.set_mode(ListenMode.WAKE)
    listener.set_mode(ListenMode.UTTERANCE, "button")
    assert not recognizer.phrase_said
