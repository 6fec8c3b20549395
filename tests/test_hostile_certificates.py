"""Certificates that load but do not decode: every path answers with a peppolnet error.

``cryptography`` parses a certificate's subject, issuer and key only when they are first read,
so a certificate from a hostile SMP can load and then raise ``ValueError`` inside the signature
check (before the signer is trusted: a matching digest is all it takes) or while its facts are
read. These tests corrupt real sandbox certificates and feed them through the signature, chain
and access-point paths, by hand and with hypothesis, and through a whole lookup.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from peppolnet.errors import CertificateError, InvalidSignature, PeppolnetError
from peppolnet.identifiers import ParticipantId
from peppolnet.lookup import Lookup
from peppolnet.pki import CertificateFacts, load_certificate, validate_chain
from peppolnet.reachability import CheckStatus, Verdict
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.pki import IssuedCertificate, TestPki
from peppolnet.sandbox.signing import sign_enveloped
from peppolnet.sandbox.smp_server import SmpService
from peppolnet.xmldsig import SignaturePolicy, verify_bytes

SMP_NS = "http://busdox.org/serviceMetadata/publishing/1.0/"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.generate(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def signer(pki: TestPki) -> IssuedCertificate:
    return pki.issue_smp_certificate("PSE000001", "Example AB", "SE")


def broken_key(cert: x509.Certificate) -> bytes:
    """The certificate with its RSA key's SEQUENCE tag changed: it loads, its key does not."""
    der = cert.public_bytes(Encoding.DER)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    at = der.index(spki) + spki.index(b"\x03\x82") + 5  # past BIT STRING tag, length, pad byte
    assert der[at] == 0x30
    return der[:at] + b"\x31" + der[at + 1 :]


def broken_name(cert: x509.Certificate, text: str) -> bytes:
    """The certificate with one byte of a UTF8String in its subject made invalid UTF-8."""
    der = cert.public_bytes(Encoding.DER)
    at = der.index(text.encode())
    assert der[at - 2] == 0x0C  # a UTF8String
    return der[:at] + b"\xff" + der[at + 1 :]


def _broken(cert: x509.Certificate, corrupt: str) -> bytes:
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    return broken_key(cert) if corrupt == "key" else broken_name(cert, str(cn))


def signed_document(signer: IssuedCertificate, certificate_der: bytes | None = None) -> bytes:
    """A signed SMP-shaped document whose KeyInfo carries ``certificate_der`` instead.

    The digest still matches (KeyInfo is outside the signed content), so only the certificate
    stands between the document and trust.
    """
    root = etree.fromstring(
        f'<smp:SignedServiceMetadata xmlns:smp="{SMP_NS}"><smp:E>x</smp:E>'
        "</smp:SignedServiceMetadata>".encode()
    )
    sign_enveloped(root, signer.private_key, signer.certificate)
    if certificate_der is not None:
        [element] = root.iter("{http://www.w3.org/2000/09/xmldsig#}X509Certificate")
        element.text = base64.b64encode(certificate_der).decode()
    return etree.tostring(root)


def test_the_document_verifies_with_its_own_certificate(signer: IssuedCertificate) -> None:
    assert verify_bytes(signed_document(signer), policy=SignaturePolicy.strict())


@pytest.mark.parametrize("corrupt", ["key", "name"])
def test_a_signer_certificate_that_does_not_decode_is_an_invalid_signature(
    signer: IssuedCertificate, corrupt: str
) -> None:
    der = _broken(signer.certificate, corrupt)
    x509.load_der_x509_certificate(der)  # it loads: the trap is in what is read later
    with pytest.raises(InvalidSignature, match=r"cannot be read.*does not decode"):
        verify_bytes(signed_document(signer, der), policy=SignaturePolicy.strict())


@pytest.mark.parametrize("corrupt", ["key", "name"])
def test_load_certificate_refuses_what_does_not_decode(
    signer: IssuedCertificate, corrupt: str
) -> None:
    der = _broken(signer.certificate, corrupt)
    part = "public key" if corrupt == "key" else "subject"
    with pytest.raises(CertificateError, match=f"its {part} does not decode"):
        load_certificate(der)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_corrupted_certificate_gives_only_peppolnet_errors(
    pki: TestPki, signer: IssuedCertificate, data: st.DataObject
) -> None:
    """Byte flips anywhere in the certificate (names, key, extensions, signature): each path
    either works or raises a peppolnet error; nothing else escapes."""
    der = bytearray(signer.certificate.public_bytes(Encoding.DER))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(4, len(der) - 1))
        der[at] = data.draw(st.integers(0, 255))
    mutated = bytes(der)
    try:
        cert = load_certificate(mutated)
    except CertificateError:
        cert = None
    if cert is not None:
        with _only_peppolnet_errors():
            CertificateFacts.from_certificate(cert)
        with _only_peppolnet_errors():
            validate_chain(cert, (pki.smp_ca,))
    with _only_peppolnet_errors():
        verify_bytes(signed_document(signer, mutated), policy=SignaturePolicy.strict())


class _only_peppolnet_errors:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> bool:
        return kind is None or issubclass(kind, PeppolnetError)


# --- a whole lookup against the sandbox --------------------------------------------------------


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox.start(key_dir=Path(tmp_path_factory.mktemp("keys"))) as sandbox:
        yield sandbox


@pytest.fixture
def published(net: Sandbox) -> Iterator[tuple[SmpService, ParticipantId]]:
    """A plain participant's publication, restored after the test whatever it did."""
    participant = next(p for p in net.config.participants if p.in_sml and not p.quirks)
    pid = ParticipantId.parse(participant.id.uri)
    service = next(s for s in net.services.values() if s.publication(pid) is not None)
    original = service.publication(pid)
    assert original is not None
    yield service, pid
    service.publish(original)


@pytest.mark.parametrize("corrupt", ["key", "name"])
def test_a_broken_access_point_certificate_is_cannot_receive_not_a_crash(
    net: Sandbox, published: tuple[SmpService, ParticipantId], corrupt: str
) -> None:
    service, pid = published
    pub = service.publication(pid)
    assert pub is not None
    der = _broken(x509.load_der_x509_certificate(pub.ap_certificate), corrupt)
    service.publish(dataclasses.replace(pub, ap_certificate=der))
    with Lookup(net.network) as lk:
        result = lk.check(pid)
    assert result.verdict is Verdict.CANNOT_RECEIVE, str(result)
    check = result.check("ap-certificate")
    assert check is not None
    assert check.status is CheckStatus.FAIL
    assert "cannot be read" in check.message


def test_a_broken_smp_signer_certificate_is_a_failed_signature_not_a_crash(
    net: Sandbox, published: tuple[SmpService, ParticipantId]
) -> None:
    """The SMP signs with its real key and embeds a certificate whose key does not decode (the
    sandbox cannot sign with an unreadable subject; that case is covered by verify_bytes above)."""
    corrupt = "key"
    service, pid = published
    pub = service.publication(pid)
    assert pub is not None
    broken = x509.load_der_x509_certificate(_broken(pub.signer.certificate, corrupt))
    signer = IssuedCertificate(broken, pub.signer.private_key)
    service.publish(dataclasses.replace(pub, signer=signer))
    with Lookup(net.network) as lk:
        result = lk.check(pid)
    assert result.verdict is not Verdict.CAN_RECEIVE, str(result)
    assert result.check("defect") is None, str(result)  # handled, not caught as a defect
    failed = [c for c in result.checks if c.status is CheckStatus.FAIL]
    assert failed[0].name == "signature", str(result)
    assert "does not decode" in failed[0].message


def test_a_defect_below_the_lookup_is_unknown_and_logged(
    net: Sandbox, published: tuple[SmpService, ParticipantId], caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever raises inside a lookup (here an operator registry of the caller's with a bug),
    the lookup answers "unknown" with a sentence asking for a report, and logs the traceback."""
    from peppolnet.operators import OperatorRegistry

    class Buggy(OperatorRegistry):
        def observe(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            raise KeyError("a bug")

    _, pid = published
    with (
        caplog.at_level("ERROR", logger="peppolnet.lookup"),
        Lookup(net.network, operators=Buggy()) as lk,
    ):
        result = lk.check(pid)
    assert result.verdict is Verdict.UNKNOWN, str(result)
    assert not result.retryable
    defect = result.check("defect")
    assert defect is not None
    assert "KeyError" in defect.message
    assert "please report it" in result.reason
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)
