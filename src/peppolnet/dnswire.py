"""DNS messages on the wire, for the one kind of question peppolnet asks. Pure: no sockets.

An SML lookup is always the same exchange: one question (a NAPTR, or a CNAME on legacy zones),
class IN, recursion desired, and one answer to pick apart. dnspython builds and parses complete
``dns.message`` objects for that - general, but under bulk load its per-query CPU was a large
share of the client's work. This module writes the query with a few ``struct`` calls and reads
only what the SML layer needs from the reply: the RCODE, the TC bit, the answer records of the
asked name and type, and the negative TTL and owner of the SOA in the authority section (the owner
says which zone a negative answer claims to come from; see :mod:`peppolnet.sml`).

The reply is untrusted input (UDP is trivially spoofed), so the parser is strict and bounded:

* the header must be a response (QR set, opcode QUERY) with our ID, and the question section
  must echo our name, type and class exactly (names compared case-insensitively) - otherwise
  :class:`ForeignResponse`, which a transport treats as "not the reply to this query";
* every length is checked against the end of the message or of its record, compression
  pointers must point strictly backwards (so every name ends) and at most
  :data:`MAX_POINTER_JUMPS` of them are followed, labels are at most 63 octets and names at most
  255; any other flaw is :class:`BadResponse`. Nothing else (``IndexError``, ``struct.error``)
  escapes. Both are :class:`~peppolnet.errors.DnsFailure`: a fault, never an answer.

An error reply (FORMERR, SERVFAIL, NOTIMP, REFUSED) without a question section is accepted with
our ID alone, as some servers send it. The RCODE includes EDNS's extended bits.

What is kept of the answer section: records of the asked type owned by the asked name. For a
NAPTR question a CNAME chain inside the answer is followed (at most :data:`MAX_CNAME_HOPS`
hops) and the NAPTR records at its end are returned; the SML does not publish such chains, but a
resolver on the way may synthesise them. Records of other names or types are skipped (their
framing is still checked). A reply with TC set is returned with no records: its sections may be
cut anywhere, and the caller asks again over TCP.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Final

from peppolnet.errors import DnsFailure, InvalidInput
from peppolnet.i18n import _

__all__ = [
    "CNAME",
    "DNAME",
    "DNSKEY",
    "DS",
    "EDNS_PAYLOAD",
    "FORMERR",
    "MAX_CNAME_HOPS",
    "MAX_POINTER_JUMPS",
    "NAPTR",
    "NOERROR",
    "NXDOMAIN",
    "REFUSED",
    "SERVFAIL",
    "SOA",
    "Alias",
    "BadResponse",
    "DnsResponse",
    "ForeignResponse",
    "NaptrRecord",
    "build_query",
    "encode_name",
    "parse_response",
    "rcode_text",
    "rdtype_text",
]

# Record types and classes (RFC 1035, RFC 3403, RFC 6891).
CNAME: Final = 5
SOA: Final = 6
NAPTR: Final = 35
DNAME: Final = 39
DS: Final = 43
DNSKEY: Final = 48
OPT: Final = 41
CLASS_IN: Final = 1

# Response codes (RFC 1035, RFC 6891 for the extended ones).
NOERROR: Final = 0
FORMERR: Final = 1
SERVFAIL: Final = 2
NXDOMAIN: Final = 3
NOTIMP: Final = 4
REFUSED: Final = 5

EDNS_PAYLOAD: Final = 1232
"""The UDP payload size announced with EDNS0: the DNS Flag Day 2020 value, which fits the
IPv6 minimum MTU, so answers are neither fragmented nor needlessly truncated to 512 octets."""
MAX_POINTER_JUMPS: Final = 64
"""Compression pointers followed per name at most. Backward-only pointers already rule out
loops; this bounds the work a hostile packet can ask for."""
MAX_CNAME_HOPS: Final = 8
"""CNAME records followed inside one answer section at most (a chain, not a loop)."""

_FLAG_QR: Final = 0x8000
_FLAG_TC: Final = 0x0200
_FLAG_AD: Final = 0x0020
_FLAG_RD: Final = 0x0100
_FLAG_CD: Final = 0x0010
_EDNS_DO: Final = 0x8000
_OPCODE_MASK: Final = 0x7800
_MAX_NAME: Final = 255
_MAX_LABEL: Final = 63

_HEADER: Final = struct.Struct("!HHHHHH")
_RR: Final = struct.Struct("!HHIH")
_SOA_TIMERS: Final = struct.Struct("!IIIII")
_TYPE_CLASS: Final = struct.Struct("!HH")
_OPT_RR: Final = b"\x00" + struct.pack("!HHIH", OPT, EDNS_PAYLOAD, 0, 0)
_OPT_RR_DO: Final = b"\x00" + struct.pack("!HHIH", OPT, EDNS_PAYLOAD, _EDNS_DO, 0)

_RCODE_NAMES: Final = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
    16: "BADVERS",
}
_TYPE_NAMES: Final = {
    CNAME: "CNAME",
    SOA: "SOA",
    NAPTR: "NAPTR",
    DNAME: "DNAME",
    OPT: "OPT",
    DS: "DS",
    DNSKEY: "DNSKEY",
}


class BadResponse(DnsFailure):
    """A DNS reply that cannot be used: truncated mid-record, bad lengths, looping names, ...

    A :class:`~peppolnet.errors.DnsFailure` (retryable): a broken reply tells nothing about the
    participant, so it must never become "not registered".
    """


class ForeignResponse(BadResponse):
    """A reply that is not the answer to our query: another ID, not a response, other question.

    Over UDP anyone can send one (a late reply, a duplicate, a spoofing attempt); transports
    ignore it and keep waiting for the real answer.
    """


@dataclass(frozen=True, slots=True)
class NaptrRecord:
    """One NAPTR record (RFC 3403) as published by the SML.

    ``flags``, ``service`` and ``regexp`` are the character-strings decoded as UTF-8 (invalid
    bytes replaced); ``replacement`` is a domain name in master-file text, ``.`` for none.
    """

    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str = "."

    def __str__(self) -> str:
        return (
            f'{self.order} {self.preference} "{self.flags}" "{self.service}" '
            f'"{self.regexp}" {self.replacement}'
        )


@dataclass(frozen=True, slots=True)
class Alias:
    """A CNAME or DNAME record of an answer's chain: ``owner`` is an alias for ``target``
    (DNAME: every name under ``owner`` is, under ``target``). Names in master-file text."""

    owner: str
    rdtype: str
    target: str
    ttl: int

    def __str__(self) -> str:
        return f"{self.owner} {self.ttl} {self.rdtype} {self.target}"


@dataclass(frozen=True, slots=True)
class DnsResponse:
    """What a reply says about our question.

    ``naptr`` / ``cname`` hold the records of the asked type (``cname`` as target names in
    master-file text, with the final dot); ``ttl`` is the smallest TTL among them and the CNAME
    hops that led to them (the RRset's TTL, RFC 2181 §5.2), ``None`` without records;
    ``negative_ttl`` is ``min(SOA TTL, SOA MINIMUM)`` of the first SOA in the authority section
    (RFC 2308), ``None`` without one, and ``soa_owner`` that SOA's owner name (lower case, no
    trailing dot): the zone the server claims the answer comes from. For an SOA question that
    was answered, both describe the SOA in the answer instead. ``server`` is the address the
    reply came from, as the transport passed it in (empty when not given): a negative answer
    is only as good as the resolver that gave it, so messages name it. ``ad`` is the header's
    AD bit (the resolver says it validated the answer with DNSSEC; RFC 4035 §3.2.3), and
    ``aliases`` the CNAME records followed to the records (and any DNAME records the answer
    carried), in answer order: both only described, for a trace; nothing is decided on them.
    ``wire`` is the whole reply, kept only for a question asked for DNSSEC (whose validation -
    peppolnet's own, :mod:`peppolnet.dnssec` - reads the signatures and NSEC records this
    parser skips); empty otherwise.
    """

    rcode: int
    truncated: bool
    naptr: tuple[NaptrRecord, ...] = ()
    cname: tuple[str, ...] = ()
    ttl: int | None = None
    negative_ttl: int | None = None
    soa_owner: str | None = None
    server: str = ""
    ad: bool = False
    aliases: tuple[Alias, ...] = ()
    wire: bytes = b""


def rcode_text(rcode: int) -> str:
    """``SERVFAIL`` for 2, ``RCODE23`` for codes without a name."""
    return _RCODE_NAMES.get(rcode, f"RCODE{rcode}")


def rdtype_text(rdtype: int) -> str:
    """``NAPTR`` for 35, ``TYPE99`` for types this module has no name for (RFC 3597 style)."""
    return _TYPE_NAMES.get(rdtype, f"TYPE{rdtype}")


# --- names ---------------------------------------------------------------------------------------


def encode_name(name: str) -> bytes:
    """The uncompressed wire form of an absolute ASCII name (a trailing dot is optional).

    Raises :class:`~peppolnet.errors.InvalidInput` for empty or over-long labels, names over 255
    octets, and characters outside printable ASCII or backslash escapes - the names peppolnet
    asks for are hashes under an ASCII zone, so anything else is a caller's mistake.
    """
    text = name[:-1] if name.endswith(".") else name
    if not text:
        return b"\x00"
    if "\\" in text or " " in text or not text.isascii() or not text.isprintable():
        raise InvalidInput(_("the DNS name {name} must be plain printable ASCII", name=repr(name)))
    labels = text.encode("ascii").split(b".")
    if not all(0 < len(label) <= _MAX_LABEL for label in labels):
        raise InvalidInput(
            _("the DNS name {name} has an empty or over-long label", name=repr(name))
        )
    wire = b"".join([bytes((len(label),)) + label for label in labels]) + b"\x00"
    if len(wire) > _MAX_NAME:
        raise InvalidInput(
            _("the DNS name {name}... is longer than 255 octets", name=repr(name[:80]))
        )
    return wire


def _read_name(data: bytes, pos: int) -> tuple[bytes, int]:
    """The uncompressed wire form of the name at ``pos``, and where the record continues.

    Compression pointers (RFC 1035 §4.1.4) must point before the start of the piece of name
    they are in, so every name ends; the number of jumps and the total length are capped too.
    """
    out = bytearray()
    end = -1
    jumps = 0
    size = len(data)
    segment = pos
    while True:
        if pos >= size:
            raise BadResponse(_("a name in the DNS reply runs past the end of the message"))
        length = data[pos]
        if length == 0:
            out.append(0)
            return bytes(out), (pos + 1 if end < 0 else end)
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= size:
                raise BadResponse(_("a compression pointer in the DNS reply is cut off"))
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if target >= segment:
                raise BadResponse(_("a compression pointer in the DNS reply does not point back"))
            jumps += 1
            if jumps > MAX_POINTER_JUMPS:
                raise BadResponse(_("a name in the DNS reply has too many compression pointers"))
            if end < 0:
                end = pos + 2
            pos = segment = target
            continue
        if kind:
            raise BadResponse(
                _("the DNS reply uses an unknown label type 0x{kind}", kind=format(kind, "02x"))
            )
        stop = pos + 1 + length
        if stop > size:
            raise BadResponse(_("a label in the DNS reply runs past the end of the message"))
        out += data[pos:stop]
        if len(out) >= _MAX_NAME:
            raise BadResponse(_("a name in the DNS reply is longer than 255 octets"))
        pos = stop


_PLAIN: Final = frozenset(b for b in range(0x21, 0x7F) if b not in b'"().;\\@$')


def _label_text(label: bytes) -> str:
    """Master-file text of one label (RFC 1035 §5.1): specials get ``\\``, others ``\\DDD``."""
    if all(b in _PLAIN for b in label):
        return label.decode("ascii")
    return "".join(
        chr(b) if b in _PLAIN else (f"\\{b:03d}" if b <= 0x20 or b >= 0x7F else "\\" + chr(b))
        for b in label
    )


def _name_text(wire: bytes) -> str:
    """``smp.example.`` for a wire name, ``.`` for the root."""
    labels: list[str] = []
    pos = 0
    while wire[pos]:
        stop = pos + 1 + wire[pos]
        labels.append(_label_text(wire[pos + 1 : stop]))
        pos = stop
    return ".".join(labels) + "." if labels else "."


# --- query ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _question(name: str, rdtype: int) -> tuple[bytes, bytes]:
    """The question's name on the wire and its type-and-class octets.

    Remembered, because a transport builds the query and then parses its reply for the same
    name moments later (1,024 entries outlast any reasonable number of queries in flight).
    """
    return encode_name(name), _TYPE_CLASS.pack(rdtype, CLASS_IN)


def build_query(
    name: str, rdtype: int, query_id: int, *, edns: bool = True, dnssec: bool = False
) -> bytes:
    """One query for ``name``/``rdtype``/IN with recursion desired and ID ``query_id``.

    With ``edns`` (the default) an EDNS0 OPT record announces :data:`EDNS_PAYLOAD` octets, so
    answers up to that size come over UDP; servers that answer FORMERR to it are asked again
    without (the transport's job). ``dnssec`` (with ``edns``) sets the DO bit, asking for the
    records' signatures (RFC 3225), and CD, so that a validating resolver hands over even data
    it finds bogus: peppolnet validates itself and can then say why (RFC 4035 §3.2.2).
    """
    if not 0 <= query_id <= 0xFFFF:
        raise InvalidInput(_("a DNS query ID is 16 bits, not {query_id}", query_id=repr(query_id)))
    if not 0 < rdtype <= 0xFFFF:
        raise InvalidInput(_("a DNS record type is 16 bits, not {rdtype}", rdtype=repr(rdtype)))
    flags = _FLAG_RD | (_FLAG_CD if dnssec and edns else 0)
    header = _HEADER.pack(query_id, flags, 1, 0, 0, 1 if edns else 0)
    qname, type_class = _question(name, rdtype)
    opt = (_OPT_RR_DO if dnssec else _OPT_RR) if edns else b""
    return header + qname + type_class + opt


# --- response ------------------------------------------------------------------------------------


def _char_string(data: bytes, pos: int, end: int) -> tuple[str, int]:
    if pos >= end:
        raise BadResponse(_("a NAPTR record in the DNS reply is cut off"))
    stop = pos + 1 + data[pos]
    if stop > end:
        raise BadResponse(_("a character-string in a NAPTR record runs past its record"))
    return data[pos + 1 : stop].decode("utf-8", errors="replace"), stop


def _naptr(data: bytes, pos: int, end: int) -> NaptrRecord:
    if pos + 4 > end:
        raise BadResponse(_("a NAPTR record in the DNS reply is cut off"))
    order, preference = _TYPE_CLASS.unpack_from(data, pos)
    flags, pos = _char_string(data, pos + 4, end)
    service, pos = _char_string(data, pos, end)
    regexp, pos = _char_string(data, pos, end)
    replacement, pos = _read_name(data, pos)
    if pos != end:
        raise BadResponse(_("a NAPTR record's length does not match its content"))
    return _record_of(order, preference, flags, service, regexp, replacement)


@functools.lru_cache(maxsize=1024)
def _record_of(
    order: int, preference: int, flags: str, service: str, regexp: str, replacement: bytes
) -> NaptrRecord:
    """The record, made once while remembered: every participant of an SMP has the same one
    (its URL), and a bulk run keeps thousands of SML answers - one object each, not one per
    answer, for the collector to walk. A pure function of values (ints and text)."""
    return NaptrRecord(order, preference, flags, service, regexp, _name_text(replacement))


def _name_rdata(data: bytes, pos: int, end: int) -> bytes:
    name, stop = _read_name(data, pos)
    if stop != end:
        raise BadResponse(_("a CNAME record's length does not match its target name"))
    return name


def _soa_negative_ttl(data: bytes, pos: int, end: int, ttl: int) -> int:
    _mname, pos = _read_name(data, pos)  # MNAME
    _rname, pos = _read_name(data, pos)  # RNAME
    if pos + _SOA_TIMERS.size != end:
        raise BadResponse(_("an SOA record's length does not match its content"))
    minimum: int = _SOA_TIMERS.unpack_from(data, pos)[4]
    return min(ttl, minimum)


def _ttl(value: int) -> int:
    """RFC 2181 §8: a TTL with the top bit set is read as zero."""
    return 0 if value & 0x80000000 else value


_ERRORS_WITHOUT_QUESTION: Final = frozenset({FORMERR, SERVFAIL, NOTIMP, REFUSED})
_Soa = tuple[int, str]
"""``(negative TTL, owner)`` of an SOA record."""


def _expect(data: bytes, query_id: int, qname: bytes, type_class: bytes) -> tuple[int, int]:
    """Check header and question; returns (flags, offset after the question).

    Some servers leave the question out of an error reply (FORMERR, SERVFAIL, NOTIMP, REFUSED);
    such a reply with our ID is taken as ours, as dnspython does: it can only make us try the
    next server, never give an answer.
    """
    if len(data) < 2 or (data[0] << 8 | data[1]) != query_id:
        raise ForeignResponse(
            _("the DNS message does not carry the query's ID {query_id}", query_id=query_id)
        )
    if len(data) < _HEADER.size:
        raise BadResponse(
            _("the DNS reply is {length} octets, shorter than a header", length=len(data))
        )
    flags, qdcount = _HEADER.unpack_from(data)[1:3]
    if not flags & _FLAG_QR or flags & _OPCODE_MASK:
        raise ForeignResponse(_("the DNS message is not a response to a standard query"))
    if qdcount == 0 and flags & 0x000F in _ERRORS_WITHOUT_QUESTION:
        return flags, _HEADER.size
    end = _HEADER.size + len(qname)
    if (
        qdcount != 1
        or data[_HEADER.size : end].lower() != qname
        or data[end : end + 4] != type_class
    ):
        raise ForeignResponse(_("the DNS reply does not echo the question that was asked"))
    return flags, end + 4


def _record(data: bytes, pos: int) -> tuple[int, int, int, int, int]:
    """The fixed part of the record whose owner name ends at ``pos``.

    Returns (type, class, ttl, rdata start, rdata end), checked against the message end.
    """
    start = pos + _RR.size
    if start > len(data):
        raise BadResponse(_("a record in the DNS reply is cut off"))
    rtype, rclass, ttl, rdlength = _RR.unpack_from(data, pos)
    end = start + rdlength
    if end > len(data):
        raise BadResponse(_("a record's data runs past the end of the DNS reply"))
    return rtype, rclass, ttl, start, end


def parse_response(
    data: bytes,
    query_id: int,
    name: str,
    rdtype: int,
    *,
    over_tcp: bool = False,
    server: str = "",
) -> DnsResponse:
    """Read the reply to :func:`build_query` ``(name, rdtype, query_id)``, sent by ``server``.

    Raises :class:`ForeignResponse` when the message is not that reply and :class:`BadResponse`
    when it is malformed; both are :class:`~peppolnet.errors.DnsFailure`.

    A truncated reply (TC) over UDP is returned as just that, to be asked again over TCP. Over
    TCP there is nowhere further to go: its records are read as they are, and a truncated
    NOERROR reply without the records asked for is a broken server (:class:`BadResponse`, a
    fault), never an empty answer - which would read as "not registered".
    """
    qname, type_class = _question(name, rdtype)
    qname = qname.lower()
    flags, pos = _expect(data, query_id, qname, type_class)
    rcode = flags & 0x000F
    truncated = bool(flags & _FLAG_TC)
    if truncated and not over_tcp:
        return DnsResponse(rcode, True, server=server)
    ancount, nscount, arcount = _HEADER.unpack_from(data)[3:]
    has_question = pos > _HEADER.size
    # answer section: remember (owner, type, ttl, rdata span) of what may matter, frame the rest
    kept: list[tuple[bytes, int, int, int, int]] = []
    for _index in range(ancount):
        if has_question and data[pos : pos + 2] == b"\xc0\x0c":
            owner, pos = qname, pos + 2  # the usual case, a pointer to the question's name
        else:
            wire, pos = _read_name(data, pos)
            owner = wire.lower()
        rtype, rclass, ttl, start, pos = _record(data, pos)
        if rclass == CLASS_IN and rtype in (rdtype, CNAME, DNAME):
            kept.append((owner, rtype, _ttl(ttl), start, pos))
    soa: _Soa | None = None
    for _authority in range(nscount):
        owner, pos = _read_name(data, pos)
        rtype, rclass, ttl, start, pos = _record(data, pos)
        if rtype == SOA and rclass == CLASS_IN and soa is None:
            soa = (_soa_negative_ttl(data, start, pos, _ttl(ttl)), _owner_text(owner))
    seen_opt = False
    for _additional in range(arcount):
        _owner, pos = _read_name(data, pos)
        rtype, _class, ttl, _length, pos = _record(data, pos)
        if rtype == OPT:
            if seen_opt:
                raise BadResponse(_("the DNS reply has more than one OPT record"))
            seen_opt = True
            rcode |= (ttl >> 24) << 4  # EDNS extended RCODE: the upper 8 of its 12 bits
    if pos != len(data):
        raise BadResponse(
            _("the DNS reply has {count} octets after its last record", count=len(data) - pos)
        )
    response = _answer(data, rcode, rdtype, qname, kept, soa, server, bool(flags & _FLAG_AD))
    if truncated and rcode == NOERROR and response.ttl is None:
        raise BadResponse(_("the DNS reply over TCP is truncated and lacks the records asked for"))
    return response


@functools.lru_cache(maxsize=1024)
def _alone(record: NaptrRecord) -> tuple[NaptrRecord]:
    """``(record,)``, one tuple per remembered record (see :func:`_record_of`)."""
    return (record,)


@functools.lru_cache(maxsize=256)
def _owner_text(wire: bytes) -> str:
    """An owner name as :attr:`DnsResponse.soa_owner` gives it: lower case, no final dot.

    Remembered: it is the SOA owner of every denial, and a resolver's denials name one zone
    (a few owners in all; made anew, 2-3 us of each "not registered" answer)."""
    return _name_text(wire).lower().rstrip(".")


def _answer(
    data: bytes,
    rcode: int,
    rdtype: int,
    qname: bytes,
    kept: list[tuple[bytes, int, int, int, int]],
    soa: _Soa | None,
    server: str,
    ad: bool = False,
) -> DnsResponse:
    """Pick the records of the asked name (following CNAMEs for NAPTR) and decode them."""
    owner = qname
    ttls: list[int] = []
    hops: list[tuple[bytes, int, int, int, int]] = []
    for _hop in range(MAX_CNAME_HOPS + 1):
        found = [k for k in kept if k[0] == owner and k[1] == rdtype]
        if found or rdtype == CNAME:
            break
        hop = next((k for k in kept if k[0] == owner and k[1] == CNAME), None)
        if hop is None:
            break
        ttls.append(hop[2])
        hops.append(hop)
        owner = _name_rdata(data, hop[3], hop[4]).lower()
    else:
        raise BadResponse(
            _(
                "the DNS reply has a CNAME chain longer than {limit}",
                limit=MAX_CNAME_HOPS,
            )
        )
    aliases = _aliases(data, kept, hops) if hops or len(kept) > len(found) else ()
    negative_ttl, soa_owner = soa if soa is not None else (None, None)
    if not found:
        return DnsResponse(
            rcode,
            False,
            negative_ttl=negative_ttl,
            soa_owner=soa_owner,
            server=server,
            ad=ad,
            aliases=aliases,
        )
    ttl = min(ttls + [k[2] for k in found])
    naptr: tuple[NaptrRecord, ...] = ()
    cname: tuple[str, ...] = ()
    if rdtype == NAPTR:
        if len(found) == 1:  # the SML's usual answer: one record, the same tuple every time
            naptr = _alone(_naptr(data, found[0][3], found[0][4]))
        else:
            naptr = tuple(_naptr(data, start, end) for _, _, _, start, end in found)
    elif rdtype == CNAME:
        cname = tuple(_name_text(_name_rdata(data, start, end)) for _, _, _, start, end in found)
    elif rdtype == SOA:
        # a zone's own SOA, asked for at its apex (the SML layer's probe of its zone)
        soa_wire, _rtype, soa_ttl, start, end = found[0]
        negative_ttl = _soa_negative_ttl(data, start, end, soa_ttl)
        soa_owner = _owner_text(soa_wire)
    return DnsResponse(
        rcode,
        False,
        naptr=naptr,
        cname=cname,
        ttl=ttl,
        negative_ttl=negative_ttl,
        soa_owner=soa_owner,
        server=server,
        ad=ad,
        aliases=aliases,
    )


def _aliases(
    data: bytes,
    kept: list[tuple[bytes, int, int, int, int]],
    hops: list[tuple[bytes, int, int, int, int]],
) -> tuple[Alias, ...]:
    """The CNAME hops followed and the DNAME records of the answer, in answer order."""
    chain = [k for k in kept if k[1] == DNAME or any(k is hop for hop in hops)]
    return tuple(
        Alias(
            _name_text(owner),
            rdtype_text(rtype),
            _name_text(_name_rdata(data, start, end)),
            ttl,
        )
        for owner, rtype, ttl, start, end in chain
    )
