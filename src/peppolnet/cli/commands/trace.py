"""``peppolnet trace``: every step of one lookup, in order, for support staff and integrators."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from peppolnet.cli._language import language
from peppolnet.cli._network import add_network_arguments, networks_from_arguments
from peppolnet.cli._output import iso_time, print_json, safe_text
from peppolnet.cli.commands.lookup import (
    EXIT_CODES,
    add_deadline_argument,
    add_dnssec_argument,
    add_document_type_argument,
    add_participant_arguments,
    add_process_and_time_arguments,
    add_revocation_arguments,
    participant_query,
    revocation_checker,
)
from peppolnet.i18n import _


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "trace",
        help=_("every step of a lookup: DNS, TLS, HTTP, signature, certificates, verdict"),
        description=_(
            "Look a participant up and show every step on the way, in order, with its timing "
            "and status, up to the step that failed. With --network auto, production first and "
            "test only when production says not registered. Exit codes as for lookup: 0 can "
            "receive, 1 cannot receive or not registered, 3 unknown (a fault), 2 usage error."
        ),
    )
    add_participant_arguments(parser)
    add_document_type_argument(parser, ("--document-type", "--doctype"))
    add_process_and_time_arguments(parser)
    parser.add_argument("--json", action="store_true", help=_("print the trace as one JSON object"))
    add_deadline_argument(parser)
    add_dnssec_argument(parser)
    add_revocation_arguments(parser)
    add_network_arguments(parser, auto=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from peppolnet.auto import AutoLookup
    from peppolnet.lookup import Lookup
    from peppolnet.network import Networks

    at = iso_time(args.at, "--at")
    network = networks_from_arguments(args)
    checker = revocation_checker(args)
    options = {"revocation": checker, "deadline": args.deadline, "dnssec": args.dnssec}
    with (
        contextlib.closing(checker) if checker is not None else contextlib.nullcontext(),
        (
            AutoLookup(network, **options)
            if isinstance(network, Networks)
            else Lookup(network, **options)
        ) as lookup,
    ):
        trace = lookup.trace(
            **participant_query(args.value, args.country),
            document_type=args.doctype,
            process=args.process,
            at=at,
        )
    if args.json:
        print_json(trace.to_json())
    else:
        _print_human(trace)
    return EXIT_CODES[trace.reachability.verdict.value]


def _print_human(trace: Any) -> None:
    """The numbered list in the command's language, every line through :func:`safe_text` (it
    quotes the network)."""
    from peppolnet.trace.render import lines

    for line in lines(trace, language()):
        print(safe_text(line))
