"""``zeropin demo``'s recorder part: a meeting recorded, transcribed, summarised, asked about;
then a translation, said in Spanish by espeak-ng's Spanish voice.

The wearer says "start recording"; four people (espeak-ng voices) plan a school fair for about
two minutes; "stop recording"; then "what did we decide about the stage budget in the meeting".
All through the real pipeline, as in the other parts: the recorder writes FLAC segments, the
transcriber uploads each one through the egress gate (the privacy LED lit, a ledger row each) to
the loopback server, whose transcription is the stand-in for a cloud recogniser
(``device.sim.meeting``); the scripted model there writes the summary and answers from the
passages the device found in its transcripts.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from device.cloud.speech import RECORDING
from device.config.schema import Config
from device.egress import Ledger, LedgerRow
from device.loop.runtime import TurnReport
from device.sim.cloud_demo import loopback_provider
from device.sim.demo import USER_VOICE, Step, run_demo
from device.sim.meeting import MEETING, ScriptTranscriber, SpokenLine, meeting_audio
from device.speaking.tts import EspeakSynthesizer
from device.storage.database import Database
from device.storage.recordings import Line, Recording, RecordingStore
from device.system.paths import database_path
from drivers.buttons import simulated_pin_factory
from drivers.leds import PrivacyLed

QUESTION = "hey zero, what did we decide about the stage budget in the meeting"
TRANSLATE = "hey zero, translate where is the station into spanish"
SAID = (
    "testing the microphone, one, two, three, four, five",
    "hey zero, start recording",
    "hey zero, stop recording",
    QUESTION,
    TRANSLATE,
)
PRIVACY_PIN = 16  # the privacy LED on the simulated pins, when the config names none


@dataclass(frozen=True)
class RecorderDemo:
    reports: list[TurnReport]
    recording: Recording
    lines: list[Line]
    ledger: list[LedgerRow]
    privacy_led_changes: list[bool]


def run_recorder_demo(cfg: Config, out_dir: Path) -> RecorderDemo:
    audio, meeting = meeting_audio(MEETING)
    voice, rate, pitch = USER_VOICE
    wearer = EspeakSynthesizer(voice, rate, pitch, volume_percent=100)
    known = [*meeting, *(SpokenLine(voice, t, 0.0, wearer.synthesize(t)) for t in SAID)]
    lit: list[bool] = []
    with (
        tempfile.TemporaryDirectory(prefix="zeropin-recorder-demo-") as temporary,
        loopback_provider() as (server, provider),
        PrivacyLed(
            cfg.led.privacy_pin or PRIVACY_PIN,
            pin_factory=simulated_pin_factory(),
            on_change=lit.append,
        ) as privacy_led,
    ):
        server.transcript = ScriptTranscriber(known)
        state_dir = Path(temporary)
        steps = (
            Step(SAID[0]),
            Step(SAID[1]),
            Step(audio=audio),
            Step(SAID[2]),
            Step(QUESTION, wait_for=lambda: _summarised(state_dir)),
            Step(TRANSLATE),
        )
        reports = run_demo(
            cfg,
            out_dir,
            steps=steps,
            providers=[replace(provider, transcription_model="loopback-transcribe")],
            privacy_led=privacy_led,
            state_dir=state_dir,
        )
        with Database(database_path(state_dir)) as database:
            store = RecordingStore(database)
            (recording,) = store.recent(1)
            lines = store.lines(recording.id)
            ledger = Ledger(database).recent(100)
    return RecorderDemo(reports, recording, lines, ledger, lit)


def _summarised(state_dir: Path) -> bool:
    with Database(database_path(state_dir), access="read") as database:
        recent = RecordingStore(database).recent(1)
    return bool(recent and recent[0].summary)


def print_recording(demo: RecorderDemo) -> None:
    recording = demo.recording
    print(f"\nrecording {recording.id}: {recording.seconds:.0f} s in {recording.segments} segments")
    print(
        f"  {recording.bytes / 1e6:.2f} MB of FLAC on the card, ended by the {recording.ended_by}"
    )
    for line in demo.lines:
        minutes, seconds = divmod(int(line.start_s), 60)
        print(f"  [{minutes}:{seconds:02d}] {line.text}")
    print(f"\nsummary ({recording.summary_engine}):")
    print("  " + recording.summary.replace("\n", "\n  "))
    segments = [row for row in demo.ledger if row.purpose == RECORDING]
    spoken = [row for row in demo.ledger if row.kind == "audio" and row.purpose != RECORDING]
    print(
        f"\n{len(segments)} segments left the device for transcription "
        f"({sum(r.size_bytes for r in segments) / 1e6:.2f} MB), and {len(spoken)} of the "
        "wearer's utterances; the privacy LED lit for each and for the whole recording"
    )
