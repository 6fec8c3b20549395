"""Requests as documents: JSON, XML, plain text and e-mail.

JSON and XML have the project's own schemas (``schemas/recipient-request.schema.json`` and
``schemas/recipient-request.xsd``) so that an operator's system can check what it receives
without peppolnet; both round-trip exactly (``from_json(to_json(r)) == r``). Reading is strict:
a document is rebuilt through the same validation as :meth:`AddRecipientRequest.create`, so an
edited document cannot smuggle in a bad e-mail address or a request id that does not match.

The plain-text form is for support desks that take mail: every field on its own labelled line,
in the order a person fills in an onboarding form.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Final

from lxml import etree

from peppolnet.errors import InvalidInput, InvalidRequest, PeppolnetError
from peppolnet.i18n import Message, _, render
from peppolnet.recipients.request import (
    AddRecipientRequest,
    RequestKind,
    UpdateRecipientRequest,
    check_one_line,
    reason,
    request_from_dict,
)
from peppolnet.xmlsafe import parse_xml

__all__ = [
    "FORMAT_VERSION",
    "XML_NAMESPACE",
    "from_json",
    "from_xml",
    "render_email",
    "render_text",
    "set_header",
    "to_dict",
    "to_json",
    "to_xml",
]

FORMAT_VERSION: Final = 1
XML_NAMESPACE: Final = "urn:peppolnet:recipient-request:1"
MAX_DOCUMENT_BYTES: Final = 256_000
_NS: Final = f"{{{XML_NAMESPACE}}}"

Request = AddRecipientRequest | UpdateRecipientRequest


def to_dict(request: Request) -> dict[str, Any]:
    """The JSON object (``version`` and ``request_id`` first, then the fields)."""
    return {
        "version": FORMAT_VERSION,
        "request_id": request.request_id,
        **request.model_dump(mode="json"),
    }


def to_json(request: Request, *, indent: int | None = 2) -> str:
    """JSON text valid against ``schemas/recipient-request.schema.json``."""
    return json.dumps(to_dict(request), ensure_ascii=False, indent=indent)


def from_json(data: str | bytes | dict[str, Any]) -> Request:
    """Read a request from JSON text (or an already-decoded object)."""
    if isinstance(data, bytes | str):
        if len(data) > MAX_DOCUMENT_BYTES:
            raise InvalidRequest([("request", f"the document is larger than {MAX_DOCUMENT_BYTES}")])
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidRequest([("request", f"not valid JSON: {exc}")]) from None
        except RecursionError:  # "[[[[..." nested deeper than the interpreter's stack
            raise InvalidRequest([("request", "the JSON is nested too deeply")]) from None
    if not isinstance(data, dict):
        raise InvalidRequest([("request", "must be a JSON object")])
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise InvalidRequest([("version", f"unsupported format version {version!r}")])
    return request_from_dict(data)


# --- XML ----------------------------------------------------------------------------------------


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _NS + name)
    if text is not None:
        element.text = text
    return element


def _operator(parent: etree._Element, name: str, seat_id: str, display: str | None) -> None:
    element = _sub(parent, name)
    element.set("seatId", seat_id)
    if display:
        _sub(element, "Name", display)


def to_xml(request: Request) -> bytes:
    """UTF-8 XML valid against ``schemas/recipient-request.xsd``."""
    root = etree.Element(_NS + "RecipientRequest", nsmap={None: XML_NAMESPACE})  # type: ignore[dict-item]
    root.set("version", str(FORMAT_VERSION))
    root.set("requestId", request.request_id)
    root.set("kind", request.kind.value)
    root.set("status", request.status.value)
    _sub(root, "CompanyName", request.company_name)
    _sub(root, "OrganisationNumber", request.organisation_number)
    _sub(root, "Country", request.country)
    _sub(root, "ParticipantId", request.participant_id.uri)
    _operator(root, "Operator", request.operator.seat_id, request.operator.name)
    _sub(root, "Email", request.email)
    docs = _sub(root, "DocumentTypes")
    for doc in request.document_types:
        _sub(docs, "DocumentType", doc.uri)
    if request.requester is not None:
        who = _sub(root, "Requester")
        _sub(who, "Name", request.requester.name)
        _sub(who, "Email", request.requester.email)
        if request.requester.organisation:
            _sub(who, "Organisation", request.requester.organisation)
    if request.note:
        _sub(root, "Note", request.note)
    if request.created_at is not None:
        _sub(root, "CreatedAt", request.created_at.isoformat())
    if isinstance(request, UpdateRecipientRequest):
        current = request.current_operator
        _operator(root, "CurrentOperator", current.seat_id, current.name)
        if request.migration_key:
            _sub(root, "MigrationKey", request.migration_key)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _text(root: etree._Element, path: str) -> str | None:
    found = root.find(_path(path))
    return None if found is None else (found.text or "")


def _path(path: str) -> str:
    return "/".join(_NS + part for part in path.split("/"))


def _operator_dict(root: etree._Element, name: str) -> dict[str, Any] | None:
    element = root.find(_path(name))
    if element is None:
        return None
    return {"seat_id": element.get("seatId", ""), "name": _text(element, "Name")}


def _version(text: str | None) -> int | str | None:
    return int(text) if text is not None and text.isdigit() else text


def from_xml(data: bytes) -> Request:
    """Read a request from XML (safe parser: no DTD, no entities, size and depth limits)."""
    try:
        root = parse_xml(data, max_bytes=MAX_DOCUMENT_BYTES, max_depth=8)
    except PeppolnetError as exc:
        raise InvalidRequest([("request", f"not usable XML: {exc}")]) from None
    if root.tag != _NS + "RecipientRequest":
        raise InvalidRequest(
            [("request", f"the root element must be {{{XML_NAMESPACE}}}RecipientRequest")]
        )
    docs = [d.text or "" for d in root.iterfind(_path("DocumentTypes/DocumentType"))]
    fields: dict[str, Any] = {
        "version": _version(root.get("version")),
        "request_id": root.get("requestId"),
        "kind": root.get("kind"),
        "status": root.get("status"),
        "company_name": _text(root, "CompanyName"),
        "organisation_number": _text(root, "OrganisationNumber"),
        "country": _text(root, "Country"),
        "participant_id": _text(root, "ParticipantId"),
        "operator": _operator_dict(root, "Operator"),
        "email": _text(root, "Email"),
        "document_types": docs,
        "note": _text(root, "Note"),
        "created_at": _text(root, "CreatedAt"),
    }
    who = root.find(_path("Requester"))
    fields["requester"] = (
        None
        if who is None
        else {
            "name": _text(who, "Name"),
            "email": _text(who, "Email"),
            "organisation": _text(who, "Organisation"),
        }
    )
    if fields["kind"] == RequestKind.UPDATE.value:
        fields["current_operator"] = _operator_dict(root, "CurrentOperator")
        fields["migration_key"] = _text(root, "MigrationKey")
    fields = {k: v for k, v in fields.items() if v is not None or k in {"request_id"}}
    return from_json(fields)


# --- text and e-mail -----------------------------------------------------------------------------


def render_text(request: Request, *, language: str | None = None) -> str:
    """A plain-text rendering for support desks that take mail (labelled lines, then notes),
    in ``language`` (``"sv"`` or ``"en"``, the default); values are shown as they are."""

    def say(message: Message) -> str:
        return render(message, language)

    title = say(
        _("Request: add a recipient to Peppol")
        if request.kind is RequestKind.ADD
        else _("Request: move a recipient to another Peppol operator")
    )
    number = f"{request.organisation_number} ({request.country})"
    fields: list[tuple[Message, str]] = [
        (_("Company name:"), request.company_name),
        (_("Organisation number:"), number),
        (_("Peppol participant:"), request.participant_id.bare),
        (_("Operator:"), str(request.operator)),
    ]
    if isinstance(request, UpdateRecipientRequest):
        key = request.migration_key or say(_("(to be issued by it)"))
        fields += [(_("Current operator:"), str(request.current_operator))]
        fields += [(_("Migration key:"), key)]
    fields.append((_("Recipient e-mail:"), request.email))
    if request.requester is not None:
        who = request.requester
        org = f", {who.organisation}" if who.organisation else ""
        fields.append((_("Requested by:"), f"{who.name}{org} <{who.email}>"))
    labels = [say(label) for label, _value in fields]
    width = max(map(len, labels)) + 2
    lines = [title, "=" * len(title), ""]
    lines += [
        f"{label:<{width}}{value}" for label, (_label, value) in zip(labels, fields, strict=True)
    ]
    lines.append(say(_("Document types:")))
    lines.extend(f"  - {doc.uri}" for doc in request.document_types)
    if request.note:
        lines += ["", say(_("Note:")), request.note]
    lines += ["", say(_("Request id: {id}", id=request.request_id)), ""]
    return "\n".join(lines)


def set_header(message: EmailMessage, name: str, value: str) -> None:
    """Set one header of a mail we build, refusing a value that would add headers of its own.

    Every header value of a request or confirmation mail passes here. A line break (CR, LF or
    any other character a line may end at) in a value is header injection: a "name" that ends
    in ``\r\nBcc: someone`` adds a recipient. Validated requests cannot carry one, but the
    renderer does not rely on that (the addresses come from the caller, a request may be
    built without validation): it raises :class:`~peppolnet.errors.InvalidInput` naming the
    header, where :mod:`email` would raise a bare ``ValueError`` or, in older Pythons, fold
    the value into a new header.
    """
    try:
        check_one_line(value, _("{header} header of the mail", header=name))
    except ValueError as exc:
        raise InvalidInput(
            _(
                "{problem}: {value!r} cannot be put into a mail header",
                problem=reason(exc),
                value=value,
            )
        ) from None
    message[name] = value


def render_email(
    request: Request,
    *,
    to: str,
    sender: str,
    now: datetime | None = None,
    attach_json: bool = True,
    idempotency_key: str | None = None,
    language: str | None = None,
) -> EmailMessage:
    """An e-mail to an operator's onboarding desk: the text body plus the JSON as attachment.

    The ``Message-ID`` is derived from the send's idempotency key (the request id when none is
    given) and the key is repeated in ``X-Peppolnet-Idempotency-Key``, so a desk (or its mail
    system) sees a retried send as the same message rather than a new case, while a new
    submission is a new message. Replies go to the requester. A header value with a line
    break is refused (:func:`set_header`), whatever it came from. The subject and the text are
    in ``language`` (``"sv"`` or ``"en"``, the default); the JSON attachment is the same in both.
    """
    key = idempotency_key or request.request_id
    message = EmailMessage()
    values = {"company": request.company_name, "participant": request.participant_id.bare}
    subject = (
        _("Add recipient: {company} ({participant})", **values)
        if request.kind is RequestKind.ADD
        else _("Move recipient: {company} ({participant})", **values)
    )
    set_header(message, "Subject", render(subject, language))
    set_header(message, "From", sender)
    set_header(message, "To", to)
    if request.requester is not None:
        set_header(message, "Reply-To", request.requester.email)
    message["Date"] = formatdate(now.timestamp() if now else None, localtime=False, usegmt=True)
    set_header(message, "Message-ID", f"<{key}@peppolnet.request>")
    set_header(message, "X-Peppolnet-Request-Id", request.request_id)
    set_header(message, "X-Peppolnet-Idempotency-Key", key)
    message.set_content(render_text(request, language=language))
    if attach_json:
        message.add_attachment(
            to_json(request).encode("utf-8"),
            maintype="application",
            subtype="json",
            filename=f"recipient-request-{request.request_id}.json",
        )
    return message
