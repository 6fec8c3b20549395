"""``peppolnet directory search``: find participants by name, country, identifier or document type;
``peppolnet directory export download|stats|diff``: the Directory's daily export.

The Directory is opt-in and may be stale; results are a lead, not proof of reachability.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from peppolnet.cli._labels import yes_no
from peppolnet.cli._network import add_network_arguments, network_from_arguments
from peppolnet.cli._output import UsageError, echo, positive_int
from peppolnet.cli.commands._directory_export import register_export
from peppolnet.i18n import _

__all__ = ["register"]

_DESCRIPTION = _(
    "Find participants in the Peppol Directory by name, country, identifier or document type. "
    "The Directory is opt-in and may be stale: its results are a lead, not proof that a "
    "participant can receive (--confirm looks each one up)."
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "directory", help=_("search the Peppol Directory"), description=_DESCRIPTION
    )
    sub = parser.add_subparsers(dest="directory_command", metavar="SUBCOMMAND")
    search = sub.add_parser("search", help=_("search participants"), description=_DESCRIPTION)
    search.add_argument("text", nargs="?", help=_("free text searched in every field"))
    search.add_argument("--name", help=_("part of an entity name (at least 3 characters)"))
    search.add_argument("--country", help=_("two-letter country code, e.g. NO"))
    search.add_argument("--participant", help=_("participant identifier, e.g. 0192:810306882"))
    search.add_argument(
        "--doctype",
        help=_("document type: an alias (invoice, credit-note) or an identifier (scheme::value)"),
    )
    search.add_argument("--url", help=_("Directory base URL (overrides the network's)"))
    search.add_argument(
        "--confirm",
        action="store_true",
        help=_("confirm each match with a lookup (the Directory is not authoritative)"),
    )
    add_network_arguments(search)
    search.add_argument(
        "--limit", type=positive_int, default=20, help=_("at most N matches (default 20)")
    )
    search.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))
    search.set_defaults(handler=_search)
    register_export(sub)


def _search(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json, table
    from peppolnet.directory import PRODUCTION_URL, DirectoryClient
    from peppolnet.directory.parse import match_to_json

    if not any((args.text, args.name, args.country, args.participant, args.doctype)):
        # a command line without what it needs: a usage error (2), as a missing argument is
        raise UsageError(
            _("give at least one search field (text, name, country, participant, doctype, ...)")
        )

    network = network_from_arguments(args)
    url = args.url or network.directory_url or PRODUCTION_URL
    lookup = None
    confirm = None
    if args.confirm:
        from peppolnet.lookup import Lookup

        lookup = Lookup(network)

        def confirm(participant: Any) -> bool | None:
            verdict = lookup.check(participant).verdict.value
            return None if verdict == "unknown" else verdict == "can-receive"

    verify = network.tls_verify if not args.url else True
    with DirectoryClient(url, verify=verify) as client:
        result = client.iter_search(
            args.text,
            name=args.name,
            country=args.country,
            participant=args.participant,
            doctype=args.doctype,
            limit=max(args.limit, 0),
            page_size=max(1, min(args.limit, 100)),
            confirm=confirm,
        )
        matches = list(result)
    if lookup is not None:
        lookup.close()
    if args.json:
        print_json(
            {
                "total": result.total,
                "truncated": result.truncated,
                "matches": [{**match_to_json(m), "confirmed": m.confirmed} for m in matches],
            }
        )
    else:
        rows: list[list[str]] = [[m.participant.uri, m.country or "", m.name or ""]
                                 for m in matches]  # fmt: skip
        headers = [_("PARTICIPANT"), _("COUNTRY"), _("NAME")]
        if args.confirm:
            rows = [[*row, yes_no(m.confirmed)] for row, m in zip(rows, matches, strict=True)]
            headers.append(_("CAN RECEIVE"))
        print(table(rows, headers))
        if result.total is not None:
            shown = _(
                "{shown} of {total} matching entities", shown=len(matches), total=result.total
            )
        else:
            shown = _("{shown} matches", shown=len(matches))
        echo(shown, file=sys.stderr)
    if result.truncated:
        note = _("note: the Directory serves only the first 1000 results; narrow the query")
        echo(note, file=sys.stderr)
    return 0 if matches else 1
