"""``--language zh``: a Chinese phrase, said by espeak-ng's Mandarin voice from pinyin, and talk
without it in Chinese and some English. English phrases are trained exactly as before.

None of these needs TensorFlow: only the trainer's speech and data tools (scipy), and espeak-ng.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from device.listening.tflite_wake import ModelCard
from device.speaking.mandarin import MANDARIN_VOICE, MandarinSynthesizer, has_chinese

pytest.importorskip("scipy")  # the trainer's data tools (the train extra)

from wakeword_trainer import (
    chinese,  # noqa: E402
    cli,  # noqa: E402
)
from wakeword_trainer.card import model_card_markdown  # noqa: E402
from wakeword_trainer.cli import train_parser, train_settings  # noqa: E402
from wakeword_trainer.dataset import negative_jobs, positive_jobs  # noqa: E402
from wakeword_trainer.settings import DataSettings  # noqa: E402
from wakeword_trainer.speech import Voice, english_voices, split_voices  # noqa: E402
from wakeword_trainer.testset import write_test_set  # noqa: E402

PHRASE = "你好零"
SHIPPED = Path(__file__).resolve().parents[2] / "models" / "wakeword" / "ni_hao_ling.tflite"


@pytest.fixture(scope="module")
def split():
    return chinese.split_voices()


def test_the_voices_are_the_mandarin_voice_split_by_variant(split):
    assert split.language == "zh"
    assert split.train_voices == split.heldout_voices == (MANDARIN_VOICE,)
    assert split.heldout_variants and split.train_variants
    assert set(split.heldout_variants).isdisjoint(split.train_variants)
    # English talk: training voices and held-out ones apart, as for an English phrase
    assert set(split.negative_voices) | set(split.heldout_negative_voices) == set(english_voices())
    assert split.heldout_negative_voices == ("en-029", "en-gb-scotland")
    assert not any(":" in v for v in split.train_voices + split.negative_voices)  # no other engine


def test_every_held_out_clip_is_said_with_a_held_out_variant(split):
    rng = random.Random(0)
    for held_out in (True, False):
        jobs = positive_jobs(rng, PHRASE, split, 200, held_out=held_out)
        names = {voice.name for voice, _ in jobs}
        assert {name.split("+")[0] for name in names} == {MANDARIN_VOICE}
        variants = {name.split("+")[1] for name in names if "+" in name}
        wanted = split.heldout_variants if held_out else split.train_variants
        assert variants <= set(wanted)
        assert (MANDARIN_VOICE in names) is not held_out  # the voice's own throat trains only
        assert {text for _, text in jobs} == set(chinese.phrase_spellings(PHRASE))


def test_phrase_spellings_are_characters_with_chinese_marks():
    spellings = ("你好零", "你好零。", "你好零！", "你好零？", "你好，零")
    assert chinese.phrase_spellings(PHRASE) == spellings


def test_negative_talk_never_holds_the_phrase_nor_what_sounds_the_same(split):
    rng = random.Random(1)
    jobs = []
    for held_out in (False, True):
        jobs += negative_jobs(rng, PHRASE, split, 2000, held_out=held_out)
        jobs += negative_jobs(rng, PHRASE, split, 300, held_out=held_out, confusable=True)
        jobs += negative_jobs(rng, PHRASE, split, 500, held_out=held_out, single=True)
    chinese_texts = [text for voice, text in jobs if voice.name.startswith(MANDARIN_VOICE)]
    assert not [text for text in chinese_texts if chinese.contains(text, PHRASE)]
    assert all(has_chinese(text) for text in chinese_texts)
    english = [(voice, text) for voice, text in jobs if not voice.name.startswith(MANDARIN_VOICE)]
    assert all(not has_chinese(text) and voice.name.startswith("en") for voice, text in english)
    # about ENGLISH_SHARE of the sentences and single words (never the confusables) are English
    assert 0.15 < len(english) / (len(jobs) - 600) < 0.35
    # the everyday sentences, confusables, short words and dictionary words all come up
    texts = set(chinese_texts)
    for kind in (chinese.EVERYDAY, chinese.CONFUSABLES, chinese.SHORT_WORDS):
        assert texts & set(kind)
    assert texts & set(chinese.dictionary_words())


def test_same_syllables_and_tones_count_as_the_phrase():
    assert chinese.contains("我说你好零吧", PHRASE)
    assert chinese.contains("你好灵活", PHRASE)  # ni3 hao3 ling2 huo2
    assert not chinese.contains("你好领导", PHRASE)  # ling3: a confusable
    assert not chinese.contains("你好林", PHRASE)
    assert not [c for c in chinese.CONFUSABLES + chinese.EVERYDAY if chinese.contains(c, PHRASE)]


def test_the_mandarin_voice_speaks_pinyin_of_the_characters():
    voice = Voice(f"{MANDARIN_VOICE}+m3", 150, 40)
    said = voice.say("现在几点")
    tts = MandarinSynthesizer(150, 40, volume_percent=100, variant="m3", phrases=True)
    assert said.tobytes() == tts.synthesize("现在几点")
    assert said.size > 16000 * 0.5


def test_english_stays_the_default_and_unchanged():
    args = train_parser().parse_args(["hey jarvis", "--out", "j.tflite"])
    settings, command = train_settings(args)
    assert settings.data == DataSettings() and settings.data.language == "en"
    assert "--language" not in command
    english = split_voices()
    assert english.language == "en" and english.heldout_negative_voices == ()
    rng = random.Random(0)
    for voice, text in negative_jobs(rng, "hey jarvis", english, 50, held_out=True):
        assert not has_chinese(text) and not voice.name.startswith("cmn")


def test_language_option_reaches_the_settings_and_the_command():
    args = train_parser().parse_args([PHRASE, "--out", "n.tflite", "--language", "zh"])
    settings, command = train_settings(args)
    assert settings.data.language == "zh"
    assert command == "zeropin wakeword train '你好零' --out n.tflite --language=zh"
    with pytest.raises(SystemExit):
        train_parser().parse_args([PHRASE, "--out", "n.tflite", "--language", "fr"])
    assert cli.testset_parser().parse_args([PHRASE, "d", "--language", "zh"]).language == "zh"


def test_a_chinese_test_set_is_written(split, tmp_path):
    positives, negatives = write_test_set(
        PHRASE, split, tmp_path, positives_per_snr=1, negative_minutes=0.2, seed=2, quiet=True
    )
    clips = sorted(positives.rglob("*.wav"))
    assert len(clips) == 4 and all(MANDARIN_VOICE.replace("+", "_") in p.name for p in clips)
    assert len(list(negatives.glob("*.wav"))) == 1


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped Chinese model")
def test_the_card_says_what_held_out_means_and_that_no_person_was_heard():
    card = ModelCard.load(SHIPPED)
    assert card.phrase == PHRASE and card.extra["data"]["language"] == "zh"
    markdown = " ".join(model_card_markdown(card, SHIPPED.name).split())
    assert "held out means held-out variants of the same voice" in markdown
    assert "No recordings of real people saying Chinese" in markdown
    assert "English voices" in markdown and "hey there" not in markdown
    assert np.isfinite(card.threshold)
