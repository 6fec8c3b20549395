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

from _certificates import padded_certificate
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


@pytest.mark.parametrize("how", ["other hash", "other data", "short", "long", "no signature"])
def test_a_signature_value_that_does_not_open_to_signed_infos_digest_fails(
    smp_cert: IssuedCertificate, how: str
) -> None:
    """The signature value must open (RSA, PKCS #1 v1.5) to exactly the DigestInfo of SHA-256
    over SignedInfo, as SignatureMethod says: the same key's signature with another hash, over
    other bytes, or of the wrong length is refused."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    root = etree.fromstring(signed(smp_cert))
    signed_info = root.find(f".//{{{DS_NS}}}SignedInfo")
    value_el = root.find(f".//{{{DS_NS}}}SignatureValue")
    assert signed_info is not None
    assert value_el is not None
    c14n = etree.tostring(signed_info, method="c14n")
    key = smp_cert.private_key
    value = {
        "other hash": lambda: key.sign(c14n, padding.PKCS1v15(), hashes.SHA384()),
        "other data": lambda: key.sign(c14n + b" ", padding.PKCS1v15(), hashes.SHA256()),
        "short": lambda: base64.b64decode(value_el.text or "")[1:],
        "long": lambda: b"\x00" + base64.b64decode(value_el.text or ""),
        "no signature": lambda: b"\x01" * 256,
    }[how]()
    value_el.text = base64.b64encode(value).decode()
    with pytest.raises(InvalidSignature) as info:
        verify_enveloped(root, policy=STRICT)
    assert info.value.step == "signature-value"


def test_a_signature_value_without_its_leading_zero_octet_fails(
    smp_cert: IssuedCertificate,
) -> None:
    """RFC 8017 8.2.2: a signature is exactly as long as the modulus. The same value with its
    leading zero octet left out opens to the right digest all the same, and is refused."""
    import base64
    import itertools

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    root = etree.fromstring(signed(smp_cert))
    signed_info = root.find(f".//{{{DS_NS}}}SignedInfo")
    reference = root.find(f".//{{{DS_NS}}}Reference")
    value_el = root.find(f".//{{{DS_NS}}}SignatureValue")
    assert signed_info is not None
    assert reference is not None
    assert value_el is not None
    for n in itertools.count():  # about 256 signatures until one starts with a zero octet
        reference.set("Id", f"r{n}")  # signed content, so each try is another signature
        value = smp_cert.private_key.sign(
            etree.tostring(signed_info, method="c14n"), padding.PKCS1v15(), hashes.SHA256()
        )
        if value[0] == 0:
            break
    value_el.text = base64.b64encode(value).decode()
    assert verify_enveloped(root, policy=STRICT).certificate is not None  # the whole value
    value_el.text = base64.b64encode(value[1:]).decode()
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


# --- C14N of SignedInfo (in place when safe, else a detached copy) against a reference --------

_URIS = ("urn:a", "urn:b", DS_NS)
_TEXTS = ("", "t", " a&amp;b ", "&lt;x&gt;\"'", "&#13;\n", "\n  ")
_VALUES = ("", "v", "a&amp;b'", "&lt;&quot;&#9;&#10;&#13;>")
_ATTR_NS = "urn:attr"  # bound once to the prefix "at", so attribute prefixes are unambiguous


@st.composite
def _namespace_layouts(draw: st.DrawFn) -> str:
    """A document root > Signature > SignedInfo > nested children, namespaces placed at random.

    Every element may declare a default namespace (or undeclare it with ``xmlns=""``) and
    prefixes (also binding one URI twice), use a prefix in scope or none, and carry ``xml:lang``
    or a namespaced attribute: the shapes real SMPs (``<Signature xmlns="...xmldsig#">`` under a
    default-namespace root, ``xmlns:ns4`` for the same URI), the sandbox (``ds:``) and odd ones
    produce.
    """

    def element(name: str, scope: dict[str, str], depth: int) -> str:
        declared: dict[str, str] = {"at": _ATTR_NS} if name == "r" else {}
        if draw(st.booleans()):
            declared[""] = draw(st.sampled_from((*_URIS, "")))
        for prefix in draw(st.lists(st.sampled_from(("ds", "p", "q")), max_size=2, unique=True)):
            declared[prefix] = draw(st.sampled_from(_URIS))
        inner = {**scope, **declared}
        prefixes = [p for p, uri in inner.items() if p and p != "at" and uri]
        prefix = draw(st.sampled_from(["", *prefixes]))
        qname = f"{prefix}:{name}" if prefix else name
        attrs = [f'xmlns:{p}="{u}"' if p else f'xmlns="{u}"' for p, u in declared.items()]
        if draw(st.booleans()):
            attrs.append(f'Algorithm="{draw(st.sampled_from(_VALUES))}"')
        if draw(st.integers(0, 4)) == 0:
            attrs.append('xml:lang="en"')
        if draw(st.integers(0, 3)) == 0:
            attrs.append('at:x="1"')
        children = ""
        if depth > 0:
            names = (
                ("Signature",) if name == "r" else ("SignedInfo",) if name == "Signature" else ()
            )
            count = 1 if names else draw(st.integers(0, 2))
            for i in range(count):
                child = names[0] if names else f"c{i}"
                children += element(child, inner, depth - 1) + draw(st.sampled_from(_TEXTS))
        text = draw(st.sampled_from(_TEXTS))
        return f"<{' '.join([qname, *attrs])}>{text}{children}</{qname}>"

    return element("r", {}, 5)


def _reference_c14n(apex: etree._Element, method: str) -> bytes:
    """C14N 1.0 / 1.1 / exclusive of the subtree ``apex`` written from the specifications.

    Independent of lxml's C14N: only the shapes ``_namespace_layouts`` makes (no comments, no
    PIs, no ``xml:base``/``xml:id``, attribute prefixes unambiguous).
    """
    exclusive = method == EXCLUSIVE_C14N
    xml_ns = "http://www.w3.org/XML/1998/namespace"

    def text(t: str | None) -> str:
        t = t or ""
        return (
            t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;")
        )

    def value(v: str) -> str:
        for a, b in (
            ("&", "&amp;"),
            ("<", "&lt;"),
            ('"', "&quot;"),
            ("\t", "&#x9;"),
            ("\n", "&#xA;"),
            ("\r", "&#xD;"),
        ):
            v = v.replace(a, b)
        return v

    def walk(el: etree._Element, rendered: dict[str, str], is_apex: bool) -> str:
        scope = {(p or ""): u for p, u in el.nsmap.items()}
        attrs = {str(k): str(v) for k, v in el.attrib.items()}
        if is_apex and not exclusive:  # xml:* attributes are inherited into a subset's apex
            for ancestor in el.iterancestors():
                for k, v in ancestor.attrib.items():
                    if str(k).startswith(f"{{{xml_ns}}}"):
                        attrs.setdefault(str(k), str(v))
        if exclusive:
            used = {el.prefix or ""} | {"at" for k in attrs if k.startswith(f"{{{_ATTR_NS}}}")}
            declare = {p: scope.get(p, "") for p in used if rendered.get(p, "") != scope.get(p, "")}
        else:
            declare = {p: u for p, u in scope.items() if rendered.get(p, "") != u}
            if "" not in scope and rendered.get("", ""):
                declare[""] = ""
        out = [
            f"{el.prefix}:{etree.QName(el).localname}" if el.prefix else etree.QName(el).localname
        ]
        qname = out[0]
        for p in sorted(declare):
            out.append(f'xmlns:{p}="{value(declare[p])}"' if p else f'xmlns="{value(declare[p])}"')
        keyed = []
        for k, v in attrs.items():
            q = etree.QName(k)
            uri = q.namespace or ""
            name = (
                f"xml:{q.localname}"
                if uri == xml_ns
                else f"at:{q.localname}"
                if uri
                else q.localname
            )
            keyed.append(((uri, q.localname), f'{name}="{value(v)}"'))
        out.extend(a for _, a in sorted(keyed))
        inner = {**rendered, **declare}
        children = "".join(walk(c, inner, False) + text(c.tail) for c in el)
        return f"<{' '.join(out)}>{text(el.text)}{children}</{qname}>"

    return walk(apex, {}, True).encode()


@settings(max_examples=400, deadline=None)
@given(_namespace_layouts(), st.sampled_from([INCLUSIVE_C14N_1_0, EXCLUSIVE_C14N, C14N_1_1]))
def test_signed_info_c14n_matches_the_specification(layout: str, method: str) -> None:
    from peppolnet.xmldsig import _canonicalize

    signed_info = etree.fromstring(layout.encode())[0][0]
    expected = _reference_c14n(signed_info, method)
    assert _canonicalize(signed_info, method, None, whole_document=False) == expected


def test_default_namespace_signature_under_default_namespace_root() -> None:
    # The shape of most real SMP answers, and the one lxml's in-place C14N gets wrong.
    root = etree.fromstring(
        f'<r xmlns="urn:a" xmlns:x="urn:x"><Signature xmlns="{DS_NS}"><SignedInfo>'
        '<Reference URI=""><Transforms><Transform Algorithm="e"/></Transforms></Reference>'
        "</SignedInfo></Signature></r>".encode()
    )
    from peppolnet.xmldsig import _canonicalize

    c14n = _canonicalize(root[0][0], INCLUSIVE_C14N_1_0, None, whole_document=False)
    assert c14n.startswith(
        f'<SignedInfo xmlns="{DS_NS}" xmlns:x="urn:x"><Reference URI=""><Transforms>'.encode()
    )
    assert b'xmlns=""' not in c14n


def test_standalone_signed_info_from_a_callers_tree_is_still_refused_when_unparseable() -> None:
    """The re-parse of SignedInfo's serialisation skips parse_xml's walks over the tree
    (xmlsafe.parse_serialised); a caller's tree whose SignedInfo does not survive that parse
    (here an entity reference, which only a DTD could define) is an invalid signature."""
    from peppolnet.xmldsig import _canonicalize

    root = etree.fromstring(
        f'<r xmlns="urn:a"><Signature xmlns="{DS_NS}"><SignedInfo>'
        '<Reference URI=""/></SignedInfo></Signature></r>'.encode()
    )
    signed_info = root[0][0]
    signed_info[0].append(etree.Entity("secret"))
    with pytest.raises(InvalidSignature, match="cannot be canonicalised") as info:
        _canonicalize(signed_info, INCLUSIVE_C14N_1_0, None, whole_document=False)
    assert info.value.step == "structure"


# --- the signer's certificate is loaded once per certificate text ----------------------------


def _certificate_text(data: bytes) -> str:
    text = etree.fromstring(data).findtext(f".//{{{DS_NS}}}X509Certificate")
    assert text is not None
    return text


def test_certificate_memo_is_keyed_by_the_whole_text(
    smp_cert: IssuedCertificate, pki: TestPki
) -> None:
    other = pki.issue_smp_certificate("PBE000456", "Other SMP", "BE")
    ours, theirs = signed(smp_cert), signed(other)
    first, second = verify_bytes(ours, policy=STRICT), verify_bytes(ours, policy=STRICT)
    assert first.certificate is second.certificate  # loaded once, shared (immutable)
    assert first.certificate == smp_cert.certificate
    assert verify_bytes(theirs, policy=STRICT).certificate == other.certificate
    # Another certificate's text in our document (cache warm for both): never our certificate.
    swapped = ours.replace(_certificate_text(ours).encode(), _certificate_text(theirs).encode())
    with pytest.raises(InvalidSignature) as info:
        verify_bytes(swapped, policy=STRICT)
    assert info.value.step == "signature-value"
    # One character changed: decoded afresh, and no longer our certificate.
    text = _certificate_text(ours)
    middle = len(text) // 2
    changed = text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]
    with pytest.raises(InvalidSignature) as info:
        verify_bytes(ours.replace(text.encode(), changed.encode()), policy=STRICT)
    assert info.value.step in ("certificate", "signature-value")


def test_certificate_text_with_line_breaks_is_the_same_certificate(
    smp_cert: IssuedCertificate,
) -> None:
    data = signed(smp_cert)
    text = _certificate_text(data)
    wrapped = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    result = verify_bytes(data.replace(text.encode(), wrapped.encode()), policy=STRICT)
    assert result.certificate == smp_cert.certificate


def test_a_long_certificate_text_is_loaded_afresh_every_time(
    smp_cert: IssuedCertificate, pki: TestPki
) -> None:
    """Texts over 16 kB are never remembered (a hostile SMP's certificate may be as long as its
    document), and still verify, chain and compare equal."""
    big = padded_certificate(pki, "PBE000321", 40_000, smp_cert.private_key.public_key())
    root = etree.fromstring(DOC)
    sign_enveloped(root, smp_cert.private_key, big)
    data = etree.tostring(root)
    assert len(_certificate_text(data)) > 16 * 1024
    first, second = verify_bytes(data, policy=STRICT), verify_bytes(data, policy=STRICT)
    assert first.certificate is not second.certificate
    assert first.certificate == second.certificate == big
    assert validate_chain(second.certificate, [pki.smp_ca])[0] == big
    # the usual certificate is remembered
    usual = signed(smp_cert)
    assert (
        verify_bytes(usual, policy=STRICT).certificate
        is verify_bytes(usual, policy=STRICT).certificate
    )


# --- what is digested, and which tree comes back ------------------------------------------------


def test_in_place_verification_returns_the_callers_tree_without_signature(
    smp_cert: IssuedCertificate,
) -> None:
    root = etree.fromstring(signed(smp_cert))
    result = verify_enveloped(root, policy=STRICT, in_place=True)
    assert result.signed_root is root
    assert find_signature(root) is None
    assert not list(root.iter(f"{{{DS_NS}}}Signature"))


def test_text_around_the_signature_is_signed_content(smp_cert: IssuedCertificate) -> None:
    root = etree.fromstring(signed(smp_cert))
    sig = find_signature(root)
    assert sig is not None
    previous = sig.getprevious()
    assert previous is not None
    assert previous.tail == "\n"
    # The same text after the signature instead of before it: the same document once the
    # signature is removed, so it still verifies (with the text kept, in place or copied).
    previous.tail, sig.tail = None, "\n"
    for in_place in (False, True):
        tree = copy.deepcopy(root)
        result = verify_enveloped(tree, policy=STRICT, in_place=in_place)
        assert etree.tostring(result.signed_root).endswith(
            b"</smp:ServiceMetadata>\n</smp:SignedServiceMetadata>"
        )
    # Extra text after the signature is a change of the signed content.
    sig.tail = "\nextra"
    with pytest.raises(InvalidSignature) as info:
        verify_enveloped(root, policy=STRICT)
    assert info.value.step == "digest"


def test_processing_instruction_before_the_root_is_signed(smp_cert: IssuedCertificate) -> None:
    document = etree.fromstring(
        b"<?note a?>" + DOC.replace(b"<smp:Signed", b"<smp:Signed", 1)
    ).getroottree()
    root = document.getroot()
    sign_enveloped(root, smp_cert.private_key, smp_cert.certificate)
    data = etree.tostring(document)
    assert data.startswith(b"<?note a?>")
    assert verify_bytes(data, policy=STRICT).certificate == smp_cert.certificate
    assert verify_enveloped(parse_xml(data), policy=STRICT).certificate == smp_cert.certificate
    with pytest.raises(InvalidSignature) as info:
        verify_bytes(data.replace(b"<?note a?>", b"<?note b?>"), policy=STRICT)
    assert info.value.step == "digest"


def test_signed_element_cut_out_of_a_bigger_document(smp_cert: IssuedCertificate) -> None:
    signed_root = etree.fromstring(signed(smp_cert))
    wrapper = etree.Element("wrapper")
    etree.SubElement(wrapper, "unsigned").text = "attacker data"
    wrapper.append(signed_root)
    wrapper.remove(signed_root)  # parentless, but still inside the wrapper's document
    for in_place in (False, True):
        result = verify_enveloped(signed_root, policy=STRICT, in_place=in_place)
        assert b"attacker data" not in etree.tostring(result.signed_root.getroottree())
        assert result.signed_root.getparent() is None


def test_foreign_elements_in_the_signature_are_structure_errors(
    smp_cert: IssuedCertificate,
) -> None:
    root = etree.fromstring(signed(smp_cert))
    key_info = root.find(f".//{{{DS_NS}}}KeyInfo")
    assert key_info is not None
    key_info.tag = "KeyInfo"  # same local name, no namespace
    with pytest.raises(InvalidSignature) as info:
        verify_enveloped(root, policy=STRICT)
    assert info.value.step == "structure"
    root = etree.fromstring(signed(smp_cert))
    transform = root.find(f".//{{{DS_NS}}}Transform")
    assert transform is not None
    transform.tag = "{urn:other}Transform"
    with pytest.raises(InvalidSignature, match="ds:Transform"):
        verify_enveloped(root, policy=STRICT)


def test_a_relative_namespace_uri_is_an_invalid_signature(smp_cert: IssuedCertificate) -> None:
    """libxml2's C14N refuses a relative namespace URI that parsing accepts (found by the long
    fuzz run: it escaped as lxml's C14NError)."""
    document = signed(smp_cert).replace(b'xmlns="', b'xmlns:rel="//relative" xmlns="', 1)
    with pytest.raises(InvalidSignature, match="cannot be canonicalised"):
        verify_bytes(document, policy=STRICT)


def test_comments_between_the_signatures_parts_take_the_general_path(
    smp_cert: IssuedCertificate,
) -> None:
    """The usual layout is checked with one slice per element; comments between the parts send
    the check the general way, which accepts them (C14N without comments drops those inside
    SignedInfo) and still refuses a foreign element beside them."""
    ds = f"{{{DS_NS}}}"
    root = etree.fromstring(signed(smp_cert))
    for name in ("Signature", "SignedInfo", "Reference", "Transforms"):
        parent = root.find(f".//{ds}{name}") if name != "Signature" else root[-1]
        assert parent is not None
        parent.insert(1, etree.Comment(f" inside {name} "))
    data = etree.tostring(root)
    assert data.count(b"<!--") == 4
    result = verify_bytes(data, policy=STRICT)
    assert result.certificate == smp_cert.certificate
    for name, extra in (
        ("Signature", f"{ds}Object"),
        ("SignedInfo", f"{ds}Reference"),
        ("Reference", f"{ds}DigestValue"),
        ("Transforms", f"{ds}Other"),
    ):
        root = etree.fromstring(data)
        parent = root.find(f".//{ds}{name}") if name != "Signature" else root[-1]
        assert parent is not None
        etree.SubElement(parent, extra)
        with pytest.raises(InvalidSignature) as info:
            verify_bytes(etree.tostring(root), policy=STRICT)
        assert info.value.step == "structure"
        assert name in str(info.value)
