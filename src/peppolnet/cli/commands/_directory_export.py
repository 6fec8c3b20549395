"""``peppolnet directory export download|stats|diff``: the Directory export from a terminal.

* ``download`` fetches one export file of a network's Directory into the cache (today's copy
  is used when there is one; the published limit of 3 downloads per file per day is kept);
* ``stats`` counts an export - a file, or the network's export, downloaded if needed - per
  country, identifier scheme, document-type family and registration month, and organisations;
* ``diff`` compares two exports (files or Parquet folders) and lists who joined, who left and
  who changed (the ``analytics`` extra: DuckDB).

Human output is Swedish or English (``--lang``), with text from the export shown safely;
``--json`` is language-neutral. A damaged export still gives its numbers, names every part it
could not read, and exits 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from peppolnet.cli._language import add_language_argument, chosen_language
from peppolnet.cli._network import add_network_arguments, network_from_arguments
from peppolnet.cli._output import (
    UsageError,
    argparse_type,
    positive_int,
    print_json,
    readable_file,
    safe_text,
    table,
)
from peppolnet.i18n import Language, Message, _, render

if TYPE_CHECKING:
    from peppolnet.analytics.stats import ExportStatistics
    from peppolnet.directory.export import ExportFile, ExportProblem, ExportReader

__all__ = ["register_export"]

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


def _export_source(text: str) -> str:
    """An export file, or a folder that holds a Parquet export (for ``diff``)."""
    path = Path(text).expanduser()
    if path.is_dir() and (path / "export.json").is_file():
        return text
    return readable_file(text, "export")


def register_export(sub: Any) -> None:
    """Add ``export`` and its sub-commands under ``directory``."""
    export = sub.add_parser("export", help="the Directory's daily export", description=__doc__)
    commands = export.add_subparsers(dest="export_command", metavar="SUBCOMMAND")

    download = commands.add_parser(
        "download", help="download an export file (cached for the day)", description=__doc__
    )
    _kind_and_cache(download)
    download.add_argument(
        "--force", action="store_true", help="download even when today's copy is on disk"
    )
    _common(download)
    download.set_defaults(handler=_download)

    stats = commands.add_parser("stats", help="count an export", description=__doc__)
    stats.add_argument(
        "file",
        nargs="?",
        type=argparse_type(lambda text: readable_file(text, "export")),
        help="an export file (plain or gzip); default: the network's, downloaded if needed",
    )
    _kind_and_cache(stats)
    stats.add_argument("--encoding", help="text encoding of a CSV export (default ISO-8859-1)")
    stats.add_argument("--top", type=positive_int, default=10, help="rows per table (default 10)")
    _common(stats)
    stats.set_defaults(handler=_stats)

    diff = commands.add_parser(
        "diff", help="who joined, left or changed between two exports", description=__doc__
    )
    source = argparse_type(_export_source)
    diff.add_argument("old", type=source, help="the older export (a file or a Parquet folder)")
    diff.add_argument("new", type=source, help="the newer export (a file or a Parquet folder)")
    diff.add_argument("--limit", type=positive_int, default=20, help="rows listed (default 20)")
    diff.add_argument(
        "--output", metavar="DIR", help="also write added/removed/changed.parquet there"
    )
    diff.add_argument("--json", action="store_true", help="print JSON instead of tables")
    add_language_argument(diff)
    diff.set_defaults(handler=_diff)


def _kind_and_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kind",
        choices=_KINDS,
        default="businesscards",
        help="which export file (default: businesscards, the XML with document types)",
    )
    parser.add_argument("--cache-dir", metavar="DIR", help="where exports are kept")
    add_network_arguments(parser)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_language_argument(parser)


def _say(message: Message, lang: Language) -> None:
    print(message.render(lang))


def _downloader(args: argparse.Namespace) -> Any:
    from peppolnet.directory.export import ExportDownloader

    network = network_from_arguments(args)
    return ExportDownloader(network, cache_dir=args.cache_dir)


# --- download ----------------------------------------------------------------------------------


def _download(args: argparse.Namespace) -> int:
    from peppolnet.directory.export import ExportKind

    kind = ExportKind.parse(args.kind)
    with _downloader(args) as downloader:
        file = downloader.download(kind, force=args.force)
        left = downloader.downloads_left(kind)
    if args.json:
        print_json({**file.to_json(), "downloads_left": left})
        return 0
    _describe_download(file, left, chosen_language(args))
    return 0


def _describe_download(file: ExportFile, left: int, lang: Language) -> None:
    size = _size(file.size)
    when = f"{file.downloaded_at:%Y-%m-%d %H:%M} UTC"
    if not file.from_cache:
        _say(_("Downloaded {name} ({size}) from {url}", name=file.path.name, size=size,
               url=safe_text(file.url)), lang)  # fmt: skip
    elif file.fresh:
        _say(_("Today's copy of {name} is on disk ({size}, downloaded {when}); nothing was "
               "downloaded.", name=file.path.name, size=size, when=when), lang)  # fmt: skip
    else:
        _say(_("Today's downloads of this file are used up, so this is the copy from {when}, "
               "not today's export.", when=when), lang)  # fmt: skip
    _say(_("Saved as {path}", path=str(file.path)), lang)
    _say(_("Downloads of this file left in the next 24 hours: {left}", left=left), lang)


def _size(size: int) -> str:
    """``1.2 MB``: decimal units, as file managers show them."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


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
        _show_statistics(result, reader, path, args.top, chosen_language(args))
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
        "where": problem.where,
        "message": problem.message,
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


def _show_statistics(
    result: ExportStatistics, reader: ExportReader, path: Path, top: int, lang: Language
) -> None:
    from peppolnet.analytics.stats import UNKNOWN
    from peppolnet.codelists import scheme_for
    from peppolnet.i18n import country_name

    header = reader.header
    created = f"{header.created:%Y-%m-%d %H:%M} UTC" if header.created else "?"
    _say(_("{file}: {format} export, made {created}", file=safe_text(path.name),
           format=header.format.upper(), created=created), lang)  # fmt: skip
    _say(_("{participants} participants, {organisations} organisations, {entities} business "
           "entities", participants=result.participants, organisations=result.organisations,
           entities=result.entities), lang)  # fmt: skip

    def place(code: str) -> str:
        if code in (UNKNOWN, "international"):
            return _("unknown").render(lang) if code == UNKNOWN else code
        return f"{code} {country_name(code, lang)}"

    print()
    rows = [
        [place(code), str(count), str(result.organisations_by_country.get(code, 0))]
        for code, count in result.top("country", top)
    ]
    _say(_("Participants per country"), lang)
    print(table(rows, _headers(lang, _("COUNTRY"), _("PARTICIPANTS"), _("ORGANISATIONS"))))
    print()
    rows = []
    for icd, count in result.top("scheme", top):
        scheme = scheme_for(icd) if icd != "other" else None
        rows.append([icd, scheme.scheme_id if scheme else "", str(count)])
    _say(_("Participants per identifier scheme"), lang)
    print(table(rows, _headers(lang, _("ICD"), _("SCHEME"), _("PARTICIPANTS"))))
    if header.content == "cards":
        _show_families_and_months(result, top, lang)
    _show_problems(reader.problems, lang)


def _show_families_and_months(result: ExportStatistics, top: int, lang: Language) -> None:
    print()
    rows = [[_family_label(f).render(lang), str(n)] for f, n in result.by_family.items()]
    _say(_("Participants per document-type family (one participant counts in every family "
           "it accepts)"), lang)  # fmt: skip
    print(table(rows, _headers(lang, _("FAMILY"), _("PARTICIPANTS"))))
    print()
    months = [(m, n) for m, n in result.by_month.items() if m != "unknown"][-top:]
    _say(_("Registrations per month (the latest {count})", count=len(months)), lang)
    print(table([[m, str(n)] for m, n in months], _headers(lang, _("MONTH"), _("PARTICIPANTS"))))


def _headers(lang: Language, *names: Message) -> list[str]:
    return [name.render(lang) for name in names]


def _show_problems(problems: Sequence[ExportProblem], lang: Language) -> None:
    if not problems:
        return
    print()
    _say(_("Parts of the export that could not be read: {count}", count=len(problems)), lang)
    for problem in problems[:_SHOWN_PROBLEMS]:
        who = f" ({problem.participant})" if problem.participant else ""
        line = f"{render(problem.where, lang)}{who}: {render(problem.message, lang)}"
        print("  " + safe_text(line))
    if len(problems) > _SHOWN_PROBLEMS:
        _say(_("  ... and {more} more (all of them with --json)",
               more=len(problems) - _SHOWN_PROBLEMS), lang)  # fmt: skip


# --- diff --------------------------------------------------------------------------------------


def _diff(args: argparse.Namespace) -> int:
    from peppolnet.analytics import diff_exports
    from peppolnet.errors import MissingExtra

    if args.output and not Path(args.output).expanduser().parent.is_dir():
        raise UsageError(f"the folder of {args.output!r} does not exist; create it first")
    try:
        result = diff_exports(Path(args.old), Path(args.new))
    except MissingExtra as exc:
        raise UsageError(str(exc)) from exc
    if args.output:
        _write_diff(result, Path(args.output))
    if args.json:
        print_json(result.to_json(limit=args.limit))
    else:
        _show_diff(result, args.limit, chosen_language(args))
    return 1 if result.problems else 0


def _write_diff(result: Any, folder: Path) -> None:
    from peppolnet.analytics._extra import require

    pq = require("pyarrow.parquet", "a Parquet file")
    folder.mkdir(exist_ok=True)
    for name in ("added", "removed", "changed"):
        pq.write_table(getattr(result, name), str(folder / f"{name}.parquet"))


def _show_diff(result: Any, limit: int, lang: Language) -> None:
    counts = result.counts()
    _say(_("{old} participants before, {new} after: {added} added, {removed} removed, "
           "{changed} changed", **counts), lang)  # fmt: skip
    for name, title in (("added", _("Added")), ("removed", _("Removed"))):
        rows = result.__getattribute__(name).slice(0, limit).to_pylist()
        if rows:
            print()
            _say(title, lang)
            print(table([[r["participant_id"], r["country"] or "", r["name"] or ""] for r in rows],
                        _headers(lang, _("PARTICIPANT"), _("COUNTRY"), _("NAME"))))  # fmt: skip
    rows = result.changed.slice(0, limit).to_pylist()
    if rows:
        print()
        _say(_("Changed"), lang)
        print(table([[r["participant_id"], r["new_name"] or "", ", ".join(r["changes"])]
                     for r in rows],
                    _headers(lang, _("PARTICIPANT"), _("NAME"), _("WHAT CHANGED"))))  # fmt: skip
    _show_problems([problem for _side, problem in result.problems], lang)
