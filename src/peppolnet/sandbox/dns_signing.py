"""DNSSEC for the sandbox's DNS server: its zones signed with its own keys, on demand.

Every SML zone the server serves is signed with a key of its own (ECDSA P-256, algorithm 13,
one combined signing key per zone), and its parent zone - ``sandbox.peppolnet.test`` for the
default ``sml.sandbox.peppolnet.test`` - is served too, signed with another key, holding the DS
record that vouches for the child. The parent's key is the sandbox network's trust anchor
(:attr:`ZoneSigner.anchors`, a DS record), as the root's is for the real networks, so a
validator walks a real chain: anchor -> parent's DNSKEY -> child's DS -> child's DNSKEY ->
the answer's RRSIG. A zone directly under the root is its own anchor (serving the root would
answer for every name).

Signatures are made when an answer is sent with the DO bit (RFC 3225), remembered per RRset
while they stay valid (seven days, from the sandbox clock), and dropped from answers without
it. Denials carry NSEC records (RFC 4035 §3.1.3) computed from the names published at that
moment, so a participant registered while the server runs is covered at once.

:data:`DNSSEC_MODES` are what a test can make the SML zones do (:meth:`DnsServer.set_dnssec
<peppolnet.sandbox.dns_server.DnsServer.set_dnssec>`): validate, be unsigned behind a
delegation without DS (insecure), or serve signatures that do not verify, have expired, or are
missing altogether (bogus, each its own way).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Literal

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from cryptography.hazmat.primitives.asymmetric import ec
from dns.dnssectypes import Algorithm
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.NSEC import NSEC, Bitmap
from dns.rdtypes.ANY.RRSIG import RRSIG

__all__ = ["DNSSEC_MODES", "DnssecMode", "NameIndex", "ZoneSigner"]

DnssecMode = Literal["signed", "unsigned", "bogus", "expired", "stripped"]
DNSSEC_MODES: Final[Mapping[str, str]] = {
    "signed": "the SML zone is signed and its parent holds its DS record: answers validate",
    "unsigned": "the SML zone is not signed and its parent shows a delegation without a DS "
    "record: answers are insecure",
    "bogus": "the signatures over the SML zone's records do not verify",
    "expired": "the signatures over the SML zone's records expired a day ago",
    "stripped": "answers come without their DNSSEC records, as from a resolver that drops them",
}
"""What the SML zones' DNSSEC can be made to do, with what each does."""

_LIFETIME: Final = dt.timedelta(days=7)
_BACKDATE: Final = dt.timedelta(hours=1)
_RENEW: Final = dt.timedelta(days=1)
_SOA: Final = dns.rdatatype.SOA
_NS: Final = dns.rdatatype.NS
_DS: Final = dns.rdatatype.DS
_DNSKEY: Final = dns.rdatatype.DNSKEY
_NSEC: Final = dns.rdatatype.NSEC
_RRSIG: Final = dns.rdatatype.RRSIG
_ZONE_FLAGS: Final = 257  # a zone key with the SEP bit: one key signs everything


class NameIndex:
    """The names that exist in one zone, in DNSSEC's canonical order (RFC 4034 §6.1), with
    their record types: what NSEC records are made from, and how empty non-terminals are told
    from names that do not exist."""

    def __init__(self, apex: dns.name.Name, names: Mapping[dns.name.Name, Iterable[int]]) -> None:
        self.apex = apex
        self.types = {name: frozenset(types) for name, types in names.items()}
        self.sorted = sorted(self.types)

    def exists(self, name: dns.name.Name) -> bool:
        """``name`` has records, or names exist below it (an empty non-terminal)."""
        if name in self.types:
            return True
        following = self._after(name)
        return following is not None and following.is_subdomain(name)

    def _after(self, name: dns.name.Name) -> dns.name.Name | None:
        index = bisect.bisect_right(self.sorted, name)
        return self.sorted[index] if index < len(self.sorted) else None

    def covering(self, name: dns.name.Name) -> dns.name.Name:
        """The owner of the NSEC that holds ``name``: ``name`` itself if it exists, else the
        name before it (the apex sorts before every name of its zone)."""
        if name in self.types:
            return name
        index = bisect.bisect_left(self.sorted, name)
        return self.sorted[max(0, index - 1)]

    def following(self, owner: dns.name.Name) -> dns.name.Name:
        """The next name after ``owner``, the apex after the last (the NSEC's next name)."""
        index = bisect.bisect_right(self.sorted, owner)
        return self.sorted[index] if index < len(self.sorted) else self.apex

    def encloser(self, name: dns.name.Name) -> dns.name.Name:
        """The closest encloser of ``name``: its longest ancestor that exists."""
        ancestor = name
        while ancestor != self.apex:
            ancestor = ancestor.parent()
            if self.exists(ancestor):
                return ancestor
        return self.apex

    def denial(self, name: dns.name.Name, nxdomain: bool) -> list[dns.name.Name]:
        """The owners of the NSEC records that prove the denial for ``name``: the one at or
        covering it, and for NXDOMAIN the one covering the wildcard of its closest encloser."""
        owners = [self.covering(name)]
        if nxdomain:
            wildcard = dns.name.Name((b"*", *self.encloser(name).labels))
            owners.append(self.covering(wildcard))
        return list(dict.fromkeys(owners))


class _Key:
    """One zone's signing key: the private key and its DNSKEY record."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.dnskey: DNSKEY = dns.dnssec.make_dnskey(
            self.private.public_key(), Algorithm.ECDSAP256SHA256, flags=_ZONE_FLAGS
        )


class ZoneSigner:
    """Keys, DS records, NSEC records and signatures for the served ``zones`` and their
    parents (see the module notes); ``clock`` dates the signatures (the sandbox clock)."""

    def __init__(
        self, zones: Iterable[dns.name.Name], clock: Callable[[], dt.datetime], ttl: int
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self.mode: DnssecMode = "signed"
        self.parent_of: dict[dns.name.Name, dns.name.Name] = {}
        for zone in zones:
            parent = zone.parent() if len(zone) > 2 else zone
            self.parent_of[zone] = parent
        self.children: dict[dns.name.Name, list[dns.name.Name]] = {}
        for zone, parent in self.parent_of.items():
            if parent != zone:
                self.children.setdefault(parent, []).append(zone)
        self._keys = {zone: _Key() for zone in {*self.parent_of, *self.children}}
        self._signatures: dict[tuple[object, ...], tuple[dt.datetime, RRSIG]] = {}

    # --- what the zones publish ------------------------------------------------------------

    @property
    def anchors(self) -> tuple[str, ...]:
        """The DS records to trust: one per parent zone (or per zone that is its own anchor)."""
        found = []
        for anchor in sorted({*self.children, *(z for z, p in self.parent_of.items() if p == z)}):
            ds = dns.dnssec.make_ds(anchor, self._keys[anchor].dnskey, "SHA256")
            found.append(f"{anchor.to_text()} {ds.to_text().upper()}")
        return tuple(found)

    @property
    def parents(self) -> tuple[dns.name.Name, ...]:
        """The parent zones served for the chain of trust."""
        return tuple(self.children)

    def signed(self, zone: dns.name.Name) -> bool:
        """Whether ``zone``'s records are signed (a parent always is)."""
        return zone in self.children or self.mode != "unsigned"

    def dnskey(self, zone: dns.name.Name) -> dns.rrset.RRset:
        return self._rrset(zone, _DNSKEY, [self._keys[zone].dnskey])

    def ds(self, child: dns.name.Name) -> dns.rrset.RRset:
        made = dns.dnssec.make_ds(child, self._keys[child].dnskey, "SHA256")
        return self._rrset(child, _DS, [made])

    def parent_index(self, parent: dns.name.Name) -> NameIndex:
        """The parent zone's names: its apex and a delegation (NS, and DS unless unsigned) per
        child."""
        names: dict[dns.name.Name, set[int]] = {parent: {_SOA, _DNSKEY, _NSEC, _RRSIG}}
        for child in self.children.get(parent, ()):
            names[child] = {_NS, _NSEC, _RRSIG} | ({_DS} if self.mode != "unsigned" else set())
        return NameIndex(parent, names)

    def zone_index(self, zone: dns.name.Name, records: Mapping[dns.name.Name, int]) -> NameIndex:
        """An SML zone's names: its apex and every published record name in it."""
        extra = {_NSEC, _RRSIG} if self.signed(zone) else set()
        names: dict[dns.name.Name, set[int]] = {zone: {_SOA, _DNSKEY} | extra}
        for name, rdtype in records.items():
            names[name] = {rdtype} | extra
        return NameIndex(zone, names)

    def nsec(self, index: NameIndex, owners: Iterable[dns.name.Name]) -> list[dns.rrset.RRset]:
        """The NSEC records at ``owners`` of the zone ``index`` describes."""
        found = []
        for owner in owners:
            types = sorted(dns.rdatatype.RdataType.make(t) for t in index.types[owner])
            rdata = NSEC(  # type: ignore[no-untyped-call]
                dns.rdataclass.IN, _NSEC, index.following(owner), Bitmap.from_rdtypes(types)
            )
            found.append(self._rrset(owner, _NSEC, [rdata]))
        return found

    # --- signatures ------------------------------------------------------------------------

    def signatures(self, rrset: dns.rrset.RRset, zone: dns.name.Name) -> dns.rrset.RRset:
        """The RRSIG over ``rrset`` by ``zone``'s key, as the mode has it for an SML zone."""
        now = self._clock()
        faulty = zone not in self.children and rrset.rdtype != _DNSKEY
        expired = faulty and self.mode == "expired"
        content = tuple(sorted(r.to_digestable() for r in rrset))
        key = (rrset.name, rrset.rdtype, rrset.ttl, content, zone, expired)
        cached = self._signatures.get(key)
        if cached is None or not cached[0] - _RENEW > now > cached[0] - _LIFETIME:
            start = now - (_LIFETIME if expired else _BACKDATE)
            end = now - _RENEW if expired else now + _LIFETIME
            made = dns.dnssec.sign(
                rrset, self._keys[zone].private, zone, self._keys[zone].dnskey, start, end
            )
            cached = self._signatures[key] = (end, made)
        good = cached[1]
        sent: dns.rdata.Rdata = good
        if faulty and self.mode == "bogus":  # the same signature, every octet changed
            sent = good.replace(signature=bytes(b ^ 0x5A for b in good.signature))
        sigs = dns.rrset.RRset(rrset.name, dns.rdataclass.IN, _RRSIG, rrset.rdtype)
        sigs.add(sent, rrset.ttl)
        return sigs

    def _rrset(
        self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType, rdatas: list[dns.rdata.Rdata]
    ) -> dns.rrset.RRset:
        rrset = dns.rrset.RRset(name, dns.rdataclass.IN, rdtype)
        for rdata in rdatas:
            rrset.add(rdata, self._ttl)
        return rrset
