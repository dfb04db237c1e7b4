"""A user who talks over the device, for barge-in runs through a simulated echo path.

``InterruptingUser`` is a microphone (30 ms reads) for lockstep runs: once the device has been
idle for a second it says its next line; a line marked ``over_reply`` is said that many seconds
after the device starts speaking instead. Wrapped by ``drivers.echo_path.EchoPath`` it hears the
device's own replies too. It notes when each line ended, in microphone time, so a test or a
benchmark can say how long after "stop" the speaker was stopped.

    user = InterruptingUser([Line("hey zero, what time is it"), Line("stop", over_reply=1.0)],
                            state=lambda: runtime.state)
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from device.loop.states import State
from device.sim.demo import ROOM_NOISE_RMS, USER_VOICE
from device.speaking.tts import EspeakSynthesizer
from drivers.audio_format import BYTES_PER_SECOND, RATE
from drivers.base import Driver

FRAME = RATE * 30 // 1000  # samples per read
SETTLE_SECONDS = 1.0  # idle this long before the next line, as a person waits
PAUSE_SECONDS = 1.0
VOICED_LEVEL = 300  # sample magnitude above which the synthesised voice is sounding


@dataclass(frozen=True)
class Line:
    text: str
    over_reply: float | None = None  # seconds into the device's speech; None: when it is idle
    voice: tuple[str, int, int] = USER_VOICE  # espeak-ng voice, words per minute, pitch
    then: str = ""  # said after ``pause`` seconds (e.g. the question after "hey zero")
    pause: float = PAUSE_SECONDS


class InterruptingUser(Driver):
    """Room noise, and the user's lines said when the device is idle or speaking."""

    realtime = False
    chunk_frames = FRAME

    def __init__(self, lines: Sequence[Line], state: Callable[[], State], seed: int = 11) -> None:
        self._lines = collections.deque(lines)
        self._state = state
        self._rng = np.random.default_rng(seed)
        self._pending = np.zeros(0, np.float32)
        self._idle = 0  # samples idle, or speaking, in a row
        self._samples = 0  # samples delivered: the microphone's clock
        self.ended_at_seconds: list[float] = []  # microphone time each line ended

    def _due(self) -> bool:
        line = self._lines[0]
        state = self._state()
        waiting = state is State.IDLE if line.over_reply is None else state is State.SPEAKING
        self._idle = self._idle + FRAME if waiting else 0
        wait = SETTLE_SECONDS if line.over_reply is None else line.over_reply
        return self._idle >= wait * RATE

    def _say(self) -> None:
        line = self._lines.popleft()
        voice, rate, pitch = line.voice
        tts = EspeakSynthesizer(voice, rate, pitch, volume_percent=100)
        speech = np.frombuffer(tts.synthesize(line.text), "<i2").astype(np.float32)
        if line.then:
            rest = np.frombuffer(tts.synthesize(line.then), "<i2").astype(np.float32)
            speech = np.concatenate([speech, np.zeros(int(line.pause * RATE), np.float32), rest])
        self._pending = speech
        self._idle = 0
        # where the voice ends, not the synthesiser's trailing silence
        voiced = np.flatnonzero(np.abs(speech) > VOICED_LEVEL)
        end = int(voiced[-1]) + 1 if len(voiced) else len(speech)
        self.ended_at_seconds.append((self._samples + end) / RATE)

    def read(self) -> bytes:
        if not len(self._pending):
            if not self._lines:
                if self._state() is State.IDLE and self._idle >= SETTLE_SECONDS * RATE:
                    return b""
                self._idle = self._idle + FRAME if self._state() is State.IDLE else 0
            elif self._due():
                self._say()
        speech, self._pending = self._pending[:FRAME], self._pending[FRAME:]
        frame = self._rng.normal(0, ROOM_NOISE_RMS, FRAME).astype(np.float32)
        frame[: len(speech)] += speech
        self._samples += FRAME
        return np.clip(frame, -32768, 32767).astype("<i2").tobytes()

    @property
    def seconds(self) -> float:
        return self._samples * 2 / BYTES_PER_SECOND
