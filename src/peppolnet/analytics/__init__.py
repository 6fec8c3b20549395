"""The Peppol network as data: the Directory export's tables, statistics and diffs, and
operator shares, politely surveyed.

What works without any extra package - document-type families, organisation keys and the
streaming statistics of an export - is plain Python. The tables, Parquet, DuckDB, pandas and
diffs need the ``analytics`` extra (``pip install 'peppolnet[analytics]'``: pyarrow, DuckDB,
pandas); their functions import those packages only when called, and say how to install them
when missing, so ``import peppolnet.analytics`` costs nothing extra (docs/analytics.md).

:func:`operator_shares` looks participants up (ids, or the records of a Directory export)
through the bulk engine, politely per SMP host, and returns tables of who serves whom
(:class:`OperatorShares`); :func:`render_shares_chart` draws them (docs/results-data.md).

>>> from peppolnet.analytics import Politeness, organisation_key
>>> Politeness(per_host=1, interval=0.5)
Politeness(per_host=1, interval=0.5)
>>> organisation_key("9930:DE123456789") == organisation_key("0246:DE123456789")
True
"""

from __future__ import annotations

from peppolnet.analytics.diff import ExportDiff, diff_exports
from peppolnet.analytics.families import BIS_BILLING, DocumentFamily, document_family
from peppolnet.analytics.organisations import EQUIVALENCES, Equivalence, organisation_key
from peppolnet.analytics.parquet import (
    ParquetExport,
    connect,
    counts,
    load_pandas,
    query,
    write_parquet,
)
from peppolnet.analytics.politeness import (
    HostRecord,
    HostTurns,
    PoliteLookup,
    Politeness,
    smp_origin,
)
from peppolnet.analytics.shares import (
    OperatorShares,
    ShareOptions,
    operator_shares,
    operator_shares_async,
)
from peppolnet.analytics.shares_chart import render_shares_chart
from peppolnet.analytics.stats import ExportStatistics, StatisticsCounter, export_statistics
from peppolnet.analytics.tables import ExportTables, export_tables, table_batches

__all__ = [
    "BIS_BILLING",
    "EQUIVALENCES",
    "DocumentFamily",
    "Equivalence",
    "ExportDiff",
    "ExportStatistics",
    "ExportTables",
    "HostRecord",
    "HostTurns",
    "OperatorShares",
    "ParquetExport",
    "PoliteLookup",
    "Politeness",
    "ShareOptions",
    "StatisticsCounter",
    "connect",
    "counts",
    "diff_exports",
    "document_family",
    "export_statistics",
    "export_tables",
    "load_pandas",
    "operator_shares",
    "operator_shares_async",
    "organisation_key",
    "query",
    "render_shares_chart",
    "smp_origin",
    "table_batches",
    "write_parquet",
]
