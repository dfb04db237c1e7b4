"""The brain answers what the device cannot do by itself.

``Brain.reply`` yields text fragments as they arrive, so a streaming cloud model is spoken
sentence by sentence. ``look=True`` means the question is about what the camera sees.
``cancel`` stops the answer (the user pressed the button): a cloud brain closes its HTTP stream.
``OfflineBrain`` is used when no cloud provider is configured; ``device.cloud.brain`` has the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from device.cancel import Cancellation
from device.skills.chinese import has_chinese
from device.skills.recordings import Recalled, about_recordings, read_aloud

OFFLINE_ANSWER = (
    "I need a cloud connection to answer that, and none is set up. "
    "Offline, I can tell the time and date, set timers, take notes and photos, record a meeting, "
    "and change the volume."
)
OFFLINE_LOOK_ANSWER = (
    "I need a cloud vision model to tell what I see, and none is set up. "
    "I can still take a photo: say take a photo."
)
# Said to a question in Chinese, or on a Chinese device
OFFLINE_ANSWER_ZH = (
    "回答这个问题需要联网，但是没有设置云端。离线时我可以报时间和日期、定时、调音量、录音、读笔记。"
)
OFFLINE_LOOK_ANSWER_ZH = "看东西需要云端的视觉模型，但是没有设置。"


class Brain(Protocol):
    def reply(
        self, text: str, *, look: bool = False, cancel: Cancellation | None = None
    ) -> Iterator[str]:
        """Text fragments of the answer to ``text``, as soon as each is known."""
        ...

    def close(self) -> None:
        """Let go of what the brain holds open (sessions with tool servers); safe twice."""
        ...


class OfflineBrain:
    """Says clearly that a question needs the cloud, and what still works without it. A
    question about a recording (with ``recall``) gets the passage that best matches it, read
    out as it was transcribed."""

    def __init__(
        self, recall: Callable[[str], Recalled] | None = None, language: str = "en"
    ) -> None:
        self.recall = recall
        self.language = language

    def reply(
        self, text: str, *, look: bool = False, cancel: Cancellation | None = None
    ) -> Iterator[str]:
        if self.recall is not None and not look and about_recordings(text):
            yield read_aloud(self.recall(text))
            return
        if self.language == "zh" or has_chinese(text):
            yield OFFLINE_LOOK_ANSWER_ZH if look else OFFLINE_ANSWER_ZH
        else:
            yield OFFLINE_LOOK_ANSWER if look else OFFLINE_ANSWER

    def close(self) -> None:
        pass
