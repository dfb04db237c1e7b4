"""Chinese through the real pipeline: a user speaking Mandarin (espeak-ng, a variant neither
model trained on) wakes the device with 你好零, the command model hears the commands, and the
replies are Chinese in the Mandarin voice; with a cloud, what is no command is transcribed with
language=zh and answered in Chinese."""

from __future__ import annotations

import dataclasses
import datetime as dt
import wave

import numpy as np
import pytest

from device.config.sources import load_config
from device.sim.chinese_demo import (
    CHINESE_SCENARIO,
    USER_PITCH,
    USER_RATE,
    USER_VARIANT,
    chinese_config,
    run_chinese_demo,
)
from device.sim.cloud_demo import loopback_provider
from device.sim.demo import Step, run_demo
from device.speaking.mandarin import MandarinSynthesizer
from drivers.buttons import simulated_pin_factory
from drivers.leds import SingleLed

CFG = load_config(paths=[], env={})
PINNED_NOW = dt.datetime(2026, 12, 7, 15, 7)  # a Monday afternoon


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-zh")
    return out, run_chinese_demo(CFG, out, now=PINNED_NOW)


def test_each_command_is_heard_by_the_command_model_and_answered_in_chinese(demo):
    _, reports = demo
    said = {(r.trigger, r.intent): r for r in reports}
    expected = {
        ("wake", "time"): "现在是下午3点7分。",
        ("wake", "date"): "今天是2026年12月7日，星期一。",
        ("wake", "timer_cancel"): "定时取消了。",
        ("wake", "volume_up"): "音量百分之90。",
    }
    for key, reply in expected.items():
        assert key in said, [(r.trigger, r.intent, r.heard) for r in reports]
        assert said[key].said == reply and said[key].engine == "command-model"
    assert said[("button", "help")].said.startswith("我可以报时间和日期")
    left = said[("wake", "timer_query")]
    assert left.said.startswith("定时还剩4分钟") and left.said.endswith("秒。")  # of the 5 minutes
    timers = [r.said for r in reports if r.intent == "timer_set"]
    assert timers == ["好的，定时10秒。", "好的，定时5分钟。"]


def test_the_sound_check_is_not_answered_and_no_question_is_taken_for_a_command(demo):
    _, reports = demo
    assert len(reports) <= len(CHINESE_SCENARIO) - 2  # the sound check and the pause
    last = reports[-1]  # "为什么天是蓝的": no command, and offline nothing else hears it
    assert (last.intent, last.said, last.engine) == (
        "not_caught",
        "对不起，我没听清。",
        "command-model",
    )


def test_the_replies_and_the_ringing_timer_are_spoken_in_mandarin(demo):
    out, reports = demo
    for report in reports:
        with wave.open(report.reply_wav) as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        assert len(samples) > 8000 and np.abs(samples).max() > 1000, report.reply_wav
    assert [f for f in (out / "replies").iterdir() if "定时时间到了" in f.name]


def test_a_question_no_command_answers_goes_to_the_cloud_in_chinese(tmp_path):
    user = MandarinSynthesizer(USER_RATE, USER_PITCH, volume_percent=100, variant=USER_VARIANT)
    with (
        loopback_provider() as (server, provider),
        SingleLed(CFG.led.pin, pin_factory=simulated_pin_factory()) as light,  # the upload shows
    ):
        server.transcript = "为什么天是蓝的"
        transcribing = dataclasses.replace(provider, transcription_model="loopback-transcribe")
        reports = run_demo(
            chinese_config(CFG),
            tmp_path,
            steps=(Step("你好零，现在几点"), Step("你好零，为什么天是蓝的")),
            providers=[transcribing],
            user=user,
            now=lambda: PINNED_NOW,
            light=light,
        )
    time, question = reports
    assert (time.intent, time.engine) == ("time", "command-model")  # never uploaded
    assert (question.intent, question.heard, question.engine) == (
        "brain",
        "为什么天是蓝的",
        "cloud",
    )
    upload, chat = server.requests
    assert upload.path == "/v1/audio/transcriptions" and upload.body["language"] == "zh"
    assert chat.body["messages"][0]["content"].startswith("你是")
