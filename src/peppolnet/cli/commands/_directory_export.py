"""``peppolnet directory export download|stats|diff``: the Directory export from a terminal.

* ``download`` fetches one export file of a network's Directory into the cache (today's copy
  is used when there is one; the published limit of 3 downloads per file per day is kept);
* ``stats`` counts an export - a file, or the network's export, downloaded if needed - per
  country, identifier scheme, document-type family and registration month, and organisations;
* ``diff`` compares two exports (files or Parquet folders) and lists who joined, who left and
  who changed (the ``analytics`` extra: DuckDB).

Human output is in the command's language (``--lang``), with text from the export shown safely
(``echo`` and ``table`` escape it); ``--json`` is language-neutral. A damaged export still gives
its numbers, names every part it could not read, and exits 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from peppolnet.cli._language import language, say
from peppolnet.cli._network import add_network_arguments, network_from_arguments
from peppolnet.cli._output import (
    UsageError,
    argparse_type,
    echo,
    positive_int,
    print_json,
    readable_file,
    table,
)
from peppolnet.i18n import Message, _, decimal

if TYPE_CHECKING:
    from peppolnet.analytics.stats import ExportStatistics
    from peppolnet.directory.export import (
        ExportDownloader,
        ExportFile,
        ExportProblem,
        ExportReader,
    )

__all__ = ["register_export"]

_DESCRIPTION = _(
    "The Peppol Directory's daily export: download one of its files (today's copy is used when "
    "there is one; at most 3 downloads per file a day), count an export per country, scheme, "
    "document-type family and month, or compare two exports. A damaged export still gives its "
    "numbers, lists what could not be read, and exits 1."
)
_KINDS: Final = (
    "businesscards",
    "businesscards-xml-no-doc-types",
    "businesscards-json",
    "businesscards-csv",
    "participants-xml",
    "participants-json",
    "participants-csv",
)
#: Problems listed in human output (all of them are in --json).
_SHOWN_PROBLEMS: Final = 10


def _export_file(text: str) -> str:
    return readable_file(text, _("export"))


def _export_source(text: str) -> str:
    """An export file, or a folder that holds a Parquet export (for ``diff``)."""
    path = Path(text).expanduser()
    if path.is_dir() and (path / "export.json").is_file():
        return text
    return _export_file(text)


def register_export(sub: Any) -> None:
    """Add ``export`` and its sub-commands under ``directory``."""
    export = sub.add_parser(
        "export", help=_("the Directory's daily export"), description=_DESCRIPTION
    )
    commands = export.add_subparsers(dest="export_command", metavar="SUBCOMMAND")

    download = commands.add_parser(
        "download", help=_("download an export file (cached for the day)"),
        description=_DESCRIPTION,
    )  # fmt: skip
    _kind_and_cache(download)
    download.add_argument(
        "--force", action="store_true", help=_("download even when today's copy is on disk")
    )
    _json_option(download)
    download.set_defaults(handler=_download)

    stats = commands.add_parser("stats", help=_("count an export"), description=_DESCRIPTION)
    stats.add_argument(
        "file",
        nargs="?",
        type=argparse_type(_export_file),
        help=_("an export file (plain or gzip); default: the network's, downloaded if needed"),
    )
    _kind_and_cache(stats)
    stats.add_argument("--encoding", help=_("text encoding of a CSV export (default ISO-8859-1)"))
    stats.add_argument(
        "--top", type=positive_int, default=10, help=_("rows per table (default 10)")
    )
    _json_option(stats)
    stats.set_defaults(handler=_stats)

    diff = commands.add_parser(
        "diff", help=_("who joined, left or changed between two exports"),
        description=_DESCRIPTION,
    )  # fmt: skip
    source = argparse_type(_export_source)
    diff.add_argument("old", type=source, help=_("the older export (a file or a Parquet folder)"))
    diff.add_argument("new", type=source, help=_("the newer export (a file or a Parquet folder)"))
    diff.add_argument("--limit", type=positive_int, default=20, help=_("rows listed (default 20)"))
    diff.add_argument(
        "--output", metavar="DIR", help=_("also write added/removed/changed.parquet there")
    )
    _json_option(diff)
    diff.set_defaults(handler=_diff)


def _kind_and_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kind",
        choices=_KINDS,
        default="businesscards",
        help=_("which export file (default: businesscards, the XML with document types)"),
    )
    parser.add_argument("--cache-dir", metavar="DIR", help=_("where exports are kept"))
    add_network_arguments(parser)


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help=_("print JSON instead of text"))


def _downloader(args: argparse.Namespace) -> ExportDownloader:
    from peppolnet.directory.export import ExportDownloader

    return ExportDownloader(network_from_arguments(args), cache_dir=args.cache_dir)


# --- download ----------------------------------------------------------------------------------


def _download(args: argparse.Namespace) -> int:
    from peppolnet.directory.export import ExportKind

    kind = ExportKind.parse(args.kind)
    with _downloader(args) as downloader:
        file = downloader.download(kind, force=args.force)
        left = downloader.downloads_left(kind)
    if args.json:
        print_json({**file.to_json(), "downloads_left": left})
    else:
        _describe_download(file, left)
    return 0


def _describe_download(file: ExportFile, left: int) -> None:
    size = _size(file.size)
    when = f"{file.downloaded_at:%Y-%m-%d %H:%M} UTC"
    name = file.path.name
    if not file.from_cache:
        echo(_("Downloaded {name} ({size}) from {url}", name=name, size=size, url=file.url))
    elif file.fresh:
        echo(_("Today's copy of {name} is on disk ({size}, downloaded {when}); nothing was "
               "downloaded.", name=name, size=size, when=when))  # fmt: skip
    else:
        echo(_("Today's downloads of this file are used up, so this is the copy from {when}, "
               "not today's export.", when=when))  # fmt: skip
    echo(_("Saved as {path}", path=str(file.path)))
    echo(_("Downloads of this file left in the next 24 hours: {left}", left=left))


def _size(size: int) -> str:
    """``1.2 MB``: decimal units, as file managers show them."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{decimal(value, language())} {unit}"


# --- stats -------------------------------------------------------------------------------------


def _stats(args: argparse.Namespace) -> int:
    from peppolnet.analytics import StatisticsCounter
    from peppolnet.directory.export import ExportKind, read_export

    if args.file is None:
        with _downloader(args) as downloader:
            path = downloader.download(ExportKind.parse(args.kind)).path
    else:
        path = Path(args.file)
    counter = StatisticsCounter()
    with read_export(path, encoding=args.encoding) as reader:
        for record in reader:
            counter.add(record)
    result = counter.result()
    if args.json:
        print_json(
            {
                "file": str(path),
                "header": _header_json(reader),
                "complete": reader.complete,
                "statistics": result.to_json(),
                "problems": [_problem_json(p) for p in reader.problems],
            }
        )
    else:
        _show_statistics(result, reader, path, args.top)
    return 1 if reader.problems else 0


def _header_json(reader: ExportReader) -> dict[str, Any]:
    header = reader.header
    return {
        "format": header.format,
        "content": header.content,
        "version": header.version,
        "created": header.created.isoformat() if header.created else None,
        "code_list": header.code_list,
        "declared_count": header.declared_count,
    }


def _problem_json(problem: ExportProblem) -> dict[str, Any]:
    return {
        "kind": problem.kind,
        "where": str(problem.where),
        "message": str(problem.message),
        "participant": problem.participant,
        "skipped": problem.skipped,
    }


def _family_label(family: str) -> Message:
    labels = {
        "billing-invoice": _("BIS Billing 3.0 invoice"),
        "billing-credit-note": _("BIS Billing 3.0 credit note"),
        "self-billing": _("self-billing"),
        "pint": _("PINT (Peppol International)"),
        "ordering": _("ordering (order, order response)"),
        "mlr-mls": _("message level response or status (MLR/MLS)"),
    }
    return labels.get(family, _("other document types"))


def _place(code: str) -> str:
    """A country code with its name in the command's language ("SE Sverige")."""
    from peppolnet.analytics.stats import UNKNOWN
    from peppolnet.i18n import country_name

    if code == UNKNOWN:
        return say(_("unknown"))
    if code == "international":
        return code
    return f"{code} {country_name(code, language())}"


def _show_statistics(result: ExportStatistics, reader: ExportReader, path: Path, top: int) -> None:
    from peppolnet.codelists import scheme_for

    header = reader.header
    created = f"{header.created:%Y-%m-%d %H:%M} UTC" if header.created else "?"
    echo(_("{file}: {format} export, made {created}", file=path.name,
           format=header.format.upper(), created=created))  # fmt: skip
    echo(_("{participants} participants, {organisations} organisations, {entities} business "
           "entities", participants=result.participants, organisations=result.organisations,
           entities=result.entities))  # fmt: skip
    print()
    rows = [
        [_place(code), str(count), str(result.organisations_by_country.get(code, 0))]
        for code, count in result.top("country", top)
    ]
    echo(_("Participants per country"))
    print(table(rows, [_("COUNTRY"), _("PARTICIPANTS"), _("ORGANISATIONS")]))
    print()
    rows = []
    for icd, count in result.top("scheme", top):
        scheme = scheme_for(icd) if icd != "other" else None
        rows.append([icd, scheme.scheme_id if scheme else "", str(count)])
    echo(_("Participants per identifier scheme"))
    print(table(rows, [_("ICD"), _("SCHEME"), _("PARTICIPANTS")]))
    if header.content == "cards":
        _show_families_and_months(result, top)
    _show_problems(reader.problems)


def _show_families_and_months(result: ExportStatistics, top: int) -> None:
    print()
    rows = [[say(_family_label(f)), str(n)] for f, n in result.by_family.items()]
    echo(_("Participants per document-type family (one participant counts in every family "
           "it accepts)"))  # fmt: skip
    print(table(rows, [_("FAMILY"), _("PARTICIPANTS")]))
    print()
    months = [(m, n) for m, n in result.by_month.items() if m != "unknown"][-top:]
    echo(_("Registrations per month (the latest {count})", count=len(months)))
    print(table([[m, str(n)] for m, n in months], [_("MONTH"), _("PARTICIPANTS")]))


def _show_problems(problems: Sequence[ExportProblem]) -> None:
    if not problems:
        return
    print()
    echo(_("Parts of the export that could not be read: {count}", count=len(problems)))
    for problem in problems[:_SHOWN_PROBLEMS]:
        who = f" ({problem.participant})" if problem.participant else ""
        echo(f"  {say(problem.where)}{who}: {say(problem.message)}")
    if len(problems) > _SHOWN_PROBLEMS:
        echo(_("  ... and {more} more (all of them with --json)",
               more=len(problems) - _SHOWN_PROBLEMS))  # fmt: skip


# --- diff --------------------------------------------------------------------------------------


def _diff(args: argparse.Namespace) -> int:
    from peppolnet.analytics import diff_exports
    from peppolnet.analytics.parquet import not_a_folder
    from peppolnet.errors import MissingExtra

    if args.output and not Path(args.output).expanduser().parent.is_dir():
        raise UsageError(
            _("the folder of {path} does not exist; create it first", path=repr(args.output))
        )
    if args.output and (problem := not_a_folder(args.output)) is not None:
        raise UsageError(problem)  # before the diff, which may take minutes
    try:
        result = diff_exports(Path(args.old), Path(args.new))
    except MissingExtra as exc:
        raise UsageError(exc.message) from exc
    if args.output:
        _write_diff(result, Path(args.output))
    if args.json:
        print_json(result.to_json(limit=args.limit))
    else:
        _show_diff(result, args.limit)
    return 1 if result.problems else 0


def _write_diff(result: Any, folder: Path) -> None:
    from peppolnet.analytics._extra import require

    pq = require("pyarrow.parquet", _("a Parquet file"))
    folder.mkdir(exist_ok=True)
    for name in ("added", "removed", "changed"):
        pq.write_table(getattr(result, name), str(folder / f"{name}.parquet"))


def _show_diff(result: Any, limit: int) -> None:
    counts = result.counts()
    echo(_("{old} participants before, {new} after: {added} added, {removed} removed, "
           "{changed} changed", **counts))  # fmt: skip
    for name, title in (("added", _("Added")), ("removed", _("Removed"))):
        rows = getattr(result, name).slice(0, limit).to_pylist()
        if rows:
            print()
            echo(title)
            cells = [[r["participant_id"], r["country"] or "", r["name"] or ""] for r in rows]
            print(table(cells, [_("PARTICIPANT"), _("COUNTRY"), _("NAME")]))
    rows = result.changed.slice(0, limit).to_pylist()
    if rows:
        print()
        echo(_("Changed"))
        cells = [[r["participant_id"], r["new_name"] or "", ", ".join(r["changes"])] for r in rows]
        print(table(cells, [_("PARTICIPANT"), _("NAME"), _("WHAT CHANGED")]))
    _show_problems([problem for _side, problem in result.problems])
