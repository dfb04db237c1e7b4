"""Who may open the companion page: the owner's secret token, from the LAN only, with a brake on
guessing.

There is no default password. The token is ``[web] token`` when the owner set one (in a secrets
file, or on the boot partition, which ``zeropin firstboot`` empties), otherwise a random one that
``zeropin web token`` prints and keeps in the state directory (mode 0600). A browser trades it
once for a session cookie that is an HMAC of the token, so nothing is kept on the server between
visits (the page's process exits when idle) and a new token logs every browser out.

Example::

    token = page_token(cfg, state_dir)
    cookie = session_cookie(token)
    assert is_session(cookie, token) and on_lan("192.168.1.20")
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from device.config.schema import Config
from device.errors import StorageError
from device.storage.files import write_atomically

__all__ = [
    "Brake",
    "form_key",
    "is_session",
    "on_lan",
    "page_token",
    "read_or_make_token",
    "same_secret",
    "session_cookie",
    "TokenFile",
    "token_path",
]

_TEREDO = ipaddress.ip_network("2001::/32")
TOKEN_BYTES = 24  # 32 characters of URL-safe base64: 192 bits, never guessed at a few per minute


def token_path(state_dir: Path) -> Path:
    return state_dir / "web-token"


def read_or_make_token(path: Path, *, new: bool = False) -> str:
    """The token kept in ``path``; a new random one is written first if there is none (or
    ``new``). StorageError names the file when it cannot be read or written."""
    if not new:
        try:
            token = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            token = ""
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"could not read the page's token in {path}: {exc}") from exc
        if token:
            return token
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        write_atomically(path, (token + "\n").encode("ascii"), mode=0o600)
    except OSError as exc:
        raise StorageError(
            f"could not keep the page's token in {path} ({exc.strerror or exc}); run it as the "
            "daemon's user (sudo -u zeropin), or set [web] token in a secrets file"
        ) from exc
    return token


def page_token(cfg: Config, state_dir: Path) -> str | TokenFile:
    """The token that opens the page: ``[web] token`` if set, else the state directory's file,
    read again whenever it changes."""
    return cfg.web.token.reveal() or TokenFile(token_path(state_dir))


class TokenFile:
    """The token kept in a file, read again when the file changes: ``zeropin web token --new``
    takes effect at the next request, and the browsers holding the old one are logged out."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._token = read_or_make_token(path)
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            status = self.path.stat()
        except OSError:
            return None
        return status.st_mtime_ns, status.st_ino

    def __call__(self) -> str:
        stamp = self._stamp()
        if stamp is not None and stamp != self._seen:
            self._token, self._seen = read_or_make_token(self.path), stamp
        return self._token


def _mac(token: str, purpose: bytes) -> str:
    return hmac.new(token.encode("utf-8"), purpose, hashlib.sha256).hexdigest()


def session_cookie(token: str) -> str:
    """The cookie a browser holds after logging in: proves the token without being it."""
    return _mac(token, b"zeropin companion page session")


def form_key(token: str) -> str:
    """A hidden field every form sends back, so another site cannot post a change."""
    return _mac(token, b"zeropin companion page form")


def same_secret(given: str, expected: str) -> bool:
    """Compare in constant time, so the time taken says nothing about how much was right."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def is_session(cookie: str, token: str) -> bool:
    return bool(cookie) and same_secret(cookie, session_cookie(token))


def on_lan(address: str) -> bool:
    """Whether a client address is this machine, the local network or a link-local one.

    A port forward or a public address reaching the device is refused: the page is for the
    owner's own network. (The image's socket unit also refuses them, with IPAddressAllow=.)
    """
    try:
        ip = ipaddress.ip_address(address.split("%")[0])  # fe80::1%wlan0
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _TEREDO:  # "private" to Python 3.11, but reached from the internet
            return False
    return ip.is_loopback or ip.is_link_local or ip.is_private


class Brake:
    """At most ``limit`` events per client in any ``window_seconds``; the ``clients`` seen most
    recently are remembered, so a flood of addresses cannot fill the memory."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        clients: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clients = clients
        self._clock = clock
        self._events: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def _recent(self, client: str) -> collections.deque[float]:
        events = self._events.setdefault(client, collections.deque())
        self._events.move_to_end(client)
        while len(self._events) > self._clients:
            self._events.popitem(last=False)
        now = self._clock()
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def count(self, client: str) -> None:
        self._recent(client).append(self._clock())

    def blocked_for(self, client: str) -> float:
        """Seconds until ``client`` may again; 0 when it may now."""
        events = self._recent(client)
        if len(events) < self.limit:
            return 0.0
        return max(0.0, events[0] + self.window - self._clock())
