"""Small helpers shared by the command modules: option values, files, JSON, errors, tables,
and :func:`safe_text`, which every human-readable output passes network-derived text through.

The option-value parsers here are the reason every command answers a bad command line the same
way (exit 2, one sentence). Used as argparse ``type=`` they reject a value while the command
line is parsed, before any file is read or any network is asked; where a value can only be
checked later (it depends on another option), the same rule raises :class:`UsageError`.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

from peppolnet.cli._language import say
from peppolnet.errors import InvalidInput
from peppolnet.i18n import Message, _

T = TypeVar("T")


class UsageError(InvalidInput):
    """The command line cannot be run as written (a malformed option value, options that need
    each other, a file that cannot be read, a folder that does not exist): exit code 2."""


def argparse_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type=`` from a parser that raises :class:`InvalidInput` (a UsageError, an
    InvalidIdentifier...): the value is refused while the command line is parsed, with the
    parser's own sentence, so the same rule gives the same message at parse time and later."""

    def checked(text: str) -> T:
        try:
            return parse(text)
        except InvalidInput as exc:
            raise argparse.ArgumentTypeError(say(exc)) from None

    checked.__name__ = getattr(parse, "__name__", "value")  # argparse names it in some messages
    return checked


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (limits, counts)."""
    try:
        value = int(text)
    except ValueError:
        raise refused(_("{text!r} is not a whole number", text=text)) from None
    if value < 1:
        raise refused(_("must be at least 1, got {value}", value=value))
    return value


def positive_seconds(text: str) -> float:
    """An argparse type: a number of seconds above zero (timeouts)."""
    try:
        value = float(text)
    except ValueError:
        raise refused(_("{text!r} is not a number of seconds", text=text)) from None
    if not 0 < value < float("inf"):
        raise refused(_("must be a positive number of seconds, got {text!r}", text=text))
    return value


def port_number(text: str) -> int:
    """An argparse type: a TCP/UDP port, 0 to 65535 (0: any free port, where that means one)."""
    if not text.strip().isdigit() or int(text) > 65535:
        raise refused(_("{text!r} is not a port number (0 to 65535)", text=text))
    return int(text)


def host_port(text: str, flag: str | None = None) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:53`` for IPv6) as a pair; anything else is a usage error."""
    host, sep, port = text.rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or int(port) > 65535:
        if flag:
            raise UsageError(_("{flag} must be HOST:PORT, got {text!r}", flag=flag, text=text))
        raise UsageError(_("must be HOST:PORT, got {text!r}", text=text))
    return host.strip("[]"), int(port)


def iso_time(text: str | None, flag: str) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset; none means UTC) as an aware datetime; None for none.

    One parser for ``--since`` and ``--at`` everywhere, so they accept the same spellings.
    """
    if text is None or not text.strip():
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            _("{flag} {text!r} is not an ISO 8601 time", flag=flag, text=text)
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def since_time(text: str | None) -> datetime | None:
    """``--since ISO-TIME`` as an aware datetime (UTC when no zone is given); None without one."""
    return iso_time(text, "--since")


def one_character(text: str) -> str:
    """An argparse type for CSV delimiters: one character; ``tab`` or ``\\t`` for a tab."""
    value = "\t" if text in ("tab", "\\t") else text
    if len(value) != 1 or value in '\r\n"':
        raise refused(_("must be one character (or 'tab'), got {text!r}", text=text))
    return value


def text_encoding(text: str) -> str:
    """An argparse type: the name of a text encoding Python knows (``cp1252``, ``utf-8``...)."""
    try:
        codecs.lookup(text)
    except LookupError:
        raise refused(_("{text!r} is not a known text encoding", text=text)) from None
    return text


def _name(path: Path) -> str:
    return str(path) or "."


def readable_file(text: str, what: str | Message | None = None) -> str:
    """``text`` if it names a file this process can read; else a :class:`UsageError` saying why.

    A missing file, a folder and a file without read permission are all the same class of
    mistake (the command line names something that cannot be read), so all are exit 2.
    """
    path = Path(text).expanduser()
    what = what or _("file")
    if not path.exists():
        raise UsageError(_("the {what} {name!r} does not exist", what=what, name=_name(path)))
    if path.is_dir():
        raise UsageError(_folder(what, path))
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise UsageError(
            _(
                "the {what} {name!r} cannot be read: {problem}",
                what=what,
                name=_name(path),
                problem=problem,
            )
        ) from None
    return text


def _folder(what: str, path: Path) -> Message:
    return _("the {what} {name!r} is a folder, not a file", what=what, name=_name(path))


def writable_path(text: str, what: str | Message | None = None) -> str:
    """``text`` if a file could be created there: its folder must already exist.

    Creating a tree of folders for a mistyped path would hide the typo until someone wonders
    where the data went; only the default per-user locations are created on demand.
    """
    path = Path(text).expanduser()
    what = what or _("file")
    if path.is_dir():
        raise UsageError(_folder(what, path))
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(
            _(
                "the folder {folder!r} of the {what} {name!r} does not exist; create it first",
                folder=_name(folder),
                what=what,
                name=_name(path),
            )
        )
    return text


def standard_input() -> TextIO:
    """``sys.stdin``, or a :class:`UsageError` when the command was started with it closed.

    A process started with standard input closed (``<&-``, some service managers and cron
    set-ups) has no ``sys.stdin`` at all - Python sets it to None - so the first read was an
    AttributeError traceback. Reading from a closed input is a command line that cannot be run
    as written, like naming a file that cannot be read: exit 2 with one sentence.
    """
    if sys.stdin is None:
        raise UsageError(_("standard input is closed: there is nothing to read from it"))
    return sys.stdin


def _country(text: str) -> str:
    from peppolnet.schemes import country_of  # the code lists: not at every start-up

    return country_of(text)


#: An argparse type: a country as people write it (``SE``, ``Sverige``, ``Sweden``), as its
#: ISO code.
country_option = argparse_type(_country)


def add_register_country_argument(parser: argparse.ArgumentParser) -> None:
    """``--country`` of a command that reads a register: the country of rows without one.

    One that names no country is refused before any row is read: otherwise every row without
    a country of its own would be invalid, one by one, in a run that exits 0."""
    parser.add_argument(
        "--country",
        type=country_option,
        help=_("country for rows without one (e.g. SE, Sverige)"),
    )


input_file = argparse_type(readable_file)
output_file = argparse_type(lambda text: writable_path(text, _("output file")))
database_file = argparse_type(lambda text: writable_path(text, _("database")))


def refused(message: Message) -> argparse.ArgumentTypeError:
    """An option value refused while the command line is parsed, in the command's language
    (argparse keeps only the text, so the message is rendered here)."""
    return argparse.ArgumentTypeError(say(message))


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    """``--db PATH``: the recipient database; its folder must exist (the default is created)."""
    parser.add_argument(
        "--db",
        metavar="PATH",
        type=database_file,
        help=_("the database file, in an existing folder (default: per-user, $PEPPOLNET_DB)"),
    )


#: Unicode categories that are not shown as themselves: controls (C0, DEL, C1; ESC starts the
#: ANSI sequences), format characters (the bidi overrides and isolates, zero-width characters,
#: tags), line and paragraph separators, and lone surrogates (undecodable bytes).
_UNSAFE_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs"))
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(char: str) -> str:
    code = ord(char)
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe_text(value: object) -> str:
    """``value`` as text that shows what it holds and cannot act on the terminal.

    What the network says is untrusted text: an SMP host from an unsigned DNS answer, an
    endpoint URL, an operator name from a certificate, a Directory entry, a reason that quotes
    them. Printed raw, an ANSI escape recolours or rewrites the screen, a carriage return or a
    line separator (U+2028) forges a line, and a bidi override (U+202E) shows what follows it
    backwards, so a URL or a name reads as another than the one the check was about. Every control,
    format and separator character is therefore shown as a visible escape, as Python writes it:
    ``\\x1b``, ``\\n``, ``\\u202e``, ``\\u2028``. Letters, marks and spaces of every script are
    kept. The escapes are for reading, not for parsing back (a backslash is kept as it is); JSON
    output stays exact and does not use this. A :class:`~peppolnet.i18n.Message` (or an error
    carrying one) is rendered in the command's language first.
    """
    text = say(value)
    if text.isprintable():  # the common case: nothing to escape
        return text
    unsafe = _UNSAFE_CATEGORIES
    return "".join(_escape(c) if unicodedata.category(c) in unsafe else c for c in text)


def safe_lines(lines: str | Iterable[str]) -> str:
    """Text of several lines, each through :func:`safe_text`, joined by newlines: for what a
    library renders for people line by line (a summary, a request). Give the lines themselves
    where you can; a string is split at ``\\n``, so a newline inside one of its values still
    starts a line (every other control character in it is escaped)."""
    parts = lines.split("\n") if isinstance(lines, str) else lines
    return "\n".join(safe_text(line) for line in parts)


def print_json(data: Any) -> None:
    """Print one JSON document (UTF-8, stable key order as given) followed by a newline."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(message: object, *, code: int = 1) -> int:
    """Print ``peppolnet: error: message`` to stderr and return ``code`` for the caller to exit.

    The message is one line through :func:`safe_text`: an error often quotes what the network
    answered."""
    sys.stderr.write(f"peppolnet: error: {safe_text(message)}\n")
    return code


def echo(message: object, *, file: TextIO | None = None) -> None:
    """Print one line for people: ``message`` in the command's language, through
    :func:`safe_text` (its parameters often quote the network), to stdout or ``file``."""
    print(safe_text(message), file=file)


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """A plain left-aligned text table (no dependency, no colour); every cell goes through
    :func:`safe_text` (tables show customers, operators and Directory entries), which renders
    headings and cells that are messages in the command's language."""
    headers = [safe_text(h) for h in headers]
    rows = [[safe_text(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in rows)
    return "\n".join(lines)
