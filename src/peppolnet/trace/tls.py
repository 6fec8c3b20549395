"""What a trace shows of a connection: its peer, and its TLS handshake, read from the connection
the request already used (no second handshake).

Both transports offer httpx's ``network_stream`` extension (httpcore's streams; peppolnet's
aiohttp transport mimics it): ``get_extra_info("ssl_object")`` is the connection's TLS object,
from which the protocol, the cipher and the server's certificate chain as the handshake verified
it are read. Python before 3.13 has ``get_verified_chain`` only on the object beneath
(``_sslobj``); where neither offers it, the server's own certificate is shown alone.
"""

from __future__ import annotations

import functools
import ipaddress
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from peppolnet._tls import HANDSHAKE

if TYPE_CHECKING:
    import httpx

__all__ = ["certificate_facts", "connection_facts", "tls_failure"]

_DER = 2  # ssl's ENCODING_DER (public only from Python 3.13 on)


def connection_facts(response: httpx.Response) -> dict[str, Any]:
    """``{"peer": "address:port" or None, "tls": {...} or None}`` of the response's connection,
    and for a TLS one ``"handshake"``: ``(ended, seconds)`` of its handshake (a
    :func:`time.perf_counter` reading and a duration; None where the transport did not time
    it), as the transports measured it when they opened the connection."""
    stream = response.extensions.get("network_stream")
    if stream is None:
        return {"peer": None, "tls": None}
    peer = _peer(_extra(stream, "server_addr"))
    ssl_object = _extra(stream, "ssl_object")
    if ssl_object is None:
        return {"peer": peer, "tls": None}
    return {"peer": peer, "tls": _known_tls(ssl_object), "handshake": _extra(stream, HANDSHAKE)}


_SEEN: OrderedDict[int, tuple[Any, dict[str, Any]]] = OrderedDict()
_SEEN_SIZE = 64
_SEEN_LOCK = threading.Lock()


def _known_tls(ssl_object: Any) -> dict[str, Any]:
    """:func:`_tls` of a connection, read once while it is kept open: every request on it has
    the same handshake. Keyed by the TLS object's identity, which it keeps while remembered."""
    with _SEEN_LOCK:
        found = _SEEN.get(id(ssl_object))
        if found is not None and found[0] is ssl_object:
            _SEEN.move_to_end(id(ssl_object))
            return _copy(found[1])
    facts = _tls(ssl_object)
    with _SEEN_LOCK:
        _SEEN[id(ssl_object)] = (ssl_object, facts)
        while len(_SEEN) > _SEEN_SIZE:
            _SEEN.popitem(last=False)
    return _copy(facts)


def _copy(facts: dict[str, Any]) -> dict[str, Any]:
    """A trace's own copy of remembered facts (plain data nobody else may change)."""
    server = facts.get("server_certificate")
    if server is not None:
        server = {**server, "names": list(server["names"])}
    return {**facts, "server_certificate": server, "chain": list(facts["chain"])}


def _extra(stream: Any, name: str) -> Any:
    try:
        return stream.get_extra_info(name)
    except (AttributeError, OSError, ValueError):  # a closed socket, a stream without it
        return None


def _peer(address: Any) -> str | None:
    if not isinstance(address, tuple) or len(address) < 2:
        return None
    host, port = str(address[0]), address[1]
    try:
        if ipaddress.ip_address(host.split("%", 1)[0]).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


def _chain(ssl_object: Any) -> tuple[bytes, ...]:
    """The verified chain's certificates as DER, server first (or the server's alone)."""
    for holder in (ssl_object, getattr(ssl_object, "_sslobj", None)):
        verified = getattr(holder, "get_verified_chain", None)
        if callable(verified):
            try:
                return tuple(bytes(cert.public_bytes(_DER)) for cert in verified())
            except (ValueError, TypeError, AttributeError):
                break
    try:
        leaf = ssl_object.getpeercert(binary_form=True)
    except (ValueError, AttributeError):
        return ()
    return (bytes(leaf),) if leaf else ()


def _tls(ssl_object: Any) -> dict[str, Any]:
    cipher = ssl_object.cipher()
    chain = _chain(ssl_object)
    return {
        "protocol": ssl_object.version(),
        "cipher": cipher[0] if cipher else None,
        "session_reused": bool(getattr(ssl_object, "session_reused", False)),
        "server_certificate": certificate_facts(chain[0]) if chain else None,
        "chain": [certificate_facts(der)["subject"] for der in chain[1:]],
    }


@functools.lru_cache(maxsize=64)
def certificate_facts(der: bytes) -> dict[str, Any]:
    """A TLS certificate for people: subject, issuer, validity, names, SHA-256 fingerprint
    (remembered: a trace meets the same few SMP servers again and again)."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names: Sequence[Any] = [
            *san.get_values_for_type(x509.DNSName),
            *(str(ip) for ip in san.get_values_for_type(x509.IPAddress)),
        ]
    except x509.ExtensionNotFound:
        names = []
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "names": list(names),
        "sha256_fingerprint": cert.fingerprint(hashes.SHA256()).hex(),
    }


def tls_failure(fault: BaseException) -> str | None:
    """Why the TLS handshake failed, if that is what ended a request: the certificate
    verification's own words (``IP address mismatch, certificate is not valid for
    '127.0.0.1'``) or the TLS error's; None when the fault was not a TLS one."""
    import ssl

    seen: set[int] = set()
    error: BaseException | None = fault
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ssl.SSLCertVerificationError):
            return str(error.verify_message or error.reason or error)
        if isinstance(error, ssl.SSLError | ssl.CertificateError):
            return str(getattr(error, "reason", None) or error)
        certificate_error = getattr(error, "certificate_error", None)  # aiohttp's wrapper
        if isinstance(certificate_error, BaseException):
            error = certificate_error
            continue
        error = error.__cause__ or error.__context__
    return None
