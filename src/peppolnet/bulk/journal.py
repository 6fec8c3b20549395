"""A run's typed results on disk as they arrive, so that a long run can be resumed.

A register check keeps its output file as the record of what is done (see
:mod:`peppolnet.bulk.resume`). A run that ends in tables - operator shares over a whole
Directory export, hours of polite lookups - keeps a :class:`ResultJournal` instead: one JSON
object a line, each the typed row of a result (:meth:`BulkResult.data
<peppolnet.bulk.BulkResult.data>`, times as ISO 8601), written and flushed before the next
one. After Ctrl-C, a crash or ``kill -9`` the journal holds every finished row; opened again with
``resume=True`` it says which input rows are done (:attr:`ResultJournal.done`), a line cut short
by the kill is dropped (its row is looked up again), and the tables are built from the whole
journal (:meth:`ResultJournal.rows`), the earlier run's rows included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from peppolnet.bulk.columns import from_json, to_json
from peppolnet.bulk.output import _json_lines, open_lines
from peppolnet.bulk.resume import RowSet
from peppolnet.bulk.run import BulkResult
from peppolnet.bulk.tables import cannot_write
from peppolnet.errors import InvalidInput
from peppolnet.i18n import _

__all__ = ["ResultJournal"]


class ResultJournal:
    """The journal at ``path``: a new one, or with ``resume=True`` the one there continued.

    :attr:`done` holds the row numbers already in it; :meth:`first_ids` the participant ids of
    its first rows, so that a resumed run can tell when it is given other input than the run
    that wrote the journal. Use it as a context manager.
    """

    #: How many rows' participant ids :meth:`first_ids` keeps (enough to notice other input).
    CHECKED = 1024

    def __init__(self, path: str | Path, *, resume: bool = False) -> None:
        self.path = Path(path)
        self.done = RowSet()
        self._first: dict[int, str | None] = {}
        self._fh: IO[str] | None = None
        resume = resume and self.path.is_file()
        try:
            self._fh = open_lines(self.path, resume)
        except OSError as exc:
            raise cannot_write(self.path, exc) from exc
        if resume:
            try:
                self._scan()
            except BaseException:
                self.close()
                raise

    def _scan(self) -> None:
        for data in self._lines():
            number = data["row"]
            self.done.add(number)
            if len(self._first) < self.CHECKED:
                self._first[number] = data.get("participant_id")

    def _lines(self) -> Iterator[dict[str, Any]]:
        for data in _json_lines(self.path):
            if not (isinstance(data, dict) and isinstance(data.get("row"), int)):
                raise InvalidInput(
                    _("{name!r} is not a journal of peppolnet results", name=self.path.name)
                )
            yield data

    def first_ids(self) -> dict[int, str | None]:
        """Row number -> participant id of the first rows of the journal (at most
        :attr:`CHECKED`), as it was when it was opened."""
        return dict(self._first)

    def write(self, result: BulkResult) -> None:
        """Add ``result``; it is on disk (flushed) when this returns."""
        if self._fh is None:
            raise InvalidInput(_("the journal {name!r} is closed", name=self.path.name))
        self._fh.write(json.dumps(to_json(result.data()), ensure_ascii=False) + "\n")
        self._fh.flush()
        self.done.add(result.row.number)

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every typed row in the journal (earlier runs' and this one's), in the order
        written."""
        if self._fh is not None:
            self._fh.flush()
        return (from_json(data) for data in self._lines())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> ResultJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
