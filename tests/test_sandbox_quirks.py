"""The seven quirks no other test looked at, checked in the documents served over real sockets.

Each test resolves the participant through the sandbox DNS (dnspython), fetches its documents over
HTTPS (httpx) and asserts what the quirk must change - and, for contrast, that a participant
without quirks of the same operator does not show it. The last test pins the verdict a lookup
gives for every quirk, the table docs/sandbox.md shows.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import ssl
from collections.abc import Iterator

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import httpx
import pytest
from cryptography import x509

from peppolnet.identifiers import BIS_BILLING_INVOICE, BIS_BILLING_PROCESS, ParticipantId
from peppolnet.sandbox.config import QUIRKS, ParticipantConfig
from peppolnet.sandbox.runtime import Sandbox
from peppolnet.sml import cname_name, naptr_name
from peppolnet.smp.model import Endpoint, ServiceMetadata
from peppolnet.smp.parse import parse_document


@pytest.fixture(scope="module")
def net() -> Iterator[Sandbox]:
    with Sandbox.start() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _with(net: Sandbox, quirk: str) -> ParticipantConfig:
    return next(p for p in net.participants.values() if quirk in p.quirks)


def _plain(net: Sandbox, operator: str) -> ParticipantConfig:
    return next(
        p for p in net.participants.values() if not p.quirks and p.in_sml and p.operator == operator
    )


def _dns(net: Sandbox, name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, "127.0.0.1", port=net.dns.port, timeout=2)


def _smp_base(net: Sandbox, pid: ParticipantId) -> str:
    answer = _dns(net, naptr_name(pid, net.config.zone), "NAPTR")
    assert answer.rcode() == dns.rcode.NOERROR
    regexp: str = answer.answer[0][0].regexp.decode()
    return regexp.split("!")[2]


def _raw_metadata(net: Sandbox, pid: ParticipantId) -> bytes:
    url = f"{_smp_base(net, pid)}/{pid.url_segment()}/services/{BIS_BILLING_INVOICE.url_segment()}"
    ctx = ssl.create_default_context(cafile=str(net.tls_ca_path))
    response = httpx.get(url, verify=ctx)
    assert response.status_code == 200, response.text
    return response.content


def _metadata(net: Sandbox, pid: ParticipantId) -> ServiceMetadata:
    doc = parse_document(_raw_metadata(net, pid))
    assert isinstance(doc, ServiceMetadata)
    assert doc.participant == pid
    return doc


def _endpoint(net: Sandbox, pid: ParticipantId) -> Endpoint:
    return _metadata(net, pid).processes[0].endpoints[0]


def _signer(raw: bytes) -> x509.Certificate:
    match = re.search(rb"<(?:\w+:)?X509Certificate>([^<]+)</", raw)
    assert match is not None, "the document carries no signing certificate"
    return x509.load_der_x509_certificate(base64.b64decode(b"".join(match.group(1).split())))


def test_expired_ap_certificate(net: Sandbox, now: dt.datetime) -> None:
    p = _with(net, "expired-ap-certificate")
    cert_der = _endpoint(net, p.id).certificate
    assert cert_der is not None
    cert = x509.load_der_x509_certificate(cert_der)
    assert cert.not_valid_after_utc < now
    op = net.config.operator(p.operator)
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == op.seat_id
    normal = _endpoint(net, _plain(net, p.operator).id).certificate
    assert normal is not None
    assert x509.load_der_x509_certificate(normal).not_valid_after_utc > now


def test_endpoint_not_yet_active(net: Sandbox, now: dt.datetime) -> None:
    endpoint = _endpoint(net, _with(net, "endpoint-not-yet-active").id)
    assert endpoint.activation is not None
    assert endpoint.activation > now + dt.timedelta(days=1)
    assert endpoint.expiration is None


def test_endpoint_expired(net: Sandbox, now: dt.datetime) -> None:
    endpoint = _endpoint(net, _with(net, "endpoint-expired").id)
    assert endpoint.expiration is not None
    assert endpoint.expiration < now - dt.timedelta(days=1)
    assert endpoint.activation is not None
    assert endpoint.activation < endpoint.expiration


def test_http_endpoint(net: Sandbox) -> None:
    p = _with(net, "http-endpoint")
    endpoint = _endpoint(net, p.id)
    assert endpoint.url is not None
    assert endpoint.url.startswith("http://")
    host = net.config.operator(p.operator).ap_url.removeprefix("https://")
    assert endpoint.url == "http://" + host
    assert (_endpoint(net, _plain(net, p.operator).id).url or "").startswith("https://")


def test_legacy_cname(net: Sandbox) -> None:
    p = _with(net, "legacy-cname")
    name = cname_name(p.id, net.config.zone)
    assert name.startswith("B-")
    answer = _dns(net, name, "CNAME")
    assert answer.rcode() == dns.rcode.NOERROR
    cnames = [rr for rrset in answer.answer for rr in rrset if rrset.rdtype == dns.rdatatype.CNAME]
    assert cnames, "no CNAME published"
    assert str(cnames[0].target).rstrip(".") in {"127.0.0.1", "localhost"}
    # the NAPTR record is still there, and a participant without the quirk has no CNAME
    assert _smp_base(net, p.id).startswith("https://127.0.0.1:")
    plain = _plain(net, p.operator)
    assert _dns(net, cname_name(plain.id, net.config.zone), "CNAME").rcode() == dns.rcode.NXDOMAIN


def test_expired_smp_certificate(net: Sandbox, now: dt.datetime) -> None:
    p = _with(net, "expired-smp-certificate")
    signer = _signer(_raw_metadata(net, p.id))
    assert signer.not_valid_after_utc < now
    assert signer.issuer == net.pki.smp_ca.subject
    normal = _signer(_raw_metadata(net, _plain(net, p.operator).id))
    assert normal.not_valid_after_utc > now
    assert normal.subject == signer.subject  # same SMP, only the validity differs


def test_wrong_process(net: Sandbox) -> None:
    p = _with(net, "wrong-process")
    processes = [proc.process_id for proc in _metadata(net, p.id).processes]
    assert processes
    assert BIS_BILLING_PROCESS not in processes
    assert processes == [p.process]


#: The verdict a default lookup gives for a participant with each quirk (docs/sandbox.md).
EXPECTED_VERDICTS = {
    "expired-ap-certificate": "cannot-receive",
    "endpoint-not-yet-active": "cannot-receive",
    "endpoint-expired": "cannot-receive",
    "unsigned": "unknown",
    "bad-signature": "unknown",
    "wrong-participant-echo": "unknown",
    "http-endpoint": "cannot-receive",
    "http-smp": "cannot-receive",
    "redirect": "can-receive",
    "legacy-cname": "can-receive",
    "no-meta-smp": "cannot-receive",
    "dns-servfail": "unknown",
    "smp-500": "unknown",
    "old-transport-profile": "cannot-receive",
    "sha1-signature": "unknown",
    "expired-smp-certificate": "unknown",
    "missing-document-type": "cannot-receive",
    "wrong-process": "cannot-receive",
}


def test_every_quirk_gives_the_documented_verdict(net: Sandbox) -> None:
    from peppolnet.lookup import Lookup

    assert set(EXPECTED_VERDICTS) == set(QUIRKS)
    with Lookup(net.network) as lookup:
        got = {q: lookup.check(_with(net, q).id).verdict.value for q in QUIRKS}
    assert got == EXPECTED_VERDICTS
