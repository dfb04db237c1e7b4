"""The offline commands of the Chinese interface: what the wearer says, and what it asks for.

No Chinese speech recogniser runs on the device (pocketsphinx has no Chinese model; Vosk's is a
download), so the offline Chinese commands are a closed set heard by a small command model
(``device/listening/command_model.py``), trained by the project's own trainer on espeak-ng's
Mandarin voice saying these phrases. The model answers with the canonical phrase (the first of
each row), which ``device.skills.chinese`` parses as it parses cloud-transcribed text.

Timers come in the few lengths listed: other lengths need the cloud to hear them.
"""

from __future__ import annotations

# (intent, the canonical phrase, other ways to say it)
COMMANDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("time", "现在几点", ("几点了", "现在几点了")),
    ("date", "今天几号", ("今天是几号", "今天星期几")),
    ("timer_set", "定时十秒", ("十秒定时",)),
    ("timer_set", "定时一分钟", ("一分钟定时",)),
    ("timer_set", "定时五分钟", ("五分钟定时",)),
    ("timer_set", "定时十分钟", ("十分钟定时",)),
    ("timer_query", "还剩多少时间", ("还有多久",)),
    ("timer_cancel", "取消定时", ("取消计时",)),
    ("volume_up", "大声一点", ("声音大一点",)),
    ("volume_down", "小声一点", ("声音小一点",)),
    ("help", "你能做什么", ("你会做什么",)),
    ("recording_start", "开始录音", ("开始录制",)),
    ("recording_stop", "停止录音", ("结束录音",)),
    ("notes_read", "读我的笔记", ("读一下笔记",)),
)

# What the model answers for everything else: talk, noise, English, half a command.
UNKNOWN = "_unknown"


def canonical_phrases() -> tuple[str, ...]:
    """The model's labels for the commands, in order; UNKNOWN is the model's last label."""
    return tuple(phrase for _, phrase, _ in COMMANDS)
