"""The transport of :class:`~peppolnet.smp.client.AsyncSmpClient`: aiohttp, a session per loop.

Why aiohttp and not ``httpx.AsyncClient`` (which the sync client uses): bulk runs make thousands
of GETs on one event loop, and client CPU per request bounds them. Measured against the sandbox on
the same machine in the same run (1,500 GETs of signed ServiceMetadata at concurrency 32, TLS,
keep-alive): ``httpx.AsyncClient`` 1,069 us CPU per request, a shared sync ``httpx.Client`` under
32 threads 847 us, aiohttp 189 us (its HTTP parser is C). See docs/performance.md.

The transport only moves bytes: ``get(url) -> (status, body)`` with the same limits as the sync
client (a total time limit for the whole request, a size limit counted on the decoded body, no
redirects followed, the network's destination policy) and its failures translated into the same
faults. The destination policy is applied where aiohttp resolves a host name
(:class:`_CheckedResolver`): every address a name gives is checked before aiohttp connects to any
of them, and aiohttp connects only to what the resolver returned. IP-literal hosts never reach a
resolver; the SMP client has checked those in the URL already.

URLs are sent exactly as built (``encoded=True``): the percent-encoding of identifiers in SMP
paths must reach the server unchanged, so anything that could break the request line (spaces,
controls, non-ASCII) is refused before sending.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import ssl
import threading
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Final

import aiohttp
import aiohttp.abc
import idna
import yarl

from peppolnet._http import environment_proxy
from peppolnet.errors import InvalidSmpDocument, SmpError, SmpUnavailable

if TYPE_CHECKING:
    import socket
    from collections.abc import Mapping

    from peppolnet.destinations import DestinationPolicy

__all__ = ["AioTransport"]

#: Connections kept per transport; a new TLS handshake costs more CPU than a whole lookup.
MAX_CONNECTIONS: Final = 512
_CHUNK: Final = 64 * 1024


_SENDABLE: Final = re.compile(r"[\x21-\x7e]+")


def _sendable(url: str) -> bool:
    """True when ``url`` is printable ASCII without spaces (safe to put on a request line)."""
    return _SENDABLE.fullmatch(url) is not None


def _ascii_host(url: str) -> str:
    """``url`` with an internationalised host name in its ASCII (IDNA) form, as httpx sends it."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host.isascii():
        return url
    try:
        encoded = idna.encode(host, uts46=True).decode("ascii")
        port = parts.port
    except (idna.IDNAError, ValueError) as exc:
        raise SmpError(f"the SMP URL {url[:120]!r} cannot be requested: {exc}") from None
    netloc = encoded if port is None else f"{encoded}:{port}"
    if "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


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
            self._policy.check_addresses(addresses, host)
        return answers

    async def close(self) -> None:
        await self._inner.close()


class AioTransport:
    """GETs over aiohttp: one session per event loop, made on first use, closed by ``aclose``.

    A session belongs to the event loop it was created on, so a transport used from several
    loops (a new ``asyncio.run``, loops in several threads) keeps one per loop, like the DNS
    sockets of :class:`peppolnet.dnsquery.UdpEndpoints`. Sessions of loops that have closed are
    dropped when a new loop comes or on ``aclose``.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | bool,
        timeout: float,
        connect_timeout: float,
        max_bytes: int,
        headers: Mapping[str, str],
        destinations: DestinationPolicy | None = None,
    ) -> None:
        self.ssl_context = ssl_context
        self.destinations = destinations
        self.connect_timeout = connect_timeout
        self.timeout = aiohttp.ClientTimeout(
            total=timeout, sock_connect=connect_timeout, sock_read=timeout
        )
        self.max_bytes = max_bytes
        self.headers = dict(headers)
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._lock = threading.Lock()
        self._proxies: dict[tuple[str, str], str | None] = {}

    def _proxy(self, target: yarl.URL) -> str | None:
        """The proxy for ``target`` from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY, as
        httpx honours them. Read once per scheme and host, so a bulk run pays for it once per
        SMP, not per request."""
        key = (target.scheme, target.host or "")
        if key not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            proxy = environment_proxy(proxies, *key)
            if proxy and not proxy.lower().startswith(("http://", "https://")):
                raise SmpError(
                    f"the proxy {proxy!r} from the environment is not an HTTP(S) proxy, "
                    "which the async SMP client needs"
                )
            self._proxies[key] = proxy or None
        return self._proxies[key]

    def _current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is not None and not session.closed:
            return session
        with self._lock:
            self._forget_closed_loops()
            resolver = None
            if self.destinations is not None:
                resolver = _CheckedResolver(self.destinations, _proxy_hosts())
            connector = aiohttp.TCPConnector(
                ssl=self.ssl_context, limit=MAX_CONNECTIONS, limit_per_host=0, resolver=resolver
            )
            # not trust_env: aiohttp would then ask the environment for a proxy in a worker
            # thread on every request; _proxy() answers once per host (see there)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                headers=self.headers,
                trust_env=False,
                auto_decompress=True,
            )
            self._sessions[loop] = session
        return session

    def _forget_closed_loops(self) -> None:
        """Drop the sessions of loops that have closed (with the lock held).

        Nothing can close them cleanly any more (closing needs their loop): a loop should call
        ``aclose`` before it ends, as ``async with`` does. Dropping at least lets them be
        collected instead of piling up.
        """
        for loop in [loop for loop in self._sessions if loop.is_closed()]:
            self._sessions.pop(loop).detach()

    async def aclose(self) -> None:
        """Close the running loop's session (and forget those of loops that have closed)."""
        with self._lock:
            session = self._sessions.pop(asyncio.get_running_loop(), None)
            self._forget_closed_loops()
        if session is not None and not session.closed:
            await session.close()

    async def get(self, url: str, timeout: float | None = None) -> tuple[int, bytes]:
        """GET ``url``; the status and the body (at most ``max_bytes`` decoded bytes).

        ``timeout`` shortens the transport's time limit for this request (the time a caller's
        deadline leaves); the limit covers the whole request, body included.
        """
        url = _ascii_host(url)
        if not _sendable(url):
            raise SmpError(f"the SMP URL {url[:120]!r} cannot be requested: unsafe characters")
        try:
            target = yarl.URL(url, encoded=True)
        except (ValueError, TypeError) as exc:
            raise SmpError(f"the SMP URL {url[:120]} cannot be requested: {exc}") from exc
        try:
            session = self._current()
            proxy = self._proxy(target)
            limit = self.timeout
            if timeout is not None and (limit.total is None or timeout < limit.total):
                limit = aiohttp.ClientTimeout(
                    total=timeout,
                    sock_connect=min(self.connect_timeout, timeout),
                    sock_read=timeout,
                )
            async with session.get(
                target, allow_redirects=False, proxy=proxy, timeout=limit
            ) as response:
                declared = response.content_length
                if declared is not None and declared > self.max_bytes:
                    raise InvalidSmpDocument(
                        f"the SMP answer is {declared} bytes; at most {self.max_bytes} are read"
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise InvalidSmpDocument(
                            f"the SMP answer exceeds {self.max_bytes} bytes; it was not read"
                        )
                    chunks.append(chunk)
                return response.status, b"".join(chunks)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise SmpUnavailable(f"the SMP at {url} did not answer in time") from exc
        except aiohttp.ClientConnectorError as exc:
            raise SmpUnavailable(f"cannot connect to the SMP at {url}: {exc}") from exc
        except (
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientPayloadError,
            aiohttp.ClientResponseError,
        ) as exc:
            raise SmpUnavailable(
                f"the SMP at {url} closed the connection or sent a broken answer"
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise SmpError(f"the SMP URL {url[:120]} cannot be requested: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise SmpUnavailable(f"the SMP at {url} could not be reached: {exc}") from exc


def _proxy_hosts() -> frozenset[str]:
    """The host names of the environment's proxies (connections to them are not checked)."""
    hosts = set()
    for name, proxy in urllib.request.getproxies_environment().items():
        if name != "no":
            host = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy).hostname
            if host:
                hosts.add(host.lower())
    return frozenset(hosts)
