"""RequestPlan: what the network says decides what is sent (pure core, then the real sandbox)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from peppolnet.errors import DnsFailure
from peppolnet.i18n import render
from peppolnet.identifiers import BIS_BILLING_INVOICE, DocumentTypeId, ParticipantId
from peppolnet.lookup import Lookup
from peppolnet.operators import Operator
from peppolnet.reachability import Check, CheckStatus, Reachability, Verdict
from peppolnet.recipients import (
    AddRecipientRequest,
    NetworkState,
    PlanAction,
    UpdateRecipientRequest,
    check_request,
    plan_request,
)
from peppolnet.sandbox import Sandbox

KVITTRA = Operator("PSE000102", "Kvittra AB", "SE")
NORRSKEN = Operator("PSE000109", "Norrsken Invoice AB", "SE")


def add(**changes: Any) -> AddRecipientRequest:
    fields: dict[str, Any] = {
        "company_name": "Åkesson Bygg AB",
        "organisation_number": "556732-1707",
        "operator": KVITTRA,
        "email": "faktura@akesson.example",
        **changes,
    }
    return AddRecipientRequest.create(**fields)


def update(**changes: Any) -> UpdateRecipientRequest:
    fields: dict[str, Any] = {
        "company_name": "Åkesson Bygg AB",
        "organisation_number": "556732-1707",
        "operator": KVITTRA,
        "current_operator": "PDK000104",
        "email": "faktura@akesson.example",
        "migration_key": "Ab12@#cdEF",
        **changes,
    }
    return UpdateRecipientRequest.create(**fields)


def seen(verdict: Verdict, operator: Operator | None = None, reason: str = "ok") -> Reachability:
    status = CheckStatus.PASS if verdict is Verdict.CAN_RECEIVE else CheckStatus.FAIL
    return Reachability(
        query="0007:5567321707",
        participant=ParticipantId.parse("0007:5567321707"),
        document_type=BIS_BILLING_INVOICE,
        process=None,
        network="test",
        verdict=verdict,
        checks=(Check("sml", status, reason),),
        at=datetime(2026, 11, 27, tzinfo=UTC),
        operator=operator,
    )


def test_already_reachable_through_the_requested_operator_means_nothing_to_send() -> None:
    plan = plan_request(add(), seen(Verdict.CAN_RECEIVE, KVITTRA))
    assert plan.action is PlanAction.NOTHING
    assert plan.network_state is NetworkState.WITH_OPERATOR
    assert not plan.should_send
    assert plan.request is None
    assert "already reachable through Kvittra AB (PSE000102)" in plan.message
    assert plan.meanwhile == ()


def test_reachable_through_another_operator_becomes_an_update_from_it() -> None:
    request = add()
    plan = plan_request(request, seen(Verdict.CAN_RECEIVE, NORRSKEN))
    assert plan.action is PlanAction.UPDATE
    assert plan.network_state is NetworkState.ELSEWHERE
    assert isinstance(plan.request, UpdateRecipientRequest)
    assert plan.request.current_operator.seat_id == "PSE000109"
    assert plan.request.operator == request.operator
    assert plan.request.email == request.email
    assert "Norrsken Invoice AB (PSE000109)" in plan.message
    assert "becomes an update" in plan.message
    assert any("still reach" in line for line in plan.meanwhile)


def test_update_naming_the_wrong_current_operator_is_corrected() -> None:
    plan = plan_request(update(), seen(Verdict.CAN_RECEIVE, NORRSKEN))
    assert isinstance(plan.request, UpdateRecipientRequest)
    assert plan.request.current_operator.seat_id == "PSE000109"
    assert plan.request.migration_key == "Ab12@#cdEF"
    right = update(current_operator=NORRSKEN)
    assert plan_request(right, seen(Verdict.CAN_RECEIVE, NORRSKEN)).request == right


def test_not_registered_means_add_even_when_an_update_was_asked() -> None:
    asked = update()
    plan = plan_request(asked, seen(Verdict.NOT_REGISTERED, reason="no NAPTR record"))
    assert plan.action is PlanAction.ADD
    assert plan.network_state is NetworkState.NOT_REGISTERED
    assert isinstance(plan.request, AddRecipientRequest)
    assert plan.request.request_id == asked.request_id  # the same submission, re-shaped
    assert "becomes an add" in plan.message
    assert any("PDF" in line and "faktura@akesson.example" in line for line in plan.meanwhile)


def test_customer_requiring_e_invoices_gets_no_pdf_advice() -> None:
    plan = plan_request(add(), seen(Verdict.NOT_REGISTERED), requires_einvoice=True)
    assert not any("PDF" in line for line in plan.meanwhile)
    assert any("requires e-invoices" in line for line in plan.meanwhile)


def test_a_fault_is_network_state_unknown_and_the_request_can_still_be_sent() -> None:
    request = update()
    plan = plan_request(request, seen(Verdict.UNKNOWN, reason="DNS timed out"))
    assert plan.network_state is NetworkState.UNKNOWN
    assert plan.request == request
    assert plan.action is PlanAction.UPDATE
    assert "Network state unknown (DNS timed out)" in plan.message
    lookup_failed = plan_request(add(), None, fault="resolver exploded")
    assert lookup_failed.network_state is NetworkState.UNKNOWN
    assert lookup_failed.should_send
    assert "resolver exploded" in lookup_failed.message


def test_registered_with_the_operator_but_not_receiving_asks_it_to_fix() -> None:
    plan = plan_request(add(), seen(Verdict.CANNOT_RECEIVE, KVITTRA, "not for the invoice"))
    assert plan.action is PlanAction.ADD
    assert plan.network_state is NetworkState.WITH_OPERATOR
    assert "not for the invoice" in plan.message


def test_registered_with_an_unidentified_operator() -> None:
    asked = add()
    plan = plan_request(asked, seen(Verdict.CANNOT_RECEIVE, None, "document type missing"))
    assert plan.network_state is NetworkState.REGISTERED
    assert plan.request == asked


def test_plan_json_and_text() -> None:
    plan = plan_request(add(), seen(Verdict.CAN_RECEIVE, NORRSKEN))
    data = plan.to_json()
    assert data["action"] == "update"
    assert data["network_state"] == "registered-elsewhere"
    assert data["current_operator"] == {"seat_id": "PSE000109", "name": "Norrsken Invoice AB"}
    assert data["request_id"] == plan.request.request_id if plan.request else False
    assert "Meanwhile:" in str(plan)


def test_the_plan_reads_in_swedish() -> None:
    """The decision and the advice are messages: English as strings and in JSON, Swedish for
    a Swedish reader (the CLI's --lang sv, the support page)."""
    plan = plan_request(add(), seen(Verdict.CAN_RECEIVE, NORRSKEN))
    swedish = plan.text("sv")
    assert swedish.splitlines()[0] == (
        "0007:5567321707 är registrerad hos Norrsken Invoice AB (PSE000109): skicka en förfrågan "
        "om flytt till Kvittra AB (PSE000102) (det efterfrågades ett tillägg, men kunden är "
        "registrerad hos en annan operatör, så det blir en flytt)."
    )
    assert "Under tiden:" in swedish
    assert "Peppol-fakturor når fortfarande Åkesson Bygg AB via Norrsken" in swedish
    assert plan.text("en") == str(plan)
    assert plan.to_json()["message"] == str(plan.message)  # JSON keeps the English
    assert "language" not in plan.to_json()  # recorded only when a front end sets it

    fault = plan_request(add(), None)
    assert render(fault.message, "sv") == (
        "Läget i nätverket är okänt (uppslagningen misslyckades); förfrågan kan ändå skickas som "
        "den är (tillägg)."
    )
    pdf = plan_request(add(), seen(Verdict.NOT_REGISTERED))
    assert render(pdf.meanwhile[0], "sv") == (
        "Tills registreringen syns i nätverket: skicka fakturor till Åkesson Bygg AB som PDF "
        "via e-post (faktura@akesson.example) eller på papper."
    )


def test_a_request_summary_reads_in_swedish() -> None:
    assert add().summary().render("sv") == (
        "Lägg till Åkesson Bygg AB (0007:5567321707) hos Kvittra AB (PSE000102)"
    )
    assert str(update().summary()) == (
        "Move Åkesson Bygg AB (0007:5567321707) to Kvittra AB (PSE000102) from PDK000104"
    )
    assert update().summary().render("sv").startswith("Flytta Åkesson Bygg AB")


class _Broken:
    def check(
        self, participant: ParticipantId, *, document_type: DocumentTypeId | str | None = None
    ) -> Reachability:
        raise DnsFailure("the resolver did not answer")


def test_check_request_turns_a_raising_lookup_into_unknown() -> None:
    plan = check_request(add(), _Broken())
    assert plan.network_state is NetworkState.UNKNOWN
    assert "the resolver did not answer" in plan.message


# --- against the real sandbox network -------------------------------------------------------------


@pytest.fixture(scope="module")
def lookup(sandbox: Sandbox) -> Iterator[Lookup]:
    with Lookup(sandbox.network, timeout=2.0) as lk:
        yield lk


def _plain(sandbox: Sandbox) -> Any:
    return next(
        p
        for p in sandbox.config.participants
        if p.in_sml
        and not p.quirks
        and p.id.icd == "0007"
        and BIS_BILLING_INVOICE in p.document_types
    )


def test_sandbox_participant_with_its_own_operator(sandbox: Sandbox, lookup: Lookup) -> None:
    participant = _plain(sandbox)
    operator = sandbox.config.operator(participant.operator)
    request = AddRecipientRequest.create(
        company_name=participant.name,
        organisation_number=participant.id.local_id,
        country="SE",
        operator=operator.seat_id,
        email="faktura@kund.example",
    )
    plan = check_request(request, lookup)
    assert plan.action is PlanAction.NOTHING, plan.message


def test_sandbox_participant_with_another_operator(sandbox: Sandbox, lookup: Lookup) -> None:
    participant = _plain(sandbox)
    holder = sandbox.config.operator(participant.operator)
    other = next(op for op in sandbox.config.operators if op.id != holder.id)
    request = AddRecipientRequest.create(
        company_name=participant.name,
        organisation_number=participant.id.local_id,
        country="SE",
        operator=other.seat_id,
        email="faktura@kund.example",
    )
    plan = check_request(request, lookup)
    assert plan.action is PlanAction.UPDATE, plan.message
    assert plan.current_operator is not None
    assert plan.current_operator.seat_id == holder.seat_id


def test_sandbox_unknown_participant_is_an_add(lookup: Lookup) -> None:
    request = add(organisation_number="802001-2343")
    plan = check_request(request, lookup)
    assert plan.action is PlanAction.ADD
    assert plan.network_state is NetworkState.NOT_REGISTERED
