"""The reset between two visitors, through the daemon's own runtime (``device.app.assemble``) in
lockstep on espeak-ng speech: the button held past ``[buttons] reset_hold_seconds`` asks, a
spoken yes forgets what the visitor left (notes, facts, photos, the conversation, timers), and
anything else keeps it. A real SQLite database and state folder."""

from __future__ import annotations

from pathlib import Path

from test_runtime import CFG, _recording, _run

from device.app import build_synthesizer
from device.events import ButtonHeld, ButtonHeldLong, ButtonPressed, Event
from device.loop.states import State
from device.skills.local import VISITOR_RESET_KEPT, VISITOR_RESET_QUESTION
from device.storage.database import Database
from device.storage.memory import MemoryStore
from device.storage.notes import NoteStore
from device.system.paths import state_paths
from drivers.audio_format import RATE


def _visit(tmp_path: Path) -> None:
    """What a visitor left: three notes, a fact, a photo."""
    database_file, photos = state_paths(CFG, tmp_path / "state")
    with Database(database_file) as database:
        for text in ("buy milk", "call mum", "water the plants"):
            NoteStore(database).add(text)
        MemoryStore(database).remember("my locker is 42")
    (photos / "20261207-101500.jpg").write_bytes(b"\xff\xd8 a photo")


def _left(tmp_path: Path) -> tuple[int, int, list[str]]:
    database_file, photos = state_paths(CFG, tmp_path / "state")
    with Database(database_file) as database:
        notes, facts = NoteStore(database).count(), MemoryStore(database).count()
    return notes, facts, sorted(p.name for p in photos.iterdir())


def _question_then(extra_seconds: float) -> float:
    """From the start to ``extra_seconds`` after the question the gesture asks (made at 1.2 s,
    step 40 of 30 ms) has been played."""
    question = build_synthesizer(CFG).synthesize(VISITOR_RESET_QUESTION)
    return len(question) / (2 * RATE) + extra_seconds


def _held_at_step(step: int) -> dict[int, list[Event]]:
    # as gpiozero reports it: pressed (a turn starts listening), then held past the reset time
    return {step: [ButtonPressed()], step + 30: [ButtonHeldLong()]}


def test_the_gesture_then_yes_forgets_the_visit(tmp_path: Path) -> None:
    _visit(tmp_path)
    mic = _recording(tmp_path / "mic.wav", _question_then(3.0), "yes")
    held = _held_at_step(10)
    runtime, _, reports, states = _run(tmp_path, mic, posts=lambda step, _: held.get(step, []))
    assert runtime.state is State.IDLE and runtime.machine.pending is None
    assert State.CONFIRMING in states
    (answer,) = reports
    assert (answer.trigger, answer.heard, answer.intent) == ("answer", "yes", "visitor_reset")
    assert answer.said == (
        "Done. I forgot 3 notes, 1 photo and what you told me. Ready for the next visitor."
    )
    assert _left(tmp_path) == (0, 0, [])
    assert runtime.router.skills.last_reply == answer.said  # the visitor's replies are gone


def test_anything_but_yes_keeps_the_visit(tmp_path: Path) -> None:
    _visit(tmp_path)
    mic = _recording(tmp_path / "mic.wav", _question_then(3.0), "no")
    held = _held_at_step(10)
    runtime, _, reports, states = _run(tmp_path, mic, posts=lambda step, _: held.get(step, []))
    assert runtime.state is State.IDLE and State.CONFIRMING in states
    assert reports == []  # "no" is not a turn of its own: the device only says it kept things
    assert _left(tmp_path) == (3, 1, ["20261207-101500.jpg"])
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert VISITOR_RESET_KEPT == "OK, I kept everything."
    assert files[-1].endswith("-ok-i-kept-everything.wav"), files


def test_without_the_setting_the_button_has_no_reset_gesture(tmp_path: Path) -> None:
    """[buttons] reset_hold_seconds is 0 by default: gpiozero is never asked for a long hold."""
    from device.app.hardware import build_buttons
    from drivers.buttons import simulated_pin_factory

    assert CFG.buttons.reset_hold_seconds == 0
    with build_buttons(CFG, simulated_pin_factory()) as buttons:
        assert buttons.long_hold_seconds == 0


def test_a_reset_hold_that_would_clash_with_the_hold_is_refused_by_name() -> None:
    import pytest

    from device.app.hardware import build_buttons
    from device.config.sources import load_config
    from device.errors import ConfigError
    from drivers.buttons import simulated_pin_factory

    with pytest.raises(ConfigError) as short:
        load_config(paths=[], env={}, overrides=["buttons.reset_hold_seconds=1"])
    assert str(short.value) == (
        "flag --set buttons.reset_hold_seconds=1: [buttons] reset_hold_seconds: must be 0 (off) "
        "or 2..120, got 1"
    )
    cfg = load_config(
        paths=[], env={}, overrides=["buttons.hold_seconds=5", "buttons.reset_hold_seconds=4"]
    )
    with pytest.raises(ConfigError, match=r"reset_hold_seconds \(4\) must be longer than "):
        build_buttons(cfg, simulated_pin_factory())


def _pressed_for(seconds: float, reset_hold_seconds: float) -> list[Event]:
    """What the state machine is told of one press held ``seconds``, as the daemon wires the
    button (gpiozero's MockFactory pin, its real hold timing)."""
    import threading
    import time

    from device.config.sources import load_config
    from device.daemon import wire_buttons
    from drivers.buttons import Buttons, simulated_pin_factory

    cfg = load_config(
        paths=[], env={}, overrides=["buttons.hold_seconds=0.2",
                                     f"buttons.reset_hold_seconds={reset_hold_seconds}"],
    )  # fmt: skip
    factory = simulated_pin_factory()
    posted: list[Event] = []
    released = threading.Event()
    with Buttons(
        {"main": cfg.buttons.main_pin}, pin_factory=factory, hold_seconds=0.2,
        long_hold_seconds=cfg.buttons.reset_hold_seconds,
    ) as buttons:  # fmt: skip
        wire_buttons(buttons, posted.append, cfg)
        after_release = buttons.on_release
        buttons.on_release = lambda name: (after_release and after_release(name), released.set())
        factory.pin(cfg.buttons.main_pin).drive_low()
        time.sleep(seconds)
        factory.pin(cfg.buttons.main_pin).drive_high()
        assert released.wait(3)
    return posted


def test_with_the_reset_gesture_a_hold_is_a_look_only_once_let_go_before_it() -> None:
    # let go between the hold and the reset: a look, decided at the release
    assert _pressed_for(0.5, 2.0) == [ButtonPressed(), ButtonHeld()]
    # held on to the reset: never a look, so nothing said meanwhile can send a photo
    assert _pressed_for(2.3, 2.0) == [ButtonPressed(), ButtonHeldLong()]
    # a short press is a press
    assert _pressed_for(0.05, 2.0) == [ButtonPressed()]
    # without the gesture, the hold is a look at once, while the button is still down
    assert _pressed_for(0.5, 0) == [ButtonPressed(), ButtonHeld()]
