"""JSON/XML round trips validated against the project's own schemas; text and e-mail renderings."""

from __future__ import annotations

import dataclasses
import json
import string
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from peppolnet.errors import InvalidInput, InvalidRequest
from peppolnet.identifiers import BIS_BILLING_INVOICE
from peppolnet.operators import Operator
from peppolnet.reachability import Verdict
from peppolnet.recipients import (
    AddRecipientRequest,
    Requester,
    RequestStatus,
    UpdateRecipientRequest,
    from_json,
    from_xml,
    generate_migration_key,
    render_email,
    render_text,
    to_dict,
    to_json,
    to_xml,
)
from peppolnet.recipients.tracking import RecordedCheck, render_confirmation
from peppolnet.xmlsafe import parse_xml

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
XSD = etree.XMLSchema(parse_xml((SCHEMAS / "recipient-request.xsd").read_bytes()))
JSON_SCHEMA = json.loads((SCHEMAS / "recipient-request.schema.json").read_text(encoding="utf-8"))


try:
    import jsonschema
except ImportError:  # a test-only tool, not a dependency: see test_json_schema_checker_present
    jsonschema = None


def check_json(document: dict[str, Any]) -> None:
    """Validate against the committed JSON Schema (where jsonschema is installed)."""
    if jsonschema is not None:
        jsonschema.Draft202012Validator(
            JSON_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).validate(document)


def test_json_schema_checker_present() -> None:
    if jsonschema is None:
        pytest.skip(
            "jsonschema is not installed: JSON documents are not checked against the schema"
        )
    jsonschema.Draft202012Validator.check_schema(JSON_SCHEMA)


def check_xml(data: bytes) -> None:
    XSD.assertValid(parse_xml(data))


# Fixed ids, so that every call builds the same submission (create() draws a new id otherwise).
ADD_ID, UPDATE_ID = "0d5c2a4e-8f1b-4c3d-9e7a-6b2f1c0d3e4a", "7e3f9b21-4a6c-4d8e-b5f0-2c1a9d8e7f60"


def make_add(**changes: Any) -> AddRecipientRequest:
    fields: dict[str, Any] = {
        "request_id": ADD_ID,
        "company_name": "Fjällräv Konsult AB",
        "organisation_number": "556732 1707",
        "operator": "PSE000102",
        "email": "Faktura@Bokföring.se",
        **changes,
    }
    return AddRecipientRequest.create(**fields)


def make_update(**changes: Any) -> UpdateRecipientRequest:
    fields: dict[str, Any] = {
        "request_id": UPDATE_ID,
        "company_name": "Öresund Trä AB",
        "organisation_number": "556036-0793",
        "operator": "PSE000109",
        "current_operator": "PSE000102",
        "email": "ekonomi@oresund.example",
        "migration_key": "Ab12@#cdEF",
        "requester": {"name": "Eva Ström", "email": "eva@byra.example", "organisation": "Byrå"},
        "note": "Flyttar den 1 mars.\nRing först.",
        "created_at": datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
        **changes,
    }
    return UpdateRecipientRequest.create(**fields)


REQUESTS = [make_add(), make_update(), make_update(migration_key=None, requester=None, note=None)]


@pytest.mark.parametrize("request_", REQUESTS)
def test_json_round_trip_and_schema(request_: AddRecipientRequest | UpdateRecipientRequest) -> None:
    text = to_json(request_)
    document = json.loads(text)
    check_json(document)
    assert document["request_id"] == request_.request_id
    assert document["version"] == 1
    assert from_json(text) == request_
    assert from_json(text.encode("utf-8")) == request_
    assert from_json(document) == request_


@pytest.mark.parametrize("request_", REQUESTS)
def test_xml_round_trip_and_schema(request_: AddRecipientRequest | UpdateRecipientRequest) -> None:
    data = to_xml(request_)
    check_xml(data)
    back = from_xml(data)
    assert back == request_
    assert type(back) is type(request_)


def test_documents_keep_their_id_and_old_ones_stay_readable() -> None:
    # Before 0.1 ids were UUID5s derived from the content: such documents still read, id kept.
    old = {**to_dict(make_add()), "request_id": "655d813a-cce8-5400-b144-00cd18f50134"}
    check_json(old)
    assert from_json(old).request_id == old["request_id"]
    assert from_json(old).company_name == make_add().company_name
    # A document without an id is a new submission each time it is read.
    no_id = {k: v for k, v in to_dict(make_add()).items() if k != "request_id"}
    first, second = from_json(no_id), from_json({**no_id, "request_id": None})
    assert first.request_id != second.request_id
    assert first.model_dump(exclude={"request_id"}) == second.model_dump(exclude={"request_id"})


def test_status_survives_both_forms() -> None:
    sent = make_add().with_status(RequestStatus.SENT)
    assert from_json(to_json(sent)).status is RequestStatus.SENT
    assert from_xml(to_xml(sent)).status is RequestStatus.SENT


def test_the_schemas_refuse_what_the_library_refuses() -> None:
    if jsonschema is None:
        pytest.skip("jsonschema is not installed")
    document = to_dict(make_add())
    for change in (
        {"operator": {"seat_id": "PSE00010"}},
        {"kind": "remove"},
        {"country": "se"},
        {"current_operator": {"seat_id": "PSE000109"}},  # an add has no current operator
        {"unexpected": 1},
    ):
        with pytest.raises(jsonschema.ValidationError):
            check_json({**document, **change})
    update = to_dict(make_update())
    del update["current_operator"]
    with pytest.raises(jsonschema.ValidationError):
        check_json(update)
    root = parse_xml(to_xml(make_add()))
    root.set("kind", "remove")
    assert not XSD.validate(root)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"company_name": "   "}, "company_name"),
        ({"participant_id": "0007:5567321708"}, "participant_id"),
        ({"operator": {"seat_id": "XSE000102"}}, "operator.seat_id"),
        ({"kind": "remove"}, "kind"),
        ({"request_id": "00000000-0000-0000-0000-000000000000"}, "request_id"),
        ({"request_id": 42}, "request_id"),
        ({"extra": True}, "extra"),
        ({"version": 2}, "version"),
        ({"document_types": []}, "document_types"),
    ],
)
def test_reading_json_validates_like_create(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        from_json({**to_dict(make_add()), **change})
    assert field in dict(info.value.problems)


def test_reading_update_json_checks_the_migration_key() -> None:
    with pytest.raises(InvalidRequest) as info:
        from_json({**to_dict(make_update()), "migration_key": "abc def"})
    assert "migration_key" in dict(info.value.problems)


def test_version_and_time_zone_are_checked() -> None:
    data = to_xml(make_add()).replace(b'version="1"', b'version="one"')
    with pytest.raises(InvalidRequest) as info:
        from_xml(data)
    assert "version" in dict(info.value.problems)
    with pytest.raises(InvalidRequest) as info:
        make_add(created_at=datetime(2026, 1, 1))
    assert "time zone" in dict(info.value.problems)["created_at"]


@pytest.mark.parametrize(
    "data", [b"", b"{", b"[1, 2]", b"\xff\xfe", "x" * 300_000, "[" * 100_000, '{"a":' * 50_000]
)
def test_broken_json(data: bytes | str) -> None:
    with pytest.raises(InvalidRequest):
        from_json(data)


def test_hostile_or_foreign_xml_is_refused() -> None:
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "boom">]>'
        b'<RecipientRequest xmlns="urn:peppolnet:recipient-request:1">&e;</RecipientRequest>'
    )
    with pytest.raises(InvalidRequest, match="not usable XML"):
        from_xml(hostile)
    with pytest.raises(InvalidRequest, match="root element"):
        from_xml(b"<RecipientRequest/>")
    with pytest.raises(InvalidRequest):
        from_xml(b"<unclosed")
    data = to_xml(make_add()).replace(b"<Email>", b"<Email>broken ")
    with pytest.raises(InvalidRequest) as info:
        from_xml(data)
    assert "email" in dict(info.value.problems)


def test_text_rendering_for_support_desks() -> None:
    text = render_text(make_update())
    assert "move a recipient" in text
    for expected in (
        "Company name:         Öresund Trä AB",
        "Organisation number:  556036-0793 (SE)",
        "Peppol participant:   0007:5560360793",
        "Operator:             PSE000109",
        "Current operator:     PSE000102",
        "Migration key:        Ab12@#cdEF",
        "Recipient e-mail:     ekonomi@oresund.example",
        "Requested by:         Eva Ström, Byrå <eva@byra.example>",
        BIS_BILLING_INVOICE.uri,
        "Ring först.",
        make_update().request_id,
    ):
        assert expected in text
    assert "add a recipient" in render_text(make_add())
    assert "(to be issued by it)" in render_text(make_update(migration_key=None))


def test_email_rendering() -> None:
    request_ = make_update()
    message = render_email(request_, to="onboarding@norrsken.example", sender="noreply@x.example")
    parsed = message_from_bytes(message.as_bytes(), policy=default_policy)
    assert parsed["Message-ID"] == f"<{request_.request_id}@peppolnet.request>"
    assert parsed["Reply-To"] == "eva@byra.example"
    assert "Öresund Trä AB" in str(parsed["Subject"])
    assert parsed["Subject"].startswith("Move recipient")
    body = parsed.get_body(("plain",))
    assert body is not None
    assert "Öresund Trä AB" in body.get_content()
    attachments = list(parsed.iter_attachments())
    assert len(attachments) == 1
    assert from_json(attachments[0].get_content()) == request_
    again = render_email(request_, to="onboarding@norrsken.example", sender="noreply@x.example")
    assert again["Message-ID"] == message["Message-ID"]


# --- header injection: the renderers refuse, whatever the value came from ------------------------

INJECTED = "\r\nBcc: evil@attacker.example"


@pytest.mark.parametrize(
    ("to", "sender", "header"),
    [
        (f"onboarding@norrsken.example{INJECTED}", "noreply@x.example", "To"),
        ("onboarding@norrsken.example", "noreply@x.example\u2028Bcc: e@x.example", "From"),
    ],
)
def test_an_address_with_a_line_break_is_refused_by_the_renderer(
    to: str, sender: str, header: str
) -> None:
    with pytest.raises(InvalidInput, match=f"the {header} header of the mail contains"):
        render_email(make_update(), to=to, sender=sender)


def test_a_request_built_without_validation_cannot_inject_headers() -> None:
    """model_copy does not validate: the renderer is the last line and checks every header."""
    smuggled = make_update().model_copy(update={"company_name": f"Öresund Trä AB{INJECTED}"})
    with pytest.raises(InvalidInput, match=r"Subject header .* \(U\+000D, a line break\)"):
        render_email(smuggled, to="onboarding@norrsken.example", sender="noreply@x.example")
    with pytest.raises(InvalidInput, match="Subject header"):
        render_confirmation(smuggled, sender="noreply@x.example")
    requester = Requester.model_construct(name="Eva", email=f"eva@byra.example{INJECTED}")
    smuggled = make_update().model_copy(update={"requester": requester})
    with pytest.raises(InvalidInput, match="Reply-To header"):
        render_email(smuggled, to="onboarding@norrsken.example", sender="noreply@x.example")
    with pytest.raises(InvalidInput, match="To header"):
        render_confirmation(smuggled, sender="noreply@x.example")


def test_an_operator_name_the_network_showed_is_left_out_of_the_subject_if_not_one_line() -> None:
    request_ = make_add()  # the operator by Seat ID only: the confirmation names what was seen
    seen = Operator("PSE000102", f"Kvittra AB{INJECTED}", "SE")
    check = RecordedCheck(
        BIS_BILLING_INVOICE, Verdict.CAN_RECEIVE, seen, "", datetime(2026, 3, 1, tzinfo=UTC)
    )
    mail = render_confirmation(request_, sender="noreply@x.example", checks=[check])
    assert mail["Subject"].endswith("added to PSE000102")
    fine = Operator("PSE000102", "Kvittra AB", "SE")
    check = dataclasses.replace(check, operator=fine)
    mail = render_confirmation(request_, sender="noreply@x.example", checks=[check])
    assert mail["Subject"].endswith("added to Kvittra AB (PSE000102)")


# --- property: anything create() accepts round-trips through both forms ---------------------------

NAME_CHARS = string.ascii_letters + "åäöÅÄÖéüøæÆØ &-.,'"
LOCAL_CHARS = string.ascii_letters + string.digits + "._+-"


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(NAME_CHARS, min_size=1, max_size=60).filter(lambda s: s.strip()),
    local=st.text(LOCAL_CHARS, min_size=1, max_size=20).filter(
        lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s
    ),
    domain=st.sampled_from(
        ["example.se", "BOKFÖRING.se", "fjällräv.example", "XN--BOKFRING-Q4A.SE"]
    ),
    number=st.sampled_from(["556732-1707", "5560360793", "559012 3450", "802001-2343"]),
    note=st.none() | st.text(max_size=200),
    update=st.booleans(),
)
def test_round_trips_for_generated_requests(
    name: str, local: str, domain: str, number: str, note: str | None, update: bool
) -> None:
    fields: dict[str, Any] = {
        "company_name": name,
        "organisation_number": number,
        "operator": "PSE000102",
        "email": f"{local}@{domain}",
        "note": note,
    }
    try:
        if update:
            request_: AddRecipientRequest | UpdateRecipientRequest = UpdateRecipientRequest.create(
                **fields, current_operator="PNO000101", migration_key=generate_migration_key()
            )
        else:
            request_ = AddRecipientRequest.create(**fields)
    except InvalidRequest as exc:  # only the e-mail may be refused by the generator's choices
        refused = {field for field, _ in exc.problems}
    else:
        refused = set()
    assert refused <= {"email", "note"}
    if refused:
        return
    check_json(json.loads(to_json(request_)))
    check_xml(to_xml(request_))
    assert from_json(to_json(request_)) == request_
    assert from_xml(to_xml(request_)) == request_


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    base=st.sampled_from([to_dict(make_add()), to_dict(make_update())]),
    key=st.sampled_from(sorted(to_dict(make_update()))),
    value=JSON_VALUES,
)
def test_reading_damaged_json_raises_only_invalid_request(
    base: dict[str, Any], key: str, value: Any
) -> None:
    problems: list[tuple[str, str]] = []
    try:
        back = from_json({**base, key: value})
    except InvalidRequest as exc:
        problems = exc.problems
        assert problems
    else:
        if key != "request_id":  # a document without an id is a new submission
            assert to_dict(back)["request_id"] == base["request_id"]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_reading_arbitrary_bytes_raises_only_invalid_request(data: bytes) -> None:
    with pytest.raises(InvalidRequest):
        from_xml(data)
    with pytest.raises(InvalidRequest):
        from_json(data)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=0, max_value=2000), junk=st.binary(max_size=5))
def test_reading_truncated_documents(cut: int, junk: bytes) -> None:
    for data in (to_xml(make_update()), to_json(make_update()).encode()):
        damaged = data[:cut] + junk
        try:
            back = from_xml(damaged) if data.startswith(b"<") else from_json(damaged)
        except InvalidRequest:
            continue
        assert back == make_update()
