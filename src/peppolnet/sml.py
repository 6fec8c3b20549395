"""The SML layer: where in DNS a participant lives, and which SMP the answer points to.

Two halves, in the sans-I/O style of the rest of the library:

* **Pure**: :func:`naptr_name` / :func:`cname_name` compute the DNS names the SML publishes,
  :func:`interpret_naptr` turns NAPTR records into the SMP base URL, :func:`apply_regexp` is the
  RFC 3402 ``!regex!replacement!flags`` rewrite. No sockets, no clock.
* **Shells**: :class:`SmlResolver` and :class:`AsyncSmlResolver` ask DNS (dnspython) and keep a
  TTL-respecting cache. They share one core (:class:`_Core`), so sync and async give the same
  answers and the same errors.

Outcomes are kept apart because callers act on them differently: :class:`NotRegistered` (an
answer: the SML has no record), :class:`NoSmpService` (an answer: records, but no usable SMP),
:class:`DnsFailure` (a fault: nobody knows; retry later). A DNS fault is never reported as "not
registered" - that would tell a user their customer cannot receive invoices when in fact the
question was never answered.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, Self

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from peppolnet.errors import DnsFailure, InvalidInput, NoSmpService, NotRegistered, PeppolnetError
from peppolnet.identifiers import ParticipantId, lower

__all__ = [
    "PRODUCTION_ZONE",
    "SMP_SERVICE",
    "TEST_ZONE",
    "AsyncSmlResolver",
    "NaptrRecord",
    "SmlAnswer",
    "SmlResolver",
    "apply_regexp",
    "cname_label",
    "cname_name",
    "interpret_naptr",
    "naptr_label",
    "naptr_name",
]

PRODUCTION_ZONE: Final = "participant.sml.prod.tech.peppol.org"
"""The OpenPeppol production SML zone (FACTS §2.3)."""
TEST_ZONE: Final = "participant.sml.test.tech.peppol.org"
"""The OpenPeppol test SML zone (FACTS §2.3)."""
SMP_SERVICE: Final = "Meta:SMP"
"""The U-NAPTR service name of an SMP (compared case-insensitively, RFC 4848)."""

_MAX_REGEXP_LENGTH: Final = 1024
_MAX_URL_LENGTH: Final = 2048
_DEFAULT_NEGATIVE_TTL: Final = 60.0


# --- record names (pure) -------------------------------------------------------------------------


def naptr_label(value: str) -> str:
    """The NAPTR label of a raw identifier value: base32(sha256(lower(value))), no ``=``, lower.

    Only the value is hashed (``0088:123abc``), never ``scheme::value``.
    """
    digest = hashlib.sha256(lower(value).encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def cname_label(value: str) -> str:
    """The legacy CNAME label of a raw identifier value: ``B-`` + hex(md5(lower(value)))."""
    return "B-" + hashlib.md5(lower(value).encode("utf-8"), usedforsecurity=False).hexdigest()


def _zone(zone: str) -> str:
    zone = zone.strip().rstrip(".")
    if not zone or ".." in zone or any(c.isspace() for c in zone):
        raise InvalidInput(f"the SML zone {zone!r} is not a DNS name")
    return zone


def naptr_name(participant: ParticipantId, zone: str) -> str:
    """The DNS name of the participant's NAPTR record (PFUOI 4.4 / SML 1.3), no trailing dot.

    >>> naptr_name(ParticipantId.parse("9915:test"), "participant.sml.test.tech.peppol.org")
    'eh5boavaktmbgzyh2a63dz4qov33fvp5nsdvqklucfraayoodw6a.iso6523-actorid-upis.participant.sml.test.tech.peppol.org'
    """
    return f"{naptr_label(participant.value)}.{participant.scheme.lower()}.{_zone(zone)}"


def cname_name(participant: ParticipantId, zone: str) -> str:
    """The legacy ``B-<md5>`` DNS name (PFUOI <= 4.3), kept for old zones and test vectors."""
    return f"{cname_label(participant.value)}.{participant.scheme.lower()}.{_zone(zone)}"


# --- NAPTR interpretation (pure) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NaptrRecord:
    """One NAPTR record (RFC 3403) as published by the SML."""

    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str = "."

    def __str__(self) -> str:
        return (
            f'{self.order} {self.preference} "{self.flags}" "{self.service}" '
            f'"{self.regexp}" {self.replacement}'
        )


def _split_regexp(regexp: str) -> tuple[str, str, str]:
    """Split ``<d>ere<d>repl<d>flags`` at unescaped delimiters (``\\<d>`` is a literal ``<d>``)."""
    if len(regexp) < 3:
        raise InvalidInput(f"the NAPTR regexp {regexp!r} is too short")
    if len(regexp) > _MAX_REGEXP_LENGTH:
        raise InvalidInput(f"the NAPTR regexp is {len(regexp)} characters long; too long")
    delim = regexp[0]
    if delim.isdigit() or delim == "\\" or delim == "i":
        raise InvalidInput(f"the NAPTR regexp {regexp!r} uses {delim!r} as delimiter")
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
            f"the NAPTR regexp {regexp!r} must have the form {delim}regex{delim}replacement{delim}"
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
            f"the NAPTR regular expression {ere[:80]!r} is too long or has nested quantifiers; "
            "it is not run"
        )
    try:
        return re.compile(ere, re.IGNORECASE if ignore_case else 0)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        raise InvalidInput(f"the NAPTR regular expression {ere!r} is not valid: {exc}") from None


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
                    raise InvalidInput(f"the NAPTR replacement {repl!r} refers to a missing group")
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
        raise InvalidInput(f"the NAPTR regexp {regexp!r} has unknown flags {flags!r}")
    if ere in _FULL_MATCH_ERES and "\\" not in repl:
        return repl
    match = _compile(ere, flags == "i").search(subject)
    if match is None:
        raise InvalidInput(f"the NAPTR regular expression {ere!r} does not match {subject!r}")
    return _expand(repl, (match.group(0), *match.groups()))


def _check_url(url: str, *, require_https: bool) -> str:
    """The SMP base URL, or a reason (raised as NoSmpService by the caller) why it is unusable."""
    if len(url) > _MAX_URL_LENGTH or any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidInput(
            f"the SMP URL {url[:80]!r} contains whitespace or control characters, or is too long"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises ValueError on a malformed port
        # the host must be usable by an HTTP client: IDNA-encodable, no empty labels
        (parts.hostname or "").encode("idna")
    except (ValueError, UnicodeError):
        raise InvalidInput(f"the SMP URL {url[:80]!r} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"the SMP URL {url[:80]!r} is not an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise InvalidInput(f"the SMP URL {url[:80]!r} must not have a query or fragment")
    if require_https and scheme != "https":
        raise InvalidInput(f"the SMP URL {url[:80]!r} uses http, but this network requires https")
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
            "the participant has NAPTR records in the SML, but none for the Meta:SMP service "
            f"(services found: {', '.join(services)})"
        )
    problems: list[str] = []
    for record in candidates:
        try:
            return _check_url(apply_regexp(record.regexp, subject), require_https=require_https)
        except InvalidInput as exc:
            problems.append(exc.message)
    raise NoSmpService(
        "the participant's Meta:SMP record in the SML gives no usable SMP URL: " + problems[0]
    )


# --- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmlAnswer:
    """The SML's answer for one participant: where its SMP is.

    ``ttl`` is the remaining lifetime in seconds (for a cached answer, what is left of it);
    ``elapsed`` is the wall time the lookup took, in seconds; ``records`` is empty in legacy
    CNAME mode.
    """

    participant: ParticipantId
    record_name: str
    smp_url: str
    records: tuple[NaptrRecord, ...]
    ttl: int
    from_cache: bool
    elapsed: float


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
    error: type[PeppolnetError] | None = None
    message: str = ""


class _Cache:
    """A bounded, thread-safe LRU of outcomes keyed by DNS name, expiring by TTL."""

    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        self._size = size
        self._clock = clock
        self._data: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> _Entry | None:
        now = self._clock()
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry.expires <= now:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return entry

    def put(self, key: str, entry: _Entry) -> None:
        if self._size <= 0 or entry.expires <= self._clock():
            return
        with self._lock:
            self._data[key] = entry
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def _negative_ttl(response: dns.message.Message | None) -> float:
    """RFC 2308: the negative TTL is min(SOA TTL, SOA MINIMUM) from the authority section."""
    if response is not None:
        for rrset in response.authority:
            if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
                return float(min(rrset.ttl, rrset[0].minimum))
    return _DEFAULT_NEGATIVE_TTL


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _dns_failure(exc: BaseException, name: str, timeout: float) -> DnsFailure:
    """One sentence for every way dnspython or the socket layer can fail."""
    if isinstance(exc, dns.exception.Timeout):
        return DnsFailure(f"DNS did not answer for {name} within {timeout:g} s")
    if isinstance(exc, dns.resolver.NoNameservers):
        errors = exc.kwargs.get("errors") or []
        details = []
        for err in errors:
            try:
                server, _tcp, _port, what = err[0], err[1], err[2], err[3]
            except (IndexError, TypeError):
                continue
            rcode = ""
            if len(err) > 4 and isinstance(err[4], dns.message.Message):
                rcode = dns.rcode.to_text(err[4].rcode())
            details.append(f"{server}: {rcode or what}")
        detail = "; ".join(details) or "no usable answer"
        return DnsFailure(f"no DNS server could answer for {name} ({detail})")
    return DnsFailure(f"the DNS lookup of {name} failed: {type(exc).__name__}: {exc}")


class _Core:
    """Everything the sync and async resolvers share: names, cache, outcome decisions."""

    def __init__(
        self,
        zone: str,
        *,
        timeout: float,
        cache: bool,
        cache_size: int,
        max_ttl: float,
        max_negative_ttl: float,
        require_https: bool,
        legacy_cname: bool,
        clock: Callable[[], float],
    ) -> None:
        self.zone = _zone(zone)
        try:
            dns.name.from_text(self.zone)
        except dns.exception.DNSException as exc:
            raise InvalidInput(f"the SML zone {zone!r} is not a DNS name: {exc}") from None
        if timeout <= 0:
            raise InvalidInput(f"the DNS timeout must be positive, not {timeout!r}")
        if legacy_cname and require_https:
            raise InvalidInput(
                "legacy CNAME lookups give http:// SMP URLs; pass require_https=False to use them"
            )
        self.timeout = float(timeout)
        self.require_https = require_https
        self.legacy_cname = legacy_cname
        self.rdtype = dns.rdatatype.CNAME if legacy_cname else dns.rdatatype.NAPTR
        self.max_ttl = max_ttl
        self.max_negative_ttl = max_negative_ttl
        self.clock = clock
        self.cache = _Cache(cache_size if cache else 0, clock)

    def participant(self, participant: ParticipantId | str) -> ParticipantId:
        if isinstance(participant, ParticipantId):
            return participant
        return ParticipantId.parse(participant)

    def record_name(self, participant: ParticipantId) -> str:
        if self.legacy_cname:
            return cname_name(participant, self.zone)
        return naptr_name(participant, self.zone)

    def cached(self, participant: ParticipantId, name: str, started: float) -> SmlAnswer | None:
        entry = self.cache.get(name.lower())
        if entry is None:
            return None
        if entry.error is not None:
            raise entry.error(entry.message)
        remaining = max(0, int(entry.expires - self.clock()))
        return SmlAnswer(
            participant,
            name,
            entry.smp_url,
            entry.records,
            remaining,
            True,
            time.perf_counter() - started,
        )

    def _store_error(
        self, name: str, error: type[PeppolnetError], message: str, ttl: float, cap: float
    ) -> PeppolnetError:
        ttl = min(ttl, cap)
        self.cache.put(
            name.lower(), _Entry(self.clock() + ttl, name, "", (), error=error, message=message)
        )
        return error(message)

    def not_registered(self, participant: ParticipantId, name: str, response: Any) -> Exception:
        message = (
            f"{participant.uri} is not registered in the SML zone {self.zone} "
            f"(no {dns.rdatatype.to_text(self.rdtype)} record at {name})"
        )
        msg = response if isinstance(response, dns.message.Message) else None
        return self._store_error(
            name, NotRegistered, message, _negative_ttl(msg), self.max_negative_ttl
        )

    def from_answer(
        self, participant: ParticipantId, name: str, answer: dns.resolver.Answer, started: float
    ) -> SmlAnswer:
        """Decide the outcome of a NOERROR answer (raises the answer-errors, caching them)."""
        rrset = answer.rrset
        if rrset is None or len(rrset) == 0:
            raise self.not_registered(participant, name, answer.response)
        ttl = min(float(rrset.ttl), self.max_ttl)
        records: tuple[NaptrRecord, ...] = ()
        if self.legacy_cname:
            smp_url = f"http://{name}"
        else:
            records = tuple(
                NaptrRecord(
                    int(rd.order),
                    int(rd.preference),
                    _text(rd.flags),
                    _text(rd.service),
                    _text(rd.regexp),
                    rd.replacement.to_text(),
                )
                for rd in rrset
            )
            try:
                smp_url = interpret_naptr(records, require_https=self.require_https, subject=name)
            except NoSmpService as exc:
                raise self._store_error(
                    name, NoSmpService, f"{participant.uri}: {exc.message}", ttl, self.max_ttl
                ) from None
        self.cache.put(name.lower(), _Entry(self.clock() + ttl, name, smp_url, records))
        return SmlAnswer(
            participant, name, smp_url, records, int(ttl), False, time.perf_counter() - started
        )

    def handle_error(
        self, participant: ParticipantId, name: str, exc: BaseException
    ) -> PeppolnetError:
        """Map a dnspython / socket exception to NotRegistered (NXDOMAIN) or DnsFailure."""
        if isinstance(exc, dns.resolver.NXDOMAIN):
            responses = exc.kwargs.get("responses") or {}
            response = next(iter(responses.values()), None)
            return self.not_registered(participant, name, response)  # type: ignore[return-value]
        return _dns_failure(exc, name, self.timeout)


def _absolute(name: str) -> dns.name.Name:
    return dns.name.from_text(name)


def _configure(
    resolver: dns.resolver.BaseResolver, nameservers: Sequence[str], port: int, timeout: float
) -> None:
    if nameservers:
        resolver.nameservers = list(nameservers)
    resolver.port = port
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None  # our own cache knows about negative answers and bypassing


class _ResolverBase:
    """What the sync and async resolvers share: options, the pure core, names and the cache."""

    _resolver_class: Any = dns.resolver.Resolver

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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = _Core(
            zone,
            timeout=timeout,
            cache=cache,
            cache_size=cache_size,
            max_ttl=max_ttl,
            max_negative_ttl=max_negative_ttl,
            require_https=require_https,
            legacy_cname=legacy_cname,
            clock=clock,
        )
        self._tcp = tcp
        try:
            self._resolver = self._resolver_class(configure=not nameservers)
            _configure(self._resolver, nameservers, port, self._core.timeout)
        except (dns.exception.DNSException, ValueError, OSError) as exc:
            raise InvalidInput(f"cannot set up the DNS resolver: {exc}") from None

    @classmethod
    def for_network(cls, network: _NetworkLike, **kwargs: Any) -> Self:
        """A resolver for a ``Network``'s SML zone, nameservers, port and policies."""
        options: dict[str, Any] = {
            "nameservers": tuple(network.nameservers),
            "port": network.dns_port,
            "require_https": network.require_https,
            "legacy_cname": network.legacy_cname,
        }
        options.update(kwargs)
        return cls(network.sml_zone, **options)

    @property
    def zone(self) -> str:
        """The SML zone (no trailing dot)."""
        return self._core.zone

    def record_name(self, participant: ParticipantId | str) -> str:
        """The DNS name this resolver queries for ``participant``."""
        return self._core.record_name(self._core.participant(participant))

    def clear_cache(self) -> None:
        """Forget every cached answer."""
        self._core.cache.clear()


class SmlResolver(_ResolverBase):
    """Looks participants up in an SML zone over DNS, with a TTL-respecting cache.

    One dnspython resolver is built once and reused (``configure=False`` when ``nameservers``
    are given, so ``/etc/resolv.conf`` is not read per call). The cache keeps answers for their
    TTL (capped at ``max_ttl``) and "not registered" / "no SMP service" answers for the negative
    TTL of the zone's SOA (capped at ``max_negative_ttl``); faults are never cached. ``clock`` is
    injectable so tests can move time.
    """

    def resolve(self, participant: ParticipantId | str, *, use_cache: bool = True) -> SmlAnswer:
        """Where is the participant's SMP? ``use_cache=False`` asks DNS (and stores the answer).

        Raises :class:`NotRegistered`, :class:`NoSmpService` or :class:`DnsFailure`.
        """
        started = time.perf_counter()
        core = self._core
        pid = core.participant(participant)
        name = core.record_name(pid)
        if use_cache:
            hit = core.cached(pid, name, started)
            if hit is not None:
                return hit
        try:
            answer = self._resolver.resolve(
                _absolute(name),
                core.rdtype,
                tcp=self._tcp,
                raise_on_no_answer=False,
                lifetime=core.timeout,
                search=False,
            )
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            raise core.handle_error(pid, name, exc) from None
        return core.from_answer(pid, name, answer, started)


class AsyncSmlResolver(_ResolverBase):
    """The async twin of :class:`SmlResolver`: same arguments, same answers, awaitable.

    Each query uses its own socket, so hundreds may be in flight at once on one event loop.
    """

    _resolver_class = dns.asyncresolver.Resolver

    async def resolve(
        self, participant: ParticipantId | str, *, use_cache: bool = True
    ) -> SmlAnswer:
        """Where is the participant's SMP? Same contract as :meth:`SmlResolver.resolve`."""
        started = time.perf_counter()
        core = self._core
        pid = core.participant(participant)
        name = core.record_name(pid)
        if use_cache:
            hit = core.cached(pid, name, started)
            if hit is not None:
                return hit
        try:
            answer = await self._resolver.resolve(
                _absolute(name),
                core.rdtype,
                tcp=self._tcp,
                raise_on_no_answer=False,
                lifetime=core.timeout,
                search=False,
            )
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            raise core.handle_error(pid, name, exc) from None
        return core.from_answer(pid, name, answer, started)
