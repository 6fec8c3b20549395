"""Identifier rules of the Peppol Policy for use of Identifiers 4.4 (FACTS.md §1)."""

from __future__ import annotations

import pickle
import re
import string
from collections.abc import Callable

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
    unstructured = DocumentTypeId("busdox-docid-qns", "urn:x::X", lax=True)
    assert pickle.loads(pickle.dumps(unstructured)) == unstructured


def test_surrounding_whitespace_is_trimmed_but_inner_whitespace_rejected() -> None:
    assert ParticipantId.parse("\n  0007:5567321707 \n").bare == "0007:5567321707"
    with pytest.raises(InvalidParticipantId, match="whitespace"):
        ParticipantId.parse("0007:556732 1707")


def test_lax_mode_accepts_real_world_values_but_keeps_the_icd_shape() -> None:
    odd = ParticipantId.parse("9956:DE:EPROC:BMIEVG:BeschA", lax=True)
    assert odd.icd == "9956"
    with pytest.raises(InvalidParticipantId, match="at most 130"):
        ParticipantId.parse("0123:" + "a" * 131, lax=True)  # lengths hold in lax mode too
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


# --- document type structure (POLICY 20) --------------------------------------------------------

DOCTYPE_SCHEMES = ["busdox-docid-qns", "peppol-doctype-wildcard"]
# a value lacking one part of <root namespace>::<local name>##<customization id>::<version>, and
# the words of the sentence that names it
MISSING_PARTS = [
    ("invoice", "no '##' and customization id"),
    ("urn:x::Invoice", "no '##' and customization id"),
    ("##urn:c::2.1", "no root element"),
    ("::Invoice##urn:c::2.1", "no root namespace"),
    ("urn:x::##urn:c::2.1", "no root element local name"),
    ("urn:x::Invoice##::2.1", "no customization id"),
    ("urn:x::Invoice##urn:c", "no '::' and version"),
    ("urn:x::Invoice##urn:c::", "no version"),
]


@pytest.mark.parametrize("scheme", DOCTYPE_SCHEMES)
@pytest.mark.parametrize(("value", "missing"), MISSING_PARTS)
def test_document_types_lacking_a_part_are_refused_naming_it(
    scheme: str, value: str, missing: str
) -> None:
    with pytest.raises(InvalidDocumentTypeId, match=re.escape(missing)) as caught:
        DocumentTypeId(scheme, value)
    assert caught.value.value == value
    with pytest.raises(InvalidDocumentTypeId, match=re.escape(missing)):
        DocumentTypeId.parse(f"{scheme}::{value}")


@pytest.mark.parametrize(("value", "missing"), MISSING_PARTS)
def test_lax_parsing_reads_document_types_without_the_structure(value: str, missing: str) -> None:
    # what production SMPs register (smp.difi.no, in the vefa-peppol samples)
    doc = DocumentTypeId("busdox-docid-qns", value, lax=True)
    assert doc.value == value


def test_a_real_unstructured_registration_reads_leniently() -> None:
    kvittering = DocumentTypeId.parse(
        "busdox-docid-qns::urn:no:difi:einnsyn:xsd::einnsyn_kvittering", lax=True
    )
    assert kvittering.root_namespace == "urn:no:difi:einnsyn:xsd"
    assert kvittering.root_local_name == "einnsyn_kvittering"
    assert (kvittering.customization_id, kvittering.version) == ("", "")
    with pytest.raises(InvalidDocumentTypeId, match="no '##'"):
        DocumentTypeId.parse("busdox-docid-qns::urn:no:difi:einnsyn:xsd::einnsyn_kvittering")


def test_non_xml_syntax_ids_of_the_code_list_parse() -> None:
    doc = DocumentTypeId.parse(
        "busdox-docid-qns::urn:peppol:doctype:pdf+xml##urn:cen.eu:en16931:2017#conformant"
        "#urn:peppol:france:billing:Factur-X:1.0::D22B"
    )
    assert doc.syntax_id == "urn:peppol:doctype:pdf+xml"
    assert (doc.root_namespace, doc.root_local_name) == (None, None)
    assert doc.customization_id.endswith("Factur-X:1.0")
    assert doc.version == "D22B"
    assert BIS_BILLING_INVOICE.syntax_id == (
        "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"
    )


def test_other_document_type_schemes_have_no_fixed_structure() -> None:
    assert DocumentTypeId("bdx-docid-qns", "invoice").value == "invoice"


def test_every_code_list_entry_parses_strictly() -> None:
    from peppolnet.codelists import document_types, processes

    for entry in document_types():
        doc = entry.identifier
        assert DocumentTypeId(doc.scheme, doc.value) == doc
        for process in entry.process_ids:
            assert ProcessId(process.scheme, process.value) == process
    for process_entry in processes():
        process = process_entry.identifier
        assert ProcessId(process.scheme, process.value) == process


# --- length limits and ISO-8859-1, strict and lax -----------------------------------------------


def _doctype_of_length(length: int) -> str:
    head, tail = "urn:x::Invoice##urn:c", "::2.1"
    return head + "c" * (length - len(head) - len(tail)) + tail


def _scheme_of_length(length: int) -> str:
    return "a" * (length - 4) + "-b-c"


# (what, build an identifier from a value in a mode, the value at the limit, one over)
BOUNDARIES = [
    (
        "participant local part (iso6523)",
        lambda v, lax: ParticipantId("iso6523-actorid-upis", v, lax=lax),
        "0088:" + "a" * 130,
        "0088:" + "a" * 131,
    ),
    (
        "participant value (other scheme)",
        lambda v, lax: ParticipantId("other-actorid-any", v, lax=lax),
        "a" * 135,
        "a" * 136,
    ),
    (
        "participant scheme",
        lambda v, lax: ParticipantId(v, "0088:123", lax=lax),
        _scheme_of_length(25),
        _scheme_of_length(26),
    ),
    (
        "document type value",
        lambda v, lax: DocumentTypeId("busdox-docid-qns", v, lax=lax),
        _doctype_of_length(500),
        _doctype_of_length(501),
    ),
    (
        "document type scheme",
        lambda v, lax: DocumentTypeId(v, BIS_BILLING_INVOICE.value, lax=lax),
        _scheme_of_length(25),
        _scheme_of_length(26),
    ),
    (
        "process value",
        lambda v, lax: ProcessId("cenbii-procid-ubl", v, lax=lax),
        "p" * 200,
        "p" * 201,
    ),
    (
        "process scheme",
        lambda v, lax: ProcessId(v, BIS_BILLING_PROCESS.value, lax=lax),
        _scheme_of_length(25),
        _scheme_of_length(26),
    ),
]


@pytest.mark.parametrize("lax", [False, True], ids=["strict", "lax"])
@pytest.mark.parametrize(
    ("build", "at_limit", "over"), [b[1:] for b in BOUNDARIES], ids=[b[0] for b in BOUNDARIES]
)
def test_length_limits_hold_strict_and_lax(
    build: Callable[[str, bool], object], at_limit: str, over: str, lax: bool
) -> None:
    assert len(over) == len(at_limit) + 1
    build(at_limit, lax)
    with pytest.raises(InvalidIdentifier, match="at most"):
        build(over, lax)


@pytest.mark.parametrize("lax", [False, True], ids=["strict", "lax"])
def test_document_types_and_processes_are_iso_8859_1(lax: bool) -> None:
    latin1 = "urn:x::Faktura##urn:c:\u00e5\u00e4\u00f6\u00ff::2.1"  # the top of Latin-1 is fine
    assert DocumentTypeId("busdox-docid-qns", latin1, lax=lax).value == latin1
    assert ProcessId("cenbii-procid-ubl", "urn:p:\u00e9", lax=lax).value == "urn:p:\u00e9"
    for outside in ("\u0100", "\u20ac", "\u0142", "\U0001f9fe"):  # just past Latin-1, euro, ...
        with pytest.raises(InvalidDocumentTypeId, match="ISO-8859-1"):
            DocumentTypeId("busdox-docid-qns", latin1.replace("\u00e5", outside), lax=lax)
        with pytest.raises(InvalidProcessId, match="ISO-8859-1"):
            ProcessId("cenbii-procid-ubl", "urn:p:" + outside, lax=lax)


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


_SEGMENT = st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=8)


def _joined(separators: str) -> st.SearchStrategy[str]:
    """Non-empty segments joined by single separators (never '::' or '##')."""
    return st.lists(
        st.tuples(st.sampled_from(separators), _SEGMENT), min_size=0, max_size=5
    ).flatmap(lambda rest: _SEGMENT.map(lambda first: first + "".join(s + seg for s, seg in rest)))


_NAMESPACE = _joined(":/")
_LOCAL_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,12}", fullmatch=True)
_CUSTOMIZATION = _joined(":#@")
_VERSION = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.]{0,5}", fullmatch=True)


@given(st.sampled_from(DOCTYPE_SCHEMES), _NAMESPACE, _LOCAL_NAME, _CUSTOMIZATION, _VERSION)
def test_structured_document_types_parse_into_their_parts(
    scheme: str, namespace: str, local: str, customization: str, version: str
) -> None:
    value = f"{namespace}::{local}##{customization}::{version}"
    doc = DocumentTypeId.parse(f"{scheme}::{value}")
    assert (doc.scheme, doc.value) == (scheme, value)
    assert doc.root_namespace == namespace
    assert doc.root_local_name == local
    assert doc.customization_id == customization
    assert doc.version == version
    assert doc.syntax_id == f"{namespace}::{local}"
    if ":" in namespace:  # a bare value is told from scheme::value by the URI's colon
        assert DocumentTypeId.parse(value).value == value


@given(st.sampled_from(DOCTYPE_SCHEMES), st.text(max_size=120))
def test_strictly_accepted_document_types_have_every_part(scheme: str, value: str) -> None:
    try:
        doc = DocumentTypeId(scheme, value)
    except InvalidDocumentTypeId:
        return
    assert doc.syntax_id
    assert doc.root_namespace != ""
    assert doc.root_local_name != ""
    assert doc.customization_id
    assert doc.version


@given(st.text(max_size=300))
def test_lax_accepts_whatever_strict_accepts(text: str) -> None:
    for parse in (ParticipantId.parse, DocumentTypeId.parse, ProcessId.parse):
        try:
            strict = parse(text)
        except InvalidIdentifier:
            continue
        assert parse(text, lax=True) == strict


@given(
    st.sampled_from(
        [
            (lambda v: ParticipantId("iso6523-actorid-upis", "0088:" + v, lax=True), 130),
            (lambda v: DocumentTypeId("busdox-docid-qns", v, lax=True), 500),
            (lambda v: ProcessId("cenbii-procid-ubl", v, lax=True), 200),
        ]
    ),
    st.integers(min_value=1, max_value=300),
    st.characters(codec="latin-1", exclude_categories=("Cs",)),
)
def test_lax_never_accepts_a_value_over_its_limit(
    case: tuple[Callable[[str], object], int], extra: int, char: str
) -> None:
    build, limit = case
    with pytest.raises(InvalidIdentifier):
        build(char * (limit + extra))


_USUAL_SHAPE = st.builds(
    lambda prefix, icd, local, pad: f"{pad}{prefix}{icd}:{local}{pad[::-1]}",
    st.sampled_from(["", "iso6523-actorid-upis::", "ISO6523-actorid-upis::", "other-sch-eme::"]),
    st.text(alphabet=string.digits + "a", min_size=3, max_size=5),
    st.text(alphabet=string.ascii_letters + string.digits + "._~-:é ", min_size=0, max_size=135),
    st.sampled_from(["", " ", "\n"]),
)


@given(st.one_of(_USUAL_SHAPE, st.text(max_size=160)))
def test_the_usual_form_parses_exactly_as_parse_does(text: str) -> None:
    # validate()'s fast path (ParticipantId._parse_usual) may decline any text, but what it
    # accepts must be what strict parse() gives for it, in every attribute
    usual = ParticipantId._parse_usual(text)
    if usual is None:
        return
    parsed = ParticipantId.parse(text)
    assert type(usual) is ParticipantId
    assert (usual.scheme, usual.value, usual.normalised_value) == (
        parsed.scheme, parsed.value, parsed.normalised_value
    )  # fmt: skip
    assert usual == parsed
    assert hash(usual) == hash(parsed)
    assert (usual.uri, usual.icd, usual.local_id) == (parsed.uri, parsed.icd, parsed.local_id)


@given(_ICD, _LOCAL)
def test_the_usual_form_takes_the_fast_path(icd: str, local: str) -> None:
    for text in (f"{icd}:{local}", f"iso6523-actorid-upis::{icd}:{local}"):
        assert ParticipantId._parse_usual(text) == ParticipantId.parse(text)


def test_the_fast_path_declines_what_parse_explains() -> None:
    for text in (
        " 0007:5567321707",  # parse strips it: the general path
        "0007:" + "1" * 131,  # too long
        "007:5567321707",
        "0007:55673 21707",
        "0007:",
        "ISO6523-ACTORID-UPIS::0007:5567321707",  # another spelling of the scheme
    ):
        assert ParticipantId._parse_usual(text) is None
