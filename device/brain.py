"""The brain answers what the device cannot do by itself.

``Brain.reply`` yields text fragments as they arrive, so a streaming cloud model can be spoken
sentence by sentence. This issue ships only ``OfflineBrain``; the cloud brain plugs in here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

OFFLINE_ANSWER = (
    "I need a cloud connection to answer that, and none is set up. "
    "Offline, I can tell the time and date, set timers, take notes and photos, "
    "and change the volume."
)


class Brain(Protocol):
    def reply(self, text: str) -> Iterator[str]:
        """Text fragments of the answer to ``text``, as soon as each is known."""


class OfflineBrain:
    """Says clearly that a question needs the cloud, and what still works without it."""

    def reply(self, text: str) -> Iterator[str]:
        yield OFFLINE_ANSWER
