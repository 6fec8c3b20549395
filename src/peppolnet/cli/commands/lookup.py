"""``peppolnet lookup``: can this participant receive this document, and through whom?"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any, TypedDict

from peppolnet.cli._language import language
from peppolnet.cli._network import add_network_arguments, networks_from_arguments
from peppolnet.cli._output import (
    argparse_type,
    echo,
    iso_time,
    positive_seconds,
    print_json,
    safe_text,
)
from peppolnet.i18n import _

EXIT_CODES = {"can-receive": 0, "cannot-receive": 1, "not-registered": 1, "unknown": 3}

_COLOURS = {"pass": "32", "warn": "33", "fail": "31", "skipped": "2"}
_VERDICT_COLOURS = {"can-receive": "32", "cannot-receive": "31", "not-registered": "31"}


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "lookup",
        help=_("can this participant receive this e-invoice, and through which operator?"),
        description=_(
            "Look a participant up in the SML and its SMP and explain the verdict. "
            "Exit codes: 0 can receive, 1 cannot receive or not registered, 3 unknown (a fault), "
            "2 usage error."
        ),
    )
    add_participant_arguments(parser)
    add_document_type_argument(parser)
    add_process_and_time_arguments(parser)
    parser.add_argument(
        "--list-doctypes", action="store_true", help=_("also fetch every supported document type")
    )
    parser.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    add_deadline_argument(parser)
    add_dnssec_argument(parser)
    add_revocation_arguments(parser)
    add_network_arguments(parser, auto=True)
    parser.set_defaults(handler=run)


def add_participant_arguments(parser: argparse.ArgumentParser) -> None:
    """The participant as ``VALUE [--country C]`` (shared with ``trace``); read by
    :func:`participant_query`."""
    parser.add_argument(
        "value",
        help=_("participant id (0007:5567321707), or an organisation or VAT number with --country"),
    )
    parser.add_argument(
        "--country", help=_("country of an org or VAT number (e.g. SE, BE, Sverige)")
    )


class ParticipantQuery(TypedDict, total=False):
    """The participant arguments of ``Lookup.check`` and ``Lookup.trace``."""

    participant: str
    number: str
    country: str


def participant_query(value: str, country: str | None) -> ParticipantQuery:
    """The arguments of ``Lookup.check``/``trace`` for what was typed: a scheme-prefixed id
    (``0007:...`` or ``iso6523-actorid-upis::...``) as a participant, anything else with a
    country as a number for :func:`~peppolnet.schemes.suggest_participant_ids` (an
    organisation number in any common format or a VAT number), and without a country as a
    participant id - whose parser then says what is wrong with it."""
    value = value.strip()
    looks_like_id = "::" in value or (len(value) > 5 and value[4] == ":" and value[:4].isdigit())
    if looks_like_id or not country:
        return {"participant": value}
    return {"number": value, "country": country}


def add_dnssec_argument(parser: argparse.ArgumentParser) -> None:
    """``--dnssec`` (shared with ``check`` and ``sml lookup``)."""
    parser.add_argument(
        "--dnssec",
        action="store_true",
        help=_(
            "validate the SML's answer with DNSSEC from the network's trust anchors: a bogus "
            "answer makes the verdict unknown, an unsigned zone only warns (docs/dnssec.md)"
        ),
    )


def add_deadline_argument(parser: argparse.ArgumentParser) -> None:
    """``--deadline`` (shared with ``check``): the most one lookup may take, in seconds."""
    parser.add_argument(
        "--deadline",
        type=positive_seconds,
        default=30.0,
        help=_(
            "seconds one lookup may take in all - DNS, SMP requests, retries, redirect and "
            "revocation - before its verdict is unknown (default 30)"
        ),
    )


def add_document_type_argument(
    parser: argparse.ArgumentParser, flags: tuple[str, ...] = ("--doctype",)
) -> None:
    """``--doctype`` (shared with ``check`` and ``trace``, which also calls it
    ``--document-type``), checked while the command line is parsed: the same mistyped alias is
    the same usage error (exit 2) in every command."""
    parser.add_argument(
        *flags,
        dest="doctype",
        metavar="DOCTYPE",
        default="invoice",
        type=argparse_type(_document_type),
        help=_("alias (invoice, credit-note) or document type id (default: invoice)"),
    )


def add_process_and_time_arguments(parser: argparse.ArgumentParser) -> None:
    """``--process`` and ``--at`` (shared with ``trace``)."""
    parser.add_argument(
        "--process",
        type=argparse_type(_process),
        help=_("process id (default: the document type's own)"),
    )
    parser.add_argument("--at", help=_("ISO date-time to judge validity at (default: now)"))


def _document_type(text: str) -> Any:
    from peppolnet.lookup import resolve_document_type

    return resolve_document_type(text)


def _process(text: str) -> Any:
    from peppolnet.identifiers import ProcessId

    return ProcessId.parse(text)


def add_revocation_arguments(parser: argparse.ArgumentParser) -> None:
    """``--check-revocation`` and ``--revocation-soft-fail`` (shared with ``check``)."""
    group = parser.add_argument_group(_("certificate revocation"))
    group.add_argument(
        "--check-revocation",
        action="store_true",
        help=_(
            "download the CAs' CRLs and check that the SMP and access point certificates are "
            "not revoked (an undeterminable status makes the verdict unknown)"
        ),
    )
    group.add_argument(
        "--revocation-soft-fail",
        action="store_true",
        help=_("with --check-revocation (implied): an undeterminable revocation status only warns"),
    )


def revocation_checker(args: argparse.Namespace, timeout: float = 10.0) -> Any:
    """The :class:`~peppolnet.revocation.CrlChecker` the arguments ask for, or None."""
    soft_fail = bool(getattr(args, "revocation_soft_fail", False))
    if not (getattr(args, "check_revocation", False) or soft_fail):
        return None
    from peppolnet.revocation import CrlChecker

    return CrlChecker(soft_fail=soft_fail, timeout=timeout)


def run(args: argparse.Namespace) -> int:
    from peppolnet.auto import AutoLookup
    from peppolnet.lookup import Lookup
    from peppolnet.network import Networks

    at = iso_time(args.at, "--at")
    network = networks_from_arguments(args)
    asked = participant_query(args.value, args.country)
    checker = revocation_checker(args)
    options = {
        "list_document_types": args.list_doctypes,
        "revocation": checker,
        "deadline": args.deadline,
        "dnssec": args.dnssec,
    }
    with (
        contextlib.closing(checker) if checker is not None else contextlib.nullcontext(),
        (
            AutoLookup(network, **options)
            if isinstance(network, Networks)
            else Lookup(network, **options)
        ) as lookup,
    ):
        result = lookup.check(**asked, document_type=args.doctype, process=args.process, at=at)
    if args.json:
        print_json(result.to_json())
    else:
        _print_human(result)
    return EXIT_CODES[result.verdict.value]


def _colour(text: str, code: str | None) -> str:
    if not code or not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return text
    return f"\033[{code}m{text}\033[0m"


def _print_human(result: Any) -> None:
    """The answer for people, in the command's language. Every value that the network (or the
    command line) supplied goes through :func:`safe_text`: operator names, URLs and reasons
    are untrusted text."""
    lang = language()
    verdict = result.verdict.value
    who = safe_text(result.participant or result.query)
    # English keeps the machine value (NOT-REGISTERED), which scripts and docs have long shown
    label = verdict.upper() if lang == "en" else result.verdict.label(lang).upper()
    print(f"{who}: {_colour(label, _VERDICT_COLOURS.get(verdict, '33'))}")
    if result.operator is not None:
        echo(_("operator: {operator}", operator=result.operator))
    if result.endpoint is not None and result.endpoint.url:
        echo(_("access point: {url}", url=result.endpoint.url))
    if result.verdict.value != "can-receive":
        echo(_("reason: {reason}", reason=result.explain(lang)))
    echo(_("checks:"))
    for check in result.checks:
        status = safe_text(check.status.label(lang))
        mark = _colour(f"{status:>7}", _COLOURS.get(check.status.value))
        print(f"  {mark}  {check.name}: {safe_text(check.text(lang))}")
