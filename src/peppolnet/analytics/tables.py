"""Tidy Arrow tables of a Directory export, built in batches: the hand-off to any tool.

One record of the export becomes rows in six tables that join on ``key`` (the participant as
compared, :func:`~peppolnet.directory.export.participant_key`), one fact per row:

* ``participants`` - one row per participant: identifier, scheme (ICD), organisation key,
  country, first name, how many entities and document types, earliest registration date,
  and fingerprints (``fp_*``: 64-bit hashes of the whole card and of each part - names,
  identifiers, contacts, document types, the rest), which is what
  :mod:`~peppolnet.analytics.diff` compares;
* ``entities`` - one row per business entity (``entity`` numbers them within the card);
* ``identifiers`` - the entities' additional identifiers (scheme, value);
* ``document_types`` - what each participant accepts, with its family, the code list's name
  and state for it (``peppolnet.codelists``) and the Directory's own label and state;
* ``contacts`` - the entities' contact points;
* ``problems`` - every part of the export that could not be read, so a table is never short
  without saying so.

:func:`table_batches` yields them a batch at a time (flat memory; what
:func:`~peppolnet.analytics.parquet.write_parquet` writes), :func:`export_tables` gathers a whole
(small) export in memory. Needs the ``analytics`` extra (pyarrow).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from peppolnet.analytics._extra import require
from peppolnet.analytics.families import document_family
from peppolnet.analytics.organisations import organisation_key
from peppolnet.analytics.stats import scheme_country
from peppolnet.directory.export.records import (
    ExportCard,
    ExportDocumentType,
    ExportParticipant,
    ExportProblem,
)
from peppolnet.i18n import _

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["TABLES", "ExportTables", "export_tables", "schemas", "table_batches"]

#: The tables, in the order they are written.
TABLES: Final = (
    "participants",
    "entities",
    "identifiers",
    "document_types",
    "contacts",
    "problems",
)
#: Records per batch (a Parquet row group): ~100 MB of Python objects at a time, at most.
DEFAULT_BATCH: Final = 10_000


@functools.cache
def schemas() -> dict[str, pa.Schema]:
    """The Arrow schema of every table (stable: column names are part of the API)."""
    pa = require("pyarrow", _("an Arrow table"))
    text, int32, int64, date = pa.string(), pa.int32(), pa.int64(), pa.date32()
    return {
        "participants": pa.schema([
            ("key", text), ("participant_id", text), ("scheme", text), ("value", text),
            ("icd", text), ("scheme_country", text), ("organisation", text), ("country", text),
            ("name", text), ("entities", int32), ("document_types", int32), ("registered", date),
            ("fp_card", int64), ("fp_names", int64), ("fp_identifiers", int64),
            ("fp_contacts", int64), ("fp_document_types", int64), ("fp_other", int64),
        ]),
        "entities": pa.schema([
            ("key", text), ("entity", int32), ("name", text),
            ("names", pa.list_(pa.struct([("name", text), ("language", text)]))),
            ("country", text), ("geo_info", text), ("additional_info", text),
            ("registered", date), ("websites", pa.list_(text)),
        ]),
        "identifiers": pa.schema([
            ("key", text), ("entity", int32), ("scheme", text), ("value", text),
        ]),
        "document_types": pa.schema([
            ("key", text), ("scheme", text), ("value", text), ("family", text),
            ("name", text), ("state", text), ("export_name", text), ("export_state", text),
            ("non_standard", pa.bool_()),
        ]),
        "contacts": pa.schema([
            ("key", text), ("entity", int32), ("type", text), ("name", text), ("phone", text),
            ("email", text),
        ]),
        "problems": pa.schema([
            ("kind", text), ("where", text), ("message", text), ("participant", text),
            ("skipped", pa.bool_()),
        ]),
    }  # fmt: skip


def _fingerprint(text: str) -> int:
    """A 64-bit fingerprint (blake2b): equal parts give equal numbers in every process."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@functools.lru_cache(maxsize=8192)
def _code_list(scheme: str, value: str) -> tuple[str, str | None, str | None]:
    """(family, code list name, code list state) of a document type."""
    from peppolnet.codelists import document_type_entry
    from peppolnet.identifiers import DocumentTypeId

    family = document_family(value).value
    try:
        entry = document_type_entry(DocumentTypeId(scheme, value, lax=True))
    except ValueError:  # InvalidDocumentTypeId: not even a lax identifier
        entry = None
    if entry is None:
        return family, None, None
    return family, entry.name, entry.state.value


class _Columns:
    """Column lists for one batch of every table."""

    def __init__(self) -> None:
        self.columns: dict[str, dict[str, list[Any]]] = {
            name: {field: [] for field in schemas()[name].names} for name in TABLES
        }

    def row(self, table: str, *values: Any) -> None:
        for column, value in zip(self.columns[table].values(), values, strict=True):
            column.append(value)

    def tables(self) -> dict[str, pa.Table]:
        pa = require("pyarrow", _("an Arrow table"))
        found = schemas()
        return {
            name: pa.Table.from_pydict(columns, schema=found[name])
            for name, columns in self.columns.items()
        }


def _add_card(out: _Columns, card: ExportCard, key: str) -> None:
    names: list[str] = []
    ids: list[str] = []
    contacts: list[str] = []
    for number, entity in enumerate(card.entities):
        entity_names = [{"name": n.name, "language": n.language} for n in entity.names]
        out.row("entities", key, number, entity.names[0].name if entity.names else None,
                entity_names, entity.country or None, entity.geo_info, entity.additional_info,
                entity.registration_date, list(entity.websites))  # fmt: skip
        names.extend(f"{n.name}\x1e{n.language or ''}" for n in entity.names)
        for scheme, value in entity.identifiers:
            out.row("identifiers", key, number, scheme, value)
            ids.append(f"{scheme}\x1e{value}")
        for c in entity.contacts:
            out.row("contacts", key, number, c.type, c.name, c.phone, c.email)
            contacts.append(f"{c.type}\x1e{c.name}\x1e{c.phone}\x1e{c.email}")
    for doc in card.document_types:
        _add_document_type(out, key, doc)
    docs = sorted(doc.uri for doc in card.document_types)
    rest = [
        f"{e.country}\x1e{e.geo_info}\x1e{e.additional_info}\x1e{e.registration_date}\x1e"
        + "\x1d".join(e.websites)
        for e in card.entities
    ]
    parts = ["\x1f".join(names), "\x1f".join(sorted(ids)), "\x1f".join(contacts),
             "\x1f".join(docs)]  # fmt: skip
    other = "\x1c".join(rest)
    prints = [_fingerprint(part) for part in (*parts, other)]
    whole = _fingerprint("\x1c".join([*parts, other]))
    value = card.participant_value
    icd = _icd(value)
    out.row("participants", key, card.participant_uri, card.participant_scheme, value, icd,
            scheme_country(icd), organisation_key(value, card.participant_scheme),
            card.country or None, card.name, len(card.entities), len(card.document_types),
            card.registration_date, whole, *prints)  # fmt: skip


def _add_document_type(out: _Columns, key: str, doc: ExportDocumentType) -> None:
    family, name, state = _code_list(doc.scheme, doc.value)
    out.row("document_types", key, doc.scheme, doc.value, family, name, state,
            doc.display_name, doc.state, doc.non_standard)  # fmt: skip


def _add_participant(out: _Columns, record: ExportParticipant, key: str) -> None:
    value = record.participant_value
    icd = _icd(value)
    out.row("participants", key, record.participant_uri, record.participant_scheme, value, icd,
            scheme_country(icd), organisation_key(value, record.participant_scheme), None, None,
            0, 0, None, 0, 0, 0, 0, 0, 0)  # fmt: skip


def _icd(value: str) -> str | None:
    head, sep, _ = value.partition(":")
    return head if sep and len(head) == 4 and head.isdigit() else None


def table_batches(
    records: Iterable[ExportCard | ExportParticipant],
    *,
    batch_size: int = DEFAULT_BATCH,
    problems: list[ExportProblem] | None = None,
) -> Iterator[dict[str, pa.Table]]:
    """The tables of ``batch_size`` records at a time. ``problems`` (a reader's list) is read
    as the batches go, so each problem comes out once, in the batch after it was found."""
    reported = 0
    out = _Columns()
    count = 0
    for record in records:
        key = record.key
        if isinstance(record, ExportCard):
            _add_card(out, record, key)
        else:
            _add_participant(out, record, key)
        count += 1
        if count >= batch_size:
            reported = _add_problems(out, problems, reported)
            yield out.tables()
            out, count = _Columns(), 0
    _add_problems(out, problems, reported)
    yield out.tables()


def _add_problems(out: _Columns, problems: list[ExportProblem] | None, done: int) -> int:
    if problems is None:
        return done
    for p in problems[done:]:
        out.row("problems", p.kind, p.where, p.message, p.participant, p.skipped)
    return len(problems)


@dataclasses.dataclass(frozen=True)
class ExportTables:
    """The six tables of an export, whole, in memory (for exports that fit: the sandbox's, a
    country's slice; the full export belongs in Parquet)."""

    participants: pa.Table
    entities: pa.Table
    identifiers: pa.Table
    document_types: pa.Table
    contacts: pa.Table
    problems: pa.Table

    def to_pandas(self, table: str = "participants") -> Any:
        """One table as a pandas DataFrame (pandas is part of the ``analytics`` extra)."""
        require("pandas", _("a DataFrame"))
        return getattr(self, table).to_pandas()


def export_tables(
    records: Iterable[ExportCard | ExportParticipant],
    *,
    problems: list[ExportProblem] | None = None,
) -> ExportTables:
    """Every table of ``records`` in memory. Pass a reader: its problems are taken along."""
    pa = require("pyarrow", _("an Arrow table"))
    if problems is None:
        problems = getattr(records, "problems", None)
    batches = list(table_batches(records, problems=problems))
    return ExportTables(**{name: pa.concat_tables([b[name] for b in batches]) for name in TABLES})
