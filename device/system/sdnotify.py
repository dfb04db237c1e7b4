"""Tell systemd how the daemon is doing: ready, status, stopping, and watchdog pings.

The protocol is one datagram of ``KEY=value`` lines to the socket named in ``$NOTIFY_SOCKET``
(a leading ``@`` means Linux's abstract namespace), so no library is needed. Outside systemd the
variable is unset and every method does nothing, so the daemon calls them unconditionally.

Example::

    notifier = Notifier.from_env()
    load_models()  # may take a minute on a Zero 2 W; TimeoutStartSec covers it
    notifier.ready("listening")
    pinger = asyncio.create_task(keep_alive(notifier, mic_loop.progressed_since_last_check))
    ...
    notifier.stopping()
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping

__all__ = ["Notifier", "keep_alive"]

log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages to ``address``; a Notifier without an address does nothing.

    ``address`` is a file-system path or, with a leading ``@``, an abstract socket name.
    ``watchdog_usec`` and ``watchdog_pid`` are systemd's ``WATCHDOG_USEC`` and ``WATCHDOG_PID``.
    """

    def __init__(
        self,
        address: str | None,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
    ) -> None:
        self._address = _socket_address(address) if address else None
        self._watchdog_usec = watchdog_usec  # microseconds
        self._watchdog_pid = watchdog_pid
        self._warned = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        """The notifier systemd asked for, or a disabled one when not run by systemd."""
        address = environ.get("NOTIFY_SOCKET") or None
        if address is not None and not address.startswith(("/", "@")):
            # newer systemd also offers vsock addresses, which a Pi never gets
            log.warning("ignoring NOTIFY_SOCKET %r: not a path or an abstract socket", address)
            address = None
        return cls(
            address,
            watchdog_usec=_positive_int(environ, "WATCHDOG_USEC"),
            watchdog_pid=_positive_int(environ, "WATCHDOG_PID"),
        )

    @property
    def enabled(self) -> bool:
        """True when messages go somewhere."""
        return self._address is not None

    @property
    def watchdog_interval_seconds(self) -> float | None:
        """How often to ping: half of systemd's watchdog timeout, so one late ping is no restart.

        None when there is no watchdog, or it is meant for another process (``WATCHDOG_PID``).
        """
        if self._watchdog_usec is None:
            return None
        if self._watchdog_pid is not None and self._watchdog_pid != os.getpid():
            return None
        return self._watchdog_usec / 2 / 1_000_000

    def ready(self, status: str = "") -> None:
        """Startup finished: systemd starts the units ordered after us and the watchdog runs."""
        self._send("READY=1", status)

    def status(self, text: str) -> None:
        """A one-line status shown by ``systemctl status``."""
        self._send("", text)

    def stopping(self) -> None:
        """Shutdown began, so systemd does not mistake the quiet for a hang."""
        self._send("STOPPING=1", "")

    def ping(self) -> None:
        """Reset systemd's watchdog timer."""
        self._send("WATCHDOG=1", "")

    def _send(self, assignment: str, status: str) -> None:
        if self._address is None:
            return
        # a newline would end the STATUS= assignment and start a bogus one
        lines = [assignment] if assignment else []
        if status:
            lines.append("STATUS=" + " ".join(status.splitlines()))
        message = "\n".join(lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # Non-blocking: this runs on the event loop, and a full queue at systemd's end must
                # not freeze the daemon; a lost ping costs less than a stalled loop.
                sock.setblocking(False)
                sock.sendto(message, self._address)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning(
                    "cannot notify systemd at %s (%s); further failures are logged at DEBUG",
                    _printable(self._address),
                    exc,
                )
            else:
                log.debug("cannot notify systemd: %s", exc)


async def keep_alive(notifier: Notifier, is_alive: Callable[[], bool]) -> None:
    """Ping systemd's watchdog every interval while ``is_alive()`` says the daemon is working.

    ``is_alive`` should answer "did the work make progress since you last asked?". When it says
    no, the pings stop and systemd restarts the daemon after ``WatchdogSec``; a stalled event loop
    stops them too. Returns at once when there is no watchdog; runs until cancelled otherwise.
    An exception from ``is_alive`` ends the task, and with it the pings.
    """
    interval = notifier.watchdog_interval_seconds
    if interval is None:
        return
    stalled = False
    while True:
        await asyncio.sleep(interval)
        if is_alive():
            if stalled:
                log.info("watchdog: progress resumed; pinging systemd again")
            stalled = False
            notifier.ping()
        elif not stalled:
            # said once per stall, so the journal shows why systemd is about to restart us
            stalled = True
            log.warning(
                "watchdog: no progress in %.1f s; not pinging, systemd will restart us "
                "if this lasts",
                interval,
            )


def _socket_address(address: str) -> str | bytes:
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address


def _printable(address: str | bytes) -> str:
    if isinstance(address, bytes):
        return "@" + address[1:].decode(errors="replace")
    return address


def _positive_int(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        log.warning("ignoring %s=%r: not a positive integer", name, raw)
        return None
    return value
