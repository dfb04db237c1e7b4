"""A turn's latency as a waterfall: one bar per stage the wearer waited through, from the end of
their speech to the end of the reply, on a scale shared by the turns drawn together.

The stages are those of ``device.storage.timings`` (``zeropin turns`` prints the same figures):
recognising, deciding who answers, the cloud's first token, the first audio, speaking. A stage
the turn never reached (no cloud for a local command, no last audio for a reply cut off) has no
bar. The page draws the bars as SVG (``templates/turns.html``); nothing here knows HTML.

Example::

    scale = scale_ms(timings)
    for bar in bars(timing, scale):
        print(bar.label, bar.start_ms, bar.end_ms, bar.x, bar.width)  # x, width: 0..100
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from device.storage.timings import TurnTiming

__all__ = ["Bar", "bars", "scale_ms", "ticks"]


@dataclass(frozen=True)
class Bar:
    label: str
    kind: str  # a CSS class: which colour
    start_ms: float  # after the end of speech
    end_ms: float
    x: float  # left edge, percent of the scale
    width: float  # percent of the scale, at least a sliver so a 1 ms stage still shows
    clipped: bool  # the stage runs on past the scale's end

    @property
    def ms(self) -> float:
        return self.end_ms - self.start_ms


# (label, kind, the field the stage ends at); each starts where the last one reached ended
_STAGES = (
    ("recognise", "asr", "asr_final_ms"),
    ("decide", "intent", "intent_ms"),
    ("cloud", "cloud", "first_token_ms"),
    ("voice", "tts", "first_audio_ms"),
    ("speak", "speak", "last_audio_ms"),
)
_MIN_WIDTH = 0.4  # percent


def _reached(timing: TurnTiming) -> list[tuple[str, str, float, float]]:
    stages, start = [], 0.0
    for label, kind, name in _STAGES:
        end = getattr(timing, name)
        if end is None:
            continue
        end = max(float(end), start)  # clocks differ by a little; a stage never runs backwards
        stages.append((label, kind, start, end))
        start = end
    return stages


def scale_ms(timings: Sequence[TurnTiming]) -> float:
    """A round number of ms (200, 500, 1000, 2000...) that holds the wait of the slowest turn:
    up to its first audio. Speaking runs past the scale: its length is in its label; the wait
    is what the picture is for, and a 15 s answer would squeeze it to slivers."""
    waits = [end for t in timings for label, _, _, end in _reached(t) if label != "speak"]
    longest = max(waits, default=0.0)
    step = 10 ** max(2, math.floor(math.log10(max(longest, 1.0))))
    for factor in (1, 2, 5, 10):
        if longest <= factor * step:
            return float(factor * step)
    return float(10 * step)  # pragma: no cover - the loop's last factor always holds


def bars(timing: TurnTiming, scale: float) -> list[Bar]:
    """The turn's stages as bars on ``scale`` ms (``scale_ms``); a bar past it is clipped."""
    drawn = []
    for label, kind, start, end in _reached(timing):
        x = min(100.0 - _MIN_WIDTH, 100.0 * start / scale)
        width = max(_MIN_WIDTH, min(100.0 - x, 100.0 * (end - start) / scale))
        drawn.append(Bar(label, kind, start, end, x, width, clipped=end > scale))
    return drawn


def ticks(scale: float) -> list[tuple[str, float]]:
    """Three labelled ticks across the scale: ("0 s", 0.0), ("0.5 s", 50.0), ("1 s", 100.0)."""
    return [(f"{scale * i / 2 / 1000:g} s", 50.0 * i) for i in range(3)]
