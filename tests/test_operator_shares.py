"""Operator shares over the sandbox network: its SMPs on real HTTPS, its SML on real DNS.

The expectations come from the sandbox's own description (which operator and SMP serve each
participant), so a table that attributes a participant to the wrong operator or SMP fails.
Politeness runs on a ManualClock: hours of spacing take no time, and the record of what each
SMP host saw is exact.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from peppolnet.analytics import (
    OperatorShares,
    Politeness,
    operator_shares,
    operator_shares_async,
    render_shares_chart,
    smp_origin,
)
from peppolnet.bulk import Progress
from peppolnet.bulk.tables import data_table
from peppolnet.clock import ManualClock
from peppolnet.errors import InvalidInput
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox import Sandbox

STRICT = Politeness(per_host=1, interval=1.0)


@dataclasses.dataclass(frozen=True)
class Card:
    """What an export record offers: an id and a country (the Directory's, not the scheme's)."""

    participant_id: str
    country: str | None = None


@dataclasses.dataclass(frozen=True)
class Entry:
    participant: ParticipantId


def clean(sandbox: Sandbox) -> dict[str, tuple[str, str]]:
    """Participant -> (its operator's seat id, its SMP's origin) where nothing is odd."""
    expected = {}
    for pid, p in sandbox.participants.items():
        if p.in_sml and not p.quirks:
            op = sandbox.config.operator(p.operator)
            expected[str(pid)] = (op.seat_id, smp_origin(sandbox.smp_url(op.smp)))
    return expected


@pytest.fixture(scope="module")
def survey(sandbox: Sandbox) -> tuple[OperatorShares, ManualClock]:
    clock = ManualClock(datetime.now(UTC))
    shares = operator_shares(
        list(sandbox.participants), network=sandbox.network, politeness=STRICT, clock=clock
    )
    return shares, clock


def test_every_participant_has_a_row_with_its_smp_and_operator(
    sandbox: Sandbox, survey: tuple[OperatorShares, ManualClock]
) -> None:
    shares, _ = survey
    rows = {r["participant_id"]: r for r in shares.participants.to_pylist()}
    assert len(rows) == shares.total == len(sandbox.participants)
    expected = clean(sandbox)
    assert len(expected) > 100
    for pid, (seat, smp) in expected.items():
        row = rows[pid]
        assert row["verdict"] == "can-receive", pid
        assert row["seat_id"] == seat
        assert smp_origin(row["smp_url"]) == smp
        assert row["country"] == sandbox.participants[ParticipantId.parse(pid)].country
    assert len({smp for _, smp in expected.values()}) >= 9  # several SMP hosts
    for pid, p in sandbox.participants.items():
        if not p.in_sml:
            assert rows[str(pid)]["verdict"] == "not-registered"
            assert rows[str(pid)]["seat_id"] is None


def test_shares_add_up(survey: tuple[OperatorShares, ManualClock]) -> None:
    shares, _ = survey
    seats = collections.Counter(
        r["seat_id"] for r in shares.participants.to_pylist() if r["seat_id"]
    )
    by_operator = {r["seat_id"]: r for r in shares.by_operator.to_pylist()}
    assert {s: r["participants"] for s, r in by_operator.items()} == seats
    assert sum(r["share"] for r in by_operator.values()) == pytest.approx(1.0)
    assert shares.attributed == sum(seats.values())
    counts = [r["participants"] for r in shares.by_operator.to_pylist()]
    assert counts == sorted(counts, reverse=True)  # largest first
    per_country: dict[str, float] = collections.defaultdict(float)
    for r in shares.by_country.to_pylist():
        per_country[r["country"]] += r["share"]
    assert set(per_country) == {"SE", "NO", "DK", "FI", "BE", "DE", "NL"}
    assert all(total == pytest.approx(1.0) for total in per_country.values())
    summary = shares.summary()
    assert summary.total == shares.total
    assert sum(summary.operators.values()) == shares.attributed


def test_each_smp_host_was_asked_politely(
    survey: tuple[OperatorShares, ManualClock],
) -> None:
    shares, clock = survey
    hosts = shares.hosts
    assert len(hosts) >= 9
    for record in hosts.values():
        assert record.peak == 1
        if record.lookups > 1:
            assert record.shortest_gap is not None
            assert record.shortest_gap >= 1.0
    busiest = max(r.lookups for r in hosts.values())
    assert clock.monotonic() >= busiest - 1  # the busiest host's starts, a second apart


def test_real_time_politeness(sandbox: Sandbox) -> None:
    ids = list(sandbox.participants)[:40]
    shares = operator_shares(
        ids, network=sandbox.network, politeness=Politeness(per_host=2, interval=0.05)
    )
    assert shares.total == 40
    gaps = [r.shortest_gap for r in shares.hosts.values() if r.shortest_gap is not None]
    assert gaps
    assert min(gaps) >= 0.05
    assert max(r.peak for r in shares.hosts.values()) <= 2


def test_records_ids_and_bad_items(sandbox: Sandbox) -> None:
    kvittra = "iso6523-actorid-upis::0007:5584821341"  # a Swedish participant of Kvittra
    items: list[object] = [
        Card(kvittra, country="Norge"),  # the record's country wins over the scheme's
        Entry(ParticipantId.parse(kvittra)),  # no country: the scheme's (0007 is Sweden)
        "0007:5584821341",
        Card("not an id"),
        object(),
    ]
    shares = operator_shares(items, network=sandbox.network, politeness=Politeness(interval=0))
    rows = shares.participants.to_pylist()
    assert [r["row"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["country"] for r in rows[:3]] == ["NO", "SE", "SE"]
    assert {r["seat_id"] for r in rows[:3]} == {"PSE000102"}
    assert rows[3]["verdict"] == "invalid-input"
    assert rows[3]["participant_id"] == "not an id"
    assert rows[4]["verdict"] == "invalid-input"
    assert rows[4]["reason"] == "the item (object) has no participant id"
    assert shares.hosts[smp_origin(rows[0]["smp_url"])].lookups == 1  # duplicates: once


class Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_from_its_journal(sandbox: Sandbox, tmp_path: Path) -> None:
    ids = list(sandbox.participants)[:30]
    journal = tmp_path / "shares.jsonl"
    clock = ManualClock(datetime.now(UTC))

    def stop_after_12(progress: Progress) -> None:
        if progress.done == 12:
            raise Interrupted

    survey = functools.partial(
        operator_shares, ids, network=sandbox.network, politeness=STRICT, clock=clock
    )
    with pytest.raises(Interrupted):
        survey(journal=journal, progress=stop_after_12)
    lines = journal.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 11  # the 12th answer was lost with the interruption, before its write
    with journal.open("a", encoding="utf-8") as fh:  # a kill in the middle of a write
        fh.write(lines[0][:25])
    seen: list[int] = []
    shares = survey(
        journal=journal, resume=True, progress=lambda p: seen.append(p.result.row.number)
    )
    done_before = {json.loads(line)["row"] for line in lines}
    assert sorted(seen) == sorted(set(range(1, 31)) - done_before)  # only the rest
    assert sorted(r["row"] for r in shares.participants.to_pylist()) == list(range(1, 31))
    fresh = operator_shares(ids, network=sandbox.network, politeness=Politeness(interval=0))
    assert shares.by_operator.equals(fresh.by_operator)


def test_resuming_with_other_participants_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    ids = list(sandbox.participants)
    journal = tmp_path / "shares.jsonl"
    fast = Politeness(interval=0)
    operator_shares(ids[:5], network=sandbox.network, politeness=fast, journal=journal)
    with pytest.raises(InvalidInput, match=r"other participants: its row 1 is .*same order"):
        operator_shares(
            ids[5:10], network=sandbox.network, politeness=fast, journal=journal, resume=True
        )


def test_a_file_that_is_not_a_journal_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    journal = tmp_path / "notes.jsonl"
    journal.write_text('{"hello": "world"}\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a journal of peppolnet results"):
        operator_shares([], network=sandbox.network, journal=journal, resume=True)


def test_the_async_twin_gives_the_same_tables(sandbox: Sandbox) -> None:
    ids = list(sandbox.participants)[:40]

    async def items() -> AsyncIterator[ParticipantId]:
        for pid in ids:
            yield pid

    async def run() -> OperatorShares:
        return await operator_shares_async(
            items(), network=sandbox.network, politeness=Politeness(interval=0)
        )

    shares = asyncio.run(run())
    same = operator_shares(ids, network=sandbox.network, politeness=Politeness(interval=0))
    assert shares.by_operator.equals(same.by_operator)
    assert shares.by_country.equals(same.by_country)


def test_bad_options_are_refused_before_any_lookup(sandbox: Sandbox) -> None:
    with pytest.raises(TypeError, match="politenes"):
        operator_shares([], network=sandbox.network, politenes=STRICT)  # type: ignore[call-arg]
    with pytest.raises(InvalidInput, match="concurrency must be at least 1"):
        operator_shares([], network=sandbox.network, concurrency=0)


def test_tables_out(survey: tuple[OperatorShares, ManualClock], tmp_path: Path) -> None:
    shares, _ = survey
    frame = shares.to_pandas("by_country")
    assert list(frame.columns) == ["country", "seat_id", "operator_name", "participants", "share"]
    path = shares.to_parquet(tmp_path / "participants.parquet", "participants")
    assert pq.read_table(path).equals(shares.participants)
    with pytest.raises(InvalidInput, match="no table 'operators'; the tables are participants"):
        shares.to_arrow("operators")
    html = shares._repr_html_()
    assert f"{shares.total} participants, {shares.attributed} with a known operator" in html
    assert "Kvittra AB" in html


def _hostile_shares() -> OperatorShares:
    rows = [
        {"row": 1, "participant_id": "p1", "verdict": "can-receive", "seat_id": "PSE000001"},
        {"row": 2, "participant_id": "p2", "verdict": "can-receive", "seat_id": "PSE000002"},
    ]
    rows[0]["operator_name"] = "<script>alert(1)</script> $\\frac{$"  # bad mathtext
    rows[1]["operator_name"] = "Plain AB"
    return OperatorShares.of(data_table(rows))


def test_html_escapes_operator_names() -> None:
    html = _hostile_shares().html("sv")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "2 deltagare, 2 med känd operatör" in html


def test_html_says_how_many_rows_it_leaves_out() -> None:
    """20 operators in 2 countries: the notebook view shows 15 of each table and says so."""
    rows = [
        {"row": n, "participant_id": f"p{n}", "verdict": "can-receive",
         "seat_id": f"PSE{n % 20:06d}", "operator_name": f"Operator {n % 20}",
         "country": "SE" if n < 20 else "NO"}
        for n in range(40)
    ]  # fmt: skip
    shares = OperatorShares.of(data_table(rows))
    assert (shares.by_operator.num_rows, shares.by_country.num_rows) == (20, 40)
    html = shares.html()
    assert html.count("<tr>") == 1 + 15 + 1 + 15
    assert "<p>... and 5 more rows</p>" in html
    assert "<p>... and 25 more rows</p>" in html


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_the_chart(survey: tuple[OperatorShares, ManualClock], tmp_path: Path, suffix: str) -> None:
    shares, _ = survey
    path = render_shares_chart(shares, tmp_path / f"shares.{suffix}", top=5)
    data = path.read_bytes()
    if suffix == "png":
        assert data.startswith(b"\x89PNG")
    else:
        text = data.decode("utf-8")  # matplotlib notes each text in a comment
        assert f"<!-- Operator shares of {shares.attributed} participants" in text
        assert "<!-- other operators -->" in text
        first = shares.by_operator.to_pylist()[0]
        assert f"<!-- {first['operator_name']} ({first['seat_id']}) -->" in text


def test_a_chart_survives_names_that_look_like_math(tmp_path: Path) -> None:
    path = render_shares_chart(_hostile_shares(), tmp_path / "c.svg", language="sv")
    text = path.read_text(encoding="utf-8")
    assert "<!-- andel per operatör -->" in text
    assert "<!-- Plain AB (PSE000002) -->" in text
    with pytest.raises(InvalidInput, match=r"\.png or \.svg"):
        render_shares_chart(_hostile_shares(), tmp_path / "c.pdf")
