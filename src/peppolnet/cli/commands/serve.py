"""``peppolnet serve``: the support page (and its JSON API) on a local port.

By default it starts a sandbox network in this process and serves the page on it, so
``pip install . && peppolnet serve`` shows something real with no setup; ``--network production``
or ``test`` serves the real networks (``sandbox`` uses a running ``peppolnet sandbox serve``
when there is one). The socket is bound before the server starts, so a port in use is one
sentence and exit 3 (a fault of the machine, not of the command line), not a traceback.

Where requests go is described by the same channel options as ``peppolnet request``'s
(``--desk-url``, ``--outbox``, ``--smtp`` with ``--smtp-to``/``--smtp-from``/``--smtp-security``;
one channel per kind given, the form offers each). ``--smtp`` with ``--smtp-from`` also mails
the confirmation when the network shows a requested change. On the sandbox, requests go to its
operator desk unless ``--desk-url`` names another.

Who may use the page: ``--users-file`` (HTTP Basic; ``--hash-password NAME`` writes its lines)
or ``--auth-header`` (the user a single-sign-on proxy names, trusted from ``--trusted-proxy``);
without either, a page listening beyond loopback says on stderr that it is open to anyone.

``--config FILE`` reads the same and more from a TOML settings file
(:mod:`peppolnet.web.config`: the page's settings, ``[cases]``, channels, the mail server with its
login); the command line wins over it, and secrets come only from the environment
(``PEPPOLNET_SMTP_PASSWORD``, ``PEPPOLNET_SECRET_KEY``), never from the file or the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import socket
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from peppolnet.cli._language import say
from peppolnet.cli._network import network_choice
from peppolnet.cli._output import (
    UsageError,
    add_db_argument,
    echo,
    port_number,
    standard_input,
    writable_path,
)
from peppolnet.errors import SandboxError
from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.i18n import Language, Message
    from peppolnet.network import Network
    from peppolnet.recipients.channels import Channel
    from peppolnet.recipients.tracking import Notifier
    from peppolnet.web.casework import CaseSettings
    from peppolnet.web.config import ServeConfig


class PortInUse(SandboxError):
    """The address to serve on is taken (or not ours to bind): a fault, exit 3."""

    retryable = True


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help=_("run the support page and its JSON API (Swedish and English)"),
        description=_(
            "Serve the peppolnet support page: search by organisation number, VAT number, "
            "participant id or company name, with a verdict per candidate and a JSON API under "
            "/api/v1. Runs until interrupted (Ctrl-C)."
        ),
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help=_(
            "a settings file (TOML, docs/web.md): the page's settings, channels and mail "
            "server; the options below win over it. Secrets come from the environment only: "
            "PEPPOLNET_SMTP_PASSWORD, PEPPOLNET_SECRET_KEY"
        ),
    )
    parser.add_argument(
        "--network",
        type=network_choice,
        help=_(
            "production, test, or sandbox: a running `peppolnet sandbox serve`, else one "
            "started in this process (default: sandbox)"
        ),
    )
    parser.add_argument("--state-file", help=_("the state file of a running sandbox"))
    parser.add_argument("--host", help=_("address to listen on (default: 127.0.0.1)"))
    parser.add_argument("--port", type=port_number, help=_("port to listen on (default: 8000)"))
    parser.add_argument(
        "--frame-ancestors",
        help=_("the CSP frame-ancestors sources allowed to embed the page (default: 'none')"),
    )
    add_db_argument(parser)
    _add_auth_options(parser)
    from peppolnet.cli.commands.lookup import add_dnssec_argument
    from peppolnet.cli.commands.request import add_channel_options

    add_channel_options(parser)
    add_dnssec_argument(parser)  # every lookup of the page, its follow-ups and registers too
    parser.set_defaults(handler=run)


def _add_auth_options(parser: argparse.ArgumentParser) -> None:
    """Who may use the page: a users file (HTTP Basic) or a single-sign-on proxy's header."""
    group = parser.add_argument_group(_("who may use the page"))
    group.add_argument(
        "--users-file",
        metavar="FILE",
        help=_(
            "HTTP Basic with the users of FILE (NAME:HASH lines, from --hash-password); serve "
            "it behind HTTPS"
        ),
    )
    group.add_argument(
        "--auth-header",
        metavar="HEADER",
        help=_("the header a reverse proxy names the signed-in user in (e.g. X-Forwarded-User)"),
    )
    group.add_argument(
        "--trusted-proxy",
        action="append",
        metavar="ADDRESS",
        help=_(
            "an address or network the --auth-header is trusted from (repeatable; default: "
            "loopback)"
        ),
    )
    group.add_argument(
        "--hash-password",
        metavar="NAME",
        help=_(
            "read a password (from the terminal, or a line of standard input), print the "
            "users file's line for NAME and exit"
        ),
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; :class:`PortInUse` naming it when that fails."""
    from peppolnet._neterrors import describe as described  # ssl: not at every start-up

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortInUse(
            _("cannot listen on {host}: {reason}", host=host, reason=described(exc)),
            retryable=False,
        ) from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = _("the port is in use") if exc.errno == errno.EADDRINUSE else described(exc)
        raise PortInUse(
            _("cannot listen on {host}:{port}: {reason}", host=host, port=port, reason=reason)
        ) from None
    return sock


@contextlib.contextmanager
def _network(args: argparse.Namespace) -> Iterator[tuple[Network, dict[str, Any] | None]]:
    """The network to serve, and for a sandbox its description (operators, operator desk)."""
    from peppolnet.cli._network import read_sandbox_state, resolve_network

    if args.network != "sandbox":
        yield resolve_network(args.network), None
        return
    from peppolnet.sandbox.state import network_from_state

    try:
        network = network_from_state(args.state_file)
    except SandboxError as exc:
        if args.state_file:  # the user named a sandbox that is not there: as every --network
            raise UsageError(str(exc)) from exc
    else:
        yield network, read_sandbox_state(args.state_file)
        return
    from peppolnet.sandbox import Sandbox

    with Sandbox.start() as sandbox:
        yield sandbox.network, sandbox.info()


def _hand_off(
    channels: dict[str, Channel],
    notifier: Notifier | None,
    info: dict[str, Any] | None,
    config: ServeConfig,
) -> tuple[dict[str, Channel], CaseSettings]:
    """The channels the options named (on a sandbox, its operator desk unless ``--desk-url``
    named another) and the case settings: the sandbox's operators fill the form's list (else
    it takes Seat IDs), the notifier mails the confirmations, and the settings file's
    ``[cases]`` says which operator the desk works for and how often cases are followed up."""
    from peppolnet.cli.commands.operators import operators_from_state
    from peppolnet.operators import OperatorRegistry
    from peppolnet.recipients import HttpChannel
    from peppolnet.web.casework import CaseSettings

    if "desk" not in channels and info is not None and info.get("desk_url"):
        channels = {"desk": HttpChannel(str(info["desk_url"])), **channels}
    registry = OperatorRegistry(operators_from_state(info)) if info is not None else None
    chosen: dict[str, Any] = {
        "operator": config.operator,
        "follow_up_every": config.follow_up_every,
        "requires_einvoice": config.requires_einvoice,
    }
    given = {key: value for key, value in chosen.items() if value is not None}
    return channels, CaseSettings(operators=registry, notifier=notifier, **given)


def _config(args: argparse.Namespace) -> ServeConfig:
    """The settings file (``--config``), or only the environment's secrets without one; with
    the command line's options put over it (they win)."""
    import dataclasses

    from peppolnet.cli._mailserver import smtp_from_arguments
    from peppolnet.errors import InvalidInput
    from peppolnet.web.config import load_config, page_auth, parse_config

    try:
        config = load_config(args.config) if args.config else parse_config("")
        if args.users_file or args.auth_header or args.trusted_proxy:
            auth = page_auth(
                users_file=args.users_file,
                trusted_header=args.auth_header,
                trusted_proxies=args.trusted_proxy,
            )
            config = dataclasses.replace(config, auth=auth)
    except InvalidInput as exc:
        raise UsageError(exc.message) from exc
    smtp = smtp_from_arguments(args, config.smtp)
    settings = config.settings
    if args.frame_ancestors is not None:
        settings = dataclasses.replace(settings, frame_ancestors=args.frame_ancestors)
    if args.dnssec:
        settings = dataclasses.replace(settings, dnssec=True)
    return dataclasses.replace(
        config,
        settings=settings,
        smtp=smtp,
        network=args.network or _network_name(config.network),
        host=args.host or config.host or "127.0.0.1",
        port=args.port if args.port is not None else _port(config.port),
        db=args.db or (writable_path(config.db, _("database")) if config.db else None),
        desk_url=args.desk_url or config.desk_url,
        outbox=args.outbox or config.outbox,
    )


def _network_name(name: str | None) -> str:
    if name is None:
        return "sandbox"
    try:
        return network_choice(name)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(str(exc)) from None


def _port(port: int | None) -> int:
    if port is None:
        return 8000
    try:
        return port_number(str(port))
    except argparse.ArgumentTypeError as exc:
        raise UsageError(str(exc)) from None


def _channels(config: ServeConfig, lang: Language) -> dict[str, Channel]:
    """One channel per kind the settings describe, by the name the form shows."""
    from peppolnet.errors import InvalidInput
    from peppolnet.recipients.channels import HttpChannel, OutboxChannel

    channels: dict[str, Channel] = {}
    if config.desk_url:
        channels["desk"] = HttpChannel(config.desk_url)
    if config.outbox:
        channels["outbox"] = OutboxChannel(config.outbox, language=lang)
    if config.smtp.to is not None:
        try:
            channels["smtp"] = config.smtp.channel(lang)
        except InvalidInput as exc:
            raise UsageError(exc.message) from exc
    return channels


def _notifier(config: ServeConfig, lang: Language) -> Notifier | None:
    """Confirmations through the mail server, from its sender: each in the language its case
    was asked in (the page's default ``lang`` for cases made through the JSON API)."""
    from peppolnet.errors import InvalidInput

    if config.smtp.host is None:
        return None
    try:
        return config.smtp.notifier(lang)
    except InvalidInput as exc:
        raise UsageError(exc.message) from exc


@contextlib.contextmanager
def prepared(args: argparse.Namespace, lang: Language) -> Iterator[tuple[Any, socket.socket, str]]:
    """The app the command line and the settings file describe, its listening socket and its
    network's name, while the block runs: usage problems are found before the port is taken."""
    from peppolnet.web import create_app

    config = _config(args)
    named, notifier = _channels(config, lang), _notifier(config, lang)
    sock = bind(config.host or "127.0.0.1", 8000 if config.port is None else config.port)
    with contextlib.ExitStack() as stack:
        stack.callback(sock.close)
        args.network = config.network  # the sandbox's (or a named network's) to serve
        network, sandbox_info = stack.enter_context(_network(args))
        channels, cases = _hand_off(named, notifier, sandbox_info, config)
        for channel in channels.values():
            close = getattr(channel, "close", None)
            if callable(close):
                stack.callback(close)
        directory = None
        if config.db:
            from peppolnet.recipients.directory import RecipientDirectory

            directory = stack.enter_context(RecipientDirectory(config.db))
        app = create_app(
            network=network,
            channels=channels,
            directory=directory,
            lang=lang,
            settings=config.settings,
            cases=cases,
            auth=config.auth,
        )
        if config.auth is None and not _loopback(sock):
            echo(_open_page(sock), file=sys.stderr)
        yield app, sock, network.name


def _loopback(sock: socket.socket) -> bool:
    """Whether ``sock`` listens on a loopback address only (the machine's own users)."""
    import ipaddress

    return ipaddress.ip_address(sock.getsockname()[0]).is_loopback


def _open_page(sock: socket.socket) -> Message:
    host, port = sock.getsockname()[:2]
    return _(
        "warning: the page answers whoever reaches {host}:{port}, with no sign-in: give it "
        "--users-file or --auth-header (or [auth] in --config), or put it behind your own "
        "authentication",
        host=host,
        port=port,
    )


def hash_password(name: str) -> str:
    """The users file's line for ``name``: the password read from the terminal (asked twice)
    or from one line of standard input (a script's pipe)."""
    import getpass

    from peppolnet.web.auth import BasicAuth

    if not name or ":" in name or name != name.strip():
        raise UsageError(_("a user name must be non-empty, without ':' or surrounding spaces"))
    stdin = standard_input()
    if stdin.isatty():
        password = getpass.getpass(say(_("password for {name}: ", name=name)))
        if getpass.getpass(say(_("the same password again: "))) != password:
            raise UsageError(_("the two passwords differ"))
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError(_("the password is empty"))
    return f"{name}:{BasicAuth.hash_password(password)}"


def run(args: argparse.Namespace) -> int:
    if args.hash_password is not None:
        print(hash_password(args.hash_password))
        return 0
    try:
        import uvicorn

        from peppolnet.web import banner
    except ImportError as exc:  # a broken install: one sentence, not a traceback
        raise UsageError(
            _(
                "peppolnet serve needs {module}, which is missing: reinstall peppolnet "
                "(pip install peppolnet)",
                module=str(exc.name),
            )
        ) from None
    from peppolnet.cli._language import language

    lang = language()  # --lang (every command has it), else the locale: the page's default
    with prepared(args, lang) as (app, sock, network):
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}/"
        print(banner(url, network).render(lang), flush=True)
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        # uvicorn stops cleanly on Ctrl-C, then passes it on: that is the normal end
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run(sockets=[sock])
    return 0
