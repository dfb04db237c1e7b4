"""The one framing every listening stage shares: the same frames whatever the chunk size."""

from __future__ import annotations

import pytest

from device.listening.frames import FRAME_BYTES, Framer, frames, frames_in

AUDIO = bytes(range(256)) * 40  # 10,240 bytes: 10 whole frames and 640 bytes over


@pytest.mark.parametrize("chunk", [1, 7, 480, FRAME_BYTES, FRAME_BYTES + 1, 4096, len(AUDIO)])
def test_any_chunk_size_gives_the_same_frames(chunk: int):
    chunks = [AUDIO[i : i + chunk] for i in range(0, len(AUDIO), chunk)]
    got = list(frames(chunks))
    assert len(got) == len(AUDIO) // FRAME_BYTES == 10
    assert b"".join(got) == AUDIO[: 10 * FRAME_BYTES]


def test_a_framer_keeps_what_it_has_not_handed_out():
    framer = Framer()
    framer.push(AUDIO[:1000])
    assert framer.pop() == AUDIO[:FRAME_BYTES]
    assert framer.pop() is None  # 40 bytes wait for the rest of their frame
    assert framer.carried_bytes == 1000 - FRAME_BYTES
    framer.push(AUDIO[1000:2000])  # what was carried comes first
    assert framer.pop() == AUDIO[FRAME_BYTES : 2 * FRAME_BYTES]
    assert framer.pop() is None
    assert framer.carried_bytes == 2000 - 2 * FRAME_BYTES


def test_frames_in_counts_whole_frames():
    assert frames_in(0.5) == 16  # 16 frames of 30 ms
    assert frames_in(0.03) == 1
    assert frames_in(0.0) == 0
