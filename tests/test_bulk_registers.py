"""Reading customer registers: CSV dialects and encodings, XLSX, headers, malformed rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peppolnet.bulk import detect_columns, detect_encoding, read_register
from peppolnet.errors import InvalidInput

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "customers.csv"

SWEDISH = (
    "Företagsnamn;Organisationsnummer;Land;E-post\n"
    "Fjällräv Konsult AB;550912-8723;SE;ekonomi@fjallrav.example\n"
    "Solberg Rør AS;933215385;NO;ekonomi@solberg.example\n"
)


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "r.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_swedish_register_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    register = read_register(write(tmp_path, SWEDISH, encoding))
    rows = list(register)
    assert register.delimiter == ";"
    assert register.headers[0] == "Företagsnamn"  # no BOM left in the first header
    assert [r.name for r in rows] == ["Fjällräv Konsult AB", "Solberg Rør AS"]
    assert [r.country for r in rows] == ["SE", "NO"]
    assert rows[0].email == "ekonomi@fjallrav.example"
    assert rows[0].candidates[0].bare == "0007:5509128723"
    assert rows[1].candidates[0].bare == "0192:933215385"


def test_detect_encoding(tmp_path: Path) -> None:
    assert detect_encoding(write(tmp_path, SWEDISH, "utf-8-sig")) == "utf-8-sig"
    assert detect_encoding(write(tmp_path, SWEDISH, "cp1252")) == "cp1252"
    # 0x81 is undefined in Windows-1252: only Latin-1 reads it
    path = tmp_path / "odd.csv"
    path.write_bytes(b"name,orgnr\n\x81x,5509128723\n")
    assert detect_encoding(path) == "latin-1"


def test_utf8_break_far_into_the_file_is_found(tmp_path: Path) -> None:
    body = "name,orgnr,country\n" + "A AB,550912-8723,SE\n" * 70_000
    path = tmp_path / "late.csv"
    path.write_bytes(body.encode() + "Göta AB,550912-8723,SE\n".encode("cp1252"))
    register = read_register(path)
    assert register.encoding == "cp1252"
    assert list(register)[-1].name == "Göta AB"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters(tmp_path: Path, delimiter: str) -> None:
    text = f"name{delimiter}participant id\nA, B and C{delimiter}0007:5509128723\n"
    if delimiter == ",":
        text = 'name,participant id\n"A, B and C",0007:5509128723\n'
    rows = list(read_register(write(tmp_path, text)))
    assert rows[0].name == "A, B and C"
    assert rows[0].participant_id == "0007:5509128723"


def test_header_aliases() -> None:
    headers = ["Company Name", "ORGNR", "country_code", "e-mail", "Peppol ID"]
    assert detect_columns(headers) == {
        "name": 0,
        "org_number": 1,
        "country": 2,
        "email": 3,
        "participant_id": 4,
    }


def test_user_mapping_wins_and_bad_mapping_is_named() -> None:
    headers = ["Kund", "Nummer", "Land"]
    assert detect_columns(headers, {"org_number": "nummer", "name": "Kund"}) == {
        "country": 2,
        "org_number": 1,
        "name": 0,
    }
    with pytest.raises(InvalidInput, match="no column 'VAT'"):
        detect_columns(headers, {"org_number": "VAT"})
    with pytest.raises(InvalidInput, match="unknown column role 'colour'"):
        detect_columns(headers, {"colour": "Kund"})


def test_default_country(tmp_path: Path) -> None:
    path = write(tmp_path, "name,orgnr\nA AB,550912-8723\n")
    row = next(iter(read_register(path)))
    assert row.problem is not None
    assert "no country" in row.problem
    row = next(iter(read_register(path, default_country="se")))
    assert row.problem is None
    assert row.country == "SE"


def test_malformed_rows_are_kept_with_a_problem(tmp_path: Path) -> None:
    text = (
        "name,org number,country\n"
        "Good AB,550912-8723,SE\n"
        "\n"  # blank line: not a row
        "No Number AB,,SE\n"
        "Bad Digits AB,550912-8724,SE\n"
        "Too Many,550912-8723,SE,extra\n"
        "Short\n"
        "Bad Country,550912-8723,ATLANTIS\n"
    )
    rows = list(read_register(write(tmp_path, text)))
    assert [r.number for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].problem is None
    assert "neither a participant id nor an organisation number" in (rows[1].problem or "")
    assert "550912-8724" in (rows[2].problem or "")
    assert "4 fields" in (rows[3].problem or "")
    assert rows[4].fields == ("Short", "", "")
    assert rows[4].problem is not None
    assert "ATLANTIS" in (rows[5].problem or "")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_quote_left_open_does_not_swallow_the_rows_after_it(tmp_path: Path, newline: str) -> None:
    """A name whose quote is never closed: the lenient reader made one record of it and every
    line up to the next quote, so those customers vanished into one cell. Each line is a row."""
    lines = [
        "name,participant id",
        '"Kvarnström & Dotter AB,0007:5567321707',  # the quote is never closed
        "Good AB,0007:5584821341",
        'Other "Name" AB,0192:991825827',  # the quote the open field would have ended at
        "Last AB,0007:5567321707",
        '"Open At The End AB,0007:5584821341',
    ]
    rows = list(read_register(write(tmp_path, newline.join(lines) + newline)))
    assert [r.number for r in rows] == [1, 2, 3, 4, 5]
    assert [r.name for r in rows][1:4] == ["Good AB", 'Other "Name" AB', "Last AB"]
    assert [r.participant_id for r in rows][1:4] == [
        "0007:5584821341",
        "0192:991825827",
        "0007:5567321707",
    ]
    for broken in (rows[0], rows[4]):  # kept, with what was on the line, and a problem
        assert broken.problem is not None
        assert "AB,0007:" in broken.fields[0]


def test_quotes_the_reader_always_understood_still_read(tmp_path: Path) -> None:
    """A stray quote on one line and a quoted field over two lines read as before."""
    text = (
        '"company" name,participant id,address\n'
        '"Dotter" AB,0007:5567321707,Gatan 1\n'
        'Two Lines AB,0007:5584821341,"Gatan 2\nStaden"\n'
        "After AB,0192:991825827,Gatan 3\n"
    )
    opened = read_register(write(tmp_path, text))
    assert opened.headers[0] == "company name"
    rows = list(opened)
    assert [r.name for r in rows] == ["Dotter AB", "Two Lines AB", "After AB"]
    assert rows[1].fields[2] == "Gatan 2\nStaden"
    assert all(r.problem is None for r in rows)


def test_row_shapes_each_path_of_the_reader_takes(tmp_path: Path) -> None:
    """Rows as wide as the header, with empty cells past it, blank but for spaces, and with a
    field too long to be a value: each read as before the reader's fast path for a row of
    the header's width."""
    long = "x" * 10_001
    text = (
        "name,org number,country\n"
        " , ,\t\n"  # only whitespace: not a row
        "Good AB,550912-8723,SE,,\n"  # empty cells past the header are no extra fields
        f"{long},550912-8723,SE\n"
        "Exact AB, 550912-8723 ,SE\n"
    )
    rows = list(read_register(write(tmp_path, text)))
    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[0].fields == ("Good AB", "550912-8723", "SE")
    assert rows[0].problem is None
    assert "longer than 10000 characters" in (rows[1].problem or "")
    assert rows[2].fields == ("Exact AB", " 550912-8723 ", "SE")
    assert rows[2].org_number == "550912-8723"
    assert rows[2].problem is None


def test_participant_id_column_wins_over_org_number(tmp_path: Path) -> None:
    text = "name,orgnr,country,participant id\nA,550912-8723,SE,9925:BE0425738938\nB,,,nonsense\n"
    rows = list(read_register(write(tmp_path, text)))
    assert [c.bare for c in rows[0].candidates] == ["9925:be0425738938"]
    assert rows[1].problem is not None
    assert "nonsense" in rows[1].problem


def test_register_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        read_register(tmp_path / "missing.csv")
    with pytest.raises(InvalidInput, match="is empty"):
        read_register(write(tmp_path, "\n\n"))
    with pytest.raises(InvalidInput, match="no participant id column"):
        read_register(write(tmp_path, "name,phone\nA,1\n"))
    with pytest.raises(InvalidInput, match=r"not a readable \.xlsx"):
        read_register(write(tmp_path, "not a zip", name="r.xlsx"))


def test_fixture_register() -> None:
    rows = list(read_register(FIXTURE))
    assert len(rows) == 42
    assert all(r.number == i for i, r in enumerate(rows, start=1))
    assert [r.number for r in rows if r.problem is not None][-4:] == [39, 40, 41, 42]
    assert sum(r.problem is None for r in rows) >= 37


def test_xlsx_register(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is the xlsx extra")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([None])
    sheet.append(["Företagsnamn", "Orgnr", "Land"])
    sheet.append(["Fjällräv Konsult AB", "550912-8723", "SE"])
    sheet.append(["Solberg Rør AS", 933215385, "NO"])  # numbers typed as numbers
    sheet.append([None, None, None])
    sheet.append(["Tom AB", None, "SE"])
    path = tmp_path / "r.xlsx"
    book.save(path)
    rows = list(read_register(path))
    assert [r.name for r in rows] == ["Fjällräv Konsult AB", "Solberg Rør AS", "Tom AB"]
    assert rows[1].org_number == "933215385"
    assert rows[1].candidates[0].bare == "0192:933215385"
    assert rows[2].problem is not None


cell = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).filter(
    lambda s: s == s.strip()
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=8),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig"]),
)
def test_any_table_reads_back(
    tmp_path: Path, rows: list[list[str]], delimiter: str, encoding: str
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_ALL)
    writer.writerow(["name", "participant id", "note"])
    writer.writerows(rows)
    path = tmp_path / "prop.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))
    read = list(read_register(path, delimiter=delimiter))
    kept = [r for r in rows if any(c.strip() for c in r)]
    assert [list(r.fields) for r in read] == kept
    for row in read:  # every row is either lookable or says why not
        assert (row.problem is None) == bool(row.candidates)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.lists(st.text("abcXYZ019 .-", min_size=1, max_size=8), min_size=3, max_size=3),
        min_size=1,
        max_size=8,
    ),
    damaged=st.integers(min_value=0, max_value=7),
    delimiter=st.sampled_from([",", ";"]),
)
def test_a_quote_left_open_loses_no_row(
    tmp_path: Path, rows: list[list[str]], damaged: int, delimiter: str
) -> None:
    """One row's first cell opens a quote that nothing closes: still one row per line, and
    every other row exactly as written."""
    damaged %= len(rows)
    lines = ["name" + delimiter + "participant id" + delimiter + "note"]
    lines += [delimiter.join(row) for row in rows]
    lines[1 + damaged] = '"' + lines[1 + damaged]
    path = tmp_path / "damaged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read = list(read_register(path, delimiter=delimiter))
    kept = [i for i, row in enumerate(rows) if i == damaged or any(c.strip() for c in row)]
    assert len(read) == len(kept)
    for row, i in zip(read, kept, strict=True):
        if i != damaged:
            assert list(row.fields) == rows[i]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(
    body=st.lists(st.text('ab1",;\r ', max_size=12), min_size=1, max_size=10),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_quotes_anywhere_read_without_losing_a_line(
    tmp_path: Path, body: list[str], newline: str
) -> None:
    """Quotes, delimiters and line ends anywhere (the strict reader refusing records, the lines
    read again): the reader never fails, numbers its rows from 1 without a gap, never makes
    more rows than there are lines, and without quotes makes exactly one per line with a
    value."""
    path = tmp_path / "quotes.csv"
    path.write_text(newline.join(["name,participant id", *body]) + newline, encoding="utf-8")
    rows = list(read_register(path, delimiter=","))
    assert [row.number for row in rows] == list(range(1, len(rows) + 1))
    lines = "\n".join(body).replace("\r", "\n").split("\n")
    assert len(rows) <= sum(1 for line in lines if line.strip())
    if '"' not in "".join(body):
        assert len(rows) == sum(1 for line in lines if line.replace(",", "").strip())


def test_a_register_refused_or_abandoned_leaves_no_file_open(tmp_path: Path) -> None:
    """A register without usable columns, or one closed unread, closes its file at once."""
    import gc
    import warnings

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("name,participant id\nA,0007:5567321707\n", encoding="utf-8")
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InvalidInput, match="no participant id column"):
            read_register(bad)
        read_register(good).close()
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
