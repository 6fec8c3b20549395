"""The steps of each HTTP request a traced lookup made: the host, TLS, and the request itself.

For every request: ``smp-host`` (the addresses the host name resolved to, and the one connected
to) and ``tls`` (the handshake: protocol, cipher, the server's certificate and chain, the trust
store) when the request opened a new connection or is the first to its host in the trace - a
connection kept alive shows its TLS facts once - and ``http`` (status, the headers that matter,
body size, time). A request that brought no answer fails at the step where it stopped: the
host (no connection), TLS (the handshake failed: the verification's own words are shown) or
HTTP (a timeout, a broken answer). A request that was tried again only warns; the last one of a
failed request of the lookup fails.
"""

from __future__ import annotations

import dataclasses
import functools
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from peppolnet._http import Answer, HttpFault
from peppolnet.destinations import redact_url
from peppolnet.i18n import _
from peppolnet.reachability import CheckStatus
from peppolnet.trace.model import TraceStep
from peppolnet.trace.recorder import Event, FetchEnded, FetchStarted, Paused, Resolved, Response
from peppolnet.trace.tls import tls_failure

if TYPE_CHECKING:
    import httpx

__all__ = ["HEADERS", "FetchRecord", "fetch_steps", "fetches"]

#: The response headers a trace shows.
HEADERS: Final = (
    "content-type",
    "content-length",
    "content-encoding",
    "date",
    "last-modified",
    "cache-control",
    "location",
    "retry-after",
    "server",
)
_WANTED: Final = frozenset(HEADERS)


@dataclasses.dataclass
class FetchRecord:
    """One HTTP request as recorded: when it started, the addresses resolved for it, the
    response's head, its end, and the pause after it (a retry followed)."""

    started: FetchStarted
    resolved: Resolved | None = None
    response: Response | None = None
    ended: FetchEnded | None = None
    pause: float | None = None

    @property
    def fault(self) -> HttpFault | None:
        outcome = self.ended.outcome if self.ended is not None else None
        return outcome if isinstance(outcome, HttpFault) else None

    @property
    def bad(self) -> bool:
        """It brought no answer, or a 5xx one (what the lookup tries again)."""
        return self.ended is None or self.fault is not None or self.status >= 500

    @property
    def status(self) -> int:
        return self.response.status if self.response is not None else 0

    @functools.cached_property
    def url(self) -> str:
        return redact_url(self.started.request.url)

    @functools.cached_property
    def origin(self) -> tuple[str, str, int | None]:
        parts = urllib.parse.urlsplit(self.started.request.url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _shown(headers: httpx.Headers) -> dict[str, str]:
    """The headers of :data:`HEADERS` a response has (the first of each), in one pass."""
    shown: dict[str, str] = {}
    for name, value in headers.raw:
        key = name.decode("latin-1").lower()
        if key in _WANTED and key not in shown:
            shown[key] = value.decode("latin-1")
    return shown


def fetches(events: Sequence[Event]) -> list[FetchRecord]:
    """The HTTP requests among ``events``, in order."""
    found: list[FetchRecord] = []
    for event in events:
        if isinstance(event, FetchStarted):
            found.append(FetchRecord(event))
        elif not found:
            continue
        elif isinstance(event, Resolved):
            found[-1].resolved = event
        elif isinstance(event, Response):
            found[-1].response = event
        elif isinstance(event, FetchEnded):
            found[-1].ended = event
        elif isinstance(event, Paused):
            found[-1].pause = event.seconds
    return found


def fetch_steps(
    records: Sequence[FetchRecord],
    *,
    failed: bool,
    seen: set[tuple[str, str, int | None]],
    trust_store: dict[str, str | None],
) -> list[TraceStep]:
    """The steps of ``records``, the requests made for one request of the lookup (``failed``:
    that request ended in an error). ``seen`` holds the origins shown so far in the trace."""
    steps: list[TraceStep] = []
    for number, record in enumerate(records):
        status = CheckStatus.PASS
        if record.bad:
            last = number == len(records) - 1
            status = CheckStatus.FAIL if (last and failed) else CheckStatus.WARN
        fault = record.fault
        tls_problem = tls_failure(fault) if fault is not None else None
        fresh = record.resolved is not None or record.origin not in seen
        seen.add(record.origin)
        connect_failed = fault is not None and fault.kind == "connect" and tls_problem is None
        if fresh or connect_failed:
            steps.append(_host(record, status if connect_failed else CheckStatus.PASS))
            if connect_failed:
                continue
        if record.origin[0] == "https" and (fresh or tls_problem is not None):
            tls = _tls(record, tls_problem, trust_store, status)
            if tls is not None:
                steps.append(tls)
            if tls_problem is not None:
                continue
        steps.append(_http(record, status, number + 1))
    return steps


def _host(record: FetchRecord, status: CheckStatus) -> TraceStep:
    host, port = record.origin[1], record.origin[2]
    resolved = record.resolved
    peer = record.response.connection.get("peer") if record.response is not None else None
    details = {
        "host": host,
        "port": port,
        "addresses": list(resolved.addresses) if resolved is not None else None,
        "connected_to": peer,
    }
    if status is not CheckStatus.PASS and record.fault is not None:
        text = _("no connection to {host}: {detail}", host=host, detail=record.fault.detail)
    elif resolved is not None and peer is not None:
        text = _(
            "{host} resolved to {addresses}; connected to {peer}",
            host=host,
            addresses=", ".join(resolved.addresses) or "-",
            peer=peer,
        )
    elif resolved is not None:
        text = _(
            "{host} resolved to {addresses}", host=host, addresses=", ".join(resolved.addresses)
        )
    else:
        text = _(
            "connected to {peer} (no address lookup: an IP address, or a connection kept open)",
            peer=peer or host,
        )
    elapsed = resolved.at - record.started.at if resolved is not None else None
    return TraceStep(
        "smp-host",
        status,
        text,
        elapsed=elapsed,
        retryable=status is not CheckStatus.PASS,
        details=details,
    )


def _tls(
    record: FetchRecord,
    problem: str | None,
    trust_store: dict[str, str | None],
    status: CheckStatus,
) -> TraceStep | None:
    connection = record.response.connection if record.response is not None else {}
    facts = connection.get("tls")
    if facts is None and problem is None:
        return None
    details: dict[str, Any] = {"host": record.origin[1], **(facts or {})}
    details["trust_store"] = trust_store
    details["failure"] = problem
    elapsed = _handshake(record, connection.get("handshake"), details)
    if problem is not None:
        return TraceStep(
            "tls",
            status,
            _("the TLS handshake failed: {problem}", problem=problem),
            retryable=True,
            details=details,
        )
    assert facts is not None
    server = facts.get("server_certificate") or {}
    text = _(
        "{protocol} ({cipher}); the server's certificate for {names} is issued by {issuer} "
        "and valid until {until}",
        protocol=facts.get("protocol") or "-",
        cipher=facts.get("cipher") or "-",
        names=", ".join(server.get("names") or []) or server.get("subject", "-"),
        issuer=server.get("issuer", "-"),
        until=(server.get("not_after") or "-")[:10],
    )
    return TraceStep("tls", CheckStatus.PASS, text, elapsed=elapsed, details=details)


def _handshake(
    record: FetchRecord, handshake: tuple[float, float] | None, details: dict[str, Any]
) -> float | None:
    """The handshake's facts into ``details`` (``handshake_ms``, ``connection_reused``); its
    seconds as the step's time when it was made for this request - a connection kept open from
    an earlier request shows when its handshake was, not as time this step took."""
    if handshake is None:
        details["handshake_ms"] = details["connection_reused"] = None
        return None
    ended, seconds = handshake
    reused = ended < record.started.at
    details["handshake_ms"] = round(seconds * 1000, 2)
    details["connection_reused"] = reused
    return None if reused else seconds


def _http(record: FetchRecord, status: CheckStatus, attempt: int) -> TraceStep:
    request = record.started.request
    response = record.response
    answer = record.ended.outcome if record.ended is not None else None
    headers = response.headers if response is not None else None
    details: dict[str, Any] = {
        "method": request.method,
        "url": record.url,
        "status": record.status or None,
        "headers": _shown(headers) if headers is not None else {},
        "body_bytes": len(answer.body) if isinstance(answer, Answer) else None,
        "truncated": bool(isinstance(answer, Answer) and answer.truncated),
        "time_to_headers_ms": None
        if response is None
        else round((response.at - record.started.at) * 1000, 2),
        "request_number": attempt,
        "retried_after_s": record.pause,
        "error": record.fault.detail if record.fault is not None else None,
    }
    if record.fault is not None:
        text = _(
            "{method} {url} failed: {detail}",
            method=request.method,
            url=record.url,
            detail=record.fault.detail,
        )
    else:
        text = _(
            "{method} {url} answered HTTP {status} with {size} bytes",
            method=request.method,
            url=record.url,
            status=record.status,
            size=details["body_bytes"] if details["body_bytes"] is not None else "-",
        )
    if status is CheckStatus.WARN and record.pause is not None:
        pause = format(record.pause, ".2f")
        text = _("{what}; tried again after {seconds} s", what=text, seconds=pause)
    elapsed = record.ended.at - record.started.at if record.ended is not None else None
    return TraceStep(
        "http",
        status,
        text,
        elapsed=elapsed,
        retryable=status is not CheckStatus.PASS,
        details=details,
    )
