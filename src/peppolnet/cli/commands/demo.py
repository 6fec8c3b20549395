"""``peppolnet demo``: the main job on a sandbox network started in-process."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from peppolnet.cli._language import language
from peppolnet.cli._output import input_file
from peppolnet.i18n import _


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help=_("run the main job end to end on a built-in sandbox network (offline)"),
        description=_(
            "Start a sandbox Peppol network on 127.0.0.1, check a sample customer "
            "register, explain the refusals, find a missing customer and request their "
            "registration, all against real local DNS and HTTPS servers."
        ),
    )
    parser.add_argument(
        "--register", type=input_file, help=_("your own customer register (CSV/XLSX)")
    )
    parser.add_argument("--key-dir", type=Path, help=_("where the sandbox keeps its test keys"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from peppolnet.demo import run_demo

    register = Path(args.register) if args.register else None
    return run_demo(sys.stdout, register=register, key_dir=args.key_dir, language=language())
