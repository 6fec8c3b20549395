"""The language the command speaks: ``--lang sv|en``, else the environment (``PEPPOLNET_LANG``,
then the POSIX locale), else English.

The language is known before the parser is built (:func:`language_in` peeks at the command
line), because the parser's own messages - option help, our option parsers' refusals - are
rendered while the command line is parsed. It is held in a context variable for the run, so the
helpers that print (``_output.safe_text``, ``fail``, ``table``) render every
:class:`~peppolnet.i18n.Message` in it without each command passing the language around; a
command hands :func:`language` to the library where the library takes ``language=``.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar

from peppolnet.i18n import (
    DEFAULT_LANGUAGE,
    Language,
    _,
    language_from_environment,
    parse_language,
    render,
)

__all__ = ["language", "language_in", "language_option", "say", "speaking"]

_LANGUAGE: ContextVar[Language] = ContextVar("peppolnet_cli_language", default=DEFAULT_LANGUAGE)

OPTION = "--lang"


def language() -> Language:
    """The language of the running command."""
    return _LANGUAGE.get()


@contextlib.contextmanager
def speaking(lang: Language) -> Iterator[None]:
    """Run the enclosed code with ``lang`` as the command's language."""
    token = _LANGUAGE.set(lang)
    try:
        yield
    finally:
        _LANGUAGE.reset(token)


def say(text: object) -> str:
    """``text`` in the command's language: a Message (or an exception carrying one) is
    rendered, anything else is ``str(text)``. No escaping: see ``_output.safe_text``."""
    return render(text, language())


def language_in(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Language:
    """The language a command line asks for: its last valid ``--lang`` (anywhere before
    ``--``), else :func:`~peppolnet.i18n.language_from_environment`. An invalid value is left
    for the parser to refuse (exit 2), in the environment's language."""
    chosen: Language | None = None
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == OPTION and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith(OPTION + "="):
            value = arg.partition("=")[2]
        else:
            continue
        with contextlib.suppress(ValueError):
            chosen = parse_language(value)
    return chosen or language_from_environment(environ)


def language_option(text: str) -> Language:
    """An argparse type for ``--lang``: ``sv`` or ``en`` (``svenska``, ``sv_SE`` too)."""
    try:
        return parse_language(text)
    except ValueError:
        message = _("unknown language {value!r}: use sv (svenska) or en (English)", value=text)
        raise argparse.ArgumentTypeError(say(message)) from None


def add_language_argument(parser: argparse.ArgumentParser) -> None:
    """``--lang`` on ``parser``: every parser of the command has it, so it may be given before
    or after the sub-command (the value was already read by :func:`language_in`)."""
    parser.add_argument(
        OPTION,
        metavar="sv|en",
        type=language_option,
        default=argparse.SUPPRESS,
        help=_("the language of the output (default: from PEPPOLNET_LANG or the locale)"),
    )
