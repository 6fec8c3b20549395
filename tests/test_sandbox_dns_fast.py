"""The sandbox DNS server's fast path gives the answers its dnspython path gives.

Both are asked the same queries - dnspython's and peppolnet's own (with EDNS0), names in any
case, every record type the server knows, names in no zone - and their answers must be the
same message (header, question, every section, EDNS). The fast path may decline (None); it may
never answer differently. Over real sockets: tests/test_dns_server.py.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peppolnet import dnswire
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox.dns_server import DnsServer
from peppolnet.sml import cname_name, naptr_name

ZONE = "sml.fast.test"
OTHER = "participant.sml.extra.test"
REGISTERED = ParticipantId.parse("iso6523-actorid-upis::0088:7300010000001")
LEGACY = ParticipantId.parse("iso6523-actorid-upis::0007:5567321707")


@pytest.fixture(scope="module")
def server() -> DnsServer:
    server = DnsServer([ZONE, OTHER])  # never started: only its answers are compared
    server.add_participant(REGISTERED, "https://smp.fast.test:8443/path")
    server.add_participant(LEGACY, "https://legacy.fast.test", legacy_cname=True)
    return server


def same(server: DnsServer, wire: bytes, max_size: int = 512) -> bytes:
    fast = server._fast.answer(wire, max_size)
    slow = server._answer(wire, max_size, None, frozenset())
    assert fast is not None, "the fast path declined a plain query"
    assert slow is not None
    assert dns.message.from_wire(fast) == dns.message.from_wire(slow)
    fast_message, slow_message = dns.message.from_wire(fast), dns.message.from_wire(slow)
    assert fast_message.rcode() == slow_message.rcode()
    assert fast_message.flags == slow_message.flags
    assert fast_message.edns == slow_message.edns
    assert fast_message.payload == slow_message.payload
    return fast


UNKNOWN = "b-0123456789abcdef0123456789abcdef.iso6523-actorid-upis." + ZONE  # not registered
NAMES = [
    naptr_name(REGISTERED, ZONE),
    naptr_name(REGISTERED, ZONE).upper(),
    naptr_name(REGISTERED, OTHER),
    naptr_name(LEGACY, ZONE),
    cname_name(LEGACY, ZONE),
    "b-" + "0" * 32 + ".iso6523-actorid-upis." + ZONE,  # a legacy CNAME name, unknown
    UNKNOWN,
    "iso6523-actorid-upis." + ZONE,  # an empty non-terminal: it exists, with no records
    "ISO6523-actorid-upis." + OTHER,
    ZONE,
    OTHER,
    "below.the." + ZONE,
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("rdtype", ["NAPTR", "SOA", "CNAME", "A", "TXT"])
@pytest.mark.parametrize("edns", [False, True])
def test_dnspython_queries_get_the_same_answer(
    server: DnsServer, name: str, rdtype: str, edns: bool
) -> None:
    query = dns.message.make_query(name, rdtype, use_edns=0 if edns else None)
    if name == ZONE:
        query.flags &= ~dns.flags.RD  # RD set (dnspython's default) and unset
    same(server, query.to_wire())


@pytest.mark.parametrize("name", NAMES)
def test_peppolnets_own_queries_get_the_same_answer(server: DnsServer, name: str) -> None:
    answer = same(server, dnswire.build_query(name, dnswire.NAPTR, 4711))
    assert answer[:2] == (4711).to_bytes(2, "big")


def test_a_registered_name_answers_its_record_and_an_unknown_one_nxdomain(
    server: DnsServer,
) -> None:
    found = dns.message.from_wire(same(server, dnswire.build_query(NAMES[0], dnswire.NAPTR, 1)))
    assert found.rcode() == 0
    assert found.answer[0].rdtype == dns.rdatatype.NAPTR
    missing = dns.message.from_wire(same(server, dnswire.build_query(UNKNOWN, dnswire.NAPTR, 2)))
    assert missing.rcode() == 3  # NXDOMAIN, with the zone's SOA for the negative TTL
    assert missing.authority[0].rdtype == dns.rdatatype.SOA


def test_an_empty_non_terminal_is_no_data_until_its_last_name_goes() -> None:
    server = DnsServer(ZONE)
    server.add_participant(REGISTERED, "https://smp.fast.test")
    server.add_participant(LEGACY, "https://smp.fast.test")
    query = dnswire.build_query("iso6523-actorid-upis." + ZONE, dnswire.NAPTR, 7)
    assert dns.message.from_wire(same(server, query)).rcode() == 0  # exists, no records
    server.remove_participant(REGISTERED)
    assert dns.message.from_wire(same(server, query)).rcode() == 0
    server.remove_participant(LEGACY)
    assert dns.message.from_wire(same(server, query)).rcode() == 3  # gone with the last name


def test_dnssec_questions_take_the_slow_path(server: DnsServer) -> None:
    with_do = dns.message.make_query(NAMES[0], "NAPTR", want_dnssec=True)
    assert server._fast.answer(with_do.to_wire(), 512) is None
    for rdtype in ("DNSKEY", "DS", "RRSIG", "NSEC"):
        query = dns.message.make_query(ZONE, rdtype, use_edns=0)
        assert server._fast.answer(query.to_wire(), 4096) is None
    answer, _ = server._handle(with_do.to_wire(), max_size=4096)
    assert answer is not None
    assert dns.message.from_wire(answer).ednsflags & dns.flags.DO  # the slow path signs


def test_resolver_defects_take_the_slow_path() -> None:
    server = DnsServer(ZONE)
    server.add_participant(REGISTERED, "https://smp.fast.test")
    server.set_defects("no-naptr")
    query = dnswire.build_query(naptr_name(REGISTERED, ZONE), dnswire.NAPTR, 8)
    answer, _ = server._handle(query, max_size=512)
    assert answer is not None
    assert dns.message.from_wire(answer).rcode() == dns.rcode.NOTIMP


def test_what_is_not_plain_takes_the_slow_path(server: DnsServer) -> None:
    refused = dns.message.make_query("example.com", "A")  # in no zone served
    assert server._fast.answer(refused.to_wire(), 512) is None
    two = dns.message.make_query(NAMES[0], "NAPTR")
    two.question.append(two.question[0])
    assert server._fast.answer(two.to_wire(), 512) is None
    with_option = dns.message.make_query(NAMES[0], "NAPTR", use_edns=0, options=[])
    with_option.use_edns(0, 0, 1232, options=[dns.edns.GenericOption(65001, b"x")])
    assert server._fast.answer(with_option.to_wire(), 512) is None
    assert server._fast.answer(b"\x00" * 11, 512) is None  # too short to be a query
    plain = dnswire.build_query(NAMES[0], dnswire.NAPTR, 3)
    assert server._fast.answer(plain, 40) is None  # too big for the size allowed: truncation


def test_a_withdrawn_participant_is_gone_from_the_fast_path_too() -> None:
    server = DnsServer(ZONE)
    server.add_participant(REGISTERED, "https://smp.fast.test")
    query = dnswire.build_query(naptr_name(REGISTERED, ZONE), dnswire.NAPTR, 5)
    assert dns.message.from_wire(same(server, query)).rcode() == 0
    server.remove_participant(REGISTERED)
    assert dns.message.from_wire(same(server, query)).rcode() == 3


def test_faults_and_lies_are_never_answered_by_the_fast_path() -> None:
    server = DnsServer(ZONE)
    server.add_participant(REGISTERED, "https://smp.fast.test")
    query = dnswire.build_query(naptr_name(REGISTERED, ZONE), dnswire.NAPTR, 6)
    server.set_fault(REGISTERED, "servfail")
    answer, _ = server._handle(query, max_size=512)
    assert answer is not None
    assert dns.message.from_wire(answer).rcode() == 2  # SERVFAIL, from the slow path
    server.set_fault(REGISTERED, None)
    server.set_lie("nxdomain")
    answer, _ = server._handle(query, max_size=512)
    assert answer is not None
    assert dns.message.from_wire(answer).rcode() == 3


labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-", min_size=1, max_size=20)


@given(
    st.lists(labels, max_size=4),
    st.sampled_from([ZONE, OTHER, "other.test"]),
    st.sampled_from(["NAPTR", "SOA", "CNAME", "A", "AAAA", "NS"]),
    st.booleans(),
    st.integers(0, 0xFFFF),
)
def test_any_plain_query_gets_the_slow_paths_answer_or_none(
    prefix: list[str], zone: str, rdtype: str, edns: bool, query_id: int
) -> None:
    server = DnsServer([ZONE, OTHER])
    server.add_participant(REGISTERED, "https://smp.fast.test")
    name = ".".join([*prefix, zone])
    query = dns.message.make_query(name, rdtype, use_edns=0 if edns else None)
    query.id = query_id
    wire = query.to_wire()
    fast = server._fast.answer(wire, 512)
    if fast is None:
        return  # declined (a zone not served): the slow path answers, REFUSED
    slow = server._answer(wire, 512, None, frozenset())
    assert slow is not None
    assert dns.message.from_wire(fast) == dns.message.from_wire(slow)
