"""What the wearer hears when no cloud provider could answer: one short sentence they can act on.

Each :class:`~device.errors.CloudCause` has its sentence. When several providers failed for
different reasons, the one the wearer can do most about is said: a refused key or an unknown
model stays broken until someone fixes the settings, a busy provider says when to come back,
and "I can't reach the cloud" is left for when nothing more useful is known. "None of my models
can see" is said only when that is true of every provider.

Example::

    except AllProvidersFailed as exc:
        yield exc.spoken  # spoken_reason(exc)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from device.errors import CloudCause, CloudError

OFFLINE_FALLBACK = (
    "I can't reach the cloud right now, so I can't answer that. "
    "Offline, I can still tell the time, set timers, take notes and photos, record a meeting, "
    "and change the volume."
)
KEY_REFUSED = "The cloud refused my API key. Check the key in the settings."
OUT_OF_CREDIT = "The cloud account has run out of credit. Check its plan and billing."
MODEL_UNKNOWN = (
    "The cloud doesn't know the model I asked for. Check the model name in the settings."
)
NO_VISION = "None of my cloud models can see pictures. Add a vision model to answer that."
BUSY = "The cloud is busy. Try again {when}."  # when: "in about 25 seconds", "in a moment"
SERVER_ERROR = "Something went wrong in the cloud. Try again in a moment."
NOT_FOUND = "The cloud address in my settings leads nowhere. Check its base URL."
REJECTED = "The cloud turned that question down. Try asking it another way."
# A workshop's budget: the wearer cannot fix it, but should know the device still works.
BUDGET_DAY = "Today's cloud budget is used up; local commands still work."
BUDGET_HOUR = "This hour's cloud budget is used up; local commands still work."

_SENTENCES = {
    CloudCause.UNREACHABLE: OFFLINE_FALLBACK,
    CloudCause.KEY_REFUSED: KEY_REFUSED,
    CloudCause.OUT_OF_CREDIT: OUT_OF_CREDIT,
    CloudCause.MODEL_UNKNOWN: MODEL_UNKNOWN,
    CloudCause.NOT_FOUND: NOT_FOUND,
    CloudCause.CANNOT_SEE: NO_VISION,
    CloudCause.SERVER_ERROR: SERVER_ERROR,
    CloudCause.REJECTED: REJECTED,
    CloudCause.BUDGET_DAY: BUDGET_DAY,
    CloudCause.BUDGET_HOUR: BUDGET_HOUR,
}

# The same, for a wearer who speaks Chinese ([device] language = "zh")
_IN_CHINESE = {
    CloudCause.UNREACHABLE: "我现在连不上云端，所以回答不了。"
    "离线时我还可以报时间、定时、调音量和录音。",
    CloudCause.KEY_REFUSED: "云端拒绝了我的 API 密钥，请检查设置里的密钥。",
    CloudCause.OUT_OF_CREDIT: "云端账户的额度用完了，请检查套餐和账单。",
    CloudCause.MODEL_UNKNOWN: "云端不认识我要用的模型，请检查设置里的模型名称。",
    CloudCause.NOT_FOUND: "设置里的云端地址不对，请检查 base URL。",
    CloudCause.CANNOT_SEE: "我的云端模型都看不了图片，加一个视觉模型才能回答。",
    CloudCause.SERVER_ERROR: "云端出了问题，请稍后再试。",
    CloudCause.REJECTED: "云端拒绝了这个问题，换个问法试试。",
    CloudCause.BUDGET_DAY: "今天的云端额度用完了，本地命令还能用。",
    CloudCause.BUDGET_HOUR: "这个小时的云端额度用完了，本地命令还能用。",
    CloudCause.BUSY: "云端现在很忙，请稍后再试。",
}

# Most actionable first: what only the wearer can fix, then what says when to come back, then
# what may pass by itself.
_PRECEDENCE = (
    CloudCause.KEY_REFUSED,
    CloudCause.OUT_OF_CREDIT,
    CloudCause.BUDGET_DAY,
    CloudCause.BUDGET_HOUR,
    CloudCause.MODEL_UNKNOWN,
    CloudCause.NOT_FOUND,
    CloudCause.BUSY,
    CloudCause.SERVER_ERROR,
    CloudCause.REJECTED,
    CloudCause.UNREACHABLE,
    CloudCause.CANNOT_SEE,
)


def spoken_reason(error: CloudError, language: str = "en") -> str:
    """The sentence the wearer hears for ``error`` (an AllProvidersFailed, or one failure), in
    the device's ``language``."""
    if language == "zh":
        return _IN_CHINESE.get(error.cause, _IN_CHINESE[CloudCause.UNREACHABLE])
    if error.cause is CloudCause.BUSY:
        return BUSY.format(when=in_about(error.retry_after_seconds))
    return _SENTENCES.get(error.cause, OFFLINE_FALLBACK)


def most_actionable(failures: Sequence[CloudError]) -> CloudError | None:
    """The failure worth telling the wearer about; of several busy ones, the soonest over."""
    if not failures:
        return None
    return min(
        failures,
        key=lambda f: (_PRECEDENCE.index(f.cause), f.retry_after_seconds or 0.0),
    )


def in_about(seconds: float | None) -> str:
    """A wait as said aloud, rounded up: "in about 25 seconds", "in about 3 minutes"."""
    if seconds is None or seconds < 2:
        return "in a moment"
    if seconds < 55:
        return f"in about {5 * math.ceil(seconds / 5)} seconds"
    if seconds < 90:
        return "in about a minute"
    if seconds < 55 * 60:
        return f"in about {math.ceil(seconds / 60)} minutes"
    if seconds < 90 * 60:
        return "in about an hour"
    return f"in about {math.ceil(seconds / 3600)} hours"
