"""What the fork server of ``check_many(processes=N)`` makes once, before it forks a worker.

The fork server imports the modules of its preload list (:mod:`peppolnet.bulk.processes`),
and importing is the only work multiprocessing lets it do; this module's import is that work.
Without it every worker made the same things again on its first rows: the async transport's
modules (aiohttp's adapter and peppolnet's HTTP/1.1 client, imported lazily because sync users
need neither), the participant-scheme table and the document-type index read from the package's
code lists, python-stdnum's exceptions and GLN check. Made here (~20 ms of the fork server's
CPU, once), each worker inherits them, frozen out of its garbage collections
(``worker._collect_less``): a worker's CPU before its run's first step fell from 19-20 ms to
11-14 ms (same run, old tree against new, 2 workers x 3 runs), ~1% of a worker's CPU in a
1,500-row two-process run (the benchmark's quick row).
"""

from __future__ import annotations

import peppolnet._aio  # noqa: F401 - imported lazily by the async transport a worker opens
from peppolnet import codelists, schemes


def _prepare() -> None:
    schemes.validate("0088:7300010000001")  # the scheme table, stdnum's exceptions and GLN check
    for entry in codelists.document_types()[:1]:
        codelists.document_type_entry(entry.identifier)  # the document-type index


_prepare()
