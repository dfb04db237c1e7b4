"""Push buttons by name, on gpiozero, plus the mock pin factory the simulator and tests share."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from drivers.base import Driver
from drivers.errors import DriverError

if TYPE_CHECKING:
    from gpiozero.pins.mock import MockFactory

logger = logging.getLogger(__name__)

ButtonHandler = Callable[[str], None]  # called with the button's name


class Buttons(Driver):
    """Named push buttons, each wired from a GPIO pin to ground (the internal pull-up is used).

    Handlers are attributes, set at any time, and called with the button's name on gpiozero's own
    thread; an exception in a handler is logged, not raised, so the button keeps working.
    ``on_hold`` fires once after ``hold_seconds``; ``on_long_hold`` once after
    ``long_hold_seconds`` (0: never), if the button is still down; ``on_release`` follows every
    press, held or not.
    Pins are BCM numbers. Wiring: one leg of the button to GPIO 17 (physical pin 11), the other to
    GND (pin 9). Example::

        from drivers.buttons import Buttons

        buttons = Buttons({"talk": 17})
        buttons.on_press = lambda name: print(name, "down")
        buttons.on_hold = lambda name: print(name, "held for a second")
    """

    def __init__(
        self,
        pins: Mapping[str, int],
        *,
        pin_factory: Any = None,
        hold_seconds: float = 1.0,
        bounce_seconds: float | None = None,
        long_hold_seconds: float = 0.0,
    ) -> None:
        from gpiozero import Button, GPIOZeroError

        if long_hold_seconds and long_hold_seconds <= hold_seconds:
            raise ValueError(
                f"long_hold_seconds ({long_hold_seconds:g}) must be longer than hold_seconds "
                f"({hold_seconds:g})"
            )
        self.on_press: ButtonHandler | None = None
        self.on_release: ButtonHandler | None = None
        self.on_hold: ButtonHandler | None = None
        self.on_long_hold: ButtonHandler | None = None
        self.long_hold_seconds = long_hold_seconds
        # gpiozero times one hold per button; the long one is a timer of ours from each press
        self._long_timers: dict[str, threading.Timer] = {}
        self._pressed_at: dict[str, float] = {}
        self._last_press: dict[str, float] = {}  # seconds each button was last held down
        self._buttons: dict[str, Any] = {}
        for name, pin in pins.items():
            try:
                button = Button(
                    pin,
                    pull_up=True,
                    bounce_time=bounce_seconds,
                    hold_time=hold_seconds,
                    pin_factory=pin_factory,
                )
            except (GPIOZeroError, OSError) as exc:
                self.close()
                raise gpio_error(f"button {name!r}", pin, exc) from exc
            button.when_pressed = self._pressed(name)
            button.when_released = self._released(name)
            button.when_held = self._handler("on_hold", name)
            self._buttons[name] = button

    def last_press_seconds(self, name: str) -> float:
        """How long button ``name`` was down the last time, as ``on_release`` learns it."""
        return self._last_press.get(name, 0.0)

    def is_pressed(self, name: str) -> bool:
        """Whether button ``name`` is down right now."""
        return bool(self._buttons[name].is_pressed)

    def _pressed(self, name: str) -> Callable[[], None]:
        fire = self._handler("on_press", name)

        def pressed() -> None:
            self._pressed_at[name] = time.monotonic()
            if self.long_hold_seconds:
                timer = threading.Timer(self.long_hold_seconds, self._long_held, (name,))
                timer.daemon = True
                old = self._long_timers.pop(name, None)
                if old is not None:
                    old.cancel()
                self._long_timers[name] = timer
                timer.start()
            fire()

        return pressed

    def _released(self, name: str) -> Callable[[], None]:
        fire = self._handler("on_release", name)

        def released() -> None:
            started = self._pressed_at.pop(name, None)
            if started is not None:
                self._last_press[name] = time.monotonic() - started
            timer = self._long_timers.pop(name, None)
            if timer is not None:
                timer.cancel()
            fire()

        return released

    def _long_held(self, name: str) -> None:
        button = self._buttons.get(name)
        if button is not None and button.is_pressed:  # a release may race the timer
            self._handler("on_long_hold", name)()

    def _release(self) -> None:
        """Release every pin."""
        for timer in self._long_timers.values():
            timer.cancel()
        self._long_timers.clear()
        for button in self._buttons.values():
            button.close()
        self._buttons.clear()

    def _handler(self, attribute: str, name: str) -> Callable[[], None]:
        def fire() -> None:
            callback: ButtonHandler | None = getattr(self, attribute)
            if callback is None:
                return
            try:
                callback(name)
            except Exception:
                logger.exception("%s handler for button %r failed", attribute, name)

        return fire


def gpio_error(what: str, pin: object, exc: Exception) -> DriverError:
    """A DriverError for gpiozero's error ``exc``, saying which pin failed and what to check.

    Shared with ``drivers.leds``; callers catch ``(GPIOZeroError, OSError)`` (an OSError is
    usually a permission problem on /dev/gpiochip*).
    """
    from gpiozero import BadPinFactory, GPIOPinInUse, PinInvalidPin, PinPWMUnsupported

    if isinstance(exc, BadPinFactory):
        hint = (
            "no GPIO library could be loaded: on a Raspberry Pi `sudo apt install python3-lgpio` "
            "(in a --system-site-packages venv); elsewhere use the simulator's mock pins"
        )
    elif isinstance(exc, PinInvalidPin):
        hint = "not a GPIO on this board: give the BCM number (GPIO17 is physical pin 11)"
    elif isinstance(exc, PinPWMUnsupported):
        hint = (
            "this pin factory cannot dim an LED; with GPIOZERO_PIN_FACTORY=mock also set "
            "GPIOZERO_MOCK_PIN_CLASS=mockpwmpin"
        )
    elif isinstance(exc, GPIOPinInUse):
        hint = "the pin is already in use: check the configuration for a pin given twice"
    else:
        hint = "check the wiring and that this user is in the 'gpio' group"
    return DriverError(f"{what} on pin {pin}: {str(exc) or type(exc).__name__}; {hint}")


def simulated_pin_factory() -> MockFactory:
    """gpiozero's MockFactory with PWM-capable pins, for the simulator and the tests."""
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    return MockFactory(pin_class=MockPWMPin)


def press(pin_factory: MockFactory, pin: int, seconds: float = 0.1) -> None:
    """Hold mock ``pin`` low for ``seconds`` (blocking): the simulator's keyboard button."""
    mock_pin = pin_factory.pin(pin)
    mock_pin.drive_low()
    try:
        time.sleep(seconds)
    finally:
        mock_pin.drive_high()
