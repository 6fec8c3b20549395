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

from peppolnet.cli._labels import change_kind
from peppolnet.cli._language import language
from peppolnet.cli._output import (
    UsageError,
    add_db_argument,
    add_register_country_argument,
    echo,
    input_file,
    positive_int,
)
from peppolnet.i18n import _

__all__ = ["parse_duration", "register"]

_DESCRIPTION = _(
    "The local recipient directory: import customer registers, search them, re-check them "
    "against the network and see who moved. Every sub-command takes --db PATH (default "
    "$PEPPOLNET_DB or ~/.local/share/peppolnet/recipients.sqlite). Exit codes: 0 done / found, "
    "1 nothing found (search) or an unusable value, 2 usage error, 3 a retryable error "
    "(database locked)."
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w``, ``1d12h`` -> timedelta; anything else is a UsageError
    (an InvalidInput): durations are option values (``--older-than``, ``--expire-after``)."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise UsageError(
            _(
                "{text!r} is not a duration; use a number and a unit: 30m, 12h, 7d, 2w (or 1d12h)",
                text=text,
            )
        )
    try:
        return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))
    except OverflowError:
        raise UsageError(_("the duration {text!r} is too long", text=text)) from None


def register(subparsers: Any) -> None:
    from peppolnet.cli._network import add_network_arguments
    from peppolnet.cli.commands.lookup import add_dnssec_argument

    parser = subparsers.add_parser(
        "customers",
        help=_("the local recipient directory (import, search, refresh, changes)"),
        description=_DESCRIPTION,
    )
    sub = parser.add_subparsers(dest="customers_command", metavar="SUBCOMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        add_db_argument(p)
        p.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))

    imp = sub.add_parser("import", help=_("import a customer register (CSV or XLSX)"))
    imp.add_argument(
        "file", type=input_file, help=_("the register: CSV (any delimiter/encoding) or XLSX")
    )
    add_register_country_argument(imp)
    common(imp)
    imp.set_defaults(handler=_import)

    search = sub.add_parser(
        "search", help=_("find customers by name, org number or participant id")
    )
    search.add_argument("text", help=_("a name (typos are fine), org number or participant id"))
    search.add_argument(
        "--limit", type=positive_int, default=10, help=_("at most N results (default 10)")
    )
    common(search)
    search.set_defaults(handler=_search)

    refresh = sub.add_parser("refresh", help=_("re-check customers against the network"))
    refresh.add_argument(
        "--older-than", metavar="DURATION",
        help=_("only customers not checked within DURATION (30m, 12h, 7d, 2w)"),
    )  # fmt: skip
    refresh.add_argument(
        "--concurrency", type=positive_int, default=16, help=_("lookups at once (default 16)")
    )
    common(refresh)
    add_dnssec_argument(refresh)
    add_network_arguments(refresh, auto=True)
    refresh.set_defaults(handler=_refresh)

    changes = sub.add_parser("changes", help=_("what moved between the last two checks"))
    changes.add_argument("--since", help=_("only changes seen at or after this ISO 8601 time"))
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
    echo(
        _(
            "{added} added, {updated} updated, {unchanged} unchanged, {skipped} skipped; "
            "{total} customers in {path}",
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            skipped=len(report.skipped),
            total=total,
            path=directory.path,
        )
    )
    for number, problem in report.skipped:
        skipped = _("row {number}: {problem}", number=number, problem=problem)
        print("  " + safe_text(skipped), file=sys.stderr)
    return 0


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else _("never")


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
                _verdict(h.recipient.verdict), h.recipient.operator_name or "",
                _when(h.recipient.checked_at),
            ]
            for h in hits
        ]  # fmt: skip
        headers = [_("SCORE"), _("NAME"), _("PARTICIPANT"), _("VERDICT"), _("OPERATOR"),
                   _("CHECKED")]  # fmt: skip
        print(table(rows, headers))
        if not hits:
            echo(_("no customer matches {text!r}", text=args.text), file=sys.stderr)
    return 0 if hits else 1


def _refresh(args: argparse.Namespace) -> int:
    from peppolnet.cli._network import networks_from_arguments
    from peppolnet.cli._output import print_json

    older = parse_duration(args.older_than) if args.older_than else None
    network = networks_from_arguments(args)
    with _open(args) as directory:
        report = directory.refresh(
            network, dnssec=args.dnssec, older_than=older, concurrency=args.concurrency
        )
    if args.json:
        print_json(report.to_json())
    else:
        counts = ", ".join(f"{n} {_verdict(v)}" for v, n in sorted(report.counts.items()))
        echo(
            _("checked {count}: {counts}", count=report.checked, counts=counts or _("nothing due"))
        )
    return 0


def _verdict(value: str | None) -> str:
    """A stored verdict for people: its label in Swedish, the machine value in English."""
    from peppolnet.bulk.summary import verdict_text

    return verdict_text(value, language()) if value else "-"


def _changes(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json, since_time, table

    with _open(args) as directory:
        changes = directory.changes(since_time(args.since))
    if args.json:
        print_json([c.to_json() for c in changes])
    else:
        rows = [
            [
                change_kind(c.kind), c.recipient.name,
                c.recipient.participant_id.split("::")[-1],
                c.before.operator_name or _verdict(c.before.verdict),
                c.after.operator_name or _verdict(c.after.verdict), _when(c.after.checked_at),
            ]
            for c in changes
        ]  # fmt: skip
        headers = [_("CHANGE"), _("NAME"), _("PARTICIPANT"), _("BEFORE"), _("AFTER"), _("SEEN")]
        print(table(rows, headers))
    return 0
