"""SMP clients over HTTPS (sync and async twins): one fetch-and-redirect flow, two thin shells.

The flow is written once, sans-I/O, as generators (:meth:`_Core.get_steps`,
:meth:`_Core.metadata_steps`, :meth:`_Core.group_steps`) that yield the HTTP requests they need
(:class:`peppolnet._http.Fetch`) and the pauses between retries, and receive the answers back;
:class:`SmpClient` and :class:`AsyncSmpClient` only perform them (:func:`peppolnet._http.run`,
:func:`peppolnet._http.arun`), with httpx's ``Client`` and ``AsyncClient`` - the async one on
aiohttp's transport (:mod:`peppolnet._aio`), for its CPU cost per request. Every limit is the
same on both paths because it is applied by :mod:`peppolnet._http`: a deadline for each whole
request, a maximum size counted on the decoded body, no HTTP redirects followed, the network's
destination policy. The flow hands the bytes to :func:`peppolnet.smp.trust.check_document`.

Status codes map to the error tree: 404 is an answer (:class:`SmpNotFound`), 5xx / timeouts /
resets / broken bodies are faults (:class:`SmpUnavailable`, retryable), anything else is
:class:`SmpError`. Faults are retried by the one retry policy (:mod:`peppolnet._retry`: ``retries``
after the first try, jittered exponential back-off from ``backoff``), within the retry budget of
a lookup around the call - a lookup's retries are counted once, whatever layer makes them.

``timeout`` bounds each request as a whole - connecting, the headers and the body together - so a
server trickling its answer a byte at a time cannot hold it; a caller that wants one deadline over
the retries and the redirect too runs the call in an :func:`peppolnet._http.scope`, as a lookup
does. Every URL is checked against the network's destination policy before it is fetched
(:mod:`peppolnet.destinations`), and our own clients check the address they connect to as well.

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
from datetime import datetime
from typing import TYPE_CHECKING, Final, TypedDict, Unpack

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from peppolnet import _http, _retry
from peppolnet._gate import Gate
from peppolnet._tls import context
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
from peppolnet.i18n import _
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
HEADERS: Final = {"User-Agent": USER_AGENT, "Accept": "application/xml, text/xml"}


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
            raise InvalidSmpDocument(_("the SMP answer is not a ServiceMetadata document"))
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
            _(
                "the SMP answered for {answered} although {asked} was asked for",
                answered=document.participant,
                asked=participant,
            )
        )
    if (
        document_type is not None
        and isinstance(document, ServiceMetadata)
        and document.document_type != document_type
    ):
        raise IdentifierMismatch(
            _(
                "the SMP answered for document type {answered} although {asked} was asked for",
                answered=document.document_type,
                asked=document_type,
            )
        )


class ClientOptions(TypedDict, total=False):
    """Options shared by :class:`SmpClient` and :class:`AsyncSmpClient` (all optional).

    ``timeout`` (s, default 10: each whole request), ``max_bytes`` (largest answer read,
    default 1 MB), ``retries`` (tries after the first, for faults only: connection errors,
    timeouts, 5xx, broken bodies; default 2) with jittered exponential ``backoff`` (s, default
    0.25) - or ``retry``, a :class:`peppolnet.lookup.RetryPolicy` for both -, ``dialect`` of the
    SMP's REST paths, ``clock`` for "now", and ``per_host``: at most this many requests in flight
    per SMP host.
    """

    timeout: float
    max_bytes: int
    retries: int
    backoff: float
    retry: _retry.RetryPolicy
    dialect: Dialect
    clock: Clock | None
    per_host: int | None


class _Core:
    """Configuration, the pure steps, and the flows both clients perform (sans-I/O)."""

    def __init__(self, network: Network, options: ClientOptions) -> None:
        self.network = network
        timeout = options.get("timeout", 10.0)
        #: seconds for one whole request (connect, headers and body)
        self.request_timeout = float(timeout)
        self.connect_timeout = min(self.request_timeout, 5.0)
        self.max_bytes = options.get("max_bytes", DEFAULT_MAX_BYTES)
        self.retry = options.get("retry") or _retry.RetryPolicy.of_retries(
            options.get("retries", 2), options.get("backoff", 0.25)
        )
        self.dialect = options.get("dialect", Dialect.PEPPOL_SMP_1)
        self.clock: Clock = as_clock(options.get("clock"))
        self.per_host = options.get("per_host")
        self._allowed: set[str] = set()  # origins check_url has allowed

    @property
    def retries(self) -> int:
        """Tries after the first (the policy's)."""
        return self.retry.retries

    def request_scope(self) -> contextlib.AbstractContextManager[None]:
        """One request's limits: its deadline (within any around it) and the network's policy."""
        return _http.scope(seconds=self.request_timeout, destinations=self.network.destinations)

    @staticmethod
    def host_of(url: str) -> str:
        """``scheme://host:port`` of ``url``: the unit of per-host concurrency."""
        found = _HOSTS.get(_origin(url))
        if found is None:
            # urlsplit, not httpx.URL: httpx validates every character of the (long,
            # percent-encoded) URL in Python
            parts = urllib.parse.urlsplit(url)
            found = f"{parts.scheme}://{parts.netloc}".lower()
            if len(_HOSTS) < _REMEMBERED:
                _HOSTS[_origin(url)] = found
        return found

    def check_url(self, url: str) -> None:
        """Refuse ``url`` unless the network's policy allows its scheme and host. What decides is
        all in the URL's origin, so an origin that passed is remembered: a bulk run asks about
        the same few SMPs thousands of times (the check cost ~10% of an async GET's CPU)."""
        origin = _origin(url)
        if origin in self._allowed:
            return
        self.network.destinations.check_url(url, _("the SMP URL"))
        if self.network.require_https and not url.lower().startswith("https://"):
            raise SmpError(
                _(
                    "the SMP URL {url} is not https, which the {network} network requires",
                    url=url,
                    network=self.network.name,
                )
            )
        if len(self._allowed) < _REMEMBERED:
            self._allowed.add(origin)

    # --- the flows (generators of requests; see peppolnet._http.run) -----------------------

    def get_steps(self, url: str) -> _http.Steps[bytes]:
        """GET ``url``: the body of a 200 answer. Faults are retried as the policy allows and
        the budget around (a lookup's) still does, never past the deadline; answers never."""
        self.check_url(url)
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = yield _http.Fetch(url, self.max_bytes)
                return self.interpret(url, answer)
            except _http.HttpFault as fault:
                error: SmpError | SmpUnavailable = _fault(url, fault)
                reason = fault.kind
            except SmpUnavailable as unavailable:
                error, reason = unavailable, f"HTTP {answer.status}"
            pause = None
            if error.retryable:
                pause = _http.retry_pause(self.retry, attempt, url, reason)
            if pause is None:
                raise error
            yield _http.Pause(pause)

    def group_steps(self, smp_url: str, participant: ParticipantId) -> _http.Steps[CheckedDocument]:
        """The ServiceGroup (the list of document types) of ``participant``, checked."""
        url = service_group_url(smp_url, participant, dialect=self.dialect)
        return self.service_group_from((yield from self.get_steps(url)), participant)

    def metadata_steps(
        self,
        smp_url: str,
        participant: ParticipantId,
        document_type: DocumentTypeId,
        at: datetime | None,
    ) -> _http.Steps[MetadataAnswer]:
        """The ServiceMetadata, verified and checked, following at most one Redirect."""
        started = time.perf_counter()
        url = service_metadata_url(smp_url, participant, document_type, dialect=self.dialect)
        checked = self.checked((yield from self.get_steps(url)), at)
        _, redirect = self.metadata_step(checked, hop=0)
        if redirect is None or not checked.trusted:
            return MetadataAnswer(url, checked, elapsed=time.perf_counter() - started)
        target = self.checked((yield from self.get_steps(redirect.target_url)), at)
        self.metadata_step(target, hop=1)
        self.check_redirect_target(redirect, target)
        return MetadataAnswer(
            redirect.target_url,
            target,
            redirect=checked,
            redirect_url=url,
            elapsed=time.perf_counter() - started,
        )

    # --- pure steps ------------------------------------------------------------------------

    def interpret(self, url: str, answer: _http.Answer) -> bytes:
        status = answer.status
        if status == 404:
            raise SmpNotFound(_("the SMP has no such entry ({url} answered 404)", url=url))
        if status >= 500:
            raise SmpUnavailable(
                _("the SMP answered HTTP {status} for {url}", status=status, url=url)
            )
        if status != 200:
            raise SmpError(_("the SMP answered HTTP {status} for {url}", status=status, url=url))
        if answer.truncated:
            declared = answer.declared
            if declared is not None and declared > self.max_bytes:
                raise InvalidSmpDocument(
                    _(
                        "the SMP answer is {declared} bytes; at most {max_bytes} are read",
                        declared=declared,
                        max_bytes=self.max_bytes,
                    )
                )
            raise InvalidSmpDocument(
                _(
                    "the SMP answer exceeds {max_bytes} bytes; it was not read",
                    max_bytes=self.max_bytes,
                )
            )
        return answer.body

    def service_group_from(self, body: bytes, participant: ParticipantId) -> CheckedDocument:
        """Parse a ServiceGroup answer (unsigned in Peppol SMP 1) and check the echo."""
        checked = check_document(
            body, self.network, at=self.clock.now(), max_bytes=self.max_bytes, verify=False
        )
        if not isinstance(checked.document, ServiceGroup):
            raise InvalidSmpDocument(_("the SMP did not answer with a ServiceGroup document"))
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
                    _("the SMP redirected a second time; only one redirect is allowed")
                )
            return None, document
        raise InvalidSmpDocument(
            _("the SMP answered with a ServiceGroup where a ServiceMetadata was expected")
        )

    def check_redirect_target(self, redirect: Redirect, target: CheckedDocument) -> None:
        signer = target.signature.signer
        signed_by = target.signer_certificate
        if redirect.certificate is not None:
            # OASIS SMP 2 names the target SMP by its whole certificate, not a subject string.
            if signed_by is None or signed_by.public_bytes(Encoding.DER) != redirect.certificate:
                raise RedirectError(
                    _(
                        "the redirect target {target_url} is not signed with the certificate the "
                        "redirect names",
                        target_url=redirect.target_url,
                    )
                )
            return
        if signer is None or signed_by is None:
            raise RedirectError(
                _(
                    "the redirect target {target_url} is not signed, so its SMP cannot be matched "
                    "against the redirect's CertificateUID",
                    target_url=redirect.target_url,
                )
            )
        if not subject_matches_uid(signed_by.subject, redirect.certificate_uid):
            raise RedirectError(
                _(
                    "the redirect target is signed by {subject}, not by {certificate_uid} as the "
                    "redirect said",
                    subject=signer.subject,
                    certificate_uid=repr(redirect.certificate_uid),
                )
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
        return _http.run(self.get_steps(url), self._perform)

    def service_group(self, smp_url: str, participant: ParticipantId) -> CheckedDocument:
        """Fetch and check the ServiceGroup (the list of document types) of ``participant``."""
        return _http.run(self.group_steps(smp_url, participant), self._perform)

    def service_metadata(
        self,
        smp_url: str,
        participant: ParticipantId,
        document_type: DocumentTypeId,
        *,
        at: datetime | None = None,
    ) -> MetadataAnswer:
        """Fetch, verify and check the ServiceMetadata, following at most one Redirect."""
        steps = self.metadata_steps(smp_url, participant, document_type, at)
        return _http.run(steps, self._perform)

    def _perform(self, request: _http.Fetch) -> _http.Answer:
        with self._limit(request.url), self.request_scope():
            return _http.fetch(self._http(request.url), request)

    def _limit(self, url: str) -> contextlib.AbstractContextManager[object]:
        if not self.per_host:
            return contextlib.nullcontext()
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
                    pool = self._pools[host] = _http.client(
                        context(self.network.tls_verify),
                        timeout=self.request_timeout,
                        connect=self.connect_timeout,
                        headers=HEADERS,
                    )
        return pool


class AsyncSmpClient(_Core):
    """The asynchronous twin of :class:`SmpClient` (same names, same results).

    Requests go over ``httpx.AsyncClient`` on aiohttp's transport (:mod:`peppolnet._aio`: a
    fraction of httpcore's CPU per request, which is what bounds a bulk run); pass your own
    ``httpx.AsyncClient`` as ``client`` to use it instead (it is not closed by us).
    """

    def __init__(
        self,
        network: Network,
        *,
        client: httpx.AsyncClient | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(network, options)
        self._transport: httpx.AsyncBaseTransport | None = None
        if client is None:
            verify = context(network.tls_verify)
            self._transport = _http.async_transport(verify)
            client = _http.async_client(
                verify,
                timeout=self.request_timeout,
                connect=self.connect_timeout,
                headers=HEADERS,
                transport=self._transport,
            )
        self._client = client
        # per event loop (a gate's waiters are futures of the loop they wait on): one client
        # may serve one asyncio.run after another, or loops in several threads
        self._host_limits: dict[asyncio.AbstractEventLoop, dict[str, Gate]] = {}
        self._loops_lock = threading.Lock()

    async def aclose(self) -> None:
        """Close the running loop's connections if we opened them (a caller's ``client`` stays
        open). The client stays usable: a later request, on this loop or another, opens new ones.
        """
        if self._transport is not None:
            await self._transport.aclose()

    async def __aenter__(self) -> AsyncSmpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def fetch(self, url: str) -> bytes:
        """GET ``url`` with the size limit and retries; returns the body of a 200 answer."""
        return await _http.arun(self.get_steps(url), self._perform)

    async def service_group(self, smp_url: str, participant: ParticipantId) -> CheckedDocument:
        """Fetch and check the ServiceGroup (the list of document types) of ``participant``."""
        return await _http.arun(self.group_steps(smp_url, participant), self._perform)

    async def service_metadata(
        self,
        smp_url: str,
        participant: ParticipantId,
        document_type: DocumentTypeId,
        *,
        at: datetime | None = None,
    ) -> MetadataAnswer:
        """Fetch, verify and check the ServiceMetadata, following at most one Redirect."""
        steps = self.metadata_steps(smp_url, participant, document_type, at)
        return await _http.arun(steps, self._perform)

    async def _perform(self, request: _http.Fetch) -> _http.Answer:
        limit = self._limit(request.url)
        if limit is None:
            with self.request_scope():
                return await _http.afetch(self._client, request)
        if not limit.take():
            await _turn(limit)
        try:
            with self.request_scope():
                return await _http.afetch(self._client, request)
        finally:
            limit.release()

    def _limit(self, url: str) -> Gate | None:
        """The running loop's gate for ``url``'s host (None without ``per_host``)."""
        if not self.per_host:
            return None
        loop = asyncio.get_running_loop()
        limits = self._host_limits.get(loop)
        if limits is None:
            limits = self._loop_limits(loop)
        host = self.host_of(url)
        limit = limits.get(host)
        if limit is None:
            limit = limits[host] = Gate(self.per_host)
        return limit

    def _loop_limits(self, loop: asyncio.AbstractEventLoop) -> dict[str, Gate]:
        """A new loop's gates; those of loops that have closed are dropped (nothing can
        wait on them any more)."""
        with self._loops_lock:
            for closed in [other for other in self._host_limits if other.is_closed()]:
                del self._host_limits[closed]
            return self._host_limits.setdefault(loop, {})


async def _turn(limit: Gate) -> None:
    """Wait for a turn at an SMP host, no longer than the deadline around (a lookup's): the one
    wait of a request that :func:`peppolnet._http.afetch`'s own deadline does not cover - so a
    lookup needs no timer of its own around its SMP requests. (A turn that is free is taken
    by the caller, ``Gate.take``, without this coroutine or a timer.)"""
    try:
        async with asyncio.timeout(_http.left()):
            await limit.acquire()
    except TimeoutError:
        raise _http.HttpFault("timeout", _("no turn at the SMP host before the deadline")) from None


_REMEMBERED: Final = 4096  # origins remembered (an SMP each; a bulk run meets hundreds)
_HOSTS: dict[str, str] = {}


def _origin(url: str) -> str:
    """A prefix of ``url`` that holds its whole scheme and authority (up to the first ``/``
    after ``scheme://``, or all of it): URLs with the same prefix have the same origin."""
    end = url.find("/", url.find("//") + 2)
    return url if end < 0 else url[:end]


def _fault(url: str, fault: _http.HttpFault) -> SmpError | SmpUnavailable:
    """What an HTTP fault means for an SMP request: a retryable :class:`SmpUnavailable` for what a
    retry can mend, an :class:`SmpError` for an answer that cannot be read or a URL that cannot
    be requested."""
    if fault.kind == "timeout":
        return SmpUnavailable(_("the SMP at {url} did not answer in time", url=url))
    if fault.kind == "connect":
        return SmpUnavailable(
            _("cannot connect to the SMP at {url}: {detail}", url=url, detail=fault.detail)
        )
    if fault.kind == "broken":
        return SmpUnavailable(
            _(
                "the SMP at {url} closed the connection or sent a broken answer: {detail}",
                url=url,
                detail=fault.detail,
            )
        )
    if fault.kind == "unreadable":
        return SmpError(
            _(
                "the SMP at {url} sent an answer that cannot be read: {detail}",
                url=url,
                detail=fault.detail,
            )
        )
    return SmpError(
        _("the SMP URL {url} cannot be requested: {detail}", url=url[:120], detail=fault.detail)
    )
