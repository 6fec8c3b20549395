"""peppol-doctype-wildcard best-match selection (PFUOI 4.3.0, FACTS.md 1.4)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from peppolnet.identifiers import BIS_BILLING_INVOICE, DocumentTypeId
from peppolnet.smp import candidates, select

ROOT = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"


def wildcard(customization: str) -> DocumentTypeId:
    return DocumentTypeId("peppol-doctype-wildcard", f"{ROOT}##{customization}::2.1", lax=True)


def test_busdox_is_exact_only() -> None:
    assert candidates(BIS_BILLING_INVOICE) == [BIS_BILLING_INVOICE]
    starred = DocumentTypeId(
        "busdox-docid-qns", BIS_BILLING_INVOICE.value.replace("::2.1", "*::2.1"), lax=True
    )
    assert select(BIS_BILLING_INVOICE, [starred]) is None
    assert select(BIS_BILLING_INVOICE, [starred, BIS_BILLING_INVOICE]) == BIS_BILLING_INVOICE


def test_candidate_order() -> None:
    requested = wildcard("urn:peppol:pint:billing-3.0@jp:peppol-1@sub-1")
    assert [c.customization_id for c in candidates(requested)] == [
        "urn:peppol:pint:billing-3.0@jp:peppol-1@sub-1",
        "urn:peppol:pint:billing-3.0@jp:peppol-1@sub-1*",
        "urn:peppol:pint:billing-3.0@jp:peppol-1*",
        "urn:peppol:pint:billing-3.0*",
    ]
    assert all(c.version == "2.1" for c in candidates(requested))
    assert all(c.root_local_name == "Invoice" for c in candidates(requested))


def test_exact_beats_wildcard_and_specific_beats_general() -> None:
    requested = wildcard("urn:peppol:pint:billing-1@jp-1")
    exact = wildcard("urn:peppol:pint:billing-1@jp-1")
    star = wildcard("urn:peppol:pint:billing-1@jp-1*")
    general = wildcard("urn:peppol:pint:billing-1*")
    assert select(requested, [general, star, exact]) == exact
    assert select(requested, [general, star]) == star
    assert select(requested, [general]) == general
    assert select(requested, [wildcard("urn:peppol:pint:billing-1@aunz-1*")]) is None


def test_general_registration_does_not_match_other_scheme() -> None:
    requested = wildcard("urn:peppol:pint:billing-1@jp-1")
    busdox = DocumentTypeId("busdox-docid-qns", f"{ROOT}##urn:peppol:pint:billing-1::2.1")
    assert select(requested, [busdox]) is None


def test_requested_with_star_is_normalised() -> None:
    assert candidates(wildcard("urn:peppol:pint:billing-1*")) == candidates(
        wildcard("urn:peppol:pint:billing-1")
    )


_PART = st.text(alphabet="abcdefghij0123456789-.:", min_size=1, max_size=8)


@given(st.lists(_PART, min_size=1, max_size=5))
def test_every_prefix_registration_is_found(parts: list[str]) -> None:
    customization = "@".join(parts)
    requested = wildcard(customization)
    found = candidates(requested)
    assert found[0] == requested
    assert len(found) == len(set(found))
    for i in range(1, len(parts) + 1):
        registered = wildcard("@".join(parts[:i]) + "*")
        assert select(requested, [registered]) == registered
