"""The DNS wire code: queries dnspython can read, replies built by dnspython read back exactly,
and hostile or broken bytes never raising anything but the typed error."""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.IN.NAPTR
import dns.rrset
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from peppolnet.dnswire import (
    CNAME,
    EDNS_PAYLOAD,
    NAPTR,
    NOERROR,
    NXDOMAIN,
    SERVFAIL,
    SOA,
    BadResponse,
    DnsResponse,
    ForeignResponse,
    NaptrRecord,
    build_query,
    encode_name,
    parse_response,
    rcode_text,
    rdtype_text,
)
from peppolnet.errors import DnsFailure, InvalidInput

NAME = "eh5boavaktmbgzyh2a63dz4qov33fvp5nsdvqklucfraayoodw6a.iso6523-actorid-upis.sml.example"
ZONE = "sml.example."
QID = 0x4A5B
SMP_RECORD = '100 10 "U" "Meta:SMP" "!.*!https://smp.example/x!" .'


def query(name: str = NAME, rdtype: int = NAPTR, qid: int = QID) -> dns.message.Message:
    return dns.message.from_wire(build_query(name, rdtype, qid))


def response(
    *answers: str,
    name: str = NAME,
    rdtype: int = NAPTR,
    owner: str | None = None,
    ttl: int = 60,
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR,
    soa: tuple[int, int] | None = None,
) -> dns.message.Message:
    """A reply to our query, built by dnspython; ``soa`` is (TTL, MINIMUM) in the authority."""
    msg = dns.message.make_response(query(name, rdtype))
    msg.set_rcode(rcode)
    if answers:
        rdtype_name = dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))
        msg.answer.append(
            dns.rrset.from_text(owner or name + ".", ttl, "IN", rdtype_name, *answers)
        )
    if soa is not None:
        msg.authority.append(
            dns.rrset.from_text(ZONE, soa[0], "IN", "SOA", f"ns.{ZONE} hm.{ZONE} 1 2 3 4 {soa[1]}")
        )
    return msg


def parse(msg: dns.message.Message | bytes, name: str = NAME, rdtype: int = NAPTR) -> DnsResponse:
    wire = msg if isinstance(msg, bytes) else msg.to_wire()
    return parse_response(wire, QID, name, rdtype)


# --- building --------------------------------------------------------------------------------


def test_query_reads_back_in_dnspython() -> None:
    msg = query()
    assert msg.id == QID
    assert msg.flags & dns.flags.RD
    assert not msg.flags & dns.flags.QR
    assert msg.edns == 0
    assert msg.payload == EDNS_PAYLOAD
    (question,) = msg.question
    assert question.name == dns.name.from_text(NAME)
    assert question.rdtype == dns.rdatatype.NAPTR
    assert question.rdclass == dns.rdataclass.IN


def test_query_without_edns_and_for_cname() -> None:
    msg = dns.message.from_wire(build_query(NAME + ".", CNAME, 0, edns=False))
    assert msg.edns == -1
    assert msg.id == 0
    assert msg.question[0].rdtype == dns.rdatatype.CNAME


def test_the_opt_record_advertises_1232_octets() -> None:
    """The advertised UDP payload size is a deliberate choice (DNS Flag Day 2020: no IP
    fragmentation on the IPv6 minimum MTU), so it is pinned here as a number, octet by octet:
    a change of :data:`EDNS_PAYLOAD` must be a decision, not an accident."""
    wire = build_query(NAME, NAPTR, QID)
    assert struct.unpack_from("!H", wire, 10)[0] == 1  # ARCOUNT: the OPT record
    opt = wire[-11:]  # root owner, TYPE, CLASS = payload size, TTL = extended flags, RDLENGTH
    assert opt == b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    assert dns.message.from_wire(wire).payload == 1232
    assert EDNS_PAYLOAD == 1232
    without = build_query(NAME, NAPTR, QID, edns=False)
    assert struct.unpack_from("!H", without, 10)[0] == 0
    assert without[12:] == wire[12:-11]  # the same question, no OPT


@pytest.mark.parametrize(
    "name",
    ["a..b", "a." + "x" * 64 + ".b", ".".join(["abcdefghi"] * 26), "é.example", "a\\.b", "a b"],
)
def test_names_that_cannot_be_queried(name: str) -> None:
    with pytest.raises(InvalidInput):
        build_query(name, NAPTR, 1)


@pytest.mark.parametrize(("qid", "rdtype"), [(-1, NAPTR), (0x10000, NAPTR), (1, 0), (1, 0x10000)])
def test_ids_and_types_out_of_range(qid: int, rdtype: int) -> None:
    with pytest.raises(InvalidInput):
        build_query(NAME, rdtype, qid)


def test_encode_name_limits() -> None:
    assert encode_name(".") == b"\x00"
    assert encode_name("a.bc") == encode_name("a.bc.") == b"\x01a\x02bc\x00"
    longest = ".".join(["x" * 63] * 3 + ["y" * 61])  # 4 labels: 64*3 + 62 + root = 255 octets
    assert len(encode_name(longest)) == 255
    with pytest.raises(InvalidInput, match="255"):
        encode_name(longest + "z")


def test_texts() -> None:
    assert rcode_text(SERVFAIL) == "SERVFAIL"
    assert rcode_text(23) == "RCODE23"
    assert rdtype_text(NAPTR) == "NAPTR"
    assert rdtype_text(99) == "TYPE99"


# --- reading answers -------------------------------------------------------------------------


def test_naptr_answer() -> None:
    other = '10 20 "u" "meta:smp" "!^.*$!https://b.example!" Next.Example.'
    got = parse(response(SMP_RECORD, other, ttl=3600))
    assert got.rcode == NOERROR
    assert got.truncated is False
    assert got.ttl == 3600
    assert got.negative_ttl is None
    assert set(got.naptr) == {
        NaptrRecord(100, 10, "U", "Meta:SMP", "!.*!https://smp.example/x!", "."),
        NaptrRecord(10, 20, "u", "meta:smp", "!^.*$!https://b.example!", "Next.Example."),
    }
    assert got.cname == ()


def test_nxdomain_negative_ttl_is_soa_min() -> None:
    for soa, expected in (((30, 900), 30), ((900, 45), 45)):
        got = parse(response(rcode=dns.rcode.NXDOMAIN, soa=soa))
        assert got.rcode == NXDOMAIN
        assert got.negative_ttl == expected
        assert got.naptr == ()
        assert got.ttl is None


def test_nodata_has_no_records() -> None:
    got = parse(response(soa=(60, 60)))
    assert (got.rcode, got.naptr, got.ttl, got.negative_ttl) == (NOERROR, (), None, 60)


def test_soa_owner_names_the_zone_a_denial_claims() -> None:
    # lower case, no final dot: what the SML layer compares with its zone
    msg = response(rcode=dns.rcode.NXDOMAIN)
    msg.authority.append(dns.rrset.from_text("SML.Example.", 30, "IN", "SOA", "ns. hm. 1 2 3 4 9"))
    msg.authority.append(dns.rrset.from_text("other.", 30, "IN", "SOA", "ns. hm. 1 2 3 4 5"))
    got = parse(msg)
    assert (got.soa_owner, got.negative_ttl) == ("sml.example", 9)  # the first SOA counts
    assert parse(response(rcode=dns.rcode.NXDOMAIN)).soa_owner is None
    root = response(rcode=dns.rcode.NXDOMAIN)
    root.authority.append(dns.rrset.from_text(".", 30, "IN", "SOA", "ns. hm. 1 2 3 4 9"))
    assert parse(root).soa_owner == ""


def test_soa_question_reads_the_answered_soa() -> None:
    # the probe of a zone: its own SOA in the answer gives the TTL, negative TTL and owner
    soa = "ns.sml.example. hm.sml.example. 1 2 3 4 45"
    got = parse(response(soa, name="SML.example", rdtype=SOA, ttl=600), "sml.example", SOA)
    assert (got.rcode, got.ttl, got.negative_ttl, got.soa_owner) == (
        NOERROR,
        600,
        45,
        "sml.example",
    )
    assert got.naptr == ()
    denied = parse(response(rcode=dns.rcode.NXDOMAIN, name="sml.example", rdtype=SOA), ZONE, SOA)
    assert (denied.rcode, denied.ttl, denied.soa_owner) == (NXDOMAIN, None, None)


def test_server_is_recorded_not_checked() -> None:
    wire = response(SMP_RECORD).to_wire()
    assert parse_response(wire, QID, NAME, NAPTR, server="192.0.2.53").server == "192.0.2.53"
    assert parse_response(wire, QID, NAME, NAPTR).server == ""


def test_cname_answer_for_legacy_zones() -> None:
    got = parse(response("smp.Example.COM.", rdtype=CNAME, ttl=120), rdtype=CNAME)
    assert got.cname == ("smp.Example.COM.",)
    assert got.ttl == 120
    assert got.naptr == ()


def test_unrelated_records_are_skipped() -> None:
    msg = response(SMP_RECORD)
    msg.answer.append(dns.rrset.from_text("other." + ZONE, 5, "IN", "NAPTR", SMP_RECORD))
    msg.answer.append(dns.rrset.from_text(NAME + ".", 5, "IN", "TXT", '"hello"'))
    msg.additional.append(dns.rrset.from_text("ns." + ZONE, 5, "IN", "A", "192.0.2.1"))
    got = parse(msg)
    assert len(got.naptr) == 1
    assert got.ttl == 60  # the 5 s records are not ours


def test_cname_chain_is_followed_for_naptr() -> None:
    msg = response("mid." + ZONE, rdtype=CNAME, ttl=300)
    msg.question = query().question  # the reply is to our NAPTR question
    msg.answer.append(dns.rrset.from_text("mid." + ZONE, 300, "IN", "CNAME", "END." + ZONE))
    msg.answer.append(dns.rrset.from_text("end." + ZONE, 200, "IN", "NAPTR", SMP_RECORD))
    got = parse(msg)
    assert [r.service for r in got.naptr] == ["Meta:SMP"]
    assert got.ttl == 200


@pytest.mark.parametrize(
    ("first_hop", "second_hop", "naptr", "expected"),
    [(30, 300, 200, 30), (300, 20, 200, 20), (300, 300, 10, 10), (0, 300, 200, 0)],
)
def test_a_cname_chain_lives_as_long_as_its_shortest_hop(
    first_hop: int, second_hop: int, naptr: int, expected: int
) -> None:
    """RFC 1034 §3.6.2 / RFC 2181 §5.2: an answer reached through CNAMEs is only as fresh as
    every record on the way; a hop with a shorter TTL than the records at the end decides."""
    msg = response("mid." + ZONE, rdtype=CNAME, ttl=first_hop)
    msg.question = query().question
    msg.answer.append(dns.rrset.from_text("mid." + ZONE, second_hop, "IN", "CNAME", "end." + ZONE))
    msg.answer.append(dns.rrset.from_text("end." + ZONE, naptr, "IN", "NAPTR", SMP_RECORD))
    got = parse(msg)
    assert len(got.naptr) == 1
    assert got.ttl == expected


def test_the_chain_is_shown_as_aliases() -> None:
    """For a trace: the CNAME hops followed and the DNAME a resolver synthesised them from."""
    msg = response("mid." + ZONE, rdtype=CNAME, ttl=300)
    msg.question = query().question
    msg.answer.insert(0, dns.rrset.from_text("old." + ZONE, 900, "IN", "DNAME", "new." + ZONE))
    msg.answer.append(dns.rrset.from_text("mid." + ZONE, 120, "IN", "CNAME", "end." + ZONE))
    msg.answer.append(dns.rrset.from_text("end." + ZONE, 200, "IN", "NAPTR", SMP_RECORD))
    got = parse(msg)
    assert [str(a) for a in got.aliases] == [
        f"old.{ZONE} 900 DNAME new.{ZONE}",
        f"{NAME}. 300 CNAME mid.{ZONE}",
        f"mid.{ZONE} 120 CNAME end.{ZONE}",
    ]
    assert got.ttl == 120  # the DNAME decides nothing: the hops followed do
    assert parse(response(SMP_RECORD)).aliases == ()


@pytest.mark.parametrize("ad", [True, False])
def test_the_ad_bit_is_read(ad: bool) -> None:
    msg = response(SMP_RECORD)
    if ad:
        msg.flags |= dns.flags.AD
    assert parse(msg).ad is ad
    denial = response(rcode=dns.rcode.NXDOMAIN, soa=(60, 30))
    denial.flags |= dns.flags.AD if ad else 0
    assert parse(denial).ad is ad


@given(st.lists(st.integers(0, 0x7FFFFFFF), min_size=1, max_size=6))
def test_every_hop_of_a_chain_is_an_alias(ttls: list[int]) -> None:
    names = [NAME + "."] + [f"hop{i}.{ZONE}" for i in range(len(ttls))]
    msg = response()
    for i, ttl in enumerate(ttls):
        msg.answer.append(dns.rrset.from_text(names[i], ttl, "IN", "CNAME", names[i + 1]))
    msg.answer.append(dns.rrset.from_text(names[-1], 60, "IN", "NAPTR", SMP_RECORD))
    got = parse(msg)
    assert [(a.owner, a.target, a.ttl) for a in got.aliases] == [
        (names[i], names[i + 1], ttl) for i, ttl in enumerate(ttls)
    ]
    assert {a.rdtype for a in got.aliases} == {"CNAME"}
    assert got.ttl == min([*ttls, 60])


def test_dangling_and_looping_cname_chains() -> None:
    msg = response("mid." + ZONE, rdtype=CNAME)
    msg.question = query().question
    assert parse(msg).naptr == ()  # the chain leaves the answer: no data
    msg.answer.append(dns.rrset.from_text("mid." + ZONE, 60, "IN", "CNAME", NAME + "."))
    with pytest.raises(BadResponse, match="CNAME chain"):
        parse(msg)


def test_question_echo_is_case_insensitive() -> None:
    msg = response(SMP_RECORD)
    msg.question = query(NAME.upper()).question
    assert len(parse(msg).naptr) == 1


def test_truncated_reply_has_no_records() -> None:
    msg = response(SMP_RECORD)
    msg.flags |= dns.flags.TC
    got = parse(msg)
    assert got.truncated is True
    assert got.naptr == ()


def test_truncated_reply_over_tcp_is_read_or_refused() -> None:
    """Over TCP a TC reply cannot be asked again: its records count, an empty one is a fault."""
    msg = response(SMP_RECORD)
    msg.flags |= dns.flags.TC
    got = parse_response(msg.to_wire(), QID, NAME, NAPTR, over_tcp=True)
    assert got.truncated is False
    assert [r.service for r in got.naptr] == ["Meta:SMP"]
    empty = response()
    empty.flags |= dns.flags.TC
    with pytest.raises(BadResponse, match="truncated"):
        parse_response(empty.to_wire(), QID, NAME, NAPTR, over_tcp=True)
    # an NXDOMAIN is an answer whatever the TC bit says
    gone = response(rcode=dns.rcode.NXDOMAIN, soa=(60, 30))
    gone.flags |= dns.flags.TC
    assert parse_response(gone.to_wire(), QID, NAME, NAPTR, over_tcp=True).rcode == 3


def test_error_reply_without_question_is_ours() -> None:
    msg = response(rcode=dns.rcode.SERVFAIL)
    msg.question = []
    assert parse(msg).rcode == SERVFAIL
    noerror = response()
    noerror.question = []
    with pytest.raises(ForeignResponse):
        parse(noerror)


def test_extended_rcode_from_opt() -> None:
    msg = response()
    msg.use_edns(0)
    msg.set_rcode(dns.rcode.BADVERS)
    assert parse(msg).rcode == 16


def test_a_second_opt_record_is_refused() -> None:
    """RFC 6891 §6.1.1: a message with more than one OPT record is malformed (FORMERR); its
    extended RCODE and flags cannot be told apart, so the reply is a fault, never an answer."""
    msg = response(SMP_RECORD)
    msg.use_edns(0, payload=1232)
    wire = msg.to_wire()
    assert parse(wire).naptr  # one OPT: fine
    opt = wire[-11:]
    assert opt[:3] == b"\x00\x00\x29"
    doubled = bytearray(wire + opt)
    struct.pack_into("!H", doubled, 10, struct.unpack_from("!H", wire, 10)[0] + 1)
    with pytest.raises(BadResponse, match="more than one OPT"):
        parse(bytes(doubled))
    other = bytearray(wire + b"\x00" + struct.pack("!HHIH", 41, 4096, 0x01000000, 0))
    struct.pack_into("!H", other, 10, 2)  # a second, different OPT (other size, other RCODE bits)
    with pytest.raises(BadResponse, match="more than one OPT"):
        parse(bytes(other))


def test_ttl_with_top_bit_is_zero() -> None:
    wire = bytearray(response(SMP_RECORD).to_wire())
    at = wire.index(b"\xc0\x0c\x00\x23\x00\x01") + 6  # the answer's TTL
    wire[at : at + 4] = struct.pack("!I", 0x80000001)
    assert parse(bytes(wire)).ttl == 0


def test_replacement_text_matches_dnspython() -> None:
    target = dns.name.from_text(r"we\.ird\"\040x.Exa\@mple.")
    rd = dns.rdtypes.IN.NAPTR.NAPTR(  # type: ignore[no-untyped-call]
        dns.rdataclass.IN, dns.rdatatype.NAPTR, 1, 2, b"U", b"Meta:SMP", b"!x!y!", target
    )
    msg = response()
    msg.answer.append(dns.rrset.from_rdata(NAME + ".", 60, rd))
    assert parse(msg).naptr[0].replacement == target.to_text()


# --- replies that are not ours ---------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    ["id", "qr", "opcode", "name", "type", "class", "two questions"],
)
def test_foreign_replies(change: str) -> None:
    msg = response(SMP_RECORD)
    if change == "id":
        msg.id = QID + 1
    elif change == "qr":
        msg.flags &= ~dns.flags.QR
    elif change == "opcode":
        msg.set_opcode(dns.opcode.NOTIFY)
    elif change == "name":
        msg.question = query("x" + NAME).question
    elif change == "type":
        msg.question = query(rdtype=CNAME).question
    elif change == "class":
        wire = bytearray(msg.to_wire())
        end = 12 + len(encode_name(NAME))
        wire[end + 2 : end + 4] = b"\x00\x03"  # CH
        with pytest.raises(ForeignResponse):
            parse(bytes(wire))
        return
    else:
        msg.question = [*query().question, *query("x" + NAME).question]
    with pytest.raises(ForeignResponse):
        parse(msg)


# --- malformed replies -----------------------------------------------------------------------


def _header(ancount: int = 1) -> bytes:
    return struct.pack("!HHHHHH", QID, 0x8180, 1, ancount, 0, 0)


def _question() -> bytes:
    return encode_name(NAME) + struct.pack("!HH", NAPTR, 1)


def _rr(owner: bytes, rdata: bytes, rtype: int = NAPTR) -> bytes:
    return owner + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata


def _naptr_rdata(replacement: bytes = b"\x00") -> bytes:
    return struct.pack("!HH", 1, 1) + b"\x01U\x08Meta:SMP\x05!x!y!" + replacement


def test_hand_built_reply_reads() -> None:
    good = _header() + _question() + _rr(b"\xc0\x0c", _naptr_rdata(b"\xc0\x0c"))
    (record,) = parse(good).naptr
    assert record.replacement == NAME + "."


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"\x4a\x5b\x81", "shorter than a header"),
        (_header() + _question(), "past the end"),
        (_header() + _question() + b"\xc0\x0c\x00", "cut off"),
        (_header() + _question() + _rr(b"\xc0\xff", _naptr_rdata()), "does not point back"),
        (_header() + _question() + _rr(b"\x41a", _naptr_rdata()), "unknown label type"),
        (_header() + _question() + _rr(b"\x3fabc", b""), "runs past"),
        (_header() + _question() + _rr(b"\xc0\x0c", _naptr_rdata() + b"x"), "length"),
        (_header() + _question() + _rr(b"\xc0\x0c", _naptr_rdata()[:-3]), "past its record"),
        (_header() + _question() + _rr(b"\xc0\x0c", b"\x00\x01"), "cut off"),
        (_header() + _question() + _rr(b"\xc0\x0c", _naptr_rdata()) + b"!", "after its last"),
        (
            _header() + _question() + _rr(b"\xc0\x0c", b"\x03abc\x00\x00", rtype=CNAME),
            "does not match",
        ),
    ],
)
def test_malformed_replies(wire: bytes, reason: str) -> None:
    with pytest.raises(BadResponse, match=reason) as info:
        parse(wire)
    assert not isinstance(info.value, ForeignResponse)
    assert info.value.retryable is True


@pytest.mark.parametrize("timers", [b"\x00" * 19, b"\x00" * 21])
def test_soa_with_wrong_length_is_refused(timers: bytes) -> None:
    soa = b"\x02ns\xc0\x0c\x02hm\xc0\x0c" + timers
    wire = struct.pack("!HHHHHH", QID, 0x8183, 1, 0, 1, 0) + _question()
    wire += _rr(b"\xc0\x0c", soa, rtype=6) + b"\x00" * 4
    with pytest.raises(BadResponse, match="SOA"):
        parse(wire)


def test_pointer_chains_are_bounded() -> None:
    # Record 1 (ignored type) carries 80 pointers, each to the one before it, the first to the
    # question's name; record 2's owner points at the last. No loop - but 81 jumps.
    base = len(_header()) + len(_question())
    rdata_at = base + 2 + 10
    chain = b"\xc0\x0c" + b"".join(
        struct.pack("!H", 0xC000 | (rdata_at + 2 * (i - 1))) for i in range(1, 80)
    )
    wire = struct.pack("!HHHHHH", QID, 0x8180, 1, 2, 0, 0) + _question()
    wire += _rr(b"\xc0\x0c", chain, rtype=16)
    wire += _rr(struct.pack("!H", 0xC000 | (rdata_at + 2 * 79)), b"", rtype=16)
    with pytest.raises(BadResponse, match="too many compression pointers"):
        parse(wire)
    # the same chain cut to 40 pointers is fine
    short = struct.pack("!HHHHHH", QID, 0x8180, 1, 2, 0, 0) + _question()
    short += _rr(b"\xc0\x0c", chain[:80], rtype=16)
    short += _rr(struct.pack("!H", 0xC000 | (rdata_at + 2 * 39)), b"", rtype=16)
    assert parse(short).naptr == ()


def test_self_pointer_is_refused() -> None:
    base = len(_header()) + len(_question())
    owner = b"\x01a" + struct.pack("!H", 0xC000 | base)
    with pytest.raises(BadResponse, match="does not point back"):
        parse(_header() + _question() + _rr(owner, _naptr_rdata()))


def test_names_longer_than_255_are_refused() -> None:
    long_owner = b"\x3f" + b"a" * 63
    owner = long_owner * 4 + b"\x00"  # 4 * 64 + 1 = 257 octets
    with pytest.raises(BadResponse, match="longer than 255"):
        parse(_header() + _question() + _rr(owner, _naptr_rdata()))


def test_every_cut_of_a_valid_reply_is_a_typed_error() -> None:
    wire = response(SMP_RECORD, '5 5 "U" "x" "!a!b!" host.example.', soa=(5, 5)).to_wire()
    for cut in range(len(wire)):
        with pytest.raises(DnsFailure):
            parse(wire[:cut])


# --- properties ------------------------------------------------------------------------------

_VALID = response(SMP_RECORD, '7 3 "U" "Meta:SMP" "!.*!https://b.example!" host.example.').to_wire()
_NXDOMAIN = response(rcode=dns.rcode.NXDOMAIN, soa=(60, 30)).to_wire()


def _parse_or_typed_error(wire: bytes) -> None:
    """The property: a DnsResponse, or BadResponse with a message - nothing else escapes."""
    outcome: object
    try:
        outcome = parse_response(wire, QID, NAME, NAPTR)
    except Exception as exc:
        outcome = exc
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, BadResponse), repr(outcome)
        assert outcome.message
    else:
        assert isinstance(outcome, DnsResponse)


@given(st.binary(max_size=600))
@example(b"")
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    _parse_or_typed_error(data)


@given(st.binary(max_size=300))
def test_arbitrary_sections_after_a_valid_question_never_crash(tail: bytes) -> None:
    counts = struct.pack("!HHH", tail[0] if tail else 1, 1, 1)
    _parse_or_typed_error(struct.pack("!HHH", QID, 0x8180, 1) + counts + _question() + tail)


@given(
    st.sampled_from([_VALID, _NXDOMAIN]),
    st.lists(
        st.tuples(st.integers(0, 700), st.integers(0, 255), st.sampled_from(["set", "ins", "del"])),
        min_size=1,
        max_size=6,
    ),
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_mutated_replies_never_crash(base: bytes, edits: list[tuple[int, int, str]]) -> None:
    wire = bytearray(base)
    for at, value, how in edits:
        at %= len(wire) + 1
        if how == "ins":
            wire[at:at] = bytes([value])
        elif at < len(wire):
            if how == "set":
                wire[at] = value
            else:
                del wire[at]
    _parse_or_typed_error(bytes(wire))


_label = st.binary(min_size=1, max_size=20) | st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=20
).map(str.encode)
_cstring = st.binary(max_size=255)


@st.composite
def naptr_rdata(draw: st.DrawFn) -> dns.rdtypes.IN.NAPTR.NAPTR:
    labels = draw(st.lists(_label, max_size=4))
    return dns.rdtypes.IN.NAPTR.NAPTR(  # type: ignore[no-untyped-call]
        dns.rdataclass.IN,
        dns.rdatatype.NAPTR,
        draw(st.integers(0, 0xFFFF)),
        draw(st.integers(0, 0xFFFF)),
        draw(_cstring),
        draw(_cstring),
        draw(_cstring),
        dns.name.Name([*labels, b""]),
    )


@given(st.lists(naptr_rdata(), min_size=1, max_size=5), st.integers(0, 0x7FFFFFFF))
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
def test_naptr_round_trip_through_dnspython(
    rdatas: list[dns.rdtypes.IN.NAPTR.NAPTR], ttl: int
) -> None:
    msg = response()
    rrset = dns.rrset.RRset(dns.name.from_text(NAME), dns.rdataclass.IN, dns.rdatatype.NAPTR)
    for rd in rdatas:
        rrset.add(rd, ttl)
    msg.answer.append(rrset)
    got = parse(msg.to_wire(max_size=65535))
    expected = {
        NaptrRecord(
            rd.order,
            rd.preference,
            rd.flags.decode("utf-8", errors="replace"),
            rd.service.decode("utf-8", errors="replace"),
            rd.regexp.decode("utf-8", errors="replace"),
            rd.replacement.to_text(),
        )
        for rd in rrset
    }
    assert set(got.naptr) == expected
    assert len(got.naptr) == len(rrset)
    assert got.ttl == ttl
