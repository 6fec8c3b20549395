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
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from peppolnet.cli._network import network_choice
from peppolnet.cli._output import UsageError, add_db_argument, port_number
from peppolnet.errors import SandboxError
from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.i18n import Language
    from peppolnet.network import Network
    from peppolnet.recipients.channels import Channel
    from peppolnet.recipients.tracking import Notifier
    from peppolnet.web.casework import CaseSettings


class PortInUse(SandboxError):
    """The address to serve on is taken (or not ours to bind): a fault, exit 3."""

    retryable = True


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="run the support page and its JSON API (Swedish and English)",
        description="Serve the peppolnet support page: search by organisation number, VAT "
        "number, participant id or company name, with a verdict per candidate and a JSON API "
        "under /api/v1. Runs until interrupted (Ctrl-C).",
    )
    parser.add_argument(
        "--network",
        default="sandbox",
        type=network_choice,
        help="production, test, or sandbox: a running `peppolnet sandbox serve`, else one "
        "started in this process (default: sandbox)",
    )
    parser.add_argument("--state-file", help="the state file of a running sandbox")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=port_number, default=8000, help="port to listen on (default: 8000)"
    )
    parser.add_argument(
        "--frame-ancestors",
        default="'none'",
        help="the CSP frame-ancestors sources allowed to embed the page (default: 'none')",
    )
    add_db_argument(parser)
    from peppolnet.cli.commands.lookup import add_dnssec_argument
    from peppolnet.cli.commands.request import add_channel_options

    add_channel_options(parser)
    add_dnssec_argument(parser)  # every lookup of the page, its follow-ups and registers too
    parser.set_defaults(handler=run)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; :class:`PortInUse` naming it when that fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortInUse(f"cannot listen on {host}: {exc.strerror}", retryable=False) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise PortInUse(f"cannot listen on {host}:{port}: {reason}") from None
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
    channels: dict[str, Channel], notifier: Notifier | None, info: dict[str, Any] | None
) -> tuple[dict[str, Channel], CaseSettings]:
    """The channels the options named (on a sandbox, its operator desk unless ``--desk-url``
    named another) and the case settings: the sandbox's operators fill the form's list (else
    it takes Seat IDs), and the notifier mails the confirmations."""
    from peppolnet.cli.commands.operators import operators_from_state
    from peppolnet.operators import OperatorRegistry
    from peppolnet.recipients import HttpChannel
    from peppolnet.web.casework import CaseSettings

    if "desk" not in channels and info is not None and info.get("desk_url"):
        channels = {"desk": HttpChannel(str(info["desk_url"])), **channels}
    registry = OperatorRegistry(operators_from_state(info)) if info is not None else None
    return channels, CaseSettings(operators=registry, notifier=notifier)


def _channels(args: argparse.Namespace) -> dict[str, Channel]:
    """One channel per kind the options describe, by the name the form shows."""
    from peppolnet.cli.commands.request import channel_from_arguments

    chosen = {"desk": ("http", args.desk_url), "outbox": ("outbox", args.outbox)}
    chosen["smtp"] = ("smtp", args.smtp_to)
    return {
        name: channel_from_arguments(args, kind, "serve")
        for name, (kind, given) in chosen.items()
        if given
    }


def _notifier(args: argparse.Namespace, lang: Language) -> Notifier | None:
    """Confirmations through ``--smtp``, from ``--smtp-from``: each in the language its case
    was asked in (the page's default ``lang`` for cases made through the JSON API)."""
    from peppolnet.cli._output import host_port
    from peppolnet.recipients.tracking import EmailNotifier

    if not args.smtp:
        return None
    if not args.smtp_from:
        raise UsageError(_("--smtp needs --smtp-from: the sender of the confirmation mails"))
    host, port = host_port(args.smtp, "--smtp")
    return EmailNotifier(
        host, port, sender=args.smtp_from, security=args.smtp_security, language=lang
    )


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from peppolnet.web import WebSettings, banner, create_app
    except ImportError as exc:  # a broken install: one sentence, not a traceback
        raise UsageError(
            f"peppolnet serve needs {exc.name}, which is missing: reinstall peppolnet "
            "(pip install peppolnet)"
        ) from None
    from peppolnet.cli._language import language

    lang = language()  # --lang (every command has it), else the locale: the page's default
    named, notifier = _channels(args), _notifier(args, lang)  # usage problems before the port
    sock = bind(args.host, args.port)
    with contextlib.ExitStack() as stack:
        stack.callback(sock.close)
        network, sandbox_info = stack.enter_context(_network(args))
        channels, cases = _hand_off(named, notifier, sandbox_info)
        for channel in channels.values():
            close = getattr(channel, "close", None)
            if callable(close):
                stack.callback(close)
        directory = None
        if args.db:
            from peppolnet.recipients.directory import RecipientDirectory

            directory = RecipientDirectory(args.db)
        app = create_app(
            network=network,
            channels=channels,
            directory=directory,
            lang=lang,
            settings=WebSettings(frame_ancestors=args.frame_ancestors, dnssec=args.dnssec),
            cases=cases,
        )
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}/"
        print(banner(url, network.name).render(lang), flush=True)
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        # uvicorn stops cleanly on Ctrl-C, then passes it on: that is the normal end
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run(sockets=[sock])
    return 0
