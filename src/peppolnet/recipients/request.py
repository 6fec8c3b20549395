"""Add/update-recipient requests: what a support desk needs to put a customer into Peppol.

A request says: register *this company* (name, organisation number, the participant id derived
from it) with *this operator* (Seat ID), and send confirmations to *this e-mail address*. An
update additionally names the operator the customer is moving away from and, where the old
operator has issued one, the migration key (Peppol SML specification, SMP-SML interface).

Why the validation is so thorough: a request that is wrong is found out days later, by a person at
the operator, who mails back. Every problem is therefore collected at once (not the first one),
named by its field, and phrased so the user can fix it: the scheme whose check digits failed, the
closest operator names, the rule a migration key breaks.

Requests are immutable pydantic models. Each one is a *submission* with its own ``request_id``
(a random UUID given when it is built, kept by every copy and document of it): the same customer
may rightly be asked for more than once - a corrected request after a rejection, a move back to
an operator it left - and each of those is a case of its own at the operator. (Ids used to be
derived from kind, participant and operator, so a corrected request got the rejected case back.)
A send that is retried must not open a second case either; that is what the per-send
idempotency key is for (see :mod:`peppolnet.recipients.channels`).
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from peppolnet.errors import InvalidIdentifier, InvalidRequest
from peppolnet.i18n import Message, _, country_code, joined
from peppolnet.identifiers import (
    BIS_BILLING_CREDIT_NOTE,
    BIS_BILLING_INVOICE,
    DocumentTypeId,
    ParticipantId,
)
from peppolnet.operators import Operator, OperatorRegistry, is_seat_id
from peppolnet.recipients.email_problems import email_problem
from peppolnet.recipients.migration import check_migration_key
from peppolnet.schemes import suggest_participant_ids, validate

__all__ = [
    "DEFAULT_DOCUMENT_TYPES",
    "AddRecipientRequest",
    "OperatorRef",
    "RecipientRequest",
    "RequestDefaults",
    "RequestKind",
    "RequestStatus",
    "Requester",
    "UpdateRecipientRequest",
    "check_email",
    "check_one_line",
    "check_request_id",
    "new_request_id",
    "parse_mailbox",
    "request_from_dict",
]

DEFAULT_DOCUMENT_TYPES: Final = (BIS_BILLING_INVOICE, BIS_BILLING_CREDIT_NOTE)
MAX_NAME: Final = 200
MAX_NOTE: Final = 2000
_COUNTRY_RE: Final = re.compile(r"[A-Z]{2}")


class RequestKind(enum.StrEnum):
    """Add a participant that is not in Peppol, or move one from another operator."""

    ADD = "add"
    UPDATE = "update"


class RequestStatus(enum.StrEnum):
    """Where a request is in its life (the tracking store moves it along).

    ``draft``, ``sending`` and ``sent`` are open; the others close the submission for good (a
    new attempt is a new request): ``cancelled`` is the requester withdrawing it. ``sending``
    is a send under way: one process has claimed the request and is handing it over, and no
    other may send or change it until that send ends (or its claim expires, if the process was
    stopped). It is a state of the store, never of a document handed to an operator.
    """

    DRAFT = "draft"
    SENDING = "sending"
    SENT = "sent"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def word(self) -> Message:
        """The status in words for a sentence, in the reader's language when rendered
        (``"avbruten"``); the value is for machines (``--status``, JSON)."""
        return _REQUEST_STATUS_WORDS[self]


_REQUEST_STATUS_WORDS: Final[dict[RequestStatus, Message]] = {
    RequestStatus.DRAFT: _("draft"),
    RequestStatus.SENDING: _("sending"),
    RequestStatus.SENT: _("sent"),
    RequestStatus.CONFIRMED: _("confirmed"),
    RequestStatus.REJECTED: _("rejected"),
    RequestStatus.EXPIRED: _("expired"),
    RequestStatus.CANCELLED: _("cancelled"),
}


@dataclass(frozen=True)
class RequestDefaults:
    """Configured defaults: the country that interprets numbers, who asks, which documents."""

    country: str = "SE"
    requester: Requester | None = None
    document_types: tuple[DocumentTypeId, ...] = DEFAULT_DOCUMENT_TYPES


# --- single-field checks, shared by create() and by loading from JSON/XML ------------------------


def new_request_id() -> str:
    """A fresh submission id: a random (version 4) UUID in its canonical lower-case form."""
    return str(uuid.uuid4())


def check_request_id(text: str) -> str:
    """The canonical form of a request id, or ``ValueError`` saying why it is not one.

    Any RFC 4122 UUID is accepted (ids made before 0.1 are version 5, new ones version 4), so
    documents and databases written by older versions stay readable.
    """
    try:
        value = uuid.UUID(text.strip()) if isinstance(text, str) else None
    except ValueError:
        value = None
    if value is None or value.variant != uuid.RFC_4122 or not 1 <= (value.version or 0) <= 8:
        raise ValueError(
            _(
                "{value!r} is not a request id (a UUID such as "
                "1b4e28ba-2fa1-41d2-883f-0016d3cca427)",
                value=text,
            )
        )
    return str(value)


def check_email(text: str, *, check_deliverability: bool = False) -> str:
    """The normalised address (domain lower-cased, IDNA-checked), or ``ValueError`` saying why.

    Internationalised domains and local parts are accepted (SMTPUTF8); the optional
    deliverability check asks DNS for the domain's MX records, so it is off by default.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_MISSING)
    try:
        result = validate_email(text.strip(), check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise ValueError(
            _(
                "{value!r} is not a valid e-mail address: {problem}",
                value=text.strip(),
                problem=email_problem(exc),
            )
        ) from None
    return str(result.normalized)


# Characters no document form can carry (XML 1.0 forbids them; mail and terminals mangle them).
_CONTROL_RE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# ...and what a one-line field must not hold besides: every character str.splitlines() breaks a
# line at (CR, LF, NEL, the Unicode line and paragraph separators, ...), the other C1 controls
# and tab. A one-line field may end up in a mail header (Subject, Reply-To, a display name),
# where a line break would start a header of its own; it is refused, never quietly replaced.
_NOT_ONE_LINE_RE: Final = re.compile("[\t\n\r\x80-\x9f\u2028\u2029]")


def check_one_line(text: str, what: str | Message) -> str:
    """``text`` if it is one line of plain text; else ``ValueError`` naming the character.

    Used for every field that may be put into a mail header or a one-line listing (names,
    e-mail addresses, subject parts): a line break there is header injection, so it is refused
    with the code point named, never stripped or turned into a space.
    """
    bad = _CONTROL_RE.search(text) or _NOT_ONE_LINE_RE.search(text)
    if bad:
        code = f"U+{ord(bad.group()):04X}"
        if len(f"a{bad.group()}b".splitlines()) > 1:
            raise ValueError(
                _(
                    "the {what} contains a control character ({code}, a line break)",
                    what=what,
                    code=code,
                )
            )
        raise ValueError(_control(what, code))
    return text


def _control(what: str | Message, code: str) -> Message:
    return _("the {what} contains a control character ({code})", what=what, code=code)


def _check_plain(text: str, what: str | Message, *, multiline: bool = False) -> str:
    if not multiline:
        return check_one_line(text, what)
    bad = _CONTROL_RE.search(text)
    if bad:
        raise ValueError(_control(what, f"U+{ord(bad.group()):04X}"))
    return text


# TRANSLATORS: a request field's problem: it has no value
_MISSING: Final = _("must not be empty")


def reason(exc: BaseException) -> str:
    """What a validation error says, kept as the :class:`~peppolnet.i18n.Message` it was
    raised with (so a form can show it in either language); else its text."""
    first = exc.args[0] if len(exc.args) == 1 else None
    if isinstance(first, Message):
        return first
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) and message else str(exc)


# NAME <ADDRESS> or a bare ADDRESS; a name with a comma, semicolon or quote must be quoted.
_MAILBOX_RE: Final = re.compile(
    r'\s*(?:(?:"(?P<quoted>[^"\\]*)"|(?P<name>[^<>",;@]*?))\s*<(?P<address>[^<>\s]+)>'
    r"|(?P<bare>[^<>\s\",;]+))\s*"
)


# An address as a mail server takes it: no spaces, no second @, nothing that separates addresses.
_PLAIN_ADDRESS_RE: Final = re.compile(r'[^\s@<>()\[\],;:"]+@[^\s@<>()\[\],;:"]+')


def parse_mailbox(
    text: str, what: str | Message | None = None, *, strict: bool = True
) -> tuple[str, str]:
    """``"Anna Support <anna@support.example>"`` or ``"anna@support.example"`` as ``(name,
    address)`` (the name is ``""`` when none is given); else ``ValueError`` saying why.

    Strict where :func:`email.utils.parseaddr` is lenient: ``parseaddr`` keeps the first
    address of ``"a@x\r\nBcc: b@y"`` and quietly drops the rest, so a mistyped or hostile
    value became another address than the one given. Here the whole text must be one mailbox
    on one line. With ``strict`` the address must be one a customer can be mailed at
    (:func:`check_email`); without, any ``local@domain`` a mail server may accept (a sender
    such as ``peppolnet@localhost``, an internal relay's domain) - configuration, not data.
    """
    what = what or _("address")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_("the {what} must not be empty", what=what))
    check_one_line(text, what)
    match = _MAILBOX_RE.fullmatch(text)
    if match is None:
        raise ValueError(
            _(
                "the {what} {value!r} is not one address: write NAME <ADDRESS> or ADDRESS "
                '(quote a name with a comma: "Support, Anna" <anna@example.org>)',
                what=what,
                value=text.strip(),
            )
        )
    name = match.group("quoted") if match.group("quoted") is not None else match.group("name")
    address = match.group("address") or match.group("bare")
    if not strict:
        if not _PLAIN_ADDRESS_RE.fullmatch(address):
            raise ValueError(
                _(
                    "the {what} {value!r} is not an e-mail address (LOCAL@DOMAIN)",
                    what=what,
                    value=address,
                )
            )
    else:
        try:
            check_email(address)
        except ValueError as exc:
            raise ValueError(_("the {what}: {problem}", what=what, problem=reason(exc))) from None
    return " ".join((name or "").split()), address


def _check_name(text: str, what: str | Message | None = None) -> str:
    what = what or _("name")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_("the {what} must not be empty or whitespace only", what=what))
    _check_plain(text.strip(), what)
    clean = " ".join(text.split())
    if len(clean) > MAX_NAME:
        raise ValueError(
            _("the {what} is longer than {limit} characters", what=what, limit=MAX_NAME)
        )
    return clean


def _check_country(text: str) -> str:
    """A two-letter code; a country's name (``Sverige``, ``Suomi``) is read as its code."""
    cc = text.strip().upper() if isinstance(text, str) else ""
    if not _COUNTRY_RE.fullmatch(cc) and isinstance(text, str):
        cc = country_code(text) or cc
    if not _COUNTRY_RE.fullmatch(cc):
        raise ValueError(_("{value!r} is not a two-letter country code", value=text))
    return cc


def _check_participant(pid: ParticipantId) -> ParticipantId:
    result = validate(pid)
    if not result.valid:
        raise ValueError(joined([p.message for p in result.errors]))
    return pid


class OperatorRef(BaseModel):
    """An operator as a request names it: the Seat ID (authoritative) and a display name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seat_id: Annotated[str, Field(pattern=r"^P[A-Z]{2}[0-9]{6}$")]
    name: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        # The name is shown in summaries and mail subjects: one line, or none at all.
        if value is None:
            return None
        return check_one_line(value, _("operator name")).strip() or None

    @classmethod
    def of(cls, operator: Operator) -> OperatorRef:
        """From a registry :class:`~peppolnet.operators.Operator`.

        The Seat ID is what identifies the operator; the name is for display only, and a
        registry learns names from the network (business cards, certificates). A name that is
        not one line of plain text is left out rather than carried into requests and mails.
        """
        return cls(seat_id=operator.seat_id, name=display_name(operator.name))

    def __str__(self) -> str:
        return f"{self.name} ({self.seat_id})" if self.name else self.seat_id


def display_name(name: str | None) -> str | None:
    """``name`` if it can be shown on one line (in a summary, a mail subject), else None.

    For names that come from elsewhere (the network, a registry file) and are only shown: an
    unusable one is not shown, where a name the user typed is refused (:func:`check_one_line`).
    """
    if name is None:
        return None
    try:
        return check_one_line(name, _("name")).strip() or None
    except ValueError:
        return None


class Requester(BaseModel):
    """Who asks for the registration, and where the confirmation goes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    email: str
    organisation: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value, _("requester name"))

    @classmethod
    def parse(cls, text: str) -> Requester:
        """``"NAME <EMAIL>"`` or ``"EMAIL"`` (the name is then the part before the @).

        Raises :class:`InvalidRequest` (field ``requester``) for anything but exactly one
        mailbox on one line: a line break, a second address or a malformed one is refused,
        never dropped (see :func:`parse_mailbox`).
        """
        try:
            name, address = parse_mailbox(text, _("requester"))
        except ValueError as exc:
            raise InvalidRequest([("requester", reason(exc))]) from None
        return _build(cls, {"name": name or address.split("@")[0], "email": address})

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return check_email(value)

    @field_validator("organisation")
    @classmethod
    def _organisation(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(value, _("requester organisation"))


class _RequestBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(default_factory=new_request_id)
    kind: RequestKind
    company_name: str
    organisation_number: str
    country: str
    participant_id: ParticipantId
    operator: OperatorRef
    email: str
    document_types: tuple[DocumentTypeId, ...] = DEFAULT_DOCUMENT_TYPES
    requester: Requester | None = None
    note: Annotated[str | None, Field(max_length=MAX_NOTE)] = None
    created_at: datetime | None = None
    status: RequestStatus = RequestStatus.DRAFT

    @field_validator("request_id")
    @classmethod
    def _request_id(cls, value: str) -> str:
        return check_request_id(value)

    @field_validator("company_name")
    @classmethod
    def _company(cls, value: str) -> str:
        return _check_name(value, _("company name"))

    @field_validator("organisation_number")
    @classmethod
    def _number(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(_("the organisation number must not be empty"))
        return _check_plain(value.strip(), _("organisation number"))

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # XML parsers turn CR LF into LF; normalising here keeps both forms identical.
        note = value.replace("\r\n", "\n").replace("\r", "\n")
        return _check_plain(note, _("note"), multiline=True)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        return _check_country(value)

    @field_validator("participant_id")
    @classmethod
    def _pid(cls, value: ParticipantId) -> ParticipantId:
        return _check_participant(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return check_email(value)

    @field_validator("created_at")
    @classmethod
    def _created(cls, value: datetime | None) -> datetime | None:
        # A naive time means different instants on the sender's and the operator's machines.
        if value is not None and value.utcoffset() is None:
            raise ValueError(_("the creation time must carry a time zone (e.g. UTC)"))
        return value

    @field_validator("document_types")
    @classmethod
    def _docs(cls, value: tuple[DocumentTypeId, ...]) -> tuple[DocumentTypeId, ...]:
        if not value:
            raise ValueError(_("at least one document type is needed"))
        return tuple(dict.fromkeys(value))

    def with_status(self, status: RequestStatus) -> Any:
        """A copy in another status (the same submission: the id does not change)."""
        return self.model_copy(update={"status": RequestStatus(status)})

    def summary(self) -> Message:
        """One line for logs and lists: a :class:`~peppolnet.i18n.Message`, English as a
        string, Swedish with ``.render("sv")``."""
        return _(
            "Add {company} ({participant}) with {operator}",
            company=self.company_name,
            participant=self.participant_id.bare,
            operator=str(self.operator),
        )


class AddRecipientRequest(_RequestBase):
    """Register a company that is not yet in Peppol with an operator.

    Build it with :meth:`create` (which validates everything and derives the participant id).
    """

    kind: Literal[RequestKind.ADD] = RequestKind.ADD

    @classmethod
    def create(
        cls,
        *,
        company_name: str,
        organisation_number: str,
        operator: str | Operator | OperatorRef,
        email: str,
        country: str | None = None,
        participant_id: ParticipantId | str | None = None,
        document_types: Iterable[DocumentTypeId | str] | None = None,
        requester: Requester | dict[str, Any] | str | None = None,
        note: str | None = None,
        created_at: datetime | None = None,
        registry: OperatorRegistry | None = None,
        defaults: RequestDefaults | None = None,
        check_deliverability: bool = False,
        request_id: str | None = None,
    ) -> AddRecipientRequest:
        """Validate every field at once; raise :class:`InvalidRequest` listing all problems.

        The result is a new submission with a new ``request_id`` (pass ``request_id`` only to
        rebuild a submission you already have).
        """
        fields, problems = _common(
            company_name=company_name,
            organisation_number=organisation_number,
            operator=operator,
            email=email,
            country=country,
            participant_id=participant_id,
            document_types=document_types,
            requester=requester,
            note=note,
            registry=registry,
            defaults=defaults or RequestDefaults(),
            check_deliverability=check_deliverability,
        )
        if problems:
            raise InvalidRequest(problems)
        return _build(cls, {**fields, "created_at": created_at, **_id(request_id)})


class UpdateRecipientRequest(_RequestBase):
    """Move a company already in Peppol from its current operator to another one."""

    kind: Literal[RequestKind.UPDATE] = RequestKind.UPDATE
    current_operator: OperatorRef
    migration_key: str | None = None

    @field_validator("migration_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problems = check_migration_key(value)
        if problems:
            raise ValueError(_("the migration key {problems}", problems=joined(problems)))
        return value

    @classmethod
    def create(
        cls,
        *,
        company_name: str,
        organisation_number: str,
        operator: str | Operator | OperatorRef,
        current_operator: str | Operator | OperatorRef,
        email: str,
        migration_key: str | None = None,
        country: str | None = None,
        participant_id: ParticipantId | str | None = None,
        document_types: Iterable[DocumentTypeId | str] | None = None,
        requester: Requester | dict[str, Any] | str | None = None,
        note: str | None = None,
        created_at: datetime | None = None,
        registry: OperatorRegistry | None = None,
        defaults: RequestDefaults | None = None,
        check_deliverability: bool = False,
        request_id: str | None = None,
    ) -> UpdateRecipientRequest:
        """Validate every field at once; raise :class:`InvalidRequest` listing all problems.

        A new submission with a new ``request_id``, as for :meth:`AddRecipientRequest.create`.
        """
        fields, problems = _common(
            company_name=company_name,
            organisation_number=organisation_number,
            operator=operator,
            email=email,
            country=country,
            participant_id=participant_id,
            document_types=document_types,
            requester=requester,
            note=note,
            registry=registry,
            defaults=defaults or RequestDefaults(),
            check_deliverability=check_deliverability,
        )
        current = _resolve_operator("current_operator", current_operator, registry, problems)
        new = fields.get("operator")
        if current is not None and new is not None and current.seat_id == new.seat_id:
            problems.append(
                (
                    "current_operator",
                    _(
                        "is the same as the requested operator ({operator}); nothing to move",
                        operator=str(new),
                    ),
                )
            )
        if migration_key is not None:
            key = migration_key.strip()
            broken = check_migration_key(key)
            if broken:
                problems.append(("migration_key", joined(broken)))
            migration_key = key
        if problems:
            raise InvalidRequest(problems)
        return _build(
            cls,
            {
                **fields,
                "current_operator": current,
                "migration_key": migration_key,
                "created_at": created_at,
                **_id(request_id),
            },
        )

    def summary(self) -> Message:
        return _(
            "Move {company} ({participant}) to {operator} from {current}",
            company=self.company_name,
            participant=self.participant_id.bare,
            operator=str(self.operator),
            current=str(self.current_operator),
        )


RecipientRequest = AddRecipientRequest | UpdateRecipientRequest


# --- helpers -------------------------------------------------------------------------------------


_M = TypeVar("_M", bound=BaseModel)


def _id(request_id: str | None) -> dict[str, str]:
    """The ``request_id`` field when one is given; otherwise the model draws a new one."""
    return {} if request_id is None else {"request_id": request_id}


def _build(cls: type[_M], fields: dict[str, Any]) -> _M:
    try:
        return cls.model_validate(fields)
    except ValidationError as exc:
        raise InvalidRequest(_problems(exc)) from None


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "request"
        error = err.get("ctx", {}).get("error")
        kept = reason(error) if isinstance(error, BaseException) else None
        out.append((field, kept or str(err["msg"]).removeprefix("Value error, ")))
    return out


def request_from_dict(data: dict[str, Any]) -> AddRecipientRequest | UpdateRecipientRequest:
    """Rebuild a request from its JSON form; every structural problem becomes InvalidRequest.

    The document's ``request_id`` is kept (it names the submission); a document without one
    (or with ``null``) is a new submission and gets a new id.
    """
    if not isinstance(data, dict):
        raise InvalidRequest([("request", _("must be a JSON object"))])
    body = {k: v for k, v in data.items() if k != "version"}
    if body.get("request_id") is None:
        body.pop("request_id", None)
    kind = body.get("kind")
    cls: type[AddRecipientRequest] | type[UpdateRecipientRequest]
    if kind == RequestKind.ADD.value:
        cls = AddRecipientRequest
    elif kind == RequestKind.UPDATE.value:
        cls = UpdateRecipientRequest
    else:
        raise InvalidRequest([("kind", _("must be 'add' or 'update', not {kind!r}", kind=kind))])
    request: AddRecipientRequest | UpdateRecipientRequest = _build(cls, body)
    return request


def _resolve_operator(
    field: str,
    operator: str | Operator | OperatorRef,
    registry: OperatorRegistry | None,
    problems: list[tuple[str, str]],
) -> OperatorRef | None:
    if isinstance(operator, OperatorRef):
        return operator
    if isinstance(operator, Operator):
        return OperatorRef.of(operator)
    text = operator.strip() if isinstance(operator, str) else ""
    if not text:
        problems.append((field, _MISSING))
        return None
    if registry is not None:
        match = registry.find(text)
        if match.operator is not None:
            return OperatorRef.of(match.operator)
        problems.append((field, match.message))
        return None
    if is_seat_id(text.upper()):
        return OperatorRef(seat_id=text.upper())
    if re.fullmatch(r"[Pp][A-Za-z]{2}\d+", text):
        problems.append(
            (field, _("{value!r} is not a valid Seat ID (P + 2 letters + 6 digits)", value=text))
        )
    else:
        problems.append(
            (
                field,
                _(
                    "{value!r} is not a Seat ID; names and SPIDs need an operator registry",
                    value=text,
                ),
            )
        )
    return None


class _Collected:
    """The fields checked so far and every problem found: all are reported at once."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.problems: list[tuple[str, str]] = []

    def attempt(self, field: str, func: Any, *args: Any, **kwargs: Any) -> None:
        """``fields[field] = func(...)``, or the ValueError's sentence as ``field``'s problem."""
        try:
            self.fields[field] = func(*args, **kwargs)
        except ValueError as exc:  # InvalidIdentifier is a ValueError too
            self.problems.append((field, reason(exc)))


def _common(
    *,
    company_name: str,
    organisation_number: str,
    operator: str | Operator | OperatorRef,
    email: str,
    country: str | None,
    participant_id: ParticipantId | str | None,
    document_types: Iterable[DocumentTypeId | str] | None,
    requester: Requester | dict[str, Any] | str | None,
    note: str | None,
    registry: OperatorRegistry | None,
    defaults: RequestDefaults,
    check_deliverability: bool,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The fields an add and an update share, checked, and every problem with them."""
    out = _Collected()
    out.attempt("company_name", _check_name, company_name, _("company name"))
    out.attempt("country", _check_country, country if country is not None else defaults.country)
    _collect_number(out, organisation_number)
    _collect_participant(out, participant_id)
    resolved = _resolve_operator("operator", operator, registry, out.problems)
    if resolved is not None:
        out.fields["operator"] = resolved
    out.attempt("email", check_email, email, check_deliverability=check_deliverability)
    _collect_document_types(
        out, defaults.document_types if document_types is None else document_types
    )
    _collect_requester(out, requester if requester is not None else defaults.requester)
    _collect_note(out, note)
    return out.fields, out.problems


def _collect_number(out: _Collected, organisation_number: str) -> None:
    number = organisation_number.strip() if isinstance(organisation_number, str) else ""
    if not number:
        out.problems.append(("organisation_number", _MISSING))
    else:
        try:
            check_one_line(number, _("organisation number"))
        except ValueError as exc:
            out.problems.append(("organisation_number", reason(exc)))
            number = ""
    out.fields["organisation_number"] = number


def _collect_participant(out: _Collected, participant_id: ParticipantId | str | None) -> None:
    """The participant given, or the first one the organisation number suggests in the
    country (both checked before: they are in ``out.fields`` when they passed)."""
    if participant_id is not None:
        try:
            pid = (
                participant_id
                if isinstance(participant_id, ParticipantId)
                else ParticipantId.parse(participant_id)
            )
            out.fields["participant_id"] = _check_participant(pid)
        except ValueError as exc:
            out.problems.append(("participant_id", reason(exc)))
        return
    number = out.fields["organisation_number"]
    if number and "country" in out.fields:
        suggestions = suggest_participant_ids(number, out.fields["country"])
        if suggestions.candidates:
            out.fields["participant_id"] = suggestions.candidates[0]
        else:
            out.problems.append(
                ("organisation_number", suggestions.reason or _("not a valid number"))
            )


def _collect_document_types(
    out: _Collected, document_types: Iterable[DocumentTypeId | str]
) -> None:
    given: Sequence[DocumentTypeId | str] = list(document_types)
    docs: list[DocumentTypeId] = []
    for index, doc in enumerate(given):
        try:
            docs.append(doc if isinstance(doc, DocumentTypeId) else DocumentTypeId.parse(doc))
        except InvalidIdentifier as exc:
            out.problems.append((f"document_types[{index}]", reason(exc)))
    if not given:
        out.problems.append(("document_types", _("at least one document type is needed")))
    out.fields["document_types"] = tuple(dict.fromkeys(docs))


def _collect_requester(out: _Collected, who: Requester | dict[str, Any] | str | None) -> None:
    if isinstance(who, str):
        try:
            who = Requester.parse(who)
        except InvalidRequest as exc:
            out.problems.extend(exc.problems)
            who = None
    elif isinstance(who, dict):
        try:
            who = Requester.model_validate(who)
        except ValidationError as exc:
            out.problems.extend((f"requester.{f}", m) for f, m in _problems(exc))
            who = None
    out.fields["requester"] = who


def _collect_note(out: _Collected, note: str | None) -> None:
    clean_note = (
        note.replace("\r\n", "\n").replace("\r", "\n").strip() if isinstance(note, str) else None
    )
    if clean_note and len(clean_note) > MAX_NOTE:
        out.problems.append(("note", _("is longer than {limit} characters", limit=MAX_NOTE)))
    if clean_note:
        try:
            _check_plain(clean_note, _("note"), multiline=True)
        except ValueError as exc:
            out.problems.append(("note", reason(exc)))
    out.fields["note"] = clean_note or None
