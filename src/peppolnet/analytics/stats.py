"""Counts over a Directory export, in one streaming pass and without any extra package.

:func:`export_statistics` reads records as they come (a reader, or any iterable of them) and
counts participants per country, per identifier scheme (ICD), per document-type family and per
registration month, and organisations (participants merged by
:func:`~peppolnet.analytics.organisations.organisation_key`) in all and per country. Memory
grows only with the number of distinct organisations, kept as 64-bit hashes.

Definitions, so that the numbers can be quoted:

* a participant's **country** is that of its first business entity (a participants-only
  export has none: the country of its identifier scheme is used, ``international`` for GLN
  and the like);
* its **scheme** is the ICD before the first ``:`` of its identifier (``other`` when it has
  none);
* it counts once in each **family** it accepts at least one document type of;
* its **registration month** is that of its earliest entity's registration date
  (``unknown`` without one);
* an **organisation** counts once in the country of the first participant seen for it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from typing import Any

from peppolnet.analytics.families import DocumentFamily, document_family
from peppolnet.analytics.organisations import organisation_key
from peppolnet.directory.export.records import ExportCard, ExportParticipant

__all__ = ["ExportStatistics", "StatisticsCounter", "export_statistics", "scheme_country"]

UNKNOWN = "unknown"


def scheme_country(icd: str | None) -> str:
    """The country of an ICD scheme in the code list (``international`` for GLN, DUNS...)."""
    from peppolnet.codelists import scheme_for

    scheme = scheme_for(icd) if icd else None
    return scheme.country if scheme is not None else UNKNOWN


def _icd(value: str) -> str:
    head, sep, _ = value.partition(":")
    return head if sep and len(head) == 4 and head.isdigit() else "other"


@dataclasses.dataclass(frozen=True)
class ExportStatistics:
    """The counts of one export (see the module notes for what each one means)."""

    participants: int
    organisations: int
    entities: int
    by_country: dict[str, int]
    by_scheme: dict[str, int]
    by_family: dict[str, int]
    by_month: dict[str, int]
    organisations_by_country: dict[str, int]

    def top(self, field: str, count: int = 10) -> list[tuple[str, int]]:
        """The ``count`` largest entries of ``by_country``, ``by_scheme``... (``field`` is the
        part after ``by_``, or ``organisations_by_country``)."""
        table: dict[str, int] = getattr(self, field if field.startswith("org") else f"by_{field}")
        return sorted(table.items(), key=lambda item: (-item[1], item[0]))[:count]

    def to_json(self) -> dict[str, Any]:
        """Language-neutral, stable keys (``--json``)."""
        return dataclasses.asdict(self)


class StatisticsCounter:
    """Counts records one by one; :meth:`result` gives the :class:`ExportStatistics`."""

    def __init__(self) -> None:
        self.participants = 0
        self.entities = 0
        self.countries: Counter[str] = Counter()
        self.schemes: Counter[str] = Counter()
        self.families: Counter[str] = Counter()
        self.months: Counter[str] = Counter()
        self.organisation_countries: Counter[str] = Counter()
        self._organisations: set[int] = set()

    def add(self, record: ExportCard | ExportParticipant) -> None:
        self.participants += 1
        value = record.participant_value
        icd = _icd(value)
        self.schemes[icd] += 1
        if isinstance(record, ExportCard):
            country = record.country or UNKNOWN
            self.entities += len(record.entities)
            families = {document_family(doc.value) for doc in record.document_types}
            self.families.update(family.value for family in families)
            registered = record.registration_date
            self.months[registered.strftime("%Y-%m") if registered else UNKNOWN] += 1
        else:
            country = scheme_country(None if icd == "other" else icd)
        self.countries[country] += 1
        organisation = hash(organisation_key(value, record.participant_scheme))
        if organisation not in self._organisations:
            self._organisations.add(organisation)
            self.organisation_countries[country] += 1

    def result(self) -> ExportStatistics:
        families = {family.value: self.families.get(family.value, 0) for family in DocumentFamily}
        return ExportStatistics(
            participants=self.participants,
            organisations=len(self._organisations),
            entities=self.entities,
            by_country=dict(sorted(self.countries.items())),
            by_scheme=dict(sorted(self.schemes.items())),
            by_family=families,
            by_month=dict(sorted(self.months.items())),
            organisations_by_country=dict(sorted(self.organisation_countries.items())),
        )


def export_statistics(records: Iterable[ExportCard | ExportParticipant]) -> ExportStatistics:
    """The counts of every record of ``records`` (one pass; see the module notes)."""
    counter = StatisticsCounter()
    for record in records:
        counter.add(record)
    return counter.result()
