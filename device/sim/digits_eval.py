"""Numbers as people say them: the real spoken digits through the daemon's listener.

The folder holds ``{digit}_{speaker}_{index}.wav`` (8 kHz; the Free Spoken Digit Dataset). Each
speaker gets a freshly started listener; each recording is heard where the device hears a number
said alone, as the answer to a timer's "For how long?" (the follow-up it opens, the listener
expecting a length), at the level the device's own test speech has, in a quiet room. A digit is
heard right when the words the listener gives are that number; ``taken_for_a_command`` counts
recordings that would act out of that question (``decide`` knows no question asked).
"""

from __future__ import annotations

import re
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from device.app import build_listener
from device.config.schema import Config
from device.events import Heard, ListenMode
from device.loop.router import BRAIN, NOT_CAUGHT, decide
from device.sim.voices import SPEECH_DBFS, at_level, room
from device.skills.numbers import parse_number
from drivers.audio_format import RATE, read_wav

NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<index>\d+)\.wav$")
QUIET_DB = 40.0  # the room's noise this far under the speech


def _recordings(folder: Path, every: int) -> dict[str, list[tuple[int, Path]]]:
    """Speaker -> (digit, path) of every ``every``-th recording of each digit, in a fixed order."""
    by_speaker: dict[str, list[tuple[int, Path]]] = defaultdict(list)
    for path in sorted(folder.glob("*.wav")):
        match = NAME.match(path.name)
        if match and int(match["index"]) % every == 0:
            by_speaker[match["speaker"]].append((int(match["digit"]), path))
    for clips in by_speaker.values():
        clips.sort(key=lambda clip: (int(NAME.match(clip[1].name)["index"]), clip[0]))  # type: ignore[index]
    return dict(by_speaker)


def _heard_number(text: str) -> int | None:
    words = text.lower().replace("oh", "zero").split()
    return parse_number(" ".join(words)) if words else None


def _speaker_job(job: tuple[Config, list[tuple[int, Path]]]) -> list[tuple[bool, bool, bool]]:
    """(heard right, acted on as a command, first after start-up) for each recording."""
    cfg, clips = job
    rng = np.random.default_rng(0)
    listener = build_listener(cfg)
    listener.expecting = "length"
    listener.process(room(rng, 2.0, QUIET_DB).tobytes())
    results = []
    for n, (digit, path) in enumerate(clips):
        speech = at_level(np.frombuffer(read_wav(path), dtype="<i2"), SPEECH_DBFS)
        listener.process(room(rng, 0.6, QUIET_DB).tobytes())
        listener.set_mode(ListenMode.UTTERANCE, "follow_up")
        event = None
        audio = np.concatenate([speech, room(rng, cfg.vad.no_speech_timeout_seconds + 1, QUIET_DB)])
        data = audio.tobytes()
        for at in range(0, len(data), RATE // 5):
            if events := listener.process(data[at : at + RATE // 5]):
                event = events[0]
                break
        listener.set_mode(ListenMode.WAKE)
        text = event.text if isinstance(event, Heard) else ""
        decision = decide(text, cfg.wake.phrase) if text else NOT_CAUGHT
        results.append((_heard_number(text) == digit, decision not in (BRAIN, NOT_CAUGHT), n == 0))
    return results


def run_digits(cfg: Config, folder: Path, every: int = 5) -> dict[str, object]:
    """Shares of the recordings heard as their number, and taken for a command."""
    jobs = [(cfg, clips) for clips in _recordings(folder, every).values()]
    with ProcessPoolExecutor() as pool:
        results = [r for rs in pool.map(_speaker_job, jobs) for r in rs]
    if not results:
        return {"recordings": 0}
    return {
        "recordings": len(results),
        "speakers": len(jobs),
        "heard_right": round(sum(r[0] for r in results) / len(results), 4),
        "taken_for_a_command": round(sum(r[1] for r in results) / len(results), 4),
    }
