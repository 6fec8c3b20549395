"""How many times each export file was downloaded in the last 24 hours, kept in SQLite.

The Directory lets one address download each export file 3 times in any 24 hours (a sliding
window, counted per file; the Directory's configuration and its documentation say so), and
answers 429 beyond that. peppolnet counts its own downloads so it never gets there: every
attempt is written down *before* the request is sent, in a small SQLite file next to the cache,
so the count survives restarts and holds across processes (``BEGIN IMMEDIATE``: two processes
cannot both take the last download). Times come from the injected clock's wall time, because the
count must mean the same after a restart.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from peppolnet.clock import Clock
from peppolnet.errors import ExportLimitReached, StoreError
from peppolnet.i18n import _

__all__ = ["WINDOW", "DownloadLog"]

#: The Directory's window: 3 downloads per file in any 24 hours.
WINDOW: Final = timedelta(hours=24)
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS downloads (source TEXT NOT NULL, kind TEXT NOT NULL, "
    "at REAL NOT NULL)"
)


class DownloadLog:
    """The downloads of each (Directory, file) pair, by time (see the module notes)."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            connection.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                _("cannot use the download log {path}: {exc}", path=self.path, exc=str(exc))
            ) from None
        return connection

    def times(self, source: str, kind: str) -> list[datetime]:
        """When the file was downloaded within the window, oldest first."""
        now = self.clock.now()
        since = (now - WINDOW).timestamp()
        connection = self._connect()
        try:
            rows = connection.execute(
                "SELECT at FROM downloads WHERE source = ? AND kind = ? AND at > ? ORDER BY at",
                (source, kind, since),
            ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(
                _("cannot read the download log {path}: {exc}", path=self.path, exc=str(exc))
            ) from None
        finally:
            connection.close()
        return [datetime.fromtimestamp(at, now.tzinfo) for (at,) in rows]

    def left(self, source: str, kind: str, limit: int) -> int:
        """Downloads still allowed now."""
        return max(0, limit - len(self.times(source, kind)))

    def take(self, source: str, kind: str, limit: int, what: str) -> None:
        """Count one download now, or raise :class:`ExportLimitReached` if ``limit`` downloads
        happened in the window (``what`` names the file in the sentence)."""
        now = self.clock.now()
        since = (now - WINDOW).timestamp()
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            rows = connection.execute(
                "SELECT at FROM downloads WHERE source = ? AND kind = ? AND at > ? ORDER BY at",
                (source, kind, since),
            ).fetchall()
            if len(rows) >= limit:
                connection.execute("ROLLBACK")
                oldest = datetime.fromtimestamp(rows[0][0], now.tzinfo)
                raise _refusal(what, limit, oldest + WINDOW, now)
            connection.execute(
                "INSERT INTO downloads (source, kind, at) VALUES (?, ?, ?)",
                (source, kind, now.timestamp()),
            )
            old = since - WINDOW.total_seconds()
            connection.execute("DELETE FROM downloads WHERE at < ?", (old,))
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(
                _("cannot write the download log {path}: {exc}", path=self.path, exc=str(exc)),
                retryable=True,
            ) from None
        finally:
            connection.close()


def _refusal(what: str, limit: int, allowed: datetime, now: datetime) -> ExportLimitReached:
    wait = max(0.0, (allowed - now).total_seconds())
    return ExportLimitReached(
        _(
            "{what} was downloaded {limit} times in the last 24 hours, which is what the "
            "Peppol Directory allows; the next download is possible at {when} UTC",
            what=what,
            limit=limit,
            when=allowed.strftime("%Y-%m-%d %H:%M"),
        ),
        retry_after=wait,
    )
