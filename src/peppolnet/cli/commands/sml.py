"""``peppolnet sml name|lookup``: where in the SML's DNS a participant lives, and its SMP.

``name`` is pure (no network): it prints the DNS name to query, e.g. for ``dig NAPTR``.
``lookup`` asks DNS. Exit codes: 0 found, 1 not registered / no SMP service / invalid value,
3 DNS failure (retry later).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

_ZONES = {
    "production": "participant.sml.prod.tech.peppol.org",
    "test": "participant.sml.test.tech.peppol.org",
}


def _zone_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("value", metavar="VALUE", help="participant id, ICD:ID or scheme::ICD:ID")
    parser.add_argument(
        "--network",
        choices=sorted(_ZONES),
        default="production",
        help="the SML to use (default: production)",
    )
    parser.add_argument("--zone", metavar="ZONE", help="an explicit SML zone (overrides --network)")
    parser.add_argument(
        "--legacy-cname",
        action="store_true",
        help="use the pre-2025 B-<md5> CNAME form instead of NAPTR",
    )


def register(subparsers: Any) -> None:
    """Add the ``sml`` command and its ``name`` / ``lookup`` sub-commands."""
    parser = subparsers.add_parser(
        "sml",
        help="SML DNS names and lookups",
        description="The SML (DNS) side of Peppol: record names and SMP lookups.",
    )
    sub = parser.add_subparsers(dest="sml_command", metavar="ACTION")
    sub.required = True

    name = sub.add_parser(
        "name",
        help="print the DNS name of a participant's SML record",
        description="Print the DNS name of a participant's NAPTR record (or legacy CNAME).",
    )
    _zone_options(name)
    name.set_defaults(handler=_name)

    lookup = sub.add_parser(
        "lookup",
        help="look a participant up in the SML and print its SMP URL",
        description="Query the SML over DNS and print the participant's SMP base URL.",
    )
    _zone_options(lookup)
    lookup.add_argument(
        "--nameserver", action="append", default=[], metavar="IP", help="DNS server (repeatable)"
    )
    lookup.add_argument("--port", type=int, default=53, help="DNS port (default 53)")
    lookup.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    lookup.add_argument("--tcp", action="store_true", help="query over TCP")
    lookup.add_argument("--allow-http", action="store_true", help="accept http:// SMP URLs")
    lookup.add_argument("--json", action="store_true", help="print JSON")
    lookup.set_defaults(handler=_lookup)


def _zone(args: argparse.Namespace) -> str:
    return str(args.zone or _ZONES[args.network])


def _name(args: argparse.Namespace) -> int:
    from peppolnet.identifiers import ParticipantId
    from peppolnet.sml import cname_name, naptr_name

    participant = ParticipantId.parse(args.value)
    compute = cname_name if args.legacy_cname else naptr_name
    sys.stdout.write(compute(participant, _zone(args)) + "\n")
    return 0


def _lookup(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json
    from peppolnet.sml import SmlResolver

    resolver = SmlResolver(
        _zone(args),
        nameservers=args.nameserver,
        port=args.port,
        timeout=args.timeout,
        tcp=args.tcp,
        require_https=not (args.allow_http or args.legacy_cname),
        legacy_cname=args.legacy_cname,
        cache=False,
    )
    answer = resolver.resolve(args.value)
    if args.json:
        print_json(
            {
                "participant_id": answer.participant.uri,
                "record_name": answer.record_name,
                "smp_url": answer.smp_url,
                "ttl": answer.ttl,
                "records": [str(r) for r in answer.records],
                "elapsed": round(answer.elapsed, 6),
            }
        )
    else:
        sys.stdout.write(f"{answer.smp_url}\n")
    return 0
