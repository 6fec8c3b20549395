"""The support page's settings file (``peppolnet serve --config FILE``), and its secrets.

Why a file: an operator runs the page as a service, and most of what it changes - branding,
limits, DNSSEC, the operator it works for, where requests go, the mail server - would otherwise
be a long command line or Python. Why not everything in it: a password in a file ends up in
backups and repositories, and one on the command line in ``ps`` and shell history, so secrets
come from the environment only (:data:`SECRETS`): ``PEPPOLNET_SMTP_PASSWORD`` and
``PEPPOLNET_SECRET_KEY``. A secret written in the file is refused, naming the variable.

The file is TOML (read with :mod:`tomllib`); every key is checked - an unknown one, or a value
of the wrong kind, is one sentence naming the file and the key. docs/web.md shows a full file.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from peppolnet.errors import InvalidInput
from peppolnet.i18n import Message, _
from peppolnet.web.settings import WebSettings

if TYPE_CHECKING:
    from peppolnet.recipients.channels import SmtpChannel
    from peppolnet.recipients.tracking import EmailNotifier

__all__ = ["SECRETS", "ServeConfig", "SmtpSettings", "load_config", "parse_config"]

#: The secrets and the environment variables they come from (never the file or command line).
SECRETS: Final = {
    "smtp.password": "PEPPOLNET_SMTP_PASSWORD",
    "page.secret_key": "PEPPOLNET_SECRET_KEY",
}

#: What each kind of value is called in an error, and the TOML types it accepts.
_KINDS: Final[Mapping[str, tuple[Message, tuple[type, ...]]]] = {
    "str": (_("text"), (str,)),
    "str | None": (_("text"), (str,)),
    "int": (_("a whole number"), (int,)),
    "float": (_("a number"), (int, float)),
    "bool": (_("true or false"), (bool,)),
}
#: The page's settings the file may hold (``WebSettings``' fields but the clock and the secret).
_PAGE: Final = {
    field.name: str(field.type)
    for field in dataclasses.fields(WebSettings)
    if field.name not in ("clock", "secret_key")
}
_TOP: Final = {"network": "str", "host": "str", "port": "int", "db": "str"}
_CASES: Final = {"operator": "str", "follow_up_every": "float", "requires_einvoice": "bool"}
_SMTP: Final = {
    "host": "str",
    "port": "int",
    "security": "str",
    "username": "str",
    "from": "str",
    "to": "str",
    "ca_file": "str",
}
_DESK: Final = {"url": "str"}
_OUTBOX: Final = {"folder": "str"}


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
        variable = SECRETS["smtp.password"]
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


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """A settings file as read: what ``peppolnet serve`` starts the page with (its command-line
    options win over it). Empty - everything None - when there is no file."""

    settings: WebSettings = dataclasses.field(default_factory=WebSettings)
    source: str = ""
    """The file it was read from (empty: none, only the environment's secrets)."""
    network: str | None = None
    host: str | None = None
    port: int | None = None
    db: str | None = None
    operator: str | None = None
    follow_up_every: float | None = None
    requires_einvoice: bool | None = None
    desk_url: str | None = None
    outbox: str | None = None
    smtp: SmtpSettings = dataclasses.field(default_factory=SmtpSettings)


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> ServeConfig:
    """Read the settings file at ``path``; the secrets from ``environ`` (default the process's).

    Raises :class:`~peppolnet.errors.InvalidInput` with one sentence naming what is wrong."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(
            _("cannot read the settings file {file}: {reason}", file=str(file), reason=reason)
        ) from None
    return parse_config(text, source=str(file), environ=environ)


def parse_config(
    text: str, *, source: str = "<string>", environ: Mapping[str, str] | None = None
) -> ServeConfig:
    """A settings file's text as a :class:`ServeConfig` (``source`` names it in errors)."""
    env = os.environ if environ is None else environ
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(
            _("{file} is not valid TOML: {reason}", file=source, reason=str(exc))
        ) from None
    reader = _Reader(source)
    tables = {"page": _PAGE, "cases": _CASES, "smtp": _SMTP, "channels": {}}
    top = reader.values(data, "", _TOP, tables)
    page = reader.values(data.get("page", {}), "page", _PAGE)
    cases = reader.values(data.get("cases", {}), "cases", _CASES)
    channels = data.get("channels", {})
    reader.values(channels, "channels", {}, {"desk": _DESK, "outbox": _OUTBOX})
    desk = reader.values(channels.get("desk", {}), "channels.desk", _DESK)
    outbox = reader.values(channels.get("outbox", {}), "channels.outbox", _OUTBOX)
    smtp = reader.values(data.get("smtp", {}), "smtp", _SMTP)
    secret_key = env.get(SECRETS["page.secret_key"])
    if secret_key:
        page["secret_key"] = secret_key
    settings = WebSettings(**page)
    return ServeConfig(
        settings=settings,
        source=source,
        network=top.get("network"),
        host=top.get("host"),
        port=top.get("port"),
        db=top.get("db"),
        operator=cases.get("operator"),
        follow_up_every=cases.get("follow_up_every"),
        requires_einvoice=cases.get("requires_einvoice"),
        desk_url=desk.get("url"),
        outbox=outbox.get("folder"),
        smtp=_smtp(smtp, env),
    )


def _smtp(values: Mapping[str, Any], env: Mapping[str, str]) -> SmtpSettings:
    """The mail server's settings, its password from the environment."""
    return SmtpSettings(
        host=values.get("host"),
        port=values.get("port"),
        security=values.get("security", "starttls"),
        username=values.get("username"),
        password=env.get(SECRETS["smtp.password"]) or None,
        sender=values.get("from"),
        to=values.get("to"),
        ca_file=values.get("ca_file"),
    )


class _Reader:
    """Checks one table of the file against the keys it may hold and their kinds."""

    def __init__(self, source: str) -> None:
        self.source = source

    def values(
        self,
        table: object,
        where: str,
        keys: Mapping[str, str],
        tables: Mapping[str, Mapping[str, str]] | None = None,
    ) -> dict[str, Any]:
        """``table``'s values by key (its sub-``tables`` are left for their own call)."""
        if not isinstance(table, dict):
            raise self._wrong(where, _("a table"), table)
        found: dict[str, Any] = {}
        for key, value in table.items():
            name = f"{where}.{key}" if where else key
            if name in SECRETS:
                raise InvalidInput(
                    _(
                        "{file}: {key} is a secret and is not read from a file: set the "
                        "environment variable {variable}",
                        file=self.source,
                        key=name,
                        variable=SECRETS[name],
                    )
                )
            if tables is not None and key in tables:
                continue
            if key not in keys:
                known = sorted([*keys, *(tables or {})])
                raise InvalidInput(
                    _(
                        "{file}: unknown setting {key} (known here: {known})",
                        file=self.source,
                        key=name,
                        known=", ".join(known),
                    )
                )
            kind, accepted = _KINDS[keys[key]]
            if isinstance(value, bool) is not (bool in accepted) or not isinstance(value, accepted):
                raise self._wrong(name, kind, value)
            found[key] = value
        return found

    def _wrong(self, key: str, kind: Message, value: object) -> InvalidInput:
        return InvalidInput(
            _(
                "{file}: {key} must be {kind}, not {value}",
                file=self.source,
                key=key or "the file",
                kind=kind,
                value=repr(value),
            )
        )
