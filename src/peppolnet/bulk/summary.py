"""The summary of a run: counts per verdict, per operator and per country.

It is built from the output records (the added columns), not from live results, so a resumed
run's summary covers the rows done before the interruption too. As data it is one tidy table
(:meth:`Summary.to_arrow`), and a notebook shows it as tables (``_repr_html_``).
"""

from __future__ import annotations

import collections
import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from peppolnet.bulk.columns import Fields
from peppolnet.bulk.tables import AsTable, data_table, html_table
from peppolnet.codelists import scheme_for
from peppolnet.i18n import Message, _, parse_language, percent, render
from peppolnet.reachability import Verdict

if TYPE_CHECKING:
    from peppolnet.bulk.run import BulkResult

__all__ = ["Summary", "scheme_country", "verdict_text"]

_CAN: str = "can-receive"


def scheme_country(participant_id: str) -> str:
    """The country of a participant identifier's scheme (``0007:...`` and ``9955:...`` are
    Swedish), or "" for an international scheme (GLN, DUNS), an unknown one or no identifier.

    Where a register has no country column, this is what puts its rows under a country in the
    summary, instead of every row under "??".

    >>> scheme_country("iso6523-actorid-upis::0007:5567321707")
    'SE'
    >>> scheme_country("0088:7300010000001"), scheme_country("")
    ('', '')
    """
    bare = participant_id.rpartition("::")[2]
    scheme = scheme_for(bare[:4]) if bare[4:5] == ":" else None
    return scheme.country_code if scheme is not None else ""


#: The columns of :meth:`Summary.to_arrow`.
SUMMARY_FIELDS: Final[Fields] = (
    ("group", "category"),
    ("country", "text"),
    ("verdict", "category"),
    ("operator_name", "text"),
    ("seat_id", "text"),
    ("count", "int"),
    ("share", "float"),
)


class Summary(AsTable):
    """Counts for a report. ``add`` takes an output record (``verdict``, ``operator_name``,
    ``seat_id``, ``country``), so results and rows read back from a file count the same.
    """

    def __init__(self) -> None:
        self.total = 0
        self.verdicts: collections.Counter[str] = collections.Counter()
        self.operators: collections.Counter[str] = collections.Counter()
        self.countries: dict[str, collections.Counter[str]] = {}
        # label -> (name, seat id), so a table has them as columns of their own
        self._operator_parts: dict[str, tuple[str, str]] = {}

    def add_result(self, result: BulkResult, record: Mapping[str, str] | None = None) -> None:
        """Count one result of :func:`~peppolnet.bulk.check_many` (``record``: its
        :meth:`~peppolnet.bulk.BulkResult.record`, when the caller has made it already)."""
        added = record or result.record()
        self._count(added, result.row.country)

    def add(self, record: Mapping[str, str]) -> None:
        """Count one output row (the added columns and ``country``)."""
        self._count(record, record.get("country") or "")

    def _count(self, record: Mapping[str, str], country: str) -> None:
        # the record as it is, the country beside it: a merged copy per row of a million-row
        # run cost more than the counting
        verdict = record.get("verdict", "") or "unknown"
        self.total += 1
        self.verdicts[verdict] += 1
        if verdict == _CAN:
            name = record.get("operator_name") or ""
            seat = record.get("seat_id") or ""
            label = f"{name} ({seat})" if name and seat else name or seat or _UNNAMED
            self.operators[label] += 1
            self._operator_parts.setdefault(label, (name, seat))
        where = country.upper() or scheme_country(record.get("participant_id") or "") or "??"
        self.countries.setdefault(where, collections.Counter())[verdict] += 1

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
            "verdicts": dict(largest_first(self.verdicts)),
            "can_receive_share": round(self.share_can_receive(), 4),
            "operators": dict(largest_first(self.operators)),
            "countries": {
                cc: {
                    "total": sum(c.values()),
                    "verdicts": dict(largest_first(c)),
                    "can_receive_share": round(self.share_can_receive(cc), 4),
                }
                for cc, c in sorted(self.countries.items())
            },
        }

    def rows(self) -> Iterator[dict[str, Any]]:
        """The counts as tidy rows (the rows of :meth:`to_arrow`), largest first per group."""
        for verdict, count in largest_first(self.verdicts):
            yield _row("verdict", count, _share(count, self.total), verdict=verdict)
        for label, count in largest_first(self.operators):
            name, seat = self._operator_parts.get(label, ("", ""))
            share = _share(count, self.total)
            yield _row("operator", count, share, verdict=_CAN, name=name, seat=seat)
        for cc, counts in sorted(self.countries.items()):
            in_country = sum(counts.values())
            for verdict, count in largest_first(counts):
                yield _row("country", count, _share(count, in_country), cc, verdict)

    def to_arrow(self) -> Any:
        """The counts as one tidy ``pyarrow.Table``: a row per verdict (``group`` =
        ``verdict``), per operator of the rows that can receive (``operator``, with
        ``operator_name`` and ``seat_id``) and per country and verdict (``country``). ``share``
        is of all rows, for a country row of that country's rows."""
        return data_table(self.rows(), SUMMARY_FIELDS)

    def _repr_html_(self) -> str:
        return self.html()

    def html(self, language: str | None = None) -> str:
        """The report as HTML tables (what a notebook shows), headings in ``language``."""

        def table(headers: tuple[Message, ...], rows: Sequence[tuple[object, ...]]) -> str:
            shown = [render(h, language) for h in headers]
            return html_table(shown, rows, language=language) if rows else ""

        total = self.total
        heading = html.escape(render(_("{count} rows", count=total), language))
        verdicts = [
            (verdict_text(v, language), c, _share(c, total))
            for v, c in largest_first(self.verdicts)
        ]
        operators = [
            (render(n, language), c, _share(c, total)) for n, c in largest_first(self.operators)
        ]
        countries = [
            (cc, sum(c.values()), self.share_can_receive(cc))
            for cc, c in sorted(self.countries.items())
        ]
        return "".join(
            [
                f"<div><strong>{heading}</strong>",
                table((_("verdict"), _("rows"), _("share")), verdicts),
                table((_("operator"), _("rows"), _("share")), operators),
                table((_("country"), _("rows"), _("can receive")), countries),
                "</div>",
            ]
        )

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def lines(self, language: str | None = None) -> list[str]:
        """The report, a line per string, in ``language`` (``"sv"`` or ``"en"``, the default);
        verdicts are shown by their labels in Swedish, by their machine values in English (as
        the output's verdict column). An operator name is whatever a certificate or the
        register says, so a program that prints to a terminal can escape each line and still
        keep the report's own line breaks (``peppolnet check`` does)."""
        lines = [render(_("{count} rows", count=self.total), language)]
        for verdict, count in largest_first(self.verdicts):
            shown = verdict_text(verdict, language)
            lines.append(f"  {shown:<16}{count:>8}  {_pct(count, self.total, language)}")
        if self.operators:
            lines.append(render(_("operators (can-receive rows)"), language))
            for name, count in largest_first(self.operators):
                shown = render(name, language)
                lines.append(f"  {shown:<40}{count:>8}")
        if self.countries:
            lines.append(render(_("countries (share that can receive)"), language))
            for cc, counts in sorted(self.countries.items()):
                total = sum(counts.values())
                share = _pct(counts.get(_CAN, 0), total, language)
                lines.append(f"  {cc:<4}{total:>8}  {share}")
        return lines


# TRANSLATORS: the operator of rows that can receive when the certificate names none
_UNNAMED = _("unnamed operator")
# TRANSLATORS: a register row that could not be looked up (no or a malformed identifier)
_INVALID_INPUT = _("invalid input")


def verdict_text(verdict: str, language: str | None = None) -> str:
    """A verdict value of an output row (``can-receive``, ``invalid-input``) for a person in
    ``language``: its label in Swedish, the value itself in English (or when unknown)."""
    if language is None or parse_language(language) == "en":
        return verdict
    if verdict == "invalid-input":
        return render(_INVALID_INPUT, language)
    try:
        return Verdict(verdict).label(language)
    except ValueError:
        return verdict


def largest_first(counts: collections.Counter[str]) -> list[tuple[str, int]]:
    """``counts`` largest first, equal counts by name: ``most_common`` keeps equal counts in
    the order they were first seen, which in a concurrent run is the order lookups happened to
    finish - the same register gave its report (and --json) in another order from run to run."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _row(
    group: str,
    count: int,
    share: float,
    country: str | None = None,
    verdict: str | None = None,
    name: str = "",
    seat: str = "",
) -> dict[str, Any]:
    return {
        "group": group,
        "country": country,
        "verdict": verdict,
        "operator_name": name or None,
        "seat_id": seat or None,
        "count": count,
        "share": share,
    }


def _pct(part: int, whole: int, language: str | None) -> str:
    """A share for the report's column, right-aligned to the width of 100% in ``language``."""
    width = len(percent(1.0, language))
    return percent(part / whole if whole else 0.0, language).rjust(width)
