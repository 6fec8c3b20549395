# ruff: noqa: E501  (inline XML fixtures read better unbroken)
"""The SMP parser on hand-written documents: dialects, tolerance, errors, hostile input."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peppolnet.errors import InvalidInput, InvalidSmpDocument, UnsafeXml
from peppolnet.identifiers import BIS_BILLING_INVOICE, BIS_BILLING_PROCESS, ParticipantId
from peppolnet.smp import (
    Dialect,
    Endpoint,
    Redirect,
    ServiceGroup,
    ServiceMetadata,
    detect,
    parse_document,
)
from peppolnet.xmlsafe import parse_xml

SMP = "http://busdox.org/serviceMetadata/publishing/1.0/"
IDS = "http://busdox.org/transport/identifiers/1.0/"
WSA = "http://www.w3.org/2005/08/addressing"
OASIS1 = "http://docs.oasis-open.org/bdxr/ns/SMP/2016/05"
CERT = base64.b64encode(b"\x30\x82\x01\x00fake-der").decode()


def peppol_metadata(endpoint_extra: str = "", *, doc: str | None = None, cert: str = CERT) -> bytes:
    doctype = doc if doc is not None else BIS_BILLING_INVOICE.value
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<q:SignedServiceMetadata xmlns:q="{SMP}" xmlns:i="{IDS}" xmlns:w="{WSA}">
 <q:ServiceMetadata><q:ServiceInformation>
  <i:ParticipantIdentifier scheme="iso6523-actorid-upis">
     0007:5567321707
  </i:ParticipantIdentifier>
  <i:DocumentIdentifier scheme="busdox-docid-qns">{doctype}</i:DocumentIdentifier>
  <q:ProcessList><q:Process>
   <i:ProcessIdentifier scheme="cenbii-procid-ubl">{BIS_BILLING_PROCESS.value}</i:ProcessIdentifier>
   <q:ServiceEndpointList>
    <q:Endpoint transportProfile="peppol-transport-as4-v2_0">
     <w:EndpointReference><w:Address> https://ap.example/as4 </w:Address>
      <w:ReferenceParameters/><w:Metadata/></w:EndpointReference>
     <q:RequireBusinessLevelSignature>false</q:RequireBusinessLevelSignature>
     {endpoint_extra}
     <q:Certificate>{cert}</q:Certificate>
     <q:ServiceDescription>AP</q:ServiceDescription>
     <q:TechnicalContactUrl>ops@example.com</q:TechnicalContactUrl>
     <q:TechnicalInformationUrl/>
    </q:Endpoint>
   </q:ServiceEndpointList>
  </q:Process></q:ProcessList>
 </q:ServiceInformation></q:ServiceMetadata>
 <Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/>
</q:SignedServiceMetadata>""".encode()


def test_peppol_metadata_any_prefix() -> None:
    doc = parse_document(peppol_metadata())
    assert isinstance(doc, ServiceMetadata)
    assert doc.dialect is Dialect.PEPPOL_SMP_1
    assert doc.participant == ParticipantId.parse("0007:5567321707")
    assert doc.document_type == BIS_BILLING_INVOICE
    (endpoint,) = doc.endpoints_for(BIS_BILLING_PROCESS)
    assert endpoint.url == "https://ap.example/as4"
    assert endpoint.certificate == b"\x30\x82\x01\x00fake-der"
    assert endpoint.technical_contact == "ops@example.com"
    assert endpoint.technical_information_url is None  # empty optional element
    assert endpoint.activation is None
    assert endpoint.expiration is None
    assert doc.endpoints_for(ParticipantId.parse("0007:1")) == ()  # type: ignore[arg-type]


def test_base64_with_whitespace_and_carriage_returns() -> None:
    wrapped = "&#13;\n   ".join(CERT[i : i + 8] for i in range(0, len(CERT), 8))
    doc = parse_document(peppol_metadata(cert=wrapped))
    assert isinstance(doc, ServiceMetadata)
    assert doc.endpoints[0].certificate == b"\x30\x82\x01\x00fake-der"


_BASE64ISH = st.text(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n\r\t-_!é"),
    max_size=40,
)


@settings(max_examples=500)
@given(_BASE64ISH)
def test_certificate_text_reads_as_whitespace_free_strict_base64(text: str) -> None:
    """The one-line fast path (strict decoding of the text as it is) decides exactly as the
    rule it shortcuts: drop all whitespace, then strict base64."""
    import re

    from peppolnet.smp.parse import _certificate

    el = parse_xml(b"<c/>")
    el.text = text
    compact = re.sub(r"\s+", "", text.strip())
    try:
        expected: bytes | None = base64.b64decode(compact, validate=True) if compact else None
    except (ValueError, TypeError):
        expected = None
    der, problem = _certificate(el)
    assert der == expected
    assert (problem is not None) == (expected is None and compact != "")


def test_identifier_and_address_in_either_namespace_first_in_document_order() -> None:
    """Fields read from one pass over an element's children (not one search per field) still
    take the first element of either accepted namespace, in document order."""
    data = (
        peppol_metadata()
        .replace(
            b"<w:EndpointReference>",
            b"<q:EndpointReference><q:Address>https://first.example/as4</q:Address>"
            b"</q:EndpointReference><w:EndpointReference>",
        )
        .replace(
            b'<i:ProcessIdentifier scheme="cenbii-procid-ubl">',
            b'<q:ProcessIdentifier scheme="cenbii-procid-ubl">first</q:ProcessIdentifier>'
            b'<i:ProcessIdentifier scheme="cenbii-procid-ubl">',
        )
    )
    doc = parse_document(data)
    assert isinstance(doc, ServiceMetadata)
    assert doc.endpoints[0].url == "https://first.example/as4"
    assert doc.processes[0].process_id.value == "first"
    missing = (
        peppol_metadata()
        .replace(b"<i:ProcessIdentifier", b"<i:Other")
        .replace(b"</i:ProcessIdentifier>", b"</i:Other>")
    )
    with pytest.raises(InvalidSmpDocument, match="a Process has no ProcessIdentifier"):
        parse_document(missing)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-03-01Z", datetime(2022, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2022-03-01", datetime(2022, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2022-03-01+01:00", datetime(2022, 3, 1, 22, 59, 59, 999999, tzinfo=UTC)),
        ("2022-03-01T10:00:00Z", datetime(2022, 3, 1, 10, tzinfo=UTC)),
        ("2022-03-01T10:00:00", datetime(2022, 3, 1, 10, tzinfo=UTC)),
        ("2022-03-01T10:00:00.1234567-02:30", datetime(2022, 3, 1, 12, 30, 0, 123456, tzinfo=UTC)),
        ("2022-03-01T24:00:00Z", datetime(2022, 3, 2, tzinfo=UTC)),
    ],
)
def test_expiration_dates_are_lenient(text: str, expected: datetime) -> None:
    doc = parse_document(
        peppol_metadata(f"<q:ServiceExpirationDate>{text}</q:ServiceExpirationDate>")
    )
    assert isinstance(doc, ServiceMetadata)
    assert doc.endpoints[0].expiration == expected


def test_date_only_activation_is_start_of_day() -> None:
    doc = parse_document(
        peppol_metadata("<q:ServiceActivationDate>2022-03-01Z</q:ServiceActivationDate>")
    )
    assert isinstance(doc, ServiceMetadata)
    endpoint = doc.endpoints[0]
    assert endpoint.activation == datetime(2022, 3, 1, tzinfo=UTC)
    assert not endpoint.is_active(datetime(2022, 2, 28, 23, 59, tzinfo=UTC))
    assert endpoint.is_active(datetime(2022, 3, 1, tzinfo=UTC))


@pytest.mark.parametrize("text", ["2022-13-01Z", "tomorrow", "2022-02-30", "2022-03-01T25:00:00Z"])
def test_bad_dates_are_named(text: str) -> None:
    with pytest.raises(InvalidSmpDocument, match="ServiceExpirationDate"):
        parse_document(
            peppol_metadata(f"<q:ServiceExpirationDate>{text}</q:ServiceExpirationDate>")
        )


def test_is_active_bounds_and_naive_time() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)
    endpoint = Endpoint("peppol-transport-as4-v2_0", "https://x", activation=start, expiration=end)
    assert endpoint.is_active(start)
    assert endpoint.is_active(end)
    assert not endpoint.is_active(start - timedelta(microseconds=1))
    assert not endpoint.is_active(end + timedelta(seconds=1))
    assert Endpoint("p", None).is_active(datetime(1970, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="time zone"):
        endpoint.is_active(datetime(2024, 6, 1))


def test_bad_boolean_is_named() -> None:
    data = peppol_metadata().replace(b">false<", b">maybe<")
    with pytest.raises(InvalidSmpDocument, match="RequireBusinessLevelSignature"):
        parse_document(data)


def test_missing_document_identifier_is_named() -> None:
    data = peppol_metadata().replace(b"i:DocumentIdentifier", b"i:Other")
    with pytest.raises(InvalidSmpDocument, match="ServiceMetadata has no DocumentIdentifier"):
        parse_document(data)


def test_missing_transport_profile_is_named() -> None:
    data = peppol_metadata().replace(b' transportProfile="peppol-transport-as4-v2_0"', b"")
    with pytest.raises(InvalidSmpDocument, match="transportProfile"):
        parse_document(data)


def test_unknown_root_is_rejected() -> None:
    with pytest.raises(InvalidSmpDocument, match=r"\{urn:other\}ServiceGroup is not an SMP"):
        parse_document(b'<ServiceGroup xmlns="urn:other"/>')
    with pytest.raises(InvalidSmpDocument, match="not an SMP"):
        parse_document(b"<html/>")


def test_signed_wrapper_without_service_metadata() -> None:
    with pytest.raises(InvalidSmpDocument, match="SignedServiceMetadata has no ServiceMetadata"):
        parse_document(f'<SignedServiceMetadata xmlns="{SMP}"/>'.encode())


def test_service_metadata_without_information_or_redirect_is_named() -> None:
    data = peppol_metadata().replace(b"q:ServiceInformation", b"q:Other")
    with pytest.raises(InvalidSmpDocument, match="neither ServiceInformation nor Redirect"):
        parse_document(data)
    with pytest.raises(InvalidSmpDocument, match="neither ServiceInformation nor Redirect"):
        detect(parse_xml(data))


def test_endpoint_fields_first_of_each_kind_and_comments_ignored() -> None:
    extra = (
        "<!-- a comment between fields --><?pi between?>"
        "<q:ServiceActivationDate>2020-01-01Z</q:ServiceActivationDate>"
        "<q:ServiceActivationDate>2030-01-01Z</q:ServiceActivationDate>"
    )
    doc = parse_document(peppol_metadata(extra))
    assert isinstance(doc, ServiceMetadata)
    (endpoint,) = doc.endpoints
    assert endpoint.activation == datetime(2020, 1, 1, tzinfo=UTC)
    assert endpoint.description == "AP"


def test_identifiers_are_read_per_document() -> None:
    # Identifiers are remembered by their text: each document still gets its own.
    first = parse_document(peppol_metadata())
    other = parse_document(peppol_metadata().replace(b"0007:5567321707", b"0007:5560125790"))
    assert isinstance(first, ServiceMetadata)
    assert isinstance(other, ServiceMetadata)
    assert first.participant == ParticipantId.parse("0007:5567321707")
    assert other.participant == ParticipantId.parse("0007:5560125790")
    assert first.document_type is other.document_type  # same text: one shared immutable value
    # A bad identifier is refused every time, not only the first.
    bad = peppol_metadata().replace(b'scheme="iso6523-actorid-upis"', b'scheme="bad scheme"')
    for _ in range(2):
        with pytest.raises(InvalidSmpDocument, match="not usable"):
            parse_document(bad)


def test_detect_kinds() -> None:
    assert detect(parse_xml(peppol_metadata())) == (Dialect.PEPPOL_SMP_1, "service-metadata")
    group = f'<ServiceGroup xmlns="{OASIS1}"><ParticipantIdentifier scheme="iso6523-actorid-upis">0007:1</ParticipantIdentifier></ServiceGroup>'
    assert detect(parse_xml(group.encode())) == (Dialect.OASIS_SMP_1, "service-group")


def test_oasis1_redirect_and_peppol_redirect_url_check() -> None:
    data = f"""<SignedServiceMetadata xmlns="{OASIS1}"><ServiceMetadata>
      <Redirect href="https://other.example/iso6523-actorid-upis%3A%3A0007%3A1/services/busdox-docid-qns%3A%3Aurn%3Ax%3A%3AInvoice%23%23c%3A%3A2.1">
      <CertificateUID> CN=SMP,C=NO </CertificateUID></Redirect></ServiceMetadata></SignedServiceMetadata>"""
    doc = parse_document(data.encode())
    assert isinstance(doc, Redirect)
    assert doc.dialect is Dialect.OASIS_SMP_1
    assert doc.certificate_uid == "CN=SMP,C=NO"
    assert doc.participant == ParticipantId.parse("0007:1")
    assert doc.document_type is not None
    assert doc.document_type.value == "urn:x::Invoice##c::2.1"
    assert detect(parse_xml(data.encode())) == (Dialect.OASIS_SMP_1, "redirect")
    with pytest.raises(InvalidSmpDocument, match="absolute"):
        parse_document(data.replace("https://other.example", "file://").encode())


def test_service_group_skips_unusable_hrefs_but_keeps_them() -> None:
    data = f"""<ServiceGroup xmlns="{SMP}"><ParticipantIdentifier xmlns="{IDS}" scheme="iso6523-actorid-upis">0007:5567321707</ParticipantIdentifier>
    <ServiceMetadataReferenceCollection>
      <ServiceMetadataReference href="http://smp/iso6523-actorid-upis%3A%3A0007%3A5567321707/services/{BIS_BILLING_INVOICE.url_segment()}"/>
      <ServiceMetadataReference href="http://smp/iso6523-actorid-upis%3A%3A0007%3A5567321707/services/{BIS_BILLING_INVOICE.url_segment()}"/>
      <ServiceMetadataReference href="http://smp/somebody-else/services/x"/>
    </ServiceMetadataReferenceCollection></ServiceGroup>"""
    doc = parse_document(data.encode())
    assert isinstance(doc, ServiceGroup)
    assert doc.document_types == (BIS_BILLING_INVOICE,)
    assert len(doc.references) == 3


def test_oasis2_redirect() -> None:
    data = """<ServiceMetadata xmlns="http://docs.oasis-open.org/bdxr/ns/SMP/2/ServiceMetadata"
      xmlns:b="http://docs.oasis-open.org/bdxr/ns/SMP/2/BasicComponents"
      xmlns:a="http://docs.oasis-open.org/bdxr/ns/SMP/2/AggregateComponents">
      <b:SMPVersionID>2.0</b:SMPVersionID>
      <b:ID schemeID="busdox-docid-qns">urn:x::Invoice##c::2.1</b:ID>
      <b:ParticipantID schemeID="iso6523-actorid-upis">0007:1</b:ParticipantID>
      <a:ProcessMetadata><a:Redirect><b:PublisherURI>https://smp2.example/</b:PublisherURI>
      <a:Certificate><b:ContentBinaryObject mimeCode="application/base64">MAA=</b:ContentBinaryObject></a:Certificate>
      </a:Redirect></a:ProcessMetadata></ServiceMetadata>"""
    doc = parse_document(data.encode())
    assert isinstance(doc, Redirect)
    assert doc.dialect is Dialect.OASIS_SMP_2
    assert doc.target_url == "https://smp2.example/"
    assert doc.certificate == b"\x30\x00"
    assert doc.participant == ParticipantId.parse("0007:1")


def test_parse_document_accepts_a_parsed_root() -> None:
    root = parse_xml(peppol_metadata())
    assert parse_document(root) == parse_document(peppol_metadata())


def test_hostile_documents_through_parse_document() -> None:
    lol = b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><s>&b;</s>'
    with pytest.raises(UnsafeXml):
        parse_document(lol)
    with pytest.raises(UnsafeXml):
        parse_document(peppol_metadata().replace(b"AP<", b"AP" + b" " * 2_100_000 + b"<"))
    with pytest.raises(UnsafeXml):
        parse_document(b"<a>" * 1000 + b"</a>" * 1000)


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_typed_errors(data: bytes) -> None:
    with contextlib.suppress(InvalidSmpDocument):
        parse_document(data)


_FRAGMENT = st.sampled_from(
    [
        f'<ServiceGroup xmlns="{SMP}">',
        "</ServiceGroup>",
        f'<ParticipantIdentifier xmlns="{IDS}" scheme="iso6523-actorid-upis">',
        "</ParticipantIdentifier>",
        "<ServiceMetadataReferenceCollection>",
        "</ServiceMetadataReferenceCollection>",
        '<ServiceMetadataReference href="',
        '"/>',
        "0007:1",
        "%3A%3A",
        "/services/",
        "::",
        "&#13;",
        " ",
    ]
)


@settings(max_examples=300)
@given(st.lists(_FRAGMENT, max_size=14))
def test_smp_shaped_soup_raises_only_typed_errors(parts: list[str]) -> None:
    try:
        doc = parse_document("".join(parts).encode())
    except InvalidSmpDocument:
        return
    assert isinstance(doc, ServiceGroup)


def test_an_impossible_zone_offset_is_an_invalid_document() -> None:
    # Regression: "+24:00" raised a bare ValueError out of the parser.
    from peppolnet.errors import InvalidSmpDocument as _Invalid
    from peppolnet.smp.parse import parse_document as _parse

    document = (
        b'<smp:SignedServiceMetadata xmlns:smp="http://busdox.org/serviceMetadata/publishing/1.0/"'
        b' xmlns:ids="http://busdox.org/transport/identifiers/1.0/"'
        b' xmlns:wsa="http://www.w3.org/2005/08/addressing"><smp:ServiceMetadata>'
        b"<smp:ServiceInformation>"
        b'<ids:ParticipantIdentifier scheme="iso6523-actorid-upis">0088:1</ids:ParticipantIdentifier>'
        b'<ids:DocumentIdentifier scheme="busdox-docid-qns">urn:x::X##y::1</ids:DocumentIdentifier>'
        b"<smp:ProcessList><smp:Process>"
        b'<ids:ProcessIdentifier scheme="cenbii-procid-ubl">p</ids:ProcessIdentifier>'
        b'<smp:ServiceEndpointList><smp:Endpoint transportProfile="peppol-transport-as4-v2_0">'
        b"<wsa:EndpointReference><wsa:Address>https://ap.test</wsa:Address></wsa:EndpointReference>"
        b"<smp:RequireBusinessLevelSignature>false</smp:RequireBusinessLevelSignature>"
        b"<smp:ServiceActivationDate>2020-01-01T00:00:00+24:00</smp:ServiceActivationDate>"
        b"<smp:Certificate>MIIB</smp:Certificate><smp:ServiceDescription>d</smp:ServiceDescription>"
        b"<smp:TechnicalContactUrl>c</smp:TechnicalContactUrl>"
        b"</smp:Endpoint></smp:ServiceEndpointList></smp:Process></smp:ProcessList>"
        b"</smp:ServiceInformation></smp:ServiceMetadata></smp:SignedServiceMetadata>"
    )
    with pytest.raises(_Invalid, match="ServiceActivationDate"):
        _parse(document)


def test_long_unverified_identifiers_are_refused_not_remembered() -> None:
    """Regression (review): lax identifiers had no length limit and the identifier memo was
    filled from unsigned documents, so an SMP could pin ~4,096 x its answer size in memory. Lax
    parsing now keeps the policy's limits: an over-long identifier is refused, and nothing that
    parses is longer than a scheme and 500 characters."""
    from peppolnet.smp import parse as parse_module

    long_doc = BIS_BILLING_INVOICE.value + "x" * 100_000
    before = len(parse_module._KNOWN_IDENTIFIERS)
    with pytest.raises(InvalidSmpDocument, match="at most 500"):
        parse_document(parse_xml(peppol_metadata(doc=long_doc)))
    remembered = [key for key in parse_module._KNOWN_IDENTIFIERS if len(key[2]) > 1000]
    assert remembered == []
    assert len(parse_module._KNOWN_IDENTIFIERS) <= before + 2  # the short ones may be kept
