"""``peppolnet sandbox serve|info``: run a local Peppol network and tell other commands about it.

``serve`` starts DNS (the SML), one HTTPS server per SMP and the Directory on 127.0.0.1, prints
one JSON line (zone, DNS address, SMP and Directory URLs, trust anchor paths) and writes the same
to the state file, so ``--network sandbox`` works in any other terminal without more flags. It runs
until SIGINT (Ctrl-C) or SIGTERM, then stops every server and removes the state file: a state file
that outlives its server would send the next lookup to ports nobody listens on.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from peppolnet.cli._output import UsageError, fail, input_file, port_number, print_json
from peppolnet.i18n import _


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "sandbox",
        help=_("run a local Peppol network (SML, SMPs, Directory) for tests and demos"),
        description=_("Run the peppolnet sandbox: a real Peppol network on 127.0.0.1."),
    )
    actions = parser.add_subparsers(dest="sandbox_command", metavar="ACTION")

    serve = actions.add_parser(
        "serve",
        help=_("start the sandbox and keep it running until interrupted"),
        description=_(
            "Start the sandbox, print one JSON line describing it, write the state file "
            "that `--network sandbox` reads, and run until SIGINT/SIGTERM."
        ),
    )
    serve.add_argument(
        "--config",
        type=input_file,
        help=_("a sandbox network TOML file (default: built-in network)"),
    )
    serve.add_argument(
        "--state-file",
        help=_(
            "where to write the state (default: $PEPPOLNET_SANDBOX_STATE or "
            "$XDG_STATE_HOME/peppolnet/sandbox.json)"
        ),
    )
    serve.add_argument(
        "--key-dir", help=_("directory of cached sandbox keys (default: the per-user cache)")
    )
    serve.add_argument(
        "--dns-port",
        type=port_number,
        default=0,
        metavar="PORT",
        help=_("UDP/TCP port of the sandbox DNS server (default: any free port)"),
    )
    serve.add_argument(
        "--dns-lie",
        choices=("nxdomain", "strip-authority"),
        help=_(
            "make the sandbox DNS server lie like a resolver in front of the SML: nxdomain "
            "denies every name (the zone's SOA too), strip-authority drops the SOA from denials "
            "(default: the config file's [dns] lie, else honest)"
        ),
    )
    serve.add_argument(
        "--dns-dnssec",
        choices=("signed", "unsigned", "bogus", "expired", "stripped"),
        help=_(
            "what the SML zone's DNSSEC does: signed (validates), unsigned (insecure), or bogus, "
            "expired or stripped signatures (default: the config file's [dns] dnssec, else "
            "signed; see docs/dnssec.md)"
        ),
    )
    serve.set_defaults(handler=run_serve)

    info = actions.add_parser(
        "info",
        help=_("print the state of the running sandbox (exit 1 if none is running)"),
        description=_("Print the state file of the running sandbox as JSON."),
    )
    info.add_argument("--state-file", help=_("the state file (default: where `serve` writes it)"))
    info.set_defaults(handler=run_info)


def run_info(args: argparse.Namespace) -> int:
    from peppolnet.sandbox.state import read_state

    print_json(read_state(args.state_file))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    import dataclasses

    from peppolnet.errors import SandboxError
    from peppolnet.sandbox.config import load_config
    from peppolnet.sandbox.runtime import Sandbox
    from peppolnet.sandbox.state import default_state_path, read_state, remove_state, write_state

    state_path = Path(args.state_file) if args.state_file else default_state_path()
    try:
        running = read_state(state_path)
    except SandboxError:
        running = None  # none, unreadable or stale: ours to overwrite
    if running is not None:
        return fail(
            _(
                "a sandbox is already running (pid {pid}, state file {path}); "
                "stop it first or pass another --state-file",
                pid=running["pid"],
                path=state_path,
            )
        )

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Installed before anything starts, so an early Ctrl-C still takes the clean path below.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            config = load_config(args.config)
        except SandboxError as exc:  # the file the user named: a usage error, as for serve
            raise UsageError(exc.message) from None
        if args.dns_lie:
            lying = dataclasses.replace(config.dns_faults, lie=args.dns_lie)
            config = dataclasses.replace(config, dns_faults=lying)
        if args.dns_dnssec:
            signing = dataclasses.replace(config.dns_faults, dnssec=args.dns_dnssec)
            config = dataclasses.replace(config, dns_faults=signing)
        key_dir = Path(args.key_dir) if args.key_dir else None
        sandbox = Sandbox(config, key_dir=key_dir, dns_port=args.dns_port)
        try:
            sandbox.run()
            info = sandbox.info()
            info["state_file"] = str(state_path)
            write_state(info, state_path)
            try:
                sys.stdout.write(json.dumps(info, ensure_ascii=False) + "\n")
                sys.stdout.flush()
                while not stop.wait(0.2):
                    pass
            finally:
                remove_state(state_path)
        finally:
            sandbox.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
