"""Running the doctor's checks at once, so the slow ones wait together.

Why: most checks wait on the network - five questions to each nameserver, the zone's SOA, the
Directory's Date header - and a resolver that does not answer makes each of them wait its whole
timeout. One after another, an unreachable resolver cost six timeouts (18 s by default) before
the doctor said so; run together, about one. Threads are enough: the checks use the blocking
question code of the lookups (:func:`peppolnet.dnsquery.ask`), which keeps no state between
questions, and there are a few dozen of them at most.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from typing import Final

from peppolnet._logging import logger
from peppolnet.doctor.model import Finding

__all__ = ["MAX_THREADS", "at_once"]

MAX_THREADS: Final = 32
"""Checks running at once at most (five per nameserver, six more: enough for five servers)."""

#: Each check's start and end (DEBUG): what ran when, on a machine that answers slowly.
_log = logger("peppolnet.doctor")


def at_once(checks: Sequence[tuple[str, Callable[[], Finding]]]) -> list[Finding]:
    """Run every named check, each in a thread of its own; their findings in the order given.

    A check that raises raises here (the checks report what the network does as findings, so
    only a defect gets through), after the others have ended."""
    if not checks:
        return []
    workers = min(len(checks), MAX_THREADS)
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="doctor") as pool:
        futures = [pool.submit(_run, name, check) for name, check in checks]
        return [future.result() for future in futures]


def _run(name: str, check: Callable[[], Finding]) -> Finding:
    _log.debug("check %s started", name)
    finding = check()
    _log.debug("check %s ended: %s", name, finding.status.value)
    return finding
