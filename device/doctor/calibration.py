"""The doctor's look at the wake word's calibration (``zeropin wakeword calibrate``): beside the
other checks of ``device.doctor.checks`` and, like them, handed what it judges: the record, the
[wake] settings in use, the model card's rule and the model's hash.
"""

from __future__ import annotations

from device.config.calibration import CARDS_RULE, HEARD_ENOUGH, CalibrationRecord, Rule
from device.doctor.findings import Finding, Level


def check_calibration(
    record: CalibrationRecord | None,
    *,
    in_use: Rule,
    card: Rule | None,
    model_sha256: str,
    problem: str = "",
) -> Finding:
    """The wake word's calibration (``zeropin wakeword calibrate``): when, what was chosen and
    what it measured, and whether it is still the one in use. ``in_use`` is [wake] as read now
    (0s: the card's), ``card`` the model card's rule, ``problem`` why the record is unreadable."""
    if problem:
        return Finding("models", Level.WARN, problem, "calibration")
    if record is None:
        rule = f"the model card's rule ({card.text()})" if card else "the model card's rule"
        if in_use != CARDS_RULE:
            rule = f"[wake] threshold {in_use.threshold:g}, trigger_level {in_use.trigger_level}"
            rule += f", smoothing {in_use.smoothing} (0: the card's)"
        detail = f"none made; in use: {rule}. `zeropin wakeword calibrate` fits it to this room"
        return Finding("models", Level.OK, detail + " and voice", "calibration")
    when = record.when.replace("T", " ")[:16] + " UTC"
    chose = record.chosen.text() + (" (the card's rule)" if record.written == CARDS_RULE else "")
    measured = f"{record.heard_text()}; false accepts in the room {record.room_text()}"
    again = "run `zeropin wakeword calibrate` again"
    if model_sha256 and record.model_sha256 != model_sha256:
        detail = f"made {when} for another model than the one in use now: {again}"
        return Finding("models", Level.WARN, detail, "calibration")
    if in_use != record.written:
        detail = (
            f"made {when} but not in force: [wake] reads {in_use.threshold:g}/"
            f"{in_use.trigger_level}/{in_use.smoothing} instead of {record.written.threshold:g}/"
            f"{record.written.trigger_level}/{record.written.smoothing} (a later layer wins: "
            "ZEROPIN_WAKE_* or --set)"
        )
        return Finding("models", Level.WARN, detail, "calibration")
    detail = f"{when}: {chose}; {measured}"
    if record.takes_heard < HEARD_ENOUGH * record.takes:
        return Finding(
            "models", Level.WARN, f"{detail}: the model misses the wearer", "calibration"
        )
    if record.room_false_accepts:
        return Finding("models", Level.WARN, f"{detail}: the room fires it; {again}", "calibration")
    return Finding("models", Level.OK, detail, "calibration")
