"""Writing results (CSV, JSON lines, XLSX), reading them back for resume, summary, chart."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from peppolnet.bulk import (
    ADDED_COLUMNS,
    INVALID_INPUT,
    BulkResult,
    RegisterRow,
    ResultWriter,
    Summary,
    csv_safe,
    format_for,
    output_headers,
    read_done,
    render_chart,
)
from peppolnet.errors import InvalidInput, MissingExtra
from peppolnet.identifiers import ParticipantId
from peppolnet.reachability import Verdict

HEADERS = ["name", "org number", "country", "verdict"]


def result(number: int, verdict: str = "not-registered", country: str = "SE") -> BulkResult:
    row = RegisterRow(
        number,
        (f"Företag {number} AB", "550912-8723", country, "=HYPERLINK(1)"),
        name=f"Företag {number} AB",
        org_number="550912-8723",
        country=country,
        candidates=(ParticipantId.parse("0007:5509128723"),),
    )
    return BulkResult(
        row, None if verdict == INVALID_INPUT else Verdict(verdict), f"reason {number}"
    )


def test_format_for() -> None:
    assert format_for("out.csv") == "csv"
    assert format_for("out.JSONL") == "jsonl"
    assert format_for("out.ndjson") == "jsonl"
    assert format_for("out.xlsx") == "xlsx"
    assert format_for("out") == "csv"
    assert format_for("out.txt", "csv") == "csv"
    assert format_for("out.csv", "xlsx") == "xlsx"
    with pytest.raises(InvalidInput, match=r"no writer knows the suffix of 'out\.pdf'"):
        format_for("out.pdf")
    with pytest.raises(InvalidInput, match="unknown output format 'pdf'"):
        format_for("out.csv", "pdf")


def test_clashing_input_headers_are_renamed() -> None:
    headers = output_headers(HEADERS)
    assert headers == ["name", "org number", "country", "verdict (input)", *ADDED_COLUMNS]
    assert len(set(headers)) == len(headers)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_round_trip_and_append(tmp_path: Path, fmt: str) -> None:
    if fmt == "xlsx":
        pytest.importorskip("openpyxl", reason="openpyxl is the xlsx extra")
    path = tmp_path / f"out.{fmt}"
    with ResultWriter(path, HEADERS, fmt) as writer:  # type: ignore[arg-type]
        writer.write(result(1, "can-receive"))
        writer.write(result(3))
    with ResultWriter(path, HEADERS, fmt, append=True) as writer:  # type: ignore[arg-type]
        writer.write(result(2, "invalid-input"))
    records = list(read_done(path, fmt))  # type: ignore[arg-type]
    assert [r["row"] for r, _ in records] == ["1", "3", "2"]
    assert [r["verdict"] for r, _ in records] == ["can-receive", "not-registered", "invalid-input"]
    assert records[2][0]["reason"] == "reason 2"
    assert records[0][0]["participant_id"] == "iso6523-actorid-upis::0007:5509128723"
    fields = records[0][1]
    assert fields[0] == "Företag 1 AB"
    assert fields[2] == "SE"


def test_csv_has_bom_once_and_header_once(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with ResultWriter(path, HEADERS, "csv") as writer:
        writer.write(result(1))
    with ResultWriter(path, HEADERS, "csv", append=True) as writer:
        writer.write(result(2))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\xef\xbb\xbf") == 1
    lines = raw.decode("utf-8-sig").splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("smp_host,reason")


def test_rows_are_on_disk_before_close(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    writer = ResultWriter(path, HEADERS, "jsonl")
    writer.write(result(7))
    line = json.loads(path.read_text(encoding="utf-8"))  # flushed, not yet closed
    assert line["row"] == 7
    assert line["input"]["name"] == "Företag 7 AB"
    writer.close()


def test_half_written_last_line_is_cut_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with ResultWriter(path, HEADERS, "csv") as writer:
        writer.write(result(1))
        writer.write(result(2))
    data = path.read_bytes()
    path.write_bytes(data[:-20])  # killed mid-write
    assert [r["row"] for r, _ in read_done(path, "csv")] == ["1"]
    with ResultWriter(path, HEADERS, "csv", append=True) as writer:
        writer.write(result(2))
    assert [r["row"] for r, _ in read_done(path, "csv")] == ["1", "2"]


def test_broken_jsonl_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with ResultWriter(path, HEADERS, "jsonl") as writer:
        writer.write(result(1))
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"row": 2, "verd')
    assert [r["row"] for r, _ in read_done(path, "jsonl")] == ["1"]


def test_resume_from_a_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a peppolnet check output"):
        list(read_done(path, "csv"))
    assert list(read_done(tmp_path / "missing.csv", "csv")) == []


def test_xlsx_cells_stay_text(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is the xlsx extra")
    path = tmp_path / "out.xlsx"
    with ResultWriter(path, HEADERS, "xlsx") as writer:
        writer.write(result(1))
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet.cell(2, 4).value == "=HYPERLINK(1)"  # as read, unchanged ...
    assert sheet.cell(2, 4).data_type == "s"  # ... and stored as text, not a formula
    assert sheet.cell(1, 5).value == "row"


def test_unwritable_output(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot write"):
        ResultWriter(tmp_path / "no" / "such" / "dir.csv", HEADERS, "csv")


def test_summary_country_without_a_country_cell_is_the_schemes() -> None:
    """A register without a country column: each row counts under its identifier's scheme's
    country; an international scheme (GLN) or no identifier at all under "??"."""
    summary = Summary()
    for pid, verdict in [
        ("iso6523-actorid-upis::0192:991825827", "can-receive"),
        ("0007:5567321707", "not-registered"),
        ("iso6523-actorid-upis::0088:7300010000001", "can-receive"),
        ("", "invalid-input"),
    ]:
        summary.add({"verdict": verdict, "participant_id": pid})
    summary.add({"verdict": "unknown", "participant_id": "0007:5567321707", "country": "fi"})
    assert {cc: dict(counts) for cc, counts in summary.countries.items()} == {
        "NO": {"can-receive": 1},
        "SE": {"not-registered": 1},
        "??": {"can-receive": 1, "invalid-input": 1},
        "FI": {"unknown": 1},  # the register's own country cell wins
    }


def test_summary_counts() -> None:
    summary = Summary()
    summary.extend([result(1, "can-receive"), result(2, "not-registered"), result(3, "unknown")])
    summary.add(
        {"verdict": "can-receive", "operator_name": "Kvittra AB", "seat_id": "PSE000102",
         "country": "no"}
    )  # fmt: skip
    assert summary.total == 4
    assert summary.verdicts == {"can-receive": 2, "not-registered": 1, "unknown": 1}
    assert summary.operators == {"unnamed operator": 1, "Kvittra AB (PSE000102)": 1}
    assert summary.share_can_receive() == 0.5
    assert summary.share_can_receive("SE") == pytest.approx(1 / 3)
    assert summary.share_can_receive("NO") == 1.0
    data = summary.to_json()
    assert data["countries"]["NO"] == {
        "total": 1,
        "verdicts": {"can-receive": 1},
        "can_receive_share": 1.0,
    }
    text = str(summary)
    assert "4 rows" in text
    assert " 50.0%" in text
    json.dumps(data)


def test_chart_without_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MissingExtra, as for the tables (docs/results-data.md), and a command a shell such as
    zsh runs as it is written: unquoted, [chart] is a glob that matches nothing."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the extra were not installed
    with pytest.raises(MissingExtra, match=r"pip install 'peppolnet\[chart\]'$"):
        render_chart(Summary().extend([result(1)]), tmp_path / "c.png")


def test_chart_suffix_is_checked(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"must be a \.png or \.svg"):
        render_chart(Summary(), tmp_path / "c.pdf")


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_chart(tmp_path: Path, suffix: str) -> None:
    summary = Summary().extend([result(1, "can-receive"), result(2, "unknown", "NO")])
    path = render_chart(summary, tmp_path / f"c.{suffix}")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == "png" else b"<svg" in data


def test_an_operator_name_with_dollars_is_drawn_as_written(tmp_path: Path) -> None:
    """Names come from certificates: "$x^2$ AB" must not start matplotlib's mathtext (which
    draws something else, and with an unbalanced or bad formula fails the whole chart)."""
    summary = Summary()
    for name in ("$\\frac{1}{$ AB", "Cash$ $x^2$ AB"):
        summary.add({"verdict": "can-receive", "operator_name": name, "seat_id": "PSE000199"})
    path = render_chart(summary, tmp_path / "c.svg")
    assert b"<svg" in path.read_bytes()


def test_a_row_cut_inside_its_last_field_is_not_counted_as_done(tmp_path: Path) -> None:
    # Regression: the cut line still had every column, so resume counted it as done while the
    # writer then dropped it - the row was lost.
    out = tmp_path / "out.csv"
    header = "name," + ",".join(ADDED_COLUMNS)
    out.write_text(
        f"{header}\r\nA,1,x,unknown,,,,why\r\nB,2,x,unknown,,,,the lookup fa", encoding="utf-8"
    )
    assert [added["row"] for added, _ in read_done(out, "csv")] == ["1"]
    out.write_text(f'{header}\r\nA,1,x,unknown,,,,"two\nlines"\r\n', encoding="utf-8")
    assert [added["reason"] for added, _ in read_done(out, "csv")] == ["two\nlines"]


# --- CSV injection -----------------------------------------------------------------------------

#: Cells a spreadsheet would run as formulas, and what the CSV must hold instead.
NEUTRALISED = {
    '=HYPERLINK("https://evil.example","click")': '\'=HYPERLINK("https://evil.example","click")',
    "+1+1": "'+1+1",
    "-2+3+cmd|' /C calc'!A0": "'-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A9)": "'@SUM(A1:A9)",
    "\t=1+2": "'\t=1+2",
    "\r=1+2": "'\r=1+2",
    "-5+3": "'-5+3",
    "-": "'-",
    "'=already quoted": "''=already quoted",  # one more quote: read back exactly
}
#: Cells left as they are: plain numbers, and anything that does not start like a formula.
UNCHANGED = ["-5", "+46701234567", "-12,50", "3.25", "'s-Hertogenbosch", "a=b", " =x", ""]


def network_result(number: int, fields: tuple[str, ...], smp_url: str, operator: str) -> BulkResult:
    """A result whose SMP host and operator name came from the network (an SML answer, a
    certificate): the values a register owner never saw."""
    from datetime import UTC, datetime

    from peppolnet.identifiers import BIS_BILLING_INVOICE
    from peppolnet.operators import Operator
    from peppolnet.reachability import Reachability, Verdict

    participant = ParticipantId.parse("0007:5509128723")
    row = RegisterRow(number, fields, candidates=(participant,))
    reachability = Reachability(
        query=str(participant),
        participant=participant,
        document_type=BIS_BILLING_INVOICE,
        process=None,
        network="sandbox",
        verdict=Verdict.CAN_RECEIVE,
        checks=(),
        at=datetime.now(UTC),
        operator=Operator("PSE000102", name=operator),
        smp_url=smp_url,
    )
    return BulkResult(row, Verdict.CAN_RECEIVE, "=1+2 as a reason", reachability)


def test_csv_safe_neutralises_formulas_and_leaves_plain_values() -> None:
    for value, written in NEUTRALISED.items():
        assert csv_safe(value) == written, value
    for value in UNCHANGED:
        assert csv_safe(value) == value, value


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_every_csv_cell_is_neutralised_whatever_its_source(tmp_path: Path, delimiter: str) -> None:
    import csv

    cells = [*NEUTRALISED, *UNCHANGED]
    headers = ["=header", *(f"column {i}" for i in range(1, len(cells)))]
    path = tmp_path / "out.csv"
    with ResultWriter(path, headers, "csv", delimiter=delimiter) as writer:
        writer.write(network_result(1, tuple(cells), "https://=1+2.example/smp", "@Evil AB"))
        writer.write(network_result(2, tuple(cells), "https://-1+2.example", "Kvittra AB"))
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh, delimiter=delimiter))
    assert header[0] == "'=header"
    expected = [NEUTRALISED.get(c, c) for c in cells]
    for row in rows:
        assert row[: len(cells)] == expected  # the register's cells
        added = dict(zip(ADDED_COLUMNS, row[len(cells) :], strict=True))
        assert added["reason"] == "'=1+2 as a reason"
    first, second = (dict(zip(ADDED_COLUMNS, r[len(cells) :], strict=True)) for r in rows)
    assert first["smp_host"] == "'=1+2.example"  # from the SML's NAPTR answer
    assert first["operator_name"] == "'@Evil AB"  # from a certificate
    assert second["smp_host"] == "'-1+2.example"
    assert second["operator_name"] == "Kvittra AB"
    # read back for --resume exactly as given, not as written
    done = list(read_done(path, "csv"))
    assert [fields for _, fields in done] == [cells, cells]
    assert done[0][0]["smp_host"] == "=1+2.example"
    assert done[0][0]["operator_name"] == "@Evil AB"


def test_jsonl_and_xlsx_keep_formula_like_values_exact(tmp_path: Path) -> None:
    cells = tuple(NEUTRALISED)
    headers = [f"c{i}" for i in range(len(cells))]
    jsonl = tmp_path / "out.jsonl"
    with ResultWriter(jsonl, headers, "jsonl") as writer:
        writer.write(network_result(1, cells, "https://=1+2.example", "@Evil AB"))
    line = json.loads(jsonl.read_text(encoding="utf-8"))
    assert list(line["input"].values()) == list(cells)
    assert line["smp_host"] == "=1+2.example"
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is the xlsx extra")
    xlsx = tmp_path / "out.xlsx"
    with ResultWriter(xlsx, headers, "xlsx") as writer:
        writer.write(network_result(1, cells, "https://=1+2.example", "@Evil AB"))
    sheet = openpyxl.load_workbook(xlsx).worksheets[0]
    values = [c.value for c in sheet[2]]
    assert values[: len(cells)] == list(cells)
    assert all(c.data_type == "s" for c in sheet[2])  # text, never a formula
    assert "=1+2.example" in values


# --- resume after a kill -------------------------------------------------------------------


def noted(number: int) -> BulkResult:
    """A result whose input row has a note with line breaks (a quoted CSV field)."""
    fields = (f"Företag {number} AB", "550912-8723", "SE", f"line one\nline two\r\nrow {number}")
    row = RegisterRow(number, fields, name=fields[0], org_number=fields[1], country="SE")
    return BulkResult(row, Verdict.NOT_REGISTERED, f"reason {number}")


def test_a_kill_inside_a_quoted_field_with_a_line_break_is_cut_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with ResultWriter(path, HEADERS, "csv", delimiter=";") as writer:
        for number in (1, 2, 3):
            writer.write(noted(number))
    data = path.read_bytes()
    cut = data.index(b"line one\n", data.index(b"retag 3 AB")) + len(b"line one\n")
    path.write_bytes(data[:cut])  # killed just after the first line break of row 3's note
    assert path.read_bytes().endswith(b"line one\n")  # the last line is complete, the record not
    assert [r["row"] for r, _ in read_done(path, "csv")] == ["1", "2"]
    with ResultWriter(path, HEADERS, "csv", append=True, delimiter=";") as writer:
        writer.write(noted(3))
        writer.write(noted(4))
    done = list(read_done(path, "csv"))
    assert [r["row"] for r, _ in done] == ["1", "2", "3", "4"]
    assert [fields[3] for _, fields in done] == [noted(n).row.fields[3] for n in (1, 2, 3, 4)]


def test_a_header_with_a_line_break_keeps_its_delimiter(tmp_path: Path) -> None:
    from peppolnet.bulk import csv_delimiter

    path = tmp_path / "out.csv"
    headers = ["Org\nnummer", "Namn"]
    with ResultWriter(path, headers, "csv", delimiter=";") as writer:
        writer.write(result(1))
    assert csv_delimiter(path) == ";"
    with ResultWriter(path, headers, "csv", append=True, delimiter=";") as writer:
        writer.write(result(2))
    assert [r["row"] for r, _ in read_done(path, "csv")] == ["1", "2"]
    path.write_bytes(path.read_bytes()[:12])  # killed while writing the header
    assert csv_delimiter(path) is None
    assert list(read_done(path, "csv")) == []
    with ResultWriter(path, headers, "csv", append=True, delimiter=";") as writer:  # starts again
        writer.write(result(3))
    assert [r["row"] for r, _ in read_done(path, "csv")] == ["3"]


def test_continuing_a_csv_that_is_not_a_check_output_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a peppolnet check output"):
        ResultWriter(path, HEADERS, "csv", append=True)
    assert path.read_text(encoding="utf-8") == "a,b\n1,2\n"


def test_xlsx_rows_survive_a_kill_in_the_journal(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is the xlsx extra")
    path = tmp_path / "out.xlsx"
    journal = tmp_path / "out.xlsx.journal"
    writer = ResultWriter(path, HEADERS, "xlsx")
    writer.write(noted(1))
    writer.write(noted(2))
    # killed here: close() never runs, so no workbook - but the rows are on disk
    assert not path.exists()
    assert [r["row"] for r, _ in read_done(path, "xlsx")] == ["1", "2"]
    writer._fh.close()  # type: ignore[union-attr]  # what the kill does to the file
    with journal.open("a", encoding="utf-8") as fh:
        fh.write('["Företag 3 AB", "550912-')  # a row cut short
    assert [r["row"] for r, _ in read_done(path, "xlsx")] == ["1", "2"]
    with ResultWriter(path, HEADERS, "xlsx", append=True) as writer:
        writer.write(noted(3))
    assert not journal.exists()
    sheet = openpyxl.load_workbook(path).worksheets[0]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    assert [r[len(HEADERS)] for r in rows] == ["1", "2", "3"]
    assert [r[3] for r in rows] == [noted(n).row.fields[3] for n in (1, 2, 3)]
    assert [r["row"] for r, _ in read_done(path, "xlsx")] == ["1", "2", "3"]


def test_a_finished_workbook_is_continued_through_a_new_journal(tmp_path: Path) -> None:
    pytest.importorskip("openpyxl", reason="openpyxl is the xlsx extra")
    path = tmp_path / "out.xlsx"
    with ResultWriter(path, HEADERS, "xlsx") as writer:
        writer.write(result(1))
    writer = ResultWriter(path, HEADERS, "xlsx", append=True)
    writer.write(result(2))
    # killed: the journal holds the workbook's rows and the new one; the workbook is as it was
    assert [r["row"] for r, _ in read_done(path, "xlsx")] == ["1", "2"]
    writer.close()
    assert [r["row"] for r, _ in read_done(path, "xlsx")] == ["1", "2"]
    # a new run (not continued) starts a new journal and replaces the workbook
    with ResultWriter(path, HEADERS, "xlsx") as writer:
        writer.write(result(5))
    assert [r["row"] for r, _ in read_done(path, "xlsx")] == ["5"]


def test_a_workbook_that_cannot_be_saved_keeps_its_journal(tmp_path: Path) -> None:
    pytest.importorskip("openpyxl", reason="openpyxl is the xlsx extra")
    path = tmp_path / "out.xlsx"
    writer = ResultWriter(path, HEADERS, "xlsx")
    writer.write(result(1))
    path.mkdir()  # the workbook cannot replace a folder
    with pytest.raises(InvalidInput, match=r"kept in 'out\.xlsx\.journal'"):
        writer.close()
    path.rmdir()
    assert [r["row"] for r, _ in read_done(path, "xlsx")] == ["1"]
    with ResultWriter(path, HEADERS, "xlsx", append=True):
        pass
    assert [r["row"] for r, _ in read_done(path, "xlsx")] == ["1"]


def bare_result(number: int, fields: tuple[str, ...]) -> BulkResult:
    return BulkResult(RegisterRow(number, fields), None, "no id")


def test_xlsx_cells_with_control_characters_are_written_and_read_back_exactly(
    tmp_path: Path,
) -> None:
    # openpyxl refuses C0 controls in a cell, which stopped a run at such a row (and every
    # resume after it); OOXML's own escapes store them, as Excel does.
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is the xlsx extra")
    path = tmp_path / "out.xlsx"
    cells = ("Evil\x1b[31m AB", "line\x0bbreak\x00", "_x0041_ is not A", "=1+2")
    with ResultWriter(path, [f"c{i}" for i in range(len(cells))], "xlsx") as writer:
        writer.write(bare_result(1, cells))
    raw = [c.value for c in openpyxl.load_workbook(path).worksheets[0][2]]
    assert raw[:4] == [
        "Evil_x001B_[31m AB",
        "line_x000B_break_x0000_",
        "_x005F_x0041_ is not A",
        "=1+2",
    ]
    assert [fields for _, fields in read_done(path, "xlsx")] == [list(cells)]
    with ResultWriter(path, [f"c{i}" for i in range(len(cells))], "xlsx", append=True) as writer:
        writer.write(bare_result(2, cells))  # the first row goes through a new journal
    assert [fields for _, fields in read_done(path, "xlsx")] == [list(cells), list(cells)]


def test_summary_orders_equal_counts_the_same_whatever_finished_first() -> None:
    """A concurrent run counts its rows in the order the lookups finish: with equal counts
    the report, its JSON and its table rows must not depend on that order."""
    rows = [
        {"verdict": "invalid-input", "country": "SE"},
        {"verdict": "cannot-receive", "country": "SE"},
        {"verdict": "can-receive", "operator_name": "Sundnet ApS", "seat_id": "PDK000104"},
        {"verdict": "can-receive", "operator_name": "Fjordpost AS", "seat_id": "PNO000101"},
        {"verdict": "not-registered", "country": "SE"},
        {"verdict": "not-registered", "country": "SE"},
    ]
    forward, backward = Summary(), Summary()
    for row in rows:
        forward.add(row)
    for row in reversed(rows):
        backward.add(row)
    assert forward.lines() == backward.lines()
    assert list(forward.to_json()["verdicts"]) == list(backward.to_json()["verdicts"])
    assert list(forward.rows()) == list(backward.rows())
    assert list(forward.to_json()["verdicts"]) == [
        "can-receive", "not-registered", "cannot-receive", "invalid-input"
    ]  # fmt: skip
    assert list(forward.to_json()["operators"]) == [
        "Fjordpost AS (PNO000101)", "Sundnet ApS (PDK000104)"
    ]  # fmt: skip
