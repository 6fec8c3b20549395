"""XML signature verification: real samples (legacy rsa-sha1) and sandbox-signed documents."""

from __future__ import annotations

import contextlib
import copy
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from peppolnet.errors import (
    AlgorithmNotAllowed,
    InvalidSignature,
    InvalidSmpDocument,
    PeppolnetError,
    UnsafeXml,
)
from peppolnet.network import LEGACY_G2_PRODUCTION, LEGACY_G2_TEST
from peppolnet.pki import CertificateFacts, validate_chain
from peppolnet.sandbox.pki import IssuedCertificate, TestPki
from peppolnet.sandbox.signing import sign_enveloped
from peppolnet.xmldsig import (
    C14N_1_1,
    DS_NS,
    EXCLUSIVE_C14N,
    INCLUSIVE_C14N_1_0,
    RSA_SHA1,
    SHA1,
    SignaturePolicy,
    find_signature,
    parse_xml,
    verify_bytes,
    verify_enveloped,
)

SMP = "http://busdox.org/serviceMetadata/publishing/1.0/"
DOC = (
    b'<smp:SignedServiceMetadata xmlns:smp="http://busdox.org/serviceMetadata/publishing/1.0/"'
    b' xmlns="http://busdox.org/transport/identifiers/1.0/"'
    b' xmlns:wsa="http://www.w3.org/2005/08/addressing">\n'
    b"  <smp:ServiceMetadata><smp:ServiceInformation>"
    b'<ParticipantIdentifier scheme="iso6523-actorid-upis">0192:991825827</ParticipantIdentifier>'
    b"<smp:ProcessList><smp:Process><smp:ServiceEndpointList>"
    b'<smp:Endpoint transportProfile="peppol-transport-as4-v2_0"><wsa:EndpointReference>'
    b"<wsa:Address>https://ap.example.com/as4</wsa:Address></wsa:EndpointReference>"
    b"</smp:Endpoint></smp:ServiceEndpointList></smp:Process></smp:ProcessList>"
    b"</smp:ServiceInformation></smp:ServiceMetadata>\n"
    b"</smp:SignedServiceMetadata>"
)

STRICT = SignaturePolicy.strict()
LEGACY = SignaturePolicy.legacy()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.generate(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def smp_cert(pki: TestPki) -> IssuedCertificate:
    return pki.issue_smp_certificate("PBE000123", "Sandbox SMP", "BE")


def signed(smp_cert: IssuedCertificate, doc: bytes = DOC, **kw: str) -> bytes:
    root = etree.fromstring(doc)
    sign_enveloped(root, smp_cert.private_key, smp_cert.certificate, **kw)
    return etree.tostring(root)


# --- real samples ---------------------------------------------------------------------------

SIGNED_SAMPLES = {
    # file name -> which network's SMP CA signed it (PROVENANCE.md), None = G1 (CA not available)
    "smp-bdxr1/vefa-peppol/bdxr201407-servicemetadata-9908-810418052.xml": None,
    "smp-peppol/vefa-peppol/busdox-servicemetadata-9933-061828591.xml": None,
    "smp-peppol/vefa-peppol/busdox-servicemetadata-0192-991825827.xml": "prod",
    **{
        f"smp-peppol/vefa-peppol/{name}": "test"
        for name in (
            "busdox-servicemetadata-0192-12345678-1.xml",
            "busdox-servicemetadata-0192-12345678-2.xml",
            "busdox-servicemetadata-0192-12345678-3.xml",
            "busdox-servicemetadata-0192-923829644-1.xml",
            "busdox-servicemetadata-0192-923829644-2.xml",
            "busdox-servicemetadata-0192-923829644-3.xml",
            "busdox-servicemetadata-0192-98765432-1.xml",
            "busdox-servicemetadata-0192-98765432-2.xml",
            "busdox-servicemetadata-0192-98765432-3.xml",
            "busdox-servicemetadata-9908-12345678.xml",
            "busdox-servicemetadata-9908-923829644.xml",
            "busdox-servicemetadata-9908-98765432.xml",
            "busdox-servicemetadata-redirect-0192-991825827.xml",
            "busdox-servicemetadata-redirected-0192-991825827.xml",
            "peppol-doctype-wildcard-servicemetadata-9901-pint_c4_jp_sb.xml",
        )
    },
}


def _provenance_verdicts(refdata: Path) -> dict[str, str]:
    verdicts = {}
    for line in (refdata / "PROVENANCE.md").read_text().splitlines():
        m = re.match(r"\| `samples/(smp-[^`]+)` \|", line)
        if m:
            verdicts[m.group(1)] = line
    return verdicts


@pytest.mark.interop
def test_every_provenance_verdict_is_reproduced(refdata: Path) -> None:
    verdicts = _provenance_verdicts(refdata)
    assert len(verdicts) >= 30
    verified = 0
    for rel, line in verdicts.items():
        data = (refdata / "samples" / rel).read_bytes()
        if "VERIFIES" in line:
            result = verify_bytes(data, policy=LEGACY)
            assert result.signature_method == RSA_SHA1, rel
            verified += 1
        else:
            with pytest.raises(PeppolnetError):
                verify_bytes(data, policy=LEGACY)
    assert verified == len(SIGNED_SAMPLES) == 18


@pytest.mark.interop
@pytest.mark.parametrize("rel", sorted(SIGNED_SAMPLES))
def test_real_sample_verifies_and_chains(refdata: Path, rel: str) -> None:
    data = (refdata / "samples" / rel).read_bytes()
    with pytest.raises(AlgorithmNotAllowed) as info:
        verify_bytes(data, policy=STRICT)
    assert info.value.step == "algorithm"
    result = verify_bytes(data, policy=LEGACY)
    assert result.digest_method == SHA1
    assert result.c14n_method == INCLUSIVE_C14N_1_0
    assert find_signature(result.signed_root) is None
    generation = SIGNED_SAMPLES[rel]
    if generation is None:
        return
    network = LEGACY_G2_PRODUCTION if generation == "prod" else LEGACY_G2_TEST
    facts = CertificateFacts.from_certificate(result.certificate)
    midlife = facts.not_before + (facts.not_after - facts.not_before) / 2
    path = validate_chain(result.certificate, network.smp_ca, at=midlife)
    assert path[-1] == network.smp_ca[0]


@pytest.mark.interop
def test_real_sample_tampered_endpoint_fails_digest(refdata: Path) -> None:
    rel = "smp-peppol/vefa-peppol/busdox-servicemetadata-0192-12345678-1.xml"
    data = (refdata / "samples" / rel).read_bytes()
    tampered = data.replace(b"https://test-api.basware.com/peppol/as4", b"https://evil.example/as4")
    assert tampered != data
    with pytest.raises(InvalidSignature) as info:
        verify_bytes(tampered, policy=LEGACY)
    assert info.value.step == "digest"


# --- sandbox-signed documents (SHA-256, all c14n variants) ---------------------------------


@pytest.mark.parametrize("c14n", [INCLUSIVE_C14N_1_0, EXCLUSIVE_C14N, C14N_1_1])
def test_sandbox_signed_verifies(smp_cert: IssuedCertificate, pki: TestPki, c14n: str) -> None:
    result = verify_bytes(signed(smp_cert, c14n=c14n), policy=STRICT)
    assert result.c14n_method == c14n
    assert result.certificate == smp_cert.certificate
    assert validate_chain(result.certificate, [pki.smp_ca]) == (
        smp_cert.certificate,
        pki.smp_ca,
    )
    address = result.signed_root.find(".//{http://www.w3.org/2005/08/addressing}Address")
    assert address is not None
    assert address.text == "https://ap.example.com/as4"


def test_oasis2_root_with_c14n11(smp_cert: IssuedCertificate) -> None:
    doc = (
        b'<ServiceMetadata xmlns="http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata"'
        b' xmlns:smb="http://docs.oasis-open.org/bdxr/ns/SMP/2/BasicComponents">'
        b"<smb:SMPVersionID>2.0</smb:SMPVersionID></ServiceMetadata>"
    )
    result = verify_bytes(signed(smp_cert, doc, c14n=C14N_1_1), policy=STRICT)
    assert result.c14n_method == C14N_1_1


def test_rsa_sha1_needs_legacy_policy(smp_cert: IssuedCertificate) -> None:
    data = signed(smp_cert, signature_method=RSA_SHA1, digest_method=SHA1)
    with pytest.raises(AlgorithmNotAllowed):
        verify_bytes(data, policy=STRICT)
    assert verify_bytes(data, policy=LEGACY).signature_method == RSA_SHA1


def test_changed_endpoint_url_fails_digest(smp_cert: IssuedCertificate) -> None:
    data = signed(smp_cert).replace(b"https://ap.example.com/as4", b"https://evil.example/as4")
    with pytest.raises(InvalidSignature) as info:
        verify_bytes(data, policy=STRICT)
    assert info.value.step == "digest"


def test_reindented_document_fails_digest(smp_cert: IssuedCertificate) -> None:
    data = signed(smp_cert).replace(b"\n  <smp:ServiceMetadata>", b"\n    <smp:ServiceMetadata>")
    with pytest.raises(InvalidSignature) as info:
        verify_bytes(data, policy=STRICT)
    assert info.value.step == "digest"


def test_changed_signed_info_fails_signature_value(smp_cert: IssuedCertificate) -> None:
    root = etree.fromstring(signed(smp_cert))
    root.find(f".//{{{DS_NS}}}Reference").set("Id", "x")  # type: ignore[union-attr]
    with pytest.raises(InvalidSignature) as info:
        verify_enveloped(root, policy=STRICT)
    assert info.value.step == "signature-value"


def test_other_key_fails_signature_value(smp_cert: IssuedCertificate, pki: TestPki) -> None:
    other = pki.issue_ap_certificate("PBE000999", "Other", "BE")
    root = etree.fromstring(signed(smp_cert))
    cert_el = root.find(f".//{{{DS_NS}}}X509Certificate")
    assert cert_el is not None
    cert_el.text = etree.fromstring(signed(other)).findtext(f".//{{{DS_NS}}}X509Certificate")
    with pytest.raises(InvalidSignature) as info:
        verify_enveloped(root, policy=STRICT)
    assert info.value.step == "signature-value"


def test_moved_signature_is_structure_error(smp_cert: IssuedCertificate) -> None:
    root = etree.fromstring(signed(smp_cert))
    sig = find_signature(root)
    assert sig is not None
    root.insert(0, sig)  # first child: the digest would still match, the place does not
    with pytest.raises(InvalidSignature, match="last element") as info:
        verify_enveloped(root, policy=STRICT)
    assert info.value.step == "structure"
    root2 = etree.fromstring(signed(smp_cert))
    sig2 = find_signature(root2)
    assert sig2 is not None
    root2[0].append(sig2)  # inside ServiceMetadata
    with pytest.raises(InvalidSignature, match="direct child"):
        verify_enveloped(root2, policy=STRICT)


def test_second_signature_is_structure_error(smp_cert: IssuedCertificate) -> None:
    root = etree.fromstring(signed(smp_cert))
    sig = find_signature(root)
    assert sig is not None
    root[0].append(copy.deepcopy(sig))
    with pytest.raises(InvalidSignature, match="2 ds:Signature") as info:
        verify_enveloped(root, policy=STRICT)
    assert info.value.step == "structure"


def test_wrapped_root_is_structure_error(smp_cert: IssuedCertificate) -> None:
    original = etree.fromstring(signed(smp_cert))
    wrapper = etree.Element(f"{{{SMP}}}SignedServiceMetadata")
    evil = etree.SubElement(wrapper, f"{{{SMP}}}ServiceMetadata")
    evil.text = "attacker data"
    wrapper.append(original)
    with pytest.raises(InvalidSignature) as info:
        verify_enveloped(wrapper, policy=STRICT)
    assert info.value.step == "structure"


def test_extra_transform_and_uri_rejected(smp_cert: IssuedCertificate) -> None:
    root = etree.fromstring(signed(smp_cert))
    ref = root.find(f".//{{{DS_NS}}}Reference")
    assert ref is not None
    ref.set("URI", "#other")
    with pytest.raises(InvalidSignature, match='URI=""'):
        verify_enveloped(root, policy=STRICT)
    root = etree.fromstring(signed(smp_cert))
    transforms = root.find(f".//{{{DS_NS}}}Transforms")
    assert transforms is not None
    etree.SubElement(
        transforms,
        f"{{{DS_NS}}}Transform",
        Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116",
    )
    with pytest.raises(InvalidSignature, match="transform"):
        verify_enveloped(root, policy=STRICT)


def test_unsigned_and_unknown_root(smp_cert: IssuedCertificate) -> None:
    with pytest.raises(InvalidSignature, match="not signed"):
        verify_bytes(DOC, policy=STRICT)
    with pytest.raises(InvalidSignature, match="root element"):
        verify_bytes(b"<x/>", policy=STRICT)


def test_bad_certificate_step(smp_cert: IssuedCertificate) -> None:
    root = etree.fromstring(signed(smp_cert))
    cert_el = root.find(f".//{{{DS_NS}}}X509Certificate")
    assert cert_el is not None
    cert_el.text = "AAAA"
    with pytest.raises(InvalidSignature) as info:
        verify_enveloped(root, policy=STRICT)
    assert info.value.step == "certificate"


def test_signed_root_is_a_copy_without_signature(smp_cert: IssuedCertificate) -> None:
    root = etree.fromstring(signed(smp_cert))
    result = verify_enveloped(root, policy=STRICT)
    assert result.signed_root is not root
    assert find_signature(root) is not None
    assert find_signature(result.signed_root) is None


def test_doctype_and_entities_rejected() -> None:
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(UnsafeXml):
        parse_xml(bomb)
    with pytest.raises(UnsafeXml, match="deep"):
        parse_xml(b"<a>" * 100 + b"</a>" * 100)
    with pytest.raises(InvalidSmpDocument, match="line 1"):
        parse_xml(b"<a>")


def test_time_of_certificate_is_not_checked_here(pki: TestPki) -> None:
    expired = pki.issue_smp_certificate(
        "PBE000124",
        "Old SMP",
        "BE",
        not_before=datetime(2020, 1, 1, tzinfo=UTC),
        not_after=datetime(2021, 1, 1, tzinfo=UTC),
    )
    result = verify_bytes(signed(expired), policy=STRICT)
    assert result.certificate == expired.certificate


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_verify_bytes_never_raises_foreign_errors(data: bytes) -> None:
    with contextlib.suppress(PeppolnetError):
        verify_bytes(data, policy=STRICT)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40))
def test_any_text_change_is_detected(smp_cert: IssuedCertificate, text: str) -> None:
    data = signed(smp_cert)
    root = etree.fromstring(data)
    pid = root.find(".//{http://busdox.org/transport/identifiers/1.0/}ParticipantIdentifier")
    assert pid is not None
    if text == pid.text:
        return
    pid.text = text
    with pytest.raises(InvalidSignature) as info:
        verify_enveloped(root, policy=STRICT)
    assert info.value.step == "digest"
