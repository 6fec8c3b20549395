"""The ``peppolnet`` command.

Each sub-command lives in its own module under :mod:`peppolnet.cli.commands` and exposes
``register(subparsers)``; this module discovers them, so adding a command never touches a shared
file. Command modules import their heavy dependencies inside their handlers to keep start-up fast.

Exit codes shared by every command: 0 success, 1 a negative answer or an invalid value, 2 a usage
error, 3 a fault or an unreadable document. No command ever prints a traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from peppolnet._version import __version__
from peppolnet.cli import commands
from peppolnet.cli._output import UsageError, fail
from peppolnet.errors import PeppolnetError

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse that exits with 2 and a one-line message, as every command promises."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _command_names() -> list[str]:
    """The sub-command modules (one per command, named like it), without importing them."""
    names = (info.name for info in pkgutil.iter_modules(commands.__path__))
    return sorted(name for name in names if not name.startswith("_"))


def build_parser(only: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser with every discovered sub-command (or just those in ``only``).

    ``main`` registers only the command being run: importing and registering all of them
    costs ~35 ms, most of ``peppolnet --version``'s start-up.
    """
    parser = _Parser(
        prog="peppolnet",
        description="Can this customer receive a Peppol e-invoice, and through which operator?",
    )
    parser.add_argument("--version", action="version", version=f"peppolnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _command_names():
        if only is None or name in only:
            module = importlib.import_module(f"{commands.__name__}.{name}")
            module.register(sub)
    return parser


def _needed(argv: Sequence[str]) -> list[str] | None:
    """The commands ``argv`` needs registered: none for ``--version``, one for a known command,
    all (``None``) for help, errors and anything else, so those messages list every command."""
    if list(argv[:1]) == ["--version"]:
        return []
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return [first] if first is not None and first in _command_names() else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (also used by the console script)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_needed(arguments))
    args = parser.parse_args(arguments)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = handler(args)
    except UsageError as exc:
        return fail(str(exc), code=2)
    except PeppolnetError as exc:
        return fail(str(exc), code=3 if exc.retryable else 1)
    except KeyboardInterrupt:
        return fail("interrupted", code=130)
    except BrokenPipeError:  # e.g. `peppolnet schemes | head`
        return 0
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
