"""What HTTPS trusts: one SSL context for both transports (httpcore's and aiohttp's).

A :class:`~peppolnet.network.Network` says ``tls_verify``: ``True`` (certifi's CAs, or those of
``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, as httpx), ``False``, or the path of a PEM bundle (the
sandbox's own TLS CA). Every client peppolnet builds gets it as :func:`context` makes it, so the
sync and async paths trust exactly the same servers. Contexts are built once per bundle and
shared: creating one loads and parses the bundle, which is too slow to do per client.
"""

from __future__ import annotations

import functools
import os
import ssl
import time
from typing import Final

from peppolnet.errors import InvalidInput
from peppolnet.i18n import _

__all__ = ["HANDSHAKE", "TimedSSLObject", "context", "trust_store"]

#: The ``get_extra_info`` name under which both transports' connections tell how their TLS
#: handshake went for a trace: ``(ended, seconds)``, ``ended`` a :func:`time.perf_counter`
#: reading (None where it was not measured).
HANDSHAKE: Final = "peppolnet_tls_handshake"


class TimedSSLObject(ssl.SSLObject):
    """An :class:`ssl.SSLObject` that remembers how long its handshake took, for a trace.

    Why here: the async transport's handshake happens inside asyncio's SSL protocol (under
    aiohttp's connector), which reports no timing; asyncio drives the handshake by calling
    ``do_handshake`` until it stops asking for more data, so the first call is the ClientHello
    and the one that returns is the end. Two clock readings per connection, none per request:
    a plain lookup on kept-alive connections pays nothing. (The sync transport times its
    blocking handshake around ``start_tls`` instead: :class:`peppolnet._http._Stream`.)
    """

    handshake: tuple[float, float] | None = None
    _began: float | None = None

    def do_handshake(self) -> None:
        if self._began is None:
            self._began = time.perf_counter()
        super().do_handshake()  # raises SSLWantReadError until the server's part has come
        ended = time.perf_counter()
        self.handshake = (ended, ended - self._began)


@functools.lru_cache(maxsize=16)
def _context(cafile: str | None, capath: str | None = None) -> ssl.SSLContext:
    try:
        made = ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(
            _(
                "cannot load the TLS trust bundle {value}: {exc}",
                value=cafile or capath,
                exc=str(exc),
            )
        ) from exc
    made.sslobject_class = TimedSSLObject  # the async transport's handshakes, timed
    return made


def _default_context() -> ssl.SSLContext:
    """The CAs httpx's ``verify=True`` uses: ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` when set (a
    company's TLS-inspecting proxy CA), else certifi's bundle."""
    if os.environ.get("SSL_CERT_FILE"):
        return _context(os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return _context(None, os.environ["SSL_CERT_DIR"])
    import certifi

    return _context(certifi.where())


def context(tls_verify: str | bool) -> ssl.SSLContext | bool:
    """``tls_verify`` as both transports take it: an SSL context (``True``: the system's CAs as
    httpx picks them; a path: that bundle), or ``False`` (no verification)."""
    if tls_verify is False:
        return False
    return _default_context() if tls_verify is True else _context(str(tls_verify))


def trust_store(tls_verify: str | bool) -> dict[str, str | None]:
    """Which CAs :func:`context` trusts for ``tls_verify``, for a trace: ``{"kind": "bundle" |
    "directory" | "none", "path": ..., "source": "network" | "SSL_CERT_FILE" | "SSL_CERT_DIR" |
    "certifi" | "off"}``."""
    if tls_verify is False:
        return {"kind": "none", "path": None, "source": "off"}
    if tls_verify is not True:
        return {"kind": "bundle", "path": str(tls_verify), "source": "network"}
    if os.environ.get("SSL_CERT_FILE"):
        return {"kind": "bundle", "path": os.environ["SSL_CERT_FILE"], "source": "SSL_CERT_FILE"}
    if os.environ.get("SSL_CERT_DIR"):
        return {"kind": "directory", "path": os.environ["SSL_CERT_DIR"], "source": "SSL_CERT_DIR"}
    import certifi

    return {"kind": "bundle", "path": certifi.where(), "source": "certifi"}
