"""``peppolnet schemes``: the participant identifier schemes and what peppolnet checks for each."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``schemes`` command."""
    parser = subparsers.add_parser(
        "schemes",
        help="list participant identifier schemes (ICD codes)",
        description="List the participant identifier schemes of the Peppol code list. "
        "--coverage shows whether structure and check digits are enforced, and how.",
    )
    parser.add_argument(
        "--coverage", action="store_true", help="show what validation enforces per scheme"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_run)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _run(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json, table
    from peppolnet.codelists import code_list_version, participant_schemes
    from peppolnet.schemes import coverage

    if args.coverage:
        rows = coverage()
        if args.json:
            print_json([r.to_dict() for r in rows])
            return 0
        cells = [
            [
                r.icd,
                r.scheme_id,
                r.state.value,
                _yes(r.structure_enforced),
                _yes(r.check_digits_enforced),
                r.how,
            ]
            for r in rows
        ]
        headers = ["ICD", "Scheme", "State", "Structure", "Check digits", "How"]
        sys.stdout.write(table(cells, headers) + "\n")
        return 0
    schemes = participant_schemes()
    if args.json:
        print_json(
            [
                {
                    "icd": s.icd,
                    "scheme_id": s.scheme_id,
                    "country": s.country,
                    "name": s.name,
                    "state": s.state.value,
                    "deprecation_release": s.deprecation_release,
                    "removal_date": s.removal_date,
                    "registrable": s.registrable,
                }
                for s in schemes
            ]
        )
        return 0
    # Some names contain line breaks in the code list; a table row must stay one line.
    cells = [
        [s.icd, s.scheme_id, s.country, s.state.value, " ".join(s.name.split())] for s in schemes
    ]
    sys.stdout.write(f"Peppol code list v{code_list_version()}\n")
    sys.stdout.write(table(cells, ["ICD", "Scheme", "Country", "State", "Name"]) + "\n")
    return 0
