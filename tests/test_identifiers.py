"""Identifier rules of the Peppol Policy for use of Identifiers 4.4 (FACTS.md §1)."""

from __future__ import annotations

import pickle
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from peppolnet.errors import (
    InvalidDocumentTypeId,
    InvalidIdentifier,
    InvalidParticipantId,
    InvalidProcessId,
    InvalidTransportProfile,
)
from peppolnet.identifiers import (
    BIS_BILLING_CREDIT_NOTE,
    BIS_BILLING_INVOICE,
    BIS_BILLING_PROCESS,
    TRANSPORT_AS4,
    DocumentTypeId,
    ParticipantId,
    ProcessId,
    TransportProfile,
)

# FACTS.md §1.2, from the reference implementation's PeppolIdentifierFactoryTest
VALID_VALUES = [
    "9908:976098897",
    "9909:976098896",
    "9906:02419170044_01",
    "9930:DE211155632",
    "0204:991-11384-46",
    "0123:" + "a" * 130,
]
INVALID_VALUES = [
    "",
    "9:9",
    "9901:",
    "9908:976098897 ",  # trailing space inside a URI value
    "990:976098897",
    "990976098897",
    "9956:DE:EPROC:BMIEVG:BeschA",
    "0123:" + "a" * 131,
]
VALID_SCHEMES = ["busdox-actorid-upis", "BUSDOX-ACTORID-UPIS", "any-actorid-any"]
INVALID_SCHEMES = [
    "busdox_actorid_upis",
    "busdox-upis",
    "-actorid-upis",
    "busdox-actorid-",
    "busdox-actorid",
    "a" * 10 + "-" + "b" * 10 + "-" + "c" * 10,
]


@pytest.mark.parametrize("value", VALID_VALUES)
def test_valid_participant_values(value: str) -> None:
    pid = ParticipantId("iso6523-actorid-upis", value)
    assert pid.value == value
    assert ParticipantId.parse(value) == pid


@pytest.mark.parametrize("value", INVALID_VALUES)
def test_invalid_participant_values(value: str) -> None:
    with pytest.raises(InvalidParticipantId):
        ParticipantId("iso6523-actorid-upis", value)


@pytest.mark.parametrize("scheme", VALID_SCHEMES)
def test_valid_participant_schemes(scheme: str) -> None:
    assert ParticipantId(scheme, "0088:123").scheme == scheme


@pytest.mark.parametrize("scheme", INVALID_SCHEMES)
def test_invalid_participant_schemes(scheme: str) -> None:
    with pytest.raises(InvalidParticipantId, match="scheme"):
        ParticipantId(scheme, "0088:123")


def test_uri_and_bare_forms_parse_to_the_same_value() -> None:
    uri = ParticipantId.parse("iso6523-actorid-upis::0007:5567321707")
    bare = ParticipantId.parse("0007:5567321707")
    assert uri == bare
    assert str(bare) == "iso6523-actorid-upis::0007:5567321707"
    assert bare.bare == "0007:5567321707"
    assert (bare.icd, bare.local_id) == ("0007", "5567321707")
    assert ParticipantId.of("0007", "5567321707") == bare


def test_participant_values_compare_case_insensitively() -> None:
    # POLICY 2 example: 0088:abc equals 0088:ABc, but not 0010:abc
    a, b = ParticipantId.parse("0088:abc"), ParticipantId.parse("0088:ABc")
    assert a == b
    assert hash(a) == hash(b)
    assert str(b) == "iso6523-actorid-upis::0088:abc"
    assert b.value == "0088:ABc"  # the original spelling is kept
    assert a != ParticipantId.parse("0010:abc")
    assert len({a, b}) == 1


def test_participant_scheme_is_case_sensitive_in_equality() -> None:
    assert ParticipantId("any-actorid-any", "X") != ParticipantId("ANY-ACTORID-ANY", "X")
    # other schemes keep their values case-sensitive
    assert ParticipantId("any-actorid-any", "X") != ParticipantId("any-actorid-any", "x")


def test_lower_casing_is_the_one_the_sml_hashes() -> None:
    # en_US lower-casing as Java's toLowerCase(Locale.US): equality and the DNS name agree,
    # also for the non-ASCII values only lax mode admits.
    from peppolnet.sml import naptr_name

    upper, lower_ = (
        ParticipantId.parse("0088:ÄBC", lax=True),
        ParticipantId.parse("0088:äbc", lax=True),
    )
    assert upper.normalised_value == "0088:äbc"
    assert upper == lower_
    assert naptr_name(upper, "zone.test") == naptr_name(lower_, "zone.test")


def test_the_iso6523_scheme_in_any_spelling_is_one_scheme() -> None:
    shouted = ParticipantId("ISO6523-ACTORID-UPIS", "0088:ABC")
    assert shouted == ParticipantId.parse("0088:abc")
    assert hash(shouted) == hash(ParticipantId.parse("0088:abc"))
    assert str(shouted) == "iso6523-actorid-upis::0088:abc"


def test_lax_identifiers_survive_pickling_and_copies() -> None:
    import copy

    odd = ParticipantId.parse("0088:abc def!", lax=True)
    assert pickle.loads(pickle.dumps(odd)) == odd
    assert copy.deepcopy(odd) is odd
    long_doc = DocumentTypeId("busdox-docid-qns", "x" * 600, lax=True)
    assert pickle.loads(pickle.dumps(long_doc)) == long_doc


def test_surrounding_whitespace_is_trimmed_but_inner_whitespace_rejected() -> None:
    assert ParticipantId.parse("\n  0007:5567321707 \n").bare == "0007:5567321707"
    with pytest.raises(InvalidParticipantId, match="whitespace"):
        ParticipantId.parse("0007:556732 1707")


def test_lax_mode_accepts_real_world_values_but_keeps_the_icd_shape() -> None:
    odd = ParticipantId.parse("9956:DE:EPROC:BMIEVG:BeschA", lax=True)
    assert odd.icd == "9956"
    assert ParticipantId.parse("0123:" + "a" * 131, lax=True).local_id == "a" * 131
    # lax skips the digit check of the ICD but still needs the colon at index 4
    assert ParticipantId.parse("99AB:x", lax=True).icd is None
    with pytest.raises(InvalidParticipantId):
        ParticipantId.parse("990976098897", lax=True)


def test_error_messages_name_the_problem() -> None:
    with pytest.raises(InvalidParticipantId, match="four-digit scheme code"):
        ParticipantId.parse("abc")
    with pytest.raises(InvalidParticipantId, match="at most 130"):
        ParticipantId.parse("0123:" + "a" * 131)
    with pytest.raises(InvalidParticipantId, match=r"not allowed \('/'\)"):
        ParticipantId.parse("0088:a/b")
    with pytest.raises(InvalidParticipantId, match="empty"):
        ParticipantId.parse("   ")


def test_invalid_identifier_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="scheme code"):
        ParticipantId.parse("x")


def test_percent_encoding_for_url_segments() -> None:
    # FACTS.md §1.3 [RECOMPUTED] vectors
    pid = ParticipantId.parse("0007:5567321707")
    assert pid.url_segment() == "iso6523-actorid-upis%3A%3A0007%3A5567321707"
    assert BIS_BILLING_INVOICE.url_segment() == (
        "busdox-docid-qns%3A%3Aurn%3Aoasis%3Anames%3Aspecification%3Aubl%3Aschema%3Axsd%3A"
        "Invoice-2%3A%3AInvoice%23%23urn%3Acen.eu%3Aen16931%3A2017%23compliant%23urn%3Afdc%3A"
        "peppol.eu%3A2017%3Apoacc%3Abilling%3A3.0%3A%3A2.1"
    )


def test_document_type_parses_at_the_first_separator() -> None:
    doc = DocumentTypeId.parse(BIS_BILLING_INVOICE.uri)
    assert doc == BIS_BILLING_INVOICE
    assert doc.scheme == "busdox-docid-qns"
    assert doc.value.startswith("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice")
    assert doc.root_namespace == "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    assert doc.root_local_name == "Invoice"
    assert doc.version == "2.1"
    assert BIS_BILLING_CREDIT_NOTE.root_local_name == "CreditNote"


def test_document_type_bare_value_gets_the_default_scheme() -> None:
    assert DocumentTypeId.parse(BIS_BILLING_INVOICE.value) == BIS_BILLING_INVOICE
    pint = DocumentTypeId.parse(
        "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
        "##urn:peppol:pint:billing-1@jp-1::2.1"
    )
    assert pint.scheme == "peppol-doctype-wildcard"
    assert pint.is_wildcard


def test_document_types_are_case_sensitive() -> None:
    upper = DocumentTypeId("busdox-docid-qns", BIS_BILLING_INVOICE.value.upper())
    assert upper != BIS_BILLING_INVOICE


def test_document_type_rules() -> None:
    with pytest.raises(InvalidDocumentTypeId, match="at most 500"):
        DocumentTypeId("busdox-docid-qns", "a" * 501)
    with pytest.raises(InvalidDocumentTypeId, match="whitespace"):
        DocumentTypeId("busdox-docid-qns", "a b")
    with pytest.raises(InvalidDocumentTypeId, match=r"'\*'"):
        DocumentTypeId("busdox-docid-qns", "urn:x::X##urn:y*::2.1")
    wildcard = DocumentTypeId(
        "peppol-doctype-wildcard", "urn:x::X##urn:peppol:pint:billing-1*::2.1"
    )
    assert wildcard.customization_id == "urn:peppol:pint:billing-1*"
    with pytest.raises(InvalidDocumentTypeId, match="empty"):
        DocumentTypeId.parse("")


def test_process_rules() -> None:
    assert ProcessId.parse(BIS_BILLING_PROCESS.value) == BIS_BILLING_PROCESS
    assert ProcessId.parse(f"cenbii-procid-ubl::{BIS_BILLING_PROCESS.value}") == BIS_BILLING_PROCESS
    assert ProcessId.parse("busdox:noprocess").scheme == "cenbii-procid-ubl"
    with pytest.raises(InvalidProcessId, match="at most 200"):
        ProcessId("cenbii-procid-ubl", "p" * 201)
    with pytest.raises(InvalidProcessId, match="whitespace"):
        ProcessId("cenbii-procid-ubl", "a\tb")


def test_transport_profile_rules() -> None:
    assert TransportProfile("peppol-transport-as4-v2_0") == TRANSPORT_AS4
    assert TransportProfile("PEPPOL-TRANSPORT-AS4-V2_0") != TRANSPORT_AS4
    with pytest.raises(InvalidTransportProfile, match="1 to 50"):
        TransportProfile("x" * 51)
    with pytest.raises(InvalidTransportProfile, match="letters, digits"):
        TransportProfile("as4.v2")


def test_values_are_immutable_and_picklable() -> None:
    pid = ParticipantId.parse("0088:ABC")
    with pytest.raises(AttributeError):
        pid.value = "x"  # type: ignore[misc]
    for value in (pid, BIS_BILLING_INVOICE, BIS_BILLING_PROCESS, TRANSPORT_AS4):
        assert pickle.loads(pickle.dumps(value)) == value


def test_pydantic_fields_validate_and_serialise_to_uri_form() -> None:
    class Row(BaseModel):
        participant: ParticipantId
        document_type: DocumentTypeId
        process: ProcessId
        profile: TransportProfile

    row = Row.model_validate(
        {
            "participant": "0088:ABC",
            "document_type": BIS_BILLING_INVOICE.uri,
            "process": BIS_BILLING_PROCESS.value,
            "profile": "peppol-transport-as4-v2_0",
        }
    )
    assert row.participant == ParticipantId.parse("0088:abc")
    dumped = row.model_dump(mode="json")
    assert dumped["participant"] == "iso6523-actorid-upis::0088:abc"
    assert dumped["document_type"] == BIS_BILLING_INVOICE.uri
    assert dumped["process"] == BIS_BILLING_PROCESS.uri
    assert Row.model_validate_json(row.model_dump_json()) == row
    with pytest.raises(ValueError, match="four-digit"):
        Row.model_validate({**dumped, "participant": "nope"})


# --- properties ---------------------------------------------------------------------------------

_LOCAL = st.text(alphabet=string.ascii_letters + string.digits + "._~-", min_size=1, max_size=130)
_ICD = st.text(alphabet=string.digits, min_size=4, max_size=4)


@given(_ICD, _LOCAL)
def test_participant_round_trips_through_both_forms(icd: str, local: str) -> None:
    pid = ParticipantId.of(icd, local)
    assert ParticipantId.parse(str(pid)) == pid
    assert ParticipantId.parse(pid.bare) == pid
    assert ParticipantId.parse(pid.uri.upper().replace("ISO6523-ACTORID-UPIS", pid.scheme)) == pid


@given(_ICD, _LOCAL)
def test_case_insensitive_equality_and_hash_agree(icd: str, local: str) -> None:
    a = ParticipantId.of(icd, local.upper())
    b = ParticipantId.of(icd, local.lower())
    assert a == b
    assert hash(a) == hash(b)
    assert str(a) == str(b)


@given(st.text(max_size=300))
def test_arbitrary_text_never_raises_anything_but_invalid_identifier(text: str) -> None:
    for parse in (
        ParticipantId.parse,
        DocumentTypeId.parse,
        ProcessId.parse,
        TransportProfile.parse,
    ):
        try:
            value = parse(text)
        except InvalidIdentifier:
            continue
        assert parse(str(value)) == value


@given(st.text(alphabet=string.printable, min_size=1, max_size=200))
def test_document_type_round_trip(value: str) -> None:
    try:
        doc = DocumentTypeId("busdox-docid-qns", value)
    except InvalidDocumentTypeId:
        return
    assert DocumentTypeId.parse(doc.uri) == doc
