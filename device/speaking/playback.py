"""The speaking half of the voice loop: a queue of replies in front of the speaker.

Replies are queued as ``begin``, audio, ``end`` items. A realtime speaker (PyAudio) is fed by
``run_realtime`` as fast as it accepts audio. In a simulation (``device.loop.pacing.Lockstep``)
the speaker has no clock of its own: ``advance(n)`` plays as much reply audio as the microphone
just delivered, which makes a reply take the same audio time as on the device.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from drivers.speaker import Speaker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Item:
    kind: str  # "begin" | "audio" | "end"
    reply_id: int | None  # None: a sound nobody waits for (an earcon)
    data: bytes = b""
    label: str = ""


class Playback:
    """Queues reply audio, applies the volume, and reports when each reply has been played.

    Reply ids are the caller's (the state machine numbers replies); ``on_finished`` is called
    with each one once its reply has been played, and never for a sound without an id.
    ``on_first_audio`` is called with a reply's id just before its first audio is handed to the
    speaker (which may be long after it was queued, behind an earcon or another reply)."""

    def __init__(
        self,
        speaker: Speaker,
        gain: Callable[[], float],
        on_finished: Callable[[int], None],
        on_first_audio: Callable[[int], None] = lambda reply_id: None,
    ) -> None:
        self.speaker = speaker
        self._gain = gain
        self._on_finished = on_finished
        self._on_first_audio = on_first_audio
        self._queue: collections.deque[_Item] = collections.deque()
        self._wakeup = asyncio.Event()
        self._playing = False  # a begin() has reached the speaker, its end() not yet
        self._silent_reply: int | None = None  # begun on the speaker, no audio of it played yet

    def begin_reply(self, reply_id: int | None, label: str) -> None:
        self._put(_Item("begin", reply_id, label=label))

    def add_audio(self, reply_id: int | None, pcm: bytes) -> None:
        self._put(_Item("audio", reply_id, pcm))

    def end_reply(self, reply_id: int | None) -> None:
        self._put(_Item("end", reply_id))

    def play_whole(self, label: str, pcm: bytes, reply_id: int | None = None) -> None:
        """Queue a reply made of one sound (an earcon)."""
        self.begin_reply(reply_id, label)
        self.add_audio(reply_id, pcm)
        self.end_reply(reply_id)

    @property
    def busy(self) -> bool:
        return bool(self._queue) or self._playing

    def abort(self) -> None:
        """Barge-in: drop everything queued and stop the speaker now."""
        self._queue.clear()
        self._silent_reply = None
        if self._playing:
            self.speaker.abort()
            self._playing = False

    def advance(self, nbytes: int) -> None:
        """Play up to ``nbytes`` of queued audio (microphone-paced speakers)."""
        while self._queue and (nbytes > 0 or self._queue[0].kind != "audio"):
            item = self._queue[0]
            if item.kind == "audio" and len(item.data) > nbytes:
                self._queue[0] = _Item("audio", item.reply_id, item.data[nbytes:])
                self._audio_out()
                self._play(item.data[:nbytes])
                return
            self._queue.popleft()
            self._handle(item)
            if item.kind == "audio":
                nbytes -= len(item.data)

    def advance_to_end(self) -> None:
        """Play everything queued (a simulation's microphone has ended)."""
        self.advance(10**12)

    async def run_realtime(self) -> None:
        """Feed a realtime speaker until cancelled."""
        while True:
            while not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            item = self._queue.popleft()
            if item.kind == "audio":
                self._audio_out()
                await asyncio.to_thread(self._play, item.data)
            elif item.kind == "end":
                await asyncio.to_thread(self.speaker.end)
                self._finish(item.reply_id)
            else:
                self._handle(item)

    def _put(self, item: _Item) -> None:
        self._queue.append(item)
        self._wakeup.set()

    def _handle(self, item: _Item) -> None:
        if item.kind == "begin":
            self.speaker.begin(item.label)
            self._playing = True
            self._silent_reply = item.reply_id
        elif item.kind == "audio":
            self._audio_out()
            self._play(item.data)
        else:
            self.speaker.end()
            self._finish(item.reply_id)

    def _audio_out(self) -> None:
        """Audio is about to reach the speaker: the first of its reply's, say so."""
        if self._silent_reply is not None:
            reply_id, self._silent_reply = self._silent_reply, None
            self._on_first_audio(reply_id)

    def _finish(self, reply_id: int | None) -> None:
        self._playing = False
        self._silent_reply = None
        if reply_id is not None:
            self._on_finished(reply_id)

    def _play(self, pcm: bytes) -> None:
        gain = self._gain()
        if gain != 1.0:
            samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) * gain
            pcm = samples.astype("<i2").tobytes()
        self.speaker.play(pcm)


@dataclass
class Volume:
    """Output level, applied to everything the speaker plays."""

    percent: int = 80
    muted: bool = False
    step: int = 10

    @property
    def gain(self) -> float:
        return 0.0 if self.muted else self.percent / 100

    def set(self, percent: int) -> int:
        self.percent = max(0, min(100, percent))
        self.muted = False
        return self.percent
