"""Writing Directory exports in each format, streamed: what the sandbox serves and what the
synthetic benchmark export is made of.

The writers produce what the Directory produces (XML export v1/v2/v3, JSON v1/v2, the
ISO-8859-1 CSV with ``;``, and the participants-only files), one record at a time, so a million
cards never sit in memory. They are the readers' other half: every reader test starts from a
file written here, so a change to one format shows on both sides.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import BinaryIO, Final

from peppolnet.businesscard import BusinessEntity, Contact
from peppolnet.directory.export._xml import CARD_NAMESPACES, PARTICIPANTS_NAMESPACE
from peppolnet.directory.export.kinds import ExportKind
from peppolnet.directory.export.records import ExportCard, ExportDocumentType, ExportParticipant
from peppolnet.errors import InvalidInput
from peppolnet.i18n import _

__all__ = [
    "CSV_COLUMNS",
    "write_cards_csv",
    "write_cards_json",
    "write_cards_xml",
    "write_export",
    "write_participants",
]

#: The columns of the business card CSV, in the Directory's order.
CSV_COLUMNS: Final = (
    "Participant ID",
    "Names (per-row)",
    "Country code",
    "Geo info",
    "Identifier schemes",
    "Identifier values",
    "Websites",
    "Contact type",
    "Contact name",
    "Contact phone",
    "Contact email",
    "Additional info",
    "Registration date",
    "Document types",
)
_NAMESPACE_OF: Final = {version: ns for ns, version in CARD_NAMESPACES.items()}
_SPECIAL: Final = re.compile(r'[&<>"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')
_ESCAPES: Final = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;",
                   "\r": "&#13;", "\t": "&#9;"}  # fmt: skip
_FLUSH: Final = 1 << 16


def _escape(text: str) -> str:
    """Text for an XML attribute or element (characters XML 1.0 cannot hold become ``?``)."""
    if _SPECIAL.search(text) is None:
        return text
    return _SPECIAL.sub(lambda m: _ESCAPES.get(m.group(), "?"), text)


def _created(when: datetime | None) -> str:
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _Buffered:
    """Collects text and writes it as UTF-8 in blocks (one write per record is slow)."""

    def __init__(self, out: BinaryIO, encoding: str = "utf-8") -> None:
        self.out = out
        self.encoding = encoding
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size >= _FLUSH:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.out.write("".join(self.parts).encode(self.encoding, "replace"))
            self.parts, self.size = [], 0


# --- XML --------------------------------------------------------------------------------------


def _entity_xml(entity: BusinessEntity, version: str) -> str:
    e = _escape
    parts = [f'<entity countrycode="{e(entity.country)}">']
    for name in entity.names:
        lang = f' language="{e(name.language)}"' if name.language else ""
        parts.append(f'<name name="{e(name.name)}"{lang}/>')
    if entity.geo_info:
        parts.append(f"<geoinfo>{e(entity.geo_info)}</geoinfo>")
    parts.extend(f'<id scheme="{e(s)}" value="{e(v)}"/>' for s, v in entity.identifiers)
    parts.extend(f"<website>{e(site)}</website>" for site in entity.websites)
    phone = "phone" if version == "3" else "phonenumber"
    for c in entity.contacts:
        pairs = (("type", c.type), ("name", c.name), (phone, c.phone), ("email", c.email))
        attrs = "".join(f' {key}="{e(value)}"' for key, value in pairs if value)
        parts.append(f"<contact{attrs}/>")
    if entity.additional_info:
        parts.append(f"<additionalinfo>{e(entity.additional_info)}</additionalinfo>")
    if entity.registration_date is not None and version == "3":
        parts.append(f"<regdate>{entity.registration_date.isoformat()}</regdate>")
    parts.append("</entity>")
    return "".join(parts)


def _doctype_xml(doc: ExportDocumentType, version: str) -> str:
    e = _escape
    extra = ""
    if doc.non_standard:
        extra = ' non-standard="true"'
    elif doc.display_name is not None:
        extra = f' displayname="{e(doc.display_name)}"'
        if version == "3" and doc.state:
            extra += f' state="{e(doc.state)}"'
        elif version == "2":
            extra += f' deprecated="{str(doc.state == "deprecated").lower()}"'
    return f'<doctypeid scheme="{e(doc.scheme)}" value="{e(doc.value)}"{extra}/>'


def card_xml(card: ExportCard, version: str = "3", *, doc_types: bool = True) -> str:
    """One ``<businesscard>`` element of the XML export."""
    e = _escape
    parts = [
        f'<businesscard><participant scheme="{e(card.participant_scheme)}" '
        f'value="{e(card.participant_value)}"/>'
    ]
    parts.extend(_entity_xml(entity, version) for entity in card.entities)
    if doc_types and version != "1":
        parts.extend(_doctype_xml(doc, version) for doc in card.document_types)
    parts.append("</businesscard>")
    return "".join(parts)


def write_cards_xml(
    cards: Iterable[ExportCard],
    out: BinaryIO,
    *,
    version: str = "3",
    doc_types: bool = True,
    created: datetime | None = None,
    code_list: str = "9.7",
) -> int:
    """The business card XML export (``version`` 1, 2 or 3); returns the number of cards."""
    if version not in _NAMESPACE_OF:
        raise InvalidInput(
            _("the XML export has versions 1, 2 and 3, not {version}", version=repr(version))
        )
    buffer = _Buffered(out)
    code = f' codeListSupported="{_escape(code_list)}"' if version != "1" else ""
    buffer.add(
        f'<?xml version="1.0" encoding="UTF-8"?><root xmlns="{_NAMESPACE_OF[version]}" '
        f'version="{version}" creationdt="{_created(created)}"{code}>'
    )
    count = 0
    for card in cards:
        buffer.add(card_xml(card, version, doc_types=doc_types))
        count += 1
    buffer.add("</root>")
    buffer.flush()
    return count


# --- JSON -------------------------------------------------------------------------------------


def _entity_json(entity: BusinessEntity) -> dict[str, object]:
    names = [{"name": n.name, **({"lang": n.language} if n.language else {})} for n in entity.names]
    data: dict[str, object] = {"names": names, "countryCode": entity.country}
    if entity.geo_info:
        data["geoinfo"] = entity.geo_info
    if entity.identifiers:
        data["identifiers"] = [{"scheme": s, "value": v} for s, v in entity.identifiers]
    if entity.websites:
        data["websiteURIs"] = list(entity.websites)
    if entity.contacts:
        data["contacts"] = [_contact_json(c) for c in entity.contacts]
    if entity.additional_info:
        data["additionalInfo"] = entity.additional_info
    if entity.registration_date is not None:
        data["regdate"] = entity.registration_date.isoformat()
    return data


def _contact_json(c: Contact) -> dict[str, str]:
    pairs = (("type", c.type), ("name", c.name), ("phone", c.phone), ("email", c.email))
    return {key: value for key, value in pairs if value}


def _doctype_json(doc: ExportDocumentType, version: int) -> dict[str, object]:
    data: dict[str, object] = {"scheme": doc.scheme, "value": doc.value}
    if doc.non_standard or doc.display_name is None:
        data["nonStandard"] = True
    else:
        data["displayName"] = doc.display_name
        if version >= 2:
            data["state"] = doc.state or "active"
        else:
            data["deprecated"] = doc.state == "deprecated"
    return data


def card_json(card: ExportCard, version: int = 2) -> str:
    """One element of the JSON export's ``bc`` array (compact, as the Directory writes it)."""
    data = {
        "pid": card.participant_uri,
        "entities": [_entity_json(entity) for entity in card.entities],
        "docTypes": [_doctype_json(doc, version) for doc in card.document_types],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def write_cards_json(
    cards: Iterable[ExportCard],
    out: BinaryIO,
    *,
    version: int = 2,
    count: int | None = None,
    created: datetime | None = None,
    code_list: str = "9.7",
) -> int:
    """The business card JSON export; ``count`` is written as ``participantCount`` when known."""
    buffer = _Buffered(out)
    head: dict[str, object] = {"version": version, "creationdt": _created(created)}
    if count is not None:
        head["participantCount"] = count
    head["codeListSupported"] = code_list
    buffer.add(json.dumps(head, separators=(",", ":"))[:-1] + ',"bc":[')
    written = 0
    for card in cards:
        buffer.add(("," if written else "") + card_json(card, version))
        written += 1
    buffer.add("]}")
    buffer.flush()
    return written


# --- CSV --------------------------------------------------------------------------------------


def _csv_rows(card: ExportCard) -> Iterator[list[str]]:
    """The card's rows: one per entity, multiple values joined by line breaks."""
    docs = "\n".join(doc.uri for doc in card.document_types)
    for entity in card.entities:
        names = "\n".join(
            f"{n.name} ({n.language})" if n.language else n.name for n in entity.names
        )
        contacts = entity.contacts
        yield [
            card.participant_uri,
            names,
            entity.country,
            entity.geo_info or "",
            "\n".join(s for s, _ in entity.identifiers),
            "\n".join(v for _, v in entity.identifiers),
            "\n".join(entity.websites),
            "\n".join(c.type or "" for c in contacts),
            "\n".join(c.name or "" for c in contacts),
            "\n".join(c.phone or "" for c in contacts),
            "\n".join(c.email or "" for c in contacts),
            entity.additional_info or "",
            entity.registration_date.isoformat() if entity.registration_date else "",
            docs,
        ]


def write_cards_csv(cards: Iterable[ExportCard], out: BinaryIO) -> int:
    """The business card CSV export (ISO-8859-1, ``;``, every field quoted, one row per
    entity); characters ISO-8859-1 cannot hold become ``?``, as in the Directory's file."""
    text = io.TextIOWrapper(out, encoding="iso-8859-1", errors="replace", newline="")
    writer = csv.writer(text, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for card in cards:
        writer.writerows(_csv_rows(card))
        count += 1
    text.flush()
    text.detach()
    return count


# --- participants ------------------------------------------------------------------------------


def write_participants(
    participants: Iterable[ExportParticipant | ExportCard],
    out: BinaryIO,
    fmt: str,
    *,
    count: int | None = None,
    created: datetime | None = None,
) -> int:
    """A participants-only export (``fmt``: ``xml``, ``json`` or ``csv``)."""
    pairs = ((p.participant_scheme, p.participant_value) for p in participants)
    if fmt == "csv":
        text = io.TextIOWrapper(out, encoding="iso-8859-1", errors="replace", newline="")
        writer = csv.writer(text, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["Participant ID"])
        written = 0
        for scheme, value in pairs:
            writer.writerow([f"{scheme}::{value}"])
            written += 1
        text.flush()
        text.detach()
        return written
    buffer = _Buffered(out)
    written = 0
    if fmt == "json":
        head = {"version": 1, "creationdt": _created(created), "count": count}
        if count is None:
            del head["count"]
        buffer.add(json.dumps(head, separators=(",", ":"))[:-1] + ',"participants":[')
        for scheme, value in pairs:
            buffer.add(("," if written else "") + json.dumps(f"{scheme}::{value}"))
            written += 1
        buffer.add("]}")
    elif fmt == "xml":
        counted = f' count="{count}"' if count is not None else ""
        buffer.add(
            f'<?xml version="1.0" encoding="UTF-8"?><root xmlns="{PARTICIPANTS_NAMESPACE}" '
            f'version="1" creationdt="{_created(created)}"{counted}>'
        )
        for scheme, value in pairs:
            buffer.add(f'<participantID scheme="{_escape(scheme)}" value="{_escape(value)}"/>')
            written += 1
        buffer.add("</root>")
    else:
        raise InvalidInput(
            _("the participants export is xml, json or csv, not {fmt}", fmt=repr(fmt))
        )
    buffer.flush()
    return written


def write_export(
    cards: Iterable[ExportCard],
    kind: ExportKind,
    out: BinaryIO,
    *,
    count: int | None = None,
    created: datetime | None = None,
) -> int:
    """``cards`` as the file ``kind`` of the export (what the Directory serves for it)."""
    if count is None and isinstance(cards, list | tuple):
        count = len(cards)
    if not kind.cards:
        return write_participants(cards, out, kind.format, count=count, created=created)
    if kind.format == "json":
        return write_cards_json(cards, out, count=count, created=created)
    if kind.format == "csv":
        return write_cards_csv(cards, out)
    doc_types = kind is ExportKind.BUSINESS_CARDS_XML
    return write_cards_xml(cards, out, doc_types=doc_types, created=created)
