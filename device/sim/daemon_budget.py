"""The real daemon's memory and CPU over a replayed session, measured as the kernel counts them.

The session is the demo's: its offline part (time, a timer, a note, a question answered offline)
and its cloud part (a streamed answer, a photo to the vision model, a tool call into memory, a
recall), recorded as the demo's scripted user spoke them. ``zeropin run --sim --lockstep`` then
hears both recordings as a separate process, with a loopback OpenAI-compatible server for its
cloud and a folder camera, exactly as a user would start it; ``os.wait4`` gives that process's
peak resident memory and CPU time (not this process's, which builds several pipelines).

    python -m device.sim.daemon_budget [--json] [--language zh] [--set wake.model=PATH]

``--language zh`` replays the Chinese demo's offline part instead (``zeropin demo --language
zh``: the wake word 你好零 and the command model), to a daemon with ``[device] language = "zh"``
whose cloud hears a question that is no command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from device.cloud.providers import Provider
from device.config.schema import Config
from device.config.sources import load_config
from device.daemon import LISTENING_CPU_PREFIX
from device.sim.chinese_demo import run_chinese_demo
from device.sim.cloud_demo import (
    CLOUD_SCENARIO,
    demo_picture,
    loopback_provider,
    run_cloud_demo,
)
from device.sim.demo import SCENARIO, run_demo

SESSION_TRANSCRIPT = "why is the sky blue"
CHINESE_TRANSCRIPT = "为什么天是蓝的"
# What systemd/zeropin.service sets for the daemon (tests/test_units.py holds the two the same),
# so that it is measured as the device runs it. glibc's allocator settings are worth 3-5 MB.
DAEMON_ENVIRONMENT = {
    "PYTHONUNBUFFERED": "1",
    "MALLOC_ARENA_MAX": "2",
    "MALLOC_TRIM_THRESHOLD_": "131072",
}


def measure_daemon(
    cfg: Config,
    work: Path,
    *,
    transcribes: bool = True,
    language: str = "en",
    daemon_settings: Sequence[str] = (),
) -> dict[str, float]:
    """Peak RSS (MB), CPU seconds, audio seconds and turns of one daemon run over the session.

    Its provider is set up as a maker's ``[providers.NAME]`` table: with a transcription model
    (``transcribes``, as the presets have) the cloud hears what is not a command; without one,
    pocketsphinx decodes free text for the brain as well. ``daemon_settings`` ("KEY=VALUE", as
    ``zeropin --set``) go to the measured daemon alone: the session is recorded as shipped."""
    mic = work / "session.wav"
    if language == "zh":
        run_chinese_demo(cfg, work / "offline")
        audio_seconds = _join([work / "offline" / "mic.wav"], mic)
        heard, settings = CHINESE_TRANSCRIPT, ["--set", "device.language=zh"]
    else:
        run_demo(cfg, work / "offline", steps=SCENARIO)
        run_cloud_demo(cfg, work / "cloud", steps=CLOUD_SCENARIO)
        audio_seconds = _join([work / "offline" / "mic.wav", work / "cloud" / "mic.wav"], mic)
        heard, settings = SESSION_TRANSCRIPT, []
    (work / "camera").mkdir()
    demo_picture(work / "camera")
    with loopback_provider() as (server, provider):
        # What the loopback "hears" in every upload: a question, so each utterance that is no
        # command (the note, the questions) is answered by the cloud brain, streamed and spoken
        server.transcript = heard
        env = {
            **DAEMON_ENVIRONMENT,
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),  # a fresh state directory under it
        }
        command = [sys.executable, "-m", "device.cli", "--set", "camera.backend=folder", *settings]
        for setting in daemon_settings:
            command += ["--set", setting]
        for key, value in _provider_settings(server.base_url, provider, transcribes).items():
            command += ["--set", f"{key}={value}"]
        command += ["run", "--sim", "--mic", str(mic), "--speaker-file", str(work / "replies")]
        command += ["--lockstep", "--camera-folder", str(work / "camera")]
        with (work / "daemon.out").open("w") as out:
            status, peak_kb, cpu_seconds = usage_of(command, env, out, work / "usage.json")
    printed = (work / "daemon.out").read_text()
    if status != 0:
        raise RuntimeError(f"the daemon failed:\n{printed[-2000:]}")
    return {
        "daemon_peak_rss_mb": round(peak_kb / 1024, 1),
        "daemon_cpu_s": round(cpu_seconds, 2),
        "daemon_audio_s": round(audio_seconds, 1),
        "daemon_turns": printed.count("  heard "),
        **_listening_cpu(printed),
    }


def _provider_settings(base_url: str, provider: Provider, transcribes: bool) -> dict[str, str]:
    """``--set`` settings for the loopback server as the one provider (on loopback: no key)."""
    table = "providers.loopback"
    settings = {
        "llm.chain": '["loopback"]',
        f"{table}.base_url": base_url,
        f"{table}.model": provider.model,
        f"{table}.vision_model": provider.vision_model,
    }
    if transcribes:
        settings[f"{table}.transcription_model"] = "loopback-transcribe"
    return settings


def _listening_cpu(printed: str) -> dict[str, float]:
    """The listener's own CPU figures, from the line the daemon prints at the end of a replay."""
    for line in printed.splitlines():
        if line.startswith(LISTENING_CPU_PREFIX):
            return {k: float(v) for k, v in json.loads(line[len(LISTENING_CPU_PREFIX) :]).items()}
    raise RuntimeError(f"the daemon printed no {LISTENING_CPU_PREFIX.strip()!r} line")


# Starts the daemon from a small fresh process and writes its exit status, peak RSS (kB) and CPU
# seconds. Started straight from this process, whose demos made it large, the daemon would be
# charged this process's peak too: Linux keeps the high-water mark of the memory a process
# had before it exec'd (vfork shares it).
_STARTER = """
import json, os, subprocess, sys
daemon = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(daemon.pid, 0)
report = [os.waitstatus_to_exitcode(status), usage.ru_maxrss, usage.ru_utime + usage.ru_stime]
with open(sys.argv[1], "w") as out:
    json.dump(report, out)
"""


def usage_of(
    command: Sequence[str],
    env: dict[str, str],
    out: IO[str],
    report: Path,
    watch: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> tuple[int, int, float]:
    """Run ``command`` (its output to ``out``); its exit status, peak RSS (kB) and CPU seconds,
    its own and not this process's (see _STARTER). ``watch``, when given, is called with the
    starter (whose one child is ``command``) as soon as it runs, and returns when it likes."""
    starter = subprocess.Popen(
        [sys.executable, "-c", _STARTER, str(report), *command],
        env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    if watch is not None:
        watch(starter)
    if starter.wait() != 0:
        raise subprocess.CalledProcessError(starter.returncode, starter.args)
    status, peak_kb, cpu_seconds = json.loads(report.read_text())
    return int(status), int(peak_kb), float(cpu_seconds)


def _join(recordings: Sequence[Path], into: Path) -> float:
    """The recordings one after the other in ``into`` (all bus format); its length in seconds."""
    frames = 0
    with wave.open(str(into), "wb") as joined:
        for index, path in enumerate(recordings):
            with wave.open(str(path), "rb") as part:
                if index == 0:
                    joined.setparams(part.getparams())
                data = part.readframes(part.getnframes())
                joined.writeframes(data)
                frames += part.getnframes()
        return frames / joined.getframerate()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--language", choices=("en", "zh"), default="en")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of the measured daemon, e.g. wake.model=PATH (as zeropin --set)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zeropin-daemon-") as work:
        figures = measure_daemon(
            load_config(), Path(work), language=args.language, daemon_settings=args.set
        )
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
