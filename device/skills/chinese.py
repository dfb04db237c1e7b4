"""Chinese commands: what the wearer asked for, decided on the device from Chinese text.

The text comes from the command model (one of ``chinese_commands.COMMANDS``' canonical phrases)
or from the cloud's transcription ("帮我定个二十分钟的计时器"); both are parsed here into the same
``Intent`` names the English parser gives, with ``language = "zh"`` so the reply is Chinese too.
Anything that is not a command is a question for the brain (None), as in English.

    >>> parse("你好零，定时五分钟").slots["seconds"]
    '300.0'
    >>> parse("不要删除我的笔记") is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import MappingProxyType

from device.config.schema import WAKE_PHRASES
from device.skills.intent import Intent
from device.speaking.tts import has_chinese

__all__ = ["LANGUAGE", "WAKE_PHRASE", "has_chinese", "parse"]

LANGUAGE = "zh"
WAKE_PHRASE = WAKE_PHRASES[LANGUAGE]  # "你好零" (models/wakeword/ni_hao_ling.md)
# Wake words a recogniser may leave at the start (the phrase, or a part of it), then politeness.
_LEADING = re.compile(rf"^(?:{WAKE_PHRASE}|你好|零)?(?:请你|请|麻烦你|麻烦|帮我|给我|能不能)*")
_TRAILING = re.compile(r"(?:吧|呢|啊|呀|嘛|好吗|好不好|谢谢|谢谢你)+$")
_NEGATION = re.compile(r"不要|别|不用|没有|不是|不想|怎么")

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
          "七": 7, "八": 8, "九": 9}  # fmt: skip
POWERS = {"十": 10, "百": 100, "千": 1000}
_NUMBER = r"[0-9零〇一二两三四五六七八九十百千]+"
UNITS = {"秒": 1, "秒钟": 1, "分": 60, "分钟": 60, "小时": 3600, "个小时": 3600, "钟头": 3600,
         "个钟头": 3600, "刻钟": 900}  # fmt: skip
_UNIT = "|".join(sorted(UNITS, key=len, reverse=True))
_AMOUNT = rf"(?:{_NUMBER}个?半(?:小时|钟头|分钟)|{_NUMBER}(?:{_UNIT})半?|半个?(?:小时|钟头|分钟))"
_DURATION = rf"(?P<duration>(?:{_AMOUNT})+)"


def chinese_number(text: str) -> int | None:
    """Chinese numerals as a number: "二十五" -> 25, "两百" -> 200, "一百零五" -> 105,
    "十" -> 10, "15" -> 15; None for anything else. Up to 9999: minutes, seconds, percent."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in DIGITS and ch not in POWERS for ch in text):
        return None
    total, digit = 0, None
    for ch in text:
        if ch in DIGITS:
            digit = DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * POWERS[ch]
            digit = None
    return total + (digit or 0)


def chinese_duration(text: str) -> float | None:
    """A duration in seconds: "五分钟" -> 300, "一个半小时" -> 5400, "一分三十秒" -> 90,
    "半小时" -> 1800; None when there is none."""
    text = re.sub(rf"({_NUMBER})个?半(小时|钟头|分钟)", r"\1\2半", text).replace("个", "")
    seconds, found = 0.0, False
    for match in re.finditer(rf"({_NUMBER})?(小时半|{_UNIT})(半)?|半(小时|钟头|分钟)", text):
        if match.group(4):
            seconds += UNITS[match.group(4)] / 2
        else:
            count = chinese_number(match.group(1) or "")
            if count is None:
                return None
            unit = UNITS[match.group(2).removesuffix("半")]
            half = match.group(3) or match.group(2).endswith("半")
            seconds += (count + (0.5 if half else 0)) * unit
        found = True
    return seconds if found and seconds > 0 else None


def normalise(text: str) -> str:
    """No spaces or punctuation (Vosk's Chinese puts spaces between words); no wake word,
    politeness or trailing particles."""
    text = "".join(ch for ch in text if ch.isalnum())
    text = _LEADING.sub("", text)
    return _TRAILING.sub("", text)


def _timer_set(match: re.Match[str], norm: str) -> Intent | None:
    seconds = chinese_duration(match.group("duration") or "")
    slots = {} if seconds is None else {"seconds": repr(seconds)}
    return Intent("timer_set", MappingProxyType(slots), norm)


def _volume_set(match: re.Match[str], norm: str) -> Intent | None:
    percent = chinese_number(match.group("level"))
    if percent is None:
        return None
    return Intent("volume_set", MappingProxyType({"percent": str(percent)}), norm)


def _note_add(match: re.Match[str], norm: str) -> Intent | None:
    text = match.group("text").strip()
    return Intent("note_add", MappingProxyType({"text": text}), norm) if text else None


Slots = Callable[[re.Match[str], str], Intent | None]
# (intent, patterns over normalised text, what makes its slots), in the order they are tried:
# answers first, the longer command before the one it contains (取消静音 before 静音).
RULES: tuple[tuple[str, tuple[str, ...], Slots | None], ...] = (
    ("confirm", (r"^(?:是|是的|对|对的|确定|确认|好的|好)$",), None),
    ("decline", (r"^(?:不|不要|不用|算了|不用了|保留)$",), None),
    ("stop", (r"^(?:停|停下|停止|别说了|安静|闭嘴|够了|算了吧)$",), None),
    ("time", (r"几点|什么时间了|什么时候了|现在时间",), None),
    ("date", (r"几号|星期几|礼拜几|周几|什么日子|日期",), None),
    ("timer_cancel", (r"取消(?:所有的?)?(?:定时|计时|倒计时|闹钟)", r"(?:定时|计时)取消"), None),
    ("timer_query", (r"还剩|还有多久|还有多长时间|剩多少|剩下多少",), None),
    (
        "timer_set",
        (
            rf"(?:定时|计时|倒计时|定个|设个|设一个|设置|定一个){_DURATION}",
            rf"{_DURATION}(?:的)?(?:定时|计时|倒计时|提醒)",
            r"(?:定时|计时|倒计时)(?P<duration>)$",
        ),
        _timer_set,
    ),
    ("unmute", (r"取消静音|打开声音|恢复声音",), None),
    ("mute", (r"^静音$|关掉声音|关闭声音",), None),
    (
        "volume_set",
        (rf"音量(?:调到|调成|设为|设成|改成|到)(?:百分之)?(?P<level>{_NUMBER})",),
        _volume_set,
    ),
    ("volume_up", (r"大声|声音大|音量大|调高音量|音量调高|音量加|响一点",), None),
    ("volume_down", (r"小声|声音小|音量小|调低音量|音量调低|音量减|轻一点",), None),
    ("recording_start", (r"^(?:开始录音|开始录制|录音|录一下|把会议录下来)$",), None),
    ("recording_stop", (r"(?:停止|结束|停下|别)录(?:音|制|了)",), None),
    ("recording_status", (r"在录音吗|还在录吗|录了多久",), None),
    ("notes_read", (r"(?:读|念)(?:一下|给我听)?(?:我的)?(?:笔记|备忘)",), None),
    ("notes_delete", (r"删除?(?:掉)?(?:所有|全部)?(?:的)?(?:我的)?笔记|清空笔记",), None),
    ("note_add", (r"^(?:记一下|记下|记住|记笔记|做个笔记)(?P<text>.+)$",), _note_add),
    ("photo", (r"拍(?:一张|张)?(?:照|照片)",), None),
    ("look", (r"我在看什么|这是什么|前面是什么|你看到了?什么|帮我看看",), None),
    ("repeat", (r"再说一遍|重复一下|你说什么",), None),
    ("help", (r"你能做什么|你会做什么|你会什么|你能干什么|帮助",), None),
    ("status", (r"电量|电池|状态|在线吗",), None),
)
_COMPILED = [(name, [re.compile(p) for p in patterns], slots) for name, patterns, slots in RULES]
# Commands that destroy or act, as in English: said with a negation they go to the brain.
_REFUSED_WHEN_NEGATED = ("notes_delete", "timer_cancel", "photo", "recording_start", "volume_set")


def parse(text: str) -> Intent | None:
    """The intent in Chinese ``text``, or None when it is a question for the brain."""
    norm = normalise(text)
    if not norm:
        return None
    for name, patterns, slots in _COMPILED:
        for pattern in patterns:
            match = pattern.search(norm)
            if match is None:
                continue
            if name in _REFUSED_WHEN_NEGATED and _NEGATION.search(norm[: match.start()]):
                return None
            intent = Intent(name, text=norm) if slots is None else slots(match, norm)
            if intent is not None:
                return Intent(intent.name, intent.slots, intent.text, LANGUAGE)
    return None
