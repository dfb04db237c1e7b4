"""The voice loop at run time: microphone, listener, state machine, replies, speaker.

One asyncio task reads the microphone and feeds the listener; facts from it, the buttons and the
timers go through ``states.transition``; this module carries out the commands. Replies are
produced by a task per turn (recognised text -> skill or brain -> sentences -> speech).

In ``lockstep`` mode (file microphone, file speaker) the microphone task waits for each turn's
work before reading on and paces the speaker itself, so a run is deterministic in audio time and
much faster than real time. With a live microphone nothing waits: the microphone is the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from device.cancel import Cancellation
from device.events import (
    Announce,
    ButtonHeld,
    ButtonPressed,
    Command,
    Event,
    Heard,
    Listen,
    PlayEarcon,
    ReplyFinished,
    ReplyStarted,
    Respond,
    ShowLed,
    StageFailed,
    StopSpeaking,
    TimerFinished,
    WakeWordDetected,
)
from device.listening.frames import FRAME_BYTES
from device.listening.listener import Listener
from device.loop.router import Router
from device.loop.states import State, transition
from device.skills.timers import Timers
from device.speaking import earcons
from device.speaking.playback import Playback, Volume
from device.speaking.sentences import SentenceSplitter
from device.speaking.tts import Synthesizer, speakable
from drivers.errors import DriverError
from drivers.leds import LedPattern, StatusLight
from drivers.mic import Microphone
from drivers.speaker import Speaker

log = logging.getLogger(__name__)


@dataclass
class TurnReport:
    """One question and answer, for the demo and the bench."""

    trigger: str  # "wake" | "button"
    heard: str
    in_grammar: bool
    intent: str  # an intent name, or "brain"
    said: str = ""
    at_seconds: float = 0.0  # audio time the speech ended
    timings_ms: dict[str, float] = field(default_factory=dict)
    reply_id: int | None = None
    reply_wav: str = ""  # set by the demo when the speaker writes files


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
        lockstep: bool,
        on_turn: Callable[[TurnReport], None] | None = None,
        on_state: Callable[[State], None] | None = None,
        on_tick: Callable[[float], None] | None = None,
    ) -> None:
        self.mic = mic
        self.listener = listener
        self.router = router
        self.synthesizer = synthesizer
        self.light = light
        self.timers = timers
        self.lockstep = lockstep
        self.on_turn = on_turn
        self.on_state = on_state
        self.on_tick = on_tick
        self.state = State.IDLE
        self.playback = Playback(speaker, lambda: volume.gain, self._reply_played)
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._work: set[asyncio.Task[None]] = set()  # replies being produced
        self._reply_id: int | None = None  # the reply the state machine is waiting for
        self._trigger = "wake"  # what started the current turn: "wake" | "button" | "hold"
        self._cancels: set[Cancellation] = set()  # one per reply being produced

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
        player = None if self.lockstep else asyncio.create_task(self.playback.run_realtime())
        try:
            await self._listen_until_end()
            await self._drain()
        finally:
            if player is not None:
                player.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await player
            for task in self._work:
                task.cancel()

    async def _listen_until_end(self) -> None:
        while True:
            try:
                chunk = (
                    await asyncio.to_thread(self.mic.read) if self.mic.realtime else self.mic.read()
                )
            except DriverError as exc:
                log.error("microphone failed: %s", exc)
                self._dispatch(StageFailed("mic", str(exc)))
                return
            if not chunk:
                return
            await self._step(chunk)

    async def _step(self, chunk: bytes) -> None:
        if not self.lockstep:  # a live microphone is the clock: react once per chunk
            self._listen(chunk)
            await self._take_posted_events()
            return
        # Simulation: advance everything one 30 ms frame at a time, so that when a reply ends,
        # a timer fires or the wake word is re-armed does not depend on the chunk size.
        offset = 0
        while offset < len(chunk):
            need = FRAME_BYTES - self.listener.carried_bytes
            piece = chunk[offset : offset + need]
            offset += len(piece)
            self._listen(piece)
            if len(piece) < need:
                break  # the frame completes with the next chunk
            await self._take_posted_events()
            if self._work:
                await asyncio.wait(self._work)  # never raises: failures are logged by _respond
            self.playback.advance(FRAME_BYTES)

    def _listen(self, pcm: bytes) -> None:
        """Feed the listener, react to each fact, then to timers that came due."""
        events = self.listener.process(pcm)
        while events:
            for event in events:
                self._dispatch(event)
            events = self.listener.process(b"")
        for timer in self.timers.pop_due():
            self._dispatch(TimerFinished(timer.name, timer.duration_seconds))

    async def _take_posted_events(self) -> None:
        if self.on_tick is not None:
            self.on_tick(self.listener.seconds)
        await asyncio.sleep(0)  # let button handlers' call_soon_threadsafe land
        while not self._events.empty():
            self._dispatch(self._events.get_nowait())

    async def _drain(self) -> None:
        """After the microphone ends, let the last reply finish (file runs)."""
        if self._work:
            await asyncio.wait(self._work)
        if self.lockstep:
            self.playback.advance(10**12)
        else:
            while self.playback.busy:
                await asyncio.sleep(0.05)

    # ---- the state machine and its commands ------------------------------------------------
    def _dispatch(self, event: Event) -> None:
        if isinstance(event, WakeWordDetected):
            self._trigger = "wake"
        elif isinstance(event, ButtonPressed):
            self._trigger = "button"
        elif isinstance(event, ButtonHeld):  # arrives while listening: the question is visual
            self._trigger = "hold"
        state, commands = transition(self.state, event)
        if state is not self.state:
            log.info("%s -> %s on %s", self.state, state, type(event).__name__)
            self.state = state
            if self.on_state is not None:
                self.on_state(state)
        for command in commands:
            self._execute(command)

    def _execute(self, command: Command) -> None:
        if isinstance(command, Listen):
            self.listener.set_mode(command.mode, command.after_wake)
        elif isinstance(command, ShowLed):
            self.light.show(command.pattern)
        elif isinstance(command, PlayEarcon):
            reply = self.playback.new_reply(f"earcon {command.name}")
            self.playback.add_audio(reply, earcons.earcon(command.name))
            self.playback.end_reply(reply)
        elif isinstance(command, Respond):
            self._start_work(self._respond(command.heard))
        elif isinstance(command, Announce):
            self._start_work(self._speak_announcement(command.text))
        elif isinstance(command, StopSpeaking):
            for cancel in self._cancels:
                cancel.cancel()  # closes a cloud answer's HTTP stream at once
            for task in self._work:
                task.cancel()
            self._reply_id = None
            self.playback.abort()

    def _start_work(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    def _reply_played(self, reply_id: int) -> None:
        if reply_id == self._reply_id:
            self._reply_id = None
            self._dispatch(ReplyFinished())

    # ---- producing replies -----------------------------------------------------------------
    async def _respond(self, heard: Heard) -> None:
        try:
            await self._answer(heard)
        except asyncio.CancelledError:
            raise
        except Exception:  # a failing skill, brain or TTS must not stop the loop
            log.exception("answering %r failed", heard.text)
            reply_id = self.playback.new_reply("error")
            self._reply_id = reply_id
            self.playback.add_audio(reply_id, earcons.earcon("error"))
            self.playback.end_reply(reply_id)

    async def _answer(self, heard: Heard) -> None:
        heard_at = time.perf_counter()
        report = TurnReport(
            self._trigger,
            heard.text,
            heard.in_grammar,
            "",
            at_seconds=heard.speech_ended_at_seconds,
        )
        report.timings_ms.update(heard.timings_ms)
        cancel = Cancellation()
        self._cancels.add(cancel)
        try:
            intent, fragments = await asyncio.to_thread(
                self.router.route, heard.text, look=self._trigger == "hold", cancel=cancel
            )
            report.intent = intent
            report.timings_ms["intent"] = (time.perf_counter() - heard_at) * 1000
            said = await self._speak(heard.text, fragments, report, heard_at)
        finally:
            self._cancels.discard(cancel)
        report.said = said
        if self.on_turn is not None:
            self.on_turn(report)

    async def _speak_announcement(self, text: str) -> None:
        await self._speak(text, iter([text]), None, time.perf_counter())

    async def _speak(
        self, label: str, fragments: Iterator[str], report: TurnReport | None, started: float
    ) -> str:
        """Split into sentences as fragments arrive, synthesise each, queue it; return the text."""
        splitter = SentenceSplitter()
        reply_id = self.playback.new_reply(label)
        self._reply_id = reply_id
        if report is not None:
            report.reply_id = reply_id
        said: list[str] = []
        iterator = iter(fragments)
        while True:
            fragment = await asyncio.to_thread(next, iterator, None)
            sentences = splitter.flush() if fragment is None else splitter.feed(fragment)
            for sentence in sentences:
                text = speakable(sentence)
                if not text:
                    continue
                tts_started = time.perf_counter()
                pcm = await asyncio.to_thread(self.synthesizer.synthesize, text)
                if not said:
                    self._dispatch(ReplyStarted())
                    if report is not None:
                        now = time.perf_counter()
                        report.timings_ms["tts_first"] = (now - tts_started) * 1000
                        report.timings_ms["end_of_speech_to_first_audio"] = (
                            report.timings_ms.get("asr_final", 0.0) + (now - started) * 1000
                        )
                said.append(text)
                self.playback.add_audio(reply_id, pcm)
            if fragment is None:
                break
        self.playback.end_reply(reply_id)
        return " ".join(said)
