"""The phrasebook of each language the device speaks, by its code."""

from __future__ import annotations

from device.skills.chinese_replies import CHINESE
from device.skills.phrasebook import ENGLISH, Phrasebook

PHRASEBOOKS = {"en": ENGLISH, "zh": CHINESE}


def phrasebook_for(code: str) -> Phrasebook:
    """The phrasebook for a language code; English for one the device does not speak."""
    return PHRASEBOOKS.get(code, ENGLISH)
