"""The shipped Chinese command model, heard through ``CommandModelRecognizer`` as on the device.

Speech is espeak-ng's Mandarin voice in variants the model never trained on (the card lists
them), in a room's pink noise: webrtcvad and the window's cut both dislike digital silence.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from device.errors import ModelError
from device.listening.command_model import (
    UNKNOWN,
    WINDOW_FRAMES,
    CommandModelRecognizer,
    command_window,
)
from device.listening.features import LOG_MEL, MEL_BANDS
from device.sim.voices import SPEECH_DBFS, at_level, with_noise
from device.skills.chinese_commands import canonical_phrases
from device.speaking.mandarin import MandarinSynthesizer
from device.speaking.tts import EspeakSynthesizer
from device.system.manifest import MANIFEST_PATH

MODEL = MANIFEST_PATH.parent / "commands" / "zh_commands.tflite"
CARD = json.loads(MODEL.with_suffix(".json").read_text(encoding="utf-8"))
HELD_OUT = tuple(CARD["made"]["variants"]["test"])  # never heard in training or validation
RATE = 16000


@pytest.fixture(scope="module")
def recognizer() -> CommandModelRecognizer:
    return CommandModelRecognizer(MODEL)


def in_a_room(pcm: bytes, snr_db: float = 25.0, seed: int = 0) -> bytes:
    """Speech after 0.4 s and before 0.7 s of the room, all in its noise, as the mic hears it."""
    speech = at_level(np.frombuffer(pcm, dtype="<i2"), SPEECH_DBFS)
    quiet = np.zeros(int(0.4 * RATE), np.int16), np.zeros(int(0.7 * RATE), np.int16)
    audio = np.concatenate([quiet[0], speech, quiet[1]])
    return with_noise(audio, snr_db, np.random.default_rng(seed)).tobytes()


def mandarin(text: str, variant: str, rate_wpm: int = 160, pitch: int = 50) -> bytes:
    return MandarinSynthesizer(rate_wpm, pitch, 100, variant, phrases=True).synthesize(text)


def hear(recognizer: CommandModelRecognizer, pcm: bytes, chunk: int = 960) -> str:
    recognizer.start()
    for at in range(0, len(pcm), chunk):
        recognizer.feed(pcm[at : at + chunk])
    transcript = recognizer.finish()
    assert transcript.engine == "command-model"
    assert transcript.confident == transcript.in_grammar == bool(transcript.text)
    return transcript.text


def test_the_card_lists_the_commands_in_order_then_unknown(recognizer):
    assert recognizer.labels == (*canonical_phrases(), UNKNOWN)
    assert recognizer.name == "command-model"
    assert 0 < recognizer.threshold < 1


def test_every_command_said_by_held_out_variants_is_heard_as_itself(recognizer):
    heard = {}
    for index, phrase in enumerate(canonical_phrases()):
        for turn, variant in enumerate(HELD_OUT[index % 5 :: 5][:2]):
            pcm = in_a_room(mandarin(phrase, variant, 150 + 20 * turn), seed=index)
            heard[(phrase, variant)] = hear(recognizer, pcm)
    wrong = {key: text for key, text in heard.items() if text not in ("", key[0])}
    missed = [key for key, text in heard.items() if text == ""]
    assert not wrong, f"heard as another command: {wrong}"
    assert len(missed) <= len(heard) // 10, f"missed {missed}"


def test_a_command_after_the_wake_phrase_is_heard(recognizer):
    # after a wake word the listener hands over the phrase too, then the command
    for index, phrase in enumerate(("现在几点", "定时五分钟", "取消定时", "大声一点")):
        pcm = in_a_room(mandarin(f"你好零，{phrase}", HELD_OUT[2 * index + 1], 140), seed=index)
        assert hear(recognizer, pcm) == phrase


def test_talk_that_is_no_command_is_heard_as_nothing(recognizer):
    talk = (
        "我们明天去公园散步",
        "这家餐厅的菜很好吃",
        "定时二十分钟",
        "定时三秒",
        "开始",
        "声音",
        "你好零",
    )
    for index, text in enumerate(talk):
        pcm = in_a_room(mandarin(text, HELD_OUT[index]), seed=index)
        assert hear(recognizer, pcm) == "", text
    english = EspeakSynthesizer("en-us", 160, 50, 100).synthesize("what time is it in london")
    assert hear(recognizer, in_a_room(english)) == ""
    assert hear(recognizer, in_a_room(b"\0\0" * RATE)) == ""  # the room alone


def test_any_chunk_size_gives_the_same_answer(recognizer):
    pcm = in_a_room(mandarin("取消定时", HELD_OUT[3]))
    answers = set()
    for chunk in (320, 960, 4096, len(pcm)):
        hear(recognizer, pcm, chunk)
        answers.add((recognizer.last_label, recognizer.last_probability))
    assert len(answers) == 1


def test_the_window_ends_just_after_the_speech_and_pads_the_front():
    rows = LOG_MEL.rows(np.frombuffer(in_a_room(mandarin("开始录音", HELD_OUT[0])), "<i2"))
    window, too_long = command_window(rows)
    assert window.shape == (WINDOW_FRAMES, MEL_BANDS) and not too_long
    assert np.allclose(window[0], window[1])  # short: padded in front with the room
    talk = np.concatenate([rows] * 5)  # about 9 s of speech: not a command
    assert command_window(talk)[1]
    assert command_window(np.zeros((0, MEL_BANDS), np.float32))[0].shape[0] == WINDOW_FRAMES


def test_a_missing_model_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelError, match="zeropin commands train --language zh"):
        CommandModelRecognizer(tmp_path / "zh_commands.tflite")


def test_a_damaged_model_is_refused_clearly(tmp_path):
    broken = tmp_path / "zh_commands.tflite"
    shutil.copy(MODEL.with_suffix(".json"), broken.with_suffix(".json"))
    broken.write_bytes(MODEL.read_bytes()[:5000])
    with pytest.raises(ModelError, match="zh_commands.tflite"):
        CommandModelRecognizer(broken)
    broken.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="not a TFLite model"):
        CommandModelRecognizer(broken)


def test_the_shipped_model_is_checked_against_its_sha256(tmp_path):
    models = tmp_path / "models"
    (models / "commands").mkdir(parents=True)
    shutil.copy(MANIFEST_PATH, models / "manifest.toml")
    copy = models / "commands" / MODEL.name
    shutil.copy(MODEL.with_suffix(".json"), copy.with_suffix(".json"))
    content = bytearray(MODEL.read_bytes())
    copy.write_bytes(content)
    CommandModelRecognizer(copy, models / "manifest.toml")  # an exact copy loads
    content[len(content) // 2] ^= 0xFF  # one weight changed: it would still run
    copy.write_bytes(content)
    with pytest.raises(ModelError, match="does not match its sha256"):
        CommandModelRecognizer(copy, models / "manifest.toml")
