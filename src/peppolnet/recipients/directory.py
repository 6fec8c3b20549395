"""``RecipientDirectory``: your customers, where they can be reached, and what changed.

A local, persistent answer to "which of my customers can receive e-invoices, through whom, and
who moved since last week?". Customer registers are imported (upsert: a re-import updates, never
duplicates), entries are found by name, organisation number or participant id, ``refresh()``
re-checks them through the bulk machinery and keeps every answer as history, and ``changes()``
compares each customer's last two decisive answers.

Identity: a customer is its first participant id candidate (``0007:5567321707`` for a Swedish
org number); every candidate (Norway: 0192 and 9909, ...) is indexed, so the number typed any way
- ``556732-1707``, ``5567321707``, ``SE556732170701`` - finds the same row.

``unknown`` answers (faults) are stored in the history but never count as a change: a DNS
timeout does not mean a customer stopped being reachable.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from peppolnet.bulk.registers import RegisterRow, lookup_key, read_register
from peppolnet.clock import Clock, as_clock
from peppolnet.errors import InvalidIdentifier, InvalidInput
from peppolnet.i18n import _
from peppolnet.identifiers import ParticipantId
from peppolnet.recipients.search import NameIndex, normalise_name
from peppolnet.recipients.store import Store
from peppolnet.schemes import suggest_participant_ids

if TYPE_CHECKING:
    from peppolnet.auto import AsyncAutoLookup, AutoLookup
    from peppolnet.bulk.run import BulkResult, Progress
    from peppolnet.lookup import AsyncLookup, Lookup
    from peppolnet.network import Network, Networks

__all__ = [
    "Change",
    "ChangeKind",
    "CheckRecord",
    "ImportReport",
    "Recipient",
    "RecipientDirectory",
    "RefreshReport",
    "SearchHit",
]

ChangeKind = Literal[
    "became-reachable", "stopped-being-reachable", "changed-operator", "changed-smp"
]
CHANGE_KINDS: Final[tuple[ChangeKind, ...]] = (
    "became-reachable",
    "stopped-being-reachable",
    "changed-operator",
    "changed-smp",
)
_CAN_RECEIVE: Final = "can-receive"
_UNKNOWN: Final = "unknown"
_BATCH: Final = 100  # refresh results per transaction: an interrupted refresh keeps what it did
_ORG_RE: Final = re.compile(r"^[A-Za-z]{0,2}[\s\-.:/]*\d[\d\s\-.:/]{3,}[A-Za-z0-9\s]{0,6}$")


def _ts(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InvalidInput(_("timestamps must be timezone-aware (e.g. datetime.now(UTC))"))
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _org_key(number: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", number).upper()


@dataclasses.dataclass(frozen=True)
class Recipient:
    """One customer and its last known reachability (``None`` fields: never checked)."""

    id: int
    participant_id: str
    name: str
    org_number: str
    country: str
    email: str
    checked_at: datetime | None = None
    verdict: str | None = None
    seat_id: str | None = None
    operator_name: str | None = None
    smp_url: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with stable keys."""
        return {
            "participant_id": self.participant_id,
            "name": self.name,
            "org_number": self.org_number,
            "country": self.country,
            "email": self.email,
            "verdict": self.verdict,
            "seat_id": self.seat_id,
            "operator_name": self.operator_name,
            "smp_url": self.smp_url,
            "reason": self.reason,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
        }


@dataclasses.dataclass(frozen=True)
class SearchHit:
    """A search result: the recipient, a 0-100 score and what matched (``name``, ``org_number``,
    ``participant_id``)."""

    recipient: Recipient
    score: float
    matched_by: Literal["participant_id", "org_number", "name"]

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "matched_by": self.matched_by, **self.recipient.to_json()}


@dataclasses.dataclass(frozen=True)
class CheckRecord:
    """One stored answer from the history (``checks`` table)."""

    checked_at: datetime
    verdict: str
    participant_id: str
    seat_id: str
    operator_name: str
    smp_url: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "verdict": self.verdict,
            "participant_id": self.participant_id,
            "seat_id": self.seat_id,
            "operator_name": self.operator_name,
            "smp_url": self.smp_url,
            "reason": self.reason,
        }


@dataclasses.dataclass(frozen=True)
class Change:
    """Something that moved between a recipient's two last decisive checks."""

    recipient: Recipient
    kind: ChangeKind
    before: CheckRecord
    after: CheckRecord

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "participant_id": self.recipient.participant_id,
            "name": self.recipient.name,
            "before": self.before.to_json(),
            "after": self.after.to_json(),
        }


@dataclasses.dataclass(frozen=True)
class ImportReport:
    """What an import did. ``skipped`` lists ``(row number, problem)`` for unusable rows."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: tuple[tuple[int, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": [{"row": n, "problem": p} for n, p in self.skipped],
        }


@dataclasses.dataclass(frozen=True)
class RefreshReport:
    """What a refresh did: how many were checked and the verdict counts."""

    checked: int
    counts: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "counts": dict(self.counts)}


_RECIPIENT_COLUMNS: Final = (
    "id, participant_id, name, org_number, country, email, checked_at, verdict, seat_id, "
    "operator_name, smp_url, reason"
)


def _recipient(row: sqlite3.Row) -> Recipient:
    return Recipient(
        id=row["id"],
        participant_id=row["participant_id"],
        name=row["name"],
        org_number=row["org_number"],
        country=row["country"],
        email=row["email"],
        checked_at=_dt(row["checked_at"]),
        verdict=row["verdict"],
        seat_id=row["seat_id"],
        operator_name=row["operator_name"],
        smp_url=row["smp_url"],
        reason=row["reason"],
    )


def _check(row: sqlite3.Row) -> CheckRecord:
    checked = _dt(row["checked_at"])
    assert checked is not None
    return CheckRecord(
        checked,
        row["verdict"],
        row["participant_id"],
        row["seat_id"],
        row["operator_name"],
        row["smp_url"],
        row["reason"],
    )


def _smp_host(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).netloc or url).lower() if url else ""


def compare(before: CheckRecord, after: CheckRecord) -> list[ChangeKind]:
    """The kinds of change between two decisive (not ``unknown``) checks, pure."""
    kinds: list[ChangeKind] = []
    was, now = before.verdict == _CAN_RECEIVE, after.verdict == _CAN_RECEIVE
    if now and not was:
        kinds.append("became-reachable")
    elif was and not now:
        kinds.append("stopped-being-reachable")
    elif was and now and before.seat_id.upper() != after.seat_id.upper():
        kinds.append("changed-operator")
    if before.smp_url and after.smp_url and _smp_host(before.smp_url) != _smp_host(after.smp_url):
        kinds.append("changed-smp")
    return kinds


class RecipientDirectory:
    """The local recipient directory in one SQLite file (see docs/customers.md).

    ``path`` defaults to ``$PEPPOLNET_DB`` or ``$XDG_DATA_HOME/peppolnet/recipients.sqlite``.
    ``clock`` (a :class:`peppolnet.clock.Clock`; tests pass a :class:`~peppolnet.clock.ManualClock`)
    gives "now" for every timestamp, for what is due, and for the lookups :meth:`refresh` makes,
    so one clock decides both when a check happened and when the next one is due. Safe for one
    writer and many readers, across threads and processes.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.clock: Clock = as_clock(clock)
        self.store = Store(path)
        self._local = threading.local()  # the name index, per thread like the connection
        self.store.connection()  # create / migrate now, so errors surface here

    @property
    def path(self) -> Path:
        return self.store.path

    def __repr__(self) -> str:
        return f"RecipientDirectory({str(self.path)!r})"

    def close(self) -> None:
        """Close this thread's database connection."""
        self.store.close()

    def __enter__(self) -> RecipientDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return int(self.store.connection().execute("SELECT count(*) FROM recipients").fetchone()[0])

    # --- import ----------------------------------------------------------------------------------

    def import_register(
        self,
        path: str | os.PathLike[str],
        *,
        columns: Mapping[str, str] | None = None,
        default_country: str | None = None,
    ) -> ImportReport:
        """Import a CSV/XLSX customer register (see :func:`peppolnet.bulk.read_register`).

        All rows are written in ONE transaction: an interrupted import changes nothing.
        """
        register = read_register(Path(path), columns=columns, default_country=default_country)
        return self.import_rows(register.rows)

    def import_rows(self, rows: Iterable[RegisterRow]) -> ImportReport:
        """Upsert register rows by participant id / organisation number, atomically."""
        now = _ts(self.clock.now())
        added = updated = unchanged = 0
        skipped: list[tuple[int, str]] = []
        with self.store.transaction() as conn:
            for row in rows:
                if row.problem is not None or not row.candidates:
                    skipped.append((row.number, row.problem or "no usable identifier"))
                    continue
                outcome = self._upsert(conn, row, now)
                if outcome == "added":
                    added += 1
                elif outcome == "updated":
                    updated += 1
                else:
                    unchanged += 1
        return ImportReport(added, updated, unchanged, tuple(skipped))

    def add(
        self,
        name: str,
        *,
        org_number: str = "",
        country: str = "",
        participant_id: str = "",
        email: str = "",
    ) -> Recipient:
        """Add or update one customer; raises :class:`InvalidInput` for an unusable identifier."""
        row = RegisterRow(
            0,
            (),
            name=name.strip(),
            org_number=org_number.strip(),
            country=country.strip().upper(),
            email=email.strip(),
            participant_id=participant_id.strip(),
        )
        row = dataclasses.replace(row, candidates=lookup_key(row))
        with self.store.transaction() as conn:
            self._upsert(conn, row, _ts(self.clock.now()))
        found = self.get(row.candidates[0])
        assert found is not None
        return found

    def _upsert(self, conn: sqlite3.Connection, row: RegisterRow, now: str) -> str:
        ids = [c.uri for c in row.candidates]
        org_key = _org_key(row.org_number)
        marks = ",".join("?" * len(ids))
        hit = conn.execute(
            f"SELECT recipient_id FROM recipient_ids WHERE participant_id IN ({marks}) LIMIT 1",  # noqa: S608
            ids,
        ).fetchone()
        if hit is None and org_key and row.country:
            hit = conn.execute(
                "SELECT id FROM recipients WHERE country = ? AND org_key = ? LIMIT 1",
                (row.country, org_key),
            ).fetchone()
        if hit is None:
            cursor = conn.execute(
                "INSERT INTO recipients (participant_id, org_number, org_key, country, name, "
                "name_key, email, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    ids[0], row.org_number, org_key, row.country, row.name,
                    normalise_name(row.name), row.email, now, now,
                ),
            )  # fmt: skip
            rid = cursor.lastrowid
            outcome = "added"
        else:
            rid = hit[0]
            old = conn.execute(
                "SELECT name, org_number, country, email FROM recipients WHERE id = ?", (rid,)
            ).fetchone()
            new = (
                row.name or old["name"],
                row.org_number or old["org_number"],
                row.country or old["country"],
                row.email or old["email"],
            )
            if new == tuple(old):
                outcome = "unchanged"
            else:
                conn.execute(
                    "UPDATE recipients SET name = ?, name_key = ?, org_number = ?, org_key = ?, "
                    "country = ?, email = ?, updated_at = ? WHERE id = ?",
                    (new[0], normalise_name(new[0]), new[1], _org_key(new[1]), new[2], new[3],
                     now, rid),
                )  # fmt: skip
                outcome = "updated"
        for position, pid in enumerate(ids):
            conn.execute(
                "INSERT OR IGNORE INTO recipient_ids (participant_id, recipient_id, position) "
                "VALUES (?,?,?)",
                (pid, rid, position),
            )
        return outcome

    # --- reading ---------------------------------------------------------------------------------

    def get(self, participant: ParticipantId | str) -> Recipient | None:
        """The recipient one of whose participant ids is ``participant``, if any."""
        pid = self._pid(participant)
        if pid is None:
            return None
        row = (
            self.store.connection()
            .execute(
                f"SELECT {_RECIPIENT_COLUMNS} FROM recipients WHERE id = "  # noqa: S608
                "(SELECT recipient_id FROM recipient_ids WHERE participant_id = ?)",
                (pid.uri,),
            )
            .fetchone()
        )
        return _recipient(row) if row else None

    def recipients(self) -> Iterator[Recipient]:
        """Every recipient, by name."""
        rows = self.store.connection().execute(
            f"SELECT {_RECIPIENT_COLUMNS} FROM recipients ORDER BY name_key, id"  # noqa: S608
        )
        for row in rows:
            yield _recipient(row)

    def history(self, participant: ParticipantId | str) -> list[CheckRecord]:
        """Every stored check of a recipient, oldest first (empty if unknown)."""
        found = self.get(participant)
        if found is None:
            return []
        rows = self.store.connection().execute(
            "SELECT * FROM checks WHERE recipient_id = ? ORDER BY id", (found.id,)
        )
        return [_check(r) for r in rows]

    @staticmethod
    def _pid(participant: ParticipantId | str) -> ParticipantId | None:
        if isinstance(participant, ParticipantId):
            return participant
        try:
            return ParticipantId.parse(participant.strip(), lax=True)
        except InvalidIdentifier:
            return None

    # --- search ----------------------------------------------------------------------------------

    def search(self, text: str, *, limit: int = 10) -> list[SearchHit]:
        """Find recipients by participant id, organisation number (any common format) or name.

        Identifier matches come first (score 100); then names ranked by fuzzy score, tolerant
        of case, accents, word order and small typos. Empty list when nothing is close.
        """
        query = text.strip()
        if not query or limit <= 0:
            return []
        with self.store.reading() as conn:
            hits: dict[int, SearchHit] = {}
            pid = self._pid(query) if ":" in query else None
            if pid is not None:
                for r in self._by_ids(conn, [pid.uri]):
                    hits.setdefault(r.id, SearchHit(r, 100.0, "participant_id"))
            if _ORG_RE.match(query):
                for r in self._by_org_number(conn, query):
                    hits.setdefault(r.id, SearchHit(r, 100.0, "org_number"))
            if len(hits) < limit:
                ranked = self._name_index(conn).rank(query, limit=limit)
                wanted = [rid for rid, _ in ranked if rid not in hits]
                by_id = self._by_row_ids(conn, wanted)
                for rid, score in ranked:
                    if rid in by_id:
                        hits.setdefault(rid, SearchHit(by_id[rid], score, "name"))
        return list(hits.values())[:limit]

    def _name_index(self, conn: sqlite3.Connection) -> NameIndex[int]:
        """The names, cached until this or another connection commits a change."""
        version = (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
        cached: tuple[tuple[int, int], NameIndex[int]] | None = getattr(self._local, "names", None)
        if cached is not None and cached[0] == version:
            return cached[1]
        rows = conn.execute("SELECT id, name_key FROM recipients")
        index = NameIndex((int(r[0]), str(r[1])) for r in rows)
        self._local.names = (version, index)
        return index

    def _by_org_number(self, conn: sqlite3.Connection, query: str) -> list[Recipient]:
        countries = [r[0] for r in conn.execute("SELECT DISTINCT country FROM recipients")]
        ids: list[str] = []
        for country in countries:
            if country:
                ids.extend(c.uri for c in suggest_participant_ids(query, country).candidates)
        found = self._by_ids(conn, ids)
        key = _org_key(query)
        seen = {r.id for r in found}
        rows = conn.execute(
            f"SELECT {_RECIPIENT_COLUMNS} FROM recipients WHERE org_key = ?",  # noqa: S608
            (key,),
        )
        found.extend(r for r in map(_recipient, rows) if r.id not in seen)
        return found

    @staticmethod
    def _by_ids(conn: sqlite3.Connection, ids: list[str]) -> list[Recipient]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT {_RECIPIENT_COLUMNS} FROM recipients WHERE id IN "  # noqa: S608
            f"(SELECT recipient_id FROM recipient_ids WHERE participant_id IN ({marks})) "
            "ORDER BY name_key",
            ids,
        )
        return [_recipient(r) for r in rows]

    @staticmethod
    def _by_row_ids(conn: sqlite3.Connection, ids: list[int]) -> dict[int, Recipient]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT {_RECIPIENT_COLUMNS} FROM recipients WHERE id IN ({marks})",  # noqa: S608
            ids,
        )
        return {r["id"]: _recipient(r) for r in rows}

    # --- refresh ---------------------------------------------------------------------------------

    def due(self, older_than: timedelta | None = None) -> list[Recipient]:
        """Recipients never checked, or (with ``older_than``) last checked longer ago than that."""
        conn = self.store.connection()
        if older_than is None:
            rows = conn.execute(
                f"SELECT {_RECIPIENT_COLUMNS} FROM recipients ORDER BY id"  # noqa: S608
            )
        else:
            limit = _ts(self.clock.now() - older_than)
            rows = conn.execute(
                f"SELECT {_RECIPIENT_COLUMNS} FROM recipients "  # noqa: S608
                "WHERE checked_at IS NULL OR checked_at < ? ORDER BY id",
                (limit,),
            )
        return [_recipient(r) for r in rows]

    def refresh(
        self,
        network: Network | Networks | None = None,
        *,
        lookup: Lookup | AsyncLookup | AutoLookup | AsyncAutoLookup | None = None,
        dnssec: bool = False,
        older_than: timedelta | None = None,
        concurrency: int = 16,
        progress: Callable[[Progress], None] | None = None,
    ) -> RefreshReport:
        """Re-check recipients (all, or those not checked within ``older_than``) and store it all.

        Uses :func:`peppolnet.bulk.check_many` with ``lookup`` (or one made for ``network`` on
        this directory's clock). ``network`` may be a :class:`~peppolnet.network.Networks`
        (``auto_networks()``: production, then test - each customer is looked up where it is
        registered); ``dnssec=True`` validates each SML answer with DNSSEC (docs/dnssec.md), so
        a forged answer is stored as ``unknown``, never as a move. A ``lookup`` of yours brings
        its own choice: make it with ``dnssec=True``.
        Each answer is appended to the history and becomes the recipient's latest; results are
        committed in batches, so an interrupted refresh keeps the answers it already has.
        """
        from peppolnet.bulk.run import check_many

        chosen, plain = _refresh_lookup(network, lookup, dnssec, concurrency, self.clock)
        due = self.due(older_than)
        if not due:
            return RefreshReport(0, {})
        conn = self.store.connection()
        candidates: dict[int, tuple[ParticipantId, ...]] = {}
        for rid, pid in conn.execute(
            "SELECT recipient_id, participant_id FROM recipient_ids ORDER BY recipient_id, position"
        ):
            candidates.setdefault(rid, ())
            candidates[rid] += (ParticipantId.parse(pid, lax=True),)
        items = [
            RegisterRow(
                r.id,
                (),
                name=r.name,
                org_number=r.org_number,
                country=r.country,
                participant_id=r.participant_id,
                candidates=candidates.get(r.id)
                or (ParticipantId.parse(r.participant_id, lax=True),),
            )
            for r in due
        ]
        counts: dict[str, int] = {}
        batch: list[BulkResult] = []
        results = check_many(
            items, chosen, network=plain, concurrency=concurrency, total=len(items),
            progress=progress, clock=self.clock if lookup is None else None,
        )  # fmt: skip
        try:
            for result in results:
                counts[result.outcome] = counts.get(result.outcome, 0) + 1
                batch.append(result)
                if len(batch) >= _BATCH:
                    self._store_results(batch)
                    batch = []
        finally:
            results.close()
            if batch:
                self._store_results(batch)
        return RefreshReport(sum(counts.values()), counts)

    def record(self, results: Iterable[BulkResult]) -> None:
        """Store bulk results whose ``row.number`` is a recipient id (what refresh() does)."""
        self._store_results(list(results))

    def _store_results(self, results: list[BulkResult]) -> None:
        with self.store.transaction() as conn:
            for result in results:
                reach = result.reachability
                # the directory's clock, not the answer's: due() compares with the same clock
                at = _ts(self.clock.now())
                values = (
                    at, result.outcome, result.participant_id, result.seat_id,
                    result.operator_name, (reach.smp_url or "") if reach else "", result.reason,
                )  # fmt: skip
                conn.execute(
                    "INSERT INTO checks (recipient_id, checked_at, verdict, participant_id, "
                    "seat_id, operator_name, smp_url, reason) VALUES (?,?,?,?,?,?,?,?)",
                    (result.row.number, *values),
                )
                conn.execute(
                    "UPDATE recipients SET checked_at = ?, verdict = ?, seat_id = ?, "
                    "operator_name = ?, smp_url = ?, reason = ? WHERE id = ?",
                    (values[0], values[1], *values[3:], result.row.number),
                )

    # --- changes ---------------------------------------------------------------------------------

    def changes(self, since: datetime | None = None) -> list[Change]:
        """What moved between each recipient's last two decisive checks.

        ``unknown`` answers are skipped on both sides (a fault is not a change). With ``since``,
        only recipients whose latest decisive check is at or after ``since`` are compared.
        """
        limit = _ts(since) if since is not None else None
        found: list[Change] = []
        with self.store.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM checks WHERE verdict != ? ORDER BY recipient_id, id DESC",
                (_UNKNOWN,),
            )
            pairs: dict[int, list[CheckRecord]] = {}
            for row in rows:
                seen = pairs.setdefault(row["recipient_id"], [])
                if len(seen) < 2:
                    seen.append(_check(row))
            moved = {
                rid: (pair[1], pair[0])
                for rid, pair in pairs.items()
                if len(pair) == 2 and (limit is None or _ts(pair[0].checked_at) >= limit)
            }
            recipients = self._by_row_ids(conn, list(moved))
        for rid, (before, after) in moved.items():
            for kind in compare(before, after):
                found.append(Change(recipients[rid], kind, before, after))
        found.sort(key=lambda c: (CHANGE_KINDS.index(c.kind), c.recipient.name))
        return found


def _refresh_lookup(
    network: Network | Networks | None,
    lookup: Lookup | AsyncLookup | AutoLookup | AsyncAutoLookup | None,
    dnssec: bool,
    concurrency: int,
    clock: Clock,
) -> tuple[Any, Network | None]:
    """Who looks a refresh up, for :func:`~peppolnet.bulk.check_many`: the caller's lookup, a
    factory of the lookup asked for (DNSSEC, or every network of a ``Networks``: the run makes
    and closes it), or - with the network for it - the run's own plain lookup (None)."""
    from peppolnet.network import Networks

    if lookup is not None:
        if dnssec:
            from peppolnet.lookup import require_dnssec

            require_dnssec(lookup)
        return lookup, None
    if not dnssec and not isinstance(network, Networks):
        return None, network
    import functools

    from peppolnet.auto import AsyncAutoLookup
    from peppolnet.bulk.run import default_per_host
    from peppolnet.lookup import AsyncLookup

    # the options check_many gives the lookup it makes itself, on this directory's clock
    options: dict[str, Any] = {
        "per_host": default_per_host(concurrency),
        "dnssec": dnssec,
        "clock": clock,
    }
    if isinstance(network, Networks):
        return functools.partial(AsyncAutoLookup, network, **options), None
    return functools.partial(AsyncLookup, network, **options), None
