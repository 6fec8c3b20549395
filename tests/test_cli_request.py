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
    network = ("--network", "sandbox", "--state-file", str(state))
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
    participant = next(
        p
        for p in sb.participants.values()
        if p.in_sml and not p.quirks and p.operator == "kvittra" and p.id.icd == "0007"
    )
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
    participant = next(
        p
        for p in sb.participants.values()
        if p.in_sml and not p.quirks and p.operator == "kvittra" and p.id.icd == "0007"
    )
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
