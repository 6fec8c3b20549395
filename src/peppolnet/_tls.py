"""What HTTPS trusts, as httpx and aiohttp want it.

A :class:`~peppolnet.network.Network` says ``tls_verify``: ``True`` (the system's CAs), ``False``,
or the path of a PEM bundle (the sandbox's own TLS CA). httpx deprecates passing a path as
``verify``, so paths become an :class:`ssl.SSLContext`, built once per path and shared: creating a
context loads and parses the bundle, which is too slow to do per client.
"""

from __future__ import annotations

import functools
import ssl

from peppolnet.errors import InvalidInput

__all__ = ["ssl_context", "verify_argument"]


@functools.lru_cache(maxsize=16)
def _context(cafile: str | None) -> ssl.SSLContext:
    try:
        if cafile is None:  # the same CAs as httpx's verify=True, so both transports agree
            import certifi

            cafile = certifi.where()
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"cannot load the TLS trust bundle {cafile}: {exc}") from exc


def verify_argument(tls_verify: str | bool) -> ssl.SSLContext | bool:
    """``tls_verify`` as httpx's ``verify=``: a bool as it is, a path as an SSL context."""
    if isinstance(tls_verify, bool):
        return tls_verify
    return _context(str(tls_verify))


def ssl_context(tls_verify: str | bool) -> ssl.SSLContext | bool:
    """``tls_verify`` as aiohttp's ``ssl=``: a context for ``True`` or a path, ``False`` as is."""
    if tls_verify is False:
        return False
    return _context(None if tls_verify is True else str(tls_verify))
