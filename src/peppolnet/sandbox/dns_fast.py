"""The sandbox DNS server's fast path: plain answers put together from pre-rendered records.

Why: parsing every query and building every answer with dnspython costs the server ~250 us of
CPU, as much as the client's whole DNS step, so in a benchmark the sandbox capped the client it
was measuring. Nearly every query is the same plain shape - one question, no flags but RD, at
most an EDNS0 OPT record without options - so its answer is the query's header and question,
then records rendered once when the participant was published (and the zone's SOA), copied as
bytes: ~10 us.

Anything else (more questions, another opcode, EDNS options or flags - DNSSEC's DO bit among
them -, a DNSSEC record type, a name that is not plain, an answer too big for the size allowed)
gets None, and the server builds the answer the slow way; faults, lies and resolver defects
always take the slow way. Answers are the ones dnspython would give, record for record
(tests/test_sandbox_dns_fast.py compares the two), only without name compression.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Mapping
from typing import Final

import dns.name
import dns.rrset

__all__ = ["FastAnswers", "name_key"]

_HEADER: Final = struct.Struct("!HHHHHH")
_TYPE_CLASS: Final = struct.Struct("!HH")
_OPT: Final = 41
_SOA: Final = 6
_CNAME: Final = 5
_IN: Final = 1
#: DS, RRSIG, NSEC, DNSKEY, NSEC3, NSEC3PARAM: DNSSEC's own types (a DS at an SML zone's apex
#: is its parent's to give): always the slow way.
_DNSSEC_TYPES: Final = frozenset({43, 46, 47, 48, 50, 51})
_QR, _AA, _RD = 0x8000, 0x0400, 0x0100
_NXDOMAIN: Final = 3
#: Our OPT record in every answer to an EDNS0 query: root owner, type OPT, class = the payload
#: we accept (dnspython's default, 8192), extended RCODE/version/flags 0, no options.
_OPT_RR: Final = b"\x00" + struct.pack("!HHIH", _OPT, 8192, 0, 0)


def name_key(name: dns.name.Name) -> bytes:
    """A name as the fast path looks it up: its uncompressed wire form, lower case."""
    wire = name.canonicalize().to_wire()
    assert wire is not None  # without a file, dnspython returns the bytes
    return wire


def _render(rrset: dns.rrset.RRset) -> tuple[bytes, int]:
    """``rrset`` as wire records with an uncompressed owner name, and how many there are."""
    out = io.BytesIO()
    count = rrset.to_wire(out)
    return out.getvalue(), count


class FastAnswers:
    """Pre-rendered records by name, and the zones with their SOA records.

    Its owner (the DNS server) calls :meth:`publish` and :meth:`withdraw` under its lock, and
    :meth:`answer` from the server's loop; each is one dictionary operation on shared state.
    """

    def __init__(self, soas: Mapping[dns.name.Name, dns.rrset.RRset]) -> None:
        # zone wire -> its SOA as (record wire, 1); longest zone first, as the server matches
        self._zones = sorted(
            ((name_key(zone), _render(soa)) for zone, soa in soas.items()),
            key=lambda item: len(item[0]),
            reverse=True,
        )
        # name wire -> (rdtype, records wire, count)
        self._records: dict[bytes, tuple[int, bytes, int]] = {}
        # the names that exist without records of their own (empty non-terminals: the
        # ancestors of published names below their zone) -> how many published names are below
        self._ancestors: dict[bytes, int] = {}

    def publish(self, records: Iterable[tuple[dns.name.Name, int, dns.rrset.RRset]]) -> None:
        for name, rdtype, rrset in records:
            wire, count = _render(rrset)
            key = name_key(name)
            if key not in self._records:
                self._count_ancestors(key, 1)
            self._records[key] = (rdtype, wire, count)

    def withdraw(self, names: Iterable[dns.name.Name]) -> None:
        for name in names:
            key = name_key(name)
            if self._records.pop(key, None) is not None:
                self._count_ancestors(key, -1)

    def _count_ancestors(self, key: bytes, step: int) -> None:
        zone = self._zone_of(key)
        end = len(key) - len(zone[0]) if zone is not None else 0
        pos = key[0] + 1  # the name itself is not its own ancestor
        while pos < end:
            ancestor = key[pos:]
            left = self._ancestors.get(ancestor, 0) + step
            if left > 0:
                self._ancestors[ancestor] = left
            else:
                self._ancestors.pop(ancestor, None)
            pos += key[pos] + 1

    def answer(self, query: bytes, max_size: int) -> bytes | None:
        """The answer to a plain ``query``, or None when it is not plain (see the module)."""
        parsed = _plain_question(query)
        if parsed is None:
            return None
        qid, flags, end, qname, qtype, edns = parsed
        if qtype in _DNSSEC_TYPES:
            return None
        zone = self._zone_of(qname)
        if zone is None:
            return None  # REFUSED, the slow path's business
        zone_name, (soa, _) = zone
        rcode, answer, authority = 0, (b"", 0), (b"", 0)
        found = self._records.get(qname)
        if found is not None and (found[0] == qtype or found[0] == _CNAME):
            answer = found[1:]
        elif qname == zone_name and qtype == _SOA:
            answer = (soa, 1)
        else:  # no such record; no such name unless it is the apex or an empty non-terminal
            if found is None and qname != zone_name and qname not in self._ancestors:
                rcode = _NXDOMAIN
            authority = (soa, 1)
        head = _HEADER.pack(
            qid,
            _QR | _AA | (flags & _RD) | rcode,
            1,
            answer[1],
            authority[1],
            1 if edns else 0,
        )
        wire = b"".join((head, query[12:end], answer[0], authority[0], _OPT_RR if edns else b""))
        return wire if len(wire) <= max_size else None

    def _zone_of(self, qname: bytes) -> tuple[bytes, tuple[bytes, int]] | None:
        for zone, soa in self._zones:
            if qname.endswith(zone) and _at_label(qname, len(qname) - len(zone)):
                return zone, soa
        return None


def _at_label(name: bytes, offset: int) -> bool:
    """Whether a label of the wire name ``name`` starts at ``offset``."""
    pos = 0
    while pos < offset:
        pos += name[pos] + 1
    return pos == offset


def _plain_question(query: bytes) -> tuple[int, int, int, bytes, int, bool] | None:
    """(id, flags, end of the question, its name in lower case, its type, EDNS0) of a plain
    query: opcode QUERY, no flag but RD, one IN question, no answer or authority records, at
    most one additional record, an OPT without options. None for anything else."""
    if len(query) < 17:
        return None
    qid, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(query)
    if flags & ~_RD or qdcount != 1 or ancount or nscount or arcount > 1:
        return None
    pos = 12
    while True:
        length = query[pos] if pos < len(query) else 0xFF
        if length == 0:
            break
        if length > 63:  # a compression pointer or junk: not plain
            return None
        pos += length + 1
    name_end = pos + 1
    end = name_end + 4
    if end > len(query):
        return None
    qtype, qclass = _TYPE_CLASS.unpack_from(query, name_end)
    if qclass != _IN:
        return None
    rest = query[end:]
    if arcount and rest != _plain_opt(rest):
        return None
    if not arcount and rest:
        return None
    return qid, flags, end, query[12:name_end].lower(), qtype, bool(arcount)


def _plain_opt(rest: bytes) -> bytes | None:
    """``rest`` if it is one OPT record without options, of EDNS version 0 and with no flag
    set (the DO bit asks for DNSSEC records: the slow way)."""
    if len(rest) != 11 or rest[0] != 0:
        return None
    rtype, _payload, ttl, rdlength = struct.unpack_from("!HHIH", rest, 1)
    if rtype != _OPT or rdlength or ttl:
        return None
    return rest
