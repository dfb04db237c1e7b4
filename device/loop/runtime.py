"""The voice loop at run time: microphone, listener, state machine, replies, speaker.

One asyncio task reads the microphone and feeds the listener; facts from it, the buttons and the
timers go through ``states.transition``; this module carries out the commands. Each reply is
produced by a task (recognised text -> skill or brain -> sentences -> speech).

How time passes is not decided here: ``pacing`` is the live microphone's clock on the device and
a lockstep of 30 ms frames in simulations (``device.loop.pacing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

from device.cancel import Cancellation
from device.events import (
    Announce,
    Command,
    ConfirmationAsked,
    Event,
    FollowUpInvited,
    Heard,
    InterpretingStarted,
    Listen,
    ListenMode,
    PlayEarcon,
    RecorderStopped,
    ReplyFinished,
    ReplyStarted,
    Respond,
    ShowLed,
    StageFailed,
    StopSpeaking,
    TimerFinished,
    Trigger,
)
from device.listening.listener import Listener
from device.loop.follow_up import FollowUps
from device.loop.pacing import Pacing
from device.loop.router import Router
from device.loop.states import Machine, State, transition
from device.loop.timing import Timekeeper
from device.skills.recordings import STOPPED_BY
from device.skills.timers import Timers
from device.speaking import earcons
from device.speaking.answer import AnswerLimits, spoken_sentences
from device.speaking.playback import Playback, Volume
from device.speaking.sentences import joined
from device.speaking.tts import Synthesizer, speakable
from device.storage.recorder import Recorder
from device.storage.timings import TurnTiming
from drivers.errors import DriverError
from drivers.leds import LedPattern, StatusLight
from drivers.mic import Microphone
from drivers.speaker import Speaker

log = logging.getLogger(__name__)

# After the wake word or a press the earcon waits this much audio: a user who has gone on talking
# by then hears none (the canceller would damp their first words under it); one who paused
# hears it. Said on, espeak's "hey zero, what time is it" was well under way by then; pressed
# and said at once, "what time is it" was heard as a question.
WAKE_EARCON_WAIT_SECONDS = 0.4


@dataclass
class TurnReport:
    """One question and answer, for the demo and the bench."""

    trigger: Trigger
    heard: str
    in_grammar: bool
    intent: str  # an intent name, or "brain"
    said: str = ""
    at_seconds: float = 0.0  # audio time the speech ended
    timings_ms: dict[str, float] = field(default_factory=dict)
    reply_id: int | None = None
    reply_wav: str = ""  # set by the demo when the speaker writes files
    engine: str = ""  # the recogniser that heard it


@dataclass
class _Spoken:
    """What a reply said, and when its first sentence was queued (perf_counter seconds)."""

    text: str = ""
    first_sentence_ms: float = 0.0  # synthesising the first sentence
    first_audio_at: float | None = None


class Runtime:
    def __init__(
        self,
        *,
        mic: Microphone,
        listener: Listener,
        router: Router,
        synthesizer: Synthesizer,
        speaker: Speaker,
        light: StatusLight,
        timers: Timers,
        volume: Volume,
        pacing: Pacing,
        on_turn: Callable[[TurnReport], None] | None = None,
        on_state: Callable[[State], None] | None = None,
        on_tick: Callable[[float], None] | None = None,
        answer_limits: AnswerLimits | None = None,
        follow_ups: FollowUps | None = None,
        keep_timing: Callable[[TurnTiming], None] | None = None,
        recorder: Recorder | None = None,
        on_close: Callable[[], None] | None = None,
        voice_for: Callable[[str], Synthesizer] | None = None,
    ) -> None:
        self.mic = mic
        self.recorder = recorder  # given every chunk the microphone hears
        self.on_close = on_close  # when the run ends: what was built around the loop stops
        self.listener = listener
        self.router = router
        self.synthesizer = synthesizer
        self.voice_for = voice_for  # the synthesiser for a reply in another language, by code
        self.light = light
        self.timers = timers
        self.pacing = pacing
        self.on_turn = on_turn
        self.on_state = on_state
        self.on_tick = on_tick  # called with the audio time after each step
        self.answer_limits = answer_limits or AnswerLimits()  # how much of a reply is spoken
        self.follow_ups = follow_ups or FollowUps()
        self.machine = Machine(language=router.language)
        # Each turn's latency, stage by stage, kept by ``keep_timing`` (device.loop.timing).
        tts_engine = getattr(synthesizer, "name", type(synthesizer).__name__)
        self.timekeeper = Timekeeper(
            keep_timing, lambda: listener.seconds, pacing.speaker_clock, tts_engine
        )
        self.playback = Playback(
            speaker, lambda: volume.gain, self._reply_played, self.timekeeper.first_audio
        )
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._work: set[asyncio.Task[None]] = set()  # replies being produced
        self._cancels: set[Cancellation] = set()  # one per answer being produced
        self._wake_earcon_at: float | None = None  # audio time the wake earcon is due

    @property
    def state(self) -> State:
        return self.machine.state

    # ---- input from other threads (buttons) -----------------------------------------------
    def post(self, event: Event) -> None:
        """Queue an event from any thread (gpiozero calls button handlers on its own)."""
        if self._loop is None:
            raise RuntimeError("post() before run()")
        self._loop.call_soon_threadsafe(self._events.put_nowait, event)

    # ---- main loop -------------------------------------------------------------------------
    async def run(self) -> None:
        """Listen and answer until the microphone ends (files) or the task is cancelled."""
        self._loop = asyncio.get_running_loop()
        self.light.show(LedPattern.IDLE)
        player = asyncio.create_task(self.pacing.play(self.playback))
        try:
            await self._listen_until_end()
            await self.pacing.finish(self._work, self.playback)
        finally:
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player
            for task in self._work:
                task.cancel()
            await self.timekeeper.flush()
            self.router.brain.close()  # its MCP sessions: the loop that used them has ended
            if self.on_close is not None:
                self.on_close()

    async def _listen_until_end(self) -> None:
        while chunk := await self._read_mic():
            for audio in self.pacing.steps(chunk):
                self._listen(audio)
                await self._take_posted_events()
                await self.pacing.step_done(self._work, self.playback)

    async def _read_mic(self) -> bytes:
        """The next chunk; b"" once the microphone has ended or failed."""
        try:
            if self.mic.realtime:
                return await asyncio.to_thread(self.mic.read)
            return self.mic.read()
        except DriverError as exc:
            log.error("microphone failed: %s", exc)
            self._dispatch(StageFailed("mic", str(exc)))
            return b""

    def _listen(self, pcm: bytes) -> None:
        """Feed the recorder and the listener, react to each fact, then to timers that came
        due."""
        if self.recorder is not None and (stopped := self.recorder.feed(pcm)):
            self._dispatch(RecorderStopped(STOPPED_BY[stopped]))
        events = self.listener.process(pcm)
        while events:
            for event in events:
                self._dispatch(event)
            events = self.listener.process(b"")
        self._sound_wake_earcon()
        for timer in self.timers.pop_due():
            self._dispatch(TimerFinished(timer.name, timer.duration_seconds))

    async def _take_posted_events(self) -> None:
        if self.on_tick is not None:
            self.on_tick(self.listener.seconds)
        await asyncio.sleep(0)  # let button handlers' call_soon_threadsafe land
        while not self._events.empty():
            self._dispatch(self._events.get_nowait())

    # ---- the state machine and its commands ------------------------------------------------
    def _dispatch(self, event: Event) -> None:
        taken_at = time.perf_counter()
        machine, commands = transition(self.machine, event)
        before, self.machine = self.machine, machine
        if machine.state is not before.state:
            log.info("%s -> %s on %s", before.state, machine.state, type(event).__name__)
            if self.on_state is not None:
                self.on_state(machine.state)
        self.timekeeper.saw(event, before.state, commands, taken_at)
        for command in commands:
            self._execute(command)

    def _execute(self, command: Command) -> None:
        if isinstance(command, Listen):
            self.listener.set_mode(command.mode, command.trigger, command.no_speech_seconds)
        elif isinstance(command, ShowLed):
            self.light.show(self._shown(command.pattern))
        elif isinstance(command, PlayEarcon):
            if command.name == "wake" and self._listening_for_a_question():
                self._wake_earcon_at = self.listener.seconds + WAKE_EARCON_WAIT_SECONDS
            else:
                self._play_earcon(command.name)
        elif isinstance(command, Respond):
            answer = partial(self._answer, command.heard, command.reply_id, command.confirmed)
            self._start_work(command.reply_id, command.heard.text, answer)
        elif isinstance(command, Announce):
            speech = partial(self._speak, command.reply_id, command.text, iter([command.text]))
            self._start_work(command.reply_id, command.text, speech)
        elif isinstance(command, StopSpeaking):
            for cancel in self._cancels:
                cancel.cancel()  # closes a cloud answer's HTTP stream at once
            for task in self._work:
                task.cancel()
            self.playback.abort()

    def _voice(self, language: str) -> Synthesizer:
        """The device's own voice, or the one for a reply in ``language`` (a translation)."""
        if language and self.voice_for is not None:
            return self.voice_for(language)
        return self.synthesizer

    def _shown(self, pattern: LedPattern) -> LedPattern:
        """At rest while recording, the light says so."""
        recording = self.recorder is not None and self.recorder.active
        resting = pattern in (LedPattern.IDLE, LedPattern.OFFLINE)
        return LedPattern.RECORDING if recording and resting else pattern

    def _play_earcon(self, name: str) -> None:
        self.playback.play_whole(f"earcon {name}", earcons.earcon(name))

    def _listening_for_a_question(self) -> bool:
        """Recording what the wake word or a press began (not the answer to the device's own
        question, which the wearer waits for the earcon to give)."""
        return self.listener.mode is ListenMode.UTTERANCE and self.listener.trigger in (
            "wake",
            "button",
            "hold",
        )

    def _sound_wake_earcon(self) -> None:
        """The wake earcon, once due, unless the user has gone on talking or is beginning to (its
        echo would damp their first word), or it is too late."""
        if self._wake_earcon_at is None or self.listener.seconds < self._wake_earcon_at:
            return
        self._wake_earcon_at = None
        if self._listening_for_a_question() and not self.listener.endpointer.hears_voice:
            self._play_earcon("wake")

    def _start_work(self, reply_id: int, label: str, work: Callable[[], Awaitable[object]]) -> None:
        task = asyncio.create_task(self._reply_or_error(reply_id, label, work))
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _reply_or_error(
        self, reply_id: int, label: str, work: Callable[[], Awaitable[object]]
    ) -> None:
        """Produce a reply; if that fails, the reply is the error earcon (the turn still ends)."""
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:  # a failing skill, brain or TTS must not stop the loop
            log.exception("replying to %r failed", label)
            self.timekeeper.failed(reply_id)
            self.playback.play_whole("error", earcons.earcon("error"), reply_id)

    def _reply_played(self, reply_id: int) -> None:
        self.timekeeper.played(reply_id)
        self._dispatch(ReplyFinished(reply_id, self.listener.seconds))

    # ---- producing replies -----------------------------------------------------------------
    async def _answer(self, heard: Heard, reply_id: int, confirmed: str = "") -> None:
        """Route ``heard`` (or carry out the action ``confirmed`` by it) and say the reply."""
        heard_at = time.perf_counter()
        cancel = Cancellation()
        self._cancels.add(cancel)
        try:
            answer = await asyncio.to_thread(
                self.router.answer,
                heard.text,
                look=heard.trigger == "hold",
                cancel=cancel,
                heard=heard,
                confirmed=confirmed,
            )
            decided_at = time.perf_counter()
            self.listener.expecting = answer.expects
            self.timekeeper.decided(reply_id, answer.intent)
            fragments = self.timekeeper.watch(reply_id, answer.fragments)
            spoken = await self._speak(reply_id, heard.text, fragments, answer.language)
        finally:
            self._cancels.discard(cancel)
        asked = answer.asks()
        if answer.interpreting:  # once its announcement is queued: then every utterance
            self._dispatch(InterpretingStarted(reply_id))
        if asked is not None:  # only once the question is queued in full
            self._dispatch(ConfirmationAsked(reply_id, asked.action, asked.kept))
        elif not answer.language and self.follow_ups.invited_by(spoken.text):
            # (once queued in full; a translation's "?" is asked of someone else: no follow-up)
            self._dispatch(FollowUpInvited(reply_id, self.follow_ups.seconds))
        if self.on_turn is not None:
            self.on_turn(_report(heard, answer.intent, reply_id, spoken, heard_at, decided_at))

    async def _speak(
        self, reply_id: int, label: str, fragments: Iterator[str], language: str = ""
    ) -> _Spoken:
        """Split into sentences as fragments arrive, synthesise each, queue it. Splitting runs in
        the worker thread that waits for the fragments, off the event loop; a long answer is cut
        (``device.speaking.answer``)."""
        sentences = spoken_sentences(fragments, self.answer_limits)
        self.playback.begin_reply(reply_id, label)
        spoken = _Spoken()
        said: list[str] = []
        while (sentence := await asyncio.to_thread(next, sentences, None)) is not None:
            text = speakable(sentence)
            if not text:
                continue
            tts_started = time.perf_counter()
            pcm = await asyncio.to_thread(self._voice(language).synthesize, text)
            if not said:
                spoken.first_audio_at = time.perf_counter()
                spoken.first_sentence_ms = (spoken.first_audio_at - tts_started) * 1000
                self._dispatch(ReplyStarted(reply_id))
            said.append(text)
            self.playback.add_audio(reply_id, pcm)
        self.playback.end_reply(reply_id)
        spoken.text = joined(said)
        return spoken


def _report(
    heard: Heard, intent: str, reply_id: int, spoken: _Spoken, heard_at: float, decided_at: float
) -> TurnReport:
    """The turn for the demo and the bench: what was heard, decided and said, and how fast."""
    timings = dict(heard.timings_ms)
    timings["intent"] = (decided_at - heard_at) * 1000
    if spoken.first_audio_at is not None:
        timings["tts_first"] = spoken.first_sentence_ms
        timings["end_of_speech_to_first_audio"] = (
            timings.get("asr_final", 0.0) + (spoken.first_audio_at - heard_at) * 1000
        )
    return TurnReport(
        heard.trigger,
        heard.text,
        heard.in_grammar,
        intent,
        said=spoken.text,
        at_seconds=heard.speech_ended_at_seconds,
        timings_ms=timings,
        reply_id=reply_id,
        engine=heard.engine,
    )
