"""The mail server as the command line describes it, over a settings file's ``[smtp]`` table.

Why one module for ``peppolnet serve``, ``peppolnet request add|update|send`` and ``request
follow-up``: all describe the mail server with the same options (``--smtp HOST:PORT``,
``--smtp-from``, ``--smtp-security``, ``--smtp-username``) and the same settings file, and the
command line wins over the file in all of them the same way; the password comes only from
``PEPPOLNET_SMTP_PASSWORD`` (:mod:`peppolnet.recipients.mailserver`).

``follow-up`` had its own spellings before it could log in (``--notify-smtp``,
``--notify-from``, ``--notify-security``): they stay, as aliases of the ``--smtp`` options, and
the ``--smtp`` spelling wins when both are given.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any, Final

from peppolnet.cli._language import say
from peppolnet.cli._output import UsageError, host_port
from peppolnet.errors import InvalidInput
from peppolnet.i18n import _
from peppolnet.recipients.mailserver import SmtpSettings

if TYPE_CHECKING:
    from peppolnet.recipients.tracking import EmailNotifier

__all__ = [
    "NOTIFY_SENDER",
    "add_config_option",
    "add_mailserver_options",
    "add_notify_aliases",
    "mailbox",
    "notifier_from_arguments",
    "smtp_from_arguments",
]

#: The sender of confirmation mails when neither an option nor the settings file names one
#: (``follow-up --notify-from``'s default before the settings file could give it).
NOTIFY_SENDER: Final = "peppolnet@localhost"
#: follow-up's older spellings: each alias's dest, the dest of the option it stands for.
_ALIASES: Final = {
    "notify_smtp": "smtp",
    "notify_from": "smtp_from",
    "notify_security": "smtp_security",
}
_SECURITY: Final = ("none", "starttls", "ssl")


def mailbox(text: str) -> str:
    """An argparse type: one mail address, ``NAME <ADDRESS>`` or ``ADDRESS``, on one line.

    These go into mail headers: a line break (header injection) or a second address is a usage
    error naming the option, found before anything is sent, never a traceback at send time.
    """
    from peppolnet.recipients.request import parse_mailbox

    try:
        parse_mailbox(text, strict=False)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(say(exc)) from None
    return text.strip()


def add_mailserver_options(group: Any) -> None:
    """The options that describe the mail server and its login (no defaults: a settings file's
    ``[smtp]`` values apply unless the option is given)."""
    group.add_argument("--smtp", metavar="HOST:PORT", help=_("the mail server (smtp)"))
    group.add_argument("--smtp-from", type=mailbox, help=_("the sender address (smtp)"))
    group.add_argument(
        "--smtp-security", choices=_SECURITY,
        help=_("how the connection to the mail server is protected (default: starttls)"),
    )  # fmt: skip
    group.add_argument(
        "--smtp-username",
        help=_("the mail server's login; its password from PEPPOLNET_SMTP_PASSWORD"),
    )


def add_notify_aliases(group: Any) -> None:
    """``follow-up``'s older spellings of ``--smtp``, ``--smtp-from`` and ``--smtp-security``."""
    group.add_argument(
        "--notify-smtp", metavar="HOST:PORT",
        help=_("the same as --smtp (the older spelling; --smtp wins when both are given)"),
    )  # fmt: skip
    group.add_argument(
        "--notify-from", type=mailbox,
        help=_("the same as --smtp-from (default: peppolnet@localhost)"),
    )  # fmt: skip
    group.add_argument(
        "--notify-security", choices=_SECURITY, help=_("the same as --smtp-security")
    )


def add_config_option(p: Any) -> None:
    """``--config FILE``: the mail server from a settings file's ``[smtp]`` table (``p`` a
    parser or an argument group, after the options its help says win over it)."""
    p.add_argument(
        "--config",
        metavar="FILE",
        help=_(
            "a settings file (TOML, as for peppolnet serve --config) whose [smtp] table "
            "describes the mail server; the options above win over it"
        ),
    )


def smtp_from_arguments(args: argparse.Namespace, base: SmtpSettings) -> SmtpSettings:
    """``base`` (a settings file's ``[smtp]``, or only the environment's password) with the
    options given on the command line put over it; a login with only one half is a usage
    error naming where the other half is given."""
    smtp = base
    if args.smtp:
        host, port = host_port(args.smtp, "--smtp")
        smtp = dataclasses.replace(smtp, host=host, port=port)
    given = {
        # follow-up has no --smtp-to: confirmations go to the requester, not the operator
        "to": getattr(args, "smtp_to", None),
        "sender": args.smtp_from,
        "security": args.smtp_security,
        "username": args.smtp_username,
    }
    smtp = dataclasses.replace(smtp, **{k: v for k, v in given.items() if v is not None})
    try:
        smtp.check_login()
    except InvalidInput as exc:
        raise UsageError(exc.message) from exc
    return smtp


def _mail_wanted(args: argparse.Namespace) -> bool:
    """Whether any mail-server option (or ``--config``) was given: then the mail is wanted,
    and a mail server must be named somewhere."""
    names = ("config", "smtp_username", *_ALIASES, *_ALIASES.values())
    return any(getattr(args, name) is not None for name in names)


def notifier_from_arguments(args: argparse.Namespace, language: str | None) -> EmailNotifier | None:
    """``follow-up``'s confirmation mailer: ``--config``'s ``[smtp]`` with the options (and
    their ``--notify-*`` aliases, which the ``--smtp`` spellings win over) put over it; None
    when no mail option was given. Anything wrong is a usage error, found before any request
    is looked up."""
    from peppolnet.recipients.mailserver import load_smtp

    if not _mail_wanted(args):
        return None
    if args.notify_smtp is not None:
        host_port(args.notify_smtp, "--notify-smtp")  # a mistake names the option typed
    merged = argparse.Namespace(**vars(args))
    for alias, name in _ALIASES.items():
        if getattr(merged, name) is None:
            setattr(merged, name, getattr(args, alias))
    try:
        smtp = smtp_from_arguments(merged, load_smtp(args.config))
        if smtp.host is None:
            raise UsageError(
                _(
                    "confirmation mails need a mail server: --smtp HOST:PORT (or "
                    "--notify-smtp), or host in the [smtp] table of --config FILE"
                )
            )
        if smtp.sender is None:
            smtp = dataclasses.replace(smtp, sender=NOTIFY_SENDER)
        return smtp.notifier(language)
    except InvalidInput as exc:  # the file, its CA file, or the sender: what was given is wrong
        raise UsageError(exc.message) from exc
