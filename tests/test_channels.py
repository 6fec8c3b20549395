"""Channels over real parts: a folder, a real local SMTP server (aiosmtpd), the sandbox desk."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from _tls import self_signed_tls
from peppolnet.errors import ChannelError, InvalidInput, InvalidRequest
from peppolnet.recipients import (
    AddRecipientRequest,
    Channel,
    HttpChannel,
    OutboxChannel,
    Receipt,
    SmtpChannel,
    available_channels,
    from_json,
    from_xml,
    make_channel,
    register_channel,
)
from peppolnet.recipients.channels import send_with_key
from peppolnet.recipients.tracking import EmailNotifier
from peppolnet.sandbox.config import load_config
from peppolnet.sandbox.desk import OperatorDesk
from peppolnet.sandbox.http import HttpServer, Request, Response


def make_request(**changes: Any) -> AddRecipientRequest:
    fields: dict[str, Any] = {
        "company_name": "Åkesson Bygg AB",
        "organisation_number": "556732-1707",
        "operator": "PSE000102",
        "email": "faktura@bokföring.se",
        **changes,
    }
    return AddRecipientRequest.create(**fields)


# --- outbox ---------------------------------------------------------------------------------------


def test_outbox_writes_one_file_per_request(tmp_path: Path) -> None:
    outbox = OutboxChannel(tmp_path / "out")
    request = make_request()
    receipt = outbox.send(request)
    assert receipt == Receipt(
        "outbox",
        request.request_id,
        str(outbox.path_for(request)),
        idempotency_key=request.request_id,  # no key given: the request id is the key
    )
    path = Path(receipt.reference)
    assert path.name == f"{request.request_id}.json"
    assert from_json(path.read_bytes()) == request
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_outbox_is_idempotent(tmp_path: Path) -> None:
    outbox = OutboxChannel(tmp_path)
    request = make_request()
    first = outbox.send(request)
    stamp = os.stat(first.reference).st_mtime_ns
    again = outbox.send(request)
    assert again.duplicate
    assert again.reference == first.reference
    assert os.stat(first.reference).st_mtime_ns == stamp
    # the same submission with updated content: the same file
    changed = outbox.send(make_request(note="Ring först", request_id=request.request_id))
    assert changed.duplicate
    assert from_json(Path(first.reference).read_bytes()).note == "Ring först"
    assert len(list(tmp_path.iterdir())) == 1
    outbox.send(make_request())  # a new submission, though it asks the same: a file of its own
    assert len(list(tmp_path.iterdir())) == 2


def test_outbox_formats(tmp_path: Path) -> None:
    request = make_request()
    xml = OutboxChannel(tmp_path, format="xml").send(request)
    assert from_xml(Path(xml.reference).read_bytes()) == request
    text = OutboxChannel(tmp_path, format="text").send(request)
    assert Path(text.reference).suffix == ".txt"
    assert "Åkesson Bygg AB" in Path(text.reference).read_text(encoding="utf-8")
    with pytest.raises(InvalidInput):
        OutboxChannel(tmp_path, format="pdf")  # type: ignore[arg-type]


def test_outbox_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ChannelError, match="cannot write"):
        OutboxChannel(blocker / "out").send(make_request())


def test_concurrent_sends_leave_one_complete_file(tmp_path: Path) -> None:
    outbox = OutboxChannel(tmp_path)
    one = make_request().request_id
    requests = [make_request(note=f"variant {i}", request_id=one) for i in range(8)]
    threads = [threading.Thread(target=outbox.send, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert from_json(files[0].read_bytes()) in requests


# --- smtp -----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: (server context, client context trusting it)."""
    made = self_signed_tls(tmp_path_factory.mktemp("smtp-tls"))
    return made.server, made.client


class Mailbox:
    """An aiosmtpd handler that keeps what it receives and refuses one address."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 Message accepted"


def _authenticator(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"desk", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest, tls: Any) -> Iterator[tuple[Mailbox, int]]:
    mode = getattr(request, "param", "plain")
    mailbox = Mailbox()
    server_ctx, _ = tls
    port = _free_port()
    kwargs: dict[str, Any] = {}
    if mode == "starttls":
        kwargs = {
            "tls_context": server_ctx,
            "require_starttls": True,
            "authenticator": _authenticator,
            "auth_required": True,
        }
    elif mode == "ssl":
        kwargs = {"ssl_context": server_ctx, "server_hostname": "127.0.0.1"}
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def _received(mailbox: Mailbox) -> Any:
    assert len(mailbox.messages) == 1
    envelope = mailbox.messages[0]
    assert isinstance(envelope.content, bytes)
    return envelope, message_from_bytes(envelope.content, policy=default_policy)


def plain(port: int) -> SmtpChannel:
    """A channel to the local server without TLS or login."""
    return SmtpChannel(
        "127.0.0.1", port, to="onboarding@kvittra.example", sender="noreply@byra.example",
        security="none",
    )  # fmt: skip


def test_smtp_plain(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    channel = plain(port)
    request = make_request()
    receipt = channel.send(request)
    assert receipt.channel == "smtp"
    assert receipt.reference == f"<{request.request_id}@peppolnet.request>"
    envelope, message = _received(mailbox)
    assert envelope.mail_from == "noreply@byra.example"
    assert envelope.rcpt_tos == ["onboarding@kvittra.example"]
    assert message["Message-ID"] == receipt.reference
    assert message["X-Peppolnet-Idempotency-Key"] == request.request_id
    attachment = next(iter(message.iter_attachments()))
    assert from_json(attachment.get_content()) == request


def test_smtp_message_id_follows_the_idempotency_key(smtp_server: tuple[Mailbox, int]) -> None:
    # A retried send (same key) is the same message to the operator's mail system; another
    # send of the submission (a new key) is another message.
    mailbox, port = smtp_server
    channel = plain(port)
    request = make_request()
    first = channel.send(request, idempotency_key="k-1")
    again = channel.send(request, idempotency_key="k-1")
    other = channel.send(request, idempotency_key="k-2")
    assert first.reference == again.reference == "<k-1@peppolnet.request>"
    assert other.reference == "<k-2@peppolnet.request>"
    assert (first.idempotency_key, other.idempotency_key) == ("k-1", "k-2")
    ids = []
    for envelope in mailbox.messages:
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=default_policy)
        assert message["X-Peppolnet-Request-Id"] == request.request_id
        ids.append((message["Message-ID"], message["X-Peppolnet-Idempotency-Key"]))
    assert ids == [("<k-1@peppolnet.request>", "k-1")] * 2 + [("<k-2@peppolnet.request>", "k-2")]
    with pytest.raises(InvalidInput, match="idempotency key must be 1 to 255"):
        channel.send(request, idempotency_key="no spaces <please>")
    assert len(mailbox.messages) == 3


@pytest.mark.parametrize("smtp_server", ["starttls"], indirect=True)
def test_smtp_starttls_with_login(smtp_server: tuple[Mailbox, int], tls: Any) -> None:
    mailbox, port = smtp_server
    _, client_ctx = tls
    channel = SmtpChannel(
        "127.0.0.1", port, to="onboarding@kvittra.example", sender="noreply@byra.example",
        security="starttls", username="desk", password="s3cret", ssl_context=client_ctx,
    )  # fmt: skip
    channel.send(make_request())
    _received(mailbox)
    wrong = SmtpChannel(
        "127.0.0.1", port, to="onboarding@kvittra.example", sender="noreply@byra.example",
        security="starttls", username="desk", password="wrong", ssl_context=client_ctx,
    )  # fmt: skip
    with pytest.raises(ChannelError, match="refused the login") as info:
        wrong.send(make_request())
    assert not info.value.retryable
    with pytest.raises(ChannelError):  # the server requires STARTTLS
        plain(port).send(make_request())
    assert len(mailbox.messages) == 1


@pytest.mark.parametrize("smtp_server", ["ssl"], indirect=True)
def test_smtp_implicit_tls(smtp_server: tuple[Mailbox, int], tls: Any) -> None:
    mailbox, port = smtp_server
    _, client_ctx = tls
    channel = SmtpChannel(
        "127.0.0.1", port, to="onboarding@kvittra.example", sender="noreply@byra.example",
        security="ssl", ssl_context=client_ctx,
    )  # fmt: skip
    channel.send(make_request())
    _received(mailbox)
    untrusted = SmtpChannel(
        "127.0.0.1", port, to="onboarding@kvittra.example", sender="noreply@byra.example",
        security="ssl",
    )  # fmt: skip
    with pytest.raises(ChannelError, match=r"cannot send the request through 127\.0\.0\.1") as info:
        untrusted.send(make_request())
    assert "TLS certificate is not issued by a CA this client trusts" in str(info.value)


def test_smtp_refused_recipient_and_no_server(smtp_server: tuple[Mailbox, int]) -> None:
    _, port = smtp_server
    refused = SmtpChannel(
        "127.0.0.1", port, to="nobody@kvittra.example", sender="noreply@byra.example",
        security="none",
    )  # fmt: skip
    with pytest.raises(ChannelError, match="refused") as info:
        refused.send(make_request())
    assert not info.value.retryable
    gone = SmtpChannel(
        "127.0.0.1", _free_port(), to="a@kvittra.example", sender="b@byra.example",
        security="none", timeout=2.0,
    )  # fmt: skip
    with pytest.raises(ChannelError) as info:
        gone.send(make_request())
    assert info.value.retryable


def test_smtp_options_are_checked() -> None:
    with pytest.raises(InvalidInput):
        SmtpChannel("h", to="a@b.se", sender="c@d.se", security="tls")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        SmtpChannel("h", to="a@b.se", sender="c@d.se", username="only-user")
    assert SmtpChannel("h", to="a@b.se", sender="c@d.se", security="ssl").port == 465
    assert SmtpChannel("h", to="a@b.se", sender="c@d.se").port == 587


# --- http against the sandbox operator desk -------------------------------------------------------


class FakeSandbox:
    """The desk's dependency seam: the default network's config, registrations recorded."""

    def __init__(self) -> None:
        self.config = load_config()
        self.participants: dict[Any, Any] = {}
        self.calls: list[tuple[str, Any]] = []

    def register_participant(self, participant: Any) -> None:
        self.calls.append(("register", participant))
        self.participants[participant.id] = participant

    def move_participant(self, participant: Any, operator: str) -> None:
        self.calls.append(("move", (participant, operator)))


@pytest.fixture
def desk() -> Iterator[tuple[OperatorDesk, FakeSandbox, HttpServer]]:
    sandbox = FakeSandbox()
    with OperatorDesk(sandbox, delay=0.05) as desk_, HttpServer(desk_.handle, name="desk") as srv:
        yield desk_, sandbox, srv


def test_http_channel_against_the_desk(desk: tuple[OperatorDesk, FakeSandbox, HttpServer]) -> None:
    desk_, sandbox, server = desk
    request = make_request()
    with HttpChannel(server.base_url) as channel:
        receipt = channel.send(request)
        assert receipt.channel == "http"
        assert not receipt.duplicate
        assert receipt.reference.startswith("case-")
        assert receipt.detail["status"] == "received"
        again = channel.send(request)
        assert again.duplicate
        assert again.reference == receipt.reference
        assert again.idempotency_key == receipt.idempotency_key == request.request_id
        assert desk_.wait(receipt.reference)["status"] == "registered"  # type: ignore[index]
        assert channel.status(receipt.reference)["status"] == "registered"
        assert channel.status(request.request_id)["case_id"] == receipt.reference
        with pytest.raises(ChannelError, match="no case"):
            channel.status("case-unknown")
    assert [kind for kind, _ in sandbox.calls] == ["register"]


def test_http_channel_retries_faults_then_succeeds() -> None:
    answers = [Response(503), Response(500)]
    seen: list[Request] = []

    def flaky(request: Request) -> Response:
        seen.append(request)
        if answers:
            return answers.pop(0)
        body = json.dumps({"case_id": "case-1", "status": "received"}).encode()
        return Response(202, body, {"Content-Type": "application/json"})

    sleeps: list[float] = []
    with (
        HttpServer(flaky) as server,
        HttpChannel(server.base_url + "/", retries=3, backoff=0.1, sleep=sleeps.append) as channel,
    ):
        request = make_request()
        receipt = channel.send(request)
    assert receipt.reference == "case-1"
    assert len(seen) == 3
    # jittered exponential back-off: 0.1 s then 0.2 s, each within half of it either way
    assert len(sleeps) == 2
    assert 0.05 <= sleeps[0] <= 0.15
    assert 0.1 <= sleeps[1] <= 0.3
    assert all(r.path == "/requests" and r.method == "POST" for r in seen)
    keys = [{k.lower(): v for k, v in r.headers.items()}["idempotency-key"] for r in seen]
    assert keys == [request.request_id] * 3  # every retry is the same send
    assert from_json(seen[-1].body) == request
    with HttpServer(flaky) as server, HttpChannel(server.base_url) as channel:
        keyed = channel.send(request, idempotency_key="send-7")
    assert keyed.idempotency_key == "send-7"
    assert {k.lower(): v for k, v in seen[-1].headers.items()}["idempotency-key"] == "send-7"


def test_send_with_key_serves_old_and_new_channels(tmp_path: Path) -> None:
    class Legacy:  # a plug-in written before sends had keys
        name = "legacy"

        def send(self, request: AddRecipientRequest) -> Receipt:
            return Receipt(self.name, request.request_id, "ticket-1")

    request = make_request()
    assert send_with_key(Legacy(), request, "k-1").idempotency_key is None
    outbox = send_with_key(OutboxChannel(tmp_path), request, "k-1")
    assert outbox.idempotency_key == "k-1"


def test_http_channel_gives_up_and_reports() -> None:
    with (
        HttpServer(lambda r: Response(503)) as server,
        HttpChannel(server.base_url, retries=2, sleep=lambda s: None) as channel,
    ):
        with pytest.raises(ChannelError, match="3 attempts") as info:
            channel.send(make_request())
        assert info.value.retryable
    gone = HttpChannel(f"http://127.0.0.1:{_free_port()}", retries=1, sleep=lambda s: None)
    with gone, pytest.raises(ChannelError, match="connect"):
        gone.send(make_request())


def test_http_channel_does_not_retry_a_refusal() -> None:
    calls: list[Request] = []

    def refuse(request: Request) -> Response:
        calls.append(request)
        return Response(403, b'{"error": "not your desk"}')

    with (
        HttpServer(refuse) as server,
        HttpChannel(server.base_url, sleep=lambda s: None) as ch,
        pytest.raises(ChannelError, match="not your desk") as info,
    ):
        ch.send(make_request())
    assert not info.value.retryable
    assert len(calls) == 1
    with pytest.raises(InvalidInput):
        HttpChannel("ftp://desk.example")


def test_http_channel_passes_on_the_desks_problems() -> None:
    def picky(request: Request) -> Response:
        body = {"error": "invalid", "problems": [["email", "we do not mail there"]]}
        return Response(400, json.dumps(body).encode())

    with (
        HttpServer(picky) as server,
        HttpChannel(server.base_url) as channel,
        pytest.raises(InvalidRequest) as info,
    ):
        channel.send(make_request())
    assert info.value.problems == [("email", "we do not mail there")]


# --- the registry of channel kinds ----------------------------------------------------------------


def test_channels_are_pluggable(tmp_path: Path) -> None:
    assert {"outbox", "smtp", "http"} <= set(available_channels())
    outbox = make_channel("outbox", folder=tmp_path)
    assert isinstance(outbox, OutboxChannel)
    assert isinstance(outbox, Channel)

    class Ticket:
        name = "ticket"

        def __init__(self, queue: str) -> None:
            self.queue = queue

        def send(self, request: AddRecipientRequest) -> Receipt:
            return Receipt(self.name, request.request_id, f"{self.queue}-1")

    register_channel("ticket", Ticket)  # type: ignore[arg-type]
    channel = make_channel("ticket", queue="ONB")
    assert channel.send(make_request()).reference == "ONB-1"
    with pytest.raises(InvalidInput, match="unknown channel 'fax'"):
        make_channel("fax")
    with pytest.raises(InvalidInput, match="bad options"):
        make_channel("outbox", directory=tmp_path)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"to": "onboarding@desk.example\r\nBcc: evil@attacker.example"}, "(to) contains"),
        ({"sender": "anna@support.example\nBcc: evil@attacker.example"}, "(from) contains"),
        ({"to": "a@desk.example, b@desk.example"}, "is not one address"),
        ({"sender": "not an address"}, "is not one address"),
    ],
)
def test_mail_addresses_are_checked_when_the_channel_is_built(
    options: dict[str, str], says: str
) -> None:
    """A line break (header injection) or a second address is a configuration error at once,
    not a ValueError from the email package at the first send."""
    given = {"to": "onboarding@desk.example", "sender": "anna@support.example", **options}
    with pytest.raises(InvalidInput, match=re.escape(says)):
        SmtpChannel("127.0.0.1", 25, security="none", **given)
    problem = says.removeprefix("(to) ").removeprefix("(from) ")
    with pytest.raises(InvalidInput, match=re.escape(problem)):
        EmailNotifier("127.0.0.1", 25, security="none", **given)
    named = SmtpChannel(
        "127.0.0.1", 25, to="Kvittra Onboarding <onboarding@desk.example>",
        sender=" anna@support.example ", security="none",
    )  # fmt: skip
    assert (named.to, named.sender) == (
        "Kvittra Onboarding <onboarding@desk.example>",
        "anna@support.example",
    )
