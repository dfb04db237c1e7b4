"""``zeropin run``: the voice loop on real hardware, or in the simulator on a laptop.

In the simulator the main button is a gpiozero MockFactory pin pressed with the Enter key, and
LED changes are printed. ``--mic FILE`` replays a recording at real speed; ``--speaker-file DIR``
writes replies as WAV files. With both, ``--lockstep`` replays the recording as fast as the
machine can process it (``device.loop.pacing.Lockstep``): each turn's work is waited for, so
the turns are those of a real-speed replay, and an hour's soak takes minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.app import assemble
from device.app.hardware import (
    build_buttons,
    build_camera,
    build_light,
    build_mic,
    build_privacy_led,
    build_speaker,
)
from device.config.schema import Config
from device.errors import ZeroPinError
from device.events import ButtonDoublePressed, ButtonHeld, ButtonHeldLong, ButtonPressed, Event
from device.listening.listener import StageCpu
from device.loop.pacing import Lockstep, Realtime
from device.loop.runtime import Runtime, TurnReport
from device.storage.database import Database
from device.system.live import LiveFile, live_path
from device.system.paths import resolved_state_dir
from device.system.sdnotify import Notifier, keep_alive
from drivers.buttons import Buttons, simulated_pin_factory
from drivers.echo_path import EchoPath
from drivers.leds import PrivacyLed, StatusLight
from drivers.mic import Microphone
from drivers.speaker import Speaker

log = logging.getLogger(__name__)

# What the wearer hears at start when nothing can be saved, by ``Database.unsaved.kind``; the
# log has the file and the reason.
CANNOT_SAVE = {
    "full": "My storage is full, so I can't save notes or photos. Free some space on the SD card.",
    "read-only": "My storage is read-only, so I can't save notes or photos. Check the SD card.",
    "io": "My SD card is failing, so I can't save notes or photos. Check the SD card.",
    "damaged": "My notes file is damaged, so I can't save notes. The log says which file to move.",
    "locked": "Another program is using my notes, so I can't save notes until I restart.",
    "other": "I can't open my notes, so I can't save notes. The log says why.",
}


def run_interactive(
    cfg: Config,
    *,
    sim: bool,
    mic_file: Path | None,
    speaker_dir: Path | None,
    camera_folder: Path | None,
    lockstep: bool = False,
    echo: tuple[float, float] | None = None,
) -> int:
    """Serve until the microphone ends or a signal comes; the exit status.

    ``lockstep`` needs ``mic_file`` and ``speaker_dir`` (live ones go at real speed). ``echo``
    (delay ms, gain dB) plays the speaker back into the microphone (``drivers.echo_path``)."""
    if lockstep and (mic_file is None or speaker_dir is None):
        raise ValueError("lockstep replays need a recording and a speaker folder")
    factory = simulated_pin_factory() if sim else None
    notifier = Notifier.from_env()  # systemd's, when run by zeropin.service; else a no-op
    heartbeat = _Heartbeat()
    with contextlib.ExitStack() as stack:
        mic = build_mic(cfg, mic_file, realtime=not lockstep)
        stack.callback(mic.close)
        speaker = build_speaker(cfg, speaker_dir)
        stack.callback(speaker.close)
        mic, speaker = _through_echo(mic, speaker, echo)
        camera = build_camera(cfg, camera_folder, sim=sim)
        if camera is not None:
            stack.enter_context(camera)
        light, privacy_led = _lights(cfg, factory, stack, sim=sim)
        buttons = stack.enter_context(build_buttons(cfg, factory))
        runtime, database = assemble(
            cfg,
            mic=mic,
            speaker=speaker,
            light=light,
            camera=camera,
            state_dir=resolved_state_dir(cfg),
            pacing=Lockstep() if lockstep else Realtime(),
            privacy_led=privacy_led,
            on_turn=_print_turn if sim or mic_file is not None else _log_turn,
            on_tick=heartbeat.beat,
        )
        stack.callback(database.close)
        _say_why_nothing_is_saved(runtime, database, sim)
        wire_buttons(buttons, runtime.post, cfg)
        if sim:
            _simulator_console(factory, cfg)
        stopped = asyncio.run(_serve(runtime, notifier, heartbeat))
        notifier.stopping()
        _print_listening_cpu(runtime, replay=mic_file is not None)
    if mic_file is None and not stopped:
        # A live microphone never ends by itself: it failed (logged). A non-zero exit lets
        # systemd restart the daemon, which reopens the device.
        print("zeropin: the microphone stopped; exiting so the service restarts", file=sys.stderr)
        return 1
    return 0


# Printed at the end of a replay, for the bench (device.sim.daemon_budget) and the curious.
LISTENING_CPU_PREFIX = "  listening CPU: "


def _print_listening_cpu(runtime: Runtime, *, replay: bool) -> None:
    if replay:
        print(LISTENING_CPU_PREFIX + json.dumps(listening_cpu(runtime.listener.cpu)))


def listening_cpu(cpu: StageCpu) -> dict[str, float]:
    """CPU seconds per audio second of the always-on stages (over all the audio) and of the
    recogniser (over the audio it was fed), and those audio seconds."""
    audio, fed = max(cpu.audio_seconds, 1e-9), max(cpu.asr_audio_seconds, 1e-9)
    return {
        "audio_s": round(cpu.audio_seconds, 1),
        "wake_cpu_per_audio_s": round(cpu.wake / audio, 5),
        "vad_cpu_per_audio_s": round(cpu.vad / audio, 5),
        "asr_audio_s": round(cpu.asr_audio_seconds, 1),
        "asr_cpu_per_audio_s": round(cpu.asr / fed, 4),
    }


def _through_echo(
    mic: Microphone, speaker: Speaker, echo: tuple[float, float] | None
) -> tuple[Microphone, Speaker]:
    """The simulator's echo path between them, for ``echo`` (delay ms, gain dB)."""
    if echo is None:
        return mic, speaker
    path = EchoPath(*echo)
    return path.microphone(mic), path.speaker(speaker)


def _say_why_nothing_is_saved(runtime: Runtime, database: Database, sim: bool) -> None:
    """Once, at start: the database is a stand-in that saves nothing (the reason was logged when
    it was opened), and the wearer hears it before asking for a note."""
    if database.unsaved is None:
        return
    text = CANNOT_SAVE[database.unsaved.kind]
    try:
        runtime.playback.play_whole(text, runtime.synthesizer.synthesize(text))
    except ZeroPinError as exc:
        log.warning("could not say %r: %s", text, exc)
    if sim:
        print(f"  said {text!r}", flush=True)


class _Heartbeat:
    """Counts the loop's steps, so the watchdog is fed only while audio is really flowing."""

    def __init__(self) -> None:
        self.chunks = 0
        self._seen = 0

    def beat(self, _seconds: float) -> None:
        self.chunks += 1

    def moved(self) -> bool:
        """Whether chunks arrived since the last call."""
        moved, self._seen = self.chunks != self._seen, self.chunks
        return moved


async def _serve(runtime: Runtime, notifier: Notifier, heartbeat: _Heartbeat) -> bool:
    """Run until the microphone ends or SIGTERM/SIGINT arrives; True if a signal stopped it."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    stop = asyncio.Event()

    def on_signal() -> None:
        stop.set()
        main.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    notifier.ready("listening")  # models are loaded, the microphone is open, SIGTERM is handled
    watchdog = asyncio.create_task(keep_alive(notifier, heartbeat.moved))
    try:
        await runtime.run()
    except asyncio.CancelledError:
        if not stop.is_set():
            raise
    finally:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
    return stop.is_set()


def _simulator_console(factory: Any, cfg: Config) -> None:
    reset = cfg.buttons.reset_hold_seconds
    print(
        "ZeroPin simulator: say 'hey zero ...', or press Enter to talk; type l and Enter "
        "to long-press (ask about what the camera sees); d and Enter to double-press (start or "
        "stop recording)"
        + ("; r and Enter to hold it for the reset between visitors" if reset else "")
        + ". Ctrl-C quits."
    )
    _press_on_enter(factory, cfg.buttons.main_pin, cfg.buttons.hold_seconds, reset)


def _press_on_enter(factory: Any, pin: int, hold_seconds: float, reset_seconds: float) -> None:
    """Each Enter on the terminal is a short press of the mock button; "l" Enter a long one,
    "r" Enter one held for the reset gesture, "d" Enter two short ones."""
    held = {"l": hold_seconds, "r": reset_seconds}

    def loop() -> None:
        for line in sys.stdin:
            if line.strip().lower() == "d":  # two short presses, 0.15 s apart
                factory.pin(pin).drive_low()
                time.sleep(0.05)
                factory.pin(pin).drive_high()
                time.sleep(0.1)
            factory.pin(pin).drive_low()
            seconds = held.get(line.strip().lower(), 0.0)
            if seconds:
                time.sleep(seconds + 0.2)  # the hold timers fire while the pin is still low
            factory.pin(pin).drive_high()

    threading.Thread(target=loop, name="enter-button", daemon=True).start()


def wire_buttons(buttons: Buttons, post: Callable[[Event], None], cfg: Config) -> None:
    """Presses, holds and the reset gesture as the state machine's events.

    With the reset gesture on, a hold is a look only once the button is let go before the reset
    time: taken at the hold itself, a press on its way to the reset would become a question about
    the camera's view if anyone spoke meanwhile, and a photo would leave unasked."""
    hold, reset = cfg.buttons.hold_seconds, cfg.buttons.reset_hold_seconds
    buttons.on_press = _presses(post, cfg.buttons.double_press_seconds)
    if not reset:
        buttons.on_hold = lambda name: post(ButtonHeld(name))
        return

    def released(name: str) -> None:
        if hold <= buttons.last_press_seconds(name) < reset:
            post(ButtonHeld(name))

    buttons.on_release = released
    buttons.on_long_hold = lambda name: post(ButtonHeldLong(name))


BOUNCE_SECONDS = 0.08  # no finger presses a button twice faster than this


def _presses(
    post: Callable[[Event], None],
    double_seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[str], None]:
    """A press, or the second of two within ``double_seconds`` (0: never), as an event. The
    first press of a pair has already begun a turn; the state machine drops it for the gesture.
    """
    contact: dict[str, float] = {}  # when each button last closed, bounces included
    first: dict[str, float] = {}  # when the first press of a possible pair came

    def pressed(name: str) -> None:
        now = clock()
        bounced = now - contact.get(name, -math.inf) < BOUNCE_SECONDS
        contact[name] = now
        if bounced:
            return  # the contact bouncing, not a finger: no second press, no recording
        if double_seconds and now - first.get(name, -math.inf) <= double_seconds:
            first.pop(name)  # a third press is a press again
            post(ButtonDoublePressed(name))
        else:
            first[name] = now
            post(ButtonPressed(name))

    return pressed


def _lights(
    cfg: Config, factory: Any, stack: contextlib.ExitStack, *, sim: bool
) -> tuple[StatusLight, PrivacyLed | None]:
    """The status light and the privacy LED, each also telling the companion page (another
    process) what it shows, through the live file; the simulator prints it as well."""
    live = LiveFile(live_path(resolved_state_dir(cfg)), has_privacy_led=bool(cfg.led.privacy_pin))
    stack.callback(live.stopped)
    on_light = _both(_print_led, live.light) if sim else live.light
    light = stack.enter_context(build_light(cfg, factory, on_light))
    on_privacy = _both(_print_privacy, live.privacy) if sim else live.privacy
    privacy_led = build_privacy_led(cfg, factory, on_privacy)
    if privacy_led is not None:
        stack.enter_context(privacy_led)
    return light, privacy_led


def _both(first: Callable[[Any], None], second: Callable[[Any], None]) -> Callable[[Any], None]:
    def both(value: Any) -> None:
        first(value)
        second(value)

    return both


def _print_privacy(lit: bool) -> None:
    print(f"  [privacy LED {'ON: sending' if lit else 'off'}]", flush=True)


def _print_led(pattern: object) -> None:
    print(f"  [LED {pattern}]", flush=True)


def _log_turn(report: TurnReport) -> None:
    """A turn as the service's journal keeps it: what kind, never the words. On the device the
    journal outlives a visitor reset, and in conversation translation the words are those of
    people nearby."""
    log.info("turn: %s -> %s", report.trigger, report.intent)


def _print_turn(report: TurnReport) -> None:
    print(f"  heard {report.heard!r} -> {report.intent}: {report.said!r}", flush=True)
