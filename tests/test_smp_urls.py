"""SMP request URLs and the href -> document type extraction, incl. round trips."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peppolnet.errors import InvalidInput
from peppolnet.identifiers import BIS_BILLING_INVOICE, DocumentTypeId, ParticipantId
from peppolnet.smp import Dialect, document_type_from_href, service_group_url, service_metadata_url

PID = ParticipantId.parse("iso6523-actorid-upis::0007:5567321707")
ENCODED_INVOICE = (
    "busdox-docid-qns%3A%3Aurn%3Aoasis%3Anames%3Aspecification%3Aubl%3Aschema%3Axsd%3AInvoice-2"
    "%3A%3AInvoice%23%23urn%3Acen.eu%3Aen16931%3A2017%23compliant%23urn%3Afdc%3Apeppol.eu%3A2017"
    "%3Apoacc%3Abilling%3A3.0%3A%3A2.1"
)


@pytest.mark.parametrize(
    "base",
    ["https://smp.example", "https://smp.example/", " https://smp.example "],
)
def test_service_group_url_base_forms(base: str) -> None:
    assert service_group_url(base, PID) == (
        "https://smp.example/iso6523-actorid-upis%3A%3A0007%3A5567321707"
    )


def test_service_metadata_url_matches_facts_vector() -> None:
    url = service_metadata_url("http://smp.example/sub/path/", PID, BIS_BILLING_INVOICE)
    assert url == (
        "http://smp.example/sub/path/iso6523-actorid-upis%3A%3A0007%3A5567321707/services/"
        + ENCODED_INVOICE
    )


def test_oasis2_form() -> None:
    assert service_group_url("https://smp.example/x/", PID, dialect=Dialect.OASIS_SMP_2) == (
        "https://smp.example/x/bdxr-smp-2/iso6523-actorid-upis%3A%3A0007%3A5567321707"
    )
    url = service_metadata_url(
        "https://smp.example", PID, BIS_BILLING_INVOICE, dialect=Dialect.OASIS_SMP_2
    )
    assert url.startswith("https://smp.example/bdxr-smp-2/iso6523")
    assert url.endswith("/services/" + ENCODED_INVOICE)


@pytest.mark.parametrize(
    "base", ["smp.example", "ftp://smp.example", "https://", "https://smp?x=1", "https://s#f", ""]
)
def test_bad_base_urls(base: str) -> None:
    with pytest.raises(InvalidInput, match="SMP base URL"):
        service_group_url(base, PID)


def test_wildcard_star_is_encoded() -> None:
    doc = DocumentTypeId.parse(
        "peppol-doctype-wildcard::urn:x::Invoice##urn:peppol:pint:billing-1*::2.1"
    )
    assert "%2A" in service_metadata_url("https://s", PID, doc)


def test_href_lower_case_hex_and_legacy_host() -> None:
    href = (
        "http://B-0123456789abcdef0123456789abcdef.iso6523-actorid-upis.edelivery.tech.ec.europa.eu"
        "/ISO6523-ACTORID-UPIS%3a%3a0007%3a5567321707/services/"
        + ENCODED_INVOICE.replace("%3A", "%3a")
    )
    assert document_type_from_href(href, PID) == BIS_BILLING_INVOICE


def test_href_with_encoded_slashes() -> None:
    href = (
        "http://smp:80/iso6523-actorid-upis%3a%3a0007%3a5567321707%2fservices%2f" + ENCODED_INVOICE
    )
    assert document_type_from_href(href, PID) == BIS_BILLING_INVOICE


def test_href_of_another_participant_or_garbage() -> None:
    other = ParticipantId.parse("0007:1")
    href = service_metadata_url("https://s", PID, BIS_BILLING_INVOICE)
    assert document_type_from_href(href, other) is None
    assert document_type_from_href("", PID) is None
    assert document_type_from_href("%", PID) is None
    assert document_type_from_href(service_group_url("https://s", PID) + "/services/", PID) is None


_LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-._~", min_size=1, max_size=30)
_DOC_CHARS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789:#@*.-_/%+&=?;,", min_size=1, max_size=40
)


@given(
    icd=st.from_regex(r"[0-9]{4}", fullmatch=True),
    local=_LOCAL,
    ns=_DOC_CHARS,
    customization=_DOC_CHARS,
    base=st.sampled_from(["https://smp.example", "http://smp.example:8080/a/b/", "https://x/"]),
    dialect=st.sampled_from(list(Dialect)),
)
def test_round_trip_url_to_document_type(
    icd: str, local: str, ns: str, customization: str, base: str, dialect: Dialect
) -> None:
    participant = ParticipantId.of(icd, local)
    doc = DocumentTypeId(
        "peppol-doctype-wildcard", f"{ns}::Invoice##{customization}::2.1", lax=True
    )
    url = service_metadata_url(base, participant, doc, dialect=dialect)
    parts = urllib.parse.urlsplit(url)
    assert parts.query == ""
    assert parts.fragment == ""
    assert url.count("/services/") == 1
    assert document_type_from_href(url, participant) == doc


@given(st.text(alphabet=st.sampled_from("ab:Z09-._~%/#*: é"), max_size=40) | st.text(max_size=40))
def test_the_quick_segment_is_the_percent_encoded_one(uri: str) -> None:
    import urllib.parse

    from peppolnet.identifiers import url_segment

    assert url_segment(uri) == urllib.parse.quote(uri, safe="")
