"""Streaming readers of the CSV exports: business cards (one row per entity) and participants.

The Directory writes its CSV files in ISO-8859-1 with ``;`` between quoted fields; a field with
several values (names, identifiers, contacts, document types) holds them one per line. Rows of
one participant's entities follow each other, and are joined back into one card here.

ISO-8859-1 decodes any byte, so a file in the wrong encoding would read without an error and
with every non-ASCII name garbled. A row whose non-ASCII text is really UTF-8 (``MÃ¼ller``) is
therefore reported as an encoding problem instead of being read garbled; pass
``encoding="utf-8"`` to read a file that was re-saved as UTF-8.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from typing import Final

from peppolnet.businesscard import BusinessEntity, Contact, Name
from peppolnet.directory.export._source import ChunkSource
from peppolnet.directory.export._xml import parse_date
from peppolnet.directory.export.records import (
    CARDS,
    PARTICIPANTS,
    ExportCard,
    ExportDocumentType,
    ExportHeader,
    ExportParticipant,
    ExportProblem,
    ended_early,
)
from peppolnet.directory.export.write import CSV_COLUMNS
from peppolnet.errors import InvalidExport
from peppolnet.i18n import _

__all__ = ["DEFAULT_CSV_ENCODING", "CsvReader"]

DEFAULT_CSV_ENCODING: Final = "iso-8859-1"
_LANGUAGE: Final = re.compile(r"(.*) \(([A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})?)\)", re.DOTALL)
_SURROGATE: Final = re.compile("[\udc80-\udcff]")
#: A UTF-8 lead byte and a continuation byte, as ISO-8859-1 shows them (``Ã¼`` for ``ü``): two
#: characters that real names in ISO-8859-1 practically never put side by side.
_UTF8_IN_LATIN: Final = re.compile("[\xc2-\xf4][\x80-\xbf]")
_COLUMNS: Final = {name.lower(): index for index, name in enumerate(CSV_COLUMNS)}

Record = ExportCard | ExportParticipant


class _Chunks(io.RawIOBase):
    """The source's chunks as a readable file (what ``io.TextIOWrapper`` needs)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _lines(text: str) -> list[str]:
    return text.split("\n") if text else []


def _name(text: str) -> Name:
    match = _LANGUAGE.fullmatch(text)
    return Name(match.group(1), match.group(2)) if match else Name(text)


class CsvReader:
    """Records of a CSV export read from ``source``; problems go to ``problems``."""

    def __init__(
        self,
        source: ChunkSource,
        problems: list[ExportProblem],
        encoding: str = DEFAULT_CSV_ENCODING,
    ) -> None:
        self.source = source
        self.problems = problems
        self._latin = encoding.lower().replace("_", "-") in ("iso-8859-1", "latin-1", "latin1")
        self._text = io.TextIOWrapper(
            io.BufferedReader(_Chunks(source.chunks()), 1 << 20),
            encoding=encoding,
            errors="strict" if self._latin else "surrogateescape",
            newline="",
        )
        first = self._text.readline()
        delimiter = ";" if first.count(";") >= first.count(",") else ","
        # strict: the Directory quotes every field, so a quote left open (a file cut inside a
        # field) is an error here, not a field that runs to the end of the file
        self._last_line = first
        self._rows = csv.reader(self._lines(first), delimiter=delimiter, strict=True)
        try:
            header = [h.strip().lower() for h in next(self._rows, [])]
        except csv.Error:
            header = []
        self._width = len(header)
        if header == ["participant id"]:
            self._index: dict[str, int] = {}
            content = PARTICIPANTS
        elif header and all(name in header for name in _COLUMNS if name != "document types"):
            self._index = {name: header.index(name) for name in _COLUMNS if name in header}
            content = CARDS
        else:
            raise InvalidExport(_("{file} is not a Peppol Directory CSV export", file=source.name))
        self.header = ExportHeader("csv", content)
        self.count = 0
        self._doctypes: dict[str, ExportDocumentType] = {}

    def _lines(self, first: str) -> Iterator[str]:
        """The text's lines, remembering the last one (see :meth:`_unterminated`)."""
        for line in itertools.chain((first,), self._text):
            self._last_line = line
            yield line

    def _unterminated(self) -> None:
        """The Directory ends every row with a line break: a file that does not was cut."""
        if self._last_line and not self._last_line.endswith("\n"):
            self.problems.append(
                ended_early(
                    self.count, _("the file does not end with a line break: it may be cut off")
                )
            )

    def __iter__(self) -> Iterator[Record]:
        card: ExportCard | None = None
        for row in self._good_rows():
            if self.header.content == PARTICIPANTS:
                scheme, value = _split(row[0])
                yield ExportParticipant(scheme, value)
                continue
            scheme, value = _split(self._cell(row, "participant id"))
            if card is not None and (scheme, value) == (
                card.participant_scheme,
                card.participant_value,
            ):
                card = ExportCard(
                    scheme, value, (*card.entities, self._entity(row)), card.document_types
                )
                continue
            if card is not None:
                yield card
            card = ExportCard(scheme, value, (self._entity(row),), self._doc_types(row))
        if card is not None:
            yield card
        if self.source.problem is not None:
            self.problems.append(self.source.problem)
        else:
            self._unterminated()

    def _good_rows(self) -> Iterator[list[str]]:
        """The rows that can be read; a problem for each that cannot."""
        while True:
            try:
                row = next(self._rows)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                self.count += 1
                self._problem("csv", _("not a readable CSV row: {detail}", detail=str(exc)), None)
                continue
            if not row or not any(cell.strip() for cell in row):
                continue
            self.count += 1
            problem = self._encoding_problem(row)
            if problem is not None:
                self._problem("encoding", problem, row)
            elif len(row) < self._width:
                message = _(
                    "the row has {found} of the {expected} fields: it is cut off",
                    found=len(row),
                    expected=self._width,
                )
                self._problem("truncated", message, row)
            elif not row[0].strip():
                self._problem("record", _("the row names no participant"), row)
            else:
                yield row

    def _encoding_problem(self, row: list[str]) -> str | None:
        text = "\x00".join(row)
        if text.isascii():
            return None
        if not self._latin:
            if _SURROGATE.search(text):
                return _("bytes that are not in the file's encoding")
            return None
        if _UTF8_IN_LATIN.search(text) is None:
            return None
        return _(
            "the row is UTF-8, not ISO-8859-1 as the Directory's CSV is; read the file with "
            "encoding='utf-8' if it was saved that way"
        )

    def _cell(self, row: list[str], column: str) -> str:
        index = self._index.get(column)
        return row[index].strip() if index is not None and index < len(row) else ""

    def _entity(self, row: list[str]) -> BusinessEntity:
        cell = self._cell
        schemes, values = (
            _lines(cell(row, "identifier schemes")),
            _lines(cell(row, "identifier values")),
        )
        kinds, names, phones, emails = (
            _lines(cell(row, column))
            for column in ("contact type", "contact name", "contact phone", "contact email")
        )
        contacts = tuple(
            Contact(t or None, n or None, p or None, e or None)
            for t, n, p, e in itertools.zip_longest(kinds, names, phones, emails, fillvalue="")
        )
        registered = None
        date_text = cell(row, "registration date")
        if date_text:
            try:
                registered = parse_date(date_text)
            except ValueError:
                message = _(
                    "the registration date {text} is not a date; left empty", text=repr(date_text)
                )
                self._problem("record", message, row, skipped=False)
        return BusinessEntity(
            tuple(_name(n) for n in _lines(cell(row, "names (per-row)")) if n),
            cell(row, "country code"),
            cell(row, "geo info") or None,
            tuple(itertools.zip_longest(schemes, values, fillvalue="")),
            tuple(w for w in _lines(cell(row, "websites")) if w),
            contacts,
            cell(row, "additional info") or None,
            registered,
        )

    def _doc_types(self, row: list[str]) -> tuple[ExportDocumentType, ...]:
        found = []
        for line in _lines(self._cell(row, "document types")):
            doc = self._doctypes.get(line)
            if doc is None:
                scheme, _, value = line.partition("::")
                doc = ExportDocumentType(scheme.strip(), value.strip())
                if len(self._doctypes) < 100_000:
                    self._doctypes[line] = doc
            if doc.value:
                found.append(doc)
        return tuple(found)

    def _problem(
        self, kind: str, message: str, row: list[str] | None, *, skipped: bool = True
    ) -> None:
        who = row[0].strip() if row else None
        where = _("row {row} (line {line})", row=self.count, line=self._rows.line_num)
        self.problems.append(ExportProblem(kind, where, message, who or None, skipped))


def _split(uri: str) -> tuple[str, str]:
    scheme, sep, value = uri.strip().partition("::")
    return (scheme.strip(), value.strip()) if sep else ("iso6523-actorid-upis", scheme.strip())
