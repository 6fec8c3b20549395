"""Validation of add/update-recipient requests: every rule with good and bad values."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from peppolnet.errors import InvalidRequest
from peppolnet.identifiers import BIS_BILLING_CREDIT_NOTE, BIS_BILLING_INVOICE, ParticipantId
from peppolnet.operators import Operator, OperatorRegistry
from peppolnet.recipients import (
    AddRecipientRequest,
    OperatorRef,
    RequestDefaults,
    Requester,
    RequestKind,
    RequestStatus,
    UpdateRecipientRequest,
    from_json,
    generate_migration_key,
    to_dict,
)

REGISTRY = OperatorRegistry(
    [
        Operator("PSE000102", "Kvittra AB", "SE"),
        Operator("PSE000109", "Norrsken Invoice AB", "SE"),
        Operator("PNO000101", "Fjordpost AS", "NO"),
    ]
)
GOOD: dict[str, Any] = {
    "company_name": "Åkesson & Söner Byggnads AB",
    "organisation_number": "556732-1707",
    "operator": "PSE000102",
    "email": "faktura@akesson.example",
}


def add(**changes: Any) -> AddRecipientRequest:
    return AddRecipientRequest.create(**{**GOOD, "registry": REGISTRY, **changes})


def problems(**changes: Any) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as info:
        add(**changes)
    return dict(info.value.problems)


def test_a_good_request_derives_the_participant_and_defaults() -> None:
    r = add()
    assert r.kind is RequestKind.ADD
    assert r.participant_id == ParticipantId.parse("0007:5567321707")
    assert r.country == "SE"
    assert r.operator == OperatorRef(seat_id="PSE000102", name="Kvittra AB")
    assert r.document_types == (BIS_BILLING_INVOICE, BIS_BILLING_CREDIT_NOTE)
    assert r.status is RequestStatus.DRAFT


# --- company name ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("Fjällräv Konsult AB", "Fjällräv Konsult AB"),
        ("ÅÄÖ åäö Ångström & Co", "ÅÄÖ åäö Ångström & Co"),
        ("  Öresund   Trä AB ", "Öresund Trä AB"),
    ],
)
def test_names_with_swedish_characters_are_kept(name: str, stored: str) -> None:
    assert add(company_name=name).company_name == stored


@pytest.mark.parametrize("name", ["", "   ", "\t\n", "\u00a0"])
def test_empty_or_whitespace_names_are_refused(name: str) -> None:
    assert "company_name" in problems(company_name=name)
    assert "empty" in problems(company_name=name)["company_name"]


def test_over_long_name_is_refused() -> None:
    assert "200" in problems(company_name="Å" * 201)["company_name"]


# --- organisation number --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["556732-1707", "556732 1707", "5567321707", " 556732-1707 ", "SE556732170701"]
)
def test_numbers_as_people_type_them(number: str) -> None:
    assert add(organisation_number=number).participant_id.bare == "0007:5567321707"


def test_bad_check_digit_names_the_scheme() -> None:
    message = problems(organisation_number="556732-1708")["organisation_number"]
    assert "556732-1708" in message
    assert "Swedish organisation number" in message


def test_country_interprets_the_number_and_defaults_are_configurable() -> None:
    norwegian = add(organisation_number="976 098 897", country="no")
    assert norwegian.participant_id.bare == "0192:976098897"
    assert norwegian.country == "NO"
    configured = AddRecipientRequest.create(
        **{**GOOD, "organisation_number": "976098897"}, defaults=RequestDefaults(country="NO")
    )
    assert configured.participant_id.bare == "0192:976098897"
    assert (
        "Norwegian"
        in problems(organisation_number="123456784", country="NO")["organisation_number"]
    )


def test_bad_country() -> None:
    assert "two-letter" in problems(country="Atlantis")["country"]


def test_country_names_are_read_as_codes() -> None:
    """A country as a person writes it, in English, Swedish or its own language."""
    for name in ("Sweden", "Sverige", "se"):
        assert add(country=name).country == "SE"


def test_participant_id_can_be_overridden_and_is_checked() -> None:
    r = add(
        participant_id="iso6523-actorid-upis::0007:5560360793", organisation_number="556036-0793"
    )
    assert r.participant_id.bare == "0007:5560360793"
    message = problems(participant_id="0007:5567321708")["participant_id"]
    assert "check digit" in message
    assert "SE:ORGNR" in message
    assert "participant_id" in problems(participant_id="not an id")
    assert "removed" in problems(participant_id="9955:SE556732170701")["participant_id"]


def test_empty_number() -> None:
    assert "empty" in problems(organisation_number="  ")["organisation_number"]


# --- operator -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["PSE000102", "pse000102", "Kvittra", "KVITTRA AB", "0242:000102"])
def test_operator_by_seat_id_name_or_spid(text: str) -> None:
    assert add(operator=text).operator.seat_id == "PSE000102"


def test_operator_object_or_ref_is_taken_as_is() -> None:
    assert add(operator=Operator("PDK000104", "Sundnet ApS")).operator.name == "Sundnet ApS"
    assert add(operator=OperatorRef(seat_id="PDK000104")).operator.seat_id == "PDK000104"


def test_unknown_operator_name_suggests_the_closest() -> None:
    message = problems(operator="Kvitra")["operator"]
    assert "did you mean" in message
    assert "Kvittra AB (PSE000102)" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PSE00010", "not a valid Seat ID"),
        ("PSE999999", "no operator with Seat ID PSE999999"),
        ("0242:12", "not a valid SPID"),
        ("", "empty"),
    ],
)
def test_bad_operator(text: str, expected: str) -> None:
    assert expected in problems(operator=text)["operator"]


def test_without_a_registry_only_seat_ids_are_understood() -> None:
    r = AddRecipientRequest.create(**{**GOOD, "operator": "pse000109"})
    assert r.operator.seat_id == "PSE000109"
    with pytest.raises(InvalidRequest) as info:
        AddRecipientRequest.create(**{**GOOD, "operator": "Kvittra"})
    assert "registry" in dict(info.value.problems)["operator"]
    with pytest.raises(InvalidRequest) as info:
        AddRecipientRequest.create(**{**GOOD, "operator": "PSE1234567"})
    assert "not a valid Seat ID" in dict(info.value.problems)["operator"]


# --- e-mail ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "stored"),
    [
        ("faktura@akesson.example", "faktura@akesson.example"),
        ("ANNA.Berg@EXAMPLE.SE", "ANNA.Berg@example.se"),
        ("faktura@bokföring.se", "faktura@bokföring.se"),
        ("faktura@XN--BOKFRING-Q4A.SE", "faktura@bokföring.se"),
        ("åsa.öberg@exempel.se", "åsa.öberg@exempel.se"),
        ("  faktura+peppol@akesson.example ", "faktura+peppol@akesson.example"),
    ],
)
def test_good_emails_are_normalised(email: str, stored: str) -> None:
    assert add(email=email).email == stored


@pytest.mark.parametrize(
    "email",
    ["", "faktura", "faktura@", "@akesson.example", "a@@akesson.example", "fak tura@akesson.se",
     "faktura@akesson", "faktura@-akesson.se"],
)  # fmt: skip
def test_bad_emails_are_refused(email: str) -> None:
    assert "email" in problems(email=email)


# --- document types, requester, note --------------------------------------------------------------


def test_document_types() -> None:
    only_invoice = add(document_types=[BIS_BILLING_INVOICE.uri, BIS_BILLING_INVOICE])
    assert only_invoice.document_types == (BIS_BILLING_INVOICE,)
    assert "document_types[1]" in problems(document_types=[BIS_BILLING_INVOICE, "bad id"])
    assert "document_types" in problems(document_types=[])


def test_requester_and_note() -> None:
    r = add(requester={"name": "Eva Ström", "email": "EVA@Byrå.se"}, note="  Ring först  ")
    assert r.requester == Requester(name="Eva Ström", email="EVA@byrå.se")
    assert r.note == "Ring först"
    assert "requester.email" in problems(requester={"name": "Eva", "email": "nope"})
    assert "note" in problems(note="x" * 2001)
    default_requester = Requester(name="Support", email="support@byra.example")
    r = AddRecipientRequest.create(**GOOD, defaults=RequestDefaults(requester=default_requester))
    assert r.requester == default_requester


# --- every problem at once ------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        company_name=" ", organisation_number="556732-1708", operator="Kvitra", email="x@"
    )
    assert set(found) == {"company_name", "organisation_number", "operator", "email"}
    with pytest.raises(InvalidRequest) as info:
        add(company_name="", email="")
    assert "company_name" in str(info.value)
    assert "email" in str(info.value)


# --- updates and migration keys -------------------------------------------------------------------


def update(**changes: Any) -> UpdateRecipientRequest:
    base = {**GOOD, "current_operator": "Norrsken Invoice", "registry": REGISTRY}
    return UpdateRecipientRequest.create(**{**base, **changes})


def test_update_carries_the_current_operator_and_key() -> None:
    key = generate_migration_key()
    r = update(migration_key=key)
    assert r.kind is RequestKind.UPDATE
    assert r.current_operator.seat_id == "PSE000109"
    assert r.migration_key == key
    assert update().migration_key is None


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Ab1@", "8 to 24"),
        ("Ab12@#cd EF", "whitespace"),
        ("ab12@#cdef", "upper-case"),
        ("AB12@#CDEF", "lower-case"),
        ("Abcd@#cdEF", "digits"),
        ("Ab12cd34EF", "special"),
        ("Ab12@#cdEF" * 3, "8 to 24"),
    ],
)
def test_bad_migration_keys(key: str, expected: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        update(migration_key=key)
    assert expected in dict(info.value.problems)["migration_key"]


def test_update_problems_are_collected_with_the_common_ones() -> None:
    with pytest.raises(InvalidRequest) as info:
        update(current_operator="PSE000102", migration_key="short", email="bad")
    found = dict(info.value.problems)
    assert "same as the requested operator" in found["current_operator"]
    assert {"migration_key", "email"} <= set(found)
    with pytest.raises(InvalidRequest) as info:
        update(current_operator="Nobody Invoicing")
    assert "current_operator" in dict(info.value.problems)


# --- request ids ----------------------------------------------------------------------------------


def test_every_submission_has_its_own_id() -> None:
    # The same customer may rightly be asked for twice (a corrected request after a rejection,
    # a move back to an operator it left): each submission is a case of its own.
    first = add()
    assert uuid.UUID(first.request_id).version == 4
    assert str(uuid.UUID(first.request_id)) == first.request_id  # canonical form
    assert add().request_id != first.request_id
    assert first.with_status(RequestStatus.SENT).request_id == first.request_id
    assert first.with_status(RequestStatus.SENT).status is RequestStatus.SENT
    given = "1B4E28BA-2FA1-41D2-883F-0016D3CCA427"
    assert add(request_id=given).request_id == given.lower()
    old = "655d813a-cce8-5400-b144-00cd18f50134"  # ids made before 0.1 were UUID5: still read
    assert update(request_id=old).request_id == old


@pytest.mark.parametrize(
    "bad", ["", "655d813a", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "x" * 36]
)
def test_a_request_id_must_be_a_uuid(bad: str) -> None:
    assert "is not a request id" in problems(request_id=bad)["request_id"]


def test_requests_are_immutable() -> None:
    r = add()
    with pytest.raises(Exception, match="frozen"):
        r.company_name = "Other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [("company_name", "Bygg\x00 AB"), ("company_name", "Bygg\nAB"), ("note", "ring\x07"),
     ("organisation_number", "556732\x0b1707")],
)  # fmt: skip
def test_control_characters_are_refused(field: str, value: str) -> None:
    assert "control character" in problems(**{field: value})[field]


def test_note_line_ends_are_normalised() -> None:
    assert add(note="rad 1\r\nrad 2\rrad 3").note == "rad 1\nrad 2\nrad 3"


# --- header injection: one-line fields are refused, never altered -----------------------------

#: Every character a line may end at (str.splitlines), as one mail-header value would meet it.
LINE_BREAKS = [
    "\r",
    "\n",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
]


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_a_line_break_in_any_header_bound_field_is_refused(brk: str) -> None:
    """Names, addresses and whatever a mail subject is made of: refused at create() and when
    a document is read, with the field named (a name used to be folded into one line)."""
    injected = f"{brk}Bcc: evil@attacker.example"
    assert "line break" in problems(company_name=f"Bygg AB{injected}")["company_name"]
    assert "line break" in problems(organisation_number=f"556732{brk}1707")["organisation_number"]
    assert "email" in problems(email=f"faktura@akesson.example{injected}")
    found = problems(requester={"name": f"Eva{injected}", "email": "eva@byra.example"})
    assert "line break" in found["requester.name"]
    found = problems(requester={"name": "Eva", "email": f"eva@byra.example{injected}"})
    assert "requester.email" in found
    assert "line break" in problems(requester=f"Eva <eva@byra.example>{injected}")["requester"]
    document = to_dict(add())
    document["operator"]["name"] = f"Kvittra AB{injected}"
    with pytest.raises(InvalidRequest) as info:
        from_json(document)
    assert "line break" in dict(info.value.problems)["operator.name"]


@pytest.mark.parametrize(
    ("text", "name", "email"),
    [
        ("Eva Ström <EVA@Byrå.se>", "Eva Ström", "EVA@byrå.se"),
        ("eva@byra.example", "eva", "eva@byra.example"),
        ("<eva@byra.example>", "eva", "eva@byra.example"),
        ('"Ström, Eva" <eva@byra.example>', "Ström, Eva", "eva@byra.example"),
    ],
)
def test_a_requester_given_as_text(text: str, name: str, email: str) -> None:
    assert add(requester=text).requester == Requester(name=name, email=email)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        # parseaddr kept the first address of each of these and dropped the rest: another
        # Reply-To than the one given
        ("evil@attacker.example\r\nEva <eva@byra.example>", "U+000D, a line break"),
        ("Eva <eva@byra.example>\nBcc: evil@attacker.example", "U+000A, a line break"),
        ("Eva <eva@byra.example>, Bob <bob@byra.example>", "is not one address"),
        ("Ström, Eva <eva@byra.example>", "is not one address"),
        ("Eva <eva@byra.example> extra", "is not one address"),
        ("Eva", "not a valid e-mail address"),
        ("  ", "must not be empty"),
    ],
)
def test_a_requester_text_that_is_not_one_mailbox_is_refused(text: str, says: str) -> None:
    assert says in problems(requester=text)["requester"]
    # ...and every other problem is still reported with it
    assert set(problems(requester=text, email="x@")) == {"requester", "email"}


def test_an_operator_name_from_the_network_that_is_not_one_line_is_not_shown() -> None:
    """A registry learns names from the network; the Seat ID is what counts, so a name that
    cannot be shown is left out of the request instead of refusing the customer."""
    hostile = Operator("PSE000102", "Kvittra AB\r\nBcc: evil@attacker.example", "SE")
    ref = OperatorRef.of(hostile)
    assert (ref.seat_id, ref.name) == ("PSE000102", None)
    r = add(operator=hostile)
    assert str(r.operator) == "PSE000102"
    assert "\r" not in r.summary()
