"""What every driver shares: ``close()``, safe to call twice, and use in a ``with`` block.

``Closable`` is the part of every driver interface (``Microphone``, ``Speaker``, ``Camera``,
``StatusLight``) that says so; ``Driver`` is the base class the backends inherit it from, so the
logic is written once. A backend puts its clean-up in ``_release()``; the first ``close()`` runs
it, later ones do nothing, as gpiozero's devices do. Example::

    from drivers.base import Driver

    class Lamp(Driver):
        def _release(self) -> None:
            print("lamp off")

    with Lamp() as lamp:
        ...                     # "lamp off" once, here
    lamp.close()                # nothing: already closed
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import ClassVar, Protocol, Self


class Closable(Protocol):
    """A driver that holds something until it is closed, and closes at the end of ``with``."""

    def close(self) -> None:
        """Release what the driver holds; safe to call twice."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Driver(Closable):
    """Base of the backends: ``close()`` runs ``_release()`` once; ``with`` closes at the end."""

    # Held only to flip a driver's closed flag, never while releasing, so one lock serves all:
    # two threads closing one driver at once must not both release it.
    _flag_lock: ClassVar[threading.Lock] = threading.Lock()
    _closed = False

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called."""
        return self._closed

    def close(self) -> None:
        """Release what the driver holds; safe to call twice."""
        with self._flag_lock:
            already, self._closed = self._closed, True
        if not already:
            self._release()

    def _release(self) -> None:
        """Free the hardware or files; called once, by the first ``close()``."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
