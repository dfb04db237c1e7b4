"""sd_notify over real AF_UNIX datagram sockets, the way systemd listens for them."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.system.sdnotify import Notifier, keep_alive

RECV_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # AF_UNIX paths are limited to 107 bytes; pytest's tmp_path plus a long test name can exceed it
    path = Path(tempfile.mkdtemp(prefix="sdn-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def path_listener(short_dir: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket, as systemd's notify socket, and the NOTIFY_SOCKET naming it."""
    address = str(short_dir / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(RECV_TIMEOUT_SECONDS)
        yield sock, address


@pytest.fixture
def abstract_listener() -> Iterator[tuple[socket.socket, str]]:
    name = f"zeropin-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(RECV_TIMEOUT_SECONDS)
        yield sock, "@" + name


def _pending(sock: socket.socket) -> list[bytes]:
    """Every datagram already queued, without waiting for more."""
    received = []
    timeout = sock.gettimeout()
    sock.setblocking(False)  # a socket with a timeout would wait that long for each recv
    try:
        while True:
            received.append(sock.recv(4096))
    except BlockingIOError:
        return received
    finally:
        sock.settimeout(timeout)


@pytest.mark.parametrize("listener_fixture", ["path_listener", "abstract_listener"])
def test_messages_arrive_exactly(listener_fixture: str, request: pytest.FixtureRequest) -> None:
    sock, address = request.getfixturevalue(listener_fixture)
    notifier = Notifier.from_env({"NOTIFY_SOCKET": address})
    assert notifier.enabled

    notifier.ready()
    notifier.ready("models loaded")
    notifier.status("listening for hey zero")
    notifier.stopping()
    notifier.ping()

    assert [sock.recv(4096) for _ in range(5)] == [
        b"READY=1",
        b"READY=1\nSTATUS=models loaded",
        b"STATUS=listening for hey zero",
        b"STOPPING=1",
        b"WATCHDOG=1",
    ]
    assert _pending(sock) == []


def test_a_newline_cannot_smuggle_a_second_assignment(
    path_listener: tuple[socket.socket, str],
) -> None:
    sock, address = path_listener
    Notifier.from_env({"NOTIFY_SOCKET": address}).status("error\nREADY=1")
    assert sock.recv(4096) == b"STATUS=error READY=1"


@pytest.mark.parametrize("value", [None, ""])
def test_without_notify_socket_nothing_is_sent(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_sockets(*args: object, **kwargs: object) -> None:
        raise AssertionError("a disabled notifier opened a socket")

    monkeypatch.setattr(socket, "socket", no_sockets)
    environ = {"WATCHDOG_USEC": "30000000"}
    if value is not None:
        environ["NOTIFY_SOCKET"] = value
    notifier = Notifier.from_env(environ)

    assert not notifier.enabled
    notifier.ready("x")
    notifier.status("x")
    notifier.stopping()
    notifier.ping()


def test_an_unsupported_address_disables_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="device.system.sdnotify"):
        notifier = Notifier.from_env({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    assert "NOTIFY_SOCKET" in caplog.text


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "1000"}, 0.0005),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval_is_half_the_timeout_for_this_process(
    environ: dict[str, str], expected: float | None
) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": "/run/systemd/notify", **environ})
    assert notifier.watchdog_interval_seconds == expected


def test_a_vanished_socket_warns_once_and_never_raises(
    path_listener: tuple[socket.socket, str], caplog: pytest.LogCaptureFixture
) -> None:
    sock, address = path_listener
    notifier = Notifier.from_env({"NOTIFY_SOCKET": address})
    sock.close()
    os.unlink(address)

    with caplog.at_level(logging.DEBUG, logger="device.system.sdnotify"):
        notifier.ready()
        notifier.ping()
        notifier.ping()

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, caplog.text
    assert address in warnings[0].getMessage()


def test_keep_alive_returns_at_once_without_a_watchdog() -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": "/run/systemd/notify"})

    def never_asked() -> bool:
        raise AssertionError("is_alive asked although there is no watchdog")

    asyncio.run(asyncio.wait_for(keep_alive(notifier, never_asked), timeout=1.0))


def test_keep_alive_pings_only_while_the_daemon_makes_progress(
    path_listener: tuple[socket.socket, str], caplog: pytest.LogCaptureFixture
) -> None:
    sock, address = path_listener
    # 20 ms watchdog: a ping every 10 ms, so the whole test takes a fraction of a second
    notifier = Notifier.from_env({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "20000"})
    interval = notifier.watchdog_interval_seconds
    assert interval == 0.01
    sock.setblocking(False)
    alive = True
    asked = 0

    def is_alive() -> bool:
        nonlocal asked
        asked += 1
        return alive

    async def next_datagram() -> bytes:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.sock_recv(sock, 4096), RECV_TIMEOUT_SECONDS)

    async def scenario() -> None:
        nonlocal alive
        task = asyncio.create_task(keep_alive(notifier, is_alive))
        try:
            for _ in range(3):
                assert await next_datagram() == b"WATCHDOG=1"

            # is_alive runs on this loop, so no ping can be sent between the flip and the drain
            alive = False
            _pending(sock)
            asked_before = asked
            await asyncio.sleep(interval * 10)
            assert _pending(sock) == []
            assert asked > asked_before, "keep_alive stopped asking instead of withholding pings"

            alive = True
            assert await next_datagram() == b"WATCHDOG=1"
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=1.0)

    with caplog.at_level(logging.INFO, logger="device.system.sdnotify"):
        asyncio.run(scenario())

    stalls = [r for r in caplog.records if "no progress" in r.getMessage()]
    assert len(stalls) == 1, "a stall is logged once, however many pings it withholds"
    assert stalls[0].levelno == logging.WARNING
