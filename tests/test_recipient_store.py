"""The SQLite store: user_version migrations, WAL, atomic transactions, readers during a write."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

import peppolnet.recipients.store as store_module
from peppolnet.errors import InvalidInput, StoreError
from peppolnet.recipients.store import MIGRATIONS, Store, register_migration


def test_new_file_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    store = Store(tmp_path / "sub" / "db.sqlite")
    assert store.schema_version == max(v for v, _ in MIGRATIONS)
    conn = store.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == store_module.BUSY_TIMEOUT_MS
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"recipients", "recipient_ids", "checks"} <= tables
    store.close()


def test_registered_migration_runs_once_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MIGRATIONS", list(MIGRATIONS))
    path = tmp_path / "db.sqlite"
    Store(path).connection()
    # (not "requests": the request tracker registers that table itself)
    sql = "CREATE TABLE extension_test (id INTEGER PRIMARY KEY, recipient_id INTEGER);"
    store_module.register_migration(100, sql)
    store_module.register_migration(100, sql)  # idempotent at import time
    with pytest.raises(InvalidInput, match="already registered"):
        store_module.register_migration(100, "CREATE TABLE other (x);")
    store = Store(path)
    assert store.schema_version == 100
    store.connection().execute("INSERT INTO extension_test (recipient_id) VALUES (1)")
    assert Store(path).schema_version == 100  # opening again does not re-run it


def test_register_migration_is_the_public_hook() -> None:
    assert register_migration is store_module.register_migration


def test_failed_migration_leaves_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MIGRATIONS", list(MIGRATIONS))
    path = tmp_path / "db.sqlite"
    before = Store(path).schema_version
    store_module.register_migration(50, "CREATE TABLE half (x);\nTHIS IS NOT SQL;")
    with pytest.raises(StoreError, match="cannot be used"):
        Store(path).connection()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == before
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "half" not in names  # the whole step rolled back
    conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 9999")
    conn.close()
    with pytest.raises(StoreError, match="newer than this peppolnet"):
        Store(path).connection()


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"name,org\n" * 1000)
    with pytest.raises(StoreError, match="not a SQLite database"):
        Store(path).connection()


def test_unopenable_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open"):
        Store(blocker / "db.sqlite").connection()


def _insert(conn: sqlite3.Connection, n: int) -> None:
    conn.execute(
        "INSERT INTO recipients (participant_id, name, created_at, updated_at) VALUES (?,?,?,?)",
        (f"iso6523-actorid-upis::0007:{n:010d}", f"Company {n}", "t", "t"),
    )


def test_exception_in_transaction_rolls_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    with store.transaction() as conn:
        _insert(conn, 1)

    def failing() -> None:
        with store.transaction() as conn:
            _insert(conn, 2)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing()
    count = store.connection().execute("SELECT count(*) FROM recipients").fetchone()[0]
    assert count == 1

    def duplicate() -> None:
        with store.transaction() as conn:
            _insert(conn, 3)
            _insert(conn, 1)

    with pytest.raises(StoreError, match="UNIQUE"):
        duplicate()
    assert store.connection().execute("SELECT count(*) FROM recipients").fetchone()[0] == 1


def test_readers_see_committed_state_while_a_writer_works(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    store = Store(path)
    with store.transaction() as conn:
        _insert(conn, 0)
    writing = threading.Event()
    release = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with store.transaction() as conn:  # the thread's own connection
                for n in range(1, 500):
                    _insert(conn, n)
                writing.set()
                release.wait(10)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    assert writing.wait(10)
    # Another process-like reader (own connection) is not blocked and sees the last commit.
    reader = Store(path)
    seen.append(reader.connection().execute("SELECT count(*) FROM recipients").fetchone()[0])
    release.set()
    thread.join(10)
    seen.append(reader.connection().execute("SELECT count(*) FROM recipients").fetchone()[0])
    assert not errors
    assert seen == [1, 500]


def test_second_writer_waits_then_reports_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "db.sqlite"
    first, second = Store(path), Store(path)
    second.connection()
    with first.transaction(), pytest.raises(StoreError) as info, second.transaction():
        pass  # pragma: no cover - BEGIN IMMEDIATE cannot get the lock
    assert info.value.retryable
    assert "locked" in str(info.value)
    with second.transaction() as conn:  # free again
        _insert(conn, 7)


def test_importing_the_library_registers_nothing() -> None:
    """Every step of the library's schema is known to the store without importing the request
    tracker (it used to add its tables when imported): a fresh interpreter that only opens a
    Store gets the whole schema, and importing peppolnet.recipients adds no step."""
    import subprocess
    import sys

    code = (
        "import tempfile, pathlib\n"
        "from peppolnet.recipients.store import MIGRATIONS, Store\n"
        "from peppolnet.recipients.schema import SCHEMA_VERSION, STEPS\n"
        "before = list(MIGRATIONS)\n"
        "store = Store(pathlib.Path(tempfile.mkdtemp()) / 'r.sqlite')\n"
        "assert store.schema_version == SCHEMA_VERSION, store.schema_version\n"
        "import peppolnet.recipients, peppolnet.recipients.tracking\n"
        "assert MIGRATIONS == before == list(STEPS)\n"
        'tables = {r[0] for r in store.connection().execute("SELECT name FROM sqlite_master")}\n'
        "assert {'recipients', 'checks', 'requests', 'request_events'} <= tables, tables\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
