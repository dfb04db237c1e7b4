"""Serving the companion page: on the socket systemd hands over, or on one of its own, until it
has been idle a while.

On the image, ``zeropin-web.socket`` listens on port 80 and starts ``zeropin-web.service`` at
the first connection, passing the listening socket as file descriptor 3 (``LISTEN_FDS``). So the
page costs no memory until someone opens it, binds port 80 without root, and when it has served
nobody for ``[web] idle_exit_minutes`` it exits; systemd listens again in its place. waitress is
the server: pure Python, threads rather than processes, and it serves on a socket it is given.

Example::

    serve(create_app(site), site, port=8080, idle_exit_seconds=600)
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import MutableMapping
from types import FrameType
from typing import Any

from device.web.app import MAX_REQUEST_BYTES, Site

log = logging.getLogger(__name__)

SD_LISTEN_FDS_START = 3  # sd_listen_fds(3): the first socket systemd passes
THREADS = 2  # a Zero 2 W has four slow cores; two requests at once is plenty for one owner
CONNECTIONS = 16  # open at once; more wait in the socket's queue
MAX_HEADER_BYTES = 16 * 1024
IDLE_CHECK_SECONDS = 1.0


def socket_from_systemd(environ: MutableMapping[str, str] | None = None) -> socket.socket | None:
    """The listening socket systemd passed to this process, if any (socket activation)."""
    env = os.environ if environ is None else environ
    if env.get("LISTEN_PID") != str(os.getpid()):
        return None  # meant for another process (or none at all)
    count = int(env.get("LISTEN_FDS", "0") or 0)
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        env.pop(name, None)  # not for the children this process might start
    if count < 1:
        return None
    if count > 1:
        log.warning("systemd passed %d sockets; serving on the first", count)
    return socket.socket(fileno=SD_LISTEN_FDS_START)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)  # waitress's loop ends its worker threads on SystemExit


def _exit_when_idle(site: Site, seconds: float) -> None:
    def watch() -> None:
        while True:
            time.sleep(min(IDLE_CHECK_SECONDS, seconds))
            if time.monotonic() - site.last_request >= seconds:
                log.info("no request for %.0f s: exiting to give the memory back", seconds)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="idle-exit", daemon=True).start()


def serve(
    app: Any,
    site: Site,
    *,
    sock: socket.socket | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    idle_exit_seconds: float = 0.0,
    ready: threading.Event | None = None,
) -> None:
    """Serve ``app`` until SIGTERM, SIGINT or ``idle_exit_seconds`` (0: never) without a request.

    ``ready`` is set once the server listens. Runs in the main thread (signals are handled there).
    """
    from waitress.server import create_server

    limits: dict[str, Any] = {
        "threads": THREADS,
        "connection_limit": CONNECTIONS,
        # refused before any of it is stored: waitress would spool it to a temporary file, and a
        # stranger on the LAN could fill the card before the page checks who is asking
        "max_request_body_size": MAX_REQUEST_BYTES,
        "max_request_header_size": MAX_HEADER_BYTES,
        "ident": "zeropin",
    }
    if sock is not None:
        server = create_server(app, sockets=[sock], **limits)
    else:
        server = create_server(app, host=host, port=port, **limits)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    site.last_request = time.monotonic()
    if idle_exit_seconds > 0:
        _exit_when_idle(site, idle_exit_seconds)
    if ready is not None:
        ready.set()
    server.run()  # returns once SIGTERM or SIGINT raised SystemExit in it
