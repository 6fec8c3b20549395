"""The support page's settings file (``peppolnet serve --config FILE``), and its secrets.

Why a file: an operator runs the page as a service, and most of what it changes - branding,
limits, DNSSEC, the operator it works for, where requests go, the mail server, who may use it -
would otherwise be a long command line or Python. Why not everything in it: a password in a file
ends up in backups and repositories, and one on the command line in ``ps`` and shell history, so
secrets come from the environment only (:data:`SECRETS`): ``PEPPOLNET_SMTP_PASSWORD`` and
``PEPPOLNET_SECRET_KEY``. A secret written in the file is refused, naming the variable.

The file is TOML (read by :mod:`peppolnet._settingsfile`); every key is checked - an unknown
one, or a value of the wrong kind, is one sentence naming the file and the key. The ``[smtp]``
table is :mod:`peppolnet.recipients.mailserver`'s, which ``peppolnet request --config`` reads
too. ``[auth]`` names a users file of password hashes (HTTP Basic) or the header a
single-sign-on proxy names the user in. docs/web.md shows a full file.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from peppolnet._settingsfile import TableReader, parse_toml, read_toml
from peppolnet.errors import InvalidInput
from peppolnet.i18n import _
from peppolnet.recipients.mailserver import (
    SMTP_KEYS,
    SMTP_SECRETS,
    SmtpSettings,
    smtp_settings,
)
from peppolnet.web.auth import Auth, BasicAuth, TrustedHeaderAuth, read_users_file
from peppolnet.web.settings import WebSettings

__all__ = ["SECRETS", "ServeConfig", "SmtpSettings", "load_config", "page_auth", "parse_config"]

#: The secrets and the environment variables they come from (never the file or command line).
SECRETS: Final = {
    **SMTP_SECRETS,
    "page.secret_key": "PEPPOLNET_SECRET_KEY",
}

#: The page's settings the file may hold (``WebSettings``' fields but the clock and the secret).
_PAGE: Final = {
    field.name: str(field.type)
    for field in dataclasses.fields(WebSettings)
    if field.name not in ("clock", "secret_key")
}
_TOP: Final = {"network": "str", "host": "str", "port": "int", "db": "str"}
_CASES: Final = {"operator": "str", "follow_up_every": "float", "requires_einvoice": "bool"}
_AUTH: Final = {"users_file": "str", "trusted_header": "str", "trusted_proxies": "list[str]"}
_DESK: Final = {"url": "str"}
_OUTBOX: Final = {"folder": "str"}


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
    auth: Auth | None = None
    """Who may use the page (``[auth]``): None lets in whoever reaches it."""


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> ServeConfig:
    """Read the settings file at ``path``; the secrets from ``environ`` (default the process's).

    Raises :class:`~peppolnet.errors.InvalidInput` with one sentence naming what is wrong."""
    source, data = read_toml(Path(path))
    return _config(data, source, os.environ if environ is None else environ)


def parse_config(
    text: str, *, source: str = "<string>", environ: Mapping[str, str] | None = None
) -> ServeConfig:
    """A settings file's text as a :class:`ServeConfig` (``source`` names it in errors)."""
    env = os.environ if environ is None else environ
    return _config(parse_toml(text, source), source, env)


def _config(data: dict[str, Any], source: str, env: Mapping[str, str]) -> ServeConfig:
    reader = TableReader(source, SECRETS)
    tables = {"page": _PAGE, "cases": _CASES, "smtp": SMTP_KEYS, "channels": {}, "auth": _AUTH}
    top = reader.values(data, "", _TOP, tables)
    page = reader.values(data.get("page", {}), "page", _PAGE)
    cases = reader.values(data.get("cases", {}), "cases", _CASES)
    channels = data.get("channels", {})
    reader.values(channels, "channels", {}, {"desk": _DESK, "outbox": _OUTBOX})
    desk = reader.values(channels.get("desk", {}), "channels.desk", _DESK)
    outbox = reader.values(channels.get("outbox", {}), "channels.outbox", _OUTBOX)
    smtp = reader.values(data.get("smtp", {}), "smtp", SMTP_KEYS)
    auth = reader.values(data.get("auth", {}), "auth", _AUTH)
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
        smtp=smtp_settings(smtp, env),
        auth=page_auth(
            users_file=auth.get("users_file"),
            trusted_header=auth.get("trusted_header"),
            trusted_proxies=auth.get("trusted_proxies"),
            source=source,
        ),
    )


def page_auth(
    *,
    users_file: str | None = None,
    trusted_header: str | None = None,
    trusted_proxies: Sequence[str] | None = None,
    source: str = "",
) -> Auth | None:
    """The page's :class:`~peppolnet.web.auth.Auth` from the ``[auth]`` settings (or the
    command line's): HTTP Basic with the users of ``users_file``, or the user a reverse proxy
    names in ``trusted_header`` (from ``trusted_proxies``, loopback by default); None without
    either. Both at once is refused: which one would decide is not obvious to whoever reads
    the settings."""
    where = f"{source}: " if source else ""
    if users_file is not None and trusted_header is not None:
        raise InvalidInput(
            _(
                "{where}users_file (--users-file) and trusted_header (--auth-header) exclude "
                "each other: choose one",
                where=where,
            )
        )
    if trusted_proxies is not None and trusted_header is None:
        raise InvalidInput(
            _(
                "{where}trusted_proxies (--trusted-proxy) needs trusted_header (--auth-header)",
                where=where,
            )
        )
    if users_file is not None:
        return BasicAuth(read_users_file(users_file))
    if trusted_header is None:
        return None
    proxies = tuple(trusted_proxies) if trusted_proxies is not None else _LOOPBACK
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise InvalidInput(
                _("{where}{proxy} is not an address or network", where=where, proxy=proxy)
            ) from None
    return TrustedHeaderAuth(trusted_header, trusted_proxies=proxies)


_LOOPBACK: Final = ("127.0.0.1/32", "::1/128")
