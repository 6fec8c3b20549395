"""Atomic sends: one request sent by several processes (or threads) at once is one mail.

Every racer runs against the same SQLite file, and the mails are counted at a real local SMTP
server (aiosmtpd). The race is made certain, not hoped for: the server holds the first mail's
DATA until every other racer has either finished or is itself holding a mail at the server. So
the other racers always try while the first send is under way; without the claim they would
all send (and be counted), with it they are told the request is already being sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

import peppolnet
from peppolnet.cli import main
from peppolnet.clock import ManualClock, SystemClock
from peppolnet.errors import ChannelError, InvalidInput, SendInProgress
from peppolnet.recipients import AddRecipientRequest, RequestStatus, SmtpChannel
from peppolnet.recipients.tracking import CLAIM_TIMEOUT, RequestTracker

SRC = Path(peppolnet.__file__).resolve().parents[1]
RACERS = 4
ROUNDS = 3
NUMBERS = ("559012-3450", "559012-3468", "559012-3476")  # valid Swedish organisation numbers


class GatedMailbox:
    """An SMTP handler that counts mails and holds each one's DATA until ``release``.

    ``waiting`` is how many mails are held right now; ``changed`` is notified whenever that (or
    anything a test counts with it) changes, so a test waits for a state, never for a time.
    """

    def __init__(self, changed: threading.Condition) -> None:
        self.messages: list[EmailMessage] = []
        self.waiting = 0
        self.release = threading.Event()
        self.changed = changed

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        with self.changed:
            self.waiting += 1
            self.changed.notify_all()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        with self.changed:
            self.messages.append(message)
            self.waiting -= 1
            self.changed.notify_all()
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def changed() -> threading.Condition:
    return threading.Condition()


@pytest.fixture
def mailbox(changed: threading.Condition) -> Iterator[tuple[GatedMailbox, int]]:
    box = GatedMailbox(changed)
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        box.release.set()  # never leave a handler (or a racer) waiting
        controller.stop()


def _request(number: str) -> AddRecipientRequest:
    return AddRecipientRequest.create(
        company_name="Ödeshög Snickeri AB",
        organisation_number=number,
        operator="PSE000102",
        email="faktura@odeshog.example",
        requester={"name": "Anna Support", "email": "anna@support.example"},
    )


def _channel(port: int) -> SmtpChannel:
    return SmtpChannel(
        "127.0.0.1", port, to="onboarding@kvittra.example", sender="anna@support.example",
        security="none",
    )  # fmt: skip


def _env(db: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env["PEPPOLNET_DB"] = str(db)
    env["NO_COLOR"] = "1"
    return env


def _send_command(request_id: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "peppolnet.cli", "request", "send", request_id, "--via", "smtp",
        "--smtp", f"127.0.0.1:{port}", "--smtp-to", "onboarding@kvittra.example",
        "--smtp-from", "anna@support.example", "--smtp-security", "none", "--json",
    ]  # fmt: skip


def _race(
    racers: list[Callable[[], Any]], box: GatedMailbox, changed: threading.Condition
) -> list[Any]:
    """Start every racer; release the held mails once each racer has finished or holds one.

    Returns what each racer returned (or the exception it raised), in order.
    """
    results: list[Any] = [None] * len(racers)
    finished = 0

    def run(index: int) -> None:
        nonlocal finished
        try:
            results[index] = racers[index]()
        except BaseException as exc:
            results[index] = exc
        with changed:
            finished += 1
            changed.notify_all()

    box.release.clear()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(racers))]
    for thread in threads:
        thread.start()
    with changed:
        changed.wait_for(lambda: finished + box.waiting == len(racers))
    box.release.set()
    for thread in threads:
        thread.join()
    return results


def test_processes_sending_one_request_send_one_mail(
    tmp_path: Path, mailbox: tuple[GatedMailbox, int], changed: threading.Condition
) -> None:
    """Four CLI processes send the same draft at once, three rounds: one mail each round."""
    box, port = mailbox
    db = tmp_path / "recipients.sqlite"
    for round_number, number in enumerate(NUMBERS[:ROUNDS]):
        request = _request(number)
        with RequestTracker(db) as tracker:
            tracker.save(request)

        def racer(rid: str = request.request_id) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                _send_command(rid, port),
                capture_output=True, text=True, env=_env(db), timeout=300,
            )  # fmt: skip

        before = len(box.messages)
        done = _race([racer] * RACERS, box, changed)
        mails = box.messages[before:]
        assert len(mails) == 1, (round_number, [d.stdout + d.stderr for d in done])
        codes = sorted(d.returncode for d in done)
        assert codes == [0] + [3] * (RACERS - 1), [d.stdout + d.stderr for d in done]
        for losing in (d for d in done if d.returncode == 3):
            [answer] = json.loads(losing.stdout)
            assert "is already being sent by process" in answer["error"], answer
            assert answer["retryable"] is True
        with RequestTracker(db) as tracker:
            tracked = tracker.get(request.request_id)
            assert tracked is not None
            assert tracked.status is RequestStatus.SENT
            assert tracked.claimed_by is None
            assert mails[0]["X-Peppolnet-Idempotency-Key"] == tracked.idempotency_key
            events = [e.event for e in tracker.history(request.request_id)]
        assert events == ["saved", "sent"]
        # Once it is sent, a send answers with the first receipt (exit 0, nothing mailed).
        again = subprocess.run(
            _send_command(request.request_id[:8], port),
            capture_output=True, text=True, env=_env(db), timeout=300,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        [answer] = json.loads(again.stdout)
        assert answer["already_sent"] is True
        assert answer["receipt"]["reference"] == str(mails[0]["Message-ID"])
        assert len(box.messages) == before + 1


def test_threads_sending_one_request_send_one_mail(
    tmp_path: Path, mailbox: tuple[GatedMailbox, int], changed: threading.Condition
) -> None:
    """Threads of one process, one tracker (a connection per thread): the same rule."""
    box, port = mailbox
    tracker = RequestTracker(tmp_path / "recipients.sqlite")
    for number in NUMBERS[:ROUNDS]:
        request = _request(number)
        tracker.save(request)
        before = len(box.messages)
        done = _race(
            [lambda rid=request.request_id: tracker.send(rid, _channel(port))] * RACERS,
            box,
            changed,
        )
        assert len(box.messages) == before + 1
        receipts = [d for d in done if not isinstance(d, BaseException)]
        busy = [d for d in done if isinstance(d, SendInProgress)]
        assert len(receipts) == 1, done
        assert len(busy) == RACERS - 1, done
        assert all(b.retryable and b.request_id == request.request_id for b in busy)
        tracked = tracker.get(request.request_id)
        assert tracked is not None
        assert tracked.status is RequestStatus.SENT
        assert tracked.reference == receipts[0].reference == str(box.messages[-1]["Message-ID"])


@pytest.fixture
def killed_mid_send(tmp_path: Path) -> tuple[Path, AddRecipientRequest, int]:
    """A draft whose sender (a CLI process) was killed while handing it over: the database,
    the request and the killed process's id."""
    db = tmp_path / "recipients.sqlite"
    request = _request(NUMBERS[0])
    with RequestTracker(db) as tracker:
        tracker.save(request)
    # A "mail server" that accepts the connection and never says hello: the sender waits.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        child = subprocess.Popen(
            _send_command(request.request_id, silent.getsockname()[1]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(db),
        )  # fmt: skip
        connection, _ = silent.accept()  # the child has claimed the request and is sending
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=300)
        connection.close()
    return db, request, child.pid


def test_a_claim_left_by_a_killed_process_expires_and_keeps_the_key(
    killed_mid_send: tuple[Path, AddRecipientRequest, int],
    mailbox: tuple[GatedMailbox, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A process killed while sending leaves the request ``sending``: refused until the claim
    expires, then sent by whoever sends next - with the same idempotency key, so the operator
    sees one case even if the killed process's mail did go out."""
    db, request, pid = killed_mid_send
    box, port = mailbox
    clock = ManualClock(SystemClock().now())
    tracker = RequestTracker(db, clock=clock)
    stuck = tracker.get(request.request_id)
    assert stuck is not None
    assert stuck.status is RequestStatus.SENDING
    assert stuck.claimed_by is not None
    assert f"process {pid} " in stuck.claimed_by
    assert stuck.claim_expires_at is not None
    assert stuck.claimed_at is not None
    assert stuck.claim_expires_at - stuck.claimed_at == CLAIM_TIMEOUT
    key = stuck.idempotency_key
    assert key is not None
    with pytest.raises(SendInProgress, match=r"claim expires at") as info:
        tracker.send(request.request_id, _channel(port))
    assert info.value.retryable
    assert info.value.expires_at == stuck.claim_expires_at
    # While it is being sent it stays what was claimed, and it is still the open request.
    with pytest.raises(InvalidInput, match="is being sent"):
        tracker.cancel(request.request_id)
    changed = _request(NUMBERS[0]).model_copy(
        update={"request_id": request.request_id, "email": "ekonomi@odeshog.example"}
    )
    with pytest.raises(InvalidInput, match="cannot be changed while its send is under way"):
        tracker.save(changed)
    with pytest.raises(InvalidInput, match=r"\(sending\) already asks to add"):
        tracker.save(_request(NUMBERS[0]))
    assert [t.request_id for t in tracker.list("sending")] == [request.request_id]
    assert main(["request", "show", request.request_id[:8], "--db", str(db)]) == 0
    shown = capsys.readouterr().out
    assert f"{request.request_id} [sending]" in shown
    assert f"Being sent by process {pid} on " in shown
    assert "the next send takes over after" in shown
    assert box.messages == []
    clock.advance(CLAIM_TIMEOUT)
    box.release.set()
    receipt = tracker.send(request.request_id, _channel(port))
    [mail] = box.messages
    assert receipt.idempotency_key == key == mail["X-Peppolnet-Idempotency-Key"]
    assert str(mail["Message-ID"]) == f"<{key}@peppolnet.request>"
    history = tracker.history(request.request_id)
    assert [e.event for e in history] == ["saved", "reclaimed", "sent"]
    assert f"process {pid} " in history[1].detail
    sent = tracker.get(request.request_id)
    assert sent is not None
    assert (sent.status, sent.claimed_by, sent.claimed_at) == (RequestStatus.SENT, None, None)


def test_a_request_whose_sender_was_killed_can_be_cancelled_once_the_claim_expired(
    killed_mid_send: tuple[Path, AddRecipientRequest, int],
) -> None:
    db, request, pid = killed_mid_send
    clock = ManualClock(SystemClock().now() + CLAIM_TIMEOUT)
    tracker = RequestTracker(db, clock=clock)
    cancelled = tracker.cancel(request.request_id, reason="asked twice")
    assert cancelled.status is RequestStatus.CANCELLED
    assert cancelled.claimed_by is None
    [*_, event] = tracker.history(request.request_id)
    assert event.event == "cancelled"
    assert event.detail.startswith(f"asked twice (a send had not finished: process {pid} ")
    assert "the operator may have it" in event.detail


def test_a_failed_send_releases_its_claim(tmp_path: Path) -> None:
    """A send that fails (nobody listens) leaves a draft again, with the key for the retry."""
    tracker = RequestTracker(tmp_path / "recipients.sqlite")
    request = _request(NUMBERS[0])
    tracker.save(request)
    with pytest.raises(ChannelError):
        tracker.send(request.request_id, _channel(_free_port()))
    failed = tracker.get(request.request_id)
    assert failed is not None
    assert (failed.status, failed.claimed_by) == (RequestStatus.DRAFT, None)
    assert failed.idempotency_key is not None
    assert [e.event for e in tracker.history(request.request_id)] == ["saved", "send-failed"]


def test_a_claim_can_be_shorter_or_longer(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="claim_timeout"):
        RequestTracker(tmp_path / "db.sqlite", claim_timeout=timedelta(0))
    tracker = RequestTracker(tmp_path / "db.sqlite", claim_timeout=timedelta(hours=1))
    assert tracker.claim_timeout == timedelta(hours=1)
