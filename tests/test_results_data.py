"""Results as data: bulk results and summaries as Arrow tables, DataFrames, Parquet and HTML.

The results come from real lookups against the sandbox; the values in the tables are compared
with the results' own properties, so a column that drifts from its result fails here.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peppolnet.bulk import BulkResult, BulkResults, RegisterRow, Summary, check_many
from peppolnet.bulk.columns import RESULT_COLUMNS, RESULT_FIELDS, from_json, to_json
from peppolnet.errors import InvalidInput, MissingExtra
from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
from peppolnet.operators import Operator
from peppolnet.reachability import Reachability, Verdict
from peppolnet.sandbox import Sandbox

HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def results(sandbox: Sandbox) -> BulkResults:
    ids: list[object] = [str(p) for p in list(sandbox.participants)[:12]]
    ids += ["0007:1234567897", "not an id"]
    return BulkResults(check_many(ids, network=sandbox.network, concurrency=4))


def test_a_run_is_a_typed_table(results: BulkResults) -> None:
    table = results.to_arrow()
    assert table.num_rows == len(results) == 14
    assert table.column_names == [c.name for c in RESULT_COLUMNS]
    types = dict(zip(table.column_names, table.schema.types, strict=True))
    assert types["verdict"] == pa.dictionary(pa.int32(), pa.string())
    assert types["checked_at"] == pa.timestamp("us", tz="UTC")
    assert types["retryable"] == pa.bool_()
    assert types["row"] == pa.int64()
    for result, row in zip(results, table.to_pylist(), strict=True):
        assert row["row"] == result.row.number
        assert row["verdict"] == result.outcome
        assert row["seat_id"] == (result.seat_id or None)
        assert row["operator_name"] == (result.operator_name or None)
        assert row["reason"] == str(result.reason)


def test_a_can_receive_row_names_operator_smp_and_endpoint(results: BulkResults) -> None:
    row = results.to_arrow().to_pylist()[0]
    first = results[0]
    assert row["verdict"] == "can-receive"
    assert row["seat_id"] == first.seat_id
    assert row["seat_id"].startswith("P")
    assert row["smp_host"] == "127.0.0.1"
    assert row["smp_url"] == first.reachability.smp_url  # type: ignore[union-attr]
    assert row["endpoint_url"].startswith("https://ap.")
    assert row["document_type"] == BIS_BILLING_INVOICE.uri
    assert row["retryable"] is False
    assert row["attempts"] == 1
    assert row["checked_at"].utcoffset().total_seconds() == 0
    assert row["checked_at"] == first.reachability.at  # type: ignore[union-attr]


def test_rows_without_an_answer_have_nulls_not_empty_strings(results: BulkResults) -> None:
    rows = results.to_arrow().to_pylist()
    missing, invalid = rows[-2], rows[-1]
    assert missing["verdict"] == "not-registered"
    assert missing["seat_id"] is None
    assert missing["endpoint_url"] is None
    assert invalid["verdict"] == "invalid-input"
    assert invalid["participant_id"] == "not an id"  # as given, to find it again
    assert invalid["checked_at"] is None
    assert invalid["document_type"] is None
    assert invalid["attempts"] == 0


def test_one_result_is_a_one_row_table_of_the_same_columns(results: BulkResults) -> None:
    one = results[3].to_arrow()
    assert one.num_rows == 1
    assert one.to_pylist()[0] == results.to_arrow().to_pylist()[3]


def test_pandas_gets_categories_and_aware_times(results: BulkResults) -> None:
    frame = results.to_pandas()
    assert len(frame) == 14
    assert str(frame["verdict"].dtype) == "category"
    assert str(frame["checked_at"].dtype) == "datetime64[us, UTC]"
    assert frame["verdict"].value_counts()["can-receive"] == sum(
        r.outcome == "can-receive" for r in results
    )


def test_parquet_round_trip(results: BulkResults, tmp_path: Path) -> None:
    path = results.to_parquet(tmp_path / "results.parquet")
    assert pq.read_table(path).equals(results.to_arrow())


def test_parquet_into_a_missing_folder_is_a_clear_error(
    results: BulkResults, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match=r"cannot write .*missing"):
        results.to_parquet(tmp_path / "missing" / "results.parquet")


def test_bulk_results_is_a_sequence(results: BulkResults) -> None:
    assert isinstance(results[1:3], BulkResults)
    assert [r.row.number for r in results[1:3]] == [2, 3]
    assert [r.row.number for r in results] == list(range(1, 15))
    assert results.summary().to_json() == Summary().extend(results).to_json()
    assert repr(results) == "<BulkResults: 14 rows>"


def _result(
    number: int, name: str, seat: str, verdict: Verdict = Verdict.CAN_RECEIVE
) -> BulkResult:
    pid = ParticipantId.parse(f"0007:{5560000000 + number}", lax=True)
    reach = Reachability(
        query=str(pid),
        participant=pid,
        document_type=BIS_BILLING_INVOICE,
        process=None,
        network="test",
        verdict=verdict,
        checks=(),
        at=datetime(2030, 1, 1, tzinfo=UTC),
        operator=Operator(seat, name=name),
        smp_url="https://smp.example",
    )
    row = RegisterRow(number, (str(pid),), participant_id=str(pid), country="SE")
    return BulkResult(row, verdict, "why", reach, 1)


def test_html_escapes_what_the_network_said() -> None:
    results = BulkResults([_result(1, HOSTILE, "PSE000001")])
    for html in (results._repr_html_(), results.summary()._repr_html_()):
        assert HOSTILE not in html
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_html_shows_at_most_twenty_rows() -> None:
    results = BulkResults(_result(n, "Op", "PSE000001") for n in range(1, 26))
    html = results._repr_html_()
    assert html.count("<tr>") == 21  # the header and 20 rows
    assert "... and 5 more rows" in html


def test_summary_is_one_tidy_table() -> None:
    summary = Summary()
    for record in (
        {
            "verdict": "can-receive",
            "operator_name": "Kvittra AB",
            "seat_id": "PSE000102",
            "country": "SE",
        },
        {
            "verdict": "can-receive",
            "operator_name": "Kvittra AB",
            "seat_id": "PSE000102",
            "country": "NO",
        },
        {"verdict": "not-registered", "country": "SE"},
        {"verdict": "unknown", "country": "SE"},
    ):
        summary.add(record)
    rows = summary.to_arrow().to_pylist()
    verdicts = {r["verdict"]: (r["count"], r["share"]) for r in rows if r["group"] == "verdict"}
    assert verdicts == {"can-receive": (2, 0.5), "not-registered": (1, 0.25), "unknown": (1, 0.25)}
    (operator,) = [r for r in rows if r["group"] == "operator"]
    assert (operator["operator_name"], operator["seat_id"], operator["count"]) == (
        "Kvittra AB",
        "PSE000102",
        2,
    )
    sweden = {
        r["verdict"]: r["share"] for r in rows if r["group"] == "country" and r["country"] == "SE"
    }
    assert sweden == pytest.approx(
        {"can-receive": 1 / 3, "not-registered": 1 / 3, "unknown": 1 / 3}
    )
    assert summary.to_pandas()["count"].sum() == 4 + 2 + 4


def test_summary_html_in_swedish() -> None:
    summary = Summary()
    summary.add({"verdict": "not-registered", "country": "SE"})
    html = summary.html("sv")
    assert "1 rader" in html
    assert "inte registrerad" in html


def test_a_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    with pytest.raises(MissingExtra, match=r"pip install 'peppolnet\[analytics\]'"):
        Summary().to_arrow()


def test_a_missing_extra_is_named_in_swedish_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """What needs the package was an English literal inside the Swedish sentence."""
    from peppolnet.i18n import render

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingExtra) as caught:
        Summary().to_arrow()
    assert render(caught.value, "sv") == (
        "en Arrow-tabell kräver pyarrow, som inte är installerat: "
        "pip install 'peppolnet[analytics]'"
    )


def test_importing_bulk_and_analytics_does_not_import_the_extras() -> None:
    code = (
        "import sys, peppolnet.bulk, peppolnet.analytics; "
        "print(sorted(m for m in ('pyarrow', 'pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


_values = {
    "int": st.integers(0, 2**40),
    "float": st.floats(0, 1),
    "text": st.one_of(st.none(), st.text(max_size=20)),
    "category": st.one_of(st.none(), st.sampled_from([v.value for v in Verdict])),
    "flag": st.booleans(),
    "instant": st.one_of(
        st.none(), st.datetimes(timezones=st.just(UTC), min_value=datetime(1971, 1, 1))
    ),
}


@settings(deadline=None)  # a busy shared machine
@given(st.fixed_dictionaries({name: _values[kind] for name, kind in RESULT_FIELDS}))
def test_journal_json_round_trips_typed_rows(row: dict[str, object]) -> None:
    import json

    assert from_json(json.loads(json.dumps(to_json(row)))) == row
