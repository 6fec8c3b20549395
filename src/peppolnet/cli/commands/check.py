"""``peppolnet check REGISTER``: check a whole customer register, write it back with verdicts.

The output repeats every input row with added columns (participant id, verdict, operator, Seat
ID, SMP host, country, reason). Rows are written as they finish, so Ctrl-C keeps them;
``--resume`` reads the output back and checks only the rest. A progress line is drawn on
stderr when it is a terminal; the summary is printed at the end (``--json`` for JSON).

Exit codes: 0 the run completed (whatever the verdicts), 2 usage, 3 the run could not start
(unreadable register, unwritable output), 130 interrupted (finished rows are kept).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from peppolnet.cli._network import add_network_arguments, network_from_arguments
from peppolnet.cli._output import fail, print_json
from peppolnet.cli.commands.lookup import add_revocation_arguments, revocation_checker

if TYPE_CHECKING:
    from peppolnet.bulk import Progress


def register(subparsers: Any) -> None:
    """Add the ``check`` command."""
    parser = subparsers.add_parser(
        "check",
        help="check a whole customer register (CSV/XLSX) and write the verdicts",
        description="Check every row of a customer register and write it back with verdicts.",
    )
    parser.add_argument("register", metavar="REGISTER", help="a .csv or .xlsx customer register")
    parser.add_argument(
        "-o", "--output", help="output file (default: REGISTER's name + .checked.<format>)"
    )
    parser.add_argument("--format", choices=("csv", "jsonl", "xlsx"), help="output format")
    parser.add_argument("--country", help="country for rows without one (e.g. SE)")
    parser.add_argument(
        "--doctype", default="invoice", help="invoice, credit-note or a document type id"
    )
    parser.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="ROLE=HEADER",
        help="map a column: name, org_number, country, email or participant_id (repeatable)",
    )
    parser.add_argument("--encoding", help="CSV encoding (default: detected)")
    parser.add_argument("--delimiter", help="CSV delimiter (default: detected)")
    parser.add_argument("--concurrency", type=int, default=16, help="lookups at once (default 16)")
    parser.add_argument(
        "--per-host", type=int, help="requests at once per SMP host (default concurrency/4)"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument(
        "--resume", action="store_true", help="keep the rows already in OUTPUT, check the rest"
    )
    parser.add_argument("--chart", metavar="PATH", help="also draw a summary chart (.png/.svg)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_revocation_arguments(parser)
    add_network_arguments(parser)
    parser.set_defaults(handler=run)


def _columns(specs: list[str]) -> dict[str, str] | None:
    mapping: dict[str, str] = {}
    for spec in specs:
        role, sep, header = spec.partition("=")
        if not sep or not role.strip() or not header.strip():
            return None
        mapping[role.strip()] = header.strip()
    return mapping


def _default_output(register: Path, fmt: str | None) -> Path:
    suffix = fmt or (register.suffix.lstrip(".").lower() if register.suffix else "csv")
    suffix = suffix if suffix in ("csv", "jsonl", "xlsx") else "csv"
    return register.with_name(f"{register.stem}.checked.{suffix}")


class _RowSet:
    """Row numbers already done: a contiguous prefix plus the rest, so resuming a million-row
    run (whose output is in order) costs a few bytes, not a set of a million ints."""

    def __init__(self) -> None:
        self.prefix = 0
        self.extra: set[int] = set()

    def add(self, number: int) -> bool:
        """Add ``number``; False if it was already there."""
        if number in self:
            return False
        self.extra.add(number)
        while self.prefix + 1 in self.extra:
            self.prefix += 1
            self.extra.discard(self.prefix)
        return True

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and (0 < number <= self.prefix or number in self.extra)

    def __len__(self) -> int:
        return self.prefix + len(self.extra)


class _ProgressLine:
    """A ``\\r`` status line on a terminal, redrawn at most ten times a second."""

    def __init__(self, stream: TextIO, resumed: int) -> None:
        self.stream = stream
        self.resumed = resumed
        self.started = time.monotonic()
        self.last = 0.0
        self.drawn = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        rate = progress.done / max(now - self.started, 1e-6)
        counts = "  ".join(f"{k} {v}" for k, v in sorted(progress.counts.items()))
        done = progress.done + self.resumed
        self.stream.write(f"\r{done} rows  {rate:.0f}/s  {counts}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """The handler: read, check, write, summarise."""
    from peppolnet.bulk import (
        ResultWriter,
        Summary,
        check_many,
        format_for,
        read_done,
        read_register,
        render_chart,
    )
    from peppolnet.errors import InvalidIdentifier, PeppolnetError
    from peppolnet.lookup import resolve_document_type

    columns = _columns(args.column)
    if columns is None:
        return fail("--column must be ROLE=HEADER, e.g. --column org_number=Orgnr", code=2)
    if args.concurrency < 1 or (args.per_host is not None and args.per_host < 1):
        return fail("--concurrency and --per-host must be at least 1", code=2)
    if not args.timeout > 0:
        return fail("--timeout must be a positive number of seconds", code=2)
    try:
        document_type = resolve_document_type(args.doctype)
    except InvalidIdentifier as exc:
        return fail(f"--doctype: {exc}", code=2)
    source = Path(args.register)
    output = Path(args.output) if args.output else _default_output(source, args.format)
    fmt = format_for(output, args.format)
    if output.resolve() == source.resolve():
        return fail("the output file must not be the register itself", code=2)

    register = None
    try:
        register = read_register(
            source,
            columns=columns,
            default_country=args.country,
            encoding=args.encoding,
            delimiter=args.delimiter,
        )
        summary = Summary()
        done = _RowSet()
        if args.resume:
            at = register.columns.get("country")
            for record, fields in read_done(output, fmt):
                if record["row"].isdigit() and done.add(int(record["row"])):
                    country = fields[at] if at is not None and at < len(fields) else ""
                    country = country.strip().upper() or (args.country or "").strip().upper()
                    summary.add({**record, "country": country})
        network = network_from_arguments(args)
    except PeppolnetError as exc:
        if register is not None:
            register.close()
        return fail(str(exc), code=3)

    bar = _ProgressLine(sys.stderr, len(done)) if sys.stderr.isatty() else None
    rows = (row for row in register if row.number not in done)
    interrupted = False
    written = 0
    checker = revocation_checker(args, timeout=args.timeout)
    try:
        per_host = args.per_host or max(2, args.concurrency // 4)
        with (
            contextlib.closing(checker) if checker is not None else contextlib.nullcontext(),
            ResultWriter(output, register.headers, fmt, append=args.resume) as writer,
        ):
            results = check_many(  # its own lookup: the event-loop engine, the fastest
                rows,
                network=network,
                per_host=per_host,
                timeout=args.timeout,
                document_type=document_type,
                concurrency=args.concurrency,
                progress=bar,
                revocation=checker,
            )
            try:
                for result in results:
                    writer.write(result)
                    written += 1  # counted with the write: an interrupt cannot fall between
                    summary.add_result(result)
            except KeyboardInterrupt:
                interrupted = True
            finally:
                results.close()
    except PeppolnetError as exc:
        if bar is not None:
            bar.finish()
        return fail(str(exc), code=3)
    if bar is not None:
        bar.finish()

    if args.json:
        data = summary.to_json()
        data.update(output=str(output), written=written, resumed=len(done))
        data["interrupted"] = interrupted
        print_json(data)
    else:
        sys.stdout.write(f"{summary}\nwritten to {output}\n")
    if args.chart:
        try:
            render_chart(summary, args.chart)
        except PeppolnetError as exc:
            return fail(str(exc), code=3)
    if interrupted:
        return fail(
            f"interrupted; {written} new rows kept in {output} - run again with --resume",
            code=130,
        )
    return 0
