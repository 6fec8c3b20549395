"""Authenticated denial of existence: what signed NSEC / NSEC3 records prove. Pure: no I/O.

A signed zone says "no" with records that span the names that do not exist: NSEC (RFC 4034 §4,
RFC 4035 §5.4) names the next existing name in canonical order, NSEC3 (RFC 5155) the next
hashed one. :class:`Denial` takes those records - already checked against the zone's keys by
the caller - and answers three questions:

* :meth:`Denial.nodata` - does the name exist without records of the type (or as an empty
  non-terminal, or through a wildcard without the type)?
* :meth:`Denial.nxdomain` - is there no such name, and no wildcard that would have made one?
* :meth:`Denial.no_ds` - is there no DS at the name, and is the name a delegation (then the
  child zone is *insecure*) or not a zone cut at all?

Each answers with a :class:`Proof`; :attr:`Proof.NONE` when the records prove nothing of the
kind (the caller treats the answer as bogus). An NSEC3 span with the opt-out flag proves less:
an unsigned delegation may hide in it (RFC 5155 §6), so the answer is :attr:`Proof.OPT_OUT` and
the caller calls it insecure. So are NSEC3 records with a hash algorithm other than SHA-1 or more
than :data:`MAX_ITERATIONS` extra iterations (RFC 9276 §3.2 lets validators do that, and
hashing a name hundreds of times per lookup is a cost a hostile zone could impose).

Records of a delegation point (NS without SOA) or a DNAME never deny names below them: the
parent knows nothing of the child's names (RFC 6840 §4.1).
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Sequence
from typing import Final

import dns.dnssec
import dns.name
import dns.rdatatype
from dns.rdtypes.ANY.NSEC import NSEC
from dns.rdtypes.ANY.NSEC3 import NSEC3

from peppolnet.i18n import Message, _

__all__ = ["MAX_ITERATIONS", "Denial", "Proof", "types_of"]

MAX_ITERATIONS: Final = 150
"""NSEC3 iterations above this make a proof insecure (the limit BIND and Unbound apply)."""

_SHA1: Final = 1
_OPT_OUT: Final = 0x01
_NS: Final = int(dns.rdatatype.NS)
_SOA: Final = int(dns.rdatatype.SOA)
_DS: Final = int(dns.rdatatype.DS)
_CNAME: Final = int(dns.rdatatype.CNAME)
_DNAME: Final = int(dns.rdatatype.DNAME)


class Proof(enum.Enum):
    """What a set of NSEC / NSEC3 records proves about one name."""

    NO_DATA = "no-data"
    """The name exists (or is an empty non-terminal) without records of the type."""
    NO_NAME = "no-name"
    """The name does not exist, nor a wildcard that would match it."""
    DELEGATION = "delegation"
    """(DS only) the name is a delegation without a DS: the child zone is not signed."""
    OPT_OUT = "opt-out"
    """An NSEC3 opt-out span covers the name, or the NSEC3 records cannot be used: insecure."""
    NONE = "none"
    """The records prove nothing of the kind."""


def types_of(rdata: NSEC | NSEC3) -> frozenset[int]:
    """The record types an NSEC or NSEC3 type bitmap lists (RFC 4034 §4.1.2)."""
    found: set[int] = set()
    for window, bitmap in rdata.windows:
        for index, octet in enumerate(bitmap):
            for bit in range(8):
                if octet & (0x80 >> bit):
                    found.add(window * 256 + index * 8 + bit)
    return frozenset(found)


def _cuts_off(owner: dns.name.Name, types: frozenset[int], name: dns.name.Name) -> bool:
    """Records at ``owner`` say nothing about ``name`` below it: ``owner`` is a delegation
    point (NS without SOA) or a DNAME, and ``name`` lies under it."""
    below = name != owner and name.is_subdomain(owner)
    return below and ((_NS in types and _SOA not in types) or _DNAME in types)


def _common(name: dns.name.Name, other: dns.name.Name) -> dns.name.Name:
    """The longest common ancestor of two absolute names."""
    labels = name.fullcompare(other)[2]
    return dns.name.Name(name.labels[len(name.labels) - labels :])


class Denial:
    """The NSEC and NSEC3 records of one zone's denial, checked by the caller, and what they prove.

    ``nsec`` and ``nsec3`` are ``(owner, rdata)`` pairs; records not in ``zone`` are ignored.
    """

    def __init__(
        self,
        zone: dns.name.Name,
        nsec: Sequence[tuple[dns.name.Name, NSEC]],
        nsec3: Sequence[tuple[dns.name.Name, NSEC3]],
    ) -> None:
        self.zone = zone
        self._nsec = [(o, r) for o, r in nsec if o.is_subdomain(zone)]
        self._nsec3: list[tuple[str, NSEC3]] = []
        self.unusable: Message | None = None  # why the NSEC3 records cannot be used, if so
        usable = [(o, r) for o, r in nsec3 if o.parent() == zone and len(o) > len(zone)]
        if nsec3 and not usable:
            self.unusable = _("its NSEC3 records are not in the zone that signed them")
        first = next((r for _, r in usable if r.algorithm == _SHA1), None)
        if usable and first is None:
            self.unusable = _("its NSEC3 records use a hash algorithm other than SHA-1")
        elif first is not None and first.iterations > MAX_ITERATIONS:
            self.unusable = _(
                "its NSEC3 records hash names {iterations} extra times (more than {limit})",
                iterations=first.iterations,
                limit=MAX_ITERATIONS,
            )
        elif first is not None:
            params = (first.algorithm, first.iterations, first.salt)
            self._nsec3 = [
                (o.labels[0].decode("ascii", "replace").lower(), r)
                for o, r in usable
                if (r.algorithm, r.iterations, r.salt) == params
            ]
            self._salt = first.salt
            self._iterations = first.iterations

    # --- the three questions ---------------------------------------------------------------

    def nodata(self, name: dns.name.Name, rdtype: int) -> Proof:
        """Whether ``name`` is shown to have no records of ``rdtype`` (nor a CNAME)."""
        if self.unusable:
            return Proof.OPT_OUT
        if self._nsec3:
            return self._nsec3_nodata(name, rdtype)
        return self._nsec_nodata(name, rdtype)

    def nxdomain(self, name: dns.name.Name) -> Proof:
        """Whether ``name`` is shown not to exist (nor a wildcard that would match it)."""
        if self.unusable:
            return Proof.OPT_OUT
        if self._nsec3:
            return self._nsec3_nxdomain(name)
        return self._nsec_nxdomain(name)

    def no_ds(self, name: dns.name.Name) -> Proof:
        """Whether there is no DS at ``name``, and why: a delegation without one
        (:attr:`Proof.DELEGATION`), no zone cut (:attr:`Proof.NO_DATA`, :attr:`Proof.NO_NAME`)."""
        if self.unusable:
            return Proof.OPT_OUT
        if self._nsec3:
            return self._nsec3_no_ds(name)
        return self._nsec_no_ds(name)

    def wildcard_answer(self, name: dns.name.Name, labels: int) -> bool:
        """Whether an answer for ``name`` made from the wildcard at its suffix of ``labels``
        labels (an RRSIG's label count) is proven right: ``name`` itself does not exist (NSEC),
        or the next closer name is covered (NSEC3, RFC 5155 §8.8)."""
        if self.unusable or labels + 1 >= len(name):
            return False
        if self._nsec3:
            closer = dns.name.Name(name.labels[len(name.labels) - labels - 2 :])
            return self._nsec3_cover(closer) is not None
        return self._nsec_absent(name) is not None

    # --- NSEC ------------------------------------------------------------------------------

    def _nsec_at(self, name: dns.name.Name) -> frozenset[int] | None:
        for owner, rdata in self._nsec:
            if owner == name:
                return types_of(rdata)
        return None

    def _nsec_cover(self, name: dns.name.Name) -> tuple[dns.name.Name, dns.name.Name] | None:
        """``(owner, next)`` of the NSEC whose span holds ``name``, if one does and may."""
        if not name.is_subdomain(self.zone):
            return None
        for owner, rdata in self._nsec:
            following = rdata.next
            inside = owner < name < following if owner < following else name > owner
            if inside and not _cuts_off(owner, types_of(rdata), name):
                return owner, following
        return None

    def _nsec_absent(self, name: dns.name.Name) -> tuple[dns.name.Name, dns.name.Name] | None:
        """The cover of ``name`` when it shows that ``name`` does not exist at all (a span
        whose next name lies below ``name`` shows an empty non-terminal instead)."""
        if self._nsec_at(name) is not None:
            return None
        cover = self._nsec_cover(name)
        if cover is None or (cover[1] != name and cover[1].is_subdomain(name)):
            return None
        return cover

    def _nsec_wildcard(
        self, name: dns.name.Name, cover: tuple[dns.name.Name, ...]
    ) -> dns.name.Name:
        """``*.<closest encloser>`` for a ``name`` that ``cover`` shows absent."""
        encloser = max((_common(name, n) for n in cover), key=len)
        if not encloser.is_subdomain(self.zone):
            encloser = self.zone
        return dns.name.Name((b"*", *encloser.labels))

    def _nsec_nodata(self, name: dns.name.Name, rdtype: int) -> Proof:
        types = self._nsec_at(name)
        if types is not None:
            return Proof.NO_DATA if not types & {rdtype, _CNAME} else Proof.NONE
        cover = self._nsec_cover(name)
        if cover is not None and cover[1] != name and cover[1].is_subdomain(name):
            return Proof.NO_DATA  # an empty non-terminal: names exist below it
        absent = self._nsec_absent(name)
        if absent is not None:  # perhaps through a wildcard that lacks the type
            wildcard = self._nsec_at(self._nsec_wildcard(name, absent))
            if wildcard is not None and not wildcard & {rdtype, _CNAME}:
                return Proof.NO_DATA
        return Proof.NONE

    def _nsec_nxdomain(self, name: dns.name.Name) -> Proof:
        absent = self._nsec_absent(name)
        if absent is None:
            return Proof.NONE
        wildcard = self._nsec_wildcard(name, absent)
        if self._nsec_at(wildcard) is None and self._nsec_cover(wildcard) is not None:
            return Proof.NO_NAME
        return Proof.NONE

    def _nsec_no_ds(self, name: dns.name.Name) -> Proof:
        types = self._nsec_at(name)
        if types is not None:
            return _ds_verdict(types)
        cover = self._nsec_cover(name)
        if cover is None:
            return Proof.NONE
        if cover[1] != name and cover[1].is_subdomain(name):
            return Proof.NO_DATA  # an empty non-terminal is no zone cut
        return Proof.NO_NAME

    # --- NSEC3 -----------------------------------------------------------------------------

    def _hash(self, name: dns.name.Name) -> str:
        return dns.dnssec.nsec3_hash(name, self._salt, self._iterations, _SHA1).lower()

    def _nsec3_match(self, name: dns.name.Name) -> NSEC3 | None:
        hashed = self._hash(name)
        return next((r for h, r in self._nsec3 if h == hashed), None)

    def _nsec3_cover(self, name: dns.name.Name) -> NSEC3 | None:
        hashed = self._hash(name)
        for owner, rdata in self._nsec3:
            following = base64.b32hexencode(rdata.next).decode("ascii").lower()
            if owner < following:
                if owner < hashed < following:
                    return rdata
            elif hashed > owner or hashed < following:  # the last span wraps to the first
                return rdata
        return None

    def _encloser(self, name: dns.name.Name) -> tuple[dns.name.Name, NSEC3] | None:
        """The closest encloser proof (RFC 5155 §8.3): the longest ancestor of ``name`` that
        exists, and the NSEC3 covering the next closer name - or None."""
        if not name.is_subdomain(self.zone) or name == self.zone:
            return None
        closer = name
        while closer != self.zone:
            ancestor = closer.parent()
            match = self._nsec3_match(ancestor)
            if match is not None:
                if _cuts_off(ancestor, types_of(match), name):
                    return None
                cover = self._nsec3_cover(closer)
                return (ancestor, cover) if cover is not None else None
            closer = ancestor
        return None

    def _nsec3_nodata(self, name: dns.name.Name, rdtype: int) -> Proof:
        match = self._nsec3_match(name)
        if match is not None:
            return Proof.NO_DATA if not types_of(match) & {rdtype, _CNAME} else Proof.NONE
        proof = self._encloser(name)
        if proof is None:
            return Proof.NONE
        encloser, _ = proof
        wildcard = self._nsec3_match(dns.name.Name((b"*", *encloser.labels)))
        if wildcard is not None and not types_of(wildcard) & {rdtype, _CNAME}:
            return Proof.NO_DATA
        return Proof.NONE

    def _nsec3_nxdomain(self, name: dns.name.Name) -> Proof:
        if self._nsec3_match(name) is not None:
            return Proof.NONE
        proof = self._encloser(name)
        if proof is None:
            return Proof.NONE
        encloser, closer_cover = proof
        if self._nsec3_cover(dns.name.Name((b"*", *encloser.labels))) is None:
            return Proof.NONE
        return Proof.OPT_OUT if closer_cover.flags & _OPT_OUT else Proof.NO_NAME

    def _nsec3_no_ds(self, name: dns.name.Name) -> Proof:
        match = self._nsec3_match(name)
        if match is not None:
            return _ds_verdict(types_of(match))
        proof = self._encloser(name)
        if proof is None:
            return Proof.NONE
        return Proof.OPT_OUT if proof[1].flags & _OPT_OUT else Proof.NO_NAME


def _ds_verdict(types: frozenset[int]) -> Proof:
    """What the types at a name say about a DS there: the child side of a cut (SOA) cannot
    deny the parent's DS, and a listed DS is no denial at all."""
    if _SOA in types or _DS in types:
        return Proof.NONE
    return Proof.DELEGATION if _NS in types else Proof.NO_DATA
