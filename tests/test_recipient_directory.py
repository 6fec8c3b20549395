"""RecipientDirectory on real SQLite files: import/upsert, search by id and number, refresh against
the sandbox, history and changes after an operator move."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peppolnet.bulk import RegisterRow, read_register
from peppolnet.clock import ManualClock
from peppolnet.errors import InvalidInput
from peppolnet.identifiers import ParticipantId
from peppolnet.recipients.directory import CheckRecord, RecipientDirectory, compare
from peppolnet.sandbox import Sandbox

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "customers.csv"


#: Two "todays" far apart: the date-sensitive tests must pass on any date, a year ahead included.
STARTS = [datetime(2026, 11, 27, 8, 0, tzinfo=UTC), datetime(2031, 6, 15, 12, 0, tzinfo=UTC)]


@pytest.fixture(params=STARTS, ids=lambda d: d.date().isoformat())
def clock(request: pytest.FixtureRequest) -> ManualClock:
    """One movable clock for the sandbox, the directory and its lookups."""
    start: datetime = request.param
    return ManualClock(start)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture
def sb(keys: Path, clock: ManualClock) -> Iterator[Sandbox]:
    """A sandbox of this test's own, on the test's clock: it moves and removes participants."""
    with Sandbox.start(key_dir=keys, clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[RecipientDirectory]:
    with RecipientDirectory(tmp_path / "recipients.sqlite") as d:
        yield d


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_import_fixture_and_reimport_without_duplicates(directory: RecipientDirectory) -> None:
    usable = [r for r in read_register(FIXTURE) if r.problem is None]
    first = directory.import_register(FIXTURE)
    assert first.added == len(usable) == 38
    assert first.updated == 0
    assert [n for n, _ in first.skipped] == [39, 40, 41, 42]
    assert "neither a participant id nor an organisation number" in first.skipped[0][1]
    again = directory.import_register(FIXTURE)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 38)
    assert len(directory) == 38
    assert _count(directory.path, "recipients") == 38


def test_reimport_updates_changed_fields(directory: RecipientDirectory, tmp_path: Path) -> None:
    directory.import_register(FIXTURE)
    changed = tmp_path / "changed.csv"
    changed.write_text(
        "Företagsnamn;Organisationsnummer;Land;E-post\n"
        "Nordlys Bygg Aktiebolag;SE558482134101;SE;faktura@nordlys.example\n"
        "Ny Kund AB;556036-0793;SE;\n",
        encoding="utf-8",
    )
    report = directory.import_register(changed)
    assert (report.added, report.updated, report.unchanged) == (1, 1, 0)
    assert len(directory) == 39
    hit = directory.get("0007:5584821341")
    assert hit is not None
    assert hit.name == "Nordlys Bygg Aktiebolag"
    assert hit.email == "faktura@nordlys.example"
    assert hit.org_number == "SE558482134101"


def test_participant_id_column_and_org_number_meet(directory: RecipientDirectory) -> None:
    directory.add("Solberg Rør AS", org_number="933215385", country="NO")
    # The same company given by participant id (the 9909 candidate of the same number).
    again = directory.add("Solberg Rør AS", participant_id="9909:NO933215385MVA")
    assert len(directory) == 1
    assert again.participant_id == "iso6523-actorid-upis::0192:933215385"
    assert directory.get(ParticipantId.parse("9909:no933215385mva")) == again


def test_add_rejects_unusable_identifier(directory: RecipientDirectory) -> None:
    with pytest.raises(InvalidInput, match="not a valid"):
        directory.add("Norrbyn Fastigheter", org_number="55-12", country="SE")
    with pytest.raises(InvalidInput):
        directory.add("No Number AB", country="SE")
    assert len(directory) == 0


@pytest.mark.parametrize(
    "typed",
    ["558482-1341", "5584821341", "SE558482134101", "SE 5584821341 01", "0007:5584821341",
     "iso6523-actorid-upis::0007:5584821341"],
)  # fmt: skip
def test_search_by_number_in_any_format(directory: RecipientDirectory, typed: str) -> None:
    directory.import_register(FIXTURE)
    hits = directory.search(typed)
    assert hits
    assert hits[0].recipient.name == "Nordlys Bygg AB"
    assert hits[0].score == 100.0
    assert hits[0].matched_by in ("org_number", "participant_id")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fjallrav konsult", "Fjällräv Konsult AB"),
        ("Konsult Fjällräv", "Fjällräv Konsult AB"),
        ("FJÄLRÄV KONSULT AB", "Fjällräv Konsult AB"),
        ("solbeg ror", "Solberg Rør AS"),
        ("havgard tomrer", "Havgård Tømrer ApS"),
        ("Kvarnstrom och Dotter", "Kvarnström & Dotter AB"),
        ("tjorns båtvarf", "Tjörns Båtvarv AB"),
    ],
)
def test_search_by_name_is_tolerant(
    directory: RecipientDirectory, query: str, expected: str
) -> None:
    directory.import_register(FIXTURE)
    hits = directory.search(query, limit=5)
    assert hits[0].recipient.name == expected
    assert hits[0].matched_by == "name"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_nothing_close(directory: RecipientDirectory) -> None:
    directory.import_register(FIXTURE)
    assert directory.search("zzqxv") == []
    assert directory.search("   ") == []


def test_interrupted_import_leaves_database_unchanged(directory: RecipientDirectory) -> None:
    directory.import_register(FIXTURE)
    before = [r.to_json() for r in directory.recipients()]

    def rows() -> Iterator[RegisterRow]:
        for i, row in enumerate(read_register(FIXTURE)):
            if i == 20:
                raise KeyboardInterrupt  # Ctrl-C in the middle of the transaction
            yield row if row.problem else RegisterRow(
                row.number, row.fields, name=row.name + " Ändrad", org_number=row.org_number,
                country=row.country, candidates=row.candidates,
            )  # fmt: skip

    with pytest.raises(KeyboardInterrupt):
        directory.import_rows(rows())
    assert [r.to_json() for r in directory.recipients()] == before
    # and the file is still writable afterwards (no lock left behind)
    assert directory.import_register(FIXTURE).unchanged == 38


def test_default_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PEPPOLNET_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    d = RecipientDirectory()
    assert d.path == tmp_path / "data" / "peppolnet" / "recipients.sqlite"
    assert d.path.is_file()
    d.close()
    monkeypatch.setenv("PEPPOLNET_DB", str(tmp_path / "mine.sqlite"))
    assert RecipientDirectory().path == tmp_path / "mine.sqlite"


def _record(verdict: str, seat: str = "", smp: str = "") -> CheckRecord:
    return CheckRecord(datetime(2026, 1, 1, tzinfo=UTC), verdict, "p", seat, "", smp, "")


def test_compare_is_pure_and_complete() -> None:
    yes_a = _record("can-receive", "PSE000102", "https://smp-a:1")
    yes_b = _record("can-receive", "PSE000109", "https://smp-b:2")
    no = _record("not-registered")
    assert compare(no, yes_a) == ["became-reachable"]
    assert compare(yes_a, no) == ["stopped-being-reachable"]
    assert compare(yes_a, yes_b) == ["changed-operator", "changed-smp"]
    assert compare(yes_a, _record("can-receive", "pse000102", "https://SMP-A:1/")) == []
    assert compare(yes_a, _record("cannot-receive", "", "https://smp-a:1")) == [
        "stopped-being-reachable"
    ]


def test_refresh_history_and_changes_after_move(
    sb: Sandbox, clock: ManualClock, tmp_path: Path
) -> None:
    d = RecipientDirectory(tmp_path / "r.sqlite", clock=clock)
    d.import_register(FIXTURE)
    report = d.refresh(sb.network, concurrency=4)
    assert report.checked == 38
    assert report.counts["can-receive"] >= 10
    nordlys = d.search("Nordlys Bygg AB")[0].recipient
    assert nordlys.verdict == "can-receive"
    assert nordlys.seat_id == "PSE000102"
    assert nordlys.operator_name == "Kvittra AB"
    assert nordlys.checked_at is not None
    assert nordlys.smp_url
    assert nordlys.smp_url.startswith("https://127.0.0.1:")
    assert d.changes() == []  # one check each: nothing to compare yet

    # Nothing is due within the hour; everything is due a day later.
    clock.advance(timedelta(minutes=30))
    assert d.refresh(sb.network, older_than=timedelta(hours=1)).checked == 0

    pid = ParticipantId.parse(nordlys.participant_id)
    old_operator = sb.participants[pid].operator
    new_operator = next(o.id for o in sb.config.operators if o.id != old_operator)
    sb.move_participant(pid, new_operator)
    gone = next(r for r in d.recipients() if r.verdict == "can-receive" and r.id != nordlys.id)
    sb.remove_participant(gone.participant_id)

    clock.advance(timedelta(days=1))
    assert d.refresh(sb.network, older_than=timedelta(hours=1), concurrency=4).checked == 38
    changes = d.changes()
    by_kind = {(c.kind, c.recipient.name) for c in changes}
    assert ("changed-operator", "Nordlys Bygg AB") in by_kind
    assert ("changed-smp", "Nordlys Bygg AB") in by_kind
    assert ("stopped-being-reachable", gone.name) in by_kind
    moved = next(c for c in changes if c.kind == "changed-operator")
    assert moved.before.seat_id == "PSE000102"
    assert moved.after.seat_id == sb.config.operator(new_operator).seat_id
    assert moved.to_json()["after"]["seat_id"] == moved.after.seat_id
    assert len(d.history(pid)) == 2
    # only recipients whose latest decisive check is after "since"
    assert d.changes(since=clock.now() + timedelta(days=1)) == []

    # Moving back: the next refresh shows the reverse move, and history keeps all three.
    sb.move_participant(pid, old_operator)
    d.refresh(sb.network, concurrency=4)
    back = [c for c in d.changes() if c.recipient.id == nordlys.id]
    assert {c.kind for c in back} == {"changed-operator", "changed-smp"}
    assert [c.seat_id for c in d.history(pid)] == [
        "PSE000102",
        sb.config.operator(new_operator).seat_id,
        "PSE000102",
    ]
    d.close()


def test_unknown_is_never_a_change(directory: RecipientDirectory) -> None:
    from peppolnet.bulk import BulkResult
    from peppolnet.reachability import Verdict

    r = directory.add("Nordlys Bygg AB", org_number="558482-1341", country="SE")
    row = RegisterRow(r.id, (), candidates=(ParticipantId.parse(r.participant_id),))
    directory.record([BulkResult(row, Verdict.NOT_REGISTERED, "no NAPTR record")])
    directory.record([BulkResult(row, Verdict.UNKNOWN, "DNS timed out")])
    assert directory.changes() == []  # a fault after "not registered" says nothing
    latest = directory.get(r.participant_id)
    assert latest is not None
    assert latest.verdict == "unknown"  # ...but it is the latest answer, shown as such
    directory.record([BulkResult(row, Verdict.CANNOT_RECEIVE, "no AS4 endpoint")])
    assert directory.changes() == []  # not-registered -> cannot-receive: still not reachable
    assert [c.verdict for c in directory.history(r.participant_id)] == [
        "not-registered",
        "unknown",
        "cannot-receive",
    ]


def _luhn(body: str) -> str:
    total = 0
    for k, c in enumerate(body):
        d = int(c) * (2 if k % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(min_value=0, max_value=99_999_999), st.data())
def test_any_format_of_a_number_finds_the_customer(
    tmp_path: Path, body: int, data: st.DataObject
) -> None:
    number = _luhn(f"5{body:08d}")  # a Swedish organisation number (group digit 5)
    formats = [
        f"{number[:6]}-{number[6:]}",
        number,
        f"SE{number}01",
        f"se {number} 01",
        f"0007:{number}",
        f"iso6523-actorid-upis::0007:{number}",
    ]
    stored, typed = data.draw(st.sampled_from(formats[:3])), data.draw(st.sampled_from(formats))
    path = tmp_path / f"{number}.sqlite"
    with RecipientDirectory(path) as d:
        d.add("Kund AB", org_number=stored, country="SE")
        d.add("Annan Kund AB", org_number="558482-1341", country="SE")
        hits = d.search(typed)
        assert [h.recipient.name for h in hits][:1] == ["Kund AB"]
        assert hits[0].score == 100.0
        assert d.add("Kund AB", org_number=typed if ":" not in typed else number, country="SE")
        assert len(d) == 2  # re-adding in another format updates, never duplicates


def test_search_sees_writes_from_other_connections(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    reader, writer = RecipientDirectory(path), RecipientDirectory(path)
    assert reader.search("Granvik Snickeri") == []
    writer.add("Granvik Snickeri AB", org_number="552761-7327", country="SE")
    assert [h.recipient.name for h in reader.search("granvik snickeri")] == ["Granvik Snickeri AB"]
    reader.add("Granvik Snickeri och Bygg AB", org_number="552761-7327", country="SE")
    assert [h.recipient.name for h in writer.search("granvik snickeri bygg")][:1] == [
        "Granvik Snickeri och Bygg AB"
    ]
    assert [h.recipient.name for h in reader.search("granvik snickeri bygg")][:1] == [
        "Granvik Snickeri och Bygg AB"
    ]
    reader.close()
    writer.close()
