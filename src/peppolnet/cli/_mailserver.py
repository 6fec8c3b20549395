"""The mail server as the command line describes it, over a settings file's ``[smtp]`` table.

Why one function for ``peppolnet serve`` and ``peppolnet request``: both describe the mail server
with the same options (``--smtp HOST:PORT``, ``--smtp-to``, ``--smtp-from``, ``--smtp-security``,
``--smtp-username``) and the same settings file, and the command line wins over the file in both
the same way; the password comes only from ``PEPPOLNET_SMTP_PASSWORD``
(:mod:`peppolnet.recipients.mailserver`).
"""

from __future__ import annotations

import argparse
import dataclasses

from peppolnet.cli._output import UsageError, host_port
from peppolnet.errors import InvalidInput
from peppolnet.recipients.mailserver import SmtpSettings

__all__ = ["smtp_from_arguments"]


def smtp_from_arguments(args: argparse.Namespace, base: SmtpSettings) -> SmtpSettings:
    """``base`` (a settings file's ``[smtp]``, or only the environment's password) with the
    options given on the command line put over it; a login with only one half is a usage
    error naming where the other half is given."""
    smtp = base
    if args.smtp:
        host, port = host_port(args.smtp, "--smtp")
        smtp = dataclasses.replace(smtp, host=host, port=port)
    given = {
        "to": args.smtp_to,
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
