"""Validating one DNS answer's chain of trust, sans-I/O: the questions are yielded, not asked.

:func:`validate` is a generator in the style of the rest of the library: it *yields* each
:class:`Query` it needs answered (a DNSKEY or DS record, always with the DO bit) and is sent
the reply as a ``dns.message.Message``; the SML resolvers drive it with the same nameservers,
policy and sockets as the question itself (:mod:`peppolnet.dnsquery`), blocking or async. A
fault while asking is thrown into it and goes straight through: the caller reports it. What it
returns is a :class:`DnssecResult`:

* **secure** - every RRset of the answer (the NAPTR records, each CNAME or DNAME on the way)
  carries a signature that verifies with its zone's keys, each zone's keys are vouched for by a
  DS record in its parent, signed in turn, up to a configured trust anchor (RFC 4035 §5). A
  denial ("no such name") is secure when signed NSEC or NSEC3 records prove it (RFC 4035 §5.4,
  RFC 5155 §8; :mod:`peppolnet.dnssec.denial`).
* **insecure** - the answer's zone is not signed, and its parent proves it with a signed denial
  of a DS record at the delegation (RFC 4035 §5.2); or no trust anchor covers the name; or the
  zone uses only algorithms this library cannot check. DNSSEC then protects nothing: the answer
  is used as without validation, and said to be insecure.
* **bogus** - anything else: a signature that does not verify or has expired, keys that match
  no DS, a signed zone that answers without signatures (a resolver or a forger stripped them),
  a denial without a proof. A bogus answer is a fault: the lookup is ``unknown``.

The chain is followed from the answer upwards: the signer named in each RRSIG is the zone whose
keys are needed; that zone's DS is asked for, and the signer of *that* is the parent, until a
trust anchor is reached - so no zone cut has to be guessed. Only an answer without signatures
needs the walk downwards from the anchor (a DS question per name on the way) to find the
delegation that makes it insecure, or the signed zone that makes it bogus. Zones' keys, and
what is known of the names on the way, are kept in a :class:`KeyCache` for their TTL: in a bulk
run the keys are fetched once and each answer costs one signature check.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Sequence
from typing import Any, Final, TypeAlias

import dns.dnssec
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
from dns.dnssectypes import DSDigest
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.NSEC import NSEC
from dns.rdtypes.ANY.NSEC3 import NSEC3
from dns.rdtypes.ANY.RRSIG import RRSIG

from peppolnet.dnssec.anchors import TrustAnchor
from peppolnet.dnssec.chain import ChainLink, Vouch, digest_facts, key_facts
from peppolnet.dnssec.denial import Denial, Proof
from peppolnet.i18n import Message, _

__all__ = [
    "MAX_QUERIES",
    "SUPPORTED_ALGORITHMS",
    "SUPPORTED_DIGESTS",
    "DnssecResult",
    "DnssecStatus",
    "KeyCache",
    "Query",
    "validate",
]

SUPPORTED_ALGORITHMS: Final = frozenset({5, 7, 8, 10, 13, 14, 15, 16})
"""DNSKEY algorithms checked (RSA/SHA-1, RSA/SHA-256, RSA/SHA-512, ECDSA P-256 and P-384,
Ed25519, Ed448: RFC 8624's "MUST" and "RECOMMENDED" ones); a zone signed only with others is
insecure (RFC 4035 §5.2)."""
SUPPORTED_DIGESTS: Final = frozenset({1, 2, 4})
"""DS digest types checked: SHA-1, SHA-256, SHA-384."""
MAX_QUERIES: Final = 32
"""Questions one validation may ask at most (the deepest real chain needs a dozen)."""
MAX_HOPS: Final = 8
"""CNAME and DNAME records followed in one answer at most."""

_DNSKEY: Final = int(dns.rdatatype.DNSKEY)
_DS: Final = int(dns.rdatatype.DS)
_RRSIG: Final = int(dns.rdatatype.RRSIG)
_CNAME: Final = int(dns.rdatatype.CNAME)
_DNAME: Final = int(dns.rdatatype.DNAME)
_ZONE_KEY: Final = 0x0100


class DnssecStatus(enum.StrEnum):
    """What DNSSEC says of an answer (RFC 4033 §5)."""

    SECURE = "secure"
    INSECURE = "insecure"
    BOGUS = "bogus"


@dataclasses.dataclass(frozen=True, slots=True)
class DnssecResult:
    """The outcome of validating one answer: its status, one sentence saying why, and the zone
    that decided (the signer of a secure answer, the unsigned zone of an insecure one, where a
    bogus one failed; empty when no zone did)."""

    status: DnssecStatus
    detail: str
    """English as a ``str``; a :class:`~peppolnet.i18n.Message`, so it renders in Swedish too."""
    zone: str = ""

    def to_json(self) -> dict[str, str]:
        """``{"status", "detail", "zone"}`` (the detail in English)."""
        return {"status": self.status.value, "detail": str(self.detail), "zone": self.zone}


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    """A question the validation needs answered: ``rdtype`` at ``name`` (absolute, with its
    final dot), asked with the DO bit set; the driver sends back the reply message."""

    name: str
    rdtype: int


Steps: TypeAlias = Generator[Query, dns.message.Message, DnssecResult]


class _Inside:
    """What the cache knows of a name that is no zone cut: it lies inside its parent's zone."""


INSIDE: Final = _Inside()
_Known: TypeAlias = "dns.rrset.RRset | DnssecResult | _Inside"


class KeyCache:
    """What validations learnt, shared by the validations of one resolver: each zone's checked
    DNSKEY records, each delegation found insecure, each name found to be no zone cut - for
    their TTL (at most ``max_ttl``), on the monotonic ``clock`` of the resolver's owner.

    Thread-safe; bounded to ``size`` names (the least recently used are forgotten)."""

    def __init__(
        self, clock: Callable[[], float], *, max_ttl: float = 3600.0, size: int = 4096
    ) -> None:
        self._clock = clock
        self._max_ttl = max_ttl
        self._size = size
        self._data: OrderedDict[dns.name.Name, tuple[float, _Known]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: dns.name.Name) -> _Known | None:
        with self._lock:
            entry = self._data.get(name)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._data[name]
                return None
            self._data.move_to_end(name)
            return entry[1]

    def put(self, name: dns.name.Name, value: _Known, ttl: float) -> None:
        ttl = min(ttl, self._max_ttl)
        if ttl <= 0 or self._size <= 0:
            return
        with self._lock:
            self._data[name] = (self._clock() + ttl, value)
            self._data.move_to_end(name)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class _Bogus(Exception):
    """Ends a validation: the answer is bogus, ``detail`` says why (internal)."""

    def __init__(self, detail: Message, zone: dns.name.Name | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.zone = zone


def _text(name: dns.name.Name) -> str:
    """A name as sentences show it: ``.`` for the root, else without the final dot."""
    return name.to_text(omit_final_dot=True) or "."


def _find(
    section: Sequence[dns.rrset.RRset], name: dns.name.Name, rdtype: int, covers: int = 0
) -> dns.rrset.RRset | None:
    for rrset in section:
        if (
            rrset.rdtype == rdtype
            and rrset.covers == covers
            and rrset.rdclass == dns.rdataclass.IN
            and rrset.name == name
        ):
            return rrset
    return None


def _signed(
    section: Sequence[dns.rrset.RRset], name: dns.name.Name, rdtype: int
) -> tuple[dns.rrset.RRset | None, dns.rrset.RRset | None]:
    """The RRset of ``rdtype`` at ``name`` in ``section``, and the RRSIGs over it."""
    return _find(section, name, rdtype), _find(section, name, _RRSIG, rdtype)


def _type_text(rdtype: int) -> str:
    return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))


def _what(rrset: dns.rrset.RRset) -> Message:
    return _records(rrset.name, rrset.rdtype)


def _records(name: dns.name.Name, rdtype: int) -> Message:
    return _("the {type} records of {name}", type=_type_text(rdtype), name=_text(name))


# dnspython's reasons for a signature that does not validate, in words
_WHY: Final = {
    "expired": _("the signature has expired"),
    "not yet valid": _("the signature is not valid yet"),
    "verify failure": _("the signature does not verify"),
    "unknown key": _("no key of the zone made it"),
}


@dataclasses.dataclass
class _Chain:
    """An answer as DNSSEC sees it: the RRsets to check in order, the name the chain ends at,
    and whether it ends in a denial (no records of the type there)."""

    rrsets: list[tuple[dns.rrset.RRset, dns.rrset.RRset | None]]
    end: dns.name.Name
    denied: bool


def _dname_above(answer: Sequence[dns.rrset.RRset], name: dns.name.Name) -> dns.rrset.RRset | None:
    for rrset in answer:
        if rrset.rdtype == _DNAME and name != rrset.name and name.is_subdomain(rrset.name):
            return rrset
    return None


def _chain(reply: dns.message.Message, qname: dns.name.Name, rdtype: int) -> _Chain:
    """Follow the answer section from ``qname``: DNAMEs first (the CNAME a server synthesises
    from one is not signed, RFC 6672 §5.3.1, and is checked against it instead), then CNAMEs."""
    name = qname
    links: list[tuple[dns.rrset.RRset, dns.rrset.RRset | None]] = []
    for _hop in range(MAX_HOPS + 1):
        found, sigs = _signed(reply.answer, name, rdtype)
        if found is not None:
            links.append((found, sigs))
            return _Chain(links, name, False)
        if rdtype in (_CNAME, _DNAME):
            break
        dname = _dname_above(reply.answer, name)
        if dname is not None:
            links.append((dname, _find(reply.answer, dname.name, _RRSIG, _DNAME)))
            try:
                target = name.relativize(dname.name).derelativize(dname[0].target)
            except dns.exception.DNSException:
                raise _Bogus(
                    _("the DNAME at {name} makes a name too long", name=_text(dname.name))
                ) from None
            synthesised = _find(reply.answer, name, _CNAME)
            if synthesised is not None and synthesised[0].target != target:
                raise _Bogus(
                    _("the CNAME at {name} does not follow from its DNAME", name=_text(name))
                )
            name = target
            continue
        cname, sigs = _signed(reply.answer, name, _CNAME)
        if cname is None:
            break
        links.append((cname, sigs))
        name = cname[0].target
    else:
        raise _Bogus(
            _("the answer's CNAME and DNAME chain is longer than {hops} links", hops=MAX_HOPS)
        )
    return _Chain(links, name, True)


class _Validation:
    """One answer's validation (see :func:`validate`); ``anchors`` grouped by zone."""

    def __init__(
        self,
        anchors: Sequence[TrustAnchor],
        now: float,
        cache: KeyCache,
        chain: list[ChainLink] | None = None,
    ) -> None:
        self.anchors: dict[dns.name.Name, list[TrustAnchor]] = {}
        for anchor in anchors:
            self.anchors.setdefault(dns.name.from_text(anchor.zone), []).append(anchor)
        self.now = now
        self.cache = cache
        self.queries = 0
        self.chain = chain  # the zones walked, for a trace (None: nobody asked)

    # --- the whole answer ------------------------------------------------------------------

    def run(self, qname: dns.name.Name, rdtype: int, reply: dns.message.Message) -> Steps:
        try:
            chain = _chain(reply, qname, rdtype)
            results: list[DnssecResult] = []
            for rrset, sigs in chain.rrsets:
                results.append((yield from self._rrset(rrset, sigs, reply)))
            if chain.denied:
                results.append((yield from self._denial(chain.end, rdtype, reply)))
        except _Bogus as bogus:
            zone = _text(bogus.zone) if bogus.zone is not None else ""
            return DnssecResult(DnssecStatus.BOGUS, bogus.detail, zone)
        except (dns.exception.DNSException, ValueError) as exc:  # a record it cannot work with
            return DnssecResult(
                DnssecStatus.BOGUS,
                _("the answer's DNSSEC records cannot be used: {error}", error=str(exc)),
            )
        insecure = [r for r in results if r.status is not DnssecStatus.SECURE]
        if insecure:
            return insecure[0]
        return results[-1] if results else self._nothing(qname)

    def _nothing(self, qname: dns.name.Name) -> DnssecResult:
        return DnssecResult(
            DnssecStatus.BOGUS,
            _("the answer for {name} holds nothing to validate", name=_text(qname)),
        )

    def _rrset(
        self, rrset: dns.rrset.RRset, sigs: dns.rrset.RRset | None, reply: dns.message.Message
    ) -> Steps:
        """One RRset of the answer: checked with its signer's keys, or shown to be unsigned."""
        if sigs is None:
            return (yield from self._unsigned(rrset.name, _what(rrset)))
        signer = self._signer(sigs, rrset.name, _what(rrset))
        keys = yield from self._keys(signer)
        if isinstance(keys, DnssecResult):
            return keys
        rrsig = self._check(rrset, sigs, signer, keys)
        if rrsig.labels < len(rrset.name) - 1:  # made from a wildcard (RFC 4035 §5.3.4)
            yield from self._no_closer_match(rrset, rrsig.labels, reply)
        return self._secure(signer)

    def _no_closer_match(
        self, rrset: dns.rrset.RRset, labels: int, reply: dns.message.Message
    ) -> Generator[Query, dns.message.Message, None]:
        """An answer made from a wildcard stands only with the proof that its own name does not
        exist: otherwise a signed wildcard could be replayed for a name with records of its own."""
        records = yield from self._denial_records(reply, rrset.name)
        if not isinstance(records, Denial) or not records.wildcard_answer(rrset.name, labels):
            raise _Bogus(
                _(
                    "{what} were made from a wildcard, but the answer does not prove that the "
                    "name itself does not exist",
                    what=_what(rrset),
                )
            )

    def _secure(self, zone: dns.name.Name) -> DnssecResult:
        return DnssecResult(
            DnssecStatus.SECURE,
            _(
                "the answer is signed by {zone} and its chain of trust from the trust anchor "
                "at {anchor} validates",
                zone=_text(zone),
                anchor=self._start(zone),
            ),
            _text(zone),
        )

    def _start(self, zone: dns.name.Name) -> str:
        """The trust anchor a chain to ``zone`` starts at, as sentences name it."""
        anchor = self._anchor_above(zone)
        return _text(anchor) if anchor is not None else _text(zone)

    # --- signatures and keys ---------------------------------------------------------------

    def _ask(
        self, name: dns.name.Name, rdtype: int
    ) -> Generator[Query, dns.message.Message, dns.message.Message]:
        self.queries += 1
        if self.queries > MAX_QUERIES:
            raise _Bogus(
                _(
                    "validating the answer needed more than {count} DNS questions",
                    count=MAX_QUERIES,
                )
            )
        reply: dns.message.Message = yield Query(name.to_text(), rdtype)
        return reply

    def _signer(self, sigs: dns.rrset.RRset, owner: dns.name.Name, what: Message) -> dns.name.Name:
        """The zone whose keys must have made ``sigs``: the deepest signer named that is
        ``owner`` or above it (a signer elsewhere cannot speak for ``owner``)."""
        signers = [rd.signer for rd in sigs if isinstance(rd, RRSIG)]
        above = [s for s in signers if owner.is_subdomain(s)]
        if not above:
            named = ", ".join(sorted({_text(s) for s in signers})) or "none"
            raise _Bogus(
                _(
                    "{what} are signed by {signers}, which is not a zone above them",
                    what=what,
                    signers=named,
                )
            )
        return max(above, key=len)

    def _check(
        self,
        rrset: dns.rrset.RRset,
        sigs: dns.rrset.RRset,
        signer: dns.name.Name,
        keys: dns.rrset.RRset | dns.rdataset.Rdataset,
    ) -> RRSIG:
        """Verify ``rrset`` against the RRSIGs of ``signer`` in ``sigs`` with ``keys``; returns
        the signature that verified, or raises :class:`_Bogus` saying why none did (expired,
        not yet valid, no such key, does not verify)."""
        reasons: list[Message] = []
        for rrsig in sigs:
            if not isinstance(rrsig, RRSIG) or rrsig.signer != signer:
                continue
            try:
                dns.dnssec.validate_rrsig(rrset, rrsig, {signer: keys}, now=self.now)
            except (dns.exception.ValidationFailure, dns.exception.UnsupportedAlgorithm) as exc:
                reasons.append(_WHY.get(str(exc), _("the algorithm cannot be checked")))
                continue
            return rrsig
        why = reasons[0] if reasons else _("there is no signature by that zone")
        raise _Bogus(
            _(
                "the signature over {what} does not validate with the keys of {zone} ({why})",
                what=_what(rrset),
                zone=_text(signer),
                why=why,
            ),
            signer,
        )

    def _keys(
        self, zone: dns.name.Name, ds_reply: dns.message.Message | None = None
    ) -> Generator[Query, dns.message.Message, dns.rrset.RRset | DnssecResult]:
        """The checked DNSKEY records of ``zone``, or why the zone is insecure (raises
        :class:`_Bogus` when its keys cannot be trusted). ``ds_reply``: the answer to the
        question for its DS records, when the caller has it already."""
        known = self.cache.get(zone)
        if isinstance(known, dns.rrset.RRset | DnssecResult):
            if self.chain is not None:
                keys = key_facts(known, None) if isinstance(known, dns.rrset.RRset) else ()
                self._walked(zone, "cache", None, keys=keys)
            return known
        anchors = self.anchors.get(zone)
        if anchors:
            digests = [(a.key_tag, a.algorithm, a.digest_type, a.digest) for a in anchors]
            return (yield from self._zone_keys(zone, digests, None, None))
        if self._anchor_above(zone) is None:
            return self._no_anchor(zone)
        reply = ds_reply if ds_reply is not None else (yield from self._ask(zone, _DS))
        ds, ds_sigs = _signed(reply.answer, zone, _DS)
        if ds is None or ds_sigs is None:
            return (yield from self._missing_ds(zone, reply))
        parent = self._signer(ds_sigs, zone, _what(ds))
        if parent == zone:
            raise _Bogus(
                _("the DS records of {zone} are signed by the zone itself", zone=_text(zone)),
                zone,
            )
        parent_keys = yield from self._keys(parent)
        if isinstance(parent_keys, DnssecResult):
            return parent_keys
        expires = float(self._check(ds, ds_sigs, parent, parent_keys).expiration)
        digests = [(d.key_tag, d.algorithm, d.digest_type, d.digest) for d in ds]
        return (yield from self._zone_keys(zone, digests, (ds.ttl, expires), parent))

    def _zone_keys(
        self,
        zone: dns.name.Name,
        digests: list[tuple[int, int, int, bytes]],
        ds_life: tuple[float, float] | None,
        parent: dns.name.Name | None,
    ) -> Generator[Query, dns.message.Message, dns.rrset.RRset | DnssecResult]:
        """Fetch ``zone``'s DNSKEY records and check them against ``digests`` (its DS records
        in ``parent``, or its trust anchors): a key must match one, and the set must be signed
        by it."""
        usable = [d for d in digests if d[1] in SUPPORTED_ALGORITHMS and d[2] in SUPPORTED_DIGESTS]
        if not usable:
            self._walked(zone, "unsupported", parent, ds=digest_facts(digests))
            result = DnssecResult(
                DnssecStatus.INSECURE,
                _(
                    "the DS records of {zone} use only algorithms peppolnet cannot check, so "
                    "the zone counts as unsigned",
                    zone=_text(zone),
                ),
                _text(zone),
            )
            self.cache.put(zone, result, ds_life[0] if ds_life else 3600.0)
            return result
        reply = yield from self._ask(zone, _DNSKEY)
        dnskey, sigs = _signed(reply.answer, zone, _DNSKEY)
        if dnskey is None:
            raise _Bogus(
                _("{zone} has a DS record, but answers no DNSKEY records", zone=_text(zone)), zone
            )
        trusted = [k for k in dnskey if isinstance(k, DNSKEY) and _vouched(zone, k, usable)]
        if not trusted:
            raise _Bogus(
                _(
                    "none of the DNSKEY records of {zone} matches its DS record (or trust anchor)",
                    zone=_text(zone),
                ),
                zone,
            )
        if sigs is None:
            raise _Bogus(
                _(
                    "the DNSKEY records of {zone} are not signed (a resolver on the way may drop "
                    "DNSSEC records)",
                    zone=_text(zone),
                ),
                zone,
            )
        vouched = dns.rdataset.from_rdata_list(dnskey.ttl, trusted)
        expires = float(self._check(dnskey, sigs, zone, vouched).expiration)
        if self.chain is not None:
            how: Vouch = "trust-anchor" if parent is None else "ds"
            keys = key_facts(dnskey, trusted)
            self._walked(zone, how, parent, keys=keys, ds=digest_facts(usable))
        ttls = [float(dnskey.ttl), expires - self.now]
        if ds_life is not None:
            ttls += [float(ds_life[0]), ds_life[1] - self.now]
        self.cache.put(zone, dnskey, min(ttls))
        return dnskey

    def _walked(
        self, zone: dns.name.Name, how: Vouch, parent: dns.name.Name | None, **facts: Any
    ) -> None:
        """Note a zone of the chain, once, when a trace asked for the chain."""
        name = _text(zone)
        if self.chain is not None and all(link.zone != name for link in self.chain):
            above = _text(parent) if parent is not None else ""
            self.chain.append(ChainLink(name, how, above, **facts))

    def _anchor_above(self, name: dns.name.Name) -> dns.name.Name | None:
        """The deepest trust anchor at or above ``name``."""
        found = [zone for zone in self.anchors if name.is_subdomain(zone)]
        return max(found, key=len) if found else None

    def _no_anchor(self, name: dns.name.Name) -> DnssecResult:
        return DnssecResult(
            DnssecStatus.INSECURE,
            _(
                "no DNSSEC trust anchor of this network covers {name}, so nothing can validate it",
                name=_text(name),
            ),
        )

    # --- denials ---------------------------------------------------------------------------

    def _denial_records(
        self, reply: dns.message.Message, name: dns.name.Name
    ) -> Generator[Query, dns.message.Message, Denial | DnssecResult | None]:
        """The signed NSEC / NSEC3 records in ``reply``'s authority section, checked with their
        zone's keys (None: there are none; a result: that zone is insecure)."""
        found = [
            r
            for r in reply.authority
            if r.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)
            and r.rdclass == dns.rdataclass.IN
        ]
        if not found:
            return None
        signed = [(r, _find(reply.authority, r.name, _RRSIG, r.rdtype)) for r in found]
        unsigned = next((r for r, s in signed if s is None), None)
        if unsigned is not None:
            raise _Bogus(_("{what} in the denial are not signed", what=_what(unsigned)))
        zone = self._signer(signed[0][1], name, _what(signed[0][0]))  # type: ignore[arg-type]
        keys = yield from self._keys(zone)
        if isinstance(keys, DnssecResult):
            return keys
        for rrset, sigs in signed:
            assert sigs is not None
            self._check(rrset, sigs, zone, keys)
        nsec = [(r.name, rd) for r in found for rd in r if isinstance(rd, NSEC)]
        nsec3 = [(r.name, rd) for r in found for rd in r if isinstance(rd, NSEC3)]
        return Denial(zone, nsec, nsec3)

    def _denial(self, name: dns.name.Name, rdtype: int, reply: dns.message.Message) -> Steps:
        """The answer's "no": proven by signed records, or shown to come from an unsigned zone."""
        nxdomain = reply.rcode() == dns.rcode.NXDOMAIN
        said = _("NXDOMAIN") if nxdomain else _("no {type} record", type=_type_text(rdtype))
        records = yield from self._denial_records(reply, name)
        if records is None:
            denial = _("the denial ({said}) for {name}", said=said, name=_text(name))
            return (yield from self._unsigned(name, denial))
        if isinstance(records, DnssecResult):
            return records
        proof = records.nxdomain(name) if nxdomain else records.nodata(name, rdtype)
        zone = records.zone
        if proof in (Proof.NO_NAME, Proof.NO_DATA):
            return DnssecResult(
                DnssecStatus.SECURE,
                _(
                    "the denial ({said}) is signed by {zone} and proven by its NSEC records; its "
                    "chain of trust from the trust anchor at {anchor} validates",
                    said=said,
                    zone=_text(zone),
                    anchor=self._start(zone),
                ),
                _text(zone),
            )
        if proof is Proof.OPT_OUT:
            why = records.unusable or _("it falls in an NSEC3 opt-out span")
            return DnssecResult(
                DnssecStatus.INSECURE,
                _(
                    "the denial for {name} cannot be proven by DNSSEC: {why}",
                    name=_text(name),
                    why=why,
                ),
                _text(zone),
            )
        raise _Bogus(
            _(
                "the answer says {said} for {name}, but the signed NSEC records of {zone} do not "
                "prove it",
                said=said,
                name=_text(name),
                zone=_text(zone),
            ),
            zone,
        )

    def _missing_ds(
        self, zone: dns.name.Name, reply: dns.message.Message
    ) -> Generator[Query, dns.message.Message, DnssecResult]:
        """``zone`` signs its records but its parent answered no signed DS: insecure only when
        the parent proves a delegation without one, or lies below an insecure delegation itself
        (an island of security: the walk from the trust anchor finds out)."""
        records = None
        if _find(reply.answer, zone, _DS) is None:
            records = yield from self._denial_records(reply, zone)
        if records is None:
            return (yield from self._unsigned(zone, _records(zone, _DS)))
        if isinstance(records, DnssecResult):
            return records
        proof = records.no_ds(zone)
        if proof in (Proof.DELEGATION, Proof.OPT_OUT):
            return self._insecure(zone, records.zone)
        raise _Bogus(
            _(
                "{zone} signs its records, but its parent {parent} does not show a delegation "
                "to it",
                zone=_text(zone),
                parent=_text(records.zone),
            ),
            zone,
        )

    def _insecure(self, zone: dns.name.Name, parent: dns.name.Name) -> DnssecResult:
        self._walked(zone, "no-ds", parent)
        result = DnssecResult(
            DnssecStatus.INSECURE,
            _(
                "the zone {zone} is not signed: its parent {parent} shows a delegation to it "
                "without a DS record, so DNSSEC cannot vouch for the answer",
                zone=_text(zone),
                parent=_text(parent),
            ),
            _text(zone),
        )
        self.cache.put(zone, result, 300.0)
        return result

    # --- an answer without signatures ------------------------------------------------------

    def _unsigned(self, owner: dns.name.Name, what: Message) -> Steps:
        """Records without signatures are insecure only below a delegation whose parent proves
        it has no DS; walk down from the trust anchor, one DS question per name, to find it."""
        zone = self._anchor_above(owner)
        if zone is None:
            return self._no_anchor(owner)
        keys = yield from self._keys(zone)
        if isinstance(keys, DnssecResult):
            return keys
        for depth in range(len(zone) + 1, len(owner) + 1):
            name = owner.split(depth)[1]
            known = self.cache.get(name)
            if known is None:
                known = yield from self._cut(name, zone)
            if isinstance(known, DnssecResult):
                return known
            if isinstance(known, dns.rrset.RRset):
                zone = name
        raise _Bogus(
            _(
                "{what}: no signature, though the zone {zone} is signed (a resolver on the way "
                "may drop DNSSEC records, or the answer was forged)",
                what=what,
                zone=_text(zone),
            ),
            zone,
        )

    def _cut(
        self, name: dns.name.Name, zone: dns.name.Name
    ) -> Generator[Query, dns.message.Message, _Known]:
        """Whether ``name``, inside the signed ``zone``, starts a zone of its own: its checked
        keys (a signed child), an insecure result (a delegation without DS), or :data:`INSIDE`."""
        reply = yield from self._ask(name, _DS)
        ds, sigs = _signed(reply.answer, name, _DS)
        if ds is not None:
            if sigs is None:
                raise _Bogus(
                    _(
                        "{zone} is signed, but the DS records of {name} are not",
                        zone=_text(zone),
                        name=_text(name),
                    ),
                    zone,
                )
            return (yield from self._keys(name, reply))
        records = yield from self._denial_records(reply, name)
        if records is None:
            raise _Bogus(
                _(
                    "{zone} is signed, but the answer for the DS record of {name} carries no "
                    "signed denial (a resolver on the way may drop DNSSEC records)",
                    zone=_text(zone),
                    name=_text(name),
                ),
                zone,
            )
        if isinstance(records, DnssecResult):
            return records
        proof = records.no_ds(name)
        if proof in (Proof.DELEGATION, Proof.OPT_OUT):
            return self._insecure(name, records.zone)
        if proof is Proof.NONE:
            raise _Bogus(
                _(
                    "the signed records of {zone} do not show whether {name} has a DS record",
                    zone=_text(records.zone),
                    name=_text(name),
                ),
                records.zone,
            )
        self.cache.put(name, INSIDE, 300.0)
        return INSIDE


def _vouched(zone: dns.name.Name, key: DNSKEY, digests: list[tuple[int, int, int, bytes]]) -> bool:
    """Whether ``key`` is a zone key one of ``digests`` (tag, algorithm, type, digest) names."""
    if key.protocol != 3 or not key.flags & _ZONE_KEY:
        return False
    tag = dns.dnssec.key_id(key)
    for key_tag, algorithm, digest_type, digest in digests:
        if key_tag != tag or algorithm != key.algorithm:
            continue
        try:
            made = dns.dnssec.make_ds(zone, key, DSDigest(digest_type), validating=True)
        except (dns.exception.UnsupportedAlgorithm, dns.exception.DeniedByPolicy, ValueError):
            continue
        if made.digest == digest:
            return True
    return False


def validate(
    qname: str,
    rdtype: int,
    reply: dns.message.Message,
    anchors: Sequence[TrustAnchor],
    *,
    now: float,
    cache: KeyCache,
    chain: list[ChainLink] | None = None,
) -> Steps:
    """Validate ``reply``, the answer to ``rdtype`` at ``qname``, from ``anchors``.

    A generator (see the module notes): it yields :class:`Query` values and is sent each reply;
    it returns the :class:`DnssecResult`. ``now`` (epoch seconds, from the caller's clock) is
    the instant signatures must be valid at; ``cache`` keeps what it learns of zones; ``chain``,
    when given, gets a :class:`~peppolnet.dnssec.chain.ChainLink` per zone walked (a trace).
    """
    validation = _Validation(anchors, now, cache, chain)
    return validation.run(dns.name.from_text(qname), rdtype, reply)
