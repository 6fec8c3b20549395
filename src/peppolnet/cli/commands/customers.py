"""``peppolnet customers import|search|refresh|changes``: the local recipient directory.

Every sub-command takes ``--db PATH`` (default ``$PEPPOLNET_DB`` or
``~/.local/share/peppolnet/recipients.sqlite``); a ``--db`` in a folder that does not exist is
a usage error, not a reason to create folders. Exit codes: 0 done / found, 1 nothing found
(search) or an unusable value, 2 usage error, 3 a retryable error (database locked).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta
from typing import Any

from peppolnet.cli._output import UsageError, add_db_argument, input_file, positive_int

__all__ = ["parse_duration", "register"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w``, ``1d12h`` -> timedelta; anything else is a UsageError
    (an InvalidInput): durations are option values (``--older-than``, ``--expire-after``)."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise UsageError(
            f"{text!r} is not a duration; use a number and a unit: 30m, 12h, 7d, 2w (or 1d12h)"
        )
    try:
        return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))
    except OverflowError:
        raise UsageError(f"the duration {text!r} is too long") from None


def register(subparsers: Any) -> None:
    from peppolnet.cli._network import add_network_arguments

    parser = subparsers.add_parser(
        "customers", help="the local recipient directory (import, search, refresh, changes)",
        description=__doc__,
    )  # fmt: skip
    sub = parser.add_subparsers(dest="customers_command", metavar="SUBCOMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        add_db_argument(p)
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    imp = sub.add_parser("import", help="import a customer register (CSV or XLSX)")
    imp.add_argument(
        "file", type=input_file, help="the register: CSV (any delimiter/encoding) or XLSX"
    )
    imp.add_argument("--country", help="country for rows without one, e.g. SE")
    common(imp)
    imp.set_defaults(handler=_import)

    search = sub.add_parser("search", help="find customers by name, org number or participant id")
    search.add_argument("text", help="a name (typos are fine), org number or participant id")
    search.add_argument(
        "--limit", type=positive_int, default=10, help="at most N results (default 10)"
    )
    common(search)
    search.set_defaults(handler=_search)

    refresh = sub.add_parser("refresh", help="re-check customers against the network")
    refresh.add_argument(
        "--older-than", metavar="DURATION",
        help="only customers not checked within DURATION (30m, 12h, 7d, 2w)",
    )  # fmt: skip
    refresh.add_argument(
        "--concurrency", type=positive_int, default=16, help="lookups at once (16)"
    )
    common(refresh)
    add_network_arguments(refresh)
    refresh.set_defaults(handler=_refresh)

    changes = sub.add_parser("changes", help="what moved between the last two checks")
    changes.add_argument("--since", help="only changes seen at or after this ISO 8601 time")
    common(changes)
    changes.set_defaults(handler=_changes)


def _open(args: argparse.Namespace) -> Any:
    from peppolnet.recipients.directory import RecipientDirectory

    return RecipientDirectory(args.db)


def _import(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json, safe_text

    with _open(args) as directory:
        report = directory.import_register(args.file, default_country=args.country)
        total = len(directory)
    if args.json:
        print_json({**report.to_json(), "total": total})
        return 0
    print(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped; {total} customers in {directory.path}"
    )
    for number, problem in report.skipped:
        print(f"  row {number}: {safe_text(problem)}", file=sys.stderr)
    return 0


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "never"


def _search(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json, table

    with _open(args) as directory:
        hits = directory.search(args.text, limit=args.limit)
    if args.json:
        print_json([h.to_json() for h in hits])
    else:
        rows = [
            [
                f"{h.score:.0f}", h.recipient.name, h.recipient.participant_id.split("::")[-1],
                h.recipient.verdict or "-", h.recipient.operator_name or "",
                _when(h.recipient.checked_at),
            ]
            for h in hits
        ]  # fmt: skip
        print(table(rows, ["SCORE", "NAME", "PARTICIPANT", "VERDICT", "OPERATOR", "CHECKED"]))
        if not hits:
            print(f"no customer matches {args.text!r}", file=sys.stderr)
    return 0 if hits else 1


def _refresh(args: argparse.Namespace) -> int:
    from peppolnet.cli._network import network_from_arguments
    from peppolnet.cli._output import print_json

    older = parse_duration(args.older_than) if args.older_than else None
    network = network_from_arguments(args)
    with _open(args) as directory:
        report = directory.refresh(network, older_than=older, concurrency=args.concurrency)
    if args.json:
        print_json(report.to_json())
    else:
        counts = ", ".join(f"{n} {v}" for v, n in sorted(report.counts.items())) or "nothing due"
        print(f"checked {report.checked}: {counts}")
    return 0


def _changes(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json, since_time, table

    with _open(args) as directory:
        changes = directory.changes(since_time(args.since))
    if args.json:
        print_json([c.to_json() for c in changes])
    else:
        rows = [
            [
                c.kind, c.recipient.name, c.recipient.participant_id.split("::")[-1],
                c.before.operator_name or c.before.verdict,
                c.after.operator_name or c.after.verdict, _when(c.after.checked_at),
            ]
            for c in changes
        ]  # fmt: skip
        print(table(rows, ["CHANGE", "NAME", "PARTICIPANT", "BEFORE", "AFTER", "SEEN"]))
    return 0
