"""A run's results kept together: a list that is also a table.

:func:`~peppolnet.bulk.check_many` streams its results (a register may have millions of rows);
a notebook usually wants them together, as a table to look at, filter and count.
``BulkResults(check_many(...))`` is that: a sequence of :class:`~peppolnet.bulk.BulkResult`
(indexing, slicing, ``len``, iteration work as on the list it holds) with ``to_arrow()``,
``to_pandas()``, ``to_parquet(path)``, :meth:`summary` and a table in a notebook.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, overload

from peppolnet.bulk.run import BulkResult
from peppolnet.bulk.summary import Summary
from peppolnet.bulk.tables import AsTable, data_table, html_table
from peppolnet.i18n import _

__all__ = ["BulkResults"]

#: Rows a notebook shows before "... more rows".
_SHOWN: Final = 20
_HTML_COLUMNS: Final = ("row", "participant_id", "verdict", "operator_name", "seat_id", "reason")


class BulkResults(Sequence[BulkResult], AsTable):
    """Results of a run, in the order they came (see the module notes)."""

    def __init__(self, results: Iterable[BulkResult] = ()) -> None:
        self._results = list(results)

    @overload
    def __getitem__(self, index: int) -> BulkResult: ...

    @overload
    def __getitem__(self, index: slice) -> BulkResults: ...

    def __getitem__(self, index: int | slice) -> BulkResult | BulkResults:
        if isinstance(index, slice):
            return BulkResults(self._results[index])
        return self._results[index]

    def __len__(self) -> int:
        return len(self._results)

    def __iter__(self) -> Iterator[BulkResult]:
        return iter(self._results)

    def __repr__(self) -> str:
        return f"<BulkResults: {len(self)} rows>"

    def summary(self) -> Summary:
        """Counts per verdict, operator and country (:class:`~peppolnet.bulk.Summary`)."""
        return Summary().extend(self._results)

    def to_arrow(self) -> Any:
        """One row per result, the columns of :data:`~peppolnet.bulk.columns.RESULT_COLUMNS`."""
        return data_table(r.data() for r in self._results)

    def _repr_html_(self) -> str:
        rows = ([r.data()[c] for c in _HTML_COLUMNS] for r in self._results[:_SHOWN])
        more = len(self) - _SHOWN
        rest = _("... and {count} more rows", count=more)
        tail = f"<p>{rest}</p>" if more > 0 else ""
        return f"<div>{html_table(_HTML_COLUMNS, rows)}{tail}</div>"
