"""An hour of a wearable's day through the daemon, replayed as fast as the machine allows.

About a hundred requests ("hey zero, ..." and a command or a question) said by four espeak-ng
voices, between silences and loud bursts of noise and other talk, with a cloud provider (the
loopback server) configured. The daemon (``assemble``, as ``zeropin run`` builds it, in
lockstep) hears the whole recording; each request is matched with the turn that followed it:

- a command is decided *locally* when its intent is the one its words mean;
- it went *to the brain* when it was taken for a question (text the cloud had to answer);
- *not caught* when the device said it did not catch it, *missed* when it never woke.

The provider has no transcription model: the figures are the device's own recognition. The
process's resident memory is sampled every five minutes of audio, so a leak shows as a slope.

    python -m device.sim.soak --minutes 62 --out soak/ [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from device.app import assemble
from device.config.schema import Config
from device.config.sources import load_config
from device.loop.pacing import Lockstep
from device.loop.router import BRAIN, NOT_CAUGHT, decide
from device.loop.runtime import TurnReport
from device.sim.cloud_demo import loopback_provider
from device.sim.intents_eval import COMMANDS, QUESTIONS
from device.sim.voices import Speaker, Voice, pink_noise, room, with_noise
from drivers.audio_format import RATE, write_wav
from drivers.buttons import simulated_pin_factory
from drivers.leds import SingleLed
from drivers.mic import FileMicrophone
from drivers.speaker import WavSpeaker

# The demo's voice and the three others of the first soak (issue "Real people").
VOICES = (Voice("en-us+f2", 140), Voice("en-us+m3", 150), Voice("en+f3", 160), Voice("en-us", 175))
SNR_DB = 20.0
MISSED = "missed"  # no turn followed the request: the wake word was not heard
RSS_EVERY_SECONDS = 300.0  # of audio


@dataclass(frozen=True)
class Request:
    at_seconds: float  # where "hey zero" starts in the recording
    voice: str
    text: str
    expected: str  # an intent's name, or BRAIN


@dataclass(frozen=True)
class Outcome:
    request: Request
    decision: str  # an intent's name, BRAIN, NOT_CAUGHT or MISSED
    heard: str


def _burst(rng: np.random.Generator, speakers: list[Speaker]) -> np.ndarray:
    """1-4 s of something loud: noise, or other people's talk, 0-6 dB over the wearer."""
    seconds = rng.uniform(1.0, 4.0)
    gain = 10 ** (rng.uniform(0, 6) / 20)
    if rng.random() < 0.5:
        noise = pink_noise(rng, int(RATE * seconds)) * 32768 * 10 ** (-26 / 20) * gain
        return np.clip(noise, -32768, 32767).astype(np.int16)
    talk = speakers[rng.integers(len(speakers))](str(rng.choice(QUESTIONS)))
    return np.clip(talk.astype(np.float64) * gain, -32768, 32767).astype(np.int16)


def make_mix(minutes: float, wav: Path, seed: int = 0) -> list[Request]:
    """Write the recording; the requests in it, in order."""
    rng = np.random.default_rng(seed)
    speakers = [Speaker(v) for v in VOICES]
    texts = [*COMMANDS, *COMMANDS, *QUESTIONS]  # commands twice as often as questions
    parts, requests, length = [room(rng, 3.0, SNR_DB)], [], 3 * RATE
    while length < minutes * 60 * RATE:
        index = int(rng.integers(len(VOICES)))
        text = str(rng.choice(texts))
        say = speakers[index]
        gap = np.zeros(int(rng.uniform(0.1, 0.5) * RATE), np.int16)  # noise is added below
        request = np.concatenate([say("hey zero"), gap, say(text)])
        requests.append(Request(length / RATE, str(VOICES[index]), text, decide(text, "hey zero")))
        pause = [room(rng, rng.uniform(12.0, 30.0), SNR_DB)]  # the answer, then quiet
        if rng.random() < 0.4:
            pause += [_burst(rng, speakers), room(rng, rng.uniform(2.0, 6.0), SNR_DB)]
        for part in (with_noise(request, SNR_DB, rng), *pause):
            parts.append(part)
            length += part.size
    write_wav(wav, np.concatenate(parts).astype("<i2").tobytes())
    return requests


@dataclass
class SoakRun:
    turns: list[TurnReport]
    cpu_seconds: float
    rss_mb: list[float]  # resident memory every RSS_EVERY_SECONDS of audio


def run_soak(cfg: Config, wav: Path, out: Path) -> SoakRun:
    """The daemon over the recording, in lockstep, with a loopback provider and the shipped
    lights (a status LED on a mock pin, no privacy LED)."""
    run = SoakRun([], time.process_time(), [])

    def sample(audio_seconds: float) -> None:
        if audio_seconds >= len(run.rss_mb) * RSS_EVERY_SECONDS:
            run.rss_mb.append(current_rss_mb())

    with (
        loopback_provider() as (_, provider),
        FileMicrophone(wav, 1600, realtime=False) as mic,
        WavSpeaker(out / "replies") as speaker,
        SingleLed(cfg.led.pin, pin_factory=simulated_pin_factory()) as light,
    ):
        runtime, database = assemble(
            cfg,
            mic=mic,
            speaker=speaker,
            light=light,
            camera=None,
            state_dir=out / "state",
            pacing=Lockstep(),
            providers=[provider],
            on_turn=run.turns.append,
            on_tick=sample,
        )
        try:
            asyncio.run(runtime.run())
        finally:
            database.close()
    run.rss_mb.append(current_rss_mb())
    run.cpu_seconds = time.process_time() - run.cpu_seconds
    return run


def current_rss_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def match(requests: Sequence[Request], turns: Sequence[TurnReport]) -> list[Outcome]:
    """Each request with the first turn whose speech ended before the next request began."""
    outcomes = []
    for index, request in enumerate(requests):
        end = requests[index + 1].at_seconds if index + 1 < len(requests) else float("inf")
        turn = next((t for t in turns if request.at_seconds < t.at_seconds <= end), None)
        decision = MISSED if turn is None else turn.intent
        outcomes.append(Outcome(request, decision, "" if turn is None else turn.heard))
    return outcomes


def summary(outcomes: Sequence[Outcome]) -> dict[str, object]:
    commands = [o for o in outcomes if o.request.expected != BRAIN]
    questions = [o for o in outcomes if o.request.expected == BRAIN]

    def count(items: Sequence[Outcome], *decisions: str) -> int:
        return sum(o.decision in decisions for o in items)

    woke = [o for o in outcomes if o.decision != MISSED]
    return {
        "requests": len(outcomes),
        "answered": len(woke),
        "commands": len(commands),
        "commands_decided_locally": sum(o.decision == o.request.expected for o in commands),
        "commands_sent_to_the_brain": count(commands, BRAIN),
        "commands_not_caught": count(commands, NOT_CAUGHT),
        "commands_missed_wake": count(commands, MISSED),
        "questions": len(questions),
        "questions_to_the_brain": count(questions, BRAIN),
        "wrong_actions": sum(
            o.decision not in (o.request.expected, BRAIN, NOT_CAUGHT, MISSED) for o in outcomes
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=62.0)
    parser.add_argument("--out", type=Path, required=True, help="recording, replies and state")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="every outcome too, as JSON")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    wav = args.out / "soak.wav"
    requests = make_mix(args.minutes, wav, args.seed)
    started = time.monotonic()
    run = run_soak(load_config(), wav, args.out)
    outcomes = match(requests, run.turns)
    report = {
        "audio_minutes": round(requests[-1].at_seconds / 60, 1) if requests else 0,
        "wall_seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(run.cpu_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_mb_every_5_audio_minutes": run.rss_mb,
        **summary(outcomes),
    }
    if args.json:
        report["outcomes"] = [asdict(o) for o in outcomes]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
