"""How often the device decides right what a voice asked, through the daemon's own listener.

Each voice gets a freshly built listener (``build_listener``: the configured wake detector and
recogniser, as at start-up), hears the room for a moment, then says "hey zero" and a command or a
question, one after another, in pink noise at a given signal-to-noise ratio. An utterance is
decided right when the intent's name is the one its words mean, or, for a question, when it is
not taken for a command (it goes to the brain, or is not caught: with a cloud provider that is
an upload of the audio for transcription). ``wrong`` counts actions nobody asked for.

The voices are split once, by speaker: ``TUNING_VOICES`` (the demo's and the tests' voices, and
any other whatever was tuned here was tuned on) and ``HELDOUT_VOICES``, never tuned on, whose
figure is the one reported (``zeropin bench --json``: ``intent_accuracy_heldout``).

    python -m device.sim.intents_eval --snr 20 10 5 --digits ../shared/real-speech/digits
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from device.app import build_listener
from device.config.schema import Config
from device.config.sources import load_config
from device.events import Heard, ListenMode
from device.listening.listener import Listener
from device.loop.router import BRAIN, NOT_CAUGHT, decide
from device.sim.voices import Speaker, Voice, flite_installed, room, with_noise
from drivers.audio_format import RATE

# What the demo, the tests and earlier tuning used, and one flite speaker: tune on these only.
TUNING_VOICES = (
    Voice("en-us+f2", 140),  # the demo's user
    Voice("en-us+m3", 150),
    Voice("en+f3", 160),
    Voice("en-us", 165),  # the device's own voice
    Voice("flite:kal16", 150),
)
# Other accents, other variants, other rates, other engines' speakers: reported, never tuned on.
HELDOUT_VOICES = (
    Voice("en-gb-scotland+m4", 130),
    Voice("en-029+f4", 170),
    Voice("en-gb-x-rp+m7", 185),
    Voice("en-us-nyc+f5", 145),
    Voice("en-gb-x-gbcwmd+m2", 155),
    Voice("en-gb-x-gbclan+Annie", 135),
    Voice("en-us+Andy", 175),
    Voice("flite:awb", 150),
    Voice("flite:rms", 170),
    Voice("flite:slt", 135),
)
COMMANDS = (
    "what time is it",
    "what is the date today",
    "set a timer for five minutes",
    "set a timer for thirty seconds",
    "cancel the timer",
    "how much time is left",
    "volume up",
    "turn it down",
    "set the volume to forty percent",
    "mute",
    "unmute",
    "repeat that",
    "take a photo",
    "what am i looking at",
    "read my notes",
    "take a note buy milk",
    "what can you do",
    "stop",
    "louder",
    "what day is it",
)
QUESTIONS = (
    "why is the sky blue",
    "who won the football match",
    "what is the capital of france",
    "tell me a joke about cats",
    "how far away is the moon",
    "the meeting moved to thursday afternoon",
    "could you pass me the salt",
)
SNRS = (20.0, 10.0, 5.0)
HELDOUT_SNR_DB = 20.0  # the noise level of the headline figure
NOTHING = "nothing"  # the listener heard no speech, or no words


@dataclass(frozen=True)
class Outcome:
    voice: str
    snr_db: float
    said: str
    expected: str  # an intent's name, or BRAIN
    decision: str  # an intent's name, BRAIN, NOT_CAUGHT or NOTHING
    heard: str
    first: bool  # the first utterance after start-up
    asr_final_ms: float = 0.0  # end of speech to the recogniser's final text, wall clock

    @property
    def right(self) -> bool:
        if self.expected == BRAIN:
            return self.decision in (BRAIN, NOT_CAUGHT)
        return self.decision == self.expected

    @property
    def not_caught(self) -> bool:
        return self.decision == NOT_CAUGHT

    @property
    def wrong(self) -> bool:
        """An action nobody asked for."""
        return self.decision not in (self.expected, BRAIN, NOT_CAUGHT, NOTHING)


def _feed(listener: Listener, pcm: np.ndarray) -> None:
    """Audio heard while waiting for the wake word; detections are ignored (the test is of the
    recogniser, so each utterance starts as if the wake word had been heard)."""
    events = listener.process(pcm.tobytes())
    while events:
        events = listener.process(b"")


def _utterance(listener: Listener, pcm: np.ndarray) -> Heard | None:
    """Feed ``pcm`` after a wake word until the listener decides; None when it heard nothing."""
    listener.set_mode(ListenMode.UTTERANCE, "wake")
    step = RATE // 10 * 2  # 100 ms chunks
    data = pcm.tobytes()
    event = None
    for at in range(0, len(data), step):
        events = listener.process(data[at : at + step])
        if events:
            event = events[0]
            break
    listener.set_mode(ListenMode.WAKE)
    return event if isinstance(event, Heard) else None


def run_session(
    cfg: Config, voice: Voice, snr_db: float, seed: int = 0, texts: Sequence[str] = ()
) -> list[Outcome]:
    """``texts`` (every command and question) in ``voice`` to one freshly started listener."""
    rng = np.random.default_rng(seed)
    listener = build_listener(cfg)
    say = Speaker(voice)
    texts = list(texts or [*COMMANDS, *QUESTIONS])
    start = seed % len(texts)  # each voice starts with another utterance
    texts = texts[start:] + texts[:start]
    tail = cfg.vad.max_utterance_seconds + 1
    _feed(listener, room(rng, 2.0, snr_db))  # the device has just started
    outcomes = []
    wake = say(cfg.wake.phrase)
    for index, text in enumerate(texts):
        _feed(listener, np.concatenate([room(rng, 0.5, snr_db), with_noise(wake, snr_db, rng)]))
        command = np.concatenate([room(rng, 0.2, snr_db), with_noise(say(text), snr_db, rng)])
        heard = _utterance(listener, np.concatenate([command, room(rng, tail, snr_db)]))
        decision = NOTHING if heard is None else decide(heard.text, cfg.wake.phrase)
        expected = decide(text, cfg.wake.phrase)
        outcomes.append(
            Outcome(
                str(voice),
                snr_db,
                text,
                expected,
                decision,
                "" if heard is None else heard.text,
                index == 0,
                0.0 if heard is None else round(heard.timings_ms.get("asr_final", 0.0), 1),
            )
        )
        _feed(listener, room(rng, 1.0, snr_db))  # the device answers; the room goes on
    return outcomes


def _session_job(job: tuple[Config, Voice, float, int]) -> list[Outcome]:
    return run_session(*job)


def available(voices: Iterable[Voice]) -> list[Voice]:
    """The voices that can speak here: flite's only when flite is installed."""
    return [v for v in voices if not v.name.startswith("flite:") or flite_installed()]


def run_eval(
    cfg: Config,
    voices: Sequence[Voice],
    snrs: Sequence[float] = SNRS,
    workers: int = 0,
    on_session: Callable[[list[Outcome]], None] | None = None,
) -> list[Outcome]:
    """Every voice at every noise level, sessions spread over ``workers`` processes;
    ``on_session`` sees each session's outcomes as it ends."""
    jobs = [(cfg, v, snr, n) for n, v in enumerate(voices) for snr in snrs]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    outcomes: list[Outcome] = []
    with ProcessPoolExecutor(workers) as pool:
        for done in as_completed([pool.submit(_session_job, job) for job in jobs]):
            outcomes += done.result()
            if on_session is not None:
                on_session(done.result())
    return outcomes


def share(outcomes: Sequence[Outcome], what: str = "right") -> float | None:
    if not outcomes:
        return None
    return round(sum(getattr(o, what) for o in outcomes) / len(outcomes), 4)


def summary(outcomes: Sequence[Outcome]) -> dict[str, object]:
    """Shares decided right (and wrong actions) per noise level, for commands and questions."""
    result: dict[str, object] = {"utterances": len(outcomes)}
    for snr in sorted({o.snr_db for o in outcomes}, reverse=True):
        at = [o for o in outcomes if o.snr_db == snr]
        commands = [o for o in at if o.expected != BRAIN]
        result[f"snr{snr:g}"] = {
            "right": share(at),
            "commands_right": share(commands),
            "questions_right": share([o for o in at if o.expected == BRAIN]),
            "wrong_actions": share(at, "wrong"),
            "commands_not_caught": share(commands, "not_caught"),
            "first_utterance_right": share([o for o in at if o.first]),
            "asr_final_ms_median": float(np.median([o.asr_final_ms for o in at])),
        }
    return result


def intent_accuracy_heldout(cfg: Config, snr_db: float = HELDOUT_SNR_DB) -> float | None:
    """The share decided right over the held-out voices at ``snr_db``, for ``zeropin bench``."""
    return share(run_eval(cfg, available(HELDOUT_VOICES), (snr_db,)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snr", type=float, nargs="+", default=list(SNRS), help="dB")
    parser.add_argument("--voices", choices=("heldout", "tuning"), default="heldout")
    parser.add_argument("--digits", type=Path, help="the real spoken digits' folder")
    parser.add_argument("--every", type=int, default=5, help="take every n-th digit recording")
    parser.add_argument("--details", type=Path, help="write every outcome here (JSON lines)")
    args = parser.parse_args(argv)
    cfg = load_config()
    voices = available(HELDOUT_VOICES if args.voices == "heldout" else TUNING_VOICES)
    details = args.details.open("w") if args.details else None

    def write(outcomes: list[Outcome]) -> None:
        if details is not None:
            details.writelines(json.dumps(asdict(o)) + "\n" for o in outcomes)
            details.flush()

    try:
        outcomes = run_eval(cfg, voices, args.snr, on_session=write)
    finally:
        if details is not None:
            details.close()
    report: dict[str, object] = {
        "voices": args.voices,
        "voice_names": [str(v) for v in voices],
        **summary(outcomes),
    }
    if args.digits:
        from device.sim.digits_eval import run_digits

        report["digits"] = run_digits(cfg, args.digits, args.every)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
