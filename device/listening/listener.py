"""The listening half of the voice loop: microphone chunks in, facts out.

Chunks of any size are cut into 30 ms frames (a carried remainder keeps the cut identical for
every chunk size), so the wake word, the endpointer and the recogniser see the same frames and
make the same decisions whether the microphone delivers 10 ms or 100 ms at a time.

    listener = Listener(wake, recognizer, EndpointSettings(), preroll_seconds=0.5)
    for chunk in mic_chunks:
        for event in listener.process(chunk):
            ...  # WakeWordDetected, Heard, NothingHeard

While the device answers (``ListenMode.BARGE``) the wake word and the stop word are spotted on
the microphone with the device's own voice cancelled (``device.listening.echo``); the pre-roll
keeps the cancelled audio, so a question asked over a reply starts without its echo. The
recogniser too hears cancelled audio, so an earcon never reaches it. The canceller damps the
user's voice while anything plays (over the wake earcon it turned "what time is it" into "well
really think"): so the runtime sounds the wake earcon only for a user who paused after the wake
word or the press (``device.loop.runtime``).

The recogniser hears a quiet room raised to a floor under the voice (``device.listening.floor``):
pocketsphinx misheard a voice far above its room.

Speech the recogniser heard but could not vouch for (``Transcript.confident`` false) comes out as
``Heard`` with no text: it is not acted on and its guess goes nowhere, and the router answers
that it did not catch it.
"""

from __future__ import annotations

import collections
import logging
import math
import time
from dataclasses import dataclass

from device.events import (
    Event,
    Heard,
    ListenMode,
    NothingHeard,
    StopHeard,
    Trigger,
    WakeWordDetected,
)
from device.listening.asr import (
    Adaptable,
    ChecksWakePhrase,
    HasCepstralMean,
    ListensFor,
    Recognizer,
)
from device.listening.echo import EchoCancellation
from device.listening.floor import NoiseFloor
from device.listening.frames import FRAME_MS, Framer, frames_in
from device.listening.stop import StopSpotter
from device.listening.vad import Endpoint, Endpointer, EndpointSettings
from device.listening.wake import WakeWordDetector
from drivers.audio_format import RATE, SAMPLE_WIDTH

log = logging.getLogger(__name__)

# After the wake word over a reply: 0.3 s, for a question begun before the detector fired.
# With the whole phrase (as at rest), the damped phrase left "hey zero ... what time is it" not
# caught; with half a second, heard as a question for the brain.
BARGE_PREROLL_FRAMES = 10
ADAPT_SECONDS = 5.0  # speech heard idle that a recogniser adapts to the microphone from, once


@dataclass
class StageCpu:
    """CPU seconds spent per stage, and audio seconds seen, for ``zeropin bench``."""

    wake: float = 0.0
    stop: float = 0.0  # the stop word, while answering
    vad: float = 0.0
    asr: float = 0.0
    audio_seconds: float = 0.0
    asr_audio_seconds: float = 0.0  # audio the recogniser was fed


class Listener:
    """Pre-roll ring buffer, wake word, endpointer and recogniser, driven by ``mode``."""

    def __init__(
        self,
        wake: WakeWordDetector,
        recognizer: Recognizer,
        endpoint: EndpointSettings,
        preroll_seconds: float = 0.5,
        refractory_seconds: float = 2.0,
        echo: EchoCancellation | None = None,
        stop: StopSpotter | None = None,
        floor: NoiseFloor | None = None,
    ) -> None:
        self.wake = wake
        self.recognizer = recognizer
        # the room raised under the voice, for the recogniser only (``device.listening.floor``)
        self.floor = NoiseFloor() if floor is None else floor
        self.echo = echo
        self.stop = stop
        self.endpointer = Endpointer(endpoint)
        self.refractory_seconds = refractory_seconds
        self.cpu = StageCpu()
        self.mode = ListenMode.WAKE
        self.trigger: Trigger = "button"  # what started the utterance being recorded
        self._framer = Framer()
        self._frames = 0  # frames seen since the microphone opened: the audio clock
        # After a wake word the recogniser hears the whole phrase, which its grammar takes as an
        # optional prefix: from its tail alone ("oh, set a timer") it misheard the command.
        self._preroll_frames = frames_in(preroll_seconds)
        phrase_frames = math.ceil(wake.phrase_seconds * 1000 / FRAME_MS)
        self._wake_preroll_frames = max(self._preroll_frames, phrase_frames)
        self._preroll: collections.deque[bytes] = collections.deque(
            maxlen=max(1, self._wake_preroll_frames)
        )
        self._last_wake_frame = -(10**9)
        self._utterance = bytearray()  # what the recogniser heard of this utterance
        # what the microphone heard while idle, for a recogniser to adapt to before its first use
        self._idle: collections.deque[bytes] = collections.deque(maxlen=frames_in(ADAPT_SECONDS))
        # Capabilities are checked once, here: a pocketsphinx wake detector shares what it learnt
        # of the microphone; otherwise a recogniser that can adapt does so once, to idle speech.
        self._shared_cmn = (
            (wake, recognizer)
            if isinstance(wake, HasCepstralMean) and isinstance(recognizer, HasCepstralMean)
            else None
        )
        self._adaptable = recognizer if isinstance(recognizer, Adaptable) else None
        self._checks_phrase = recognizer if isinstance(recognizer, ChecksWakePhrase) else None
        self._listens_for = recognizer if isinstance(recognizer, ListensFor) else None
        # what the device's last reply asked to be told ("length"), for the recogniser to hear
        self.expecting = ""
        self._adapted = isinstance(wake, HasCepstralMean) or self._adaptable is None

    @property
    def seconds(self) -> float:
        """Audio time: seconds of audio processed since the microphone opened."""
        return self._frames * FRAME_MS / 1000

    @property
    def can_barge_in(self) -> bool:
        """Whether BARGE listens: only with a canceller (else the device hears itself), for the
        wake word and, with a spotter, "stop"."""
        return self.echo is not None

    @property
    def carried_bytes(self) -> int:
        """Bytes waiting for the rest of their frame."""
        return self._framer.carried_bytes

    def set_mode(
        self, mode: ListenMode, trigger: Trigger = "button", no_speech_seconds: float | None = None
    ) -> None:
        """Switch mode; entering UTTERANCE starts recognition with the pre-roll audio, which the
        wake word (``trigger="wake"``) stretches back to where its phrase can have begun. After
        the device's own words (the answer to its question, a follow-up) there is none: what the
        microphone heard just before is the device speaking.

        The trigger goes on the Heard fact; given again while recording, only it changes.
        ``no_speech_seconds``: how long to wait for speech to start, if not the endpointer's."""
        if mode is ListenMode.UTTERANCE:
            self.trigger = trigger
        if mode is self.mode:
            return
        if mode is ListenMode.WAKE:
            self.wake.reset()
        elif mode is ListenMode.BARGE:
            self.wake.reset()
            if self.stop is not None:
                self.stop.reset()
        elif mode is ListenMode.UTTERANCE:
            self.endpointer.begin(no_speech_seconds=no_speech_seconds)
            started = time.thread_time()
            self._share_acoustic_normalisation()
            # Heard over a reply, the wake phrase was damped by the canceller: the recogniser is
            # given what follows it (the question it began), and no phrase to check itself on
            barged = trigger == "wake" and self.mode is ListenMode.BARGE
            after_a_reply = {"answer": 0, "follow_up": 0, "interpret": 0}
            count = {"wake": self._wake_preroll_frames, **after_a_reply}.get(
                trigger, self._preroll_frames
            )
            count = BARGE_PREROLL_FRAMES if barged else count
            preroll = list(self._preroll)[-count:] if count else []
            if self._checks_phrase is not None:
                self._checks_phrase.phrase_said = trigger == "wake" and not barged
                self._checks_phrase.phrase_bytes = sum(map(len, preroll))
            if self._listens_for is not None:
                self._listens_for.expecting = self.expecting
                self._listens_for.guesses = trigger not in ("answer", "interpret")
            self.recognizer.start()
            self.floor.start(preroll, phrase=trigger == "wake" and not barged)
            for frame in preroll:
                self.recognizer.feed(self.floor.apply(frame))
            self._utterance = bytearray(b"".join(preroll))
            self.cpu.asr += time.thread_time() - started
            self.cpu.asr_audio_seconds += len(preroll) * FRAME_MS / 1000
        self.mode = mode

    def _share_acoustic_normalisation(self) -> None:
        """pocketsphinx adapts its cepstral mean to the microphone over a few seconds of speech;
        from its generic default it mishears the first utterance after start-up. A pocketsphinx
        wake detector has heard everything while idle, so the recogniser starts from its state;
        with another detector, the recogniser adapts once to the first seconds of speech heard
        idle (or to what there is, if woken sooner)."""
        if self._shared_cmn is not None:
            wake, recognizer = self._shared_cmn
            recognizer.cmn = wake.cmn
        else:
            self._adapt_to_idle_audio()

    def _adapt_to_idle_audio(self) -> None:
        """Once: it costs about 0.07 CPU s per second of audio here, so it is done while idle."""
        if not self._adapted and self._idle and self._adaptable is not None:
            self._adaptable.adapt(b"".join(self._idle))
        self._adapted = True
        self._idle.clear()

    def process(self, chunk: bytes) -> list[Event]:
        """Feed a microphone chunk of any length; returns the fact it produced, if any.

        Processing stops at the first fact and keeps the rest of the chunk: call ``process(b"")``
        after reacting to it (e.g. switching mode), until it returns nothing. The frame after a
        wake word then goes to the recogniser whatever the chunk size.
        """
        self.cpu.audio_seconds += len(chunk) / (RATE * SAMPLE_WIDTH)
        self._framer.push(chunk)
        while (frame := self._framer.pop()) is not None:
            event = self._process_frame(frame)
            if event is not None:
                return [event]
        return []

    def _process_frame(self, frame: bytes) -> Event | None:
        self._frames += 1
        if self.echo is not None:  # in every mode, so the reference keeps step with the mic
            cancel = self.mode is ListenMode.UTTERANCE or (
                self.mode is ListenMode.BARGE and self.can_barge_in
            )
            frame = self.echo.clean(frame) if cancel else self.echo.skip(frame)
        event: Event | None = None
        if self.mode is ListenMode.WAKE:
            event = self._spot_wake_word(frame)
            if not self._adapted and self.endpointer.is_speech(frame):
                self._idle.append(frame)
                if len(self._idle) == self._idle.maxlen:
                    self._adapt_to_idle_audio()
        elif self.mode is ListenMode.UTTERANCE:
            event = self._follow_utterance(frame)
        elif self.mode is ListenMode.BARGE and self.can_barge_in:
            event = self._spot_barge_in(frame)
        self._preroll.append(frame)
        self.floor.hear(frame)
        return event

    def _spot_wake_word(self, frame: bytes) -> Event | None:
        started = time.thread_time()
        detected = self.wake.process(frame)
        self.cpu.wake += time.thread_time() - started
        refractory_frames = self.refractory_seconds * 1000 / FRAME_MS
        if not detected or self._frames - self._last_wake_frame < refractory_frames:
            return None
        self._last_wake_frame = self._frames
        log.debug("wake word at %.2f s", self.seconds)
        return WakeWordDetected(self.seconds, self.wake.name)

    def _spot_barge_in(self, frame: bytes) -> Event | None:
        """The wake word (a new question) or the stop word, over the device's own voice."""
        if (event := self._spot_wake_word(frame)) is not None:
            return event
        if self.stop is None:  # [wake] stop_word = false
            return None
        started = time.thread_time()
        heard = self.stop.process(frame)
        self.cpu.stop += time.thread_time() - started
        if not heard:
            return None
        log.debug("stop word at %.2f s", self.seconds)
        return StopHeard(self.seconds)

    def _follow_utterance(self, frame: bytes) -> Event | None:
        started = time.thread_time()
        # What is left of the device's own sound (an earcon, the reply just stopped) after the
        # canceller must not start an utterance, but a voice over it must: a short command said
        # as the wake earcon sounds would end before the earcon's echo has died away.
        echoing = self.echo is not None and self.echo.mostly_echo
        endpoint = self.endpointer.process(frame, may_start=not echoing)
        vad_done = time.thread_time()
        self.cpu.vad += vad_done - started
        if endpoint is Endpoint.NO_SPEECH:
            self.mode = ListenMode.OFF
            self.recognizer.finish()
            return NothingHeard("no speech")
        self.recognizer.feed(self.floor.apply(frame))
        self._utterance += frame
        self.cpu.asr += time.thread_time() - vad_done
        self.cpu.asr_audio_seconds += FRAME_MS / 1000
        if endpoint not in (Endpoint.SPEECH_ENDED, Endpoint.TOO_LONG):
            return None
        return self._finish_utterance()

    def _finish_utterance(self) -> Event:
        self.mode = ListenMode.OFF
        wall, cpu = time.perf_counter(), time.thread_time()
        transcript = self.recognizer.finish()
        self.cpu.asr += time.thread_time() - cpu
        asr_ms = (time.perf_counter() - wall) * 1000
        text = transcript.text.strip()
        if not text and not transcript.not_understood:
            return NothingHeard("empty transcript")
        log.debug(
            "heard %r (in grammar: %s, confident: %s)",
            text,
            transcript.in_grammar,
            transcript.confident,
        )
        if not transcript.confident:
            text = ""  # words nobody can vouch for: the device says it did not catch them
        audio, self._utterance = bytes(self._utterance), bytearray()
        return Heard(
            text,
            transcript.in_grammar,
            self.seconds,
            self.trigger,
            {"asr_final": asr_ms},
            engine=transcript.engine,
            verbatim=transcript.verbatim,
            audio=audio,
        )
