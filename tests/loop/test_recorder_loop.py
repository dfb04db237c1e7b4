"""The recorder through the daemon's own runtime (``device.app.assemble``) in lockstep: the double
press starts and stops it, the light shows RECORDING at rest, a privacy LED stays lit for the
whole recording, the microphone's every chunk lands in FLAC segments, and a card too full to
record gets a spoken reason. Real SQLite, real files, gpiozero's MockFactory pins, espeak-ng
speech."""

from __future__ import annotations

import asyncio
import re
import wave
from collections.abc import Callable
from pathlib import Path

from test_runtime import _recording

from device.app import assemble
from device.config.sources import load_config
from device.daemon import _presses
from device.events import ButtonDoublePressed, ButtonPressed, Event
from device.loop.pacing import Lockstep
from device.loop.runtime import Runtime, TurnReport
from device.skills.recordings import STARTED, STOPPED_BY
from device.storage.database import Database
from device.storage.recorder import DISK_FULL, RecorderSettings, read_segment
from device.storage.recordings import RecordingStore
from device.system.paths import state_paths
from drivers.buttons import simulated_pin_factory
from drivers.leds import LedPattern, NoLed, PrivacyLed
from drivers.mic import FileMicrophone
from drivers.speaker import WavSpeaker, slug

SOUND_CHECK = "testing the microphone, one, two, three, four, five"  # pocketsphinx adapts on it
CFG = load_config(paths=[], env={}, overrides=["recorder.segment_seconds=5"])


def _run(
    tmp_path: Path,
    mic: Path,
    posts: dict[int, list[Event]],
    cfg=CFG,
    watch: Callable[[Runtime, PrivacyLed], None] | None = None,
) -> tuple[list[TurnReport], list[LedPattern], list[bool]]:
    reports: list[TurnReport] = []
    shown: list[LedPattern] = []
    lit: list[bool] = []
    steps = iter(range(10**9))
    factory = simulated_pin_factory()

    def tick(_seconds: float) -> None:
        for event in posts.get(next(steps), []):
            runtime.post(event)
        if watch is not None:
            watch(runtime, privacy)

    with (
        FileMicrophone(mic, 480) as microphone,
        WavSpeaker(tmp_path / "out") as speaker,
        PrivacyLed(16, pin_factory=factory, on_change=lit.append) as privacy,
    ):
        runtime, database = assemble(
            cfg,
            mic=microphone,
            speaker=speaker,
            light=NoLed(on_change=shown.append),
            camera=None,
            state_dir=tmp_path / "state",
            pacing=Lockstep(),
            privacy_led=privacy,
            providers=[],
            on_turn=reports.append,
            on_tick=tick,
        )
        try:
            asyncio.run(asyncio.wait_for(runtime.run(), 120))
        finally:
            database.close()
    return reports, shown, lit


def _recordings(tmp_path: Path):
    with Database(state_paths(CFG, tmp_path / "state")[0]) as database:
        store = RecordingStore(database)
        return [(r, store.segments(r.id)) for r in store.recent()]


def _mic_pcm(path: Path) -> bytes:
    with wave.open(str(path)) as wav:
        return wav.readframes(wav.getnframes())


def test_a_double_press_records_until_the_next_one(tmp_path: Path) -> None:
    mic = _recording(tmp_path / "mic.wav", 3.0, "the fair is on saturday", "and the stage", 6.0)
    # the first press starts a turn, the second (as the daemon's button wiring reports it)
    # makes it the gesture; at 9 s (step 300 of 30 ms) the same again, to stop
    posts = {
        10: [ButtonPressed()],
        14: [ButtonDoublePressed()],
        300: [ButtonPressed()],
        304: [ButtonDoublePressed()],
    }
    during: list[bool] = []

    def watch(runtime: Runtime, privacy: PrivacyLed) -> None:
        recorder = runtime.recorder
        assert recorder is not None
        if recorder.active and recorder.seconds > 0.5:
            during.append(privacy.is_lit)  # lit at every step of the recording

    reports, shown, lit = _run(tmp_path, mic, posts, watch=watch)
    assert [(r.trigger, r.intent) for r in reports] == [
        ("button", "recording_toggle"),
        ("button", "recording_toggle"),
    ]
    assert reports[0].said == STARTED
    assert re.match(
        r"Stopped\. I recorded [89] seconds\. I'll transcribe it on the device", reports[1].said
    )
    assert during and all(during)
    assert lit == [True, False]  # once on for the recording, once off: no upload without a cloud
    # at rest during the recording the light said so; after it, idle again
    rests = [p for p in shown if p in (LedPattern.IDLE, LedPattern.RECORDING)]
    assert LedPattern.RECORDING in rests and rests[-1] is LedPattern.IDLE
    ((recording, segments),) = _recordings(tmp_path)
    assert recording.ended_by == "wearer" and 8 < recording.seconds < 9.5
    assert len(segments) >= 1
    # what was recorded is exactly what the microphone heard over that stretch
    joined = b"".join(read_segment(tmp_path / "state" / "recordings" / s.file) for s in segments)
    heard = _mic_pcm(mic)
    at = heard.find(joined[:9600])
    assert at > 0 and heard[at : at + len(joined)] == joined


def test_a_card_too_full_to_record_is_said_and_nothing_starts(tmp_path: Path) -> None:
    # no card here has 100 GB free
    cfg = load_config(paths=[], env={}, overrides=["recorder.min_free_mb=100000"])
    mic = _recording(tmp_path / "mic.wav", SOUND_CHECK, "hey zero, start recording")
    reports, shown, lit = _run(tmp_path, mic, {}, cfg=cfg)
    assert [(r.intent, r.said) for r in reports] == [
        ("recording_start", "I can't record: my storage is nearly full.")
    ]
    # the light comes first (nothing records unseen), and goes out when the recorder refuses
    assert LedPattern.RECORDING not in shown and lit == [True, False]
    assert _recordings(tmp_path) == []


def test_two_presses_make_the_gesture_three_are_a_press_again() -> None:
    posted: list[Event] = []
    now = [0.0]
    pressed = _presses(posted.append, 0.5, clock=lambda: now[0])
    for at in (0.0, 0.3, 0.6, 2.0, 2.02, 3.0):  # 2.02: the contact bouncing
        now[0] = at
        pressed("main")
    assert posted == [
        ButtonPressed(),
        ButtonDoublePressed(),
        ButtonPressed(),  # the third press of a quick triple starts a new pair
        ButtonPressed(),
        ButtonPressed(),
    ]
    off: list[Event] = []
    never = _presses(off.append, 0.0, clock=lambda: now[0])
    for now[0] in (0.0, 0.3):
        never("main")
    assert off == [ButtonPressed(), ButtonPressed()]


def test_a_card_that_fills_while_recording_stops_it_and_says_why(tmp_path: Path) -> None:
    mic = _recording(tmp_path / "mic.wav", 2.0, "the fair is on saturday", "and the stage", 9.0)
    posts = {10: [ButtonPressed()], 14: [ButtonDoublePressed()]}

    def fill_the_card(runtime: Runtime, _privacy: PrivacyLed) -> None:
        recorder = runtime.recorder
        if recorder is not None and recorder.active and recorder.seconds > 1.0:
            # from now on the card has less free than the recorder keeps: its next segment
            recorder.settings = RecorderSettings(segment_seconds=5, min_free_mb=10**9)

    reports, shown, lit = _run(tmp_path, mic, posts, watch=fill_the_card)
    assert [r.said for r in reports] == [STARTED]
    said = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert any(name.endswith(slug(STOPPED_BY[DISK_FULL]) + ".wav") for name in said), said
    assert lit == [True, False] and shown[-1] is LedPattern.IDLE
    ((recording, segments),) = _recordings(tmp_path)
    assert recording.ended_by == DISK_FULL and segments  # what was recorded is kept
