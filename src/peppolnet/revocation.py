"""Revocation from CRLs: is this SMP or access point certificate still good?

Why CRL and not OCSP first: the Peppol CAs publish both (FACTS.md §4.3), but a CRL is one file
per CA that serves every certificate it issued - a bulk run of 100,000 lookups across a few
hundred operators needs two downloads (SMP CA, AP CA) per refresh, where OCSP needs one request
per certificate to a responder that peppol-commons found unreliable enough to switch its own
default from OCSP to CRL. A CRL is also signed by the very CA the chain check already trusts, so
no extra trust (responder certificates, nonces) comes in.

What is believed: a CRL only when its signature verifies with the issuing CA's key and its issuer
name is that CA's subject; it is kept until its ``next_update`` (capped by ``max_age``) and then
fetched again. A CRL whose ``next_update`` passed more than ``grace`` seconds ago says nothing
about today, so it gives ``unknown``. Every fault - no distribution point, a timeout, an HTTP
error, a body too large, an unreadable or wrongly signed CRL - gives ``unknown`` with a sentence
saying which; nothing but a listed serial with a revocation date at or before the lookup time
gives ``revoked``.

Concurrency: the cache is keyed by URL and shared by every thread and event loop; one fetch per
URL runs at a time and everybody else asking for that URL waits for it (a bulk run asking about
the same CA 32 times at once makes one download). Waiting costs no thread in the async path: the
waiters await the in-flight download's future, and the one download runs in a worker thread, so
an event loop never blocks on a CRL. Memory is bounded by ``max_entries`` CRLs of at most
``max_bytes`` each.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx
from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from peppolnet.pki import RevocationAnswer, RevocationStatus

__all__ = ["DEFAULT_MAX_BYTES", "CrlChecker", "crl_urls", "judge_crl", "read_crl"]

#: Largest CRL accepted (decoded bytes). The G3 CRLs are a few kB; 10 MB leaves room for a CA
#: that revokes a lot, and bounds what a hostile or broken server can make us hold.
DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
#: A CRL whose thisUpdate is this far in the future is refused (clock skew allowance).
_FUTURE_SKEW = timedelta(minutes=5)
#: At most this many distribution points of one certificate are tried.
_MAX_URLS = 4
_REDIRECTS = (301, 302, 303, 307, 308)
# Extensions of a CRL that a full, direct CRL may carry critically and that we understand.
_UNDERSTOOD_CRITICAL = {ExtensionOID.ISSUING_DISTRIBUTION_POINT}


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


@functools.lru_cache(maxsize=64)
def _ca_name(issuer: x509.Certificate) -> str:
    names = issuer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else issuer.subject.rfc4514_string()
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


@functools.lru_cache(maxsize=1024)
def crl_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The http(s) CRL distribution points of ``cert``, in the order the certificate lists them.

    Distribution points that only cover some revocation reasons or name another CRL issuer
    (indirect CRLs) are left out: such a CRL cannot say "good" for every reason on its own.
    Memoised per certificate (a bulk run asks about the same few certificates again and again).
    """
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except (x509.ExtensionNotFound, ValueError):
        return ()
    urls: list[str] = []
    for point in points:
        if point.reasons is not None or point.crl_issuer is not None or not point.full_name:
            continue
        for name in point.full_name:
            if not isinstance(name, x509.UniformResourceIdentifier):
                continue
            url = name.value.strip()
            if urlsplit(url).scheme.lower() in ("http", "https") and url not in urls:
                urls.append(url)
    return tuple(urls[:_MAX_URLS])


def read_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL from DER or PEM bytes; ``ValueError`` naming the problem otherwise."""
    if b"-----BEGIN X509 CRL-----" in data[:1024]:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def _structure_problem(crl: x509.CertificateRevocationList) -> str | None:
    """Why this CRL cannot answer for a leaf certificate on its own, or None if it can."""
    try:
        extensions = crl.extensions
    except ValueError as exc:
        return f"has an unreadable extension: {exc}"
    for extension in extensions:
        if extension.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            return "is a delta CRL, not a full one"
        if extension.critical and extension.oid not in _UNDERSTOOD_CRITICAL:
            oid = extension.oid.dotted_string
            return f"has a critical extension peppolnet does not understand: {oid}"
        value = extension.value
        if isinstance(value, x509.IssuingDistributionPoint) and (
            value.indirect_crl
            or value.only_some_reasons is not None
            or value.only_contains_ca_certs
            or value.only_contains_attribute_certs
        ):
            return "covers only part of the CA's certificates, by its issuing distribution point"
    return None


def _issuer_problem(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> str | None:
    """Why ``crl`` is not ``issuer``'s own signed CRL, or None when it is."""
    if crl.issuer != issuer.subject:
        return f"is issued by {crl.issuer.rfc4514_string()}, not by {_ca_name(issuer)}"
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.crl_sign:
        return f"cannot be trusted: {_ca_name(issuer)} may not sign CRLs, it lacks cRLSign"
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        valid = False
    if not valid:
        return f"is not signed by {_ca_name(issuer)}: the signature does not verify"
    return None


@dataclasses.dataclass(frozen=True)
class _Listing:
    """What a CRL says, read once: dates, structure problem, and its serials as a dict.

    Why a dict: ``get_revoked_certificate_by_serial_number`` walks the list on every call, and a
    CA's CRL can hold thousands of entries; a bulk run asks about the same CRL again and again.
    """

    this_update: datetime
    next_update: datetime | None
    problem: str | None
    revoked: dict[int, tuple[datetime, str | None]]

    @classmethod
    def read(cls, crl: x509.CertificateRevocationList) -> _Listing:
        """Read every field an answer needs; ``ValueError`` if the CRL is damaged."""
        _ = crl.issuer  # parsed lazily: fail here, not later
        revoked: dict[int, tuple[datetime, str | None]] = {}
        for entry in crl:
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            except x509.ExtensionNotFound:
                reason = None
            name = None if reason in (None, x509.ReasonFlags.unspecified) else reason.name
            revoked[entry.serial_number] = (entry.revocation_date_utc, name)
        return cls(crl.last_update_utc, crl.next_update_utc, _structure_problem(crl), revoked)


def judge_crl(
    crl: x509.CertificateRevocationList,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    at: datetime,
    *,
    now: datetime,
    grace: timedelta = timedelta(hours=1),
    source: str = "the CRL",
) -> RevocationAnswer:
    """What ``crl`` says about ``cert`` at ``at`` (pure; ``now`` judges the CRL's freshness).

    ``revoked`` only when the CRL is ``issuer``'s, verifies, is current and lists the serial with
    a revocation date at or before ``at``; ``unknown`` when the CRL cannot be believed.
    """
    try:
        listing = _Listing.read(crl)
        problem = listing.problem or _issuer_problem(crl, issuer)
    except ValueError as exc:  # cryptography reads a CRL lazily: damage shows up on access
        return _unreadable(source, exc)
    if problem is not None:
        return RevocationAnswer(RevocationStatus.UNKNOWN, f"{source} {problem}")
    return _judge_listing(listing, cert, issuer, at, now=now, grace=grace, source=source)


def _unreadable(source: str, exc: ValueError) -> RevocationAnswer:
    return RevocationAnswer(RevocationStatus.UNKNOWN, f"{source} cannot be read: {exc}")


def _judge_listing(
    listing: _Listing,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    at: datetime,
    *,
    now: datetime,
    grace: timedelta,
    source: str,
) -> RevocationAnswer:
    """The answer from a CRL already known to be ``issuer``'s, whole and signed."""
    next_update = listing.next_update
    if next_update is not None and now > next_update + grace:
        return RevocationAnswer(
            RevocationStatus.UNKNOWN,
            f"{source} is out of date: its next update was due {_when(next_update)}",
        )
    this_update = listing.this_update
    if this_update > now + _FUTURE_SKEW:
        return RevocationAnswer(
            RevocationStatus.UNKNOWN, f"{source} is dated in the future, {_when(this_update)}"
        )
    entry = listing.revoked.get(cert.serial_number)
    ca = _ca_name(issuer)
    if entry is None:
        return RevocationAnswer(
            RevocationStatus.GOOD,
            f"not listed on {source} of {ca}, issued {_when(this_update)}",
        )
    revoked_at, reason = entry
    if revoked_at > at:
        return RevocationAnswer(
            RevocationStatus.GOOD,
            f"revoked only from {_when(revoked_at)}, after the lookup time, on {source} of {ca}",
        )
    why = f", reason {reason}" if reason else ""
    return RevocationAnswer(
        RevocationStatus.REVOKED,
        f"listed as revoked on {_when(revoked_at)}{why} on {source} of {ca}",
    )


class _FetchFailed(Exception):
    """A CRL download failed; the message is the sentence the verdict shows."""


@dataclasses.dataclass
class _Crl:
    """A downloaded, parsed CRL and until when it is used without asking again."""

    crl: x509.CertificateRevocationList
    listing: _Listing
    fresh_until: datetime
    # issuer certificate -> why the CRL is not that issuer's (None: it is); the RSA check is
    # made once per CRL and issuer, not once per lookup
    issuers: dict[x509.Certificate, str | None] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class _Failure:
    """A failed download, remembered briefly so a dead server is not asked on every lookup."""

    reason: str
    fresh_until: datetime


class _Slot:
    """One URL's cache entry and the download in flight for it, if any."""

    __slots__ = ("entry", "inflight")

    def __init__(self) -> None:
        self.entry: _Crl | _Failure | None = None
        self.inflight: concurrent.futures.Future[None] | None = None


class CrlChecker:
    """Checks certificates against their CA's CRL (a :class:`~peppolnet.pki.RevocationChecker`).

    ``soft_fail=True`` turns an ``unknown`` status into a warning in the verdict instead of an
    ``unknown`` verdict (FACTS.md §4.3: rejecting is the default). ``timeout`` bounds each
    download (seconds, whole body), ``max_bytes`` its decoded size; at most one redirect is
    followed. A CRL is kept until its ``next_update``, at most ``max_age`` seconds; a failed
    download is remembered for ``retry_after`` seconds. ``grace`` tolerates a CRL published a
    little late. ``http_client`` replaces the client the checker builds (and stays yours to
    close); ``clock`` replaces ``datetime.now(UTC)`` for the cache and the freshness check.

    Thread-safe; share one checker between every lookup of a process. ``check``/``answer`` block,
    ``acheck``/``aanswer`` never block the event loop.
    """

    def __init__(
        self,
        *,
        soft_fail: bool = False,
        timeout: float = 10.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_age: float = 3600.0,
        retry_after: float = 30.0,
        grace: float = 3600.0,
        max_entries: int = 16,
        http_client: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.soft_fail = soft_fail
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_age = timedelta(seconds=max_age)
        self.retry_after = timedelta(seconds=retry_after)
        self.grace = timedelta(seconds=grace)
        self.max_entries = max(1, max_entries)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._client = http_client
        self._own_client = http_client is None
        self._lock = threading.Lock()
        self._slots: collections.OrderedDict[str, _Slot] = collections.OrderedDict()
        self.downloads = 0
        """How many downloads were started (for tests and monitoring)."""

    # --- the RevocationChecker interface ------------------------------------------------------

    def check(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationStatus:
        """The status of ``cert`` at ``at`` (blocks while a CRL is downloaded)."""
        return self.answer(cert, issuer, at).status

    async def acheck(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationStatus:
        """:meth:`check` without blocking the event loop."""
        return (await self.aanswer(cert, issuer, at)).status

    def answer(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationAnswer:
        """The status of ``cert`` at ``at`` with the sentence behind it."""
        urls = crl_urls(cert)
        if not urls:
            return _NO_POINT
        reasons: list[str] = []
        for url in urls:
            found = self._judge(url, self._entry(url, issuer), cert, issuer, at)
            if found.status is not RevocationStatus.UNKNOWN:
                return found
            reasons.append(found.reason)
        return RevocationAnswer(RevocationStatus.UNKNOWN, "; ".join(reasons))

    async def aanswer(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationAnswer:
        """:meth:`answer` without blocking the event loop (a cached CRL answers at once)."""
        urls = crl_urls(cert)
        if not urls:
            return _NO_POINT
        reasons: list[str] = []
        for url in urls:
            found = self._judge(url, await self._aentry(url, issuer), cert, issuer, at)
            if found.status is not RevocationStatus.UNKNOWN:
                return found
            reasons.append(found.reason)
        return RevocationAnswer(RevocationStatus.UNKNOWN, "; ".join(reasons))

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client the checker made (one passed in stays the caller's)."""
        with self._lock:
            client, own = self._client, self._own_client
            if own:
                self._client = None
        if own and client is not None:
            client.close()

    def __enter__(self) -> CrlChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def clear(self) -> None:
        """Forget every cached CRL and remembered failure."""
        with self._lock:
            self._slots.clear()

    # --- the cache ----------------------------------------------------------------------------

    def _claim(self, url: str) -> tuple[_Slot, _Crl | _Failure | None, bool]:
        """Under the lock: the slot, a fresh entry (or None), and whether we must download."""
        with self._lock:
            slot = self._slots.get(url)
            if slot is None:
                slot = self._slots[url] = _Slot()
                while len(self._slots) > self.max_entries:
                    self._slots.popitem(last=False)
            else:
                self._slots.move_to_end(url)
            entry = slot.entry
            if entry is not None and self.clock() < entry.fresh_until:
                return slot, entry, False
            if slot.inflight is not None:
                return slot, None, False
            future: concurrent.futures.Future[None] = concurrent.futures.Future()
            # Running at once: a cancelled waiter (asyncio.wrap_future) can then never cancel
            # the download that the other waiters depend on.
            future.set_running_or_notify_cancel()
            slot.inflight = future
            return slot, None, True

    def _entry(self, url: str, issuer: x509.Certificate) -> _Crl | _Failure:
        slot, entry, mine = self._claim(url)
        if entry is not None:
            return entry
        if mine:
            self._fill(slot, url, issuer)
        else:
            future = slot.inflight
            if future is not None:
                future.result()
        return self._settled(slot)

    async def _aentry(self, url: str, issuer: x509.Certificate) -> _Crl | _Failure:
        slot, entry, mine = self._claim(url)
        if entry is not None:
            return entry
        if mine:
            # The whole download-and-store runs in the thread, so a cancelled lookup can never
            # leave the slot claimed with nobody to finish it.
            await asyncio.to_thread(self._fill, slot, url, issuer)
        else:
            future = slot.inflight
            if future is not None:
                await asyncio.wrap_future(future)
        return self._settled(slot)

    def _settled(self, slot: _Slot) -> _Crl | _Failure:
        with self._lock:
            entry = slot.entry
        if entry is None:  # the download's thread died in a way _fill could not catch
            return _Failure("the CRL download did not finish", self.clock())
        return entry

    def _fill(self, slot: _Slot, url: str, issuer: x509.Certificate) -> None:
        """Download ``url`` into ``slot`` and wake everybody waiting for it (never raises)."""
        try:
            entry = self._download(url, issuer)
        except Exception as exc:  # a fault must become "unknown", never escape the checker
            entry = _Failure(f"the CRL at {url} could not be fetched: {exc}", self._later())
        with self._lock:
            slot.entry = entry
            future, slot.inflight = slot.inflight, None
        if future is not None:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                future.set_result(None)

    def _later(self) -> datetime:
        return self.clock() + self.retry_after

    def _download(self, url: str, issuer: x509.Certificate) -> _Crl | _Failure:
        """Fetch and read ``url``; its signature is checked here too, for the issuer asking.

        Everything that costs time in proportion to the CRL's size (reading every entry,
        hashing it for the signature) happens here, in the download's thread, never on an
        event loop.
        """
        with self._lock:
            self.downloads += 1
        try:
            body = self._get(url)
        except _FetchFailed as exc:
            return _Failure(f"the CRL at {url} could not be fetched: {exc}", self._later())
        try:
            crl = read_crl(body)
            # cryptography parses lazily: read everything an answer needs now (in the download's
            # thread), so that a damaged CRL is refused once, here, rather than on every lookup
            listing = _Listing.read(crl)
        except ValueError as exc:
            return _Failure(f"the CRL at {url} cannot be read: {exc}", self._later())
        now = self.clock()
        fresh_until = now + self.max_age
        next_update = listing.next_update
        if next_update is not None and next_update <= now:
            # Already due (the CA publishes late): ask again after a pause, not on every lookup.
            fresh_until = min(fresh_until, now + self.retry_after)
        elif next_update is not None:
            fresh_until = min(fresh_until, next_update)
        entry = _Crl(crl, listing, fresh_until)
        if listing.problem is None:
            # a ValueError here is judged (and explained) by _judge on first use
            with contextlib.suppress(ValueError):
                entry.issuers[issuer] = _issuer_problem(crl, issuer)
        return entry

    def _judge(
        self,
        url: str,
        entry: _Crl | _Failure,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        at: datetime,
    ) -> RevocationAnswer:
        if isinstance(entry, _Failure):
            return RevocationAnswer(RevocationStatus.UNKNOWN, entry.reason)
        source = f"the CRL at {url}"
        problem = entry.listing.problem
        if problem is None:
            if issuer in entry.issuers:
                problem = entry.issuers[issuer]
            else:
                try:
                    problem = _issuer_problem(entry.crl, issuer)
                except ValueError as exc:  # a damaged issuer certificate: no answer, no crash
                    return _unreadable(source, exc)
                entry.issuers[issuer] = problem
        if problem is not None:
            return RevocationAnswer(RevocationStatus.UNKNOWN, f"{source} {problem}")
        return _judge_listing(
            entry.listing, cert, issuer, at, now=self.clock(), grace=self.grace, source=source
        )

    # --- HTTP ---------------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                from peppolnet.smp.client import USER_AGENT

                self._client = httpx.Client(
                    timeout=self.timeout,
                    follow_redirects=False,
                    headers={"User-Agent": USER_AGENT},
                )
                self._own_client = True
            return self._client

    def _get(self, url: str) -> bytes:
        """The body of ``url`` (one redirect at most), within the time and size limits."""
        client = self._http()
        deadline = time.monotonic() + self.timeout
        for hop in range(2):
            try:
                with client.stream(
                    "GET", url, headers={"Accept": "application/pkix-crl, */*"}
                ) as response:
                    status = response.status_code
                    if status in _REDIRECTS:
                        location = response.headers.get("location", "")
                        target = urljoin(url, location)
                        if hop or not location:
                            raise _FetchFailed(f"HTTP {status}: too many redirects")
                        if urlsplit(target).scheme.lower() not in ("http", "https"):
                            raise _FetchFailed(f"HTTP {status}: redirect to {target}")
                        url = target
                        continue
                    if status != 200:
                        raise _FetchFailed(f"the server answered HTTP {status}")
                    return self._body(response, deadline)
            except httpx.TimeoutException:
                raise _FetchFailed(f"no answer within {self.timeout:g} s") from None
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
                raise _FetchFailed(str(exc) or type(exc).__name__) from None
        raise _FetchFailed("too many redirects")  # pragma: no cover - the loop returns/raises

    def _body(self, response: httpx.Response, deadline: float) -> bytes:
        limit = self.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _FetchFailed(f"the CRL is larger than {limit:,} bytes: {int(declared):,}")
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limit:
                raise _FetchFailed(f"the CRL is larger than {limit:,} bytes")
            if time.monotonic() > deadline:
                raise _FetchFailed(f"the download took longer than {self.timeout:g} s")
        return bytes(body)


_NO_POINT: Final = RevocationAnswer(
    RevocationStatus.UNKNOWN, "the certificate names no http(s) CRL distribution point"
)
