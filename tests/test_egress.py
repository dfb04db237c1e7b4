"""The egress gate with the real PrivacyLed on gpiozero's MockFactory and a real SQLite ledger."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from gpiozero.exc import PinError
from gpiozero.pins.mock import MockFactory, MockPin

from device.egress import EgressGate, Ledger, LedgerRow, format_ledger, host_name
from device.errors import EgressRefused, StorageError
from device.storage.database import Database
from drivers.leds import PrivacyLed

PRIVACY_PIN = 16
WAIT_SECONDS = 5.0


class FlakyPin(MockPin):
    """A mock pin whose driver can be told to fail going high or low, or to ignore going high
    (a broken LED line that reads back as off)."""

    def __init__(self, factory: Any, info: Any) -> None:
        super().__init__(factory, info)
        self.refuse_high = False
        self.refuse_low = False
        self.ignore_high = False

    def _set_state(self, value: Any) -> None:
        if value and self.refuse_high:
            raise PinError(f"{self!r}: cannot drive high")
        if not value and self.refuse_low:
            raise PinError(f"{self!r}: cannot drive low")
        if value and self.ignore_high:
            return
        super()._set_state(value)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pin_factory = MockFactory(pin_class=FlakyPin)
    yield pin_factory
    pin_factory.reset()


@pytest.fixture
def pin(factory: MockFactory) -> FlakyPin:
    pin = factory.pin(PRIVACY_PIN)
    assert isinstance(pin, FlakyPin)
    return pin


@pytest.fixture
def changes() -> list[bool]:
    return []


@pytest.fixture
def led(factory: MockFactory, changes: list[bool]) -> Iterator[PrivacyLed]:
    with PrivacyLed(PRIVACY_PIN, pin_factory=factory, on_change=changes.append) as privacy:
        yield privacy


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with Database(tmp_path / "zeropin.db") as database:
        yield database


@pytest.fixture
def ledger(db: Database) -> Ledger:
    return Ledger(db, clock=lambda: 1_700_000_000.0)


@pytest.fixture
def gate(ledger: Ledger, led: PrivacyLed) -> EgressGate:
    return EgressGate(ledger, led)


def image(gate: EgressGate, **changes: Any) -> Any:
    arguments = {
        "host": "api.example.com",
        "kind": "image",
        "size_bytes": 1234,
        "purpose": "vision",
    }
    return gate.upload(**(arguments | changes))


def states(pin: FlakyPin) -> list[bool]:
    return [state.state for state in pin.states]


# --- the LED and the ledger, in order --------------------------------------------------------


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_led_is_lit_first_then_the_row_is_written_then_the_block_runs(
    ledger: Ledger, factory: MockFactory, pin: FlakyPin, kind: str
) -> None:
    rows_when_lit: list[int] = []
    with PrivacyLed(
        PRIVACY_PIN,
        pin_factory=factory,
        on_change=lambda lit: rows_when_lit.append(len(ledger.recent())) if lit else None,
    ) as led:
        gate = EgressGate(ledger, led)
        ran = False
        with image(gate, kind=kind, purpose="transcription"):
            ran = True
            assert pin.state  # lit while sending
            assert led.is_lit
            assert [(row.kind, row.size_bytes) for row in ledger.recent()] == [(kind, 1234)]
        assert ran
        assert not pin.state
    assert rows_when_lit == [0]  # lit before the ledger row existed
    assert states(pin) == [False, True, False]


def test_led_goes_out_when_the_block_raises(
    gate: EgressGate, ledger: Ledger, pin: FlakyPin
) -> None:
    with pytest.raises(ConnectionError, match="reset"), image(gate):
        assert pin.state
        raise ConnectionError("connection reset")
    assert not pin.state
    assert len(ledger.recent()) == 1  # sent (or tried to): it stays in the ledger


def test_text_does_not_need_the_led(gate: EgressGate, ledger: Ledger, changes: list[bool]) -> None:
    with gate.upload(host="api.example.com", kind="text", size_bytes=10, purpose="chat"):
        pass
    assert changes == []
    assert [row.kind for row in ledger.recent()] == ["text"]


def test_text_leaves_the_led_lit_by_an_image_upload(gate: EgressGate, pin: FlakyPin) -> None:
    with image(gate):
        with gate.upload(host="api.example.com", kind="text", size_bytes=10, purpose="chat"):
            assert pin.state
        assert pin.state
    assert not pin.state


def test_text_is_sent_even_when_the_led_is_broken(gate: EgressGate, pin: FlakyPin) -> None:
    pin.refuse_high = True
    with gate.upload(host="api.example.com", kind="text", size_bytes=10, purpose="chat"):
        pass


# --- refusals ----------------------------------------------------------------------------------


def test_refuses_when_the_led_cannot_be_driven(
    gate: EgressGate, ledger: Ledger, pin: FlakyPin
) -> None:
    pin.refuse_high = True
    ran = False
    with pytest.raises(EgressRefused) as refused, image(gate):
        ran = True
    message = str(refused.value)
    assert message.startswith(
        "not sending the image: the privacy LED on GPIO 16 could not be lit ("
    )
    assert refused.value.cause == "indicator"
    assert f"pin {PRIVACY_PIN}" in message
    assert not ran
    assert ledger.recent() == []
    assert isinstance(refused.value, PermissionError)
    pin.refuse_high = False  # mended: the refusal left no upload counted as in progress
    with image(gate):
        assert pin.state
    assert not pin.state


def test_refuses_when_the_led_reads_off_after_being_lit(
    gate: EgressGate, ledger: Ledger, pin: FlakyPin
) -> None:
    pin.ignore_high = True
    ran = False
    refused = pytest.raises(
        EgressRefused, match="audio: the privacy LED on GPIO 16 could not be lit .*off"
    )
    with refused, image(gate, kind="audio"):
        ran = True
    assert not ran
    assert ledger.recent() == []


def test_refuses_when_the_led_is_closed(gate: EgressGate, led: PrivacyLed) -> None:
    led.close()
    with pytest.raises(EgressRefused, match="closed"), image(gate):
        pytest.fail("the block ran")


def fill_the_disk(db: Database, ledger: Ledger, kind: str, size_bytes: int, purpose: str) -> None:
    """Cap the file at its current size (SQLite then fails with SQLITE_FULL, as on a full card)
    and fill the ledger with rows like the one the test will send until one more does not fit."""
    pages = db.connection.execute("PRAGMA page_count").fetchone()[0]
    db.connection.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StorageError, match="the disk is full"):
        for _ in range(10_000):
            ledger.append("api.example.com", kind, size_bytes, purpose)


def test_refuses_and_puts_the_led_out_when_the_disk_is_full(
    db: Database, ledger: Ledger, gate: EgressGate, pin: FlakyPin, changes: list[bool]
) -> None:
    fill_the_disk(db, ledger, "image", 1234, "vision")
    rows_before = len(ledger.recent(100_000))
    ran = False
    with pytest.raises(EgressRefused) as refused, image(gate):
        ran = True
    assert str(refused.value).startswith(
        "not sending the image: the egress ledger could not be written (the disk is full;"
    )
    assert isinstance(refused.value.__cause__, StorageError)
    assert isinstance(refused.value.__cause__.__cause__, sqlite3.OperationalError)
    assert not ran
    assert not pin.state
    assert changes == [True, False]  # lit first, then put back out
    assert len(ledger.recent(100_000)) == rows_before


def test_a_full_disk_refuses_text_too_and_leaves_the_led_alone(
    db: Database, ledger: Ledger, gate: EgressGate, changes: list[bool]
) -> None:
    fill_the_disk(db, ledger, "text", 10, "chat")
    refused = pytest.raises(EgressRefused, match="not sending the text: the egress ledger")
    with refused, gate.upload(host="api.example.com", kind="text", size_bytes=10, purpose="chat"):
        pytest.fail("the block ran")
    assert changes == []


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"kind": "video"}, "kind must be one of"),
        ({"size_bytes": -1}, "size_bytes must be 0 or more"),
        ({"purpose": "  "}, "needs a purpose"),
        ({"host": "https:///v1/chat"}, "needs the host name"),
    ],
)
def test_bad_arguments_light_nothing_and_record_nothing(
    gate: EgressGate, ledger: Ledger, changes: list[bool], change: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match), image(gate, **change):
        pytest.fail("the block ran")
    assert changes == []
    assert ledger.recent() == []


# --- leaving the block however it is left ------------------------------------------------------


def test_led_stays_lit_until_the_last_of_two_overlapping_uploads_ends(
    gate: EgressGate, pin: FlakyPin
) -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    lit_inside: dict[str, bool] = {}
    errors: list[BaseException] = []

    def upload(name: str, entered: threading.Event, wait_for: threading.Event) -> None:
        try:
            with image(gate, purpose=name):
                lit_inside[name] = pin.state
                entered.set()
                assert wait_for.wait(WAIT_SECONDS), f"{name}: timed out"
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    first = threading.Thread(target=upload, args=("first", first_in, second_in))
    first.start()
    assert first_in.wait(WAIT_SECONDS)
    second = threading.Thread(target=upload, args=("second", second_in, first_out))
    second.start()
    first.join(WAIT_SECONDS)
    assert not first.is_alive()
    assert pin.state  # the first upload is done, the second is still sending
    first_out.set()
    second.join(WAIT_SECONDS)
    assert not second.is_alive()
    assert errors == []
    assert lit_inside == {"first": True, "second": True}
    assert not pin.state
    assert states(pin) == [False, True, False]  # never blinked off between them


def test_many_threads_leave_the_led_out(gate: EgressGate, ledger: Ledger, pin: FlakyPin) -> None:
    start = threading.Barrier(8)

    def upload() -> None:
        start.wait(WAIT_SECONDS)
        for _ in range(20):
            with image(gate):
                assert pin.state

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS * 4)
        assert not thread.is_alive()
    assert not pin.state
    assert ledger.totals() == {"image": (160, 160 * 1234)}


def test_led_goes_out_when_a_streaming_generator_is_closed(gate: EgressGate, pin: FlakyPin) -> None:
    def stream() -> Iterator[str]:
        with image(gate):
            yield "first words"
            yield "never reached"

    answer = stream()
    assert next(answer) == "first words"
    assert pin.state
    answer.close()  # GeneratorExit inside the block
    assert not pin.state


def test_led_goes_out_when_the_task_is_cancelled(gate: EgressGate, pin: FlakyPin) -> None:
    async def scenario() -> None:
        entered = asyncio.Event()

        async def upload() -> None:
            with image(gate):
                entered.set()
                await asyncio.sleep(60)

        task = asyncio.create_task(upload())
        await asyncio.wait_for(entered.wait(), WAIT_SECONDS)
        assert pin.state
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, WAIT_SECONDS)

    asyncio.run(scenario())
    assert not pin.state


def test_an_led_that_cannot_be_put_out_is_a_warning_not_an_error(
    gate: EgressGate, pin: FlakyPin, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="device.egress"):
        with image(gate):
            pin.refuse_low = True
        with pytest.raises(TimeoutError, match="slow"), image(gate):
            raise TimeoutError("slow server")  # the upload's own error is what surfaces
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "could not be put out" in warnings[0].getMessage()
    pin.refuse_low = False
    with image(gate):  # the count is back to zero: the next upload works as ever
        pass
    assert not pin.state


# --- no LED, hosts, content, logging -----------------------------------------------------------


def test_only_the_host_name_of_a_url_is_recorded_or_logged(
    gate: EgressGate, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    url = "https://me:sk-secret@API.Example.com:8443/v1/chat/completions?key=sk-query-secret"
    with caplog.at_level(logging.DEBUG, logger="device.egress"), image(gate, host=url):
        pass
    stored = db.connection.execute("SELECT * FROM egress_ledger").fetchall()
    assert [row[2] for row in stored] == ["api.example.com"]
    assert "secret" not in repr(stored)
    assert "secret" not in caplog.text
    assert "api.example.com" in caplog.text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("api.example.com", "api.example.com"),
        ("192.168.1.20:11434", "192.168.1.20"),
        ("http://192.168.1.20:11434/v1", "192.168.1.20"),
        ("api.example.com/v1?key=abc", "api.example.com"),
        ("user:key@api.example.com", "api.example.com"),
        ("http://[::1]:8080/v1", "::1"),
    ],
)
def test_host_name(given: str, expected: str) -> None:
    assert host_name(given) == expected


@pytest.mark.parametrize("given", ["", "  ", "https://", "http://[::1/v1?key=sk-abc"])
def test_host_name_refuses_without_repeating_the_input(given: str) -> None:
    with pytest.raises(ValueError) as error:
        host_name(given)
    assert "sk-abc" not in str(error.value)


@pytest.mark.parametrize(
    ("log_content", "kind", "stored"),
    [
        (False, "text", ""),
        (True, "text", "what is the capital of Peru"),
        (True, "image", ""),
        (True, "audio", ""),
    ],
)
def test_content_is_kept_only_for_text_when_configured(
    ledger: Ledger,
    led: PrivacyLed,
    caplog: pytest.LogCaptureFixture,
    log_content: bool,
    kind: str,
    stored: str,
) -> None:
    gate = EgressGate(ledger, led, log_content=log_content)
    prompt = "what is the capital of Peru"
    with (
        caplog.at_level(logging.DEBUG, logger="device.egress"),
        image(gate, kind=kind, content=prompt),
    ):
        pass
    assert [row.content for row in ledger.recent()] == [stored]
    assert "Peru" not in caplog.text  # never in the log, whatever the ledger keeps
    assert f"{kind}, 1234 bytes to api.example.com for vision" in caplog.text


# --- the ledger itself -------------------------------------------------------------------------


def test_ledger_rows_newest_first_and_totals(db: Database) -> None:
    times = iter([100.0, 200.0, 300.0, 400.0])
    ledger = Ledger(db, clock=lambda: next(times))
    ledger.append("a.example", "text", 100, "chat", content="hello")
    ledger.append("b.example", "image", 50_000, "vision")
    ledger.append("a.example", "text", 200, "chat")
    row = ledger.append("c.example", "audio", 32_000, "transcription")
    assert row == LedgerRow(400.0, "c.example", "audio", 32_000, "transcription", "")
    assert [r.at for r in ledger.recent()] == [400.0, 300.0, 200.0, 100.0]
    assert [r.host for r in ledger.recent(2)] == ["c.example", "a.example"]
    assert ledger.recent(0) == []
    assert ledger.totals() == {"text": (2, 300), "image": (1, 50_000), "audio": (1, 32_000)}
    with pytest.raises(ValueError):
        ledger.recent(-1)


def test_ledger_never_keeps_image_or_audio_content(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="never keeps the content"):
        ledger.append("a.example", "image", 1, "vision", content="pixels")
    assert ledger.recent() == []


def test_ledger_survives_reopening(tmp_path: Path) -> None:
    with Database(tmp_path / "z.db") as db:
        Ledger(db).append("https://a.example/v1", "text", 5, "chat")
    with Database(tmp_path / "z.db") as db:
        assert [(r.host, r.size_bytes) for r in Ledger(db).recent()] == [("a.example", 5)]


def test_format_an_empty_ledger() -> None:
    assert format_ledger([], {}) == "Nothing has left this device."


def test_format_ledger_lists_rows_in_local_time_and_totals() -> None:
    rows = [
        LedgerRow(1_700_000_300.0, "b.example", "image", 84_213, "vision"),
        LedgerRow(1_700_000_000.0, "a.example", "text", 412, "chat", "what is\nthis"),
    ]
    totals = {"text": (1, 412), "image": (1, 84_213)}
    local = [datetime.fromtimestamp(row.at).isoformat(timespec="seconds") for row in rows]
    assert format_ledger(rows, totals).splitlines() == [
        "What has left this device (newest first):",
        f"{local[0]}  image       84,213 bytes  b.example  vision",
        f'{local[1]}  text           412 bytes  a.example  chat  "what is this"',
        "Totals:",
        "  text        1 upload             412 bytes",
        "  image       1 upload          84,213 bytes",
    ]


def test_format_ledger_says_when_it_shows_only_the_newest() -> None:
    rows = [LedgerRow(1_700_000_000.0, "a.example", "audio", 1, "speech")]
    text = format_ledger(rows, {"audio": (3, 3)})
    assert text.splitlines()[0] == "What has left this device (the 1 newest of 3):"
    assert "  audio       3 uploads              3 bytes" in text.splitlines()
