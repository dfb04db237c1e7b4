"""What a doctor check reports: one line per finding, at a level. Apart from the checks
themselves, so the companion page can show the doctor's findings without loading the parts they
measure (numpy and the drivers)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Level(enum.StrEnum):
    OK = "OK"
    WARN = "WARN"  # works, but something is off or could not be checked
    FAIL = "FAIL"  # will not work until fixed


@dataclass(frozen=True)
class Finding:
    """What one check found: one line of the report."""

    check: str  # "mic", "models", ...
    level: Level
    detail: str  # what was measured, or what to do
    subject: str = ""  # which model, host or provider, for checks that report several

    def line(self) -> str:
        text = f"{self.subject}: {self.detail}" if self.subject else self.detail
        return f"{self.level.value:<4}  {self.check:<7}  {text}"

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "level": self.level.value,
            "subject": self.subject,
            "detail": self.detail,
        }
