"""Cancelling work that blocks in another thread, such as an HTTP stream being read.

A reply is produced in a worker thread that may be blocked reading a socket. Setting a flag is
not enough to stop it; :class:`Cancellation` also runs callbacks, so the code holding the socket
registers "close the response" and the blocked read ends at once::

    cancel = Cancellation()
    remove = cancel.on_cancel(response.close)
    ...                     # another thread: cancel.cancel() closes the response now
    remove()                # done normally: forget the callback
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The work was cancelled on purpose (the user interrupted); not a failure."""


class Cancellation:
    """A one-way switch: once cancelled, stays cancelled; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callable[[], object]] = {}
        self._next = 0
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Cancel, running every registered callback once (their errors are logged, not raised)."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            try:
                callback()
            except Exception:  # closing a half-dead socket may fail; the work stops either way
                log.debug("cancel callback failed", exc_info=True)

    def on_cancel(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Run ``callback`` on cancel (at once if already cancelled); return a remover."""
        with self._lock:
            if not self._cancelled:
                key = self._next
                self._next += 1
                self._callbacks[key] = callback
                return lambda: self._remove(key)
        callback()
        return lambda: None

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancelled."""
        if self._cancelled:
            raise Cancelled()

    def _remove(self, key: int) -> None:
        with self._lock:
            self._callbacks.pop(key, None)
