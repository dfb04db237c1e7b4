"""The checks behind ``zeropin doctor``: each measures one part and says what to do about it.

A check receives its collaborators (a way to open the microphone, the providers, the time, a
reading of free memory) and returns :class:`Finding` values; it never reads the configuration
nor picks a backend, so the same check runs on the Pi's parts, the simulator's stand-ins and the
tests' ones. ``device.doctor.run`` picks the parts and runs every check with a time limit.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
import requests

from device.cloud.providers import Provider
from device.doctor.findings import Finding, Level
from drivers.audio_format import BYTES_PER_SECOND, CLIPPED_SHARE, RATE, audio_level
from drivers.buttons import Buttons
from drivers.camera import Camera
from drivers.leds import LedPattern, PrivacyLed, StatusLight
from drivers.mic import Microphone
from drivers.speaker import Speaker

_T = TypeVar("_T")

SILENT_DBFS = -60.0  # RMS below this: nothing is reaching the microphone
MIN_MEMORY_MB = 50  # mebibytes of MemAvailable
MIN_DISK_MB = 200  # mebibytes free for the state directory
MIN_YEAR = 2024  # a clock before this has not been set since boot
TONE_HERTZ = 880.0
TONE_SECONDS = 0.3
TIMEDATECTL_SECONDS = 5.0


def bounded(work: Callable[[], _T], seconds: float) -> _T:
    """Run ``work`` on a daemon thread; TimeoutError if it has not returned within ``seconds``.

    A stuck call (a DNS lookup, a silent sound card) is left behind on its thread, which does not
    keep the process alive.
    """
    result: list[_T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    thread = threading.Thread(target=run, name="doctor-check", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if errors:
        raise errors[0]
    return result[0]


def part_name(part: object) -> str:
    """The device or file behind a driver, for the report."""
    name = next(
        (getattr(part, a) for a in ("device_name", "path", "folder") if hasattr(part, a)), ""
    )
    return repr(str(name)) if name else type(part).__name__


# -- audio -------------------------------------------------------------------------------------


def check_mic(open_mic: Callable[[], Microphone], seconds: float = 2.0) -> Finding:
    """Record ``seconds`` and judge the level: silent, clipping, or fine."""
    wanted = int(seconds * BYTES_PER_SECOND)
    pcm = bytearray()
    try:
        with open_mic() as mic:
            name = part_name(mic)
            while len(pcm) < wanted and (chunk := mic.read()):
                pcm += chunk
    except (OSError, ImportError) as exc:
        return Finding("mic", Level.FAIL, f"{exc}; set [audio] mic (see `arecord -l`)")
    if not pcm:
        return Finding("mic", Level.FAIL, f"{name} gave no audio at all")
    dbfs, clipped = audio_level(bytes(pcm[:wanted]))
    measured = (
        f"{name}: {dbfs:.1f} dBFS RMS, {100 * clipped:.2f}% of samples clipped "
        f"over {min(len(pcm), wanted) / BYTES_PER_SECOND:.1f} s"
    )
    if dbfs < SILENT_DBFS:
        hint = "is it muted or unplugged? raise the capture level in `alsamixer` (F4)"
        return Finding("mic", Level.WARN, f"{measured}: silent; {hint}")
    if clipped > CLIPPED_SHARE:
        hint = "lower the capture level in `alsamixer` (F4) or move the mic away"
        return Finding("mic", Level.WARN, f"{measured}: clipping; {hint}")
    return Finding("mic", Level.OK, measured)


def tone(hertz: float = TONE_HERTZ, seconds: float = TONE_SECONDS, dbfs: float = -12.0) -> bytes:
    """A sine tone as bus PCM, faded in and out over 10 ms so it does not click."""
    t = np.arange(int(seconds * RATE)) / RATE
    samples = 32767 * 10 ** (dbfs / 20) * np.sin(2 * np.pi * hertz * t)
    fade = min(len(t) // 2, RATE // 100)
    ramp = np.linspace(0.0, 1.0, fade)
    samples[:fade] *= ramp
    samples[len(t) - fade :] *= ramp[::-1]
    return samples.astype("<i2").tobytes()


def check_speaker(open_speaker: Callable[[], Speaker]) -> Finding:
    """Play a short tone; OK when the device took all of it."""
    try:
        with open_speaker() as speaker:
            speaker.begin("doctor tone")
            speaker.play(tone())
            speaker.end()
            name = part_name(speaker)
            files = getattr(speaker, "files", None)
    except (OSError, ImportError) as exc:
        return Finding("speaker", Level.FAIL, f"{exc}; set [audio] speaker (see `aplay -l`)")
    where = f"wrote {files[-1]}" if files else f"played on {name}"
    return Finding("speaker", Level.OK, f"{where}: {TONE_SECONDS:g} s tone at {TONE_HERTZ:g} Hz")


# -- camera, button, lights ----------------------------------------------------------------------


def check_camera(open_camera: Callable[[], Camera] | None, missing: str = "") -> Finding:
    """Capture one frame; ``open_camera`` None means there is none, and ``missing`` says why."""
    if open_camera is None:
        return Finding("camera", Level.WARN, missing or "no camera configured")
    try:
        with open_camera() as camera:
            photo = camera.capture()
    except (OSError, ImportError) as exc:
        return Finding("camera", Level.FAIL, str(exc))
    size = f"{photo.width}x{photo.height} {photo.mime}, {len(photo.data) / 1024:.0f} KiB"
    return Finding("camera", Level.OK, f"captured {size} from {part_name(camera)}")


def check_button(
    open_buttons: Callable[[], Buttons],
    pin: int,
    seconds: float,
    *,
    prompt: Callable[[str], None],
    press: Callable[[], None] | None = None,
    name: str = "main",
) -> Finding:
    """Wait up to ``seconds`` for a press of button ``name``; ``press`` (the simulator) does it."""
    if seconds <= 0:
        return Finding("button", Level.WARN, "skipped (--button-seconds 0)")
    pressed = threading.Event()
    try:
        with open_buttons() as buttons:
            if buttons.is_pressed(name):
                return Finding(
                    "button",
                    Level.FAIL,
                    f"GPIO {pin} reads pressed before anyone touched it: a button goes from the "
                    "pin to GND (not 3.3 V); check for a short",
                )
            buttons.on_press = lambda _name: pressed.set()
            prompt(f"press the {name} button (GPIO {pin}) within {seconds:g} s")
            started = time.monotonic()
            if press is not None:
                press()
            got = pressed.wait(seconds)
    except (OSError, ImportError) as exc:
        return Finding("button", Level.FAIL, str(exc))
    if not got:
        return Finding(
            "button",
            Level.FAIL,
            f"no press of the {name} button within {seconds:g} s: wire GPIO {pin} to one leg "
            "and GND to the other, or skip with --button-seconds 0",
        )
    elapsed = time.monotonic() - started
    return Finding("button", Level.OK, f"{name} (GPIO {pin}) pressed after {elapsed:.1f} s")


def check_led(
    open_light: Callable[[], StatusLight],
    open_privacy: Callable[[], PrivacyLed] | None,
    *,
    label: str,
    blink_seconds: float = 1.0,
    allow_without_indicator: bool = False,
) -> Finding:
    """Show a few patterns on the status light, then light what shows an upload: the privacy
    LED if there is one, else the status light's capture pattern."""
    shown: list[LedPattern] = []
    try:
        with open_light() as light:
            for pattern in (LedPattern.LISTENING, LedPattern.THINKING, LedPattern.OFF):
                light.show(pattern)
                shown.append(light.pattern)
                time.sleep(blink_seconds / 2)
            done = f"{label} showed {', '.join(shown)}"
            if open_privacy is None:
                return _capture_finding(light, done, blink_seconds, allow_without_indicator)
        with open_privacy() as privacy:
            privacy.on()
            lit = privacy.is_lit
            time.sleep(blink_seconds / 2)
            privacy.off()
    except (OSError, ImportError) as exc:
        return Finding("led", Level.FAIL, str(exc))
    if not lit:
        return Finding(
            "led", Level.FAIL, f"privacy LED on GPIO {privacy.pin} reads off after on(): no upload"
        )
    return Finding("led", Level.OK, f"{done}; privacy LED (GPIO {privacy.pin}) lit and went out")


def _capture_finding(light: StatusLight, done: str, seconds: float, allow: bool) -> Finding:
    """With no privacy LED: whether the status light shows uploads, or what happens to them."""
    if not light.can_show_capture:
        wire = "wire a privacy LED ([led] privacy_pin) or a status LED ([led] kind, pin)"
        if allow:
            why = "nothing shows a photo or recording leaving, and allow_uploads_without_indicator"
            return Finding("led", Level.FAIL, f"{why} sends them anyway: {wire}")
        return Finding(
            "led", Level.WARN, f"no light: photos and recordings will not be sent; {wire}"
        )
    light.capture(True)
    lit = light.capturing
    time.sleep(seconds / 2)
    light.capture(False)
    if not lit:
        return Finding("led", Level.FAIL, f"{done}; the capture pattern did not show: no upload")
    return Finding("led", Level.OK, f"{done}, and capture for uploads ([led] privacy_pin = 0)")


# -- models, memory, disk, clock -----------------------------------------------------------------


def check_memory(available_mb: int | None, minimum_mb: int = MIN_MEMORY_MB) -> Finding:
    """Judge MemAvailable (mebibytes; None when /proc/meminfo could not be read)."""
    if available_mb is None:
        return Finding("memory", Level.WARN, "cannot tell: no MemAvailable in /proc/meminfo")
    measured = f"{available_mb} MB available"
    if available_mb < minimum_mb:
        hint = "stop other programs (`top`), or enable swap"
        return Finding("memory", Level.WARN, f"{measured}, under {minimum_mb} MB: {hint}")
    return Finding("memory", Level.OK, measured)


def check_disk(path: Path, free_mb: int | None, minimum_mb: int = MIN_DISK_MB) -> Finding:
    """Judge the free space (mebibytes) on the file system holding the state directory."""
    if free_mb is None:
        return Finding("disk", Level.WARN, f"cannot measure free space for {path}")
    measured = f"{free_mb} MB free for {path}"
    if free_mb < minimum_mb:
        hint = f"delete old photos in {path / 'photos'} or other files; `du -sh {path}/*`"
        return Finding("disk", Level.WARN, f"{measured}, under {minimum_mb} MB: {hint}")
    return Finding("disk", Level.OK, measured)


def ntp_synchronized() -> bool | None:
    """What ``timedatectl`` says about NTP; None when it cannot tell (no systemd, no binary)."""
    binary = shutil.which("timedatectl")
    if binary is None:
        return None
    try:
        result = subprocess.run(
            [binary, "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=TIMEDATECTL_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = result.stdout.strip() if result.returncode == 0 else ""
    return {"yes": True, "no": False}.get(answer)


def check_clock(now: datetime, synchronized: bool | None) -> Finding:
    """Judge the clock: set at all (a Pi has no battery clock), and kept by NTP."""
    reads = f"reads {now:%Y-%m-%d %H:%M %Z}".rstrip()
    if now.year < MIN_YEAR:
        return Finding(
            "clock",
            Level.WARN,
            f"{reads}: not set yet (no battery clock; it waits for NTP over the network), so "
            "TLS to cloud providers fails; check Wi-Fi",
        )
    if synchronized is None:
        return Finding("clock", Level.WARN, f"{reads}; cannot tell whether NTP keeps it in sync")
    if not synchronized:
        hint = "check the network and `timedatectl timesync-status`"
        return Finding("clock", Level.WARN, f"{reads}; not synchronised by NTP: {hint}")
    return Finding("clock", Level.OK, f"{reads}, synchronised by NTP")


# -- network and cloud -------------------------------------------------------------------------

Resolver = Callable[[str, int], list[tuple[Any, ...]]]  # socket.getaddrinfo's shape


def _resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def check_network(
    providers: list[Provider], *, resolve: Resolver = _resolve, note: str = ""
) -> list[Finding]:
    """Resolve and TCP-connect to each provider's host, within its connect timeout."""
    if not providers:
        return [Finding("network", Level.OK, "offline: no cloud provider configured")]
    hosts: dict[tuple[str, int], list[Provider]] = {}
    for provider in providers:
        parts = urlsplit(provider.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        hosts.setdefault((parts.hostname or "", port), []).append(provider)
    findings = []
    for (host, port), users in hosts.items():
        seconds = min(p.connect_timeout_seconds for p in users)
        detail = _reach(host, port, seconds, resolve)
        level = Level.OK if detail.startswith("connected") else Level.FAIL
        subject = ", ".join(p.name for p in users)
        findings.append(Finding("network", level, detail + note, subject))
    return findings


def _reach(host: str, port: int, seconds: float, resolve: Resolver) -> str:
    """What happened: "connected to ..." or why not."""
    where = f"{host}:{port}"
    started = time.monotonic()
    try:
        addresses = bounded(lambda: resolve(host, port), seconds)
    except socket.gaierror as exc:
        return f"cannot resolve {host} ({exc.strerror}): check Wi-Fi and DNS (/etc/resolv.conf)"
    except (TimeoutError, OSError) as exc:
        return f"resolving {host} failed ({exc}): check Wi-Fi and DNS (/etc/resolv.conf)"
    errors = []
    for family, kind, proto, _name, address in addresses[:3]:
        left = seconds - (time.monotonic() - started)
        if left <= 0:
            break
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(left)
                sock.connect(address)
        except OSError as exc:
            errors.append(f"{address[0]}: {exc.strerror or exc}")
            continue
        elapsed = 1000 * (time.monotonic() - started)
        via = "" if address[0] == host else f" ({address[0]})"
        return f"connected to {where}{via} in {elapsed:.0f} ms"
    tried = "; ".join(errors) or f"timed out after {seconds:g} s"
    return f"cannot connect to {where} ({tried}): check the address, firewall and Wi-Fi"


def check_provider(provider: Provider) -> Finding:
    """GET {base_url}/models with the key: does the server accept it? The key is never shown."""
    key = provider.api_key.reveal()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    seconds = provider.connect_timeout_seconds + provider.first_token_timeout_seconds
    try:
        with requests.Session() as http:
            response = http.get(
                f"{provider.base_url}/models",
                headers=headers,
                timeout=(provider.connect_timeout_seconds, provider.first_token_timeout_seconds),
                allow_redirects=False,
            )
            level, detail = _judge_answer(response, bool(key))
    except requests.Timeout:
        level, detail = Level.FAIL, f"no answer from {provider.host} within {seconds:g} s"
    except requests.exceptions.SSLError as exc:
        level, detail = Level.FAIL, f"TLS failed ({_reason(exc)}); is the clock right?"
    except requests.RequestException as exc:
        level, detail = Level.FAIL, f"cannot reach {provider.host} ({_reason(exc)})"
    if key:  # no server message or exception text may carry the key into the report
        detail = detail.replace(key, "***")
    return Finding("cloud", level, detail, provider.name)


def _judge_answer(response: requests.Response, sent_key: bool) -> tuple[Level, str]:
    status = response.status_code
    if status == 200:
        try:
            models = len(response.json()["data"])
            count = f", {models} model{'' if models == 1 else 's'} listed"
        except (ValueError, KeyError, TypeError):
            count = ""
        return Level.OK, f"{'key accepted' if sent_key else 'no key needed'} (HTTP 200{count})"
    if status in (401, 403):
        fix = "check its api_key (in /etc/zeropin/secrets.toml) or the variable in api_key_env"
        what = "key refused" if sent_key else "the server wants a key"
        return Level.FAIL, f"{what} (HTTP {status}): {fix}"
    if status == 429:
        return Level.WARN, "rate limited (HTTP 429): the key is probably fine; try again later"
    if status >= 500:
        return Level.FAIL, f"server error (HTTP {status}): try again later"
    return Level.WARN, f"HTTP {status} to GET /models, key not checked: is base_url right?"


def _reason(exc: requests.RequestException) -> str:
    """The innermost cause, short: urllib3's messages repeat the URL and pool details."""
    cause: BaseException = exc
    while cause.__context__ is not None and len(str(cause)) > 120:
        cause = cause.__context__
    return " ".join(str(cause).split())[:200]
