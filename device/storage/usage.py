"""The cloud requests the device sent lately, for its usage budget: one row per request.

A row holds when a chat request was sent and how many tokens the server said it used (0 until
the answer ends, or when the server never says). The budget (``device.cloud.budget``) reads the
last hour and today from here, so a restart does not reset it: on a workshop table a kit that
is switched off and on again must not get a fresh day's budget.

Only the last two days are kept (``KEEP_SECONDS``): the budget looks back one calendar day at
most, and a day with a clock change or a long evening is still inside two. Older rows are
deleted in the transaction that adds a new one. No words are kept, only times and counts.

Example::

    with Database(Path("zeropin.db")) as db:
        usage = CloudUsage(db)
        row = usage.sent(time.time())
        usage.used_tokens(row, 412)
        print(usage.totals(since_hour=time.time() - 3600, since_day=start_of_today))
"""

from __future__ import annotations

from dataclasses import dataclass

from device.storage.database import Database

__all__ = ["KEEP_SECONDS", "CloudUsage", "UsageTotals"]

KEEP_SECONDS = 2 * 86400
WRITE = "count the cloud request"  # completes StorageError's "could not ..."


@dataclass(frozen=True)
class UsageTotals:
    requests_hour: int  # requests sent since ``since_hour``
    requests_day: int  # requests sent since ``since_day``
    tokens_day: int  # tokens those requests used, as their servers counted them


class CloudUsage:
    """The ``cloud_usage`` table: count a request, add its tokens, sum a period."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def sent(self, at: float) -> int:
        """Count one request sent at ``at`` (unix seconds); its row id, for ``used_tokens``.

        Not ``durable``: on a stand-in database (a full card) the count is kept in memory, so
        the budget still holds until the daemon restarts."""
        with self._db.transaction(WRITE) as connection:
            cursor = connection.execute("INSERT INTO cloud_usage (at) VALUES (?)", (at,))
            connection.execute("DELETE FROM cloud_usage WHERE at < ?", (at - KEEP_SECONDS,))
        assert cursor.lastrowid is not None  # set by every successful INSERT
        return cursor.lastrowid

    def used_tokens(self, row: int, tokens: int) -> None:
        """Add ``tokens`` to the request counted as ``row`` (a tool round adds to its own)."""
        if tokens < 0:
            raise ValueError(f"tokens must be 0 or more, not {tokens}")
        with self._db.transaction("count the cloud tokens") as connection:
            connection.execute(
                "UPDATE cloud_usage SET tokens = tokens + ? WHERE id = ?", (tokens, row)
            )

    def totals(self, *, since_hour: float, since_day: float) -> UsageTotals:
        rows = self._db.query(
            "read the cloud usage",
            "SELECT coalesce(sum(at >= ?), 0), coalesce(sum(at >= ?), 0), "
            "coalesce(sum(CASE WHEN at >= ? THEN tokens ELSE 0 END), 0) FROM cloud_usage",
            (since_hour, since_day, since_day),
        )
        hour, day, tokens = rows[0]
        return UsageTotals(int(hour), int(day), int(tokens))

    def oldest_since(self, since: float) -> float | None:
        """When the oldest request at or after ``since`` was sent (None: there is none)."""
        rows = self._db.query(
            "read the cloud usage", "SELECT min(at) FROM cloud_usage WHERE at >= ?", (since,)
        )
        return None if rows[0][0] is None else float(rows[0][0])
