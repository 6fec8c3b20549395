"""The transport under peppolnet's own httpx clients: whole-request deadlines and destinations.

Two things httpx does not do by itself, both needed against a hostile network:

* **A deadline for a whole request.** httpx's timeouts bound each socket operation, so a server
  that sends one byte every few seconds - of its headers or of its body - keeps a request, and
  the lookup waiting on it, alive for as long as it likes. Here every read, write, connect and
  TLS handshake is given at most the time left until the deadline of the :func:`scope` it runs
  in, and fails at once when none is left.
* **The destination policy at the socket** (:mod:`peppolnet.destinations`). Checking a URL's
  host is not enough: a name can resolve to ``127.0.0.1`` or ``169.254.169.254``. So the
  connection is opened here: the name is resolved, *every* address it gives is checked, and the
  socket connects to those checked addresses - never to a second resolution that could answer
  differently (DNS rebinding). TLS still verifies the certificate against the name.

Both are done in an httpcore network backend - httpcore's documented extension point - wrapped in
a small httpx transport (:class:`Transport`, :class:`AsyncTransport`) built on httpcore's public
connection pools, because httpx's own ``HTTPTransport`` takes no backend. The limits travel in a
context variable, set with :func:`scope` by whoever starts a request (the SMP client, the CRL
checker, a lookup for everything it runs), so nested calls - retries, a redirect, a revocation
check - all share the tightest deadline and the policy of the network asking, like the cancel
scopes of trio. Outside any scope the transport behaves like httpx's own.

Proxies from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) are
honoured as httpx honours them; a connection to a proxy is not checked against the policy (the
proxy resolves the SMP's name, so only the URL's host is checked - see docs/security.md). A
client passed in by the caller keeps its own transport: peppolnet then bounds the body between
chunks and each read by the time left, but cannot see the address it connects to.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import ipaddress
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import httpcore
import httpx

if TYPE_CHECKING:
    from peppolnet.destinations import DestinationPolicy, IPAddress

__all__ = [
    "AsyncTransport",
    "Transport",
    "abounded",
    "bounded",
    "environment_proxy",
    "expired",
    "left",
    "scope",
    "timeouts",
]


@dataclasses.dataclass(frozen=True, slots=True)
class _Scope:
    deadline: float | None = None  # time.monotonic(): sockets wait in real seconds
    destinations: DestinationPolicy | None = None


_OUTSIDE: Final = _Scope()  # no deadline, no policy: httpx's own behaviour
_CURRENT: Final[contextvars.ContextVar[_Scope]] = contextvars.ContextVar(
    "peppolnet_http_scope", default=_OUTSIDE
)


@contextlib.contextmanager
def scope(
    *,
    seconds: float | None = None,
    deadline: float | None = None,
    destinations: DestinationPolicy | None = None,
) -> Iterator[None]:
    """Run the block with a deadline (``seconds`` from now, or the monotonic ``deadline``) and a
    destination policy. A deadline only ever tightens the one around it; a policy replaces it."""
    outer = _CURRENT.get()
    candidates = [d for d in (outer.deadline, deadline) if d is not None]
    if seconds is not None:
        candidates.append(time.monotonic() + seconds)
    inner = _Scope(
        min(candidates) if candidates else None,
        destinations if destinations is not None else outer.destinations,
    )
    token = _CURRENT.set(inner)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def left(cap: float | None = None) -> float | None:
    """Seconds until the current scope's deadline (at most ``cap``); None without either."""
    deadline = _CURRENT.get().deadline
    if deadline is None:
        return cap
    remaining = max(0.0, deadline - time.monotonic())
    return remaining if cap is None else min(cap, remaining)


def expired() -> bool:
    """Whether the current scope's deadline has passed."""
    deadline = _CURRENT.get().deadline
    return deadline is not None and time.monotonic() >= deadline


def destinations() -> DestinationPolicy | None:
    """The destination policy of the current scope (None outside any)."""
    return _CURRENT.get().destinations


def bounded(chunks: Iterable[bytes], fault: Callable[[], Exception]) -> Iterator[bytes]:
    """``chunks`` until the scope's deadline, then ``fault()``: a client of the caller's does not
    know the deadline, so a body it hands over slowly is cut here, between chunks."""
    for chunk in chunks:
        yield chunk
        if expired():
            raise fault()


async def abounded(
    chunks: AsyncIterable[bytes], fault: Callable[[], Exception]
) -> AsyncIterator[bytes]:
    """The async twin of :func:`bounded`."""
    async for chunk in chunks:
        yield chunk
        if expired():
            raise fault()


def timeouts(client: httpx.Client | httpx.AsyncClient) -> httpx.Timeout:
    """``client``'s own timeouts, each shortened to the time left in the scope (for a client of
    the caller's, whose transport knows nothing of the deadline; ours enforces it besides)."""
    remaining = left()
    base = client.timeout
    if remaining is None:
        return base
    remaining = max(remaining, 0.001)  # 0 would mean "do not wait" to a socket, not "too late"

    def cap(value: float | None) -> float:
        return remaining if value is None else min(value, remaining)

    return httpx.Timeout(
        connect=cap(base.connect), read=cap(base.read), write=cap(base.write), pool=cap(base.pool)
    )


def _capped(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left in the scope; ``error`` when none is left."""
    remaining = left()
    if remaining is None:
        return timeout
    if remaining <= 0:
        raise error("the request's deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


# --- addresses -----------------------------------------------------------------------------------


def _unique(infos: Iterable[tuple[Any, ...]]) -> list[IPAddress]:
    found: dict[IPAddress, None] = {}
    for info in infos:
        found.setdefault(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]), None)
    return list(found)


def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return _unique(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc


async def _aaddresses(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        return _unique(await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc


# --- the network backends ------------------------------------------------------------------------


def _peer(stream: httpcore.NetworkStream | httpcore.AsyncNetworkStream) -> IPAddress | None:
    address = stream.get_extra_info("server_addr")
    try:
        return ipaddress.ip_address(str(address[0]).split("%", 1)[0]) if address else None
    except ValueError:
        return None


class _Peer:
    """The address a connection reached, checked again before every request sent on it: a
    connection kept alive from a request under a wider policy must not serve a narrower one."""

    def __init__(self, address: IPAddress | None, host: str) -> None:
        self.address = address
        self.host = host

    def check(self) -> None:
        policy = _CURRENT.get().destinations
        if policy is not None and self.address is not None:
            policy.check_address(self.address, self.host)


class _Stream(httpcore.NetworkStream):
    """A connection whose every operation ends by the scope's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, peer: _Peer) -> None:
        self._inner = inner
        self._peer = peer

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._peer.check()
        self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, capped), self._peer)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncStream(httpcore.AsyncNetworkStream):
    """The async twin of :class:`_Stream`."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, peer: _Peer) -> None:
        self._inner = inner
        self._peer = peer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._peer.check()
        await self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        inner = await self._inner.start_tls(ssl_context, server_hostname, capped)
        return _AsyncStream(inner, self._peer)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Guard:
    """What both backends decide before and after connecting (``check`` is off for a proxy)."""

    def __init__(self, check: bool) -> None:
        self.check = check

    def policy(self) -> DestinationPolicy | None:
        return _CURRENT.get().destinations if self.check else None

    @staticmethod
    def targets(host: str, policy: DestinationPolicy, addresses: list[IPAddress]) -> list[str]:
        """Every address of ``host`` must pass: then exactly those are connected to."""
        policy.check_addresses(addresses, host)
        return [str(address) for address in addresses]

    def peer(
        self, stream: httpcore.NetworkStream | httpcore.AsyncNetworkStream, host: str
    ) -> _Peer:
        return _Peer(_peer(stream) if self.check else None, host)


class _Backend(httpcore.NetworkBackend):
    """Connects only to addresses the scope's policy allows, each step within its deadline."""

    def __init__(self, *, check: bool) -> None:
        self._inner = httpcore.SyncBackend()
        self._guard = _Guard(check)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        policy = self._guard.policy()
        targets = [host] if policy is None else _Guard.targets(host, policy, _addresses(host, port))
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for target in targets:
            try:
                timeout = _capped(timeout, httpcore.ConnectTimeout)
                stream = self._inner.connect_tcp(
                    target, port, timeout, local_address, socket_options
                )
                return _Stream(stream, self._guard.peer(stream, host))
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    """The async twin of :class:`_Backend` (asyncio, through httpcore's anyio backend)."""

    def __init__(self, *, check: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._guard = _Guard(check)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        policy = self._guard.policy()
        if policy is not None:
            targets = _Guard.targets(host, policy, await _aaddresses(host, port))
        else:
            targets = [host]
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for target in targets:
            try:
                timeout = _capped(timeout, httpcore.ConnectTimeout)
                stream = await self._inner.connect_tcp(
                    target, port, timeout, local_address, socket_options
                )
                return _AsyncStream(stream, self._guard.peer(stream, host))
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# --- the httpx transports ------------------------------------------------------------------------

# httpcore's exceptions and httpx's have the same names; httpx's transport maps one to the other.
_ERRORS: Final[Mapping[type[Exception], type[httpx.TransportError]]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.NetworkError: httpx.NetworkError,
}


@contextlib.contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for kind in type(exc).__mro__:
            if kind in _ERRORS:
                raise _ERRORS[kind](str(exc), request=request) from exc
        raise


# NO_PROXY as urllib reads it (public, though typeshed does not list it)
_bypass: Callable[[str, Mapping[str, str]], bool] = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]


def environment_proxy(proxies: Mapping[str, str], scheme: str, host: str) -> str | None:
    """The proxy URL for ``scheme://host`` from ``proxies`` (``urllib.request``'s reading of
    ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY``), as httpx chooses it."""
    proxy = proxies.get(scheme.lower()) or proxies.get("all")
    if not proxy or _bypass(host, proxies):
        return None
    return proxy if "://" in proxy else "http://" + proxy  # "proxy.example:3128", as httpx


def _proxy_settings(proxy: str) -> tuple[httpcore.URL, tuple[bytes, bytes] | None]:
    parts = urllib.parse.urlsplit(proxy)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        shown = parts.hostname or proxy.rsplit("@", 1)[-1]
        raise httpx.UnsupportedProtocol(
            f"the proxy {shown!r} from the environment is not an HTTP(S) proxy"
        )
    auth = None
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username).encode()
        auth = (user, urllib.parse.unquote(parts.password or "").encode())
    url = httpcore.URL(
        scheme=parts.scheme.lower().encode(),
        host=parts.hostname.encode("idna"),
        port=parts.port,
        target=b"/",
    )
    return url, auth


def _core_request(request: httpx.Request, content: Any) -> httpcore.Request:
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        ),
        headers=request.headers.raw,
        content=content,
        extensions=request.extensions,
    )


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        with _mapped(self._request):
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if callable(close):
            close()


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self._request):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        aclose = getattr(self._stream, "aclose", None)
        if callable(aclose):
            await aclose()


_P = TypeVar("_P", httpcore.ConnectionPool, httpcore.AsyncConnectionPool)


class _Router(Generic[_P]):
    """Which pool serves a request: the direct one, or one per proxy the environment names.

    ``direct(options)`` and ``proxied(url, auth, options)`` build the pools (sync or async).
    """

    def __init__(
        self,
        verify: ssl.SSLContext | bool,
        limits: httpx.Limits | None,
        direct: Callable[[dict[str, Any]], _P],
        proxied: Callable[[httpcore.URL, tuple[bytes, bytes] | None, dict[str, Any]], _P],
    ) -> None:
        limits = limits or httpx.Limits()
        self._options: dict[str, Any] = {
            "ssl_context": httpx.create_ssl_context(verify=verify),
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
        }
        self._proxies = urllib.request.getproxies_environment()
        self._make_proxied: Callable[
            [httpcore.URL, tuple[bytes, bytes] | None, dict[str, Any]], _P
        ] = proxied
        self.direct: _P = direct(self._options)
        self.proxied: dict[str, _P] = {}
        self._lock = threading.Lock()

    def pool(self, request: httpx.Request) -> _P:
        proxy = environment_proxy(self._proxies, request.url.scheme, request.url.host)
        if proxy is None:
            return self.direct
        with self._lock:  # threads share a sync client: one pool per proxy, never two
            if proxy not in self.proxied:
                url, auth = _proxy_settings(proxy)
                self.proxied[proxy] = self._make_proxied(url, auth, self._options)
            return self.proxied[proxy]

    def pools(self) -> list[_P]:
        pools = [self.direct]
        pools.extend(self.proxied.values())
        return pools


def _response(
    response: httpcore.Response, body: httpx.SyncByteStream | httpx.AsyncByteStream
) -> httpx.Response:
    return httpx.Response(
        status_code=response.status,
        headers=response.headers,
        stream=body,
        extensions=response.extensions,
    )


class Transport(httpx.BaseTransport):
    """An httpx transport over httpcore pools with the guarded backend (see the module notes).

    ``verify`` as httpx's (True, False or an :class:`ssl.SSLContext`); ``limits`` the pool sizes.
    """

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None):
        self._router: _Router[httpcore.ConnectionPool] = _Router(
            verify,
            limits,
            lambda options: httpcore.ConnectionPool(
                network_backend=_Backend(check=True), **options
            ),
            lambda url, auth, options: httpcore.HTTPProxy(
                proxy_url=url, proxy_auth=auth, network_backend=_Backend(check=False), **options
            ),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        with _mapped(request):
            core = _core_request(request, request.stream)
            response = self._router.pool(request).handle_request(core)
        assert isinstance(response.stream, Iterable)
        return _response(response, _Body(response.stream, request))

    def close(self) -> None:
        for pool in self._router.pools():
            pool.close()


class AsyncTransport(httpx.AsyncBaseTransport):
    """The async twin of :class:`Transport` (asyncio)."""

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None):
        self._router: _Router[httpcore.AsyncConnectionPool] = _Router(
            verify,
            limits,
            lambda options: httpcore.AsyncConnectionPool(
                network_backend=_AsyncBackend(check=True), **options
            ),
            lambda url, auth, options: httpcore.AsyncHTTPProxy(
                proxy_url=url,
                proxy_auth=auth,
                network_backend=_AsyncBackend(check=False),
                **options,
            ),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        with _mapped(request):
            core = _core_request(request, request.stream)
            response = await self._router.pool(request).handle_async_request(core)
        assert isinstance(response.stream, AsyncIterable)
        return _response(response, _AsyncBody(response.stream, request))

    async def aclose(self) -> None:
        for pool in self._router.pools():
            await pool.aclose()
