"""Operator shares: which SMP and which operator serve each participant, and who serves how many.

No public export says which operator serves a participant: the Directory lists participants,
the SML and the SMPs know where they receive. :func:`operator_shares` asks them - every
participant of an iterable (ids, or the records of a Directory export) through the one bulk
engine (:func:`~peppolnet.bulk.check_many`), politely per SMP host
(:class:`~peppolnet.analytics.politeness.Politeness`) - and returns tables
(:class:`OperatorShares`):

* ``participants`` - a row per participant, the columns of every bulk result
  (:data:`~peppolnet.bulk.columns.RESULT_COLUMNS`): the verdict, the SMP (``smp_url``,
  ``smp_host``), the operator's AP Seat ID and name (``seat_id``, ``operator_name``, from the
  access point certificate the SMP lists) and the participant's ``country``;
* ``by_operator`` - participants per operator (by Seat ID) and their ``share`` of the
  participants whose operator is known;
* ``by_country`` - the same per country (``share``: of that country's participants whose
  operator is known).

The operator is known where the SMP lists a usable endpoint for the document type (default the
BIS Billing invoice): its certificate names the operator. A participant that is not registered,
cannot receive the document type, or whose lookup failed has no operator in the tables; its
verdict says which, and :meth:`OperatorShares.summary` counts them.

A participant's country is the record's own (a business card's ``country``), else the country
of its identifier's ICD scheme (``0007`` is Sweden); a scheme of no country (GLN ``0088``)
leaves it empty.

A long run is resumable: with ``journal=path`` every answer is on disk as it arrives
(:class:`~peppolnet.bulk.journal.ResultJournal`), and the same call with ``resume=True`` looks
up only the participants the journal lacks - give it the same participants in the same order.
"""

from __future__ import annotations

import dataclasses
import functools
import html
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypedDict, Unpack

from peppolnet.analytics.politeness import HostRecord, PoliteLookup, Politeness
from peppolnet.bulk.columns import Fields
from peppolnet.bulk.journal import ResultJournal
from peppolnet.bulk.registers import RegisterRow, country_of, lookup_key
from peppolnet.bulk.run import BulkResult, CheckOptions, Progress, check_many, check_many_async
from peppolnet.bulk.summary import Summary
from peppolnet.bulk.tables import AsTable, data_table, html_table
from peppolnet.codelists import scheme_for
from peppolnet.errors import InvalidInput, PeppolnetError
from peppolnet.i18n import _, render
from peppolnet.identifiers import DocumentTypeId, ParticipantId

if TYPE_CHECKING:
    from peppolnet.clock import Clock
    from peppolnet.network import Network

__all__ = [
    "COUNTRY_FIELDS",
    "OPERATOR_FIELDS",
    "TABLES",
    "OperatorShares",
    "ShareOptions",
    "operator_shares",
    "operator_shares_async",
]

#: The tables of :class:`OperatorShares`.
TABLES: Final = ("participants", "by_operator", "by_country")
OPERATOR_FIELDS: Final[Fields] = (
    ("seat_id", "text"),
    ("operator_name", "text"),
    ("participants", "int"),
    ("share", "float"),
)
COUNTRY_FIELDS: Final[Fields] = (("country", "text"), *OPERATOR_FIELDS)
_SHOWN: Final = 15


class ShareOptions(TypedDict, total=False):
    """The options of :func:`operator_shares` and :func:`operator_shares_async`.

    * ``network`` (default production) and ``document_type`` (default the BIS Billing invoice);
    * ``politeness`` (:class:`Politeness`: per SMP host, lookups at once and the interval
      between their starts) and ``concurrency`` (16: lookups at once over all hosts);
    * ``journal`` (a path: answers on disk as they arrive) and ``resume`` (continue it);
    * ``clock`` (time for the lookups and the politeness; a ``ManualClock`` is advanced instead
      of waited for), ``timeout`` (10 s per request), ``deadline`` (30 s per lookup, from its
      turn), ``retries`` (0, see :func:`~peppolnet.bulk.check_many`), ``progress`` (called
      after every answer with a :class:`~peppolnet.bulk.Progress`).
    """

    network: Network | None
    document_type: DocumentTypeId | str | None
    politeness: Politeness | None
    concurrency: int
    journal: str | Path | None
    resume: bool
    clock: Clock | None
    timeout: float
    deadline: float | None
    retries: int
    progress: Callable[[Progress], None] | None


@dataclasses.dataclass(frozen=True)
class OperatorShares:
    """The tables of a survey (see the module notes). ``hosts`` says what this run did to each
    SMP host (``scheme://host:port``; a resumed run's earlier lookups are not in it)."""

    participants: Any
    by_operator: Any
    by_country: Any
    hosts: dict[str, HostRecord] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, participants: Any, hosts: dict[str, HostRecord] | None = None) -> OperatorShares:
        """The shares of a ``participants`` table (the columns of bulk results)."""
        columns = ["country", "seat_id", "operator_name"]
        known = [r for r in participants.select(columns).to_pylist() if r["seat_id"]]
        by_operator = _shares(known, ("seat_id",))
        by_country = _shares(known, ("country", "seat_id"))
        return cls(
            participants,
            data_table(by_operator, OPERATOR_FIELDS),
            data_table(by_country, COUNTRY_FIELDS),
            dict(hosts or {}),
        )

    @property
    def total(self) -> int:
        """How many participants were looked up."""
        return int(self.participants.num_rows)

    @property
    def attributed(self) -> int:
        """How many of them have a known operator."""
        return int(self.participants.num_rows - self.participants["seat_id"].null_count)

    def summary(self) -> Summary:
        """Counts per verdict, operator and country (:class:`~peppolnet.bulk.Summary`)."""
        summary = Summary()
        columns = ["verdict", "operator_name", "seat_id", "country"]
        for row in self.participants.select(columns).to_pylist():
            summary.add({k: v or "" for k, v in row.items()})
        return summary

    def to_arrow(self, table: str = "by_operator") -> Any:
        """One of :data:`TABLES` as a ``pyarrow.Table``."""
        if table not in TABLES:
            raise InvalidInput(
                _(
                    "no table {name!r}; the tables are {tables}",
                    name=table,
                    tables=", ".join(TABLES),
                )
            )
        return getattr(self, table)

    def to_pandas(self, table: str = "by_operator") -> Any:
        """One of :data:`TABLES` as a ``pandas.DataFrame``."""
        return _Table(self.to_arrow(table)).to_pandas()

    def to_parquet(self, path: str | Path, table: str = "by_operator") -> Path:
        """Write one of :data:`TABLES` to the Parquet file ``path``; returns the path."""
        return _Table(self.to_arrow(table)).to_parquet(path)

    def _repr_html_(self) -> str:
        return self.html()

    def html(self, language: str | None = None) -> str:
        """The shares as HTML tables (what a notebook shows), headings in ``language``."""
        heading = _(
            "{total} participants, {known} with a known operator",
            total=self.total,
            known=self.attributed,
        )
        operator = (_("Seat ID"), _("operator"), _("participants"), _("share"))
        head = [render(h, language) for h in operator]
        country = render(_("country"), language)
        return (
            f"<div><strong>{html.escape(render(heading, language))}</strong>"
            f"{_shown(head, self.by_operator, language)}"
            f"{_shown([country, *head], self.by_country, language)}</div>"
        )


def _shown(headers: list[str], table: Any, language: str | None) -> str:
    """The first :data:`_SHOWN` rows of ``table`` as HTML, and how many are left out: a table
    cut without a word reads as the whole market (``to_pandas()`` has every row)."""
    rows = [tuple(r.values()) for r in table.slice(0, _SHOWN).to_pylist()]
    more = table.num_rows - _SHOWN
    rest = _("... and {count} more rows", count=more)
    tail = f"<p>{html.escape(render(rest, language))}</p>" if more > 0 else ""
    return html_table(headers, rows, language=language) + tail


class _Table(AsTable):
    def __init__(self, table: Any) -> None:
        self._table = table

    def to_arrow(self) -> Any:
        return self._table


def _shares(known: list[dict[str, Any]], by: tuple[str, ...]) -> list[dict[str, Any]]:
    """Participants per operator within each group of ``by`` (the seat id last), largest
    first, each with its share of its group (all of ``known`` when grouped by seat id only)."""
    counts = Counter(tuple(r[k] for k in by) for r in known)
    names: dict[str, str | None] = {}
    for r in known:
        names.setdefault(r["seat_id"], r["operator_name"])
    groups = Counter(key[:-1] for key in counts.elements())
    ordered = sorted(counts.items(), key=lambda item: (str(item[0][:-1]), -item[1], item[0][-1]))
    rows = []
    for key, count in ordered:
        row = dict(zip(by, key, strict=True))
        row.update(operator_name=names[key[-1]], participants=count)
        row["share"] = count / groups[key[:-1]]
        rows.append(row)
    return rows


# --- the run -----------------------------------------------------------------------------


class _Survey:
    """One run of :func:`operator_shares` (sync or async): the rows to look up, the answers
    kept (in the journal, or in memory), the tables at the end."""

    def __init__(self, options: ShareOptions) -> None:
        unknown = sorted(set(options) - ShareOptions.__optional_keys__)
        if unknown:
            raise TypeError(f"operator_shares() got an unexpected keyword argument {unknown[0]!r}")
        self.options = options
        self.concurrency = options.get("concurrency", 16)
        if self.concurrency < 1:
            raise InvalidInput(
                _("concurrency must be at least 1, not {value}", value=self.concurrency)
            )
        self.politeness = options.get("politeness") or Politeness()
        path = options.get("journal")
        self.journal = (
            ResultJournal(path, resume=options.get("resume", False)) if path is not None else None
        )
        self._first = self.journal.first_ids() if self.journal is not None else {}
        self._kept: list[dict[str, Any]] = []
        self._made: list[PoliteLookup] = []

    def lookup(self) -> PoliteLookup:
        """The run's polite lookup (called by the bulk engine, on the run's loop side)."""
        options = self.options
        made = PoliteLookup.open(
            options.get("network"),
            self.politeness,
            concurrency=self.concurrency,
            clock=options.get("clock"),
            timeout=options.get("timeout", 10.0),
            deadline=options.get("deadline", 30.0),
        )
        self._made.append(made)
        return made

    def engine_options(self) -> CheckOptions:
        """The bulk engine may hold many rows: they wait for their host's turn, not for a
        place, so one busy SMP does not hold up the others (hence unordered)."""
        window = max(256, 16 * self.concurrency)
        return {
            "document_type": self.options.get("document_type"),
            "concurrency": window,
            "window": window,
            "ordered": False,
            "retries": self.options.get("retries", 0),
            "progress": self.options.get("progress"),
            "clock": self.options.get("clock"),
        }

    def row(self, number: int, item: object) -> RegisterRow | None:
        """Input ``item`` as the engine's row ``number``; None when the journal has it."""
        row = _as_row(number, item)
        if self.journal is None or number not in self.journal.done:
            return row
        given = str(row.candidates[0]) if row.candidates else row.participant_id
        written = self._first.get(number, given) or ""
        if written.lower() != given.lower():
            raise InvalidInput(
                _(
                    "the journal {name!r} was written for other participants: its row "
                    "{number} is {written}, the input's is {given}; resume with the same "
                    "participants in the same order, or start a new journal",
                    name=self.journal.path.name,
                    number=number,
                    written=written,
                    given=given,
                )
            )
        return None

    def rows(self, items: Iterable[object]) -> Iterator[RegisterRow]:
        for number, item in enumerate(items, 1):
            row = self.row(number, item)
            if row is not None:
                yield row

    async def arows(
        self, items: Iterable[object] | AsyncIterable[object]
    ) -> AsyncIterator[RegisterRow]:
        if not isinstance(items, AsyncIterable):
            for row in self.rows(items):
                yield row
            return
        number = 0
        async for item in items:
            number += 1
            found = self.row(number, item)
            if found is not None:
                yield found

    def take(self, result: BulkResult) -> None:
        if self.journal is not None:
            self.journal.write(result)
        else:
            self._kept.append(result.data())

    def shares(self) -> OperatorShares:
        rows = self.journal.rows() if self.journal is not None else iter(self._kept)
        hosts = {h: r for made in self._made for h, r in made.turns.records().items()}
        # answers arrive as completed (one busy SMP must not hold up the rest): in input order
        return OperatorShares.of(data_table(rows).sort_by("row"), hosts)

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()


def operator_shares(
    participants: Iterable[object], **options: Unpack[ShareOptions]
) -> OperatorShares:
    """Look every participant up and return the :class:`OperatorShares` tables.

    ``participants`` holds ids (``ParticipantId`` or text) or records with a
    ``participant_id`` or ``participant`` attribute (and optionally ``country``), such as the
    cards of a Directory export. The options are :class:`ShareOptions`. One row per input
    item, whatever happens to its lookup; an item without a usable id is an
    ``invalid-input`` row.
    """
    survey = _Survey(options)
    try:
        results = check_many(survey.rows(participants), survey.lookup, **survey.engine_options())
        for result in results:
            survey.take(result)
        return survey.shares()
    finally:
        survey.close()


async def operator_shares_async(
    participants: Iterable[object] | AsyncIterable[object], **options: Unpack[ShareOptions]
) -> OperatorShares:
    """The asynchronous twin of :func:`operator_shares`, on the running loop (``participants``
    may also be an async iterable)."""
    survey = _Survey(options)
    try:
        results = check_many_async(
            survey.arows(participants), survey.lookup, **survey.engine_options()
        )
        async for result in results:
            survey.take(result)
        return survey.shares()
    finally:
        survey.close()


# --- input items as rows -----------------------------------------------------------------


def _as_row(number: int, item: object) -> RegisterRow:
    """``item`` (an id, or a record with one) as a row of the bulk engine."""
    try:
        value, country = _identity(item)
    except PeppolnetError as exc:  # a record whose id does not parse
        return RegisterRow(number, (), problem=exc.message)
    if value is None:
        kind = type(item).__name__
        return RegisterRow(
            number, (), problem=_("the item ({kind}) has no participant id", kind=kind)
        )
    text = str(value)
    row = RegisterRow(number, (text, country), participant_id=text, country=country)
    try:
        candidates = lookup_key(row)
    except InvalidInput as exc:
        return dataclasses.replace(row, problem=exc.message)
    country = country or _scheme_country(candidates[0].icd or "")
    return dataclasses.replace(row, candidates=candidates, country=country)


def _identity(item: object) -> tuple[object | None, str]:
    if isinstance(item, str | ParticipantId):
        return item, ""
    value = getattr(item, "participant_id", None)
    if value is None:
        value = getattr(item, "participant", None)
    country = getattr(item, "country", None)
    return value, country_of(country) if isinstance(country, str) else ""


@functools.cache
def _scheme_country(icd: str) -> str:
    """The country of an ICD scheme of the code list ("" for none, or "international")."""
    scheme = scheme_for(icd) if icd.isdigit() else None
    country = scheme.country if scheme is not None else ""
    return country if len(country) == 2 else ""
