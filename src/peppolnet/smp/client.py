"""SMP clients over HTTPS (httpx sync, aiohttp async), twins sharing one pure core.

The shells only move bytes: build the URL, GET it with limits (a deadline for each whole request,
a maximum size, bounded retries with backoff for connection errors and 5xx only, the network's
destination policy), and hand the bytes to
:func:`peppolnet.smp.trust.check_document`. Status codes map to the error tree: 404 is an answer
(:class:`SmpNotFound`), 5xx / timeouts / resets / truncated bodies are faults
(:class:`SmpUnavailable`, retryable), anything else is :class:`SmpError`.

``timeout`` bounds each request as a whole - connecting, the headers and the body together - so a
server trickling its answer a byte at a time cannot hold it (see :mod:`peppolnet._http`); a caller
that wants one deadline over the retries and the redirect too runs the call in an
:func:`peppolnet._http.scope`, as a lookup does. Every URL is checked against the network's
destination policy before it is fetched (:mod:`peppolnet.destinations`), and our own clients
check the address they connect to as well.

A ``Redirect`` is followed exactly once, and the target's signer must match the redirect's
``CertificateUID`` (compared as X.500 names are, RFC 4517 ``distinguishedNameMatch``: see
:func:`subject_matches_uid`); a second redirect is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Final, TypedDict, Unpack

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from peppolnet import _http
from peppolnet._httpbody import ACCEPT_ENCODING, BoundedBody, BrokenBody, UnsupportedEncoding
from peppolnet._tls import ssl_context, verify_argument
from peppolnet._version import __version__
from peppolnet.clock import Clock, as_clock
from peppolnet.errors import (
    CertificateError,
    IdentifierMismatch,
    InvalidSmpDocument,
    RedirectError,
    SmpError,
    SmpNotFound,
    SmpUnavailable,
)
from peppolnet.identifiers import DocumentTypeId, ParticipantId
from peppolnet.smp.model import Dialect, Redirect, ServiceGroup, ServiceMetadata
from peppolnet.smp.trust import CheckedDocument, check_document
from peppolnet.smp.urls import service_group_url, service_metadata_url
from peppolnet.x500 import names_match, parse_name

if TYPE_CHECKING:
    from peppolnet.network import Network

__all__ = [
    "DEFAULT_MAX_BYTES",
    "AsyncSmpClient",
    "ClientOptions",
    "MetadataAnswer",
    "SmpClient",
    "check_echo",
    "subject_matches_uid",
]

DEFAULT_MAX_BYTES: Final = 1_000_000
USER_AGENT: Final = f"peppolnet/{__version__} (+https://pypi.org/project/peppolnet/)"
_RETRY_STATUSES: Final = frozenset({500, 502, 503, 504})
HEADERS: Final = {
    "User-Agent": USER_AGENT,
    "Accept": "application/xml, text/xml",
    "Accept-Encoding": ACCEPT_ENCODING,
}
# per request too, so that a caller's own httpx client asks only for what _Body can decode
_ENCODINGS: Final = {"Accept-Encoding": ACCEPT_ENCODING}


@dataclasses.dataclass(frozen=True)
class MetadataAnswer:
    """A ServiceMetadata answer: what was fetched, where, and the redirect hop if there was one."""

    url: str
    checked: CheckedDocument
    redirect: CheckedDocument | None = None
    redirect_url: str | None = None
    elapsed: float = 0.0

    @property
    def metadata(self) -> ServiceMetadata:
        """The ServiceMetadata (after the redirect, if any)."""
        document = self.checked.document
        if not isinstance(document, ServiceMetadata):  # pragma: no cover - guarded by the client
            raise InvalidSmpDocument("the SMP answer is not a ServiceMetadata document")
        return document


def subject_matches_uid(subject: x509.Name | str, certificate_uid: str | None) -> bool:
    """Whether a certificate subject is the name a Redirect's ``CertificateUID`` gives.

    Real SMPs put the subject DN string in CertificateUID (``C=NO,O=...,CN=PNO000179``), spelled
    as they like; the UID is parsed as RFC 4514 and the names compared as X.500 names are
    (RFC 4517 ``distinguishedNameMatch``, see :mod:`peppolnet.x500`): attribute types and values
    case-insensitively, insignificant spaces folded, ``\\,`` and ``\\2C`` alike, the RDNs in
    either order. A UID that is missing or no distinguished name matches nothing.
    """
    if not certificate_uid:
        return False
    try:
        wanted = parse_name(certificate_uid)
        have = subject if isinstance(subject, x509.Name) else parse_name(subject)
    except CertificateError:
        return False
    return names_match(have, wanted)


def check_echo(
    document: ServiceGroup | ServiceMetadata,
    participant: ParticipantId,
    document_type: DocumentTypeId | None = None,
) -> None:
    """Raise :class:`IdentifierMismatch` unless the SMP echoed what was asked (case rules apply)."""
    if document.participant != participant:
        raise IdentifierMismatch(
            f"the SMP answered for {document.participant} although {participant} was asked for"
        )
    if (
        document_type is not None
        and isinstance(document, ServiceMetadata)
        and document.document_type != document_type
    ):
        raise IdentifierMismatch(
            f"the SMP answered for document type {document.document_type} although "
            f"{document_type} was asked for"
        )


class ClientOptions(TypedDict, total=False):
    """Options shared by :class:`SmpClient` and :class:`AsyncSmpClient` (all optional).

    ``timeout`` (s, default 10: each whole request), ``max_bytes`` (largest answer read,
    default 1 MB), ``retries`` (for connection errors and 5xx only, default 2) with exponential
    ``backoff`` (s, default 0.25), ``dialect`` of the SMP's REST paths, ``clock`` for "now",
    and ``per_host``: at most
    this many requests in flight per SMP host.
    """

    timeout: float
    max_bytes: int
    retries: int
    backoff: float
    dialect: Dialect
    clock: Clock | None
    per_host: int | None


class _Body:
    """Collects a streamed answer from its raw chunks, refusing it as soon as it is larger than
    allowed - counted on the decoded bytes, decoded with a bound (see :mod:`peppolnet._httpbody`:
    httpx's own decoding let a compression bomb through)."""

    def __init__(self, url: str, max_bytes: int, headers: httpx.Headers) -> None:
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise InvalidSmpDocument(
                f"the SMP answer is {declared} bytes; at most {max_bytes} are read"
            )
        self.url = url
        try:
            self.body = BoundedBody(max_bytes, headers.get("content-encoding"))
        except UnsupportedEncoding as exc:
            raise SmpError(f"the SMP at {url} sent an answer that cannot be read: {exc}") from None

    def add(self, chunk: bytes) -> None:
        try:
            within = self.body.add(chunk)
        except BrokenBody as exc:
            raise SmpUnavailable(f"the SMP at {self.url} sent a broken answer: {exc}") from None
        if not within:
            raise InvalidSmpDocument(
                f"the SMP answer exceeds {self.body.limit} bytes; it was not read"
            )

    def value(self) -> bytes:
        try:
            self.body.finish()
        except BrokenBody as exc:
            raise SmpUnavailable(f"the SMP at {self.url} sent a broken answer: {exc}") from None
        if self.body.truncated:
            raise InvalidSmpDocument(
                f"the SMP answer exceeds {self.body.limit} bytes; it was not read"
            )
        return self.body.value()


class _Core:
    """Configuration and the pure steps shared by the sync and async clients."""

    def __init__(self, network: Network, options: ClientOptions) -> None:
        self.network = network
        timeout = options.get("timeout", 10.0)
        #: seconds for one whole request (connect, headers and body)
        self.request_timeout = float(timeout)
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self.max_bytes = options.get("max_bytes", DEFAULT_MAX_BYTES)
        self.retries = options.get("retries", 2)
        self.backoff = options.get("backoff", 0.25)
        self.dialect = options.get("dialect", Dialect.PEPPOL_SMP_1)
        self.clock: Clock = as_clock(options.get("clock"))
        self.per_host = options.get("per_host")

    def client_kwargs(self) -> dict[str, object]:
        # our transport: whole-request deadlines and the destination policy at the socket
        transport = _http.Transport(
            verify=verify_argument(self.network.tls_verify),
            # keep every connection alive: a new TLS handshake costs more CPU than the lookup
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=512),
        )
        return {
            "timeout": self.timeout,
            "headers": HEADERS,
            "follow_redirects": False,
            "transport": transport,
        }

    def request_scope(self) -> contextlib.AbstractContextManager[None]:
        """One request's limits: its deadline (within any around it) and the network's policy."""
        return _http.scope(seconds=self.request_timeout, destinations=self.network.destinations)

    def pause(self, attempt: int) -> float | None:
        """The back-off before retry ``attempt``, or None when the deadline leaves no time for
        it and another try."""
        wait = self.backoff * (2 ** (attempt - 1))
        left = _http.left()
        return wait if left is None or left > wait else None

    @staticmethod
    def host_of(url: str) -> str:
        """``scheme://host:port`` of ``url``: the unit of per-host concurrency."""
        # urlsplit, not httpx.URL: httpx validates every character of the (long, percent-encoded)
        # URL in Python, which cost ~0.2 ms per call - a tenth of a whole lookup's CPU.
        parts = urllib.parse.urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    def check_url(self, url: str) -> None:
        self.network.destinations.check_url(url, "the SMP URL")
        if self.network.require_https and not url.lower().startswith("https://"):
            raise SmpError(
                f"the SMP URL {url} is not https, which the {self.network.name} network requires"
            )

    def interpret(self, url: str, status: int, body: bytes) -> bytes:
        if status == 200:
            return body
        if status == 404:
            raise SmpNotFound(f"the SMP has no such entry ({url} answered 404)")
        if status in _RETRY_STATUSES or status >= 500:
            raise SmpUnavailable(f"the SMP answered HTTP {status} for {url}")
        raise SmpError(f"the SMP answered HTTP {status} for {url}")

    def service_group_from(self, body: bytes, participant: ParticipantId) -> CheckedDocument:
        """Parse a ServiceGroup answer (unsigned in Peppol SMP 1) and check the echo."""
        checked = check_document(
            body, self.network, at=self.clock.now(), max_bytes=self.max_bytes, verify=False
        )
        if not isinstance(checked.document, ServiceGroup):
            raise InvalidSmpDocument("the SMP did not answer with a ServiceGroup document")
        check_echo(checked.document, participant)
        return checked

    def checked(self, body: bytes, at: datetime | None) -> CheckedDocument:
        return check_document(
            body, self.network, at=at or self.clock.now(), max_bytes=self.max_bytes
        )

    def metadata_step(
        self, checked: CheckedDocument, hop: int
    ) -> tuple[ServiceMetadata | None, Redirect | None]:
        document = checked.document
        if isinstance(document, ServiceMetadata):
            return document, None
        if isinstance(document, Redirect):
            if hop > 0:
                raise RedirectError(
                    "the SMP redirected a second time; only one redirect is allowed"
                )
            return None, document
        raise InvalidSmpDocument(
            "the SMP answered with a ServiceGroup where a ServiceMetadata was expected"
        )

    def check_redirect_target(self, redirect: Redirect, target: CheckedDocument) -> None:
        signer = target.signature.signer
        signed_by = target.signer_certificate
        if redirect.certificate is not None:
            # OASIS SMP 2 names the target SMP by its whole certificate, not a subject string.
            if signed_by is None or signed_by.public_bytes(Encoding.DER) != redirect.certificate:
                raise RedirectError(
                    f"the redirect target {redirect.target_url} is not signed with the "
                    "certificate the redirect names"
                )
            return
        if signer is None or signed_by is None:
            raise RedirectError(
                f"the redirect target {redirect.target_url} is not signed, so its SMP cannot be "
                "matched against the redirect's CertificateUID"
            )
        if not subject_matches_uid(signed_by.subject, redirect.certificate_uid):
            raise RedirectError(
                f"the redirect target is signed by {signer.subject}, not by "
                f"{redirect.certificate_uid!r} as the redirect said"
            )


class SmpClient(_Core):
    """A synchronous SMP client. Thread-safe; share one across threads for bulk work.

    Pass your own ``httpx.Client`` to control proxies and pooling; it is not closed by us.
    """

    def __init__(
        self,
        network: Network,
        *,
        client: httpx.Client | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(network, options)
        self._client = client
        # Without a client of the caller's, one connection pool per SMP host: httpcore's pool
        # does work linear in its connections on every request, so one pool for all hosts
        # costs more CPU the more SMPs a bulk run meets.
        self._pools: dict[str, httpx.Client] = {}
        self._pools_lock = threading.Lock()
        self._host_limits: dict[str, threading.BoundedSemaphore] = {}
        self._limits_lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP connection pool if we created it."""
        with self._pools_lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    def __enter__(self) -> SmpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str) -> bytes:
        """GET ``url`` with the size limit and retries; returns the body of a 200 answer."""
        self.check_url(url)
        attempt = 0
        while True:
            try:
                status, body = self._get_once(url)
                return self.interpret(url, status, body)
            except SmpUnavailable:
                pause = self.pause(attempt + 1)
                if attempt >= self.retries or pause is None:
                    raise
            attempt += 1
            time.sleep(pause)

    def _limit(self, url: str) -> threading.BoundedSemaphore | None:
        if not self.per_host:
            return None
        host = self.host_of(url)
        with self._limits_lock:
            limit = self._host_limits.get(host)
            if limit is None:
                limit = self._host_limits[host] = threading.BoundedSemaphore(self.per_host)
        return limit

    def _http(self, url: str) -> httpx.Client:
        if self._client is not None:
            return self._client
        host = self.host_of(url)
        pool = self._pools.get(host)
        if pool is None:
            with self._pools_lock:
                pool = self._pools.get(host)
                if pool is None:
                    pool = httpx.Client(**self.client_kwargs())  # type: ignore[arg-type]
                    self._pools[host] = pool
        return pool

    def _stream(self, url: str) -> contextlib.AbstractContextManager[httpx.Response]:
        client = self._http(url)
        return client.stream("GET", url, headers=_ENCODINGS, timeout=_http.timeouts(client))

    def _get_once(self, url: str) -> tuple[int, bytes]:
        limit = self._limit(url)
        if limit is None:
            return self._get_unlimited(url)
        with limit:
            return self._get_unlimited(url)

    def _get_unlimited(self, url: str) -> tuple[int, bytes]:
        try:
            with (
                self.request_scope(),
                self._stream(url) as response,
            ):
                body = _Body(url, self.max_bytes, response.headers)
                for chunk in _http.bounded(response.iter_raw(), _too_slow(url)):
                    body.add(chunk)
                return response.status_code, body.value()
        except httpx.HTTPError as exc:
            raise _fault(url, exc) from exc
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
            raise SmpError(f"the SMP URL {url[:120]} cannot be requested: {exc}") from exc

    def service_group(self, smp_url: str, participant: ParticipantId) -> CheckedDocument:
        """Fetch and check the ServiceGroup (the list of document types) of ``participant``."""
        url = service_group_url(smp_url, participant, dialect=self.dialect)
        return self.service_group_from(self.fetch(url), participant)

    def service_metadata(
        self,
        smp_url: str,
        participant: ParticipantId,
        document_type: DocumentTypeId,
        *,
        at: datetime | None = None,
    ) -> MetadataAnswer:
        """Fetch, verify and check the ServiceMetadata, following at most one Redirect."""
        started = time.perf_counter()
        url = service_metadata_url(smp_url, participant, document_type, dialect=self.dialect)
        checked = self.checked(self.fetch(url), at)
        _, redirect = self.metadata_step(checked, hop=0)
        if redirect is None or not checked.trusted:
            return MetadataAnswer(url, checked, elapsed=time.perf_counter() - started)
        target = self.checked(self.fetch(redirect.target_url), at)
        self.metadata_step(target, hop=1)
        self.check_redirect_target(redirect, target)
        return MetadataAnswer(
            redirect.target_url,
            target,
            redirect=checked,
            redirect_url=url,
            elapsed=time.perf_counter() - started,
        )


class AsyncSmpClient(_Core):
    """The asynchronous twin of :class:`SmpClient` (same names, same results).

    Requests go over aiohttp (:mod:`peppolnet.smp.aio`: ~5x less CPU per request than
    ``httpx.AsyncClient``, which is what bounds a bulk run); pass your own ``httpx.AsyncClient``
    as ``client`` to use it instead (it is not closed by us).
    """

    def __init__(
        self,
        network: Network,
        *,
        client: httpx.AsyncClient | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(network, options)
        # imported here: aiohttp takes ~80 ms to import, which sync users should not pay
        from peppolnet.smp.aio import AioTransport

        self._client = client
        self._transport = AioTransport(
            ssl_context=ssl_context(network.tls_verify),
            destinations=network.destinations,
            timeout=options.get("timeout", 10.0),
            connect_timeout=min(options.get("timeout", 10.0), 5.0),
            max_bytes=self.max_bytes,
            headers=HEADERS,
        )
        self._host_limits: dict[str, asyncio.Semaphore] = {}

    async def aclose(self) -> None:
        """Close the HTTP connections if we opened them (a caller's ``client`` stays open)."""
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncSmpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def fetch(self, url: str) -> bytes:
        """GET ``url`` with the size limit and retries; returns the body of a 200 answer."""
        self.check_url(url)
        attempt = 0
        while True:
            try:
                status, body = await self._get_once(url)
                return self.interpret(url, status, body)
            except SmpUnavailable:
                pause = self.pause(attempt + 1)
                if attempt >= self.retries or pause is None:
                    raise
            attempt += 1
            await asyncio.sleep(pause)

    async def _get_once(self, url: str) -> tuple[int, bytes]:
        if not self.per_host:
            return await self._get_unlimited(url)
        host = self.host_of(url)
        limit = self._host_limits.get(host)
        if limit is None:
            limit = self._host_limits[host] = asyncio.Semaphore(self.per_host)
        async with limit:
            return await self._get_unlimited(url)

    async def _get_unlimited(self, url: str) -> tuple[int, bytes]:
        with self.request_scope():
            if self._client is None:
                return await self._transport.get(url, _http.left())
            try:  # the caller's own httpx client (proxies, mounts, test transports)
                async with (
                    asyncio.timeout(_http.left()),
                    self._client.stream("GET", url, headers=_ENCODINGS) as response,
                ):
                    body = _Body(url, self.max_bytes, response.headers)
                    async for chunk in _http.abounded(response.aiter_raw(), _too_slow(url)):
                        body.add(chunk)
                    return response.status_code, body.value()
            except TimeoutError as exc:
                raise _too_slow(url)() from exc
            except httpx.HTTPError as exc:
                raise _fault(url, exc) from exc
            except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
                raise SmpError(f"the SMP URL {url[:120]} cannot be requested: {exc}") from exc

    async def service_group(self, smp_url: str, participant: ParticipantId) -> CheckedDocument:
        """Fetch and check the ServiceGroup (the list of document types) of ``participant``."""
        url = service_group_url(smp_url, participant, dialect=self.dialect)
        return self.service_group_from(await self.fetch(url), participant)

    async def service_metadata(
        self,
        smp_url: str,
        participant: ParticipantId,
        document_type: DocumentTypeId,
        *,
        at: datetime | None = None,
    ) -> MetadataAnswer:
        """Fetch, verify and check the ServiceMetadata, following at most one Redirect."""
        started = time.perf_counter()
        url = service_metadata_url(smp_url, participant, document_type, dialect=self.dialect)
        checked = self.checked(await self.fetch(url), at)
        _, redirect = self.metadata_step(checked, hop=0)
        if redirect is None or not checked.trusted:
            return MetadataAnswer(url, checked, elapsed=time.perf_counter() - started)
        target = self.checked(await self.fetch(redirect.target_url), at)
        self.metadata_step(target, hop=1)
        self.check_redirect_target(redirect, target)
        return MetadataAnswer(
            redirect.target_url,
            target,
            redirect=checked,
            redirect_url=url,
            elapsed=time.perf_counter() - started,
        )


def _too_slow(url: str) -> Callable[[], SmpUnavailable]:
    return lambda: SmpUnavailable(f"the SMP at {url} did not answer in time")


def _fault(url: str, exc: httpx.HTTPError) -> SmpUnavailable:
    """Translate an httpx failure into the fault the caller can act on."""
    if isinstance(exc, httpx.TimeoutException):
        return SmpUnavailable(f"the SMP at {url} did not answer in time")
    if isinstance(exc, httpx.RemoteProtocolError):
        return SmpUnavailable(f"the SMP at {url} closed the connection or sent a broken answer")
    if isinstance(exc, httpx.ConnectError):
        return SmpUnavailable(f"cannot connect to the SMP at {url}: {exc}")
    return SmpUnavailable(f"the SMP at {url} could not be reached: {exc}")
