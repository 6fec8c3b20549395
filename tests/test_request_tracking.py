"""RequestTracker over real parts: the SQLite file, the sandbox desk over HTTP, the sandbox's DNS
and SMPs, and a real local SMTP server (aiosmtpd) that receives the confirmation mail."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _sandbox_undo import undo_changes
from peppolnet.clock import SYSTEM_CLOCK, ManualClock
from peppolnet.errors import ChannelError, InvalidInput, InvalidRequest
from peppolnet.i18n import render
from peppolnet.lookup import Lookup
from peppolnet.recipients import (
    AddRecipientRequest,
    HttpChannel,
    OutboxChannel,
    RecipientDirectory,
    RequestStatus,
    SmtpChannel,
    UpdateRecipientRequest,
    generate_migration_key,
)
from peppolnet.recipients.directory import Change, CheckRecord, Recipient
from peppolnet.recipients.store import MIGRATIONS
from peppolnet.recipients.tracking import (
    EmailNotifier,
    RequestTracker,
    TrackedRequest,
    render_confirmation,
)
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import ParticipantConfig
from peppolnet.sandbox.http import HttpServer
from peppolnet.sandbox.http import Request as HttpRequest
from peppolnet.sandbox.http import Response as HttpResponse

NEW = "559012-3450"  # valid Swedish numbers that are not in the default sandbox network
NEW_2 = "559012-3468"


def Clock() -> ManualClock:
    """A movable "now" for expiry, starting at the sandbox's own "now".

    The tracker's follow-ups look participants up on this clock, and the module's sandbox dates
    its certificates by the machine's clock (its TLS is checked against it anyway), so the two
    start together; the tests then move only this one, by days, well inside the certificates'
    two years.
    """
    return ManualClock(SYSTEM_CLOCK.now())


@pytest.fixture(scope="module")
def net() -> Iterator[Sandbox]:
    """A sandbox of this module's own (participants get added and moved) with a quick desk.

    Tests that want to see a case before the desk acts hold it (``desk.hold()``) rather than
    race the delay; tests that change the network use ``sb``, which undoes the change.
    """
    with Sandbox.start(desk_delay=0.05) as running:
        yield running


@pytest.fixture
def sb(net: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox, put back as it was after the test (passed or failed)."""
    with undo_changes(net) as sandbox:
        yield sandbox


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        self.arrived.set()
        return "250 Message accepted"

    def parsed(self) -> list[tuple[list[str], EmailMessage]]:
        out = []
        for envelope in self.messages:
            assert isinstance(envelope.content, bytes)
            message = message_from_bytes(envelope.content, policy=default_policy)
            assert isinstance(message, EmailMessage)
            out.append((list(envelope.rcpt_tos), message))
        return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def notifier(port: int) -> EmailNotifier:
    return EmailNotifier("127.0.0.1", port, sender="onboarding@kvittra.example", security="none")


def add_request(number: str = NEW, **changes: Any) -> AddRecipientRequest:
    fields: dict[str, Any] = {
        "company_name": "Ödeshög Snickeri AB",
        "organisation_number": number,
        "operator": "PSE000102",
        "email": "faktura@odeshog.example",
        "requester": {"name": "Anna Support", "email": "anna@support.example"},
        **changes,
    }
    return AddRecipientRequest.create(**fields)


def saved(tmp_path: Path, **changes: Any) -> tuple[RequestTracker, AddRecipientRequest]:
    """A tracker on a new database file with one add request saved as a draft."""
    tracker = RequestTracker(tmp_path / "db.sqlite")
    request = add_request(**changes)
    tracker.save(request)
    return tracker, request


def served(net: Sandbox, operator: str = "kvittra", skip: int = 0) -> Any:
    """A plain participant (no quirks) that ``operator`` serves in the sandbox."""
    found = [
        p
        for p in net.participants.values()
        if p.in_sml and not p.quirks and p.operator == operator and p.id.icd == "0007"
    ]
    return found[skip]


def desk_cases(net: Sandbox) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = httpx.get(f"{net.desk_url}/requests").json()["cases"]
    return cases


# --- the database --------------------------------------------------------------------------------


def test_requests_live_in_the_recipient_database(tmp_path: Path) -> None:
    path = tmp_path / "recipients.sqlite"
    with RecipientDirectory(path) as directory:
        directory.add("Åkesson Bygg AB", participant_id="0007:5567321707", email="f@a.example")
    with RequestTracker(path) as tracker:
        assert tracker.store.schema_version >= 2
        tracker.save(add_request())
    with RecipientDirectory(path) as directory:  # the directory still works on the same file
        assert len(directory) == 1
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"recipients", "checks", "requests", "request_events"} <= tables
    assert conn.execute("SELECT status FROM requests").fetchall() == [("draft",)]
    conn.close()


# Documents as peppolnet before 0.1 stored them: ids were UUID5s of kind, participant, operator.
_OLD_DOC_TYPES = [
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu"
    ":en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1",
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote##urn"
    ":cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1",
]


def _old_body(request_id: str, number: str) -> str:
    return json.dumps(
        {
            "version": 1, "request_id": request_id, "kind": "add",
            "company_name": "Ödeshög Snickeri AB", "organisation_number": number,
            "country": "SE", "participant_id": f"iso6523-actorid-upis::0007:{number}",
            "operator": {"seat_id": "PSE000102", "name": None},
            "email": "faktura@odeshog.example", "document_types": _OLD_DOC_TYPES,
            "requester": None, "note": None, "created_at": None, "status": "draft",
        },
        ensure_ascii=False,
    )  # fmt: skip


def test_a_database_of_schema_2_is_migrated_and_stays_readable(tmp_path: Path) -> None:
    path = tmp_path / "recipients.sqlite"
    conn = sqlite3.connect(path)
    for version, script in MIGRATIONS:  # the file as peppolnet before 0.1 left it
        if version <= 2:
            conn.executescript(script)
    conn.execute("PRAGMA user_version = 2")
    at = "2026-02-01T09:00:00.000000+00:00"
    sent, draft = "05f7980f-afad-554b-8af6-041a5ad83bc0", "a54e2d22-efa7-5772-9b8f-3ea613b0db9a"
    rows = [
        (sent, "5590123450", "sent", "http", "case-0123456789abcdef", at),
        (draft, "5590123468", "draft", None, None, None),
    ]
    for rid, number, status, channel, reference, sent_at in rows:
        conn.execute(
            "INSERT INTO requests (request_id, kind, participant_id, seat_id, company_name, "
            "status, body, channel, reference, created_at, updated_at, sent_at) "
            "VALUES (?, 'add', ?, 'PSE000102', 'Ödeshög Snickeri AB', ?, ?, ?, ?, ?, ?, ?)",
            (rid, f"iso6523-actorid-upis::0007:{number}", status, _old_body(rid, number),
             channel, reference, at, at, sent_at),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO request_events (request_id, at, event, status) VALUES (?, ?, 'saved', ?)",
            (rid, at, "draft"),
        )
    conn.commit()
    conn.close()

    tracker = RequestTracker(path)
    assert tracker.store.schema_version == 4
    old_sent, old_draft = tracker.get(sent), tracker.get(draft[:8])
    assert old_sent is not None
    assert old_draft is not None
    assert old_sent.request.request_id == sent  # old ids are kept
    assert old_sent.status is RequestStatus.SENT
    # The old HTTP channel sent the request id as Idempotency-Key: that was the key of the send.
    assert old_sent.idempotency_key == sent
    assert old_sent.receipt is not None
    assert old_sent.receipt.reference == "case-0123456789abcdef"
    assert old_sent.checks == ()
    assert old_sent.checked_at is None
    assert (old_sent.claimed_by, old_sent.claimed_at, old_sent.claim_expires_at) == (None,) * 3
    assert old_draft.idempotency_key is None
    # An old draft is sent with a fresh key: a desk that still has a case under the old id (a
    # customer moved away and back) opens a new one instead of answering with that case.
    receipt = tracker.send(draft, OutboxChannel(tmp_path / "out"))
    assert receipt.idempotency_key not in (None, draft)
    assert [e.event for e in tracker.history(draft)] == ["saved", "sent"]
    assert {t.request_id for t in tracker.list(status="sent")} == {draft, sent}


def test_tracker_on_a_store_opened_before(tmp_path: Path) -> None:
    directory = RecipientDirectory(tmp_path / "db.sqlite")
    tracker = RequestTracker(directory.store)  # the same Store object, one connection
    tracker.save(add_request())
    assert [t.status for t in tracker.list()] == [RequestStatus.DRAFT]
    assert tracker.path == directory.path


def test_save_is_idempotent_and_keeps_history(tmp_path: Path) -> None:
    clock = Clock()
    tracker = RequestTracker(tmp_path / "db.sqlite", clock=clock)
    request = add_request()
    first = tracker.save(request)
    again = tracker.save(request)
    assert first == again
    assert [e.event for e in tracker.history(request.request_id)] == ["saved"]
    clock.advance(timedelta(minutes=5))
    changed = tracker.save(add_request(note="Ring först", request_id=request.request_id))
    assert changed.request.note == "Ring först"
    assert changed.created_at == first.created_at < changed.updated_at
    assert [e.event for e in tracker.history(request.request_id)] == ["saved", "updated"]
    assert len(tracker.list()) == 1
    assert tracker.list(status="sent") == []
    with pytest.raises(InvalidInput, match="unknown status 'done'"):
        tracker.list(status="done")


def test_one_open_request_per_question_then_a_new_one(tmp_path: Path) -> None:
    # Re-running a script builds a new submission: refused while the first one is open...
    tracker = RequestTracker(tmp_path / "db.sqlite")
    first = tracker.save(add_request())
    with pytest.raises(InvalidInput) as info:
        tracker.save(add_request())
    assert str(info.value) == (
        f"request {first.request_id} (draft) already asks to add 0007:5590123450 to PSE000102; "
        "send or cancel that one first"
    )
    assert len(tracker.save(add_request(operator="PSE000109")).request_id) == 36  # not the same
    # ...and welcome once it is closed: each submission is its own row.
    cancelled = tracker.cancel(first.request_id[:8], reason="wrong e-mail address")
    assert cancelled.status is RequestStatus.CANCELLED
    assert cancelled.reason == "wrong e-mail address"
    assert cancelled.closed_at is not None
    second = tracker.save(add_request(email="ekonomi@odeshog.example"))
    assert second.request_id != first.request_id
    mine = tracker.list(participant="0007:5590123450")
    assert {t.request_id for t in mine} >= {first.request_id, second.request_id}
    assert [e.event for e in tracker.history(first.request_id)] == ["saved", "cancelled"]
    with pytest.raises(InvalidInput, match="only a draft or a sent request can be cancelled"):
        tracker.cancel(first.request_id)
    with pytest.raises(InvalidInput, match="was cancelled; a new attempt is a new request"):
        tracker.send(first.request_id, OutboxChannel(tmp_path / "out"))
    assert tracker.save(cancelled.request).status is RequestStatus.CANCELLED  # unchanged: fine
    with pytest.raises(InvalidInput, match="already cancelled; it cannot be changed; a new"):
        tracker.save(add_request(note="again", request_id=first.request_id))


def test_get_by_prefix_and_unknown_ids(tmp_path: Path) -> None:
    tracker = RequestTracker(tmp_path / "db.sqlite")
    request = add_request()
    tracker.save(request)
    found = tracker.get(request.request_id[:8].upper())
    assert found is not None
    assert found.request == request.with_status(RequestStatus.DRAFT)
    assert tracker.get("0000000") is None
    assert tracker.get("ffffffff-ffff") is None
    with pytest.raises(InvalidInput, match="no request with id"):
        tracker.history("nope")
    with pytest.raises(InvalidInput, match="no request with id"):
        tracker.send("nope", OutboxChannel(tmp_path))


def test_send_is_idempotent_one_case_at_the_desk(tmp_path: Path, sb: Sandbox) -> None:
    tracker = RequestTracker(tmp_path / "db.sqlite")
    request = add_request(NEW_2, operator="PSE000109")
    tracker.save(request)
    with HttpChannel(sb.desk_url) as channel:
        receipt = tracker.send(request.request_id, channel)
        again = tracker.send(request.request_id, channel)
    assert not receipt.duplicate
    assert again.duplicate
    assert again.reference == receipt.reference
    assert [c["request_id"] for c in desk_cases(sb)].count(request.request_id) == 1
    events = [e.event for e in tracker.history(request.request_id)]
    assert events == ["saved", "sent"]
    tracked = tracker.get(request.request_id)
    assert tracked is not None
    assert tracked.status is RequestStatus.SENT
    assert tracked.channel_detail["desk_url"] == sb.desk_url
    with pytest.raises(InvalidInput, match=r"already sent; it cannot be changed$"):
        tracker.save(
            add_request(NEW_2, operator="PSE000109", email="other@odeshog.example",
                        request_id=request.request_id)
        )  # fmt: skip
    twin = r"\(sent\) already asks to add 0007:5590123468 to PSE000109; follow it up or cancel"
    with pytest.raises(InvalidInput, match=twin):
        tracker.save(add_request(NEW_2, operator="PSE000109"))


Lost = tuple[RequestTracker, AddRecipientRequest, HttpChannel, list[int]]


@contextmanager
def first_answer_lost(tmp_path: Path, sb: Sandbox) -> Iterator[Lost]:
    """Save a request and send it through a proxy in front of the desk that passes every
    request on but loses the first answer (the desk has the case, the sender sees a 504: a
    timeout after delivery); yield the tracker, the request, the channel and the desk's
    answers for what the test does next."""
    tracker, request = saved(tmp_path)
    answered: list[int] = []

    def proxy(request: HttpRequest) -> HttpResponse:
        response: HttpResponse = sb.desk.handle(request)
        answered.append(response.status)
        return HttpResponse(504) if len(answered) == 1 else response

    with HttpServer(proxy) as server, HttpChannel(server.base_url, retries=0) as channel:
        with pytest.raises(ChannelError) as info:
            tracker.send(request.request_id, channel)
        assert info.value.retryable
        yield tracker, request, channel, answered


def test_a_retried_send_is_the_same_case_at_the_desk(tmp_path: Path, sb: Sandbox) -> None:
    with first_answer_lost(tmp_path, sb) as (tracker, request, channel, answered):
        failed = tracker.get(request.request_id)
        assert failed is not None
        assert failed.status is RequestStatus.DRAFT
        key = failed.idempotency_key
        assert key is not None  # kept for the retry
        receipt = tracker.send(request.request_id, channel)  # e.g. the next run of a script
    assert answered == [202, 200]  # the desk recognised the retry...
    assert receipt.duplicate
    assert receipt.idempotency_key == key
    cases = [c for c in desk_cases(sb) if c["request_id"] == request.request_id]
    assert len(cases) == 1  # ...so the customer has one case, not two
    assert cases[0]["idempotency_key"] == key
    assert cases[0]["case_id"] == receipt.reference
    events = [e.event for e in tracker.history(request.request_id)]
    assert events == ["saved", "send-failed", "sent"]


def test_a_draft_changed_after_a_failed_send_gets_a_new_key(tmp_path: Path, sb: Sandbox) -> None:
    # The desk may have what the failed attempt carried; the corrected content must not be
    # answered with that case (or refused as a reused key): it is a new hand-over.
    with first_answer_lost(tmp_path, sb) as (tracker, request, channel, answered):
        first = tracker.get(request.request_id)
        assert first is not None
        fixed = add_request(email="ekonomi@odeshog.example", request_id=request.request_id)
        assert tracker.save(fixed).idempotency_key is None
        receipt = tracker.send(request.request_id, channel)
    assert answered == [202, 202]
    assert not receipt.duplicate
    assert receipt.idempotency_key not in (None, first.idempotency_key)
    stored = tracker.get(request.request_id)
    assert stored is not None
    assert stored.request.email == "ekonomi@odeshog.example"


def test_a_failed_send_is_recorded_and_leaves_a_draft(tmp_path: Path) -> None:
    tracker = RequestTracker(tmp_path / "db.sqlite")
    request = add_request()
    tracker.save(request)
    with (
        HttpChannel(f"http://127.0.0.1:{_free_port()}", retries=0) as channel,
        pytest.raises(ChannelError),
    ):
        tracker.send(request.request_id, channel)
    tracked = tracker.get(request.request_id)
    assert tracked is not None
    assert tracked.status is RequestStatus.DRAFT
    history = tracker.history(request.request_id)
    assert history[-1].event == "send-failed"
    assert "did not take" in history[-1].detail


# --- the full flow against the sandbox ------------------------------------------------------------


def test_add_flow_confirmed_and_mailed(
    tmp_path: Path, sb: Sandbox, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    tracker, request = saved(tmp_path)
    sb.desk.hold()  # the desk acts when the test says so, not when a timer runs out
    with HttpChannel(sb.desk_url) as channel:
        tracker.send(request.request_id, channel)
    # Before the desk has done its work: still pending, nothing mailed.
    [pending] = tracker.follow_up(sb.network, notify=notifier(port))
    assert pending.status is RequestStatus.SENT
    assert not pending.changed
    assert pending.desk_status == "received"
    assert "not-registered" in pending.message
    assert mailbox.messages == []

    assert sb.desk.release(request.request_id)
    assert sb.desk.wait(request.request_id)["status"] == "registered"
    [done] = tracker.follow_up(sb.network, notify=notifier(port))
    assert done.status is RequestStatus.CONFIRMED
    assert done.changed
    assert [c.verdict.value for c in done.checks] == ["can-receive", "can-receive"]
    assert {c.document_type for c in done.checks} == set(request.document_types)
    assert done.notified == f"<{request.request_id}.confirmed@peppolnet.request>"
    assert mailbox.arrived.wait(30)
    [(rcpt, mail)] = mailbox.parsed()
    assert rcpt == ["anna@support.example"]  # the requester
    assert mail["To"] == "anna@support.example"
    assert mail["In-Reply-To"] == f"<{request.request_id}@peppolnet.request>"
    assert "Ödeshög Snickeri AB" in mail["Subject"]
    assert "PSE000102" in mail["Subject"]
    body = mail.get_content()
    assert "can now receive e-invoices through Kvittra AB (PSE000102)" in body
    assert "Hello Anna Support," in body

    tracked = tracker.get(request.request_id)
    assert tracked is not None
    assert tracked.status is RequestStatus.CONFIRMED
    assert tracked.closed_at is not None
    assert tracked.notified_at is not None
    events = [e.event for e in tracker.history(request.request_id)]
    assert events == ["saved", "sent", "checked", "confirmed", "notified"]
    # A confirmed request is not followed up (or mailed) again.
    assert tracker.follow_up(sb.network, notify=notifier(port)) == []
    assert len(mailbox.messages) == 1


def test_move_with_migration_key_confirmed_through_a_long_lived_lookup(
    tmp_path: Path, sb: Sandbox, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    participant = served(sb)
    key = generate_migration_key()
    request = UpdateRecipientRequest.create(
        company_name=participant.name,
        organisation_number=participant.id.local_id,
        operator="PSE000109",
        current_operator="PSE000102",
        email="faktura@kund.example",
        migration_key=key,
    )
    tracker = RequestTracker(tmp_path / "db.sqlite")
    tracker.save(request)
    sb.desk.hold()
    with HttpChannel(sb.desk_url) as channel:
        tracker.send(request.request_id, channel)
    with Lookup(sb.network, timeout=3.0) as lookup:
        # The lookup caches the SML answer (Kvittra's SMP) before the move...
        [pending] = tracker.follow_up(lookup, notify=notifier(port))
        assert pending.status is RequestStatus.SENT
        assert "can-receive through PSE000102, not PSE000109" in pending.message
        swedish = render(pending.message, "sv")
        assert "väntar fortfarande: kan ta emot via PSE000102, inte via PSE000109" in swedish
        assert sb.desk.release(request.request_id)
        assert sb.desk.wait(request.request_id)["status"] == "moved"
        # ...and follow_up must not reuse it: the participant is now on Norrsken's SMP.
        [done] = tracker.follow_up(lookup, notify=notifier(port))
    assert done.status is RequestStatus.CONFIRMED, done.message
    assert all(c.operator is not None and c.operator.seat_id == "PSE000109" for c in done.checks)
    assert mailbox.arrived.wait(30)
    [(rcpt, mail)] = mailbox.parsed()
    assert rcpt == ["faktura@kund.example"]  # no requester: the request's own address
    assert "moved to" in mail["Subject"]
    assert "PSE000109" in mail["Subject"]
    stored = tracker.get(request.request_id)
    assert stored is not None
    assert isinstance(stored.request, UpdateRecipientRequest)
    assert stored.request.migration_key == key


def test_rejected_by_the_desk_stays_rejected(tmp_path: Path, sb: Sandbox) -> None:
    participant = served(sb, skip=1)
    # An add for a participant another operator holds: the desk refuses (SML ERR-106).
    request = AddRecipientRequest.create(
        company_name=participant.name,
        organisation_number=participant.id.local_id,
        operator="PSE000109",
        email="faktura@kund.example",
    )
    tracker = RequestTracker(tmp_path / "db.sqlite")
    tracker.save(request)
    with HttpChannel(sb.desk_url) as channel:
        tracker.send(request.request_id, channel)
    assert sb.desk.wait(request.request_id)["status"] == "rejected"
    [result] = tracker.follow_up(sb.network)  # asks the desk it was sent to
    assert result.status is RequestStatus.REJECTED
    assert result.desk_status == "rejected"
    assert "ERR-106" in result.message
    tracked = tracker.get(request.request_id)
    assert tracked is not None
    assert tracked.reason is not None
    assert "ERR-106" in tracked.reason
    with pytest.raises(InvalidInput, match="was rejected; a new attempt is a new request"):
        tracker.send(request.request_id, OutboxChannel(tmp_path / "out"))
    assert tracker.save(request).status is RequestStatus.REJECTED  # the case stays as it was
    assert tracker.history(request.request_id)[-1].event == "rejected"


def test_rejected_then_corrected_is_a_new_case_that_ends_confirmed(
    tmp_path: Path, sb: Sandbox, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    participant = served(sb, skip=1)
    tracker = RequestTracker(tmp_path / "db.sqlite")
    common = {
        "company_name": participant.name,
        "organisation_number": participant.id.local_id,
        "operator": "PSE000109",
        "email": "faktura@kund.example",
    }
    wrong = AddRecipientRequest.create(**common)  # it is with Kvittra: an add is refused
    tracker.save(wrong)
    with HttpChannel(sb.desk_url) as channel:
        tracker.send(wrong.request_id, channel)
        assert sb.desk.wait(wrong.request_id)["status"] == "rejected"
        [rejected] = tracker.follow_up(sb.network)
        assert rejected.status is RequestStatus.REJECTED
        # The corrected request is a new submission: a new case, not the rejected one back.
        fixed = UpdateRecipientRequest.create(**common, current_operator="PSE000102")
        tracker.save(fixed)
        resent = tracker.send(fixed.request_id, channel)
    assert not resent.duplicate
    assert resent.reference != rejected_case(sb, wrong.request_id)
    assert sb.desk.wait(fixed.request_id)["status"] == "moved"
    [done] = tracker.follow_up(sb.network, notify=notifier(port))
    assert done.request_id == fixed.request_id
    assert done.status is RequestStatus.CONFIRMED
    assert done.notified == f"<{fixed.request_id}.confirmed@peppolnet.request>"
    assert len(mailbox.messages) == 1
    # History keeps both cases.
    mine = {t.request_id: t.status for t in tracker.list(participant=participant.id)}
    assert mine == {
        wrong.request_id: RequestStatus.REJECTED,
        fixed.request_id: RequestStatus.CONFIRMED,
    }
    cases = [c for c in desk_cases(sb) if c["request_id"] in mine]
    assert sorted((c["request_id"], c["status"]) for c in cases) == sorted(
        [(wrong.request_id, "rejected"), (fixed.request_id, "moved")]
    )


def rejected_case(net: Sandbox, request_id: str) -> str:
    case = net.desk.case(request_id)
    assert case is not None
    return str(case["case_id"])


def test_moves_back_and_forth_are_new_cases_each_confirmed(
    tmp_path: Path, sb: Sandbox, smtp: tuple[Mailbox, int]
) -> None:
    # A -> B -> A -> B: the third move asks exactly what the first asked. With ids derived from
    # the question, it was "already confirmed; it cannot be changed".
    mailbox, port = smtp
    participant = served(sb, skip=2)
    tracker = RequestTracker(tmp_path / "db.sqlite")

    def move(to: str, away_from: str) -> str:
        request = UpdateRecipientRequest.create(
            company_name=participant.name,
            organisation_number=participant.id.local_id,
            operator=to,
            current_operator=away_from,
            email="faktura@kund.example",
        )
        tracker.save(request)
        with HttpChannel(sb.desk_url) as channel:
            assert not tracker.send(request.request_id, channel).duplicate
        assert sb.desk.wait(request.request_id)["status"] == "moved"
        [done] = tracker.follow_up(sb.network, notify=notifier(port))
        assert (done.request_id, done.status) == (request.request_id, RequestStatus.CONFIRMED)
        return request.request_id

    ids = [move("PSE000109", "PSE000102"), move("PSE000102", "PSE000109")]
    ids.append(move("PSE000109", "PSE000102"))
    assert len(set(ids)) == 3
    assert [t.status for t in tracker.list(participant=participant.id)] == [
        RequestStatus.CONFIRMED
    ] * 3
    cases = [c for c in desk_cases(sb) if c["request_id"] in ids]
    assert sorted(c["request_id"] for c in cases) == sorted(ids)  # one case each
    assert {c["status"] for c in cases} == {"moved"}
    assert len(mailbox.messages) == 3
    # Now the directory sees the customer leave Kvittra again: `request drafts` drafts a move
    # back, though a request asking exactly that was confirmed before.
    change = _change("changed-operator", pid=participant.id.uri, name=participant.name)
    [draft] = tracker.drafts_from_changes([change])
    assert draft.operator.seat_id == "PSE000102"
    assert draft.current_operator.seat_id == "PSE000109"
    assert draft.request_id not in ids
    assert tracker.list(status="draft")[0].request_id == draft.request_id


def test_expires_after_the_given_time(tmp_path: Path, net: Sandbox) -> None:
    clock = Clock()
    tracker = RequestTracker(tmp_path / "db.sqlite", clock=clock)
    request = add_request()
    tracker.save(request)
    tracker.send(request.request_id, OutboxChannel(tmp_path / "out"))  # nobody acts on it
    clock.advance(timedelta(days=13))
    [still] = tracker.follow_up(net.network, expire_after=timedelta(days=14))
    assert still.status is RequestStatus.SENT
    assert still.desk_status is None
    again = tracker.follow_up(net.network, expire_after=timedelta(days=14))
    assert [e.event for e in tracker.history(request.request_id)].count("checked") == 1
    assert again[0].status is RequestStatus.SENT
    clock.advance(timedelta(days=1))
    [expired] = tracker.follow_up(net.network, expire_after=timedelta(days=14))
    assert expired.status is RequestStatus.EXPIRED
    assert "not confirmed within 14 days of sending (not-registered)" in expired.message
    swedish = render(expired.message, "sv")  # the sentence a Swedish follow-up shows
    assert "inte bekräftad inom 14 dagar efter att den skickades (inte registrerad)" in swedish
    assert tracker.list(RequestStatus.EXPIRED)[0].request_id == request.request_id


def test_an_outage_does_not_expire_a_request(tmp_path: Path, net: Sandbox) -> None:
    # Regression: a request expired while every lookup failed (the network was down), though
    # nobody could know whether the operator had acted.
    clock = Clock()
    tracker = RequestTracker(tmp_path / "db.sqlite", clock=clock)
    request = add_request()
    tracker.save(request)
    tracker.send(request.request_id, OutboxChannel(tmp_path / "out"))
    clock.advance(timedelta(days=30))
    net.dns.set_fault(None, "silence")
    try:
        [during] = tracker.follow_up(net.network, expire_after=timedelta(days=14), timeout=0.3)
    finally:
        net.dns.set_fault(None, None)
    assert during.status is RequestStatus.SENT
    assert all(c.verdict.value == "unknown" for c in during.checks)
    [after] = tracker.follow_up(net.network, expire_after=timedelta(days=14))
    assert after.status is RequestStatus.EXPIRED


def test_a_failed_mail_is_tried_again(
    tmp_path: Path, sb: Sandbox, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    tracker = RequestTracker(tmp_path / "db.sqlite")
    request = add_request(NEW_2)
    tracker.save(request)
    with HttpChannel(sb.desk_url) as channel:
        tracker.send(request.request_id, channel)
    assert sb.desk.wait(request.request_id)["status"] == "registered"
    [done] = tracker.follow_up(sb.network, notify=notifier(_free_port()))  # nobody listens
    assert done.status is RequestStatus.CONFIRMED
    assert done.notified is None
    assert done.notify_error is not None
    assert tracker.history(request.request_id)[-1].event == "notify-failed"
    [retry] = tracker.follow_up(sb.network, notify=notifier(port))
    assert retry.notified is not None
    assert retry.notify_error is None
    assert mailbox.arrived.wait(30)
    assert len(mailbox.messages) == 1
    assert tracker.follow_up(sb.network, notify=notifier(port)) == []


def test_a_later_confirmation_mail_lists_what_was_checked(
    tmp_path: Path, sb: Sandbox, smtp: tuple[Mailbox, int]
) -> None:
    # The request is mailed to the operator; the operator registers the customer; the first
    # follow-up runs without a mail server; a later one sends the confirmation. It must list
    # what the first one checked, and answer the request mail it was sent with.
    mailbox, port = smtp
    tracker, request = saved(tmp_path)
    to_operator = SmtpChannel(
        "127.0.0.1", port, to="onboarding@kvittra.example", sender="desk@byra.example",
        security="none",
    )  # fmt: skip
    sent = tracker.send(request.request_id, to_operator)
    assert sent.idempotency_key is not None
    assert sent.reference == f"<{sent.idempotency_key}@peppolnet.request>"
    sb.register_participant(  # what the operator does with the mail
        ParticipantConfig(
            id=request.participant_id, name=request.company_name, country="SE",
            operator="kvittra", document_types=request.document_types,
        )
    )  # fmt: skip
    [confirmed] = tracker.follow_up(sb.network)  # no notifier this time
    assert confirmed.status is RequestStatus.CONFIRMED
    stored = tracker.get(request.request_id)
    assert stored is not None
    assert [(c.document_type, c.verdict.value) for c in stored.checks] == [
        (doc, "can-receive") for doc in request.document_types
    ]
    assert all(c.operator is not None and c.operator.seat_id == "PSE000102" for c in stored.checks)
    assert stored.checked_at == stored.closed_at
    assert stored.to_json()["checks"][0]["verdict"] == "can-receive"

    [late] = tracker.follow_up(sb.network, notify=notifier(port))
    assert late.message == "confirmed earlier; confirmation mail sent now"
    assert mailbox.arrived.wait(30)
    [(_, request_mail), (rcpt, confirmation)] = mailbox.parsed()
    assert rcpt == ["anna@support.example"]
    assert confirmation["In-Reply-To"] == request_mail["Message-ID"] == sent.reference
    body = confirmation.get_content()
    assert "not checked" not in body
    for doc in request.document_types:
        assert f"  - {doc.value} (can-receive)" in body


def test_confirmation_mail_rendering() -> None:
    request = add_request()
    mail = render_confirmation(request, sender="desk@example.org", to="support@example.org")
    assert mail["To"] == "support@example.org"
    assert mail["Message-ID"] == f"<{request.request_id}.confirmed@peppolnet.request>"
    assert "(not checked)" in mail.get_content()


# --- drafts from the recipient directory's changes -------------------------------------------


def _change(
    kind: str,
    email: str = "f@kund.example",
    pid: str = "iso6523-actorid-upis::0007:5567321707",
    name: str = "Åkesson Bygg AB",
) -> Change:
    recipient = Recipient(1, pid, name, pid.rsplit(":", 1)[-1], "SE", email)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    kvittra = ("PSE000102", "Kvittra AB", "https://smp.kvittra.example", "")
    norrsken = ("PSE000109", "Norrsken Invoice AB", "https://smp.norrsken.example", "")
    before = CheckRecord(at, "can-receive", pid, *kvittra)
    after = CheckRecord(at + timedelta(days=1), "can-receive", pid, *norrsken)
    return Change(recipient, kind, before, after)  # type: ignore[arg-type]


def test_drafts_from_changes(tmp_path: Path) -> None:
    tracker = RequestTracker(tmp_path / "db.sqlite")
    drafts = tracker.drafts_from_changes([_change("changed-operator"), _change("changed-smp")])
    assert len(drafts) == 1
    draft = drafts[0]
    assert draft.operator.seat_id == "PSE000102"  # back to where it was
    assert draft.current_operator.seat_id == "PSE000109"
    assert draft.current_operator.name == "Norrsken Invoice AB"
    assert draft.participant_id.bare == "0007:5567321707"
    assert [t.request_id for t in tracker.list("draft")] == [draft.request_id]
    elsewhere = tracker.drafts_from_changes(
        [_change("changed-operator")], operator="PSE000109", save=False
    )
    assert elsewhere == []  # already with the wanted operator: nothing to move
    # A second run finds the open draft: nothing new (running it daily does not pile up drafts).
    assert tracker.drafts_from_changes([_change("changed-operator")] * 2) == []
    with pytest.raises(InvalidRequest) as info:
        tracker.drafts_from_changes([_change("changed-operator", email="")])
    assert info.value.problems[0][0] == "iso6523-actorid-upis::0007:5567321707: email"
    tracker.cancel(draft.request_id)
    with_default = tracker.drafts_from_changes(
        [_change("changed-operator", email="")], email="kund@example.org", save=False
    )
    assert with_default[0].email == "kund@example.org"


# --- property: what is saved is what comes back ---------------------------------------------

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() != "")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=_text, note=st.none() | _text)
def test_saved_requests_round_trip(tmp_path: Path, name: str, note: str | None) -> None:
    try:
        request = add_request(company_name=name, note=note)
    except InvalidRequest:
        return  # refused by validation: nothing to store
    # A file per example: the examples ask the same question, and only one may be open at once.
    tracker = RequestTracker(tmp_path / f"prop-{request.request_id}.sqlite")
    tracked = tracker.save(request)
    assert isinstance(tracked, TrackedRequest)
    back = tracker.get(request.request_id)
    assert back is not None
    assert back.request == request.with_status(RequestStatus.DRAFT)
    assert json.loads(json.dumps(back.to_json()))["request_id"] == request.request_id


def test_reasons_and_history_are_kept_as_sentences_for_any_reader(tmp_path: Path) -> None:
    """A request's reason and history are read later, by a Swedish desk or an English script:
    they are stored as sentences (template and parameters), not as the English of the moment,
    and text stored before that (plain English) still reads as it is."""
    from peppolnet.i18n import render

    path = tmp_path / "db.sqlite"
    tracker = RequestTracker(path)
    request = add_request()
    tracker.save(request)
    cancelled = tracker.cancel(request.request_id)
    assert cancelled.reason == "cancelled by the requester"
    assert render(cancelled.reason, "sv") == "avbruten av beställaren"
    last = tracker.history(request.request_id)[-1]
    assert (last.event, render(last.detail, "sv")) == ("cancelled", "avbruten av beställaren")
    assert json.loads(json.dumps(tracker.get(request.request_id).to_json()))["reason"] == (  # type: ignore[union-attr]
        "cancelled by the requester"
    )
    # a row written by an earlier version: plain text stays plain text
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE requests SET reason = 'closed by hand'")
        conn.execute('UPDATE request_events SET detail = \'{"not": "a sentence"}\'')
    assert tracker.get(request.request_id).reason == "closed by hand"  # type: ignore[union-attr]
    assert tracker.history(request.request_id)[-1].detail == '{"not": "a sentence"}'


def test_a_refusal_names_the_request_s_state_in_words(tmp_path: Path) -> None:
    """'request X is already cancelled' says the state in the reader's language (it was the
    machine value, 'cancelled', in the middle of a Swedish sentence)."""
    from peppolnet.i18n import render

    tracker = RequestTracker(tmp_path / "db.sqlite")
    request = add_request()
    tracker.save(request)
    tracker.cancel(request.request_id)
    with pytest.raises(InvalidInput) as info:
        tracker.cancel(request.request_id)
    assert "is already cancelled" in str(info.value)
    swedish = render(info.value, "sv")
    assert "avbruten" in swedish
    assert "cancelled" not in swedish
