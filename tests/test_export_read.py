"""Reading the Directory export: every format and version, plain and gzip, at flat memory, and
every damaged part reported - never a silently short table."""

from __future__ import annotations

import dataclasses
import gzip
import io
import re
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from peppolnet.businesscard import BusinessEntity, Contact, Name
from peppolnet.directory.export import (
    ExportCard,
    ExportDocumentType,
    ExportKind,
    ExportParticipant,
    read_export,
    write_export,
)
from peppolnet.directory.export._xml import MAX_RECORD_BYTES
from peppolnet.directory.export.write import write_cards_json, write_cards_xml
from peppolnet.errors import InvalidExport
from peppolnet.i18n import render
from peppolnet.sandbox.synthetic_export import synthetic_cards

INVOICE = ExportDocumentType(
    "busdox-docid-qns",
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017"
    "#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1",
    "Peppol BIS Billing UBL Invoice V3",
    "active",
)
ODD = ExportDocumentType("busdox-docid-qns", "urn:x:y::Z##custom::1.0", non_standard=True)


def card(value: str, name: str = "Nordlys AB", **entity: object) -> ExportCard:
    fields = {"country": "SE", **entity}
    return ExportCard(
        "iso6523-actorid-upis",
        value,
        (BusinessEntity((Name(name, "sv"),), **fields),),  # type: ignore[arg-type]
        (INVOICE,),
    )


RICH = ExportCard(
    "iso6523-actorid-upis",
    "0007:5567321707",
    (
        BusinessEntity(
            (Name("Müller & Söhne <AB>", "sv"), Name('Mueller "and" Sons', "en")),
            "SE",
            "Storgatan 1\nStockholm",
            (("VAT", "SE556732170701"), ("GLN", "7300010000001")),
            ("https://muller.example",),
            (Contact("Invoicing", "Anna", "+46 8 123", "ap@muller.example"), Contact(None, "Bo")),
            "Ring först",
            date(2021, 3, 4),
        ),
        BusinessEntity((Name("Second entity"),), "NO", registration_date=date(2019, 1, 2)),
    ),
    (INVOICE, ODD),
)


def written(cards: list[ExportCard], kind: ExportKind) -> bytes:
    out = io.BytesIO()
    write_export(cards, kind, out)
    return out.getvalue()


def read(data: bytes, **options: object) -> tuple[list[object], list[object], object]:
    reader = read_export(io.BytesIO(data), **options)  # type: ignore[arg-type]
    records = list(reader)
    return records, reader.problems, reader


CARDS = [RICH, *synthetic_cards(40, seed=5)]


# --- every format, both ways ---------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ExportKind))
@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_every_file_reads_back_what_was_written(kind: ExportKind, packed: bool) -> None:
    data = written(CARDS, kind)
    records, problems, reader = read(gzip.compress(data) if packed else data)
    assert problems == []
    assert [r.participant_uri for r in records] == [c.participant_uri for c in CARDS]  # type: ignore[attr-defined]
    assert reader.complete  # type: ignore[attr-defined]
    if kind in (ExportKind.BUSINESS_CARDS_XML, ExportKind.BUSINESS_CARDS_JSON):
        assert records == CARDS  # everything, entity by entity
    if kind.cards:
        assert all(isinstance(r, ExportCard) for r in records)
    else:
        assert all(isinstance(r, ExportParticipant) for r in records)


def test_the_csv_holds_one_row_per_entity_and_reads_back_into_cards() -> None:
    data = written([RICH], ExportKind.BUSINESS_CARDS_CSV)
    assert data.decode("iso-8859-1").count('"iso6523-actorid-upis::0007:5567321707"') == 2
    (back,), problems, _ = read(data)
    assert problems == []
    assert back.entities == RICH.entities  # type: ignore[attr-defined]
    assert [d.uri for d in back.document_types] == [d.uri for d in RICH.document_types]  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", ["1", "2", "3"])
def test_xml_export_versions_1_to_3(version: str) -> None:
    out = io.BytesIO()
    write_cards_xml([RICH], out, version=version)
    (back,), problems, reader = read(out.getvalue())
    assert problems == []
    assert reader.header.version == version  # type: ignore[attr-defined]
    contacts = back.entities[0].contacts  # type: ignore[attr-defined]
    assert contacts[0].phone == "+46 8 123"  # v1/v2 "phonenumber", v3 "phone"
    if version == "1":
        assert back.document_types == ()  # type: ignore[attr-defined]
    else:
        assert [d.uri for d in back.document_types] == [INVOICE.uri, ODD.uri]  # type: ignore[attr-defined]
    if version == "2":
        assert back.document_types[0].state is None  # v2 says only whether it is deprecated  # type: ignore[attr-defined]
    if version == "3":
        assert back.document_types[0].state == "active"  # type: ignore[attr-defined]
        assert back.document_types[1].non_standard  # type: ignore[attr-defined]


def test_json_version_1_said_deprecated_where_version_2_gives_a_state() -> None:
    old = dataclasses.replace(INVOICE, state="deprecated")
    out = io.BytesIO()
    write_cards_json([dataclasses.replace(RICH, document_types=(old,))], out, version=1)
    assert b'"deprecated":true' in out.getvalue()
    (back,), _, _ = read(out.getvalue())
    assert back.document_types[0].state == "deprecated"  # type: ignore[attr-defined]


def test_written_xml_is_valid_against_the_directory_export_schema(refdata: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(refdata / "xsd/directory/directory-export-v3.xsd")))
    document = etree.fromstring(written(CARDS, ExportKind.BUSINESS_CARDS_XML))
    assert schema.validate(document), schema.error_log


def test_the_header_says_what_the_file_is() -> None:
    _, _, reader = read(written(CARDS, ExportKind.BUSINESS_CARDS_JSON))
    header = reader.header  # type: ignore[attr-defined]
    assert (header.format, header.content, header.version) == ("json", "cards", "2")
    assert header.declared_count == len(CARDS)
    assert header.code_list == "9.7"
    assert header.created is not None
    assert header.created.tzinfo is not None


@pytest.mark.parametrize(
    ("kind", "written_as"),
    [
        (ExportKind.BUSINESS_CARDS_XML, "2026-03-02T08:30:00.000+02:00"),
        (ExportKind.BUSINESS_CARDS_JSON, "2026-03-02T08:30:00+02:00"),
        (ExportKind.PARTICIPANTS_XML, "2026-03-02T06:30:00"),  # no offset: the Directory's UTC
    ],
)
def test_a_creation_time_in_another_zone_is_read_as_utc(kind: ExportKind, written_as: str) -> None:
    """``stats`` shows it as "... UTC": an export made at 08:30+02:00 was shown as 08:30 UTC."""
    data = written(CARDS[:3], kind)
    made = re.search(rb'creationdt"?[=:]"([^"]+)"', data)
    assert made is not None
    data = data.replace(made.group(1), written_as.encode())
    with read_export(io.BytesIO(data)) as reader:
        assert reader.header.created == datetime(2026, 3, 2, 6, 30, tzinfo=UTC)
        assert reader.header.created.utcoffset() == timedelta(0)


def test_a_participants_value_compares_case_insensitively() -> None:
    records, _, _ = read(written([card("0088:ABC123")], ExportKind.PARTICIPANTS_CSV))
    (record,) = records
    assert record.key == "iso6523-actorid-upis::0088:abc123"  # type: ignore[attr-defined]
    assert record.participant.bare == "0088:abc123"  # type: ignore[attr-defined]


# --- damage: every good record, and a clear problem for the bad part ------------------------


def test_bad_xml_in_one_card_costs_that_card_only() -> None:
    cards = [card(f"0007:55000000{i:02d}", f"Firma {i}") for i in range(30)]
    data = written(cards, ExportKind.BUSINESS_CARDS_XML).replace(b"Firma 7", b"Firma & 7")
    records, problems, _ = read(data)
    assert len(records) == 29
    (problem,) = problems
    assert problem.kind == "xml"
    assert problem.skipped
    assert problem.participant == "0007:5500000007"  # type: ignore[attr-defined]
    assert str(problem.where) == "card 8"  # type: ignore[attr-defined]


def test_a_card_in_the_wrong_encoding_is_reported_as_such() -> None:
    cards = [card(f"0007:55000000{i:02d}", f"Firma {i}") for i in range(5)]
    data = written(cards, ExportKind.BUSINESS_CARDS_XML)
    data = data.replace(b"Firma 3", "Firma 3 Åre".encode("iso-8859-1"))
    records, problems, _ = read(data)
    assert [r.participant_value for r in records] == [  # type: ignore[attr-defined]
        "0007:5500000000", "0007:5500000001", "0007:5500000002", "0007:5500000004",
    ]  # fmt: skip
    assert [p.kind for p in problems] == ["encoding"]  # type: ignore[attr-defined]


def test_json_with_a_broken_card_and_a_byte_that_is_not_utf8() -> None:
    cards = [card(f"0007:55000000{i:02d}", f"Firma {i}") for i in range(6)]
    data = written(cards, ExportKind.BUSINESS_CARDS_JSON)
    data = data.replace(b'"Firma 2"', b'"Firma 2" oops').replace(b"Firma 4", b"Firma \xff4")
    records, problems, _ = read(data)
    assert len(records) == 4
    assert sorted(p.kind for p in problems) == ["encoding", "json"]  # type: ignore[attr-defined]
    assert {p.participant for p in problems} == {  # type: ignore[attr-defined]
        "iso6523-actorid-upis::0007:5500000002",
        "iso6523-actorid-upis::0007:5500000004",
    }


def test_a_csv_row_saved_as_utf8_is_not_read_garbled() -> None:
    data = written([RICH, card("0007:5500000001")], ExportKind.BUSINESS_CARDS_CSV)
    damaged = data.replace("Müller".encode("iso-8859-1"), "Müller".encode())
    records, problems, _ = read(damaged)
    assert [p.kind for p in problems] == ["encoding"]  # type: ignore[attr-defined]
    assert "encoding='utf-8'" in problems[0].message  # type: ignore[attr-defined]
    # the other entity of the same card and the other card are still there
    assert [len(r.entities) for r in records] == [1, 1]  # type: ignore[attr-defined]
    # and a file saved as UTF-8 reads as it is with encoding="utf-8"
    utf8 = data.decode("iso-8859-1").encode("utf-8")
    (first, _), problems, _ = read(utf8, encoding="utf-8")
    assert problems == []
    assert first.name == "Müller & Söhne <AB>"  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", list(ExportKind))
def test_a_truncated_gzip_keeps_what_it_holds_and_says_it_is_cut(kind: ExportKind) -> None:
    cards = list(synthetic_cards(400, seed=2))
    packed = gzip.compress(written(cards, kind))
    records, problems, _ = read(packed[: len(packed) // 2])
    assert 0 < len(records) < len(cards)
    assert any(p.kind == "truncated" and "gzip" in p.message for p in problems)  # type: ignore[attr-defined]


def test_a_count_the_file_declares_is_checked() -> None:
    data = written(CARDS, ExportKind.PARTICIPANTS_XML)
    fewer = data.replace(f'count="{len(CARDS)}"'.encode(), f'count="{len(CARDS) + 5}"'.encode())
    _, problems, _ = read(fewer)
    (problem,) = problems
    assert problem.kind == "count"  # type: ignore[attr-defined]
    assert "5 are missing" in problem.message  # type: ignore[attr-defined]
    assert render(problem.message, "sv").endswith("5 saknas")  # type: ignore[attr-defined]


def test_a_card_too_large_to_be_real_is_skipped_at_bounded_memory() -> None:
    huge = card("0007:5500000002", "X" * (2 * MAX_RECORD_BYTES))
    cards = [card("0007:5500000001"), huge, card("0007:5500000003")]
    records, problems, _ = read(written(cards, ExportKind.BUSINESS_CARDS_XML))
    assert [r.participant_value for r in records] == ["0007:5500000001", "0007:5500000003"]  # type: ignore[attr-defined]
    assert [p.kind for p in problems] == ["size"]  # type: ignore[attr-defined]


def test_a_bad_registration_date_is_a_problem_but_keeps_the_card() -> None:
    data = written([RICH], ExportKind.BUSINESS_CARDS_XML).replace(b"2021-03-04", b"4 March")
    (back,), problems, _ = read(data)
    assert back.entities[0].registration_date is None  # type: ignore[attr-defined]
    (problem,) = problems
    assert (problem.kind, problem.skipped) == ("record", False)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "is empty"),
        (b"\x1f\x8b" + bytes(range(256)) * 4, "^nothing in the export could be read: the gzip"),
        (b"<html><body>maintenance</body></html>", "not a Peppol Directory export"),
        (b'<?xml version="1.0"?><!DOCTYPE root [<!ENTITY x "y">]><root/>', "DTDs are refused"),
        (b'{"error": "rate limited"}', "not a Peppol Directory JSON export"),
        (b"name;orgnr\nA;1\n", "not a Peppol Directory CSV export"),
        (b'<root xmlns="urn:other"/>', "no Peppol Directory export format"),
    ],
)
def test_a_file_that_is_no_export_is_refused_with_a_sentence(data: bytes, says: str) -> None:
    with pytest.raises(InvalidExport, match=says):
        read_export(io.BytesIO(data))


def test_a_path_that_is_no_file_is_named_in_the_readers_language(tmp_path: Path) -> None:
    """The operating system's "Is a directory" is English whatever the language: the usual
    reasons are catalog sentences, and a folder gets a hint (a Parquet export is a folder)."""
    with pytest.raises(InvalidExport) as folder:
        read_export(tmp_path)
    assert str(folder.value) == (
        f"{tmp_path} is a folder, not an export file: give the export file itself (a Parquet "
        "folder is read with connect() or diff_exports())"
    )
    with pytest.raises(InvalidExport) as missing:
        read_export(tmp_path / "nope.xml")
    assert str(missing.value) == f"there is no export file {tmp_path / 'nope.xml'}"
    for error in (folder.value, missing.value):
        assert "directory" not in render(error, "sv")
        assert "No such file" not in render(error, "sv")


def test_a_reader_is_read_once() -> None:
    reader = read_export(io.BytesIO(written(CARDS, ExportKind.BUSINESS_CARDS_XML)))
    assert len(list(reader)) == len(CARDS)
    with pytest.raises(InvalidExport, match="only once"):
        list(reader)


# --- properties ----------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30).map(str.strip)
NAMES = st.lists(st.builds(Name, TEXT.filter(bool), st.sampled_from([None, "sv", "en"])),
                 min_size=1, max_size=3)  # fmt: skip
ENTITIES = st.builds(
    BusinessEntity,
    NAMES.map(tuple),
    st.sampled_from(["SE", "NO", "BE", "DE"]),
    st.none() | TEXT.filter(bool),
    st.lists(st.tuples(TEXT.filter(bool), TEXT.filter(bool)), max_size=2).map(tuple),
    st.lists(TEXT.filter(bool), max_size=2).map(tuple),
    st.lists(
        st.builds(Contact, st.none() | TEXT.filter(bool), st.none() | TEXT.filter(bool)), max_size=2
    ).map(tuple),
    st.none() | TEXT.filter(bool),
    st.none() | st.dates(date(2015, 1, 1), date(2030, 12, 31)),
)
CARD = st.builds(
    ExportCard,
    st.just("iso6523-actorid-upis"),
    st.from_regex(r"\A0[0-9]{3}:[A-Za-z0-9]{1,20}\Z"),
    st.lists(ENTITIES, min_size=1, max_size=2).map(tuple),
    st.lists(st.sampled_from([INVOICE, ODD]), max_size=2, unique=True).map(tuple),
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(CARD, max_size=6), st.sampled_from([ExportKind.BUSINESS_CARDS_XML,
                                                    ExportKind.BUSINESS_CARDS_JSON]))  # fmt: skip
def test_any_cards_survive_the_round_trip(cards: list[ExportCard], kind: ExportKind) -> None:
    records, problems, _ = read(written(cards, kind))
    assert problems == []
    assert records == cards


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(ExportKind)), st.floats(0.0, 1.0), st.booleans())
def test_a_cut_file_is_never_a_silently_short_one(kind: ExportKind, where: float,
                                                   packed: bool) -> None:  # fmt: skip
    cards = list(synthetic_cards(25, seed=9))
    data = written(cards, kind)
    if packed:
        data = gzip.compress(data)
    cut = data[: int(len(data) * where)]
    if kind.format == "csv" and not packed and cut.endswith(b"\n"):
        return  # a CSV has no count and no end mark: cut at a line break it looks whole
    try:
        records, problems, _ = read(cut)
    except InvalidExport:
        return  # too little left to be an export at all: said so
    assert len(records) == len(cards) or problems, (len(records), problems)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([ExportKind.BUSINESS_CARDS_XML, ExportKind.BUSINESS_CARDS_JSON,
                        ExportKind.PARTICIPANTS_XML, ExportKind.PARTICIPANTS_JSON]),
       st.floats(0.0, 1.0), st.sampled_from([b"\xff", b"<", b"&", b"}", b'"']))  # fmt: skip
def test_damage_anywhere_costs_at_most_what_it_touches(kind: ExportKind, where: float,
                                                        junk: bytes) -> None:  # fmt: skip
    cards = list(synthetic_cards(25, seed=4))
    data = written(cards, kind)
    at = int(len(data) * where)
    damaged = data[:at] + junk + data[at:]
    try:
        records, problems, _ = read(damaged)
    except InvalidExport:
        return
    if len(records) != len(cards):
        assert problems
    assert len(records) + sum(1 for p in problems if p.skipped) >= len(cards) - 2  # type: ignore[attr-defined]


# --- flat memory -----------------------------------------------------------------------------


def _peak_reading(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        with read_export(path) as reader:
            count = sum(1 for _ in reader)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", [ExportKind.BUSINESS_CARDS_XML, ExportKind.BUSINESS_CARDS_JSON,
                                  ExportKind.BUSINESS_CARDS_CSV])  # fmt: skip
def test_memory_stays_flat_however_large_the_file(kind: ExportKind, tmp_path: Path) -> None:
    """Ten times the cards must not take ten times the memory (a reader that kept its tree or
    its records would)."""
    small, large = tmp_path / "small", tmp_path / "large"
    for path, count in ((small, 2_000), (large, 20_000)):
        with path.open("wb") as out:
            write_export(synthetic_cards(count, seed=1), kind, out)
    count_small, peak_small = _peak_reading(small)
    count_large, peak_large = _peak_reading(large)
    assert (count_small, count_large) == (2_000, 20_000)
    assert large.stat().st_size > 5 * (1 << 20)  # larger than a few reading chunks
    assert peak_large < 2.5 * peak_small, (peak_small, peak_large)
