"""The cloud part of ``zeropin demo``: the same voice loop, answered through the provider chain.

It starts its own OpenAI-compatible server on loopback (``device.sim.loopback``: real HTTP and
streaming, a scripted model behind it), so the demo needs no key and no network. The camera is a
folder holding one picture made here. As with the shipped settings there is no privacy LED: the
status LED (a real gpiozero PWM LED on a mock pin) shows each upload with its capture pattern,
so the egress ledger and the light behave as on the device.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from device.cloud.providers import Provider
from device.config.schema import Config
from device.egress import Ledger, LedgerRow
from device.loop.runtime import TurnReport
from device.sim.demo import Step, run_demo
from device.sim.loopback.server import LoopbackLLM
from device.storage.database import Database
from device.system.paths import database_path
from drivers.buttons import simulated_pin_factory
from drivers.camera import FolderCamera
from drivers.leds import LedPattern, SingleLed

CLOUD_SCENARIO: tuple[Step, ...] = (
    Step("testing the microphone, one, two, three, four, five"),
    Step("hey zero, why is the sky blue"),  # a streamed five-sentence answer
    Step("hey zero, what am I looking at"),  # the camera's view to the vision model
    Step("hey zero, remember that the front door key is under the mat"),  # the model calls a tool
    # memory put into the prompt. Words pocketsphinx hears in this voice: "my locker is forty
    # two" kept "locker" in 6 of 10 stream alignments; these two kept "key" in 30 of 30.
    Step("hey zero, where is the front door key"),
)
# Pacing of the scripted model: first words after 0.4 s, then two words every 50 ms (about
# 50 tokens a second, a mid-range hosted model).
FIRST_TOKEN_SECONDS = 0.4
TOKEN_INTERVAL_SECONDS = 0.05


@dataclass
class CloudDemo:
    reports: list[TurnReport]
    ledger: list[LedgerRow]
    totals: dict[str, tuple[int, int]]  # kind -> (uploads, bytes)
    server_url: str
    led_changes: list[bool]  # the upload light: True when it began to show, False when it ended


@contextmanager
def loopback_provider(
    first_token_seconds: float = FIRST_TOKEN_SECONDS,
    token_interval_seconds: float = TOKEN_INTERVAL_SECONDS,
) -> Iterator[tuple[LoopbackLLM, Provider]]:
    """A started loopback server and a provider pointing at it (no key needed)."""
    with LoopbackLLM(
        first_token_seconds=first_token_seconds, token_interval_seconds=token_interval_seconds
    ) as server:
        yield (
            server,
            Provider(
                name="loopback",
                base_url=server.base_url,
                model="loopback-chat",
                vision_model="loopback-vision",
            ),
        )


def demo_picture(folder: Path) -> Path:
    """A stand-in camera frame: sky over a field, camera-sized."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (1280, 960), (40, 90, 230))
    ImageDraw.Draw(picture).rectangle((0, 800, 1280, 960), fill=(60, 150, 60))
    path = folder / "view.jpg"
    picture.save(path, quality=90)
    return path


def run_cloud_demo(
    cfg: Config, out_dir: Path, *, steps: tuple[Step, ...] = CLOUD_SCENARIO, stream: bool = True
) -> CloudDemo:
    """Run ``steps`` against a loopback model; the reports, the ledger and the LED history."""
    shown: list[LedPattern] = []
    with (
        tempfile.TemporaryDirectory(prefix="zeropin-cloud-demo-") as temporary,
        loopback_provider() as (server, provider),
        SingleLed(
            cfg.led.pin, pin_factory=simulated_pin_factory(), on_change=shown.append
        ) as light,
    ):
        state_dir = Path(temporary)
        (state_dir / "camera").mkdir()
        demo_picture(state_dir / "camera")
        cfg = _with_stream(cfg, stream)
        with FolderCamera(state_dir / "camera") as camera:
            reports = run_demo(
                cfg,
                out_dir,
                steps=steps,
                providers=[provider],
                camera=camera,
                light=light,
                state_dir=state_dir,
            )
        with Database(database_path(state_dir)) as database:
            ledger = Ledger(database)
            rows, totals = ledger.recent(100), ledger.totals()
        return CloudDemo(reports, rows, totals, server.base_url, _capture_changes(shown))


def _capture_changes(shown: list[LedPattern]) -> list[bool]:
    """When the status light's capture pattern began (True) and ended (False), in order."""
    changes: list[bool] = []
    for pattern in shown:
        if (pattern is LedPattern.CAPTURE) != bool(changes and changes[-1]):
            changes.append(pattern is LedPattern.CAPTURE)
    return changes


def _with_stream(cfg: Config, stream: bool) -> Config:
    import dataclasses

    return dataclasses.replace(cfg, llm=dataclasses.replace(cfg.llm, stream=stream))
