"""Customer registers as people have them: CSV (any delimiter, UTF-8 with or without BOM, or
Windows-1252/Latin-1) and XLSX, with column names in English or Swedish.

Reading streams: rows are yielded one at a time, so a million-row register never sits in memory.
Each row keeps every original field (the output repeats them) plus the fields that matter for a
lookup, found through the header. A row that cannot be turned into a lookup is *not* dropped: it
carries ``problem`` and becomes an ``invalid-input`` row in the output, so every input row has
exactly one output row.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Literal, TextIO, TypeAlias

from peppolnet._memory import lru_by_bytes
from peppolnet.errors import InvalidIdentifier, InvalidInput
from peppolnet.i18n import _, country_code
from peppolnet.identifiers import ParticipantId
from peppolnet.schemes import suggest_participant_ids

__all__ = [
    "COLUMN_ALIASES",
    "ROLES",
    "Register",
    "RegisterRow",
    "Role",
    "country_of",
    "detect_columns",
    "detect_encoding",
    "lookup_key",
    "read_register",
]

Role = Literal["name", "org_number", "country", "email", "participant_id"]
ROLES: Final[tuple[Role, ...]] = ("name", "org_number", "country", "email", "participant_id")

# Normalised header (casefolded, accents kept, runs of space/_/-/. collapsed to one space) -> role.
COLUMN_ALIASES: Final[Mapping[str, Role]] = {
    "name": "name",
    "company": "name",
    "company name": "name",
    "customer": "name",
    "customer name": "name",
    "företagsnamn": "name",
    "företag": "name",
    "namn": "name",
    "kundnamn": "name",
    "org number": "org_number",
    "org no": "org_number",
    "org nr": "org_number",
    "orgnr": "org_number",
    "orgno": "org_number",
    "organisation number": "org_number",
    "organization number": "org_number",
    "organisationsnummer": "org_number",
    "registration number": "org_number",
    "vat number": "org_number",
    "vat": "org_number",
    "momsnummer": "org_number",
    "country": "country",
    "country code": "country",
    "land": "country",
    "landskod": "country",
    "email": "email",
    "e mail": "email",
    "e post": "email",
    "epost": "email",
    "mail": "email",
    "participant id": "participant_id",
    "participant": "participant_id",
    "peppol id": "participant_id",
    "peppol participant id": "participant_id",
    "peppol": "participant_id",
}

_MAX_FIELD: Final = 10_000  # characters; protects against a binary file read as CSV
_SAMPLE: Final = 64 * 1024


def _norm_header(text: str) -> str:
    folded = unicodedata.normalize("NFC", text.strip().casefold())
    return re.sub(r"[\s_\-.:]+", " ", folded).strip()


def _role(text: str) -> Role | None:
    for role in ROLES:
        if role == text.strip().lower().replace("-", "_").replace(" ", "_"):
            return role
    return None


def detect_columns(headers: list[str], mapping: Mapping[str, str] | None = None) -> dict[Role, int]:
    """Which column holds which role: header aliases first, then ``mapping`` (role -> header).

    A user mapping naming a column that is not in the header is an :class:`InvalidInput`, named.
    """
    found: dict[Role, int] = {}
    for index, header in enumerate(headers):
        role = COLUMN_ALIASES.get(_norm_header(header))
        if role is not None and role not in found:
            found[role] = index
    for key, header in (mapping or {}).items():
        role = _role(key)
        if role is None:
            raise InvalidInput(
                _(
                    "unknown column role {role!r}; use one of {roles}",
                    role=key,
                    roles=", ".join(ROLES),
                )
            )
        wanted = _norm_header(header)
        matches = [i for i, h in enumerate(headers) if _norm_header(h) == wanted]
        if not matches:
            raise InvalidInput(
                _(
                    "the register has no column {header!r} (for {role}); "
                    "its columns are: {columns}",
                    header=header,
                    role=role,
                    columns=", ".join(repr(h) for h in headers),
                )
            )
        found[role] = matches[0]
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class RegisterRow:
    """One data row: its 1-based ``number`` (header excluded), original fields, lookup fields.

    ``problem`` is set when the row cannot be looked up (no identifier, bad number, no country);
    such rows produce an ``invalid-input`` output row with the problem as reason.
    """

    number: int
    fields: tuple[str, ...]
    name: str = ""
    org_number: str = ""
    country: str = ""
    email: str = ""
    participant_id: str = ""
    problem: str | None = None
    candidates: tuple[ParticipantId, ...] = ()
    """The participant ids a lookup tries, in order; also the key that finds duplicates."""


@dataclasses.dataclass
class Register:
    """An opened register: the header, the detected roles, and a one-shot row stream."""

    path: Path
    headers: list[str]
    columns: dict[Role, int]
    encoding: str | None
    delimiter: str | None
    rows: Iterator[RegisterRow]
    _close: Callable[[], None] = dataclasses.field(default=lambda: None, repr=False)
    default_country: str | None = None
    """The country of rows without one (``read_register(default_country=...)``), upper case;
    resuming a run counts the rows already done by it, as the run did."""

    def __iter__(self) -> Iterator[RegisterRow]:
        return self.rows

    def close(self) -> None:
        """Close the file when the rows will not be read to the end (reading to the end, or
        closing the row stream, closes it too)."""
        self._close()


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the whole file decodes as UTF-8 (BOM or not), else ``cp1252``/``latin-1``.

    The file is decoded incrementally in chunks (no copy in memory): a register exported from an
    old Excel is Windows-1252, and one stray byte at row 900,000 must not be misread.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8-sig"
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                chunk.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _check_decodes(path: Path, encoding: str) -> None:
    """Fail before the run, not at row 900,000, when the file is not in ``encoding``."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
                offset += len(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            _(
                "the register {name!r} is not {encoding}: byte {offset} cannot be decoded "
                "(leave --encoding out to detect it)",
                name=path.name,
                encoding=encoding,
                offset=offset + exc.start,
            )
        ) from None


def _detect_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        header = lines[0]
        return max(",;\t|", key=header.count) if any(d in header for d in ",;\t|") else ","


def read_register(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    default_country: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Register:
    """Open a CSV or XLSX register; rows stream lazily from :attr:`Register.rows`.

    ``columns`` maps roles (``name``, ``org_number``, ``country``, ``email``,
    ``participant_id``) to header names where the header is not recognised. ``default_country``
    is used for rows without a country. Raises :class:`InvalidInput` for a missing or unreadable
    file, an empty one, or one with neither a participant id nor an org number column.
    """
    file = Path(path)
    if not file.is_file():
        raise InvalidInput(
            _("the register {name!r} does not exist or is not a file", name=str(file))
        )
    if file.suffix.lower() in (".xlsx", ".xlsm"):
        headers, raw, close = _open_xlsx(file)
        enc = delim = None
    else:
        if delimiter is not None and len(delimiter) != 1:
            raise InvalidInput(
                _("the delimiter must be one character, got {delimiter!r}", delimiter=delimiter)
            )
        if encoding is not None:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise InvalidInput(
                    _("{encoding!r} is not a known text encoding", encoding=encoding)
                ) from None
            _check_decodes(file, encoding)
        enc = encoding or detect_encoding(file)
        with file.open(encoding=enc, errors="replace", newline="") as fh:
            sample = fh.read(_SAMPLE)
        delim = delimiter or _detect_delimiter(sample)
        headers, raw, close = _open_csv(file, enc, delim)
    try:
        roles = detect_columns(headers, columns)
    except BaseException:
        close()  # the rows will never be read: do not leave the file open until GC
        raise
    if "participant_id" not in roles and "org_number" not in roles:
        close()
        raise InvalidInput(
            _(
                "the register has no participant id column and no organisation number column "
                "(looked for e.g. 'participant id', 'org number', 'organisationsnummer', "
                "'orgnr'); its columns are: {columns}",
                columns=", ".join(repr(h) for h in headers),
            )
        )
    country = country_of(default_country or "") or None
    rows = _rows(raw, headers, roles, country)
    return Register(file, headers, roles, enc, delim, rows, close, country)


_Opened: TypeAlias = tuple[list[str], Iterator[list[str]], Callable[[], None]]


def _open_csv(path: Path, encoding: str, delimiter: str) -> _Opened:
    """Headers, the rows (which close the file when done), and a close for an early exit."""
    # The csv module's field limit is process-wide: only ever raise it, never lower it under
    # the caller's own CSV code. Oversized fields are refused per row (``_MAX_FIELD``).
    if csv.field_size_limit() < _MAX_FIELD * 10:
        csv.field_size_limit(_MAX_FIELD * 10)
    fh = path.open(encoding=encoding, newline="")
    # strict: a quote left open is an error where the record ends, not a field that swallows
    # the lines after it (see _Lines); the rows it would have swallowed are read line by line
    reader = csv.reader(fh, delimiter=delimiter, strict=True)
    again = _Lines(path, encoding)
    try:
        headers = _header(reader, again, delimiter)
    except csv.Error as exc:
        fh.close()
        again.close()
        raise InvalidInput(
            _("the register {name!r} is not readable CSV: {problem}", name=path.name, problem=exc)
        ) from exc
    if headers is None:
        fh.close()
        again.close()
        raise InvalidInput(_("the register {name!r} is empty", name=path.name))

    def rows() -> Iterator[list[str]]:
        with fh, again:
            done = reader.line_num  # the lines read before the next record
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error:
                    for line in again.between(done, reader.line_num):
                        yield _line_cells(line, delimiter)
                else:
                    yield row
                done = reader.line_num

    def close() -> None:
        fh.close()
        again.close()

    return [h.strip() for h in headers], rows(), close


def _header(reader: Any, again: _Lines, delimiter: str) -> list[str] | None:
    """The first record with a cell that is not blank; one the strict reader refuses is read
    as the lenient one would (a header cannot be reported as a row)."""
    done = 0
    while True:
        try:
            cells = next(reader, None)
        except csv.Error:
            lines = again.between(done, reader.line_num)
            if len(lines) != 1:
                raise
            cells = _line_cells(lines[0], delimiter)
            if cells and cells[0].startswith("\x00"):
                raise csv.Error(cells[0][1:]) from None
        if cells is None or any(c.strip() for c in cells):
            return cells
        done = reader.line_num


class _Lines:
    """The register's lines again, read forward only, for the records the strict csv reader
    refuses. A quote left open (``"Kvarnström & Dotter AB,5567...``) makes a field that runs
    on over the following lines until some later quote: the lenient reader returned all of
    them as one record, so the customers on those lines vanished into one cell. The strict
    reader refuses that record where it ends, and each of its lines is read again as a record
    of its own (:func:`_line_cells`): one row per line, nothing lost.

    Opened at the first refusal, so a register without one costs nothing; the lines are
    counted as the csv reader counts them (``line_num``: both split lines on ``\\n``, ``\\r``
    and ``\\r\\n`` of a file opened with ``newline=""``).
    """

    def __init__(self, path: Path, encoding: str) -> None:
        self._path = path
        self._encoding = encoding
        self._fh: TextIO | None = None
        self._at = 0  # lines of _fh read so far

    def between(self, done: int, last: int) -> list[str]:
        """Lines ``done + 1`` to ``last`` (1-based)."""
        if self._fh is None:
            self._fh = self._path.open(encoding=self._encoding, newline="")
        for _skipped in itertools.islice(self._fh, done - self._at):
            pass
        lines = list(itertools.islice(self._fh, last - done))
        self._at = last
        return lines

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _line_cells(line: str, delimiter: str) -> list[str]:
    """One line of a refused record, as a record of its own: strictly if it parses so, else as
    the lenient reader reads it (a stray quote in a name, ``"Dotter" AB``, as before), else a
    malformed record that is reported, not dropped."""
    line = line.rstrip("\r\n")
    for strict in (True, False):
        try:
            return next(csv.reader([line], delimiter=delimiter, strict=strict), [])
        except csv.Error as exc:
            if not strict:
                return [f"\x00{exc}"]
    raise AssertionError("unreachable")  # pragma: no cover


def _open_xlsx(path: Path) -> _Opened:
    try:
        import openpyxl  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - openpyxl is a test dependency
        raise InvalidInput(_("reading .xlsx needs openpyxl: pip install peppolnet[xlsx]")) from exc
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/... for a bad file
        raise InvalidInput(
            _(
                "the register {name} is not a readable .xlsx: {exc}",
                name=repr(path.name),
                exc=str(exc),
            )
        ) from exc
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)

    def text(cell: object) -> str:
        if cell is None:
            return ""
        if isinstance(cell, float) and cell.is_integer():
            return str(int(cell))
        return str(cell)

    headers: list[str] | None = None
    for row in values:
        cells = [text(c) for c in row]
        if any(c.strip() for c in cells):
            headers = [c.strip() for c in cells]
            break
    if headers is None:
        book.close()
        raise InvalidInput(_("the register {name!r} is empty", name=path.name))
    while headers and not headers[-1]:
        headers.pop()

    def rows() -> Iterator[list[str]]:
        try:
            for row in values:
                yield [text(c) for c in row]
        finally:
            book.close()

    return headers, rows(), book.close


def _rows(
    raw: Iterator[list[str]],
    headers: list[str],
    roles: Mapping[Role, int],
    default_country: str | None,
) -> Iterator[RegisterRow]:
    number = 0
    width = len(headers)
    # Per row this is done a million times in a big register: the common case (as many cells
    # as the header) takes no list copies, and the checks run in C (join, map) rather than
    # in generators (6.5 -> 5.8 us a row, read_register alone, same run).
    for cells in raw:
        if not "".join(cells).strip():
            continue  # a blank line is not a row
        number += 1
        if len(cells) == 1 and cells[0].startswith("\x00"):
            malformed = _("malformed CSV record: {problem}", problem=cells[0][1:])
            yield RegisterRow(number, (), problem=malformed)
            continue
        if len(cells) == width:
            extra: list[str] = []
            fields = tuple(cells)
        else:
            extra = [c for c in cells[width:] if c.strip()]
            fields = tuple((cells + [""] * width)[:width])
        values = {role: fields[i].strip() for role, i in roles.items()}
        org_number = values.get("org_number", "")
        country = country_of(values.get("country", "")) or (default_country or "")
        participant_id = values.get("participant_id", "")
        candidates: tuple[ParticipantId, ...] = ()
        problem: str | None = None
        if extra:
            problem = _(
                "the row has {count} fields, the header only {width}",
                count=width + len(extra),
                width=width,
            )
        elif fields and max(map(len, fields)) > _MAX_FIELD:
            problem = _("a field is longer than {limit} characters", limit=_MAX_FIELD)
        else:
            try:
                candidates = _candidates(participant_id, org_number, country)
            except InvalidInput as exc:
                problem = exc.message
        # made once, complete: a dataclasses.replace per row cost more than reading it
        yield RegisterRow(
            number,
            fields,
            name=values.get("name", ""),
            org_number=org_number,
            country=country,
            email=values.get("email", ""),
            participant_id=participant_id,
            problem=problem,
            candidates=candidates,
        )


def lookup_key(row: RegisterRow) -> tuple[ParticipantId, ...]:
    """The participant ids a lookup of ``row`` would try, in order (the duplicate key).

    A participant id column wins over the org number. Raises :class:`InvalidInput` (with the
    reason) for a row that has no usable identifier. Answers are memoised (bounded), since a
    big register repeats its customers and the scheme rules cost more than reading a row.
    """
    return _candidates(row.participant_id, row.org_number, row.country)


def _candidates(participant_id: str, org_number: str, country: str) -> tuple[ParticipantId, ...]:
    """:func:`lookup_key` of a row's three lookup fields."""
    if participant_id:
        answer = _from_participant_id(participant_id)
    elif not org_number:
        raise InvalidInput(_("the row has neither a participant id nor an organisation number"))
    elif not country:
        raise InvalidInput(
            _(
                "the row has no country for organisation number {number!r} "
                "(give a country column or a default country)",
                number=org_number,
            )
        )
    else:
        answer = _from_number(org_number, country)
    if isinstance(answer, str):
        raise InvalidInput(answer)
    return answer


# Parsed once per distinct cell, as long as 8 MB hold them (some 15,000 ids): a register repeats
# a customer within a few rows far more often than across the whole file.
@lru_by_bytes(8 * 1024 * 1024)
def _from_participant_id(text: str) -> tuple[ParticipantId, ...] | str:
    try:
        return (ParticipantId.parse(text, lax=True),)
    except InvalidIdentifier as exc:
        return _("participant id {value!r}: {problem}", value=text, problem=exc)


@lru_by_bytes(8 * 1024 * 1024)
def _from_number(number: str, country: str) -> tuple[ParticipantId, ...] | str:
    suggestions = suggest_participant_ids(number, country)
    if not suggestions.candidates:
        return suggestions.reason or _(
            "{number!r} is not a valid organisation number for {country}",
            number=number,
            country=country,
        )
    return tuple(suggestions.candidates)


@functools.lru_cache(maxsize=1024)
def country_of(text: str) -> str:
    """A register's country cell as an ISO code: ``SE``, ``se``, ``Sverige``, ``Sweden`` and
    ``Suomi`` all work (CLDR names, :func:`peppolnet.i18n.country_code`). A value that names no
    country is kept, upper case, so the row's problem quotes what the register says."""
    value = text.strip()
    if not value:
        return ""
    return country_code(value) or value.upper()
