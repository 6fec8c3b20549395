"""What signed NSEC / NSEC3 records prove (peppolnet.dnssec.denial): pure, no socket.

NSEC chains are made by the sandbox's own zone code (NameIndex, as its DNS server answers), so
the property tests tie the two ends together: for any zone and any name, the records the
sandbox sends prove exactly what is true of the name - and nothing that is not.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import pytest
from dns.rdtypes.ANY.NSEC3 import NSEC3, Bitmap
from hypothesis import given, settings
from hypothesis import strategies as st

from peppolnet.dnssec.denial import MAX_ITERATIONS, Denial, Proof, types_of
from peppolnet.sandbox.dns_signing import NameIndex, ZoneSigner

ZONE = dns.name.from_text("sml.example.")
NAPTR = int(dns.rdatatype.NAPTR)
NS = int(dns.rdatatype.NS)
DS = int(dns.rdatatype.DS)
SOA = int(dns.rdatatype.SOA)
A = int(dns.rdatatype.A)


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text, ZONE)


def signer() -> ZoneSigner:
    return ZoneSigner([ZONE], lambda: dt.datetime(2030, 1, 1, tzinfo=dt.UTC), 60)


def nsec_denial(names: dict[dns.name.Name, set[int]], owners: list[dns.name.Name]) -> Denial:
    """The Denial the sandbox's NSEC records at ``owners`` make, for a zone with ``names``."""
    index = NameIndex(ZONE, {ZONE: {SOA, 48, 47, 46}, **names})
    records = signer().nsec(index, owners)
    return Denial(ZONE, [(r.name, rd) for r in records for rd in r], [])


def sandbox_denial(names: dict[dns.name.Name, set[int]], qname: dns.name.Name) -> Denial:
    index = NameIndex(ZONE, {ZONE: {SOA, 48, 47, 46}, **names})
    owners = index.denial(qname, not index.exists(qname))
    return nsec_denial(names, owners)


PARTICIPANTS = {name("b.scheme"): {NAPTR, 46, 47}, name("d.scheme"): {NAPTR, 46, 47}}


def test_nxdomain_is_proven_by_the_cover_and_the_wildcard_cover() -> None:
    qname = name("c.scheme")
    assert sandbox_denial(PARTICIPANTS, qname).nxdomain(qname) is Proof.NO_NAME


def test_the_cover_alone_does_not_prove_nxdomain() -> None:
    """Without the record that denies the wildcard, a wildcard could have answered."""
    index = NameIndex(ZONE, {ZONE: {SOA}, **PARTICIPANTS})
    qname = name("c.scheme")
    only_cover = nsec_denial(PARTICIPANTS, [index.covering(qname)])
    assert only_cover.nxdomain(qname) is Proof.NONE


def test_an_existing_name_is_never_denied() -> None:
    qname = name("b.scheme")
    denial = sandbox_denial(PARTICIPANTS, name("c.scheme"))
    assert denial.nxdomain(qname) is Proof.NONE
    assert sandbox_denial(PARTICIPANTS, qname).nxdomain(qname) is Proof.NONE


def test_nodata_names_the_types_that_are_missing() -> None:
    qname = name("b.scheme")
    denial = sandbox_denial(PARTICIPANTS, qname)
    assert denial.nodata(qname, A) is Proof.NO_DATA
    assert denial.nodata(qname, NAPTR) is Proof.NONE  # the record exists: no denial


def test_an_empty_non_terminal_has_no_data_and_no_cut() -> None:
    ent = name("scheme")
    denial = sandbox_denial(PARTICIPANTS, ent)
    assert denial.nodata(ent, DS) is Proof.NO_DATA
    assert denial.no_ds(ent) is Proof.NO_DATA
    assert denial.nxdomain(ent) is Proof.NONE


def test_a_delegation_without_ds_is_insecure_and_one_with_ds_is_no_denial() -> None:
    child = name("child")
    unsigned = sandbox_denial({child: {NS, 46, 47}}, child)
    assert unsigned.no_ds(child) is Proof.DELEGATION
    signed = sandbox_denial({child: {NS, DS, 46, 47}}, child)
    assert signed.no_ds(child) is Proof.NONE


def test_the_child_side_of_a_cut_cannot_deny_its_ds() -> None:
    """The NSEC at a child's apex (SOA in its types) is the wrong side (RFC 4035 §3.1.4.1)."""
    child = name("child")
    index = NameIndex(child, {child: {SOA, NS, 46, 47}})
    records = signer().nsec(index, [child])
    denial = Denial(child.parent(), [(r.name, rd) for r in records for rd in r], [])
    assert denial.no_ds(child) is Proof.NONE


def test_a_delegation_point_denies_nothing_below_it() -> None:
    """RFC 6840 §4.1: the parent's NSEC at a cut says nothing of the child's names."""
    child = name("child")
    below = name("x.child")
    denial = sandbox_denial({child: {NS, 46, 47}}, child)
    assert denial.nxdomain(below) is Proof.NONE


def test_types_of_reads_the_bitmap() -> None:
    index = NameIndex(ZONE, {ZONE: {SOA, 48}, name("a"): {NAPTR, 46, 47}})
    record = signer().nsec(index, [name("a")])[0]
    assert types_of(record[0]) == frozenset({NAPTR, 46, 47})


_label = st.sampled_from(["a", "b", "c", "x", "zz", "m0"])
_names = st.lists(st.lists(_label, min_size=1, max_size=3), max_size=8)


@settings(max_examples=200, deadline=None)
@given(_names, st.lists(_label, min_size=1, max_size=4))
def test_the_sandbox_proves_exactly_what_is_true(
    published: list[list[str]], asked: list[str]
) -> None:
    names = {
        dns.name.Name((*(label.encode() for label in p), *ZONE.labels)): {NAPTR, 46, 47}
        for p in published
    }
    qname = dns.name.Name((*(label.encode() for label in asked), *ZONE.labels))
    index = NameIndex(ZONE, {ZONE: {SOA, 48, 46, 47}, **names})
    denial = sandbox_denial(names, qname)
    exists = index.exists(qname)
    assert (denial.nxdomain(qname) is Proof.NO_NAME) is not exists
    if exists:
        assert denial.nodata(qname, A) is Proof.NO_DATA
        assert denial.no_ds(qname) is Proof.NO_DATA
    else:
        assert denial.nodata(qname, A) is Proof.NONE


# --- NSEC3 -------------------------------------------------------------------------------------


def _hash(owner: dns.name.Name, salt: bytes, iterations: int) -> bytes:
    digest = hashlib.sha1(owner.canonicalize().to_wire() + salt).digest()
    for _ in range(iterations):
        digest = hashlib.sha1(digest + salt).digest()
    return digest


def nsec3_denial(
    names: dict[dns.name.Name, set[int]],
    *,
    opt_out: bool = False,
    iterations: int = 0,
    algorithm: int = 1,
    salt: bytes = b"\xab",
) -> Denial:
    """A whole NSEC3 chain for a zone with ``names`` (empty non-terminals get theirs)."""
    every = dict(names)
    every.setdefault(ZONE, {SOA, 48})
    for owner in list(names):
        ancestor = owner.parent()
        while ancestor != ZONE:
            every.setdefault(ancestor, set())
            ancestor = ancestor.parent()
    hashed = sorted((_hash(n, salt, iterations), n) for n in every)
    records = []
    for index, (digest, owner) in enumerate(hashed):
        following = hashed[(index + 1) % len(hashed)][0]
        types = sorted(dns.rdatatype.RdataType.make(t) for t in every[owner])
        rdata = NSEC3(  # type: ignore[no-untyped-call]
            dns.rdataclass.IN, dns.rdatatype.NSEC3, algorithm, 1 if opt_out else 0,
            iterations, salt, following, Bitmap.from_rdtypes(types),
        )  # fmt: skip
        label = base64.b32hexencode(digest).decode().lower().encode()
        records.append((dns.name.Name((label, *ZONE.labels)), rdata))
    return Denial(ZONE, [], records)


def test_nsec3_proves_nxdomain_with_the_closest_encloser() -> None:
    qname = name("c.scheme")
    assert nsec3_denial(PARTICIPANTS).nxdomain(qname) is Proof.NO_NAME
    assert nsec3_denial(PARTICIPANTS).nxdomain(name("b.scheme")) is Proof.NONE


def test_nsec3_nodata_empty_non_terminal_and_delegations() -> None:
    denial = nsec3_denial({**PARTICIPANTS, name("child"): {NS}})
    assert denial.nodata(name("b.scheme"), A) is Proof.NO_DATA
    assert denial.nodata(name("b.scheme"), NAPTR) is Proof.NONE
    assert denial.no_ds(name("scheme")) is Proof.NO_DATA
    assert denial.no_ds(name("child")) is Proof.DELEGATION


def test_an_nsec3_opt_out_span_is_insecure() -> None:
    denial = nsec3_denial(PARTICIPANTS, opt_out=True)
    assert denial.nxdomain(name("c.scheme")) is Proof.OPT_OUT
    assert denial.no_ds(name("unsigned-child")) is Proof.OPT_OUT


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"iterations": MAX_ITERATIONS + 1}, "extra times"),
        ({"algorithm": 2}, "other than SHA-1"),
    ],
)
def test_unusable_nsec3_records_are_insecure_and_say_why(
    options: dict[str, int], says: str
) -> None:
    denial = nsec3_denial(PARTICIPANTS, **options)  # type: ignore[arg-type]
    assert denial.nxdomain(name("c.scheme")) is Proof.OPT_OUT
    assert denial.unusable is not None
    assert says in denial.unusable


def test_the_nsec3_hash_is_dnspython_s() -> None:
    """The test's chain hashes names as RFC 5155 §5 does (cross-checked with dnspython)."""
    ours = base64.b32hexencode(_hash(name("b.scheme"), b"\xab", 3)).decode()
    assert ours == dns.dnssec.nsec3_hash(name("b.scheme"), b"\xab", 3, 1)


@pytest.mark.parametrize("kind", ["nsec", "nsec3"])
def test_a_wildcard_answer_is_proven_only_for_a_name_that_does_not_exist(kind: str) -> None:
    wildcard = name("*.scheme")
    names = {**PARTICIPANTS, wildcard: {NAPTR, 46, 47}}
    labels = len(name("scheme")) - 1  # the RRSIG's label count: scheme.sml.example
    absent, present = name("h.scheme"), name("b.scheme")
    if kind == "nsec":
        index = NameIndex(ZONE, {ZONE: {SOA}, **names})
        denial = nsec_denial(names, [index.covering(absent)])
    else:
        denial = nsec3_denial(names)
    assert denial.wildcard_answer(absent, labels)
    assert not denial.wildcard_answer(present, labels)
    assert not denial.wildcard_answer(absent, len(absent) - 1)  # not an expansion at all
