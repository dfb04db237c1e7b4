"""How time passes for the voice loop: a live microphone's clock, or a simulation's steps.

``Realtime`` (the device, ``zeropin run``): the microphone is the clock. The loop reacts once per
chunk, replies are made while it listens on, and the speaker plays them on its own.

``Lockstep`` (the demo, the bench, the tests, ``zeropin run --lockstep``: a recording or a
scripted user, replies written to files): nothing waits for a clock. Time advances one 30 ms
frame at a time; before the next frame is heard, each turn's work is finished and the speaker
plays the same 30 ms of reply. A run is then the same in audio time on any machine and for any
chunk size (when a reply ends, a timer fires or the wake word is re-armed), and it takes only
as long as the work does.

    runtime = Runtime(..., pacing=Lockstep())
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Set
from typing import Literal, Protocol

from device.listening.frames import FRAME_BYTES, Framer
from device.speaking.playback import Playback

Work = Set[asyncio.Task[None]]  # the replies being made
# The clock the speaker plays by: the wall clock, or the audio clock of the microphone's frames.
SpeakerClock = Literal["wall", "audio"]


class Pacing(Protocol):
    speaker_clock: SpeakerClock

    def steps(self, chunk: bytes) -> Iterator[bytes]:
        """The microphone chunk cut into the audio the loop hears before each reaction."""
        ...

    async def play(self, playback: Playback) -> None:
        """Play replies for as long as the loop runs (cancelled at its end)."""
        ...

    async def step_done(self, work: Work, playback: Playback) -> None:
        """After the loop has reacted to a step."""
        ...

    async def finish(self, work: Work, playback: Playback) -> None:
        """After the microphone ended: let the replies being made and played finish."""
        ...


class Realtime:
    """A live microphone is the clock: nothing waits for the work, the speaker keeps its pace."""

    speaker_clock: SpeakerClock = "wall"

    def steps(self, chunk: bytes) -> Iterator[bytes]:
        yield chunk

    async def play(self, playback: Playback) -> None:
        await playback.run_realtime()

    async def step_done(self, work: Work, playback: Playback) -> None:
        return None

    async def finish(self, work: Work, playback: Playback) -> None:
        if work:
            await asyncio.wait(work)  # never raises: the runtime logs a reply's failure
        while playback.busy:
            await asyncio.sleep(0.05)


class Lockstep:
    """The simulation's clock: one 30 ms frame at a time, each turn's work finished in between.

    One per run: it carries the part of a frame that a chunk ended in."""

    speaker_clock: SpeakerClock = "audio"  # 30 ms of reply per 30 ms frame heard

    def __init__(self) -> None:
        self._framer = Framer()  # cuts where the listener's own framer does: both start at 0

    def steps(self, chunk: bytes) -> Iterator[bytes]:
        self._framer.push(chunk)
        while (frame := self._framer.pop()) is not None:
            yield frame

    async def play(self, playback: Playback) -> None:
        return None  # step_done plays the replies, frame by frame

    async def step_done(self, work: Work, playback: Playback) -> None:
        if work:
            await asyncio.wait(work)
        playback.advance(FRAME_BYTES)

    async def finish(self, work: Work, playback: Playback) -> None:
        if work:
            await asyncio.wait(work)
        playback.advance_to_end()
