"""The mail server requests and confirmations are sent through, and its login.

Shared by ``peppolnet serve`` (its settings file, :mod:`peppolnet.web.config`) and ``peppolnet
request ... --send smtp`` (``--config FILE``, which reads only the file's ``[smtp]`` table), so
both log in alike and the request command does not import the web package. The password comes
only from the environment (:data:`SMTP_SECRETS`), never from a file or the command line.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from peppolnet._settingsfile import TableReader, read_toml
from peppolnet.errors import InvalidInput
from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.recipients.channels import SmtpChannel
    from peppolnet.recipients.tracking import EmailNotifier

__all__ = ["SMTP_KEYS", "SMTP_SECRETS", "SmtpSettings", "load_smtp", "smtp_settings"]

#: The mail server's secret and the environment variable it comes from (never the file).
SMTP_SECRETS: Final = {"smtp.password": "PEPPOLNET_SMTP_PASSWORD"}
#: The keys of a settings file's ``[smtp]`` table and their kinds.
SMTP_KEYS: Final = {
    "host": "str",
    "port": "int",
    "security": "str",
    "username": "str",
    "from": "str",
    "to": "str",
    "ca_file": "str",
}


@dataclasses.dataclass(frozen=True)
class SmtpSettings:
    """The mail server: requests are mailed ``to`` the operator (when set), confirmations go
    ``sender`` → the requester. ``ca_file`` trusts a private CA for STARTTLS/TLS."""

    host: str | None = None
    port: int | None = None
    security: str = "starttls"
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    sender: str | None = None
    to: str | None = None
    ca_file: str | None = None

    def check_login(self) -> None:
        """A username and a password go together: one without the other is one sentence that
        says where the missing one is given."""
        variable = SMTP_SECRETS["smtp.password"]
        if self.username is not None and self.password is None:
            raise InvalidInput(
                _(
                    "the mail server's username needs its password in the environment "
                    "variable {variable}",
                    variable=variable,
                )
            )
        if self.password is not None and self.username is None:
            raise InvalidInput(
                _(
                    "{variable} is set, but no username to log in with is given ([smtp] "
                    "username in the settings file, or --smtp-username)",
                    variable=variable,
                )
            )

    def _server(self) -> dict[str, Any]:
        context = None
        if self.ca_file is not None:
            try:
                context = ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise InvalidInput(
                    _(
                        "the mail server's CA file {file} cannot be used: {reason}",
                        file=self.ca_file,
                        reason=getattr(exc, "strerror", None) or str(exc),
                    )
                ) from None
        return {
            "security": self.security,
            "username": self.username,
            "password": self.password,
            "ssl_context": context,
        }

    def channel(self, language: str | None) -> SmtpChannel:
        """The channel that mails requests to the operator (``to`` and ``sender`` needed)."""
        from peppolnet.recipients.channels import SmtpChannel

        host, sender = self._host_and_sender()
        if self.to is None:
            raise InvalidInput(
                _("requests are mailed to the operator's address: --smtp-to, or [smtp] to")
            )
        return SmtpChannel(
            host,
            self.port,
            to=self.to,
            sender=sender,
            language=language,
            **self._server(),
        )

    def notifier(self, language: str | None) -> EmailNotifier:
        """What mails the confirmations (``sender`` needed)."""
        from peppolnet.recipients.tracking import EmailNotifier

        host, sender = self._host_and_sender()
        return EmailNotifier(host, self.port, sender=sender, language=language, **self._server())

    def _host_and_sender(self) -> tuple[str, str]:
        if self.host is None or self.sender is None:
            raise InvalidInput(
                _(
                    "the mail server needs its address and the sender of the mails: --smtp "
                    "HOST:PORT and --smtp-from, or host and from in [smtp]"
                )
            )
        return self.host, self.sender


def smtp_settings(values: Mapping[str, Any], env: Mapping[str, str]) -> SmtpSettings:
    """An ``[smtp]`` table's checked values as settings, the password from ``env``."""
    return SmtpSettings(
        host=values.get("host"),
        port=values.get("port"),
        security=values.get("security", "starttls"),
        username=values.get("username"),
        password=env.get(SMTP_SECRETS["smtp.password"]) or None,
        sender=values.get("from"),
        to=values.get("to"),
        ca_file=values.get("ca_file"),
    )


def load_smtp(path: str | Path | None, environ: Mapping[str, str] | None = None) -> SmtpSettings:
    """The ``[smtp]`` table of the settings file at ``path`` (the rest of the file is the
    page's, and not read here), its password from ``environ`` (default: the process's); with
    no file, only the password. Raises :class:`~peppolnet.errors.InvalidInput` naming what is
    wrong."""
    env = os.environ if environ is None else environ
    if path is None:
        return smtp_settings({}, env)
    source, data = read_toml(path)
    reader = TableReader(source, SMTP_SECRETS)
    return smtp_settings(reader.values(data.get("smtp", {}), "smtp", SMTP_KEYS), env)
