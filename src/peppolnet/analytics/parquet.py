"""Parquet files of an export, and DuckDB and pandas on top of them.

Parquet is the hand-off: :func:`write_parquet` streams an export into one file per table (a
batch at a time, so memory stays flat for the whole real export), and those files are what
DuckDB here, pandas, Polars, or Spark on a bigger machine read unchanged. :func:`connect` opens
an embedded DuckDB (no server) with a view per table; :func:`counts` is the usual question -
participants per country and document-type family - in one query; :func:`load_pandas` gives a
table as a DataFrame.

    folder/
      participants.parquet  entities.parquet  identifiers.parquet
      document_types.parquet  contacts.parquet  problems.parquet
      export.json           what was written, from which file, with the reader's header
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from peppolnet.analytics._extra import require
from peppolnet.analytics.tables import DEFAULT_BATCH, TABLES, schemas, table_batches
from peppolnet.directory.export.records import ExportCard, ExportParticipant, ExportProblem
from peppolnet.errors import InvalidInput
from peppolnet.i18n import _

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ParquetExport", "connect", "counts", "load_pandas", "query", "write_parquet"]

#: The grouping columns :func:`counts` knows, and the table each comes from.
DIMENSIONS: Final = {
    "country": "p.country",
    "scheme": "p.icd",
    "scheme_country": "p.scheme_country",
    "family": "d.family",
    "month": "strftime(p.registered, '%Y-%m')",
    "year": "year(p.registered)",
}
MANIFEST: Final = "export.json"


@dataclasses.dataclass(frozen=True)
class ParquetExport:
    """What :func:`write_parquet` wrote: the folder, rows per table, and the problems met."""

    folder: Path
    rows: dict[str, int]
    problems: tuple[ExportProblem, ...]

    def path(self, table: str) -> Path:
        return self.folder / f"{table}.parquet"

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "rows": self.rows,
            "problems": [dataclasses.asdict(p) for p in self.problems],
        }


def write_parquet(
    records: Iterable[ExportCard | ExportParticipant],
    folder: str | Path,
    *,
    batch_size: int = DEFAULT_BATCH,
    problems: list[ExportProblem] | None = None,
    compression: str = "zstd",
) -> ParquetExport:
    """Write the tables of ``records`` (a reader, or any iterable of records) to ``folder``.

    Written batch by batch to ``*.parquet.part`` files that are renamed when all is done, so a
    folder never holds half an export under the final names. A reader's problems are written to
    ``problems.parquet`` and returned.
    """
    pq = require("pyarrow.parquet", _("a Parquet file"))
    target = output_folder(folder)
    if problems is None:
        problems = getattr(records, "problems", None)
    found = schemas()
    writers = {
        name: pq.ParquetWriter(
            str(target / f"{name}.parquet.part"), found[name], compression=compression
        )
        for name in TABLES
    }
    rows = dict.fromkeys(TABLES, 0)
    try:
        for batch in table_batches(records, batch_size=batch_size, problems=problems):
            for name, table in batch.items():
                if table.num_rows:
                    writers[name].write_table(table)
                    rows[name] += table.num_rows
    finally:
        for writer in writers.values():
            writer.close()
    for name in TABLES:
        os.replace(target / f"{name}.parquet.part", target / f"{name}.parquet")
    header = getattr(records, "header", None)
    manifest = {
        "rows": rows,
        "header": None if header is None else _jsonable(dataclasses.asdict(header)),
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return ParquetExport(target, rows, tuple(problems or ()))


def not_a_folder(folder: str | Path) -> str | None:
    """Why ``folder`` cannot take files, when it is a file already (checked before a long run
    whose tables would go there, so the run is not lost at its end); None when it can."""
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        return _(
            "{folder} is a file, not a folder: the tables are written as files into a folder; "
            "give a folder's path",
            folder=str(path),
        )
    return None


def output_folder(folder: str | Path) -> Path:
    """``folder``, made if needed, or :class:`InvalidInput` saying why it cannot be."""
    problem = not_a_folder(folder)
    if problem is not None:
        raise InvalidInput(problem)
    path = Path(folder).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(
            _(
                "cannot make the folder {folder}: {detail}",
                folder=str(path),
                detail=exc.strerror or str(exc),
            )
        ) from None
    return path


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in data.items()}


def arrow(con: Any, sql: str) -> pa.Table:
    """The result of ``sql`` on the DuckDB connection ``con`` as an Arrow table (DuckDB 2
    renamed ``fetch_arrow_table`` to ``to_arrow_table``)."""
    relation = con.sql(sql)
    fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    return fetch()


def sql_text(value: str | Path) -> str:
    """``value`` as an SQL string literal (a path in ``read_parquet('...')``)."""
    return "'" + str(value).replace("'", "''") + "'"


def checked_folder(folder: str | Path) -> Path:
    """``folder`` when it holds a Parquet export with every column this version reads.

    A folder written by an older peppolnet lacks columns added since (a diff compares
    ``fp_other``, for one): checking the columns here - reading only each file's footer - says
    so in a sentence with what to do, instead of DuckDB's "Binder Error" halfway through a query.
    """
    path = Path(folder)
    missing = [t for t in TABLES if not (path / f"{t}.parquet").is_file()]
    if missing:
        raise InvalidInput(
            _(
                "{folder} holds no Parquet export (missing {missing}); write one with "
                "write_parquet()",
                folder=str(path),
                missing=", ".join(missing),
            )
        )
    pq = require("pyarrow.parquet", _("a Parquet file"))
    for table, schema in schemas().items():
        try:
            names = set(pq.read_schema(str(path / f"{table}.parquet")).names)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise InvalidInput(
                _(
                    "{file} is not a readable Parquet file ({detail}); write the export again "
                    "with write_parquet()",
                    file=str(path / f"{table}.parquet"),
                    detail=str(exc),
                )
            ) from None
        lacking = [name for name in schema.names if name not in names]
        if lacking:
            raise InvalidInput(
                _(
                    "{folder} was written by an older version of peppolnet: {table} lacks "
                    "{columns}; write it again from the export with write_parquet()",
                    folder=str(path),
                    table=table,
                    columns=", ".join(lacking),
                )
            )
    return path


def connect(folder: str | Path, *, database: str = ":memory:") -> Any:
    """An embedded DuckDB connection with one view per table of the Parquet export in
    ``folder`` (``participants``, ``entities``, ...). DuckDB reads the files in place."""
    duckdb = require("duckdb", _("DuckDB queries"))
    path = checked_folder(folder)
    con = duckdb.connect(database)
    for table in TABLES:
        file = sql_text(path / f"{table}.parquet")
        con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet({file})")
    return con


def query(folder: str | Path, sql: str) -> pa.Table:
    """Run ``sql`` over the Parquet export in ``folder``; the result as an Arrow table."""
    duckdb = require("duckdb", _("DuckDB queries"))
    con = connect(folder)
    try:
        return arrow(con, sql)
    except duckdb.Error as exc:
        # A table that is not there, a misspelt column, a syntax error: the user's SQL, so a
        # sentence with DuckDB's reason and the tables there are, not DuckDB's traceback.
        raise InvalidInput(
            _(
                "DuckDB could not run the query over {folder}: {detail} (the tables are {tables})",
                folder=str(folder),
                detail=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                tables=", ".join(TABLES),
            )
        ) from None
    finally:
        con.close()


def counts(con_or_folder: Any, by: Sequence[str] = ("country", "family")) -> pa.Table:
    """Participants per combination of ``by`` (``country``, ``scheme``, ``scheme_country``,
    ``family``, ``month``, ``year``), largest first: one DuckDB query over the Parquet files.

    A participant counts once per family it accepts any document type of; without ``family``
    in ``by`` it counts once per group.
    """
    unknown = [name for name in by if name not in DIMENSIONS]
    if unknown or not by:
        raise InvalidInput(
            _(
                "counts are by {known}; not by {asked}",
                known=", ".join(DIMENSIONS),
                asked=", ".join(unknown) or "-",
            )
        )
    con = connect(con_or_folder) if isinstance(con_or_folder, str | Path) else con_or_folder
    columns = ", ".join(f"{DIMENSIONS[name]} AS {name}" for name in by)
    join = "JOIN document_types d ON d.key = p.key" if "family" in by else ""
    sql = (
        f"SELECT {columns}, count(DISTINCT p.key) AS participants FROM participants p {join} "
        f"GROUP BY ALL ORDER BY participants DESC, {', '.join(by)}"
    )
    try:
        return arrow(con, sql)
    finally:
        if con is not con_or_folder:
            con.close()


def load_pandas(folder: str | Path, table: str = "participants") -> Any:
    """One table of the Parquet export in ``folder`` as a pandas DataFrame."""
    if table not in TABLES:
        raise InvalidInput(
            _("the tables are {tables}; not {table}", tables=", ".join(TABLES), table=repr(table))
        )
    require("pandas", _("a DataFrame"))
    pq = require("pyarrow.parquet", _("a Parquet file"))
    return pq.read_table(str(checked_folder(folder) / f"{table}.parquet")).to_pandas()
