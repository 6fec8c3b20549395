"""What went wrong on the network, in the catalog's words: the common socket, name and TLS
failures under an httpx (or aiohttp, translated to httpx) error.

Why: the text of those errors comes from the operating system, OpenSSL or the HTTP library -
"[Errno 111] Connect call failed", "[SSL: CERTIFICATE_VERIFY_FAILED] ... Hostname mismatch" -
in English only, and it ended up inside Swedish sentences ("det går inte att ansluta till SMP:n
på ...: [Errno 111] Connection refused"). The known causes are said in the page's or command's
language first, and the raw text follows in parentheses: a technical detail for whoever
debugs it, the same in every language. An unknown cause keeps the raw text alone.
"""

from __future__ import annotations

import errno
import re
import ssl
from collections.abc import Iterator
from typing import Final

from peppolnet.i18n import Message, _, message_of

__all__ = ["describe"]

#: errno values and what they mean to a person.
_ERRNOS: Final[dict[int, Message]] = {
    errno.ECONNREFUSED: _("the connection was refused"),
    errno.ECONNRESET: _("the connection was reset"),
    errno.ECONNABORTED: _("the connection was reset"),
    errno.EPIPE: _("the connection was reset"),
    errno.ENETUNREACH: _("the network is unreachable"),
    errno.EHOSTUNREACH: _("there is no route to the host"),
    errno.ETIMEDOUT: _("no answer in time"),
    errno.EACCES: _("permission denied"),
    errno.EADDRNOTAVAIL: _("the address is not one of this machine's"),
}

#: Patterns over the text, for what arrives without an errno (httpcore, aiohttp, OpenSSL).
_TEXTS: Final[tuple[tuple[re.Pattern[str], Message], ...]] = tuple(
    (re.compile(pattern, re.IGNORECASE), said)
    for pattern, said in (
        (
            r"hostname mismatch|ip address mismatch|doesn't match",
            _("the server's TLS certificate is not for this host name"),
        ),
        (r"certificate has expired", _("the server's TLS certificate has expired")),
        (
            r"self[- ]signed certificate|unable to get local issuer|unknown ca",
            _("the server's TLS certificate is not issued by a CA this client trusts"),
        ),
        (r"certificate verify failed", _("the server's TLS certificate could not be verified")),
        (
            r"wrong version number|tlsv1 alert|handshake failure|unexpected eof while reading",
            _("the TLS handshake failed"),
        ),
        (
            r"name or service not known|nodename nor servname|no address associated|"
            r"temporary failure in name resolution|cannot resolve|has no address|getaddrinfo",
            _("the host name could not be resolved"),
        ),
        (r"connection refused|connect call failed", _("the connection was refused")),
        (r"connection reset|connection aborted|broken pipe", _("the connection was reset")),
        (
            r"server disconnected|without sending a response|connection closed",
            _("the server closed the connection without an answer"),
        ),
        (r"network is unreachable", _("the network is unreachable")),
        (r"no route to host", _("there is no route to the host")),
        (r"timed out|timeout", _("no answer in time")),
    )
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it, outermost first (a cycle ends the walk)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _meaning(exc: BaseException) -> Message | None:
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            break  # its text says more (name, expiry, issuer) than its errno
        number = getattr(cause, "errno", None)
        if isinstance(cause, OSError) and isinstance(number, int) and number in _ERRNOS:
            return _ERRNOS[number]
    text = " ".join(str(cause) for cause in _chain(exc))
    return next((said for pattern, said in _TEXTS if pattern.search(text)), None)


def describe(exc: BaseException) -> str:
    """``exc`` for a person: the known cause as a catalog message with the raw text after it
    in parentheses, or the raw text alone (the exception's name when it has none)."""
    raw = message_of(exc) or type(exc).__name__
    meaning = _meaning(exc)
    if meaning is None:
        return raw
    if str(meaning) == raw:
        return meaning
    return _("{meaning} ({detail})", meaning=meaning, detail=raw)
