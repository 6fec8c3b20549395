"""The sandbox DNS server, queried directly with dnspython over UDP and TCP on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from peppolnet.errors import SandboxError
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox.dns_server import DnsServer
from peppolnet.sml import cname_name, naptr_name

ZONE = "sml.sandbox.test"
PID = ParticipantId.parse("9915:test")
SMP = "https://smp.sandbox.test"


def ask(
    server: DnsServer, name: str, rdtype: str = "NAPTR", *, tcp: bool = False
) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, "127.0.0.1", port=server.port, timeout=1.0)


@pytest.mark.parametrize("tcp", [False, True])
def test_naptr_answer(tcp: bool) -> None:
    with DnsServer([ZONE], ttl=42) as srv:
        srv.add_participant(PID, SMP)
        response = ask(srv, naptr_name(PID, ZONE), tcp=tcp)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    (rrset,) = response.answer
    assert rrset.ttl == 42
    assert rrset.to_text().endswith('100 10 "U" "Meta:SMP" "!.*!https://smp.sandbox.test!" .')


def test_nxdomain_with_soa() -> None:
    with DnsServer([ZONE], ttl=30) as srv:
        response = ask(srv, naptr_name(PID, ZONE))
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert not response.answer
    (soa,) = response.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa[0].minimum == 30


def test_nodata_for_other_types_and_apex_soa() -> None:
    with DnsServer([ZONE]) as srv:
        srv.add_participant(PID, SMP)
        nodata = ask(srv, naptr_name(PID, ZONE), "A")
        apex = ask(srv, ZONE, "SOA")
    assert nodata.rcode() == dns.rcode.NOERROR
    assert not nodata.answer
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA
    assert apex.answer[0].rdtype == dns.rdatatype.SOA


def test_refused_outside_zone() -> None:
    with DnsServer([ZONE]) as srv:
        response = ask(srv, "example.com")
    assert response.rcode() == dns.rcode.REFUSED


def test_legacy_cname_on_request() -> None:
    with DnsServer([ZONE]) as srv:
        srv.add_participant(PID, SMP)
        assert ask(srv, cname_name(PID, ZONE), "CNAME").rcode() == dns.rcode.NXDOMAIN
        srv.add_participant(PID, SMP, legacy_cname=True)
        response = ask(srv, cname_name(PID, ZONE), "CNAME")
        assert ask(srv, naptr_name(PID, ZONE)).answer  # NAPTR still published
    assert response.answer[0].rdtype == dns.rdatatype.CNAME
    assert response.answer[0][0].target.to_text() == "smp.sandbox.test."


def test_zone_specific_registration() -> None:
    peer = "participant.sml.test.tech.peppol.org"
    with DnsServer([ZONE, peer]) as srv:
        assert srv.zones == (peer, ZONE)  # most specific first
        srv.add_participant(PID, SMP, zone=peer)
        assert ask(srv, naptr_name(PID, peer)).answer
        assert ask(srv, naptr_name(PID, ZONE)).rcode() == dns.rcode.NXDOMAIN
        with pytest.raises(SandboxError, match="does not serve"):
            srv.add_participant(PID, SMP, zone="other.test")


def test_remove_and_participants() -> None:
    with DnsServer([ZONE]) as srv:
        srv.add_participant(PID, SMP, legacy_cname=True)
        assert srv.participants == {PID}
        srv.remove_participant("9915:TEST")
        assert srv.participants == frozenset()
        assert ask(srv, naptr_name(PID, ZONE)).rcode() == dns.rcode.NXDOMAIN
        assert ask(srv, cname_name(PID, ZONE), "CNAME").rcode() == dns.rcode.NXDOMAIN


def test_servfail_and_silence_per_participant_and_server() -> None:
    other = ParticipantId.parse("9915:other")
    with DnsServer([ZONE]) as srv:
        srv.add_participant(PID, SMP)
        srv.add_participant(other, SMP)
        srv.set_fault(PID, "servfail")
        assert ask(srv, naptr_name(PID, ZONE)).rcode() == dns.rcode.SERVFAIL
        assert ask(srv, naptr_name(other, ZONE)).rcode() == dns.rcode.NOERROR
        srv.set_fault("9915:test", "silence")
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(
                dns.message.make_query(naptr_name(PID, ZONE), "NAPTR"),
                "127.0.0.1",
                port=srv.port,
                timeout=0.2,
            )
        srv.set_fault(PID, None)
        srv.set_fault(None, "servfail")
        assert ask(srv, naptr_name(other, ZONE)).rcode() == dns.rcode.SERVFAIL
        srv.set_fault(None, None)
        assert ask(srv, naptr_name(PID, ZONE)).rcode() == dns.rcode.NOERROR
        with pytest.raises(SandboxError, match="unknown DNS fault"):
            srv.set_fault(None, "explode")  # type: ignore[arg-type]


def test_lie_nxdomain_denies_every_name_without_authority() -> None:
    with DnsServer([ZONE]) as srv:
        srv.add_participant(PID, SMP)
        srv.set_lie("nxdomain")
        assert srv.lie == "nxdomain"
        for name, rdtype in (
            (naptr_name(PID, ZONE), "NAPTR"),  # published
            (naptr_name(ParticipantId.parse("9915:nobody"), ZONE), "NAPTR"),
            (ZONE, "SOA"),  # the zone's own SOA too
            ("example.com", "A"),  # and names outside every zone (a resolver, not the zone)
        ):
            for tcp in (False, True):
                response = ask(srv, name, rdtype, tcp=tcp)
                assert response.rcode() == dns.rcode.NXDOMAIN, name
                assert not response.answer
                assert not response.authority
                assert not response.flags & dns.flags.AA
        srv.set_lie(None)
        assert srv.lie is None
        assert ask(srv, naptr_name(PID, ZONE)).answer


def test_lie_strip_authority_drops_only_the_authority() -> None:
    with DnsServer([ZONE]) as srv:
        srv.add_participant(PID, SMP)
        srv.set_lie("strip-authority")
        assert ask(srv, naptr_name(PID, ZONE)).answer
        missing = ask(srv, naptr_name(ParticipantId.parse("9915:nobody"), ZONE))
        assert missing.rcode() == dns.rcode.NXDOMAIN
        assert not missing.authority
        nodata = ask(srv, naptr_name(PID, ZONE), "A")
        assert (nodata.rcode(), nodata.answer, nodata.authority) == (dns.rcode.NOERROR, [], [])
        apex = ask(srv, ZONE, "SOA")  # still answered: a probe of the zone shows it
        assert apex.answer[0].rdtype == dns.rdatatype.SOA
        with pytest.raises(SandboxError, match="unknown DNS lie"):
            srv.set_lie("sometimes")  # type: ignore[arg-type]
        assert srv.lie == "strip-authority"


def test_timeout_share() -> None:
    with DnsServer([ZONE]) as srv:
        srv.add_participant(PID, SMP)
        srv.set_timeout_share(0.5, seed=7)
        answered = 0
        for _ in range(40):
            try:
                ask_fast = dns.message.make_query(naptr_name(PID, ZONE), "NAPTR")
                dns.query.udp(ask_fast, "127.0.0.1", port=srv.port, timeout=0.05)
                answered += 1
            except dns.exception.Timeout:
                pass
        assert srv.queries == 40
        srv.set_timeout_share(1.0)
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(ask_fast, "127.0.0.1", port=srv.port, timeout=0.1)
        with pytest.raises(SandboxError):
            srv.set_timeout_share(1.5)
    assert 5 < answered < 35


def test_latency_each_answer_independently() -> None:
    with DnsServer([ZONE]) as srv:
        srv.add_participant(PID, SMP)
        srv.set_latency(0.25, jitter=0.02)
        started = time.perf_counter()
        first = ask(srv, naptr_name(PID, ZONE))
        assert time.perf_counter() - started >= 0.23
        assert first.answer
        results: list[float] = []

        def one() -> None:
            t = time.perf_counter()
            ask(srv, naptr_name(PID, ZONE), tcp=len(results) % 2 == 0)
            results.append(time.perf_counter() - t)

        threads = [threading.Thread(target=one) for _ in range(20)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.perf_counter() - started
        with pytest.raises(SandboxError):
            srv.set_latency(-1)
    assert len(results) == 20
    # serialised, 20 answers of 0.25 s take >= 5 s; overlapping ones take one delay plus
    # overhead. Half the serial time tells them apart however busy the machine is.
    assert took < 20 * 0.25 / 2, took


def test_queries_counter_and_reset() -> None:
    with DnsServer([ZONE]) as srv:
        ask(srv, naptr_name(PID, ZONE))
        ask(srv, naptr_name(PID, ZONE), tcp=True)
        assert srv.queries == 2
        srv.reset_queries()
        assert srv.queries == 0


def test_garbage_is_ignored_and_server_keeps_serving() -> None:
    with DnsServer([ZONE]) as srv:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"\x00\x01garbage", srv.address)
        srv.add_participant(PID, SMP)
        assert ask(srv, naptr_name(PID, ZONE)).answer


def test_start_stop_fast_and_port_released() -> None:
    srv = DnsServer(ZONE).start()
    assert srv.start() is srv  # idempotent
    port = srv.port
    assert port > 0
    assert srv.address == ("127.0.0.1", port)
    assert "running" in repr(srv)
    srv.stop()
    assert "stopped" in repr(srv)
    srv.stop()  # idempotent
    # The same port can be bound again on purpose.
    with DnsServer([ZONE], port=port) as again:
        assert again.port == port


def test_port_in_use() -> None:
    with DnsServer([ZONE]) as srv, pytest.raises(SandboxError, match="could not bind"):
        DnsServer([ZONE], port=srv.port).start()


@pytest.mark.parametrize(
    ("zones", "kw"),
    [([], {}), (["a..b"], {}), ([ZONE], {"ttl": -1})],
)
def test_bad_configuration(zones: list[str], kw: dict[str, int]) -> None:
    with pytest.raises(SandboxError):
        DnsServer(zones, **kw)


@pytest.mark.parametrize("url", ["", "https://a!b", "https://a b", 'https://a"b'])
def test_url_that_cannot_be_published(url: str) -> None:
    with pytest.raises(SandboxError, match="NAPTR"):
        DnsServer([ZONE]).add_participant(PID, url)


def test_concurrent_mutation_while_serving() -> None:
    with DnsServer([ZONE]) as srv:
        stop = threading.Event()

        def churn() -> None:
            i = 0
            while not stop.is_set():
                srv.add_participant(ParticipantId.parse(f"9915:p{i % 50}"), SMP)
                srv.remove_participant(ParticipantId.parse(f"9915:p{(i + 25) % 50}"))
                i += 1

        worker = threading.Thread(target=churn)
        worker.start()
        try:
            srv.add_participant(PID, SMP)
            for _ in range(50):
                assert ask(srv, naptr_name(PID, ZONE)).rcode() == dns.rcode.NOERROR
        finally:
            stop.set()
            worker.join()
