"""One privacy LED held by the egress gate and by the recorder at once (gpiozero MockFactory pin,
a real gate and ledger): lit while either holds it, dark only when both let go, whatever the
order, and however many uploads overlap."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BrokenLedFactory
from gpiozero.pins.mock import MockFactory

from device.egress import EgressGate, Ledger
from device.skills.recordings import LIGHT_FAILED, NO_LIGHT, RecordingSkill
from device.storage.database import Database
from device.storage.recorder import Recorder
from device.storage.recordings import RecordingStore
from drivers.leds import PrivacyLed, SharedIndicator


@pytest.fixture
def parts(tmp_path: Path):
    with (
        Database(tmp_path / "zeropin.db") as database,
        PrivacyLed(16, pin_factory=MockFactory()) as led,
    ):
        shared = SharedIndicator(led)
        gate = EgressGate(Ledger(database), shared.holder("uploads"))
        recorder = Recorder(RecordingStore(database), tmp_path / "recordings")
        skill = RecordingSkill(recorder, tally=shared.holder("recording"))
        recorder.on_change = skill.changed
        yield led, gate, skill, recorder
        recorder.close()


def _upload(gate: EgressGate):
    return gate.upload(host="127.0.0.1", kind="audio", size_bytes=10, purpose="transcription")


def test_overlapping_uploads_put_it_out_once_both_are_over(parts) -> None:
    led, gate, _, _ = parts
    with _upload(gate):
        with _upload(gate):
            assert led.is_lit
        assert led.is_lit  # the first is still in flight
    assert not led.is_lit


def test_a_recording_keeps_it_lit_through_uploads_and_an_upload_through_its_end(parts) -> None:
    led, gate, skill, _ = parts
    skill.handle("recording_start")
    assert led.is_lit
    with _upload(gate):
        pass
    assert led.is_lit  # the upload's end does not put out the recording's light
    with _upload(gate):
        skill.handle("recording_stop")
        assert led.is_lit  # nor the recording's end an upload's
    assert not led.is_lit


def test_no_light_at_all_or_a_broken_one_means_no_recording(parts) -> None:
    led, _, skill, recorder = parts
    skill.shown = False
    assert skill.handle("recording_start") == f"I can't record: {NO_LIGHT}."
    assert not recorder.active

    with PrivacyLed(16, pin_factory=BrokenLedFactory()) as broken:
        skill.shown, skill.tally = True, SharedIndicator(broken).holder("recording")
        assert skill.handle("recording_start") == f"I can't record: {LIGHT_FAILED}."
    assert not recorder.active and not led.is_lit
