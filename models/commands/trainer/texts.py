"""What the Chinese command model hears: the commands' phrasings, and all that is not a command.

The commands are ``device.skills.chinese_commands`` (the intent parser reads their canonical
phrases). Everything else is one class, UNKNOWN, made of: random Chinese talk (words from
pypinyin's phrase dictionary strung together), everyday sentences that are not commands (some
sharing a word with one), pieces of commands said alone, timers of lengths the list does not
have, English talk, the wake phrase alone, and noise. No unknown text is a command's phrasing,
and none but the other timers holds one.
"""

from __future__ import annotations

import functools
import random
import re

from device.skills.chinese_commands import COMMANDS, canonical_phrases

# Everyday talk near a wearable; several share a word with a command (几点, 今天, 声音, 开始).
EVERYDAY_ZH = (
    "今天天气怎么样", "我们去吃饭吧", "明天见", "你好吗", "谢谢你", "我不知道", "这个多少钱",
    "请等一下", "你在哪里", "我想喝水", "路上小心", "我们几点出发", "明天会下雨吗", "他已经到了",
    "我有点累了", "这本书很好看", "我们开会吧", "帮我打个电话", "地铁站在哪里", "晚饭吃什么",
    "声音太吵了", "开始吧", "我马上就来", "你叫什么名字", "今天好冷啊", "现在不行", "一点也不好",
    "时间不早了", "我要去上班了", "停车场满了", "录音机坏了", "笔记本在桌子上", "请大家安静",
    "欢迎光临", "祝你生日快乐", "我们下次再聊", "能不能快点", "明天几号", "昨天星期几",
    "你吃饭了吗", "外面在下雨", "我找不到钥匙", "火车晚点了", "这个问题很难", "把门关上",
    "我们走吧", "妈妈在做饭", "孩子们在玩", "我听不清楚", "再说一遍", "好的没问题", "对不起",
    "没关系", "我同意", "你说得对", "太贵了", "慢慢来", "我们到了", "会议改到周四", "小心点",
    "你做什么工作", "他能做到", "定好了吗", "大家好", "声音很好听", "停止吧", "取消了吗",
)  # fmt: skip

# Pieces of commands said alone: half a command is not one.
FRAGMENTS = (
    "定时", "现在", "开始", "停止", "声音", "录音", "取消", "今天", "笔记", "一点", "大声",
    "小声", "分钟", "时间", "还剩", "结束", "多少", "十秒", "五分钟", "十分钟", "一分钟", "几号",
    "星期几", "录制", "计时", "读我的", "做什么", "还有",
)  # fmt: skip

# Timers of lengths the command list does not have: they must not be heard as a listed one.
_OTHER_MINUTES = ("二十", "三十", "十五", "两", "三", "四", "六", "八", "二十五", "四十", "十二",
                  "十一", "九")  # fmt: skip
_OTHER_SECONDS = ("三", "五", "二十", "三十", "十五", "四十", "六十", "两", "一", "十一")
_OTHER_HOURS = ("一个", "两个", "半个")


def other_timers() -> tuple[str, ...]:
    """定时二十分钟, 三秒定时, ...: both word orders, no listed length."""
    lengths = (
        [f"{n}分钟" for n in _OTHER_MINUTES]
        + [f"{n}秒" for n in _OTHER_SECONDS]
        + [f"{n}小时" for n in _OTHER_HOURS]
    )
    return tuple(text for length in lengths for text in (f"定时{length}", f"{length}定时"))


def phrasings() -> dict[str, tuple[str, ...]]:
    """Each command's canonical phrase: all the ways to say it (itself first)."""
    return {phrase: (phrase, *others) for _, phrase, others in COMMANDS}


@functools.cache
def _all_phrasings() -> tuple[str, ...]:
    return tuple(text for texts in phrasings().values() for text in texts)


def holds_command(text: str) -> bool:
    """Whether ``text`` says one of the commands (any phrasing), alone or within more."""
    return any(phrasing in text for phrasing in _all_phrasings())


_HAN_ONLY = re.compile(r"[\u4e00-\u9fff]{2,4}")


@functools.cache
def _words() -> tuple[str, ...]:
    """Two- to four-character words from pypinyin's phrase dictionary (about 40,000)."""
    from pypinyin.phrases_dict import phrases_dict

    return tuple(sorted(w for w in phrases_dict if _HAN_ONLY.fullmatch(w)))


def random_talk(rng: random.Random) -> str:
    """One to five dictionary words strung together: Chinese speech sounds, no command."""
    words = _words()
    text = "".join(rng.choice(words) for _ in range(rng.choice((1, 2, 2, 3, 3, 4, 5))))
    return random_talk(rng) if holds_command(text) else text


def unknown_text(rng: random.Random, kind: str) -> str:
    """A text of one unknown ``kind``: talk, everyday, fragment or timer (never a command)."""
    if kind == "talk":
        return random_talk(rng)
    pool = {"everyday": EVERYDAY_ZH, "fragment": FRAGMENTS, "timer": other_timers()}[kind]
    return rng.choice(pool)


def check_texts() -> None:
    """AssertionError if an unknown text says a command, or the labels changed under us. (A
    timer may hold one: 二十分钟定时 ends with 十分钟定时, and is not it.)"""
    for text in EVERYDAY_ZH + FRAGMENTS:
        assert not holds_command(text), f"{text!r} says a command"
    assert not set(other_timers()) & set(_all_phrasings())
    assert tuple(phrasings()) == canonical_phrases()
