"""Peppol Directory business cards: one model for the v1, v2 and v3 formats, and the SMP fetch.

A business card says *who* a participant is (names, country, other identifiers, contacts); the SMP
serves it at ``{smp}/businesscard/{participant}`` and the Peppol Directory indexes it (Peppol
Directory business card specification).
Three XML formats are in use, told apart by namespace only:

* v1 (``.../20160112/``): one ``Name`` per entity, websites, contacts, additional information;
* v2 (``.../20161123/``): the reduced format - no websites, contacts or additional information;
* v3 (``.../20180621/``): as v1, but ``Name`` repeats with an optional ``@language``.

All three parse into the same :class:`BusinessCard`, so callers never branch on the version; the
``version`` field only records where the card came from. Parsing is pure (bytes in, value out);
the fetch is one sans-I/O step (:func:`_card_steps`), and :func:`fetch_business_card` and
:func:`fetch_business_card_async` are the thin sync and async shells that perform it with
:mod:`peppolnet._http` (its limits, deadlines, destination policy and error mapping).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import httpx
from lxml import etree

from peppolnet import _http
from peppolnet._tls import context
from peppolnet.destinations import PUBLIC_ONLY, DestinationPolicy
from peppolnet.errors import (
    IdentifierMismatch,
    InvalidIdentifier,
    InvalidSmpDocument,
    SmpError,
    SmpNotFound,
    SmpUnavailable,
)
from peppolnet.i18n import _
from peppolnet.identifiers import ParticipantId
from peppolnet.xmlsafe import parse_xml

__all__ = [
    "NAMESPACES",
    "BusinessCard",
    "BusinessEntity",
    "Contact",
    "Name",
    "business_card_url",
    "fetch_business_card",
    "fetch_business_card_async",
    "parse_business_card",
    "render_business_card",
]

NS_V1: Final = "http://www.peppol.eu/schema/pd/businesscard/20160112/"
NS_V2: Final = "http://www.peppol.eu/schema/pd/businesscard/20161123/"
NS_V3: Final = "http://www.peppol.eu/schema/pd/businesscard/20180621/"
NS_OLD: Final = "http://www.peppol.eu/schema/pd/businessinformation/20151105/"
NAMESPACES: Final[dict[int, str]] = {1: NS_V1, 2: NS_V2, 3: NS_V3}
_VERSION_OF: Final = {ns: v for v, ns in NAMESPACES.items()}

#: Business cards are small; a multi-megabyte one is an attack or an error, not a company.
MAX_CARD_BYTES: Final = 2 * 1024 * 1024
_DATE_RE: Final = re.compile(r"(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?")


@dataclass(frozen=True, slots=True)
class Name:
    """One name of a business entity, with its ISO 639-1 language where the card gives one."""

    name: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """A business contact point; every part is optional in every format."""

    type: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class BusinessEntity:
    """One legal entity behind a participant (a card may list several).

    ``identifiers`` are *additional* identifiers as ``(scheme, value)`` pairs (VAT numbers, GLNs),
    not Peppol participant identifiers; their schemes are free text on real cards.
    """

    names: tuple[Name, ...]
    country: str
    geo_info: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()
    websites: tuple[str, ...] = ()
    contacts: tuple[Contact, ...] = ()
    additional_info: str | None = None
    registration_date: date | None = None

    @property
    def name(self) -> str | None:
        """The first name, which is what the Directory UI shows; None for a nameless entity."""
        return self.names[0].name if self.names else None


@dataclass(frozen=True, slots=True)
class BusinessCard:
    """A participant's business card; ``version`` is the format it was read from (1, 2 or 3)."""

    participant: ParticipantId
    entities: tuple[BusinessEntity, ...]
    version: int = 3


# --- parsing -------------------------------------------------------------------------------------


def element_text(el: etree._Element | None) -> str | None:
    """Element text with surrounding whitespace removed; empty text counts as absent."""
    if el is None:
        return None
    value = "".join(str(t) for t in el.itertext()).strip()
    return value or None


def _parse_date(text: str | None, where: str) -> date | None:
    if text is None:
        return None
    match = _DATE_RE.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError(text)
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise InvalidSmpDocument(
            _(
                "the business card has an invalid {where} {text} (expected YYYY-MM-DD)",
                where=where,
                text=repr(text),
            )
        ) from None


def _parse_entity(el: etree._Element, ns: str, version: int) -> BusinessEntity:
    q = f"{{{ns}}}"
    names = []
    for name_el in el.findall(f"{q}Name"):
        language = name_el.get("language") if version == 3 else None
        names.append(Name(element_text(name_el) or "", (language or "").strip() or None))
    country = element_text(el.find(f"{q}CountryCode"))
    if country is None:
        raise InvalidSmpDocument(_("a business entity of the business card has no CountryCode"))
    identifiers = tuple(
        ((i.get("scheme") or "").strip(), element_text(i) or "")
        for i in el.findall(f"{q}Identifier")
    )
    websites = tuple(w for w in (element_text(x) for x in el.findall(f"{q}WebsiteURI")) if w)
    contacts = tuple(
        Contact(
            type=element_text(c.find(f"{q}Type")),
            name=element_text(c.find(f"{q}Name")),
            phone=element_text(c.find(f"{q}PhoneNumber")),
            email=element_text(c.find(f"{q}Email")),
        )
        for c in el.findall(f"{q}Contact")
    )
    return BusinessEntity(
        names=tuple(names),
        country=country,
        geo_info=element_text(el.find(f"{q}GeographicalInformation")),
        identifiers=identifiers,
        websites=websites,
        contacts=contacts,
        additional_info=element_text(el.find(f"{q}AdditionalInformation")),
        registration_date=_parse_date(el.get("registrationDate"), "registrationDate"),
    )


def parse_business_card(data: bytes) -> BusinessCard:
    """Parse a v1, v2 or v3 business card into one model.

    Raises :class:`~peppolnet.errors.UnsafeXml` for DTDs/entities/oversized input and
    :class:`~peppolnet.errors.InvalidSmpDocument` for anything that is not a business card.
    The participant identifier is read leniently (real cards carry non-conforming values), but
    its scheme must still be a participant identifier scheme.
    """
    root = parse_xml(data, max_bytes=MAX_CARD_BYTES)
    ns, _sep, local = root.tag.partition("}") if isinstance(root.tag, str) else ("", "", "")
    ns = ns.lstrip("{")
    if local != "BusinessCard" or ns not in _VERSION_OF:
        if ns == NS_OLD:
            raise InvalidSmpDocument(
                _(
                    "this is a pre-release 'businessinformation' document (2015), not a business "
                    "card"
                )
            )
        raise InvalidSmpDocument(
            _(
                "expected a Peppol business card (v1, v2 or v3), found root element {tag}",
                tag=repr(root.tag),
            )
        )
    version = _VERSION_OF[ns]
    pid_el = root.find(f"{{{ns}}}ParticipantIdentifier")
    if pid_el is None:
        raise InvalidSmpDocument(_("the business card has no ParticipantIdentifier"))
    scheme = (pid_el.get("scheme") or "").strip()
    value = element_text(pid_el) or ""
    try:
        participant = ParticipantId(scheme, value, lax=True)
    except InvalidIdentifier as exc:
        raise InvalidSmpDocument(
            _(
                "the business card's participant identifier {scheme}::{value} is not valid: "
                "{error}",
                scheme=scheme,
                value=value,
                error=exc,
            )
        ) from None
    entities = tuple(_parse_entity(e, ns, version) for e in root.findall(f"{{{ns}}}BusinessEntity"))
    return BusinessCard(participant=participant, entities=entities, version=version)


# --- rendering -----------------------------------------------------------------------------------


def render_business_card(card: BusinessCard, version: int = 3) -> bytes:
    """Serialise ``card`` in the given format (the sandbox SMP serves these).

    v1 keeps only the first name and drops languages; v2 further drops websites, contacts and
    additional information - exactly what those formats can hold.
    """
    if version not in NAMESPACES:
        raise ValueError(
            _("business card version must be 1, 2 or 3, not {version}", version=repr(version))
        )
    ns = NAMESPACES[version]
    q = f"{{{ns}}}"
    nsmap: Any = {None: ns}
    root = etree.Element(f"{q}BusinessCard", nsmap=nsmap)
    pid = etree.SubElement(root, f"{q}ParticipantIdentifier", scheme=card.participant.scheme)
    pid.text = card.participant.value
    for entity in card.entities:
        el = etree.SubElement(root, f"{q}BusinessEntity")
        if entity.registration_date is not None:
            el.set("registrationDate", entity.registration_date.isoformat())
        names = entity.names if version == 3 else entity.names[:1]
        for name in names:
            name_el = etree.SubElement(el, f"{q}Name")
            name_el.text = name.name
            if version == 3 and name.language:
                name_el.set("language", name.language)
        etree.SubElement(el, f"{q}CountryCode").text = entity.country
        if entity.geo_info is not None:
            etree.SubElement(el, f"{q}GeographicalInformation").text = entity.geo_info
        for scheme, value in entity.identifiers:
            etree.SubElement(el, f"{q}Identifier", scheme=scheme).text = value
        if version == 2:
            continue
        for website in entity.websites:
            etree.SubElement(el, f"{q}WebsiteURI").text = website
        for contact in entity.contacts:
            c = etree.SubElement(el, f"{q}Contact")
            for tag, part in (
                ("Type", contact.type),
                ("Name", contact.name),
                ("PhoneNumber", contact.phone),
                ("Email", contact.email),
            ):
                if part is not None:
                    etree.SubElement(c, f"{q}{tag}").text = part
        if entity.additional_info is not None:
            etree.SubElement(el, f"{q}AdditionalInformation").text = entity.additional_info
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


# --- fetching from the SMP -----------------------------------------------------------------------


def business_card_url(smp_base_url: str, participant: ParticipantId) -> str:
    """``{smp}/businesscard/{percent-encoded participant}`` (Peppol Directory business card
    specification, [PD11] §4.2.2)."""
    return f"{smp_base_url.rstrip('/')}/businesscard/{participant.url_segment()}"


def _interpret(url: str, participant: ParticipantId, answer: _http.Answer) -> BusinessCard:
    """The pure half of a fetch: map an HTTP answer to a card or to a peppolnet error."""
    status = answer.status
    if status == 404:
        raise SmpNotFound(
            _(
                "the SMP has no business card for {participant} ({url} answered 404)",
                participant=participant,
                url=url,
            )
        )
    if status >= 500:
        raise SmpUnavailable(
            _(
                "the SMP answered HTTP {status} for the business card at {url}",
                status=status,
                url=url,
            )
        )
    if status != 200:
        raise SmpError(
            _(
                "the SMP answered HTTP {status} for the business card at {url}",
                status=status,
                url=url,
            )
        )
    if answer.truncated:
        raise InvalidSmpDocument(
            _(
                "the business card at {url} is larger than {limit} bytes; not processed",
                url=url,
                limit=MAX_CARD_BYTES,
            )
        )
    card = parse_business_card(answer.body)
    if card.participant != participant:
        raise IdentifierMismatch(
            _(
                "asked the SMP for the business card of {participant}, but it answered with the "
                "card of {answered}",
                participant=participant,
                answered=card.participant,
            )
        )
    return card


def _card_steps(url: str, participant: ParticipantId, timeout: float) -> _http.Steps[BusinessCard]:
    """The whole fetch, sans-I/O: one GET, its faults named, its answer interpreted."""
    try:
        answer = yield _http.Fetch(url, MAX_CARD_BYTES, headers=_HEADERS)
    except _http.HttpFault as fault:
        raise _fault(url, fault, timeout) from None
    return _interpret(url, participant, answer)


def _checked_url(
    smp_base_url: str, participant: ParticipantId, destinations: DestinationPolicy | None
) -> tuple[str, DestinationPolicy]:
    policy = destinations if destinations is not None else PUBLIC_ONLY
    url = business_card_url(smp_base_url, participant)
    policy.check_url(url, _("the business card URL"))
    return url, policy


def fetch_business_card(
    smp_base_url: str,
    participant: ParticipantId,
    *,
    client: httpx.Client | None = None,
    timeout: float = 10.0,
    verify: str | bool = True,
    destinations: DestinationPolicy | None = None,
) -> BusinessCard:
    """GET the participant's business card from its SMP and parse it.

    ``timeout`` bounds the whole request (a server trickling its answer cannot hold it);
    ``destinations`` is the destination policy (default: public addresses only, as on the
    Peppol networks; pass ``network.destinations``). 404 raises
    :class:`~peppolnet.errors.SmpNotFound`; connection problems, timeouts and 5xx raise
    :class:`~peppolnet.errors.SmpUnavailable`; a refused destination
    :class:`~peppolnet.errors.DestinationRefused`; a card for another participant raises
    :class:`~peppolnet.errors.IdentifierMismatch`.
    """
    url, policy = _checked_url(smp_base_url, participant, destinations)
    http = client or _http.client(context(verify), timeout=timeout)
    try:
        with _http.scope(seconds=timeout, destinations=policy):
            steps = _card_steps(url, participant, timeout)
            return _http.run(steps, functools.partial(_http.fetch, http))
    finally:
        if client is None:
            http.close()


async def fetch_business_card_async(
    smp_base_url: str,
    participant: ParticipantId,
    *,
    client: httpx.AsyncClient | None = None,
    timeout: float = 10.0,
    verify: str | bool = True,
    destinations: DestinationPolicy | None = None,
) -> BusinessCard:
    """The async twin of :func:`fetch_business_card` (same answers, same errors)."""
    url, policy = _checked_url(smp_base_url, participant, destinations)
    http = client or _http.async_client(context(verify), timeout=timeout)
    try:
        with _http.scope(seconds=timeout, destinations=policy):
            steps = _card_steps(url, participant, timeout)
            return await _http.arun(steps, functools.partial(_http.afetch, http))
    finally:
        if client is None:
            await http.aclose()


_HEADERS: Final = {"Accept": "application/xml"}


def _fault(url: str, fault: _http.HttpFault, timeout: float) -> SmpError | SmpUnavailable:
    """What an HTTP fault means for a business card: the SMP's fault, retryable, except a URL
    that cannot be requested."""
    if fault.kind == "timeout":
        return SmpUnavailable(
            _(
                "could not fetch the business card from {url}: no complete answer within "
                "{timeout} s",
                url=url,
                timeout=format(timeout, "g"),
            )
        )
    if fault.kind in ("unreadable", "broken"):
        return SmpUnavailable(
            _("the business card at {url} is unreadable: {detail}", url=url, detail=fault.detail)
        )
    if fault.kind == "url":
        return SmpError(
            _(
                "the business card URL {url} cannot be requested: {detail}",
                url=url[:120],
                detail=fault.detail,
            )
        )
    return SmpUnavailable(
        _("could not fetch the business card from {url}: {detail}", url=url, detail=fault.detail)
    )
