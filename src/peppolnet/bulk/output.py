"""Writing results: the input row, unchanged, plus the added columns - as CSV, JSON lines or XLSX.

Every result is written and flushed as soon as it arrives, so a run that is interrupted or
killed keeps every finished row (an XLSX output keeps them in a journal until the workbook is
written). Each output row carries the input ``row`` number; :func:`read_done` reads a previous
output back so a resumed run skips those rows and appends the rest. A record half-written by a
kill is cut off on resume - for CSV by the csv module's reading of records, since a quoted field
may hold line breaks.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO, Final, Literal

from peppolnet.bulk.run import BulkResult
from peppolnet.bulk.tables import cannot_write
from peppolnet.errors import InvalidInput
from peppolnet.i18n import LANGUAGES, Message, _, parse_language, render

__all__ = [
    "ADDED_COLUMNS",
    "FORMATS",
    "OutputFormat",
    "ResultWriter",
    "added_columns",
    "csv_delimiter",
    "csv_safe",
    "format_for",
    "output_headers",
    "read_done",
]

OutputFormat = Literal["csv", "jsonl", "xlsx"]
FORMATS: Final[tuple[OutputFormat, ...]] = ("csv", "jsonl", "xlsx")
_DELIMITERS: Final = ",;\t|"
ADDED_COLUMNS: Final[tuple[str, ...]] = (
    "row",
    "participant_id",
    "verdict",
    "operator_name",
    "seat_id",
    "smp_host",
    "reason",
)

# The added columns' names as a person reads them in a written register; the English names are
# the machine names above (so English outputs keep their columns), JSON lines always use those.
_COLUMN_NAMES: Final[dict[str, Message]] = {
    # TRANSLATORS: a column of a checked customer register (CSV/XLSX): the input row's number
    "row": _("row"),
    # TRANSLATORS: a column of a checked register: the Peppol participant id found
    "participant_id": _("participant_id"),
    # TRANSLATORS: a column of a checked register: can-receive, not-registered, ...
    "verdict": _("verdict"),
    # TRANSLATORS: a column of a checked register: the receiving operator's name
    "operator_name": _("operator_name"),
    # TRANSLATORS: a column of a checked register: the operator's Peppol Seat ID (PSE000123)
    "seat_id": _("seat_id"),
    # TRANSLATORS: a column of a checked register: the host name of the participant's SMP
    "smp_host": _("smp_host"),
    # TRANSLATORS: a column of a checked register: why the verdict is what it is
    "reason": _("reason"),
}


def added_columns(language: str | None = None) -> tuple[str, ...]:
    """The names of :data:`ADDED_COLUMNS` in ``language`` (English: the names themselves)."""
    return tuple(render(_COLUMN_NAMES[name], language) for name in ADDED_COLUMNS)


def _is_check_header(header: Sequence[str]) -> bool:
    """True for the header of a check output, in any language: it has the row and verdict
    columns (a Swedish output is continued and summarised like an English one)."""
    names = set(header)
    return any({columns[0], columns[2]} <= names for columns in map(added_columns, LANGUAGES))


#: What a spreadsheet reads as the start of a formula in a CSV cell (OWASP, "CSV Injection").
_FORMULA_START: Final = frozenset("=+-@\t\r")
#: A plain number (sign, digits, one decimal point or comma): a spreadsheet reads it as a number
#: even after "+" or "-", and it has no room for a function, a reference or an operator.
_PLAIN_NUMBER: Final = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")


def _formula_like(value: str) -> bool:
    """True where ``value``, after any leading quotes, starts like a formula and is not a plain
    number. Looking past the quotes makes :func:`csv_safe` reversible (see there)."""
    bare = value.lstrip("'")
    return bare[:1] in _FORMULA_START and _PLAIN_NUMBER.fullmatch(bare) is None


#: The first characters after which a value may be formula-like (:func:`_formula_like`): any
#: other first character is safe as it is, found without a copy or a pattern per cell.
_SUSPECT_START: Final = _FORMULA_START | {"'"}


def csv_safe(value: str) -> str:
    """``value`` for a CSV cell that a spreadsheet will not run as a formula (CSV injection).

    Every cell of every CSV peppolnet writes goes through this, whatever its source: a
    register's cells are the customer's, but the SMP host comes from an unauthenticated DNS
    answer (``https://=1+2.example`` gives the host ``=1+2.example``) and the operator name from
    a certificate. Excel and LibreOffice run a cell starting with ``=``, ``+``, ``-`` or ``@``
    (or a tab or carriage return before one) as a formula - a formula can call ``HYPERLINK`` or,
    in old Excel, start a program through DDE. Such a cell gets a leading ``'``, which the
    spreadsheet shows as text (the OWASP rule): ``=1+2`` is written ``'=1+2``, ``-5+3`` as
    ``'-5+3``, ``-`` as ``'-``.

    A plain number (``-5``, ``+46701234567``, ``-12,50``) is left alone: a spreadsheet reads it
    as the number it is, with or without a formula parser, and it has no characters a payload
    needs (a letter for a function or reference, ``(``, ``|``, ``!``, a second operator).
    Prefixing it would turn a balance column into text that no longer sums.

    A value that already starts with quotes and then a formula character gets one more quote
    (``'=x`` becomes ``''=x``), so :func:`read_done` can take exactly one quote off and return
    every value as it was given. Values starting with a quote and anything else
    (``'s-Hertogenbosch``) are unchanged.
    """
    if value[:1] not in _SUSPECT_START:
        return value
    return "'" + value if _formula_like(value) else value


def _csv_value(cell: str) -> str:
    """The value :func:`csv_safe` was given for ``cell`` (its exact inverse)."""
    return cell[1:] if cell[:1] == "'" and _formula_like(cell[1:]) else cell


def format_for(path: str | Path, explicit: str | None = None) -> OutputFormat:
    """The output format: ``explicit`` if given, else from the file suffix (no suffix: csv).

    A suffix no writer knows (``out.pdf``, ``out.txt``) is refused rather than written as CSV
    under that name: it is a mistake, and it should be found before a run, not after it.
    """
    suffix = Path(path).suffix.lstrip(".")
    name = (explicit or suffix or "csv").lower()
    name = {"json": "jsonl", "ndjson": "jsonl", "xlsm": "xlsx"}.get(name, name)
    for fmt in FORMATS:
        if fmt == name:
            return fmt
    if explicit:
        raise InvalidInput(
            _(
                "unknown output format {format!r}; use one of {formats}",
                format=explicit,
                formats=", ".join(FORMATS),
            )
        )
    raise InvalidInput(
        _(
            "no writer knows the suffix of {name!r}; name the output .csv, .jsonl or .xlsx, "
            "or give its format explicitly",
            name=Path(path).name,
        )
    )


def csv_delimiter(path: str | Path) -> str | None:
    """The delimiter of a CSV check output (the one whose header has ``row`` and ``verdict``);
    None if the file is missing, empty, not a check output or its header was cut short.
    Resuming appends with it. The header is read as a CSV record, not as a line: an input
    header may hold a line break."""
    try:
        with Path(path).open("rb") as fh:
            for delimiter in _DELIMITERS:
                fh.seek(0)
                header = next(_csv_records(fh, delimiter), None)
                if header is not None and _is_check_header(header[0]):
                    return delimiter
    except OSError:
        return None
    return None


def output_headers(input_headers: Sequence[str], language: str | None = None) -> list[str]:
    """Input headers (renamed ``<name> (input)`` where they clash) followed by the added ones,
    named in ``language`` (English, the machine names, by default)."""
    added = added_columns(language)
    clashes = {name.lower() for name in added}
    renamed = [
        render(_("{column} (input)", column=h), language) if h.strip().lower() in clashes else h
        for h in input_headers
    ]
    return [*renamed, *added]


def _input_fields(headers: Sequence[str], result: BulkResult) -> Sequence[str]:
    fields = result.row.fields
    if len(fields) == len(headers):  # every row read by read_register: no copies
        return fields
    return (list(fields) + [""] * len(headers))[: len(headers)]


class ResultWriter:
    """Writes results to ``path`` in ``fmt``; ``append=True`` continues a previous output.

    ``delimiter`` separates CSV fields: ``peppolnet check`` passes the register's own, because a
    Swedish Excel opens a ``,`` file written for a ``;`` register as one column. A CSV output is
    continued with the delimiter it was written with; asking for another is an error. Every CSV
    cell (the headers too) goes through :func:`csv_safe`, so no cell runs as a formula in a
    spreadsheet; XLSX cells are stored as text and JSON lines are exact, so neither is changed.

    ``language`` names the added columns of a CSV or XLSX output and writes its reasons in that
    language (``"sv"`` or ``"en"``, the default); JSON lines keep the machine names and English.

    Every row is on disk (flushed) when :meth:`write` returns, in every format, so a process
    killed at any moment (kill -9, a crash) keeps its finished rows for ``append=True``. An
    .xlsx is a zip archive that is only readable once complete, so XLSX rows go to a journal
    next to it (``<output>.journal``, one JSON array per line) and :meth:`close` turns the
    journal into the workbook, then removes it. Until then the journal is the output:
    :func:`read_done` reads it in place of the workbook, and ``append=True`` continues it. Use
    the writer as a context manager, so that Ctrl-C still writes the workbook.
    """

    def __init__(
        self,
        path: str | Path,
        input_headers: Sequence[str],
        fmt: OutputFormat = "csv",
        *,
        append: bool = False,
        delimiter: str = ",",
        language: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.language = None if fmt == "jsonl" else language
        # English text is the messages' own str value: nothing to render per cell
        self._english = self.language is None or parse_language(self.language) == "en"
        self.input_headers = list(input_headers)
        self.headers = output_headers(self.input_headers, self.language)
        self.count = 0
        self._fh: IO[str] | None = None
        self._csv: Any = None
        self._journal: Path | None = None
        try:
            if fmt == "xlsx":  # a journal may be there without the workbook: not looked at here
                self._open_journal(append)
                return
            append = append and self.path.is_file() and self.path.stat().st_size > 0
            if fmt == "csv":
                self._open_csv(append, delimiter)
            else:
                self._fh = open_lines(self.path, append)
        except OSError as exc:
            raise cannot_write(self.path, exc) from exc

    def _open_csv(self, append: bool, delimiter: str) -> None:
        """Open a CSV output; to append, first cut what follows the last complete record (a
        record whose write was interrupted, possibly inside a quoted field with a line break)."""
        if append:
            written = csv_delimiter(self.path)
            if written is None and _last_record_end(self.path, delimiter) > 0:
                raise InvalidInput(
                    _(
                        "{name!r} is not a peppolnet check output (no 'row' and 'verdict' "
                        "columns); cannot continue it",
                        name=self.path.name,
                    )
                )
            if written is not None and written != delimiter:
                raise InvalidInput(
                    _(
                        "{name!r} was written with {written!r} between fields; continue it "
                        "with {written!r}, not {delimiter!r}",
                        name=self.path.name,
                        written=written,
                        delimiter=delimiter,
                    )
                )
            append = written is not None  # else its header was cut short: start again
        if append:
            with self.path.open("rb+") as fh:
                fh.truncate(_last_record_end(self.path, delimiter))
            self._fh = self.path.open("a", encoding="utf-8", newline="")
        else:
            self._fh = self.path.open("w", encoding="utf-8-sig", newline="")  # BOM: for Excel
        self._csv = csv.writer(self._fh, delimiter=delimiter)
        if not append:
            self._csv.writerow([csv_safe(h) for h in self.headers])
            self._fh.flush()

    def _open_journal(self, append: bool) -> None:
        """Open the journal of an XLSX output. Continuing, an existing journal is continued (it
        holds every finished row); without one, the rows of the finished workbook are copied
        into a new journal, which appears under its name only when complete."""
        try:
            import openpyxl  # type: ignore[import-untyped]  # noqa: F401 - fail before the run
        except ImportError as exc:  # pragma: no cover - openpyxl is the xlsx extra
            raise InvalidInput(
                _("writing .xlsx needs openpyxl: pip install peppolnet[xlsx]")
            ) from exc
        journal = self._journal = _journal_path(self.path)
        if append and journal.is_file():
            _cut_partial_line(journal)
            if journal.stat().st_size > 0:
                self._fh = journal.open("a", encoding="utf-8", newline="")
                return
        fresh = journal.with_name(journal.name + ".partial")
        with fresh.open("w", encoding="utf-8", newline="") as fh:
            fh.write(_journal_line(self.headers))
            if append and self.path.is_file() and self.path.stat().st_size > 0:
                with _open_workbook(self.path) as rows:
                    next(rows, None)
                    for values in rows:
                        fh.write(_journal_line(values))
        os.replace(fresh, journal)
        self._fh = journal.open("a", encoding="utf-8", newline="")

    def write(self, result: BulkResult, record: Mapping[str, str] | None = None) -> None:
        """Write one result; it is on disk (flushed) when this returns. ``record`` is the
        result's :meth:`~peppolnet.bulk.BulkResult.record` when the caller has made it."""
        if record is None:
            record = result.record()
        self.count += 1
        assert self._fh is not None
        if self.fmt == "jsonl":
            fields = _input_fields(self.input_headers, result)
            data: dict[str, Any] = {**record, "row": result.row.number}
            data["input"] = dict(zip(self.input_headers, fields, strict=True))
            self._fh.write(json.dumps(data, ensure_ascii=False) + "\n")
        else:
            added = record.values()
            shown = added if self._english else (render(v, self.language) for v in added)
            values = [*_input_fields(self.input_headers, result), *shown]
            if self.fmt == "csv":
                self._csv.writerow(list(map(csv_safe, values)))
            else:
                self._fh.write(_journal_line(values))
        self._fh.flush()

    def close(self) -> None:
        """Flush and close; for XLSX, write the workbook from the journal (through a temporary
        file, so an interrupted save leaves the previous workbook), then remove the journal."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        journal, self._journal = self._journal, None
        if journal is None:
            return
        temporary = self.path.with_name(self.path.name + ".partial")
        try:
            _save_workbook(journal, temporary)
            os.replace(temporary, self.path)
            journal.unlink()
        except OSError as exc:
            raise InvalidInput(
                _(
                    "cannot write {name!r}: {problem}; its rows are kept in {journal!r}, and "
                    "continuing the output (--resume) writes them",
                    name=str(self.path),
                    problem=exc.strerror or str(exc),
                    journal=journal.name,
                )
            ) from exc

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_lines(path: Path, append: bool) -> IO[str]:
    """``path`` opened to write lines of UTF-8 text: continued after cutting off a last line
    that an interrupted write left without its newline (``append``), or started anew."""
    if append:
        _cut_partial_line(path)
        return path.open("a", encoding="utf-8", newline="")
    return path.open("w", encoding="utf-8", newline="")


def _journal_path(path: Path) -> Path:
    """Where the rows of an XLSX output are kept until it is written: ``<output>.journal``."""
    return path.with_name(path.name + ".journal")


def _journal_line(values: Sequence[Any]) -> str:
    """One row of an XLSX journal: a JSON array (text stays exact, line breaks included; a
    date read from an existing workbook becomes its ISO text)."""
    return json.dumps(list(values), ensure_ascii=False, default=str) + "\n"


def _json_lines(path: Path) -> Iterator[Any]:
    """The JSON value of every complete line of ``path``; a line that is not JSON is skipped."""
    with path.open("rb") as fh:
        for text, _ in _lines(fh):
            try:
                yield json.loads(text)
            except ValueError:
                continue


def _journal_rows(journal: Path) -> Iterator[list[Any]]:
    """The complete rows of a journal (a last line cut short by a kill is left out)."""
    return (values for values in _json_lines(journal) if isinstance(values, list))


#: What an XLSX string cannot hold as itself: the C0 controls XML 1.0 forbids, and an "_" that
#: starts what reads as an escape (``_x0041_``), which Excel would otherwise turn into "A".
_XLSX_UNSAFE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]|_(?=x[0-9A-Fa-f]{4}_)")
_XLSX_ESCAPE: Final = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _xlsx_text(value: str) -> str:
    """``value`` in the escapes OOXML defines for strings (``_x001B_`` for ESC, ``_x005F_`` for
    an "_" that starts one), the form Excel itself writes and reads back as the character. A
    register cell or an operator name may hold a control character; openpyxl refuses it, which
    would stop the run at that row (and again at every resume)."""
    return _XLSX_UNSAFE.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


def _xlsx_value(value: Any) -> Any:
    """A cell as read from a workbook, with the OOXML escapes undone (:func:`_xlsx_text`)."""
    if isinstance(value, str) and "_x" in value:
        return _XLSX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return value


def _save_workbook(journal: Path, target: Path) -> None:
    """Write the journal's rows to the workbook ``target``, every cell as text (never a
    formula: a cell starting with "=" is marked as a string, nothing is prefixed, and control
    characters are escaped as Excel escapes them). Write-only mode streams the rows, so a large
    output does not fill memory."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("results")
    for values in _journal_rows(journal):
        row: list[Any] = []
        for value in values:
            if not isinstance(value, str):
                row.append(value)
                continue
            cell = WriteOnlyCell(sheet, value=_xlsx_text(value))
            cell.data_type = "s"  # also for "=...": text, never a formula
            row.append(cell)
        sheet.append(row)
    book.save(target)


def _cut_partial_line(path: Path) -> None:
    """Drop a last line without its newline (a write interrupted by kill -9)."""
    with path.open("rb+") as fh:
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        position = size
        while position > 0:
            step = min(65536, position)
            position -= step
            fh.seek(position)
            block = fh.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                fh.truncate(position + newline + 1)
                return
        fh.truncate(0)


@contextlib.contextmanager
def _open_workbook(path: Path) -> Iterator[Iterator[list[Any]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/... for a bad file
        raise InvalidInput(
            _("{name!r} is not a readable .xlsx: {problem}", name=path.name, problem=exc)
        ) from exc
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        yield (["" if c is None else _xlsx_value(c) for c in r] for r in rows)
    finally:
        book.close()


def read_done(path: str | Path, fmt: OutputFormat) -> Iterator[tuple[dict[str, str], list[str]]]:
    """``(added columns, input fields)`` of every row in a previous output (resume, summary).

    A missing file yields nothing. Records cut short by an interrupted write are skipped (the
    writer cuts them off when it continues the output, and their rows are checked again). CSV
    cells come back as they were given to :func:`csv_safe`. For XLSX, a journal left by a run
    that did not finish holds the rows, and is read in place of the workbook.
    """
    file = Path(path)
    if fmt == "xlsx" and _journal_path(file).is_file():
        cells = _journal_rows(_journal_path(file))
        yield from _records((["" if c is None else str(c) for c in r] for r in cells), file)
        return
    if not file.is_file():
        return
    if fmt == "jsonl":
        for data in _json_lines(file):
            if isinstance(data, dict) and "row" in data:
                fields = data.get("input")
                values = list(fields.values()) if isinstance(fields, dict) else []
                added = {k: str(data.get(k, "") or "") for k in ADDED_COLUMNS}
                yield added, [str(v) for v in values]
        return
    if fmt == "csv":
        delimiter = csv_delimiter(file) or ","
        with file.open("rb") as fh:
            rows = ([_csv_value(c) for c in r] for r, _ in _csv_records(fh, delimiter))
            yield from _records(rows, file)
        return
    with _open_workbook(file) as workbook:
        yield from _records(([str(c) for c in r] for r in workbook), file)


def written_for(path: str | Path, fmt: OutputFormat, input_headers: Sequence[str]) -> bool:
    """Whether the check output at ``path`` was written for a register with ``input_headers``
    (true too when there is no output, or no complete header or row yet, to tell).

    Resuming counts the output's rows as the register's rows by their numbers alone: an output
    of another register (a mistyped ``-o``) would be taken as done - its rows summarised as this
    register's, this register's rows never checked - so its input columns must be this
    register's, as the writer named them in any language.
    """
    file = Path(path)
    if fmt == "jsonl":
        records = _json_lines(file) if file.is_file() else iter(())
        for data in records:
            if isinstance(data, dict) and isinstance(data.get("input"), dict):
                return list(data["input"]) == list(input_headers)
        return True
    header = _first_row(file, fmt)
    if header is None or not _is_check_header(header):
        return True  # nothing to tell, or not a check output (read_done says so)
    return any(header == output_headers(input_headers, lang) for lang in LANGUAGES)


def _first_row(file: Path, fmt: OutputFormat) -> list[str] | None:
    """The header row of a CSV or XLSX check output (its journal's while it has one)."""
    if fmt == "xlsx" and _journal_path(file).is_file():
        first = next(_journal_rows(_journal_path(file)), None)
        return None if first is None else ["" if c is None else str(c) for c in first]
    if not file.is_file():
        return None
    if fmt == "csv":
        delimiter = csv_delimiter(file)
        if delimiter is None:
            return None
        with file.open("rb") as fh:
            record = next(_csv_records(fh, delimiter), None)
        return None if record is None else [_csv_value(c) for c in record[0]]
    with _open_workbook(file) as workbook:
        row = next(workbook, None)
    return None if row is None else ["" if c is None else str(c) for c in row]


def _lines(fh: BinaryIO) -> Iterator[tuple[str, int]]:
    """The lines of ``fh`` (UTF-8, a BOM at the start dropped), each with the byte offset just
    after it. A last line without its newline was cut short by an interrupted write and is left
    out: its row must be checked again, not counted as done - even when the cut left the right
    number of columns. Only ``\\n`` ends a line (``\\r\\n`` stays whole, ``\\u2028`` is text).
    """
    offset = fh.tell()
    for raw in fh:
        if not raw.endswith(b"\n"):
            return
        text = raw.decode("utf-8", errors="replace")
        if offset == 0:
            text = text.removeprefix("\ufeff")
        offset += len(raw)
        yield text, offset


def _csv_records(fh: BinaryIO, delimiter: str) -> Iterator[tuple[list[str], int]]:
    """The complete CSV records of ``fh``, each with the byte offset just after it.

    Records are read with the csv module, never by splitting lines: a quoted field may hold line
    breaks (an address or a note in the register), so a line is not a record, and a kill can
    fall after such a break - leaving a file whose last line is complete but whose last record
    is not. The csv module ends that record only at the end of the file, so a record that ends
    there is left out. A malformed record (a field over the csv module's size limit) is skipped.
    """
    end = 0
    exhausted = False

    def lines() -> Iterator[str]:
        nonlocal end, exhausted
        for text, offset in _lines(fh):
            end = offset
            yield text
        exhausted = True

    reader = csv.reader(lines(), delimiter=delimiter)
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:
            continue
        if exhausted:  # ended by the end of the file, inside a quoted field: cut short
            return
        yield values, end


def _last_record_end(path: Path, delimiter: str) -> int:
    """The byte offset just after the last complete record of a CSV file (0 if none)."""
    end = 0
    with path.open("rb") as fh:
        for _, offset in _csv_records(fh, delimiter):
            end = offset
    return end


def _records(rows: Iterator[list[str]], file: Path) -> Iterator[tuple[dict[str, str], list[str]]]:
    header = next(rows, None)
    if header is None:
        return
    if not _is_check_header(header):
        raise InvalidInput(
            _(
                "{name!r} is not a peppolnet check output (no 'row' and 'verdict' columns); "
                "cannot resume from it",
                name=file.name,
            )
        )
    width = len(header)
    start = width - len(ADDED_COLUMNS)
    for values in rows:
        if len(values) != width:
            continue  # a row cut short
        yield dict(zip(ADDED_COLUMNS, values[start:], strict=True)), values[:start]
