"""Following add/update-recipient requests to confirmation: draft -> sent -> confirmed.

A request is not done when it has been sent: it is done when the network shows the customer
able to receive the requested documents through the requested operator. Operators do the work
hours or days later, and some never answer, so the requests are kept in the SAME SQLite file as
the recipient directory (one file to copy, one transaction for both), with a history of every
step, and :meth:`RequestTracker.follow_up` looks the pending ones up again:

* every requested document type is looked up with a *fresh* SML answer (a long-lived lookup
  keeps DNS answers cached for their TTL, and right after a move the cached answer still points
  at the old operator's SMP);
* all of them reachable through the requested operator's Seat ID -> ``confirmed``, and the
  requester gets a confirmation e-mail (as the operator's own confirmation mail would);
* the operator desk says the case was rejected -> ``rejected`` with the desk's reason;
* nothing after ``expire_after`` -> ``expired`` (a new request may be made).

Statuses only move forward (draft -> sending -> sent -> confirmed | rejected | expired, and an
open one -> cancelled; a send that fails goes back from sending to draft). Every submission is
its own row and its own case at the operator: a closed one (confirmed, rejected, expired,
cancelled) stays in the history as it was, and a corrected or repeated request is a new
submission with a new id. While a submission is open (draft, sending or sent), a second one
asking the same thing (kind, customer, operator) is refused, so re-running a script does not ask
twice.

Sending is idempotent, also when several processes send the same request at once (two support
staff, a script run twice, a cron job overlapping the previous one): before the channel is
called, one transaction *claims* the request - a conditional status change from ``draft`` to
``sending`` - and only the process whose claim took sends; the others are told it is being sent
(:class:`~peppolnet.errors.SendInProgress`), and a send of a sent request returns the first
receipt. A claim left by a process that was killed mid-send expires after ``claim_timeout``
(:data:`CLAIM_TIMEOUT`); the next send re-claims it and carries the same idempotency key, so an
operator that did get the killed process's attempt sees the same send, not a second case.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import json
import os
import socket
import ssl
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from peppolnet.clock import Clock, as_clock
from peppolnet.errors import (
    DamagedDatabase,
    InvalidInput,
    InvalidRequest,
    PeppolnetError,
    SendInProgress,
)
from peppolnet.i18n import Message, _, joined, message_of, parse_language, render, restored, stored
from peppolnet.identifiers import DocumentTypeId, ParticipantId
from peppolnet.operators import Operator
from peppolnet.reachability import Reachability, Verdict
from peppolnet.recipients.channels import (
    Channel,
    HttpChannel,
    Receipt,
    Security,
    SmtpServer,
    check_mailbox,
    send_with_key,
)
from peppolnet.recipients.plan import RequestPlan
from peppolnet.recipients.render import set_header, to_json
from peppolnet.recipients.request import (
    AddRecipientRequest,
    OperatorRef,
    RequestStatus,
    UpdateRecipientRequest,
    display_name,
    new_request_id,
    request_from_dict,
)
from peppolnet.recipients.schema import SCHEMA_VERSION
from peppolnet.recipients.store import Store

if TYPE_CHECKING:
    import os

    from peppolnet.network import Network
    from peppolnet.recipients.directory import Change, RecipientDirectory

__all__ = [
    "CLAIM_TIMEOUT",
    "SCHEMA_VERSION",
    "EmailNotifier",
    "FollowUpResult",
    "Notifier",
    "RecordedCheck",
    "RequestEvent",
    "RequestTracker",
    "TrackedRequest",
    "render_confirmation",
]

Request = AddRecipientRequest | UpdateRecipientRequest


CLAIM_TIMEOUT: Final = timedelta(minutes=10)
"""How long a send's claim on a request holds (``RequestTracker(claim_timeout=...)``).

Why 10 minutes: far longer than a send with the channels' own limits takes (HTTP: 4 attempts of
at most 10 s plus 3.5 s of back-off; SMTP: 30 s per step), so a live send never loses its claim,
yet a request whose sender was killed is not stuck for long. Should a send outlast it anyway, the
next one carries the same idempotency key: the operator still sees one send.
"""

_OPEN: Final = frozenset({RequestStatus.DRAFT, RequestStatus.SENDING, RequestStatus.SENT})
_CLOSED_HINT: Final = _("a new attempt is a new request (build it again: it gets its own id)")


def _ts(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise InvalidInput(_("the tracker clock must return times with a time zone (e.g. UTC)"))
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# --- values --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RequestEvent:
    """One step in a request's history."""

    at: datetime
    event: str
    status: RequestStatus
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "event": self.event,
            "status": self.status.value,
            "detail": self.detail,
        }


@dataclasses.dataclass(frozen=True)
class RecordedCheck:
    """What a follow-up saw for one requested document type, as the store keeps it.

    Why stored: the confirmation mail lists the document types that were checked, and it may
    be sent by a later run than the one that confirmed the request (the first follow-up ran
    without a mail server, or the mail failed); that run must not have to say "not checked".
    """

    document_type: DocumentTypeId
    verdict: Verdict
    operator: Operator | None
    reason: str
    at: datetime

    @classmethod
    def of(cls, reachability: Reachability) -> RecordedCheck:
        """The part of a lookup's answer worth keeping."""
        return cls(
            reachability.document_type,
            reachability.verdict,
            reachability.operator,
            reachability.reason,
            reachability.at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "document_type": self.document_type.uri,
            "verdict": self.verdict.value,
            "operator": self.operator.to_json() if self.operator else None,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordedCheck:
        """Read :meth:`to_json` output back."""
        operator = data.get("operator")
        return cls(
            DocumentTypeId.parse(data["document_type"]),
            Verdict(data["verdict"]),
            Operator.from_json(operator) if isinstance(operator, dict) else None,
            str(data.get("reason") or ""),
            datetime.fromisoformat(data["at"]),
        )


#: What a confirmation is rendered from: a fresh lookup's answer or one the store kept.
SeenCheck = Reachability | RecordedCheck


@dataclasses.dataclass(frozen=True)
class TrackedRequest:
    """A stored request and where it is: status, how it was sent, when things happened."""

    request: Request
    status: RequestStatus
    created_at: datetime
    updated_at: datetime
    plan: dict[str, Any] | None = None
    channel: str | None = None
    reference: str | None = None
    channel_detail: dict[str, Any] = dataclasses.field(default_factory=dict)
    reason: str | None = None
    sent_at: datetime | None = None
    closed_at: datetime | None = None
    notified_at: datetime | None = None
    idempotency_key: str | None = None
    checks: tuple[RecordedCheck, ...] = ()
    """What the latest follow-up saw, one per requested document type it could look up."""
    checked_at: datetime | None = None
    claimed_by: str | None = None
    """While ``sending``: the send that claimed it (process id, host and a token of its own)."""
    claimed_at: datetime | None = None
    claim_expires_at: datetime | None = None

    @property
    def request_id(self) -> str:
        return self.request.request_id

    @property
    def receipt(self) -> Receipt | None:
        """The receipt of the (first) send, rebuilt from the store."""
        if self.channel is None or self.reference is None:
            return None
        return Receipt(
            self.channel,
            self.request_id,
            self.reference,
            detail=self.channel_detail,
            idempotency_key=self.idempotency_key,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: the request document plus its tracking state."""

        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "request_id": self.request_id,
            "status": self.status.value,
            "summary": self.request.summary(),
            "request": json.loads(to_json(self.request)),
            "plan": self.plan,
            "channel": self.channel,
            "reference": self.reference,
            "idempotency_key": self.idempotency_key,
            "reason": self.reason,
            "created_at": when(self.created_at),
            "updated_at": when(self.updated_at),
            "sent_at": when(self.sent_at),
            "closed_at": when(self.closed_at),
            "notified_at": when(self.notified_at),
            "checked_at": when(self.checked_at),
            "checks": [c.to_json() for c in self.checks],
            "claimed_by": self.claimed_by,
            "claimed_at": when(self.claimed_at),
            "claim_expires_at": when(self.claim_expires_at),
        }


@dataclasses.dataclass(frozen=True)
class FollowUpResult:
    """What one follow-up run found for one request.

    ``checks`` are the lookups made (one per requested document type); ``notified`` is the
    confirmation mail's Message-ID, ``notify_error`` why it could not be sent (the request stays
    confirmed; the next follow-up run with a notifier tries the mail again).
    """

    request_id: str
    summary: str
    previous: RequestStatus
    status: RequestStatus
    message: str
    checks: tuple[Reachability, ...] = ()
    desk_status: str | None = None
    notified: str | None = None
    notify_error: str | None = None

    @property
    def changed(self) -> bool:
        return self.previous is not self.status

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "summary": self.summary,
            "previous": self.previous.value,
            "status": self.status.value,
            "changed": self.changed,
            "message": self.message,
            "checks": [
                {
                    "document_type": c.document_type.value,
                    "verdict": c.verdict.value,
                    "seat_id": c.operator.seat_id if c.operator else None,
                    "reason": c.reason,
                }
                for c in self.checks
            ],
            "desk_status": self.desk_status,
            "notified": self.notified,
            "notify_error": self.notify_error,
        }


# --- notification ---------------------------------------------------------------------------


@runtime_checkable
class Notifier(Protocol):
    """Tells the requester a request is confirmed; returns a reference (e.g. the Message-ID)."""

    def notify(self, tracked: TrackedRequest, checks: Sequence[SeenCheck]) -> str: ...


def confirmation_address(request: Request) -> str:
    """Who the confirmation goes to: the requester, else the request's own e-mail address."""
    return request.requester.email if request.requester is not None else request.email


def render_confirmation(
    request: Request,
    *,
    sender: str,
    to: str | None = None,
    checks: Sequence[SeenCheck] = (),
    now: datetime | None = None,
    in_reply_to: str | None = None,
    language: str | None = None,
) -> EmailMessage:
    """The confirmation e-mail: "<company> can now receive e-invoices through <operator>".

    It answers the original request mail (``In-Reply-To`` its Message-ID: ``in_reply_to``, the
    one a mailed request was sent with, else the one derived from the request id), so mail
    programs thread it under the request, and has a Message-ID of its own derived from the
    request id, so a confirmation sent twice is recognisably the same mail. ``checks`` are the
    lookups that confirmed it (fresh, or as a follow-up recorded them). The subject and text
    are in ``language`` (``"sv"`` or ``"en"``, the default).
    """
    message = EmailMessage()
    seen_operator = next((c.operator for c in checks if c.operator is not None), None)
    # A name the network showed (a certificate's, a business card's) is only shown if it is
    # one line of text: otherwise the Seat ID alone names the operator in the subject.
    operator = str(
        OperatorRef.of(seen_operator)
        if request.operator.name is None and seen_operator
        else request.operator
    )
    values = {
        "company": request.company_name,
        "participant": request.participant_id.bare,
        "operator": operator,
    }
    subject = (
        _("Confirmed: {company} ({participant}) added to {operator}", **values)
        if request.kind.value == "add"
        else _("Confirmed: {company} ({participant}) moved to {operator}", **values)
    )
    set_header(message, "Subject", render(subject, language))
    set_header(message, "From", sender)
    set_header(message, "To", to or confirmation_address(request))
    message["Date"] = formatdate(now.timestamp() if now else None, localtime=False, usegmt=True)
    set_header(message, "Message-ID", f"<{request.request_id}.confirmed@peppolnet.request>")
    original = in_reply_to or f"<{request.request_id}@peppolnet.request>"
    set_header(message, "In-Reply-To", original)
    set_header(message, "References", original)
    set_header(message, "X-Peppolnet-Request-Id", request.request_id)
    message.set_content(_confirmation_text(request, values, checks, language))
    return message


def _confirmation_text(
    request: Request,
    values: dict[str, str],
    checks: Sequence[SeenCheck],
    language: str | None,
) -> str:
    """The confirmation's body in ``language``."""
    greeting = _("Hello {name},", name=request.requester.name) if request.requester else _("Hello,")
    lines = [
        greeting,
        "",
        _(
            "{company} (Peppol participant {participant}) can now receive e-invoices "
            "through {operator}.",
            **values,
        ),
        "",
        _("Confirmed document types:"),
    ]
    seen = {c.document_type: c for c in checks}
    for doc in request.document_types:
        found = seen.get(doc)
        if found is None:
            state = render(_("not checked"), language)
        else:  # English keeps the machine value (can-receive), as the mail always showed
            swedish = language is not None and parse_language(language) == "sv"
            state = found.verdict.label(language) if swedish else found.verdict.value
        lines.append(f"  - {doc.value} ({state})")
    lines += [
        "",
        _(
            "Invoices can be sent to this customer through Peppol from now on; stop sending "
            "PDF or paper copies."
        ),
        "",
        _("Request id: {id}", id=request.request_id),
    ]
    return "\n".join(render(line, language) for line in lines) + "\n"


class EmailNotifier:
    """Send the confirmation through an SMTP server (plain, STARTTLS or implicit TLS)."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        sender: str,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        to: str | None = None,
        language: str | None = None,
    ) -> None:
        self.language = language  # of the confirmation's subject and text (default English)
        self.server = SmtpServer(
            host,
            port,
            security=security,
            username=username,
            password=password,
            timeout=timeout,
            ssl_context=ssl_context,
        )
        self.sender = check_mailbox(sender, _("sender address of the confirmation"))
        # override the address (e.g. a shared support mailbox)
        self.to = None if to is None else check_mailbox(to, _("confirmation address (to)"))

    def notify(
        self,
        tracked: TrackedRequest,
        checks: Sequence[SeenCheck],
        *,
        language: str | None = None,
    ) -> str:
        """Send one confirmation mail; returns its Message-ID. Failures are ChannelError.

        ``language`` overrides the notifier's own for this mail (the support page writes each
        case's confirmation in the language the case was asked in)."""
        mailed = tracked.channel == "smtp" and tracked.reference
        message = render_confirmation(
            tracked.request,
            sender=self.sender,
            to=self.to,
            checks=checks,
            in_reply_to=tracked.reference if mailed else None,
            language=language or self.language,
        )
        self.server.send(message, what=_("the confirmation mail"))
        return str(message["Message-ID"])


# --- the tracker ----------------------------------------------------------------------------


class _Checker(Protocol):
    def check(
        self, participant: ParticipantId, *, document_type: DocumentTypeId | str | None = ...
    ) -> Reachability: ...


class _Desk(Protocol):
    def status(self, case_or_request_id: str) -> dict[str, Any]: ...


def _row_to_tracked(row: Any, path: Path) -> TrackedRequest:
    """A stored row as a :class:`TrackedRequest`; a row that does not read back (a value
    damaged on disk into text that is no longer JSON, a request, a status or a time) is a
    :class:`~peppolnet.errors.DamagedDatabase` naming the request, never a traceback."""
    try:
        return _read_row(row)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # InvalidRequest too
        raise _damaged(path, _("request {rid}", rid=row["request_id"]), exc) from exc


def _damaged(path: Path, what: str, exc: Exception) -> DamagedDatabase:
    if isinstance(exc, InvalidRequest):
        reason = _(
            "its stored document is not a valid request: {problems}",
            problems=joined([_("{field}: {problem}", field=f, problem=m) for f, m in exc.problems]),
        )
    elif isinstance(exc, json.JSONDecodeError):
        reason = _("a stored JSON value is not JSON any more")
    else:
        reason = _(
            "a stored value is not what peppolnet wrote ({kind}: {error})",
            kind=type(exc).__name__,
            error=str(exc),
        )
    return DamagedDatabase(
        _(
            "the recipient database {path} is damaged: {what} cannot be read back "
            "({reason}); restore the file from a backup",
            path=repr(str(path)),
            what=what,
            reason=reason,
        )
    )


def _read_row(row: Any) -> TrackedRequest:
    request = request_from_dict(json.loads(row["body"]))
    return TrackedRequest(
        request=request,
        status=RequestStatus(row["status"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        plan=json.loads(row["plan"]) if row["plan"] else None,
        channel=row["channel"],
        reference=row["reference"],
        channel_detail=json.loads(row["channel_detail"]) if row["channel_detail"] else {},
        reason=restored(row["reason"]),
        sent_at=_dt(row["sent_at"]),
        closed_at=_dt(row["closed_at"]),
        notified_at=_dt(row["notified_at"]),
        idempotency_key=row["idempotency_key"],
        checks=tuple(RecordedCheck.from_json(c) for c in json.loads(row["checks"] or "[]")),
        checked_at=_dt(row["checked_at"]),
        claimed_by=row["claimed_by"],
        claimed_at=_dt(row["claimed_at"]),
        claim_expires_at=_dt(row["claim_expires_at"]),
    )


class RequestTracker:
    """Requests in the recipient database (``db_path``: a path, a :class:`Store` or None).

    ``None`` is the default database (``$PEPPOLNET_DB`` or the per-user file), the one
    :class:`~peppolnet.recipients.directory.RecipientDirectory` uses. ``clock`` (a
    :class:`peppolnet.clock.Clock`; tests pass a :class:`~peppolnet.clock.ManualClock`) gives
    "now" for every event and expiry and drives the lookups that follow-ups make.
    ``claim_timeout`` is how long this tracker's sends hold their claim on a request
    (:data:`CLAIM_TIMEOUT`; longer if a channel of yours may take longer to hand one over).
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] | Store | None = None,
        *,
        clock: Clock | None = None,
        claim_timeout: timedelta = CLAIM_TIMEOUT,
    ) -> None:
        if not claim_timeout > timedelta(0):
            raise InvalidInput(
                _(
                    "claim_timeout must be positive, not {claim_timeout}",
                    claim_timeout=claim_timeout,
                )
            )
        self.claim_timeout = claim_timeout
        self.clock: Clock = as_clock(clock)
        self.store = db_path if isinstance(db_path, Store) else Store(db_path)
        self.store.connection()  # create / migrate now, so errors surface here

    @property
    def path(self) -> Path:
        return self.store.path

    def __repr__(self) -> str:
        return f"RequestTracker({str(self.path)!r})"

    def close(self) -> None:
        """Close this thread's database connection."""
        self.store.close()

    def __enter__(self) -> RequestTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------------

    def get(self, request_id: str) -> TrackedRequest | None:
        """The request with this id (or an unambiguous prefix of at least 8 characters)."""
        text = request_id.strip().lower()
        conn = self.store.connection()
        row = conn.execute("SELECT * FROM requests WHERE request_id = ?", (text,)).fetchone()
        if row is None and len(text) >= 8:
            rows = conn.execute(
                "SELECT * FROM requests WHERE request_id LIKE ? ESCAPE '\\' LIMIT 2",
                (text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
            if len(rows) > 1:
                raise InvalidInput(
                    _(
                        "{request_id} matches more than one request; give more of it",
                        request_id=repr(request_id),
                    )
                )
            row = rows[0] if rows else None
        return None if row is None else _row_to_tracked(row, self.path)

    def _need(self, request_id: str) -> TrackedRequest:
        found = self.get(request_id)
        if found is None:
            raise InvalidInput(
                _(
                    "no request with id {request_id} in {path}",
                    request_id=repr(request_id),
                    path=self.path,
                )
            )
        return found

    def list(
        self,
        status: RequestStatus | str | None = None,
        *,
        participant: ParticipantId | str | None = None,
    ) -> list[TrackedRequest]:
        """Every request (or those in ``status``, or for ``participant``), newest first.

        Every submission is listed: a customer asked for again after a rejection, or moved back
        to an operator it left, has one row per request.
        """
        wanted: str | None = None
        if status is not None:
            try:
                wanted = RequestStatus(status).value
            except ValueError:
                known = ", ".join(s.value for s in RequestStatus)
                raise InvalidInput(
                    _(
                        "unknown status {status}; use one of {known}",
                        status=repr(status),
                        known=known,
                    )
                ) from None
        pid: str | None = None
        if participant is not None:
            parsed = (
                participant
                if isinstance(participant, ParticipantId)
                else ParticipantId.parse(participant)
            )
            pid = parsed.uri
        rows = self.store.connection().execute(
            "SELECT * FROM requests WHERE (?1 IS NULL OR status = ?1) "
            "AND (?2 IS NULL OR participant_id = ?2) ORDER BY created_at DESC, request_id",
            (wanted, pid),
        )
        return [_row_to_tracked(row, self.path) for row in rows.fetchall()]

    def history(self, request_id: str) -> builtins.list[RequestEvent]:
        """Every step of the request, oldest first."""
        tracked = self._need(request_id)
        rows = self.store.connection().execute(
            "SELECT * FROM request_events WHERE request_id = ? ORDER BY id", (tracked.request_id,)
        )
        try:
            return [
                RequestEvent(
                    datetime.fromisoformat(r["at"]),
                    r["event"],
                    RequestStatus(r["status"]),
                    restored(r["detail"]) or "",
                )
                for r in rows.fetchall()
            ]
        except ValueError as exc:
            raise _damaged(
                self.path,
                _("the history of request {request_id}", request_id=tracked.request_id),
                exc,
            ) from exc

    # --- writing -------------------------------------------------------------------------------

    @staticmethod
    def _event(conn: Any, request_id: str, at: str, event: str, status: str, detail: str) -> None:
        """One step of a request's history; a sentence as :func:`~peppolnet.i18n.stored`, so
        that it reads in the language of whoever opens the history later."""
        conn.execute(
            "INSERT INTO request_events (request_id, at, event, status, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (request_id, at, event, status, stored(detail)),
        )

    def save(self, request: Request, plan: RequestPlan | None = None) -> TrackedRequest:
        """Store ``request`` (one submission) as a draft; idempotent on ``request_id``.

        Saving the same submission again changes nothing, and a changed draft (another e-mail,
        note, ...) is updated. A sent submission cannot be changed, and a closed one stays as it
        was: a corrected request is a new submission. A new submission is refused while another
        one asks the same (kind, customer, operator) and is still open - send or cancel that one
        first; :class:`InvalidInput` says which.
        """
        body = to_json(request.with_status(RequestStatus.DRAFT))
        plan_json = json.dumps(plan.to_json(), ensure_ascii=False) if plan is not None else None
        now = _ts(self.clock.now())
        rid = request.request_id
        with self.store.transaction() as conn:
            row = conn.execute("SELECT * FROM requests WHERE request_id = ?", (rid,)).fetchone()
            if row is None:
                same = self._open_twin(conn, request)
                if same is not None:
                    raise _asked_already(same, request)
                conn.execute(
                    "INSERT INTO requests (request_id, kind, participant_id, seat_id, "
                    "company_name, status, body, plan, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        rid,
                        request.kind.value,
                        request.participant_id.uri,
                        request.operator.seat_id,
                        request.company_name,
                        RequestStatus.DRAFT.value,
                        body,
                        plan_json,
                        now,
                        now,
                    ),
                )
                self._event(conn, rid, now, "saved", "draft", request.summary())
            else:
                status = RequestStatus(row["status"])
                same = row["body"] == body and (plan_json is None or plan_json == row["plan"])
                if status is RequestStatus.SENDING and not same:
                    raise InvalidInput(
                        _(
                            "request {rid} is being sent ({claim_text}); it cannot be changed while"
                            " its send is under way",
                            rid=rid,
                            claim_text=_claim_text(row),
                        )
                    )
                if status is not RequestStatus.DRAFT:
                    if row["body"] != body:
                        raise _unchangeable(rid, status)
                elif not same:
                    # Changed content is a new hand-over: a key an earlier (failed) attempt
                    # carried must not make a desk answer with what that attempt sent.
                    conn.execute(
                        "UPDATE requests SET body = ?, plan = coalesce(?, plan), "
                        "company_name = ?, updated_at = ?, "
                        "idempotency_key = CASE WHEN body = ? THEN idempotency_key END "
                        "WHERE request_id = ?",
                        (body, plan_json, request.company_name, now, body, rid),
                    )
                    self._event(conn, rid, now, "updated", "draft", request.summary())
        return self._need(rid)

    @staticmethod
    def _open_twin(conn: Any, request: Request) -> Any:
        """The open submission (draft, sending or sent) that asks what ``request`` asks, if any."""
        return conn.execute(
            "SELECT request_id, status FROM requests WHERE participant_id = ? AND kind = ? "
            "AND seat_id = ? AND status IN ('draft', 'sending', 'sent') AND request_id <> ? "
            "ORDER BY created_at LIMIT 1",
            (
                request.participant_id.uri,
                request.kind.value,
                request.operator.seat_id,
                request.request_id,
            ),
        ).fetchone()

    def cancel(self, request_id: str, reason: str | None = None) -> TrackedRequest:
        """Withdraw an open request (draft or sent): it is closed as ``cancelled``.

        It is never sent or followed up again, and a new request for the same customer may be
        made. An operator desk that already has the case is not told (desks take no withdrawals
        here): tell the operator if their case should be closed too. A request that is being
        sent right now is refused (its send decides whether the operator has it); one whose
        sender was stopped mid-send (an expired claim) may be cancelled.
        """
        rid = self._need(request_id).request_id
        now = _ts(self.clock.now())
        why: str = reason.strip() if reason and reason.strip() else _("cancelled by the requester")
        with self.store.transaction() as conn:
            row = conn.execute("SELECT * FROM requests WHERE request_id = ?", (rid,)).fetchone()
            status = RequestStatus(row["status"])
            if status not in _OPEN:
                raise InvalidInput(
                    _(
                        "request {rid} is already {status}; only a draft or a sent request can "
                        "be cancelled",
                        rid=rid,
                        status=status.word,
                    )
                )
            if status is RequestStatus.SENDING and (row["claim_expires_at"] or "") > now:
                raise InvalidInput(
                    _(
                        "request {rid} is being sent ({claim_text}); cancel it when that send "
                        "is done",
                        rid=rid,
                        claim_text=_claim_text(row),
                    )
                )
            conn.execute(
                "UPDATE requests SET status = 'cancelled', reason = ?, closed_at = ?, "
                "updated_at = ?, claimed_by = NULL, claimed_at = NULL, claim_expires_at = NULL "
                "WHERE request_id = ?",
                (stored(why), now, now, rid),
            )
            if status is RequestStatus.SENDING:
                why = _(
                    "{reason} (a send had not finished: {claim}; the operator may have it)",
                    reason=why,
                    claim=_claim_text(row),
                )
            self._event(conn, rid, now, "cancelled", "cancelled", why)
        return self._need(rid)

    def send(self, request_id: str, channel: Channel) -> Receipt:
        """Hand the request over through ``channel`` and mark it sent.

        Idempotent: a request already sent (or confirmed) is not sent again - the first receipt
        comes back with ``duplicate=True``. A closed request (rejected, expired, cancelled) is
        not sent: a new attempt is a new request. A channel failure is recorded in the history
        and re-raised; the request stays a draft.

        Safe when several processes or threads send the same request at once: the request is
        first claimed in one transaction (``draft`` -> ``sending``, a conditional update), and
        only the send whose claim took calls the channel. The others raise
        :class:`~peppolnet.errors.SendInProgress` (retryable: asked again later, they answer
        with the receipt). A claim whose process was killed expires after ``claim_timeout``;
        the next send takes it over.

        The send carries an idempotency key, stored with the first claim and reused by every
        later attempt until one succeeds: when an attempt failed after the operator got it (a
        timeout, a lost answer, a killed process), the next one is recognised as the same send
        instead of opening a second case. Changing the draft in between gives the next send a
        new key.
        """
        claimed = self._claim(self._need(request_id).request_id)
        if isinstance(claimed, Receipt):
            return claimed
        tracked, claimer = claimed
        rid = tracked.request_id
        key = tracked.idempotency_key
        assert key is not None  # the claim stored one
        try:
            receipt = send_with_key(channel, tracked.request, key)
        except BaseException as exc:
            # Whatever stopped the send (a refusal, a fault, Ctrl-C), the request is a draft
            # again and keeps its key: a retry is recognised if the operator got this one.
            # Should the store fail now, the claim expires on its own; the send's error is
            # the one worth raising.
            with contextlib.suppress(PeppolnetError):
                self._release(rid, claimer, exc)
            raise
        detail = dict(receipt.detail)
        desk_url = getattr(channel, "desk_url", None)
        if isinstance(desk_url, str):
            detail["desk_url"] = desk_url
        now = _ts(self.clock.now())
        what = f"{receipt.channel}: {receipt.reference}"
        with self.store.transaction() as conn:
            done = conn.execute(
                "UPDATE requests SET status = 'sent', channel = ?, reference = ?, "
                "channel_detail = ?, sent_at = ?, updated_at = ?, idempotency_key = ?, "
                "claimed_by = NULL, claimed_at = NULL, claim_expires_at = NULL "
                "WHERE request_id = ? AND status = 'sending'",
                (
                    receipt.channel,
                    receipt.reference,
                    json.dumps(detail, default=str),
                    now,
                    now,
                    receipt.idempotency_key or key,
                    rid,
                ),
            ).rowcount
            if done:
                self._event(conn, rid, now, "sent", "sent", what)
            else:
                # This send outlived its claim, and meanwhile the request was sent by the send
                # that took the claim over (same key: the same case) or cancelled. Keep the
                # record of what went out; the status stays what that other step made it.
                row = conn.execute(
                    "SELECT status FROM requests WHERE request_id = ?", (rid,)
                ).fetchone()
                self._event(
                    conn, rid, now, "sent-late", row["status"], f"{what} (its claim had expired)"
                )
        return receipt

    def _claim(self, rid: str) -> tuple[TrackedRequest, str] | Receipt:
        """Claim ``rid`` for sending, in one transaction: (the request, the claim's holder).

        Or the first receipt when it was sent already. Raises :class:`SendInProgress` while
        another send holds a live claim, :class:`InvalidInput` for a closed request.
        """
        now = self.clock.now()
        stamp = _ts(now)
        claimer = f"process {os.getpid()} on {socket.gethostname()} (send {uuid.uuid4().hex[:12]})"
        with self.store.transaction() as conn:
            row = conn.execute("SELECT * FROM requests WHERE request_id = ?", (rid,)).fetchone()
            tracked = _row_to_tracked(row, self.path)
            if tracked.status in (RequestStatus.SENT, RequestStatus.CONFIRMED):
                first = tracked.receipt
                if first is not None:
                    return dataclasses.replace(first, duplicate=True)
            if tracked.status not in (RequestStatus.DRAFT, RequestStatus.SENDING):
                raise InvalidInput(
                    _(
                        "request {rid} was {status}; {hint}",
                        rid=rid,
                        status=tracked.status.word,
                        hint=_CLOSED_HINT,
                    )
                )
            # The condition is the lock: a draft, or a send whose claim has run out. Another
            # transaction cannot slip in between (BEGIN IMMEDIATE holds the write lock), and
            # the rowcount says whether this claim took.
            claimed = conn.execute(
                "UPDATE requests SET status = 'sending', claimed_by = ?, claimed_at = ?, "
                "claim_expires_at = ?, updated_at = ?, "
                "idempotency_key = coalesce(idempotency_key, ?) "
                "WHERE request_id = ? AND (status = 'draft' "
                "OR (status = 'sending' AND claim_expires_at <= ?))",
                (
                    claimer,
                    stamp,
                    _ts(now + self.claim_timeout),
                    stamp,
                    new_request_id(),
                    rid,
                    stamp,
                ),
            ).rowcount
            if not claimed:
                expires = tracked.claim_expires_at or now
                raise SendInProgress(
                    _(
                        "request {rid} is already being sent by {claim_text}; run the send "
                        "again later to see its receipt",
                        rid=rid,
                        claim_text=_claim_text(row),
                    ),
                    request_id=rid,
                    claimed_by=str(tracked.claimed_by),
                    expires_at=expires,
                )
            if tracked.status is RequestStatus.SENDING:
                self._event(
                    conn,
                    rid,
                    stamp,
                    "reclaimed",
                    "sending",
                    _(
                        "the send by {claimer} did not finish by {expires}; sent again with the "
                        "same idempotency key",
                        claimer=str(tracked.claimed_by),
                        expires=str(row["claim_expires_at"]),
                    ),
                )
            row = conn.execute("SELECT * FROM requests WHERE request_id = ?", (rid,)).fetchone()
        return _row_to_tracked(row, self.path), claimer

    def _release(self, rid: str, claimer: str, exc: BaseException) -> None:
        """After a failed send: back to draft (if the claim is still ours), and the reason."""
        now = _ts(self.clock.now())
        reason = (
            message_of(exc) if isinstance(exc, PeppolnetError) else f"{type(exc).__name__}: {exc}"
        )
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE requests SET status = 'draft', claimed_by = NULL, claimed_at = NULL, "
                "claim_expires_at = NULL, updated_at = ? "
                "WHERE request_id = ? AND status = 'sending' AND claimed_by = ?",
                (now, rid, claimer),
            )
            row = conn.execute(
                "SELECT status FROM requests WHERE request_id = ?", (rid,)
            ).fetchone()
            self._event(conn, rid, now, "send-failed", row["status"], reason)

    def _close(
        self,
        rid: str,
        status: RequestStatus,
        reason: str | None,
        event: str,
        checks: Sequence[Reachability],
    ) -> None:
        now = _ts(self.clock.now())
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE requests SET status = ?, reason = ?, closed_at = ?, updated_at = ? "
                "WHERE request_id = ? AND status = 'sent'",
                (status.value, None if reason is None else stored(reason), now, now, rid),
            )
            self._record(conn, rid, now, checks)
            self._event(conn, rid, now, event, status.value, reason or "")

    @staticmethod
    def _record(conn: Any, rid: str, now: str, checks: Sequence[Reachability]) -> None:
        """Keep what this follow-up saw (for a confirmation mail a later run sends)."""
        if checks:
            recorded = [RecordedCheck.of(c).to_json() for c in checks]
            conn.execute(
                "UPDATE requests SET checks = ?, checked_at = ? WHERE request_id = ?",
                (json.dumps(recorded, ensure_ascii=False), now, rid),
            )

    def _notified(self, rid: str, reference: str | None, error: str | None) -> None:
        now = _ts(self.clock.now())
        with self.store.transaction() as conn:
            if reference is not None:
                conn.execute(
                    "UPDATE requests SET notified_at = ?, updated_at = ? WHERE request_id = ?",
                    (now, now, rid),
                )
                self._event(conn, rid, now, "notified", "confirmed", reference)
            else:
                self._event(conn, rid, now, "notify-failed", "confirmed", error or "")

    # --- following up --------------------------------------------------------------------------

    def follow_up(
        self,
        lookup_or_network: _Checker | Network,
        *,
        notify: Notifier | None = None,
        expire_after: timedelta | None = None,
        desk: _Desk | None = None,
        timeout: float = 10.0,
        dnssec: bool = False,
    ) -> builtins.list[FollowUpResult]:
        """Look every sent request up again; confirm, reject or expire it; notify on confirmation.

        ``lookup_or_network`` is a :class:`~peppolnet.network.Network` (a lookup with an uncached
        SML resolver is built for this run) or a :class:`~peppolnet.lookup.Lookup` (its SML cache
        is cleared first, so no answer from before a move is reused). ``dnssec=True`` validates
        the SML's answers with DNSSEC (docs/dnssec.md): a forged answer cannot confirm a
        request - it is ``unknown``, and the request stays sent; a lookup of yours must then be
        made with ``dnssec=True``. ``desk`` answers
        ``status(id)`` (an :class:`HttpChannel`); without it, requests sent over HTTP ask the
        desk they were sent to. With ``notify``, confirmed requests whose mail could not be sent
        before are notified too.
        """
        with _fresh_lookup(lookup_or_network, timeout, self.clock, dnssec) as lookup:
            results = [
                self._follow_one(tracked, lookup, notify, expire_after, desk)
                for tracked in self.list(RequestStatus.SENT)
            ]
        if notify is not None:
            for tracked in self.list(RequestStatus.CONFIRMED):
                if tracked.notified_at is None and not any(
                    r.request_id == tracked.request_id for r in results
                ):
                    sent, error = self._notify(tracked, tracked.checks, notify)
                    results.append(
                        FollowUpResult(
                            tracked.request_id,
                            tracked.request.summary(),
                            RequestStatus.CONFIRMED,
                            RequestStatus.CONFIRMED,
                            "confirmed earlier; confirmation mail sent now"
                            if sent
                            else "confirmed earlier; the confirmation mail failed again",
                            notified=sent,
                            notify_error=error,
                        )
                    )
        return results

    def _notify(
        self, tracked: TrackedRequest, checks: Sequence[SeenCheck], notify: Notifier
    ) -> tuple[str | None, str | None]:
        try:
            reference = notify.notify(tracked, checks)
        except PeppolnetError as exc:
            self._notified(tracked.request_id, None, str(exc))
            return None, str(exc)
        self._notified(tracked.request_id, reference, None)
        return reference, None

    def _follow_one(
        self,
        tracked: TrackedRequest,
        lookup: _Checker,
        notify: Notifier | None,
        expire_after: timedelta | None,
        desk: _Desk | None,
    ) -> FollowUpResult:
        request = tracked.request
        rid = tracked.request_id
        wanted = request.operator.seat_id
        checks: builtins.list[Reachability] = []
        for doc in request.document_types:
            try:
                checks.append(lookup.check(request.participant_id, document_type=doc))
            except PeppolnetError:
                break  # treated like an unknown answer: not confirmed this time
        confirmed = len(checks) == len(request.document_types) and all(
            c.verdict is Verdict.CAN_RECEIVE
            and c.operator is not None
            and c.operator.seat_id == wanted
            for c in checks
        )

        def result(status: RequestStatus, message: str, **extra: Any) -> FollowUpResult:
            return FollowUpResult(
                rid, request.summary(), RequestStatus.SENT, status, message, tuple(checks), **extra
            )

        if confirmed:
            through = checks[0].operator if request.operator.name is None else None
            message = _(
                "{participant} can receive through {operator}",
                participant=request.participant_id.bare,
                operator=str(through or request.operator),
            )
            self._close(rid, RequestStatus.CONFIRMED, None, "confirmed", checks)
            if notify is None:
                return result(RequestStatus.CONFIRMED, message)
            now_tracked = self._need(rid)
            sent, error = self._notify(now_tracked, checks, notify)
            return result(RequestStatus.CONFIRMED, message, notified=sent, notify_error=error)
        seen = _describe(checks, request.document_types, wanted)
        desk_status, desk_reason = self._desk_status(tracked, desk)
        if desk_status == "rejected":
            reason = _(
                "the operator desk rejected it: {reason}",
                reason=desk_reason or _("no reason given"),
            )
            self._close(rid, RequestStatus.REJECTED, reason, "rejected", checks)
            return result(RequestStatus.REJECTED, reason, desk_status=desk_status)
        sent_at = tracked.sent_at
        # Only a network that *answered* may expire a request: while lookups fail (unknown, or
        # raised), the request stays sent - an outage is not the operator failing to act.
        answered = len(checks) == len(request.document_types) and all(
            c.verdict is not Verdict.UNKNOWN for c in checks
        )
        if (
            answered
            and expire_after is not None
            and sent_at
            and self.clock.now() - sent_at >= expire_after
        ):
            reason = _(
                "not confirmed within {duration} of sending ({seen})",
                duration=_duration(expire_after),
                seen=seen,
            )
            self._close(rid, RequestStatus.EXPIRED, reason, "expired", checks)
            return result(RequestStatus.EXPIRED, reason, desk_status=desk_status)
        self._checked(rid, seen, checks)
        pending = _("still pending: {seen}", seen=seen)
        return result(RequestStatus.SENT, pending, desk_status=desk_status)

    def _checked(self, rid: str, seen: str, checks: Sequence[Reachability]) -> None:
        """Record a pending check (an event only when the answer differs from the last one)."""
        with self.store.transaction() as conn:
            self._record(conn, rid, _ts(self.clock.now()), checks)
            last = conn.execute(
                "SELECT detail FROM request_events WHERE request_id = ? AND event = 'checked' "
                "ORDER BY id DESC LIMIT 1",
                (rid,),
            ).fetchone()
            if last is None or last["detail"] != stored(seen):
                self._event(conn, rid, _ts(self.clock.now()), "checked", "sent", seen)

    @staticmethod
    def _desk_status(tracked: TrackedRequest, desk: _Desk | None) -> tuple[str | None, str | None]:
        own: HttpChannel | None = None
        if desk is None and tracked.channel == "http":
            url = tracked.channel_detail.get("desk_url")
            if isinstance(url, str):
                own = desk = HttpChannel(url, retries=0, timeout=5.0)
        if desk is None:
            return None, None
        # The case this submission's send opened (a request id may have had earlier sends).
        case_id = tracked.reference if tracked.channel == "http" and tracked.reference else None
        try:
            case = desk.status(case_id or tracked.request_id)
        except PeppolnetError:
            return None, None  # the desk is away: decide from the network alone
        finally:
            if own is not None:
                own.close()
        status, reason = case.get("status"), case.get("reason")
        return (
            status if isinstance(status, str) else None,
            reason if isinstance(reason, str) else None,
        )

    # --- from the recipient directory ----------------------------------------------------------

    def drafts_from_changes(
        self,
        changes: Iterable[Change],
        directory: RecipientDirectory | None = None,
        *,
        operator: str | OperatorRef | None = None,
        email: str | None = None,
        save: bool = True,
    ) -> builtins.list[UpdateRecipientRequest]:
        """Draft update requests for customers the directory saw change operator.

        A "changed-operator" entry means the customer is now with ``after.seat_id``. The draft
        moves it to ``operator`` (default: back to the operator it was with before) from the one
        that holds it now. ``directory`` (optional) supplies the customer's current details;
        ``email`` is used for customers without one. Drafts are saved unless ``save=False``;
        every problem of every customer is reported at once as :class:`InvalidRequest`.

        Each draft is a new submission, so a customer that moved back and forth gets a new
        request each time it moves; one that already has an open request for the same move
        (from an earlier run) is skipped, so running this daily does not pile up drafts.
        """
        drafts: builtins.list[UpdateRecipientRequest] = []
        asked: set[tuple[str, str]] = set()
        problems: builtins.list[tuple[str, str]] = []
        for change in changes:
            if change.kind != "changed-operator":
                continue
            recipient = change.recipient
            if directory is not None:
                recipient = directory.get(recipient.participant_id) or recipient
            target = operator if operator is not None else change.before.seat_id
            holder = change.after.seat_id
            target_seat = target.seat_id if isinstance(target, OperatorRef) else target
            if not holder or target_seat == holder:
                continue
            try:
                draft = UpdateRecipientRequest.create(
                    company_name=recipient.name or recipient.participant_id,
                    organisation_number=recipient.org_number or _local_id(recipient.participant_id),
                    country=recipient.country or None,
                    participant_id=recipient.participant_id,
                    operator=target,
                    current_operator=OperatorRef(
                        seat_id=holder, name=display_name(change.after.operator_name)
                    ),
                    email=recipient.email or email or "",
                    note=f"drafted from a change seen {change.after.checked_at:%Y-%m-%d}",
                )
            except InvalidRequest as exc:
                problems.extend((f"{recipient.participant_id}: {f}", m) for f, m in exc.problems)
                continue
            asks = (draft.participant_id.uri, draft.operator.seat_id)
            if asks not in asked and self._open_twin(self.store.connection(), draft) is None:
                asked.add(asks)
                drafts.append(draft)
        if problems:
            raise InvalidRequest(problems)
        if save:
            for draft in drafts:
                self.save(draft)
        return drafts


def _claim_text(row: Any) -> str:
    """Who is sending a request and until when their claim holds, as part of a sentence."""

    def moment(text: str | None) -> str:
        when = _dt(text)
        return f"{when:%Y-%m-%d %H:%M:%S} UTC" if when else _("an unknown time")

    return _(
        "{who} since {since}; if that process was stopped, its claim expires at {until}",
        who=row["claimed_by"],
        since=moment(row["claimed_at"]),
        until=moment(row["claim_expires_at"]),
    )


def _asked_already(same: Any, request: Request) -> InvalidInput:
    """The refusal of a new submission while ``same`` (an open one) asks what it asks."""
    then = (
        _("send or cancel that one first")
        if same["status"] == RequestStatus.DRAFT.value
        else _("follow it up or cancel it first")
    )
    return InvalidInput(
        _(
            "request {other} ({status}) already asks to {ask}; {then}",
            other=same["request_id"],
            status=RequestStatus(same["status"]).word,
            ask=_ask(request),
            then=then,
        )
    )


def _unchangeable(rid: str, status: RequestStatus) -> InvalidInput:
    """The refusal to change a request that is no longer a draft."""
    if status is RequestStatus.SENT:
        return InvalidInput(_("request {rid} is already sent; it cannot be changed", rid=rid))
    return InvalidInput(
        _(
            "request {rid} is already {status}; it cannot be changed; {hint}",
            rid=rid,
            status=status.word,
            hint=_CLOSED_HINT,
        )
    )


def _ask(request: Request) -> str:
    """What a request asks for, as the end of a sentence ("add X to Y", "move X to Y")."""
    who, seat = request.participant_id.bare, request.operator.seat_id
    if request.kind.value == "add":
        return _("add {participant} to {seat}", participant=who, seat=seat)
    return _("move {participant} to {seat}", participant=who, seat=seat)


def _local_id(participant: str) -> str:
    return participant.rsplit("::", 1)[-1].split(":", 1)[-1]


def _duration(span: timedelta) -> str:
    """``span`` in words for the expiry sentence: whole days or hours as such (what
    ``--expire-after 14d`` or ``12h`` asked for), anything else as Python writes it."""
    hours, rest = divmod(span, timedelta(hours=1))
    if rest or hours <= 0:
        return str(span)
    if hours % 24:
        return _("1 hour") if hours == 1 else _("{count} hours", count=hours)
    days = hours // 24
    return _("1 day") if days == 1 else _("{count} days", count=days)


#: A verdict as a follow-up reports it: the machine value in English (what the JSON and the
#: history have always said), the verdict's words in Swedish.
_SEEN: Final[dict[Verdict, Message]] = {
    Verdict.CAN_RECEIVE: _("can-receive"),
    Verdict.CANNOT_RECEIVE: _("cannot-receive"),
    Verdict.NOT_REGISTERED: _("not-registered"),
    Verdict.UNKNOWN: _("unknown"),
}


def _describe(checks: Sequence[Reachability], docs: Sequence[DocumentTypeId], wanted: str) -> str:
    """What a follow-up saw, one part per distinct answer (a message: the result is shown in
    the command's language; the history keeps its English)."""
    if len(checks) < len(docs):
        return _("the lookup failed")
    parts: builtins.list[Message] = []
    for check in checks:
        seat = check.operator.seat_id if check.operator else None
        if check.verdict is Verdict.CAN_RECEIVE and seat != wanted:
            parts.append(
                _(
                    "can-receive through {seat}, not {wanted}",
                    seat=seat or _("an unknown operator"),
                    wanted=wanted,
                )
            )
        else:
            parts.append(_SEEN[check.verdict])
    return joined(list(dict.fromkeys(parts)))


class _fresh_lookup:
    """A lookup whose SML answers are fresh: built here for a Network, cache cleared otherwise."""

    def __init__(
        self, target: _Checker | Network, timeout: float, clock: Clock, dnssec: bool
    ) -> None:
        self._target = target
        self._timeout = timeout
        self._clock = clock
        self._dnssec = dnssec
        self._own: Any = None

    def __enter__(self) -> _Checker:
        from peppolnet.network import Network

        if isinstance(self._target, Network):
            from peppolnet.lookup import Lookup
            from peppolnet.sml import SmlResolver

            resolver = SmlResolver.for_network(
                self._target,
                timeout=self._timeout,
                require_https=False,
                cache=False,
                clock=self._clock,
                dnssec=self._dnssec,
            )
            self._own = Lookup(
                self._target,
                resolver=resolver,
                timeout=self._timeout,
                clock=self._clock,
                dnssec=self._dnssec,
            )
            checker: _Checker = self._own
            return checker
        if self._dnssec:
            from peppolnet.lookup import require_dnssec

            require_dnssec(self._target)
        clear = getattr(getattr(self._target, "resolver", None), "clear_cache", None)
        if callable(clear):
            clear()
        return self._target

    def __exit__(self, *exc: object) -> None:
        if self._own is not None:
            self._own.close()
