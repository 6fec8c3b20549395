"""The async transport of peppolnet's httpx clients: peppolnet's own HTTP/1.1 connections
(:mod:`peppolnet._aio11`) for a GET or POST straight to its origin - what a lookup makes - and
aiohttp under ``httpx.AsyncClient`` for the rest (through a proxy, a streamed body, a HEAD).

Why aiohttp under httpx rather than httpx's own (httpcore) transport: bulk runs make thousands of
GETs on one event loop, and client CPU per request bounds them. aiohttp's HTTP parser is C; against
the sandbox, at concurrency 32 with TLS and keep-alive, a bare aiohttp session costs a fifth of the
CPU per GET of a bare ``httpx.AsyncClient`` (benchmarks/bench_http.py; figures in
docs/performance.md); the own connections cost less again (the measured reason in
:mod:`peppolnet._aio11`). Everything that is not moving bytes - limits, decoding, deadlines, error
sentences, retries - is done above, by :mod:`peppolnet._http`, for this transport and the sync one
alike. This is the only module that imports aiohttp.

Why not the ``httpx-aiohttp`` package (evaluated: it is small and well kept): it hands aiohttp
``str(request.url)``, which aiohttp parses and re-quotes, so ``%3A%3A`` in an SMP path goes out as
``::`` - not the URL peppolnet built; its error map leaves aiohttp's own exceptions (a malformed
answer) escaping through httpx and reports a dropped connection as a connect timeout; and the
destination policy needs a session per policy with a checking resolver, which it does not offer.
What this transport does itself, each the way the sync transport does it:

* **URLs exactly as httpx built them** (``encoded=True``): the percent-encoding of identifiers in
  SMP paths reaches the server unchanged; httpx has already IDNA-encoded the host.
* **Destination policy**: the policy of the request's :func:`peppolnet._http.scope` picks the
  aiohttp session, one per event loop and policy, whose resolver checks every address a name gives
  before aiohttp connects to any (aiohttp connects only to what the resolver returned), so a
  connection kept alive under one policy never serves another. An IP-literal host never reaches a
  resolver; it is checked here.
* **Proxies** from the environment (:class:`peppolnet._http.Proxies`), decided once per host.
* **Errors** mapped to httpx's exception classes, so the one mapping above applies.
* **Raw bodies**: ``auto_decompress=False``; the bounded decoder above decodes.

A session (and a pool of own connections) belongs to the event loop it was created on, so a
transport used from several loops (a new ``asyncio.run``, loops in several threads) keeps one
per loop, like the DNS sockets of
:class:`peppolnet.dnsquery.UdpEndpoints`. Sessions of loops that have closed are dropped when a new
loop comes or on ``aclose``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import aiohttp.abc
import httpx
import yarl

from peppolnet import _aio11, _http, _observe, _tls

if TYPE_CHECKING:
    import socket

    from peppolnet.destinations import DestinationPolicy

__all__ = ["AioTransport"]

_CHUNK: Final = 64 * 1024


class _CheckedResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's resolver, with every answer checked against the destination policy.

    The hosts of the environment's proxies are not checked: with a proxy, the connection goes
    to the proxy (often on a private address), and the proxy resolves the SMP's name.
    """

    def __init__(self, policy: DestinationPolicy, unchecked: frozenset[str]) -> None:
        self._inner = aiohttp.DefaultResolver()
        self._policy = policy
        self._unchecked = unchecked

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily | int = 0
    ) -> list[aiohttp.abc.ResolveResult]:
        answers = await self._inner.resolve(host, port, family)  # type: ignore[arg-type]
        if host.lower() not in self._unchecked:
            addresses = [ipaddress.ip_address(a["host"].split("%", 1)[0]) for a in answers]
            if (observer := _observe.current()) is not None:
                observer.resolved(host, port, addresses)
            self._policy.check_addresses(addresses, host)
        return answers

    async def close(self) -> None:
        await self._inner.close()


# aiohttp's exceptions as httpx's, most specific first (the first match wins)
_ERRORS: Final[tuple[tuple[type[BaseException], type[httpx.TransportError]], ...]] = (
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.ReadTimeout),  # aiohttp's own total timeout
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ClientError, httpx.NetworkError),
    (OSError, httpx.NetworkError),
)


def _translated(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """``exc`` as the httpx error it corresponds to (see _ERRORS)."""
    for kind, error in _ERRORS:
        if isinstance(exc, kind):
            return error(str(exc) or type(exc).__name__, request=request)
    return httpx.NetworkError(str(exc) or type(exc).__name__, request=request)  # pragma: no cover


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body as httpx's raw stream; closing releases the connection (kept
    alive when the body was read to its end, closed otherwise - aiohttp decides)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(_CHUNK):
                yield chunk
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _translated(exc, self._request) from exc

    async def aclose(self) -> None:
        self._response.release()


def _connection(response: aiohttp.ClientResponse) -> _aio11.Stream:
    """What httpx's ``network_stream`` extension offers about the connection a response came on
    (``get_extra_info("ssl_object")``, ``"server_addr"``...), as httpcore's streams do: read
    from the asyncio transport, which keeps its TLS facts after aiohttp releases it."""
    # aiohttp releases the connection at once when the whole body came with the head; its
    # protocol (the connection's, kept by the response) still knows the transport
    connection = response.connection
    protocol = connection.protocol if connection is not None else None
    protocol = protocol or getattr(response, "_protocol", None)
    return _aio11.Stream(getattr(protocol, "transport", None))


class AioTransport(httpx.AsyncBaseTransport):
    """An httpx async transport over aiohttp sessions (see the module notes).

    ``verify``: an :class:`ssl.SSLContext` (:func:`peppolnet._tls.context`), True for aiohttp's
    default, False for none; ``limits.max_connections``: connections kept per session.
    """

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None):
        self._ssl: ssl.SSLContext | bool = verify
        self._limit = (limits.max_connections if limits else None) or 100
        limits = limits or httpx.Limits()
        keep = limits.max_keepalive_connections
        self._own_options: dict[str, Any] = {
            "most": self._limit,
            "keep": keep if keep is not None else self._limit,
            "expiry": limits.keepalive_expiry,
        }
        self._own_context = _own_context(verify)
        self._pools: dict[asyncio.AbstractEventLoop, _aio11.Pool] = {}
        self._proxies = _http.Proxies()
        self._sessions: dict[
            tuple[asyncio.AbstractEventLoop, DestinationPolicy | None], aiohttp.ClientSession
        ] = {}
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}
        self._literals: set[tuple[DestinationPolicy, str]] = set()
        self._lock = threading.Lock()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.host
        try:
            proxy = self._proxies.choose(url.scheme, host)
            if proxy is None and _aio11.handles(request):
                return await self._pool().handle(request)
            policy = _http.destinations()
            if policy is not None and proxy is None and (policy, host) not in self._literals:
                _check_literal(policy, host)
                if len(self._literals) < 4096:  # a host allowed stays allowed
                    self._literals.add((policy, host))
            body = request.content if request.method in ("GET", "HEAD") else await request.aread()
            response = await self._session(policy).request(
                request.method,
                yarl.URL(str(url), encoded=True),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                proxy=proxy.url if proxy else None,
                proxy_auth=aiohttp.BasicAuth(*proxy.auth) if proxy and proxy.auth else None,
                timeout=self._timeout(request.extensions.get("timeout", {})),
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _translated(exc, request) from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode(),
                "network_stream": _connection(response),
            },
        )

    def _pool(self) -> _aio11.Pool:
        """The running loop's own connections (:mod:`peppolnet._aio11`)."""
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            with self._lock:
                self._forget_closed_loops()
                pool = self._pools[loop] = _aio11.Pool(self._own_context, **self._own_options)
        return pool

    def _timeout(self, timeout: dict[str, float | None]) -> aiohttp.ClientTimeout:
        """httpx's connect and read timeouts as aiohttp's (the deadline is kept above)."""
        key = (timeout.get("connect"), timeout.get("read"))
        found = self._timeouts.get(key)
        if found is None:
            found = aiohttp.ClientTimeout(total=None, sock_connect=key[0], sock_read=key[1])
            if len(self._timeouts) < 64:  # a caller's deadline makes many: keep a few
                self._timeouts[key] = found
        return found

    def _session(self, policy: DestinationPolicy | None) -> aiohttp.ClientSession:
        key = (asyncio.get_running_loop(), policy)
        session = self._sessions.get(key)
        if session is not None and not session.closed:
            return session
        with self._lock:
            self._forget_closed_loops()
            resolver = None
            if policy is not None:
                resolver = _CheckedResolver(policy, self._proxies.hosts())
            connector = aiohttp.TCPConnector(
                ssl=self._ssl, limit=self._limit, limit_per_host=0, resolver=resolver
            )
            # not trust_env: aiohttp would then ask the environment for a proxy in a worker
            # thread on every request; Proxies answers once per host
            session = aiohttp.ClientSession(
                connector=connector, trust_env=False, auto_decompress=False
            )
            _no_hidden_retry(session)
            self._sessions[key] = session
        return session

    def _forget_closed_loops(self) -> None:
        """Drop the sessions of loops that have closed (with the lock held).

        Nothing can close them cleanly any more (closing needs their loop): a loop should call
        ``aclose`` before it ends, as ``async with`` does. Dropping at least lets them be
        collected instead of piling up.
        """
        for key in [key for key in self._sessions if key[0].is_closed()]:
            self._sessions.pop(key).detach()
        for loop in [loop for loop in self._pools if loop.is_closed()]:
            del self._pools[loop]

    async def aclose(self) -> None:
        """Close the running loop's sessions (and forget those of loops that have closed)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            mine = [key for key in self._sessions if key[0] is loop]
            sessions = [self._sessions.pop(key) for key in mine]
            pool = self._pools.pop(loop, None)
            self._forget_closed_loops()
        if pool is not None:
            pool.close()
        for session in sessions:
            if not session.closed:
                await session.close()


def _own_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    """``verify`` as the SSL context of the own connections: an SSL context as it is, True as
    aiohttp's default (the system's CAs), False as one that verifies nothing - both with the
    handshake timed for a trace, as :func:`peppolnet._tls.context`'s are."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    made = ssl.create_default_context()
    if not verify:
        made.check_hostname = False
        made.verify_mode = ssl.CERT_NONE
    made.sslobject_class = _tls.TimedSSLObject
    return made


def _no_hidden_retry(session: aiohttp.ClientSession) -> None:
    """Turn off aiohttp's own second try of a GET whose connection the server closed.

    aiohttp sends an idempotent request again, once, when the server drops the connection
    before answering - on a fresh connection too - so against an SMP that resets every
    connection each try of ours cost two requests on the async path and one on the sync path,
    and a lookup's "at most three requests" became six. Retries are :mod:`peppolnet._retry`'s
    alone (but for the own connections' one resend in the keep-alive race: a GET on a *kept*
    connection the server closed before answering, :func:`peppolnet._http11.resend`). There is
    no public switch (aiohttp's own test client sets this attribute); should an aiohttp
    release rename it, tests/test_retry.py sees the doubled requests.
    """
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False


def _check_literal(policy: DestinationPolicy, host: str) -> None:
    """An IP-literal host is connected to without a resolver: check it here."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return  # a name: the session's resolver checks what it resolves to
    policy.check_address(address, host)
