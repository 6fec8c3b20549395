"""Parse SMP documents of all three dialects into :mod:`peppolnet.smp.model` values (pure).

Dialect and kind are recognised by the root element's *namespace* and local name, never by prefix:
real SMPs write ``ns2:``, ``smp:`` or default namespaces for the same elements.

The parser is deliberately tolerant where real, correctly signed SMP answers deviate from the
schemas (Peppol SMP specification 1.2, section 4): whitespace around identifiers and inside base64,
date-only dates,
empty optional elements, ``href`` values on legacy host names. It is strict where a deviation
would make the answer meaningless (no participant, no document type, an endpoint without a
transport profile): those raise :class:`~peppolnet.errors.InvalidSmpDocument` naming the element.

The ``ds:Signature`` is ignored here; :mod:`peppolnet.xmldsig` verifies it over the same tree.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, TypeVar, cast

from lxml import etree

from peppolnet.errors import InvalidIdentifier, InvalidSmpDocument
from peppolnet.i18n import _
from peppolnet.identifiers import DocumentTypeId, ParticipantId, ProcessId, ascii_lower
from peppolnet.smp.model import (
    Dialect,
    Endpoint,
    Process,
    Redirect,
    ServiceGroup,
    ServiceMetadata,
    SmpDocument,
)
from peppolnet.xmlsafe import parse_xml

__all__ = [
    "KIND_REDIRECT",
    "KIND_SERVICE_GROUP",
    "KIND_SERVICE_METADATA",
    "detect",
    "document_type_from_href",
    "parse_document",
]

KIND_SERVICE_GROUP: Final = "service-group"
KIND_SERVICE_METADATA: Final = "service-metadata"
KIND_REDIRECT: Final = "redirect"

NS_PEPPOL_SMP: Final = "http://busdox.org/serviceMetadata/publishing/1.0/"
NS_PEPPOL_IDS: Final = "http://busdox.org/transport/identifiers/1.0/"
NS_WSA: Final = "http://www.w3.org/2005/08/addressing"
NS_OASIS1: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2016/05"
NS_OASIS1_DRAFT: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2014/07"
NS_OASIS2_SG: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceGroup"
NS_OASIS2_SM: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata"
NS_OASIS2_AGG: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2/AggregateComponents"
NS_OASIS2_BASIC: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2/BasicComponents"

# Process used when an OASIS SMP 2 ProcessMetadata lists no Process: it then applies to any process.
OASIS2_NO_PROCESS: Final = ProcessId("bdx-procid-transport", "bdx:noprocess")

_V1_NAMESPACES: Final = {
    NS_PEPPOL_SMP: Dialect.PEPPOL_SMP_1,
    NS_OASIS1: Dialect.OASIS_SMP_1,
    NS_OASIS1_DRAFT: Dialect.OASIS_SMP_1,
}
_WHITESPACE: Final = re.compile(r"\s+")
_DATE_RE: Final = re.compile(
    r"(-?\d{4,})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?"
    r"(Z|[+-]\d{2}:\d{2})?"
)


class _Tags(dict[str, str]):
    """Local name -> ``{namespace}local``, each built once (a dict miss calls ``__missing__``)."""

    def __init__(self, ns: str) -> None:
        super().__init__()
        self.ns = ns

    def __missing__(self, local: str) -> str:
        tag = self[local] = f"{{{self.ns}}}{local}"
        return tag


class _Names:
    """Qualified tag names of one 1.x dialect (identifiers may sit in either namespace).

    One instance per namespace (``_NAMES``), remembering the names it has built: a parse asks for
    a few dozen of them, and ``tag`` is then a plain dict look-up in C.
    """

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.id_namespaces = (NS_PEPPOL_IDS, ns) if ns == NS_PEPPOL_SMP else (ns,)
        self.tag: Callable[[str], str] = _Tags(ns).__getitem__
        self._id_tags: dict[str, tuple[str, ...]] = {}

    def id_tags(self, local: str) -> tuple[str, ...]:
        found = self._id_tags.get(local)
        if found is None:
            found = tuple(f"{{{ns}}}{local}" for ns in self.id_namespaces)
            self._id_tags[local] = found
        return found


_NAMES: Final = {ns: _Names(ns) for ns in (NS_PEPPOL_SMP, NS_OASIS1, NS_OASIS1_DRAFT)}


def _qname(root: etree._Element) -> tuple[str, str]:
    tag = root.tag
    if not isinstance(tag, str):
        raise InvalidSmpDocument(_("the document has no root element"))
    # lxml writes a parsed element's tag as "{namespace}local" or "local": split as text
    # (~0.1 us) rather than through an etree.QName (~0.5 us), which would check it again
    if tag[:1] == "{":
        ns, _brace, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _children(el: etree._Element, *tags: str) -> Iterator[etree._Element]:
    return el.iterchildren(*tags)  # the tag test runs in C


def _child(el: etree._Element, *tags: str) -> etree._Element | None:
    """The first direct child with one of ``tags``.

    ``iterchildren`` tests tags in C (~0.6 us); ``el.find`` goes through lxml's ElementPath
    (~1.2 us), and a parse makes a few dozen of these look-ups.
    """
    return next(el.iterchildren(*tags), None)


def _first_children(el: etree._Element) -> dict[str, etree._Element]:
    """The first child of each tag, in one pass, in document order: for elements read field by
    field. Each :func:`_child` builds a tag matcher (~0.8 us); one pass over the few children of
    an SMP element costs about as much as one of them."""
    found: dict[str, etree._Element] = {}
    for child in el:
        tag = child.tag
        if isinstance(tag, str) and tag not in found:
            found[tag] = child
    return found


def _first_of(found: dict[str, etree._Element], tags: tuple[str, ...]) -> etree._Element | None:
    """What :func:`_child` finds for ``tags``, read from a :func:`_first_children` map: the
    first child, in document order, with one of the tags."""
    hits = [found[tag] for tag in tags if tag in found]
    if len(hits) < 2:
        return hits[0] if hits else None
    return next(child for tag, child in found.items() if tag in tags)


def _require(el: etree._Element, what: str, parent: str, *tags: str) -> etree._Element:
    return _required(_child(el, *tags), what, parent)


def _required(found: etree._Element | None, what: str, parent: str) -> etree._Element:
    if found is None:
        raise InvalidSmpDocument(_("{parent} has no {what}", parent=parent, what=what))
    return found


def _text(el: etree._Element | None) -> str | None:
    """The element's text with surrounding whitespace removed; ``None`` when absent or empty."""
    if el is None:
        return None
    if len(el) == 0:  # the usual case: one text node (no child elements, comments or PIs)
        return (el.text or "").strip() or None
    text = "".join(t for t in el.itertext() if isinstance(t, str)).strip()
    return text or None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


# --- identifiers ---------------------------------------------------------------------------------


def _shown(scheme: str, text: str) -> str:
    full = f"{scheme}::{text}" if scheme else text
    return repr(full if len(full) <= 120 else full[:117] + "...")


_Id = TypeVar("_Id", ParticipantId, DocumentTypeId, ProcessId)


def _identifier(el: etree._Element, scheme_attr: str, kind: type[_Id], what: str) -> _Id:
    """An identifier element read leniently (real SMPs publish non-conforming ids).

    Remembered by (kind, scheme, text): identifiers are immutable values, and every SMP answer
    repeats the same document types and processes (a bulk run the same participants too), while
    validating one again costs ~1-3 us. Failures are not remembered.
    """
    text = _text(el) or ""
    scheme = (el.get(scheme_attr) or "").strip()
    key = (kind, scheme, text)
    known = _KNOWN_IDENTIFIERS.get(key)
    if known is not None:
        return cast(_Id, known)
    try:
        value = kind(scheme, text, lax=True) if scheme else kind.parse(text, lax=True)
    except InvalidIdentifier as exc:
        raise InvalidSmpDocument(
            _(
                "the {what} {shown} is not usable: {error}",
                what=what,
                shown=_shown(scheme, text),
                error=exc,
            )
        ) from None
    if len(_KNOWN_IDENTIFIERS) >= _MAX_KNOWN_IDENTIFIERS:
        _KNOWN_IDENTIFIERS.clear()
    _KNOWN_IDENTIFIERS[key] = value
    return value


_KNOWN_IDENTIFIERS: dict[tuple[type, str, str], ParticipantId | DocumentTypeId | ProcessId] = {}
#: Entries at most. Lax identifiers keep every length limit of the policy (a scheme of at most
#: 25 characters, a value of at most 500), and the key is the stripped text that parsed, so the
#: memo holds at most ~4096 x 1 KB whatever unverified documents an SMP sends.
_MAX_KNOWN_IDENTIFIERS: Final = 4096


def _participant(el: etree._Element, scheme_attr: str) -> ParticipantId:
    return _identifier(el, scheme_attr, ParticipantId, _local(el.tag))


def _document_type(el: etree._Element, scheme_attr: str) -> DocumentTypeId:
    return _identifier(el, scheme_attr, DocumentTypeId, "document type")


def _process(el: etree._Element, scheme_attr: str) -> ProcessId:
    return _identifier(el, scheme_attr, ProcessId, "process")


# --- values --------------------------------------------------------------------------------------


def _datetime(el: etree._Element | None, *, end_of_day: bool) -> datetime | None:
    """xs:dateTime or xs:date (tolerated everywhere) as an aware UTC datetime."""
    text = _text(el)
    if text is None or el is None:
        return None
    m = _DATE_RE.fullmatch(text)
    if m is None:
        raise InvalidSmpDocument(
            _(
                "{local} {text} is not a date or date-time",
                local=_local(el.tag),
                text=repr(text[:40]),
            )
        )
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        tz = UTC
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        if hour is None:
            value = datetime(int(year), int(month), int(day), tzinfo=tz)
            if end_of_day:
                value += timedelta(days=1, microseconds=-1)
        else:
            extra = timedelta(0)
            h = int(hour)
            if h == 24 and int(minute) == 0 and int(second) == 0:  # xs:dateTime allows 24:00:00
                h, extra = 0, timedelta(days=1)
            micro = int((fraction or "0")[:6].ljust(6, "0"))
            value = (
                datetime(
                    int(year), int(month), int(day), h, int(minute), int(second), micro, tzinfo=tz
                )
                + extra
            )
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidSmpDocument(
            _("{local} {text} is not a valid date", local=_local(el.tag), text=repr(text[:40]))
        ) from None


def _absolute_url(text: str, what: str) -> str:
    """A Redirect target must be an absolute http(s) URL: the client will follow it."""
    if not text:
        raise InvalidSmpDocument(_("{what} is missing", what=what))
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        parts = urllib.parse.urlsplit("")
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidSmpDocument(
            _("{what} {text} is not an absolute http(s) URL", what=what, text=repr(text[:80]))
        )
    return text


def _boolean(el: etree._Element | None) -> bool | None:
    text = _text(el)
    if text is None or el is None:
        return None
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise InvalidSmpDocument(
        _("{local} {text} is not 'true' or 'false'", local=_local(el.tag), text=repr(text[:40]))
    )


def _certificate(el: etree._Element | None) -> tuple[bytes | None, str | None]:
    """Base64 with any whitespace (newlines, ``&#13;``) removed; a non-base64 text is reported."""
    text = _text(el)
    if text is None:
        return None, None
    try:
        # Most SMPs write the base64 on one line: decoded strictly in C as it is, without the
        # regular expression's pass over ~1.5 kB (the fallback accepts the same text).
        return binascii.a2b_base64(text, strict_mode=True), None
    except (binascii.Error, ValueError):
        pass
    compact = _WHITESPACE.sub("", text)
    try:
        return base64.b64decode(compact, validate=True), None
    except (binascii.Error, ValueError):
        return None, f"the published certificate is not base64 ({compact[:20]!r}...)"


# --- Peppol SMP 1 and OASIS SMP 1 ----------------------------------------------------------------


def _v1_service_metadata_root(root: etree._Element, n: _Names) -> etree._Element:
    """The ServiceMetadata element: the root itself, or the child of SignedServiceMetadata."""
    tag = n.tag("ServiceMetadata")
    if root.tag == tag:
        return root
    return _required(_first_children(root).get(tag), "ServiceMetadata", "SignedServiceMetadata")


def _v1_kind(root: etree._Element, n: _Names, local: str) -> str:
    if local == "ServiceGroup":
        return KIND_SERVICE_GROUP
    if local not in ("SignedServiceMetadata", "ServiceMetadata"):
        raise InvalidSmpDocument(
            _("the root element {local} is not an SMP document", local=repr(local))
        )
    sm = _v1_service_metadata_root(root, n)
    if _child(sm, n.tag("Redirect")) is not None:
        return KIND_REDIRECT
    if _child(sm, n.tag("ServiceInformation")) is None:
        raise InvalidSmpDocument(_("ServiceMetadata has neither ServiceInformation nor Redirect"))
    return KIND_SERVICE_METADATA


def _v1_service_group(root: etree._Element, n: _Names, dialect: Dialect) -> ServiceGroup:
    participant = _participant(
        _require(
            root, "ParticipantIdentifier", "ServiceGroup", *n.id_tags("ParticipantIdentifier")
        ),
        "scheme",
    )
    hrefs: list[str] = []
    collection = _child(root, n.tag("ServiceMetadataReferenceCollection"))
    if collection is not None:
        for ref in _children(collection, n.tag("ServiceMetadataReference")):
            href = (ref.get("href") or "").strip()
            if href:
                hrefs.append(href)
    types: dict[DocumentTypeId, None] = {}
    for href in hrefs:
        doc = document_type_from_href(href, participant)
        if doc is not None:
            types[doc] = None
    return ServiceGroup(participant, tuple(types), tuple(hrefs), dialect)


_WSA_ENDPOINT_REFERENCE: Final = f"{{{NS_WSA}}}EndpointReference"
_WSA_ADDRESS: Final = f"{{{NS_WSA}}}Address"


def _v1_endpoint(el: etree._Element, n: _Names) -> Endpoint:
    profile = (el.get("transportProfile") or "").strip()
    if not profile:
        raise InvalidSmpDocument(_("an Endpoint has no transportProfile"))
    fields = _first_children(el)  # one walk instead of one look-up per field
    url = _text(fields.get(n.tag("EndpointURI")))
    if url is None:
        ref = _first_of(fields, (_WSA_ENDPOINT_REFERENCE, n.tag("EndpointReference")))
        if ref is not None:
            url = _text(_first_of(_first_children(ref), (_WSA_ADDRESS, n.tag("Address"))))
    certificate, problem = _certificate(fields.get(n.tag("Certificate")))
    return Endpoint(
        transport_profile=profile,
        url=url,
        certificate=certificate,
        activation=_datetime(fields.get(n.tag("ServiceActivationDate")), end_of_day=False),
        expiration=_datetime(fields.get(n.tag("ServiceExpirationDate")), end_of_day=True),
        description=_text(fields.get(n.tag("ServiceDescription"))),
        technical_contact=_text(fields.get(n.tag("TechnicalContactUrl"))),
        technical_information_url=_text(fields.get(n.tag("TechnicalInformationUrl"))),
        require_business_level_signature=_boolean(
            fields.get(n.tag("RequireBusinessLevelSignature"))
        ),
        minimum_authentication_level=_text(fields.get(n.tag("MinimumAuthenticationLevel"))),
        certificate_problem=problem,
    )


def _v1_service_metadata(
    root: etree._Element, n: _Names, dialect: Dialect
) -> ServiceMetadata | Redirect:
    sm = _v1_service_metadata_root(root, n)
    parts = _first_children(sm)
    redirect = parts.get(n.tag("Redirect"))
    if redirect is not None:
        target = _absolute_url((redirect.get("href") or "").strip(), "the Redirect href")
        participant, document_type = _ids_from_href(target)
        return Redirect(
            target_url=target,
            certificate_uid=_text(_child(redirect, n.tag("CertificateUID"))),
            dialect=dialect,
            participant=participant,
            document_type=document_type,
        )
    info = parts.get(n.tag("ServiceInformation"))
    if info is None:
        raise InvalidSmpDocument(_("ServiceMetadata has neither ServiceInformation nor Redirect"))
    fields = _first_children(info)
    participant = _participant(
        _required(
            _first_of(fields, n.id_tags("ParticipantIdentifier")),
            "ParticipantIdentifier",
            "ServiceMetadata",
        ),
        "scheme",
    )
    document_type = _document_type(
        _required(
            _first_of(fields, n.id_tags("DocumentIdentifier")),
            "DocumentIdentifier",
            "ServiceMetadata",
        ),
        "scheme",
    )
    processes: list[Process] = []
    process_list = fields.get(n.tag("ProcessList"))
    if process_list is not None:
        for p in _children(process_list, n.tag("Process")):
            process_fields = _first_children(p)
            pid = _process(
                _required(
                    _first_of(process_fields, n.id_tags("ProcessIdentifier")),
                    "ProcessIdentifier",
                    "a Process",
                ),
                "scheme",
            )
            endpoints: list[Endpoint] = []
            endpoint_list = process_fields.get(n.tag("ServiceEndpointList"))
            if endpoint_list is not None:
                endpoints = [
                    _v1_endpoint(e, n) for e in _children(endpoint_list, n.tag("Endpoint"))
                ]
            processes.append(Process(pid, tuple(endpoints)))
    return ServiceMetadata(participant, document_type, tuple(processes), dialect)


# --- OASIS SMP 2 -------------------------------------------------------------------------------

_AGG = f"{{{NS_OASIS2_AGG}}}"
_BASIC = f"{{{NS_OASIS2_BASIC}}}"


def _v2_participant(root: etree._Element, what: str) -> ParticipantId:
    return _participant(_require(root, "ParticipantID", what, f"{_BASIC}ParticipantID"), "schemeID")


def _v2_service_group(root: etree._Element) -> ServiceGroup:
    participant = _v2_participant(root, "ServiceGroup")
    types: dict[DocumentTypeId, None] = {}
    for ref in _children(root, f"{_AGG}ServiceReference"):
        types[
            _document_type(_require(ref, "ID", "a ServiceReference", f"{_BASIC}ID"), "schemeID")
        ] = None
    return ServiceGroup(participant, tuple(types), (), Dialect.OASIS_SMP_2)


def _v2_certificate(el: etree._Element) -> tuple[bytes | None, str | None]:
    for cert in _children(el, f"{_AGG}Certificate"):
        content = _child(cert, f"{_BASIC}ContentBinaryObject")
        if _text(content) is not None:
            return _certificate(content)
    return None, None


def _v2_endpoint(el: etree._Element) -> Endpoint:
    profile = _text(_child(el, f"{_BASIC}TransportProfileID"))
    if profile is None:
        raise InvalidSmpDocument(_("an Endpoint has no TransportProfileID"))
    certificate, problem = _v2_certificate(el)
    return Endpoint(
        transport_profile=profile,
        url=_text(_child(el, f"{_BASIC}AddressURI")),
        certificate=certificate,
        activation=_datetime(_child(el, f"{_BASIC}ActivationDate"), end_of_day=False),
        expiration=_datetime(_child(el, f"{_BASIC}ExpirationDate"), end_of_day=True),
        description=_text(_child(el, f"{_BASIC}Description")),
        technical_contact=_text(_child(el, f"{_BASIC}Contact")),
        certificate_problem=problem,
    )


def _v2_is_redirect(root: etree._Element) -> bool:
    metadata = list(_children(root, f"{_AGG}ProcessMetadata"))
    has_redirect = any(_child(m, f"{_AGG}Redirect") is not None for m in metadata)
    has_endpoint = any(_child(m, f"{_AGG}Endpoint") is not None for m in metadata)
    return has_redirect and not has_endpoint


def _v2_service_metadata(root: etree._Element) -> ServiceMetadata | Redirect:
    participant = _v2_participant(root, "ServiceMetadata")
    document_type = _document_type(
        _require(root, "ID (document type)", "ServiceMetadata", f"{_BASIC}ID"), "schemeID"
    )
    metadata = list(_children(root, f"{_AGG}ProcessMetadata"))
    if _v2_is_redirect(root):
        for m in metadata:
            redirect = _child(m, f"{_AGG}Redirect")
            if redirect is None:
                continue
            target = _absolute_url(
                _text(_child(redirect, f"{_BASIC}PublisherURI")) or "", "the Redirect PublisherURI"
            )
            certificate, _ = _v2_certificate(redirect)
            return Redirect(
                target_url=target,
                certificate_uid=None,
                dialect=Dialect.OASIS_SMP_2,
                participant=participant,
                document_type=document_type,
                certificate=certificate,
            )
    processes: list[Process] = []
    for m in metadata:
        endpoints = tuple(_v2_endpoint(e) for e in _children(m, f"{_AGG}Endpoint"))
        pids = [
            _process(_require(p, "ID", "a Process", f"{_BASIC}ID"), "schemeID")
            for p in _children(m, f"{_AGG}Process")
        ] or [OASIS2_NO_PROCESS]
        processes.extend(Process(pid, endpoints) for pid in pids)
    return ServiceMetadata(participant, document_type, tuple(processes), Dialect.OASIS_SMP_2)


# --- public --------------------------------------------------------------------------------------


def detect(root: etree._Element) -> tuple[Dialect, str]:
    """The dialect and kind (``service-group``, ``service-metadata``, ``redirect``) of a root.

    Raises :class:`~peppolnet.errors.InvalidSmpDocument` for any other root element.
    """
    ns, local = _qname(root)
    dialect = _V1_NAMESPACES.get(ns)
    if dialect is not None:
        return dialect, _v1_kind(root, _NAMES[ns], local)
    if ns == NS_OASIS2_SG and local == "ServiceGroup":
        return Dialect.OASIS_SMP_2, KIND_SERVICE_GROUP
    if ns == NS_OASIS2_SM and local == "ServiceMetadata":
        kind = KIND_REDIRECT if _v2_is_redirect(root) else KIND_SERVICE_METADATA
        return Dialect.OASIS_SMP_2, kind
    shown = f"{{{ns}}}{local}" if ns else local
    raise InvalidSmpDocument(
        _("the root element {shown} is not an SMP document of any dialect", shown=shown)
    )


def parse_document(data: bytes | etree._Element) -> SmpDocument:
    """Parse an SMP answer (bytes or an already safely parsed root) into a model value.

    >>> doc = parse_document(
    ...     b'<ServiceGroup xmlns="http://busdox.org/serviceMetadata/publishing/1.0/">'
    ...     b'<ParticipantIdentifier xmlns="http://busdox.org/transport/identifiers/1.0/"'
    ...     b' scheme="iso6523-actorid-upis">0007:5567321707</ParticipantIdentifier>'
    ...     b"<ServiceMetadataReferenceCollection/></ServiceGroup>"
    ... )
    >>> doc.participant, doc.dialect.value
    (ParticipantId('iso6523-actorid-upis::0007:5567321707'), 'peppol-smp-1')
    """
    root = data if isinstance(data, etree._Element) else parse_xml(data)
    ns, local = _qname(root)
    v1_dialect = _V1_NAMESPACES.get(ns)
    if v1_dialect is not None and local in ("SignedServiceMetadata", "ServiceMetadata"):
        # The common case, parsed without detect(): its checks would read the same elements.
        return _v1_service_metadata(root, _NAMES[ns], v1_dialect)
    dialect, kind = detect(root)
    if dialect is Dialect.OASIS_SMP_2:
        return _v2_service_group(root) if kind == KIND_SERVICE_GROUP else _v2_service_metadata(root)
    return _v1_service_group(root, _NAMES[ns], dialect)


def _find_ci(haystack: str, needle: str) -> int:
    """Case-insensitive (ASCII) find that keeps indexes valid in ``haystack``."""
    return ascii_lower(haystack).find(ascii_lower(needle))


def document_type_from_href(href: str, participant: ParticipantId) -> DocumentTypeId | None:
    """The document type named by a ServiceMetadataReference ``href``, or ``None``.

    The reference client's rule (Peppol Policy for use of Identifiers 4.4, URL encoding):
    percent-decode once, find
    ``/<participant>/services/`` case-insensitively (in the decoded or the encoded form) and read
    the rest as ``scheme::value``. The host part is ignored: it is often a legacy SML host name.

    >>> pid = ParticipantId.parse("0088:123")
    >>> document_type_from_href(
    ...     "http://smp.example/iso6523-actorid-upis%3A%3A0088%3A123/services/"
    ...     "busdox-docid-qns%3A%3Aurn%3Ax%3A%3AInvoice%23%23c%3A%3A2.1", pid
    ... )
    DocumentTypeId('busdox-docid-qns::urn:x::Invoice##c::2.1')
    """
    candidates: list[str] = []
    decoded = urllib.parse.unquote(href)
    marker = f"/{participant.uri}/services/"
    index = _find_ci(decoded, marker)
    if index >= 0:
        candidates.append(decoded[index + len(marker) :])
    encoded_marker = f"/{participant.url_segment()}/services/"
    index = _find_ci(href, encoded_marker)
    if index >= 0:
        candidates.append(urllib.parse.unquote(href[index + len(encoded_marker) :]))
    for rest in candidates:
        doc = _lax_document_type(rest)
        if doc is not None:
            return doc
    return None


def _lax_document_type(text: str) -> DocumentTypeId | None:
    if "::" not in text:
        return None
    try:
        return DocumentTypeId.parse(text, lax=True)
    except InvalidIdentifier:
        return None


def _ids_from_href(href: str) -> tuple[ParticipantId | None, DocumentTypeId | None]:
    """Best-effort participant and document type from a Redirect target URL."""
    decoded = urllib.parse.unquote(href)
    index = _find_ci(decoded, "/services/")
    if index < 0:
        return None, None
    head = decoded[:index]
    participant: ParticipantId | None
    try:
        participant = ParticipantId.parse(head.rpartition("/")[2], lax=True)
    except InvalidIdentifier:
        participant = None
    return participant, _lax_document_type(decoded[index + len("/services/") :])
