"""The sandbox DNS server's DNSSEC and resolver defects, asked directly with dnspython.

What a validator and the doctor rely on: signatures only for who asks (the DO bit), the parent
zone that holds the DS, NSEC records that deny, the modes that make the zone insecure or bogus,
and the defects of poor resolvers (no NAPTR, no EDNS, no TCP) - each as a real DNS message over
UDP or TCP on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rdtypes.ANY.NSEC
import dns.rrset
import pytest

from peppolnet.clock import ManualClock
from peppolnet.errors import SandboxError
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox.config import parse_config
from peppolnet.sandbox.dns_server import DEFECTS, DNSSEC_MODES, DnsServer
from peppolnet.sml import naptr_name

ZONE = "sml.sandbox.test"
PARENT = "sandbox.test"
PID = ParticipantId.parse("9915:test")
SMP = "https://smp.sandbox.test"
NOW = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer([ZONE], clock=ManualClock(NOW)) as srv:
        srv.add_participant(PID, SMP)
        srv.add_participant("9915:other", SMP)
        yield srv


def ask(
    server: DnsServer, name: str, rdtype: str, *, dnssec: bool = True, tcp: bool = True
) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, want_dnssec=dnssec)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, "127.0.0.1", port=server.port, timeout=2.0)


def rrsets(section: list[dns.rrset.RRset], rdtype: str) -> list[dns.rrset.RRset]:
    return [r for r in section if r.rdtype == dns.rdatatype.from_text(rdtype)]


def test_signatures_only_for_who_asks(server: DnsServer) -> None:
    plain = ask(server, naptr_name(PID, ZONE), "NAPTR", dnssec=False)
    signed = ask(server, naptr_name(PID, ZONE), "NAPTR")
    assert not rrsets(plain.answer, "RRSIG")
    assert signed.ednsflags & dns.flags.DO  # copied from the question (RFC 3225)
    (rrsig,) = rrsets(signed.answer, "RRSIG")
    assert rrsig[0].signer == dns.name.from_text(ZONE)
    # dated by the sandbox's clock: from an hour before its "now" for a week
    assert rrsig[0].inception == int((NOW - dt.timedelta(hours=1)).timestamp())
    assert rrsig[0].expiration == int((NOW + dt.timedelta(days=7)).timestamp())


def test_the_parent_holds_the_ds_of_the_zone_and_is_the_anchor(server: DnsServer) -> None:
    ds = ask(server, ZONE, "DS")
    keys = ask(server, ZONE, "DNSKEY")
    parent_keys = ask(server, PARENT, "DNSKEY")
    (ds_set,) = rrsets(ds.answer, "DS")
    (sig,) = rrsets(ds.answer, "RRSIG")
    assert sig[0].signer == dns.name.from_text(PARENT)  # the parent's answer
    (key_set,) = rrsets(keys.answer, "DNSKEY")
    made = dns.dnssec.make_ds(ZONE + ".", key_set[0], "SHA256")
    assert made == ds_set[0]
    (parent_set,) = rrsets(parent_keys.answer, "DNSKEY")
    anchor = dns.dnssec.make_ds(PARENT + ".", parent_set[0], "SHA256")
    assert server.trust_anchors == (f"{PARENT}. {anchor.to_text().upper()}",)


def test_denials_carry_nsec_records(server: DnsServer) -> None:
    missing = ask(server, naptr_name(ParticipantId.parse("9915:missing"), ZONE), "NAPTR")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert rrsets(missing.authority, "SOA")
    assert 1 <= len(rrsets(missing.authority, "NSEC")) <= 2  # the name's cover, the wildcard's
    nodata = ask(server, naptr_name(PID, ZONE), "A", tcp=False)
    assert nodata.rcode() == dns.rcode.NOERROR
    (nsec,) = rrsets(nodata.authority, "NSEC")
    assert nsec.name == dns.name.from_text(naptr_name(PID, ZONE))


def test_an_empty_non_terminal_exists(server: DnsServer) -> None:
    """The scheme label has names below it: NOERROR without records, not NXDOMAIN."""
    ent = f"iso6523-actorid-upis.{ZONE}"
    assert ask(server, ent, "DS", dnssec=False).rcode() == dns.rcode.NOERROR
    assert ask(server, f"nothing.{ZONE}", "DS", dnssec=False).rcode() == dns.rcode.NXDOMAIN


def test_unsigned_mode_is_a_delegation_without_ds(server: DnsServer) -> None:
    server.set_dnssec("unsigned")
    assert server.dnssec == "unsigned"
    answer = ask(server, naptr_name(PID, ZONE), "NAPTR")
    assert not rrsets(answer.answer, "RRSIG")
    ds = ask(server, ZONE, "DS")
    assert not ds.answer
    (nsec,) = rrsets(ds.authority, "NSEC")
    types = nsec[0].windows
    assert "NS" in dns.rdtypes.ANY.NSEC.Bitmap(types).to_text()  # type: ignore[attr-defined]
    assert "DS" not in dns.rdtypes.ANY.NSEC.Bitmap(types).to_text()  # type: ignore[attr-defined]
    assert rrsets(ds.authority, "RRSIG")  # the parent signs its denial


def test_bogus_mode_changes_every_octet_of_the_signature(server: DnsServer) -> None:
    good = rrsets(ask(server, naptr_name(PID, ZONE), "NAPTR").answer, "RRSIG")[0][0]
    server.set_dnssec("bogus")
    bad = rrsets(ask(server, naptr_name(PID, ZONE), "NAPTR").answer, "RRSIG")[0][0]
    assert len(bad.signature) == len(good.signature)
    assert all(a != b for a, b in zip(bad.signature, good.signature, strict=True))
    # the keys themselves stay good: it is the data's signature that fails
    keys = ask(server, ZONE, "DNSKEY")
    (key_set,) = rrsets(keys.answer, "DNSKEY")
    (key_sig,) = rrsets(keys.answer, "RRSIG")
    dns.dnssec.validate(key_set, key_sig, {dns.name.from_text(ZONE): key_set}, now=NOW.timestamp())


def test_expired_and_stripped_modes(server: DnsServer) -> None:
    server.set_dnssec("expired")
    rrsig = rrsets(ask(server, naptr_name(PID, ZONE), "NAPTR").answer, "RRSIG")[0][0]
    assert rrsig.expiration < NOW.timestamp()
    server.set_dnssec("stripped")
    stripped = ask(server, naptr_name(PID, ZONE), "NAPTR")
    assert stripped.answer
    assert not rrsets(stripped.answer, "RRSIG")
    assert not rrsets(ask(server, PARENT, "DNSKEY").answer, "RRSIG")


def test_unknown_modes_and_defects_are_refused(server: DnsServer) -> None:
    with pytest.raises(SandboxError, match="unknown DNSSEC mode 'half'"):
        server.set_dnssec("half")  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match="unknown resolver defect 'slow'"):
        server.set_defects("slow")
    assert set(DNSSEC_MODES) == {"signed", "unsigned", "bogus", "expired", "stripped"}
    assert set(DEFECTS) == {"no-naptr", "no-edns", "no-tcp"}


def test_a_resolver_without_naptr(server: DnsServer) -> None:
    server.set_defects("no-naptr")
    assert server.defects == frozenset({"no-naptr"})
    assert ask(server, naptr_name(PID, ZONE), "NAPTR", tcp=False).rcode() == dns.rcode.NOTIMP
    assert ask(server, ZONE, "SOA", tcp=False).rcode() == dns.rcode.NOERROR


def test_a_resolver_without_edns(server: DnsServer) -> None:
    server.set_defects("no-edns")
    refused = ask(server, ZONE, "SOA", tcp=False)
    assert refused.rcode() == dns.rcode.FORMERR
    assert refused.edns < 0  # no OPT in the reply either
    assert ask(server, ZONE, "SOA", dnssec=False, tcp=False).rcode() == dns.rcode.NOERROR


def test_a_resolver_without_tcp(server: DnsServer) -> None:
    server.set_defects("no-tcp")
    assert ask(server, ZONE, "SOA", tcp=False).rcode() == dns.rcode.NOERROR
    with pytest.raises((EOFError, ConnectionError, dns.exception.DNSException, OSError)):
        ask(server, ZONE, "SOA", tcp=True)
    server.set_defects()
    assert ask(server, ZONE, "SOA", tcp=True).rcode() == dns.rcode.NOERROR


def test_the_config_names_the_mode() -> None:
    network = (
        '[[operators]]\nid = "a"\nname = "A AB"\nseat_id = "PSE000001"\ncountry = "SE"\n'
        'smp = "s"\nap_url = "https://ap.example/as4"\n\n[[smps]]\nid = "s"\noperator = "a"\n'
    )
    assert parse_config(f'[dns]\ndnssec = "bogus"\n\n{network}').dns_faults.dnssec == "bogus"
    assert parse_config(network).dns_faults.dnssec == "signed"
    with pytest.raises(SandboxError, match=r"dns\.dnssec.*must be one of signed"):
        parse_config(f'[dns]\ndnssec = "half"\n\n{network}')
