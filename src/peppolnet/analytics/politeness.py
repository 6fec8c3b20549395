"""Polite bulk lookups: per SMP host, a limit on lookups at once and a minimum interval.

A survey of the network (operator shares over a whole Directory export) asks each SMP about
thousands of its participants. An SMP is someone's production server: hundreds of requests a
second from one client look like an attack and get a client blocked. So a survey spaces its
lookups per SMP host: at most :attr:`Politeness.per_host` at once, and the starts of two
lookups at one host at least :attr:`Politeness.interval` seconds apart. Other hosts go on
meanwhile, so a run over many SMPs is as fast as its busiest SMP allows.

Which SMP a participant uses is known only from the SML, so :class:`PoliteLookup` asks the SML
first (the answer is cached, and the lookup that follows reads it from the cache), waits for the
SMP host's turn, then does the lookup. The lookup's deadline starts when its turn comes, so a
long queue at one host never turns its answers into ``unknown``. A participant the SML does not
know, or a fault of the SML, needs no turn: no SMP is asked. A redirect to another SMP is
followed within the turn of the first.

The rule itself is :class:`HostTurns`, without I/O: who may start at a host, and when. The
waiting is :class:`PoliteLookup`'s, on the run's event loop; time is read from the injected
clock, and a :class:`~peppolnet.clock.ManualClock` is advanced instead of waited for, so tests
run hours of politeness at once.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import math
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from peppolnet._logging import logger
from peppolnet.clock import Clock, ManualClock, as_clock
from peppolnet.errors import InvalidInput, PeppolnetError
from peppolnet.i18n import _
from peppolnet.identifiers import DocumentTypeId, ParticipantId

if TYPE_CHECKING:
    from peppolnet.lookup import AsyncLookup
    from peppolnet.network import Network
    from peppolnet.reachability import Reachability

__all__ = ["HostRecord", "HostTurns", "PoliteLookup", "Politeness", "smp_origin"]

_log = logger(__name__)


@dataclasses.dataclass(frozen=True)
class Politeness:
    """How a survey treats each SMP host: ``per_host`` lookups at once (default 2), and at
    least ``interval`` seconds between the starts of two lookups at one host (default 0.1 s:
    at most ten a second). An SMP with 50,000 participants then takes about 1.4 hours; a sample
    of the export takes minutes."""

    per_host: int = 2
    interval: float = 0.1

    def __post_init__(self) -> None:
        if not isinstance(self.per_host, int) or self.per_host < 1:
            raise InvalidInput(
                _(
                    "per_host must be a whole number of at least 1, not {value!r}",
                    value=self.per_host,
                )
            )
        if not (isinstance(self.interval, int | float) and 0 <= self.interval < math.inf):
            raise InvalidInput(
                _("interval must be 0 or more seconds, not {value!r}", value=self.interval)
            )


def smp_origin(url: str) -> str:
    """``scheme://host:port`` of an SMP URL, lower case: the unit of politeness (two SMPs on
    one machine behind different ports are two hosts, as the SMP client's per-host limit
    counts them)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclasses.dataclass(frozen=True)
class HostRecord:
    """What a run did to one SMP host: ``lookups`` started, the most at once (``peak``) and
    the ``shortest_gap`` between two starts in seconds (None after a single lookup)."""

    lookups: int
    peak: int
    shortest_gap: float | None


class HostTurns:
    """Who may start a lookup at an SMP host, and when (no I/O, no clock of its own).

    A caller asks :meth:`wait` how long until the host's next start is allowed, and then
    :meth:`start` at the moment it would begin: ``start`` refuses (False) when another caller
    took the slot meanwhile, so checking and taking are one step and two callers never start
    closer together than the interval. :meth:`end` gives the place back. :meth:`records` says
    what happened per host (a few numbers per SMP host: a survey meets a few hundred).
    """

    def __init__(self, politeness: Politeness) -> None:
        self.politeness = politeness
        self._next: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._running: collections.Counter[str] = collections.Counter()
        self._peak: dict[str, int] = {}
        self._gap: dict[str, float] = {}
        #: per host: how many lookups started
        self.lookups: collections.Counter[str] = collections.Counter()

    def wait(self, host: str, now: float) -> float:
        """Seconds from ``now`` until a lookup at ``host`` may start (0: now)."""
        return max(0.0, self._next.get(host, now) - now)

    def start(self, host: str, now: float) -> bool:
        """Take the host's next start at ``now``, if it is allowed (see the class notes)."""
        if self.wait(host, now) > 0 or self._running[host] >= self.politeness.per_host:
            return False
        self._next[host] = now + self.politeness.interval
        if host in self._last:
            self._gap[host] = min(self._gap.get(host, math.inf), now - self._last[host])
        self._last[host] = now
        self._running[host] += 1
        self.lookups[host] += 1
        self._peak[host] = max(self._peak.get(host, 0), self._running[host])
        return True

    def end(self, host: str) -> None:
        """A lookup at ``host`` has ended."""
        self._running[host] -= 1

    def records(self) -> dict[str, HostRecord]:
        """Per SMP host (``scheme://host:port``): what the lookups there did."""
        return {
            host: HostRecord(count, self._peak[host], self._gap.get(host))
            for host, count in self.lookups.items()
        }


class PoliteLookup:
    """A :class:`~peppolnet.bulk.Checker` for the bulk engine: an
    :class:`~peppolnet.lookup.AsyncLookup` whose lookups wait for their SMP host's turn
    (see the module notes).

    ``concurrency`` bounds the lookups (and SML questions) running at once over all hosts; the
    engine may hand it many more rows, which wait for their host's turn without holding a
    place (give the engine a window larger than ``concurrency``). :attr:`turns` tells, per
    host, how many lookups ran and the most at once.
    """

    def __init__(
        self,
        lookup: AsyncLookup,
        politeness: Politeness | None = None,
        *,
        concurrency: int = 16,
    ) -> None:
        if concurrency < 1:
            raise InvalidInput(_("concurrency must be at least 1, not {value}", value=concurrency))
        self.lookup = lookup
        self.clock: Clock = as_clock(lookup.clock)
        self.turns = HostTurns(politeness or Politeness())
        self._concurrency = concurrency
        self._places: asyncio.Semaphore | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}

    @classmethod
    def open(
        cls,
        network: Network | None = None,
        politeness: Politeness | None = None,
        *,
        concurrency: int = 16,
        **lookup_options: Any,
    ) -> PoliteLookup:
        """A polite lookup over a new :class:`~peppolnet.lookup.AsyncLookup` of ``network``
        (``lookup_options`` are its: ``clock``, ``timeout``, ``deadline``...), closed with
        this one. Each SMP request is also limited to ``per_host`` at once."""
        from peppolnet.lookup import AsyncLookup

        chosen = politeness or Politeness()
        options = {"per_host": chosen.per_host, **lookup_options}
        return cls(AsyncLookup(network, **options), chosen, concurrency=concurrency)

    async def aclose(self) -> None:
        """Close the lookup (the bulk engine calls this when the run it made this for ends)."""
        await self.lookup.aclose()

    async def check(
        self,
        participant: ParticipantId | str | None = None,
        *,
        number: str | None = None,
        country: str | None = None,
        document_type: DocumentTypeId | str | None = None,
    ) -> Reachability:
        """The lookup's answer, once ``participant``'s SMP host has a turn for it. A search by
        ``number`` and ``country`` takes no turn (it may try several ids): surveys give ids."""
        arguments: dict[str, Any] = {"number": number, "country": country}
        arguments["document_type"] = document_type
        host = await self._host_of(participant) if participant is not None else None
        if host is None:
            async with self._place():
                return await self.lookup.check(participant, **arguments)
        async with self._turn(host):
            return await self.lookup.check(participant, **arguments)

    async def _host_of(self, participant: ParticipantId | str) -> str | None:
        """The participant's SMP host from the SML (None: no SMP will be asked)."""
        try:
            pid = participant if isinstance(participant, ParticipantId) else _parse(participant)
            async with self._place():
                answer = await self.lookup.resolver.resolve(pid)
        except PeppolnetError:
            return None  # not registered, a fault, a bad id: the lookup says which
        return smp_origin(answer.smp_url)

    def _place(self) -> asyncio.Semaphore:
        if self._places is None:  # made on the run's loop, on first use
            self._places = asyncio.Semaphore(self._concurrency)
        return self._places

    @asynccontextmanager
    async def _turn(self, host: str) -> AsyncIterator[None]:
        """Wait for ``host``'s turn and a place; hold both while the lookup runs."""
        limit = self._hosts.get(host)
        if limit is None:
            limit = self._hosts[host] = asyncio.Semaphore(self.turns.politeness.per_host)
        async with limit:
            while True:
                await self._sleep(self.turns.wait(host, self.clock.monotonic()))
                await self._place().acquire()
                if self.turns.start(host, self.clock.monotonic()):
                    break
                self._place().release()  # another lookup took the slot while this waited
            _log.debug("lookup at %s started (%d so far)", host, self.turns.lookups[host])
            try:
                yield
            finally:
                self.turns.end(host)
                self._place().release()

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if isinstance(self.clock, ManualClock):
            self.clock.advance(seconds)  # simulated time: move it, do not wait for it
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(seconds)


def _parse(text: str) -> ParticipantId:
    return ParticipantId.parse(text, lax=True)
