"""Results as data: Arrow tables, pandas DataFrames, Parquet files and notebook tables.

Every value that can be a table (a result, a run's results, a summary, operator shares) gets
the same three ways out from :class:`AsTable`: it says how it is an Arrow table
(``to_arrow()``) and inherits ``to_pandas()`` and ``to_parquet(path)``. Arrow is the hand-off:
DuckDB, Polars and Spark read it (or the Parquet file) without a copy, pandas gets typed
columns (a verdict is a ``category``, a time an aware ``datetime64[us, UTC]``).

pyarrow and pandas are the optional ``analytics`` extra (``pip install 'peppolnet[analytics]'``):
imported only when a table is asked for, and a clear :class:`~peppolnet.errors.MissingExtra`
naming the extra when missing. The notebook views (``_repr_html_``) need neither.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, Final

from peppolnet.bulk.columns import RESULT_FIELDS, Fields, arrow_schema
from peppolnet.errors import InvalidInput
from peppolnet.i18n import _, percent

__all__ = ["AsTable", "cannot_write", "data_table", "html_table"]

_BATCH: Final = 10_000


def _require(module: str, what: str) -> Any:  # what: a catalog message
    from peppolnet.analytics._extra import require

    return require(module, what)


class AsTable:
    """``to_pandas()`` and ``to_parquet()`` for anything with a ``to_arrow()``."""

    __slots__ = ()  # its values may be slotted (a bulk run makes one per row)

    def to_arrow(self) -> Any:
        """This value as a ``pyarrow.Table``."""
        raise NotImplementedError

    def to_pandas(self) -> Any:
        """:meth:`to_arrow` as a ``pandas.DataFrame`` (typed columns, see the module notes)."""
        _require("pandas", _("a DataFrame"))
        return self.to_arrow().to_pandas()

    def to_parquet(self, path: str | Path) -> Path:
        """Write :meth:`to_arrow` to the Parquet file ``path``; returns the path."""
        parquet = _require("pyarrow.parquet", _("a Parquet file"))
        file = Path(path)
        try:
            parquet.write_table(self.to_arrow(), file)
        except OSError as exc:
            raise cannot_write(file, exc) from exc
        return file


def cannot_write(path: Path, exc: OSError) -> InvalidInput:
    """The error for a file that cannot be written: its name and the system's reason."""
    problem = exc.strerror or str(exc)
    return InvalidInput(_("cannot write {name!r}: {problem}", name=str(path), problem=problem))


def _batches(rows: Iterable[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, _BATCH)):
        yield batch


def data_table(rows: Iterable[Mapping[str, Any]], fields: Fields = RESULT_FIELDS) -> Any:
    """The typed rows (:meth:`BulkResult.data <peppolnet.bulk.BulkResult.data>`) as a
    ``pyarrow.Table`` of ``fields``, converted a batch at a time: the rows themselves are never
    all held as Python objects, only the table's columns."""
    pa = _require("pyarrow", _("an Arrow table"))
    schema = arrow_schema(fields)
    batches = [pa.RecordBatch.from_pylist(b, schema=schema) for b in _batches(rows)]
    return pa.Table.from_batches(batches, schema=schema)


def html_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    caption: str | None = None,
    language: str | None = None,
) -> str:
    """An HTML table for a notebook, every cell escaped: an operator name comes from a
    certificate and a reason may quote what an SMP said, so no cell is trusted markup. A
    fraction is a share, shown as a percentage as ``language`` writes it."""
    esc = html.escape
    head = "".join(f"<th>{esc(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(_cell(c, language))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    title = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object, language: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return percent(value, language)
    return str(value)
