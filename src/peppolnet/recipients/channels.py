"""Channels: how a request reaches an operator - a folder, e-mail, or an HTTP desk.

Operators take onboarding requests in different ways, so sending is pluggable: a channel is
anything with ``name`` and ``send(request) -> Receipt``. Three are built in:

* ``outbox`` - one file per request in a folder (JSON, XML or text), written atomically (a
  temporary file in the same folder, then ``os.replace``), for people who forward files or for
  another system to pick up;
* ``smtp`` - an e-mail through :mod:`smtplib` (plain, STARTTLS or implicit TLS, login optional);
* ``http`` - ``POST {desk_url}/requests`` with the JSON body, retried with jittered back-off on
  faults (the sandbox operator desk speaks this), through peppolnet's one HTTP layer.

Idempotency: every submission has its own ``request_id``, and every *send* of it an idempotency
key (``send(request, idempotency_key=...)``; without one, the request id is the key). A send that
is retried - by the channel after a fault, or by the caller after a failure whose outcome is
unknown - carries the same key, so the operator recognises it instead of opening a second case:
the HTTP channel sends it as ``Idempotency-Key`` and the desk answers a repeat with the case it
already has (``Receipt.duplicate``); the e-mail's ``Message-ID`` is derived from it and it is
repeated in an ``X-Peppolnet-Idempotency-Key`` header; the outbox names its file after the
request id (one file per submission). A new submission for the same customer (a corrected
request, a move back) has a new id and new keys, so it is a case of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import re
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, Protocol, runtime_checkable

import httpx

from peppolnet import _http
from peppolnet._neterrors import describe
from peppolnet._retry import RetryPolicy
from peppolnet._tls import context
from peppolnet.errors import ChannelError, InvalidInput, InvalidRequest
from peppolnet.i18n import Message, _
from peppolnet.recipients.render import render_email, render_text, to_dict, to_json, to_xml
from peppolnet.recipients.request import (
    AddRecipientRequest,
    UpdateRecipientRequest,
    parse_mailbox,
    reason,
)

_THE_MAIL: Final = _("the mail")

__all__ = [
    "Channel",
    "HttpChannel",
    "OutboxChannel",
    "Receipt",
    "SmtpChannel",
    "available_channels",
    "check_mailbox",
    "make_channel",
    "register_channel",
    "send_with_key",
]

Request = AddRecipientRequest | UpdateRecipientRequest
Security = Literal["none", "starttls", "ssl"]


@dataclasses.dataclass(frozen=True)
class Receipt:
    """Proof of hand-over: which channel, which request, and the channel's own reference.

    ``reference`` is the file path (outbox), the Message-ID (smtp) or the desk's case id (http);
    ``duplicate`` is true when the channel recognised the request as one it already had;
    ``idempotency_key`` is the key the send carried (None for channels that take none).
    """

    channel: str
    request_id: str
    reference: str
    duplicate: bool = False
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)
    idempotency_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


@runtime_checkable
class Channel(Protocol):
    """Anything that can hand a request over.

    ``idempotency_key`` names this send: the same key again means "the same send, retried"
    (answer with the first receipt, open no new case). Channels written before keys existed
    take only the request; :func:`send_with_key` calls those without it.
    """

    name: str

    def send(self, request: Request, *, idempotency_key: str | None = None) -> Receipt: ...


def send_with_key(channel: Any, request: Request, idempotency_key: str) -> Receipt:
    """``channel.send(request, idempotency_key=...)``, or without the key for a channel that
    takes none (a plug-in written for ``send(request)``): such a channel gets what it knows."""
    try:
        parameters = inspect.signature(channel.send).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: assume the current protocol
        takes_key = True
    else:
        takes_key = any(
            p.name == "idempotency_key" or p.kind is inspect.Parameter.VAR_KEYWORD
            for p in parameters
        )
    receipt: Receipt = (
        channel.send(request, idempotency_key=idempotency_key)
        if takes_key
        else channel.send(request)
    )
    return receipt


_KEY_RE = re.compile(r"[A-Za-z0-9_~+=-]{1,255}")


def _key(request: Request, idempotency_key: str | None) -> str:
    """The key a send carries: the given one, else the request id.

    Keys are 1-255 letters, digits and ``_~+=-`` (a UUID fits), because the key must pass
    unchanged through an HTTP header and the left part of a Message-ID.
    """
    if idempotency_key is None:
        return request.request_id
    if not isinstance(idempotency_key, str) or not _KEY_RE.fullmatch(idempotency_key):
        raise InvalidInput(
            _(
                "an idempotency key must be 1 to 255 letters, digits or _~+=- "
                "characters, not {idempotency_key}",
                idempotency_key=repr(idempotency_key),
            )
        )
    return idempotency_key


# --- outbox -------------------------------------------------------------------------------------


class OutboxChannel:
    """One file per request in ``folder``: ``<request_id>.json|.xml|.txt``, written atomically."""

    name = "outbox"
    _EXT: ClassVar[dict[str, str]] = {"json": "json", "xml": "xml", "text": "txt"}

    def __init__(
        self,
        folder: str | Path,
        *,
        format: Literal["json", "xml", "text"] = "json",
        language: str | None = None,
    ):
        if format not in self._EXT:
            raise InvalidInput(
                _("outbox format must be json, xml or text, not {format!r}", format=format)
            )
        self.folder = Path(folder)
        self.format = format
        self.language = language  # of the text format (JSON and XML are language-neutral)

    def _render(self, request: Request) -> bytes:
        if self.format == "xml":
            return to_xml(request)
        if self.format == "text":
            text = render_text(request, language=self.language)
        else:
            text = to_json(request) + "\n"
        return text.encode("utf-8")

    def path_for(self, request: Request) -> Path:
        """Where the request's file is (or will be)."""
        return self.folder / f"{request.request_id}.{self._EXT[self.format]}"

    def send(self, request: Request, *, idempotency_key: str | None = None) -> Receipt:
        """Write the file; an identical file already there makes this a duplicate (no write).

        The file is named after the request id (one file per submission), so the key only
        travels in the receipt.
        """
        key = _key(request, idempotency_key)
        content = self._render(request)
        path = self.path_for(request)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if path.is_file() and path.read_bytes() == content:
                return Receipt(
                    self.name, request.request_id, str(path), duplicate=True, idempotency_key=key
                )
            existed = path.exists()
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(content)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise ChannelError(
                _(
                    "cannot write the request to the outbox {folder}: {reason}",
                    folder=str(self.folder),
                    reason=exc.strerror or str(exc),
                )
            ) from exc
        return Receipt(
            self.name, request.request_id, str(path), duplicate=existed, idempotency_key=key
        )


# --- smtp ---------------------------------------------------------------------------------------


def check_mailbox(text: str, what: str | Message) -> str:
    """``text`` (stripped) if it is one mailbox on one line - ``NAME <ADDRESS>`` or ``ADDRESS``
    - else :class:`InvalidInput` naming ``what`` (e.g. "the --smtp-to address").

    The addresses a mail channel is configured with go into its headers; checked when the
    channel is built, a line break or a second address is a clear configuration error instead
    of a ``ValueError`` from :mod:`email` (or an extra header) at the first send.
    """
    try:
        parse_mailbox(text, what, strict=False)
    except ValueError as exc:
        raise InvalidInput(reason(exc)) from None
    return text.strip()


class SmtpServer:
    """An SMTP server as configured (plain, STARTTLS or implicit TLS, optional login).

    One place that connects, logs in, sends, and turns every smtplib/socket failure into a
    :class:`ChannelError` that says whether retrying can help; the request channel and the
    confirmation notifier both send through it.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("none", "starttls", "ssl"):
            raise InvalidInput(
                _(
                    "smtp security must be none, starttls or ssl, not {security}",
                    security=repr(security),
                )
            )
        if (username is None) != (password is None):
            raise InvalidInput(_("smtp username and password go together"))
        self.host = host
        self.port = port or (465 if security == "ssl" else 587)
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context

    def _connect(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            smtp.starttls(context=context)
        return smtp

    def send(self, message: EmailMessage, *, what: str = _THE_MAIL) -> None:
        """Send ``message``; raise :class:`ChannelError` (``retryable`` set) if it fails."""
        try:
            with self._connect() as smtp:
                if self.username is not None and self.password is not None:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelError(
                _(
                    "the mail server {host} refused the login: {reply}",
                    host=self.host,
                    reply=_smtp_text(exc),
                ),
                retryable=False,
            ) from exc
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise ChannelError(
                _(
                    "the mail server {host} refused {what}: {reply}",
                    host=self.host,
                    what=what,
                    reply=exc,
                ),
                retryable=False,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise ChannelError(
                _(
                    "the mail server {host} answered {code} to {what}: {reply}",
                    host=self.host,
                    code=exc.smtp_code,
                    what=what,
                    reply=_smtp_text(exc),
                ),
                retryable=400 <= exc.smtp_code < 500,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(
                _(
                    "cannot send {what} through {host}:{port}: {error}",
                    what=what,
                    host=self.host,
                    port=self.port,
                    error=describe(exc),
                ),
                retryable=True,
            ) from exc
        if refused:
            raise ChannelError(
                _("the mail server refused {addresses}", addresses=str(sorted(refused))),
                retryable=False,
            )


class SmtpChannel(SmtpServer):
    """E-mail the request (text body + JSON attachment) to an operator's onboarding address."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        to: str,
        sender: str,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        language: str | None = None,
    ) -> None:
        super().__init__(
            host,
            port,
            security=security,
            username=username,
            password=password,
            timeout=timeout,
            ssl_context=ssl_context,
        )
        self.to = check_mailbox(to, _("operator's address (to)"))
        self.sender = check_mailbox(sender, _("sender address (from)"))
        self.language = language  # of the mail's subject and text (default English)

    def send(  # type: ignore[override]
        self, request: Request, *, idempotency_key: str | None = None
    ) -> Receipt:
        """Send one message; its Message-ID is derived from the idempotency key.

        A retried send (same key) is the same message to the operator's mail system; without
        a key the request id is the key.
        """
        key = _key(request, idempotency_key)
        message = render_email(
            request, to=self.to, sender=self.sender, idempotency_key=key, language=self.language
        )
        SmtpServer.send(self, message, what=_("the request"))
        return Receipt(
            self.name,
            request.request_id,
            str(message["Message-ID"]),
            detail={"to": self.to},
            idempotency_key=key,
        )


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    raw = exc.smtp_error
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


# --- http ---------------------------------------------------------------------------------------

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
#: The largest desk answer read (a case is a small JSON document).
_MAX_ANSWER = 1_000_000


class HttpChannel:
    """POST the JSON request to ``{desk_url}/requests``; retry faults with jittered exponential
    back-off (the one retry policy, :mod:`peppolnet._retry`: ``retries`` after the first try,
    pauses from ``backoff``). ``timeout`` bounds each whole request (:mod:`peppolnet._http`)."""

    name = "http"

    def __init__(
        self,
        desk_url: str,
        *,
        client: httpx.Client | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not desk_url.startswith(("http://", "https://")):
            raise InvalidInput(
                _(
                    "the desk URL must start with http:// or https://: {desk_url}",
                    desk_url=repr(desk_url),
                )
            )
        self.desk_url = desk_url.rstrip("/")
        self._own_client = client is None
        self.client = client or _http.client(context(True), timeout=timeout)
        self.timeout = timeout
        self.retry = RetryPolicy.of_retries(retries, backoff)
        self.retries = self.retry.retries
        self.headers = dict(headers or {})
        self._sleep = sleep

    def close(self) -> None:
        """Close the HTTP client if this channel made it."""
        if self._own_client:
            self.client.close()

    def __enter__(self) -> HttpChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, url: str, **options: Any) -> _http.Answer:
        request = _http.Fetch(url, _MAX_ANSWER, method=method, **options)
        return _http.run(self._call_steps(request), self._perform, self._sleep)

    def _perform(self, request: _http.Fetch) -> _http.Answer:
        with _http.scope(seconds=self.timeout):
            return _http.fetch(self.client, request)

    def _call_steps(self, request: _http.Fetch) -> _http.Steps[_http.Answer]:
        """``request`` until the desk answers with anything but a fault or a "try again"."""
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = yield request
            except _http.HttpFault as fault:
                last = fault.detail
            else:
                if answer.status not in _RETRY_STATUS:
                    return answer
                last = f"HTTP {answer.status}"
            pause = _http.retry_pause(self.retry, attempt, request.url, last)
            if pause is None:
                raise ChannelError(
                    _(
                        "the operator desk at {url} did not take the request after {attempts} "
                        "attempts ({last})",
                        url=self.desk_url,
                        attempts=attempt,
                        last=last,
                    ),
                    retryable=True,
                )
            yield _http.Pause(pause)

    def send(self, request: Request, *, idempotency_key: str | None = None) -> Receipt:
        """POST the request; 202 opens a case, 200 means the desk already had this send.

        Every attempt (the retries after a fault included) carries the same
        ``Idempotency-Key`` - ``idempotency_key``, or the request id without one - so a desk
        that got an attempt whose answer was lost answers the retry with the same case.
        """
        key = _key(request, idempotency_key)
        headers = {**self.headers, "Idempotency-Key": key}
        answer = self._call(
            "POST", f"{self.desk_url}/requests", json=to_dict(request), headers=headers
        )
        body = _json(answer)
        if answer.status in (200, 201, 202) and isinstance(body.get("case_id"), str):
            return Receipt(
                self.name,
                request.request_id,
                body["case_id"],
                duplicate=answer.status == 200,
                detail=body,
                idempotency_key=key,
            )
        problems = body.get("problems")
        if answer.status in (400, 422) and isinstance(problems, list) and problems:
            raise InvalidRequest([(str(p[0]), str(p[1])) for p in problems if len(p) == 2])
        text = answer.body[:200].decode("utf-8", "replace")
        reason = body.get("error") or text or httpx.codes.get_reason_phrase(answer.status)
        raise ChannelError(
            _(
                "the operator desk refused the request (HTTP {status}): {reason}",
                status=answer.status,
                reason=reason,
            ),
            retryable=False,
        )

    def status(self, case_or_request_id: str) -> dict[str, Any]:
        """The desk's view of a case (``GET {desk_url}/requests/{id}``)."""
        answer = self._call("GET", f"{self.desk_url}/requests/{case_or_request_id}")
        if answer.status != 200:
            raise ChannelError(
                _(
                    "the operator desk has no case {case!r} (HTTP {status})",
                    case=case_or_request_id,
                    status=answer.status,
                ),
                retryable=False,
            )
        return _json(answer)


def _json(answer: _http.Answer) -> dict[str, Any]:
    data = answer.json()
    return data if isinstance(data, dict) else {}


# --- registry of channel kinds ------------------------------------------------------------------

_FACTORIES: dict[str, Callable[..., Channel]] = {
    "outbox": OutboxChannel,
    "smtp": SmtpChannel,
    "http": HttpChannel,
}


def register_channel(name: str, factory: Callable[..., Channel]) -> None:
    """Make a channel kind available to :func:`make_channel` (e.g. a ticket system's API)."""
    _FACTORIES[name] = factory


def available_channels() -> list[str]:
    """The channel kinds :func:`make_channel` knows."""
    return sorted(_FACTORIES)


def make_channel(name: str, /, **options: Any) -> Channel:
    """Build a channel by kind from options: ``make_channel("outbox", folder="out")``."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise InvalidInput(
            _(
                "unknown channel {name}; known channels: {listed}",
                name=repr(name),
                listed=", ".join(available_channels()),
            )
        )
    try:
        return factory(**options)
    except TypeError as exc:
        raise InvalidInput(
            _("bad options for the {name} channel: {exc}", name=name, exc=str(exc))
        ) from exc
