"""``peppolnet check REGISTER``: check a whole customer register, write it back with verdicts.

The output repeats every input row with added columns (participant id, verdict, operator, Seat
ID, SMP host, country, reason). Rows are written and flushed as they finish, so Ctrl-C and
kill -9 keep them (an .xlsx in its journal until the run ends); ``--resume`` reads the output
back and checks only the rest (:mod:`peppolnet.bulk.resume`, which programs can use too). A
progress line is drawn on stderr when it is a terminal; the summary is printed at the end
(``--json`` for JSON).

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
import functools
import gc
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from peppolnet.cli._language import language, say
from peppolnet.cli._network import add_network_arguments, networks_from_arguments
from peppolnet.cli._output import (
    UsageError,
    add_register_country_argument,
    echo,
    fail,
    input_file,
    one_character,
    output_file,
    positive_int,
    positive_seconds,
    print_json,
    refused,
    safe_lines,
    text_encoding,
)
from peppolnet.cli.commands.lookup import (
    add_deadline_argument,
    add_dnssec_argument,
    add_document_type_argument,
    add_revocation_arguments,
    revocation_checker,
)
from peppolnet.i18n import _

if TYPE_CHECKING:
    from peppolnet.bulk import OutputFormat, Progress, Register, RegisterRun
    from peppolnet.network import Network, Networks


def register(subparsers: Any) -> None:
    """Add the ``check`` command."""
    parser = subparsers.add_parser(
        "check",
        help=_("check a whole customer register (CSV/XLSX) and write the verdicts"),
        description=_(
            "Check every row of a customer register and write it back with verdicts. "
            "With --lang sv the added columns have Swedish names and a CSV output is "
            "separated by ';' (for Swedish Excel)."
        ),
    )
    parser.add_argument(
        "register", metavar="REGISTER", type=input_file, help=_("a .csv or .xlsx customer register")
    )
    parser.add_argument(
        "-o",
        "--output",
        type=output_file,
        help=_("output file, .csv, .jsonl or .xlsx (default: REGISTER's name + .checked.<format>)"),
    )
    parser.add_argument("--format", choices=("csv", "jsonl", "xlsx"), help=_("output format"))
    add_register_country_argument(parser)
    add_document_type_argument(parser)
    parser.add_argument(
        "--column",
        action="append",
        default=[],
        type=_column,
        metavar="ROLE=HEADER",
        help=_("map a column: name, org_number, country, email or participant_id (repeatable)"),
    )
    parser.add_argument(
        "--encoding", type=text_encoding, help=_("CSV encoding (default: detected)")
    )
    parser.add_argument(
        "--delimiter", type=one_character, help=_("CSV delimiter, or 'tab' (default: detected)")
    )
    parser.add_argument(
        "--output-delimiter",
        type=one_character,
        metavar="CHAR",
        help=_(
            "delimiter of a CSV output, or 'tab' (default: ';' with --lang sv, else the "
            "register's; ',' for .xlsx)"
        ),
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=16, help=_("lookups at once (default 16)")
    )
    parser.add_argument(
        "--processes",
        type=_processes,
        default=1,
        metavar="N",
        help=_(
            "worker processes, one core each, or 'auto' (the cores, at most {most}); "
            "--concurrency is split across them (default 1)",
            most=_MOST_PROCESSES,
        ),
    )
    parser.add_argument(
        "--per-host",
        type=positive_int,
        help=_("requests at once per SMP host (default concurrency/4, at most 32)"),
    )
    parser.add_argument(
        "--timeout", type=positive_seconds, default=10.0, help=_("seconds per request")
    )
    add_deadline_argument(parser)
    parser.add_argument(
        "--resume", action="store_true", help=_("keep the rows already in OUTPUT, check the rest")
    )
    parser.add_argument(
        "--chart", metavar="PATH", type=output_file, help=_("also draw a summary chart (.png/.svg)")
    )
    parser.add_argument("--json", action="store_true", help=_("print the summary as JSON"))
    add_dnssec_argument(parser)
    add_revocation_arguments(parser)
    add_network_arguments(parser, auto=True)
    parser.set_defaults(handler=run)


def _column(spec: str) -> tuple[str, str]:
    """An argparse type: one ``--column ROLE=HEADER`` with a known role (the header is looked
    for when the register is read)."""
    from peppolnet.bulk import ROLES

    role, sep, header = spec.partition("=")
    if not sep or not role.strip() or not header.strip():
        raise refused(_("{spec!r} is not ROLE=HEADER, e.g. --column org_number=Orgnr", spec=spec))
    if role.strip().lower().replace("-", "_").replace(" ", "_") not in ROLES:
        raise refused(
            _(
                "unknown column role {role!r}; use one of {roles}",
                role=role.strip(),
                roles=", ".join(ROLES),
            )
        )
    return role.strip(), header.strip()


#: The most worker processes ``--processes auto`` starts: each holds an interpreter, a lookup
#: and its share of the caches; beyond a handful the parent's routing and the network limit.
_MOST_PROCESSES: Final = 8


def _processes(text: str) -> int:
    """An argparse type: ``--processes N`` (at least 1) or ``auto`` (the cores this process
    may use, at most :data:`_MOST_PROCESSES`)."""
    if text.strip().lower() == "auto":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        return max(1, min(cores or os.cpu_count() or 1, _MOST_PROCESSES))
    try:
        value = int(text)
    except ValueError:
        raise refused(
            _("{text!r} is not a number of processes: a whole number or auto", text=text)
        ) from None
    if value < 1:
        raise refused(_("must be at least 1, got {value}", value=value))
    return value


def _default_output(register: Path, fmt: str | None) -> Path:
    suffix = fmt or (register.suffix.lstrip(".").lower() if register.suffix else "csv")
    suffix = suffix if suffix in ("csv", "jsonl", "xlsx") else "csv"
    return register.with_name(f"{register.stem}.checked.{suffix}")


@functools.cache
def _label(outcome: str, lang: str) -> str:
    """A count's verdict as the summary names it (``kan ta emot``), not its machine value; the
    line is redrawn ten times a second, so each label is looked up once."""
    from peppolnet.bulk import verdict_text

    return verdict_text(outcome, lang)


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
        rate = round(progress.done / max(now - self.started, 1e-6))
        lang = language()
        counts = "  ".join(f"{_label(k, lang)} {v}" for k, v in sorted(progress.counts.items()))
        done = progress.done + self.resumed
        line = say(_("{done} rows  {rate}/s  {counts}", done=done, rate=rate, counts=counts))
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    """The handler: check what was asked for, then read, check, write, summarise."""
    from peppolnet.bulk import read_register, render_chart

    source = Path(args.register)
    output = Path(args.output) if args.output else _default_output(source, args.format)
    fmt = _requested(args, source, output)
    network = networks_from_arguments(args)

    register = read_register(
        source,
        columns=dict(args.column),
        default_country=args.country,
        encoding=args.encoding,
        delimiter=args.delimiter,
    )
    job = _job(args, register, output, fmt)
    bar = _ProgressLine(sys.stderr, job.resumed) if sys.stderr.isatty() else None
    interrupted = False
    checker = revocation_checker(args, timeout=args.timeout)
    try:
        with (
            contextlib.closing(checker) if checker is not None else contextlib.nullcontext(),
            job,
            _fewer_collections(),
        ):
            results = _check(args, job, network, bar, checker)
            try:
                for _result in results:
                    pass  # written and counted by the run
            except KeyboardInterrupt:
                interrupted = True
            finally:
                results.close()
    finally:
        if bar is not None:
            bar.finish()

    summary = job.summary
    if args.json:
        data = summary.to_json()
        data.update(output=str(output), written=job.written, resumed=job.resumed)
        data["interrupted"] = interrupted
        print_json(data)
    else:
        sys.stdout.write(safe_lines(summary.lines(language())) + "\n")
        echo(_("written to {output}", output=output))
    if args.chart:
        render_chart(summary, args.chart, language=language())
    if interrupted:
        kept = _(
            "interrupted; {written} new rows kept in {output} - run again with --resume",
            written=job.written,
            output=output,
        )
        return fail(kept, code=130)
    return 0


#: The young generation's threshold of the garbage collector during a run (Python's: 700).
_YOUNG_THRESHOLD: Final = 20_000


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the garbage collector less often while a register is checked, as long-running
    Python servers do; the settings before are put back at the end.

    Why: a run keeps tens of thousands of answers in its result cache (64 MB), and every
    object a lookup makes that outlives two young collections reaches the oldest generation;
    once a quarter of it is new, Python walks all of it (~450,000 objects, ~0.25 s each time,
    20 times in a 200,000-row run: a fifth of the process's CPU, measured with gc.callbacks).
    With fewer young collections most of a lookup's objects are freed by their reference
    counts before they are ever promoted: no full collection in that run, and CPU per row
    132 -> 119 us (same register, back to back). Memory stays bounded: what waits for a
    collection is at most this many young objects. Only the command does this - it owns its
    process; ``check_many`` in a program of yours leaves the collector as you set it.
    """
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], _YOUNG_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _check(
    args: argparse.Namespace,
    job: RegisterRun,
    network: Network | Networks,
    bar: Any,
    checker: Any,
) -> Any:
    """The run's results as they come: the run's own lookup for one network, or - for
    ``--dnssec`` or ``--network auto`` - a lookup made as asked for (the run closes it)."""
    from peppolnet.bulk import default_per_host
    from peppolnet.network import Networks

    lookup_options: dict[str, Any] = {
        "per_host": args.per_host or default_per_host(args.concurrency),
        "timeout": args.timeout,
        "deadline": args.deadline,
        "revocation": checker,
    }
    run_options: dict[str, Any] = {
        "document_type": args.doctype,
        "concurrency": args.concurrency,
        "progress": bar,
        # a worker needs at least one lookup at a time (auto on a big machine, a small -c)
        "processes": min(args.processes, args.concurrency),
    }
    if not args.dnssec and not isinstance(network, Networks):
        return job.check(network=network, **lookup_options, **run_options)
    from peppolnet.auto import AsyncAutoLookup
    from peppolnet.lookup import AsyncLookup

    lookup_options["dnssec"] = args.dnssec
    if isinstance(network, Networks):
        return job.check(
            functools.partial(AsyncAutoLookup, network, **lookup_options), **run_options
        )
    return job.check(functools.partial(AsyncLookup, network, **lookup_options), **run_options)


def _requested(args: argparse.Namespace, source: Path, output: Path) -> OutputFormat:
    """The output format, with every requested output checked now: a run that cannot write its
    output or draw its chart must fail before the first lookup, not after a million rows."""
    from peppolnet.bulk import check_chart_path, format_for
    from peppolnet.errors import InvalidInput

    if output.resolve() == source.resolve():
        raise UsageError(_("the output file must not be the register itself"))
    try:
        fmt = format_for(output, args.format)
        if args.chart:
            check_chart_path(args.chart)
    except InvalidInput as exc:
        raise UsageError(exc.message) from exc
    return fmt


def _job(
    args: argparse.Namespace, register: Register, output: Path, fmt: OutputFormat
) -> RegisterRun:
    """The run, set up before the first lookup: with ``--resume``, what the output holds (an
    output that is not a check output: exit 1, as any register that cannot be used), then the
    writer (an output that cannot be written or continued as asked: a usage error, exit 2)."""
    from peppolnet.bulk import RegisterRun, open_output, resume_state
    from peppolnet.errors import InvalidInput

    try:
        state = resume_state(output, register, fmt) if args.resume else None
        try:
            writer = open_output(
                output,
                register,
                fmt,
                resume=args.resume,
                delimiter=args.output_delimiter,
                language=language(),
            )
        except InvalidInput as exc:
            raise UsageError(exc.message) from exc
    except BaseException:
        register.close()
        raise
    return RegisterRun(register, writer, state)
