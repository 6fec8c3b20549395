"""``--network`` and friends, shared by every command that talks to a network.

``--network`` takes a built-in name (production, test, legacy-...) or ``sandbox``, which reads the
state file that ``peppolnet sandbox serve`` writes, so a second terminal needs no more flags.
``--zone`` and ``--dns HOST:PORT`` override the SML zone and the DNS server of any network.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from peppolnet.errors import InvalidInput

if TYPE_CHECKING:
    from peppolnet.network import Network


def add_network_arguments(parser: argparse.ArgumentParser, *, default: str = "production") -> None:
    """Add ``--network``, ``--zone``, ``--dns`` and ``--state-file`` to ``parser``."""
    group = parser.add_argument_group("network")
    group.add_argument(
        "--network",
        default=default,
        help="production, test, sandbox (a running `peppolnet sandbox serve`), or a legacy-* "
        f"network (default: {default})",
    )
    group.add_argument("--zone", help="use this SML zone instead of the network's")
    group.add_argument("--dns", metavar="HOST:PORT", help="ask this DNS server instead")
    group.add_argument(
        "--state-file", help="the sandbox state file (default: where `sandbox serve` writes it)"
    )


def network_from_arguments(args: argparse.Namespace) -> Network:
    """Build the :class:`~peppolnet.network.Network` the arguments describe."""
    name = str(args.network).strip().lower()
    if name == "sandbox":
        from peppolnet.sandbox.state import network_from_state

        network = network_from_state(getattr(args, "state_file", None))
    else:
        from peppolnet.network import network_by_name

        network = network_by_name(name)
    if getattr(args, "zone", None):
        network = network.replace(sml_zone=args.zone.strip().rstrip("."))
    if getattr(args, "dns", None):
        host, sep, port = str(args.dns).rpartition(":")
        if not sep or not host or not port.isdigit():
            raise InvalidInput(f"--dns must be HOST:PORT, got {args.dns!r}")
        network = network.replace(nameservers=(host.strip("[]"),), dns_port=int(port))
    return network
