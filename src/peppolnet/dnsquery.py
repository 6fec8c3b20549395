"""Asking nameservers the one question of an SML lookup: over UDP, and TCP when it must.

The bytes are :mod:`peppolnet.dnswire`'s; this module only moves them, in two twins:

* :func:`ask` (blocking) opens one UDP socket per query - simple, and a sync caller has one
  query in flight anyway.
* :func:`ask_async` sends over one shared, connected UDP socket per (nameserver, port) and event
  loop (:class:`UdpEndpoints`). A socket per query costs a socket, a connect, an event-loop
  registration and a close each time; bulk lookups keep hundreds of queries in flight, so the
  replies are told apart by query ID and question instead.

Both twins follow one policy. Nameservers are tried in order; each gets an equal share of what
is left of ``timeout``, so the whole lookup never takes longer than ``timeout`` and a silent first
server still leaves time for the next. NOERROR and NXDOMAIN are answers and end the search;
SERVFAIL, REFUSED, other codes, broken replies, timeouts and socket errors move on to the next
server, and when none is left the :class:`~peppolnet.errors.DnsFailure` names each server's
outcome. A reply with TC set is asked again over TCP (``tcp=True`` uses TCP from the start); a
FORMERR to a query with EDNS is asked again without, for servers that predate EDNS.

Against spoofing: query IDs come from the OS random source, UDP sockets are connected (the
kernel drops datagrams from other addresses), and a reply counts only if its ID, QR bit and
question match a query in flight; anything else is ignored and the query keeps waiting. Shared
sockets must not make the source port guessable: each (nameserver, port) gets a pool of
:data:`POOL_SIZE` sockets on random ephemeral ports, each query goes out on one picked at
random, and a socket is retired after :data:`ROTATE_AFTER` queries (closed once its last reply
is in) and replaced by a fresh one on a new port. An off-path forger must therefore hit the 16
ID bits, the question, and a port that it cannot observe and that does not live long enough to
be probed for. What a forgery that lands could do is bounded: a forged SMP address still has to
serve metadata signed under the network's SMP CA, so it makes the lookup fail rather than
trusted; a forged NXDOMAIN that carries the zone's SOA (without it, :mod:`peppolnet.sml` does not
believe a denial) would read as "not registered" until the negative cache entry expires
(``max_negative_ttl``, 5 minutes by default). Only DNSSEC validation would rule that out, and
peppolnet does not validate DNSSEC (nor did it when dnspython sent the queries).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from typing import Final

from peppolnet.dnswire import (
    FORMERR,
    NOERROR,
    NXDOMAIN,
    BadResponse,
    DnsResponse,
    ForeignResponse,
    build_query,
    parse_response,
    rcode_text,
)
from peppolnet.errors import DnsFailure

__all__ = ["POOL_SIZE", "ROTATE_AFTER", "UdpEndpoints", "ask", "ask_async"]

POOL_SIZE: Final = 8
"""Shared UDP sockets (source ports) per nameserver and event loop; a query picks one at random."""
ROTATE_AFTER: Final = 256
"""Queries one shared socket carries before it is retired and replaced on a fresh port.
Creating a socket costs ~20 us; amortised over 256 queries it is noise, while the port an
attacker would have to find keeps changing."""

_MAX_MESSAGE: Final = 65535
_MAX_IN_FLIGHT: Final = 4096
"""Queries in flight on one shared socket at most. Each is an ID a blind guess can hit; 4,096
(far above any bulk concurrency) keeps that chance at 1 in 16 or less, before the question
check."""
_MAX_READS: Final = 256
"""Datagrams read per wake-up at most, so a flood cannot keep the event loop to itself."""


class _TimedOut(Exception):
    """One server did not answer within its share of the timeout (internal to this module)."""


def _family(server: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in server else socket.AF_INET


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _TimedOut | TimeoutError):
        return "timed out"
    if isinstance(exc, DnsFailure):
        return exc.message
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def _failure(name: str, timeout: float, outcomes: list[tuple[str, str]]) -> DnsFailure:
    """One sentence naming every server's outcome."""
    detail = "; ".join(f"{server}: {outcome}" for server, outcome in outcomes)
    if all(outcome == "timed out" for _, outcome in outcomes):
        return DnsFailure(f"DNS did not answer for {name} within {timeout:g} s ({detail})")
    return DnsFailure(f"no DNS server could answer for {name} ({detail})")


def _is_answer(response: DnsResponse) -> bool:
    return response.rcode in (NOERROR, NXDOMAIN)


def _framed(wire: bytes) -> bytes:
    return len(wire).to_bytes(2, "big") + wire


def _tcp_reply(data: bytes, query_id: int, name: str, rdtype: int, server: str) -> DnsResponse:
    """A TCP connection carries only our exchange: a foreign reply there is a broken server."""
    try:
        return parse_response(data, query_id, name, rdtype, over_tcp=True, server=server)
    except ForeignResponse as exc:
        raise BadResponse(f"the reply over TCP is not for this query: {exc.message}") from None


# --- blocking --------------------------------------------------------------------------------


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _TimedOut
    return left


def _udp(
    server: str, port: int, name: str, rdtype: int, edns: bool, deadline: float
) -> DnsResponse:
    query_id = secrets.randbits(16)
    with socket.socket(_family(server), socket.SOCK_DGRAM) as sock:
        sock.settimeout(_remaining(deadline))
        sock.connect((server, port))
        sock.send(build_query(name, rdtype, query_id, edns=edns))
        while True:
            sock.settimeout(_remaining(deadline))
            try:
                data = sock.recv(_MAX_MESSAGE)
            except TimeoutError:
                raise _TimedOut from None
            try:
                return parse_response(data, query_id, name, rdtype, server=server)
            except ForeignResponse:
                continue  # not ours: keep waiting for the real reply


def _recv_exactly(sock: socket.socket, size: int, deadline: float) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        sock.settimeout(_remaining(deadline))
        try:
            chunk = sock.recv(size - len(chunks))
        except TimeoutError:
            raise _TimedOut from None
        if not chunk:
            raise BadResponse("the DNS server closed the TCP connection before the whole reply")
        chunks += chunk
    return bytes(chunks)


def _tcp(
    server: str, port: int, name: str, rdtype: int, edns: bool, deadline: float
) -> DnsResponse:
    query_id = secrets.randbits(16)
    try:
        sock = socket.create_connection((server, port), timeout=_remaining(deadline))
    except TimeoutError:
        raise _TimedOut from None
    with sock:
        sock.sendall(_framed(build_query(name, rdtype, query_id, edns=edns)))
        size = int.from_bytes(_recv_exactly(sock, 2, deadline), "big")
        return _tcp_reply(_recv_exactly(sock, size, deadline), query_id, name, rdtype, server)


def _ask_one(
    server: str, port: int, name: str, rdtype: int, tcp: bool, deadline: float
) -> DnsResponse:
    response = DnsResponse(FORMERR, False)
    for edns in (True, False):
        response = (
            _tcp(server, port, name, rdtype, edns, deadline)
            if tcp
            else _udp(server, port, name, rdtype, edns, deadline)
        )
        if response.truncated and not tcp:
            response = _tcp(server, port, name, rdtype, edns, deadline)
        if response.rcode != FORMERR:
            break
    return response


def _share(deadline: float, now: float, servers_left: int) -> float:
    """This server's deadline: an equal share of the time left among the servers left."""
    return now + max(0.0, deadline - now) / servers_left


def ask(
    name: str, rdtype: int, servers: Sequence[str], port: int, timeout: float, *, tcp: bool
) -> DnsResponse:
    """The first answer (NOERROR or NXDOMAIN) any of ``servers`` gives, blocking.

    Raises :class:`~peppolnet.errors.DnsFailure` listing every server's outcome otherwise.
    """
    deadline = time.monotonic() + timeout
    outcomes: list[tuple[str, str]] = []
    for i, server in enumerate(servers):
        share = _share(deadline, time.monotonic(), len(servers) - i)
        try:
            response = _ask_one(server, port, name, rdtype, tcp, share)
        except (_TimedOut, DnsFailure, OSError) as exc:
            outcomes.append((server, _describe(exc)))
            continue
        if _is_answer(response):
            return response
        outcomes.append((server, rcode_text(response.rcode)))
    raise _failure(name, timeout, outcomes)


# --- asyncio ---------------------------------------------------------------------------------


class _Pending:
    """One query waiting on a shared socket."""

    __slots__ = ("future", "name", "rdtype", "timer")

    def __init__(
        self, future: asyncio.Future[DnsResponse], name: str, rdtype: int, timer: asyncio.Handle
    ) -> None:
        self.future = future
        self.name = name
        self.rdtype = rdtype
        self.timer = timer


class _UdpEndpoint:
    """One connected UDP socket to one nameserver, shared by all queries on one event loop.

    Replies are read as they come (``add_reader``: one wake-up drains every datagram that is
    waiting) and handed to the query whose ID and question they match. Loops without
    ``add_reader`` (Windows' proactor) get a reader task on ``sock_recv`` instead.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, server: str, port: int) -> None:
        self.loop = loop
        self.server = server
        self.closed = False
        self.uses = 0
        self.retiring = False  # out of the pool: closes itself once its last reply is in
        self._pending: dict[int, _Pending] = {}
        self._reader: asyncio.Task[None] | None = None
        self._sock = socket.socket(_family(server), socket.SOCK_DGRAM)
        try:
            self._sock.setblocking(False)
            self._sock.connect((server, port))
            self._fd = self._sock.fileno()
            try:
                loop.add_reader(self._fd, self._readable)
            except NotImplementedError:
                self._reader = loop.create_task(self._read_forever())
        except BaseException:
            self._sock.close()
            raise

    async def ask(self, name: str, rdtype: int, edns: bool, deadline: float) -> DnsResponse:
        """Send one query and wait for its reply until ``deadline`` (loop time)."""
        if len(self._pending) >= _MAX_IN_FLIGHT:
            raise DnsFailure(f"too many DNS queries in flight to {self.server}")
        query_id = secrets.randbits(16)
        while query_id in self._pending:
            query_id = secrets.randbits(16)
        future: asyncio.Future[DnsResponse] = self.loop.create_future()
        timer = self.loop.call_at(deadline, self._expire, query_id, future)
        self._pending[query_id] = _Pending(future, name, rdtype, timer)
        try:
            wire = build_query(name, rdtype, query_id, edns=edns)
            try:
                self._sock.send(wire)
            except BlockingIOError:
                await self.loop.sock_sendall(self._sock, wire)
            return await future
        finally:
            entry = self._pending.get(query_id)
            if entry is not None and entry.future is future:
                del self._pending[query_id]
                timer.cancel()
            if self.retiring and not self._pending:
                self.close()

    def _expire(self, query_id: int, future: asyncio.Future[DnsResponse]) -> None:
        entry = self._pending.get(query_id)
        if entry is not None and entry.future is future:
            del self._pending[query_id]
        if not future.done():
            future.set_exception(_TimedOut())

    def _readable(self) -> None:
        for _ in range(_MAX_READS):
            try:
                data = self._sock.recv(_MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # An ICMP error (port unreachable, ...) on the connected socket: it is about the
                # one destination every query here shares, so they all learn of it.
                self._fail_all(exc)
                return
            self._deliver(data)

    async def _read_forever(self) -> None:
        while not self.closed:
            try:
                data = await self.loop.sock_recv(self._sock, _MAX_MESSAGE)
            except OSError as exc:
                if self.closed:
                    return
                self._fail_all(exc)
                continue
            self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        if len(data) < 2:
            return
        query_id = (data[0] << 8) | data[1]
        entry = self._pending.get(query_id)
        if entry is None:
            return  # a late, duplicate or guessed reply
        outcome: DnsResponse | BaseException
        try:
            outcome = parse_response(data, query_id, entry.name, entry.rdtype, server=self.server)
        except ForeignResponse:
            return  # right ID, other question: not the reply, keep waiting
        except BadResponse as exc:
            outcome = exc
        del self._pending[query_id]
        entry.timer.cancel()
        if entry.future.done():
            return
        if isinstance(outcome, DnsResponse):
            entry.future.set_result(outcome)
        else:
            entry.future.set_exception(outcome)

    def _fail_all(self, exc: BaseException) -> None:
        pending, self._pending = self._pending, {}
        reason = _describe(exc)
        for entry in pending.values():
            entry.timer.cancel()
            if not entry.future.done():
                entry.future.set_exception(DnsFailure(reason))

    def close(self) -> None:
        """Stop reading and close the socket; queries still waiting fail with a DnsFailure.

        Safe on a closed loop too: then nothing is scheduled on it (it would raise), the
        socket is just closed.
        """
        if self.closed:
            return
        self.closed = True
        if not self.loop.is_closed():
            if self._reader is not None:
                self._reader.cancel()
            else:
                with contextlib.suppress(RuntimeError, ValueError, OSError):
                    self.loop.remove_reader(self._fd)
            self._fail_all(ConnectionAbortedError("the resolver was closed"))
        self._pending = {}
        self._sock.close()


class UdpEndpoints:
    """The shared UDP sockets of one resolver: a pool per (nameserver, port) per event loop.

    A socket belongs to the loop it was made in (its reader is registered there), so each loop
    that uses the resolver gets its own, made on first use; each pool holds :data:`POOL_SIZE`
    sockets, rotated after :data:`ROTATE_AFTER` queries each (see the module docstring).
    Sockets of loops that have since closed are closed when another loop next makes its
    sockets, by :meth:`aclose`, or by :meth:`close_all` (which the resolver registers to run
    when it is garbage-collected) - so forgetting to close costs nothing but a few sockets that
    live as long as the resolver.
    """

    def __init__(self) -> None:
        self._by_loop: dict[asyncio.AbstractEventLoop, dict[tuple[str, int], list[_UdpEndpoint]]]
        self._by_loop = {}
        self._retiring: dict[asyncio.AbstractEventLoop, set[_UdpEndpoint]] = {}
        self._lock = threading.Lock()  # a resolver may serve loops in several threads

    def get(self, server: str, port: int) -> _UdpEndpoint:
        """A socket of the running loop's pool to ``server``:``port``, picked at random."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if loop not in self._by_loop:
                self._forget_closed_loops()
            pool = self._by_loop.setdefault(loop, {}).setdefault((server, port), [])
            pool[:] = [endpoint for endpoint in pool if not endpoint.closed]
            if len(pool) < POOL_SIZE:
                endpoint = _UdpEndpoint(loop, server, port)
                pool.append(endpoint)
            else:
                endpoint = pool[secrets.randbelow(len(pool))]
            endpoint.uses += 1
            if endpoint.uses >= ROTATE_AFTER:  # this query is its last; a fresh one follows
                pool.remove(endpoint)
                endpoint.retiring = True
                retiring = self._retiring.setdefault(loop, set())
                retiring.difference_update([e for e in retiring if e.closed])
                retiring.add(endpoint)
        return endpoint

    def _take(self, loop: asyncio.AbstractEventLoop) -> list[_UdpEndpoint]:
        """Every socket of ``loop``, removed from the books (call with the lock held)."""
        pools = self._by_loop.pop(loop, {})
        taken = [endpoint for pool in pools.values() for endpoint in pool]
        return taken + list(self._retiring.pop(loop, set()))

    def _forget_closed_loops(self) -> None:
        closed = {loop for loop in [*self._by_loop, *self._retiring] if loop.is_closed()}
        for loop in closed:
            for endpoint in self._take(loop):
                endpoint.close()

    async def aclose(self) -> None:
        """Close the running loop's sockets (and those of loops that are closed)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            endpoints = self._take(loop)
            self._forget_closed_loops()
        for endpoint in endpoints:
            endpoint.close()

    def close_all(self) -> None:
        """Close every socket, from any thread (a live loop in another thread closes its own)."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        with self._lock:
            loops = {*self._by_loop, *self._retiring}
            by_loop = {loop: self._take(loop) for loop in loops}
        for loop, endpoints in by_loop.items():
            for endpoint in endpoints:
                if loop is running or not loop.is_running():
                    endpoint.close()
                    continue
                try:
                    loop.call_soon_threadsafe(endpoint.close)
                except RuntimeError:  # the loop closed in the meantime
                    endpoint.close()


async def _tcp_async(
    server: str, port: int, name: str, rdtype: int, edns: bool, deadline: float
) -> DnsResponse:
    query_id = secrets.randbits(16)
    try:
        async with asyncio.timeout_at(deadline):
            reader, writer = await asyncio.open_connection(server, port)
            try:
                writer.write(_framed(build_query(name, rdtype, query_id, edns=edns)))
                size = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(size)
            finally:
                writer.close()
    except TimeoutError:
        raise _TimedOut from None
    except asyncio.IncompleteReadError:
        raise BadResponse(
            "the DNS server closed the TCP connection before the whole reply"
        ) from None
    return _tcp_reply(data, query_id, name, rdtype, server)


async def _ask_one_async(
    udp: UdpEndpoints, server: str, port: int, name: str, rdtype: int, tcp: bool, deadline: float
) -> DnsResponse:
    response = DnsResponse(FORMERR, False)
    for edns in (True, False):
        if tcp:
            response = await _tcp_async(server, port, name, rdtype, edns, deadline)
        else:
            response = await udp.get(server, port).ask(name, rdtype, edns, deadline)
            if response.truncated:
                response = await _tcp_async(server, port, name, rdtype, edns, deadline)
        if response.rcode != FORMERR:
            break
    return response


async def ask_async(
    name: str,
    rdtype: int,
    servers: Sequence[str],
    port: int,
    timeout: float,
    *,
    tcp: bool,
    udp: UdpEndpoints,
) -> DnsResponse:
    """The async twin of :func:`ask`; UDP goes through ``udp``'s shared sockets."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    outcomes: list[tuple[str, str]] = []
    for i, server in enumerate(servers):
        share = _share(deadline, loop.time(), len(servers) - i)
        try:
            response = await _ask_one_async(udp, server, port, name, rdtype, tcp, share)
        except (_TimedOut, DnsFailure, OSError) as exc:
            outcomes.append((server, _describe(exc)))
            continue
        if _is_answer(response):
            return response
        outcomes.append((server, rcode_text(response.rcode)))
    raise _failure(name, timeout, outcomes)
