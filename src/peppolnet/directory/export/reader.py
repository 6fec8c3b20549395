"""Reading any Directory export file: the format is told from the content, never the name.

:func:`read_export` opens a file (plain or gzip), looks at its first bytes - ``<`` is XML,
``{`` is JSON, anything else CSV - and hands back an :class:`ExportReader`: iterate it once
for the records (:class:`~peppolnet.directory.export.records.ExportCard` for the business card
files, :class:`~peppolnet.directory.export.records.ExportParticipant` for the participants
lists); afterwards :attr:`ExportReader.problems` lists every part that could not be read and
:attr:`ExportReader.header` what the file said about itself.

A short read is never silent: a file that declares how many participants it holds (JSON, the
participants XML) is checked against what was read, and a file that ends early says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from peppolnet._logging import logger
from peppolnet.directory.export._csv import DEFAULT_CSV_ENCODING, CsvReader
from peppolnet.directory.export._json import JsonReader
from peppolnet.directory.export._source import ChunkSource
from peppolnet.directory.export._xml import XmlReader
from peppolnet.directory.export.records import (
    ExportCard,
    ExportHeader,
    ExportParticipant,
    ExportProblem,
)
from peppolnet.errors import InvalidExport
from peppolnet.i18n import _

__all__ = ["ExportReader", "read_export"]

_log = logger(__name__)


class ExportReader:
    """The records of one export file, read as they are iterated (once).

    ``problems`` fills as the file is read; ``complete`` is True once the whole file has been
    read; ``records`` counts what was yielded. Close it (or use ``with``) to close the file.
    """

    def __init__(self, source: ChunkSource, reader: XmlReader | JsonReader | CsvReader) -> None:
        self._source = source
        self._reader = reader
        self.problems: list[ExportProblem] = reader.problems
        self.records = 0
        self.complete = False
        self._started = False

    @property
    def header(self) -> ExportHeader:
        """What the file says about itself (JSON may add to it after its array: read it after
        iterating for the last word)."""
        return self._reader.header

    @property
    def format(self) -> str:
        return self.header.format

    @property
    def skipped(self) -> int:
        """Records that could not be read (each one is a problem)."""
        return sum(1 for p in self.problems if p.skipped)

    def __iter__(self) -> Iterator[ExportCard | ExportParticipant]:
        if self._started:
            raise InvalidExport(
                _("an export reader can be iterated only once; read the file again")
            )
        self._started = True
        try:
            for record in self._reader:
                self.records += 1
                yield record
            self._check_count()
            self.complete = True
            _log.debug(
                "read %s records from a %s export, %s problems",
                self.records,
                self.format,
                len(self.problems),
            )
        finally:
            self._source.close()

    def _check_count(self) -> None:
        declared = self.header.declared_count
        seen = self._reader.count
        if declared is not None and seen < declared:
            self.problems.append(
                ExportProblem(
                    "count",
                    _("the whole file"),
                    _(
                        "the file declares {declared} participants but holds {seen}: "
                        "{missing} are missing",
                        declared=declared,
                        seen=seen,
                        missing=declared - seen,
                    ),
                    skipped=False,  # a summary: the records themselves are named above
                )
            )

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> ExportReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _unopenable(file: str, exc: OSError) -> str:
    """Why ``file`` could not be opened, in the reader's language: the usual three as catalog
    sentences (the operating system's own words are English whatever the language)."""
    if isinstance(exc, IsADirectoryError):
        return _(
            "{file} is a folder, not an export file: give the export file itself (a Parquet "
            "folder is read with connect() or diff_exports())",
            file=file,
        )
    if isinstance(exc, FileNotFoundError):
        return _("there is no export file {file}", file=file)
    if isinstance(exc, PermissionError):
        return _("{file} may not be read (no permission)", file=file)
    return _("cannot read the export {file}: {detail}", file=file, detail=exc.strerror or str(exc))


def read_export(file: str | Path | BinaryIO, *, encoding: str | None = None) -> ExportReader:
    """A reader for an export file (a path or a binary file object; plain or gzip).

    ``encoding`` is for CSV files only (ISO-8859-1 by default, as the Directory writes them).
    Raises :class:`~peppolnet.errors.InvalidExport` for a file that is not a Directory export at
    all, and ``InvalidInput`` for one that cannot be opened; a damaged *part* of an export is a
    problem on the reader, never an exception.
    """
    try:
        source = ChunkSource(file)
    except OSError as exc:
        raise InvalidExport(_unopenable(str(file), exc)) from None
    try:
        head = source.peek().lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head:
            problem = source.problem
            if problem is not None:  # not empty: nothing in it could be read
                raise InvalidExport(
                    _(
                        "nothing in {file} could be read: {detail}",
                        file=source.name,
                        detail=problem.message,
                    )
                )
            raise InvalidExport(_("{file} is empty", file=source.name))
        reader: XmlReader | JsonReader | CsvReader
        if head[:1] == b"<":
            reader = XmlReader(source, [])
        elif head[:1] == b"{":
            reader = JsonReader(source, [])
        else:
            reader = CsvReader(source, [], encoding or DEFAULT_CSV_ENCODING)
    except BaseException:
        source.close()
        raise
    return ExportReader(source, reader)
