"""The recorder a traced lookup runs with: it writes down what the drivers tell it, in order.

A traced lookup is the same lookup (``lookup._lookup_steps``) driven by the same shells; the
recorder is told of each of the lookup's requests and what it brought (it is the drivers'
``watcher``), and - through :mod:`peppolnet._observe` - of the I/O done for them further down:
each DNS query and reply, the addresses a transport resolved, each HTTP request with its
connection's peer and TLS facts, the pauses between retries, each CRL a revocation answer
used. Recording is appending a small
value to a list; everything else (sentences, details) is worked out once, at the end, by
:mod:`peppolnet.trace.build`. The TLS facts are read when the response arrives, from the
connection the request used, because the connection may be gone or reused by the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from peppolnet import _observe
from peppolnet.trace.tls import connection_facts

if TYPE_CHECKING:
    import ipaddress

    import httpx

    from peppolnet._http import Answer, Fetch, HttpFault
    from peppolnet.dnsquery import Exchange
    from peppolnet.dnssec.chain import ChainLink
    from peppolnet.dnswire import DnsResponse
    from peppolnet.lookup import _Context, _Request
    from peppolnet.network import Network
    from peppolnet.reachability import Reachability
    from peppolnet.revocation import CrlFetch
    from peppolnet.trace.model import Trace

__all__ = ["TraceRecorder"]


@dataclasses.dataclass(slots=True)
class Asked:
    """The lookup yielded ``request``; ``checks``: how many checks it had made by then."""

    request: _Request
    at: float
    checks: int


@dataclasses.dataclass(slots=True)
class Answered:
    """``request`` brought ``outcome`` (its result, or the error thrown back into the lookup)."""

    request: _Request
    outcome: Any
    at: float


@dataclasses.dataclass(slots=True)
class DnsQuery:
    exchange: Exchange
    at: float


@dataclasses.dataclass(slots=True)
class DnsReply:
    exchange: Exchange
    response: DnsResponse | None
    reason: str
    at: float


@dataclasses.dataclass(slots=True)
class Dnssec:
    name: str
    status: str
    detail: str
    zone: str
    chain: tuple[ChainLink, ...]
    at: float


@dataclasses.dataclass(slots=True)
class Resolved:
    host: str
    port: int
    addresses: tuple[str, ...]
    at: float


@dataclasses.dataclass(slots=True)
class FetchStarted:
    request: Fetch
    at: float


@dataclasses.dataclass(slots=True)
class Response:
    """Headers arrived: ``connection`` is :func:`~peppolnet.trace.tls.connection_facts`."""

    status: int
    headers: httpx.Headers
    connection: dict[str, Any]
    at: float


@dataclasses.dataclass(slots=True)
class FetchEnded:
    request: Fetch
    outcome: Answer | HttpFault
    at: float


@dataclasses.dataclass(slots=True)
class Paused:
    seconds: float


@dataclasses.dataclass(slots=True)
class CrlUsed:
    """A revocation answer used this CRL (downloaded, or from the checker's cache)."""

    fetch: CrlFetch
    at: float


Event = (
    Asked
    | Answered
    | DnsQuery
    | DnsReply
    | Dnssec
    | Resolved
    | FetchStarted
    | Response
    | FetchEnded
    | Paused
    | CrlUsed
)


class TraceRecorder(_observe.Observer):
    """Records one traced lookup (see the module notes); :meth:`trace` makes the result."""

    def __init__(self, ctx: _Context, resolver: Any, network: Network) -> None:
        self.ctx = ctx
        self.resolver = resolver
        self.network = network
        self.events: list[Event] = []
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Run the block with this recorder told of its I/O."""
        with _observe.observing(self):
            yield

    def trace(self, result: Reachability) -> Trace:
        """The trace of the lookup that ended with ``result``."""
        from peppolnet.trace.build import build

        return build(self, result)

    # --- the drivers' watcher (peppolnet.lookup) ---------------------------------------------

    def asking(self, request: _Request) -> None:
        self.events.append(Asked(request, time.perf_counter(), len(self.ctx.checks)))

    def answered(self, request: _Request, outcome: Any) -> None:
        self.events.append(Answered(request, outcome, time.perf_counter()))

    # --- the I/O below (peppolnet._observe) ----------------------------------------------------

    def dns_query(self, exchange: Exchange) -> None:
        self.events.append(DnsQuery(exchange, time.perf_counter()))

    def dns_reply(self, exchange: Exchange, response: DnsResponse) -> None:
        self.events.append(DnsReply(exchange, response, "", time.perf_counter()))

    def dns_failed(self, exchange: Exchange, reason: str) -> None:
        self.events.append(DnsReply(exchange, None, reason, time.perf_counter()))

    def dnssec(
        self,
        name: str,
        status: str,
        detail: str,
        *,
        zone: str = "",
        chain: Sequence[ChainLink] = (),
    ) -> None:
        self.events.append(Dnssec(name, status, detail, zone, tuple(chain), time.perf_counter()))

    def resolved(
        self,
        host: str,
        port: int,
        addresses: Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address],
    ) -> None:
        found = tuple(str(address) for address in addresses)
        self.events.append(Resolved(host, port, found, time.perf_counter()))

    def fetch_started(self, request: Fetch) -> None:
        self.events.append(FetchStarted(request, time.perf_counter()))

    def http_response(self, response: httpx.Response) -> None:
        try:
            connection = connection_facts(response)
        except Exception:  # a trace must never change what the lookup does
            connection = {"peer": None, "tls": None}
        at = time.perf_counter()
        self.events.append(Response(response.status_code, response.headers, connection, at))

    def fetch_ended(self, request: Fetch, outcome: Answer | HttpFault) -> None:
        self.events.append(FetchEnded(request, outcome, time.perf_counter()))

    def paused(self, seconds: float) -> None:
        self.events.append(Paused(seconds))

    def crl(self, fetch: CrlFetch) -> None:
        self.events.append(CrlUsed(fetch, time.perf_counter()))
