"""``peppolnet doctor``: is this machine, and its configuration, fit to look participants up?

Runs :func:`peppolnet.doctor.diagnose` for the network and prints every check with its status
and, where one did not pass, what to do (``--json``: one object with stable keys). Exit codes:
0 no problem found (warnings may remain), 1 a problem found, 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from peppolnet.cli._language import language
from peppolnet.cli._network import add_network_arguments, network_from_arguments
from peppolnet.cli._output import echo, positive_seconds, print_json, safe_text
from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.doctor import Diagnosis

_COLOURS = {"pass": "32", "warn": "33", "fail": "31", "skipped": "2"}


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "doctor",
        help=_("check this machine and its configuration as they affect lookups"),
        description=_(
            "Check the resolver (NAPTR, honest NXDOMAIN, EDNS, TCP, DNSSEC), the SML zone, the "
            "trust stores, the clock and the proxies as they affect lookups on a network. Exit "
            "codes: 0 no problem found (warnings may remain), 1 a problem found, 2 usage error."
        ),
    )
    parser.add_argument("--json", action="store_true", help=_("print the result as JSON"))
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=3.0,
        help=_("seconds each question and request may take (default 3)"),
    )
    add_network_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from peppolnet.doctor import diagnose

    diagnosis = diagnose(network_from_arguments(args), timeout=args.timeout)
    if args.json:
        print_json(diagnosis.to_json())
    else:
        _print_human(diagnosis)
    return 0 if diagnosis.ok else 1


def _colour(text: str, code: str | None) -> str:
    if not code or not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return text
    return f"\033[{code}m{text}\033[0m"


def _print_human(diagnosis: Diagnosis) -> None:
    """Every finding in the command's language, then the summary. What the network said
    (reasons, names) is part of the sentences, so each goes through :func:`safe_text`."""
    lang = language()
    echo(_("{network} network, SML zone {zone}", network=diagnosis.network, zone=diagnosis.zone))
    for finding in diagnosis.findings:
        status = safe_text(finding.status.label(lang))
        mark = _colour(f"{status:>7}", _COLOURS.get(finding.status.value))
        where = f" [{finding.subject}]" if finding.subject else ""
        print(f"  {mark}  {finding.name}{safe_text(where)}: {safe_text(finding.text(lang))}")
        fix = finding.fix_text(lang)
        if fix is not None:
            print(" " * 11 + safe_text(_("what to do: {fix}", fix=fix)))
    echo(diagnosis.summary(lang))
