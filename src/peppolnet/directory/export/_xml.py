"""Streaming readers of the XML exports: business cards (export formats v1, v2, v3) and the
participants-only list, at flat memory however large the file.

The fast path is lxml's pull parser (``XMLPullParser``, the feed form of ``iterparse``) with the
settings of :mod:`peppolnet.xmlsafe` - no DTD, no entities, no network - fed the export in
batches of whole records, each record element cleared and dropped as soon as it is read.

Why batches of *whole records*: one bad card (a stray ``&``, a byte that is not UTF-8) stops a
pull parser for good, and everything after it would be lost. So the bytes are first cut at each
record's end tag (``</businesscard>``, or a participant's ``<participantID .../>``) - a search
in C, a small part of the cost - and the parser is fed up to a record boundary. When a batch
fails (or yields fewer records than it holds, which is how a damage that swallows an end tag
shows), that batch alone is read again record by record, each inside a copy of the root start
tag: the good records are kept, the bad one becomes an :class:`ExportProblem` naming it, and a
fresh parser goes on with the next batch. A record larger than :data:`MAX_RECORD_BYTES` is
skipped as a problem, so memory stays bounded even for a file without a single end tag.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Final

from lxml import etree

from peppolnet.businesscard import BusinessEntity, Contact, Name
from peppolnet.directory.export._source import ChunkSource
from peppolnet.directory.export.records import (
    CARDS,
    PARTICIPANTS,
    ExportCard,
    ExportDocumentType,
    ExportHeader,
    ExportParticipant,
    ExportProblem,
    ended_early,
    record_place,
)
from peppolnet.errors import InvalidExport
from peppolnet.i18n import _

__all__ = ["CARD_NAMESPACES", "MAX_RECORD_BYTES", "PARTICIPANTS_NAMESPACE", "XmlReader"]

#: The export's XML namespaces by format version (directory-export-v1/v2/v3.xsd).
CARD_NAMESPACES: Final = {
    "http://www.peppol.eu/schema/pd/businesscard-generic/201806/": "1",
    "http://www.peppol.eu/schema/pd/businesscard-generic/201907/": "2",
    "urn:peppol:schema:pd:businesscard-generic:2025:03": "3",
}
PARTICIPANTS_NAMESPACE: Final = "http://www.peppol.eu/schema/pd/participant-generic/201910/"
#: A record (one card) larger than this is not a real one: skipped, so memory stays bounded.
MAX_RECORD_BYTES: Final = 4 << 20
#: Sets of document types remembered by their text (real exports have a few hundred).
_MAX_BLOCKS: Final = 20_000
#: What is kept of a skipped record's bytes: enough for an end tag split across two chunks.
_TAIL: Final = 64
#: How much may come before the root start tag (declaration, comments).
_MAX_PROLOG: Final = 64 << 10

_ROOT_TAG: Final = re.compile(rb"<([A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?)[\s/>]")
_CARD_END: Final = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?businesscard\s*>")
_PARTICIPANT_END: Final = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?participantID\b[^<>]*/>")
_VALUE_ATTR: Final = re.compile(rb"""\bvalue\s*=\s*["']([^"'<>]{1,200})["']""")
_POSITION: Final = re.compile(r",\s*line \d+, column \d+$")
_DATE: Final = re.compile(r"(\d{4}-\d{2}-\d{2})(?:T[\d:.]+)?(Z|[+-]\d{2}:\d{2})?")

Record = ExportCard | ExportParticipant
#: A document type element's attributes, as lxml gives them (names and values).
_Key = tuple[tuple[str | bytes, str | bytes], ...]


def _parser() -> etree.XMLParser:
    """A parser with peppolnet.xmlsafe's settings: no DTD, no entity substitution, no network
    (one per reader: parsers are not thread-safe)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def _local(tag: object) -> str:
    text = tag if isinstance(tag, str) else ""
    return text.rpartition("}")[2]


def _text(el: etree._Element) -> str | None:
    value = el.text
    if value is None:
        return None
    value = value.strip()
    return value or None


def parse_date(text: str | None) -> date | None:
    """``2020-01-31`` (with a zone or a time of day, as some versions write it) as a date;
    ValueError for anything else."""
    if text is None:
        return None
    if len(text) == 10:  # the usual YYYY-MM-DD: no pattern needed
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(text)
    return date.fromisoformat(match.group(1))


def parse_instant(text: object) -> datetime | None:
    """A file's creation time (``creationdt``) in UTC, whatever offset it was written with;
    one without an offset is taken as UTC, as the Directory writes its times. None for none
    or for text that is not a time (the header is information, not worth refusing a file)."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


class _Cards:
    """Turns ``businesscard`` elements into :class:`ExportCard` values (pure; one per reader:
    it keeps the document types it has seen, so each distinct one is a single shared value).

    A card is read in one flat pass over its elements (lxml's ``iter()``, walked in C) rather
    than child by child, entity by entity: a million cards make ten million elements, and the
    nested loops and calls cost more than the parsing itself.
    """

    def __init__(self, namespace: str) -> None:
        q = f"{{{namespace}}}".__add__
        self.participant, self.entity, self.doctype = q("participant"), q("entity"), q("doctypeid")
        self.name, self.id, self.website = q("name"), q("id"), q("website")
        self.contact, self.geo, self.info, self.regdate = (
            q("contact"),
            q("geoinfo"),
            q("additionalinfo"),
            q("regdate"),
        )
        self._doctypes: dict[_Key, ExportDocumentType] = {}
        self._blocks: dict[bytes, tuple[ExportDocumentType, ...]] = {}
        self.problems: list[str] = []  # the last card's field problems (kept, not fatal)

    def card(self, el: etree._Element, raw: bytes | None = None) -> ExportCard:
        """ValueError (with a sentence) for an element that is not a card. ``raw`` is the
        card's text, when known: see :meth:`_known_block`."""
        self.problems = []
        doctype, name, entity, regdate = self.doctype, self.name, self.entity, self.regdate
        scheme = value = None
        entities: list[BusinessEntity] = []
        doctypes: list[ExportDocumentType] = []
        current: _Entity | None = None
        block, known = self._known_block(raw)
        for child in el.iter():
            tag = child.tag
            if tag == doctype:
                if known is not None:
                    doctypes.extend(known)
                    break
                doctypes.append(self._doctype(child))
            elif doctypes:
                block = None  # something else among the document types: not a block to keep
            elif current is None:
                if tag == entity:
                    current = _Entity(child.get("countrycode") or "")
                elif tag == self.participant:
                    scheme, value = child.get("scheme"), child.get("value")
            elif tag == name:
                current.names.append(Name(child.get("name") or "", child.get("language")))
            elif tag == regdate:
                current.registered = self._date(child.text)
            elif tag == entity:
                entities.append(current.value())
                current = _Entity(child.get("countrycode") or "")
            else:
                self._entity_part(current, child, tag)
        if current is not None:
            entities.append(current.value())
        if not value:
            raise ValueError(_("the card names no participant"))
        found = tuple(doctypes)
        if block is not None and known is None and found and len(self._blocks) < _MAX_BLOCKS:
            self._blocks[block] = found
        return ExportCard((scheme or "").strip(), value.strip(), tuple(entities), found)

    def _known_block(
        self, raw: bytes | None
    ) -> tuple[bytes | None, tuple[ExportDocumentType, ...] | None]:
        """The card's document types from their text, when that text was seen before.

        Most cards list one of a few hundred sets of document types, in the same words, at
        the end of the card (the schema puts them last): the bytes from the first
        ``<doctypeid`` on are looked up as a whole, and on a hit the elements need not be read
        one by one - which is a third of the work of a card. A set is kept only when nothing
        but document types followed its first one.
        """
        if raw is None:
            return None, None
        at = raw.find(b"<doctypeid")
        if at < 0:
            return None, None
        block = raw[at:]
        return block, self._blocks.get(block)

    def _entity_part(self, current: _Entity, child: etree._Element, tag: str) -> None:
        """The less common parts of an entity (the name and date are read in :meth:`card`)."""
        if tag == self.contact:
            get = child.get
            current.contacts.append(
                Contact(
                    get("type") or None,
                    get("name") or None,
                    get("phone") or get("phonenumber") or None,
                    get("email") or None,
                )
            )
        elif tag == self.id:
            current.ids.append((child.get("scheme") or "", child.get("value") or ""))
        elif tag == self.website:
            text = _text(child)
            if text:
                current.websites.append(text)
        elif tag == self.geo:
            current.geo = _text(child)
        elif tag == self.info:
            current.info = _text(child)
        elif tag == self.participant:  # pragma: no cover - a participant after an entity
            pass

    def _doctype(self, el: etree._Element) -> ExportDocumentType:
        """A document type element's value; each distinct one is made once per file."""
        key = tuple(el.items())  # one C call; the attribute names keep keys apart
        found = self._doctypes.get(key)
        return found if found is not None else self._new_doctype(key)

    def _new_doctype(self, key: _Key) -> ExportDocumentType:
        """A document type not seen before in this file (then shared by every card)."""
        get = {str(name): str(value) for name, value in key}.get
        state = get("state")
        if state is None and get("deprecated") == "true":
            state = "deprecated"
        found = ExportDocumentType(
            (get("scheme") or "").strip(),
            (get("value") or "").strip(),
            get("displayname"),
            state,
            get("non-standard") == "true",
        )
        if len(self._doctypes) < 100_000:  # real exports have a few hundred
            self._doctypes[key] = found
        return found

    def _date(self, text: str | None) -> date | None:
        try:
            return parse_date(text.strip() if text else None)
        except ValueError:
            self.problems.append(
                _("the registration date {text} is not a date; left empty", text=repr(text))
            )
            return None


class _Entity:
    """An entity while its parts are read."""

    __slots__ = ("contacts", "country", "geo", "ids", "info", "names", "registered", "websites")

    def __init__(self, country: str) -> None:
        self.country = country
        self.names: list[Name] = []
        self.ids: list[tuple[str, str]] = []
        self.websites: list[str] = []
        self.contacts: list[Contact] = []
        self.geo: str | None = None
        self.info: str | None = None
        self.registered: date | None = None

    def value(self) -> BusinessEntity:
        return BusinessEntity(
            tuple(self.names),
            self.country,
            self.geo,
            tuple(self.ids),
            tuple(self.websites),
            tuple(self.contacts),
            self.info,
            self.registered,
        )


def _participant(el: etree._Element, raw: bytes | None = None) -> ExportParticipant:
    value = el.get("value")
    if not value:
        raise ValueError(_("the entry names no participant"))
    return ExportParticipant((el.get("scheme") or "").strip(), value.strip())


class XmlReader:
    """Records of an XML export, read from ``source``; problems are appended to ``problems``.

    The header is read when the reader is made (:class:`InvalidExport` for a file that is not
    an export at all); iterating reads the records, once.
    """

    def __init__(self, source: ChunkSource, problems: list[ExportProblem]) -> None:
        self.source = source
        self.problems = problems
        self._chunks = source.chunks()
        self._buffer = b""
        self._strict = _parser()
        root = self._read_root()
        namespace = etree.QName(root).namespace
        if _local(root.tag) != "root" or namespace is None:
            raise InvalidExport(
                _("{file} is XML, but not a Peppol Directory export", file=source.name)
            )
        self._end: re.Pattern[bytes]
        self._convert: Callable[[etree._Element, bytes | None], Record]
        self._cards: _Cards | None = None
        version: str | None
        if namespace in CARD_NAMESPACES:
            version, content, tag = CARD_NAMESPACES[namespace], CARDS, "businesscard"
            self._cards = _Cards(namespace)
            self._convert, self._end = self._cards.card, _CARD_END
        elif namespace == PARTICIPANTS_NAMESPACE:
            version, content, tag = root.get("version"), PARTICIPANTS, "participantID"
            self._convert, self._end = _participant, _PARTICIPANT_END
        else:
            raise InvalidExport(
                _(
                    "{file} is XML in the namespace {namespace}, which is no Peppol Directory "
                    "export format this version of peppolnet knows",
                    file=source.name,
                    namespace=namespace,
                )
            )
        self._tag = f"{{{namespace}}}{tag}"
        count = root.get("count")
        self.header = ExportHeader(
            "xml",
            content,
            version,
            parse_instant(root.get("creationdt")),
            root.get("codeListSupported"),
            int(count) if count and count.isdigit() else None,
        )
        self.count = 0  # records seen (read or not)

    # --- the root start tag --------------------------------------------------------------------

    def _read_root(self) -> etree._Element:
        """The root element, from its start tag alone (the records are read later)."""
        while True:
            match = _ROOT_TAG.search(self._buffer)
            end = self._buffer.find(b">", match.start()) if match else -1
            if match is not None and end >= 0:
                break
            chunk = next(self._chunks, None)
            if chunk is None or len(self._buffer) > _MAX_PROLOG:
                raise InvalidExport(_("{file} has no XML root element", file=self.source.name))
            self._buffer += chunk
        prolog = self._buffer[: end + 1]
        if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
            raise InvalidExport(
                _(
                    "{file} has a DOCTYPE or entity declaration; DTDs are refused",
                    file=self.source.name,
                )
            )
        self._qname = match.group(1)
        self._empty = prolog.endswith(b"/>")  # <root .../>: an export without records
        self._start = prolog[:-2] + b">" if self._empty else prolog
        self._close = b"</" + self._qname + b">"
        self._buffer = self._buffer[end + 1 :]
        try:
            return etree.fromstring(self._start + self._close, self._strict)
        except etree.XMLSyntaxError as exc:
            raise InvalidExport(
                _(
                    "{file} does not start as an XML export does: {detail}",
                    file=self.source.name,
                    detail=str(exc),
                )
            ) from None

    # --- the records -----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Record]:
        skipping = False  # inside a record too large to keep: looking for its end
        for chunk in itertools.chain((b"",), self._chunks):  # b"": what the root left over
            self._buffer += chunk
            if skipping:
                match = self._end.search(self._buffer)
                if match is None:
                    self._buffer = self._buffer[-_TAIL:]  # an end tag may span two chunks
                    continue
                self._buffer, skipping = self._buffer[match.end() :], False
            batch, ends = self._take_batch()
            if batch:
                yield from self._read_batch(batch, ends)
            elif len(self._buffer) > MAX_RECORD_BYTES:
                self._oversized()
                self._buffer, skipping = self._buffer[-_TAIL:], True
        if skipping:
            self._buffer = b""
        self._finish()

    def _take_batch(self) -> tuple[bytes, list[int]]:
        """The whole records at the start of the buffer, and where each ends."""
        ends = [m.end() for m in self._end.finditer(self._buffer)]
        if not ends:
            return b"", []
        cut = ends[-1]
        batch, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return batch, ends

    def _read_batch(self, batch: bytes, ends: list[int]) -> Iterator[Record]:
        """The batch's records: parsed as one document inside the root's tags (the fast path),
        or, when that fails or finds fewer records than end tags, one by one."""
        try:
            root = etree.fromstring(self._start + batch + self._close, self._strict)
            elements = list(root.iterchildren(self._tag))
        except etree.XMLSyntaxError:
            elements = []
        start = 0
        if len(elements) != len(ends):
            for end in ends:
                yield from self._alone(batch[start:end])
                start = end
            return
        record = self._record
        for el, end in zip(elements, ends, strict=True):
            found = record(el, batch[start:end])
            start = end
            if found is not None:
                yield found

    def _record(self, el: etree._Element, raw: bytes) -> Record | None:
        """The record of ``el`` (``raw``: its text); None, and a problem, if it is none."""
        self.count += 1
        try:
            record = self._convert(el, raw)
        except ValueError as exc:
            self._problem("record", exc.args[0] if exc.args else str(exc), None, el)
            return None
        if self._cards is not None and self._cards.problems:
            who = record.participant_uri
            for message in self._cards.problems:
                self.problems.append(ExportProblem("record", self._where(), message, who, False))
        return record

    def _alone(self, raw: bytes) -> Iterator[Record]:
        """One record parsed on its own, inside a copy of the root start tag."""
        try:
            root = etree.fromstring(self._start + raw + self._close, self._strict)
        except etree.XMLSyntaxError as exc:
            self.count += 1
            message = _POSITION.sub("", (exc.msg or str(exc)).strip())
            kind = "encoding" if "encoding" in message.lower() or "utf-8" in message else "xml"
            self._problem(kind, _("not well-formed XML: {detail}", detail=message), raw, None)
            return
        found = [el for el in root if el.tag == self._tag]
        if not found:
            self.count += 1
            self._problem("xml", _("no record element where one ends"), raw, None)
        for el in found:
            record = self._record(el, raw)
            if record is not None:
                yield record

    def _oversized(self) -> None:
        """A record grew past the limit without ending: it is reported and skipped."""
        self.count += 1
        message = _("a record larger than {size} bytes was skipped", size=MAX_RECORD_BYTES)
        self._problem("size", message, self._buffer[:300], None)

    def _finish(self) -> None:
        """After the last chunk: what is left must be the root's end tag and nothing else."""
        rest = self._buffer.strip()
        self._buffer = b""
        if self.source.problem is not None:
            self.problems.append(self.source.problem)
        closed = rest.endswith(self._close)
        if closed:
            rest = rest[: -len(self._close)].strip()
        if rest:
            self.count += 1
            kind, message = (
                ("xml", _("text that is no record comes after the last record"))
                if closed
                else ("truncated", _("the file ends inside a record: the export is cut off here"))
            )
            self._problem(kind, message, rest, None)
        elif not closed and not self._empty and self.source.problem is None:
            self.problems.append(
                ended_early(
                    self.count,
                    _("the file ends without the export's closing tag: it may be cut off"),
                )
            )

    # --- problems ----------------------------------------------------------------------------

    def _where(self) -> str:
        return record_place(self.header.content, self.count)

    def _problem(
        self, kind: str, message: str, raw: bytes | None, el: etree._Element | None
    ) -> None:
        who = None
        if el is not None:
            who = _who(el)
        elif raw:
            match = _VALUE_ATTR.search(raw)
            who = match.group(1).decode("utf-8", "replace") if match else None
        self.problems.append(ExportProblem(kind, self._where(), message, who))


def _who(el: etree._Element) -> str | None:
    if el.get("value"):
        return el.get("value")
    for child in el:
        if _local(child.tag) == "participant":
            return child.get("value")
    return None
