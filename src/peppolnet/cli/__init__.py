"""The ``peppolnet`` command.

Each sub-command lives in its own module under :mod:`peppolnet.cli.commands` and exposes
``register(subparsers)``; this module discovers them, so adding a command never touches a shared
file. Command modules import their heavy dependencies inside their handlers to keep start-up fast.

Exit codes shared by every command (the README's table): 0 yes/ok, 1 a negative answer or an
invalid value, 2 a usage error (an unknown option, a malformed option value, a file that cannot
be read, a folder that does not exist), 3 unknown (a fault), 130 interrupted. They are decided
here, once: a command returns its answer's code or raises, and :func:`main` turns the exception
into a code and one sentence on stderr. No command prints a traceback for bad input, and a reader
that closes stdout early (``peppolnet lookup ID | head -1``) never changes the code.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import os
import pkgutil
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, TextIO, cast

from peppolnet._version import __version__
from peppolnet.cli import commands
from peppolnet.cli._language import add_language_argument, language_in, say, speaking
from peppolnet.cli._output import UsageError, fail
from peppolnet.errors import DamagedDatabase, InvalidInput, NetworkFault, PeppolnetError
from peppolnet.i18n import Message, _

__all__ = ["build_parser", "exit_code", "main"]


class _TranslatedHelp(argparse.HelpFormatter):
    """Help whose option help and descriptions are rendered in the command's language (they
    are :class:`~peppolnet.i18n.Message` values, and so are argparse's own words: "usage",
    the section titles and ``--help``'s own help, which :class:`_Parser` replaces)."""

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, say(_("usage: ")) if prefix is None else prefix)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        return None if text is None else say(text)

    def _format_text(self, text: str) -> str:
        return super()._format_text(say(text))

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        # a blank line separates paragraphs (a description's exit codes, say): each is filled
        # on its own, so a translated description needs no line breaks of its own
        fill = super()._fill_text
        return "\n\n".join(fill(paragraph, width, indent) for paragraph in text.split("\n\n"))

    def start_section(self, heading: str | None) -> None:
        # our option groups' titles ("network", "channel options") are messages too
        super().start_section(None if heading is None else say(heading))


class _TranslatedRawDescription(_TranslatedHelp, argparse.RawDescriptionHelpFormatter):
    """:class:`_TranslatedHelp` keeping the description's own line breaks."""


_FORMATTERS: dict[type, type] = {
    argparse.HelpFormatter: _TranslatedHelp,
    argparse.RawDescriptionHelpFormatter: _TranslatedRawDescription,
}


class _Parser(argparse.ArgumentParser):
    """argparse that exits with 2 and one sentence on one line, as every command promises.

    The usage block is left out: for the larger commands it is ten lines in which the one line
    that matters gets lost; the sentence points to ``--help`` instead. Every parser (each
    sub-command's too) takes ``--lang`` and renders its help in the command's language.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        formatter = kwargs.get("formatter_class", argparse.HelpFormatter)
        kwargs["formatter_class"] = _FORMATTERS.get(formatter, formatter)
        add_help = kwargs.get("add_help", True)
        kwargs["add_help"] = False  # ours below: its help is a message
        super().__init__(*args, **kwargs)
        # argparse's own words, as messages: the formatter renders them in the command's language
        self._positionals.title = _("positional arguments")
        self._optionals.title = _("options")
        if add_help:
            self.add_argument(
                "-h", "--help", action="help", help=_("show this help message and exit")
            )
        add_language_argument(self)

    def error(self, message: str) -> None:  # type: ignore[override]
        choices = self._missing_subcommand(message)
        if choices:
            message = say(_("choose one of: {choices}", choices=", ".join(choices)))
        else:
            message = say(argparse_message(message))
        hint = say(_("see `{command} --help`", command=self.prog))
        self.exit(2, f"{self.prog}: error: {message} ({hint})\n")

    def _missing_subcommand(self, message: str) -> list[str]:
        """The sub-command names, when ``message`` is argparse's "required: COMMAND"."""
        if not message.startswith("the following arguments are required"):
            return []
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and str(action.metavar) in message:
                return list(action.choices)
        return []


#: argparse's own usage errors (English only: it has no Swedish catalog) as messages whose
#: English is argparse's: each is recognised by its own template, a placeholder standing for
#: what argparse filled in (the values quoted stay as typed). What matches none is shown as
#: argparse wrote it.
_ARGPARSE_ERRORS: Final = (
    _("unrecognized arguments: {args}"),
    _("the following arguments are required: {args}"),
    _("one of the arguments {args} is required"),
    _("argument {argument}: invalid choice: {value} (choose from {choices})"),
    _("argument {argument}: expected one argument"),
    _("argument {argument}: not allowed with argument {other}"),
    _("argument {argument}: invalid {kind} value: {value}"),
    _("ambiguous option: {option} could match {matches}"),
)


@functools.cache
def _argparse_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each template of :data:`_ARGPARSE_ERRORS` as a pattern (made when a usage error is
    first said, not at every start-up)."""
    made = []
    for message in _ARGPARSE_ERRORS:
        parts = re.split(r"\{(\w+)\}", message.template)  # text, name, text, name, ..., text
        pattern = "".join(
            f"(?P<{part}>.+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
        )
        made.append((re.compile(pattern), message.template))
    return tuple(made)


def argparse_message(message: str) -> str:
    """argparse's English usage error ``message`` as a catalog message (the same English),
    so a Swedish command line says it in Swedish; anything else as it is."""
    for pattern, template in _argparse_patterns():
        found = pattern.fullmatch(message)
        if found is not None:
            return Message(template, **found.groupdict())
    return message


def _command_names() -> list[str]:
    """The sub-command modules (one per command, named like it), without importing them."""
    names = (info.name for info in pkgutil.iter_modules(commands.__path__))
    return sorted(name for name in names if not name.startswith("_"))


def _require_subcommands(parser: argparse.ArgumentParser) -> None:
    """Make every level of sub-commands required, so ``peppolnet customers`` alone is the same
    usage error (exit 2, one sentence naming the choices) as any other incomplete command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action.required = True
            for child in action.choices.values():
                _require_subcommands(child)


def build_parser(only: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser with every discovered sub-command (or just those in ``only``).

    ``main`` registers only the command being run: importing and registering all of them
    costs ~35 ms, most of ``peppolnet --version``'s start-up.
    """
    parser = _Parser(
        prog="peppolnet",
        description=_("Can this customer receive a Peppol e-invoice, and through which operator?"),
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"peppolnet {__version__}",
        help=_("show the version number and exit"),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _command_names():
        if only is None or name in only:
            module = importlib.import_module(f"{commands.__name__}.{name}")
            module.register(sub)
    _require_subcommands(parser)
    return parser


def _needed(argv: Sequence[str]) -> list[str] | None:
    """The commands ``argv`` needs registered: none for ``--version``, one for a known command,
    all (``None``) for help, errors and anything else, so those messages list every command."""
    if list(argv[:1]) == ["--version"]:
        return []
    words = [arg for i, arg in enumerate(argv) if not (i and argv[i - 1] == "--lang")]
    first = next((arg for arg in words if not arg.startswith("-")), None)
    return [first] if first is not None and first in _command_names() else None


def exit_code(exc: PeppolnetError) -> int:
    """The exit code of an error a command raised: the one place the contract is decided.

    2 for a usage error; 3 for a fault (the network or a store could not answer: trying later may
    give an answer; or the local database is damaged: there is no answer to give, and it must
    not be read as a negative one); 1 for everything else, which is an answer about a value the
    user gave (an invalid identifier or request, a register without an id column, an unknown
    operator).
    """
    if isinstance(exc, UsageError):
        return 2
    if exc.retryable or isinstance(exc, DamagedDatabase):
        return 3
    if isinstance(exc, NetworkFault) and not isinstance(exc, InvalidInput):
        return 3
    return 1


class _ReaderMayLeave:
    """A text stream whose reader may close the pipe (``| head -1``) without changing anything.

    Python ignores SIGPIPE, so a write to a closed pipe raises BrokenPipeError: thrown out of
    a command half-way, it would replace the answer's exit code, and raised again when the
    interpreter flushes stdout at exit it turns any code into 120. Here the first EPIPE points
    the file descriptor at /dev/null (so the exit flush succeeds too) and later writes are
    dropped: the command finishes, and its code is the code of its answer.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_left = False

    def write(self, text: str) -> int:
        if not self.reader_left:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._divert()
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.reader_left:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._divert()

    def _divert(self) -> None:
        self.reader_left = True
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):  # not a real file (a test's capture): nothing to divert
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def _readers_may_leave() -> Iterator[None]:
    """Run with stdout and stderr guarded by :class:`_ReaderMayLeave`; flush both at the end,
    while still guarded, so nothing is left for the interpreter's exit flush to fail on."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = cast(TextIO, _ReaderMayLeave(out))
    sys.stderr = cast(TextIO, _ReaderMayLeave(err))
    try:
        yield
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            sys.stdout, sys.stderr = out, err


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (also used by the console script).

    Usage errors, ``--help`` and ``--version`` return their code too, instead of raising
    SystemExit, so a caller (or a test) sees one kind of result for every command line.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    with _readers_may_leave(), speaking(language_in(arguments)):
        return _run(arguments)


def _run(arguments: list[str]) -> int:
    parser = build_parser(_needed(arguments))
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # a usage error (2), or --help / --version (0)
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    try:
        code: int = args.handler(args)
    except PeppolnetError as exc:
        return fail(exc, code=exit_code(exc))
    except OSError as exc:  # an I/O error no layer below named: still a sentence, no traceback
        if exc.filename is not None:
            problem = exc.strerror or str(exc)
            return fail(
                _("cannot use {file}: {problem}", file=exc.filename, problem=problem), code=2
            )
        return fail(str(exc) or type(exc).__name__, code=3)
    except KeyboardInterrupt:
        return fail(_("interrupted"), code=130)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
