"""What a search finds: the candidates for one box of text, each with its verdict.

Shared by the page (``search``) and the JSON API (``api``), so both answer alike. A query is
read as staff type it (:func:`classify`): a participant id (``0007:5567321707`` or the URI
form) is looked up as it is; a number - an organisation number in any common format or a VAT
number - becomes participant ids through :func:`peppolnet.schemes.suggest_participant_ids`;
anything else is a company name, searched in the local customer directory and the Peppol
Directory, and each match is looked up.

Nothing typed here ever becomes a URL: lookups go to the network's SML and the SMP it names,
name searches to the network's Directory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import TYPE_CHECKING, Final, Literal

from starlette.concurrency import run_in_threadpool

from peppolnet._logging import logger
from peppolnet.errors import InvalidInput, PeppolnetError
from peppolnet.i18n import Language, Message, _, country_code
from peppolnet.identifiers import ParticipantId

if TYPE_CHECKING:
    from peppolnet.businesscard import BusinessCard
    from peppolnet.reachability import Reachability
    from peppolnet.web.state import WebState

__all__ = ["Candidate", "Query", "SearchOutcome", "classify", "look_up", "search"]

_log = logger(__name__)

QueryKind = Literal["participant", "number", "name"]
_PARTICIPANT_RE: Final = re.compile(r"^(?:iso6523-actorid-upis::)?\d{4}:\S+$", re.IGNORECASE)
# An organisation or VAT number: an optional country prefix, then digits with the separators
# people type (556732-1707, BE 0677.424.046, SE556732170701, NO 974 760 673 MVA).
_NUMBER_RE: Final = re.compile(r"^[A-Za-z]{0,2}[\s\-.:/]*\d[\d\s\-./]*[A-Za-z]{0,3}$")
MAX_QUERY: Final = 200


@dataclasses.dataclass(frozen=True)
class Query:
    """A search box's text read as one kind, with the country it applies to."""

    text: str
    kind: QueryKind
    country: str | None


def classify(text: str, country: str | None, default_country: str | None = None) -> Query:
    """Read what staff typed. Raises :class:`InvalidInput` naming what is wrong."""
    value = " ".join(text.split())
    if not value:
        raise InvalidInput(_("type an organisation number, a participant id or a company name"))
    if len(value) > MAX_QUERY:
        raise InvalidInput(_("the search text is longer than {limit} characters", limit=MAX_QUERY))
    code = _country(country) if country and country.strip() else None
    if _PARTICIPANT_RE.match(value):
        return Query(value, "participant", code)
    if _NUMBER_RE.match(value):
        prefix = value[:2].upper()
        if code is None and prefix.isalpha() and country_code(prefix):
            code = prefix  # a VAT number names its country
        return Query(value, "number", code or default_country)
    return Query(value, "name", code)


def _country(text: str) -> str:
    code = country_code(text)
    if code is None:
        raise InvalidInput(_("{country} is not a country we know", country=text.strip()[:60]))
    return code


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One participant a search found, with its verdict and where it was found."""

    result: Reachability
    found_by: Literal["participant", "number", "customers", "directory"]
    name: str | None = None


@dataclasses.dataclass(frozen=True)
class SearchOutcome:
    """Every candidate, and what could not be asked (a Directory fault is not "no match")."""

    query: Query
    candidates: tuple[Candidate, ...]
    notes: tuple[Message, ...] = ()


async def look_up(state: WebState, participant: str, document_type: str | None) -> Reachability:
    """One participant's verdict through the app's lookup (raises only for invalid input)."""
    lookup = state.require_lookup()
    return await state.results.get(
        ("participant", participant.strip().lower(), document_type),
        lambda: lookup.check(participant, document_type=document_type),
    )


async def search(state: WebState, query: Query, document_type: str | None) -> SearchOutcome:
    """The candidates for ``query`` (see the module's docstring)."""
    lookup = state.require_lookup()
    if query.kind == "participant":
        result = await look_up(state, query.text, document_type)
        return SearchOutcome(query, (Candidate(result, "participant"),))
    if query.kind == "number":
        country = query.country
        if country is None:
            raise InvalidInput(_("choose the country of the number {number}", number=query.text))
        result = await state.results.get(
            ("number", query.text, country, document_type),
            lambda: lookup.check(number=query.text, country=country, document_type=document_type),
        )
        return SearchOutcome(query, (Candidate(result, "number"),))
    return await _by_name(state, query, document_type)


async def _by_name(state: WebState, query: Query, document_type: str | None) -> SearchOutcome:
    limit = state.settings.max_candidates
    local, (remote, notes) = await asyncio.gather(
        _customers(state, query.text, limit), _directory(state, query, limit)
    )
    found: dict[ParticipantId, tuple[str | None, Literal["customers", "directory"]]] = {}
    for pid, customer in local:
        found.setdefault(pid, (customer, "customers"))
    for pid, listed in remote:
        found.setdefault(pid, (listed, "directory"))
    chosen = list(found.items())[:limit]
    results = await asyncio.gather(*(look_up(state, str(pid), document_type) for pid, _ in chosen))
    candidates = tuple(
        Candidate(result, source, name)
        for result, (_pid, (name, source)) in zip(results, chosen, strict=True)
    )
    return SearchOutcome(query, candidates, notes)


async def _customers(state: WebState, text: str, limit: int) -> list[tuple[ParticipantId, str]]:
    directory = state.directory
    if directory is None:
        return []
    hits = await run_in_threadpool(directory.search, text, limit=limit)
    found: list[tuple[ParticipantId, str]] = []
    for hit in hits:
        try:
            pid = ParticipantId.parse(hit.recipient.participant_id)
        except InvalidInput:  # a row the register could not identify: nothing to look up
            continue
        found.append((pid, hit.recipient.name))
    return found


async def _directory(
    state: WebState, query: Query, limit: int
) -> tuple[list[tuple[ParticipantId, str | None]], tuple[Message, ...]]:
    client = state.directory_client()
    if client is None:
        return [], ()
    fields = {"country": query.country} if query.country else {}
    try:
        page = await client.search(query.text, page_size=limit, **fields)  # type: ignore[arg-type]
    except PeppolnetError as exc:
        _log.warning("the Peppol Directory search failed: %s", type(exc).__name__)
        return [], (_("the Peppol Directory did not answer; only your customers were searched"),)
    return [(match.participant, match.name) for match in page.matches], ()


@dataclasses.dataclass(frozen=True)
class CardData:
    """A business card for the details, or the sentence saying why there is none."""

    card: BusinessCard | None = None
    error: Message | None = None


async def business_card(state: WebState, result: Reachability) -> CardData | None:
    """The participant's business card from the SMP the SML named (None when not registered).

    The URL is the SMP's, from the network's own answer; the network's destination policy
    applies to it as to the lookup.
    """
    from peppolnet.businesscard import fetch_business_card_async
    from peppolnet.errors import SmpNotFound

    if result.participant is None or not result.smp_url:
        return None
    try:
        card = await fetch_business_card_async(
            result.smp_url,
            result.participant,
            timeout=min(10.0, state.settings.lookup_deadline),
            verify=state.network.tls_verify,
            destinations=state.network.destinations,
        )
    except SmpNotFound:
        return CardData(error=_("the SMP publishes no business card for this participant"))
    except PeppolnetError as exc:
        _log.warning("a business card could not be fetched: %s", type(exc).__name__)
        return CardData(error=_("the business card could not be fetched; try again later"))
    return CardData(card=card)


async def traced(
    state: WebState, participant: str, document_type: str | None, lang: Language
) -> tuple[Reachability, list[str]]:
    """A fresh lookup with its trace (``AsyncLookup.trace``): the verdict and the trace's
    lines in ``lang`` - one lookup for both, never a cached verdict beside a new trace.
    Raises only for invalid input. The lines hold what the network said: the page's
    templates escape them."""
    from peppolnet.trace.render import lines

    trace = await state.require_lookup().trace(participant, document_type)
    return trace.reachability, lines(trace, lang, local_paths=False)
