"""Who joined, who left and who changed between two Directory exports, as tables.

Two snapshots are compared participant by participant (on ``key``, the identifier as
compared): a participant only in the newer one is **added**, only in the older one
**removed**, and in both with a different card **changed** - with the parts that changed named
(``names``, ``country``, ``identifiers``, ``contacts``, ``document_types``, and ``other`` for
the rest: geographical information, websites, additional information, registration dates). The
parts are compared by the fingerprints :mod:`~peppolnet.analytics.tables` stores, so the
comparison is one DuckDB query over the Parquet files, however large the exports.

The exports can be given as Parquet folders (:func:`~peppolnet.analytics.parquet.write_parquet`)
or as export files, which are written to Parquet in a temporary folder first.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from peppolnet.analytics._extra import require
from peppolnet.analytics.parquet import (
    MANIFEST,
    ParquetExport,
    arrow,
    checked_folder,
    connect,
    sql_text,
    write_parquet,
)
from peppolnet.directory.export.reader import read_export
from peppolnet.directory.export.records import ExportProblem
from peppolnet.errors import InvalidInput
from peppolnet.i18n import _

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ASPECTS", "ExportDiff", "diff_exports"]

#: The parts of a card a change is named by, and the fingerprint (or column) compared.
ASPECTS: Final = {
    "names": "fp_names",
    "country": "country",
    "identifiers": "fp_identifiers",
    "contacts": "fp_contacts",
    "document_types": "fp_document_types",
    "other": "fp_other",
}
_COLUMNS: Final = "key, participant_id, organisation, country, name, document_types, registered"


@dataclasses.dataclass(frozen=True)
class ExportDiff:
    """The differences between an ``old`` and a ``new`` export.

    ``added`` and ``removed`` have the participants table's main columns; ``changed`` has the
    key and identifier, the old and new name and country, and ``changes``: the list of parts
    that differ. ``problems`` are what could not be read in either export (``old``/``new``
    tells which) - a diff of a damaged export names what it could not compare.
    """

    added: pa.Table
    removed: pa.Table
    changed: pa.Table
    old_participants: int
    new_participants: int
    problems: tuple[tuple[str, ExportProblem], ...] = ()

    def counts(self) -> dict[str, int]:
        """``added``, ``removed``, ``changed``, and the participants of each side."""
        return {
            "added": self.added.num_rows,
            "removed": self.removed.num_rows,
            "changed": self.changed.num_rows,
            "old": self.old_participants,
            "new": self.new_participants,
        }

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        """Counts and (up to ``limit``) rows, language-neutral."""

        def rows(table: pa.Table) -> list[dict[str, Any]]:
            shown = table if limit is None else table.slice(0, limit)
            return [
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
                for row in shown.to_pylist()
            ]

        return {
            "counts": self.counts(),
            "added": rows(self.added),
            "removed": rows(self.removed),
            "changed": rows(self.changed),
            "problems": [{"export": side, **dataclasses.asdict(p)} for side, p in self.problems],
        }


def _parquet(
    source: str | Path | ParquetExport, scratch: Path, name: str
) -> tuple[Path, tuple[ExportProblem, ...]]:
    """A Parquet folder for ``source``: as it is, or written from an export file."""
    if isinstance(source, ParquetExport):
        return source.folder, source.problems
    path = Path(source)
    if path.is_dir():  # a Parquet export, or a folder that is not one: checked_folder says which
        return checked_folder(path), _stored_problems(path)
    with read_export(path) as reader:
        written = write_parquet(reader, scratch / name)
    return written.folder, written.problems


def _same_content(old: Path, new: Path) -> None:
    """Refuse to compare exports that hold different parts of a card: a participants list
    holds identifiers only and the no-doc-types file no document types, so every participant
    in both would count as changed in the parts one of them leaves out."""
    contents = {
        "cards": _("business cards"),
        "cards-without-document-types": _("business cards without document types"),
        "participants": _("participant identifiers only"),
    }
    old_content, new_content = _content(old), _content(new)
    if old_content in contents and new_content in contents and old_content != new_content:
        raise InvalidInput(
            _(
                "the old export holds {old} and the new one {new}: compare two exports of the "
                "same kind (a participants list with a participants list, business cards with "
                "business cards)",
                old=contents[old_content],
                new=contents[new_content],
            )
        )


def _content(folder: Path) -> str | None:
    """What the Parquet folder's export holds, as its manifest says: ``cards``,
    ``cards-without-document-types`` (cards, and not one document type among them: the
    Directory's no-doc-types file) or ``participants``; None when it cannot be told."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        content, rows = str(manifest["header"]["content"]), manifest["rows"]
        if content == "cards" and rows["participants"] and not rows["document_types"]:
            return "cards-without-document-types"
        return content
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _stored_problems(folder: Path) -> tuple[ExportProblem, ...]:
    pq = require("pyarrow.parquet", _("a diff"))
    table = pq.read_table(str(folder / "problems.parquet"))
    return tuple(ExportProblem(**row) for row in table.to_pylist())


def _changes_sql() -> str:
    checks = ", ".join(
        f"CASE WHEN o.{column} IS DISTINCT FROM n.{column} THEN '{aspect}' END"
        for aspect, column in ASPECTS.items()
    )
    # concat_ws leaves out the NULLs (no lambda: its syntax differs between DuckDB versions)
    return f"string_split(concat_ws(',', {checks}), ',')"


def diff_exports(old: str | Path | ParquetExport, new: str | Path | ParquetExport) -> ExportDiff:
    """Compare two exports (export files, Parquet folders, or what ``write_parquet``
    returned). Needs the ``analytics`` extra (DuckDB, pyarrow)."""
    require("duckdb", _("a diff"))
    with tempfile.TemporaryDirectory(prefix="peppolnet-diff-") as scratch:
        old_folder, old_problems = _parquet(old, Path(scratch), "old")
        new_folder, new_problems = _parquet(new, Path(scratch), "new")
        _same_content(old_folder, new_folder)
        con = connect(new_folder)
        try:
            old_file = sql_text(old_folder / "participants.parquet")
            con.execute(f"CREATE VIEW old_participants AS SELECT * FROM read_parquet({old_file})")
            # one row per participant, even where an export lists one twice
            con.execute(
                "CREATE TEMP TABLE o AS SELECT * FROM old_participants QUALIFY "
                "row_number() OVER (PARTITION BY key ORDER BY participant_id) = 1"
            )
            con.execute(
                "CREATE TEMP TABLE n AS SELECT * FROM participants QUALIFY "
                "row_number() OVER (PARTITION BY key ORDER BY participant_id) = 1"
            )
            added = arrow(con, f"SELECT {_COLUMNS} FROM n ANTI JOIN o USING (key) ORDER BY key")
            removed = arrow(con, f"SELECT {_COLUMNS} FROM o ANTI JOIN n USING (key) ORDER BY key")
            changed = arrow(
                con,
                "SELECT n.key, n.participant_id, o.name AS old_name, n.name AS new_name, "
                "o.country AS old_country, n.country AS new_country, "
                f"{_changes_sql()} AS changes FROM o JOIN n USING (key) "
                "WHERE o.fp_card IS DISTINCT FROM n.fp_card "
                "OR o.country IS DISTINCT FROM n.country ORDER BY n.key",
            )
            sizes = con.execute("SELECT (SELECT count(*) FROM o), (SELECT count(*) FROM n)")
            old_count, new_count = sizes.fetchone() or (0, 0)
        finally:
            con.close()
    problems = tuple(("old", p) for p in old_problems) + tuple(("new", p) for p in new_problems)
    return ExportDiff(added, removed, changed, int(old_count), int(new_count), problems)
