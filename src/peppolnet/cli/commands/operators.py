"""``peppolnet operators list|show|add``: the operator registry that requests resolve names with.

The registry is a JSON file next to the recipient database (``operators.json`` in the folder of
``$PEPPOLNET_DB`` / ``$XDG_DATA_HOME/peppolnet/``), or ``--file PATH``. ``--network sandbox``
adds the operators of the running sandbox (from its state file) and saves them, so requests in a
demo can name "Kvittra" (or its sandbox id, ``kvittra``) instead of a Seat ID. A ``--file`` that
does not exist is a usage error, except where the command writes it (``add``, or with
``--network sandbox``); its folder must exist. Exit codes: 0 done, 1 unknown operator or bad
value, 2 usage error.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peppolnet.cli._language import say
from peppolnet.cli._network import add_state_file_argument, network_choice, read_sandbox_state
from peppolnet.cli._output import UsageError, echo, output_file, readable_file, safe_text
from peppolnet.errors import InvalidInput, SandboxError
from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.operators import Operator, OperatorRegistry

__all__ = [
    "default_operators_path",
    "load_registry",
    "operators_from_state",
    "register",
    "sandbox_operators",
]

_DESCRIPTION = _(
    "The operator registry that requests resolve operator names with: a JSON file next to the "
    "recipient database (operators.json), or --file PATH. --network sandbox adds the operators "
    'of the running sandbox and saves them, so a demo request can name "Kvittra" instead of a '
    "Seat ID. Exit codes: 0 done, 1 unknown operator or bad value, 2 usage error."
)


def default_operators_path() -> Path:
    """``operators.json`` in the same folder as the recipient database."""
    from peppolnet.recipients.store import default_db_path

    return default_db_path().parent / "operators.json"


def sandbox_operators(state_file: str | Path | None = None) -> list[Operator]:
    """The operators of the running sandbox, as its state file lists them (with the sandbox's
    operator ids as aliases, so ``--operator norrsken`` finds "Norrsken Invoice AB")."""
    return operators_from_state(read_sandbox_state(None if state_file is None else str(state_file)))


def operators_from_state(state: dict[str, Any]) -> list[Operator]:
    """The operators a sandbox's description lists (its state file, or ``Sandbox.info()``)."""
    from peppolnet.operators import Operator

    entries = state.get("operators")
    if not isinstance(entries, list):
        raise SandboxError(
            _("the running sandbox does not list its operators; restart `peppolnet sandbox serve`")
        )
    found = []
    for entry in entries:
        if isinstance(entry, dict):
            found.append(
                Operator(
                    seat_id=str(entry.get("seat_id", "")),
                    name=entry.get("name"),
                    country=entry.get("country"),
                    aliases=frozenset({str(entry["id"])} if entry.get("id") else ()),
                )
            )
    return found


def load_registry(
    file: str | Path | None,
    *,
    network: str | None = None,
    state_file: str | None = None,
    create: bool = False,
) -> tuple[OperatorRegistry, Path, bool]:
    """The registry file, plus the sandbox's operators for ``sandbox``.

    The default file may be missing (an empty registry). A ``file`` named on the command line
    must exist unless it will be written (``create``, or a sandbox to add): a mistyped name
    would otherwise answer "no such operator" from an empty registry.
    Returns the registry, its path and whether the sandbox added anything (the caller saves).
    """
    from peppolnet.operators import OperatorRegistry

    path = Path(file) if file else default_operators_path()
    sandbox = network is not None and network.strip().lower() == "sandbox"
    if file and (path.exists() or not (create or sandbox)):
        readable_file(str(file), _("operator file"))
    registry = OperatorRegistry.load(path) if path.is_file() else OperatorRegistry()
    changed = False
    if sandbox:
        for operator in sandbox_operators(state_file):
            before = registry.by_seat_id(operator.seat_id)
            if registry.add(operator) != before:
                changed = True
    return registry, path, changed


def save_registry(registry: OperatorRegistry, path: Path) -> None:
    """Save, creating the folder; OS errors become InvalidInput naming the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        registry.save(path)
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise InvalidInput(
            _("cannot write the operator file {path}: {problem}", path=path, problem=problem)
        ) from exc


def add_registry_arguments(parser: argparse.ArgumentParser) -> None:
    """``--operators-file`` for commands that resolve operator names (``request add``)."""
    parser.add_argument(
        "--operators-file",
        metavar="PATH",
        type=output_file,
        help=_("the operator registry (default: operators.json next to the database)"),
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "operators", help=_("the operator registry (list, show, add)"), description=_DESCRIPTION
    )
    sub = parser.add_subparsers(dest="operators_command", metavar="SUBCOMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--file",
            metavar="PATH",
            type=output_file,
            help=_("the registry, in an existing folder (default: next to the database)"),
        )
        p.add_argument("--json", action="store_true", help=_("print JSON"))
        p.add_argument(
            "--network",
            type=network_choice,
            help=_("`sandbox`: add the running sandbox's operators to the registry"),
        )
        add_state_file_argument(p)

    listing = sub.add_parser("list", help=_("every known operator"))
    common(listing)
    listing.set_defaults(handler=_list)

    show = sub.add_parser("show", help=_("one operator, by Seat ID, SPID or name"))
    show.add_argument("operator", help=_("a Seat ID (PSE000102), SPID (0242:000102) or name"))
    common(show)
    show.set_defaults(handler=_show)

    add = sub.add_parser("add", help=_("add or update an operator"))
    add.add_argument("--seat-id", help=_("the Seat ID, e.g. PSE000102"))
    add.add_argument("--name", help=_("the operator's name"))
    add.add_argument("--country", help=_("two-letter country code"))
    common(add)
    add.set_defaults(handler=_add)


def _open(args: argparse.Namespace) -> tuple[OperatorRegistry, Path]:
    registry, path, changed = load_registry(
        args.file, network=args.network, state_file=args.state_file
    )
    if changed:
        save_registry(registry, path)
    return registry, path


def _list(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json, table

    registry, path = _open(args)
    operators = list(registry)
    if args.json:
        print_json([op.to_json() for op in operators])
        return 0
    if not operators:
        echo(_("no operators in {path}; add one with `peppolnet operators add`", path=path))
        return 0
    rows = [[op.seat_id, op.name or "", op.country or ""] for op in operators]
    print(table(rows, ["SEAT ID", _("NAME"), _("COUNTRY")]))
    return 0


def _show(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import fail, print_json

    registry, _changed = _open(args)
    match = registry.find(args.operator)
    if match.operator is None:
        message = match.message
        if args.json:
            print_json(
                {
                    "found": False,
                    "problem": message,
                    "suggestions": [op.to_json() for op in match.suggestions],
                }
            )
            return 1
        return fail(message)
    op = match.operator
    if args.json:
        print_json({"found": True, **op.to_json()})
        return 0
    name = op.name or say(_("(no name)"))
    print(safe_text(f"{op.seat_id}  {name}  {op.country or ''}".rstrip()))
    for url in sorted(op.smp_urls):  # names and URLs were learnt from lookups
        print(f"  SMP: {safe_text(url)}")
    for url in sorted(op.ap_urls):
        print(f"  AP:  {safe_text(url)}")
    return 0


def _add(args: argparse.Namespace) -> int:
    from peppolnet.cli._output import print_json
    from peppolnet.operators import Operator

    if args.seat_id is None and args.network != "sandbox":
        raise UsageError(_("give --seat-id (and --name, --country) or --network sandbox"))
    registry, path, _changed = load_registry(
        args.file, network=args.network, state_file=args.state_file, create=True
    )
    added: Operator | None = None
    if args.seat_id is not None:
        country = args.country.strip().upper() if args.country else None
        if country is not None and not (len(country) == 2 and country.isalpha()):
            raise InvalidInput(
                _("--country must be a two-letter code, not {value!r}", value=args.country)
            )
        added = registry.add(
            Operator.from_json(
                {"seat_id": args.seat_id.strip().upper(), "name": args.name, "country": country}
            )
        )
    save_registry(registry, path)
    if args.json:
        print_json(
            {
                "file": str(path),
                "operator": added.to_json() if added else None,
                "count": len(registry),
            }
        )
    else:
        count = len(registry)
        if added is not None:
            saved = _("{operator} saved; {count} operators in {path}", operator=str(added),
                      count=count, path=path)  # fmt: skip
        else:
            saved = _(
                "sandbox operators saved; {count} operators in {path}", count=count, path=path
            )
        echo(saved)
    return 0
