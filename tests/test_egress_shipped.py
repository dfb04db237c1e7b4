"""The egress gate as the shipped settings meet it: no privacy LED (the status LED's capture
pattern shows each upload), no light at all (images and audio refused unless the owner allows
them), and a card that cannot keep the ledger. Real gpiozero LEDs on MockFactory pins, a real
SQLite ledger."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from device.egress import EgressGate, Ledger
from device.errors import EgressRefused
from device.storage.database import Database, open_or_stand_in
from drivers.leds import CAPTURE_STEPS, CaptureOnStatusLight, LedPattern, NoLed, SingleLed

STATUS_PIN = 12
STEP_SECONDS = 0.1  # of the capture pattern


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pin_factory = MockFactory(pin_class=MockPWMPin)
    yield pin_factory
    pin_factory.reset()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with Database(tmp_path / "zeropin.db") as database:
        yield database


@pytest.fixture
def ledger(db: Database) -> Ledger:
    return Ledger(db)


def image(gate: EgressGate, kind: str = "image") -> Any:
    return gate.upload(host="api.example.com", kind=kind, size_bytes=1234, purpose="vision")


# --- no light at all -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["image", "audio"])
def test_without_any_indicator_images_and_audio_are_refused(ledger: Ledger, kind: str) -> None:
    gate = EgressGate(ledger, None)
    ran = False
    with pytest.raises(EgressRefused) as refused, image(gate, kind=kind):
        ran = True
    assert not ran
    assert refused.value.cause == "no indicator"
    assert "allow_uploads_without_indicator" in str(refused.value)
    assert ledger.recent() == []
    with image(gate, kind="text"):  # a text prompt is not camera or microphone data
        pass
    assert [row.kind for row in ledger.recent()] == ["text"]


def test_the_owner_can_allow_uploads_without_an_indicator_and_is_warned(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="device.egress"):
        gate = EgressGate(ledger, None, allow_without_indicator=True)
    assert "no light showing it" in caplog.text
    with image(gate, kind="audio"):
        pass
    assert [row.kind for row in ledger.recent()] == ["audio"]


# --- no privacy LED: the status light's capture pattern ----------------------------------------


def test_the_status_light_shows_an_upload_over_what_the_loop_shows(
    ledger: Ledger, factory: MockFactory
) -> None:
    shown: list[LedPattern] = []
    pin = factory.pin(STATUS_PIN)
    with SingleLed(STATUS_PIN, pin_factory=factory, on_change=shown.append) as light:
        gate = EgressGate(ledger, CaptureOnStatusLight(light))
        light.show(LedPattern.THINKING)
        with image(gate):
            assert light.capturing
            count = len(pin.states)
            light.show(LedPattern.SPEAKING)  # the loop moves on while the frame is sent
            assert light.capturing  # ... and the upload still shows
            time.sleep(3.5 * len(CAPTURE_STEPS) * STEP_SECONDS)
        assert not light.capturing
        assert light.pattern is LedPattern.SPEAKING
    # A mock pin stamps each state with the seconds since the change before it: lit for nine
    # steps, then one dark step, a rhythm no other pattern has.
    # (The last dark state is the loop's own pattern coming back.)
    dark = [state.timestamp for state in pin.states[count:] if state.state == 0.0][:-1]
    assert len(dark) >= 2, pin.states[count:]
    assert all(0.8 < seconds < 1.6 for seconds in dark), dark  # dark after 0.9 s lit
    assert shown == [LedPattern.THINKING, LedPattern.CAPTURE, LedPattern.SPEAKING]
    assert [row.kind for row in ledger.recent()] == ["image"]


def test_a_closed_status_light_refuses_the_upload(ledger: Ledger, factory: MockFactory) -> None:
    light = SingleLed(STATUS_PIN, pin_factory=factory)
    gate = EgressGate(ledger, CaptureOnStatusLight(light))
    light.close()
    refused = pytest.raises(
        EgressRefused, match="the status LED's capture pattern could not be lit"
    )
    with refused, image(gate, kind="audio"):
        pass
    assert ledger.recent() == []


def test_a_build_without_a_status_light_has_no_capture_pattern() -> None:
    with pytest.raises(ValueError, match="NoLed has nothing to light"):
        CaptureOnStatusLight(NoLed())


# --- a card that cannot keep the ledger ----------------------------------------------------------


def test_on_a_stand_in_database_text_goes_and_images_and_audio_do_not(tmp_path: Path) -> None:
    """A damaged database file: the device runs on an empty one in memory, whose ledger rows
    would vanish at restart, so nothing of camera or microphone may leave."""
    path = tmp_path / "zeropin.db"
    path.write_bytes(bytes(range(256)) * 64)
    with open_or_stand_in(path) as stand_in:
        ledger = Ledger(stand_in)
        gate = EgressGate(ledger, None, allow_without_indicator=True)
        for kind in ("image", "audio"):
            with pytest.raises(EgressRefused) as refused, image(gate, kind):
                pytest.fail("the block ran")
            assert refused.value.cause == "ledger"
            assert "is damaged" in refused.value.storage_reason
        with image(gate, "text"):
            pass
        assert [row.kind for row in ledger.recent()] == ["text"]
    assert path.read_bytes() == bytes(range(256)) * 64
