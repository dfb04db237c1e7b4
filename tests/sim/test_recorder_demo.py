"""Done when: ``zeropin demo`` gains a recorder part: a meeting of espeak-ng voices recorded through
the real pipeline, transcribed through the loopback server (each segment through the egress
gate), summarised, then asked about."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import pytest

from device.config.sources import load_config
from device.sim.meeting import MEETING
from device.sim.recorder_demo import QUESTION, TRANSLATE, run_recorder_demo
from device.skills.recordings import STARTED_FOR_THE_CLOUD
from device.speaking.tts import EspeakSynthesizer
from device.storage.recorder import BY_WEARER

CFG = load_config(paths=[], env={}, overrides=["asr.vosk_model=/nonexistent/vosk"])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_recorder_demo(CFG, tmp_path_factory.mktemp("recorder"))


def test_the_wearer_starts_and_stops_it_by_voice(demo) -> None:
    turns = [(r.trigger, r.intent) for r in demo.reports]
    assert turns == [
        ("wake", "recording_start"),
        ("wake", "recording_stop"),
        ("wake", "brain"),
        ("wake", "translate"),
    ]
    started, stopped, _, _ = demo.reports
    assert started.said == STARTED_FOR_THE_CLOUD
    assert stopped.said.startswith("Stopped. I recorded 1 minute")
    assert demo.recording.ended_by == BY_WEARER


def test_every_line_of_the_meeting_is_in_the_transcript_in_order_with_its_time(demo) -> None:
    text = " ".join(line.text for line in demo.lines)
    meeting = " ".join(words for _, words in MEETING)
    assert meeting in text  # whole, in order: no word lost at a segment's edge
    starts = [line.start_s for line in demo.lines]
    assert starts == sorted(starts) and starts[-1] < demo.recording.seconds
    budget = next(line for line in demo.lines if "stage budget" in line.text)
    assert 20 < budget.start_s < 45  # said about 30 s in


def test_each_segment_left_through_the_gate_and_nothing_else_of_the_recording(demo) -> None:
    segments = [row for row in demo.ledger if row.purpose == "recording transcription"]
    assert len(segments) == demo.recording.segments >= 3
    assert all(row.kind == "audio" and row.host == "127.0.0.1" for row in segments)
    assert sum(r.size_bytes for r in segments) > demo.recording.bytes  # FLAC in multipart
    # the privacy LED came on for the recording and stayed on until it ended: lit and put out
    # once per upload outside it, never in between while the recording ran
    assert demo.privacy_led_changes.count(True) == demo.privacy_led_changes.count(False)
    summaries = [row for row in demo.ledger if row.purpose == "recording summary"]
    assert len(summaries) == 1 and summaries[0].kind == "text"


def test_the_summary_names_the_decisions_and_actions(demo) -> None:
    summary = demo.recording.summary
    assert "the stage budget is four hundred pounds" in summary.split("Decisions:")[1]
    assert "I will book the stage" in summary.split("Action items:")[1]


def test_the_question_is_answered_from_the_passage(demo) -> None:
    answer = demo.reports[2]
    assert answer.heard == QUESTION  # the loopback transcribed it: pocketsphinx knows no "stage"
    assert "the stage budget is four hundred pounds" in answer.said
    assert re.search(r"\brecording, 0:[23]\d in: Then we agreed", answer.said), answer.said


def test_a_translation_is_said_in_the_voice_of_its_language(demo) -> None:
    translated = demo.reports[3]
    assert translated.heard == TRANSLATE and translated.said == "¿Dónde está la estación?"
    # espeak-ng's Spanish voice said it: the same words in the device's own voice differ
    spanish = EspeakSynthesizer("es", CFG.tts.rate_wpm, CFG.tts.pitch, volume_percent=100)
    english = EspeakSynthesizer(CFG.tts.voice, CFG.tts.rate_wpm, CFG.tts.pitch, volume_percent=100)
    said = _pcm(Path(translated.reply_wav))  # at the volume's gain: compare lengths
    assert len(said) == len(spanish.synthesize(translated.said))
    assert len(said) != len(english.synthesize(translated.said))
    asked = [row for row in demo.ledger if row.purpose == "translation"]
    assert len(asked) == 1 and asked[0].kind == "text"


def _pcm(path: Path) -> bytes:
    with wave.open(str(path)) as wav:
        return wav.readframes(wav.getnframes())
