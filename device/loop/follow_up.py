"""When an answer is followed by listening for the next question without the wake word.

A conversation with a voice assistant is more than one question: "Want the recipe too?" is
answered "yes, please", not "hey zero, yes please". After an answer that ends in a question
(``[wake] follow_up = "question"``, the default), or after every answer (``"always"``), the
device listens for ``follow_up_seconds`` with the LED showing it listens, and goes back to
waiting for the wake word on silence (``device.loop.states``: FOLLOWING).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FollowUps:
    mode: str = "question"  # "question" | "always" | "off"
    seconds: float = 4.0

    def invited_by(self, said: str) -> bool:
        """Whether a reply that said ``said`` (in full, as spoken) invites a follow-up."""
        if self.mode == "off" or not said.strip():
            return False
        return self.mode == "always" or said.rstrip().endswith("?")
