"""``peppolnet schemes``: the participant identifier schemes and what peppolnet checks for each."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from peppolnet.cli._labels import scheme_state, yes_no
from peppolnet.i18n import _


def register(subparsers: Any) -> None:
    """Add the ``schemes`` command."""
    parser = subparsers.add_parser(
        "schemes",
        help=_("list participant identifier schemes (ICD codes)"),
        description=_(
            "List the participant identifier schemes of the Peppol code list. "
            "--coverage shows whether structure and check digits are enforced, and how."
        ),
    )
    parser.add_argument(
        "--coverage", action="store_true", help=_("show what validation enforces per scheme")
    )
    parser.add_argument("--json", action="store_true", help=_("print JSON"))
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import echo, print_json, table
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
                scheme_state(r.state),
                yes_no(r.structure_enforced),
                yes_no(r.check_digits_enforced),
                r.how,
            ]
            for r in rows
        ]
        headers = ["ICD", _("Scheme"), _("State"), _("Structure"), _("Check digits"), _("How")]
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
        [s.icd, s.scheme_id, s.country, scheme_state(s.state), " ".join(s.name.split())]
        for s in schemes
    ]
    echo(_("Peppol code list v{version}", version=code_list_version()))
    headers = ["ICD", _("Scheme"), _("Country"), _("State"), _("Name")]
    sys.stdout.write(table(cells, headers) + "\n")
    return 0
