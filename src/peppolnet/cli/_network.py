"""``--network`` and friends, shared by every command that talks to a network.

``--network`` takes a built-in name (production, test, legacy-...) or ``sandbox``, which reads the
state file that ``peppolnet sandbox serve`` writes, so a second terminal needs no more flags.
``--zone`` and ``--dns HOST:PORT`` override the SML zone and the DNS server of any network.

:func:`network_choice` is the one parser of a network name: every option that names a network
(``--network`` here and in ``sml``, ``operators``, ``smp parse --trust``) uses it, so they all
accept the same names, ``sandbox`` included, and refuse the same way (exit 2, one sentence).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from peppolnet.cli._output import UsageError, argparse_type, host_port, refused
from peppolnet.errors import SandboxError
from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.network import Network, Networks

SANDBOX = "sandbox"


AUTO = "auto"


def network_names(*, auto: bool = False) -> tuple[str, ...]:
    """Every name ``--network`` accepts: the built-in networks, then ``sandbox`` (and ``auto``
    - production, then test - where a command looks participants up)."""
    from peppolnet.network import NETWORK_NAMES

    return (*NETWORK_NAMES, SANDBOX, *((AUTO,) if auto else ()))


def network_choice(text: str) -> str:
    """An argparse type: a network name, normalised (case, ``_`` for ``-``), or exit 2."""
    return _choice(text, network_names())


def network_or_auto_choice(text: str) -> str:
    """An argparse type: a network name or ``auto``, normalised, or exit 2."""
    return _choice(text, network_names(auto=True))


def _choice(text: str, names: tuple[str, ...]) -> str:
    name = text.strip().lower().replace("_", "-")
    if name not in names:
        raise refused(
            _("unknown network {text!r}; use one of {known}", text=text, known=", ".join(names))
        )
    return name


def read_sandbox_state(state_file: str | None) -> dict[str, Any]:
    """The running sandbox's state; none running (or a stale or unreadable state file) is a
    usage error: the command line names a network that is not there, as an unknown name does."""
    from peppolnet.sandbox.state import read_state

    try:
        return read_state(state_file)
    except SandboxError as exc:
        raise UsageError(exc.message) from exc


def resolve_network(name: str, state_file: str | None = None) -> Network:
    """The :class:`~peppolnet.network.Network` of a name :func:`network_choice` accepted."""
    if name == SANDBOX:
        from peppolnet.sandbox.state import network_from_state

        try:
            return network_from_state(state_file)
        except SandboxError as exc:  # as read_sandbox_state: not there is a usage error
            raise UsageError(exc.message) from exc
    from peppolnet.network import network_by_name

    return network_by_name(name)


def add_state_file_argument(parser: argparse.ArgumentParser | Any) -> None:
    """``--state-file``: where ``--network sandbox`` finds the running sandbox."""
    parser.add_argument(
        "--state-file",
        help=_("the sandbox state file (default: where `sandbox serve` writes it)"),
    )


def add_network_arguments(
    parser: argparse.ArgumentParser, *, default: str = "production", auto: bool = False
) -> None:
    """Add ``--network``, ``--zone``, ``--dns`` and ``--state-file`` to ``parser``; ``auto``
    lets ``--network auto`` through (read it with :func:`networks_from_arguments`)."""
    group = parser.add_argument_group(_("network"))
    if auto:
        help_text = _(
            "production, test, sandbox (a running `peppolnet sandbox serve`), a legacy-* "
            "network, or auto (production, then test) (default: {default})",
            default=default,
        )
    else:
        help_text = _(
            "production, test, sandbox (a running `peppolnet sandbox serve`), or a legacy-* "
            "network (default: {default})",
            default=default,
        )
    group.add_argument(
        "--network",
        default=default,
        type=network_or_auto_choice if auto else network_choice,
        help=help_text,
    )
    group.add_argument("--zone", help=_("use this SML zone instead of the network's"))
    group.add_argument(
        "--dns",
        metavar="HOST:PORT",
        type=argparse_type(_dns_server),
        help=_("ask this DNS server instead"),
    )
    add_state_file_argument(group)


def _dns_server(text: str) -> tuple[str, int]:
    host, port = host_port(text)
    return _ip_address(host), port


def _ip_address(text: str) -> str:
    """A DNS server's IP address (peppolnet asks DNS directly, so a name would need another
    DNS server to find this one)."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        raise UsageError(_("the DNS server {text!r} is not an IP address", text=text)) from None


nameserver = argparse_type(_ip_address)


def networks_from_arguments(args: argparse.Namespace) -> Network | Networks:
    """:func:`network_from_arguments`, or for ``--network auto`` the networks to try in order
    (``--dns`` applies to each; one ``--zone`` cannot name two networks' zones)."""
    if args.network != AUTO:
        return network_from_arguments(args)
    from peppolnet.network import auto_networks

    if getattr(args, "zone", None):
        raise UsageError(_("--zone names one SML zone; --network auto asks two networks"))
    networks = auto_networks()
    if getattr(args, "dns", None):
        host, port = args.dns
        networks = networks.replace(nameservers=(host,), dns_port=port)
    return networks


def network_from_arguments(args: argparse.Namespace) -> Network:
    """Build the :class:`~peppolnet.network.Network` the arguments describe."""
    network = resolve_network(args.network, getattr(args, "state_file", None))
    if getattr(args, "zone", None):
        network = network.replace(sml_zone=args.zone.strip().rstrip("."))
    if getattr(args, "dns", None):
        host, port = args.dns
        network = network.replace(nameservers=(host,), dns_port=port)
    return network
