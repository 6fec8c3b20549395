"""The ``crl`` steps of a trace: each revocation list a certificate's revocation check used.

Why steps of their own, and not only facts under the certificate: a CRL download is I/O to
another server - often the slowest request of a lookup, and one that can fail while the SMP
answers well - so support staff need to see it where it happened, with its time, and a fault
there must stop the trace as any other failed request does. Each CRL comes just before the
certificate step it serves (the SMP's certificate, then the access point's), as an HTTP request
comes before the document it fetched.

The download itself runs in the revocation checker's own thread, shared by every lookup asking
about the same CA at once, so its HTTP requests are not the trace's to watch; the checker tells
the asker's trace which CRL answered (:class:`peppolnet.revocation.CrlFetch`): downloaded (the
status, size and redirect of the download this lookup started or waited for) or from the cache.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any

from peppolnet.i18n import _
from peppolnet.reachability import Check, CheckStatus
from peppolnet.revocation import CrlFetch
from peppolnet.trace.build import Phase
from peppolnet.trace.model import TraceStep
from peppolnet.trace.recorder import CrlUsed

__all__ = ["crl_rows", "crl_steps"]


def _used(phase: Phase) -> list[CrlFetch]:
    return [event.fetch for event in phase.events if isinstance(event, CrlUsed)]


def _facts(fetch: CrlFetch) -> dict[str, Any]:
    parts = urllib.parse.urlsplit(fetch.url)
    return {
        "url": fetch.url,
        "host": parts.hostname,
        "path": parts.path or "/",
        "from_cache": fetch.from_cache,
        "status": fetch.status,
        "body_bytes": fetch.body_bytes,
        "redirected_to": fetch.redirected_to,
        "problem": None if fetch.problem is None else str(fetch.problem),
    }


def crl_rows(phase: Phase) -> list[dict[str, Any]]:
    """The CRLs one revocation question used, a row each (shown under its certificate)."""
    return [_facts(fetch) for fetch in _used(phase)]


def crl_steps(phases: Sequence[Phase], check: Check | None, whose: str) -> list[TraceStep]:
    """A ``crl`` step for each CRL the revocation questions ``phases`` used; ``check`` is the
    lookup's revocation check of that certificate (``whose``: ``smp`` or ``ap``). A CRL that
    could not be used fails when it was the question's last and the check failed (the lookup
    stopped there); otherwise it warns - another distribution point answered, or soft fail."""
    failed = check is not None and check.status is CheckStatus.FAIL
    steps: list[TraceStep] = []
    for phase in phases:
        used = _used(phase)
        for number, fetch in enumerate(used):
            status = CheckStatus.PASS
            if fetch.problem is not None:
                last = number == len(used) - 1
                status = CheckStatus.FAIL if (failed and last) else CheckStatus.WARN
            details = {**_facts(fetch), "certificate": whose}
            steps.append(
                TraceStep(
                    "crl",
                    status,
                    _said(fetch),
                    elapsed=fetch.seconds,
                    retryable=status is not CheckStatus.PASS,
                    details=details,
                )
            )
    return steps


def _said(fetch: CrlFetch) -> str:
    if fetch.problem is not None:
        return fetch.problem  # the checker's sentence names the CRL's URL
    if fetch.from_cache:
        return _("the CRL at {url}, from the cache (no download)", url=fetch.url)
    size = fetch.body_bytes if fetch.body_bytes is not None else "-"
    if fetch.redirected_to is not None:
        return _(
            "downloaded the CRL at {url}, redirected to {target}: HTTP {status}, {size} bytes",
            url=fetch.url,
            target=fetch.redirected_to,
            status=fetch.status or "-",
            size=size,
        )
    return _(
        "downloaded the CRL at {url}: HTTP {status}, {size} bytes",
        url=fetch.url,
        status=fetch.status or "-",
        size=size,
    )
