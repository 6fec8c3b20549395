"""Streaming readers of the JSON exports: business cards (JSON v1, v2) and participants.

The JSON export is one object whose ``bc`` (or ``participants``) array holds every record;
``json.loads`` would hold all of it. Here the text is decoded in chunks and each array element
is taken with ``json.JSONDecoder.raw_decode`` (C speed) as soon as it is complete, so memory
stays flat. An element that does not decode is found again by matching its brackets (strings
skipped), reported as a problem and stepped over: one bad card never costs the ones after it.

Bytes that are not UTF-8 are decoded with ``surrogateescape``, so a bad byte stays inside its
own card (which is then reported as an encoding problem) instead of breaking the whole chunk.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, Final

from peppolnet.businesscard import BusinessEntity, Contact, Name
from peppolnet.directory.export._source import ChunkSource
from peppolnet.directory.export._xml import MAX_RECORD_BYTES, parse_date, parse_instant
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

__all__ = ["JsonReader"]

_ARRAY: Final = re.compile(r'"(bc|participants)"\s*:\s*\[')
_SPACE: Final = re.compile(r"[\s,]*")
_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]', re.DOTALL)
_BAD_BYTE: Final = re.compile("[\udc80-\udcff]")
_NEXT_CARD: Final = re.compile(r',\s*(?=\{\s*"pid"\s*:)')
_NEXT_ENTRY: Final = re.compile(r',\s*(?=")')
_PID: Final = re.compile(r'"pid"\s*:\s*"([^"\\]{1,200})"')
_MAX_HEAD: Final = 64 << 10
_decoder = json.JSONDecoder()

Record = ExportCard | ExportParticipant


def _split_uri(text: str) -> tuple[str, str]:
    scheme, sep, value = text.strip().partition("::")
    return (scheme, value) if sep else ("iso6523-actorid-upis", scheme)


class _JsonCards:
    """A JSON card object as an :class:`ExportCard` (ValueError/TypeError/KeyError if not)."""

    def __init__(self) -> None:
        self._doctypes: dict[tuple[Any, ...], ExportDocumentType] = {}
        self.problems: list[str] = []

    def card(self, data: dict[str, Any]) -> ExportCard:
        self.problems = []
        pid = data.get("pid")
        if not isinstance(pid, str) or not pid.strip():
            raise ValueError(_("the card names no participant"))
        scheme, value = _split_uri(pid)
        entities = tuple(self._entity(e) for e in data.get("entities") or ())
        docs = tuple(self._doctype(d) for d in data.get("docTypes") or ())
        return ExportCard(scheme.strip(), value.strip(), entities, docs)

    def _doctype(self, d: dict[str, Any]) -> ExportDocumentType:
        key = (d.get("scheme"), d.get("value"), d.get("displayName"), d.get("state"),
               d.get("deprecated"), d.get("nonStandard"))  # fmt: skip
        found = self._doctypes.get(key)
        if found is None:
            scheme, value, name, state, deprecated, odd = key
            if state is None and deprecated is True:
                state = "deprecated"
            found = ExportDocumentType(
                str(scheme or "").strip(), str(value or "").strip(), name, state, odd is True
            )
            if len(self._doctypes) < 100_000:
                self._doctypes[key] = found
        return found

    def _entity(self, e: dict[str, Any]) -> BusinessEntity:
        names = tuple(
            Name(str(n.get("name") or ""), n.get("lang") or n.get("language") or None)
            for n in e.get("names") or ()
        )
        contacts = tuple(
            Contact(c.get("type"), c.get("name"), c.get("phone"), c.get("email"))
            for c in e.get("contacts") or ()
        )
        ids = tuple((str(i.get("scheme") or ""), str(i.get("value") or "")) for i in
                    e.get("identifiers") or ())  # fmt: skip
        registered = None
        text = e.get("regdate")
        if text:
            try:
                registered = parse_date(str(text))
            except ValueError:
                self.problems.append(
                    _("the registration date {text} is not a date; left empty", text=repr(text))
                )
        return BusinessEntity(
            names,
            str(e.get("countryCode") or ""),
            e.get("geoinfo") or None,
            ids,
            tuple(str(w) for w in e.get("websiteURIs") or ()),
            contacts,
            e.get("additionalInfo") or None,
            registered,
        )


class JsonReader:
    """Records of a JSON export read from ``source``; problems go to ``problems``."""

    def __init__(self, source: ChunkSource, problems: list[ExportProblem]) -> None:
        self.source = source
        self.problems = problems
        self._chunks = source.chunks()
        self._text = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._buffer = ""
        self._eof = False
        self._oversized = False
        head, self._pos, array = self._read_head()
        self._cards = _JsonCards() if array == "bc" else None
        content = CARDS if self._cards is not None else PARTICIPANTS
        self._head = head
        self.header = self._header(head, content)
        self.count = 0

    def _header(self, head: dict[str, Any], content: str) -> ExportHeader:
        created = head.get("creationdt")
        declared = head.get("participantCount", head.get("count"))
        when = parse_instant(created)
        return ExportHeader(
            "json",
            content,
            None if head.get("version") is None else str(head.get("version")),
            when,
            None if head.get("codeListSupported") is None else str(head["codeListSupported"]),
            declared if isinstance(declared, int) and not isinstance(declared, bool) else None,
        )

    def _more(self) -> bool:
        """Decode the next chunk into the buffer; False at the end of the file."""
        chunk = next(self._chunks, None)
        if chunk is None:
            if not self._eof:
                self._buffer += self._text.decode(b"", final=True)
                self._eof = True
            return False
        self._buffer += self._text.decode(chunk)
        return True

    def _read_head(self) -> tuple[dict[str, Any], int, str]:
        """The members before the array, the array's start, and its name."""
        while True:
            match = _ARRAY.search(self._buffer)
            if match is not None:
                break
            if len(self._buffer) > _MAX_HEAD or not self._more():
                raise InvalidExport(
                    _("{file} is not a Peppol Directory JSON export", file=self.source.name)
                )
        prefix = self._buffer[: match.start()].strip()
        try:
            head = json.loads(prefix.rstrip(",") + "}") if prefix.startswith("{") else None
        except ValueError:
            head = None
        if not isinstance(head, dict):
            raise InvalidExport(
                _("{file} does not start as a JSON export does", file=self.source.name)
            )
        return head, match.end(), match.group(1)

    def __iter__(self) -> Iterator[Record]:
        while True:
            self._compact()
            start = self._skip_separators()
            if start is None:
                break
            if self._buffer[start] == "]":
                self._tail(start + 1)
                return
            found = self._element(start)
            if found is None:
                break
            value, end, text = found
            self._pos = end
            record = self._record(value, text)
            if record is not None:
                yield record
        self._cut_off()

    # --- scanning --------------------------------------------------------------------------------

    def _compact(self) -> None:
        if self._pos > (1 << 20):
            self._buffer, self._pos = self._buffer[self._pos :], 0

    def _skip_separators(self) -> int | None:
        """Where the next element (or the array's end) starts; None at the end of the file."""
        while True:
            pos = _SPACE.match(self._buffer, self._pos).end()  # type: ignore[union-attr]
            if pos < len(self._buffer):
                return pos
            self._pos = pos
            if not self._more():
                return None

    def _element(self, start: int) -> tuple[Any, int, str] | None:
        """The element at ``start``: (its value, or :class:`_Undecodable`; its end; its text).
        None when the file ends inside it, or it grows past :data:`MAX_RECORD_BYTES` (then the
        rest of the file is not read: memory stays bounded).

        An element ``raw_decode`` refuses ends where the next element starts (``,{"pid":`` for
        a card, ``,"`` for a participant): a stray quote or bracket must not swallow the cards
        after it. At the end of the file, its brackets decide.
        """
        resync = _NEXT_CARD if self._cards is not None else _NEXT_ENTRY
        while True:
            try:
                value, end = _decoder.raw_decode(self._buffer, start)
            except ValueError:
                pass
            else:
                return value, end, self._buffer[start:end]
            following = resync.search(self._buffer, start + 1)
            if following is not None:
                end = following.start()
                return _Undecodable(), end, self._buffer[start:end]
            if len(self._buffer) - start > MAX_RECORD_BYTES:
                self._oversized = True
                return None
            if not self._more():
                found = _matching_end(self._buffer, start)
                return None if found is None else (_Undecodable(), found, self._buffer[start:found])

    def _record(self, value: Any, text: str) -> Record | None:
        self.count += 1
        where = self._where()
        if _BAD_BYTE.search(text):
            self._problem("encoding", where, _("bytes that are not UTF-8"), text)
            return None
        if isinstance(value, _Undecodable):
            self._problem("json", where, _("not valid JSON"), text)
            return None
        try:
            if self._cards is None:
                if not isinstance(value, str) or not value.strip():
                    raise ValueError(_("the entry is no participant identifier"))
                return ExportParticipant(*(part.strip() for part in _split_uri(value)))
            if not isinstance(value, dict):
                raise ValueError(_("the card is not a JSON object"))
            card = self._cards.card(value)
        except (ValueError, TypeError, AttributeError) as exc:
            self._problem("record", where, exc.args[0] if exc.args else str(exc), text)
            return None
        for message in self._cards.problems:
            self.problems.append(
                ExportProblem("record", where, message, card.participant_uri, skipped=False)
            )
        return card

    def _tail(self, after: int) -> None:
        """After the array: the rest of the object (more header members, then ``}``)."""
        while len(self._buffer) - after < _MAX_HEAD and self._more():
            pass
        rest = self._buffer[after:].strip()
        try:
            extra = json.loads('{"_":0' + rest) if rest.startswith(("}", ",")) else None
        except ValueError:
            extra = None
        if not isinstance(extra, dict):
            self.problems.append(
                ExportProblem(
                    "truncated" if not rest else "json",
                    _("after record {count}", count=self.count),
                    _("the export does not end as a JSON export does: it may be cut off"),
                    skipped=False,
                )
            )
            return
        extra.pop("_")
        if extra:
            self.header = self._header({**self._head, **extra}, self.header.content)
        if self.source.problem is not None:
            self.problems.append(self.source.problem)

    def _cut_off(self) -> None:
        if self.source.problem is not None:
            self.problems.append(self.source.problem)
        rest = self._buffer[self._pos :].strip()
        if self._oversized:
            self.count += 1
            message = _(
                "a record larger than {size} bytes: the rest of the file was not read",
                size=MAX_RECORD_BYTES,
            )
            self._problem("size", self._where(), message, rest[:2000])
        elif rest:
            self.count += 1
            message = _("the file ends inside a record: the export is cut off here")
            self._problem("truncated", self._where(), message, rest)
        elif self.source.problem is None:
            self.problems.append(
                ended_early(
                    self.count,
                    _("the file ends before the export's array does: it may be cut off"),
                )
            )

    def _where(self) -> str:
        return record_place(self.header.content, self.count)

    def _problem(self, kind: str, where: str, message: str, text: str) -> None:
        match = _PID.search(text[:2000])
        who = match.group(1) if match else None
        if who is None and self._cards is None and text.startswith('"'):
            who = text[1:200].split('"', 1)[0]
        self.problems.append(ExportProblem(kind, where, message, who))


class _Undecodable:
    """An element that is complete (its brackets match) but not valid JSON."""


def _matching_end(text: str, start: int) -> int | None:
    """Where the JSON value starting at ``start`` ends, by brackets alone (strings skipped);
    None when the text ends first. Used only for an element ``raw_decode`` refused."""
    depth = 0
    for token in _TOKEN.finditer(text, start):
        mark = token.group()
        if mark in "{[":
            depth += 1
        elif mark in "}]":
            depth -= 1
        if depth <= 0:
            return token.end()
    return None
