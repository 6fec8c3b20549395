"""``peppolnet check REGISTER``: check a whole customer register, write it back with verdicts.

The output repeats every input row with added columns (participant id, verdict, operator, Seat
ID, SMP host, country, reason). Rows are written and flushed as they finish, so Ctrl-C and
kill -9 keep them (an .xlsx in its journal until the run ends); ``--resume`` reads the output
back and checks only the rest. A progress line is drawn on
stderr when it is a terminal; the summary is printed at the end (``--json`` for JSON).

The CSV output is written with the register's own delimiter (``;`` for a Swedish or German
Excel export, which would otherwise open as one column), or ``--output-delimiter``.

Exit codes: 0 the run completed (whatever the verdicts), 1 the register cannot be used (no id
column, not CSV), 2 usage (a bad option, an unreadable register, an output folder that does not
exist, an output or chart format no writer knows, matplotlib missing for ``--chart``: all found
before the first row is checked), 130 interrupted (finished rows are kept).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from peppolnet.cli._network import add_network_arguments, network_from_arguments
from peppolnet.cli._output import (
    UsageError,
    fail,
    input_file,
    one_character,
    output_file,
    positive_int,
    positive_seconds,
    print_json,
    safe_lines,
    text_encoding,
)
from peppolnet.cli.commands.lookup import (
    add_deadline_argument,
    add_document_type_argument,
    add_revocation_arguments,
    revocation_checker,
)

if TYPE_CHECKING:
    from peppolnet.bulk import OutputFormat, Progress, Register, ResultWriter


def register(subparsers: Any) -> None:
    """Add the ``check`` command."""
    parser = subparsers.add_parser(
        "check",
        help="check a whole customer register (CSV/XLSX) and write the verdicts",
        description="Check every row of a customer register and write it back with verdicts.",
    )
    parser.add_argument(
        "register", metavar="REGISTER", type=input_file, help="a .csv or .xlsx customer register"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=output_file,
        help="output file, .csv, .jsonl or .xlsx (default: REGISTER's name + .checked.<format>)",
    )
    parser.add_argument("--format", choices=("csv", "jsonl", "xlsx"), help="output format")
    parser.add_argument("--country", help="country for rows without one (e.g. SE)")
    add_document_type_argument(parser)
    parser.add_argument(
        "--column",
        action="append",
        default=[],
        type=_column,
        metavar="ROLE=HEADER",
        help="map a column: name, org_number, country, email or participant_id (repeatable)",
    )
    parser.add_argument("--encoding", type=text_encoding, help="CSV encoding (default: detected)")
    parser.add_argument(
        "--delimiter", type=one_character, help="CSV delimiter, or 'tab' (default: detected)"
    )
    parser.add_argument(
        "--output-delimiter",
        type=one_character,
        metavar="CHAR",
        help="delimiter of a CSV output, or 'tab' (default: the register's; ',' for .xlsx)",
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=16, help="lookups at once (default 16)"
    )
    parser.add_argument(
        "--per-host",
        type=positive_int,
        help="requests at once per SMP host (default concurrency/4)",
    )
    parser.add_argument(
        "--timeout", type=positive_seconds, default=10.0, help="seconds per request"
    )
    add_deadline_argument(parser)
    parser.add_argument(
        "--resume", action="store_true", help="keep the rows already in OUTPUT, check the rest"
    )
    parser.add_argument(
        "--chart", metavar="PATH", type=output_file, help="also draw a summary chart (.png/.svg)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_revocation_arguments(parser)
    add_network_arguments(parser)
    parser.set_defaults(handler=run)


def _column(spec: str) -> tuple[str, str]:
    """An argparse type: one ``--column ROLE=HEADER`` with a known role (the header is looked
    for when the register is read)."""
    from peppolnet.bulk import ROLES

    role, sep, header = spec.partition("=")
    if not sep or not role.strip() or not header.strip():
        raise argparse.ArgumentTypeError(
            f"{spec!r} is not ROLE=HEADER, e.g. --column org_number=Orgnr"
        )
    if role.strip().lower().replace("-", "_").replace(" ", "_") not in ROLES:
        raise argparse.ArgumentTypeError(
            f"unknown column role {role.strip()!r}; use one of {', '.join(ROLES)}"
        )
    return role.strip(), header.strip()


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
    """The handler: check what was asked for, then read, check, write, summarise."""
    from peppolnet.bulk import Summary, check_many, read_done, read_register, render_chart

    source = Path(args.register)
    output = Path(args.output) if args.output else _default_output(source, args.format)
    fmt = _requested(args, source, output)
    network = network_from_arguments(args)

    register = read_register(
        source,
        columns=dict(args.column),
        default_country=args.country,
        encoding=args.encoding,
        delimiter=args.delimiter,
    )
    try:
        summary = Summary()
        done = _RowSet()
        if args.resume:
            at = register.columns.get("country")
            for record, fields in read_done(output, fmt):
                if record["row"].isdigit() and done.add(int(record["row"])):
                    country = fields[at] if at is not None and at < len(fields) else ""
                    country = country.strip().upper() or (args.country or "").strip().upper()
                    summary.add({**record, "country": country})
        writer = _writer(args, output, fmt, register)
    except BaseException:
        register.close()
        raise

    bar = _ProgressLine(sys.stderr, len(done)) if sys.stderr.isatty() else None
    rows = (row for row in register if row.number not in done)
    interrupted = False
    written = 0
    checker = revocation_checker(args, timeout=args.timeout)
    try:
        per_host = args.per_host or max(2, args.concurrency // 4)
        with (
            contextlib.closing(checker) if checker is not None else contextlib.nullcontext(),
            writer,
        ):
            results = check_many(  # its own lookup: the event-loop engine, the fastest
                rows,
                network=network,
                per_host=per_host,
                timeout=args.timeout,
                deadline=args.deadline,
                document_type=args.doctype,
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
    finally:
        if bar is not None:
            bar.finish()

    if args.json:
        data = summary.to_json()
        data.update(output=str(output), written=written, resumed=len(done))
        data["interrupted"] = interrupted
        print_json(data)
    else:
        sys.stdout.write(f"{safe_lines(summary.lines())}\nwritten to {output}\n")
    if args.chart:
        render_chart(summary, args.chart)
    if interrupted:
        return fail(
            f"interrupted; {written} new rows kept in {output} - run again with --resume",
            code=130,
        )
    return 0


def _requested(args: argparse.Namespace, source: Path, output: Path) -> OutputFormat:
    """The output format, with every requested output checked now: a run that cannot write its
    output or draw its chart must fail before the first lookup, not after a million rows."""
    from peppolnet.bulk import check_chart_path, format_for
    from peppolnet.errors import InvalidInput

    if output.resolve() == source.resolve():
        raise UsageError("the output file must not be the register itself")
    try:
        fmt = format_for(output, args.format)
        if args.chart:
            check_chart_path(args.chart)
    except InvalidInput as exc:
        raise UsageError(str(exc)) from exc
    return fmt


def _writer(
    args: argparse.Namespace, output: Path, fmt: OutputFormat, register: Register
) -> ResultWriter:
    """The output writer; a CSV is written with the register's delimiter unless told otherwise,
    and a resumed one goes on with the delimiter it was started with."""
    from peppolnet.bulk import ResultWriter, csv_delimiter
    from peppolnet.errors import InvalidInput

    started = csv_delimiter(output) if args.resume and fmt == "csv" else None
    delimiter = args.output_delimiter or started or register.delimiter or ","
    try:
        return ResultWriter(output, register.headers, fmt, append=args.resume, delimiter=delimiter)
    except InvalidInput as exc:  # the output cannot be written, or continued as asked
        raise UsageError(str(exc)) from exc
