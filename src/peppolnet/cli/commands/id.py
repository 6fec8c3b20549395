"""``peppolnet id check|suggest``: is this participant identifier right, and what should it be?

``check --json`` is a contract other tools rely on: one JSON array, one object per value with keys
``input``, ``valid``, ``participant_id``, ``scheme``, ``scheme_state``, ``problems``. Exit 0 when
every value is valid, 1 when any is not, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from peppolnet.cli._labels import scheme_state
from peppolnet.cli._language import say
from peppolnet.cli._output import echo, safe_text
from peppolnet.i18n import _


def register(subparsers: Any) -> None:
    """Add the ``id`` command and its ``check`` / ``suggest`` sub-commands."""
    parser = subparsers.add_parser(
        "id",
        help=_("check participant identifiers or suggest them from a number"),
        description=_(
            "Check participant identifiers against the Peppol code list, or turn a "
            "company number as people type it into participant identifiers."
        ),
    )
    sub = parser.add_subparsers(dest="id_command", metavar="ACTION")
    sub.required = True

    check = sub.add_parser(
        "check",
        help=_("validate identifiers (scheme, structure, check digits)"),
        description=_(
            "Validate participant identifiers: ICD:ID or iso6523-actorid-upis::ICD:ID. "
            "Exit 0 when every value is valid, 1 when any is not, 2 usage error."
        ),
    )
    check.add_argument("values", nargs="+", metavar="VALUE", help=_("participant identifier"))
    check.add_argument("--json", action="store_true", help=_("print one JSON array"))
    check.set_defaults(handler=_check)

    suggest = sub.add_parser(
        "suggest",
        help=_("suggest participant identifiers for a company number"),
        description=_(
            "Suggest valid participant identifiers for a number as typed, e.g. "
            "'BE 0677.424.046' with --country BE. Most likely first."
        ),
    )
    suggest.add_argument("number", metavar="NUMBER", help=_("the number as typed"))
    suggest.add_argument(
        "--country", required=True, metavar="CC", help=_("ISO country code (e.g. SE, BE)")
    )
    suggest.add_argument("--json", action="store_true", help=_("print JSON"))
    suggest.set_defaults(handler=_suggest)


def _check(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json
    from peppolnet.schemes import validate

    results = [validate(value) for value in args.values]
    if args.json:
        print_json([r.to_dict() for r in results])
    else:
        for r in results:
            if r.valid:
                assert r.participant is not None
                assert r.scheme is not None
                notes = "".join(f"; {say(p.message)}" for p in r.problems)
                state = say(scheme_state(r.scheme.state))
                line = f"✓ {r.participant.uri}  {r.scheme.scheme_id} ({state}){notes}"
            else:
                shown = r.participant.bare if r.participant is not None else r.input
                line = f"✗ {shown}  " + "; ".join(say(p.message) for p in r.problems)
            sys.stdout.write(safe_text(line) + "\n")  # the values are what was typed
    return 0 if all(r.valid for r in results) else 1


def _suggest(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json
    from peppolnet.schemes import suggest_participant_ids

    result = suggest_participant_ids(args.number, args.country)
    if args.json:
        print_json(
            {
                "number": args.number,
                "country": result.country,
                "candidates": [c.uri for c in result.candidates],
                "reason": result.reason,
            }
        )
    elif result.candidates:
        for candidate in result.candidates:
            sys.stdout.write(safe_text(f"{candidate.scheme}::{candidate.value}") + "\n")
    else:
        echo("✗ " + say(_("no participant identifier: {reason}", reason=result.reason)))
    return 0 if result.candidates else 1
