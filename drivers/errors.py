"""The exception root shared by the whole project, and the driver leaf.

``ZeroPinError`` lives here rather than in ``device`` because ``drivers`` may not import ``device``;
``device.errors`` re-exports it.
"""


class ZeroPinError(Exception):
    """Root of every error ZeroPin raises on purpose."""


class DriverError(ZeroPinError, OSError):
    """A device is missing, busy or failed: the message says which and what to try."""
