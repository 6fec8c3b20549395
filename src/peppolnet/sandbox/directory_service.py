"""The sandbox's Peppol Directory: ``GET /search/1.0/json`` and ``/search/1.0/xml``.

It behaves as the production Directory does where a client can tell (Peppol Directory REST API
documentation): one index
document per business entity, paging over entities, hits grouped by participant per page,
AND-combined fields, 400 for no field / short partial values / pages beyond the 1000-result cap,
405 for anything but GET, and HTTP 429 with ``Retry-After`` above a per-IP rate (sliding
window) - so clients are tested against the same limits they meet in production.

Entries can be added and removed while the server runs (the operator desk does this). With an
:class:`~peppolnet.sandbox.export_service.ExportService` in ``exports``, the same server also
answers ``/export/...``, the daily export of every entry.
"""

from __future__ import annotations

import math
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from peppolnet.businesscard import BusinessEntity
from peppolnet.directory.model import MAX_RESULTS, DirectoryMatch, SearchPage
from peppolnet.directory.parse import render_search_json, render_search_xml
from peppolnet.directory.query import MIN_PARTIAL_LENGTH
from peppolnet.errors import InvalidIdentifier
from peppolnet.identifiers import DocumentTypeId, ParticipantId
from peppolnet.sandbox.http import Request, Response

if TYPE_CHECKING:
    from peppolnet.sandbox.export_service import ExportService

__all__ = ["DirectoryEntry", "DirectoryService"]

SEARCH_PREFIX = "/search/1.0"
_PARTIAL = ("name", "geoinfo", "website", "contact", "addinfo")
_FIELDS = (
    "q",
    "participant",
    "name",
    "country",
    "geoinfo",
    "identifierScheme",
    "identifierValue",
    "website",
    "contact",
    "addinfo",
    "regdate",
    "doctype",
)


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """What the Directory knows of one participant: its document types and its entities."""

    participant: ParticipantId
    document_types: tuple[DocumentTypeId, ...] = ()
    entities: tuple[BusinessEntity, ...] = ()


class _BadQuery(Exception):
    pass


#: Letters that Unicode does not decompose into a base letter plus accent.
_UNDECOMPOSED = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "þ": "th"})


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Österreich'/'osterreich', 'Ørret'/'orret' fold alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_UNDECOMPOSED)


def _contains(haystack: Iterable[str | None], needle: str) -> bool:
    folded = fold(needle)
    return any(h is not None and folded in fold(h) for h in haystack)


def _all_text(entry: DirectoryEntry, entity: BusinessEntity) -> list[str | None]:
    texts: list[str | None] = [entry.participant.uri, entity.country, entity.geo_info]
    texts += [n.name for n in entity.names]
    texts += [part for pair in entity.identifiers for part in pair]
    texts += list(entity.websites)
    texts += [p for c in entity.contacts for p in (c.type, c.name, c.phone, c.email)]
    texts += [entity.additional_info]
    texts += [d.uri for d in entry.document_types]
    if entity.registration_date is not None:
        texts.append(entity.registration_date.isoformat())
    return texts


def _matcher(field: str, value: str) -> Callable[[DirectoryEntry, BusinessEntity], bool]:
    """One query term as a predicate over an index document; raises _BadQuery like the 400s."""
    if field in _PARTIAL and len(value.strip()) < MIN_PARTIAL_LENGTH:
        raise _BadQuery(f"The value of '{field}' must have at least {MIN_PARTIAL_LENGTH} chars.")
    text = value.strip()
    if field == "q":
        if not text:
            raise _BadQuery("The generic query 'q' must not be empty.")
        return lambda en, e: _contains(_all_text(en, e), text)
    if field == "participant":
        try:
            pid = ParticipantId.parse(text, lax=True)
        except InvalidIdentifier as exc:
            raise _BadQuery(f"Invalid participant identifier: {exc}") from None
        return lambda en, e: en.participant == pid
    if field == "doctype":
        try:
            doc = DocumentTypeId.parse(text, lax=True)
        except InvalidIdentifier as exc:
            raise _BadQuery(f"Invalid document type identifier: {exc}") from None
        return lambda en, e: doc in en.document_types
    if field == "name":
        return lambda en, e: _contains((n.name for n in e.names), text)
    if field == "country":
        return lambda en, e: e.country.upper() == text.upper()
    if field == "geoinfo":
        return lambda en, e: _contains((e.geo_info,), text)
    if field == "identifierScheme":
        return lambda en, e: any(s == text for s, _ in e.identifiers)
    if field == "identifierValue":
        return lambda en, e: any(v == text for _, v in e.identifiers)
    if field == "website":
        return lambda en, e: _contains(e.websites, text)
    if field == "contact":
        return lambda en, e: _contains(
            (p for c in e.contacts for p in (c.type, c.name, c.phone, c.email)), text
        )
    if field == "addinfo":
        return lambda en, e: _contains((e.additional_info,), text)
    if field == "regdate":
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _BadQuery(f"Invalid registration date {text!r}; expected YYYY-MM-DD.") from None
        return lambda en, e: e.registration_date == day
    raise AssertionError(field)  # pragma: no cover - _FIELDS lists every field


def _int_param(query: dict[str, list[str]], names: tuple[str, str], default: int) -> int:
    for name in names:
        values = query.get(name)
        if values:
            try:
                return int(values[0])
            except ValueError:
                return default  # as the Directory: an unparsable number means "the default"
    return default


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status,
        (message + "\n").encode(),
        {"Content-Type": "text/plain; charset=UTF-8", **(headers or {})},
    )


class DirectoryService:
    """A Directory search endpoint over a set of entries; use :meth:`handle` as an HTTP handler.

    ``rate_limit_per_second`` (None = unlimited) allows ``ceil(rate * window_seconds)`` requests
    per client IP in any ``window_seconds`` (production: 2/s over a 2 s window); beyond it the
    answer is 429 with ``Retry-After`` (default: the window, rounded up). ``clock`` is injectable.
    """

    def __init__(
        self,
        entries: Iterable[DirectoryEntry] = (),
        *,
        rate_limit_per_second: float | None = None,
        window_seconds: float = 2.0,
        retry_after: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._entries: dict[ParticipantId, DirectoryEntry] = {}
        for entry in entries:
            self._entries[entry.participant] = entry
        self.rate_limit_per_second = rate_limit_per_second
        self.window_seconds = window_seconds
        self.retry_after = retry_after if retry_after is not None else math.ceil(window_seconds)
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        #: Requests answered 429 so far (tests assert the client really met the limit).
        self.rejected = 0
        #: The export (``/export/...``), when this Directory publishes one.
        self.exports: ExportService | None = None

    # --- entries ---------------------------------------------------------------------------------

    def add(self, entry: DirectoryEntry) -> None:
        """Add or replace the entry of ``entry.participant``."""
        with self._lock:
            self._entries[entry.participant] = entry

    def remove(self, participant: ParticipantId) -> bool:
        """Remove a participant; returns whether it was there."""
        with self._lock:
            return self._entries.pop(participant, None) is not None

    def entries(self) -> list[DirectoryEntry]:
        with self._lock:
            return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    # --- HTTP ------------------------------------------------------------------------------------

    def _over_limit(self, client_ip: str) -> bool:
        if not self.rate_limit_per_second:
            return False
        allowed = max(1, math.ceil(self.rate_limit_per_second * self.window_seconds))
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(client_ip, deque())
            while hits and hits[0] <= now - self.window_seconds:
                hits.popleft()
            hits.append(now)  # counted even when refused, as the Directory's limiter does
            if len(hits) > allowed:
                self.rejected += 1
                return True
            return False

    def __call__(self, request: Request) -> Response:
        return self.handle(request)

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request (the :class:`~peppolnet.sandbox.http.HttpServer` handler)."""
        path = request.path.rstrip("/")
        if self.exports is not None and path.startswith(("/export/", "/export-files/")):
            return self.exports.handle(request)
        if path != SEARCH_PREFIX and not path.startswith(SEARCH_PREFIX + "/"):
            return _text(404, f"Not found: {request.path}")
        if request.method not in ("GET", "HEAD"):
            return _text(405, "Only GET is supported.", {"Allow": "GET"})
        if self._over_limit(request.client[0]):
            return _text(
                429, "REST search rate limit exceeded", {"Retry-After": str(self.retry_after)}
            )
        fmt = path[len(SEARCH_PREFIX) :].strip("/").lower() or "xml"
        if fmt not in ("xml", "json"):
            fmt = "xml"  # the Directory falls back to XML for unknown formats
        try:
            page = self.search(request.query)
        except _BadQuery as exc:
            return _text(400, str(exc))
        if fmt == "json":
            body, ctype = render_search_json(page), "application/json; charset=UTF-8"
        else:
            body, ctype = render_search_xml(page), "application/xml; charset=UTF-8"
        return Response(
            200,
            body,
            {
                "Content-Type": ctype,
                "Access-Control-Allow-Origin": "*",
                "Cache-Control": "no-cache",
            },
        )

    def search(self, query: dict[str, list[str]]) -> SearchPage:
        """The search itself over parsed query parameters (pure apart from reading entries)."""
        page_index = _int_param(query, ("resultPageIndex", "rpi"), 0)
        page_count = _int_param(query, ("resultPageCount", "rpc"), 20)
        if page_index < 0:
            raise _BadQuery(f"ResultPageIndex {page_index} is invalid. It must be >= 0.")
        if page_count <= 0:
            raise _BadQuery(f"ResultPageCount {page_count} is invalid. It must be > 0.")
        first = page_index * page_count
        last = (page_index + 1) * page_count - 1
        if first > MAX_RESULTS:
            raise _BadQuery(f"The first result index {first} is invalid. It must be <= 1000.")
        if last > MAX_RESULTS:
            raise _BadQuery(f"The last result index {last} is invalid. It must be <= 1000.")
        terms = [(f, v) for f in _FIELDS for v in query.get(f, [])]
        if not terms:
            raise _BadQuery("No valid query term provided!")
        predicates = [_matcher(f, v) for f, v in terms]
        hits = [
            (entry, entity)
            for entry in self.entries()
            for entity in entry.entities
            if all(p(entry, entity) for p in predicates)
        ]
        view = hits[first : last + 1]
        grouped: dict[ParticipantId, tuple[DirectoryEntry, list[BusinessEntity]]] = {}
        for entry, entity in view:
            grouped.setdefault(entry.participant, (entry, []))[1].append(entity)
        matches = tuple(
            DirectoryMatch(entry.participant, entry.document_types, tuple(entities))
            for entry, entities in grouped.values()
        )
        return SearchPage(
            matches=matches,
            total=len(hits),
            used=len(view),
            page_index=page_index,
            page_count=page_count,
            first_index=first,
            last_index=min(last, len(hits) - 1),
            truncated=len(hits) > MAX_RESULTS,
            query_terms="&".join(f"{f}={v}" for f, v in terms),
            created=datetime.now(UTC),
        )
