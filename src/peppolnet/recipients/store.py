"""The recipient database: one SQLite file, created and migrated by the library.

Why SQLite: one file the user can copy, no server, and real transactions. WAL journaling lets many
readers work while one writer commits, and an interrupted run (Ctrl-C, a crash, a power cut) rolls
back to the last commit instead of leaving half a register behind. Each thread gets its own
connection (sqlite3 connections must not be shared across threads), and ``busy_timeout`` makes a
second writer wait for the lock instead of failing at once.

The schema is versioned with ``PRAGMA user_version``. :data:`MIGRATIONS` is the ordered list of
``(version, sql)`` steps: every step of the library's own schema
(:mod:`peppolnet.recipients.schema`: customers, their check history and the requests made for
them, in one file), plus any an application adds with :func:`register_migration`. Each step runs
in its own transaction together with the ``user_version`` bump, so a migration is applied fully
or not at all.

Every failure of the file is a :class:`~peppolnet.errors.StoreError`, wherever it surfaces: the
connections this module opens hand out cursors that translate sqlite3's errors when a statement
runs *and* when its rows are read, so a caller reading rows lazily gets the same sentence as one
in a transaction. A file whose content cannot be read back - a value that is not UTF-8 any more,
a page SQLite finds malformed: a disk fault, a bit flip, a half-copied file - is a
:class:`~peppolnet.errors.DamagedDatabase`, never a traceback or an empty answer.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final, Self

from peppolnet.errors import DamagedDatabase, InvalidInput, StoreError
from peppolnet.i18n import _
from peppolnet.recipients.schema import STEPS

__all__ = [
    "BUSY_TIMEOUT_MS",
    "MIGRATIONS",
    "Store",
    "default_db_path",
    "register_migration",
]

BUSY_TIMEOUT_MS: Final = 10_000
"""How long a writer waits for another writer's lock before :class:`StoreError` (retryable)."""


MIGRATIONS: list[tuple[int, str]] = list(STEPS)
"""Ordered schema steps ``(user_version after the step, SQL script)``: the library's own, then
any registered by an application. Append, never edit."""


def register_migration(version: int, sql: str) -> None:
    """Add a schema step (e.g. a ``requests`` table) that brings the file to ``version``.

    For an application's own tables in the same file: versions must be unique (the library's own
    steps are :data:`peppolnet.recipients.schema.STEPS`; use numbers well above them, e.g. 1000+);
    they are applied in ascending order the next time a :class:`Store` opens the file.
    Registering the same ``(version, sql)`` twice is a no-op.
    """
    for known, script in MIGRATIONS:
        if known == version:
            if script == sql:
                return
            raise InvalidInput(
                _("schema migration {version} is already registered", version=version)
            )
    MIGRATIONS.append((version, sql))
    MIGRATIONS.sort(key=lambda step: step[0])


def default_db_path() -> Path:
    """``$PEPPOLNET_DB``, else ``$XDG_DATA_HOME/peppolnet/recipients.sqlite`` (~/.local/share)."""
    explicit = os.environ.get("PEPPOLNET_DB")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "peppolnet" / "recipients.sqlite"


def _store_error(exc: sqlite3.Error | UnicodeDecodeError, path: Path) -> StoreError:
    text = str(exc)
    damage = _damage(exc)
    if damage is not None:
        return DamagedDatabase(
            _(
                "the recipient database {path} is damaged: {damage}; restore the file "
                "from a backup",
                path=repr(str(path)),
                damage=damage,
            )
        )
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return StoreError(
            _(
                "the recipient database {path} is locked by another writer; try again",
                path=repr(str(path)),
            ),
            retryable=True,
        )
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        return StoreError(_("{path} is not a SQLite database", path=repr(str(path))))
    return StoreError(
        _("the recipient database {path} cannot be used: {text}", path=repr(str(path)), text=text)
    )


def _damage(exc: sqlite3.Error | UnicodeDecodeError) -> str | None:
    """What is damaged, if ``exc`` says the file's content cannot be read back (else None).

    Only the column is named, never the damaged value itself: its bytes are not text any more
    and would reach a terminal as they are.
    """
    text = str(exc)
    if isinstance(exc, UnicodeDecodeError) or text.startswith("Could not decode to UTF-8"):
        column = re.search(r"column '(\w+)'", text)
        if column:
            return _(
                "a stored text (column {column}) is not valid UTF-8 any more",
                column=repr(column.group(1)),
            )
        return _("a stored text is not valid UTF-8 any more")
    if getattr(exc, "sqlite_errorname", "").startswith("SQLITE_CORRUPT") or "malformed" in text:
        return _("SQLite finds it malformed ({text})", text=text)
    return None


class _Cursor(sqlite3.Cursor):
    """A cursor whose failures - running a statement or reading its rows - are StoreErrors."""

    connection: _Connection

    @contextlib.contextmanager
    def _mapped(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            raise _store_error(exc, self.connection.store_path) from exc

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        with self._mapped():
            return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> Self:
        with self._mapped():
            return super().executemany(sql, seq_of_parameters)

    def fetchone(self) -> Any:
        with self._mapped():
            return super().fetchone()

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        with self._mapped():
            return super().fetchmany(size)

    def fetchall(self) -> list[Any]:
        with self._mapped():
            return super().fetchall()

    def __next__(self) -> Any:
        # Runs once a row: a plain try, not the context manager.
        try:
            return super().__next__()
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            raise _store_error(exc, self.connection.store_path) from exc


class _Connection(sqlite3.Connection):
    """A connection whose ``execute`` hands out :class:`_Cursor` s (``store_path`` names the
    file in their errors): every reader of the store, lazy or not, meets StoreError only."""

    store_path: Path = Path()

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        return self.cursor(_Cursor).execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> _Cursor:
        return self.cursor(_Cursor).executemany(sql, parameters)


class Store:
    """One database file; a connection per thread, opened lazily and migrated on first use.

    ``path`` may be ``":memory:"`` only for single-threaded throwaway use (each thread would see
    its own empty database). Close with :meth:`close` (closes the calling thread's connection).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._migrated = False

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # --- connections -----------------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """The calling thread's connection (opened, configured and migrated on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        memory = str(self.path) == ":memory:"
        try:
            if not memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves (see transaction()).
            conn = sqlite3.connect(
                str(self.path),
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                factory=_Connection,
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                _(
                    "cannot open the recipient database {path}: {exc}",
                    path=repr(str(self.path)),
                    exc=str(exc),
                )
            ) from exc
        conn.store_path = self.path
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not memory:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; WAL-safe
            self._local.conn = conn
            with self._lock:
                if not self._migrated:
                    self._migrate(conn)
                    self._migrated = True
        except (sqlite3.Error, StoreError) as exc:
            conn.close()
            self._local.conn = None
            if isinstance(exc, StoreError):
                raise
            raise _store_error(exc, self.path) from exc
        return conn

    def close(self) -> None:
        """Close the calling thread's connection (others close when their threads end)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The file's ``PRAGMA user_version``."""
        row = self.connection().execute("PRAGMA user_version").fetchone()
        return int(row[0])

    # --- transactions ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception rolls everything back and re-raises.

        IMMEDIATE takes the write lock up front, so two writers queue (``busy_timeout``) instead
        of one failing half-way with "database is locked". sqlite3 errors become
        :class:`StoreError`; other exceptions pass through unchanged after the rollback.
        """
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from exc
        try:
            yield conn
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _store_error(exc, self.path) from exc
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise _store_error(exc, self.path) from exc

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read snapshot (``BEGIN`` ... ``COMMIT``): several queries see one consistent state.

        Inside a transaction already (a read made while writing), it is that transaction's view.
        """
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from exc

    def _migrate(self, conn: sqlite3.Connection) -> None:
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        latest = max(version for version, _ in MIGRATIONS)
        if current > latest:
            raise StoreError(
                _(
                    "the recipient database {path} has schema version {current}, newer than"
                    " this peppolnet understands ({latest}); upgrade peppolnet",
                    path=repr(str(self.path)),
                    current=current,
                    latest=latest,
                )
            )
        for version, sql in sorted(MIGRATIONS):
            if version <= current:
                continue
            # executescript would COMMIT first; run the statements inside one transaction.
            conn.execute("BEGIN IMMEDIATE")
            try:
                again = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if again < version:  # another process may have migrated meanwhile
                    for statement in _statements(sql):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {int(version)}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into complete statements (sqlite3.complete_statement)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if statement.strip(";").strip():
                yield statement
            buffer = ""
    if buffer.strip():
        yield buffer.strip()
