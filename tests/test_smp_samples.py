"""Every real SMP sample under refdata parses (or, if a template, fails with a typed error)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from peppolnet.errors import InvalidSmpDocument
from peppolnet.identifiers import BIS_BILLING_INVOICE, BIS_BILLING_PROCESS, ParticipantId
from peppolnet.smp import (
    Dialect,
    Redirect,
    ServiceGroup,
    ServiceMetadata,
    parse_document,
    select,
)
from peppolnet.smp.wildcard import candidates

pytestmark = pytest.mark.interop

SAMPLE_DIRS = ("smp-peppol", "smp-bdxr1", "smp-bdxr2")
# PROVENANCE.md marks these CEF conformance templates INVALID (placeholders like ID_SCHEME).
TEMPLATES_EXPECTED_TO_FAIL = {
    "ServiceGroup-template.xml": "ID_SCHEME",
    "SignedServiceMetadata-template.xml": "ID_SCHEME",
    "Redirect-template.xml": "not an absolute http",
}


def _samples(refdata: Path) -> list[Path]:
    found = sorted(p for d in SAMPLE_DIRS for p in (refdata / "samples" / d).rglob("*.xml"))
    assert len(found) >= 30, "expected the 33 SMP samples of refdata"
    return found


def _read(refdata: Path, rel: str) -> bytes:
    return (refdata / "samples" / rel).read_bytes()


def test_every_sample_parses_or_fails_typed(refdata: Path) -> None:
    parsed = 0
    for path in _samples(refdata):
        data = path.read_bytes()
        if path.name in TEMPLATES_EXPECTED_TO_FAIL:
            with pytest.raises(InvalidSmpDocument, match=TEMPLATES_EXPECTED_TO_FAIL[path.name]):
                parse_document(data)
            continue
        doc = parse_document(data)
        assert isinstance(doc, ServiceGroup | ServiceMetadata | Redirect), path
        expected = {
            "smp-peppol": Dialect.PEPPOL_SMP_1,
            "smp-bdxr1": Dialect.OASIS_SMP_1,
            "smp-bdxr2": Dialect.OASIS_SMP_2,
        }[path.relative_to(refdata / "samples").parts[0]]
        assert doc.dialect is expected, path
        parsed += 1
    assert parsed >= 30


def test_service_group_with_absolute_hrefs(refdata: Path) -> None:
    doc = parse_document(
        _read(refdata, "smp-peppol/vefa-peppol/busdox-servicegroup-0192-991825827.xml")
    )
    assert isinstance(doc, ServiceGroup)
    assert doc.participant == ParticipantId.parse("0192:991825827")
    assert len(doc.references) == 9
    assert len(doc.document_types) == 9
    assert BIS_BILLING_INVOICE in doc.document_types


def test_service_group_legacy_host_with_encoded_slashes(refdata: Path) -> None:
    """hrefs on B-<md5> hosts that encode '/services/' as %2f and use lower-case hex."""
    doc = parse_document(
        _read(refdata, "smp-peppol/vefa-peppol/busdox-servicegroup-docslogistics.xml")
    )
    assert isinstance(doc, ServiceGroup)
    assert doc.participant.bare == "9948:rs062525164"
    assert len(doc.document_types) == len(doc.references) == 25
    assert all(d.scheme == "busdox-docid-qns" for d in doc.document_types)
    assert all("edelivery.tech.ec.europa.eu" in r for r in doc.references)


def test_empty_reference_collection(refdata: Path) -> None:
    doc = parse_document(_read(refdata, "smp-peppol/phoss-smp/sg-9999-test1.xml"))
    assert isinstance(doc, ServiceGroup)
    assert doc.document_types == ()
    assert doc.references == ()


def test_signed_service_metadata_with_three_endpoints(refdata: Path) -> None:
    doc = parse_document(
        _read(refdata, "smp-peppol/vefa-peppol/busdox-servicemetadata-0192-991825827.xml")
    )
    assert isinstance(doc, ServiceMetadata)
    endpoints = doc.endpoints_for(BIS_BILLING_PROCESS)
    assert [e.transport_profile for e in endpoints] == [
        "busdox-transport-as2-ver2p0",
        "busdox-transport-as2-ver1p0",
        "peppol-transport-as4-v2_0",
    ]
    as4 = endpoints[2]
    assert as4.url == "https://ectrade.ec.evry.com/peppol/as4"
    assert as4.certificate is not None
    assert as4.certificate[:1] == b"\x30"
    assert as4.activation == datetime(2020, 7, 31, tzinfo=UTC)
    assert as4.expiration == datetime(2022, 7, 21, 23, 59, 59, tzinfo=UTC)
    assert as4.require_business_level_signature is False
    assert as4.is_active(datetime(2021, 1, 1, tzinfo=UTC))
    assert not as4.is_active(datetime(2023, 1, 1, tzinfo=UTC))


def test_wildcard_sample_trims_identifier_whitespace(refdata: Path) -> None:
    doc = parse_document(
        _read(
            refdata,
            "smp-peppol/vefa-peppol/peppol-doctype-wildcard-servicemetadata-9901-pint_c4_jp_sb.xml",
        )
    )
    assert isinstance(doc, ServiceMetadata)
    assert doc.document_type.scheme == "peppol-doctype-wildcard"
    assert doc.document_type.customization_id == "urn:peppol:pint:billing-3.0@jp:peppol-1*"
    # A request for a more specific Japanese PINT type selects this registration.
    from peppolnet.identifiers import DocumentTypeId

    requested = DocumentTypeId.parse(
        "peppol-doctype-wildcard::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
        "##urn:peppol:pint:billing-3.0@jp:peppol-1@sub-1::2.1"
    )
    assert doc.document_type in candidates(requested)
    assert select(requested, [doc.document_type]) == doc.document_type


def test_redirect_sample(refdata: Path) -> None:
    doc = parse_document(
        _read(refdata, "smp-peppol/vefa-peppol/busdox-servicemetadata-redirect-0192-991825827.xml")
    )
    assert isinstance(doc, Redirect)
    assert doc.target_url.startswith("http://test-smp2.difi.no/iso6523-actorid-upis%3A%3A0192")
    assert doc.certificate_uid == (
        "C=NO,O=Direktoratet for Forvaltning og IKT,OU=PEPPOL TEST SMP,CN=PNO000179"
    )
    assert doc.participant == ParticipantId.parse("0192:991825827")
    assert doc.document_type is not None
    assert doc.document_type.root_local_name == "OrderResponse"


def test_redirect_sample_names_the_redirected_samples_signer(refdata: Path) -> None:
    """The real pair: the redirect's CertificateUID is the signer's subject, and stays it in
    any other legal spelling (letter case, spaces, the other RDN order)."""
    from peppolnet.smp.client import subject_matches_uid
    from peppolnet.xmldsig import SignaturePolicy, verify_bytes

    redirect = parse_document(
        _read(refdata, "smp-peppol/vefa-peppol/busdox-servicemetadata-redirect-0192-991825827.xml")
    )
    assert isinstance(redirect, Redirect)
    signer = verify_bytes(
        _read(
            refdata, "smp-peppol/vefa-peppol/busdox-servicemetadata-redirected-0192-991825827.xml"
        ),
        policy=SignaturePolicy.legacy(),
    ).certificate.subject
    uid = redirect.certificate_uid
    assert uid is not None
    assert subject_matches_uid(signer, uid)
    assert subject_matches_uid(signer, uid.lower().replace(",", ", "))
    assert subject_matches_uid(signer, ",".join(reversed(uid.split(","))))
    assert not subject_matches_uid(signer, uid.replace("PNO000179", "PNO000178"))


def test_bdxr1_draft_namespace_metadata(refdata: Path) -> None:
    doc = parse_document(
        _read(refdata, "smp-bdxr1/vefa-peppol/bdxr201407-servicemetadata-9908-810418052.xml")
    )
    assert isinstance(doc, ServiceMetadata)
    (endpoint,) = doc.endpoints
    assert endpoint.url == "https://test-aksesspunkt.difi.no/as2"
    assert endpoint.minimum_authentication_level == "1"
    assert endpoint.require_business_level_signature is True
    # 2013-11-08T01:00:00.000+01:00 is midnight UTC
    assert endpoint.activation == datetime(2013, 11, 8, tzinfo=UTC)


def test_bdxr2_examples(refdata: Path) -> None:
    group = parse_document(_read(refdata, "smp-bdxr2/oasis/simpleGroupExample.xml"))
    assert isinstance(group, ServiceGroup)
    assert len(group.document_types) == 2
    assert group.references == ()
    meta = parse_document(_read(refdata, "smp-bdxr2/oasis/simpleMetadataExample.xml"))
    assert isinstance(meta, ServiceMetadata)
    (endpoint,) = meta.endpoints
    assert endpoint.url == "https://ap.example.com/as2"
    assert endpoint.transport_profile == "busdox-transport-as2-ver1p0"
    # xs:date: activation at the start, expiration at the end of the day
    assert endpoint.activation == datetime(2018, 4, 12, tzinfo=UTC)
    assert endpoint.expiration == datetime(2020, 4, 12, 23, 59, 59, 999999, tzinfo=UTC)
    assert endpoint.certificate is not None
    assert endpoint.certificate[:1] == b"\x30"


def test_non_base64_certificate_is_reported_not_fatal(refdata: Path) -> None:
    doc = parse_document(_read(refdata, "smp-peppol/phoss-smp/peppol-service-metadata.xml"))
    assert isinstance(doc, ServiceMetadata)
    (endpoint,) = doc.endpoints
    assert endpoint.certificate is None
    assert endpoint.certificate_problem is not None
    assert "base64" in endpoint.certificate_problem
