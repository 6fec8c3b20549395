"""``peppolnet directory search``: find participants by name, country, identifier or document type.

The Directory is opt-in and may be stale; results are a lead, not proof of reachability.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from peppolnet.cli._network import add_network_arguments, network_from_arguments
from peppolnet.cli._output import positive_int

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "directory", help="search the Peppol Directory", description=__doc__
    )
    sub = parser.add_subparsers(dest="directory_command", metavar="SUBCOMMAND")
    search = sub.add_parser("search", help="search participants", description=__doc__)
    search.add_argument("text", nargs="?", help="free text searched in every field")
    search.add_argument("--name", help="part of an entity name (at least 3 characters)")
    search.add_argument("--country", help="two-letter country code, e.g. NO")
    search.add_argument("--participant", help="participant identifier, e.g. 0192:810306882")
    search.add_argument("--doctype", help="document type identifier (scheme::value)")
    search.add_argument("--url", help="Directory base URL (overrides the network's)")
    search.add_argument(
        "--confirm",
        action="store_true",
        help="confirm each match with a lookup (the Directory is not authoritative)",
    )
    add_network_arguments(search)
    search.add_argument(
        "--limit", type=positive_int, default=20, help="at most N matches (default 20)"
    )
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")
    search.set_defaults(handler=_search)


def _search(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json, table
    from peppolnet.directory import PRODUCTION_URL, DirectoryClient
    from peppolnet.directory.parse import match_to_json

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
        rows = [[m.participant.uri, m.country or "", m.name or ""] for m in matches]
        headers = ["PARTICIPANT", "COUNTRY", "NAME"]
        if args.confirm:
            marks = {True: "yes", False: "no", None: "unknown"}
            rows = [[*row, marks[m.confirmed]] for row, m in zip(rows, matches, strict=True)]
            headers.append("CAN RECEIVE")
        print(table(rows, headers))
        shown = f"{len(matches)} of {result.total} matching entities"
        print(shown if result.total is not None else f"{len(matches)} matches", file=sys.stderr)
    if result.truncated:
        print(
            "note: the Directory serves only the first 1000 results; narrow the query",
            file=sys.stderr,
        )
    return 0 if matches else 1
