"""``zeropin bench``: CPU per audio second for each listening stage, and reply latency.

All audio is synthesised here (espeak-ng), so the figures can be compared between machines.
``intent_accuracy_heldout`` is the share of commands and questions decided right when spoken by
voices nothing was tuned on (``device.sim.intents_eval``).
``daemon_peak_rss_mb`` and ``daemon_cpu_per_audio_s`` are the real daemon's, measured as a process
of its own over the demo's session (``device.sim.daemon_budget``).
Each figure is the median of ``runs`` runs. Cloud figures come from the loopback server of the
demo (first token after ``FIRST_TOKEN_SECONDS``, then two words every
``TOKEN_INTERVAL_SECONDS``), so they measure ZeroPin's own part: recognising, the HTTP stream,
sentence splitting and speech synthesis, not a provider's speed.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from device.app import build_recognizer, build_wake
from device.config.schema import Config, WakeConfig
from device.errors import ConfigError, ModelError
from device.listening.echo import barge_in
from device.listening.frames import frames
from device.listening.vad import Endpointer, EndpointSettings
from device.sim.cloud_demo import FIRST_TOKEN_SECONDS, TOKEN_INTERVAL_SECONDS, run_cloud_demo
from device.sim.daemon_budget import measure_daemon
from device.sim.demo import SCENARIO, USER_VOICE, Step, run_demo
from device.sim.intents_eval import HELDOUT_SNR_DB, intent_accuracy_heldout
from device.speaking.tts import EspeakSynthesizer

SENTENCES = (
    "hey zero, what time is it",
    "the meeting moved to thursday afternoon",
    "hey zero, set a timer for ten seconds",
    "could you pass me the salt please",
)


def _corpus(seconds_of_silence: float = 2.0) -> bytes:
    voice, rate, pitch = USER_VOICE
    tts = EspeakSynthesizer(voice, rate, pitch, volume_percent=100)
    rng = np.random.default_rng(3)
    parts = []
    for text in SENTENCES:
        parts.append(tts.synthesize(text))
        parts.append(rng.normal(0, 30, int(16000 * seconds_of_silence)).astype("<i2").tobytes())
    return b"".join(parts)


def _talk_without_pause() -> bytes:
    """The corpus's sentences back to back in the room's hiss: the wake word's worst case,
    a voice in every window (a hall full of talk)."""
    voice, rate, pitch = USER_VOICE
    tts = EspeakSynthesizer(voice, rate, pitch, volume_percent=100)
    talk = np.frombuffer(b"".join(tts.synthesize(text) for text in SENTENCES), "<i2")
    hiss = np.random.default_rng(4).normal(0, 30, talk.size)
    return np.clip(talk + hiss, -32768, 32767).astype("<i2").tobytes()


def _quiet_room(seconds: float = 20.0) -> bytes:
    return np.random.default_rng(5).normal(0, 30, int(16000 * seconds)).astype("<i2").tobytes()


def _cpu_per_audio_second(feed: Any, audio: bytes) -> float:
    started = time.thread_time()
    for frame in frames([audio]):
        feed(frame)
    return (time.thread_time() - started) / (len(audio) / 32000)


def _barge_in_cpu(audio: bytes) -> tuple[float, float]:
    """CPU per audio second of the echo canceller and the stop spotter, over the corpus played
    as a reply and heard back 40 ms later at the same level (what runs while answering)."""
    echo, stop = barge_in()
    if echo is None or stop is None:
        return float("nan"), float("nan")
    delay = 40 * 32  # bytes in 40 ms
    heard = bytes(delay) + audio[:-delay]
    echo.reference.push(audio)
    cleaned = [echo.clean(frame) for frame in frames([heard])]
    aec = echo.cpu_seconds / echo.audio_seconds
    return aec, _cpu_per_audio_second(stop.process, b"".join(cleaned))


CLOUD_STEPS = (
    Step("testing the microphone, one, two, three, four, five"),
    Step("hey zero, why is the sky blue"),  # five sentences from the loopback model
)


def _cloud_first_audio(cfg: Config, stream: bool) -> float:
    """End of speech to first audio (s) for a question the loopback model answers."""
    with tempfile.TemporaryDirectory() as out:
        demo = run_cloud_demo(cfg, Path(out), steps=CLOUD_STEPS, stream=stream)
    question = demo.reports[-1]  # the sound check may wake the device too; the question is last
    return question.timings_ms["end_of_speech_to_first_audio"] / 1000


def machine() -> str:
    model = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") if os.path.exists("/proc/cpuinfo") else open(os.devnull) as info:
        for line in info:
            if line.startswith(("model name", "Model")):  # x86, Raspberry Pi
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    )


WAKE_ENGINES = ("tflite", "pocketsphinx", "vosk")


def _wake_engines(cfg: Config) -> dict[str, Config]:
    """A config for every wake-word engine that can run here, the configured one first.

    The others use the default phrase and their own default threshold; one that cannot be built
    here (no Vosk model, no TFLite runtime) is left out, with a line on stderr."""
    engines = {cfg.wake.engine: cfg}
    for engine in WAKE_ENGINES:
        if engine in engines:
            continue
        other = replace(cfg, wake=replace(WakeConfig(), engine=engine))
        try:
            build_wake(other)
        except (ModelError, ConfigError) as exc:
            print(f"bench: leaving out the {engine} wake word: {exc}", file=sys.stderr)
            continue
        engines[engine] = other
    return engines


def run_bench(cfg: Config, runs: int = 3) -> dict[str, Any]:
    audio, quiet, talk = _corpus(), _quiet_room(), _talk_without_pause()
    engines = _wake_engines(cfg)
    results: dict[str, list[float]] = {
        **{f"wake_{engine}": [] for engine in engines},
        "wake": [],
        "wake_quiet_room": [],
        "wake_nonstop_talk": [],
        "vad": [],
        "asr": [],
        "aec": [],
        "stop": [],
        "first_audio": [],
        "cloud_stream": [],
        "cloud_whole": [],
    }
    for _ in range(runs):
        for engine, engine_cfg in engines.items():
            wake = build_wake(engine_cfg)
            results[f"wake_{engine}"].append(_cpu_per_audio_second(wake.process, audio))
        results["wake"].append(results[f"wake_{cfg.wake.engine}"][-1])
        for key, sound in (("wake_quiet_room", quiet), ("wake_nonstop_talk", talk)):
            results[key].append(_cpu_per_audio_second(build_wake(cfg).process, sound))
        endpointer = Endpointer(EndpointSettings(aggressiveness=cfg.vad.aggressiveness))
        results["vad"].append(_cpu_per_audio_second(endpointer.is_speech, audio))
        recognizer = build_recognizer(cfg)
        asr_engine = recognizer.name
        recognizer.start()
        results["asr"].append(_cpu_per_audio_second(recognizer.feed, audio))
        recognizer.finish()
        for key, figure in zip(("aec", "stop"), _barge_in_cpu(audio), strict=True):
            results[key].append(figure)
        with tempfile.TemporaryDirectory() as out:
            reports = run_demo(cfg, Path(out), steps=SCENARIO)
        local = [
            r.timings_ms["end_of_speech_to_first_audio"] / 1000
            for r in reports
            if r.intent != "brain" and "end_of_speech_to_first_audio" in r.timings_ms
        ]
        results["first_audio"].append(statistics.median(local) if local else float("nan"))
        results["cloud_stream"].append(_cloud_first_audio(cfg, stream=True))
        results["cloud_whole"].append(_cloud_first_audio(cfg, stream=False))
    return {
        "machine": machine(),
        "runs": runs,
        "audio_seconds": round(len(audio) / 32000, 1),
        "wake_engine": cfg.wake.engine,
        "asr_engine": asr_engine,
        **_medians(results, engines),
        # once, not per run: the same speech decides the same way every time
        "intent_accuracy_heldout": intent_accuracy_heldout(cfg),
        "intent_accuracy_heldout_snr_db": HELDOUT_SNR_DB,
        **_daemon_figures(cfg),
    }


def _daemon_figures(cfg: Config) -> dict[str, Any]:
    """The real daemon as a process of its own over the demo's session (device.sim.daemon_budget):
    its peak RSS, not this process's (``peak_rss_mb``, which builds several pipelines), and its
    listener's CPU per stage. Its provider transcribes, as the presets do; ``_free_text`` is the
    same session with a provider that does not, so pocketsphinx decodes free text as well."""
    with tempfile.TemporaryDirectory(prefix="zeropin-bench-daemon-") as work:
        figures = measure_daemon(cfg, Path(work))
    with tempfile.TemporaryDirectory(prefix="zeropin-bench-daemon-") as work:
        free_text = measure_daemon(cfg, Path(work), transcribes=False)
    return {
        "daemon_peak_rss_mb": figures["daemon_peak_rss_mb"],
        "daemon_cpu_per_audio_s": round(figures["daemon_cpu_s"] / figures["daemon_audio_s"], 4),
        "daemon_session_audio_s": figures["daemon_audio_s"],
        # the microphone's stages that never stop: the wake word, and the VAD's idle share
        "always_on_cpu_per_audio_s": round(
            figures["wake_cpu_per_audio_s"] + figures["vad_cpu_per_audio_s"], 5
        ),
        # per second of audio the recogniser heard (the utterances and their pre-roll)
        "asr_cpu_per_audio_s_default": figures["asr_cpu_per_audio_s"],
        "daemon_peak_rss_mb_free_text": free_text["daemon_peak_rss_mb"],
        "asr_cpu_per_audio_s_free_text": free_text["asr_cpu_per_audio_s"],
    }


def _medians(results: dict[str, list[float]], engines: dict[str, Config]) -> dict[str, Any]:
    """The figures of ``run_bench``: each the median of its runs."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return {
        "wake_cpu_per_audio_s": statistics.median(results["wake"]),
        **{
            f"wake_cpu_per_audio_s_{engine}": statistics.median(results[f"wake_{engine}"])
            for engine in engines
        },
        # ours divided by pocketsphinx keyphrase spotting's, on the same audio
        # the model runs only where a voice is heard: from a quiet room to a hall full of talk
        "wake_cpu_per_audio_s_quiet_room": statistics.median(results["wake_quiet_room"]),
        "wake_cpu_per_audio_s_nonstop_talk": statistics.median(results["wake_nonstop_talk"]),
        "wake_cpu_ratio_vs_pocketsphinx": (
            statistics.median(results["wake_tflite"])
            / statistics.median(results["wake_pocketsphinx"])
            if "tflite" in engines and "pocketsphinx" in engines
            else None
        ),
        "vad_cpu_per_audio_s": statistics.median(results["vad"]),
        "asr_cpu_per_audio_s": statistics.median(results["asr"]),
        # while answering only: the canceller is idle when the speaker has not played for 0.5 s
        "aec_cpu_per_audio_s": statistics.median(results["aec"]),
        "stop_cpu_per_audio_s": statistics.median(results["stop"]),
        "local_intent_first_audio_s": statistics.median(results["first_audio"]),
        "cloud_server_first_token_s": FIRST_TOKEN_SECONDS,
        "cloud_server_token_interval_s": TOKEN_INTERVAL_SECONDS,
        "cloud_first_audio_s": statistics.median(results["cloud_stream"]),
        "cloud_first_audio_minus_ttft_s": statistics.median(results["cloud_stream"])
        - FIRST_TOKEN_SECONDS,
        "cloud_whole_answer_first_audio_s": statistics.median(results["cloud_whole"]),
        "streaming_speedup": statistics.median(results["cloud_whole"])
        / statistics.median(results["cloud_stream"]),
        "peak_rss_mb": round(peak, 1),
    }


def print_bench(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    rows = [
        ("machine", result["machine"]),
        ("runs (median of)", result["runs"]),
        ("audio per run", f"{result['audio_seconds']} s of synthesised speech and room noise"),
        *(
            (
                f"wake word ({engine})",
                f"{result[f'wake_cpu_per_audio_s_{engine}']:.4f} CPU s / audio s",
            )
            for engine in WAKE_ENGINES
            if f"wake_cpu_per_audio_s_{engine}" in result
        ),
        (
            f"wake word ({result['wake_engine']}): quiet room / non-stop talk",
            f"{result['wake_cpu_per_audio_s_quiet_room']:.4f} / "
            f"{result['wake_cpu_per_audio_s_nonstop_talk']:.4f} CPU s / audio s",
        ),
        (
            "wake word: tflite / pocketsphinx CPU",
            f"{result['wake_cpu_ratio_vs_pocketsphinx']:.3f}"
            if result["wake_cpu_ratio_vs_pocketsphinx"] is not None
            else "n/a (one of them is not available)",
        ),
        ("VAD (webrtcvad)", f"{result['vad_cpu_per_audio_s']:.5f} CPU s / audio s"),
        (f"ASR ({result['asr_engine']})", f"{result['asr_cpu_per_audio_s']:.4f} CPU s / audio s"),
        ("echo canceller (AEC3)", f"{result['aec_cpu_per_audio_s']:.4f} CPU s / audio s"),
        ("stop word (pocketsphinx)", f"{result['stop_cpu_per_audio_s']:.4f} CPU s / audio s"),
        (
            "local intent: end of speech to first audio",
            f"{result['local_intent_first_audio_s']:.3f} s",
        ),
        (
            "cloud answer: end of speech to first audio",
            f"{result['cloud_first_audio_s']:.3f} s streamed "
            f"({result['cloud_first_audio_minus_ttft_s']:.3f} s after the model's first token, "
            f"{result['cloud_server_first_token_s']} s); "
            f"{result['cloud_whole_answer_first_audio_s']:.3f} s waiting for the whole answer",
        ),
        ("streaming speed-up (5-sentence answer)", f"{result['streaming_speedup']:.2f}x"),
        (
            "decided right, held-out voices",
            f"{result['intent_accuracy_heldout']:.1%} at "
            f"{result['intent_accuracy_heldout_snr_db']:g} dB SNR",
        ),
        *_daemon_rows(result),
        ("peak RSS of this bench", f"{result['peak_rss_mb']} MB"),
        *_real_rows(result),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}", file=sys.stdout)


def _daemon_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The real daemon's figures over the demo session (``_daemon_figures``)."""
    return [
        (
            "the daemon, demo session",
            f"{result['daemon_peak_rss_mb']} MB peak RSS, {result['daemon_cpu_per_audio_s']:.3f} "
            f"CPU s / audio s over {result['daemon_session_audio_s']:g} s",
        ),
        (
            "the daemon: always-on / recogniser",
            f"{result['always_on_cpu_per_audio_s']:.4f} CPU s / audio s (wake word, VAD); "
            f"{result['asr_cpu_per_audio_s_default']:.4f} per second of utterance",
        ),
        (
            "the daemon, free text decoded too",
            f"{result['daemon_peak_rss_mb_free_text']} MB peak RSS, "
            f"{result['asr_cpu_per_audio_s_free_text']:.4f} CPU s per second of utterance",
        ),
    ]


def _real_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """Real people's figures, when ``zeropin bench`` found them (wakeword.real_speech)."""
    rows = []
    if result.get("wake_fa_per_hour_real") is not None:
        rows.append((
            "wake word on real talk",
            f"{result['wake_fa_per_hour_real']:g} false accepts per hour "
            f"({result['wake_real_hours']:g} h of real recordings)",
        ))  # fmt: skip
    if result.get("recipe_phrase"):
        rows.append((
            f"trainer's default recipe ({result['recipe_phrase']!r}), real people",
            f"{result['recipe_wake_frr_real']:.1%} missed, "
            f"{result['recipe_wake_fa_per_hour_real']:g} false accepts per hour",
        ))  # fmt: skip
    if result.get("recipe_wake_fa_per_hour_real_unseen") is not None:
        rows.append((
            "  on the half of the speakers it never heard",
            f"{result['recipe_wake_frr_real_unseen']:.1%} missed, "
            f"{result['recipe_wake_fa_per_hour_real_unseen']:g} false accepts per hour",
        ))  # fmt: skip
    return rows
