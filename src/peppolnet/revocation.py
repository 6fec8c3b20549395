"""Revocation from CRLs: is this SMP or access point certificate still good?

Why CRL and not OCSP first: the Peppol CAs publish both (Peppol PKI certificate policy,
revocation), but a CRL is one file
per CA that serves every certificate it issued - a bulk run of 100,000 lookups across a few
hundred operators needs two downloads (SMP CA, AP CA) per refresh, where OCSP needs one request
per certificate to a responder that peppol-commons found unreliable enough to switch its own
default from OCSP to CRL. A CRL is also signed by the very CA the chain check already trusts, so
no extra trust (responder certificates, nonces) comes in.

What is believed: a CRL only when its signature verifies with the issuing CA's key, its issuer
name is that CA's subject, it is a full CRL for every reason, and - when its Issuing Distribution
Point names a distribution point - that point is one the certificate names (RFC 5280 6.3.3
(b)(2): a CA may split its certificates over several CRLs, and a CRL of another part would call
every certificate of this part "not listed"). It is kept until its ``next_update`` (capped by
``max_age``) and then fetched again; a CRL naming no ``next_update`` is taken to be due
``max_age`` after its ``this_update``, so an old one replayed is not believed forever. A CRL
whose due time passed more than ``grace`` seconds ago says nothing about today, so it gives
``unknown``. Every fault - no distribution point, a timeout, an HTTP error, a body too large or
compressed, an unreadable, wrongly signed or out-of-date CRL - gives ``unknown`` with a sentence
saying which; nothing but a listed serial with a revocation date at or before the lookup time
gives ``revoked``.

What is remembered: a CRL that cannot be believed is remembered like a failed download, for
``retry_after`` seconds - its dates are unverified (or are what is wrong), so they must not
decide how long the checker refuses to look again. A failed refresh keeps the CRL already held
while that one is still current (up to its ``next_update`` plus ``grace``): one connection reset
at refresh time must not turn every lookup of a bulk run ``unknown``.

Limits: ``timeout`` is one deadline for a whole answer - every distribution point of the
certificate, the redirect and the body share it, each request getting only what is left, and an
asker stops waiting at its deadline even when a server trickles its answer a byte at a time (which
httpx, bounding each read rather than the response, would allow; the checker's own client is
bounded at the socket as well, see :mod:`peppolnet._http`). Asked inside a lookup, the lookup's
deadline applies too, and the download is fetched under the destination policy of the lookup's
network (:mod:`peppolnet.destinations`); asked directly, under the checker's own
``destinations`` (public addresses only by default). A CRL fetched under one policy never answers
an asker under another: the cache is kept per URL and policy. The body is taken as sent:
``Accept-Encoding: identity`` is asked for and any other content coding refused, because a CRL is
DER (it gains nothing from compression) and a decoder would expand a few kB of ``gzip, gzip`` to
gigabytes before any size check saw them.

Concurrency: the cache is keyed by URL and shared by every thread and event loop; one fetch per
URL runs at a time and everybody asking for that URL waits for it (a bulk run asking about the
same CA 32 times at once makes one download), each until its own deadline. The download runs in
a thread of its own and the askers wait on its future - ``answer`` blocking, ``aanswer``
awaiting, so an event loop never blocks on a CRL. The download settles its URL's slot however it
ends (even by an exception the checker does not expect), and does not depend on its askers: a
cancelled lookup or a Ctrl-C in the caller leaves it to finish for the others.

Memory: ``max_entries`` CRLs of at most ``max_bytes`` each - but a cached CRL costs about five
times its size: the DER itself, plus its entries read into a dict, about four times the DER in
Python objects (a 9.2 MB CRL of 200,000 entries took 37 MB). With the defaults (16 entries of
10 MB) the worst case is thus some 800 MB; the Peppol CAs' CRLs are a few kB each.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx
from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from peppolnet import _http, _observe
from peppolnet._logging import logger
from peppolnet._memory import lru_by_bytes
from peppolnet._tls import context
from peppolnet._x509 import MEMO_BUDGET, memo_bytes
from peppolnet.clock import Clock, as_clock
from peppolnet.destinations import PUBLIC_ONLY, DestinationPolicy, redact_url
from peppolnet.errors import DestinationRefused
from peppolnet.i18n import Message, _, joined
from peppolnet.pki import RevocationAnswer, RevocationStatus

__all__ = ["DEFAULT_MAX_BYTES", "CrlChecker", "CrlFetch", "crl_urls", "judge_crl", "read_crl"]

#: CRL downloads are HTTP fetches (logged by peppolnet._http); a CRL served from the cache
#: instead is logged beside them.
_log = logger("peppolnet.http")

#: Largest CRL accepted (bytes as sent: no content coding is accepted). The G3 CRLs are a few kB;
#: 10 MB leaves room for a CA that revokes a lot, and bounds what a hostile or broken server can
#: make us hold.
DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
#: A CRL whose thisUpdate is this far in the future is refused (clock skew allowance).
_FUTURE_SKEW = timedelta(minutes=5)
_THE_CRL: Final = _("the CRL")
#: The CRL entry's reason code (RFC 5280 5.3.1; cryptography's ``ReasonFlags`` names) in words.
REASONS: Final[dict[str, Message]] = {
    "key_compromise": _("the key was compromised"),
    "ca_compromise": _("the CA was compromised"),
    "affiliation_changed": _("the holder's affiliation changed"),
    "superseded": _("superseded by a new certificate"),
    "cessation_of_operation": _("the holder ceased operation"),
    "certificate_hold": _("on hold"),
    "privilege_withdrawn": _("a privilege was withdrawn"),
    "aa_compromise": _("the attribute authority was compromised"),
    "remove_from_crl": _("removed from the CRL"),
}
#: At most this many distribution points of one certificate are tried.
_MAX_URLS = 4
_REDIRECTS = (301, 302, 303, 307, 308)
# Extensions of a CRL that a full, direct CRL may carry critically and that we understand.
_UNDERSTOOD_CRITICAL = {ExtensionOID.ISSUING_DISTRIBUTION_POINT}
# What cryptography raises, lazily on access, for a damaged CRL or certificate: bad DER, an
# extension given twice, a name form it cannot represent.
_DAMAGED: Final = (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)
# "fresh until" of an entry that the next asker must replace at once
_LONG_AGO: Final = datetime.min.replace(tzinfo=UTC)
# A CRL is DER (or PEM): identity only, so that nothing is ever decompressed.
_REQUEST_HEADERS: Final = {"Accept": "application/pkix-crl, */*"}


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


@functools.lru_cache(maxsize=64)
def _ca_name(issuer: x509.Certificate) -> str:
    names = issuer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else issuer.subject.rfc4514_string()
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _distribution_points(cert: x509.Certificate) -> x509.CRLDistributionPoints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except (x509.ExtensionNotFound, *_DAMAGED):
        return None


def crl_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The http(s) CRL distribution points of ``cert``, in the order the certificate lists them.

    Distribution points that only cover some revocation reasons or name another CRL issuer
    (indirect CRLs) are left out: such a CRL cannot say "good" for every reason on its own.
    Memoised per certificate (a bulk run asks about the same few certificates again and again),
    within a budget of bytes that counts each certificate's DER (:mod:`peppolnet._x509`).
    """
    return _crl_urls(cert)


@lru_by_bytes(MEMO_BUDGET, size=memo_bytes)
def _crl_urls(cert: x509.Certificate) -> tuple[str, ...]:
    urls: list[str] = []
    for point in _distribution_points(cert) or ():
        if point.reasons is not None or point.crl_issuer is not None or not point.full_name:
            continue
        for name in point.full_name:
            if not isinstance(name, x509.UniformResourceIdentifier):
                continue
            url = name.value.strip()
            if urlsplit(url).scheme.lower() in ("http", "https") and url not in urls:
                urls.append(url)
    return tuple(urls[:_MAX_URLS])


@lru_by_bytes(MEMO_BUDGET, size=memo_bytes)
def _point_names(cert: x509.Certificate) -> tuple[x509.GeneralName, ...]:
    """Every full name of every CRL distribution point of ``cert``: what an IDP must match."""
    points = _distribution_points(cert) or ()
    return tuple(name for point in points for name in point.full_name or ())


def read_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL from DER or PEM bytes; ``ValueError`` naming the problem otherwise."""
    if b"-----BEGIN X509 CRL-----" in data[:1024]:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def _structure_problem(crl: x509.CertificateRevocationList) -> str | None:
    """Why this CRL cannot answer for a leaf certificate on its own, or None if it can."""
    try:
        extensions = crl.extensions
    except _DAMAGED as exc:
        return _("has an unreadable extension: {error}", error=str(exc))
    for extension in extensions:
        if extension.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            return _("is a delta CRL, not a full one")
        if extension.critical and extension.oid not in _UNDERSTOOD_CRITICAL:
            oid = extension.oid.dotted_string
            return _("has a critical extension peppolnet does not understand: {oid}", oid=oid)
        value = extension.value
        if not isinstance(value, x509.IssuingDistributionPoint):
            continue
        if (
            value.indirect_crl
            or value.only_some_reasons is not None
            or value.only_contains_ca_certs
            or value.only_contains_attribute_certs
        ):
            return _("covers only part of the CA's certificates, by its issuing distribution point")
        if value.relative_name is not None:
            return _(
                "names its distribution point relative to the CA, which peppolnet cannot match"
            )
    return None


def _scope(crl: x509.CertificateRevocationList) -> x509.IssuingDistributionPoint | None:
    try:
        return crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None


def _name_text(name: x509.GeneralName) -> str:
    value = name.value
    return value.rfc4514_string() if isinstance(value, x509.Name) else str(value)


def _scope_problem(
    point: x509.IssuingDistributionPoint | None, cert: x509.Certificate, url: str | None
) -> str | None:
    """Why a CRL limited by its Issuing Distribution Point does not cover ``cert`` (None: it does).

    RFC 5280 6.3.3 (b)(2): a CRL naming a distribution point answers only for certificates
    that name that point too; ``url``, where the CRL was fetched, counts as one. Raises one of
    ``_DAMAGED`` if ``cert``'s extensions cannot be read.
    """
    if point is None:
        return None
    if point.only_contains_user_certs:
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if is_ca:
            return _("covers only end-entity certificates, and this one is a CA certificate")
    if point.full_name is None:
        return None
    names = _point_names(cert)
    if url is not None:
        names = (*names, x509.UniformResourceIdentifier(url))
    if any(name in names for name in point.full_name):
        return None
    listed = ", ".join(_name_text(name) for name in point.full_name)
    return _(
        "covers only the certificates of distribution point {listed}, not this one's",
        listed=listed,
    )


def _issuer_problem(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> str | None:
    """Why ``crl`` is not ``issuer``'s own signed CRL, or None when it is."""
    if crl.issuer != issuer.subject:
        return _(
            "is issued by {issuer}, not by {ca}",
            issuer=crl.issuer.rfc4514_string(),
            ca=_ca_name(issuer),
        )
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.crl_sign:
        return _("cannot be trusted: {ca} may not sign CRLs, it lacks cRLSign", ca=_ca_name(issuer))
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        valid = False
    if not valid:
        return _("is not signed by {ca}: the signature does not verify", ca=_ca_name(issuer))
    return None


@dataclasses.dataclass(frozen=True)
class _Listing:
    """What a CRL says, read once: dates, structure problem, scope, and its serials as a dict.

    Why a dict: ``get_revoked_certificate_by_serial_number`` walks the list on every call, and a
    CA's CRL can hold thousands of entries; a bulk run asks about the same CRL again and again.
    """

    this_update: datetime
    next_update: datetime | None
    problem: str | None
    point: x509.IssuingDistributionPoint | None
    revoked: dict[int, tuple[datetime, str | None]]

    @classmethod
    def read(cls, crl: x509.CertificateRevocationList) -> _Listing:
        """Read every field an answer needs; one of ``_DAMAGED`` if the CRL is damaged."""
        _parsed = crl.issuer  # parsed lazily: fail here, not later
        revoked: dict[int, tuple[datetime, str | None]] = {}
        for entry in crl:
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            except x509.ExtensionNotFound:
                reason = None
            name = None if reason in (None, x509.ReasonFlags.unspecified) else reason.name
            revoked[entry.serial_number] = (entry.revocation_date_utc, name)
        problem = _structure_problem(crl)
        point = _scope(crl) if problem is None else None
        return cls(crl.last_update_utc, crl.next_update_utc, problem, point, revoked)

    def due(self, max_age: timedelta) -> datetime:
        """When a newer CRL is due: ``next_update``, or ``max_age`` after issue if it names none."""
        return self.next_update or self.this_update + max_age


def _freshness_problem(
    listing: _Listing, *, now: datetime, grace: timedelta, max_age: timedelta
) -> str | None:
    """Why the CRL says nothing about ``now`` (out of date, or dated in the future), or None."""
    this_update = listing.this_update
    if now > listing.due(max_age) + grace:
        if listing.next_update is None:
            return _(
                "is out of date: it names no next update and was issued {when}",
                when=_when(this_update),
            )
        return _("is out of date: its next update was due {when}", when=_when(listing.next_update))
    if this_update > now + _FUTURE_SKEW:
        return _("is dated in the future, {when}", when=_when(this_update))
    return None


def judge_crl(
    crl: x509.CertificateRevocationList,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    at: datetime,
    *,
    now: datetime,
    grace: timedelta = timedelta(hours=1),
    max_age: timedelta = timedelta(hours=1),
    source: str = _THE_CRL,
) -> RevocationAnswer:
    """What ``crl`` says about ``cert`` at ``at`` (pure; ``now`` judges the CRL's freshness).

    ``revoked`` only when the CRL is ``issuer``'s, verifies, covers ``cert``, is current and
    lists the serial with a revocation date at or before ``at``; ``unknown`` when the CRL cannot
    be believed. A CRL without a next update is taken to be due ``max_age`` after its issue.
    """
    try:
        listing = _Listing.read(crl)
        problem = (
            listing.problem
            or _issuer_problem(crl, issuer)
            or _scope_problem(listing.point, cert, None)
        )
    except _DAMAGED as exc:  # cryptography reads a CRL lazily: damage shows up on access
        return _unreadable(source, exc)
    if problem is not None:
        return RevocationAnswer(RevocationStatus.UNKNOWN, _said(source, problem))
    return _judge_listing(
        listing, cert, issuer, at, now=now, grace=grace, max_age=max_age, source=source
    )


def _said(source: str, problem: str) -> Message:
    """ "the CRL at ... is out of date: ...": a CRL (``source``) and what is wrong with it."""
    return _("{source} {problem}", source=source, problem=problem)


def _at(url: str) -> Message:
    return _("the CRL at {url}", url=url)


def _unreadable(source: str, exc: Exception) -> RevocationAnswer:
    return RevocationAnswer(
        RevocationStatus.UNKNOWN, _("{source} cannot be read: {error}", source=source, error=exc)
    )


def _judge_listing(
    listing: _Listing,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    at: datetime,
    *,
    now: datetime,
    grace: timedelta,
    max_age: timedelta,
    source: str,
) -> RevocationAnswer:
    """The answer from a CRL already known to be ``issuer``'s, whole, signed and covering."""
    stale = _freshness_problem(listing, now=now, grace=grace, max_age=max_age)
    if stale is not None:
        return RevocationAnswer(RevocationStatus.UNKNOWN, _said(source, stale))
    entry = listing.revoked.get(cert.serial_number)
    ca = _ca_name(issuer)
    if entry is None:
        return RevocationAnswer(
            RevocationStatus.GOOD,
            _(
                "not listed on {source} of {ca}, issued {when}",
                source=source,
                ca=ca,
                when=_when(listing.this_update),
            ),
        )
    revoked_at, reason = entry
    when = _when(revoked_at)
    if revoked_at > at:
        return RevocationAnswer(
            RevocationStatus.GOOD,
            _(
                "revoked only from {when}, after the lookup time, on {source} of {ca}",
                when=when,
                source=source,
                ca=ca,
            ),
        )
    if reason is None:
        sentence = _(
            "listed as revoked on {when} on {source} of {ca}", when=when, source=source, ca=ca
        )
    else:
        sentence = _(
            "listed as revoked on {when}, reason: {reason} ({code}), on {source} of {ca}",
            when=when,
            reason=REASONS.get(reason, reason),
            code=x509.ReasonFlags[reason].value,  # RFC 5280's name, the same in any language
            source=source,
            ca=ca,
        )
    return RevocationAnswer(RevocationStatus.REVOKED, sentence)


class _FetchFailed(Exception):
    """A CRL download failed; the message is the sentence the verdict shows."""

    @property
    def message(self) -> object:
        """The sentence (a catalog message), for :func:`peppolnet.i18n.render`."""
        return self.args[0]


@dataclasses.dataclass(frozen=True)
class _Crl:
    """A downloaded, believed CRL and until when it is used without asking again."""

    crl: x509.CertificateRevocationList
    listing: _Listing
    fresh_until: datetime
    # issuer certificate -> why the CRL is not that issuer's (None: it is); the RSA check is
    # made once per CRL and issuer, not once per lookup
    issuers: dict[x509.Certificate, str | None]


@dataclasses.dataclass(frozen=True)
class _Failure:
    """A failed download or unbelievable CRL, remembered briefly so that a dead or broken server
    is not asked on every lookup."""

    reason: str
    fresh_until: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class _Ask:
    """One answer's limits: its deadline (monotonic), the seconds that allows, and the policy."""

    deadline: float
    seconds: float
    policy: DestinationPolicy

    def too_late(self, url: str) -> str:
        return _fetch_failed(url, _no_answer(self.seconds))


def _no_answer(seconds: float) -> Message:
    shown = f"{seconds:.3g}"
    return _("no answer within {seconds} s", seconds=shown)


def _fetch_failed(url: str, why: object) -> Message:
    return _("the CRL at {url} could not be fetched: {why}", url=url, why=why)


@dataclasses.dataclass(slots=True)
class _Fetched:
    """What one download's HTTP requests brought (written by the download's thread, read by
    its askers after it settled): the last answer's status and size, where a redirect led."""

    status: int | None = None
    body_bytes: int | None = None
    redirected_to: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class CrlFetch:
    """One CRL a revocation answer used, as a trace shows it (:meth:`_observe.Observer.crl`).

    ``url`` is the distribution point (credentials and query left out), ``from_cache`` whether
    the CRL (or a remembered failure) was held already, so that nothing was downloaded for
    this answer; ``status``, ``body_bytes`` and ``redirected_to`` are the download's (the one
    this asker started or waited for; None from the cache or without an answer); ``seconds`` is
    how long the asker waited for it; ``problem`` why the CRL cannot answer (the download
    failed, or the CRL cannot be believed), None when it was used.
    """

    url: str
    from_cache: bool
    status: int | None
    body_bytes: int | None
    redirected_to: str | None
    seconds: float
    problem: str | None


def _tell(
    url: str,
    entry: _Crl | _Failure,
    began: float,
    fetched: _Fetched | None = None,
    *,
    from_cache: bool = False,
) -> _Crl | _Failure:
    """Tell a watching trace which CRL answered (one context-variable read when nobody
    watches); ``entry`` is handed back."""
    observer = _observe.current()
    if observer is not None:
        fetched = fetched or _Fetched()
        observer.crl(
            CrlFetch(
                url=redact_url(url),
                from_cache=from_cache,
                status=fetched.status,
                body_bytes=fetched.body_bytes,
                redirected_to=fetched.redirected_to,
                seconds=time.perf_counter() - began,
                problem=entry.reason if isinstance(entry, _Failure) else None,
            )
        )
    return entry


_Key = tuple[str, DestinationPolicy]


class _Slot:
    """One URL's cache entry and the download in flight for it, if any."""

    __slots__ = ("entry", "fetched", "inflight")

    def __init__(self) -> None:
        self.entry: _Crl | _Failure | None = None
        self.inflight: concurrent.futures.Future[None] | None = None
        self.fetched: _Fetched | None = None  # what the last download's requests brought


class CrlChecker:
    """Checks certificates against their CA's CRL (a :class:`~peppolnet.pki.RevocationChecker`).

    ``soft_fail=True`` turns an ``unknown`` status into a warning in the verdict instead of an
    ``unknown`` verdict (Peppol PKI certificate policy, revocation: rejecting is the default).
    ``timeout`` bounds each answer
    (seconds: every distribution point, the redirect and the body together), ``max_bytes`` the
    size of a CRL as sent (no content coding is accepted); at most one redirect is followed,
    even by an ``http_client`` that follows redirects itself. A CRL is kept until its
    ``next_update``, at most ``max_age`` seconds; a failed download or a CRL that cannot be
    believed is remembered for ``retry_after`` seconds, while a CRL already held and still
    current goes on answering. ``grace`` tolerates a CRL published a little late.
    ``destinations`` is the destination policy of CRL URLs and redirects when the checker is
    asked directly (default: public addresses only); a lookup's network policy applies to what
    a lookup asks. ``http_client`` replaces the client the checker builds (and stays yours to
    close); ``clock`` (a
    :class:`peppolnet.clock.Clock`) gives "now" for the cache and the freshness check; download
    deadlines stay in real seconds, as the sockets wait in them. Each cached CRL can
    take about five times its size in memory (see the module's notes).

    Thread-safe; share one checker between every lookup of a process. Each download runs in a
    thread of its own; ``check``/``answer`` block until it ends or their deadline comes,
    ``acheck``/``aanswer`` await it and never block the event loop.
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
        clock: Clock | None = None,
        destinations: DestinationPolicy | None = None,
    ) -> None:
        self.clock: Clock = as_clock(clock)
        self.destinations = destinations if destinations is not None else PUBLIC_ONLY
        self.soft_fail = soft_fail
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_age = timedelta(seconds=max_age)
        self.retry_after = timedelta(seconds=retry_after)
        self.grace = timedelta(seconds=grace)
        self.max_entries = max(1, max_entries)
        self._client = http_client
        self._own_client = http_client is None
        self._lock = threading.Lock()
        self._slots: collections.OrderedDict[_Key, _Slot] = collections.OrderedDict()
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
        ask = self._ask()  # one for every URL: timeout bounds the answer
        reasons: list[str] = []
        for url in urls:
            entry = self._entry(url, cert, issuer, ask)
            found = self._judge(url, entry, cert, issuer, at)
            if found.status is not RevocationStatus.UNKNOWN:
                return found
            reasons.append(found.reason)
        return RevocationAnswer(RevocationStatus.UNKNOWN, joined(reasons))

    async def aanswer(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationAnswer:
        """:meth:`answer` without blocking the event loop (a cached CRL answers at once)."""
        urls = crl_urls(cert)
        if not urls:
            return _NO_POINT
        ask = self._ask()
        reasons: list[str] = []
        for url in urls:
            entry = await self._aentry(url, cert, issuer, ask)
            found = self._judge(url, entry, cert, issuer, at)
            if found.status is not RevocationStatus.UNKNOWN:
                return found
            reasons.append(found.reason)
        return RevocationAnswer(RevocationStatus.UNKNOWN, joined(reasons))

    def _ask(self) -> _Ask:
        """The limits of one answer: ``timeout``, or less when a lookup's deadline comes first;
        the policy of the lookup's network, or the checker's own when asked directly."""
        seconds = _http.left(self.timeout)
        assert seconds is not None
        return _Ask(time.monotonic() + seconds, seconds, _http.destinations() or self.destinations)

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

    def _claim(
        self, url: str, ask: _Ask
    ) -> tuple[_Slot, _Crl | _Failure | None, concurrent.futures.Future[None] | None, bool]:
        """Under the lock: the slot, a usable entry, the download to wait for, whether it is ours.

        No entry and no download: the deadline has passed, and nothing is started that could
        only fail - and, remembered, make the next asker wait ``retry_after`` for our haste.
        """
        key = (url, ask.policy)
        deadline = ask.deadline
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
                while len(self._slots) > self.max_entries:
                    self._slots.popitem(last=False)
            else:
                self._slots.move_to_end(key)
            entry = slot.entry
            if entry is not None and self.clock.now() < entry.fresh_until:
                return slot, entry, None, False
            if slot.inflight is not None:
                return slot, None, slot.inflight, False
            if time.monotonic() >= deadline:
                # no time to refresh: a CRL held may still be current (judged as usual)
                return slot, entry if isinstance(entry, _Crl) else None, None, False
            future: concurrent.futures.Future[None] = concurrent.futures.Future()
            # Running at once: a cancelled waiter (asyncio.wrap_future) can then never cancel
            # the download that the other waiters depend on.
            future.set_running_or_notify_cancel()
            slot.inflight = future
            return slot, None, future, True

    def _entry(
        self, url: str, cert: x509.Certificate, issuer: x509.Certificate, ask: _Ask
    ) -> _Crl | _Failure:
        began = time.perf_counter()
        waiting = self._begin(url, cert, issuer, ask, began)
        if not isinstance(waiting, tuple):
            return waiting
        slot, future = waiting
        try:
            future.result(timeout=max(0.0, ask.deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            # the download goes on, for whoever asks next
            return _tell(url, _out_of_time(url, ask), began)
        return self._settled(slot, url, began)

    async def _aentry(
        self, url: str, cert: x509.Certificate, issuer: x509.Certificate, ask: _Ask
    ) -> _Crl | _Failure:
        began = time.perf_counter()
        waiting = self._begin(url, cert, issuer, ask, began)
        if not isinstance(waiting, tuple):
            return waiting
        slot, future = waiting
        if not future.done():
            try:
                wait = ask.deadline - time.monotonic()
                await asyncio.wait_for(asyncio.wrap_future(future), wait)
            except TimeoutError:
                return _tell(url, _out_of_time(url, ask), began)
        return self._settled(slot, url, began)

    def _begin(
        self, url: str, cert: x509.Certificate, issuer: x509.Certificate, ask: _Ask, began: float
    ) -> _Crl | _Failure | tuple[_Slot, concurrent.futures.Future[None]]:
        """What both askers do before they wait: an answer at once (refused, cached, too late),
        or the download to wait for - started here if nobody had. (Each answer is told to a
        watching trace, :func:`_tell`; ``began``: when the asker asked.)"""
        refused = _refused(url, ask.policy)
        if refused is not None:
            return _tell(url, refused, began)
        slot, entry, future, mine = self._claim(url, ask)
        if entry is not None:
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("%s: the CRL from the cache (no download)", _http.shown(url))
            return _tell(url, entry, began, from_cache=True)
        if future is None:
            return _tell(url, _out_of_time(url, ask), began)
        if mine:
            self._start(slot, future, url, cert, issuer, ask)
        return slot, future

    def _start(
        self,
        slot: _Slot,
        future: concurrent.futures.Future[None],
        url: str,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        ask: _Ask,
    ) -> None:
        """Run the download of ``url`` in a thread of its own, for every asker to wait on.

        Why a thread even for a blocking ``answer``: httpx bounds each read, not a response, so
        a server trickling its headers a byte at a time can hold a request far past any
        timeout; an asker waiting on the download's future gives up at its own deadline all the
        same. The download is independent of who started it: a cancelled lookup or a Ctrl-C in
        the asker leaves it to finish and settle the slot for the others. A daemon thread: a
        hostile server must not hold up the end of the program either.
        """
        thread = threading.Thread(
            target=self._fill,
            args=(slot, future, url, cert, issuer, ask),
            name="peppolnet-crl-download",
            daemon=True,
        )
        started = False
        try:
            thread.start()
            started = True
        finally:
            if not started:  # no thread (or interrupted here): nobody may wait for it
                self._settle(slot, future, url, None, _("could not start"))

    def _settled(self, slot: _Slot, url: str, began: float) -> _Crl | _Failure:
        with self._lock:
            entry, fetched = slot.entry, slot.fetched
        if entry is None:  # pragma: no cover - _settle always leaves an entry
            entry = _Failure(
                _("the download of the CRL at {url} did not finish", url=url), _LONG_AGO
            )
        return _tell(url, entry, began, fetched)

    def _fill(
        self,
        slot: _Slot,
        future: concurrent.futures.Future[None],
        url: str,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        ask: _Ask,
    ) -> None:
        """Download ``url`` into ``slot`` and wake everybody waiting for it.

        A fault becomes a remembered failure. Whatever else happens - a clock that raises, a
        KeyboardInterrupt or SystemExit - the ``finally`` still leaves an entry (the CRL held
        before, or a failure due for retry at once), clears the claim and completes the future,
        before a BaseException goes on: otherwise every later asker of ``url`` would wait for a
        download that nobody finishes.
        """
        entry: _Crl | _Failure | None = None
        why: str = _("was interrupted")
        facts = _Fetched()
        try:
            try:
                fetched = self._download(url, cert, issuer, ask, facts)
            except Exception as exc:  # a fault must become "unknown", never escape the checker
                fetched = _Failure(_fetch_failed(url, exc), self._later())
            entry = self._successor(slot.entry, fetched)
        except Exception as exc:  # the clock failed: this thread has nobody to raise it to
            why = _("failed: {error}", error=exc)
        finally:
            slot.fetched = facts  # before _settle wakes the askers, who read it
            self._settle(slot, future, url, entry, why)

    def _settle(
        self,
        slot: _Slot,
        future: concurrent.futures.Future[None],
        url: str,
        entry: _Crl | _Failure | None,
        why: str,
    ) -> None:
        """Store ``entry``, end this download's claim and wake its waiters; with no entry, keep
        the CRL held (already due, so the next asker downloads again) or record a failure due
        at once."""
        with self._lock:
            if entry is None:
                held = slot.entry
                failed = _Failure(
                    _("the download of the CRL at {url} {why}", url=url, why=why), _LONG_AGO
                )
                entry = held if isinstance(held, _Crl) else failed
            slot.entry = entry
            if slot.inflight is future:
                slot.inflight = None
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            future.set_result(None)

    def _successor(self, held: _Crl | _Failure | None, fetched: _Crl | _Failure) -> _Crl | _Failure:
        """What a slot keeps after a download: ``fetched``, unless that failed while the CRL
        held is still current - that one then goes on answering, and only the retry is set.

        (Only the slot's own download writes ``slot.entry``, so ``held`` needs no lock.)
        """
        if (
            isinstance(fetched, _Failure)
            and isinstance(held, _Crl)
            and self.clock.now() <= held.listing.due(self.max_age) + self.grace
        ):
            return dataclasses.replace(held, fresh_until=fetched.fresh_until)
        return fetched

    def _later(self) -> datetime:
        return self.clock.now() + self.retry_after

    def _download(
        self,
        url: str,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        ask: _Ask,
        facts: _Fetched,
    ) -> _Crl | _Failure:
        """Fetch, read and judge ``url`` for the issuer and certificate asking.

        Everything that costs time in proportion to the CRL's size (reading every entry,
        hashing it for the signature) happens here, in the download's thread, never on an
        event loop. A CRL that cannot be believed is a failure, retried after ``retry_after``:
        its own - unverified - next update must not decide how long we refuse to look again.
        """
        with self._lock:
            self.downloads += 1
        try:
            body = self._get(url, ask, facts)
        except _FetchFailed as exc:
            return _Failure(_fetch_failed(url, exc), self._later())
        try:
            crl = read_crl(body)
            # cryptography parses lazily: read everything an answer needs now (in the download's
            # thread), so that a damaged CRL is refused once, here, rather than on every lookup
            listing = _Listing.read(crl)
            problem = (
                listing.problem
                or _issuer_problem(crl, issuer)
                or _scope_problem(listing.point, cert, url)
            )
        except _DAMAGED as exc:
            return _Failure(
                _("{source} cannot be read: {error}", source=_at(url), error=exc), self._later()
            )
        now = self.clock.now()
        problem = problem or _freshness_problem(
            listing, now=now, grace=self.grace, max_age=self.max_age
        )
        if problem is not None:
            return _Failure(_said(_at(url), problem), now + self.retry_after)
        due = listing.due(self.max_age)
        # Already due (the CA publishes late, within grace): ask again after a pause, not on
        # every lookup.
        fresh_until = min(due, now + self.max_age) if due > now else now + self.retry_after
        return _Crl(crl, listing, fresh_until, {issuer: None})

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
        source = _at(url)
        try:
            if issuer in entry.issuers:
                problem = entry.issuers[issuer]
            else:  # another issuer than the one the CRL was downloaded for
                problem = entry.issuers[issuer] = _issuer_problem(entry.crl, issuer)
            problem = problem or _scope_problem(entry.listing.point, cert, url)
        except _DAMAGED as exc:  # a damaged certificate: no answer, no crash
            return _unreadable(source, exc)
        if problem is not None:
            return RevocationAnswer(RevocationStatus.UNKNOWN, _said(source, problem))
        return _judge_listing(
            entry.listing,
            cert,
            issuer,
            at,
            now=self.clock.now(),
            grace=self.grace,
            max_age=self.max_age,
            source=source,
        )

    # --- HTTP ---------------------------------------------------------------------------------

    def _http_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                from peppolnet.smp.client import USER_AGENT

                # deadlines and destinations at the socket, as every client of peppolnet's
                self._client = _http.client(
                    context(True), timeout=self.timeout, headers={"User-Agent": USER_AGENT}
                )
                self._own_client = True
            return self._client

    def _get(self, url: str, ask: _Ask, facts: _Fetched) -> bytes:
        """The body of ``url`` (one redirect at most), before the deadline and within the size,
        from addresses the policy allows (see :meth:`_crl_steps`); ``facts`` notes what came."""
        client = self._http_client()
        steps = self._crl_steps(url, ask, facts)
        try:
            with _http.scope(deadline=ask.deadline, destinations=ask.policy):
                return _http.run(steps, functools.partial(_http.fetch, client))
        except DestinationRefused as exc:
            raise _FetchFailed(exc.message) from None

    def _crl_steps(self, url: str, ask: _Ask, facts: _Fetched) -> _http.Steps[bytes]:
        """The download, sans-I/O: the body taken as sent - never decoded, so ``max_bytes``
        bounds what is held - and at most one redirect, to a URL the policy allows (peppolnet
        never lets httpx follow one, even with an ``http_client`` that would)."""
        too_late = _no_answer(ask.seconds)
        for hop in range(2):
            if ask.deadline - time.monotonic() <= 0:
                raise _FetchFailed(too_late)
            request = _http.Fetch(url, self.max_bytes, headers=_REQUEST_HEADERS, decode=False)
            try:
                answer = yield request
            except _http.HttpFault as fault:
                raise _FetchFailed(too_late if fault.kind == "timeout" else fault.detail) from None
            facts.status, facts.body_bytes = answer.status, len(answer.body)
            if answer.status in _REDIRECTS:
                url = _redirect_target(url, answer, hop, ask.policy)
                facts.redirected_to = redact_url(url)
                continue
            if answer.status != 200:
                raise _FetchFailed(_("the server answered HTTP {status}", status=answer.status))
            if answer.truncated:
                declared = answer.declared
                size = f": {declared:,}" if declared is not None else ""
                limit = f"{self.max_bytes:,}"
                raise _FetchFailed(
                    _("the CRL is larger than {limit} bytes{size}", limit=limit, size=size)
                )
            return answer.body
        raise _FetchFailed(_("too many redirects"))  # pragma: no cover - the loop returns/raises


def _redirect_target(url: str, answer: _http.Answer, hop: int, policy: DestinationPolicy) -> str:
    """Where a redirect of a CRL download leads, if it may be followed (else _FetchFailed)."""
    location = str(answer.headers.get("location", ""))
    target = urljoin(url, location)
    if hop or not location:
        raise _FetchFailed(_("HTTP {status}: too many redirects", status=answer.status))
    if urlsplit(target).scheme.lower() not in ("http", "https"):
        raise _FetchFailed(
            _("HTTP {status}: redirect to {url}", status=answer.status, url=redact_url(target))
        )
    refusal = policy.refusal(target)
    if refusal is not None:
        raise _FetchFailed(
            _("HTTP {status}: the redirect to {refusal}", status=answer.status, refusal=refusal)
        )
    return target


_NO_POINT: Final = RevocationAnswer(
    RevocationStatus.UNKNOWN, _("the certificate names no http(s) CRL distribution point")
)


def _out_of_time(url: str, ask: _Ask) -> _Failure:
    """The answer for a waiter whose deadline came first (never stored: not the URL's fault)."""
    return _Failure(ask.too_late(url), _LONG_AGO)


def _refused(url: str, policy: DestinationPolicy) -> _Failure | None:
    """A distribution point the policy refuses: unknown, and never fetched (nor stored)."""
    refusal = policy.refusal(url)
    if refusal is None:
        return None
    return _Failure(
        _(
            "the CRL is not fetched: {refusal}, which the network's destination policy refuses",
            refusal=refusal,
        ),
        _LONG_AGO,
    )
