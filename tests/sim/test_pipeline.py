"""The whole voice loop on synthesised speech: real wake word, VAD, ASR, skills, TTS, speaker.

pocketsphinx's bundled model is the recogniser here (no Vosk model can be downloaded on these
machines), so assertions are about decisions, not exact transcripts.
"""

import asyncio
import datetime as dt
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from device.app import assemble, build_listener
from device.config.sources import load_config
from device.errors import ModelError
from device.events import Heard, ListenMode, Trigger, WakeWordDetected
from device.loop.pacing import Lockstep
from device.loop.runtime import TurnReport
from device.sim.demo import ROOM_NOISE_RMS, USER_VOICE, run_demo
from device.skills.intents import parse
from device.speaking.tts import EspeakSynthesizer
from drivers.leds import NoLed
from drivers.mic import FileMicrophone
from drivers.speaker import WavSpeaker

CFG = load_config(paths=[], env={})
# The demo and its replays tell the time by this, not the wall clock. When a reply ends decides
# when the wake word listens again (and when the demo's user speaks next), so the time reply's
# length once changed what later turns heard: in CI the minute changed between two replays, and
# "why is the sky blue" came out "... grew" in one and "... true" in the other.
PINNED_NOW = dt.datetime(2026, 12, 4, 22, 47)


def decisions(reports):
    return [(r.trigger, r.intent) for r in reports]


def drain(listener, audio):
    """All facts from ``audio``, switching modes as the runtime would."""
    events, found = [], listener.process(audio)
    while found:
        events += found
        if isinstance(found[0], WakeWordDetected):
            listener.set_mode(ListenMode.UTTERANCE, trigger="wake")
        found = listener.process(b"")
    return events


def is_subsequence(wanted, seen):
    it = iter(seen)
    return all(item in it for item in wanted)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, run_demo(CFG, out, now=lambda: PINNED_NOW)


def test_demo_decides_each_command(demo):
    _, reports = demo
    wanted = [
        ("wake", "time"),
        ("wake", "timer_set"),
        ("wake", "note_add"),
        ("wake", "notes_read"),
        ("button", "help"),
        ("wake", "volume_set"),
        ("wake", "brain"),
    ]
    assert is_subsequence(wanted, decisions(reports)), decisions(reports)


def test_demo_replies_are_spoken_into_wav_files(demo):
    out, reports = demo
    noted = next(r for r in reports if r.intent == "note_add").said  # "Noted: <text>."
    assert noted.startswith("Noted: ")
    notes = next(r for r in reports if r.intent == "notes_read")
    # What was saved two turns before is read back word for word (the words themselves depend on
    # the recogniser; pocketsphinx's note vocabulary is small).
    assert notes.said == f"You have one note: {noted.removeprefix('Noted: ')}"
    assert next(r for r in reports if r.intent == "brain").said.startswith("I need a cloud")
    for report in reports:
        with wave.open(report.reply_wav) as wav:
            assert (wav.getframerate(), wav.getnchannels()) == (16000, 1)
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        assert len(samples) > 8000 and np.abs(samples).max() > 1000, report.reply_wav
    timer_files = [f for f in (out / "replies").iterdir() if "timer-is-done" in f.name]
    assert timer_files, "the ten second timer was never announced"


def test_demo_reports_stage_latencies(demo):
    _, reports = demo
    for report in reports:
        assert {"asr_final", "intent", "tts_first", "end_of_speech_to_first_audio"} <= set(
            report.timings_ms
        )
        assert report.timings_ms["end_of_speech_to_first_audio"] >= report.timings_ms["tts_first"]


def test_chunk_size_does_not_change_decisions(demo, tmp_path):
    """The demo's recorded microphone stream, replayed in 10, 20, 80 and 100 ms chunks."""
    out, reports = demo
    runs = {
        chunk_ms: _run_file(CFG, out / "mic.wav", tmp_path / str(chunk_ms), chunk_ms)
        for chunk_ms in (10, 20, 80, 100)
    }
    decided = {
        ms: [(r.trigger, r.intent, r.heard) for r in reports] for ms, reports in runs.items()
    }
    assert decided[10] == decided[20] == decided[80] == decided[100]  # transcripts included
    told = {r.said for reports in runs.values() for r in reports if r.intent == "time"}
    assert told == {"It's 10:47 PM."}  # the pinned clock, in every replay
    assert is_subsequence(
        [("wake", "time"), ("wake", "timer_set"), ("wake", "notes_read")],
        [(trigger, intent) for trigger, intent, _ in decided[100]],
    ), decided[100]


def _noisy(pcm: bytes, snr_db: float, seed: int) -> bytes:
    speech = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    power = np.mean(speech[speech != 0] ** 2)
    noise = np.random.default_rng(seed).normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(speech))
    return np.clip(speech + noise, -32768, 32767).astype("<i2").tobytes()


def test_several_voices_rates_and_noise():
    """Four US voices and rates in white noise (30 dB SNR). Questions must always reach the brain;
    commands are a floor for the bundled pocketsphinx model, a regression guard, not a target:
    Vosk and the trained wake word are what raise it. 8 of 16 when a missed command was decoded
    again with the language model after the utterance (0.45-0.6 s per question); 6 of 16 since
    free text is decoded while the user speaks (final text 0.12-0.17 s after the end)."""
    commands = {
        "what time is it": "time",
        "read my notes": "notes_read",
        "set a timer for ten seconds": "timer_set",
        "what can you do": "help",
    }
    questions = ["why is the sky blue", "how far away is the moon"]
    voices = [("en-us+f2", 140), ("en-us+m1", 150), ("en-us+m3", 170), ("en-us+f4", 160)]
    right = total = 0
    for n, (voice, rate) in enumerate(voices):
        tts = EspeakSynthesizer(voice, rate, 50, volume_percent=100)
        listener = build_listener(CFG)
        drain(listener, _noisy(tts.synthesize("testing the microphone, one two three"), 30, n))
        for text in [*commands, *questions]:
            listener.set_mode(ListenMode.UTTERANCE)  # as after a button press
            audio = _noisy(b"\0" * 6400 + tts.synthesize(text) + b"\0" * 32000, 30, n)
            heard = [e for e in drain(listener, audio) if isinstance(e, Heard)]
            listener.set_mode(ListenMode.WAKE)
            intent = parse(heard[0].text) if heard else None
            if text in questions:
                assert intent is None, (voice, text, heard)
            else:
                total += 1
                right += intent is not None and intent.name == commands[text]
    assert right / total >= 6 / 16, f"{right}/{total} commands decided right"


def test_wake_word_detected_in_a_stream_and_not_in_silence():
    listener = build_listener(CFG)
    tts = EspeakSynthesizer("en-us+f2", 140, 50, volume_percent=100)
    silence = _noisy(b"\x01\x00" * 16000 * 5, 40, 1)
    assert drain(listener, silence) == []
    stream = _noisy(
        tts.synthesize("testing the microphone")
        + b"\0" * 16000
        + tts.synthesize("hey zero, what time is it")
        + b"\0" * 16000,
        30,
        2,
    )
    events = drain(listener, stream)
    assert any(isinstance(e, WakeWordDetected) for e in events)


def test_a_command_after_the_wake_word_is_heard_wherever_the_detector_fires():
    """After a wake word the recogniser gets the pre-roll from where the phrase can have begun,
    so its grammar takes "hey zero" whole. From the phrase's tail alone ("oh, set a timer")
    pocketsphinx misheard the command in some alignments of the stream's frames and the
    detector's steps, which these ten offsets (10 ms apart) go through."""
    listener = build_listener(CFG)
    tts = EspeakSynthesizer(*USER_VOICE, volume_percent=100)
    rng = np.random.default_rng(1)

    def in_room(pcm: bytes) -> bytes:  # the demo's quiet room
        audio = np.frombuffer(pcm, dtype="<i2") + rng.normal(0, ROOM_NOISE_RMS, len(pcm) // 2)
        return np.clip(audio, -32768, 32767).astype("<i2").tobytes()

    drain(listener, in_room(tts.synthesize("testing the microphone, one, two, three, four, five")))
    command = tts.synthesize("hey zero, set a timer for ten seconds")
    decided = {}
    for offset_ms in range(0, 100, 10):
        audio = in_room(b"\0" * (48000 + 32 * offset_ms) + command + b"\0" * 80000)
        heard = [e.text for e in drain(listener, audio) if isinstance(e, Heard)]
        listener.set_mode(ListenMode.WAKE)
        decided[offset_ms] = [(text, getattr(parse(text), "name", None)) for text in heard]
    assert all([name for _, name in d] == ["timer_set"] for d in decided.values()), decided

    def preroll_fed(trigger: Trigger) -> float:
        fed = listener.cpu.asr_audio_seconds
        listener.set_mode(ListenMode.UTTERANCE, trigger)
        listener.set_mode(ListenMode.WAKE)
        return listener.cpu.asr_audio_seconds - fed

    phrase = listener.wake.phrase_seconds
    assert phrase <= preroll_fed("wake") < phrase + 0.03  # whole 30 ms frames
    assert preroll_fed("button") == pytest.approx(0.48)  # a press: 0.5 s, in frames


def test_missing_vosk_model_says_how_to_fetch_it(tmp_path):
    cfg = load_config(
        paths=[], env={}, overrides=["asr.engine=vosk", f"asr.vosk_model={tmp_path}/nope"]
    )
    with pytest.raises(ModelError, match="zeropin models fetch vosk-small-en-us"):
        build_listener(cfg)


def _run_file(cfg, wav: Path, tmp_path: Path, chunk_ms: int = 100) -> list[TurnReport]:
    reports: list[TurnReport] = []
    with FileMicrophone(wav, chunk_ms * 16) as mic, WavSpeaker(tmp_path / "out") as speaker:
        runtime, db = assemble(
            cfg,
            mic=mic,
            speaker=speaker,
            light=NoLed(),
            camera=None,
            state_dir=tmp_path / "state",
            pacing=Lockstep(),
            on_turn=reports.append,
            providers=[],  # never the cloud set up in the environment
            now=lambda: PINNED_NOW,
        )
        try:
            asyncio.run(runtime.run())
        finally:
            db.close()
    return reports


def test_a_44k_stereo_wav_is_resampled_and_understood(tmp_path):
    raw = tmp_path / "speech.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            "en-us+f2",
            "-s",
            "140",
            "-m",
            "-w",
            str(raw),
            # a full stop after the wake word: with a comma the pocketsphinx fallback hears the
            # tail of "zero" in the pre-roll and garbles this first command ("you know well i
            # really"); a pause before it, or the sound check's tail lands in the pre-roll too.
            # Vosk is what fixes both
            'testing the microphone, one, two, three. <break time="1500ms"/> hey zero. '
            "what time is it",
        ],
        check=True,
    )
    wav = tmp_path / "stereo44k.wav"
    subprocess.run(
        # -D: no dither, so the input (and the test) is the same every run
        ["sox", "-D", str(raw), "-r", "44100", "-c", "2", str(wav), "pad", "0.5", "2"],
        check=True,
    )
    reports = _run_file(CFG, wav, tmp_path)
    assert "time" in [r.intent for r in reports], [(r.heard, r.intent) for r in reports]


def test_silent_and_empty_audio_end_cleanly_with_no_turns(tmp_path):
    for name, seconds in [("silent.wav", 3), ("empty.wav", 0)]:
        path = tmp_path / name
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(16000)
            wav.writeframes(b"\0\0" * 16000 * seconds)
        assert _run_file(CFG, path, tmp_path / name.split(".")[0]) == []
