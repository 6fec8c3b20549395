"""The SML layer: where in DNS a participant lives, and which SMP the answer points to.

Two halves, in the sans-I/O style of the rest of the library:

* **Pure**: :func:`naptr_name` / :func:`cname_name` compute the DNS names the SML publishes,
  :func:`interpret_naptr` turns NAPTR records into the SMP base URL, :func:`apply_regexp` is the
  RFC 3402 ``!regex!replacement!flags`` rewrite. No sockets, no clock.
* **Shells**: :class:`SmlResolver` and :class:`AsyncSmlResolver` ask DNS and keep a
  TTL-respecting cache. A lookup is written once, as a generator (``_Core.steps``: the cache,
  the question, the probe of the zone shared by the lookups that need it at the same time, the
  decision) that yields the I/O it needs; each shell only performs it, with blocking calls or
  awaits, so sync and async give the same answers and the same errors. The query and reply
  bytes are :mod:`peppolnet.dnswire`'s and the sockets :mod:`peppolnet.dnsquery`'s - one NAPTR
  question does not need a general DNS library per query, and bulk lookups are bound by client
  CPU. dnspython is kept for what it does well here: reading the system's nameservers and
  checking the zone name.

Outcomes are kept apart because callers act on them differently: :class:`NotRegistered` (an
answer: the SML has no record), :class:`NoSmpService` (an answer: records, but no usable SMP),
:class:`DnsFailure` (a fault: nobody knows; retry later). A DNS fault is never reported as "not
registered" - that would tell a user their customer cannot receive invoices when in fact the
question was never answered.

Nor is a denial that cannot be shown to come from the SML. Captive portals, filtered or offline
networks and some corporate or container resolvers answer NXDOMAIN for every name; believing
them turns a whole customer register into "not registered". So a negative answer (NXDOMAIN, or
no record of the asked type) is believed only when it carries the SOA of the SML zone (or of a
zone under it) in its authority section, as an authoritative server's denial does (RFC 2308
§3), or when the same resolver, asked for the zone's SOA, shows it (:func:`negative_trust`,
:func:`zone_proof`: pure, shared by both shells). Otherwise it is
:class:`~peppolnet.errors.UntrustedNegative`, a retryable :class:`DnsFailure` naming the
resolver. The probe is one SOA query per resolver, remembered for the SOA's TTL (at most
``max_negative_ttl``), so it costs one query per zone and TTL, not one per participant.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import hashlib
import ipaddress
import re
import threading
import time
import urllib.parse
import weakref
from collections.abc import Awaitable, Callable, Generator, Sequence
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Protocol, Self

import dns.exception
import dns.message
import dns.name
import dns.resolver

from peppolnet import _observe, dnswire
from peppolnet._logging import logger
from peppolnet._memory import ByteLru, SampledSize
from peppolnet.clock import Clock, as_clock
from peppolnet.destinations import redact_url
from peppolnet.dnsquery import UdpEndpoints, UdpSockets, ask, ask_async
from peppolnet.dnssec.anchors import ROOT_ANCHORS, TrustAnchor, parse_anchors
from peppolnet.dnswire import DnsResponse, NaptrRecord
from peppolnet.errors import (
    DnsFailure,
    DnssecBogus,
    DnssecFailure,
    InvalidInput,
    NoSmpService,
    NotRegistered,
    PeppolnetError,
    UntrustedNegative,
)
from peppolnet.i18n import _
from peppolnet.identifiers import ParticipantId, lower

if TYPE_CHECKING:
    from peppolnet.dnssec.chain import ChainLink
    from peppolnet.dnssec.validator import DnssecResult, KeyCache
    from peppolnet.dnssec.validator import Steps as DnssecSteps

#: What the resolvers asked and decided (DEBUG), and denials they could not believe (WARNING).
_log = logger("peppolnet.sml")

__all__ = [
    "PRODUCTION_ZONE",
    "SMP_SERVICE",
    "TEST_ZONE",
    "AsyncSmlResolver",
    "NaptrRecord",
    "NegativeTrust",
    "SmlAnswer",
    "SmlResolver",
    "ZoneProof",
    "apply_regexp",
    "cname_label",
    "cname_name",
    "interpret_naptr",
    "nameservers",
    "naptr_label",
    "naptr_name",
    "negative_trust",
    "zone_proof",
]

PRODUCTION_ZONE: Final = "participant.sml.prod.tech.peppol.org"
"""The OpenPeppol production SML zone (OpenPeppol SML service)."""
TEST_ZONE: Final = "participant.sml.test.tech.peppol.org"
"""The OpenPeppol test SML zone (OpenPeppol SML service)."""
SMP_SERVICE: Final = "Meta:SMP"
"""The U-NAPTR service name of an SMP (compared case-insensitively, RFC 4848)."""

_MAX_REGEXP_LENGTH: Final = 1024
_MAX_URL_LENGTH: Final = 2048
_DEFAULT_NEGATIVE_TTL: Final = 60.0
_FAILED_PROBE_TTL: Final = 5.0
"""Seconds a failed probe of the zone is remembered. Long enough that a bulk run behind a lying
resolver does not double its queries; short enough that a passing fault is soon forgotten. While
it is remembered, denials without the zone's SOA are "unknown" - the safe side."""


# --- record names (pure) -------------------------------------------------------------------------


def naptr_label(value: str) -> str:
    """The NAPTR label of a raw identifier value: base32(sha256(lower(value))), no ``=``, lower.

    Only the value is hashed (``0088:123abc``), never ``scheme::value``.
    """
    digest = hashlib.sha256(lower(value).encode("utf-8")).digest()
    # RFC 4648 base32 of the 256-bit digest: 52 symbols (the last padded with 4 zero bits), ten
    # bits - two symbols - at a time. base64.b32encode does it five bits at a time in Python:
    # 11.4 vs 4.5 us per label, same run; a label is made per lookup (tests/test_sml.py
    # compares the two on any digest).
    bits = int.from_bytes(digest, "big") << 4
    return "".join([_B32_PAIRS[(bits >> shift) & 1023] for shift in range(250, -1, -10)])


_B32_PAIRS: Final = [
    a + b for a in "abcdefghijklmnopqrstuvwxyz234567" for b in "abcdefghijklmnopqrstuvwxyz234567"
]


def cname_label(value: str) -> str:
    """The legacy CNAME label of a raw identifier value: ``B-`` + hex(md5(lower(value)))."""
    return "B-" + hashlib.md5(lower(value).encode("utf-8"), usedforsecurity=False).hexdigest()


def _zone(zone: str) -> str:
    zone = zone.strip().rstrip(".")
    if not zone or ".." in zone or any(c.isspace() for c in zone):
        raise InvalidInput(_("the SML zone {zone} is not a DNS name", zone=repr(zone)))
    return zone


def naptr_name(participant: ParticipantId, zone: str) -> str:
    """The DNS name of the participant's NAPTR record (PFUOI 4.4 / SML 1.3), no trailing dot.

    >>> naptr_name(ParticipantId.parse("9915:test"), "participant.sml.test.tech.peppol.org")
    'eh5boavaktmbgzyh2a63dz4qov33fvp5nsdvqklucfraayoodw6a.iso6523-actorid-upis.participant.sml.test.tech.peppol.org'
    """
    return _naptr_name(participant, _zone(zone))


def _naptr_name(participant: ParticipantId, zone: str) -> str:
    """:func:`naptr_name` in a zone already checked by :func:`_zone` (a resolver's)."""
    return f"{naptr_label(participant.value)}.{participant.scheme.lower()}.{zone}"


def cname_name(participant: ParticipantId, zone: str) -> str:
    """The legacy ``B-<md5>`` DNS name (PFUOI <= 4.3), kept for old zones and test vectors."""
    return f"{cname_label(participant.value)}.{participant.scheme.lower()}.{_zone(zone)}"


# --- NAPTR interpretation (pure) -----------------------------------------------------------------


def _split_regexp(regexp: str) -> tuple[str, str, str]:
    """Split ``<d>ere<d>repl<d>flags`` at unescaped delimiters (``\\<d>`` is a literal ``<d>``)."""
    if len(regexp) < 3:
        raise InvalidInput(_("the NAPTR regexp {regexp} is too short", regexp=repr(regexp)))
    if len(regexp) > _MAX_REGEXP_LENGTH:
        raise InvalidInput(
            _("the NAPTR regexp is {length} characters long; too long", length=len(regexp))
        )
    delim = regexp[0]
    if delim.isdigit() or delim == "\\" or delim == "i":
        raise InvalidInput(
            _(
                "the NAPTR regexp {regexp} uses {delim} as delimiter",
                regexp=repr(regexp),
                delim=repr(delim),
            )
        )
    if "\\" not in regexp:
        # No escapes (what the SML publishes): every delimiter splits.
        plain = regexp[1:].split(delim)
        if len(plain) != 3:
            raise InvalidInput(
                _(
                    "the NAPTR regexp {regexp} must have the form "
                    "{delim}regex{delim}replacement{delim}",
                    regexp=repr(regexp),
                    delim=delim,
                )
            )
        return plain[0], plain[1], plain[2]
    parts: list[str] = []
    current: list[str] = []
    i = 1
    while i < len(regexp):
        c = regexp[i]
        if c == "\\" and i + 1 < len(regexp):
            nxt = regexp[i + 1]
            # An escaped delimiter is the delimiter itself; other escapes stay for the next step.
            current.append(nxt if nxt == delim else c + nxt)
            i += 2
            continue
        if c == delim:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    if len(parts) != 3:
        raise InvalidInput(
            _(
                "the NAPTR regexp {regexp} must have the form "
                "{delim}regex{delim}replacement{delim}",
                regexp=repr(regexp),
                delim=delim,
            )
        )
    return parts[0], parts[1], parts[2]


# A quantified group, or a quantifier on a quantifier: the shapes of catastrophic backtracking.
# DNS answers are not authenticated, so a spoofed NAPTR must not be able to hang a lookup.
_NESTED_QUANTIFIER: Final = re.compile(r"\)[*+?{]|[*+}]\)?[*+{]")
_MAX_ERE_LENGTH: Final = 256


@functools.lru_cache(maxsize=256)
def _compile(ere: str, ignore_case: bool) -> re.Pattern[str]:
    if len(ere) > _MAX_ERE_LENGTH or _NESTED_QUANTIFIER.search(ere):
        raise InvalidInput(
            _(
                "the NAPTR regular expression {ere} is too long or has nested quantifiers; it is "
                "not run",
                ere=repr(ere[:80]),
            )
        )
    try:
        return re.compile(ere, re.IGNORECASE if ignore_case else 0)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        raise InvalidInput(
            _("the NAPTR regular expression {ere} is not valid: {error}", ere=repr(ere), error=exc)
        ) from None


_FULL_MATCH_ERES: Final = frozenset({".*", "^.*$", "^.*", ".*$", "^(.*)$", "(.*)"})


def _expand(repl: str, groups: Sequence[str | None]) -> str:
    out: list[str] = []
    i = 0
    while i < len(repl):
        c = repl[i]
        if c == "\\" and i + 1 < len(repl):
            nxt = repl[i + 1]
            if nxt.isdigit():
                n = int(nxt)
                if n >= len(groups):
                    raise InvalidInput(
                        _("the NAPTR replacement {repl} refers to a missing group", repl=repr(repl))
                    )
                out.append(groups[n] or "")
            else:
                out.append(nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def apply_regexp(regexp: str, subject: str) -> str:
    """Apply an RFC 3402 substitution ``<d>regex<d>replacement<d>flags`` to ``subject``.

    The delimiter is the first character. The result is the replacement with ``\\1`` .. ``\\9``
    back-references filled in (``\\0`` is the whole match); the only flag is ``i``. The SML
    publishes ``!.*!URL!`` or ``!^.*$!URL!`` - a full replacement - which is answered without
    running a regular expression at all (cheap, and immune to pathological patterns).

    >>> apply_regexp("!.*!https://smp.example.com!", "anything")
    'https://smp.example.com'
    >>> apply_regexp(r"!^([a-z0-9]+)\\..*$!https://\\1.smp.example!", "abc.zone")
    'https://abc.smp.example'

    Raises :class:`~peppolnet.errors.InvalidInput` when the expression is malformed or does not
    match.
    """
    ere, repl, flags = _split_regexp(regexp)
    if flags not in ("", "i"):
        raise InvalidInput(
            _(
                "the NAPTR regexp {regexp} has unknown flags {flags}",
                regexp=repr(regexp),
                flags=repr(flags),
            )
        )
    if ere in _FULL_MATCH_ERES and "\\" not in repl:
        return repl
    match = _compile(ere, flags == "i").search(subject)
    if match is None:
        raise InvalidInput(
            _(
                "the NAPTR regular expression {ere} does not match {subject}",
                ere=repr(ere),
                subject=repr(subject),
            )
        )
    return _expand(repl, (match.group(0), *match.groups()))


@functools.lru_cache(maxsize=1024)  # a pure function of text; a network has few SMP URLs
def _check_url(url: str, *, require_https: bool) -> str:
    """The SMP base URL, or a reason (raised as NoSmpService by the caller) why it is unusable.

    Messages show the URL without credentials (:func:`~peppolnet.destinations.redact_url`)."""
    shown = redact_url(url)[:80]
    # " " is the only character that is whitespace and printable (checked over all of Unicode)
    if len(url) > _MAX_URL_LENGTH or " " in url or not url.isprintable():
        raise InvalidInput(
            _(
                "the SMP URL {shown} contains whitespace or control characters, or is too long",
                shown=repr(shown),
            )
        )
    try:
        parts = urllib.parse.urlsplit(url)
        _port = parts.port  # raises ValueError on a malformed port
        # the host must be usable by an HTTP client: IDNA-encodable, no empty labels
        (parts.hostname or "").encode("idna")
    except (ValueError, UnicodeError):
        raise InvalidInput(_("the SMP URL {shown} is not a valid URL", shown=repr(shown))) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            _("the SMP URL {shown} is not an absolute http(s) URL", shown=repr(shown))
        )
    if parts.query or parts.fragment:
        raise InvalidInput(
            _("the SMP URL {shown} must not have a query or fragment", shown=repr(shown))
        )
    if require_https and scheme != "https":
        raise InvalidInput(
            _("the SMP URL {shown} uses http, but this network requires https", shown=repr(shown))
        )
    return url.rstrip("/")


def interpret_naptr(
    records: Sequence[NaptrRecord], *, require_https: bool, subject: str = ""
) -> str:
    """The SMP base URL from a participant's NAPTR records (no trailing ``/``).

    Keeps U-NAPTR records (flag ``U``) for the ``Meta:SMP`` service, both compared
    case-insensitively; tries them by order then preference and returns the first that rewrites
    (``subject`` is the string the regexp is applied to - the queried DNS name) to an absolute
    http(s) URL, https when ``require_https``.

    Every failure is :class:`~peppolnet.errors.NoSmpService`, including "the URL is not http(s)"
    and "http where https is required": the SML *did* answer, and retrying will not help, so it
    is neither a fault (:class:`~peppolnet.errors.DnsFailure`) nor "not registered"; and it is not
    an :class:`~peppolnet.errors.SmpError`, because no SMP was ever asked. In words: "registered,
    but without a usable SMP service". The message says which of the cases it was.
    """
    candidates = sorted(
        (r for r in records if r.flags.lower() == "u" and r.service.lower() == SMP_SERVICE.lower()),
        key=lambda r: (r.order, r.preference),
    )
    if not candidates:
        services = sorted({r.service for r in records}) or ["none"]
        raise NoSmpService(
            _(
                "the participant has NAPTR records in the SML, but none for the Meta:SMP service "
                "(services found: {listed})",
                listed=", ".join(services),
            )
        )
    problems: list[str] = []
    for record in candidates:
        try:
            return _check_url(apply_regexp(record.regexp, subject), require_https=require_https)
        except InvalidInput as exc:
            problems.append(exc.message)
    raise NoSmpService(
        _(
            "the participant's Meta:SMP record in the SML gives no usable SMP URL: {problem}",
            problem=problems[0],
        )
    )


# --- negative answers: when "not registered" is believed (pure) ----------------------------------


class NegativeTrust(enum.Enum):
    """How far a negative answer (NXDOMAIN, or no record of the asked type) is believed."""

    IN_BAND = "in-band"
    """It carries the SOA of the SML zone or of a zone under it: the zone's servers denied."""
    PROBED = "probed"
    """It carries no such SOA, but the same resolver showed the zone when asked for its SOA."""
    PROBE = "probe"
    """It carries no such SOA, and the resolver has not been asked about the zone yet."""
    UNTRUSTED = "untrusted"
    """It carries no such SOA, and the resolver could not show the zone: a fault, not a "no"."""


def _is_denial(response: DnsResponse) -> bool:
    """NXDOMAIN, or an answer without records of the asked type (NODATA)."""
    return response.rcode == dnswire.NXDOMAIN or response.ttl is None


def _within(name: str, zone: str) -> bool:
    """``name`` is ``zone`` or a name under it (label-wise, case-insensitive, final dot ignored)."""
    name = name.lower().rstrip(".")
    zone = zone.lower().rstrip(".")
    return name == zone or name.endswith("." + zone)


@dataclass(frozen=True, slots=True)
class ZoneProof:
    """What one resolver showed when asked for the SML zone's SOA (the probe of the zone).

    ``shown``: it answered in a way only a resolver that reaches the zone can; then
    ``negative_ttl`` is the zone's negative TTL (``min(SOA TTL, MINIMUM)``, RFC 2308), used for
    the denials this proof vouches for. ``keep`` is how many seconds the result may be
    remembered before the resolver's own cap (the SOA's TTL when shown; briefly when not; 0:
    not at all). ``detail`` says in words what the resolver did, for the error message.
    """

    server: str
    shown: bool
    negative_ttl: int | None = None
    keep: float = 0.0
    detail: str = ""


def zone_proof(zone: str, server: str, outcome: DnsResponse | DnsFailure | None) -> ZoneProof:
    """Interpret the reply of ``server`` to an SOA query for ``zone`` (None: it was not asked).

    The zone is shown by a NOERROR answer with an SOA for the zone's name, or by a NOERROR
    answer without one whose authority section carries the SOA of an enclosing zone other than
    the root: then the zone's name exists, it is just not a zone cut of its own (a production
    SML zone may be a name inside its operator's zone; demanding a cut would make every honest
    denial there "unknown"). The root's SOA proves nothing, since no SML name lives in the root
    zone itself. NXDOMAIN for the zone itself - what a resolver that denies every name says -
    or a failure to answer does not show it.
    """
    if outcome is None:
        return ZoneProof(server, False, detail=_("no time was left to ask it for that SOA"))
    if isinstance(outcome, DnsFailure):
        detail = _("asking it for that SOA failed: {error}", error=outcome.message)
        return ZoneProof(server, False, keep=_FAILED_PROBE_TTL, detail=detail)
    if outcome.rcode == dnswire.NOERROR and outcome.ttl is not None:
        return ZoneProof(server, True, outcome.negative_ttl, float(outcome.ttl))
    owner = outcome.soa_owner
    if outcome.rcode == dnswire.NOERROR and owner and _within(zone, owner):
        keep = float(outcome.negative_ttl or 0)
        return ZoneProof(server, True, outcome.negative_ttl, keep)
    if outcome.rcode == dnswire.NXDOMAIN:
        detail = _("asked for that SOA, it said NXDOMAIN for the zone itself")
    else:
        detail = _("asked for that SOA, it answered without it")
    return ZoneProof(server, False, keep=_FAILED_PROBE_TTL, detail=detail)


def negative_trust(
    response: DnsResponse, zone: str, proof: ZoneProof | None = None
) -> NegativeTrust:
    """How far the negative ``response`` for a name in ``zone`` is believed, given ``proof``.

    In band when its authority section carries the SOA of ``zone`` or of a zone under it - an
    authoritative denial must (RFC 2308 §3); the SOA of a zone above it (the root's, say) does
    not show that the SML zone itself was reached, so it does not count. Otherwise the
    resolver's :class:`ZoneProof` decides: none yet is :attr:`NegativeTrust.PROBE` (ask the zone's
    SOA first), one that shows the zone is :attr:`~NegativeTrust.PROBED`, one that does not is
    :attr:`~NegativeTrust.UNTRUSTED`.

    >>> nx = DnsResponse(dnswire.NXDOMAIN, False, negative_ttl=60, soa_owner="sml.example")
    >>> negative_trust(nx, "sml.example").value
    'in-band'
    >>> negative_trust(DnsResponse(dnswire.NXDOMAIN, False), "sml.example").value
    'probe'
    """
    if response.soa_owner is not None and _within(response.soa_owner, zone):
        return NegativeTrust.IN_BAND
    if proof is None:
        return NegativeTrust.PROBE
    return NegativeTrust.PROBED if proof.shown else NegativeTrust.UNTRUSTED


# --- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmlAnswer:
    """The SML's answer for one participant: where its SMP is.

    ``ttl`` is the remaining lifetime in seconds (for a cached answer, what is left of it);
    ``elapsed`` is the wall time the lookup took, in seconds; ``records`` is empty in legacy
    CNAME mode. ``dnssec`` is what DNSSEC said of the answer (secure or insecure; a bogus one
    is never an answer) when the resolver validates, else None.
    """

    participant: ParticipantId
    record_name: str
    smp_url: str
    records: tuple[NaptrRecord, ...]
    ttl: int
    from_cache: bool
    elapsed: float
    dnssec: DnssecResult | None = None


class _NetworkLike(Protocol):
    """What :meth:`SmlResolver.for_network` needs of a ``peppolnet.network.Network``."""

    @property
    def sml_zone(self) -> str: ...
    @property
    def nameservers(self) -> Sequence[str]: ...
    @property
    def dns_port(self) -> int: ...
    @property
    def require_https(self) -> bool: ...
    @property
    def legacy_cname(self) -> bool: ...


# --- the shared core of the shells ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    """A cached outcome: an answer (``error`` None) or an answer-error to raise again."""

    expires: float
    record_name: str
    smp_url: str
    records: tuple[NaptrRecord, ...]
    error: type[NotRegistered | NoSmpService] | None = None
    message: str = ""
    dnssec: DnssecResult | None = None


class _Cache:
    """A thread-safe LRU of outcomes keyed by DNS name, expiring by TTL, bounded by ``size``
    entries and ``max_bytes`` of estimated entry sizes (:mod:`peppolnet._memory`)."""

    def __init__(self, size: int, clock: Callable[[], float], max_bytes: int) -> None:
        self._clock = clock
        self._data: ByteLru[str, _Entry] = ByteLru(
            max_bytes, max_entries=size, size=SampledSize(_entry_kind)
        )
        self._lock = threading.Lock()

    def get(self, key: str) -> _Entry | None:
        now = self._clock()
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry.expires <= now:
                self._data.pop(key)
                return None
            return entry

    def put(self, key: str, entry: _Entry) -> None:
        if entry.expires <= self._clock():
            return
        with self._lock:
            self._data.put(key, entry)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def cap(self, key: str, expires: float) -> None:
        """Let the entry at ``key`` (if any) expire at ``expires`` at the latest."""
        with self._lock:
            entry = self._data.peek(key)
            if entry is not None and entry.expires > expires:
                self._data.replace(key, replace(entry, expires=expires))

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        """The estimated bytes of the entries held now."""
        return self._data.nbytes


def _entry_kind(entry: _Entry) -> object:
    """An answer and each kind of answer-error have their own shape (and size)."""
    return entry.error


class _Flight(Protocol):
    """A probe of the zone in flight, as the lookups waiting for it see it: a future
    (``concurrent.futures.Future`` for threads, ``asyncio.Future`` on an event loop)."""

    def set_result(self, result: ZoneProof, /) -> None: ...


@dataclass(slots=True)  # not frozen: that costs a microsecond per lookup, and none changes it
class _Ask:
    """Ask ``servers`` (on ``port``, over TCP only when ``tcp``) for ``rdtype`` at ``name``
    within ``timeout`` seconds: the shell calls :func:`~peppolnet.dnsquery.ask` (or
    ``ask_async``) and sends back the :class:`DnsResponse` or throws in the
    :class:`DnsFailure`."""

    name: str
    rdtype: int
    servers: tuple[str, ...]
    port: int
    timeout: float
    tcp: bool
    dnssec: bool = False


@dataclass(slots=True)
class _Await:
    """Wait for another lookup's probe of the zone: the shell sends back the flight's
    :class:`ZoneProof` (``flight`` is the future its own ``new_flight`` made) - or throws in a
    ``TimeoutError`` after ``timeout`` seconds, what is left of the waiting lookup's own time:
    the probe runs in the time of the lookup that started it, which may have more."""

    flight: _Flight
    timeout: float


_Steps = Generator[_Ask | _Await, Any, SmlAnswer]
"""One lookup, sans-I/O: it yields what it needs done and returns the answer (or raises
:class:`NotRegistered`, :class:`NoSmpService`, :class:`DnsFailure`). The shells
(:meth:`SmlResolver.resolve`, :meth:`AsyncSmlResolver.resolve`) perform each request with
blocking calls or awaits - the shape of :func:`peppolnet.lookup._lookup_steps`."""


def _step(steps: _Steps, result: Any, error: BaseException | None) -> _Ask | _Await | SmlAnswer:
    """Hand the outcome of the last request to ``steps`` (``error`` thrown in, so the flow can
    catch it and its ``finally`` runs): the next request, or the lookup's answer."""
    try:
        return steps.send(result) if error is None else steps.throw(error)
    except StopIteration as stop:
        answer: SmlAnswer = stop.value
        return answer


class _Core:
    """Everything the sync and async resolvers share: names, cache, the flow of a lookup
    (:meth:`steps`), the probes of the zone and the outcome decisions."""

    def __init__(
        self,
        zone: str,
        *,
        timeout: float,
        cache: bool,
        cache_size: int,
        cache_bytes: int,
        max_ttl: float,
        max_negative_ttl: float,
        require_https: bool,
        legacy_cname: bool,
        clock: Clock,
        dnssec: bool = False,
        anchors: tuple[TrustAnchor, ...] = (),
    ) -> None:
        self.zone = _zone(zone)
        try:
            dns.name.from_text(self.zone)
        except dns.exception.DNSException as exc:
            raise InvalidInput(
                _("the SML zone {zone} is not a DNS name: {error}", zone=repr(zone), error=exc)
            ) from None
        if timeout <= 0:
            raise InvalidInput(
                _("the DNS timeout must be positive, not {timeout}", timeout=repr(timeout))
            )
        if legacy_cname and require_https:
            raise InvalidInput(
                _(
                    "legacy CNAME lookups give http:// SMP URLs; pass require_https=False to use "
                    "them"
                )
            )
        self.timeout = float(timeout)
        self.require_https = require_https
        self.legacy_cname = legacy_cname
        self.rdtype = dnswire.CNAME if legacy_cname else dnswire.NAPTR
        # What each nameserver showed of the zone (see zone_proof); one entry per nameserver.
        self._proofs: dict[str, tuple[float, ZoneProof]] = {}
        self._proofs_lock = threading.Lock()
        # The probes in flight, one per (scope, nameserver): lookups denied while one runs wait
        # for its proof (see _proof_steps). A scope is an event loop (an asyncio future belongs
        # to one) or None for threads. Its own lock: _proofs_lock is taken inside it.
        self._flights: dict[tuple[object, str], _Flight] = {}
        self._flights_lock = threading.Lock()
        self._keep_proofs = cache
        self.max_ttl = max_ttl
        self.max_negative_ttl = max_negative_ttl
        # TTLs are ages: they run on the monotonic reading of the one clock the owner passed in
        self.clock = clock.monotonic
        self.cache = _Cache(cache_size if cache else 0, clock.monotonic, cache_bytes)
        # DNSSEC (opt-in): signatures must be valid at the owner's "now" (wall time)
        self.dnssec = dnssec
        self.anchors = anchors
        self.now = clock.now
        self._keys: KeyCache | None = None
        # whom to ask, and how: set by the resolver once it has checked them
        self.servers: tuple[str, ...] = ()
        self.port = 53
        self.tcp = False

    def lifetime(self, timeout: float | None) -> float:
        """The time one question may take: ours, or less when the caller has less."""
        if timeout is None:
            return self.timeout
        return max(0.001, min(self.timeout, float(timeout)))

    def participant(self, participant: ParticipantId | str) -> ParticipantId:
        if isinstance(participant, ParticipantId):
            return participant
        return ParticipantId.parse(participant)

    def record_name(self, participant: ParticipantId) -> str:
        if self.legacy_cname:
            return cname_name(participant, self.zone)
        return _naptr_name(participant, self.zone)

    def cached(self, participant: ParticipantId, name: str, started: float) -> SmlAnswer | None:
        entry = self.cache.get(name.lower())
        if entry is None:
            return None
        remaining = max(0, int(entry.expires - self.clock()))
        _log.debug(
            "SML cache hit for %s: %s (%d s left)",
            name,
            entry.error.__name__ if entry.error else entry.smp_url,
            remaining,
        )
        if entry.error is not None:
            raise _answer_error(entry.error, entry.message, entry.dnssec)
        return SmlAnswer(
            participant,
            name,
            entry.smp_url,
            entry.records,
            remaining,
            True,
            time.perf_counter() - started,
            entry.dnssec,
        )

    def _store_error(
        self,
        name: str,
        error: type[NotRegistered | NoSmpService],
        message: str,
        ttl: float,
        security: DnssecResult | None,
    ) -> PeppolnetError:
        ttl = min(ttl, self.max_negative_ttl)
        entry = _Entry(self.clock() + ttl, name, "", (), error, message, security)
        self.cache.put(name.lower(), entry)
        return _answer_error(error, message, security)

    def not_registered(
        self,
        participant: ParticipantId,
        name: str,
        negative_ttl: int | None,
        security: DnssecResult | None = None,
    ) -> PeppolnetError:
        message = _(
            "{participant} is not registered in the SML zone {zone} (no {rdtype} record at {name})",
            participant=participant.uri,
            zone=self.zone,
            rdtype=dnswire.rdtype_text(self.rdtype),
            name=name,
        )
        ttl = _DEFAULT_NEGATIVE_TTL if negative_ttl is None else float(negative_ttl)
        return self._store_error(name, NotRegistered, message, ttl, security)

    def untrusted(
        self, name: str, response: DnsResponse, proof: ZoneProof | None
    ) -> UntrustedNegative:
        """The fault for a denial that could not be shown to come from the SML zone."""
        resolver = (
            _("the resolver {server}", server=response.server)
            if response.server
            else _("the resolver")
        )
        if response.rcode == dnswire.NXDOMAIN:
            said = _("{resolver} said NXDOMAIN for {name}", resolver=resolver, name=name)
        else:
            rdtype = dnswire.rdtype_text(self.rdtype)
            said = _(
                "{resolver} said there is no {rdtype} record at {name}",
                resolver=resolver,
                rdtype=rdtype,
                name=name,
            )
        carried = (
            _("no SOA")
            if response.soa_owner is None
            else _("the SOA of {owner}", owner=response.soa_owner)
        )
        why = proof.detail if proof is not None else _("it was not asked for that SOA")
        fault = UntrustedNegative(
            _(
                "{said}, but its answer carried {carried} and it could not show the SOA of the "
                "SML zone {zone} ({why}); the answer cannot be trusted as 'not registered'",
                said=said,
                carried=carried,
                zone=self.zone,
                why=why,
            ),
            nameserver=response.server,
            name=name,
        )
        _log.warning("%s", fault)
        return fault

    def wants_proof(self, response: DnsResponse, security: DnssecResult | None = None) -> bool:
        """Whether ``response`` is a denial that only a :class:`ZoneProof` of its nameserver can
        make believable (the shell then gets one: remembered, or by asking the zone's SOA). A
        denial DNSSEC proved needs none."""
        if not _is_denial(response) or _secure(security):
            return False
        return negative_trust(response, self.zone) is NegativeTrust.PROBE

    def known_proof(self, server: str) -> ZoneProof | None:
        """What ``server`` showed of the zone, while that is remembered."""
        with self._proofs_lock:
            entry = self._proofs.get(server)
            if entry is None:
                return None
            if entry[0] <= self.clock():
                del self._proofs[server]
                return None
            return entry[1]

    def learn_proof(self, server: str, outcome: DnsResponse | DnsFailure | None) -> ZoneProof:
        """Judge ``server``'s reply to the zone's SOA query and remember it (see zone_proof).

        A shown zone is remembered for the SOA's TTL, but never longer than a denial is cached
        (``max_negative_ttl``): the proof vouches for denials, so it must not outlive them - a
        laptop that moves from the office to a captive portal must not carry its proof along.
        """
        proof = zone_proof(self.zone, server, outcome)
        _log.debug("zone %s as shown by %s: %s %s", self.zone, server, proof.shown, proof.detail)
        keep = min(proof.keep, self.max_negative_ttl)
        if self._keep_proofs and keep > 0:
            with self._proofs_lock:
                self._proofs[server] = (self.clock() + keep, proof)
        return proof

    def forget_proofs(self) -> None:
        with self._proofs_lock:
            self._proofs.clear()

    def time_left(self, started: float, lifetime: float | None = None) -> float:
        """Seconds left of this lookup's ``timeout`` - or of the shorter ``lifetime`` a caller's
        deadline gave it (``started`` from ``time.perf_counter``)."""
        return (lifetime or self.timeout) - (time.perf_counter() - started)

    def steps(
        self,
        participant: ParticipantId | str,
        use_cache: bool,
        timeout: float | None,
        scope: object,
        new_flight: Callable[[], _Flight],
    ) -> _Steps:
        """One lookup as a generator of what it needs done (see :data:`_Steps`).

        The cache first; then the question to the nameservers, within the resolver's timeout or
        the shorter ``timeout`` the caller has left (:meth:`lifetime`); a denial that needs its
        nameserver's proof of the zone gets it (:meth:`_proof_steps`: remembered, shared with
        the lookups of ``scope`` that ask at the same time, or asked now, in what is left of
        that time); last the decision (:meth:`from_response`), which raises the answer-errors.
        """
        started = time.perf_counter()
        pid = self.participant(participant)
        name = self.record_name(pid)
        if use_cache:
            hit = self.cached(pid, name, started)
            if hit is not None:
                return hit
        lifetime = self.lifetime(timeout)
        question = _Ask(name, self.rdtype, self.servers, self.port, lifetime, self.tcp, self.dnssec)
        response: DnsResponse = yield question
        security = None
        if self.dnssec:
            security = yield from self._dnssec_steps(name, response, started, lifetime)
        proof = None
        if self.wants_proof(response, security):
            server = response.server
            proof = yield from self._proof_steps(server, started, lifetime, scope, new_flight)
        return self.from_response(pid, name, response, started, proof, security)

    def _dnssec_steps(
        self, name: str, response: DnsResponse, started: float, lifetime: float
    ) -> Generator[_Ask, Any, DnssecResult]:
        """Validate ``response`` (:func:`peppolnet.dnssec.validator.validate`): its DNSKEY and
        DS questions go to the same nameservers, within what is left of ``lifetime``. A bogus
        answer, or one whose chain could not be fetched, ends the lookup as a fault. A trace
        watching (:mod:`peppolnet._observe`) is told the outcome and the zones walked."""
        from peppolnet.dnssec.validator import DnssecStatus, KeyCache, validate

        if self._keys is None:
            self._keys = KeyCache(self.clock, max_ttl=self.max_ttl)
        message = _message(response)
        now = self.now().timestamp()
        observer = _observe.current()
        chain: list[ChainLink] | None = [] if observer is not None else None
        validation = validate(
            name, self.rdtype, message, self.anchors, now=now, cache=self._keys, chain=chain
        )
        walked = chain if chain is not None else ()
        try:
            result = yield from self._validation_steps(name, validation, started, lifetime)
        except DnssecFailure as failure:  # the chain could not be fetched: no outcome
            if observer is not None:
                observer.dnssec(name, "indeterminate", failure.message, chain=walked)
            raise
        _log.debug("DNSSEC %s: %s - %s", name, result.status, result.detail)
        if observer is not None:
            status = result.status.value
            observer.dnssec(name, status, result.detail, zone=result.zone, chain=walked)
        if result.status is DnssecStatus.BOGUS:
            bogus = DnssecBogus(
                _("the SML's answer is bogus (DNSSEC): {detail}", detail=result.detail),
                result=result,
            )
            _log.warning("%s", bogus)
            raise bogus
        return result

    def _validation_steps(
        self, name: str, validation: DnssecSteps, started: float, lifetime: float
    ) -> Generator[_Ask, Any, DnssecResult]:
        """Ask ``validation``'s DNSKEY and DS questions; its result, or :class:`DnssecFailure`
        when a question fails or no time is left for it."""
        try:
            query = next(validation)
            while True:
                left = self.time_left(started, lifetime)
                if left <= 0:
                    raise DnssecFailure(
                        _(
                            "no time was left to fetch the DNSSEC chain of trust of {name}",
                            name=name,
                        ),
                        retryable=True,
                    )
                try:
                    reply = yield _Ask(
                        query.name, query.rdtype, self.servers, self.port, left, self.tcp, True
                    )
                except DnsFailure as exc:
                    raise DnssecFailure(
                        _(
                            "the DNSSEC chain of trust of {name} could not be fetched: {reason}",
                            name=name,
                            reason=exc.message,
                        ),
                        retryable=exc.retryable,
                    ) from None
                query = validation.send(_message(reply))
        except StopIteration as stop:
            result: DnssecResult = stop.value
            return result

    def _proof_steps(
        self,
        server: str,
        started: float,
        lifetime: float,
        scope: object,
        new_flight: Callable[[], _Flight],
    ) -> Generator[_Ask | _Await, Any, ZoneProof]:
        """What ``server`` shows of the zone: remembered, or asked now - once per burst.

        Hundreds of lookups may be denied at once (a bulk run behind a resolver that strips
        the SOA); the first asks for the zone's SOA and the rest of its ``scope`` wait for that
        flight's proof (``new_flight()`` makes the future they wait on), so the burst costs one
        SOA query. If the asking lookup is cancelled or interrupted, those waiting get a proof
        that shows nothing (their lookups are "unknown", retryable), not its exception.
        """
        key = (scope, server)
        with self._flights_lock:
            proof = self.known_proof(server)
            if proof is not None:
                return proof
            waiting = self._flights.get(key)
            if waiting is None:
                mine = self._flights[key] = new_flight()
        if waiting is not None:
            try:
                shared: ZoneProof = yield _Await(
                    waiting, max(0.0, self.time_left(started, lifetime))
                )
            except TimeoutError:
                return ZoneProof(
                    server, False, detail=_("its answer to that SOA did not come in the time left")
                )
            return shared
        proof = ZoneProof(server, False, detail=_("asking it for that SOA was cancelled"))
        try:
            left = self.time_left(started, lifetime)
            outcome: DnsResponse | DnsFailure | None = None
            if left > 0:
                try:
                    outcome = yield _Ask(
                        self.zone, dnswire.SOA, (server,), self.port, left, self.tcp
                    )
                except DnsFailure as exc:
                    outcome = exc
            proof = self.learn_proof(server, outcome)
            return proof
        finally:
            with self._flights_lock:
                del self._flights[key]
            mine.set_result(proof)

    def from_response(
        self,
        participant: ParticipantId,
        name: str,
        response: DnsResponse,
        started: float,
        proof: ZoneProof | None = None,
        security: DnssecResult | None = None,
    ) -> SmlAnswer:
        """Decide the outcome of an answer (NOERROR or NXDOMAIN); raises and caches the
        answer-errors (not registered, no SMP service). A denial is judged by
        :func:`negative_trust` with ``proof`` (its nameserver's, when :meth:`wants_proof`) -
        unless DNSSEC proved it (``security`` secure); one that is not believed is an
        :class:`~peppolnet.errors.UntrustedNegative`, never cached."""
        if response.rcode == dnswire.NXDOMAIN or response.ttl is None:  # a denial
            trust = negative_trust(response, self.zone, proof)
            _log.debug(
                "%s denied by %s (%s): %s",
                name,
                response.server,
                dnswire.rcode_text(response.rcode),
                trust,
            )
            if trust is NegativeTrust.IN_BAND or _secure(security):
                raise self.not_registered(participant, name, response.negative_ttl, security)
            if trust is NegativeTrust.PROBED and proof is not None:
                raise self.not_registered(participant, name, proof.negative_ttl, security)
            raise self.untrusted(name, response, proof)
        ttl = min(float(response.ttl), self.max_ttl)
        records: tuple[NaptrRecord, ...] = ()
        if self.legacy_cname:
            smp_url = f"http://{name}"
        else:
            records = response.naptr
            try:
                smp_url = interpret_naptr(records, require_https=self.require_https, subject=name)
            except NoSmpService as exc:
                # a negative answer from DNS alone (one forged reply can make it): short-lived
                message = _(
                    "{participant}: {error}", participant=participant.uri, error=exc.message
                )
                raise self._store_error(name, NoSmpService, message, ttl, security) from None
        entry = _Entry(self.clock() + ttl, name, smp_url, records, dnssec=security)
        self.cache.put(name.lower(), entry)
        elapsed = time.perf_counter() - started
        _log.debug("%s -> %s (TTL %d s, %.1f ms)", name, smp_url, int(ttl), elapsed * 1000)
        return SmlAnswer(participant, name, smp_url, records, int(ttl), False, elapsed, security)


def _secure(security: DnssecResult | None) -> bool:
    return security is not None and security.status == "secure"


def _answer_error(
    error: type[NotRegistered | NoSmpService], message: str, security: DnssecResult | None
) -> NotRegistered | NoSmpService:
    """The answer-error, carrying what DNSSEC said of the answer behind it."""
    made = error(message)
    made.dnssec = security
    return made


def _message(response: DnsResponse) -> dns.message.Message:
    """The whole reply as dnspython reads it, for DNSSEC validation (the records this module's
    parser skips - signatures, NSEC - are needed there). It was parsed once already, so a
    failure here is a broken reply: a fault."""
    try:
        return dns.message.from_wire(response.wire, ignore_trailing=False)
    except (dns.exception.DNSException, ValueError, IndexError) as exc:
        raise DnssecFailure(
            _("a DNS reply for DNSSEC validation cannot be read: {error}", error=str(exc))
        ) from None


def nameservers(configured: Sequence[str] = ()) -> tuple[str, ...]:
    """The nameservers to ask, as IP addresses: the ``configured`` ones, or the system's.

    The system's come from ``/etc/resolv.conf`` (or the platform's equivalent), read once, by
    dnspython - the one part of a general resolver this module still needs.
    """
    if not configured:
        try:
            configured = [str(ns) for ns in dns.resolver.Resolver(configure=True).nameservers]
        except (dns.exception.DNSException, ValueError, OSError) as exc:
            raise InvalidInput(
                _("cannot read the system's DNS configuration: {error}", error=exc)
            ) from None
    servers: list[str] = []
    for server in configured:
        try:
            servers.append(str(ipaddress.ip_address(str(server).strip())))
        except ValueError:
            raise InvalidInput(
                _("the nameserver {server} is not an IP address", server=repr(server))
            ) from None
    if not servers:
        raise InvalidInput(_("there is no nameserver to ask (none given, none configured)"))
    return tuple(servers)


_nameservers = nameservers


class _ResolverBase:
    """What the sync and async resolvers share: options, the pure core, names and the cache.

    ``timeout`` bounds one lookup: nameservers are tried in order, each with an equal share of
    the time left; ``tcp=True`` asks over TCP only (otherwise UDP, and TCP when an answer is
    truncated). A denial without the SML zone's SOA makes the lookup ask the nameserver that
    gave it for that SOA, within the same ``timeout`` (see the module docstring).

    Answers are cached (``cache=False`` turns it off) for their TTL, at most ``max_ttl`` (and
    ``max_negative_ttl`` for denials), in at most ``cache_size`` entries and ``cache_bytes`` of
    estimated memory (default 16 MB, some 20,000 answers): a bulk run asks for every participant
    of a register once, and its memory must not grow with the register.

    ``dnssec=True`` validates every answer's chain of trust from ``dnssec_anchors`` (DS records;
    the IANA root's by default, a network's own with :meth:`for_network`) within the same
    ``timeout``: a bogus answer raises :class:`~peppolnet.errors.DnssecBogus`, and an answer's
    :attr:`SmlAnswer.dnssec` (or a denial's ``dnssec``) says whether it was secure or insecure.
    A denial DNSSEC proves is believed without the zone's SOA. See docs/dnssec.md.
    """

    def __init__(
        self,
        zone: str,
        *,
        nameservers: Sequence[str] = (),
        port: int = 53,
        timeout: float = 5.0,
        cache: bool = True,
        require_https: bool = True,
        legacy_cname: bool = False,
        tcp: bool = False,
        cache_size: int = 100_000,
        max_ttl: float = 86_400.0,
        max_negative_ttl: float = 300.0,
        clock: Clock | None = None,
        dnssec: bool = False,
        dnssec_anchors: Sequence[str] = ROOT_ANCHORS,
        cache_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self._core = _Core(
            zone,
            timeout=timeout,
            cache=cache,
            cache_size=cache_size,
            cache_bytes=cache_bytes,
            max_ttl=max_ttl,
            max_negative_ttl=max_negative_ttl,
            require_https=require_https,
            legacy_cname=legacy_cname,
            clock=as_clock(clock),
            dnssec=bool(dnssec),
            anchors=parse_anchors(dnssec_anchors),
        )
        if not 0 < port < 65536:
            raise InvalidInput(
                _("the DNS port must be between 1 and 65535, not {port}", port=repr(port))
            )
        self._core.servers = _nameservers(nameservers)  # the argument hides the function
        self._core.port = port
        self._core.tcp = tcp
        # the zone must make a name we can put on the wire (dnspython accepted it already)
        dnswire.encode_name(self._core.zone)
        self._setup()

    def _setup(self) -> None:
        """What a shell needs beside the shared core (nothing, unless it says so)."""

    @classmethod
    def for_network(cls, network: _NetworkLike, **kwargs: Any) -> Self:
        """A resolver for a ``Network``'s SML zone, nameservers, port, policies and DNSSEC
        trust anchors."""
        options: dict[str, Any] = {
            "nameservers": tuple(network.nameservers),
            "port": network.dns_port,
            "require_https": network.require_https,
            "legacy_cname": network.legacy_cname,
            # a network-like value of older code may not name anchors: the root's, then
            "dnssec_anchors": tuple(getattr(network, "dnssec_anchors", ROOT_ANCHORS)),
        }
        options.update(kwargs)
        return cls(network.sml_zone, **options)

    @property
    def zone(self) -> str:
        """The SML zone (no trailing dot)."""
        return self._core.zone

    @property
    def nameservers(self) -> tuple[str, ...]:
        """The nameservers asked, in order (IP addresses), and :attr:`port` the port."""
        return self._core.servers

    @property
    def port(self) -> int:
        """The port the nameservers are asked on."""
        return self._core.port

    @property
    def dnssec(self) -> bool:
        """Whether answers are validated with DNSSEC."""
        return self._core.dnssec

    def record_name(self, participant: ParticipantId | str) -> str:
        """The DNS name this resolver queries for ``participant``."""
        return self._core.record_name(self._core.participant(participant))

    def clear_cache(self) -> None:
        """Forget every cached answer, what each nameserver showed of the zone, and the DNSSEC
        keys learnt."""
        self._core.cache.clear()
        self._core.forget_proofs()
        if self._core._keys is not None:
            self._core._keys.clear()

    def limit_ttl(self, participant: ParticipantId | str, seconds: float | None = None) -> None:
        """Keep the cached answer for ``participant`` at most ``seconds`` longer (default
        ``max_negative_ttl``).

        A lookup calls it when the answer led to a ``cannot-receive`` that no signed SMP answer
        confirms (the SMP answered 404, the URL is not https): DNS is not signed, so one forged
        reply could otherwise make a participant "cannot receive" for the answer's whole TTL.
        """
        core = self._core
        limit = core.max_negative_ttl if seconds is None else max(0.0, float(seconds))
        name = core.record_name(core.participant(participant))
        core.cache.cap(name.lower(), core.clock() + limit)


class SmlResolver(_ResolverBase):
    """Looks participants up in an SML zone over DNS, with a TTL-respecting cache.

    The nameservers are fixed at construction (the system's are read then, when none are
    given). Queries go out on a few kept, short-lived UDP sockets per nameserver
    (:class:`~peppolnet.dnsquery.UdpSockets`: random ports, rotated). The cache keeps answers
    for their TTL (capped at ``max_ttl``) and "not registered" / "no SMP service" answers for
    the negative TTL of the zone's SOA (capped at ``max_negative_ttl``); faults are never
    cached. ``clock`` (a :class:`peppolnet.clock.Clock`) ages the cache, so tests can move time.
    """

    def resolve(
        self,
        participant: ParticipantId | str,
        *,
        use_cache: bool = True,
        timeout: float | None = None,
    ) -> SmlAnswer:
        """Where is the participant's SMP? ``use_cache=False`` asks DNS (and stores the answer);
        ``timeout`` shortens the resolver's own for this question (what a deadline leaves).

        Raises :class:`NotRegistered`, :class:`NoSmpService` or :class:`DnsFailure`.
        """
        steps = self._core.steps(participant, use_cache, timeout, None, ThreadFuture)
        step = _step(steps, None, None)
        while not isinstance(step, SmlAnswer):
            try:
                result, error = self._perform(step), None
            except BaseException as exc:  # thrown into the flow, which re-raises what it must
                result, error = None, exc
            step = _step(steps, result, error)
        return step

    def _setup(self) -> None:
        # no socket is opened until a query; made here, the kept sockets need no lock to be made
        self._udp = UdpSockets()
        # closes the sockets when the resolver goes (holds no reference to it)
        weakref.finalize(self, self._udp.close_all)

    def _perform(self, request: _Ask | _Await) -> Any:
        if isinstance(request, _Ask):
            r = request
            return ask(
                r.name, r.rdtype, r.servers, r.port, r.timeout, tcp=r.tcp, dnssec=r.dnssec,
                udp=self._udp,
            )  # fmt: skip
        assert isinstance(request.flight, ThreadFuture)
        return request.flight.result(timeout=request.timeout)


class AsyncSmlResolver(_ResolverBase):
    """The async twin of :class:`SmlResolver`: same arguments, same answers, awaitable.

    Queries share a small pool of UDP sockets per nameserver and event loop, made on first use
    (:class:`~peppolnet.dnsquery.UdpEndpoints`), so hundreds may be in flight at once without a
    socket each. ``await resolver.aclose()`` (or ``async
    with``) releases the sockets of the running loop; closing is optional - they are released
    when the resolver is garbage-collected, and a loop that has closed gets no further use of
    them.
    """

    _udp: UdpEndpoints | None = None

    def _endpoints(self) -> UdpEndpoints:
        if self._udp is None:
            self._udp = UdpEndpoints()
            # closes the sockets when the resolver goes (holds no reference to the resolver)
            weakref.finalize(self, self._udp.close_all)
        return self._udp

    async def resolve(
        self,
        participant: ParticipantId | str,
        *,
        use_cache: bool = True,
        timeout: float | None = None,
    ) -> SmlAnswer:
        """Where is the participant's SMP? Same contract as :meth:`SmlResolver.resolve`."""
        loop = asyncio.get_running_loop()
        steps = self._core.steps(participant, use_cache, timeout, loop, loop.create_future)
        step = _step(steps, None, None)
        while not isinstance(step, SmlAnswer):
            try:
                result, error = await self._perform(step), None
            except BaseException as exc:  # CancelledError too: the flow's finally must run
                result, error = None, exc
            step = _step(steps, result, error)
        return step

    def _perform(self, request: _Ask | _Await) -> Awaitable[Any]:
        """The awaitable that performs ``request`` (returned, not awaited here: one coroutine
        less per lookup)."""
        if isinstance(request, _Ask):
            r, udp = request, self._endpoints()
            return ask_async(
                r.name, r.rdtype, r.servers, r.port, r.timeout, tcp=r.tcp, udp=udp, dnssec=r.dnssec
            )
        assert isinstance(request.flight, asyncio.Future)
        # shielded: a waiter that is cancelled (or whose time is up) must not cancel the probe
        # the others wait for
        return asyncio.wait_for(asyncio.shield(request.flight), request.timeout)

    async def aclose(self) -> None:
        """Close this loop's shared sockets (the cache stays); the resolver stays usable."""
        if self._udp is not None:
            await self._udp.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
