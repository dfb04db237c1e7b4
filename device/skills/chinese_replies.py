"""The device's replies in Chinese: a catalogue keyed by the English templates the skills say
(copied here as a translation file copies them; tests/skills/test_chinese.py checks that the
skills still say each one).

Numbers stay digits ("定时5分钟"): espeak-ng's Mandarin voice reads them the Chinese way, and a
screen shows them as Chinese text usually does. The time is said as a Chinese speaker says it:
"下午3点7分", the part of the day first.
"""

from __future__ import annotations

import datetime as dt

from device.skills.numbers import duration_parts
from device.skills.phrasebook import Phrasebook

CATALOGUE = {
    "It's {time}.": "现在是{time}。",
    "Today is {day}.": "今天是{day}。",
    "Timers need a length, like five minutes. For how long?": (
        "定时需要时长，比如五分钟。定时多久？"
    ),
    "Timers can run from one second to one day.": "定时可以从一秒到一天。",
    "OK, timer set for {length}.": "好的，定时{length}。",
    "OK, {name} timer set for {length}.": "好的，{name}定时{length}。",
    "There's no timer running.": "现在没有定时。",
    "Your {name} timer is done.": "定时时间到了。",
    "Cancelled the {name} timer.": "定时取消了。",
    "Cancelled {count} timers.": "取消了{count}个定时。",
    "{name} timer, {length} left": "定时还剩{length}",
    "; ": "；",
    "{timers}.": "{timers}。",
    "Volume {percent} percent.": "音量百分之{percent}。",
    "Sound is back on, at {percent} percent.": "声音打开了，音量百分之{percent}。",
    "I haven't said anything yet.": "我还什么都没说。",
    (
        "I can tell the time and the date, set and cancel timers, take notes and read "
        "them back, take photos, record a meeting, change the volume, and repeat what I "
        "said. Anything else needs the cloud."
    ): ("我可以报时间和日期，定时和取消定时，调音量，录音，读你的笔记。其他的问题要联网才能回答。"),
    "What should the note say?": "笔记要写什么？",
    "Noted: {text}.": "记下了：{text}。",
    "I can't read your notes right now. The log says why.": "现在读不了笔记，日志里有原因。",
    "I couldn't read your notes.": "读不了你的笔记。",
    "You have no notes.": "你没有笔记。",
    "You have one note: {listing}": "你有一条笔记：{listing}",
    "You have {count} notes. Newest first: {listing}": "你有{count}条笔记，最新的是：{listing}",
    " And {count} older.": "还有{count}条更早的。",
    "Delete all your notes? ": "删除全部笔记吗？",
    "Delete your one note? ": "删除你的那条笔记吗？",
    "Delete all {count} notes? ": "删除全部{count}条笔记吗？",
    "Say yes to confirm, or no to cancel.": "说“是的”确认，说“不要”就不删。",
    "OK, I kept your note.": "好的，笔记留着。",
    "OK, I kept your notes.": "好的，笔记都留着。",
    "I couldn't delete your notes.": "删不了你的笔记。",
    "Deleted 1 note.": "删除了1条笔记。",
    "Deleted {count} notes.": "删除了{count}条笔记。",
    "Recording is turned off on this device.": "这台设备没有开启录音。",
    "Recording. Say stop recording, or press the button twice, to stop.": (
        "开始录音。说“停止录音”或者按两下按钮就停。"
    ),
    (
        "Recording, for the cloud to transcribe. Say stop recording, or press the button "
        "twice, to stop."
    ): ("开始录音，录音会上传到云端转写。说“停止录音”或者按两下按钮就停。"),
    "I'm not recording.": "我没有在录音。",
    "No, I'm not recording.": "没有，我没有在录音。",
    "Yes, I've been recording for {length}.": "是的，已经录了{length}。",
    "Stopped. I recorded {length}.": "停了，录了{length}。",
    "I'm already recording: {length} so far.": "已经在录音了，录了{length}。",
    " I'll transcribe it and write a summary when I'm online.": "联网以后我会转写并写一个摘要。",
    " I'll transcribe it on the device.": "我会在设备上转写。",
    " I'll transcribe it on the device, then the cloud will summarise it.": (
        "我会在设备上转写，然后由云端写摘要。"
    ),
    "": "",
}
WEEKDAYS = "一二三四五六日"


class ChinesePhrasebook(Phrasebook):
    code = "zh"
    catalogue = CATALOGUE

    def clock(self, when: dt.datetime) -> str:
        hour = when.hour
        part = ("凌晨" if hour < 6 else "上午" if hour < 12 else "中午" if hour < 13
                else "下午" if hour < 19 else "晚上")  # fmt: skip
        said = hour if hour <= 12 else hour - 12
        return f"{part}{said}点整" if when.minute == 0 else f"{part}{said}点{when.minute}分"

    def day(self, when: dt.date) -> str:
        return f"{when.year}年{when.month}月{when.day}日，星期{WEEKDAYS[when.weekday()]}"

    def duration(self, seconds: float) -> str:
        counts = zip(duration_parts(seconds), ("小时", "分钟", "秒"), strict=True)
        parts = [f"{n}{unit}" for n, unit in counts if n]
        return "".join(parts) or "0秒"

    def listing(self, items: list[str]) -> str:
        return "".join(f"{item.rstrip('。.')}。" for item in items)


CHINESE = ChinesePhrasebook()
