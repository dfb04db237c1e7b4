"""The recorder's budgets on the real daemon process: CPU while recording, disk per hour, and
memory over hours of recording, measured as the kernel counts them.

The microphone is a WAV file: a sound check, "hey zero, start recording" (the demo's user),
``--hours`` of a meeting (``device.sim.meeting``'s, repeated, each repeat with its own room
hiss, so that FLAC meets realistic noise), "hey zero, stop recording", and a few seconds of
room. It is written a block at a time (2 hours: about 230 MB, in a temporary folder).

``zeropin run --sim --lockstep`` hears it twice, as separate processes, each with a fresh HOME
and state directory and no provider (``device.sim.daemon_budget.usage_of``: the peak RSS and CPU
seconds of the daemon process alone):

- recording: the recorder on, with ``[recorder] transcribe = "off"``, so that recording alone is
  measured (with no provider, transcription would be local, and only after the recording ends);
- baseline: ``[recorder] enabled = false``, the same audio and so the same wake word, listener and
  turns, but "start recording" records nothing.

The recorder's CPU is the difference, per second recorded. It is small enough to be within the
noise of two runs on a shared or virtual machine (where identical runs have differed by 20 %),
so the recorder is also fed the same file in this process (``recorder_alone``), its own CPU
counted by thread. Every ``SAMPLE_SECONDS`` of wall time the daemon's VmRSS is read with how far
it has read the microphone file (its offset, from /proc/PID/fdinfo), so that memory is known by
audio time. Afterwards the database tells what was recorded, and the FLAC files on disk what it
costs.

    python -m device.sim.recorder_budget [--hours 2] [--json]

The CPU figures are this machine's cores, not a Pi Zero 2 W's (its Cortex-A53 cores are several
times slower): compare them with the daemon's other figures (``daemon_budget``) measured here.
Two hours take about 4 minutes on a 2-core x86 machine (the daemon replays at about 60x).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import device
from device.listening.frames import FRAME_BYTES
from device.sim.daemon_budget import usage_of
from device.sim.demo import ROOM_NOISE_RMS, USER_VOICE
from device.sim.meeting import MEETING, meeting_audio
from device.speaking.tts import EspeakSynthesizer
from device.storage.database import Database
from device.storage.recorder import Recorder
from device.storage.recordings import RECORDINGS_FOLDER, RecordingStore
from device.system.paths import database_path
from drivers.audio_format import BYTES_PER_SECOND, RATE, SAMPLE_WIDTH

SOUND_CHECK = "testing the microphone, one, two, three, four, five"
START = "hey zero, start recording"
STOP = "hey zero, stop recording"
# Room after each of the wearer's lines: the device's answer is over before anyone speaks again.
ROOM_AFTER = {SOUND_CHECK: 3.0, START: 8.0, STOP: 8.0}
ROOM_BEFORE_STOP_SECONDS = 3.0
SAMPLE_SECONDS = 0.5  # wall time between two readings of the daemon's RSS
PROGRESS_POINTS = (0.1, 0.5, 0.9)
WAV_HEADER_BYTES = 44  # the wave module's


@dataclass(frozen=True)
class MicLayout:
    """The microphone file and where its meeting lies, in seconds of audio."""

    path: Path
    audio_s: float
    meeting_start_s: float
    meeting_end_s: float


def write_mic(path: Path, hours: float, seed: int = 100) -> MicLayout:
    """The microphone WAV (16 kHz mono s16le), written a part at a time: the wearer's lines in
    a quiet room around ``hours`` of meeting, each repeat of it with new hiss."""
    wearer = EspeakSynthesizer(*USER_VOICE, volume_percent=100)
    rng = np.random.default_rng(seed)
    meeting_s = hours * 3600
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(RATE)
        wav.writeframes(_room(0.5, rng))
        for text in (SOUND_CHECK, START):
            wav.writeframes(_spoken(wearer, text, rng) + _room(ROOM_AFTER[text], rng))
        start = wav.tell() / RATE
        left = round(meeting_s * RATE) * SAMPLE_WIDTH
        repeat = 0
        while left > 0:
            audio, _ = meeting_audio(MEETING, seed=seed + 1 + repeat)
            wav.writeframes(audio[:left])
            left -= min(left, len(audio))
            repeat += 1
        end = wav.tell() / RATE
        wav.writeframes(_room(ROOM_BEFORE_STOP_SECONDS, rng))
        wav.writeframes(_spoken(wearer, STOP, rng) + _room(ROOM_AFTER[STOP], rng))
        return MicLayout(path, wav.tell() / RATE, start, end)


def _room(seconds: float, rng: np.random.Generator) -> bytes:
    return _pcm(np.zeros(round(seconds * RATE)), rng)


def _spoken(tts: EspeakSynthesizer, text: str, rng: np.random.Generator) -> bytes:
    return _pcm(np.frombuffer(tts.synthesize(text), "<i2").astype(np.float64), rng)


def _pcm(audio: np.ndarray, rng: np.random.Generator) -> bytes:
    audio = audio + rng.normal(0, ROOM_NOISE_RMS, len(audio))
    return np.clip(audio, -32768, 32767).astype("<i2").tobytes()


# ---- the daemon's memory while it runs -------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    wall_s: float
    audio_s: float  # of the microphone file read by then
    rss_kb: int


@dataclass
class RssSampler:
    """Reads the daemon's VmRSS every ``every`` seconds of wall time while it runs, with how far
    into ``mic`` it has read; a ``usage_of`` watch."""

    mic: MicLayout
    every: float = SAMPLE_SECONDS
    samples: list[Sample] = field(default_factory=list)

    def __call__(self, starter: subprocess.Popen[bytes]) -> None:
        started = time.monotonic()
        daemon: int | None = None
        fd: str | None = None
        while starter.poll() is None:
            daemon = daemon or _child_of(starter.pid)
            rss = _rss_kb(daemon) if daemon else None
            if daemon and rss is not None:
                fd = fd or _fd_of(daemon, self.mic.path)
                audio_s = self._position(_offset(daemon, fd) if fd else None)
                self.samples.append(Sample(time.monotonic() - started, audio_s, rss))
            with contextlib.suppress(subprocess.TimeoutExpired):
                starter.wait(self.every)

    def _position(self, offset: int | None) -> float:
        """Seconds of the microphone read, from the file's offset (None: not open yet, or
        closed at its end)."""
        if offset is None:
            return self.mic.audio_s if self.samples and self.samples[-1].audio_s else 0.0
        return min(self.mic.audio_s, max(0, offset - WAV_HEADER_BYTES) / BYTES_PER_SECOND)


def _child_of(pid: int) -> int | None:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _rss_kb(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def _fd_of(pid: int, path: Path) -> str | None:
    """The daemon's file descriptor open on ``path``, if any."""
    wanted = str(path.resolve())
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                    return fd
            except OSError:
                continue
    except OSError:
        pass
    return None


def _offset(pid: int, fd: str) -> int | None:
    try:
        info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
    except OSError:
        return None
    return int(info.split()[1]) if info.startswith("pos:") else None


def rss_figures(samples: Sequence[Sample], mic: MicLayout) -> dict[str, float]:
    """RSS (MB) at 10, 50 and 90 % of the audio, and its slope (MB per audio hour, least
    squares) over the meeting and over its second half (past the first segments' warm-up)."""
    if not samples:
        raise RuntimeError("no RSS sample of the daemon was taken")
    audio_s = np.array([s.audio_s for s in samples])
    rss_mb = np.array([s.rss_kb for s in samples]) / 1024
    progress = audio_s / mic.audio_s
    figures: dict[str, float] = {
        f"rss_at_{round(p * 100)}pct_mb": round(float(rss_mb[np.argmin(abs(progress - p))]), 1)
        for p in PROGRESS_POINTS
    }
    middle = (mic.meeting_start_s + mic.meeting_end_s) / 2
    for key, since in (("", mic.meeting_start_s), ("_second_half", middle)):
        within = (audio_s >= since) & (audio_s <= mic.meeting_end_s)
        slope = _slope(audio_s[within] / 3600, rss_mb[within])
        figures[f"rss_slope{key}_mb_per_audio_h"] = round(slope, 2)
    figures["rss_sampled_max_mb"] = round(float(rss_mb.max()), 1)
    figures["rss_samples"] = len(samples)
    return figures


def _slope(hours: np.ndarray, mb: np.ndarray) -> float:
    if len(np.unique(hours)) < 2:
        return 0.0
    return float(np.polyfit(hours, mb, 1)[0])


def recorder_alone(mic: MicLayout, work: Path) -> dict[str, float]:
    """The recorder by itself in this process (its default settings, the config's too), fed the
    whole microphone file as the lockstep daemon feeds it (30 ms frames; the device feeds 100 ms
    chunks, so fewer calls): its CPU seconds per second recorded, split into the caller's
    thread (journal writes and syncs, the pause detector) and its worker (FLAC encoding, the
    database), and the wall time the caller spent in ``feed`` (the voice loop's thread waits
    that long: the syncs), in all and at most. Reading the file is not counted. Not a daemon
    figure: a check on the difference of the two runs, which is within their noise."""
    folder = work / "alone"
    folder.mkdir()
    feed_s = feed_wall_s = longest_s = 0.0
    with (
        Database(database_path(folder)) as database,
        wave.open(str(mic.path), "rb") as wav,
    ):
        recorder = Recorder(RecordingStore(database), folder / RECORDINGS_FOLDER)
        process, thread = time.process_time(), time.thread_time()
        recorder.start()
        while pcm := wav.readframes(FRAME_BYTES // SAMPLE_WIDTH):
            before, wall = time.thread_time(), time.perf_counter()
            recorder.feed(pcm)
            feed_s += time.thread_time() - before
            took = time.perf_counter() - wall
            feed_wall_s, longest_s = feed_wall_s + took, max(longest_s, took)
        recorder.stop()
        recorder.close()
        total_s = time.process_time() - process
        worker_s = total_s - (time.thread_time() - thread)
    return {
        "alone_cpu_s": round(feed_s + worker_s, 2),
        "alone_pct_of_one_core": round(100 * (feed_s + worker_s) / mic.audio_s, 3),
        "alone_feed_pct": round(100 * feed_s / mic.audio_s, 3),
        "alone_worker_pct": round(100 * worker_s / mic.audio_s, 3),
        "alone_feed_wall_s": round(feed_wall_s, 2),
        "alone_feed_wall_max_ms": round(1000 * longest_s, 1),
    }


# ---- the runs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    cpu_s: float
    peak_rss_mb: float
    wall_s: float
    printed: str
    state_dir: Path
    samples: list[Sample]


def run_daemon(mic: MicLayout, work: Path, name: str, settings: dict[str, str]) -> Run:
    """``zeropin run --sim --lockstep`` over ``mic`` with a fresh HOME and state directory in
    ``work/name``, no provider, and ``settings``; what it cost."""
    home = work / name
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(Path(device.__file__).resolve().parents[1]),  # this checkout's code
    }
    command = [sys.executable, "-m", "device.cli", "--config", str(home / "none.toml")]
    settings = {"device.state_dir": str(home / "state"), "camera.backend": "none", **settings}
    for key, value in settings.items():
        command += ["--set", f"{key}={value}"]
    command += ["run", "--sim", "--lockstep", "--mic", str(mic.path)]
    command += ["--speaker-file", str(home / "replies")]
    sampler = RssSampler(mic)
    started = time.monotonic()
    with (home / "daemon.out").open("w") as out:
        status, peak_kb, cpu_s = usage_of(command, env, out, home / "usage.json", sampler)
    wall_s = time.monotonic() - started
    printed = (home / "daemon.out").read_text()
    if status != 0:
        raise RuntimeError(f"the daemon failed ({name}):\n{printed[-2000:]}")
    return Run(cpu_s, peak_kb / 1024, wall_s, printed, home / "state", sampler.samples)


def recorded(state_dir: Path) -> dict[str, object]:
    """What the recording run left: its one recording, as the database has it, and the FLAC
    files on disk (and any journal left unencoded)."""
    with Database(database_path(state_dir), access="read") as database:
        store = RecordingStore(database)
        recordings = store.recent(10)
        segments = store.segments(recordings[0].id) if recordings else []
    if len(recordings) != 1:
        raise RuntimeError(f"expected one recording, found {len(recordings)}")
    (recording,) = recordings
    root = state_dir / RECORDINGS_FOLDER
    flac = [p.stat().st_size for p in root.glob("*/*.flac")]
    return {
        "id": recording.id,
        "ended_by": recording.ended_by,
        "seconds": round(recording.seconds, 1),
        "segments": recording.segments,
        "db_bytes": recording.bytes,
        "flac_files": len(flac),
        "flac_bytes": sum(flac),
        "journals_left": len(list(root.glob("*/*.pcm"))),
        "longest_segment_s": round(max((s.seconds for s in segments), default=0.0), 1),
        "shortest_segment_s": round(min((s.seconds for s in segments), default=0.0), 1),
    }


def turns(printed: str) -> list[str]:
    """The turns the daemon printed ("heard ... -> intent: ...")."""
    return [line.strip() for line in printed.splitlines() if line.startswith("  heard ")]


def measure(hours: float, work: Path) -> dict[str, object]:
    """Both runs over a microphone with ``hours`` of meeting, built in ``work``; the figures."""
    started = time.monotonic()
    mic = write_mic(work / "mic.wav", hours)
    built_s = time.monotonic() - started
    # recording alone: with no provider, transcription would be local (after the recording)
    recording = run_daemon(mic, work, "recording", {"recorder.transcribe": "off"})
    baseline = run_daemon(mic, work, "baseline", {"recorder.enabled": "false"})
    made = recorded(recording.state_dir)
    alone_started = time.monotonic()
    alone = recorder_alone(mic, work)
    wall = {
        "build_mic_s": round(built_s, 1),
        "recording_run_s": round(recording.wall_s, 1),
        "baseline_run_s": round(baseline.wall_s, 1),
        "recorder_alone_s": round(time.monotonic() - alone_started, 1),
        "total_s": round(time.monotonic() - started, 1),
    }
    return {**figures(hours, mic, recording, baseline, made), **alone, "wall": wall}


def figures(
    hours: float,
    mic: MicLayout,
    recording: Run,
    baseline: Run,
    made: dict[str, object],
) -> dict[str, object]:
    """The daemon's figures: what it recorded, at what cost, against the baseline."""
    seconds = float(made["seconds"])  # type: ignore[arg-type]
    flac_per_h = float(made["flac_bytes"]) / max(seconds, 1e-9) * 3600  # type: ignore[arg-type]
    recorder_cpu_s = recording.cpu_s - baseline.cpu_s
    return {
        "hours": hours,
        "audio_s": round(mic.audio_s, 1),
        "meeting_s": round(mic.meeting_end_s - mic.meeting_start_s, 1),
        "mic_wav_mb": round(mic.path.stat().st_size / 1e6, 1),
        "recording": made,
        "recorded_minus_meeting_s": round(seconds - (mic.meeting_end_s - mic.meeting_start_s), 1),
        "flac_bytes_per_recorded_h": round(flac_per_h),
        "flac_mb_per_h": round(flac_per_h / 1e6, 1),
        "pcm_mb_per_h": round(BYTES_PER_SECOND * 3600 / 1e6, 1),
        "cpu_s_recording": round(recording.cpu_s, 2),
        "cpu_s_baseline": round(baseline.cpu_s, 2),
        "cpu_per_audio_s_recording": round(recording.cpu_s / mic.audio_s, 5),
        "cpu_per_audio_s_baseline": round(baseline.cpu_s / mic.audio_s, 5),
        "recorder_cpu_s": round(recorder_cpu_s, 2),
        "recorder_pct_of_one_core": round(100 * recorder_cpu_s / max(seconds, 1e-9), 3),
        "peak_rss_mb_recording": round(recording.peak_rss_mb, 1),
        "peak_rss_mb_baseline": round(baseline.peak_rss_mb, 1),
        "memory_recording": rss_figures(recording.samples, mic),
        "memory_baseline": rss_figures(baseline.samples, mic),
        "replay_speed_x": round(mic.audio_s / max(recording.wall_s, 1e-9), 1),
        "turns_recording": turns(recording.printed),
        "turns_baseline": turns(baseline.printed),
    }


def print_table(f: dict[str, object]) -> None:
    r, mem, base = f["recording"], f["memory_recording"], f["memory_baseline"]
    assert isinstance(r, dict) and isinstance(mem, dict) and isinstance(base, dict)
    print(
        f"microphone: {f['audio_s']} s of audio, {f['meeting_s']} s of it the meeting "
        f"({f['mic_wav_mb']} MB WAV)"
    )
    print(
        f"recording {r['id']}: {r['seconds']} s, ended by the {r['ended_by']}, "
        f"{r['segments']} segments ({r['shortest_segment_s']}-{r['longest_segment_s']} s), "
        f"{r['journals_left']} journals left"
    )
    print(
        f"disk: {r['flac_bytes']} bytes of FLAC in {r['flac_files']} files = "
        f"{f['flac_mb_per_h']} MB per hour recorded (raw PCM: {f['pcm_mb_per_h']} MB/h)"
    )
    print(f"{'':<34}{'recording':>10}{'baseline':>10}")
    rows = [
        ("CPU s", f["cpu_s_recording"], f["cpu_s_baseline"]),
        ("CPU s per audio s", f["cpu_per_audio_s_recording"], f["cpu_per_audio_s_baseline"]),
        ("peak RSS MB (wait4)", f["peak_rss_mb_recording"], f["peak_rss_mb_baseline"]),
        *((key, mem[key], base[key]) for key in mem if key != "rss_samples"),
    ]
    for name, ours, theirs in rows:
        print(f"{name:<34}{ours:>10}{theirs:>10}")
    print(
        f'recorder ([recorder] transcribe = "off": recording alone): {f["recorder_cpu_s"]} '
        f"CPU s over {r['seconds']} s recorded = {f['recorder_pct_of_one_core']} % of one core "
        "(the runs' difference)"
    )
    print(
        f"recorder alone in this process: {f['alone_pct_of_one_core']} % of one core "
        f"(journal {f['alone_feed_pct']} %, FLAC and database {f['alone_worker_pct']} %); "
        f"feed() held the caller {f['alone_feed_wall_s']} s in all, "
        f"{f['alone_feed_wall_max_ms']} ms at most"
    )
    print(f"wall time: {f['wall']}; the replay ran {f['replay_speed_x']}x real time")
    for turn in f["turns_recording"]:  # type: ignore[attr-defined]
        print(f"  {turn}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=2.0, help="of meeting recorded")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zeropin-recorder-") as work:
        result = measure(args.hours, Path(work))
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
