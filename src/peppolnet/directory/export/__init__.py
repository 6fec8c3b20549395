"""The Peppol Directory export: download it politely, read it at flat memory.

The Directory publishes everything it holds once a day, in XML, JSON and CSV, with or without
business card details (:class:`ExportKind`). :class:`ExportDownloader` fetches a file, following
the Directory's redirect to its static copy only where the network's destination policy allows,
keeps it on disk for the day, and counts its downloads so the published limit (3 per file per
day) is never passed. :func:`read_export` reads any of the files - plain or gzip - into typed
records, and reports every part it could not read instead of leaving it out silently.

Tables, statistics and diffs are in :mod:`peppolnet.analytics` (the ``analytics`` extra).
"""

from __future__ import annotations

from peppolnet.directory.export.download import (
    DAILY_LIMIT,
    DEFAULT_MAX_BYTES,
    ExportDownloader,
    ExportFile,
    cycle_start,
    default_cache_dir,
)
from peppolnet.directory.export.kinds import ExportKind
from peppolnet.directory.export.reader import ExportReader, read_export
from peppolnet.directory.export.records import (
    ExportCard,
    ExportDocumentType,
    ExportHeader,
    ExportParticipant,
    ExportProblem,
    participant_key,
)
from peppolnet.directory.export.write import write_export

__all__ = [
    "DAILY_LIMIT",
    "DEFAULT_MAX_BYTES",
    "ExportCard",
    "ExportDocumentType",
    "ExportDownloader",
    "ExportFile",
    "ExportHeader",
    "ExportKind",
    "ExportParticipant",
    "ExportProblem",
    "ExportReader",
    "cycle_start",
    "default_cache_dir",
    "participant_key",
    "read_export",
    "write_export",
]
