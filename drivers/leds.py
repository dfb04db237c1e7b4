"""Status lights that show what the device is doing, and the lights that show an upload.

Every pattern has one rhythm on every light, so a one-colour build and an RGB build read alike:

=========  ==================================  ===================  ============================
pattern    rhythm                              SingleLed            RgbLed
=========  ==================================  ===================  ============================
OFF        steady                              off                  off
IDLE       steady                              5 % glow             dim white
LISTENING  steady                              full                 blue
THINKING   fast blink (0.1 s on, 0.1 s off)    full                 cyan
SPEAKING   pulse (0.5 s up, 0.5 s down)        full                 green
ERROR      3 fast blinks, 0.6 s pause, repeat  full                 red
MUTED      steady                              off                  amber
OFFLINE    slow blink (0.2 s on, 1.8 s off)    full                 dim red
CAPTURE    beacon (0.9 s on, 0.1 s off)        full                 magenta
RECORDING  heartbeat (0.5 s on, 1.5 s off)     full                 red
TRANSLATE  slow pulse (1 s up, 1 s down)       full                 blue
=========  ==================================  ===================  ============================

An animated pattern runs on a gpiozero background thread until the next ``show()``.

RECORDING is what the voice loop shows at rest while a recording is under way; a privacy LED,
when fitted, is lit for the whole recording besides (:class:`SharedIndicator`).

CAPTURE is not a state of the voice loop: it is laid over whatever the loop shows while a camera
frame or a recording leaves the device (``capture(True)``), so a build without a dedicated
privacy LED still shows every upload. Anything that can show an upload is an
:class:`UploadIndicator`: a :class:`PrivacyLed`, or a status light's CAPTURE pattern through
:class:`CaptureOnStatusLight`.
"""

from __future__ import annotations

import enum
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from drivers.base import Closable, Driver
from drivers.buttons import gpio_error
from drivers.errors import DriverError

logger = logging.getLogger(__name__)

Colour = tuple[float, float, float]  # red, green, blue, each 0..1


class LedPattern(enum.StrEnum):
    """What a status light can show."""

    OFF = "off"
    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    ERROR = "error"
    MUTED = "muted"
    OFFLINE = "offline"
    CAPTURE = "capture"  # an image or audio is leaving the device; see capture()
    RECORDING = "recording"  # at rest, while the microphone is being recorded to the card
    TRANSLATING = "translating"  # listening to translate a conversation, without the wake word


@dataclass(frozen=True)
class _Look:
    rhythm: Literal["steady", "blink", "pulse", "steps"]
    level: float  # SingleLed brightness, 0..1
    colour: Colour  # RgbLed colour
    on_seconds: float = 0.0  # blink on time, pulse fade-in time, the length of one step
    off_seconds: float = 0.0  # blink off time, pulse fade-out time
    steps: tuple[bool, ...] = ()  # "steps": lit or dark for on_seconds each, repeated


# Three blinks, then six steps dark: a fault, the way a smoke alarm chirps.
ERROR_STEPS = (True, False) * 3 + (False,) * 6
# Lit, with a short dark blink each second: nothing else looks like it on one LED.
CAPTURE_STEPS = (True,) * 9 + (False,)
# Half a second lit in every two, in red: a recording light, unlike OFFLINE's dim short blink.
RECORDING_STEPS = (True, True, False, False, False, False, False, False)


LOOKS: dict[LedPattern, _Look] = {
    LedPattern.OFF: _Look("steady", 0.0, (0.0, 0.0, 0.0)),
    LedPattern.IDLE: _Look("steady", 0.05, (0.05, 0.05, 0.05)),
    LedPattern.LISTENING: _Look("steady", 1.0, (0.0, 0.0, 1.0)),
    LedPattern.THINKING: _Look("blink", 1.0, (0.0, 1.0, 1.0), 0.1, 0.1),
    LedPattern.SPEAKING: _Look("pulse", 1.0, (0.0, 1.0, 0.0), 0.5, 0.5),
    LedPattern.ERROR: _Look("steps", 1.0, (1.0, 0.0, 0.0), 0.1, steps=ERROR_STEPS),
    LedPattern.MUTED: _Look("steady", 0.0, (1.0, 0.4, 0.0)),
    LedPattern.OFFLINE: _Look("blink", 1.0, (0.2, 0.0, 0.0), 0.2, 1.8),
    LedPattern.CAPTURE: _Look("steps", 1.0, (1.0, 0.0, 1.0), 0.1, steps=CAPTURE_STEPS),
    LedPattern.RECORDING: _Look("steps", 1.0, (1.0, 0.0, 0.0), 0.25, steps=RECORDING_STEPS),
    LedPattern.TRANSLATING: _Look("pulse", 1.0, (0.0, 0.0, 1.0), 1.0, 1.0),
}


def _stepped(steps: tuple[bool, ...], on: Any, off: Any) -> Iterator[Any]:
    """Values for gpiozero's ``source``: ``steps`` as lit/dark values, for ever."""
    return itertools.cycle([on if lit else off for lit in steps])


class StatusLight(Closable, Protocol):
    """What the voice loop shows its state on."""

    pattern: LedPattern  # the loop's state; CAPTURE shows over it while ``capturing``
    can_show_capture: bool  # False for a build without a status light

    @property
    def capturing(self) -> bool: ...  # whether CAPTURE is showing now

    def show(self, pattern: LedPattern) -> None: ...

    def capture(self, on: bool) -> None: ...


class _Light(Driver):
    """Bookkeeping shared by the status lights; subclasses drive ``_led`` in ``_apply``."""

    can_show_capture = True

    def __init__(self, on_change: Callable[[LedPattern], None] | None) -> None:
        self.pattern = LedPattern.OFF
        self.on_change = on_change
        self._capturing = False
        self._lock = threading.Lock()
        self._led: Any = None  # the gpiozero device; None for NoLed

    @property
    def capturing(self) -> bool:
        """Whether CAPTURE is showing now, read back from the light: its stepped pattern is
        running on the pins (False once closed)."""
        if not self._capturing or self.closed:
            return False
        return self._led is None or self._led.source is not None

    def show(self, pattern: LedPattern) -> None:
        """Show ``pattern`` (replacing any animation), then call ``on_change`` with it.

        While ``capturing``, the pattern is remembered and shown when the capture ends."""
        pattern = LedPattern(pattern)
        if pattern is LedPattern.CAPTURE:
            raise ValueError("CAPTURE is shown with capture(True), over the loop's pattern")
        with self._lock:  # on_change inside it too, so what is reported is in the order shown
            self._check_open()
            self.pattern = pattern
            if self._capturing:
                return
            self._apply(LOOKS[pattern])
            if self.on_change is not None:
                self.on_change(pattern)

    def capture(self, on: bool) -> None:
        """Show CAPTURE over the loop's pattern (``on``), or go back to the loop's pattern.

        DriverError when the light is closed or its pins fail."""
        with self._lock:
            self._check_open()
            if on == self._capturing:
                return
            try:
                self._apply(LOOKS[LedPattern.CAPTURE if on else self.pattern])
            except Exception as exc:  # gpiozero's errors, or OSError from a pin
                raise DriverError(f"the status light could not show an upload: {exc}") from exc
            self._capturing = on
            if self.on_change is not None:
                self.on_change(LedPattern.CAPTURE if on else self.pattern)

    def _check_open(self) -> None:
        if self.closed:
            raise DriverError(f"{type(self).__name__} is closed")

    def _apply(self, look: _Look) -> None:
        pass

    def _release(self) -> None:
        """Turn the light off and release its pins."""
        with self._lock:  # waits for a show() in progress
            if self._led is not None:
                self._led.source = None  # stop a stepped pattern
                self._led.off()
                self._led.close()


class SingleLed(_Light):
    """One LED, dimmed by PWM, showing each pattern as a brightness rhythm (table above).

    Wiring: GPIO 12 (physical pin 32) through a 330 ohm resistor to the LED's anode (long leg),
    cathode to GND. Example::

        from drivers.leds import LedPattern, SingleLed

        with SingleLed(12) as light:
            light.show(LedPattern.THINKING)
    """

    def __init__(
        self,
        pin: int,
        *,
        pin_factory: Any = None,
        on_change: Callable[[LedPattern], None] | None = None,
    ) -> None:
        from gpiozero import PWMLED, GPIOZeroError

        super().__init__(on_change)
        try:
            self._led = PWMLED(pin, pin_factory=pin_factory)
        except (GPIOZeroError, OSError) as exc:
            raise gpio_error("status LED", pin, exc) from exc

    def _apply(self, look: _Look) -> None:
        led = self._led
        led.source = None  # stop a stepped pattern
        if look.rhythm == "steady":
            led.value = look.level
        elif look.rhythm == "blink":
            led.blink(on_time=look.on_seconds, off_time=look.off_seconds)
        elif look.rhythm == "pulse":
            led.pulse(fade_in_time=look.on_seconds, fade_out_time=look.off_seconds)
        else:
            led.source_delay = look.on_seconds
            led.source = _stepped(look.steps, look.level, 0.0)


class RgbLed(_Light):
    """An RGB LED, dimmed by PWM, showing each pattern as a colour and a rhythm (table above).

    Wiring (common cathode): GPIO 5, 6 and 13 each through a 330 ohm resistor to the red, green
    and blue legs, the common leg to GND. A common-anode LED has its common leg on 3.3 V and
    needs ``active_high=False``. Example::

        from drivers.leds import LedPattern, RgbLed

        with RgbLed(5, 6, 13) as light:
            light.show(LedPattern.LISTENING)    # blue
    """

    def __init__(
        self,
        red: int,
        green: int,
        blue: int,
        *,
        active_high: bool = True,
        pin_factory: Any = None,
        on_change: Callable[[LedPattern], None] | None = None,
    ) -> None:
        from gpiozero import RGBLED, GPIOZeroError

        super().__init__(on_change)
        try:
            self._led = RGBLED(
                red, green, blue, active_high=active_high, pwm=True, pin_factory=pin_factory
            )
        except (GPIOZeroError, OSError) as exc:
            raise gpio_error("RGB status LED", (red, green, blue), exc) from exc

    def _apply(self, look: _Look) -> None:
        led = self._led
        led.source = None  # stop a stepped pattern
        if look.rhythm == "steady":
            led.value = look.colour
        elif look.rhythm == "blink":
            led.blink(on_time=look.on_seconds, off_time=look.off_seconds, on_color=look.colour)
        elif look.rhythm == "pulse":
            led.pulse(
                fade_in_time=look.on_seconds, fade_out_time=look.off_seconds, on_color=look.colour
            )
        else:
            led.source_delay = look.on_seconds
            led.source = _stepped(look.steps, look.colour, (0.0, 0.0, 0.0))


class NoLed(_Light):
    """For builds without a status light: remembers the pattern and calls ``on_change``.

    Example::

        from drivers.leds import LedPattern, NoLed

        light = NoLed(on_change=lambda pattern: print("LED:", pattern.value))
        light.show(LedPattern.IDLE)             # prints "LED: idle"
    """

    can_show_capture = False  # nothing lights: it cannot show an upload

    def __init__(self, *, on_change: Callable[[LedPattern], None] | None = None) -> None:
        super().__init__(on_change)


class UploadIndicator(Protocol):
    """What shows the people around the wearer that an image or audio is leaving the device.

    The cloud egress gate calls ``on()`` before such an upload and refuses to send when it raises
    DriverError or ``is_lit`` reads False afterwards; ``off()`` when the upload is over."""

    @property
    def description(self) -> str: ...  # for messages, e.g. "the privacy LED on GPIO 16"

    @property
    def is_lit(self) -> bool: ...

    def on(self) -> None: ...

    def off(self) -> None: ...


class SharedIndicator:
    """One light held by several users at once: the egress gate for its uploads, the recorder
    for a whole recording. Each user takes a :meth:`holder`, an :class:`UploadIndicator` of its
    own whose ``on()`` and ``off()`` hold and release the light for that user (twice ``on()`` is
    still one hold); the light is lit while anyone holds it. Thread-safe: uploads and recordings
    start on different threads."""

    def __init__(self, indicator: UploadIndicator) -> None:
        self.indicator = indicator
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def holder(self, name: str) -> UploadIndicator:
        return _Holder(self, name)

    def hold(self, name: str, lit: bool) -> None:
        """Hold (``lit``) or release the light for ``name``; DriverError, and not held, when
        it cannot be lit."""
        with self._lock:
            before = bool(self._held)
            if not lit:
                self._held.discard(name)
                if before and not self._held:
                    self.indicator.off()
                return
            if not before:
                self.indicator.on()
            self._held.add(name)


class _Holder:
    def __init__(self, shared: SharedIndicator, name: str) -> None:
        self.shared = shared
        self.name = name

    @property
    def description(self) -> str:
        return self.shared.indicator.description

    @property
    def is_lit(self) -> bool:
        return self.shared.indicator.is_lit

    def on(self) -> None:
        self.shared.hold(self.name, True)

    def off(self) -> None:
        self.shared.hold(self.name, False)


class CaptureOnStatusLight:
    """A status light's CAPTURE pattern as an :class:`UploadIndicator`, for builds without a
    dedicated privacy LED. The light stays owned (and closed) by whoever opened it.

    Example::

        from drivers.leds import CaptureOnStatusLight, SingleLed

        with SingleLed(12) as light:
            indicator = CaptureOnStatusLight(light)
            indicator.on()          # lit, with a short dark blink each second
            assert indicator.is_lit
            indicator.off()         # back to what the voice loop shows
    """

    def __init__(self, light: StatusLight) -> None:
        if not light.can_show_capture:
            raise ValueError(f"{type(light).__name__} has nothing to light")
        self.light = light

    @property
    def description(self) -> str:
        return "the status LED's capture pattern"

    @property
    def is_lit(self) -> bool:
        return self.light.capturing

    def on(self) -> None:
        self.light.capture(True)

    def off(self) -> None:
        self.light.capture(False)


class PrivacyLed(Driver):
    """The light that is lit whenever audio or images may leave the device.

    The cloud egress gate turns it on before an upload and refuses to upload when it raises
    DriverError or ``is_lit`` reads False. ``on_change`` is called with the new ``is_lit``.
    Wiring: GPIO 16 (physical pin 36) through a 330 ohm resistor to a red LED's anode, cathode
    to GND. Example::

        from drivers.leds import PrivacyLed

        with PrivacyLed(16) as privacy:
            privacy.on()
            assert privacy.is_lit
    """

    def __init__(
        self,
        pin: int,
        *,
        pin_factory: Any = None,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        from gpiozero import LED, GPIOZeroError

        self.pin = pin
        self.on_change = on_change
        self._errors: tuple[type[Exception], ...] = (GPIOZeroError, OSError)
        try:
            self._led: Any = LED(pin, pin_factory=pin_factory)
        except self._errors as exc:
            raise gpio_error("privacy LED", pin, exc) from exc

    @property
    def description(self) -> str:
        return f"the privacy LED on GPIO {self.pin}"

    @property
    def is_lit(self) -> bool:
        """Whether the pin is driving the LED now (False once closed)."""
        return not self.closed and bool(self._led.is_lit)

    def on(self) -> None:
        """Light it; DriverError when that is impossible."""
        self._set(True)

    def off(self) -> None:
        """Put it out; DriverError when that is impossible."""
        self._set(False)

    def _release(self) -> None:
        """Put it out and release the pin."""
        self._led.off()
        self._led.close()

    def _set(self, lit: bool) -> None:
        if self.closed:
            raise DriverError(f"the privacy LED on pin {self.pin} is closed")
        try:
            self._led.value = lit
        except self._errors as exc:
            raise gpio_error("privacy LED", self.pin, exc) from exc
        if self.on_change is not None:
            self.on_change(self.is_lit)
