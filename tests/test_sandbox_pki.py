"""The sandbox test PKI: Peppol-shaped certificates, on-disk key cache, and interop with signxml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from peppolnet.sandbox.pki import TestPki
from peppolnet.sandbox.signing import sign_enveloped
from peppolnet.xmldsig import C14N_1_1, EXCLUSIVE_C14N, INCLUSIVE_C14N_1_0

DOC = (
    b'<smp:SignedServiceMetadata xmlns:smp="http://busdox.org/serviceMetadata/publishing/1.0/"'
    b' xmlns="http://busdox.org/transport/identifiers/1.0/"><smp:ServiceMetadata>'
    b'<ParticipantIdentifier scheme="iso6523-actorid-upis">0192:1</ParticipantIdentifier>'
    b"</smp:ServiceMetadata></smp:SignedServiceMetadata>"
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.generate(tmp_path_factory.mktemp("pki"))


def test_ca_shape(pki: TestPki) -> None:
    for ca, pathlen in ((pki.root, 1), (pki.smp_ca, 0), (pki.ap_ca, 0)):
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical
        assert bc.value.ca
        assert bc.value.path_length == pathlen
        ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
        assert ku.key_cert_sign
        assert ku.crl_sign
        ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        subject = ca.subject.rfc4514_string()
        assert "O=peppolnet sandbox" in subject
        assert "C=BE" in subject
        assert "OU=FOR TEST ONLY" in subject
    aki = pki.smp_ca.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = pki.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_leaf_shape(pki: TestPki) -> None:
    smp = pki.issue_smp_certificate("PSE000042", "Operator AB", "SE").certificate
    ap = pki.issue_ap_certificate("PSE000042", "Operator AB", "SE").certificate
    assert smp.subject.rfc4514_string() == "CN=PSE000042,OU=PEPPOL TEST SMP,O=Operator AB,C=SE"
    assert "OU=PEPPOL TEST AP" in ap.subject.rfc4514_string()
    assert smp.issuer == pki.smp_ca.subject
    assert ap.issuer == pki.ap_ca.subject
    ku = smp.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature
    assert ku.key_encipherment
    assert not ku.key_cert_sign
    assert not smp.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_quirk_dates(pki: TestPki) -> None:
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    cert = pki.issue_smp_certificate(
        "PBE000001", "X", "BE", not_before=past, not_after=past + dt.timedelta(days=1)
    ).certificate
    assert cert.not_valid_after_utc == past + dt.timedelta(days=1)


def test_keys_are_cached_and_loaded_without_regeneration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = TestPki.generate(tmp_path)
    leaf1 = first.issue_smp_certificate("PBE000002", "X", "BE")
    from cryptography.hazmat.primitives.asymmetric import rsa

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a key was generated again")

    monkeypatch.setattr(rsa, "generate_private_key", boom)
    calls: list[bool] = []
    real_load = serialization.load_pem_private_key

    def spy(data: bytes, password: bytes | None, **kw: bool) -> object:
        calls.append(kw.get("unsafe_skip_rsa_key_validation", False))
        return real_load(data, password, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(serialization, "load_pem_private_key", spy)
    second = TestPki.load_or_create(tmp_path)
    leaf2 = second.issue_smp_certificate("PBE000002", "X", "BE")
    assert second.root == first.root
    assert second.smp_ca == first.smp_ca
    assert leaf2.private_key.public_key() == leaf1.private_key.public_key()
    assert calls
    assert all(calls)
    assert second.tls_ca_pem_path.read_bytes() == first.root.public_bytes(
        serialization.Encoding.PEM
    )


def test_tls_certificate(pki: TestPki) -> None:
    tls = pki.issue_tls_certificate().certificate
    san = tls.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    tls.verify_directly_issued_by(pki.root)


@pytest.mark.parametrize("c14n", [INCLUSIVE_C14N_1_0, EXCLUSIVE_C14N, C14N_1_1])
def test_signxml_accepts_our_signatures(pki: TestPki, c14n: str) -> None:
    signxml = pytest.importorskip("signxml", reason="signxml (test-only) is not installed")
    issued = pki.issue_smp_certificate("PBE000003", "X", "BE")
    root = etree.fromstring(DOC)
    sign_enveloped(root, issued.private_key, issued.certificate, c14n=c14n)
    config = signxml.SignatureConfiguration(
        default_reference_c14n_method=signxml.CanonicalizationMethod.CANONICAL_XML_1_0
    )
    result = signxml.XMLVerifier().verify(
        etree.tostring(root), x509_cert=issued.certificate, expect_config=config
    )
    assert b"0192:1" in etree.tostring(result.signed_xml)
