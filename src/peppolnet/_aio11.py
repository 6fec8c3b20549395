"""The async transport's own HTTP/1.1 exchanges on kept-alive connections (no proxy between).

Why not aiohttp's client for these, as for everything else: CPU. At c=256 both cores are the
limit, and the HTTP GET through httpx, aiohttp's ``ClientSession._request``, its connector and
asyncio's SSL protocol was about a third of the client's CPU per lookup (py-spy). What a
peppolnet GET or POST needs is far less than aiohttp does: one request at a time per
connection, a body of known bytes, an answer read whole and bounded. So this module sends it on
an :class:`asyncio.Protocol` (no stream reader or writer objects, no task per connection) and
reads the answer with the sync transport's strict parser (:class:`peppolnet._http11.Reader`,
sans-I/O: one parser for both). Measured in the same process, interleaved: client CPU per
``AsyncSmpClient.fetch`` 279 -> 166 us at c=32 (benchmarks/bench_http.py, ``smp-async-aiohttp``
against ``smp-async``, median of 5; a bare aiohttp session: 135 us), 359 -> 258 us one GET at a
time; per verified lookup of ``check_many_async`` at c=256, 1.40 -> 1.22 ms (6 rounds of 3,000).

What stays with aiohttp (:mod:`peppolnet._aio`): a request through a proxy, a streamed request
body, a HEAD - anything unusual.

What the transport keeps, each the way :mod:`peppolnet._aio` and the sync transport do:

* **Destination policy at the socket**: a name is resolved, every address checked against the
  scope's policy (and told to a watching trace), then exactly those addresses are connected to;
  an IP-literal host is checked itself. Connections are kept per origin *and* policy, so one
  opened under a wide policy never serves a narrower one. Connections opened at once to one
  name share one resolution (:class:`_Resolutions`).
* **TLS** with the network's SSL context (:func:`peppolnet._tls.context`): verification, SNI
  and the host name checked by asyncio's SSL protocol; the handshake timed by the context's
  :class:`peppolnet._tls.TimedSSLObject` for a trace.
* **Timeouts**: connect (with the handshake) and read, each when given; within a deadline
  :func:`peppolnet._http.afetch` gives none and ends the request at the deadline itself.
* **Kept connections**: one goes back to its origin's idle list only after an answer read to its
  end that did not ask to close it; after an error, a timeout or a cancellation it is aborted.
  An idle connection the server closed, or that received what nobody asked for, or idle longer
  than the keep-alive expiry, is not used again. Per origin, at most ``most`` are open (a
  request waits for one, bounded by the deadline or its ``pool`` timeout) and ``keep`` idle.
  A GET that meets a kept connection the server has just closed is sent again, once, on a new
  one - the sync transport's rule (:func:`peppolnet._http11.resend`).
* **Errors** are httpx's exception classes, as aiohttp's are translated in :mod:`peppolnet._aio`.

A pool belongs to the event loop it was made on (its transports and futures do):
:class:`peppolnet._aio.AioTransport` keeps one per loop.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import socket
import ssl
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final, cast

import httpcore
import httpx

from peppolnet import _http, _observe, _tls
from peppolnet._http11 import Reader, _Head, _message, resend
from peppolnet.i18n import _, message_of

if TYPE_CHECKING:
    from peppolnet.destinations import DestinationPolicy, IPAddress

__all__ = ["Pool", "Stream", "handles"]

_HIGH: Final = 256 * 1024
"""Buffered bytes past which a connection stops reading until its answer is consumed (more
than :data:`peppolnet._http11.MAX_HEAD`, so a head is never waited for with reading paused)."""

_Key = tuple[bytes, bytes, int, "DestinationPolicy | None"]


def handles(request: httpx.Request) -> bool:
    """Whether ``request`` is one for this transport: a body of known bytes, not a HEAD (the
    proxy is the caller's to rule out)."""
    return (
        isinstance(request.stream, httpx.ByteStream)
        and request.method != "HEAD"
        and request.url.raw_scheme in (b"https", b"http")
    )


class _Protocol(asyncio.Protocol):
    """One connection: what it received goes to its :class:`Reader`; a waiting request is woken
    by data, the end of the connection, or its loss."""

    def __init__(self, key: _Key) -> None:
        self.key = key
        self.reader = Reader()
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.error: BaseException | None = None
        self.idle_since = 0.0  # set when it goes idle: it carried an answer (see resend)
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # not an isinstance check: uvloop's transports (a web page served by uvicorn) have
        # asyncio.Transport's methods without being its subclasses
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        if len(self.reader.buffer) > _HIGH and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> None:
        self.reader.end()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc
        self.reader.end()
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def event(self, timeout: float | None) -> _Head | bytes:
        """The reader's next event, waiting for bytes (at most ``timeout`` for each read)."""
        reader = self.reader
        try:
            while (event := reader.event()) is None:
                if self._paused and self.transport is not None:
                    self._paused = False
                    self.transport.resume_reading()
                waiter = self._waiter = asyncio.get_running_loop().create_future()
                if timeout is None:
                    await waiter
                else:
                    try:
                        async with asyncio.timeout(timeout):
                            await waiter
                    except TimeoutError:
                        raise httpx.ReadTimeout(_("no answer in time")) from None
        except httpcore.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(message_of(exc)) from self.error or exc
        return event

    def fit(self, expiry: float | None) -> bool:
        """Whether the idle connection can carry another request (see the module notes)."""
        if self.lost or self.reader.buffer or self.reader.ended:
            return False
        return expiry is None or time.monotonic() - self.idle_since < expiry

    def abort(self) -> None:
        """Close the connection at once. Not ``close()``: over TLS that waits for the server's
        close_notify, which a loop ending soon after (``asyncio.run``, ``aclose``) would not
        see - a transport left unclosed. An HTTP/1.1 answer is framed: nothing is lost."""
        if self.transport is not None:
            self.transport.abort()


class Stream:
    """What httpx's ``network_stream`` extension offers about an asyncio connection (the TLS
    object, the addresses, the handshake's timing), as httpcore's streams do - for this
    transport's connections and aiohttp's alike."""

    __slots__ = ("_transport",)

    def __init__(self, transport: asyncio.Transport | None) -> None:
        self._transport = transport

    def get_extra_info(self, info: str) -> Any:
        if self._transport is None:
            return None
        if info == _tls.HANDSHAKE:  # timed by the context's TimedSSLObject, when it is ours
            return getattr(self._transport.get_extra_info("ssl_object"), "handshake", None)
        if info == "server_addr":
            info = "peername"
        elif info == "client_addr":
            info = "sockname"
        return self._transport.get_extra_info(info)


class _Body(httpx.AsyncByteStream):
    """An answer's body as raw chunks; closing gives the connection back to the pool when the
    body was read to its end and the server keeps it, and aborts it otherwise."""

    __slots__ = ("_pool", "_protocol", "_timeout")

    def __init__(self, pool: Pool, protocol: _Protocol, timeout: float | None) -> None:
        self._pool = pool
        self._protocol: _Protocol | None = protocol
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        protocol = self._protocol
        if protocol is None:
            return
        while chunk := await protocol.event(self._timeout):
            assert isinstance(chunk, bytes)
            yield chunk

    async def aclose(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is None:
            return
        if protocol.reader.reusable and not protocol.lost:
            protocol.reader.next_answer()
            self._pool.release(protocol)
        else:
            self._pool.discard(protocol)


class _Origin:
    """One origin's connections (under one policy): how many are open, the idle ones (most
    recently used last), and the requests waiting for one."""

    __slots__ = ("idle", "open", "waiting")

    def __init__(self) -> None:
        self.idle: list[_Protocol] = []
        self.open = 0
        self.waiting: collections.deque[asyncio.Future[None]] = collections.deque()


class Pool:
    """Kept-alive connections by origin and policy, on one event loop.

    ``context``: the TLS context of https origins; per origin at most ``most`` connections open
    and ``keep`` idle, each idle for at most ``expiry`` seconds.
    """

    def __init__(
        self, context: ssl.SSLContext, *, most: int, keep: int, expiry: float | None
    ) -> None:
        self._context = context
        self._most = most
        self._keep = keep
        self._expiry = expiry
        self._origins: dict[_Key, _Origin] = {}
        self._resolve = _Resolutions()
        self.closed = False

    async def handle(self, request: httpx.Request, *, new: bool = False) -> httpx.Response:
        """Send ``request`` and read the answer's head; its body is the response's stream.
        ``new``: on a newly opened connection (a request sent again, :func:`resend`)."""
        url = request.url
        timeouts = request.extensions.get("timeout", {})
        read = timeouts.get("read")
        scheme = url.raw_scheme
        port = url.port or (443 if scheme == b"https" else 80)
        try:
            message = _message(request, request.content)
        except httpcore.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(message_of(exc), request=request) from exc
        protocol = await self._checkout(
            (scheme, url.raw_host, port, _http.destinations()), timeouts, new
        )
        try:
            assert protocol.transport is not None
            protocol.transport.write(message)
            head = await protocol.event(read)
        except BaseException as exc:
            self.discard(protocol)
            if resend(request, protocol.idle_since != 0.0, protocol.reader, exc):
                return await self.handle(request, new=True)
            raise
        assert isinstance(head, _Head)
        return httpx.Response(
            status_code=head.status,
            headers=head.headers,
            stream=_Body(self, protocol, read),
            extensions={
                "http_version": head.version,
                "reason_phrase": head.reason,
                "network_stream": Stream(protocol.transport),
            },
        )

    async def _checkout(self, key: _Key, timeouts: dict[str, Any], new: bool = False) -> _Protocol:
        """An idle connection of the origin fit for a request, or a new one when fewer than
        ``most`` are open; else wait until one is given back or closed. ``new``: a new one (an
        idle one is closed to make room when ``most`` are open)."""
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin()
        while True:
            idle = origin.idle
            while idle and (not new or origin.open >= self._most):
                protocol = idle.pop()
                if not new and protocol.fit(self._expiry):
                    return protocol
                self._gone(protocol, origin)
            if origin.open < self._most:
                break
            await self._wait(origin, timeouts.get("pool"))
        origin.open += 1
        try:
            return await self._open(key, timeouts.get("connect"))
        except BaseException:
            self._closed(key, origin)
            raise

    async def _wait(self, origin: _Origin, timeout: float | None) -> None:
        """Wait until a connection of ``origin`` is given back or closed (a waiter that leaves
        on a timeout or a cancellation after it was woken passes its turn on)."""
        waiter = asyncio.get_running_loop().create_future()
        origin.waiting.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._wake_one(origin)
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout(_("no connection to the server was free in time")) from None
            raise

    def _wake_one(self, origin: _Origin) -> None:
        while origin.waiting:
            waiter = origin.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _open(self, key: _Key, connect: float | None) -> _Protocol:
        scheme, raw_host, port, policy = key
        host = raw_host.decode("ascii")
        targets = await _targets(host, port, policy, self._resolve)
        tls = self._context if scheme == b"https" else None
        loop = asyncio.get_running_loop()
        failure: BaseException = httpx.ConnectError(_("{host} has no address", host=host))
        for target in targets:
            protocol = _Protocol(key)
            try:
                async with asyncio.timeout(connect):
                    await loop.create_connection(
                        lambda p=protocol: p,
                        target,
                        port,
                        ssl=tls,
                        server_hostname=host if tls is not None else None,
                    )
            except TimeoutError:
                raise httpx.ConnectTimeout(
                    _("no connection to {host} in time", host=host)
                ) from None
            except ssl.SSLError as exc:  # the certificate or the handshake: no other address
                raise httpx.ConnectError(str(exc)) from exc
            except (OSError, ssl.CertificateError) as exc:
                failure = httpx.ConnectError(str(exc) or type(exc).__name__)
                failure.__cause__ = exc
                continue
            return protocol
        raise failure

    def release(self, protocol: _Protocol) -> None:
        """Keep ``protocol`` idle for the next request to its origin (when ``keep`` allows),
        closing those of the origin idle past the expiry."""
        origin = self._origins.get(protocol.key)
        if origin is None or self.closed:
            self.discard(protocol)
            return
        now = protocol.idle_since = time.monotonic()
        idle = origin.idle
        expiry = self._expiry
        while idle and expiry is not None and now - idle[0].idle_since >= expiry:
            self._gone(idle.pop(0), origin)
        # a request waiting for this origin takes it: closing it for the idle cap would make
        # that request open (and handshake) a new one at once
        if len(idle) < self._keep or _awaited(origin.waiting):
            idle.append(protocol)
            self._wake_one(origin)
        else:
            self._gone(protocol, origin)

    def discard(self, protocol: _Protocol) -> None:
        """Abort ``protocol``'s connection: it cannot carry another request."""
        protocol.abort()
        origin = self._origins.get(protocol.key)
        if origin is not None:
            self._closed(protocol.key, origin)

    def _gone(self, protocol: _Protocol, origin: _Origin) -> None:
        protocol.abort()
        self._closed(protocol.key, origin)

    def _closed(self, key: _Key, origin: _Origin) -> None:
        """One connection of ``origin`` fewer is open (an origin with none is forgotten)."""
        origin.open -= 1
        if origin.waiting:
            self._wake_one(origin)
        elif not origin.open and self._origins.get(key) is origin:
            del self._origins[key]

    def close(self) -> None:
        """Close the idle connections; those in use close when they are given back."""
        self.closed = True
        origins, self._origins = self._origins, {}
        for origin in origins.values():
            for protocol in origin.idle:
                protocol.abort()
            origin.idle = []
            while origin.waiting:
                waiter = origin.waiting.popleft()
                if not waiter.done():
                    waiter.set_result(None)


def _awaited(waiting: collections.deque[asyncio.Future[None]]) -> bool:
    """Whether a request still waits (those that left on a timeout are dropped first)."""
    while waiting and waiting[0].done():
        waiting.popleft()
    return bool(waiting)


async def _targets(
    host: str, port: int, policy: DestinationPolicy | None, resolve: _Resolutions
) -> list[str]:
    """What to connect to for ``host``: the name itself without a policy; with one, every
    address it resolves to, each checked (an IP literal is checked itself)."""
    if policy is None:
        return [host]
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        policy.check_address(literal, host)
        return [host]
    addresses = await resolve(host, port)
    if (observer := _observe.current()) is not None:
        observer.resolved(host, port, addresses)
    policy.check_addresses(addresses, host)
    return [str(address) for address in addresses]


class _Resolutions:
    """Resolutions of names, one at a time per name: connections opened at once to one host
    share one ``getaddrinfo`` (a bulk run's first 256 requests to an SMP would otherwise make
    256, through the loop's few resolver threads, as aiohttp's resolver avoids too). Nothing
    is kept after: the next connection opened resolves afresh, as the sync transport does."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, int], asyncio.Task[list[IPAddress]]] = {}

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        key = (host, port)
        task = self._pending.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(_resolved(host, port))
            self._pending[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        try:  # shielded: a request that ends (its deadline) does not end the others' resolution
            return await asyncio.shield(task)
        except httpx.ConnectError as exc:  # each waiter its own error (a traceback of its own)
            raise httpx.ConnectError(str(exc)) from exc.__cause__

    def _forget(self, key: tuple[str, int], task: asyncio.Task[list[IPAddress]]) -> None:
        if self._pending.get(key) is task:
            del self._pending[key]
        if not task.cancelled():
            task.exception()  # seen: every waiter may have left before it ended


async def _resolved(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpx.ConnectError(
            _("cannot resolve {host}: {exc}", host=host, exc=str(exc))
        ) from exc
    return _http._unique(infos)
