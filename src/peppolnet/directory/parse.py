"""Reading and writing Directory search responses (JSON and XML), pure functions over bytes.

Two JSON shapes of an entity's ``name`` exist: the published documentation still shows a plain
string, current Directory code emits an array of ``{name, language}`` objects (Peppol Directory
REST API documentation). Both
are read; the current shape is written. The XML shape follows the search-result-list v1 schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from lxml import etree

from peppolnet.businesscard import BusinessEntity, Contact, Name, element_text
from peppolnet.directory.model import MAX_RESULTS, DirectoryMatch, SearchPage
from peppolnet.errors import DirectoryError, InvalidIdentifier, PeppolnetError
from peppolnet.i18n import _
from peppolnet.identifiers import DocumentTypeId, ParticipantId
from peppolnet.xmlsafe import parse_xml

__all__ = [
    "entity_to_json",
    "match_to_json",
    "parse_search_json",
    "parse_search_response",
    "parse_search_xml",
    "render_search_json",
    "render_search_xml",
]

MAX_RESPONSE_BYTES = 32 * 1024 * 1024


def _bad(message: str) -> DirectoryError:
    return DirectoryError(
        _("the Directory sent an unusable search response: {message}", message=message),
        retryable=False,
    )


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _bad(_("{where} should be text, got {kind}", where=where, kind=type(value).__name__))
    return value


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    return _str(value, key).strip() or None


def _int(obj: Mapping[str, Any], key: str, default: int) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise _bad(_("'{key}' should be a whole number, got {value}", key=key, value=repr(value)))
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise _bad(
            _("'{key}' should be a number, got {value}", key=key, value=repr(value))
        ) from None


def _date(text: object) -> date | None:
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise _bad(_("invalid date {text} (not text)", text=repr(text)))
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise _bad(_("invalid date {text}", text=repr(text))) from None


def _datetime(text: object) -> datetime | None:
    if not text or not isinstance(text, str):  # a number, list or object: not a timestamp
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None  # informational only; never fail a search over its timestamp


def _participant(scheme: str, value: str) -> ParticipantId:
    try:
        return ParticipantId(scheme.strip(), value.strip(), lax=True)
    except InvalidIdentifier as exc:
        raise _bad(
            _(
                "participant {scheme}::{value} is not valid ({exc})",
                scheme=scheme,
                value=value,
                exc=exc.message,
            )
        ) from None


def _doctype(scheme: str, value: str) -> DocumentTypeId:
    try:
        return DocumentTypeId(scheme.strip(), value.strip(), lax=True)
    except InvalidIdentifier as exc:
        raise _bad(
            _(
                "document type {scheme}::{value} is not valid ({exc})",
                scheme=scheme,
                value=value[:80],
                exc=exc.message,
            )
        ) from None


def _page(matches: list[DirectoryMatch], header: Mapping[str, Any]) -> SearchPage:
    total = _int(header, "total-result-count", len(matches))
    return SearchPage(
        matches=tuple(matches),
        total=total,
        used=_int(header, "used-result-count", len(matches)),
        page_index=_int(header, "result-page-index", 0),
        page_count=_int(header, "result-page-count", 20),
        first_index=_int(header, "first-result-index", 0),
        last_index=_int(header, "last-result-index", len(matches) - 1),
        truncated=total > MAX_RESULTS,
        query_terms=str(header.get("query-terms") or ""),
        created=_datetime(header.get("creation-dt")),
    )


# --- JSON ----------------------------------------------------------------------------------------


def _json_names(value: object) -> tuple[Name, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # the documentation example's (outdated) shape
        return (Name(value.strip()),)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise _bad(
            _("an entity name should be text or a list, got {kind}", kind=type(value).__name__)
        )
    names = []
    for item in value:
        if isinstance(item, str):
            names.append(Name(item.strip()))
        elif isinstance(item, dict):
            language = _opt_str(item, "language")
            names.append(Name(_str(item.get("name", ""), "name").strip(), language))
        else:
            raise _bad(_("an entity name entry should be text or an object"))
    return tuple(names)


def _json_list(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(_("'{key}' should be a list", key=key))
    return value


def _json_pair(item: object, where: str) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise _bad(_("{where} should be an object with scheme and value", where=where))
    return _str(item.get("scheme", ""), f"{where} scheme"), _str(item.get("value", ""), where)


def _json_entity(obj: object) -> BusinessEntity:
    if not isinstance(obj, dict):
        raise _bad(_("an entity should be an object"))
    contacts = []
    for c in _json_list(obj, "contacts"):
        if not isinstance(c, dict):
            raise _bad(_("a contact should be an object"))
        contacts.append(
            Contact(
                type=_opt_str(c, "type"),
                name=_opt_str(c, "name"),
                phone=_opt_str(c, "phone"),
                email=_opt_str(c, "email"),
            )
        )
    return BusinessEntity(
        names=_json_names(obj.get("name")),
        country=(_opt_str(obj, "countryCode") or ""),
        geo_info=_opt_str(obj, "geoInfo"),
        identifiers=tuple(
            (s.strip(), v.strip())
            for s, v in (_json_pair(i, "identifier") for i in _json_list(obj, "identifiers"))
        ),
        websites=tuple(_str(w, "website").strip() for w in _json_list(obj, "websites")),
        contacts=tuple(contacts),
        additional_info=_opt_str(obj, "additionalInfo"),
        registration_date=_date(_opt_str(obj, "regDate")),
    )


def _json_match(obj: object) -> DirectoryMatch:
    if not isinstance(obj, dict):
        raise _bad(_("a match should be an object"))
    pid = obj.get("participantID")
    if pid is None:
        raise _bad(_("a match has no participantID"))
    return DirectoryMatch(
        participant=_participant(*_json_pair(pid, "participantID")),
        document_types=tuple(
            _doctype(*_json_pair(d, "docType")) for d in _json_list(obj, "docTypes")
        ),
        entities=tuple(_json_entity(e) for e in _json_list(obj, "entities")),
    )


def parse_search_json(body: bytes) -> SearchPage:
    """Parse a ``/search/1.0/json`` answer; both ``name`` shapes are accepted."""
    if len(body) > MAX_RESPONSE_BYTES:
        raise _bad(_("it is larger than {limit} bytes", limit=MAX_RESPONSE_BYTES))
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(_("not JSON ({exc})", exc=str(exc))) from None
    if not isinstance(doc, dict):
        raise _bad(_("the top level is not a JSON object"))
    matches = [_json_match(m) for m in _json_list(doc, "matches")]
    return _page(matches, doc)


def entity_to_json(entity: BusinessEntity) -> dict[str, Any]:
    """One entity in the current JSON shape (optional members only when present)."""
    out: dict[str, Any] = {
        "name": [
            {"name": n.name, **({"language": n.language} if n.language else {})}
            for n in entity.names
        ],
        "countryCode": entity.country,
    }
    if entity.geo_info is not None:
        out["geoInfo"] = entity.geo_info
    if entity.identifiers:
        out["identifiers"] = [{"scheme": s, "value": v} for s, v in entity.identifiers]
    if entity.websites:
        out["websites"] = list(entity.websites)
    if entity.contacts:
        out["contacts"] = [
            {
                k: v
                for k, v in (
                    ("type", c.type),
                    ("name", c.name),
                    ("phone", c.phone),
                    ("email", c.email),
                )
                if v is not None
            }
            for c in entity.contacts
        ]
    if entity.additional_info is not None:
        out["additionalInfo"] = entity.additional_info
    if entity.registration_date is not None:
        out["regDate"] = entity.registration_date.isoformat()
    return out


def match_to_json(match: DirectoryMatch) -> dict[str, Any]:
    """One match in the Directory's JSON shape."""
    out: dict[str, Any] = {
        "participantID": {"scheme": match.participant.scheme, "value": match.participant.value}
    }
    if match.document_types:
        out["docTypes"] = [{"scheme": d.scheme, "value": d.value} for d in match.document_types]
    out["entities"] = [entity_to_json(e) for e in match.entities]
    return out


def _header(page: SearchPage) -> dict[str, Any]:
    created = page.created or datetime.now().astimezone()
    return {
        "version": "1.0",
        "total-result-count": page.total,
        "used-result-count": page.used,
        "result-page-index": page.page_index,
        "result-page-count": page.page_count,
        "first-result-index": page.first_index,
        "last-result-index": page.last_index,
        "query-terms": page.query_terms,
        "creation-dt": created.isoformat(),
    }


def render_search_json(page: SearchPage) -> bytes:
    """A ``/search/1.0/json`` answer body (the sandbox Directory serves these)."""
    doc = _header(page)
    doc["matches"] = [match_to_json(m) for m in page.matches]
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


# --- XML -----------------------------------------------------------------------------------------


def _xml_entity(el: etree._Element) -> BusinessEntity:
    return BusinessEntity(
        names=tuple(
            Name(element_text(n) or "", (n.get("language") or "").strip() or None)
            for n in el.findall("name")
        ),
        country=element_text(el.find("countryCode")) or "",
        geo_info=element_text(el.find("geoInfo")),
        identifiers=tuple(
            ((i.get("scheme") or "").strip(), element_text(i) or "")
            for i in el.findall("identifier")
        ),
        websites=tuple(w for w in (element_text(x) for x in el.findall("website")) if w),
        contacts=tuple(
            Contact(
                type=(c.get("type") or "").strip() or None,
                name=(c.get("name") or "").strip() or None,
                phone=(c.get("phone") or "").strip() or None,
                email=(c.get("email") or "").strip() or None,
            )
            for c in el.findall("contact")
        ),
        additional_info=element_text(el.find("additionalInfo")),
        registration_date=_date(element_text(el.find("regDate"))),
    )


def parse_search_xml(body: bytes) -> SearchPage:
    """Parse a ``/search/1.0/xml`` answer (``<resultlist>``)."""
    try:
        root = parse_xml(body, max_bytes=MAX_RESPONSE_BYTES)
    except PeppolnetError as exc:
        raise _bad(exc.message) from None
    if root.tag != "resultlist":
        raise _bad(_("expected <resultlist>, found <{tag}>", tag=root.tag))
    matches = []
    for m in root.findall("match"):
        pid = m.find("participantID")
        if pid is None:
            raise _bad(_("a match has no participantID"))
        matches.append(
            DirectoryMatch(
                participant=_participant(pid.get("scheme") or "", element_text(pid) or ""),
                document_types=tuple(
                    _doctype(d.get("scheme") or "", element_text(d) or "")
                    for d in m.findall("docTypeID")
                ),
                entities=tuple(_xml_entity(e) for e in m.findall("entity")),
            )
        )
    return _page(matches, {str(k): str(v) for k, v in root.attrib.items()})


def render_search_xml(page: SearchPage) -> bytes:
    """A ``/search/1.0/xml`` answer body, shaped as the search-result-list v1 schema says."""
    root = etree.Element("resultlist", {k: str(v) for k, v in _header(page).items()})
    for match in page.matches:
        m = etree.SubElement(root, "match")
        etree.SubElement(
            m, "participantID", scheme=match.participant.scheme
        ).text = match.participant.value
        for d in match.document_types:
            etree.SubElement(m, "docTypeID", scheme=d.scheme).text = d.value
        for entity in match.entities:
            e = etree.SubElement(m, "entity")
            for n in entity.names:
                etree.SubElement(
                    e, "name", {"language": n.language} if n.language else {}
                ).text = n.name
            etree.SubElement(e, "countryCode").text = entity.country
            if entity.geo_info is not None:
                etree.SubElement(e, "geoInfo").text = entity.geo_info
            for s, v in entity.identifiers:
                etree.SubElement(e, "identifier", scheme=s).text = v
            for w in entity.websites:
                etree.SubElement(e, "website").text = w
            for c in entity.contacts:
                attrs = {
                    k: v
                    for k, v in (
                        ("type", c.type),
                        ("name", c.name),
                        ("phone", c.phone),
                        ("email", c.email),
                    )
                    if v is not None
                }
                etree.SubElement(e, "contact", attrs)
            if entity.additional_info is not None:
                etree.SubElement(e, "additionalInfo").text = entity.additional_info
            if entity.registration_date is not None:
                etree.SubElement(e, "regDate").text = entity.registration_date.isoformat()
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def parse_search_response(body: bytes, fmt: str) -> SearchPage:
    """Parse a search answer in ``fmt`` ("json" or "xml")."""
    return parse_search_xml(body) if fmt == "xml" else parse_search_json(body)
