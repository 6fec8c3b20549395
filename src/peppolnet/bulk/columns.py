"""The columns of a result as data: one list, read by every table, file and journal.

A bulk result becomes one row of typed values (:meth:`BulkResult.data
<peppolnet.bulk.BulkResult.data>`): the Arrow schema (:func:`arrow_schema`), the JSON of a
resumable journal (:func:`to_json` / :func:`from_json`) and pandas' dtypes all follow from
:data:`RESULT_COLUMNS`, so a column is added in one place and every output gets it.

Column kinds, and what they become in Arrow:

* ``int`` - ``int64``; ``float`` - ``float64`` (a share, 0..1);
* ``text`` - ``string`` (None when there is nothing, never ``""``: a missing operator is a
  null, which DuckDB and pandas count as missing);
* ``category`` - a dictionary-encoded string (a verdict, a document type: few distinct values
  over many rows; pandas reads it as ``category``);
* ``flag`` - ``bool``;
* ``instant`` - ``timestamp[us, tz=UTC]``: aware datetimes, never local time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.bulk.run import BulkResult

__all__ = [
    "RESULT_COLUMNS",
    "RESULT_FIELDS",
    "Column",
    "Kind",
    "arrow_schema",
    "from_json",
    "to_json",
]

Kind = Literal["int", "float", "text", "category", "flag", "instant"]
Fields = tuple[tuple[str, Kind], ...]


@dataclasses.dataclass(frozen=True)
class Column:
    """One column: its name, its kind and how it is read from a result."""

    name: str
    kind: Kind
    read: Callable[[BulkResult], Any]
    doc: str


def _text(value: object) -> str | None:
    text = str(value) if value is not None else ""
    return text or None


def _endpoint_url(result: BulkResult) -> str | None:
    endpoint = result.reachability.endpoint if result.reachability else None
    return endpoint.url if endpoint is not None else None


def _document_type(result: BulkResult) -> str | None:
    return result.reachability.document_type.uri if result.reachability else None


RESULT_COLUMNS: Final[tuple[Column, ...]] = (
    Column("row", "int", lambda r: r.row.number, "the input row's number (1-based)"),
    Column(
        "participant_id",
        "text",
        lambda r: _text(r.participant_id or r.row.participant_id),
        "the id looked up (for invalid input: as given)",
    ),
    Column("country", "text", lambda r: _text(r.row.country), "the row's country (ISO code)"),
    Column("verdict", "category", lambda r: r.outcome, "can-receive ... or invalid-input"),
    Column("operator_name", "text", lambda r: _text(r.operator_name), "from the AP certificate"),
    Column("seat_id", "text", lambda r: _text(r.seat_id), "the operator's Seat ID"),
    Column("smp_host", "text", lambda r: _text(r.smp_host), "the SMP's host name"),
    Column(
        "smp_url",
        "text",
        lambda r: _text(r.reachability.smp_url if r.reachability else None),
        "the SMP's address as the SML gave it",
    ),
    Column("endpoint_url", "text", _endpoint_url, "the access point's AS4 address"),
    Column("document_type", "category", _document_type, "the document type looked up"),
    Column(
        "retryable",
        "flag",
        lambda r: bool(r.reachability.retryable) if r.reachability else False,
        "an unknown verdict whose fault may pass",
    ),
    Column("attempts", "int", lambda r: r.attempts, "lookups made for the row (0: shared)"),
    Column(
        "checked_at",
        "instant",
        lambda r: r.reachability.at if r.reachability else None,
        "when the answer holds (UTC)",
    ),
    Column("reason", "text", lambda r: str(r.reason), "why, in English"),
)


#: ``(name, kind)`` of every result column: what a table, a file or a journal needs of them.
RESULT_FIELDS: Final[Fields] = tuple((c.name, c.kind) for c in RESULT_COLUMNS)


def arrow_schema(fields: Fields = RESULT_FIELDS) -> Any:
    """The Arrow schema of ``fields`` (needs pyarrow, the ``analytics`` extra)."""
    from peppolnet.analytics._extra import require

    pa = require("pyarrow", _("an Arrow table"))
    types = {
        "int": pa.int64(),
        "float": pa.float64(),
        "text": pa.string(),
        "category": pa.dictionary(pa.int32(), pa.string()),
        "flag": pa.bool_(),
        "instant": pa.timestamp("us", tz="UTC"),
    }
    return pa.schema([(name, types[kind]) for name, kind in fields])


def to_json(row: Mapping[str, Any], fields: Fields = RESULT_FIELDS) -> dict[str, Any]:
    """``row`` with JSON values (an instant as ISO 8601 text with its offset)."""
    out = dict(row)
    for name, kind in fields:
        value = out.get(name)
        if kind == "instant" and isinstance(value, datetime):
            out[name] = value.isoformat()
    return out


def from_json(data: Mapping[str, Any], fields: Fields = RESULT_FIELDS) -> dict[str, Any]:
    """The typed row :func:`to_json` wrote (unknown keys are kept as they are)."""
    out = dict(data)
    for name, kind in fields:
        value = out.get(name)
        if value is None:
            continue
        if kind == "instant":
            out[name] = datetime.fromisoformat(value)
        elif kind == "int":
            out[name] = int(value)
        elif kind == "flag":
            out[name] = bool(value)
    return out
