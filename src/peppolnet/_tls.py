"""What HTTPS trusts, as httpx and aiohttp want it.

A :class:`~peppolnet.network.Network` says ``tls_verify``: ``True`` (certifi's CAs, or those of
``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, as httpx), ``False``,
or the path of a PEM bundle (the sandbox's own TLS CA). httpx deprecates passing a path as
``verify``, so paths become an :class:`ssl.SSLContext`, built once per path and shared: creating a
context loads and parses the bundle, which is too slow to do per client.
"""

from __future__ import annotations

import functools
import os
import ssl

from peppolnet.errors import InvalidInput

__all__ = ["ssl_context", "verify_argument"]


@functools.lru_cache(maxsize=16)
def _context(cafile: str | None, capath: str | None = None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"cannot load the TLS trust bundle {cafile or capath}: {exc}") from exc


def _default_context() -> ssl.SSLContext:
    """The CAs httpx's ``verify=True`` uses, so that both transports trust the same servers:
    ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` when set (a company's TLS-inspecting proxy CA), else
    certifi's bundle."""
    if os.environ.get("SSL_CERT_FILE"):
        return _context(os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return _context(None, os.environ["SSL_CERT_DIR"])
    import certifi

    return _context(certifi.where())


def verify_argument(tls_verify: str | bool) -> ssl.SSLContext | bool:
    """``tls_verify`` as httpx's ``verify=``: a bool as it is, a path as an SSL context."""
    if isinstance(tls_verify, bool):
        return tls_verify
    return _context(str(tls_verify))


def ssl_context(tls_verify: str | bool) -> ssl.SSLContext | bool:
    """``tls_verify`` as aiohttp's ``ssl=``: a context for ``True`` or a path, ``False`` as is."""
    if tls_verify is False:
        return False
    return _default_context() if tls_verify is True else _context(str(tls_verify))
