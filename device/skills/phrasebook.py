"""How the device says things, in the language the wearer spoke: templates and the few things
each language says its own way (the time, the date, a duration).

The skills write their replies as English templates with named blanks and fill them through a
phrasebook: ``say("OK, timer set for {length}.", length=say.duration(300))``. English fills the
template as it is; another language (``device.skills.chinese_replies``) looks the template up
in its catalogue first, so a reply it has no entry for is still said, in English.
``device.skills.phrasebooks`` finds the phrasebook of a language code.

    say = phrasebook_for("zh")  # device.skills.phrasebooks
    say(NO_TIMER)                       # "现在没有定时。"
    say.clock(dt.datetime(2026, 12, 7, 15, 7))   # "下午3点7分"
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from device.skills.numbers import say_duration


class Phrasebook:
    """English: templates as they are written."""

    code = "en"
    catalogue: Mapping[str, str] = {}

    def __call__(self, template: str, **values: object) -> str:
        return self.catalogue.get(template, template).format(**values)

    def knows(self, template: str) -> bool:
        """Whether a reply made from ``template`` is in this language (not English instead)."""
        return self.code == "en" or template in self.catalogue

    def clock(self, when: dt.datetime) -> str:
        return f"{when.hour % 12 or 12}:{when.minute:02d} {'AM' if when.hour < 12 else 'PM'}"

    def day(self, when: dt.date) -> str:
        return f"{when:%A}, {when.day} {when:%B %Y}"

    def duration(self, seconds: float) -> str:
        return say_duration(seconds)

    def listing(self, items: list[str]) -> str:
        """Items said one after another: "milk. eggs." """
        return " ".join(f"{item.rstrip('.')}." for item in items)


ENGLISH = Phrasebook()
