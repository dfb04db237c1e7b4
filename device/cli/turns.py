"""``zeropin turns``: how long the last turns took, stage by stage, with each stage's median and
95th percentile over the turns shown.

Each stage is in ms after the end of speech (what the wearer waits), except "listened": from the
trigger to the end of speech, on the audio clock. ``device.storage.timings`` says which clock
each stage is read on. Percentiles are nearest-rank: the p-th percentile of n values is the
ceil(p * n / 100)-th smallest, always a turn that happened (so the median of an even number of
turns is the lower of the middle two). A stage a turn never reached (no cloud token for a
local command, no last audio for a reply cut off) is left out of that stage's figures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from device.storage.timings import STAGES, TurnTiming, stage_figures


def as_json(timings: Sequence[TurnTiming]) -> str:
    turns = [asdict(t) | {"listened_ms": t.listened_ms} for t in timings]
    for turn in turns:
        for key, value in turn.items():
            if isinstance(value, float) and key.endswith("_ms"):
                turn[key] = round(value, 1)
    stages = {
        name: {key: round(value, 1) for key, value in figures.items()}
        for name, figures in stage_figures(timings).items()
    }
    return json.dumps({"turns": turns, "stages": stages, "percentiles": "nearest-rank"})


def as_table(timings: Sequence[TurnTiming]) -> str:
    """One line per turn, oldest first, then each stage's median and p95."""
    headings = " ".join(f"{heading:>8}" for _, heading, _ in STAGES)
    lines = [
        "ms after the end of speech (listened: from the trigger to it, audio clock)",
        f"{'time':8} {'trigger':7} {'intent':12} {headings}  {'ended':8} served by",
    ]
    for t in timings:
        stages = " ".join(_ms(getattr(t, name)) for name, _, _ in STAGES)
        served = " > ".join(filter(None, (t.wake_engine, t.asr_engine, t.tts_engine, t.provider)))
        when = time.strftime("%H:%M:%S", time.localtime(t.at))
        lines.append(f"{when:8} {t.trigger:7} {t.intent or '-':12} {stages}  {t.ended:8} {served}")
    summary = f"over these {len(timings)} turns, nearest-rank"
    lines += ["", f"{summary:42} {'turns':>5} {'median':>7} {'p95':>7}"]
    for name, figures in stage_figures(timings).items():
        label = next(label for field, _, label in STAGES if field == name)
        lines.append(
            f"  {label:40} {figures['turns']:>5.0f} {round(figures['median_ms']):>7} "
            f"{round(figures['p95_ms']):>7}"
        )
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return f"{'-' if value is None else round(value):>8}"


def print_turns(timings: Sequence[TurnTiming], database: Path, *, as_json_object: bool) -> None:
    if as_json_object:
        print(as_json(timings))
    elif not timings:
        print(f"no turns recorded yet in {database}: one is kept for each turn the daemon answers")
    else:
        print(as_table(timings))
