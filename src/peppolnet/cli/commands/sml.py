"""``peppolnet sml name|lookup``: where in the SML's DNS a participant lives, and its SMP.

``name`` is pure (no network): it prints the DNS name to query, e.g. for ``dig NAPTR``.
``lookup`` asks DNS. ``--network`` takes every name the other commands take, ``sandbox`` too
(its zone, and for ``lookup`` its DNS server, come from the running sandbox's state file).
Exit codes: 0 found, 1 not registered / no SMP service / invalid value, 2 usage error,
3 DNS failure (retry later).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from peppolnet.cli._network import (
    add_state_file_argument,
    nameserver,
    network_choice,
    resolve_network,
)
from peppolnet.cli._output import port_number, positive_seconds
from peppolnet.cli.commands.lookup import add_dnssec_argument
from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.network import Network


def _zone_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "value", metavar="VALUE", help=_("participant id, ICD:ID or scheme::ICD:ID")
    )
    parser.add_argument(
        "--network",
        type=network_choice,
        default="production",
        help=_(
            "the SML to use: production, test, sandbox or a legacy-* network (default: production)"
        ),
    )
    add_state_file_argument(parser)
    parser.add_argument(
        "--zone", metavar="ZONE", help=_("an explicit SML zone (overrides --network)")
    )
    parser.add_argument(
        "--legacy-cname",
        action="store_true",
        help=_("use the pre-2025 B-<md5> CNAME form instead of NAPTR"),
    )


def register(subparsers: Any) -> None:
    """Add the ``sml`` command and its ``name`` / ``lookup`` sub-commands."""
    parser = subparsers.add_parser(
        "sml",
        help=_("SML DNS names and lookups"),
        description=_(
            "The SML (DNS) side of Peppol: record names and SMP lookups. Exit codes: 0 found, "
            "1 not registered, no SMP service or an invalid value, 2 usage error, "
            "3 DNS failure (try again later)."
        ),
    )
    sub = parser.add_subparsers(dest="sml_command", metavar="ACTION")
    sub.required = True

    name = sub.add_parser(
        "name",
        help=_("print the DNS name of a participant's SML record"),
        description=_("Print the DNS name of a participant's NAPTR record (or legacy CNAME)."),
    )
    _zone_options(name)
    name.set_defaults(handler=_name)

    lookup = sub.add_parser(
        "lookup",
        help=_("look a participant up in the SML and print its SMP URL"),
        description=_("Query the SML over DNS and print the participant's SMP base URL."),
    )
    _zone_options(lookup)
    lookup.add_argument(
        "--nameserver",
        action="append",
        default=[],
        type=nameserver,
        metavar="IP",
        help=_("DNS server (repeatable)"),
    )
    lookup.add_argument(
        "--port",
        type=port_number,
        help=_("DNS port (default: the network's, 53 for the real ones)"),
    )
    lookup.add_argument(
        "--timeout", type=positive_seconds, default=5.0, help=_("seconds (default 5)")
    )
    lookup.add_argument("--tcp", action="store_true", help=_("query over TCP"))
    lookup.add_argument("--allow-http", action="store_true", help=_("accept http:// SMP URLs"))
    lookup.add_argument("--json", action="store_true", help=_("print JSON"))
    add_dnssec_argument(lookup)
    lookup.set_defaults(handler=_lookup)


def _network(args: argparse.Namespace) -> Network:
    return resolve_network(args.network, args.state_file)


def _zone(args: argparse.Namespace) -> str:
    """``--zone``, else the network's SML zone (a sandbox's is read from its state file only
    when it is needed)."""
    return str(args.zone or _network(args).sml_zone)


def _name(args: argparse.Namespace) -> int:
    from peppolnet.identifiers import ParticipantId
    from peppolnet.sml import cname_name, naptr_name

    participant = ParticipantId.parse(args.value)
    compute = cname_name if args.legacy_cname else naptr_name
    sys.stdout.write(compute(participant, _zone(args)) + "\n")
    return 0


def _lookup(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import echo, print_json, safe_text
    from peppolnet.destinations import redact_text, redact_url
    from peppolnet.sml import SmlResolver

    network = _network(args)
    if args.nameserver:  # the servers named; else the network's (the sandbox's own DNS server)
        nameservers, port = args.nameserver, 53
    else:
        nameservers, port = list(network.nameservers), network.dns_port
    resolver = SmlResolver(
        _zone(args),
        nameservers=nameservers,
        port=port if args.port is None else args.port,
        timeout=args.timeout,
        tcp=args.tcp,
        require_https=not (args.allow_http or args.legacy_cname),
        legacy_cname=args.legacy_cname,
        cache=False,
        dnssec=args.dnssec,
        dnssec_anchors=network.dnssec_anchors,
    )
    answer = resolver.resolve(args.value)
    security = answer.dnssec
    if args.json:
        print_json(
            {
                "participant_id": answer.participant.uri,
                "record_name": answer.record_name,
                "smp_url": redact_url(answer.smp_url),  # never a password from DNS
                "ttl": answer.ttl,
                "records": [redact_text(str(r)) for r in answer.records],
                "elapsed": round(answer.elapsed, 6),
                "dnssec": security.to_json() if security is not None else None,
            }
        )
    else:
        # from an unsigned DNS answer: shown safely, and never with a password
        sys.stdout.write(f"{safe_text(redact_url(answer.smp_url))}\n")
        if security is not None:  # asked for with --dnssec: secure or insecure (bogus raised)
            status = _("secure") if security.status == "secure" else _("insecure")
            echo(_("dnssec: {status}: {detail}", status=status, detail=security.detail))
    return 0
