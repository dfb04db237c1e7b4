"""The fault matrix: each way the cloud, the storage or the input fails, and what the wearer hears.

Three tables: the cloud (``ROWS``), the storage (``STORAGE_ROWS``) and the input (``INPUT_ROWS``).

The cloud: one row per fault. Each breaks the real loopback OpenAI server (or points the provider
at an address nothing answers), asks through the real path (CloudBrain, ProviderChain, ChatClient,
HTTP on 127.0.0.1) and takes what is spoken as the device takes it
(``device.speaking.answer.spoken_sentences``, which caps a runaway answer). ``hears`` is a piece of
what the wearer hears after the row's last question.

The providers keep the shipped retry count (one) with short limits, so the table runs quickly:
connect 2 s, first token 2 s, whole answer 5 s. A row with ``within`` asserts its last question
was answered in that many seconds: it proves a long Retry-After was not sat through.

The storage: the state folder on a real 1 MB tmpfs (filled, remounted read-only), a lock held by
another process, a file of random bytes. The device opens it as ``zeropin run`` does
(``open_state``); what it says at start is ``CANNOT_SAVE`` (``device.daemon``), then a dictated note
gets its answer; the notes saved before are intact afterwards, whatever happened.

The input: a broken recording given to ``zeropin run --sim --mic`` or a broken config file,
through the real command line; what the maker reads is one line naming the file and what to do,
never a traceback.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from conftest import TEST_KEY
from disks import fill, remount, small_disk
from gpiozero.pins.mock import MockFactory
from openapi_schema import request_errors
from PIL import Image

from device.app import build_chain, build_skills, build_stores
from device.cloud.brain import CUT_OFF, CloudBrain
from device.cloud.providers import Provider
from device.cloud.spoken import (
    KEY_REFUSED,
    MODEL_UNKNOWN,
    NO_VISION,
    NOT_FOUND,
    OFFLINE_FALLBACK,
    OUT_OF_CREDIT,
    SERVER_ERROR,
)
from device.cloud.tools import Toolbox
from device.config.schema import Secret
from device.config.sources import load_config
from device.daemon import CANNOT_SAVE
from device.egress import EgressGate, Ledger
from device.sim.loopback.server import LoopbackLLM
from device.skills.intents import Intent
from device.skills.local import NOTE_NOT_SAVED
from device.skills.timers import Timers
from device.speaking.answer import CUT_SHORT, spoken_sentences
from device.speaking.playback import Volume
from device.speaking.tts import speakable
from device.storage import database as database_module
from device.storage.database import Database, open_state
from device.storage.notes import NoteStore
from drivers.camera import FolderCamera
from drivers.leds import PrivacyLed

ANSWER = "Sunlight is made of every colour."  # how the loopback model's answer starts
SAW = "I see a picture 768 by 576 pixels, mostly blue."  # its answer about the photo
QUESTIONS = {"ask": ("why is the sky blue", False), "look": ("what am I looking at", True)}


@dataclass
class Servers:
    first: LoopbackLLM
    second: LoopbackLLM
    closed_port: int  # nothing listens there
    asked: list[str] = field(default_factory=list)  # "first" or "second", one per request


Arrange = Callable[[Servers], None]


def breaks(fault: str, *, times: int = 1, retry_after: float | None = None, on: str = "first"):
    """The server ``on`` answers its next ``times`` requests with ``fault``."""
    return lambda servers: getattr(servers, on).fail_next(
        fault, times=times, retry_after=retry_after
    )


def text_only(servers: Servers) -> None:
    servers.first.sees_images = False  # its model refuses every picture with a 400


@dataclass(frozen=True)
class Row:
    fault: str  # what goes wrong, as the reader would say it
    hears: str  # what the wearer hears (a piece of it) after the last question
    arrange: tuple[Arrange, ...] = ()
    chain: tuple[str, ...] = ("first",)  # the providers, in order
    first: Mapping[str, str] = field(default_factory=dict)  # overrides for the first provider
    asks: tuple[str, ...] = ("ask",)  # "ask": a question; "look": one about what the camera sees
    answered_by: str = ""  # the server whose answer was heard ("" when none answers)
    first_posts: int | None = None  # requests the first server had in all
    within: float | None = None  # seconds the last question may take at most


PAIR = ("first", "second")
BUSY_25 = "The cloud is busy. Try again in about 25 seconds."
BUSY_NOW = "The cloud is busy. Try again in a moment."
CLOSED = "http://127.0.0.1:{closed_port}/v1"
ROWS = [
    Row("nothing wrong", ANSWER, answered_by="first"),
    # -- busy: 429 and 503
    Row("429 once, no Retry-After", ANSWER, (breaks("status_429"),), answered_by="first"),
    Row("429, Retry-After 2 s, one provider", ANSWER, (breaks("status_429", retry_after=2),)),
    Row("429, Retry-After 25 s, one provider", BUSY_25,
                 (breaks("status_429", retry_after=25),), within=5),
    Row("429, Retry-After 25 s, a healthy second provider", ANSWER,
        (breaks("status_429", retry_after=25),), PAIR, answered_by="second", within=5),
    Row("the same, asked twice: the first stays paused", ANSWER,
        (breaks("status_429", retry_after=25),), PAIR, asks=("ask", "ask"),
        answered_by="second", first_posts=1, within=5),
    Row("503, Retry-After 25 s, a healthy second provider", ANSWER,
        (breaks("status_503", retry_after=25),), PAIR, answered_by="second", within=5),
    Row("503 twice, no Retry-After, one provider", BUSY_NOW,
                 (breaks("status_503", times=2),)),
    Row("429 insufficient_quota", OUT_OF_CREDIT, (breaks("status_429_quota"),)),
    Row("500 twice", SERVER_ERROR, (breaks("status_500", times=2),)),
    # -- the settings are wrong
    Row("401: the key is refused", KEY_REFUSED, (breaks("status_401"),)),
    Row("403: the key may not do this", KEY_REFUSED, (breaks("status_403"),)),
    Row("404: model not found", MODEL_UNKNOWN, (breaks("status_404"),)),
    Row("404: a typo in the base URL", NOT_FOUND,
        first={"base_url": "http://127.0.0.1:{port}/api/v9"}),
    Row("a photo, no provider has a vision model", NO_VISION, first={"vision_model": ""},
        asks=("look",), first_posts=0),
    Row("a photo to a text-only model", NO_VISION, (text_only,), asks=("look",)),
    Row("3 photos to a text-only model, then a text question", ANSWER, (text_only,),
        asks=("look", "look", "look", "ask"), answered_by="first", first_posts=2),
    Row("a photo to a text-only model, a vision model second", SAW, (text_only,), PAIR,
        asks=("look",), answered_by="second"),
    # -- several providers, several reasons: the most actionable is said
    Row("first refuses the key, second is busy 25 s", KEY_REFUSED,
                 (breaks("status_401"), breaks("status_429", retry_after=25, on="second")),
                 PAIR),
    Row("first unreachable, second busy 25 s", BUSY_25,
                 (breaks("status_429", retry_after=25, on="second"),), PAIR,
                 first={"base_url": CLOSED}),
    # -- the network
    Row("connection refused (a closed port)", OFFLINE_FALLBACK, first={"base_url": CLOSED}),
    # .invalid never resolves (RFC 6761); see no_dns_queries
    Row("DNS: a host under .invalid", OFFLINE_FALLBACK,
        first={"base_url": "http://zeropin-provider.invalid/v1"}),
    Row("TLS to a plain-HTTP server", OFFLINE_FALLBACK,
        first={"base_url": "https://127.0.0.1:{port}/v1"}),
    Row("a captive portal's page", OFFLINE_FALLBACK, (breaks("wrong_content_type"),)),
    Row("hang before the headers", OFFLINE_FALLBACK, (breaks("hang"),)),
    Row("slow first token (3 s; limit 2 s)", OFFLINE_FALLBACK, (breaks("slow_first_token"),)),
    # -- the answer breaks
    Row("reset mid-answer", CUT_OFF, (breaks("reset_mid_stream"),)),
    Row("hang mid-answer", CUT_OFF, (breaks("hang_mid_stream"),)),
    Row("slow drip: one event a second, past the 5 s limit", CUT_OFF, (breaks("slow_drip"),)),
    Row("a malformed event (skipped)", ANSWER, (breaks("malformed_event"),)),
    Row("chunks without choices", SERVER_ERROR, (breaks("empty_choices"),)),
    Row("a 4 MB answer", CUT_SHORT, (breaks("huge_answer"),)),
    Row("an endless answer", CUT_SHORT, (breaks("endless_answer"),)),
    # -- bad tool calls: the tool's error goes back to the model, which says it
    Row("tool call arguments not JSON", "not valid JSON", (breaks("bad_tool_json"),)),
    Row("a tool that does not exist", "no tool called launch_rocket", (breaks("unknown_tool"),)),
    Row('set_timer {"seconds": 1e400}', "bad arguments for set_timer",
        (breaks("tool_args_overflow"),)),
]  # fmt: skip


@pytest.fixture(autouse=True)
def no_dns_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thin stand-in for one part: names under .invalid fail here at once, as RFC 6761 asks of
    resolvers, because glibc would send the query to the machine's name server (no test touches
    the network). Every other name resolves for real."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def servers(llm_server: LoopbackLLM) -> Iterator[Servers]:
    llm_server.slow_seconds = 3.0
    llm_server.hang_seconds = 10.0  # each hang ends with the test at the latest: close() ends it
    with LoopbackLLM(api_key=TEST_KEY, validator=request_errors) as second:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        running = Servers(llm_server, second, closed_port)
        llm_server.on_request = lambda request: running.asked.append("first")
        second.on_request = lambda request: running.asked.append("second")
        yield running
        assert second.validation_errors == []


@pytest.fixture
def brain(tmp_path: Path) -> Iterator[Callable[[list[Provider]], CloudBrain]]:
    photos = tmp_path / "camera"
    photos.mkdir()
    Image.new("RGB", (1280, 960), (30, 60, 200)).save(photos / "shelf.jpg", quality=90)
    cfg = load_config(paths=[], env={})
    with Database(tmp_path / "zeropin.db") as database:

        def make(providers: list[Provider]) -> CloudBrain:
            gate = EgressGate(Ledger(database), PrivacyLed(16, pin_factory=MockFactory()))
            stores = build_stores(database)
            camera = FolderCamera(photos)
            skills = build_skills(cfg, stores, camera, tmp_path, Timers(lambda: 0.0), Volume())
            toolbox = Toolbox(skills, stores.memory)
            chain = build_chain(cfg, providers, gate)
            return CloudBrain(chain, toolbox, stores.memory, stores.conversation, camera=camera)

        yield make


def provider(name: str, servers: Servers, overrides: Mapping[str, str]) -> Provider:
    server: LoopbackLLM = getattr(servers, name)
    fields: dict[str, Any] = {
        "name": name,
        "base_url": server.base_url,
        "model": "loopback-chat",
        "vision_model": "loopback-vision",
        "api_key": Secret(TEST_KEY),
        "connect_timeout_seconds": 2.0,
        "first_token_timeout_seconds": 2.0,
        "deadline_seconds": 5.0,
        "max_retries": 1,
    } | dict(overrides)
    fields["base_url"] = fields["base_url"].format(
        port=server.port, closed_port=servers.closed_port
    )
    return Provider(**fields)


def heard(brain: CloudBrain, ask: str) -> str:
    """What the wearer hears: the brain's reply as the device speaks it, sentence by sentence."""
    question, look = QUESTIONS[ask]
    return " ".join(speakable(s) for s in spoken_sentences(brain.reply(question, look=look)))


@pytest.mark.parametrize(
    "row", [pytest.param(row, id=row.fault) if isinstance(row, Row) else row for row in ROWS]
)
def test_the_wearer_hears(row: Row, servers: Servers, brain) -> None:
    overrides = [row.first] + [{}] * (len(row.chain) - 1)
    device = brain([provider(n, servers, o) for n, o in zip(row.chain, overrides, strict=True)])
    for arrange in row.arrange:
        arrange(servers)
    for ask in row.asks:
        started = time.monotonic()
        said = heard(device, ask)
        seconds = time.monotonic() - started
    print(f"\n{row.fault}: {seconds:.2f} s: {said[:90]!r}")
    assert row.hears in said
    if row.answered_by:  # the answer heard is the last one asked for
        assert servers.asked[-1:] == [row.answered_by], servers.asked
    if row.first_posts is not None:
        assert servers.asked.count("first") == row.first_posts, servers.asked
    if row.within is not None:
        assert seconds < row.within, f"{seconds:.1f} s: a wait was sat through"


# -- the input: recordings and config files ---------------------------------------------------


def _wav(path: Path, *, width: int = 2, channels: int = 1, rate: int = 16000, frames: int = 8000):
    with wave.open(str(path), "wb") as out:
        out.setsampwidth(width), out.setnchannels(channels), out.setframerate(rate)
        out.writeframes(b"\x00" * width * channels * frames)


def _float_wav(path: Path) -> None:
    fmt = struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32)  # format 3: IEEE float
    body = b"WAVEfmt " + fmt + b"data" + struct.pack("<I", 8000) + bytes(8000)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def _cut_wav(path: Path) -> None:
    _wav(path)
    path.write_bytes(path.read_bytes()[:30])


@dataclass(frozen=True)
class InputRow:
    what: str
    make: Callable[[Path], None]  # writes the file at the path it is given
    name: str  # the file's name: its suffix says what it is
    reads: str  # a piece of what the command prints ("" when it runs)
    status: int  # the exit status


INPUT_ROWS = [
    # -- recordings (zeropin run --sim --mic FILE)
    InputRow("an empty file", lambda p: p.write_bytes(b""), "mic.wav",
             "not a PCM WAV file (it ends before its header does: empty or cut short)", 1),
    InputRow("text, not audio", lambda p: p.write_text("this is not audio at all"), "mic.wav",
             "not a PCM WAV file (file does not start with RIFF id)", 1),
    InputRow("a header cut short", _cut_wav, "mic.wav", "empty or cut short", 1),
    InputRow("floating-point samples", _float_wav, "mic.wav", "unknown format: 3", 1),
    InputRow("24-bit samples", lambda p: _wav(p, width=3), "mic.wav",
             "24-bit WAV is not supported (use 16-bit PCM)", 1),
    InputRow("a folder, not a file", lambda p: p.mkdir(), "mic.wav", "Is a directory", 1),
    InputRow("a broken FLAC", lambda p: p.write_bytes(b"fLaC" + bytes(40)), "mic.flac",
             "not a readable FLAC file", 1),
    InputRow("no samples at all", lambda p: _wav(p, frames=0), "mic.wav", "", 0),
    InputRow("8 kHz stereo 8-bit", lambda p: _wav(p, width=1, channels=2, rate=8000),
             "mic.wav", "", 0),  # resampled and mixed down
    # -- config files (zeropin --config FILE run ...)
    InputRow("not TOML", lambda p: p.write_text("[wake\nthreshold = 1\n"), "zeropin.toml",
             "line 1: Expected ']' at the end of a table declaration", 1),
    InputRow("not UTF-8", lambda p: p.write_bytes(b"\xff\xfe[wake]\n"), "zeropin.toml",
             "not UTF-8 text (bad byte at offset 0)", 1),
    InputRow("an unknown section", lambda p: p.write_text("[wak]\nphrase = 'x'\n"), "zeropin.toml",
             "[wak]: unknown section (known: device, audio", 1),
    InputRow("an unknown key", lambda p: p.write_text("[wake]\nfoo = 1\n"), "zeropin.toml",
             "[wake] foo: unknown key (known: engine, phrase", 1),
    InputRow("a wrong type", lambda p: p.write_text("[wake]\nthreshold = 'high'\n"),
             "zeropin.toml", '[wake] threshold: expected a number, got "high"', 1),
    InputRow("a timeout of 1e308 s", lambda p: p.write_text("[llm]\ndeadline_seconds = 1e308\n"),
             "zeropin.toml", "[llm] deadline_seconds: must be > 0 and <= 600, got 1e+308", 1),
    InputRow("a key inside a bad URL",
             lambda p: p.write_text("[providers.x]\nbase_url = 'htp://me:sk-SECRET@h'\n"),
             "zeropin.toml", 'base_url: must start with http:// or https://, got "htp://***@h"', 1),
]  # fmt: skip


@pytest.mark.parametrize("row", [pytest.param(row, id=row.what) for row in INPUT_ROWS])
def test_the_maker_reads(row: InputRow, tmp_path: Path) -> None:
    given = tmp_path / row.name
    row.make(given)
    mic, config = tmp_path / "silence.wav", tmp_path / "none.toml"
    _wav(mic)
    if given.suffix == ".toml":
        config = given
    else:
        mic = given
    out = tmp_path / "out"
    command = [sys.executable, "-m", "device.cli", "--config", str(config), "run", "--sim",
               "--mic", str(mic), "--speaker-file", str(out), "--lockstep"]  # fmt: skip
    result = subprocess.run(
        command,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(f"\n{row.what}: {result.stderr.strip().splitlines()[-1:]}")
    assert result.returncode == row.status, result.stderr
    assert "Traceback" not in result.stderr
    assert "sk-SECRET" not in result.stderr + result.stdout
    if row.reads:
        [line] = [line for line in result.stderr.splitlines() if line.startswith("zeropin: ")]
        assert row.reads in line
        assert str(given.name) in line  # names the file


# -- the storage ------------------------------------------------------------------------------

NOTES_KEPT = ["buy oat milk", "call the plumber", "the bike lock code is 1234"]
HOLD_A_WRITE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


def _fill(state: Path, stack: contextlib.ExitStack) -> None:
    stack.callback(fill(state.parent).unlink)


def _read_only(state: Path, stack: contextlib.ExitStack) -> None:
    remount(state.parent, "ro")
    stack.callback(remount, state.parent, "rw")


def _locked(state: Path, stack: contextlib.ExitStack) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_WRITE_LOCK, str(state / "zeropin.db")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    stack.callback(holder.communicate, timeout=30)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"


def _damaged(state: Path, stack: contextlib.ExitStack) -> None:
    (state / "zeropin.db").write_bytes(bytes(range(256)) * 64)
    for side in ("zeropin.db-wal", "zeropin.db-shm"):
        (state / side).unlink(missing_ok=True)


@dataclass(frozen=True)
class StorageRow:
    what: str
    breaks: Callable[[Path, contextlib.ExitStack], None]  # the state folder, undone on exit
    before_start: bool  # broken before the device starts, or while it runs
    at_start: str  # what the device says when it starts ("" when it starts as ever)
    saving: str  # what the wearer hears after "take a note buy milk"
    reading: str = ""  # after "read my notes", when the notes cannot be read ("": they are)


STORAGE_ROWS = [
    StorageRow("the card is full", _fill, True, CANNOT_SAVE["full"], NOTE_NOT_SAVED["full"]),
    StorageRow("the card fills up while it runs", _fill, False, "", NOTE_NOT_SAVED["full"]),
    StorageRow("the card is mounted read-only", _read_only, True, CANNOT_SAVE["read-only"],
               NOTE_NOT_SAVED["read-only"]),
    StorageRow("another program holds a write lock", _locked, True, "", NOTE_NOT_SAVED["locked"]),
    StorageRow("the database file is random bytes", _damaged, True, CANNOT_SAVE["damaged"],
               NOTE_NOT_SAVED["damaged"], "I can't read your notes right now. The log says why."),
]  # fmt: skip


@pytest.mark.parametrize("row", [pytest.param(row, id=row.what) for row in STORAGE_ROWS])
def test_the_wearer_hears_about_storage(
    row: StorageRow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_MS", 200)  # the lock row, quickly
    cfg = load_config(paths=[], env={})
    with small_disk(tmp_path / "disk", "1m") as disk:
        state = disk / "state"
        (state / "photos").mkdir(parents=True)
        with Database(state / "zeropin.db") as database:
            for text in NOTES_KEPT:
                NoteStore(database).add(text)
        with contextlib.ExitStack() as broken:
            if row.before_start:
                row.breaks(state, broken)
            database = broken.enter_context(open_state(state / "zeropin.db", state / "photos"))
            said = CANNOT_SAVE[database.unsaved.kind] if database.unsaved else ""
            if not row.before_start:
                row.breaks(state, broken)
            skills = build_skills(
                cfg, build_stores(database), None, state, Timers(lambda: 0.0), Volume()
            )
            reply = skills.handle(Intent("note_add", MappingProxyType({"text": "buy milk"}), ""))
            listing = skills.handle(Intent("notes_read", MappingProxyType({}), ""))
        print(f"\n{row.what}: at start {said!r}; a note: {reply!r}; reading: {listing!r}")
        assert (said, reply) == (row.at_start, row.saving)
        if row.reading:
            assert listing == row.reading
        else:  # the notes on the card are read out
            assert listing.startswith("You have 3 notes.") and NOTES_KEPT[-1] in listing
        if row.breaks is _damaged:  # left as it was found, for the owner to move aside
            assert (state / "zeropin.db").read_bytes() == bytes(range(256)) * 64
        else:
            with sqlite3.connect(state / "zeropin.db") as connection:
                assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                kept = [text for (text,) in connection.execute("SELECT text FROM notes")]
            assert kept == NOTES_KEPT
