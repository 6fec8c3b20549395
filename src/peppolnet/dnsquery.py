"""Asking nameservers the one question of an SML lookup: over UDP, and TCP when it must.

The bytes are :mod:`peppolnet.dnswire`'s. What to ask whom, when, and what a reply means is one
policy object, :class:`Resolution` (sans-I/O, like dnspython's ``_Resolution``): it hands out
:class:`Exchange` values - this query, to this server, over UDP or TCP, until this deadline -
and is told what came back. Two shells only move the bytes:

* :func:`ask` (blocking) sends on a connected UDP socket a thread takes for the query from a few
  kept per (nameserver, port) (:class:`UdpSockets`, rotated like the shared ones below), or on
  one of its own made for the query.
* :func:`ask_async` sends over one shared, connected UDP socket per (nameserver, port) and event
  loop (:class:`UdpEndpoints`). A socket per query costs a socket, a connect, an event-loop
  registration and a close each time; bulk lookups keep hundreds of queries in flight, so the
  replies are told apart by query ID and question instead.

The policy (see :class:`Resolution`): nameservers are tried in order; each gets an equal share
of what is left of ``timeout``, so the whole lookup never takes longer than ``timeout`` and a
silent first server still leaves time for the next. NOERROR and NXDOMAIN are answers and end
the search; SERVFAIL, REFUSED, other codes, broken replies, timeouts and socket errors move on
to the next server, and when none is left the :class:`~peppolnet.errors.DnsFailure` names each
server's outcome. A reply with TC set is asked again over TCP (``tcp=True`` uses TCP from the
start); a FORMERR to a query with EDNS is asked again without, for servers that predate EDNS.

Against spoofing (RFC 5452): query IDs come from the OS random source, UDP sockets are
connected (the kernel drops datagrams from other addresses), and a reply counts only if its ID,
QR bit and question match a query in flight; anything else is ignored and the query keeps
waiting. Shared sockets must not make the source port guessable (RFC 5452 §9.2): each
(nameserver, port) gets a pool of :data:`POOL_SIZE` sockets on random ephemeral ports, each
query goes out on one picked at random, and a socket is retired after :data:`ROTATE_AFTER`
queries or once it is :data:`MAX_AGE` seconds old (closed once its last reply is in) and
replaced by a fresh one on a new port. An off-path forger must therefore hit the 16 ID bits, the
question, and a port that it cannot observe and that does not live long enough to be probed
for. Against a blind forger the pool costs nothing: with N queries in flight there are N
(port, ID) pairs to hit either way, N ports with one ID each or eight ports with N/8 IDs each.
What a port per query would add is a shorter life for each port; :data:`MAX_AGE` bounds that
life to about a second whatever the load, at a small part of the cost (figures and the choice:
docs/security.md).

What a forgery that lands could do is bounded: a forged SMP address still has to serve metadata
signed under the network's SMP CA, so it makes the lookup fail rather than trusted; a forged
NXDOMAIN that carries the zone's SOA (without it, :mod:`peppolnet.sml` does not believe a
denial) would read as "not registered" until the negative cache entry expires
(``max_negative_ttl``, 5 minutes by default). Only DNSSEC validation rules that out: opt-in
(``dnssec=True``), the question is then asked with the DO and CD bits, the whole reply is kept,
and :mod:`peppolnet.dnssec` validates it, asking its DNSKEY and DS questions through this same
policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from peppolnet import _observe
from peppolnet._logging import logger
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
    rdtype_text,
)
from peppolnet.errors import DnsFailure
from peppolnet.i18n import _, joined

#: Each query and how it went, at DEBUG.
_log = logger("peppolnet.dns")

__all__ = [
    "MAX_AGE",
    "POOL_SIZE",
    "ROTATE_AFTER",
    "Exchange",
    "Resolution",
    "UdpEndpoints",
    "UdpSockets",
    "ask",
    "ask_async",
]

POOL_SIZE: Final = 8
"""Shared UDP sockets (source ports) per nameserver and event loop; a query picks one at random."""
ROTATE_AFTER: Final = 256
"""Queries one shared socket carries before it is retired and replaced on a fresh port.
A fresh socket costs ~40 us of CPU (docs/security.md); amortised over 256 queries it is noise,
while the port an attacker would have to find keeps changing."""
MAX_AGE: Final = 1.0
"""Seconds a shared socket is given new queries; one picked when older is retired and replaced
on a fresh port. Under load :data:`ROTATE_AFTER` rotates sooner; this bounds how long a port
lives when queries are few (without it, a service making a lookup a minute would keep its
eight ports for hours, long enough to find them by a side channel such as CVE-2020-25705)."""


class _Unpredictable:
    """Random query IDs and socket picks from the OS's CSPRNG, read 4 KiB at a time.

    RFC 5452 asks for IDs (and ports) an attacker cannot predict: that is what the OS random
    source gives, and every byte handed out here is such a byte, used once - only the reading
    is batched. The ``secrets`` module makes one ``getrandom`` call per number, two per query:
    0.63 us for 16 bits and 1.38 us for a choice of 8, against 0.49 us each from here
    (timeit, same run). Locked (resolvers serve threads); emptied in a forked child, which must not
    hand out the bytes its parent hands out too.
    """

    _SIZE: Final = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._at = 0

    def _take(self, count: int) -> bytes:
        with self._lock:
            if self._at + count > len(self._buffer):
                self._buffer, self._at = os.urandom(self._SIZE), 0
            taken = self._buffer[self._at : self._at + count]
            self._at += count
            return taken

    def bits16(self) -> int:
        """A query ID: 16 random bits."""
        return int.from_bytes(self._take(2), "big")

    def below(self, n: int) -> int:
        """A uniform choice in ``range(n)``: a random byte, drawn again when it falls in the
        last, incomplete round of ``n`` (no choice is likelier than another)."""
        if n > 256:
            return secrets.randbelow(n)
        limit = 256 - 256 % n
        while True:
            value = self._take(1)[0]
            if value < limit:
                return value % n

    def forget(self) -> None:
        with self._lock:
            self._buffer, self._at = b"", 0


_RANDOM: Final = _Unpredictable()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_RANDOM.forget)

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


# A server's outcome in the sentence naming every server's outcome; compared to tell "all timed
# out" from the rest.
_TIMED_OUT: Final = _("timed out")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _TimedOut | TimeoutError):
        return _TIMED_OUT
    if isinstance(exc, DnsFailure):
        return exc.message
    if isinstance(exc, ConnectionRefusedError):
        return _("connection refused")
    if isinstance(exc, OSError) and exc.strerror:
        # the OS's text is English: the known causes in the catalog's words, the text after
        from peppolnet._neterrors import describe

        return describe(exc)
    return f"{type(exc).__name__}: {exc}"


def _failure(name: str, timeout: float, outcomes: list[tuple[str, str]]) -> DnsFailure:
    """One sentence naming every server's outcome."""
    detail = joined(
        [_("{server}: {outcome}", server=server, outcome=outcome) for server, outcome in outcomes]
    )
    if all(outcome == _TIMED_OUT for _server, outcome in outcomes):
        return DnsFailure(
            _(
                "DNS did not answer for {name} within {timeout} s ({detail})",
                name=name,
                timeout=format(timeout, "g"),
                detail=detail,
            )
        )
    return DnsFailure(
        _("no DNS server could answer for {name} ({detail})", name=name, detail=detail)
    )


def _framed(wire: bytes) -> bytes:
    """A message as TCP carries it: after its length, two octets (RFC 1035 §4.2.2, RFC 7766 §8)."""
    return len(wire).to_bytes(2, "big") + wire


def _share(deadline: float, now: float, servers_left: int) -> float:
    """This server's deadline: an equal share of the time left among the servers left."""
    return now + max(0.0, deadline - now) / servers_left


# --- the policy (sans-I/O) -------------------------------------------------------------------


@dataclass(slots=True)
class Exchange:
    """One query to one server, as :class:`Resolution` wants it sent, and how to read its reply.

    ``message`` goes out as one UDP datagram, or over a TCP connection of its own after its
    length (``tcp``; the shell adds the length, :func:`_framed`); the shell waits for the reply
    until ``deadline`` on the clock it gave the resolution, and hands every message that comes
    back to :meth:`read`. (Not frozen: a frozen dataclass costs a microsecond more per query,
    and nothing changes an exchange once made.)
    """

    server: str
    tcp: bool
    name: str
    rdtype: int
    query_id: int
    message: bytes
    deadline: float
    dnssec: bool = False

    def renumbered(self) -> Exchange:
        """The same query under a fresh random ID, for a shared socket on which a query with
        this ID is already waiting (replies are told apart by ID, so IDs there must differ)."""
        query_id = _RANDOM.bits16()
        message = query_id.to_bytes(2, "big") + self.message[2:]
        return Exchange(
            self.server,
            self.tcp,
            self.name,
            self.rdtype,
            query_id,
            message,
            self.deadline,
            self.dnssec,
        )

    def read(self, data: bytes) -> DnsResponse:
        """The reply to this query in ``data``, read by :func:`~peppolnet.dnswire.parse_response`.

        Raises :class:`~peppolnet.dnswire.ForeignResponse` when ``data`` is not that reply (its
        ID, QR bit or question differ; RFC 5452 §9.1 lists what must match): over UDP anyone can
        send one (a late reply, a forgery, RFC 5452 §3), so the shell ignores it and keeps
        waiting for the real one. Over TCP the connection carries only this
        exchange, so there a foreign reply is a broken server: :class:`BadResponse`, like a
        malformed one.
        """
        try:
            response = parse_response(
                data, self.query_id, self.name, self.rdtype, over_tcp=self.tcp, server=self.server
            )
        except ForeignResponse as exc:
            if not self.tcp:
                raise
            raise BadResponse(
                _("the reply over TCP is not for this query: {message}", message=exc.message)
            ) from None
        # a question asked for DNSSEC keeps the whole reply: its signatures are validated
        return dataclasses.replace(response, wire=data) if self.dnssec else response


class Resolution:
    """The policy for one DNS question, sans-I/O (as dnspython's ``_Resolution``).

    It decides which server to ask next, with which share of the deadline, over UDP or TCP, and
    what each outcome means; the shells (:func:`ask`, :func:`ask_async`) only send what
    :meth:`next` gives them and report back with :meth:`reply` or :meth:`fail`::

        resolution = Resolution(name, rdtype, servers, timeout, tcp=False, now=clock())
        while (exchange := resolution.next(clock())) is not None:
            try:
                resolution.reply(send_and_read(exchange))
            except (DnsFailure, OSError, TimeoutError) as exc:
                resolution.fail(exc)
        return resolution.result()

    The policy: servers are asked in order, each until an equal share of what is left of
    ``timeout`` (so a silent first server still leaves time for the next, and the question
    never takes longer than ``timeout``). NOERROR and NXDOMAIN are answers and end the search.
    A reply with TC set is asked again over TCP (RFC 1035 §4.2.1, RFC 7766 §5); FORMERR to a
    query with EDNS is asked again without it, for servers that predate EDNS (RFC 6891 §6.2.2);
    SERVFAIL, REFUSED, other codes, broken replies, timeouts and socket errors (a refused
    connection: at once) end that server's turn. When no server is left, :meth:`result` raises
    one :class:`~peppolnet.errors.DnsFailure` naming each server's outcome. Each query gets a
    fresh ID from the OS random source (RFC 5452 §9.2).
    """

    __slots__ = (
        "_answer",
        "_deadline",
        "_dnssec",
        "_edns",
        "_exchange",
        "_index",
        "_next_tcp",
        "_observer",
        "_outcomes",
        "_servers",
        "_share",
        "name",
        "rdtype",
        "tcp",
        "timeout",
    )

    def __init__(
        self,
        name: str,
        rdtype: int,
        servers: Sequence[str],
        timeout: float,
        *,
        tcp: bool,
        now: float,
        dnssec: bool = False,
    ) -> None:
        self.name = name
        self._dnssec = dnssec
        self.rdtype = rdtype
        self.timeout = timeout
        self.tcp = tcp
        self._servers = servers
        self._deadline = now + timeout
        self._index = -1  # the server whose turn it is
        self._share = now  # its deadline
        self._edns = True
        self._next_tcp: bool | None = None  # how to ask it next; None: its turn is over
        self._exchange: Exchange | None = None  # the query in flight
        self._answer: DnsResponse | None = None
        self._outcomes: list[tuple[str, str]] = []
        # a trace watching (peppolnet._observe): told of every query and how it went
        self._observer = _observe.current()

    def next(self, now: float) -> Exchange | None:
        """The query to send next (``now`` on the shell's clock), or None: ask :meth:`result`."""
        while self._answer is None:
            if self._next_tcp is None:
                self._index += 1
                if self._index >= len(self._servers):
                    return None
                self._share = _share(self._deadline, now, len(self._servers) - self._index)
                self._edns = True
                self._next_tcp = self.tcp
            if self._share <= now:  # nothing left of its share: it cannot answer in time
                self._end_turn(_TIMED_OUT)
                continue
            query_id = _RANDOM.bits16()
            server = self._servers[self._index]
            message = build_query(
                self.name, self.rdtype, query_id, edns=self._edns, dnssec=self._dnssec
            )
            self._exchange = Exchange(
                server,
                self._next_tcp,
                self.name,
                self.rdtype,
                query_id,
                message,
                self._share,
                self._dnssec,
            )
            if self._observer is not None:
                self._observer.dns_query(self._exchange)
            return self._exchange
        return None

    def reply(self, response: DnsResponse) -> None:
        """The reply to the query :meth:`next` gave last, as its :meth:`Exchange.read` read it."""
        assert self._exchange is not None, "reply() without a query in flight"
        exchange = self._exchange
        _log.debug(
            "DNS %s %s -> %s over %s: %s",
            exchange.name,
            rdtype_text(exchange.rdtype),
            exchange.server,
            "TCP" if exchange.tcp else "UDP",
            rcode_text(response.rcode) + (" (truncated)" if response.truncated else ""),
        )
        if self._observer is not None:
            self._observer.dns_reply(exchange, response)
        if response.truncated and not self._exchange.tcp:
            self._next_tcp = True  # the same query again, over TCP
        elif response.rcode == FORMERR and self._edns:
            self._edns = False  # again without EDNS, as this server was first asked
            self._next_tcp = self.tcp
        elif response.rcode in (NOERROR, NXDOMAIN):
            self._answer = response
        else:
            self._end_turn(rcode_text(response.rcode))

    def fail(self, exc: BaseException) -> None:
        """The query :meth:`next` gave last brought no reply: ``exc`` says why (a timeout, a
        socket error, a malformed reply); the server's turn is over."""
        _log.debug("DNS %s: no reply from %s (%s)", self.name, self._servers[self._index], exc)
        outcome = _describe(exc)
        if self._observer is not None and self._exchange is not None:
            self._observer.dns_failed(self._exchange, outcome)
        self._end_turn(outcome)

    def _end_turn(self, outcome: str) -> None:
        self._outcomes.append((self._servers[self._index], outcome))
        self._next_tcp = None

    def result(self) -> DnsResponse:
        """The answer (NOERROR or NXDOMAIN), once :meth:`next` returned None.

        Raises :class:`~peppolnet.errors.DnsFailure` listing every server's outcome otherwise.
        """
        if self._answer is not None:
            return self._answer
        raise _failure(self.name, self.timeout, self._outcomes)


# --- blocking --------------------------------------------------------------------------------


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _TimedOut
    return left


class _Kept:
    """One connected UDP socket of :class:`UdpSockets`, with its age and its count of queries."""

    __slots__ = ("born", "sock", "uses")

    def __init__(self, server: str, port: int) -> None:
        self.sock = socket.socket(_family(server), socket.SOCK_DGRAM)
        try:
            self.sock.connect((server, port))
        except BaseException:
            self.sock.close()
            raise
        self.born = time.monotonic()
        self.uses = 0


class UdpSockets:
    """The blocking resolver's UDP sockets, kept between queries: a few per (nameserver, port).

    A socket per query cost ~20-30 us of CPU more than one kept (socket, connect, close: same
    run against the bench sandbox's DNS, 4 x 2,000 queries: 67 vs 44 us per query), a sixth of
    the DNS part of a sequential lookup. Kept sockets follow the rules of the shared async ones
    (see the module notes, RFC 5452): each on a random ephemeral port, a query takes an idle one
    at random, and a socket carries at most :data:`ROTATE_AFTER` queries and is given none once
    :data:`MAX_AGE` seconds old, so no port lives long enough to be probed for. A blocking query
    has its socket to itself (threads sharing a resolver each take their own), and a socket goes
    back only after a reply was read on it: one that timed out or failed (a late reply, an ICMP
    error still to come) is closed, never handed to the next question. A late duplicate reply
    waiting on a kept socket is ignored by the next query like any foreign datagram. After a
    fork the child starts with none (the parent's stay the parent's).
    """

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Kept]] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def take(self, server: str, port: int) -> _Kept:
        """An idle socket to ``server``:``port`` picked at random, or a fresh one."""
        now = time.monotonic()
        with self._lock:
            if self._pid != os.getpid():
                self._idle, self._pid = {}, os.getpid()
            idle = self._idle.get((server, port))
            while idle:
                kept = idle.pop(_RANDOM.below(len(idle)))
                if now - kept.born < MAX_AGE:
                    break
                kept.sock.close()
            else:
                kept = None
        if kept is None:
            kept = _Kept(server, port)
        kept.uses += 1
        return kept

    def give(self, kept: _Kept, server: str, port: int) -> None:
        """``kept`` back after a reply was read on it (closed when it has served its time)."""
        if kept.uses < ROTATE_AFTER and time.monotonic() - kept.born < MAX_AGE:
            with self._lock:
                idle = self._idle.setdefault((server, port), [])
                if len(idle) < POOL_SIZE and self._pid == os.getpid():
                    idle.append(kept)
                    return
        kept.sock.close()

    def close_all(self) -> None:
        """Close every idle socket (a socket in use is closed by its query)."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for kept in (k for pool in idle.values() for k in pool):
            kept.sock.close()


def _read_reply(sock: socket.socket, exchange: Exchange) -> DnsResponse:
    """Send the query on the connected ``sock`` and wait for its reply until its deadline."""
    sock.settimeout(_remaining(exchange.deadline))
    sock.send(exchange.message)
    while True:
        sock.settimeout(_remaining(exchange.deadline))
        try:
            data = sock.recv(_MAX_MESSAGE)
        except TimeoutError:
            raise _TimedOut from None
        try:
            return exchange.read(data)
        except ForeignResponse:
            continue  # not ours: keep waiting for the real reply


def _udp(exchange: Exchange, port: int, udp: UdpSockets | None) -> DnsResponse:
    if udp is None:  # a socket of its own, made and closed here
        with socket.socket(_family(exchange.server), socket.SOCK_DGRAM) as sock:
            sock.settimeout(_remaining(exchange.deadline))
            sock.connect((exchange.server, port))
            return _read_reply(sock, exchange)
    kept = udp.take(exchange.server, port)
    try:
        response = _read_reply(kept.sock, exchange)
    except BaseException:
        kept.sock.close()
        raise
    udp.give(kept, exchange.server, port)
    return response


def _recv_exactly(sock: socket.socket, size: int, deadline: float) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        sock.settimeout(_remaining(deadline))
        try:
            chunk = sock.recv(size - len(chunks))
        except TimeoutError:
            raise _TimedOut from None
        if not chunk:
            raise BadResponse(_("the DNS server closed the TCP connection before the whole reply"))
        chunks += chunk
    return bytes(chunks)


def _tcp(exchange: Exchange, port: int) -> DnsResponse:
    address = (exchange.server, port)
    try:
        sock = socket.create_connection(address, timeout=_remaining(exchange.deadline))
    except TimeoutError:
        raise _TimedOut from None
    with sock:
        sock.sendall(_framed(exchange.message))
        size = int.from_bytes(_recv_exactly(sock, 2, exchange.deadline), "big")
        return exchange.read(_recv_exactly(sock, size, exchange.deadline))


def ask(
    name: str,
    rdtype: int,
    servers: Sequence[str],
    port: int,
    timeout: float,
    *,
    tcp: bool,
    dnssec: bool = False,
    udp: UdpSockets | None = None,
) -> DnsResponse:
    """The first answer (NOERROR or NXDOMAIN) any of ``servers`` gives, blocking; ``dnssec``
    asks with the DO and CD bits and keeps the whole reply (:attr:`DnsResponse.wire`); ``udp``
    keeps UDP sockets between queries (without it, each query has a socket of its own).

    Raises :class:`~peppolnet.errors.DnsFailure` listing every server's outcome otherwise.
    """
    resolution = Resolution(
        name, rdtype, servers, timeout, tcp=tcp, now=time.monotonic(), dnssec=dnssec
    )
    while (exchange := resolution.next(time.monotonic())) is not None:
        try:
            resolution.reply(_tcp(exchange, port) if exchange.tcp else _udp(exchange, port, udp))
        except (_TimedOut, DnsFailure, OSError) as exc:
            resolution.fail(exc)
    return resolution.result()


# --- asyncio ---------------------------------------------------------------------------------


class _Pending:
    """One query waiting on a shared socket."""

    __slots__ = ("exchange", "future", "timer")

    def __init__(
        self, future: asyncio.Future[DnsResponse], exchange: Exchange, timer: asyncio.Handle
    ) -> None:
        self.future = future
        self.exchange = exchange
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
        self.born = loop.time()
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

    async def ask(self, exchange: Exchange) -> DnsResponse:
        """Send the query and wait for its reply until its deadline (loop time)."""
        if len(self._pending) >= _MAX_IN_FLIGHT:
            raise DnsFailure(_("too many DNS queries in flight to {server}", server=self.server))
        while exchange.query_id in self._pending:
            exchange = exchange.renumbered()
        query_id = exchange.query_id
        future: asyncio.Future[DnsResponse] = self.loop.create_future()
        timer = self.loop.call_at(exchange.deadline, self._expire, query_id, future)
        self._pending[query_id] = _Pending(future, exchange, timer)
        try:
            try:
                self._sock.send(exchange.message)
            except BlockingIOError:
                await self.loop.sock_sendall(self._sock, exchange.message)
            return await future
        finally:
            entry = self._pending.get(query_id)
            if entry is not None and entry.future is future:
                del self._pending[query_id]
                timer.cancel()
            if self.retiring and not self._pending:
                self.close()

    @property
    def idle(self) -> bool:
        """No query waits for a reply on this socket."""
        return not self._pending

    def _expire(self, query_id: int, future: asyncio.Future[DnsResponse]) -> None:
        entry = self._pending.get(query_id)
        if entry is not None and entry.future is future:
            del self._pending[query_id]
        if not future.done():
            future.set_exception(_TimedOut())

    def _readable(self) -> None:
        for _read in range(_MAX_READS):
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
            outcome = entry.exchange.read(data)
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
            self._fail_all(ConnectionAbortedError(_("the resolver was closed")))
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
            endpoint = None
            if len(pool) >= POOL_SIZE:
                endpoint = pool[_RANDOM.below(len(pool))]
                if loop.time() - endpoint.born >= MAX_AGE:  # too old to carry another query
                    self._retire(loop, pool, endpoint)
                    if endpoint.idle:
                        endpoint.close()
                    endpoint = None
            if endpoint is None:
                endpoint = _UdpEndpoint(loop, server, port)
                pool.append(endpoint)
            endpoint.uses += 1
            if endpoint.uses >= ROTATE_AFTER:  # this query is its last; a fresh one follows
                self._retire(loop, pool, endpoint)
        return endpoint

    def _retire(
        self, loop: asyncio.AbstractEventLoop, pool: list[_UdpEndpoint], endpoint: _UdpEndpoint
    ) -> None:
        """Out of the pool: ``endpoint`` takes no new query and closes once its last reply is
        in (call with the lock held)."""
        pool.remove(endpoint)
        endpoint.retiring = True
        retiring = self._retiring.setdefault(loop, set())
        retiring.difference_update([e for e in retiring if e.closed])
        retiring.add(endpoint)

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


async def _tcp_async(exchange: Exchange, port: int) -> DnsResponse:
    try:
        async with asyncio.timeout_at(exchange.deadline):
            reader, writer = await asyncio.open_connection(exchange.server, port)
            try:
                writer.write(_framed(exchange.message))
                size = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(size)
            finally:
                writer.close()
    except TimeoutError:
        raise _TimedOut from None
    except asyncio.IncompleteReadError:
        raise BadResponse(
            _("the DNS server closed the TCP connection before the whole reply")
        ) from None
    return exchange.read(data)


async def ask_async(
    name: str,
    rdtype: int,
    servers: Sequence[str],
    port: int,
    timeout: float,
    *,
    tcp: bool,
    udp: UdpEndpoints,
    dnssec: bool = False,
) -> DnsResponse:
    """The async twin of :func:`ask`; UDP goes through ``udp``'s shared sockets."""
    loop = asyncio.get_running_loop()
    resolution = Resolution(name, rdtype, servers, timeout, tcp=tcp, now=loop.time(), dnssec=dnssec)
    while (exchange := resolution.next(loop.time())) is not None:
        try:
            if exchange.tcp:
                resolution.reply(await _tcp_async(exchange, port))
            else:
                resolution.reply(await udp.get(exchange.server, port).ask(exchange))
        except (_TimedOut, DnsFailure, OSError) as exc:
            resolution.fail(exc)
    return resolution.result()
