"""Whole customer registers: read CSV/XLSX, check every row, write the rows back with verdicts.

>>> from peppolnet.bulk import check_many, read_register, ResultWriter, Summary

The pieces compose: :func:`read_register` streams rows, :func:`check_many` (or
:func:`check_many_async`) streams results through one shared lookup, :class:`ResultWriter`
writes each as it arrives, :class:`Summary` counts them, :func:`render_chart` draws the counts.
:func:`check_register` puts them together the way ``peppolnet check`` does, resumable after an
interruption. See docs/bulk.md.

As data (docs/results-data.md): :class:`BulkResults` keeps a run's results together as a table
(``to_arrow()``, ``to_pandas()``, ``to_parquet()``), a :class:`BulkResult` and a :class:`Summary`
are tables too, and a :class:`ResultJournal` keeps typed results on disk for a resumable run.
"""

from __future__ import annotations

from peppolnet.bulk.chart import check_chart_path, render_chart
from peppolnet.bulk.journal import ResultJournal
from peppolnet.bulk.output import (
    ADDED_COLUMNS,
    FORMATS,
    OutputFormat,
    ResultWriter,
    added_columns,
    csv_delimiter,
    csv_safe,
    format_for,
    output_headers,
    read_done,
)
from peppolnet.bulk.registers import (
    COLUMN_ALIASES,
    ROLES,
    Register,
    RegisterRow,
    country_of,
    detect_columns,
    detect_encoding,
    lookup_key,
    read_register,
)
from peppolnet.bulk.results import BulkResults
from peppolnet.bulk.resume import (
    RegisterRun,
    ResumeState,
    RowSet,
    check_register,
    open_output,
    resume_state,
)
from peppolnet.bulk.run import (
    INVALID_INPUT,
    BulkItem,
    BulkResult,
    Checker,
    CheckOptions,
    Progress,
    ResultCache,
    check_many,
    check_many_async,
    default_per_host,
)
from peppolnet.bulk.summary import Summary, verdict_text

__all__ = [
    "ADDED_COLUMNS",
    "COLUMN_ALIASES",
    "FORMATS",
    "INVALID_INPUT",
    "ROLES",
    "BulkItem",
    "BulkResult",
    "BulkResults",
    "CheckOptions",
    "Checker",
    "OutputFormat",
    "Progress",
    "Register",
    "RegisterRow",
    "RegisterRun",
    "ResultCache",
    "ResultJournal",
    "ResultWriter",
    "ResumeState",
    "RowSet",
    "Summary",
    "added_columns",
    "check_chart_path",
    "check_many",
    "check_many_async",
    "check_register",
    "country_of",
    "csv_delimiter",
    "csv_safe",
    "default_per_host",
    "detect_columns",
    "detect_encoding",
    "format_for",
    "lookup_key",
    "open_output",
    "output_headers",
    "read_done",
    "read_register",
    "render_chart",
    "resume_state",
    "verdict_text",
]
