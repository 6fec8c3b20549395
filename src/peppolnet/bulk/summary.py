"""The summary of a run: counts per verdict, per operator and per country.

It is built from the output records (the added columns), not from live results, so a resumed
run's summary covers the rows done before the interruption too.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from peppolnet.bulk.run import BulkResult

__all__ = ["Summary"]

_CAN: str = "can-receive"


class Summary:
    """Counts for a report. ``add`` takes an output record (``verdict``, ``operator_name``,
    ``seat_id``, ``country``), so results and rows read back from a file count the same.
    """

    def __init__(self) -> None:
        self.total = 0
        self.verdicts: collections.Counter[str] = collections.Counter()
        self.operators: collections.Counter[str] = collections.Counter()
        self.countries: dict[str, collections.Counter[str]] = {}

    def add_result(self, result: BulkResult) -> None:
        """Count one result of :func:`~peppolnet.bulk.check_many`."""
        self.add({**result.record(), "country": result.row.country})

    def add(self, record: Mapping[str, str]) -> None:
        """Count one output row (the added columns and ``country``)."""
        verdict = record.get("verdict", "") or "unknown"
        self.total += 1
        self.verdicts[verdict] += 1
        if verdict == _CAN:
            name = record.get("operator_name") or ""
            seat = record.get("seat_id") or ""
            label = f"{name} ({seat})" if name and seat else name or seat or "unnamed operator"
            self.operators[label] += 1
        country = (record.get("country") or "").upper() or "??"
        self.countries.setdefault(country, collections.Counter())[verdict] += 1

    def extend(self, results: Iterable[BulkResult]) -> Summary:
        """Count many results; returns self."""
        for result in results:
            self.add_result(result)
        return self

    def share_can_receive(self, country: str | None = None) -> float:
        """The share (0..1) of rows that can receive, overall or in one country."""
        empty: collections.Counter[str] = collections.Counter()
        counts = self.verdicts if country is None else self.countries.get(country.upper(), empty)
        total = sum(counts.values())
        return counts.get(_CAN, 0) / total if total else 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready counts, largest first."""
        return {
            "total": self.total,
            "verdicts": dict(self.verdicts.most_common()),
            "can_receive_share": round(self.share_can_receive(), 4),
            "operators": dict(self.operators.most_common()),
            "countries": {
                cc: {
                    "total": sum(c.values()),
                    "verdicts": dict(c.most_common()),
                    "can_receive_share": round(self.share_can_receive(cc), 4),
                }
                for cc, c in sorted(self.countries.items())
            },
        }

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """The report, a line per string. An operator name is whatever a certificate or the
        register says, so a program that prints to a terminal can escape each line and still
        keep the report's own line breaks (``peppolnet check`` does)."""
        lines = [f"{self.total} rows"]
        for verdict, count in self.verdicts.most_common():
            lines.append(f"  {verdict:<16}{count:>8}  {_pct(count, self.total)}")
        if self.operators:
            lines.append("operators (can-receive rows)")
            for name, count in self.operators.most_common():
                lines.append(f"  {name:<40}{count:>8}")
        if self.countries:
            lines.append("countries (share that can receive)")
            for cc, counts in sorted(self.countries.items()):
                total = sum(counts.values())
                lines.append(f"  {cc:<4}{total:>8}  {_pct(counts.get(_CAN, 0), total)}")
        return lines


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "  0.0%"
