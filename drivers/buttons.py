"""Push buttons by name, on gpiozero, plus the mock pin factory the simulator and tests share."""

from __future__ import annotations

import logging
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
    ``on_hold`` fires once after ``hold_seconds``; ``on_release`` follows every press, held or not.
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
    ) -> None:
        from gpiozero import Button, GPIOZeroError

        self.on_press: ButtonHandler | None = None
        self.on_release: ButtonHandler | None = None
        self.on_hold: ButtonHandler | None = None
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
            button.when_pressed = self._handler("on_press", name)
            button.when_released = self._handler("on_release", name)
            button.when_held = self._handler("on_hold", name)
            self._buttons[name] = button

    def is_pressed(self, name: str) -> bool:
        """Whether button ``name`` is down right now."""
        return bool(self._buttons[name].is_pressed)

    def _release(self) -> None:
        """Release every pin."""
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
