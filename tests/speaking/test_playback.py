"""A reply's first audio is reported when it is handed to the speaker, not when it was queued:
behind an earcon it waits for the earcon to be played. A real WavSpeaker, both ways a speaker
is fed: frame by frame (lockstep) and as fast as it accepts audio (realtime)."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest

from device.listening.frames import FRAME_BYTES
from device.speaking import earcons
from device.speaking.playback import Playback
from drivers.speaker import WavSpeaker

REPLY = b"\x10\x00" * 8000  # half a second


def _queued(playback: Playback) -> None:
    playback.play_whole("earcon wake", earcons.earcon("wake"))
    playback.begin_reply(7, "it is nine")
    playback.add_audio(7, REPLY[: len(REPLY) // 2])
    playback.add_audio(7, REPLY[len(REPLY) // 2 :])
    playback.end_reply(7)


def _frames(path: Path) -> int:
    with wave.open(str(path)) as wav:
        return wav.getnframes()


@pytest.mark.parametrize("fed", ["frame by frame", "realtime"])
def test_the_first_audio_of_a_reply_is_reported_as_it_reaches_the_speaker(
    tmp_path: Path, fed: str
) -> None:
    seen: list[tuple[int, list[Path]]] = []
    finished: list[int] = []
    with WavSpeaker(tmp_path) as speaker:

        def first_audio(reply_id: int) -> None:
            seen.append((reply_id, list(speaker.files)))

        async def play() -> None:
            playback = Playback(speaker, lambda: 1.0, finished.append, first_audio)
            _queued(playback)
            if fed == "frame by frame":
                while playback.busy:
                    playback.advance(FRAME_BYTES)
                return
            player = asyncio.create_task(playback.run_realtime())
            while not finished:
                await asyncio.sleep(0.01)
            player.cancel()

        asyncio.run(asyncio.wait_for(play(), 10))
    [(reply_id, files)] = seen  # once, for the reply; never for the earcon
    assert reply_id == 7 and finished == [7]
    earcon, reply = files  # the reply's file begun, the earcon's played in full before it
    assert _frames(earcon) == len(earcons.earcon("wake")) // 2
    assert _frames(reply) == len(REPLY) // 2  # and then the reply, all of it
