"""``peppolnet request add|update|list|show|follow-up`` end to end, against a sandbox reached the
way a user reaches it (``--network sandbox --state-file``), its operator desk and a real local
SMTP server for the confirmation mail."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from _sandbox_undo import undo_changes
from peppolnet.cli import main
from peppolnet.recipients import check_migration_key
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state

NEW = "559012-3450"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    with Sandbox.start(desk_delay=0.05) as sb:
        state = write_state(sb.info(), tmp_path_factory.mktemp("state") / "sandbox.json")
        yield sb, state


@pytest.fixture
def net(shared: tuple[Sandbox, Path]) -> Iterator[tuple[Sandbox, Path]]:
    """The module's sandbox and its state file; what a test changed is undone afterwards."""
    sb, state = shared
    with undo_changes(sb):
        yield sb, state


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A per-test database (and operators.json next to it)."""
    db = tmp_path / "data" / "recipients.sqlite"
    monkeypatch.setenv("PEPPOLNET_DB", str(db))
    return db


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Envelope] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def kvittra_customer(sb: Sandbox) -> Any:
    """A plain participant (no quirks) that Kvittra serves in the sandbox."""
    return next(
        p
        for p in sb.participants.values()
        if p.in_sml and not p.quirks and p.operator == "kvittra" and p.id.icd == "0007"
    )


def sandbox_args(state: Path) -> tuple[str, ...]:
    """How a user reaches a running sandbox: its name and the state file it wrote."""
    return ("--network", "sandbox", "--state-file", str(state))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    try:
        out: Any = json.loads(captured.out)
    except ValueError:
        out = captured.out
    return code, out, captured.err


def test_invalid_request_json(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "request", "add", "--name", "  ", "--org-number", "556732-1708",
        "--operator", "Kvitra", "--email", "faktura@", "--json", "--no-check",
    )  # fmt: skip
    assert code == 1
    assert out["valid"] is False
    fields = [p["field"] for p in out["problems"]]
    assert fields == ["company_name", "organisation_number", "operator", "email"]
    assert all(p["message"] for p in out["problems"])
    assert not env.exists()  # nothing stored


def test_invalid_request_text(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "request", "add", "--name", "Bygg AB", "--org-number", NEW,
        "--operator", "PSE000102", "--email", "nope", "--no-check",
    )  # fmt: skip
    assert code == 1
    assert "email:" in err
    assert "not a valid e-mail address" in err


def test_add_send_follow_up_and_mail(
    env: Path,
    net: tuple[Sandbox, Path],
    smtp: tuple[Mailbox, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sb, state = net
    mailbox, port = smtp
    network = sandbox_args(state)
    code, out, _ = run(
        capsys, "request", "add", "--name", "Ödeshög Snickeri AB", "--org-number", NEW,
        "--operator", "kvittra", "--email", "faktura@odeshog.example",
        "--requester", "Anna Support <anna@support.example>", "--send", "http", "--json",
        *network,
    )  # fmt: skip
    assert code == 0, out
    assert out["valid"] is True
    assert out["plan"]["action"] == "add"
    assert out["plan"]["network_state"] == "not-registered"
    assert out["request"]["operator"] == {"seat_id": "PSE000102", "name": "Kvittra AB"}
    assert out["status"] == "sent"
    assert out["receipt"]["channel"] == "http"
    rid = out["request"]["request_id"]
    # The operator name resolved through the registry, which now knows the sandbox operators.
    assert (env.parent / "operators.json").is_file()

    code, listing, _ = run(capsys, "request", "list", "--json")
    assert [(r["request_id"], r["status"]) for r in listing] == [(rid, "sent")]
    assert sb.desk.wait(rid)["status"] == "registered"

    code, results, _ = run(
        capsys, "request", "follow-up", "--notify-smtp", f"127.0.0.1:{port}",
        "--notify-security", "none", "--notify-from", "onboarding@kvittra.example", "--json",
        *network,
    )  # fmt: skip
    assert code == 0
    assert [(r["request_id"], r["status"]) for r in results] == [(rid, "confirmed")]
    assert results[0]["notified"] is not None
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0].rcpt_tos == ["anna@support.example"]
    content = mailbox.messages[0].content
    assert isinstance(content, bytes)
    mail = message_from_bytes(content, policy=default_policy)
    assert str(mail["Subject"]).startswith("Confirmed: Ödeshög Snickeri AB")

    code, shown, _ = run(capsys, "request", "show", rid[:8], "--json")
    assert code == 0
    assert shown["status"] == "confirmed"
    assert [e["event"] for e in shown["history"]] == ["saved", "sent", "confirmed", "notified"]
    code, text, _ = run(capsys, "request", "show", rid)
    assert f"{rid} [confirmed]" in text
    assert "notified" in text
    code, text, _ = run(capsys, "request", "list", "--status", "confirmed")
    assert rid[:8] in text
    assert "Ödeshög Snickeri AB" in text
    code, text, _ = run(capsys, "request", "follow-up", *network)
    assert text.strip() == "no sent requests to follow up"


def test_update_with_new_migration_key(
    env: Path, net: tuple[Sandbox, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sb, state = net
    participant = kvittra_customer(sb)
    code, out, _ = run(
        capsys, "request", "update", "--name", participant.name,
        "--org-number", participant.id.local_id, "--operator", "Norrsken Invoice",
        "--from-operator", "PSE000102", "--email", "faktura@kund.example",
        "--new-migration-key", "--json", "--network", "sandbox", "--state-file", str(state),
    )  # fmt: skip
    assert code == 0, out
    assert out["plan"]["action"] == "update"
    assert out["plan"]["network_state"] == "registered-elsewhere"
    assert out["request"]["current_operator"]["seat_id"] == "PSE000102"
    assert check_migration_key(out["request"]["migration_key"]) == []
    assert out["status"] == "draft"  # not sent without --send

    code, _, err = run(
        capsys, "request", "update", "--name", participant.name,
        "--org-number", participant.id.local_id, "--operator", "PSE000109",
        "--from-operator", "PSE000102", "--email", "faktura@kund.example",
        "--migration-key", "secret", "--no-check",
    )  # fmt: skip
    assert code == 1
    assert "migration_key: must be 8 to 24 characters long" in err


def test_nothing_to_send_when_already_there(
    env: Path, net: tuple[Sandbox, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sb, state = net
    participant = kvittra_customer(sb)
    code, text, _ = run(
        capsys, "request", "add", "--name", participant.name,
        "--org-number", participant.id.local_id, "--operator", "PSE000102",
        "--email", "faktura@kund.example", "--network", "sandbox", "--state-file", str(state),
    )  # fmt: skip
    assert code == 0
    assert "nothing to send" in text
    assert "Saved as" not in text
    code, listing, _ = run(capsys, "request", "list", "--json")
    assert listing == []


def test_send_outbox_and_usage_errors(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["request", "add", "--name", "Bygg AB", "--org-number", NEW, "--operator",
            "PSE000102", "--email", "f@bygg.example", "--no-check"]  # fmt: skip
    code, _, err = run(capsys, *args, "--send", "http")
    assert code == 2  # options that need each other: a usage error
    assert "--desk-url" in err
    code, text, _ = run(capsys, *args, "--send", "outbox", "--outbox", str(tmp_path / "out"))
    assert code == 0
    assert "[sent], sent via outbox" in text
    assert len(list((tmp_path / "out").iterdir())) == 1
    code, _, err = run(capsys, "request", "show", "00000000")
    assert code == 1
    assert "no request with id" in err
    code, _, err = run(capsys, "request", "list", "--status", "finished")
    assert code == 2  # a malformed option value: a usage error
    assert "unknown status" in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


ADD = ["request", "add", "--name", "Bygg AB", "--org-number", NEW, "--operator", "PSE000102",
       "--email", "f@bygg.example", "--no-check"]  # fmt: skip


def test_send_a_stored_draft_then_cancel(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ("--via", "outbox", "--outbox", str(tmp_path / "out"))
    code, created, _ = run(capsys, *ADD, "--json")
    assert (code, created["status"]) == (0, "draft")
    rid = created["request"]["request_id"]
    # A second `add` for the same customer and operator while the draft is open: refused,
    # naming the draft, instead of a second request.
    code, _, err = run(capsys, *ADD)
    assert code == 1
    assert f"request {rid} (draft) already asks to add 0007:5590123450 to PSE000102" in err

    code, text, _ = run(capsys, "request", "send", rid[:8], *out)
    assert code == 0
    assert text.strip() == f"{rid} sent via outbox: {tmp_path / 'out' / rid}.json"
    code, results, _ = run(capsys, "request", "send", rid, "nosuchid", *out, "--json")
    assert code == 1  # one of them is unknown
    assert results[0]["already_sent"] is True
    assert results[0]["receipt"]["idempotency_key"] is not None
    assert results[1] == {
        "id": "nosuchid",
        "error": f"no request with id 'nosuchid' in {env}",
        "retryable": False,
    }
    code, _, err = run(capsys, "request", "send", rid, "--via", "http")
    assert code == 2  # options that need each other
    assert "--via http needs --desk-url" in err

    code, text, _ = run(capsys, "request", "cancel", rid[:8], "--reason", "customer changed mind")
    assert code == 0
    assert f"{rid} [cancelled]: customer changed mind" in text
    assert "the operator was not told" in text
    code, _, err = run(capsys, "request", "cancel", rid)
    assert code == 1
    assert "only a draft or a sent request can be cancelled" in err
    code, _, err = run(capsys, "request", "send", rid, *out)
    assert code == 1
    assert "was cancelled; a new attempt is a new request" in err
    # Now a new request for the customer is welcome, and both are kept.
    code, again, _ = run(capsys, *ADD, "--json")
    assert code == 0
    code, listing, _ = run(capsys, "request", "list", "--participant", "0007:5590123450", "--json")
    assert {(r["request_id"], r["status"]) for r in listing} == {
        (rid, "cancelled"),
        (again["request"]["request_id"], "draft"),
    }
    code, shown, _ = run(capsys, "request", "show", rid, "--json")
    assert [e["event"] for e in shown["history"]] == ["saved", "sent", "cancelled"]
    assert [o["request_id"] for o in shown["other_requests"]] == [again["request"]["request_id"]]
    code, _, err = run(capsys, "request", "list", "--participant", "nonsense")
    assert code == 2  # a malformed option value: a usage error
    assert "must start with a four-digit scheme code" in err


def test_a_failed_send_keeps_the_draft_and_says_how_to_send_it(
    env: Path, net: tuple[Sandbox, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sb, state = net
    gone = f"http://127.0.0.1:{_free_port()}"
    code, created, err = run(capsys, *ADD, "--send", "http", "--desk-url", gone, "--json")
    assert code == 3  # a fault: try again
    assert created["status"] == "draft"
    assert "did not take the request" in created["error"]
    rid = created["request"]["request_id"]
    assert f"send it with `peppolnet request send {rid[:8]} --via http ...`" in err
    network = sandbox_args(state)
    code, text, _ = run(capsys, "request", "send", rid[:8], "--via", "http", *network)
    assert code == 0, text
    assert text.startswith(f"{rid} sent via http: case-")
    assert sb.desk.wait(rid)["status"] == "registered"


def test_rejected_then_corrected_through_the_cli(
    env: Path,
    net: tuple[Sandbox, Path],
    smtp: tuple[Mailbox, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sb, state = net
    mailbox, port = smtp
    network = sandbox_args(state)
    participant = kvittra_customer(sb)
    who = ["--name", participant.name, "--org-number", participant.id.local_id,
           "--operator", "PSE000109", "--email", "faktura@kund.example"]  # fmt: skip
    # Unchecked, the add goes out as asked, and the desk refuses it (the customer is with Kvittra).
    code, first, _ = run(
        capsys, "request", "add", *who, "--no-check", "--send", "http", "--json", *network
    )
    assert code == 0, first
    wrong = first["request"]["request_id"]
    assert sb.desk.wait(wrong)["status"] == "rejected"
    code, results, _ = run(capsys, "request", "follow-up", "--json", *network)
    assert [(r["request_id"], r["status"]) for r in results] == [(wrong, "rejected")]
    # The corrected request (checked: it becomes an update) is a new case of its own.
    code, second, _ = run(capsys, "request", "add", *who, "--send", "http", "--json", *network)
    assert code == 0, second
    fixed = second["request"]["request_id"]
    assert fixed != wrong
    assert second["plan"]["action"] == "update"
    assert second["receipt"]["reference"] != sb.desk.case(wrong)["case_id"]  # type: ignore[index]
    assert sb.desk.wait(fixed)["status"] == "moved"
    code, results, _ = run(
        capsys, "request", "follow-up", "--notify-smtp", f"127.0.0.1:{port}",
        "--notify-security", "none", "--json", *network,
    )  # fmt: skip
    assert [(r["request_id"], r["status"]) for r in results] == [(fixed, "confirmed")]
    assert len(mailbox.messages) == 1
    code, text, _ = run(capsys, "request", "show", fixed[:8])
    assert "Other requests for this customer" in text
    assert wrong[:8] in text
    assert "rejected" in text
    assert "can-receive through" in text  # what the follow-up checked


SWEDISH_REQUEST = (
    "request", "add", "--name", "Ödeshög Snickeri AB", "--org-number", "559012-3450",
    "--country", "Sverige", "--operator", "PSE000102", "--email", "faktura@odeshog.example",
    "--no-check",
)  # fmt: skip


def test_a_request_mailed_in_swedish(
    env: Path, smtp: tuple[Mailbox, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--lang sv``: the request's text, its mail's subject and body in Swedish, received by a
    real SMTP server; the JSON attachment is the same in every language."""
    mailbox, port = smtp
    code, out, err = run(
        capsys, *SWEDISH_REQUEST, "--lang", "sv", "--send", "smtp", "--smtp", f"127.0.0.1:{port}",
        "--smtp-security", "none", "--smtp-to", "onboarding@kvittra.example",
        "--smtp-from", "noreply@byra.example",
    )  # fmt: skip
    assert code == 0, err
    assert "Förfrågan: lägg till en mottagare i Peppol" in out
    assert "Nätverket kontrollerades inte (--no-check)." in out
    assert "Sparad som " in out
    assert "skickad via smtp" in out
    [envelope] = mailbox.messages
    assert isinstance(envelope.content, bytes)
    mail = message_from_bytes(envelope.content, policy=default_policy)
    assert str(mail["Subject"]) == "Lägg till mottagare: Ödeshög Snickeri AB (0007:5590123450)"
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Företagsnamn:" in text
    assert "Organisationsnummer:  559012-3450 (SE)" in text
    assert "Dokumenttyper:" in text
    attachment = next(mail.iter_attachments())
    assert json.loads(attachment.get_content())["company_name"] == "Ödeshög Snickeri AB"
