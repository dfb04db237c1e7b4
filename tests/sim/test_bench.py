"""``zeropin bench`` measures every wake-word engine that can run here, on the same audio."""

from dataclasses import replace

from device.cli.main import main
from device.config.sources import load_config
from device.sim.bench import _cpu_per_audio_second, _wake_engines

CFG = load_config(paths=[], env={})


def test_every_engine_that_can_run_is_measured_the_configured_one_as_set(capsys):
    cfg = replace(CFG, wake=replace(CFG.wake, engine="pocketsphinx", threshold=1e-30))
    engines = _wake_engines(cfg)
    assert list(engines) == ["pocketsphinx", "tflite"]
    assert engines["pocketsphinx"] is cfg  # its own threshold kept
    assert engines["tflite"].wake.threshold == 0.0  # the model card's, not pocketsphinx's
    # no Vosk model can be downloaded on these machines: said, and left out
    assert "bench: leaving out the vosk wake word: " in capsys.readouterr().err


def test_cpu_per_audio_second_counts_the_work_done():
    calls = []
    audio = bytes(32000 * 2)  # two seconds
    ratio = _cpu_per_audio_second(calls.append, audio)
    assert len(calls) == 2 * 1000 // 30  # 30 ms frames
    assert 0 <= ratio < 0.1


def test_the_intent_evaluation_scores_a_session_through_the_daemons_listener():
    """Real espeak-ng speech of a tuning voice (never a held-out one: those are only reported)."""
    from device.sim.intents_eval import HELDOUT_VOICES, TUNING_VOICES, run_session, summary

    assert not {v.name for v in TUNING_VOICES} & {v.name for v in HELDOUT_VOICES}
    outcomes = run_session(CFG, TUNING_VOICES[0], 30.0, texts=["what time is it", "why is it"])
    assert [o.expected for o in outcomes] == ["time", "brain"]
    assert outcomes[0].first and not outcomes[1].first
    figures = summary(outcomes)["snr30"]
    assert figures["right"] == sum(o.right for o in outcomes) / 2
    assert figures["wrong_actions"] == 0.0


def test_a_child_is_charged_its_own_peak_memory_not_its_large_parents(tmp_path):
    """The bench's parent has run two demos (hundreds of MB); a daemon started straight from it
    would report that peak as its own (Linux keeps it across exec)."""
    import os
    import sys

    from device.sim.daemon_budget import usage_of

    ballast = bytearray(300 * 1024 * 1024)  # this process is large now, as the bench's is
    ballast[::4096] = b"\1" * len(ballast[::4096])  # touched, so resident
    small = [sys.executable, "-c", "pass"]
    large = [
        sys.executable,
        "-c",
        "x = bytearray(120 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])",
    ]
    with (tmp_path / "out.txt").open("w") as out:
        small_usage = usage_of(small, dict(os.environ), out, tmp_path / "small.json")
        large_usage = usage_of(large, dict(os.environ), out, tmp_path / "large.json")
    del ballast
    assert small_usage[0] == 0 and small_usage[1] < 100 * 1024  # kB: a bare interpreter
    assert large_usage[0] == 0 and 120 * 1024 < large_usage[1] < 220 * 1024  # its own 120 MB


def test_the_wake_words_extremes_are_a_room_without_voice_and_talk_with_voice_throughout():
    """The bench's quiet room and non-stop talk bound the wake word's CPU: the model runs in no
    window of the one and in every window of the other."""
    import numpy as np

    from device.listening.tflite_wake import StreamingScorer
    from device.sim.bench import _quiet_room, _talk_without_pause
    from device.system.paths import resolved_wake_model

    for sound, every_window in ((_quiet_room(), False), (_talk_without_pause(), True)):
        scorer = StreamingScorer(resolved_wake_model(CFG))
        scores = list(scorer.scores(np.frombuffer(sound, "<i2")))
        assert len(scores) > 50
        assert scorer.model_runs == (len(scores) if every_window else 0)


def test_the_bench_says_it_measures_english_only_on_a_chinese_device(capsys):
    assert main(["--set", "device.language=zh", "bench"]) == 2
    said = capsys.readouterr().err
    assert 'measures [device] language = "en" only' in said
    assert "daemon_budget --language zh" in said
