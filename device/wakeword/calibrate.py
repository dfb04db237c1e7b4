"""``zeropin wakeword calibrate``: the wake word fitted to this device's room and wearer.

1. **The room.** A few minutes of its own sound (talk, a TV, a fan), without the phrase, streamed
   through the scorer the device runs: every firing there is a false accept. A microphone that
   gives silence stops it within seconds, a room too loud for speech to stand out at the end.
2. **The wearer.** The phrase, 5-10 times, cut out take by take as ``zeropin wakeword record``
   cuts it and scored from a fresh state as ``zeropin wakeword eval`` scores a clip.
3. **The rule.** Minutes of a room cannot show a rate as low as the budget (0.5 false accepts
   per hour takes 6 hours without one to show), so a rule looser than the model card's, which
   was chosen on hours of speech, is chosen only on that many hours of this room (``--room``).
   From minutes the card's rule stays, or a stricter one when the room fired the card's: the
   strictest silence the room could show, hearing as many of the takes as it can.

    with FileMicrophone("session.wav") as mic:   # 3 minutes of the room, then the takes
        result = calibrate(mic, Path("hey_zero.tflite"), CalibrationPlan())
    print(result.choice.why)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.config.calibration import (
    CARDS_RULE,
    HEARD_ENOUGH,
    CalibrationRecord,
    Rule,
    hours_to_show,
    rate_bounds,
    rate_text,
)
from device.errors import ZeroPinError
from device.listening.tflite_wake import ModelCard, Scorer, open_scorer
from device.wakeword.eval import LEVELS, THRESHOLDS, ScoredSet, choose_rule, firings, stream_scores
from device.wakeword.real_speech import BUDGET
from device.wakeword.record import GIVE_UP_AFTER, Take, TakeCutter
from drivers.audio_format import CLIPPED_SHARE, RATE
from drivers.mic import Microphone

SILENCE_CHECK_SECONDS = 5.0  # a silent microphone is told after this much, not minutes later
SILENT_DBFS = -60.0  # no 30 ms of the room louder than this: nothing reaches the microphone
LOUD_ROOM_DBFS = -25.0  # the room's usual level (its median) above this: too loud to calibrate
MIN_SNR_DB = 6.0  # the takes' speech over the room's usual level, at the least
MIN_ROOM_SECONDS = 60.0
MIN_TAKES = 5  # fewer, and one take more or less swings the recall by 20 points
MIN_HEARD_SHARE = HEARD_ENOUGH  # of the takes, that a stricter rule must still hear
TABLE_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
FRAME_SAMPLES = 480  # 30 ms, for levels


class CalibrationRefused(ZeroPinError, RuntimeError):
    """The audio cannot give a calibration (silent, too loud, too few takes): nothing is written."""


@dataclass(frozen=True)
class CalibrationPlan:
    room_seconds: float = 180.0  # of the microphone's audio before the takes
    takes: int = 8
    budget: float = BUDGET  # false accepts per hour the product allows
    live: bool = True  # a microphone (prompts, giving up on silence), not a recording


@dataclass
class Room:
    """The room's own sound, scored."""

    scores: np.ndarray
    seconds: float
    level_dbfs: float  # its usual level: the median of its 30 ms levels
    loudest_dbfs: float
    clipped_share: float


@dataclass(frozen=True)
class Choice:
    rule: Rule
    why: str
    cards: bool  # the model card's own rule, written as 0s so that a new model brings its own


@dataclass(frozen=True)
class Row:
    """One line of the table: how a rule did on the takes and in the room."""

    rule: Rule
    heard: int
    false_accepts: int
    mark: str  # "card's", "chosen", both or ""


@dataclass
class Calibration:
    phrase: str
    card: Rule
    choice: Choice
    takes: int
    heard: int  # at the chosen rule
    room_seconds: float
    room_level_dbfs: float
    room_false_accepts: int  # at the chosen rule
    rows: list[Row] = field(default_factory=list)
    seconds_taken: float = 0.0  # wall clock, listening included


@dataclass
class Ui:
    """How calibrate talks to the wearer; the defaults say nothing."""

    tell: Callable[[str], None] = lambda line: None
    prompt: Callable[[int, int], None] = lambda number, wanted: None  # before take ``number``
    room_progress: Callable[[float, float], None] = lambda done, total: None  # seconds


def calibrate(
    mic: Microphone,
    model: Path,
    plan: CalibrationPlan,
    ui: Ui | None = None,
    *,
    room_mic: Microphone | None = None,
) -> Calibration:
    """Listen to the room (``room_mic`` to its end, or the first ``plan.room_seconds`` of
    ``mic``), then take the phrase from ``mic``; the rule chosen and the figures. Raises
    CalibrationRefused when the audio cannot tell, ModelError for a broken model."""
    ui = ui or Ui()
    started = time.monotonic()
    card_file = ModelCard.load(model)
    card = Rule(card_file.threshold, card_file.trigger_level, card_file.smoothing)
    scorer = open_scorer(model)
    total = math.inf if room_mic is not None else plan.room_seconds
    room = listen_to_room(room_mic or mic, scorer, total, ui.room_progress)
    takes = collect_takes(mic, scorer, plan, room, card, ui)
    choice = choose(card, takes, room, plan.budget)
    rule = choice.rule
    return Calibration(
        phrase=card_file.phrase,
        card=card,
        choice=choice,
        takes=len(takes),
        heard=_heard(takes, rule),
        room_seconds=room.seconds,
        room_level_dbfs=room.level_dbfs,
        room_false_accepts=_fires(room.scores, rule),
        rows=table(takes, room, rule, card),
        seconds_taken=time.monotonic() - started,
    )


# -- the room ----------------------------------------------------------------------------------


def _frame_levels(samples: np.ndarray) -> np.ndarray:
    """dBFS of each whole 30 ms frame (digital silence: -120)."""
    whole = samples[: samples.size // FRAME_SAMPLES * FRAME_SAMPLES].astype(np.float64)
    rms = np.sqrt(np.mean(whole.reshape(-1, FRAME_SAMPLES) ** 2, axis=1)) / 32768
    return 20 * np.log10(np.maximum(rms, 1e-6))


def listen_to_room(
    mic: Microphone,
    scorer: Scorer,
    seconds: float,
    progress: Callable[[float, float], None],
) -> Room:
    """Score ``seconds`` of the microphone (whole chunks: a little more), or all of it."""
    scorer.reset()
    scores: list[float] = []
    levels: list[np.ndarray] = []
    got = clipped = 0
    while got < seconds * RATE and (chunk := mic.read()):
        samples = np.frombuffer(chunk, dtype="<i2")
        before = got
        got += samples.size
        scores.extend(scorer.scores(samples))
        levels.append(_frame_levels(samples))
        clipped += int(np.count_nonzero(np.abs(samples.astype(np.int32)) >= 32767))
        progress(got / RATE, seconds)
        if before < SILENCE_CHECK_SECONDS * RATE <= got:
            _refuse_if_silent(np.concatenate(levels), got / RATE)
    every = np.concatenate(levels) if levels else np.full(1, -120.0)
    room = Room(
        np.asarray(scores, dtype=np.float32),
        got / RATE,
        float(np.median(every)),
        float(every.max()),
        clipped / max(got, 1),
    )
    _judge_room(room)
    return room


def _refuse_if_silent(levels: np.ndarray, seconds: float) -> None:
    loudest = float(levels.max(initial=-120.0))
    if loudest < SILENT_DBFS:
        shown = "digital silence" if loudest <= -120 else f"loudest {loudest:.0f} dBFS"
        raise CalibrationRefused(
            f"the microphone gives silence ({shown} in {seconds:.0f} s): is it muted or "
            "unplugged? Raise the capture level in `alsamixer` (F4) and check it with "
            "`zeropin doctor`. Nothing written."
        )


def _judge_room(room: Room) -> None:
    _refuse_if_silent(np.array([room.loudest_dbfs]), room.seconds)
    if room.seconds < MIN_ROOM_SECONDS:
        raise CalibrationRefused(
            f"only {room.seconds:.0f} s of the room: false accepts need at least "
            f"{MIN_ROOM_SECONDS:.0f} s of it to say anything. Nothing written."
        )
    if room.level_dbfs > LOUD_ROOM_DBFS or room.clipped_share > CLIPPED_SHARE:
        raise CalibrationRefused(
            f"the room is too loud for the phrase to be told apart (usually {room.level_dbfs:.0f}"
            f" dBFS, {100 * room.clipped_share:.1f}% of samples clipped): turn off music or the "
            "TV, move away from the fan, or lower the capture level in `alsamixer`. Nothing "
            "written."
        )


# -- the takes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredTake:
    scores: np.ndarray
    above_room_db: float  # its speech over the room's usual level


def collect_takes(
    mic: Microphone,
    scorer: Scorer,
    plan: CalibrationPlan,
    room: Room,
    card: Rule,
    ui: Ui,
) -> list[ScoredTake]:
    """Up to ``plan.takes`` good takes, scored; refused when too few, or drowned in the room."""
    cutter = TakeCutter(mic)
    taken: list[ScoredTake] = []
    nothing_heard = tries = 0
    while len(taken) < plan.takes and tries < 3 * plan.takes:
        tries += 1
        ui.prompt(len(taken) + 1, plan.takes)
        take = cutter.next_take()
        if take is None:
            break
        nothing_heard = nothing_heard + 1 if not take.pcm else 0
        if take.problem:
            if plan.live or take.pcm:
                ui.tell(f"{take.problem}; once more")
            if plan.live and nothing_heard >= GIVE_UP_AFTER:
                raise CalibrationRefused(_nothing_heard(room, nothing_heard))
            continue
        scored = _score_take(scorer, take, room)
        taken.append(scored)
        ui.tell(f"take {len(taken)}: {_verdict(scored, card)}")
    _judge_takes(taken, room)
    return taken


def _score_take(scorer: Scorer, take: Take, room: Room) -> ScoredTake:
    samples = np.frombuffer(take.pcm, dtype="<i2")
    speech = float(np.percentile(_frame_levels(samples), 90))  # its loud part: the speech
    return ScoredTake(stream_scores(scorer, samples), speech - room.level_dbfs)


def _verdict(take: ScoredTake, card: Rule) -> str:
    """Whether the card's rule hears the take, and how near it came."""
    reached = _peak(take.scores, card.trigger_level, card.smoothing)
    if _fires(take.scores, card):
        return f"heard (it reached {reached:.2f}; the model card's rule needs {card.threshold:.2f})"
    return f"not heard: it reached {reached:.2f} of the {card.threshold:.2f} the card's rule needs"


def _nothing_heard(room: Room, times: int) -> str:
    if room.level_dbfs > LOUD_ROOM_DBFS - 10:
        why = f"the room is too loud for the phrase to be told apart ({room.level_dbfs:.0f} dBFS)"
        return f"{why}: heard no take above it {times} times in a row. Nothing written."
    return (
        f"heard no speech {times} times in a row: speak up or come nearer, or check the "
        "microphone with `zeropin doctor`. Nothing written."
    )


def _judge_takes(taken: list[ScoredTake], room: Room) -> None:
    if len(taken) < MIN_TAKES:
        raise CalibrationRefused(
            f"only {len(taken)} take(s) of the phrase: a rule chosen on fewer than {MIN_TAKES} "
            "would be a guess. Say it 5-10 times, with a second of quiet before each. Nothing "
            "written."
        )
    above = float(np.median([t.above_room_db for t in taken]))
    if above < MIN_SNR_DB:
        raise CalibrationRefused(
            f"the room is too loud for the phrase to be told apart: your takes were only "
            f"{above:.0f} dB above its usual level ({room.level_dbfs:.0f} dBFS; "
            f"{MIN_SNR_DB:.0f} dB are needed). Quieten it or come nearer. Nothing written."
        )


# -- the rule ----------------------------------------------------------------------------------


def _fires(scores: np.ndarray, rule: Rule) -> int:
    return firings(scores, rule.threshold, rule.trigger_level, rule.smoothing)


def _heard(takes: Sequence[ScoredTake], rule: Rule) -> int:
    return sum(_fires(t.scores, rule) > 0 for t in takes)


def _peak(scores: np.ndarray, level: int, smoothing: int) -> float:
    """The highest of the lows of ``level`` smoothed scores in a row: no rule of that level and
    smoothing with a threshold above it can fire on these scores."""
    if scores.size == 0:
        return 0.0
    padded = np.concatenate([np.zeros(smoothing - 1), scores.astype(np.float64)])
    means = np.convolve(padded, np.ones(smoothing), "valid") / smoothing
    runs = np.concatenate([np.zeros(level - 1), means])
    return float(np.lib.stride_tricks.sliding_window_view(runs, level).min(axis=1).max())


def _room_fires(room: Room, rule: Rule, peak: float) -> int:
    return 0 if rule.threshold > peak + 1e-6 else _fires(room.scores, rule)


def choose(card: Rule, takes: Sequence[ScoredTake], room: Room, budget: float) -> Choice:
    """Any rule, when the room is long enough to show it within ``budget``; else the card's
    rule or a stricter one."""
    allowed = 0
    while rate_bounds(allowed, room.seconds)[1] <= budget:
        allowed += 1  # false accepts the room may show and still vouch for the budget
    if allowed == 0:
        return _card_or_stricter(card, takes, room, budget)
    hours = room.seconds / 3600
    scored = ScoredSet([t.scores for t in takes], [room.scores], room.seconds, 1.0, 0.0,
                       [Path(f"take {n}") for n in range(1, len(takes) + 1)])  # fmt: skip
    rule = Rule(*choose_rule(scored, (allowed - 0.5) / hours))
    fired = _fires(room.scores, rule)
    if fired >= allowed:  # none is within: the room fires every rule
        return _card_or_stricter(card, takes, room, budget)
    return Choice(
        rule,
        f"of all rules, the one that heard the most takes; the room fired it "
        f"{rate_text(fired, room.seconds)}, which shows it within {budget:g} per hour",
        cards=rule == card,
    )


def _card_or_stricter(card: Rule, takes: Sequence[ScoredTake], room: Room, budget: float) -> Choice:
    need = f"{hours_to_show(budget):.0f} h"
    short = f"{room.seconds / 60:.1f} min of the room cannot show that a looser rule keeps under "
    short += f"{budget:g} false accepts per hour (that takes {need} without one: --room FILE)"
    card_fired = _fires(room.scores, card)
    if card_fired == 0:
        return Choice(card, f"the model card's rule: the room did not fire it, and {short}", True)
    peaks = {
        lv: _peak(room.scores, lv, card.smoothing) for lv in LEVELS if lv >= card.trigger_level
    }
    floor = min(math.ceil(MIN_HEARD_SHARE * len(takes)), _heard(takes, card))
    best: tuple[int, float, int] | None = None  # (-heard, threshold, level): the least is best
    for level, peak in peaks.items():
        for threshold in (t for t in map(float, THRESHOLDS) if t >= card.threshold):
            rule = Rule(threshold, level, card.smoothing)
            if _room_fires(room, rule, peak) == 0 and (heard := _heard(takes, rule)) >= floor:
                best = min(best or (0, 1.0, 9), (-heard, threshold, level))
                break  # higher thresholds at this level hear no more
    fired = rate_text(card_fired, room.seconds)
    if best is None:
        return Choice(
            card,
            f"the model card's rule, though the room fired it {fired}: no stricter rule kept "
            f"quiet in the room and heard {floor} of the {len(takes)} takes. Something here "
            "sounds like the phrase to the model (a TV, a radio?): calibrate without it, or "
            "place the device elsewhere",
            True,
        )
    heard, threshold, level = -best[0], best[1], best[2]
    return Choice(
        Rule(threshold, level, card.smoothing),
        f"stricter than the model card's rule, which the room fired {fired}; this one kept "
        f"quiet in the room and heard {heard} of the {len(takes)} takes",
        False,
    )


def table(takes: Sequence[ScoredTake], room: Room, chosen: Rule, card: Rule) -> list[Row]:
    """The chosen level and smoothing at a spread of thresholds, and the card's rule."""
    rules = {Rule(t, chosen.trigger_level, chosen.smoothing) for t in TABLE_THRESHOLDS}
    rules |= {chosen, card}
    return [
        Row(
            rule,
            _heard(takes, rule),
            _fires(room.scores, rule),
            " ".join(m for m, r in (("card's", card), ("chosen", chosen)) if r == rule),
        )
        for rule in sorted(rules, key=lambda r: (r.threshold, r.trigger_level, r.smoothing))
    ]


def format_table(result: Calibration) -> str:
    """The table for people: one rule a line, what it heard and how often the room fired it."""
    lines = ["threshold  in a row  mean of  takes heard  false accepts in the room"]
    for row in result.rows:
        rule = row.rule
        lines.append(
            f"{rule.threshold:<9.3g}  {rule.trigger_level:<8}  {rule.smoothing:<7}  "
            f"{f'{row.heard} of {result.takes}':<11}  "
            f"{rate_text(row.false_accepts, result.room_seconds)}"
            + (f"  <- {' and '.join(row.mark.split())}" if row.mark else "")
        )
    return "\n".join(lines)


def record_of(
    result: Calibration, model: Path, model_sha256: str, before: Rule, before_from: str, when: str
) -> CalibrationRecord:
    """What goes into the calibration file."""
    return CalibrationRecord(
        when=when,
        model=model.name,
        model_sha256=model_sha256,
        phrase=result.phrase,
        chosen=result.choice.rule,
        written=CARDS_RULE if result.choice.cards else result.choice.rule,
        takes=result.takes,
        takes_heard=result.heard,
        room_seconds=round(result.room_seconds, 1),
        room_false_accepts=result.room_false_accepts,
        why=result.choice.why,
        before=before,
        before_from=before_from,
    )
