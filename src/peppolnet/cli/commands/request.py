"""``peppolnet request add|update|drafts|list|show|send|cancel|follow-up``: ask operators for
customers.

``add`` and ``update`` validate everything at once, look the customer up to decide what to send
(an add that is really a move becomes an update, and the other way round), save the request as a
draft in the recipient database and, with ``--send CHANNEL``, hand it over (``http``: an operator
desk, ``outbox``: a folder, ``smtp``: e-mail). ``drafts`` turns the operator changes the local
customer directory saw into update-request drafts. ``send ID --via CHANNEL`` sends a stored draft
(no retyping), ``cancel ID`` withdraws a draft or a sent request. Every request is a submission
of its own: a corrected request after a rejection, or a move back to an operator the customer
left, is a new request with a new id, and ``list``/``show`` keep every one. ``follow-up`` looks
every sent request up again and marks it confirmed, rejected or expired; ``--notify-smtp`` mails
the requester on confirmation.

A mail server that wants a login gets it as ``peppolnet serve``'s does: ``--smtp-username`` or
the ``[smtp]`` table of ``--config FILE`` (the same settings file, that table read by
:mod:`peppolnet.recipients.mailserver` without the web package), the password only from
``PEPPOLNET_SMTP_PASSWORD``; the options win over the file. ``follow-up``'s confirmation mail
takes the same options and file (:mod:`peppolnet.cli._mailserver`); its older ``--notify-smtp``,
``--notify-from`` and ``--notify-security`` are aliases that the ``--smtp`` spellings win over.

Exit codes: 0 done, 1 invalid request (with ``--json``: ``{"valid": false, "problems": [...]}``),
an unknown id, or a request that cannot be sent or cancelled in its state (closed, or another
open request already asks the same), 2 a usage error (also a line break in --smtp-to,
--smtp-from or --notify-from, or a mail option of follow-up without a mail server), 3 a fault
(desk or mail server unreachable: try again, the same send is recognised; another process is
sending the request right now; the database is damaged).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from peppolnet.cli._language import language, say
from peppolnet.cli._output import (
    UsageError,
    add_db_argument,
    echo,
    refused,
    safe_lines,
    safe_text,
)
from peppolnet.errors import InvalidInput, InvalidRequest
from peppolnet.i18n import Message, _

if TYPE_CHECKING:
    from peppolnet.recipients.channels import Channel, SmtpChannel
    from peppolnet.recipients.plan import RequestPlan
    from peppolnet.recipients.tracking import RequestTracker, TrackedRequest

__all__ = ["add_channel_options", "channel_from_arguments", "register"]

CHANNELS = ("http", "outbox", "smtp")

_DESCRIPTION = _(
    "Ask operators to register customers (add) or to take them over (update), and keep track "
    "of every request.\n\n"
    "add and update validate everything at once, look the customer up to decide what to send "
    "(an add that is really a move becomes an update, and the other way round), save the "
    "request as a draft in the recipient database and, with --send CHANNEL, hand it over "
    "(http: an operator desk, outbox: a folder, smtp: e-mail). drafts turns the operator "
    "changes the local customer directory saw into update-request drafts. send ID --via "
    "CHANNEL sends a stored draft, cancel ID withdraws a draft or a sent request. Every "
    "request is a case of its own: a corrected request after a rejection is a new request "
    "with a new id, and list and show keep every one. follow-up looks every sent request up "
    "again and marks it confirmed, rejected or expired; with a mail server (--smtp, or the "
    "[smtp] table of --config FILE) it mails the requester on confirmation.\n\n"
    "Exit codes: 0 done, 1 an invalid request, an unknown id, or a request that cannot be sent "
    "or cancelled in its state, 2 a usage error, 3 a fault (the desk or mail server could not "
    "be reached: try again, the same send is recognised; the database is damaged)."
)


def register(subparsers: Any) -> None:
    """Add the ``request`` command and its sub-commands."""
    parser = subparsers.add_parser(
        "request",
        help=_("add/update-recipient requests (add, update, list, show, send, cancel, follow-up)"),
        description=_DESCRIPTION,
    )
    sub = parser.add_subparsers(dest="request_command", metavar="SUBCOMMAND")
    _register_new(sub)
    _register_stored(sub)
    _register_send(sub)
    _register_cancel(sub)
    _register_drafts(sub)
    _register_follow_up(sub)
    parser.set_defaults(handler=lambda args: _usage(parser))


def _db_options(p: argparse.ArgumentParser) -> None:
    add_db_argument(p)
    p.add_argument("--json", action="store_true", help=_("print JSON"))


def add_channel_options(p: argparse.ArgumentParser) -> None:
    """The options that describe the channels (also ``peppolnet serve``'s)."""
    from peppolnet.cli._mailserver import add_mailserver_options, mailbox

    group = p.add_argument_group(_("channel options"))
    group.add_argument("--desk-url", help=_("the operator desk (http; default: the sandbox's)"))
    group.add_argument("--outbox", metavar="DIR", help=_("the folder (outbox)"))
    add_mailserver_options(group)
    group.add_argument(
        "--smtp-to", type=mailbox, help=_("the operator's onboarding address (smtp)")
    )


def _new_parser(sub: Any, name: str, help_text: Message) -> argparse.ArgumentParser:
    """``add`` or ``update``: the fields of a request, what to do with it, and where."""
    from peppolnet.cli._mailserver import add_config_option
    from peppolnet.cli._network import add_network_arguments
    from peppolnet.cli.commands.lookup import add_dnssec_argument
    from peppolnet.cli.commands.operators import add_registry_arguments

    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    p.add_argument("--name", required=True, help=_("the company name"))
    p.add_argument("--org-number", required=True, help=_("the organisation number"))
    p.add_argument(
        "--country", help=_("how to read the number: a country (default SE, or Sverige)")
    )
    p.add_argument("--operator", required=True, help=_("Seat ID, SPID or name of the operator"))
    p.add_argument("--email", required=True, help=_("the customer's e-mail for confirmations"))
    p.add_argument(
        "--doctype", action="append", metavar="ID",
        help=_("a document type id (repeatable; default: BIS Billing invoice and credit note)"),
    )  # fmt: skip
    p.add_argument("--requester", metavar="'NAME <EMAIL>'", help=_("who asks (gets the mail)"))
    p.add_argument("--note", help=_("a note for the operator"))
    p.add_argument("--no-check", action="store_true", help=_("do not look the customer up"))
    p.add_argument(
        "--send", metavar="CHANNEL", choices=CHANNELS,
        help=_("send it now: http (operator desk), outbox (folder) or smtp"),
    )  # fmt: skip
    add_channel_options(p)
    add_config_option(p)
    _db_options(p)
    add_registry_arguments(p)
    add_dnssec_argument(p)  # for the lookup that plans the request
    add_network_arguments(p)  # not auto: a request is for one network's operator
    return p


def _register_new(sub: Any) -> None:
    add = _new_parser(sub, "add", _("ask an operator to register a customer that is not in Peppol"))
    add.set_defaults(handler=_add)
    update = _new_parser(
        sub, "update", _("ask an operator to take over a customer from another operator")
    )
    update.add_argument(
        "--from-operator", required=True, help=_("the operator that has the customer now")
    )
    keys = update.add_mutually_exclusive_group()
    keys.add_argument("--migration-key", help=_("the key the current operator issued"))
    keys.add_argument(
        "--new-migration-key", action="store_true", help=_("generate a valid migration key")
    )
    update.set_defaults(handler=_update)


def _register_stored(sub: Any) -> None:
    """``list`` and ``show``: the requests in the database."""
    listing = sub.add_parser("list", help=_("the stored requests (every submission)"))
    listing.add_argument(
        "--status", type=_status, help=_("draft, sent, confirmed, rejected, expired or cancelled")
    )
    listing.add_argument(
        "--participant", metavar="ID", type=_participant,
        help=_("only this customer's requests (e.g. 0007:5567321707)"),
    )  # fmt: skip
    _db_options(listing)
    listing.set_defaults(handler=_list)

    show = sub.add_parser("show", help=_("one request, its history and the customer's other ones"))
    show.add_argument("id", help=_("the request id (or its first 8+ characters)"))
    _db_options(show)
    show.set_defaults(handler=_show)


def _register_send(sub: Any) -> None:
    from peppolnet.cli._mailserver import add_config_option
    from peppolnet.cli._network import add_network_arguments

    send = sub.add_parser(
        "send",
        help=_("send stored drafts (no retyping)"),
        description=_(
            "Send stored requests through a channel. A request already sent is not "
            "sent again (its receipt is shown); a send that failed is retried with the same "
            "idempotency key, so an operator that got it after all does not open a second case."
        ),
    )
    send.add_argument("ids", nargs="+", metavar="ID", help=_("request ids (or 8+ characters)"))
    send.add_argument(
        "--via", required=True, metavar="CHANNEL", choices=CHANNELS,
        help=_("http (operator desk), outbox (folder) or smtp"),
    )  # fmt: skip
    add_channel_options(send)
    add_config_option(send)
    _db_options(send)
    add_network_arguments(send)
    send.set_defaults(handler=_send)


def _register_cancel(sub: Any) -> None:
    cancel = sub.add_parser(
        "cancel",
        help=_("withdraw a draft or a sent request"),
        description=_(
            "Close a draft or a sent request as cancelled: it is not sent or followed "
            "up any more, and a new request for the customer may be made. An operator that "
            "already has the case is not told: tell them if it should be closed there too."
        ),
    )
    cancel.add_argument("id", help=_("the request id (or its first 8+ characters)"))
    cancel.add_argument("--reason", help=_("why (kept in the history)"))
    _db_options(cancel)
    cancel.set_defaults(handler=_cancel)


def _register_drafts(sub: Any) -> None:
    from peppolnet.cli._network import add_network_arguments
    from peppolnet.cli.commands.operators import add_registry_arguments

    drafts = sub.add_parser(
        "drafts",
        help=_("draft update requests for customers that changed operator"),
        description=_(
            "Draft an update request for every customer of the local directory "
            "(peppolnet customers refresh) that the network now shows with another operator: "
            "by default back to the operator it was with before. Drafts are stored; send them "
            "with your usual channel after review."
        ),
    )
    drafts.add_argument("--since", metavar="ISO-TIME", help=_("only changes seen at or after this"))
    drafts.add_argument(
        "--operator", help=_("move them to this operator instead (Seat ID, SPID or name)")
    )
    drafts.add_argument("--email", help=_("confirmation e-mail for customers without one"))
    drafts.add_argument("--dry-run", action="store_true", help=_("show the drafts, store nothing"))
    _db_options(drafts)
    add_registry_arguments(drafts)
    add_network_arguments(drafts)
    drafts.set_defaults(handler=_drafts)


def _register_follow_up(sub: Any) -> None:
    from peppolnet.cli._mailserver import (
        add_config_option,
        add_mailserver_options,
        add_notify_aliases,
    )
    from peppolnet.cli._network import add_network_arguments
    from peppolnet.cli.commands.lookup import add_dnssec_argument

    follow = sub.add_parser("follow-up", help=_("look sent requests up again; confirm or expire"))
    follow.add_argument(
        "--expire-after", metavar="DURATION", help=_("e.g. 14d: give up after this long")
    )
    # the confirmation mail's server: the same options and settings file as --send smtp
    mail = follow.add_argument_group(_("confirmation mail"))
    add_mailserver_options(mail)
    add_notify_aliases(mail)
    add_config_option(mail)
    _db_options(follow)
    add_dnssec_argument(follow)
    # not auto: the test network showing a customer must not confirm a production request
    add_network_arguments(follow)
    follow.set_defaults(handler=_follow_up)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _status(text: str) -> str:
    """An argparse type: a request status (a malformed filter is a usage error, exit 2)."""
    from peppolnet.recipients import RequestStatus

    try:
        return RequestStatus(text.strip().lower()).value
    except ValueError:
        known = ", ".join(s.value for s in RequestStatus)
        raise refused(
            _("unknown status {text!r}; use one of {known}", text=text, known=known)
        ) from None


def _participant(text: str) -> str:
    """An argparse type: a participant id (a malformed filter is a usage error, exit 2)."""
    from peppolnet.errors import InvalidIdentifier
    from peppolnet.identifiers import ParticipantId

    try:
        return ParticipantId.parse(text).uri
    except InvalidIdentifier as exc:
        raise argparse.ArgumentTypeError(say(exc)) from None


def _tracker(args: argparse.Namespace) -> RequestTracker:
    from peppolnet.recipients.tracking import RequestTracker

    return RequestTracker(args.db)


# --- add / update ----------------------------------------------------------------------------


def _build(args: argparse.Namespace, update: bool) -> Any:
    from peppolnet.cli.commands.operators import load_registry, save_registry
    from peppolnet.recipients import AddRecipientRequest, UpdateRecipientRequest
    from peppolnet.recipients.migration import generate_migration_key

    registry, path, changed = load_registry(
        args.operators_file, network=args.network, state_file=args.state_file
    )
    if changed:
        save_registry(registry, path)
    common: dict[str, Any] = {
        "company_name": args.name,
        "organisation_number": args.org_number,
        "operator": _operator(args.operator, registry),
        "email": args.email,
        "country": args.country,
        "document_types": args.doctype,
        # Parsed strictly by the library: one mailbox on one line, every problem reported.
        "requester": args.requester,
        "note": args.note,
        "registry": registry,
    }
    if not update:
        return AddRecipientRequest.create(**common)
    key = generate_migration_key() if args.new_migration_key else args.migration_key
    return UpdateRecipientRequest.create(
        **common, current_operator=_operator(args.from_operator, registry), migration_key=key
    )


def _operator(text: str, registry: Any) -> Any:
    """A well-formed Seat ID the registry does not know yet is still an operator (as itself)."""
    from peppolnet.operators import is_seat_id
    from peppolnet.recipients import OperatorRef

    seat = text.strip().upper()
    if is_seat_id(seat) and registry.by_seat_id(seat) is None:
        return OperatorRef(seat_id=seat)
    return text


def channel_from_arguments(args: argparse.Namespace, kind: str, flag: str = "--send") -> Channel:
    """The channel of ``kind`` the options describe (``flag`` names what chose ``kind``).

    ``args`` needs the options of :func:`add_channel_options` and ``network``/``state_file``
    (an ``http`` channel without ``--desk-url`` is the sandbox's desk)."""
    from peppolnet.recipients.channels import HttpChannel, OutboxChannel

    if kind == "http":
        url = args.desk_url
        if not url:
            if str(args.network).lower() != "sandbox":
                raise UsageError(
                    _("{flag} http needs --desk-url (or --network sandbox)", flag=flag)
                )
            from peppolnet.cli._network import read_sandbox_state

            url = read_sandbox_state(args.state_file).get("desk_url")
            if not isinstance(url, str):
                raise UsageError(_("the running sandbox has no operator desk; restart it"))
        return HttpChannel(url)
    if kind == "outbox":
        if not args.outbox:
            raise UsageError(_("{flag} outbox needs --outbox DIR", flag=flag))
        return OutboxChannel(args.outbox, language=language())
    return _smtp_channel(args, flag)


def _smtp_channel(args: argparse.Namespace, flag: str) -> SmtpChannel:
    """The mail channel: ``--config``'s ``[smtp]`` with the options over it, the login's
    password from the environment (:func:`peppolnet.cli._mailserver.smtp_from_arguments`)."""
    from peppolnet.cli._mailserver import smtp_from_arguments
    from peppolnet.recipients.mailserver import load_smtp

    try:
        smtp = smtp_from_arguments(args, load_smtp(getattr(args, "config", None)))
        if smtp.host is None or smtp.to is None or smtp.sender is None:
            raise UsageError(
                _(
                    "{flag} smtp needs --smtp HOST:PORT, --smtp-to and --smtp-from (or host, "
                    "to and from in the [smtp] table of --config FILE)",
                    flag=flag,
                )
            )
        return smtp.channel(language())
    except InvalidInput as exc:  # the file, or its CA file: what was given is wrong
        raise UsageError(exc.message) from exc


def _plan(args: argparse.Namespace, request: Any) -> RequestPlan | None:
    if args.no_check:
        return None
    from peppolnet.cli._network import network_from_arguments
    from peppolnet.lookup import Lookup
    from peppolnet.recipients.plan import check_request

    with Lookup(network_from_arguments(args), timeout=5.0, dnssec=args.dnssec) as lookup:
        return check_request(request, lookup)


def _close(channel: Channel) -> None:
    close = getattr(channel, "close", None)
    if callable(close):
        close()


def _add(args: argparse.Namespace) -> int:
    return _new(args, update=False)


def _update(args: argparse.Namespace) -> int:
    return _new(args, update=True)


def _new(args: argparse.Namespace, *, update: bool) -> int:
    from peppolnet.cli._output import print_json
    from peppolnet.errors import PeppolnetError
    from peppolnet.recipients.render import render_text, to_dict

    if args.no_check and args.dnssec:
        # --dnssec asks for the check to be validated and --no-check for no check at all: run
        # either way, one of them would be silently ignored - and a request saved "checked
        # with DNSSEC" that nobody checked is the worse surprise
        raise UsageError(
            _(
                "--dnssec validates the network check that --no-check skips: give one of them, "
                "not both"
            )
        )
    try:
        request = _build(args, update)
    except InvalidRequest as exc:
        if args.json:
            problems = [{"field": f, "message": m} for f, m in exc.problems]
            print_json({"valid": False, "problems": problems})
        else:
            echo(_("The request is not valid:"), file=sys.stderr)
            for field, message in exc.problems:
                print(f"  {safe_text(field)}: {safe_text(message)}", file=sys.stderr)
        return 1
    # usage problems stop it here
    channel = channel_from_arguments(args, args.send) if args.send else None
    tracked = receipt = failure = None
    try:
        plan = _plan(args, request)
        to_send = request if plan is None else plan.request
        if to_send is not None:
            with _tracker(args) as tracker:
                tracked = tracker.save(to_send, plan)
                if channel is not None:
                    try:
                        receipt = tracker.send(to_send.request_id, channel)
                    except PeppolnetError as exc:  # saved as a draft: say how to send it later
                        failure = exc
                    tracked = tracker.get(to_send.request_id)
    finally:
        if channel is not None:
            _close(channel)
    if args.json:
        print_json(
            {
                "valid": True,
                "request": to_dict(to_send or request),
                "plan": plan.to_json() if plan is not None else None,
                "status": tracked.status.value if tracked else None,
                "receipt": receipt.to_json() if receipt else None,
                "error": str(failure) if failure else None,
            }
        )
    else:  # the plan quotes the lookup (operator names, reasons), the receipt the desk
        lang = language()
        print(safe_lines(render_text(to_send or request, language=lang).rstrip()))
        print()
        if plan is not None:
            print(safe_lines(plan.text(lang)))
        else:
            echo(_("Network not checked (--no-check)."))
        if tracked is not None:
            print()
            _saved(tracked, receipt)
    if failure is None or tracked is None:
        return 0
    kept = _(
        "sending failed: {problem}; the request is kept as a draft: send it with "
        "`peppolnet request send {id} --via {channel} ...`",
        problem=failure,
        id=tracked.request_id[:8],
        channel=args.send,
    )
    echo(f"peppolnet: error: {safe_text(kept)}", file=sys.stderr)
    return 3 if failure.retryable else 1


def _saved(tracked: TrackedRequest, receipt: Any) -> None:
    """The line that says where a new request is: stored, and sent through which channel."""
    status = tracked.status.value
    if receipt is None:
        echo(_("Saved as {id} [{status}]", id=tracked.request_id, status=status))
        return
    echo(
        _(
            "Saved as {id} [{status}], sent via {channel} ({reference})",
            id=tracked.request_id,
            status=status,
            channel=receipt.channel,
            reference=receipt.reference,
        )
    )


# --- list / show / follow-up -----------------------------------------------------------------


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _row(t: TrackedRequest) -> list[str]:
    r = t.request
    return [
        t.request_id[:8],
        t.status.value,
        r.kind.value,
        r.participant_id.bare,
        r.company_name,
        r.operator.seat_id,
        _when(t.updated_at),
    ]


_HEADERS = [
    "ID",
    _("STATUS"),
    _("KIND"),
    _("PARTICIPANT"),
    _("COMPANY"),
    _("OPERATOR"),
    _("UPDATED"),
]


def _list(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json, table

    with _tracker(args) as tracker:
        found = tracker.list(args.status, participant=args.participant)
    if args.json:
        print_json([t.to_json() for t in found])
        return 0
    if not found:
        echo(_("no requests"))
        return 0
    print(table([_row(t) for t in found], _HEADERS))
    return 0


def _show(args: argparse.Namespace) -> int:
    from peppolnet.bulk.summary import verdict_text
    from peppolnet.cli._output import fail, print_json, table
    from peppolnet.recipients.render import render_text

    with _tracker(args) as tracker:
        tracked = tracker.get(args.id)
        if tracked is None:
            return fail(_("no request with id {id!r}", id=args.id))
        history = tracker.history(tracked.request_id)
        others = [
            t
            for t in tracker.list(participant=tracked.request.participant_id)
            if t.request_id != tracked.request_id
        ]
    if args.json:
        print_json(
            {
                **tracked.to_json(),
                "history": [e.to_json() for e in history],
                "other_requests": [_brief(t) for t in others],
            }
        )
        return 0
    print(f"{tracked.request_id} [{tracked.status.value}]")
    if tracked.reason:  # reasons, receipts and details quote lookups, desks and mail servers
        echo(_("Reason: {reason}", reason=tracked.reason))
    if tracked.claimed_by is not None:
        claimed = _(
            "Being sent by {process} since {since} UTC; if that process was stopped, the next "
            "send takes over after {expires} UTC (with the same idempotency key)",
            process=tracked.claimed_by,
            since=_when(tracked.claimed_at),
            expires=_when(tracked.claim_expires_at),
        )
        echo(claimed)
    if tracked.receipt is not None:
        sent = _(
            "Sent via {channel}: {reference} (idempotency key {key})",
            channel=tracked.receipt.channel,
            reference=tracked.receipt.reference,
            key=tracked.idempotency_key,
        )
        echo(sent)
    print(safe_lines(render_text(tracked.request, language=language()).rstrip()))
    if tracked.checks:
        print()
        echo(_("Last checked {when}:", when=_when(tracked.checked_at)))
        for check in tracked.checks:
            verdict = verdict_text(check.verdict.value, language())
            if check.operator:
                verdict = say(_("{verdict} through {operator}", verdict=verdict,
                                operator=str(check.operator)))  # fmt: skip
            print(f"  - {check.document_type.value}: {safe_text(verdict)}")
    print()
    echo(_("History:"))
    for event in history:
        detail = f"  {safe_text(event.detail)}" if event.detail else ""
        print(f"  {_when(event.at)}  {event.event:<13} {event.status.value:<9}{detail}")
    if others:
        print()
        echo(_("Other requests for this customer (each is a case of its own):"))
        print(table([_row(t) for t in others], _HEADERS))
    return 0


def _brief(t: TrackedRequest) -> dict[str, Any]:
    """A request in a list inside another document: who, what, where it stands."""
    return {
        "request_id": t.request_id,
        "status": t.status.value,
        "summary": t.request.summary(),
        "reason": t.reason,
        "updated_at": t.updated_at.isoformat(),
    }


def _send(args: argparse.Namespace) -> int:
    """Send stored requests; one line (or JSON object) per id, the worst outcome is the code."""
    from peppolnet.cli._output import print_json
    from peppolnet.errors import PeppolnetError

    channel = channel_from_arguments(args, args.via, "--via")
    results: list[dict[str, Any]] = []
    errors: dict[str, PeppolnetError] = {}  # the errors themselves, shown in the language
    code = 0
    try:
        with _tracker(args) as tracker:
            for given in args.ids:
                try:
                    before = tracker.get(given)
                    receipt = tracker.send(given, channel)
                except PeppolnetError as exc:
                    code = max(code, 3 if exc.retryable else 1)
                    errors[given] = exc
                    results.append({"id": given, "error": str(exc), "retryable": exc.retryable})
                    continue
                again = before is not None and before.status.value in ("sent", "confirmed")
                results.append(
                    {
                        "id": given,
                        "request_id": receipt.request_id,
                        "already_sent": again,
                        "receipt": receipt.to_json(),
                    }
                )
    finally:
        _close(channel)
    if args.json:
        print_json(results)
        return code
    for result in results:
        if "error" in result:
            problem = safe_text(f"{result['id']}: {say(errors[result['id']])}")
            print(f"peppolnet: error: {problem}", file=sys.stderr)
            continue
        receipt = result["receipt"]  # its reference is the desk's or mail server's answer
        values = {
            "id": result["request_id"],
            "channel": receipt["channel"],
            "reference": receipt["reference"],
        }
        if result["already_sent"]:
            echo(_("{id} already sent via {channel}: {reference}", **values))
        else:
            echo(_("{id} sent via {channel}: {reference}", **values))
    return code


def _cancel(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json

    with _tracker(args) as tracker:
        tracked = tracker.cancel(args.id, args.reason)
    if args.json:
        print_json(tracked.to_json())
        return 0
    print(f"{tracked.request_id} [cancelled]: {safe_text(tracked.reason)}")
    if tracked.sent_at is not None:
        told = _(
            "It was sent via {channel} ({reference}); the operator was not told - ask them to "
            "close their case if they should not act on it.",
            channel=tracked.channel,
            reference=tracked.reference,
        )
        echo(told)
    return 0


def _drafts(args: argparse.Namespace) -> int:
    import json

    from peppolnet.cli._output import print_json, since_time, table
    from peppolnet.recipients.directory import RecipientDirectory
    from peppolnet.recipients.render import to_json

    since = since_time(args.since)
    operator = _target_operator(args) if args.operator else None
    with RecipientDirectory(args.db) as directory, _tracker(args) as tracker:
        changes = directory.changes(since)
        drafted = tracker.drafts_from_changes(
            changes, directory, operator=operator, email=args.email, save=not args.dry_run
        )
    if args.json:
        documents = [json.loads(to_json(draft)) for draft in drafted]
        print_json({"stored": not args.dry_run, "drafts": documents})
        return 0
    if not drafted:
        echo(
            _(
                "nothing to draft: no customer changed operator, or each change already has an "
                "open request (see `peppolnet request list`)"
            )
        )
        return 0
    rows = [
        [d.participant_id.bare, d.company_name, d.current_operator.seat_id, d.operator.seat_id]
        for d in drafted
    ]
    print(table(rows, [_("PARTICIPANT"), _("COMPANY"), _("NOW WITH"), _("MOVE TO")]))
    if args.dry_run:
        echo(_("{count} update request(s) shown, not stored (--dry-run)", count=len(drafted)))
        return 0
    echo(
        _(
            "{count} update request(s) stored as drafts; see "
            "`peppolnet request list --status draft`",
            count=len(drafted),
        )
    )
    ids = " ".join(d.request_id[:8] for d in drafted)
    echo(_("send them with `peppolnet request send {ids} --via http|outbox|smtp ...`", ids=ids))
    return 0


def _target_operator(args: argparse.Namespace) -> Any:
    """``--operator`` as an OperatorRef: from the registry (Seat ID, SPID or name), or a
    well-formed Seat ID the registry does not know yet."""
    from peppolnet.cli.commands.operators import load_registry, save_registry
    from peppolnet.operators import is_seat_id
    from peppolnet.recipients import OperatorRef

    registry, path, changed = load_registry(
        args.operators_file, network=args.network, state_file=args.state_file
    )
    if changed:
        save_registry(registry, path)
    match = registry.find(args.operator)
    if match.operator is not None:
        return OperatorRef.of(match.operator)
    seat = args.operator.strip().upper()
    if is_seat_id(seat):
        return OperatorRef(seat_id=seat)
    raise InvalidInput(
        _("--operator {value!r}: {problem}", value=args.operator, problem=match.message)
    )


def _follow_up(args: argparse.Namespace) -> int:
    from peppolnet.cli._mailserver import notifier_from_arguments
    from peppolnet.cli._network import network_from_arguments
    from peppolnet.cli._output import print_json, table
    from peppolnet.cli.commands.customers import parse_duration

    expire = parse_duration(args.expire_after) if args.expire_after else None
    notify = notifier_from_arguments(args, language())
    network = network_from_arguments(args)
    with _tracker(args) as tracker:
        results = tracker.follow_up(network, notify=notify, expire_after=expire, dnssec=args.dnssec)
    # A confirmation mail that could not be sent is owed (the next run sends it), and a fault:
    # exit 3, so that a cron job with a wrong password does not report success every day.
    owed = 3 if any(r.notify_error for r in results) else 0
    if args.json:
        print_json([r.to_json() for r in results])
        return owed
    if not results:
        echo(_("no sent requests to follow up"))
        return 0
    rows = [[r.request_id[:8], r.status.value, r.summary, r.message] for r in results]
    print(table(rows, ["ID", _("STATUS"), _("REQUEST"), _("FOUND")]))
    for r in results:
        if r.notify_error:
            failed = _(
                "{id}: confirmation mail failed: {problem}",
                id=r.request_id[:8],
                problem=r.notify_error,
            )
            echo(failed, file=sys.stderr)
    return owed
