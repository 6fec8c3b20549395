"""Writing results: the input row, unchanged, plus the added columns - as CSV, JSON lines or XLSX.

Every result is written (and, for CSV and JSON lines, flushed) as soon as it arrives, so an
interrupted run keeps every finished row. Each output row carries the input ``row`` number;
:func:`read_done` reads a previous output back so a resumed run skips those rows and appends
the rest. A half-written last line (the process was killed mid-write) is cut off on resume.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import importlib
import io
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO, Final, Literal

from peppolnet.bulk.run import BulkResult
from peppolnet.errors import InvalidInput

__all__ = [
    "ADDED_COLUMNS",
    "FORMATS",
    "OutputFormat",
    "ResultWriter",
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
        raise InvalidInput(f"unknown output format {explicit!r}; use one of {', '.join(FORMATS)}")
    raise InvalidInput(
        f"no writer knows the suffix of {Path(path).name!r}; name the output .csv, .jsonl or "
        ".xlsx, or give its format explicitly"
    )


def csv_delimiter(path: str | Path) -> str | None:
    """The delimiter of a CSV check output (the one whose header has ``row`` and ``verdict``);
    None if the file is missing, empty or not a check output. Resuming appends with it."""
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as fh:
            header = fh.readline()
    except (OSError, UnicodeDecodeError):
        return None
    for delimiter in _DELIMITERS:
        fields = next(csv.reader([header], delimiter=delimiter), [])
        if "row" in fields and "verdict" in fields:
            return delimiter
    return None


def output_headers(input_headers: Sequence[str]) -> list[str]:
    """Input headers (renamed ``<name> (input)`` where they clash) followed by the added ones."""
    renamed = [f"{h} (input)" if h.strip().lower() in ADDED_COLUMNS else h for h in input_headers]
    return [*renamed, *ADDED_COLUMNS]


def _input_fields(headers: Sequence[str], result: BulkResult) -> list[str]:
    fields = list(result.row.fields)
    return (fields + [""] * len(headers))[: len(headers)]


class ResultWriter:
    """Writes results to ``path`` in ``fmt``; ``append=True`` continues a previous output.

    ``delimiter`` separates CSV fields: ``peppolnet check`` passes the register's own, because a
    Swedish Excel opens a ``,`` file written for a ``;`` register as one column. A CSV output is
    continued with the delimiter it was written with; asking for another is an error. Every CSV
    cell (the headers too) goes through :func:`csv_safe`, so no cell runs as a formula in a
    spreadsheet; XLSX cells are stored as text and JSON lines are exact, so neither is changed.

    Use as a context manager; :meth:`close` is what saves an XLSX workbook, so it must run even
    on Ctrl-C (the ``with`` block sees to that).
    """

    def __init__(
        self,
        path: str | Path,
        input_headers: Sequence[str],
        fmt: OutputFormat = "csv",
        *,
        append: bool = False,
        delimiter: str = ",",
    ) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.input_headers = list(input_headers)
        self.headers = output_headers(self.input_headers)
        self.count = 0
        self._fh: IO[str] | None = None
        self._csv: Any = None
        self._book: Any = None
        self._sheet: Any = None
        append = append and self.path.is_file() and self.path.stat().st_size > 0
        if append and fmt == "csv":
            written = csv_delimiter(self.path) or ","
            if written != delimiter:
                raise InvalidInput(
                    f"{self.path.name!r} was written with {written!r} between fields; "
                    f"continue it with {written!r}, not {delimiter!r}"
                )
        try:
            if fmt == "xlsx":
                self._open_xlsx(append)
            elif append:
                _cut_partial_line(self.path)
                self._fh = self.path.open("a", encoding="utf-8", newline="")
            else:
                encoding = "utf-8-sig" if fmt == "csv" else "utf-8"  # BOM: Excel reads UTF-8
                self._fh = self.path.open("w", encoding=encoding, newline="")
        except OSError as exc:
            raise InvalidInput(f"cannot write {str(self.path)!r}: {exc.strerror}") from exc
        if fmt == "csv":
            assert self._fh is not None
            self._csv = csv.writer(self._fh, delimiter=delimiter)
            if not append:
                self._csv.writerow([csv_safe(h) for h in self.headers])
                self._fh.flush()

    def _open_xlsx(self, append: bool) -> None:
        try:
            import openpyxl  # type: ignore[import-untyped]
        except ImportError as exc:  # pragma: no cover - openpyxl is the xlsx extra
            raise InvalidInput("writing .xlsx needs openpyxl: pip install peppolnet[xlsx]") from exc
        self._book = openpyxl.Workbook(write_only=True)
        self._sheet = self._book.create_sheet("results")
        self._sheet.append(self.headers)
        if append:  # an .xlsx cannot be appended to: copy the finished rows into the new book
            with _open_workbook(self.path) as rows:
                next(rows, None)
                for values in rows:
                    self._sheet.append(values)

    def write(self, result: BulkResult) -> None:
        """Write one result (flushed at once for CSV and JSON lines)."""
        record = result.record()
        self.count += 1
        if self.fmt == "jsonl":
            assert self._fh is not None
            fields = _input_fields(self.input_headers, result)
            data: dict[str, Any] = {**record, "row": result.row.number}
            data["input"] = dict(zip(self.input_headers, fields, strict=True))
            self._fh.write(json.dumps(data, ensure_ascii=False) + "\n")
            self._fh.flush()
            return
        values = [*_input_fields(self.input_headers, result), *record.values()]
        if self.fmt == "csv":
            self._csv.writerow([csv_safe(v) for v in values])
            assert self._fh is not None
            self._fh.flush()
        else:
            self._sheet.append([self._xlsx_cell(v) for v in values])

    def _xlsx_cell(self, value: str) -> Any:
        """The value as it was read, always stored as text: a cell starting with "=" becomes a
        text cell, never a formula (spreadsheet injection), and nothing is prefixed or changed.
        """
        if not value.startswith("="):
            return value
        cell = importlib.import_module("openpyxl.cell").WriteOnlyCell(self._sheet, value=value)
        cell.data_type = "s"
        return cell

    def close(self) -> None:
        """Flush and close; saves the workbook for XLSX (through a temporary file)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._book is not None:
            book, self._book = self._book, None
            temporary = self.path.with_name(self.path.name + ".partial")
            try:
                book.save(temporary)
                os.replace(temporary, self.path)
            except OSError as exc:
                raise InvalidInput(f"cannot write {str(self.path)!r}: {exc.strerror}") from exc

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        raise InvalidInput(f"{path.name!r} is not a readable .xlsx: {exc}") from exc
    try:
        sheet = book.worksheets[0]
        yield (["" if c is None else c for c in r] for r in sheet.iter_rows(values_only=True))
    finally:
        book.close()


def read_done(path: str | Path, fmt: OutputFormat) -> Iterator[tuple[dict[str, str], list[str]]]:
    """``(added columns, input fields)`` of every row in a previous output (resume, summary).

    A missing file yields nothing. Lines cut short by an interrupted write are skipped.
    """
    file = Path(path)
    if not file.is_file():
        return
    if fmt == "jsonl":
        with file.open("rb") as fh:
            for line in _complete_lines(fh, "utf-8"):
                try:
                    data = json.loads(line)
                except ValueError:
                    continue
                if isinstance(data, dict) and "row" in data:
                    fields = data.get("input")
                    values = list(fields.values()) if isinstance(fields, dict) else []
                    added = {k: str(data.get(k, "") or "") for k in ADDED_COLUMNS}
                    yield added, [str(v) for v in values]
        return
    if fmt == "csv":
        delimiter = csv_delimiter(file) or ","
        with file.open("rb") as fh:
            lines = _complete_lines(fh, "utf-8-sig")
            cells = csv.reader(lines, delimiter=delimiter)
            yield from _records(([_csv_value(c) for c in r] for r in cells), file)
        return
    with _open_workbook(file) as rows:
        yield from _records(([str(c) for c in r] for r in rows), file)


def _complete_lines(fh: BinaryIO, encoding: str) -> Iterator[str]:
    """The lines of ``fh`` up to its last newline: a last line without one was cut short by an
    interrupted write, and its row must be checked again (the writer drops it on append), not
    counted as done - even when the cut left the right number of columns.
    """
    fh.seek(0, io.SEEK_END)
    end = fh.tell()
    while end > 0:
        step = min(65536, end)
        fh.seek(end - step)
        block = fh.read(step)
        newline = block.rfind(b"\n")
        if newline >= 0:
            end = end - step + newline + 1
            break
        end -= step
    fh.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    remaining = end
    pending = ""
    while remaining > 0:
        chunk = fh.read(min(65536, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        pending += decoder.decode(chunk, final=remaining <= 0)
        *lines, pending = pending.split("\n")  # only "\n" ends a line ("\r\n" stays whole)
        yield from (line + "\n" for line in lines)
    if pending:
        yield pending


def _records(rows: Iterator[list[str]], file: Path) -> Iterator[tuple[dict[str, str], list[str]]]:
    header = next(rows, None)
    if header is None:
        return
    if "row" not in header or "verdict" not in header:
        raise InvalidInput(
            f"{file.name!r} is not a peppolnet check output (no 'row' and 'verdict' columns); "
            "cannot resume from it"
        )
    width = len(header)
    start = width - len(ADDED_COLUMNS)
    for values in rows:
        if len(values) != width:
            continue  # a row cut short
        yield dict(zip(ADDED_COLUMNS, values[start:], strict=True)), values[:start]
