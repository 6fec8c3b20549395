"""The export as data: families, organisation keys, statistics, Arrow tables, Parquet, DuckDB,
pandas and snapshot diffs - on synthetic exports and on the sandbox's own, over HTTPS."""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import peppolnet
from peppolnet.analytics import (
    DocumentFamily,
    ExportDiff,
    connect,
    counts,
    diff_exports,
    document_family,
    export_statistics,
    export_tables,
    load_pandas,
    organisation_key,
    query,
    write_parquet,
)
from peppolnet.analytics.tables import TABLES
from peppolnet.codelists import document_types
from peppolnet.directory.export import ExportCard, ExportKind, read_export, write_export
from peppolnet.errors import InvalidInput
from peppolnet.sandbox.synthetic_export import synthetic_cards, write_synthetic_export

SRC = Path(peppolnet.__file__).resolve().parents[1]


def _export(tmp_path: Path, cards: list[ExportCard], kind: ExportKind, name: str) -> Path:
    path = tmp_path / name
    with path.open("wb") as out:
        write_export(cards, kind, out)
    return path


# --- families ------------------------------------------------------------------------------


def _values(predicate: str) -> list[str]:
    return [e.identifier.value for e in document_types() if predicate in e.identifier.value]


def test_every_bis_billing_3_document_type_of_the_code_list_has_its_family() -> None:
    bis = [e for e in document_types() if e.name.startswith("Peppol BIS Billing")]
    assert len(bis) >= 3
    for entry in bis:
        family = document_family(entry.identifier.value)
        if "CreditNote" in entry.identifier.value:
            assert family is DocumentFamily.BILLING_CREDIT_NOTE, entry.name
        else:
            assert family is DocumentFamily.BILLING_INVOICE, entry.name


@pytest.mark.parametrize(
    ("needle", "family"),
    [
        ("urn:peppol:pint:billing-1@", DocumentFamily.PINT),
        ("urn:peppol:pint:selfbilling-1@", DocumentFamily.SELF_BILLING),
        ("poacc:selfbilling:3.0", DocumentFamily.SELF_BILLING),
        ("poacc:trns:order:3", DocumentFamily.ORDERING),
        ("poacc:trns:order_response:3", DocumentFamily.ORDERING),
        ("poacc:trns:mlr:3", DocumentFamily.MLR_MLS),
        ("urn:peppol:edec:mls:1.0", DocumentFamily.MLR_MLS),
        ("xrechnung_3.0", DocumentFamily.OTHER),  # a national CIUS is not the BIS itself
        ("poacc:trns:catalogue:3", DocumentFamily.OTHER),
    ],
)
def test_families_of_the_code_list(needle: str, family: DocumentFamily) -> None:
    values = _values(needle)
    assert values, needle
    assert {document_family(v) for v in values} == {family}


def test_a_wildcard_registration_is_the_family_of_its_pint() -> None:
    value = (
        "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##"
        "urn:peppol:pint:billing-1@jp-1*::2.1"
    )
    assert document_family(value) is DocumentFamily.PINT


# --- organisations -------------------------------------------------------------------------


@given(st.from_regex(r"\A[01][0-9]{9}\Z"))
def test_belgian_enterprise_and_vat_numbers_are_one_organisation(number: str) -> None:
    assert organisation_key(f"0208:{number}") == organisation_key(f"9925:BE{number}")
    assert organisation_key(f"0208:{number}") == f"BE:{number}"


@given(st.from_regex(r"\A[0-9]{10}\Z"))
def test_swedish_organisation_and_old_vat_numbers_are_one_organisation(number: str) -> None:
    key = organisation_key(f"0007:{number}")
    assert key == organisation_key(f"9955:SE{number}01") == f"SE:{number}"
    assert organisation_key(f"0007:{number[:6]}-{number[6:]}") == key  # as people write it


@given(st.from_regex(r"\A[0-9]{9}\Z"))
def test_german_vat_and_electronic_business_address_are_one_organisation(number: str) -> None:
    key = organisation_key(f"9930:DE{number}")
    assert key == organisation_key(f"0246:DE{number}") == f"DE:{number}"
    assert organisation_key(f"0246:DE{number}-12345.ABC") == key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("0192:810306882", "9909:NO810306882MVA"),
        ("0184:12345678", "9902:12345678"),
        ("0216:003712345678", "0213:FI12345678"),
        ("0002:123456789", "0009:12345678900012"),
        ("0002:123456789", "9957:FR44123456789"),
        ("0211:IT12345678901", "0210:12345678901"),
    ],
)
def test_other_stated_equivalences(one: str, other: str) -> None:
    assert organisation_key(one) == organisation_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("0088:7300010000001", "0088:7300010000002"),
        ("0208:0123456789", "0208:0123456788"),
        ("0007:5567321707", "0192:5567321707"),  # same digits, other countries
        ("9925:BE0123456789", "9930:DE123456789"),
    ],
)
def test_no_rule_merges_different_organisations(one: str, other: str) -> None:
    assert organisation_key(one) != organisation_key(other)


def test_without_a_rule_the_identifier_is_its_own_organisation() -> None:
    assert organisation_key("0088:ABC") == "0088:abc"
    assert organisation_key("0208:not-a-number") == "0208:not-a-number"


# --- statistics -------------------------------------------------------------------------------

CARDS = list(synthetic_cards(3_000, seed=11))


def test_statistics_count_what_the_cards_hold() -> None:
    stats = export_statistics(CARDS)
    assert stats.participants == len(CARDS)
    assert sum(stats.by_country.values()) == len(CARDS)
    assert sum(stats.by_scheme.values()) == len(CARDS)
    assert sum(stats.by_month.values()) == len(CARDS)
    assert stats.entities == sum(len(c.entities) for c in CARDS)
    expected = Counter(c.country for c in CARDS)
    assert stats.by_country == dict(sorted(expected.items()))
    invoices = sum(
        any(document_family(d.value) is DocumentFamily.BILLING_INVOICE for d in c.document_types)
        for c in CARDS
    )
    assert stats.by_family["billing-invoice"] == invoices
    # the synthetic export registers some companies twice, under equivalent schemes
    assert stats.organisations == len({organisation_key(c.participant_value) for c in CARDS})
    assert stats.organisations < stats.participants
    assert sum(stats.organisations_by_country.values()) == stats.organisations
    assert stats.top("country", 1)[0][0] == "BE"


def test_statistics_of_a_participants_list_use_the_schemes_countries(tmp_path: Path) -> None:
    path = _export(tmp_path, CARDS[:200], ExportKind.PARTICIPANTS_CSV, "p.csv")
    stats = export_statistics(read_export(path))
    assert stats.participants == 200
    assert stats.entities == 0
    assert "BE" in stats.by_country  # from ICD 0208 / 9925
    assert stats.by_family == dict.fromkeys((f.value for f in DocumentFamily), 0)


# --- tables, Parquet, DuckDB, pandas ---------------------------------------------------------


def test_tidy_tables_of_an_export(tmp_path: Path) -> None:
    path = _export(tmp_path, CARDS[:500], ExportKind.BUSINESS_CARDS_XML, "e.xml")
    tables = export_tables(read_export(path))
    cards = CARDS[:500]
    assert tables.participants.num_rows == 500
    assert tables.entities.num_rows == sum(len(c.entities) for c in cards)
    assert tables.document_types.num_rows == sum(len(c.document_types) for c in cards)
    assert tables.identifiers.num_rows == sum(len(e.identifiers) for c in cards for e in c.entities)
    assert tables.contacts.num_rows == sum(len(e.contacts) for c in cards for e in c.entities)
    assert tables.problems.num_rows == 0
    row = tables.document_types.to_pylist()[0]
    assert row["family"] == "billing-invoice"
    assert (row["name"], row["state"]) == ("Peppol BIS Billing UBL Invoice V3", "active")
    keys = set(tables.participants.column("key").to_pylist())
    assert set(tables.document_types.column("key").to_pylist()) <= keys
    frame = tables.to_pandas("entities")
    assert list(frame.columns[:3]) == ["key", "entity", "name"]


def test_a_damaged_exports_problems_are_a_table_too(tmp_path: Path) -> None:
    path = _export(tmp_path, CARDS[:50], ExportKind.BUSINESS_CARDS_XML, "d.xml")
    path.write_bytes(path.read_bytes().replace(b'value="0', b'value="0&', 1))
    tables = export_tables(read_export(path))
    assert tables.participants.num_rows == 49
    (problem,) = tables.problems.to_pylist()
    assert problem["kind"] == "xml"
    assert problem["skipped"]


def test_parquet_in_batches_duckdb_counts_and_pandas(tmp_path: Path) -> None:
    source = write_synthetic_export(tmp_path / "big.json", 3_000, seed=11,
                                    kind=ExportKind.BUSINESS_CARDS_JSON)  # fmt: skip
    written = write_parquet(read_export(source), tmp_path / "pq", batch_size=700)
    assert written.rows["participants"] == 3_000
    assert sorted(p.name for p in written.folder.glob("*.parquet")) == sorted(
        f"{t}.parquet" for t in TABLES
    )
    assert not list(written.folder.glob("*.part"))
    by_family = counts(written.folder, by=("family",)).to_pylist()
    python = export_statistics(CARDS)
    assert {r["family"]: r["participants"] for r in by_family} == {
        k: v for k, v in python.by_family.items() if v
    }
    grid = counts(written.folder).to_pylist()  # country x family
    assert grid[0]["participants"] >= grid[-1]["participants"]
    assert (
        sum(r["participants"] for r in grid if r["family"] == "billing-invoice")
        == (python.by_family["billing-invoice"])
    )
    con = connect(written.folder)
    try:
        (organisations,) = con.execute(
            "SELECT count(DISTINCT organisation) FROM participants"
        ).fetchone()
    finally:
        con.close()
    assert organisations == python.organisations
    table = query(written.folder, "SELECT count(*) AS n FROM entities")
    assert table.to_pylist() == [{"n": python.entities}]
    frame = load_pandas(written.folder, "participants")
    assert len(frame) == 3_000
    assert frame["organisation"].nunique() == python.organisations


def test_bad_questions_get_sentences(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="holds no Parquet export"):
        connect(tmp_path)
    path = _export(tmp_path, CARDS[:10], ExportKind.BUSINESS_CARDS_XML, "x.xml")
    written = write_parquet(read_export(path), tmp_path / "pq")
    with pytest.raises(InvalidInput, match="counts are by"):
        counts(written.folder, by=("colour",))
    with pytest.raises(InvalidInput, match="the tables are"):
        load_pandas(written.folder, "people")


def test_a_query_on_a_missing_table_or_column_is_a_sentence(tmp_path: Path) -> None:
    path = _export(tmp_path, CARDS[:10], ExportKind.BUSINESS_CARDS_XML, "x.xml")
    folder = write_parquet(read_export(path), tmp_path / "pq").folder
    with pytest.raises(InvalidInput, match=r"could not run the query .*nosuch.*the tables are "
                                           r"participants, entities") as caught:  # fmt: skip
        query(folder, "SELECT * FROM nosuch")
    assert caught.value.__cause__ is None
    with pytest.raises(InvalidInput, match=r"DuckDB could not run the query .*colour"):
        query(folder, "SELECT colour FROM participants")
    assert query(folder, "SELECT count(*) AS n FROM participants").to_pylist() == [{"n": 10}]


def test_parquet_written_to_a_path_that_is_a_file_is_refused_with_a_sentence(
    tmp_path: Path,
) -> None:
    path = _export(tmp_path, CARDS[:5], ExportKind.BUSINESS_CARDS_XML, "x.xml")
    with pytest.raises(InvalidInput, match=r"x\.xml is a file, not a folder: the tables are"):
        write_parquet(read_export(path), path)
    assert read_export(path).header.format == "xml"  # the export itself untouched


def test_a_parquet_folder_from_an_older_version_says_to_write_it_again(tmp_path: Path) -> None:
    """A folder whose participants lack a column added since (fp_other): every function that
    reads it says which and what to do - the diff used to end in DuckDB's Binder Error."""
    import pyarrow.parquet as pq

    path = _export(tmp_path, CARDS[:20], ExportKind.BUSINESS_CARDS_XML, "x.xml")
    folder = write_parquet(read_export(path), tmp_path / "old").folder
    participants = pq.read_table(folder / "participants.parquet").drop_columns(["fp_other"])
    pq.write_table(participants, folder / "participants.parquet")
    older = r"written by an older version of peppolnet: participants lacks fp_other; write it"
    with pytest.raises(InvalidInput, match=older):
        diff_exports(folder, path)
    with pytest.raises(InvalidInput, match=older):
        diff_exports(path, folder)
    with pytest.raises(InvalidInput, match=older):
        counts(folder)
    with pytest.raises(InvalidInput, match=older):
        load_pandas(folder)
    damaged = write_parquet(read_export(path), tmp_path / "damaged").folder
    (damaged / "contacts.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInput, match=r"contacts\.parquet is not a readable Parquet file"):
        connect(damaged)


def test_a_folder_that_is_no_parquet_export_is_named_as_such_by_a_diff(tmp_path: Path) -> None:
    path = _export(tmp_path, CARDS[:5], ExportKind.BUSINESS_CARDS_XML, "x.xml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="empty holds no Parquet export"):
        diff_exports(tmp_path / "empty", path)


# --- diffs -----------------------------------------------------------------------------------


def test_a_diff_names_who_joined_left_and_changed(tmp_path: Path) -> None:
    old = CARDS[:400]
    moved = dataclasses.replace(
        old[10], entities=(dataclasses.replace(old[10].entities[0], country="NO"),)
    )
    fewer = dataclasses.replace(old[20], document_types=old[20].document_types[:1])
    new = [*old[5:], *synthetic_cards(3, seed=99)]
    new[10 - 5], new[20 - 5] = moved, fewer
    old_path = _export(tmp_path, old, ExportKind.BUSINESS_CARDS_XML, "old.xml")
    new_path = _export(tmp_path, new, ExportKind.BUSINESS_CARDS_JSON, "new.json")
    diff = diff_exports(old_path, new_path)
    assert isinstance(diff, ExportDiff)
    assert diff.counts() == {"added": 3, "removed": 5, "changed": 2, "old": 400, "new": 398}
    assert set(diff.removed.column("participant_id").to_pylist()) == {
        c.participant_uri for c in old[:5]
    }
    changes = {r["participant_id"]: r["changes"] for r in diff.changed.to_pylist()}
    assert changes == {moved.participant_uri: ["country", "other"],
                       fewer.participant_uri: ["document_types"]}  # fmt: skip
    assert diff.to_json(limit=1)["counts"]["changed"] == 2


def test_the_same_export_in_two_formats_has_no_differences(tmp_path: Path) -> None:
    cards = CARDS[:300]
    xml = _export(tmp_path, cards, ExportKind.BUSINESS_CARDS_XML, "a.xml")
    csv = _export(tmp_path, cards, ExportKind.BUSINESS_CARDS_JSON, "a.json")
    written = write_parquet(read_export(xml), tmp_path / "pq")
    diff = diff_exports(written, csv)  # a Parquet export and a file
    assert diff.counts()["added"] + diff.counts()["removed"] + diff.counts()["changed"] == 0


def test_business_cards_are_not_compared_with_a_participants_list(tmp_path: Path) -> None:
    """The list holds identifiers only: every participant in both read as changed in every
    part (100 of 100 'changed'), a wrong number; the diff refuses and says why."""
    cards = CARDS[:50]
    xml = _export(tmp_path, cards, ExportKind.BUSINESS_CARDS_XML, "cards.xml")
    ids = _export(tmp_path, cards, ExportKind.PARTICIPANTS_CSV, "ids.csv")
    with pytest.raises(InvalidInput, match="the old export holds business cards and the new one "
                                           "participant identifiers only"):  # fmt: skip
        diff_exports(xml, ids)
    parquet = write_parquet(read_export(ids), tmp_path / "ids")
    with pytest.raises(InvalidInput, match="holds participant identifiers only and the new one "
                                           "business cards"):  # fmt: skip
        diff_exports(parquet.folder, xml)
    same = diff_exports(parquet, _export(tmp_path, cards[5:], ExportKind.PARTICIPANTS_XML, "p.xml"))
    assert same.counts() == {"added": 0, "removed": 5, "changed": 0, "old": 50, "new": 45}
    bare = _export(tmp_path, cards, ExportKind.BUSINESS_CARDS_XML_NO_DOCTYPES, "bare.xml")
    with pytest.raises(InvalidInput, match="holds business cards and the new one business cards "
                                           "without document types"):  # fmt: skip
        diff_exports(xml, bare)
    assert diff_exports(bare, bare).counts()["changed"] == 0


def test_the_sandbox_export_over_https_into_parquet(sandbox: object, tmp_path: Path) -> None:
    from peppolnet.directory.export import ExportDownloader
    from peppolnet.sandbox import Sandbox

    assert isinstance(sandbox, Sandbox)
    with ExportDownloader(sandbox.network, cache_dir=tmp_path / "cache") as downloader:
        file = downloader.download()
    written = write_parquet(file.read(), tmp_path / "pq")
    assert written.rows["participants"] == sum(1 for e in sandbox.directory.entries() if e.entities)
    assert written.problems == ()


# --- without the extra ---------------------------------------------------------------------


def test_without_the_extra_the_tables_say_how_to_install_it(tmp_path: Path) -> None:
    """pyarrow blocked in a child: reading and statistics still work, tables say what to do."""
    shim = tmp_path / "shim"
    for name in ("pyarrow", "duckdb", "pandas"):
        (shim / name).mkdir(parents=True)
        (shim / name / "__init__.py").write_text('raise ImportError("blocked for this test")\n')
    script = (
        "import io\n"
        "from peppolnet.analytics import export_statistics, export_tables\n"
        "from peppolnet.sandbox.synthetic_export import synthetic_cards\n"
        "print(export_statistics(synthetic_cards(10)).participants)\n"
        "try:\n"
        "    export_tables(synthetic_cards(10))\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shim), str(SRC)]))
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           env=env, timeout=120, check=False)  # fmt: skip
    assert child.returncode == 0, child.stderr
    assert child.stdout.splitlines() == [
        "10",
        "MissingExtra an Arrow table needs pyarrow, which is not installed: "
        "pip install 'peppolnet[analytics]'",
    ]


def test_importing_peppolnet_analytics_imports_none_of_the_extra() -> None:
    script = (
        "import sys, peppolnet.analytics, peppolnet.directory.export\n"
        "print(sorted(m for m in ('pyarrow', 'duckdb', 'pandas') if m in sys.modules))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(SRC))
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           env=env, timeout=120, check=False)  # fmt: skip
    assert child.stdout.strip() == "[]", child.stderr


def test_a_written_export_is_read_from_bytes_too() -> None:
    out = io.BytesIO()
    write_export(CARDS[:3], ExportKind.BUSINESS_CARDS_XML, out)
    assert [c.participant_value for c in read_export(io.BytesIO(out.getvalue()))] == [
        c.participant_value for c in CARDS[:3]
    ]
