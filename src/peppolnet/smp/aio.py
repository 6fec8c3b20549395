"""The transport of :class:`~peppolnet.smp.client.AsyncSmpClient`: aiohttp, a session per loop.

Why aiohttp and not ``httpx.AsyncClient`` (which the sync client uses): bulk runs make thousands
of GETs on one event loop, and client CPU per request bounds them. Measured against the sandbox on
the same machine in the same run (1,500 GETs of signed ServiceMetadata at concurrency 32, TLS,
keep-alive): ``httpx.AsyncClient`` 1,069 us CPU per request, a shared sync ``httpx.Client`` under
32 threads 847 us, aiohttp 189 us (its HTTP parser is C). See docs/performance.md.

The transport only moves bytes: ``get(url) -> (status, body)`` with the same limits as the sync
client (a total time limit, a size limit counted on the decoded body, no redirects followed) and
its failures translated into the same faults. URLs are sent exactly as built (``encoded=True``):
the percent-encoding of identifiers in SMP paths must reach the server unchanged, so anything
that could break the request line (spaces, controls, non-ASCII) is refused before sending.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Final

import aiohttp
import idna
import yarl

from peppolnet.errors import InvalidSmpDocument, SmpError, SmpUnavailable

if TYPE_CHECKING:
    from collections.abc import Mapping

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
    ) -> None:
        self.ssl_context = ssl_context
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
            proxy = proxies.get(target.scheme) or proxies.get("all")
            if proxy and urllib.request.proxy_bypass(key[1]):
                proxy = None
            if proxy and "://" not in proxy:
                proxy = "http://" + proxy  # as httpx reads "proxy.example:3128"
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
            connector = aiohttp.TCPConnector(
                ssl=self.ssl_context, limit=MAX_CONNECTIONS, limit_per_host=0
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

    async def get(self, url: str) -> tuple[int, bytes]:
        """GET ``url``; the status and the body (at most ``max_bytes`` decoded bytes)."""
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
            async with session.get(target, allow_redirects=False, proxy=proxy) as response:
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
