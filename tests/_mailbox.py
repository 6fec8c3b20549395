"""A real local SMTP server (aiosmtpd) for tests, and the mailbox it delivers to; with a
certificate of :func:`_tls.self_signed_tls` and ``login=``, one that demands STARTTLS and a
login first."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from _tls import Tls

#: How long a test waits for a mail (seconds): long, because the machine may be busy; a wait
#: ends as soon as the mail is there.
WAIT_S = 60.0


class Mailbox:
    """An aiosmtpd handler that keeps every message and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        with self._arrived:
            self.messages.append(parsed)
            self._arrived.notify_all()
        return "250 Message accepted"

    def wait_for(self, count: int = 1, timeout: float = WAIT_S) -> list[EmailMessage]:
        """The first ``count`` messages, waiting for them to arrive (fails after ``timeout``)."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        assert arrived, f"expected {count} mail(s), the SMTP server got {len(self.messages)}"
        return self.messages[:count]


def _login_checker(login: tuple[str, str]) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    wanted = (login[0].encode(), login[1].encode())

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == wanted
        return AuthResult(success=ok, handled=False)

    return check


@contextlib.contextmanager
def local_smtp(
    *, tls: Tls | None = None, login: tuple[str, str] | None = None
) -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on 127.0.0.1 while the block runs: its mailbox and port. With ``tls``
    and ``login`` (username, password) it takes mail only after STARTTLS and that login."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    with socket.socket() as probe:  # aiosmtpd's start-up check needs the port beforehand
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    options: dict[str, Any] = {}
    if tls is not None and login is not None:
        options = {
            "tls_context": tls.server,
            "require_starttls": True,
            "authenticator": _login_checker(login),
            "auth_required": True,
        }
    controller = Controller(box, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()
