"""One answer's DNSSEC validation (peppolnet.dnssec.validator), driven by hand.

The validator is a generator of questions; here the questions go to the sandbox's real DNS
server over TCP on 127.0.0.1 (dnspython sends them, so nothing of peppolnet's own transport is
in the way), or - for what the sandbox does not publish (DNAME) - to a responder that answers
from the sandbox's zone signer. Secure, insecure and every kind of bogus are checked, with the
sentence each gives, and that what was learnt is kept.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.DNAME
import dns.rdtypes.IN.NAPTR
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peppolnet.dnssec import parse_anchors
from peppolnet.dnssec.anchors import TrustAnchor
from peppolnet.dnssec.validator import (
    MAX_QUERIES,
    DnssecResult,
    DnssecStatus,
    KeyCache,
    Query,
    validate,
)
from peppolnet.errors import DnsFailure
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox.dns_server import DnsServer
from peppolnet.sandbox.dns_signing import ZoneSigner
from peppolnet.sml import naptr_name

ZONE = "sml.sandbox.peppolnet.test"
PID = ParticipantId.parse("0007:5567321707")
MISSING = ParticipantId.parse("0007:5560000001")
NAPTR = int(dns.rdatatype.NAPTR)

Answer = Callable[[str, int], dns.message.Message]


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    with DnsServer([ZONE]) as srv:
        srv.add_participant(PID, "https://smp.example")
        srv.add_participant("0007:1111111111", "https://smp.example", legacy_cname=True)
        yield srv


@pytest.fixture
def mode(server: DnsServer, request: pytest.FixtureRequest) -> Iterator[str]:
    server.set_dnssec(request.param)
    try:
        yield request.param
    finally:
        server.set_dnssec("signed")


def over_tcp(server: DnsServer) -> Answer:
    def answer(name: str, rdtype: int) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype, want_dnssec=True)
        query.flags |= dns.flags.CD
        return dns.query.tcp(query, server.host, port=server.port, timeout=5)

    return answer


class Run:
    """One validation driven to its end; ``asked`` is every question it put."""

    def __init__(
        self,
        answer: Answer,
        name: str,
        rdtype: int,
        anchors: tuple[TrustAnchor, ...],
        *,
        now: float | None = None,
        cache: KeyCache | None = None,
    ) -> None:
        self.asked: list[Query] = []
        reply = answer(name, rdtype)
        steps = validate(
            name,
            rdtype,
            reply,
            anchors,
            now=time.time() if now is None else now,
            cache=cache if cache is not None else KeyCache(time.monotonic),
        )
        try:
            query = next(steps)
            while True:
                self.asked.append(query)
                query = steps.send(answer(query.name, query.rdtype))
        except StopIteration as stop:
            self.result: DnssecResult = stop.value


def anchors_of(server: DnsServer) -> tuple[TrustAnchor, ...]:
    return parse_anchors(server.trust_anchors)


def test_a_signed_answer_is_secure_through_the_chain(server: DnsServer) -> None:
    run = Run(over_tcp(server), naptr_name(PID, ZONE), NAPTR, anchors_of(server))
    assert run.result.status is DnssecStatus.SECURE
    assert run.result.zone == ZONE
    assert "trust anchor at sandbox.peppolnet.test validates" in run.result.detail
    # up the chain from the signer: its DS (signed by the parent), the parent's keys (the
    # anchor vouches for them), then the signer's own keys (its DS vouches for them)
    assert [(q.name, dns.rdatatype.to_text(q.rdtype)) for q in run.asked] == [
        (ZONE + ".", "DS"),
        ("sandbox.peppolnet.test.", "DNSKEY"),
        (ZONE + ".", "DNSKEY"),
    ]


def test_what_was_learnt_is_kept(server: DnsServer) -> None:
    cache = KeyCache(time.monotonic)
    first = Run(over_tcp(server), naptr_name(PID, ZONE), NAPTR, anchors_of(server), cache=cache)
    again = Run(over_tcp(server), naptr_name(MISSING, ZONE), NAPTR, anchors_of(server), cache=cache)
    assert first.asked
    assert again.asked == []  # the zone's keys are known: one signature check, no question
    assert again.result.status is DnssecStatus.SECURE


def test_denials_are_secure_when_proven(server: DnsServer) -> None:
    nxdomain = Run(over_tcp(server), naptr_name(MISSING, ZONE), NAPTR, anchors_of(server))
    nodata = Run(over_tcp(server), naptr_name(PID, ZONE), int(dns.rdatatype.A), anchors_of(server))
    assert nxdomain.result.status is DnssecStatus.SECURE
    assert nxdomain.result.detail.startswith("the denial (NXDOMAIN) is signed by")
    assert nodata.result.status is DnssecStatus.SECURE
    assert nodata.result.detail.startswith("the denial (no A record) is signed by")


def test_a_legacy_cname_is_validated_too(server: DnsServer) -> None:
    from peppolnet.sml import cname_name

    name = cname_name(ParticipantId.parse("0007:1111111111"), ZONE)
    run = Run(over_tcp(server), name, int(dns.rdatatype.CNAME), anchors_of(server))
    assert run.result.status is DnssecStatus.SECURE


@pytest.mark.parametrize(
    ("mode", "status", "says"),
    [
        ("unsigned", DnssecStatus.INSECURE, "shows a delegation to it without a DS record"),
        ("bogus", DnssecStatus.BOGUS, "(the signature does not verify)"),
        ("expired", DnssecStatus.BOGUS, "(the signature has expired)"),
        ("stripped", DnssecStatus.BOGUS, "may drop DNSSEC records"),
    ],
    indirect=["mode"],
)
@pytest.mark.parametrize("participant", [PID, MISSING], ids=["answer", "denial"])
def test_each_mode_of_the_zone(
    server: DnsServer, mode: str, status: DnssecStatus, says: str, participant: ParticipantId
) -> None:
    run = Run(over_tcp(server), naptr_name(participant, ZONE), NAPTR, anchors_of(server))
    assert run.result.status is status
    assert says in run.result.detail


def test_signatures_are_judged_at_the_time_given(server: DnsServer) -> None:
    """The sandbox signs for a week: a validator whose clock is a month ahead finds them
    expired (the clock is injected, never the calendar)."""
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).timestamp()
    run = Run(over_tcp(server), naptr_name(PID, ZONE), NAPTR, anchors_of(server), now=later)
    assert run.result.status is DnssecStatus.BOGUS
    assert "expired" in run.result.detail


def test_a_wrong_trust_anchor_makes_everything_bogus(server: DnsServer) -> None:
    real = anchors_of(server)[0]
    wrong = TrustAnchor(real.zone, real.key_tag, real.algorithm, real.digest_type, b"\0" * 32)
    run = Run(over_tcp(server), naptr_name(PID, ZONE), NAPTR, (wrong,))
    assert run.result.status is DnssecStatus.BOGUS
    assert "matches its DS record (or trust anchor)" in run.result.detail


def test_without_a_covering_anchor_nothing_can_be_validated(server: DnsServer) -> None:
    elsewhere = parse_anchors(["other.example. 1 13 2 AABB"])
    run = Run(over_tcp(server), naptr_name(PID, ZONE), NAPTR, elsewhere)
    assert run.result.status is DnssecStatus.INSECURE
    assert "no DNSSEC trust anchor of this network covers" in run.result.detail
    assert run.result.detail.render("sv").startswith("inget av nätverkets förtroendeankare")  # type: ignore[attr-defined]


def test_a_fault_while_asking_goes_straight_through(server: DnsServer) -> None:
    reply = over_tcp(server)(naptr_name(PID, ZONE), NAPTR)
    steps = validate(
        naptr_name(PID, ZONE), NAPTR, reply, anchors_of(server), now=time.time(),
        cache=KeyCache(time.monotonic),
    )  # fmt: skip
    assert isinstance(next(steps), Query)
    with pytest.raises(DnsFailure, match="timed out"):
        steps.throw(DnsFailure("DNS timed out"))


def test_the_number_of_questions_is_bounded(server: DnsServer) -> None:
    """A chain that never ends (every DS answered by a zone that needs another) stops."""
    asked = 0

    def endless(name: str, rdtype: int) -> dns.message.Message:
        nonlocal asked
        asked += 1
        return over_tcp(server)(naptr_name(PID, ZONE), NAPTR)  # never what was asked for

    run = Run(endless, naptr_name(PID, ZONE), NAPTR, anchors_of(server))
    assert run.result.status is DnssecStatus.BOGUS
    assert asked <= MAX_QUERIES + 1


# --- a DNAME, from a responder built on the sandbox's zone signer --------------------------


PARENT = dns.name.from_text("example.")
ALIAS = dns.name.from_text("alias.example.")
SML = dns.name.from_text("sml.example.")


def _signed(
    signer: ZoneSigner, rrset: dns.rrset.RRset, zone: dns.name.Name
) -> list[dns.rrset.RRset]:
    return [rrset, signer.signatures(rrset, zone)]


def responder(signer: ZoneSigner) -> Answer:
    """DNSKEY and DS questions answered from ``signer``, as a signed zone would."""

    def answer(name: str, rdtype: int) -> dns.message.Message:
        qname = dns.name.from_text(name)
        reply = dns.message.make_response(dns.message.make_query(qname, rdtype))
        try:
            if rdtype == dns.rdatatype.DNSKEY:
                reply.answer += _signed(signer, signer.dnskey(qname), qname)
            elif rdtype == dns.rdatatype.DS:
                reply.answer += _signed(signer, signer.ds(qname), qname.parent())
            else:
                reply.set_rcode(dns.rcode.SERVFAIL)
        except KeyError:  # a zone the signer has no key for: an empty (unsigned) answer
            pass
        return reply

    return answer


def scripted(signer: ZoneSigner, reply: dns.message.Message, name: str) -> Run:
    """Validate ``reply`` (the NAPTR answer for ``name``) with ``signer``'s zones answering the
    DNSKEY and DS questions, from ``signer``'s own trust anchors."""
    answer = responder(signer)
    return Run(
        lambda n, t: reply if t == NAPTR else answer(n, t),
        name,
        NAPTR,
        parse_anchors(signer.anchors),
    )


def dname_reply(signer: ZoneSigner, *, sign_dname: bool = True) -> dns.message.Message:
    qname = dns.name.from_text("h.scheme.alias.example.")
    target = dns.name.from_text("h.scheme.sml.example.")
    reply = dns.message.make_response(dns.message.make_query(qname, "NAPTR"))
    dname = dns.rrset.RRset(ALIAS, dns.rdataclass.IN, dns.rdatatype.DNAME)
    dname.add(dns.rdtypes.ANY.DNAME.DNAME(dns.rdataclass.IN, dns.rdatatype.DNAME, SML), 60)  # type: ignore[no-untyped-call]
    cname = dns.rrset.RRset(qname, dns.rdataclass.IN, dns.rdatatype.CNAME)
    cname.add(dns.rdtypes.ANY.CNAME.CNAME(dns.rdataclass.IN, dns.rdatatype.CNAME, target), 60)  # type: ignore[no-untyped-call]
    naptr = dns.rrset.RRset(target, dns.rdataclass.IN, dns.rdatatype.NAPTR)
    record = dns.rdtypes.IN.NAPTR.NAPTR(  # type: ignore[no-untyped-call]
        dns.rdataclass.IN, dns.rdatatype.NAPTR, 100, 10, b"U", b"Meta:SMP",
        b"!.*!https://smp.example!", dns.name.root,
    )  # fmt: skip
    naptr.add(record, 60)
    reply.answer += _signed(signer, dname, ALIAS) if sign_dname else [dname]
    reply.answer += [cname, *_signed(signer, naptr, SML)]
    return reply


def dname_signer() -> ZoneSigner:
    return ZoneSigner([ALIAS, SML], lambda: dt.datetime.now(dt.UTC), 60)


def test_a_dname_and_its_synthesised_cname_validate() -> None:
    signer = dname_signer()
    reply = dname_reply(signer)
    run = scripted(signer, reply, "h.scheme.alias.example.")
    assert run.result.status is DnssecStatus.SECURE
    assert run.result.zone == "sml.example"  # the NAPTR's signer: the end of the chain


def test_an_unsigned_dname_in_a_signed_zone_is_bogus() -> None:
    """Its zone has a DS at the parent, so the DNAME must be signed: one without a signature was
    stripped or forged, whatever the record it leads to says."""
    signer = dname_signer()
    reply = dname_reply(signer, sign_dname=False)
    run = scripted(signer, reply, "h.scheme.alias.example.")
    assert run.result.status is DnssecStatus.BOGUS
    assert "no signature, though the zone alias.example is signed" in run.result.detail


# --- an answer made from a wildcard ----------------------------------------------------------


def wildcard_reply(signer: ZoneSigner, *, with_proof: bool) -> dns.message.Message:
    """``h.scheme.sml.example`` answered from a signed ``*.scheme.sml.example`` NAPTR, with (or
    without) the NSEC record showing that ``h.scheme.sml.example`` itself does not exist."""
    from peppolnet.sandbox.dns_signing import NameIndex

    wildcard = dns.name.from_text("*.scheme.sml.example.")
    qname = dns.name.from_text("h.scheme.sml.example.")
    record = dns.rdtypes.IN.NAPTR.NAPTR(  # type: ignore[no-untyped-call]
        dns.rdataclass.IN, dns.rdatatype.NAPTR, 100, 10, b"U", b"Meta:SMP",
        b"!.*!https://smp.example!", dns.name.root,
    )  # fmt: skip
    at_wildcard = dns.rrset.RRset(wildcard, dns.rdataclass.IN, dns.rdatatype.NAPTR)
    at_wildcard.add(record, 60)
    sigs = signer.signatures(at_wildcard, SML)
    expanded = dns.rrset.RRset(qname, dns.rdataclass.IN, dns.rdatatype.NAPTR)
    expanded.add(record, 60)
    expanded_sigs = dns.rrset.RRset(qname, dns.rdataclass.IN, dns.rdatatype.RRSIG, NAPTR)
    expanded_sigs.add(sigs[0], 60)
    reply = dns.message.make_response(dns.message.make_query(qname, "NAPTR"))
    reply.answer += [expanded, expanded_sigs]
    if with_proof:
        index = NameIndex(SML, {SML: {6, 48, 46, 47}, wildcard: {NAPTR, 46, 47}})
        for nsec in signer.nsec(index, [index.covering(qname)]):
            reply.authority += [nsec, signer.signatures(nsec, SML)]
    return reply


@pytest.mark.parametrize("with_proof", [True, False])
def test_a_wildcard_answer_needs_the_proof_that_the_name_does_not_exist(with_proof: bool) -> None:
    signer = dname_signer()
    reply = wildcard_reply(signer, with_proof=with_proof)
    run = scripted(signer, reply, "h.scheme.sml.example.")
    if with_proof:
        assert run.result.status is DnssecStatus.SECURE
    else:
        assert run.result.status is DnssecStatus.BOGUS
        assert "were made from a wildcard" in run.result.detail


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_damaged_answer_ends_in_a_result(data: st.DataObject) -> None:
    """Whatever a forger or a broken line does to a signed answer, the validation ends with a
    result and a sentence - never an exception."""
    signer = dname_signer()
    wire = bytearray(dname_reply(signer).to_wire())
    positions = data.draw(st.lists(st.integers(12, len(wire) - 1), min_size=1, max_size=4))
    for position in positions:
        wire[position] ^= data.draw(st.integers(1, 255))
    try:
        reply = dns.message.from_wire(bytes(wire))
    except Exception:  # not a message at all: the transport refuses it before validation
        return
    try:
        steps = validate(
            "h.scheme.alias.example.", NAPTR, reply, parse_anchors(signer.anchors),
            now=time.time(), cache=KeyCache(time.monotonic),
        )  # fmt: skip
        query = next(steps)
        while True:
            query = steps.send(responder(signer)(query.name, query.rdtype))
    except StopIteration as stop:
        result: DnssecResult = stop.value
    assert result.status in set(DnssecStatus)
    assert result.detail
