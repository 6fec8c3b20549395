"""Watching the I/O a lookup does, for a trace: an observer the drivers tell what they see.

``peppolnet trace`` shows every step of a lookup - the DNS queries and their answers, the SMP
host's addresses, the TLS handshake, each HTTP request - without a second lookup and without
extra requests: the code that already performs them reports what it saw to an :class:`Observer`,
if one is watching. Which one is watching travels in a context variable (:func:`observing`), like
the deadline of :func:`peppolnet._http.scope`, so it reaches the DNS policy, the HTTP drivers and
both transports through every layer between, on threads and event loops alike, without a
parameter on every function.

Nobody watches a plain lookup: each place that reports asks :func:`current` once (a context
variable read, tens of nanoseconds) and does nothing more when it is None. That is what keeps a
lookup's cost the same whether tracing exists or not.

The hooks, in the order a lookup meets them (the base class does nothing for each, so an observer
implements only what it needs):

* :meth:`Observer.dns_query`, :meth:`~Observer.dns_reply`, :meth:`~Observer.dns_failed`: each
  query :class:`peppolnet.dnsquery.Resolution` sends, and its reply or why none came.
* :meth:`Observer.dnssec`: what DNSSEC validation concluded for an answer, and the zones its
  chain of trust walked (the SML resolvers report it when they validate).
* :meth:`Observer.resolved`: the addresses a transport resolved a host name to before connecting.
* :meth:`Observer.fetch_started`, :meth:`~Observer.http_response`, :meth:`~Observer.fetch_ended`,
  :meth:`~Observer.paused`: each HTTP request a client's logic makes (:func:`peppolnet._http.run`
  and :func:`~peppolnet._http.arun`), the response as the transport gave it (with its connection's
  TLS facts), its end, and the pauses between retries.
* :meth:`Observer.crl`: each CRL a revocation answer used, downloaded or from the cache (the
  download runs in a thread of its own, shared by every asker, so the checker reports it to
  the asker's watcher when the asker has it).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import ipaddress

    import httpx

    from peppolnet._http import Answer, Fetch, HttpFault
    from peppolnet.dnsquery import Exchange
    from peppolnet.dnssec.chain import ChainLink
    from peppolnet.dnswire import DnsResponse
    from peppolnet.revocation import CrlFetch

__all__ = ["Observer", "current", "observing"]


class Observer:
    """What a watcher of a lookup's I/O is told; every hook does nothing unless overridden.

    Hooks are called on the thread or task that does the I/O, in the order it happens. They must
    not raise (a trace must never change what the lookup does) and should be cheap.
    """

    def dns_query(self, exchange: Exchange) -> None:
        """A DNS query is about to be sent (``exchange`` says to whom, how, and for what)."""

    def dns_reply(self, exchange: Exchange, response: DnsResponse) -> None:
        """The reply to ``exchange``, as :mod:`peppolnet.dnswire` read it."""

    def dns_failed(self, exchange: Exchange, reason: str) -> None:
        """``exchange`` brought no usable reply; ``reason`` says why in a few words ("timed
        out", "connection refused", what was wrong with the reply)."""

    def dnssec(
        self,
        name: str,
        status: str,
        detail: str,
        *,
        zone: str = "",
        chain: Sequence[ChainLink] = (),
    ) -> None:
        """DNSSEC validation of the answer for ``name``: ``status`` is ``secure``,
        ``insecure``, ``bogus`` or ``indeterminate`` (the chain of trust could not be fetched),
        ``detail`` one sentence, ``zone`` the zone that decided, ``chain`` the zones walked."""

    def resolved(
        self,
        host: str,
        port: int,
        addresses: Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address],
    ) -> None:
        """A transport resolved ``host`` to ``addresses`` before connecting to it."""

    def fetch_started(self, request: Fetch) -> None:
        """An HTTP request is about to be performed."""

    def http_response(self, response: httpx.Response) -> None:
        """The response's status and headers arrived (the body is still to be read); its
        ``extensions["network_stream"]`` tells the connection's TLS facts and peer."""

    def fetch_ended(self, request: Fetch, outcome: Answer | HttpFault) -> None:
        """``request`` ended: its answer, or the fault that ended it."""

    def paused(self, seconds: float) -> None:
        """A client's logic waits ``seconds`` before trying again."""

    def crl(self, fetch: CrlFetch) -> None:
        """A revocation answer used the CRL ``fetch`` describes: downloaded (by the download's
        own thread, whose requests no observer sees) or from the checker's cache."""


_CURRENT: Final[contextvars.ContextVar[Observer | None]] = contextvars.ContextVar(
    "peppolnet_observer", default=None
)


def current() -> Observer | None:
    """The observer watching the code that runs now (None: nobody is)."""
    return _CURRENT.get()


@contextlib.contextmanager
def observing(observer: Observer) -> Iterator[Observer]:
    """Run the block with ``observer`` told about its I/O (it replaces any watching before)."""
    token = _CURRENT.set(observer)
    try:
        yield observer
    finally:
        _CURRENT.reset(token)
