"""A recipient database damaged on disk is reported as damaged: one sentence, exit 3, no traceback.

Each test damages a real SQLite file the way a disk fault or a bit flip would, at a place chosen
so the outcome is certain: the bytes of a value the test stored (found by a marker), or the page
that holds them. Nothing is mocked.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from peppolnet.cli import main
from peppolnet.errors import DamagedDatabase
from peppolnet.recipients import AddRecipientRequest, RecipientDirectory
from peppolnet.recipients.tracking import RequestTracker

MARKER = b"Zebrafink"  # in the company name: the requests row, its document and its history


def _saved(db: Path, **changes: str) -> AddRecipientRequest:
    request = AddRecipientRequest.create(
        **{
            "company_name": "Zebrafink Bygg AB",
            "organisation_number": "559012-3450",
            "operator": "PSE000102",
            "email": "faktura@zebrafink.example",
            **changes,
        }
    )
    with RequestTracker(db) as tracker:
        tracker.save(request)
    return request


def _settled(db: Path) -> bytearray:
    """The file's bytes once everything is in it (the write-ahead log checkpointed)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return bytearray(db.read_bytes())


def _flip(db: Path, marker: bytes, replacement: bytes) -> int:
    """Replace every stored copy of ``marker`` (same length); returns how many there were."""
    assert len(replacement) == len(marker)
    data = _settled(db)
    count = data.count(marker)
    assert count, "the marker is not in the file"
    db.write_bytes(bytes(data).replace(marker, replacement))
    return count


def _zero_page_of(db: Path, marker: bytes) -> None:
    """Overwrite the whole page that stores ``marker`` with zeros (a lost disk block)."""
    data = _settled(db)
    page_size = int.from_bytes(data[16:18], "big")
    start = data.index(marker) // page_size * page_size
    data[start : start + page_size] = bytes(page_size)
    db.write_bytes(bytes(data))


def _one_sentence(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_text_that_is_no_longer_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The report of issue 13: `request list` on a bit-flipped file gave UnicodeDecodeError."""
    db = tmp_path / "recipients.sqlite"
    request = _saved(db)
    assert _flip(db, MARKER, b"\xff" + MARKER[1:]) >= 2  # 0xFF never occurs in UTF-8
    tracker = RequestTracker(db)
    with pytest.raises(DamagedDatabase, match=r"is damaged: a stored text .* is not valid UTF-8"):
        tracker.list()
    with pytest.raises(DamagedDatabase):
        tracker.get(request.request_id)
    tracker.close()
    for argv in (
        ["request", "list"],
        ["request", "list", "--json"],
        ["request", "show", request.request_id[:8]],
    ):
        assert main([*argv, "--db", str(db)]) == 3, argv
        out, err = capsys.readouterr()
        line = _one_sentence(err)
        assert line.startswith("peppolnet: error: the recipient database ")
        assert "is damaged" in line
        assert "restore the file from a backup" in line
        assert "ebrafink" not in out + err  # the damaged value itself is never printed
        assert out == ""  # not an empty list: there is no answer


def test_a_stored_document_that_is_no_longer_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Damage that keeps the text valid UTF-8 but breaks the stored JSON document."""
    db = tmp_path / "recipients.sqlite"
    request = _saved(db, note="Kvittoskrivare")  # only in the stored document
    assert _flip(db, b"Kvittoskrivare", b'Kvittos"rivare') == 1
    with RequestTracker(db) as tracker, pytest.raises(DamagedDatabase) as info:
        tracker.list()
    assert f"request {request.request_id} cannot be read back" in str(info.value)
    assert "a stored JSON value is not JSON any more" in str(info.value)
    assert main(["request", "list", "--db", str(db)]) == 3
    assert "cannot be read back" in _one_sentence(capsys.readouterr().err)


def test_a_lost_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "recipients.sqlite"
    _saved(db)
    _zero_page_of(db, MARKER)
    with RequestTracker(db) as tracker, pytest.raises(DamagedDatabase, match="malformed"):
        tracker.list()
    assert main(["request", "list", "--db", str(db)]) == 3
    assert "is damaged: SQLite finds it malformed" in _one_sentence(capsys.readouterr().err)


def test_the_customer_directory_reports_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store's cursors translate errors for every reader, also the lazy ones: a damaged
    customer is not "no customer matches" (exit 1, a negative answer) but a fault (exit 3)."""
    db = tmp_path / "recipients.sqlite"
    with RecipientDirectory(db) as directory:
        directory.add("Zebrafink Bygg AB", participant_id="0007:5590123450", country="SE")
    _flip(db, MARKER, b"\xff" + MARKER[1:])
    with RecipientDirectory(db) as directory, pytest.raises(DamagedDatabase):
        list(directory.recipients())  # read row by row
    assert main(["customers", "search", "Zebrafink", "--db", str(db)]) == 3
    assert "is damaged" in _one_sentence(capsys.readouterr().err)
