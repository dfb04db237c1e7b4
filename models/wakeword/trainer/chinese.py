"""Chinese wake phrases (``--language zh``): the voice, the words and the talk without the phrase.

espeak-ng has one Mandarin voice that reads well: ``cmn-latn-pinyin``, fed the tone-numbered
pinyin pypinyin makes of the characters (``device.speaking.mandarin``; its ``cmn`` voice reads few
characters). With one voice, the split holds out by variant only: the held-out speakers are the
same voice with variants (throats) the network never heard, each clip with one of them.

The negatives are Chinese (everyday sentences, confusables, short words, runs of random words
from pypinyin's dictionary) and, for a share of the talk, English by espeak-ng's English voices:
people mix languages, and the device hears English too.
"""

from __future__ import annotations

import functools
import random

from device.speaking.mandarin import MANDARIN_VOICE, pinyin

from .settings import HELDOUT_VOICES
from .speech import Voice, VoiceSplit, english_voices, random_voice, variants
from .speech import negative_sentence as english_sentence
from .speech import single_word as english_word

# Of the sentences and single words without the phrase, the share said in English by English
# voices; confusables are all Chinese.
ENGLISH_SHARE = 0.25

# Sounds like part of "你好零" (ni3 hao3 ling2), or greets the same way. Near rhymes that differ
# in one sound or only in tone are left out, as for English: 你好令 (ling4) scored as high as the
# phrase, and 你好宁 and 你好林 are the phrase itself for the many speakers who merge n and l, or
# -n and -ng; a model trained to refuse them (and tested on them) missed 37% of the phrase.
CONFUSABLES = (
    "你好", "零", "你好啊", "您好", "你好呀", "你好李", "零零", "你好你好", "好零", "你好领导",
    "你好吗", "你好老师", "你好小林", "零点", "泥好", "你们好", "大家好", "早上好", "你好你好你好",
    "好了", "零一二", "喂你好", "你好张老师", "零下五度", "你好王", "好冷", "你好美",
)  # fmt: skip

# Things a wearer says to and around the device; the rest of the negative text is random words.
EVERYDAY = (
    "现在几点",
    "定时五分钟",
    "开会改到周四下午了",
    "今天天气怎么样",
    "请把盐递给我",
    "声音大一点",
    "记一下，买牛奶和鸡蛋",
    "我在看什么",
    "我觉得我们七点出发吧",
    "车站离这儿有多远",
    "你听得见我吗",
    "测试麦克风，一二三",
    "记得给妈妈打电话",
    "讲座完了一起吃午饭吧",
    "火车晚点二十分钟",
    "今天下午会下雨吗",
    "刚才的演示太棒了",
    "我的钥匙放哪儿了",
    "电池快没电了",
    "请说大声一点",
    "帮我翻译这句话",
    "明天早上七点叫我",
    "这个多少钱",
    "我们走吧",
)

# Words said alone, then silence: answers, counts.
SHORT_WORDS = (
    "是", "不", "好的", "对", "谢谢", "一", "二", "三", "四", "五", "六", "七", "八", "九",
    "十", "没有", "可以", "行", "嗯", "等等", "停", "再见", "什么", "不是", "好", "喂", "哦",
    "没事", "明白", "知道了",
)  # fmt: skip


def phrase_spellings(phrase: str) -> tuple[str, ...]:
    """Ways to write a Chinese phrase that espeak-ng says a little differently: with a full
    stop, an exclamation or question mark, and with a pause before its last character."""
    forms = {phrase, phrase + "。", phrase + "！", phrase + "？"}
    if len(phrase) > 2:
        forms.add(phrase[:-1] + "，" + phrase[-1])
    return tuple(sorted(forms))


@functools.cache
def _syllables(text: str) -> tuple[str, ...]:
    return tuple(pinyin(text, phrases=True).replace(",", " ").replace(".", " ").split())


def contains(text: str, phrase: str) -> bool:
    """Whether ``text`` holds the phrase, written so or as other characters said alike (same
    syllables, same tones: "你好灵活" holds "你好零"; "你好领导" does not: ling3, not ling2)."""
    if phrase in text:
        return True
    said, wanted = _syllables(text), _syllables(phrase)
    return any(said[i : i + len(wanted)] == wanted for i in range(len(said) - len(wanted) + 1))


@functools.cache
def dictionary_words() -> tuple[str, ...]:
    """Chinese words of two to four characters from pypinyin's phrase dictionary (about 47,000
    in all, idioms many of them): speech sounds aplenty, as cmudict is for English."""
    pinyin("你好", phrases=True)  # loads pypinyin's phrase table, for every reading after it
    from pypinyin.phrases_dict import phrases_dict

    return tuple(sorted(word for word in phrases_dict if 2 <= len(word) <= 4))


def _chinese_sentence(rng: random.Random, phrase: str) -> str:
    roll = rng.random()
    if roll < 0.25:
        text = rng.choice(EVERYDAY)
    elif roll < 0.45:
        text = f"{rng.choice(CONFUSABLES)}，{rng.choice(EVERYDAY)}"
    else:
        words = dictionary_words()
        text = "".join(rng.choice(words) for _ in range(rng.randint(2, 7)))
    return text if not contains(text, phrase) else _chinese_sentence(rng, phrase)


def _chinese_word(rng: random.Random, phrase: str) -> str:
    word = rng.choice(SHORT_WORDS) if rng.random() < 0.5 else rng.choice(dictionary_words())
    return word if not contains(word, phrase) else _chinese_word(rng, phrase)


def split_voices(heldout: tuple[str, ...] = HELDOUT_VOICES) -> VoiceSplit:
    """The Mandarin voice, its variants split as English's are (a quarter held out), and
    espeak-ng's English voices for the English talk (``heldout`` of them for the held-out
    talk). Other engines have no Chinese voice."""
    every = variants()
    held_variants = every[::4]
    english = english_voices()
    dictionary_words()  # loaded now, so the speaking processes forked later share it
    return VoiceSplit(
        train_voices=(MANDARIN_VOICE,),
        train_variants=tuple(v for v in every if v not in held_variants),
        heldout_voices=(MANDARIN_VOICE,),
        heldout_variants=held_variants,
        negative_voices=tuple(v for v in english if v not in heldout),
        language="zh",
        heldout_negative_voices=tuple(v for v in english if v in heldout),
    )


def positive_jobs(
    rng: random.Random, phrase: str, split: VoiceSplit, n: int, held_out: bool
) -> list[tuple[Voice, str]]:
    """The phrase said ``n`` times by the Mandarin voice: held out, always with a held-out
    variant (the voice's own would be a speaker the network trained on)."""
    names = split.heldout_variants if held_out else split.train_variants
    spellings = phrase_spellings(phrase)
    return [
        (random_voice(rng, split.train_voices, names, always_variant=held_out),
         rng.choice(spellings))
        for _ in range(n)
    ]  # fmt: skip


def negative_jobs(
    rng: random.Random,
    phrase: str,
    split: VoiceSplit,
    n: int,
    held_out: bool = False,
    confusable: bool = False,
    single: bool = False,
) -> list[tuple[Voice, str]]:
    """Talk without the phrase: Chinese by the Mandarin voice, or for ENGLISH_SHARE of the
    sentences and single words, English by the English voices."""
    names = split.heldout_variants if held_out else split.train_variants
    english = split.heldout_negative_voices if held_out else split.negative_voices
    jobs = []
    for _ in range(n):
        if not confusable and english and rng.random() < ENGLISH_SHARE:
            text = english_word(rng, phrase) if single else english_sentence(rng, phrase)
            jobs.append((random_voice(rng, english, names, always_variant=held_out), text))
            continue
        if single:
            text = _chinese_word(rng, phrase)
        else:
            text = rng.choice(CONFUSABLES) if confusable else _chinese_sentence(rng, phrase)
        voice = random_voice(rng, split.train_voices, names, always_variant=held_out)
        jobs.append((voice, text))
    return jobs


def examples() -> str:
    """A few confusables, for the card."""
    return ", ".join(f'"{c}"' for c in CONFUSABLES[:4])
