"""Chinese commands: parsed from the command model's phrases and from free cloud text, and
answered in Chinese by the same skills that answer in English."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.loop.brain import OfflineBrain
from device.loop.router import BRAIN, Router
from device.skills import local, recordings
from device.skills.chinese import chinese_duration, chinese_number, normalise
from device.skills.chinese_commands import COMMANDS
from device.skills.chinese_replies import CATALOGUE, CHINESE
from device.skills.intents import decided_locally, is_confirmation, is_stop, parse
from device.skills.local import Skills
from device.skills.timers import Timers
from device.speaking.playback import Volume
from device.storage.database import Database
from device.storage.notes import NoteStore


@pytest.mark.parametrize(("intent", "phrase", "others"), COMMANDS)
def test_every_phrase_of_the_command_model_is_its_command(intent, phrase, others):
    for said in (phrase, *others, f"你好零，{phrase}", f"你好零 {' '.join(phrase)}"):
        parsed = parse(said)
        assert parsed is not None and parsed.name == intent, said
        assert parsed.language == "zh"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("定时十秒", 10),
        ("帮我定个二十分钟的计时器", 1200),
        ("一个半小时的定时", 5400),
        ("定时一分三十秒", 90),
        ("半个小时的倒计时", 1800),
        ("倒计时两个小时", 7200),
        ("定时15分钟", 900),
    ],
)
def test_timers_of_any_length_from_free_text(text, seconds):
    intent = parse(text)
    assert intent is not None and intent.name == "timer_set"
    assert float(intent.slots["seconds"]) == seconds


@pytest.mark.parametrize(
    "text",
    ["为什么天是蓝的", "明天北京天气怎么样", "不要删除我的笔记", "别取消定时", "你好零", "，。"],
)
def test_questions_and_negated_commands_go_to_the_brain(text):
    assert parse(text) is None


def test_answers_and_stop_are_heard_in_chinese():
    assert is_confirmation("是的") and is_confirmation("确定")
    assert not is_confirmation("不要")
    assert is_stop("停") and is_stop("别说了")
    assert decided_locally("定时五分钟") and not decided_locally("记一下买牛奶")


def test_numbers_and_durations():
    assert [chinese_number(t) for t in ("十", "十五", "二十五", "两百", "一百零五", "42")] == [
        10, 15, 25, 200, 105, 42
    ]  # fmt: skip
    assert chinese_number("十五个") is None
    assert chinese_duration("五分钟") == 300 and chinese_duration("什么") is None
    assert normalise("请你 帮我 定时 五分钟 吧！") == "定时五分钟"


@pytest.fixture
def skills(tmp_path: Path) -> Iterator[Skills]:
    with Database(tmp_path / "zeropin.db") as database:
        yield Skills(
            Timers(lambda: 0.0),
            NoteStore(database),
            Volume(50),
            camera=None,
            photos_dir=tmp_path / "photos",
            state_dir=tmp_path,
            now=lambda: dt.datetime(2026, 12, 7, 15, 7),
        )


def _reply(skills: Skills, text: str) -> str:
    intent = parse(text)
    assert intent is not None, text
    return skills.handle(intent)


def test_chinese_commands_get_chinese_replies(skills):
    assert _reply(skills, "现在几点") == "现在是下午3点7分。"
    assert _reply(skills, "今天几号") == "今天是2026年12月7日，星期一。"
    assert _reply(skills, "定时一个半小时") == "好的，定时1小时30分钟。"
    assert _reply(skills, "还剩多少时间") == "定时还剩1小时30分钟。"
    assert _reply(skills, "取消定时") == "定时取消了。"
    assert _reply(skills, "还剩多少时间") == "现在没有定时。"
    assert _reply(skills, "大声一点") == "音量百分之60。"
    assert _reply(skills, "读我的笔记") == "你没有笔记。"
    assert _reply(skills, "记一下买牛奶") == "记下了：买牛奶。"
    assert _reply(skills, "读我的笔记") == "你有一条笔记：买牛奶。"
    assert _reply(skills, "开始录音") == "这台设备没有开启录音。"
    # and English still gets English, from the same skills
    assert skills.handle(parse("what time is it")) == "It's 3:07 PM."


def test_every_reply_a_chinese_command_can_get_is_in_the_catalogue(skills):
    said = [_reply(skills, phrase) for _, phrase, _ in COMMANDS]
    assert all(not any(ch.isascii() and ch.isalpha() for ch in reply) for reply in said), said


def test_the_chinese_clock_and_durations():
    at = [dt.datetime(2026, 1, 1, h, m) for h, m in ((0, 30), (9, 0), (12, 5), (20, 45))]
    assert [CHINESE.clock(t) for t in at] == [
        "凌晨0点30分",
        "上午9点整",
        "中午12点5分",
        "晚上8点45分",
    ]
    assert [CHINESE.duration(s) for s in (0, 10, 90, 3600, 5400)] == [
        "0秒", "10秒", "1分钟30秒", "1小时", "1小时30分钟"
    ]  # fmt: skip


def test_a_chinese_device_says_in_chinese_what_it_did_not_understand_or_cannot_answer(skills):
    router = Router(skills, OfflineBrain(language="zh"), "你好零", language="zh")
    assert "".join(router.answer("").fragments) == "对不起，我没听清。"
    answer = router.answer("你好零，为什么天是蓝的")
    assert answer.intent == BRAIN and "".join(answer.fragments).startswith("回答这个问题需要联网")
    answer = router.answer("你好零，定时五分钟")
    assert (answer.intent, "".join(answer.fragments)) == ("timer_set", "好的，定时5分钟。")
    # on an English device, a question in Chinese (a cloud transcript) is answered in Chinese
    english = Router(skills, OfflineBrain(), "hey zero")
    assert "".join(english.answer("为什么天是蓝的").fragments).startswith("回答这个问题需要联网")
    assert "".join(english.answer("").fragments) == "Sorry, I didn't catch that."


def test_deleting_notes_is_asked_and_answered_in_chinese(skills):
    skills.handle(parse("记一下买牛奶"))
    skills.handle(parse("记一下买鸡蛋"))
    asked = skills.confirmation(parse("删除我的笔记"))
    assert asked is not None
    assert asked.question == "删除全部2条笔记吗？说“是的”确认，说“不要”就不删。"
    assert asked.kept == "好的，笔记都留着。"
    assert skills.handle(parse("删除我的笔记")) == "删除了2条笔记。"
    assert is_confirmation("是的") and not is_confirmation(asked.question[-6:])


def test_a_yes_in_chinese_is_answered_in_chinese(skills):
    router = Router(skills, OfflineBrain(language="zh"), "你好零", language="zh")
    skills.handle(parse("记一下买牛奶"))
    asked = router.answer("删除我的笔记")
    assert asked.confirmation is not None
    done = router.answer("是的", confirmed=asked.confirmation.action)
    assert "".join(done.fragments) == "删除了1条笔记。"
    toggled = router.answer("", confirmed="recording_toggle")  # the double press: no words
    assert "".join(toggled.fragments) == "这台设备没有开启录音。"


def test_the_catalogue_still_has_the_english_the_skills_say():
    english = (
        local.HELP, local.NO_TIMER, local.TIMER_DONE, local.NO_NOTES, local.ANSWER_HINT,
        recordings.NO_RECORDER, recordings.STARTED, recordings.STARTED_FOR_THE_CLOUD,
        recordings.NOT_RECORDING, "No, " + recordings.NOT_RECORDING,
        *(text for text in recordings.AFTERWARDS.values() if text),
        recordings.LOCAL_THEN_SUMMARY,
    )  # fmt: skip
    assert [text for text in english if text not in CATALOGUE] == []
