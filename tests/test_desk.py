"""The sandbox operator desk over HTTP on 127.0.0.1: cases, idempotency, the SML's rules, and
one end-to-end run where a request makes the participant appear in the sandbox's DNS."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import dns.message
import dns.query
import dns.rcode
import httpx
import pytest

from peppolnet.identifiers import ParticipantId
from peppolnet.lookup import Lookup
from peppolnet.reachability import Verdict
from peppolnet.recipients import (
    AddRecipientRequest,
    HttpChannel,
    UpdateRecipientRequest,
    to_dict,
    to_json,
)
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import ParticipantConfig, load_config
from peppolnet.sandbox.desk import OperatorDesk
from peppolnet.sandbox.http import HttpServer
from peppolnet.sml import naptr_name

NEW = "559012-3450"  # valid Swedish numbers that are not in the default sandbox network
NEW_2 = "559012-3468"
KVITTRA, NORRSKEN = "PSE000102", "PSE000109"


class FakeSandbox:
    """The desk's dependency seam over the default network's config; records every call."""

    def __init__(self) -> None:
        self.config = load_config()
        self.participants: dict[ParticipantId, ParticipantConfig] = {
            p.id: p for p in self.config.participants
        }
        self.calls: list[tuple[str, Any]] = []
        self.called_at: list[float] = []  # time.monotonic() of each call

    def register_participant(self, participant: ParticipantConfig) -> None:
        self.calls.append(("register", participant))
        self.called_at.append(time.monotonic())
        self.participants[participant.id] = participant

    def move_participant(self, participant: ParticipantId | str, operator: str) -> None:
        self.calls.append(("move", (participant, operator)))
        pid = (
            participant
            if isinstance(participant, ParticipantId)
            else ParticipantId.parse(participant)
        )
        self.participants[pid] = dataclasses.replace(self.participants[pid], operator=operator)


@pytest.fixture
def fake() -> FakeSandbox:
    return FakeSandbox()


@pytest.fixture
def desk(fake: FakeSandbox) -> Iterator[tuple[OperatorDesk, httpx.Client]]:
    with (
        OperatorDesk(fake, delay=0.05) as desk_,
        HttpServer(desk_.handle, name="desk") as server,
        httpx.Client(base_url=server.base_url, timeout=5.0) as client,
    ):
        yield desk_, client


def add(number: str = NEW, operator: str = KVITTRA, **changes: Any) -> AddRecipientRequest:
    return AddRecipientRequest.create(
        company_name="Ödeshög Snickeri AB",
        organisation_number=number,
        operator=operator,
        email="faktura@odeshog.example",
        **changes,
    )


def registered(fake: FakeSandbox) -> ParticipantConfig:
    return next(
        p
        for p in fake.config.participants
        if p.in_sml and p.id.icd == "0007" and p.operator == "kvittra" and not p.quirks
    )


def post(client: httpx.Client, request: AddRecipientRequest | UpdateRecipientRequest) -> Any:
    return client.post("/requests", content=to_json(request).encode("utf-8"))


def test_add_is_received_then_registered(
    desk: tuple[OperatorDesk, httpx.Client], fake: FakeSandbox
) -> None:
    desk_, client = desk
    request = add()
    response = post(client, request)
    assert response.status_code == 202
    case = response.json()
    assert case["status"] == "received"
    assert case["request_id"] == request.request_id
    assert case["participant_id"] == request.participant_id.uri
    assert client.get(f"/requests/{case['case_id']}").json()["status"] in {"received", "registered"}
    done = desk_.wait(case["case_id"])
    assert done is not None
    assert done["status"] == "registered"
    assert done["reason"] is None
    kind, participant = fake.calls[0]
    assert kind == "register"
    assert participant.id == request.participant_id
    assert participant.operator == "kvittra"
    assert participant.name == "Ödeshög Snickeri AB"
    assert participant.document_types == request.document_types
    assert client.get(f"/requests/{request.request_id}").json()["case_id"] == case["case_id"]


def test_the_delay_is_respected(fake: FakeSandbox) -> None:
    # Only a lower bound: the desk never acts before its delay (however slow the machine is,
    # the timer cannot fire early); how much later it acts is the scheduler's business.
    with OperatorDesk(fake, delay=0.4) as desk_, HttpServer(desk_.handle) as server:
        before_post = time.monotonic()
        case = httpx.post(f"{server.base_url}/requests", json=to_dict(add())).json()
        assert case["status"] == "received"
        assert desk_.wait(case["case_id"])["status"] == "registered"  # type: ignore[index]
    [called_at] = fake.called_at
    assert called_at - before_post >= 0.399  # (a millisecond for timer rounding)


def test_a_held_case_waits_for_its_release(
    desk: tuple[OperatorDesk, httpx.Client], fake: FakeSandbox
) -> None:
    desk_, client = desk
    desk_.hold()
    first = post(client, add()).json()
    second = post(client, add(NEW_2)).json()
    assert desk_.held == [first["case_id"], second["case_id"]]
    assert desk_.settle()  # nothing released: nothing to wait for
    assert client.get(f"/requests/{first['case_id']}").json()["status"] == "received"
    assert fake.calls == []
    assert desk_.release(first["request_id"]) == [first["case_id"]]
    assert desk_.release(first["request_id"]) == []  # twice is harmless
    assert desk_.wait(first["case_id"])["status"] == "registered"  # type: ignore[index]
    assert desk_.held == [second["case_id"]]
    third = post(client, add("556036-0793")).json()  # still holding new cases
    assert desk_.release() == [second["case_id"], third["case_id"]]
    assert desk_.settle()
    assert [c["status"] for c in client.get("/requests").json()["cases"]] == ["registered"] * 3
    assert desk_.held == []
    fourth = post(client, add("802001-2343")).json()  # no longer holding
    assert desk_.wait(fourth["case_id"])["status"] == "registered"  # type: ignore[index]


def test_same_request_twice_is_one_case(
    desk: tuple[OperatorDesk, httpx.Client], fake: FakeSandbox
) -> None:
    desk_, client = desk
    request = add()
    first = post(client, request)
    second = post(client, request)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["case_id"] == first.json()["case_id"]
    desk_.wait(first.json()["case_id"])
    third = post(client, request)
    assert third.status_code == 200
    assert third.json()["status"] == "registered"
    assert len(fake.calls) == 1
    assert len(client.get("/requests").json()["cases"]) == 1


def test_the_desk_dedupes_on_the_idempotency_key(
    desk: tuple[OperatorDesk, httpx.Client], fake: FakeSandbox
) -> None:
    desk_, client = desk
    desk_.hold()
    request = add()
    body = to_json(request).encode("utf-8")

    def send(key: str, content: bytes = body) -> httpx.Response:
        return client.post("/requests", content=content, headers={"Idempotency-Key": key})

    first, retried = send("send-1"), send("send-1")
    assert (first.status_code, retried.status_code) == (202, 200)  # a retry: the same case
    assert retried.json()["case_id"] == first.json()["case_id"]
    assert first.json()["idempotency_key"] == "send-1"
    # Another send of the same submission (e.g. after the draft was corrected): a new case,
    # and the request id names the latest one.
    second = send("send-2")
    assert second.status_code == 202
    assert second.json()["case_id"] != first.json()["case_id"]
    latest = client.get(f"/requests/{request.request_id}").json()
    assert latest["case_id"] == second.json()["case_id"]
    # A key reused for another request is refused rather than answered with the wrong case.
    reused = send("send-1", to_json(add(note="Ring först")).encode("utf-8"))
    assert reused.status_code == 422
    assert "was used for another request" in reused.json()["error"]
    # A new submission asking the same is a new case (what a corrected request is).
    assert post(client, add()).status_code == 202
    assert send("x" * 256).status_code == 400
    assert len(client.get("/requests").json()["cases"]) == 3
    assert fake.calls == []  # all held


def test_unknown_operator_seat_id_is_rejected(
    desk: tuple[OperatorDesk, httpx.Client], fake: FakeSandbox
) -> None:
    desk_, client = desk
    case = post(client, add(operator="PSE999999")).json()
    done = desk_.wait(case["case_id"])
    assert done is not None
    assert done["status"] == "rejected"
    assert "unknown operator Seat ID PSE999999" in done["reason"]
    assert fake.calls == []


def test_add_for_a_participant_registered_elsewhere_is_refused_like_the_sml(
    desk: tuple[OperatorDesk, httpx.Client], fake: FakeSandbox
) -> None:
    desk_, client = desk
    existing = registered(fake)
    elsewhere = post(client, add(existing.id.local_id, NORRSKEN)).json()
    here = post(client, add(existing.id.local_id, KVITTRA)).json()
    assert desk_.wait(elsewhere["case_id"])["reason"].startswith(  # type: ignore[index]
        f"{existing.id.bare} is already registered with {KVITTRA} (SML ERR-106)"
    )
    assert desk_.wait(here["case_id"])["status"] == "registered"  # type: ignore[index]
    assert fake.calls == []


def test_add_for_a_directory_only_participant_registers_it(
    desk: tuple[OperatorDesk, httpx.Client], fake: FakeSandbox
) -> None:
    desk_, client = desk
    stale = next(p for p in fake.config.participants if not p.in_sml and p.id.icd == "0007")
    done = desk_.wait(post(client, add(stale.id.local_id)).json()["case_id"])
    assert done is not None
    assert done["status"] == "registered", done
    assert [(kind, p.id) for kind, p in fake.calls] == [("register", stale.id)]


def test_update_moves_the_participant(
    desk: tuple[OperatorDesk, httpx.Client], fake: FakeSandbox
) -> None:
    desk_, client = desk
    existing = registered(fake)
    request = UpdateRecipientRequest.create(
        company_name=existing.name,
        organisation_number=existing.id.local_id,
        operator=NORRSKEN,
        current_operator=KVITTRA,
        email="faktura@kund.example",
        migration_key="Ab12@#cdEF",
    )
    done = desk_.wait(post(client, request).json()["case_id"])
    assert done is not None
    assert done["status"] == "moved", done
    assert fake.calls == [("move", (existing.id, "norrsken"))]


def test_update_rules(desk: tuple[OperatorDesk, httpx.Client], fake: FakeSandbox) -> None:
    desk_, client = desk
    existing = registered(fake)

    def update(number: str, current: str) -> dict[str, Any]:
        request = UpdateRecipientRequest.create(
            company_name="Kund AB",
            organisation_number=number,
            operator=NORRSKEN,
            current_operator=current,
            email="faktura@kund.example",
        )
        done = desk_.wait(post(client, request).json()["case_id"])
        assert done is not None
        return done

    wrong_holder = update(existing.id.local_id, "PDK000104")
    assert wrong_holder["status"] == "rejected"
    assert f"registered with {KVITTRA}, not with PDK000104" in wrong_holder["reason"]
    missing = update(NEW, KVITTRA)
    assert missing["status"] == "rejected"
    assert "send an add request" in missing["reason"]
    assert fake.calls == []


def test_bad_requests_and_routes(desk: tuple[OperatorDesk, httpx.Client]) -> None:
    _, client = desk
    broken = client.post("/requests", content=b"{not json")
    assert broken.status_code == 400
    assert broken.json()["problems"][0][0] == "request"
    invalid = client.post("/requests", json={**to_dict(add()), "email": "nope"})
    assert invalid.status_code == 400
    assert [p[0] for p in invalid.json()["problems"]] == ["email"]
    assert client.get("/requests/case-nothing").status_code == 404
    assert client.get("/elsewhere").status_code == 404
    assert client.delete("/requests").status_code == 405
    assert client.get("/requests").json() == {"cases": []}


def test_a_failing_sandbox_call_rejects_the_case(fake: FakeSandbox) -> None:
    from peppolnet.errors import SandboxError

    def boom(participant: ParticipantConfig) -> None:
        raise SandboxError("the SMP is down")

    fake.register_participant = boom  # type: ignore[method-assign]
    with OperatorDesk(fake, delay=0.0) as desk_:
        from peppolnet.sandbox.http import Request

        body = to_json(add()).encode()
        response = desk_.handle(Request("POST", "/requests", {}, {}, body, ("127.0.0.1", 1)))
        case = json.loads(response.body)
        done = desk_.wait(case["case_id"])
    assert done is not None
    assert (done["status"], done["reason"]) == ("rejected", "the SMP is down")


# --- end to end: request -> desk -> sandbox SML (DNS) and SMP -------------------------------------


def _naptr(sandbox: Sandbox, pid: ParticipantId) -> dns.message.Message:
    query = dns.message.make_query(naptr_name(pid, sandbox.config.zone), "NAPTR")
    return dns.query.udp(query, "127.0.0.1", port=sandbox.dns.port, timeout=2.0)


def test_end_to_end_add_then_move(sandbox: Sandbox) -> None:
    request = add("802001-2343")
    pid = request.participant_id
    assert _naptr(sandbox, pid).rcode() == dns.rcode.NXDOMAIN
    try:
        with (
            OperatorDesk(sandbox, delay=0.0) as desk_,
            HttpServer(desk_.handle, name="desk") as server,
            HttpChannel(server.base_url) as channel,
        ):
            desk_.hold()
            receipt = channel.send(request)
            assert _naptr(sandbox, pid).rcode() == dns.rcode.NXDOMAIN  # not before the desk acts
            desk_.release()
            assert desk_.wait(receipt.reference)["status"] == "registered"  # type: ignore[index]
            answer = _naptr(sandbox, pid)
            assert answer.rcode() == dns.rcode.NOERROR
            assert answer.answer
            with Lookup(sandbox.network, timeout=2.0) as lookup:
                result = lookup.check(pid)
            assert result.verdict is Verdict.CAN_RECEIVE, result.reason
            assert result.operator is not None
            assert result.operator.seat_id == KVITTRA
            move = UpdateRecipientRequest.create(
                company_name=request.company_name,
                organisation_number="802001-2343",
                operator=NORRSKEN,
                current_operator=KVITTRA,
                email=request.email,
            )
            moved = channel.send(move)
            assert desk_.wait(moved.reference)["status"] == "moved"  # type: ignore[index]
            # A fresh lookup: a resolver that cached the NAPTR answer still points at the old
            # SMP until the record's TTL runs out (as in the real network).
            with Lookup(sandbox.network, timeout=2.0) as lookup:
                after = lookup.check(pid)
            assert after.verdict is Verdict.CAN_RECEIVE, after.reason
            assert after.operator is not None
            assert after.operator.seat_id == NORRSKEN
    finally:
        sandbox.remove_participant(pid)
    assert _naptr(sandbox, pid).rcode() == dns.rcode.NXDOMAIN
