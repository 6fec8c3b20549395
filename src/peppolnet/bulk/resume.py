"""A register checked into an output file, resumable after Ctrl-C, a crash or ``kill -9``.

Every result is written and flushed as it arrives (:class:`~peppolnet.bulk.ResultWriter`) and
carries its input row number, so the output itself is the record of what is done: resuming reads
it back (:func:`resume_state`), continues it (:func:`open_output`) and checks only the rows
missing from it (:meth:`RegisterRun.check`). The summary of a resumed run covers the whole
register, the rows done before included. ``peppolnet check --resume`` is these pieces; a program
gets the same with :func:`check_register`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from peppolnet.bulk.output import (
    OutputFormat,
    ResultWriter,
    csv_delimiter,
    format_for,
    read_done,
    written_for,
)
from peppolnet.bulk.registers import country_of
from peppolnet.bulk.run import BulkResult, CheckOptions, check_many
from peppolnet.bulk.summary import Summary
from peppolnet.errors import InvalidInput
from peppolnet.i18n import _, parse_language

if TYPE_CHECKING:
    from typing import Unpack

    from peppolnet.bulk.registers import Register, RegisterRow
    from peppolnet.bulk.run import _Choice

__all__ = [
    "RegisterRun",
    "ResumeState",
    "RowSet",
    "check_register",
    "open_output",
    "resume_state",
]


class RowSet:
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


@dataclasses.dataclass
class ResumeState:
    """What an earlier run left in an output: the row numbers it finished and their summary
    (by verdict, operator and country), which a resumed run goes on counting into."""

    rows: RowSet = dataclasses.field(default_factory=RowSet)
    summary: Summary = dataclasses.field(default_factory=Summary)

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, number: object) -> bool:
        return number in self.rows


def resume_state(
    output: str | Path, register: Register, fmt: OutputFormat | None = None
) -> ResumeState:
    """What ``output`` already holds of ``register`` (nothing if it does not exist).

    A row counts once, however often a kill made it appear; a record cut short by a kill does
    not count (its row is checked again). Rows are counted by country as the run counted them:
    the register's country column, else its default country. Raises
    :class:`~peppolnet.errors.InvalidInput` when ``output`` is not a check output.
    """
    kind = format_for(output, fmt)
    if not written_for(output, kind, register.headers):
        raise InvalidInput(
            _(
                "{output!r} is the output of a register with other columns than {register!r} "
                "({columns}); resume it with the register it was made from, or write this "
                "one to another file",
                output=Path(output).name,
                register=register.path.name,
                columns=", ".join(repr(h) for h in register.headers),
            )
        )
    state = ResumeState()
    at = register.columns.get("country")
    default = register.default_country or ""
    for record, fields in read_done(output, kind):
        if record["row"].isdigit() and state.rows.add(int(record["row"])):
            country = fields[at] if at is not None and at < len(fields) else ""
            state.summary.add({**record, "country": country_of(country) or default})
    return state


def open_output(
    output: str | Path,
    register: Register,
    fmt: OutputFormat | None = None,
    *,
    resume: bool = False,
    delimiter: str | None = None,
    language: str | None = None,
) -> ResultWriter:
    """The writer of ``register``'s check output; ``resume=True`` continues what is there.

    A CSV output is written with ``delimiter``, by default the register's own - a Swedish or
    German Excel opens a ``,`` file written for a ``;`` register as one column - and a resumed
    one goes on with the delimiter it was started with (another ``delimiter`` is refused).
    ``language="sv"`` names the added columns in Swedish and, unless ``delimiter`` says
    otherwise, separates a new CSV output by ``;``, the list separator of Swedish Excel (every
    CSV output starts with a UTF-8 BOM, so Excel reads its letters right).

    Raises :class:`~peppolnet.errors.InvalidInput` when the output cannot be written or
    continued as asked.
    """
    kind = format_for(output, fmt)
    started = csv_delimiter(output) if resume and kind == "csv" else None
    swedish = ";" if language is not None and parse_language(language) == "sv" else None
    chosen = delimiter or started or swedish or register.delimiter or ","
    return ResultWriter(
        output, register.headers, kind, append=resume, delimiter=chosen, language=language
    )


class RegisterRun:
    """``register`` checked into ``writer``'s output, skipping the rows of ``state`` (a
    resumed run): every result is written (flushed) and counted before you see it, so an
    interruption at any moment leaves an output that the next run can continue.

    :attr:`summary` covers the rows of ``state`` and every result since; :attr:`written` is
    how many rows this run wrote. Use it as a context manager: closing writes an XLSX
    workbook from its journal (also on Ctrl-C) and closes the register.
    """

    def __init__(
        self, register: Register, writer: ResultWriter, state: ResumeState | None = None
    ) -> None:
        self.register = register
        self.writer = writer
        self.state = state if state is not None else ResumeState()
        self.written = 0

    @property
    def summary(self) -> Summary:
        """The whole register's summary so far: resumed rows and this run's results."""
        return self.state.summary

    @property
    def resumed(self) -> int:
        """How many rows an earlier run had done (left out of this one)."""
        return len(self.state)

    def rows(self) -> Iterator[RegisterRow]:
        """The register's rows that are not done yet."""
        done = self.state.rows
        return (row for row in self.register if row.number not in done)

    def check(
        self, lookup: _Choice | None = None, **options: Unpack[CheckOptions]
    ) -> Generator[BulkResult, None, None]:
        """Check the rows not done yet with :func:`~peppolnet.bulk.check_many` (same lookup
        and options; they are checked now, not at the first row) and yield each result once it
        is written and counted."""
        return self._written(check_many(self.rows(), lookup, **options))

    def _written(
        self, results: Generator[BulkResult, None, None]
    ) -> Generator[BulkResult, None, None]:
        try:
            for result in results:
                record = result.record()  # once for both: a million-row run makes a million
                self.writer.write(result, record)
                self.written += 1  # counted with the write: an interrupt cannot fall between
                self.summary.add_result(result, record)
                yield result
        finally:
            results.close()

    def close(self) -> None:
        """Close the output (an XLSX workbook is written now) and the register."""
        try:
            self.writer.close()
        finally:
            self.register.close()

    def __enter__(self) -> RegisterRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_register(
    register: Register,
    output: str | Path,
    fmt: OutputFormat | None = None,
    *,
    resume: bool = False,
    delimiter: str | None = None,
    language: str | None = None,
) -> RegisterRun:
    """A run of ``register`` into ``output``; with ``resume=True`` the rows already in
    ``output`` are kept and left out (see :func:`resume_state` and :func:`open_output`, which
    ``language`` is passed to).

    Raises :class:`~peppolnet.errors.InvalidInput` (and closes the register) when ``output`` is
    not a check output or cannot be written; nothing has been looked up then.
    """
    try:
        state = resume_state(output, register, fmt) if resume else None
        writer = open_output(
            output, register, fmt, resume=resume, delimiter=delimiter, language=language
        )
    except BaseException:
        register.close()
        raise
    return RegisterRun(register, writer, state)
