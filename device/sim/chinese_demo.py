"""``zeropin demo --language zh``: the offline part in Chinese, through the real pipeline.

The user speaks Mandarin with espeak-ng (through pypinyin: its own ``cmn`` voice reads few
characters) in a variant of its voice that neither the wake word nor the command model trained
on. "你好零" wakes the device (``models/wakeword/ni_hao_ling.tflite``), the command model
(``models/commands/zh_commands.tflite``) hears the offline commands, and the replies are Chinese
in the Mandarin voice. A question that is no command is not understood offline: the command
model knows only its commands, and says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from device.config.schema import WAKE_PHRASES, Config
from device.loop.runtime import TurnReport
from device.sim.demo import Step, run_demo
from device.speaking.mandarin import MandarinSynthesizer

CHINESE_SCENARIO: tuple[Step, ...] = (
    Step("测试麦克风，一，二，三，四，五"),  # a sound check: no wake word, so no answer
    Step("你好零，现在几点"),
    Step("你好零，今天几号"),
    Step("你好零，定时十秒"),
    Step(pause_seconds=6.0),  # the timer rings meanwhile
    Step("你好零，定时五分钟"),
    Step("你好零，还剩多少时间"),
    Step("你好零，取消定时"),
    Step("你能做什么", press_button=True),
    Step("你好零，大声一点"),
    Step("你好零，为什么天是蓝的"),
)
# A variant the models never trained on (a quarter of espeak-ng's are held out: f3 is one)
USER_VARIANT, USER_RATE, USER_PITCH = "f3", 140, 50


def chinese_config(cfg: Config) -> Config:
    """``cfg`` with the device speaking Chinese, and the wake word that goes with it."""
    device = dataclasses.replace(cfg.device, language="zh")
    wake = dataclasses.replace(cfg.wake, phrase=WAKE_PHRASES["zh"], model="")
    return dataclasses.replace(cfg, device=device, wake=wake)


def run_chinese_demo(
    cfg: Config, out_dir: Path, now: dt.datetime | None = None
) -> list[TurnReport]:
    """The Chinese scenario, offline; one report per answered utterance."""
    user = MandarinSynthesizer(USER_RATE, USER_PITCH, volume_percent=100, variant=USER_VARIANT)
    clock = (lambda: now) if now is not None else dt.datetime.now
    return run_demo(chinese_config(cfg), out_dir, steps=CHINESE_SCENARIO, user=user, now=clock)
