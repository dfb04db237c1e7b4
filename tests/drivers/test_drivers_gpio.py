"""Buttons and lights on gpiozero's MockFactory: the real gpiozero code, simulated pins."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gpiozero import Device

from drivers.buttons import Buttons, press, simulated_pin_factory
from drivers.errors import DriverError
from drivers.leds import LedPattern, NoLed, PrivacyLed, RgbLed, SingleLed, StatusLight

TALK, PHOTO = 17, 27
LED_PIN, PRIVACY_PIN = 12, 16
RED, GREEN, BLUE = 5, 6, 13


@pytest.fixture
def factory() -> Iterator[Any]:
    saved = Device.pin_factory
    pin_factory = simulated_pin_factory()
    yield pin_factory
    pin_factory.reset()
    Device.pin_factory = saved


def wait_until(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Recorder:
    """Collects (event, button) pairs from the gpiozero thread and signals each arrival."""

    def __init__(self, buttons: Buttons) -> None:
        self.events: list[tuple[str, str]] = []
        self._arrived = threading.Condition()
        for event in ("press", "release", "hold", "long_hold"):
            setattr(buttons, f"on_{event}", self._record(event))

    def _record(self, event: str) -> Callable[[str], None]:
        def record(name: str) -> None:
            with self._arrived:
                self.events.append((event, name))
                self._arrived.notify_all()

        return record

    def wait_for(self, event: str, name: str, seconds: float = 3.0) -> bool:
        with self._arrived:
            return self._arrived.wait_for(lambda: (event, name) in self.events, seconds)


# --- Buttons ---------------------------------------------------------------------------------


def test_press_and_release_call_back_with_the_name(factory: Any) -> None:
    with Buttons({"talk": TALK, "photo": PHOTO}, pin_factory=factory) as buttons:
        recorder = Recorder(buttons)
        factory.pin(TALK).drive_low()
        assert recorder.wait_for("press", "talk")
        assert buttons.is_pressed("talk")
        assert not buttons.is_pressed("photo")
        factory.pin(TALK).drive_high()
        assert recorder.wait_for("release", "talk")
    assert recorder.events == [("press", "talk"), ("release", "talk")]


def test_holding_calls_on_hold_once_after_hold_seconds(factory: Any) -> None:
    with Buttons({"talk": TALK}, pin_factory=factory, hold_seconds=0.2) as buttons:
        recorder = Recorder(buttons)
        started = time.monotonic()
        factory.pin(TALK).drive_low()
        assert recorder.wait_for("hold", "talk")
        assert time.monotonic() - started >= 0.15
        factory.pin(TALK).drive_high()
        assert recorder.wait_for("release", "talk")
    assert recorder.events == [("press", "talk"), ("hold", "talk"), ("release", "talk")]


def test_a_long_hold_fires_once_after_the_hold_and_never_for_a_shorter_press(
    factory: Any,
) -> None:
    with Buttons(
        {"talk": TALK}, pin_factory=factory, hold_seconds=0.1, long_hold_seconds=0.4
    ) as buttons:
        recorder = Recorder(buttons)
        press(factory, TALK, 0.25)  # held, released before the long hold
        assert recorder.wait_for("release", "talk")
        time.sleep(0.3)  # past where the long hold would have fired
        assert ("long_hold", "talk") not in recorder.events
        recorder.events.clear()
        started = time.monotonic()
        factory.pin(TALK).drive_low()
        assert recorder.wait_for("long_hold", "talk")
        assert time.monotonic() - started >= 0.35
        factory.pin(TALK).drive_high()
        assert recorder.wait_for("release", "talk")
    assert recorder.events == [
        ("press", "talk"), ("hold", "talk"), ("long_hold", "talk"), ("release", "talk")
    ]  # fmt: skip
    with pytest.raises(ValueError, match="must be longer than hold_seconds"):
        Buttons({"talk": TALK}, pin_factory=factory, hold_seconds=1.0, long_hold_seconds=1.0)


def test_press_helper_is_a_short_press(factory: Any) -> None:
    with Buttons({"photo": PHOTO}, pin_factory=factory, hold_seconds=1.0) as buttons:
        recorder = Recorder(buttons)
        press(factory, PHOTO, 0.05)
        assert recorder.wait_for("release", "photo")
    assert recorder.events == [("press", "photo"), ("release", "photo")]


def test_a_failing_handler_is_logged_and_the_button_keeps_working(
    factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    released = threading.Event()

    def broken(name: str) -> None:
        raise RuntimeError(f"{name}: handler bug")

    with Buttons({"talk": TALK}, pin_factory=factory) as buttons:
        buttons.on_press = broken
        buttons.on_release = lambda name: released.set()
        press(factory, TALK, 0.01)
        assert released.wait(3)
    assert "on_press handler for button 'talk' failed" in caplog.text


def test_bad_pins_raise_driver_errors_that_say_what_to_check(factory: Any) -> None:
    with pytest.raises(DriverError, match=r"button 'talk' on pin 99.*BCM"):
        Buttons({"talk": 99}, pin_factory=factory)
    with pytest.raises(DriverError, match="already in use"):
        Buttons({"talk": TALK, "photo": TALK}, pin_factory=factory)
    with Buttons({"photo": TALK}, pin_factory=factory) as buttons:  # the failed set let go
        assert not buttons.is_pressed("photo")


def test_no_gpio_library_raises_a_driver_error(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = Device.pin_factory
    Device.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    try:
        with pytest.raises(DriverError, match="python3-lgpio"):
            Buttons({"talk": TALK})
    finally:
        Device.pin_factory = saved


def test_buttons_close_twice_and_free_their_pins(factory: Any) -> None:
    buttons = Buttons({"talk": TALK}, pin_factory=factory)
    buttons.close()
    buttons.close()
    with Buttons({"talk": TALK}, pin_factory=factory) as again:
        assert not again.is_pressed("talk")


# --- SingleLed -------------------------------------------------------------------------------


def states_after(pin: Any, count: int) -> set[float]:
    """The values ``pin`` took after its first ``count`` recorded states."""
    return {float(entry.state) for entry in pin.states[count:]}


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        (LedPattern.OFF, 0.0),
        (LedPattern.IDLE, 0.05),
        (LedPattern.LISTENING, 1.0),
        (LedPattern.MUTED, 0.0),
    ],
)
def test_single_led_steady_patterns(factory: Any, pattern: LedPattern, value: float) -> None:
    with SingleLed(LED_PIN, pin_factory=factory) as light:
        light.show(LedPattern.LISTENING if value == 0 else LedPattern.OFF)
        light.show(pattern)
        assert light.pattern is pattern
        assert factory.pin(LED_PIN).state == pytest.approx(value)


@pytest.mark.parametrize("pattern", [LedPattern.THINKING, LedPattern.OFFLINE])
def test_single_led_blinks(factory: Any, pattern: LedPattern) -> None:
    pin = factory.pin(LED_PIN)
    with SingleLed(LED_PIN, pin_factory=factory) as light:
        count = len(pin.states)
        light.show(pattern)
        assert wait_until(lambda: {0.0, 1.0} <= states_after(pin, count), 5)


def test_single_led_pulses_while_speaking(factory: Any) -> None:
    pin = factory.pin(LED_PIN)
    with SingleLed(LED_PIN, pin_factory=factory) as light:
        light.show(LedPattern.SPEAKING)
        assert wait_until(lambda: any(0.2 < float(s.state) < 0.8 for s in pin.states), 3)


def test_single_led_error_is_bursts_of_three_blinks(factory: Any) -> None:
    pin = factory.pin(LED_PIN)
    with SingleLed(LED_PIN, pin_factory=factory) as light:
        light.show(LedPattern.ERROR)

        def dark_before_each_flash() -> list[float]:
            # A mock pin stamps each state with the seconds since the change before it.
            history = pin.states
            return [
                now.timestamp
                for before, now in zip(history, history[1:], strict=False)
                if float(now.state) == 1.0 and float(before.state) == 0.0
            ]

        assert wait_until(lambda: len(dark_before_each_flash()) >= 5, 5)
        light.show(LedPattern.LISTENING)
    # The first flash ends the dark from before show(); then 0.1 s, 0.1 s, 0.7 s (the 0.1 s
    # between blinks and the 0.6 s pause), 0.1 s.
    short, short_too, pause, next_short = dark_before_each_flash()[1:5]
    assert pause > 2 * max(short, short_too, next_short), dark_before_each_flash()


def test_a_new_pattern_stops_the_animation(factory: Any) -> None:
    pin = factory.pin(LED_PIN)
    with SingleLed(LED_PIN, pin_factory=factory) as light:
        light.show(LedPattern.ERROR)
        assert wait_until(lambda: pin.state == 1.0, 2)
        light.show(LedPattern.LISTENING)
        count = len(pin.states)
        time.sleep(0.4)  # long enough for a burst or a blink to change the pin
        assert pin.state == 1.0
        assert states_after(pin, count) <= {1.0}


# --- RgbLed ----------------------------------------------------------------------------------


def rgb(factory: Any) -> tuple[float, float, float]:
    red, green, blue = (float(factory.pin(pin).state) for pin in (RED, GREEN, BLUE))
    return red, green, blue


@pytest.mark.parametrize(
    ("pattern", "colour"),
    [
        (LedPattern.OFF, (0.0, 0.0, 0.0)),
        (LedPattern.IDLE, (0.05, 0.05, 0.05)),
        (LedPattern.LISTENING, (0.0, 0.0, 1.0)),
        (LedPattern.MUTED, (1.0, 0.4, 0.0)),
    ],
)
def test_rgb_led_steady_colours(
    factory: Any, pattern: LedPattern, colour: tuple[float, float, float]
) -> None:
    with RgbLed(RED, GREEN, BLUE, pin_factory=factory) as light:
        light.show(pattern)
        assert rgb(factory) == pytest.approx(colour)


def test_rgb_led_common_anode_is_inverted(factory: Any) -> None:
    with RgbLed(RED, GREEN, BLUE, active_high=False, pin_factory=factory) as light:
        light.show(LedPattern.LISTENING)
        assert rgb(factory) == pytest.approx((1.0, 1.0, 0.0))


@pytest.mark.parametrize(
    ("pattern", "lit"),
    [
        (LedPattern.THINKING, (0.0, 1.0, 1.0)),
        (LedPattern.SPEAKING, (0.0, 1.0, 0.0)),
        (LedPattern.ERROR, (1.0, 0.0, 0.0)),
        (LedPattern.OFFLINE, (0.2, 0.0, 0.0)),
    ],
)
def test_rgb_led_animations_use_their_colour(
    factory: Any, pattern: LedPattern, lit: tuple[float, float, float]
) -> None:
    with RgbLed(RED, GREEN, BLUE, pin_factory=factory) as light:
        light.show(pattern)
        assert wait_until(lambda: rgb(factory) == pytest.approx(lit, abs=0.05), 5)
        assert wait_until(lambda: rgb(factory) != pytest.approx(lit, abs=0.05), 5)


# --- every status light ----------------------------------------------------------------------


@pytest.fixture(params=["single", "rgb", "none"])
def make_light(
    request: pytest.FixtureRequest, factory: Any
) -> Callable[[Callable[[LedPattern], None]], StatusLight]:
    def make(on_change: Callable[[LedPattern], None]) -> StatusLight:
        if request.param == "single":
            return SingleLed(LED_PIN, pin_factory=factory, on_change=on_change)
        if request.param == "rgb":
            return RgbLed(RED, GREEN, BLUE, pin_factory=factory, on_change=on_change)
        return NoLed(on_change=on_change)

    return make


def test_every_status_light_keeps_the_contract(
    make_light: Callable[[Callable[[LedPattern], None]], StatusLight],
) -> None:
    seen: list[LedPattern] = []
    light = make_light(seen.append)
    with light as entered:
        assert entered is light
        assert light.pattern is LedPattern.OFF
        states = [pattern for pattern in LedPattern if pattern is not LedPattern.CAPTURE]
        for pattern in states:
            light.show(pattern)
            assert light.pattern is pattern
        light.show(LedPattern.IDLE)
        with pytest.raises(ValueError, match="capture"):  # not a state of the loop
            light.show(LedPattern.CAPTURE)
        light.capture(True)
        assert light.capturing
        light.show(LedPattern.THINKING)  # remembered, shown when the capture ends
        light.capture(False)
    assert seen == [*states, LedPattern.IDLE, LedPattern.CAPTURE, LedPattern.THINKING]
    assert LedPattern.THINKING == "thinking"
    light.close()
    assert not light.capturing
    with pytest.raises(DriverError):
        light.show(LedPattern.IDLE)
    with pytest.raises(DriverError):
        light.capture(True)


def test_bad_led_pin_raises_a_driver_error(factory: Any) -> None:
    with pytest.raises(DriverError, match="status LED on pin 99"):
        SingleLed(99, pin_factory=factory)
    with pytest.raises(DriverError, match="RGB status LED"):
        RgbLed(RED, GREEN, 99, pin_factory=factory)


# --- PrivacyLed ------------------------------------------------------------------------------


def test_privacy_led_drives_its_pin(factory: Any) -> None:
    changes: list[bool] = []
    pin = factory.pin(PRIVACY_PIN)
    with PrivacyLed(PRIVACY_PIN, pin_factory=factory, on_change=changes.append) as privacy:
        assert not privacy.is_lit
        privacy.on()
        assert privacy.is_lit
        assert pin.state
        privacy.off()
        assert not privacy.is_lit
        assert not pin.state
        privacy.on()
    assert changes == [True, False, True]
    assert not privacy.is_lit
    privacy.close()
    with pytest.raises(DriverError, match="closed"):
        privacy.on()


def test_privacy_led_that_cannot_be_driven_raises(factory: Any) -> None:
    with pytest.raises(DriverError, match="privacy LED on pin 99"):
        PrivacyLed(99, pin_factory=factory)
    with Buttons({"talk": PRIVACY_PIN}, pin_factory=factory), pytest.raises(DriverError):
        PrivacyLed(PRIVACY_PIN, pin_factory=factory)
