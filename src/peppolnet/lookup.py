"""One lookup, sync or async: identifier -> SML -> SMP -> checks -> :class:`Reachability`.

The lookup is written once, as a generator (:func:`_lookup_steps`) that *yields* the I/O it needs
(``_Resolve``, ``_ServiceGroup``, ``_Metadata``, ``_Revocation``) and receives the results - or the
exception - back. :class:`Lookup` drives it with blocking calls, :class:`AsyncLookup` with awaits.
This is the sans-I/O shape of h11: one logic, two shells, and every rule is testable without a
socket.

Revocation is one of those requests: with a checker configured, the SMP's signing certificate
and the access point certificate are each asked about (the sync shell calls ``answer``/``check``,
the async shell awaits ``aanswer``/``acheck`` or runs ``check`` in a worker thread, so a CRL
download never blocks the event loop). With the default :class:`~peppolnet.pki.NoRevocationCheck`
no request is made at all, and the ``revocation`` check says plainly that it was not checked.

For a known document type the lookup costs one DNS query and one ServiceMetadata GET; the
ServiceGroup (the list of everything the participant supports) is fetched only when asked for
with ``list_document_types=True``, or for wildcard document types that need it to choose.

**One deadline for the whole lookup** (``deadline``, 30 s by default): a hostile or broken
network must not hold a lookup - or the bulk run and the support tool waiting on it - for ever.
The generator owns the budget (:class:`_Budget`, real monotonic seconds, as the sockets wait in
them): every request it yields carries the time left, so DNS, the SMP fetches with their retries
and redirect, and the revocation checks each get at most what remains, and a step that would
start after the deadline is not started. The shells only enforce what a request says - the sync
one through each client's own deadline (:func:`peppolnet._http.scope`, which bounds every socket
operation), the async one with :func:`asyncio.timeout` besides. When the deadline passes the
verdict is ``unknown``, retryable, and the ``deadline`` check names the step that was running.

**One retry budget for the whole lookup** (``retry``, a :class:`RetryPolicy`: three tries by
default): a fault - a DNS timeout, an SMP that answers 5xx or drops the connection - is tried
again after a jittered pause, but every retry of the lookup, in whatever step or layer, draws from
one budget of ``retry.attempts - 1`` retries (:mod:`peppolnet._retry`). So a lookup against an SMP
that always fails makes at most ``retry.attempts`` requests to it (3), and a caller - a bulk run -
need not retry what the lookup already has: the verdict is then ``unknown`` and ``retryable``
(later, not at once).

**Where it may connect**: the SMP URL the SML gives is checked against the network's destination
policy before anything is sent (:mod:`peppolnet.destinations`; the clients check the address they
connect to, and every redirect, as well). A refused destination is ``unknown`` - a fault of the
network's data, never "cannot receive" - and a URL's credentials are never shown.

**Negative answers that nothing signed confirms stay short-lived**: a ``cannot-receive`` reached
without a verified SMP signature (an SMP that answers 404, an SMP URL that is not https or not
usable) may come from one forged DNS answer, so the lookup asks the resolver to keep that
participant's SML answer no longer than a negative answer (``max_negative_ttl``) instead of its
TTL of up to a day (:class:`_Unconfirmed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Generator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias, TypeVar

from peppolnet import _http, _retry, guardrails
from peppolnet._logging import logger
from peppolnet._retry import RetryPolicy
from peppolnet.clock import Clock, as_clock
from peppolnet.codelists import document_type_entry, document_type_name
from peppolnet.destinations import DestinationPolicy, redact_url
from peppolnet.errors import (
    DeadlineExceeded,
    DestinationRefused,
    DnsFailure,
    DnssecFailure,
    IdentifierMismatch,
    InvalidDocumentTypeId,
    InvalidInput,
    InvalidParticipantId,
    InvalidProcessId,
    NetworkFault,
    NoSmpService,
    NotRegistered,
    PeppolnetError,
    RedirectError,
    SmpNotFound,
    TrustError,
    UntrustedNegative,
)
from peppolnet.i18n import _
from peppolnet.identifiers import (
    BIS_BILLING_CREDIT_NOTE,
    BIS_BILLING_INVOICE,
    BIS_BILLING_PROCESS,
    TRANSPORT_AS4,
    DocumentTypeId,
    ParticipantId,
    ProcessId,
)
from peppolnet.operators import Operator, OperatorRegistry
from peppolnet.pki import (
    AsyncRevocationChecker,
    CertificateFacts,
    NoRevocationCheck,
    RevocationAnswer,
    RevocationChecker,
    RevocationStatus,
    arevocation_answer,
    load_certificate,
    require_checker,
    revocation_answer,
    revocation_soft_fail,
    validate_chain,
)
from peppolnet.reachability import Check, CheckStatus, EndpointInfo, Reachability, Verdict
from peppolnet.schemes import suggest_participant_ids, validate
from peppolnet.sml import AsyncSmlResolver, SmlAnswer, SmlResolver
from peppolnet.smp.client import (
    AsyncSmpClient,
    ClientOptions,
    MetadataAnswer,
    SmpClient,
    check_echo,
)
from peppolnet.smp.model import Endpoint, ServiceGroup, ServiceMetadata
from peppolnet.smp.parse import OASIS2_NO_PROCESS
from peppolnet.smp.trust import CheckedDocument, SignatureReport
from peppolnet.smp.wildcard import select

_log = logger("peppolnet.lookup")

if TYPE_CHECKING:
    import httpx
    from cryptography import x509

    from peppolnet.dnssec.validator import DnssecResult
    from peppolnet.network import Network
    from peppolnet.trace import Trace
    from peppolnet.trace.recorder import TraceRecorder

__all__ = [
    "DEFAULT_DEADLINE",
    "DOCUMENT_TYPE_ALIASES",
    "AsyncLookup",
    "Lookup",
    "RetryPolicy",
    "resolve_document_type",
]

DOCUMENT_TYPE_ALIASES: Final[dict[str, DocumentTypeId]] = {
    "invoice": BIS_BILLING_INVOICE,
    "bis-invoice": BIS_BILLING_INVOICE,
    "credit-note": BIS_BILLING_CREDIT_NOTE,
    "creditnote": BIS_BILLING_CREDIT_NOTE,
    "bis-credit-note": BIS_BILLING_CREDIT_NOTE,
}

Participantish: TypeAlias = ParticipantId | str


def resolve_document_type(value: DocumentTypeId | str | None) -> DocumentTypeId:
    """An alias (``invoice``, ``credit-note``) or identifier -> :class:`DocumentTypeId`."""
    if value is None:
        return BIS_BILLING_INVOICE
    if isinstance(value, DocumentTypeId):
        return value
    if not isinstance(value, str):
        raise InvalidDocumentTypeId(
            _(
                "document_type must be an alias, an identifier or a DocumentTypeId, not {value}",
                value=repr(value),
            )
        )
    alias = DOCUMENT_TYPE_ALIASES.get(value.strip().lower())
    if alias is not None:
        return alias
    known = ", ".join(sorted(DOCUMENT_TYPE_ALIASES))
    # A document type always names a root element and a customization (``...::Invoice##...``);
    # anything else is a mistyped alias, which must not be looked up as an identifier.
    if "##" not in value:
        raise InvalidDocumentTypeId(
            _(
                "{value} is neither a document type alias ({known}) nor a document type "
                "identifier (root-namespace::element##customization::version)",
                value=repr(value),
                known=known,
            ),
            value=value,
        )
    try:
        return DocumentTypeId.parse(value)
    except InvalidDocumentTypeId as exc:
        raise InvalidDocumentTypeId(
            _(
                "{value} is neither a document type alias ({known}) nor a document type "
                "identifier: {error}",
                value=repr(value),
                known=known,
                error=exc,
            ),
            value=value,
        ) from exc


@functools.lru_cache(maxsize=256)  # a pure function of the code list; asked once per lookup
def default_processes(document_type: DocumentTypeId) -> tuple[ProcessId, ...]:
    """The processes the code list allows for ``document_type``, the usual one first."""
    entry = document_type_entry(document_type)
    if entry is not None and entry.process_ids:
        return tuple(entry.process_ids)
    return (BIS_BILLING_PROCESS,)


#: The default deadline of a whole lookup, in seconds.
DEFAULT_DEADLINE: Final = 30.0
# A deadline this close counts as passed: timers may fire a little early (asyncio lets a
# callback run up to its clock resolution before its time), and a step given only this long
# could not do anything useful.
_SLACK: Final = 0.05

# --- the I/O requests the generator yields -----------------------------------------------------


@dataclasses.dataclass(slots=True)
class _Step:
    """What every request carries: the seconds the lookup's deadline leaves it (None: no
    deadline) and the lookup's retry budget, given by :func:`_ask` when it makes the request.

    Requests are slotted and not frozen (nothing changes one once made): a frozen dataclass
    sets each field through ``object.__setattr__`` - 0.82 against 0.27 us to make a request
    with four fields (timeit, same run), two requests per lookup."""

    timeout: float | None = dataclasses.field(default=None, kw_only=True)
    budget: _retry.Budget | None = dataclasses.field(default=None, kw_only=True, compare=False)


@dataclasses.dataclass(slots=True)
class _Pause(_Step):
    """Wait before a retry (no I/O; the shells sleep)."""

    seconds: float


@dataclasses.dataclass(slots=True)
class _Resolve(_Step):
    """Ask the SML; ``use_cache=False`` asks DNS even when the answer is cached (a trace shows
    the question and its answer, not the cache)."""

    participant: ParticipantId
    use_cache: bool = True


@dataclasses.dataclass(slots=True)
class _ServiceGroup(_Step):
    smp_url: str
    participant: ParticipantId


@dataclasses.dataclass(slots=True)
class _Metadata(_Step):
    smp_url: str
    participant: ParticipantId
    document_type: DocumentTypeId
    at: datetime


@dataclasses.dataclass(slots=True)
class _Revocation(_Step):
    certificate: x509.Certificate
    issuer: x509.Certificate
    at: datetime


@dataclasses.dataclass(slots=True)
class _Unconfirmed(_Step):
    """The lookup ended ``cannot-receive`` on unsigned evidence: keep the participant's SML
    answer no longer than a negative answer (no I/O; the shells tell the resolver)."""

    participant: ParticipantId


_Request: TypeAlias = _Resolve | _ServiceGroup | _Metadata | _Revocation | _Unconfirmed | _Pause

# What each step is doing, for the sentence when the deadline passes during it.
_DOING: Final = {
    "dns": _("asking the SML (DNS)"),
    "service-group": _("fetching the list of document types from the SMP"),
    "service-metadata": _("fetching the service metadata from the SMP"),
    "smp-revocation": _("checking whether the SMP's certificate is revoked"),
    "revocation": _("checking whether the access point certificate is revoked"),
}


class _Watcher(Protocol):
    """What a driver tells a trace (:class:`peppolnet.trace.recorder.TraceRecorder`): each
    request before it is performed, and what it brought - the result or the error."""

    def asking(self, request: _Request) -> None: ...

    def answered(self, request: _Request, outcome: Any) -> None: ...


class _Budget:
    """The time a lookup may still take, in real monotonic seconds (None: no deadline)."""

    __slots__ = ("_end", "seconds")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._end = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float | None:
        return None if self._end is None else max(0.0, self._end - time.monotonic())

    def passed(self) -> bool:
        left = self.left()
        return left is not None and left <= _SLACK


class _Ended(Exception):
    """A step ends the lookup with ``unknown``: the deadline passed, or a destination was
    refused. Not a PeppolnetError, so that no step's own ``except`` can take it for a fault of
    its own; :func:`_lookup_steps` turns it into the verdict."""

    def __init__(self, check: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.check = check
        self.message = message
        self.retryable = retryable

    @classmethod
    def deadline(cls, ctx: _Context, step: str) -> _Ended:
        ctx.stopped_in = step
        seconds = ctx.budget.seconds or 0.0
        return cls(
            "deadline",
            _(
                "the lookup's deadline ({seconds} s) passed while {doing}; the answer is not "
                "known yet - try again, or allow the lookup more time",
                seconds=format(seconds, "g"),
                doing=_DOING[step],
            ),
            retryable=True,
        )


_Steps: TypeAlias = Generator[_Request, Any, Reachability]


@dataclasses.dataclass(slots=True)
class _Context:
    query: str
    network: Network
    document_type: DocumentTypeId
    process: ProcessId | None
    at: datetime
    list_document_types: bool
    operators: OperatorRegistry | None
    revocation: RevocationChecker | AsyncRevocationChecker
    checks: list[Check] = dataclasses.field(default_factory=list)
    # Whether a checker is configured (NoRevocationCheck: no request is ever made), and whether
    # its "unknown" only warns.
    asks_revocation: bool = False
    soft_fail: bool = False
    budget: _Budget = dataclasses.field(default_factory=lambda: _Budget(None))
    retry: RetryPolicy = _retry.DEFAULT
    retries: _retry.Budget = dataclasses.field(default_factory=lambda: _retry.Budget(0))
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    participant: ParticipantId | None = None
    candidates: tuple[ParticipantId, ...] = ()
    smp_url: str | None = None
    document_types: tuple[tuple[DocumentTypeId, str | None], ...] = ()
    retryable: bool = False
    use_cache: bool = True
    # the step (a key of _DOING) during which the deadline passed, for a trace
    stopped_in: str | None = None
    smp_certificate: CertificateFacts | None = None  # the SMP answer's trusted signer

    def add(self, name: str, status: CheckStatus, message: str) -> None:
        # The same check with the same sentence object is the same value: one Check, shared by
        # every answer that makes it (sentences repeat, see peppolnet.i18n._), so a bulk run's
        # result cache keeps - and the collector walks - one object where it kept thousands.
        # Keyed by the sentence's identity: two sentences equal as text may render differently.
        key = (name, status, id(message))
        check = _CHECKS.get(key)
        if check is None or check.message is not message:
            check = Check(name, status, message)
            if len(_CHECKS) >= _CHECKS_MAX:
                _CHECKS.clear()  # bounded; what repeats is back after a lookup or two
            _CHECKS[key] = check  # holds the sentence, so its id is not reused while here
        self.checks.append(check)

    def result(
        self,
        verdict: Verdict,
        *,
        endpoint: EndpointInfo | None = None,
        operator: Operator | None = None,
    ) -> Reachability:
        result = Reachability(
            query=self.query,
            participant=self.participant,
            document_type=self.document_type,
            process=self.process,
            network=self.network.name,
            verdict=verdict,
            checks=tuple(self.checks),
            at=self.at,
            endpoint=endpoint,
            operator=operator,
            smp_url=self.smp_url,
            document_types=self.document_types,
            candidates=self.candidates,
            timings=dict(self.timings),
            retryable=self.retryable and verdict is Verdict.UNKNOWN,
            smp_certificate=self.smp_certificate,
        )
        # the decision, for the application that embeds us: a fault (unknown) is a warning
        level = logging.WARNING if verdict is Verdict.UNKNOWN else logging.DEBUG
        if _log.isEnabledFor(level):
            _log.log(
                level,
                "%s on %s: %s - %s (%.1f ms)",
                self.participant or self.query,
                self.network.name,
                verdict.value,
                result.reason,
                self.timings.get("total", 0.0) * 1000,
            )
        return result


_CHECKS: dict[tuple[str, CheckStatus, int], Check] = {}
_CHECKS_MAX: Final = 1024


def _candidates(
    participant: Participantish | None, number: str | None, country: str | None
) -> tuple[str, tuple[ParticipantId, ...]]:
    """What the user asked for, and the identifiers to try in order."""
    if participant is not None:
        # parse() is given the object itself: it refuses what is not text by its type, where
        # str() of it (7 -> '7') made an error about scheme codes
        if isinstance(participant, ParticipantId):
            return str(participant), (participant,)
        return str(participant), (ParticipantId.parse(participant),)
    if number is None or country is None:
        raise InvalidParticipantId(
            _("give a participant identifier, or an organisation number and a country")
        )
    suggestions = suggest_participant_ids(number, country)
    if not suggestions.candidates:
        raise InvalidParticipantId(
            suggestions.reason
            or _(
                "{number} is not a valid number for {country}",
                number=repr(number),
                country=suggestions.country,
            ),
            value=number,
        )
    return f"{number} ({suggestions.country})", tuple(suggestions.candidates)


def _lookup_steps(ctx: _Context) -> _Steps:
    """The whole lookup as a generator of I/O requests (see the module docstring).

    Ends every lookup the same way: a step that ended it (:class:`_Ended`) becomes an
    ``unknown`` verdict with its check, and a ``cannot-receive`` that rests on no signed answer
    asks the shell to keep the SML answer behind it only briefly.
    """
    started = time.perf_counter()
    try:
        result: Reachability = yield from _steps(ctx, started)
    except _Ended as ended:
        ctx.retryable = ended.retryable
        ctx.add(ended.check, CheckStatus.FAIL, ended.message)
        result = _finish(ctx, started, Verdict.UNKNOWN)
    if (
        result.verdict is Verdict.CANNOT_RECEIVE
        and not result.signed
        and result.participant is not None
    ):
        yield _Unconfirmed(result.participant)
    return result


def _ask(
    ctx: _Context, step: str, kind: Callable[..., _Request], *args: Any
) -> Generator[_Request, Any, Any]:
    """Yield the request ``kind(*args)`` with the time the deadline leaves it and the retry
    budget (made here with both, not copied: a ``dataclasses.replace`` per request cost more
    than making it); the one place that turns a passed deadline or a refused destination into
    the end of the lookup."""
    left = ctx.budget.left()
    if left is not None and left <= _SLACK:
        raise _Ended.deadline(ctx, step)
    try:
        return (yield kind(*args, timeout=left, budget=ctx.retries))
    except DestinationRefused as exc:
        raise _Ended("destination", exc.message, retryable=False) from None
    except NetworkFault as exc:
        if isinstance(exc, DeadlineExceeded) or ctx.budget.passed():
            raise _Ended.deadline(ctx, step) from None
        raise


def _resolve(ctx: _Context, candidate: ParticipantId) -> Generator[_Request, Any, SmlAnswer]:
    """Ask the SML about ``candidate``; a DNS fault (a lost answer, a timeout, SERVFAIL) is asked
    again as the lookup's retry policy and budget allow. A denial that is not believed
    (:class:`UntrustedNegative`) is not: the same resolver would deny again."""
    attempt = 0
    while True:
        attempt += 1
        try:
            answer: SmlAnswer = yield from _ask(ctx, "dns", _Resolve, candidate, ctx.use_cache)
        except DnsFailure as exc:
            pause = None
            if exc.retryable and not isinstance(exc, UntrustedNegative):
                pause = _dns_retry(ctx, candidate, attempt, exc)
            if pause is None:
                raise
            yield _Pause(pause)
            continue
        return answer


def _dns_retry(
    ctx: _Context, candidate: ParticipantId, attempt: int, exc: DnsFailure
) -> float | None:
    """The pause before asking the SML again after ``exc``, or None; logged at DEBUG either way
    (the attempt, the reason, the pause or why there is none), as the HTTP layer logs its own."""
    pause, why_not = _retry.decide(ctx.retry, attempt, ctx.budget.left(), ctx.retries)
    if _log.isEnabledFor(logging.DEBUG):
        if pause is None:
            _log.debug(
                "SML question for %s: no retry after try %d (%s): %s",
                candidate,
                attempt,
                exc,
                why_not,
            )
        else:
            _log.debug(
                "SML question for %s: try %d of %d in %.2f s after %s",
                candidate, attempt + 1, ctx.retry.attempts, pause, exc,
            )  # fmt: skip
    return pause


def _steps(ctx: _Context, started: float) -> _Steps:
    """SML, then the SMP's list of document types where needed, then the ServiceMetadata."""
    answer = yield from _sml_steps(ctx, started)
    if isinstance(answer, Reachability):
        return answer
    participant = ctx.participant
    assert participant is not None
    ended = _smp_url_checks(ctx, started, answer.smp_url)
    if ended is not None:
        return ended
    document_type = ctx.document_type
    if ctx.list_document_types or document_type.is_wildcard:
        chosen = yield from _group_steps(ctx, started, answer.smp_url, participant)
        if isinstance(chosen, Reachability):
            return chosen
        document_type = chosen
    return (yield from _metadata_steps(ctx, started, answer.smp_url, participant, document_type))


def _sml_steps(ctx: _Context, started: float) -> Generator[_Request, Any, SmlAnswer | Reachability]:
    """The SML's answer for the first candidate registered - or the lookup's end without one."""
    answer: SmlAnswer | None = None
    fault: PeppolnetError | None = None
    dns_started = time.perf_counter()
    for number, candidate in enumerate(ctx.candidates, start=1):
        _identifier_check(ctx, candidate)
        try:
            answer = yield from _resolve(ctx, candidate)
        except NotRegistered as exc:
            _dnssec_check(ctx, exc.dnssec)
            if number < len(ctx.candidates):
                following = ctx.candidates[number].bare
                ctx.add(
                    "sml",
                    CheckStatus.SKIPPED,
                    _(
                        "{candidate} is not registered; trying {following}",
                        candidate=candidate.bare,
                        following=following,
                    ),
                )
            continue
        except NoSmpService as exc:
            _dnssec_check(ctx, exc.dnssec)
            ctx.participant = candidate
            ctx.timings["dns"] = time.perf_counter() - dns_started
            ctx.add("sml", CheckStatus.FAIL, _("the SML has a record, but {error}", error=exc))
            return _finish(ctx, started, Verdict.CANNOT_RECEIVE)
        except DnsFailure as exc:
            fault = fault or exc
            continue
        _dnssec_check(ctx, answer.dnssec)
        ctx.participant = candidate
        break
    ctx.timings["dns"] = time.perf_counter() - dns_started
    if answer is not None:
        return answer
    ctx.participant = ctx.participant or ctx.candidates[0]
    if fault is not None:
        ctx.retryable = fault.retryable
        check = "sml"
        message: str = _("the SML could not be asked: {error}", error=fault)
        if isinstance(fault, UntrustedNegative):
            message = fault.message  # it was asked; its denial says why it is not believed
        if isinstance(fault, DnssecFailure):
            check, message = "dnssec", fault.message  # it answered; DNSSEC says it is not usable
        ctx.add(check, CheckStatus.FAIL, message)
        return _finish(ctx, started, Verdict.UNKNOWN)
    tried = ", ".join(c.bare for c in ctx.candidates)
    ctx.add("sml", CheckStatus.FAIL, _("no Peppol registration was found for {tried}", tried=tried))
    return _finish(ctx, started, Verdict.NOT_REGISTERED)


def _dnssec_check(ctx: _Context, security: DnssecResult | None) -> None:
    """What DNSSEC said of the SML's answer, when the lookup validates: secure passes, insecure
    (an unsigned zone) only warns - the verdict stands, without DNSSEC's protection."""
    if security is not None:
        secure = security.status == "secure"
        ctx.add("dnssec", CheckStatus.PASS if secure else CheckStatus.WARN, security.detail)


@functools.lru_cache(maxsize=1024)
def _refusal(policy: DestinationPolicy, url: str) -> str | None:
    """``policy.refusal(url)``, once per SMP URL: judged from the URL alone (a name's
    addresses are checked where it is connected to), so a pure function of the two."""
    return policy.refusal(url)


def _smp_url_checks(ctx: _Context, started: float, smp_url: str) -> Reachability | None:
    """The SML's SMP URL may be asked (destination policy, https), or the lookup ends here."""
    shown = ctx.smp_url = redact_url(smp_url)
    ctx.add("sml", CheckStatus.PASS, _("registered in the SML; its SMP is {url}", url=shown))
    refusal = _refusal(ctx.network.destinations, smp_url)
    if refusal is not None:
        ctx.add(
            "destination",
            CheckStatus.FAIL,
            _(
                "the SMP URL from the SML {refusal}; the {network} network's destination policy "
                "refuses it, so nothing was sent there",
                refusal=refusal,
                network=ctx.network.name,
            ),
        )
        return _finish(ctx, started, Verdict.UNKNOWN)
    status, sentence = guardrails.smp_https(
        smp_url, require_https=ctx.network.require_https, network=ctx.network.name
    )
    ctx.add("https", status, sentence)
    if status is CheckStatus.FAIL:
        return _finish(ctx, started, Verdict.CANNOT_RECEIVE)
    return None


def _group_steps(
    ctx: _Context, started: float, smp_url: str, participant: ParticipantId
) -> Generator[_Request, Any, DocumentTypeId | Reachability]:
    """The SMP's list of document types: the document type to ask for (a wildcard chosen from
    the list), or the lookup's end."""
    document_type = ctx.document_type
    smp_started = time.perf_counter()
    try:
        group: CheckedDocument = yield from _ask(
            ctx, "service-group", _ServiceGroup, smp_url, participant
        )
    except (NetworkFault, SmpNotFound, TrustError) as exc:
        ctx.retryable = exc.retryable
        ctx.timings["service_group"] = time.perf_counter() - smp_started
        ctx.add(
            "service-group",
            CheckStatus.FAIL,
            _("the list of document types failed: {error}", error=exc),
        )
        return _finish(ctx, started, Verdict.UNKNOWN)
    ctx.timings["service_group"] = time.perf_counter() - smp_started
    assert isinstance(group.document, ServiceGroup)
    available = group.document.document_types
    ctx.document_types = tuple((d, document_type_name(d)) for d in available)
    listed = len(available)
    if document_type.is_wildcard:
        # A wildcard registration is found through the list (Peppol Policy for use of
        # Identifiers 4.4, wildcard scheme).
        chosen = select(document_type, available)
        if chosen is None:
            ctx.add(
                "service-group",
                CheckStatus.FAIL,
                _(
                    "the SMP lists {count} document types, none matching {document_type}",
                    count=listed,
                    document_type=_doc_label(document_type),
                ),
            )
            return _finish(ctx, started, Verdict.CANNOT_RECEIVE)
        document_type = chosen
    if document_type in available:
        ctx.add(
            "service-group",
            CheckStatus.PASS,
            _(
                "the SMP lists {count} document types, including {document_type}",
                count=listed,
                document_type=_doc_label(document_type),
            ),
        )
    else:
        # The list is read from hrefs, best effort: the ServiceMetadata decides.
        ctx.add(
            "service-group",
            CheckStatus.WARN,
            _(
                "the SMP lists {count} document types, not including {document_type}; asking "
                "for it directly",
                count=listed,
                document_type=_doc_label(document_type),
            ),
        )
    return document_type


def _metadata_steps(
    ctx: _Context,
    started: float,
    smp_url: str,
    participant: ParticipantId,
    document_type: DocumentTypeId,
) -> _Steps:
    """The ServiceMetadata, and the verdict from it."""
    smp_started = time.perf_counter()
    try:
        metadata_answer: MetadataAnswer = yield from _ask(
            ctx, "service-metadata", _Metadata, smp_url, participant, document_type, ctx.at
        )
    except SmpNotFound:
        ctx.timings["service_metadata"] = time.perf_counter() - smp_started
        ctx.add(
            "service-metadata",
            CheckStatus.FAIL,
            _(
                "the participant is registered, but not for {document_type}",
                document_type=_doc_label(document_type),
            ),
        )
        return _finish(ctx, started, Verdict.CANNOT_RECEIVE)
    except RedirectError as exc:
        ctx.timings["service_metadata"] = time.perf_counter() - smp_started
        ctx.add("redirect", CheckStatus.FAIL, exc.message)
        return _finish(ctx, started, Verdict.UNKNOWN)
    except (NetworkFault, IdentifierMismatch, TrustError) as exc:
        ctx.retryable = exc.retryable
        ctx.timings["service_metadata"] = time.perf_counter() - smp_started
        ctx.add(
            "service-metadata", CheckStatus.FAIL, _("the SMP could not answer: {error}", error=exc)
        )
        return _finish(ctx, started, Verdict.UNKNOWN)
    ctx.timings["service_metadata"] = time.perf_counter() - smp_started
    ctx.add("service-metadata", CheckStatus.PASS, _("the SMP answered for this document type"))
    return (
        yield from _evaluate_metadata(ctx, started, metadata_answer, participant, document_type)
    )


def _signature_checks(ctx: _Context, signature: SignatureReport) -> bool:
    """The ``signature`` and ``smp-certificate`` checks of an SMP answer; whether both passed
    (a failure is a fault: the lookup ends ``unknown``)."""
    if not signature.present:
        ctx.add(
            "signature",
            CheckStatus.FAIL,
            _("the SMP answer is not signed, so it cannot be trusted"),
        )
        return False
    if not signature.valid:
        ctx.add(
            "signature",
            CheckStatus.FAIL,
            _(
                "the SMP answer's signature does not verify ({problem})",
                problem=signature.problem,
            ),
        )
        return False
    ctx.add(
        "signature",
        CheckStatus.PASS,
        _("the signature verifies ({algorithm})", algorithm=signature.algorithm),
    )
    signer = signature.signer
    if not signature.chain_valid:
        ctx.add(
            "smp-certificate",
            CheckStatus.FAIL,
            _(
                "the SMP's certificate is not trusted on the {network} network: {problem}",
                network=ctx.network.name,
                problem=signature.chain_problem,
            ),
        )
        return False
    ctx.smp_certificate = signer
    ctx.add(
        "smp-certificate",
        CheckStatus.PASS,
        _(
            "signed by {signer}, valid and issued by the {network} network's SMP CA",
            signer=signer.subject if signer else _("the SMP"),
            network=ctx.network.name,
        ),
    )
    return True


def _evaluate_metadata(
    ctx: _Context,
    started: float,
    answer: MetadataAnswer,
    participant: ParticipantId,
    document_type: DocumentTypeId,
) -> _Steps:
    redirect = answer.redirect
    if redirect is not None and ctx.asks_revocation and redirect.signer_certificate is not None:
        # the redirecting SMP chose where to look: a revoked one must not steer lookups
        trusted, status, sentence = yield from _smp_revocation(
            ctx, redirect.signer_certificate, _("the redirecting SMP's certificate")
        )
        ctx.add(
            "redirect",
            status,
            _("followed one redirect to {url}; {sentence}", url=answer.url, sentence=sentence),
        )
        if not trusted:
            return _finish(ctx, started, Verdict.UNKNOWN)
    elif redirect is not None:
        ctx.add("redirect", CheckStatus.PASS, _("followed one redirect to {url}", url=answer.url))
    else:
        ctx.add("redirect", CheckStatus.SKIPPED, _("no redirect"))
    checked = answer.checked
    if not _signature_checks(ctx, checked.signature):
        return _finish(ctx, started, Verdict.UNKNOWN)
    if not _smp_g2_check(ctx, checked):
        return _finish(ctx, started, Verdict.UNKNOWN)
    if ctx.asks_revocation and checked.signer_certificate is not None:
        trusted, status, sentence = yield from _smp_revocation(ctx, checked.signer_certificate)
        ctx.add("smp-revocation", status, sentence)
        if not trusted:
            return _finish(ctx, started, Verdict.UNKNOWN)
    metadata = checked.document
    if not isinstance(metadata, ServiceMetadata):
        ctx.add("service-metadata", CheckStatus.FAIL, _("the SMP answer is not a ServiceMetadata"))
        return _finish(ctx, started, Verdict.UNKNOWN)
    try:
        check_echo(metadata, participant, document_type)
    except IdentifierMismatch as exc:
        ctx.add("identifier-echo", CheckStatus.FAIL, exc.message)
        return _finish(ctx, started, Verdict.UNKNOWN)
    ctx.add(
        "identifier-echo",
        CheckStatus.PASS,
        _("the SMP answered for the participant asked for"),
    )
    return (yield from _choose_endpoint(ctx, started, metadata))


def _smp_g2_check(ctx: _Context, checked: CheckedDocument) -> bool:
    """The G2 guardrail for the SMP's signing certificate; False when it ends the lookup (a G2
    certificate after G2's end: the answer cannot be trusted, and retrying will not help)."""
    if checked.signer_certificate is None:
        return True
    try:
        path = validate_chain(checked.signer_certificate, ctx.network.smp_ca, at=ctx.at)
    except PeppolnetError:  # judged already by the smp-certificate check
        return True
    found = guardrails.g2_check("smp", path, ctx.at)
    if found is None:
        return True
    ctx.add("smp-certificate-g2", *found)
    if found[0] is CheckStatus.FAIL:
        ctx.retryable = False
        return False
    return True


def _ask_revocation(
    ctx: _Context, step: str, certificate: x509.Certificate, issuer: x509.Certificate
) -> Generator[_Request, Any, RevocationAnswer]:
    """One revocation question to the shell (whose ``_perform`` turns a checker that raises
    into an unknown answer). An unknown answer that came because the lookup's deadline passed
    is the deadline's, and says so."""
    answer: RevocationAnswer = yield from _ask(ctx, step, _Revocation, certificate, issuer, ctx.at)
    if answer.status is RevocationStatus.UNKNOWN and ctx.budget.passed():
        raise _Ended.deadline(ctx, step)
    return answer


def _smp_revocation(
    ctx: _Context, certificate: x509.Certificate, whose: str | None = None
) -> Generator[_Request, Any, tuple[bool, CheckStatus, str]]:
    """Ask about an SMP signer; ``(believe its answer, check status, sentence)``.

    A revoked SMP certificate means the signature proves nothing: the answer is not believed
    and trying again does not help. An undeterminable status is a fault (not believed for now,
    retryable) unless the checker asks for soft fail, which only warns. The sentence starts
    with ``whose`` (the SMP's, or the redirecting SMP's, certificate).
    """
    whose = whose or _("the SMP's certificate")
    try:
        path = validate_chain(certificate, ctx.network.smp_ca, at=ctx.at)
    except PeppolnetError as exc:
        # e.g. an SmpClient made for another network: never "no issuer, so fine"
        ctx.retryable = False
        sentence = _("{whose} cannot be checked for revocation: {error}", whose=whose, error=exc)
        return False, CheckStatus.FAIL, sentence
    answer = yield from _ask_revocation(ctx, "smp-revocation", certificate, path[1])
    status, detail = answer.status, _detail(answer)
    if status is RevocationStatus.GOOD:
        return (
            True,
            CheckStatus.PASS,
            _("{whose} is not revoked{detail}", whose=whose, detail=detail),
        )
    if status is RevocationStatus.REVOKED:
        ctx.retryable = False
        return (
            False,
            CheckStatus.FAIL,
            _(
                "{whose} has been revoked{detail}, so its answer cannot be trusted",
                whose=whose,
                detail=detail,
            ),
        )
    if status is RevocationStatus.NOT_CHECKED:
        sentence = _("the revocation checker did not check {whose}", whose=whose)
        return True, CheckStatus.SKIPPED, sentence
    if ctx.soft_fail:
        return (
            True,
            CheckStatus.WARN,
            _(
                "the revocation status of {whose} could not be determined{detail}; accepted "
                "because revocation soft fail is on",
                whose=whose,
                detail=detail,
            ),
        )
    ctx.retryable = True
    return (
        False,
        CheckStatus.FAIL,
        _(
            "the revocation status of {whose} could not be determined{detail}, so its answer "
            "cannot be trusted yet",
            whose=whose,
            detail=detail,
        ),
    )


def _checker_failed(exc: Exception) -> RevocationAnswer:
    """A revocation checker that raised: its answer is unknown (a fault), never a crash."""
    return RevocationAnswer(
        RevocationStatus.UNKNOWN, _("the revocation check failed: {error}", error=exc)
    )


def _detail(answer: RevocationAnswer) -> str:
    return _(" ({reason})", reason=answer.reason) if answer.reason else ""


def _choose_endpoint(ctx: _Context, started: float, metadata: ServiceMetadata) -> _Steps:
    wanted = (ctx.process,) if ctx.process is not None else default_processes(ctx.document_type)
    offered = [p.process_id for p in metadata.processes]
    process = next((p for p in wanted if p in offered), None)
    published_as = process
    if process is None and OASIS2_NO_PROCESS in offered:
        # OASIS SMP 2: a ProcessMetadata without a Process applies to every process.
        process, published_as = wanted[0], OASIS2_NO_PROCESS
    if process is None or published_as is None:
        listed = ", ".join(p.value for p in offered) or _("none")
        ctx.add(
            "process",
            CheckStatus.FAIL,
            _(
                "the document type is registered for other processes ({listed}), not {wanted}",
                listed=listed,
                wanted=wanted[0].value,
            ),
        )
        return _finish(ctx, started, Verdict.CANNOT_RECEIVE)
    ctx.process = process
    ctx.add(
        "process",
        CheckStatus.PASS,
        _("registered for the process {process}", process=process.value),
    )
    endpoints = metadata.endpoints_for(published_as)
    as4 = [e for e in endpoints if e.transport_profile == TRANSPORT_AS4.value]
    legacy = guardrails.transport_problem(
        (e.transport_profile for e in endpoints), usable=bool(as4)
    )
    if not as4:
        ctx.add("transport-profile", CheckStatus.FAIL, legacy or "")
        return _finish(ctx, started, Verdict.CANNOT_RECEIVE)
    if legacy is not None:
        ctx.add("transport-profile", CheckStatus.WARN, legacy)
    else:
        ctx.add(
            "transport-profile",
            CheckStatus.PASS,
            _("the endpoint uses {profile}", profile=TRANSPORT_AS4.value),
        )
    problems: list[_Unusable] = []
    for endpoint in as4:
        outcome = yield from _check_endpoint(ctx, endpoint)
        if isinstance(outcome, _Usable):
            ctx.timings["total"] = time.perf_counter() - started
            return ctx.result(
                Verdict.CAN_RECEIVE, endpoint=outcome.endpoint, operator=outcome.operator
            )
        problems.append(outcome)
    # An endpoint that could not be judged (a fault) may be the usable one: never "cannot".
    faults = [p for p in problems if p.fault]
    problem = faults[0] if faults else problems[0]
    ctx.add(problem.name, CheckStatus.FAIL, problem.message)
    if faults:
        ctx.retryable = True
        return _finish(ctx, started, Verdict.UNKNOWN)
    return _finish(ctx, started, Verdict.CANNOT_RECEIVE)


@dataclasses.dataclass(frozen=True)
class _Usable:
    endpoint: EndpointInfo
    operator: Operator


@dataclasses.dataclass(frozen=True)
class _Unusable:
    """Why an endpoint cannot be used: the check, its sentence, and whether it was a fault."""

    name: str
    message: str
    fault: bool = False


@functools.lru_cache(maxsize=1024)
def _access_point_certificate(der: bytes) -> tuple[x509.Certificate, CertificateFacts]:
    """The certificate and its facts, loaded once per distinct DER.

    Every ServiceMetadata carries its access point's certificate, and a bulk run meets the same
    few hundred again and again: loading it afresh cost more than the chain check, and a fresh
    object also missed the chain memo in :mod:`peppolnet.pki`. Keyed by the exact bytes, so a
    different certificate can never be answered from the cache.
    """
    certificate = load_certificate(der)
    return certificate, CertificateFacts.from_certificate(certificate)


def _inactive(endpoint: Endpoint, at: datetime) -> _Unusable | None:
    """Why ``endpoint`` is not active at ``at`` (not yet, or no longer), or None."""
    if endpoint.is_active(at):
        return None
    if endpoint.activation is not None and at < endpoint.activation:
        return _Unusable(
            "endpoint-validity",
            _(
                "the endpoint only becomes active on {when} UTC",
                when=format(endpoint.activation, "%Y-%m-%d %H:%M"),
            ),
        )
    return _Unusable(
        "endpoint-validity",
        _("the endpoint expired on {date}", date=format(endpoint.expiration, "%Y-%m-%d")),
    )


def _check_endpoint(
    ctx: _Context, endpoint: Endpoint
) -> Generator[_Request, Any, _Usable | _Unusable]:
    """Either the usable endpoint with its operator, or why it is not usable."""
    at = ctx.at
    inactive = _inactive(endpoint, at)
    if inactive is not None:
        return inactive
    if endpoint.certificate is None:
        return _Unusable("ap-certificate", _("the endpoint has no access point certificate"))
    try:
        certificate, facts = _access_point_certificate(endpoint.certificate)
    except PeppolnetError as exc:
        return _Unusable(
            "ap-certificate", _("the access point certificate cannot be read: {error}", error=exc)
        )
    try:
        path = validate_chain(certificate, ctx.network.ap_ca, at=at)
    except PeppolnetError as exc:
        return _Unusable(
            "ap-certificate",
            _(
                "the access point certificate ({subject}) is not usable: {error}",
                subject=facts.subject,
                error=exc,
            ),
        )
    url = endpoint.url or ""
    if not url.lower().startswith("https://"):
        return _Unusable(
            "endpoint-url",
            _("the access point URL {url} is not https", url=url or _("(none)")),
        )
    g2 = guardrails.g2_check("ap", path, at)
    if g2 is not None and g2[0] is CheckStatus.FAIL:
        return _Unusable("ap-certificate-g2", g2[1])
    ctx.add(
        "endpoint-validity",
        CheckStatus.PASS,
        _("the endpoint is active at the lookup time"),
    )
    ctx.add(
        "ap-certificate",
        CheckStatus.PASS,
        _(
            "the access point certificate of {owner} ({seat_id}) is valid until {date} and "
            "issued by the {network} network's AP CA",
            owner=facts.organisation or facts.subject,
            seat_id=facts.seat_id or _("no Seat ID"),
            date=facts.not_after.date().isoformat(),
            network=ctx.network.name,
        ),
    )
    if g2 is not None:
        ctx.add("ap-certificate-g2", *g2)
    port = _port(url)
    if port not in (None, 443):
        ctx.add(
            "endpoint-url",
            CheckStatus.WARN,
            _("the access point listens on port {port}", port=port),
        )
    else:
        ctx.add("endpoint-url", CheckStatus.PASS, _("the access point URL is {url}", url=url))
    issuer = path[1] if len(path) > 1 else None
    if not ctx.asks_revocation:
        ctx.add("revocation", CheckStatus.SKIPPED, _NOT_CHECKED)
    elif issuer is None:
        ctx.add(
            "revocation",
            CheckStatus.SKIPPED,
            _("the access point certificate has no issuer to ask"),
        )
    else:
        answer = yield from _ask_revocation(ctx, "revocation", certificate, issuer)
        problem = _ap_revocation(ctx, answer)
        if problem is not None:
            return problem
    return _usable(ctx, endpoint, facts, url)


def _usable(ctx: _Context, endpoint: Endpoint, facts: CertificateFacts, url: str) -> _Usable:
    """The usable endpoint and its operator (as the registry knows it, if there is one)."""
    operator = _operator(
        facts.seat_id or "",
        facts.organisation,
        facts.country,
        ctx.smp_url,
        url,
        facts.sha256_fingerprint,
    )
    if ctx.operators is not None and facts.seat_id:
        operator = (
            ctx.operators.observe(
                facts.seat_id,
                name=facts.organisation,
                country=facts.country,
                smp_url=ctx.smp_url,
                ap_url=url,
                fingerprint=facts.sha256_fingerprint,
            )
            or operator
        )
    info = EndpointInfo(
        url=endpoint.url,
        transport_profile=endpoint.transport_profile,
        activation=endpoint.activation,
        expiration=endpoint.expiration,
        certificate=facts,
        description=endpoint.description,
        technical_contact=endpoint.technical_contact,
    )
    return _Usable(info, operator)


@functools.lru_cache(maxsize=1024)
def _operator(
    seat_id: str,
    name: str | None,
    country: str | None,
    smp_url: str | None,
    ap_url: str,
    fingerprint: str,
) -> Operator:
    """The operator an answer names, made once per distinct set of facts: a bulk run's answers
    name a few operators over and over, and each made anew was five more objects (three sets)
    in every answer a result cache keeps. A pure function of plain text."""
    return Operator(
        seat_id=seat_id,
        name=name,
        country=country,
        smp_urls=frozenset({smp_url} if smp_url else ()),
        ap_urls=frozenset({ap_url}),
        certificate_fingerprints=frozenset({fingerprint}),
    )


_NOT_CHECKED: Final = _("revocation was not checked (no CRL/OCSP checker configured)")


def _ap_revocation(ctx: _Context, answer: RevocationAnswer) -> _Unusable | None:
    """Record the access point certificate's revocation status; the problem if it is one."""
    status, detail = answer.status, _detail(answer)
    if status is RevocationStatus.REVOKED:
        return _Unusable(
            "revocation", _("the access point certificate has been revoked{detail}", detail=detail)
        )
    if status is RevocationStatus.GOOD:
        ctx.add(
            "revocation",
            CheckStatus.PASS,
            _("the access point certificate is not revoked{detail}", detail=detail),
        )
    elif status is RevocationStatus.NOT_CHECKED:
        ctx.add(
            "revocation",
            CheckStatus.SKIPPED,
            _("the revocation checker did not check the access point certificate"),
        )
    elif ctx.soft_fail:
        ctx.add(
            "revocation",
            CheckStatus.WARN,
            _(
                "the revocation status of the access point certificate could not be "
                "determined{detail}; accepted because revocation soft fail is on",
                detail=detail,
            ),
        )
    else:
        return _Unusable(
            "revocation",
            _(
                "the revocation status of the access point certificate could not be "
                "determined{detail}",
                detail=detail,
            ),
            fault=True,
        )
    return None


@functools.lru_cache(maxsize=1024)  # a pure function of the text; access point URLs repeat
def _port(url: str) -> int | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).port
    except ValueError:
        return None


def _identifier_check(ctx: _Context, candidate: ParticipantId) -> None:
    result = validate(candidate)
    errors = [p for p in result.problems if p.severity == "error"]
    warnings = [p for p in result.problems if p.severity != "error"]
    scheme = result.scheme
    label = f"{scheme.scheme_id} ({scheme.icd})" if scheme else candidate.icd or _("unknown scheme")
    if errors:
        ctx.add(
            "identifier",
            CheckStatus.WARN,
            _(
                "{participant}: {problem} - looking it up anyway, the SML decides",
                participant=candidate.bare,
                problem=errors[0].message,
            ),
        )
    elif warnings:
        ctx.add(
            "identifier",
            CheckStatus.WARN,
            _("{participant}: {problem}", participant=candidate.bare, problem=warnings[0].message),
        )
    else:
        ctx.add(
            "identifier",
            CheckStatus.PASS,
            _(
                "{participant} is a valid {scheme} identifier",
                participant=candidate.bare,
                scheme=label,
            ),
        )


def _defect(ctx: _Context, exc: Exception) -> Reachability:
    """An exception nothing expected (our bug, or a library's): "unknown", logged, never raised.

    The promise "a lookup never raises for what the network does" must hold even against
    defects: a lookup in a bulk run or a follow-up must not take the others down with it.
    """
    _log.error("lookup of %s failed with a defect", ctx.query, exc_info=exc)
    ctx.add(
        "defect",
        CheckStatus.FAIL,
        _(
            "the lookup stopped on an unexpected error ({error}); this is a defect in peppolnet "
            "or a library it uses - please report it",
            error=type(exc).__name__ + ": " + str(exc),
        ),
    )
    ctx.retryable = False
    return ctx.result(Verdict.UNKNOWN)


def _finish(ctx: _Context, started: float, verdict: Verdict) -> Reachability:
    ctx.timings["total"] = time.perf_counter() - started
    return ctx.result(verdict)


def _doc_label(document_type: DocumentTypeId) -> str:
    name = document_type_name(document_type)
    return name or document_type.customization_id or document_type.value


# --- the two shells ----------------------------------------------------------------------------

_NO_SCOPE: Final = contextlib.nullcontext()


class _Base:
    resolver: SmlResolver | AsyncSmlResolver
    smp: SmpClient | AsyncSmpClient

    def __init__(
        self,
        network: Network | None,
        *,
        operators: OperatorRegistry | None,
        revocation: RevocationChecker | AsyncRevocationChecker | None,
        list_document_types: bool,
        clock: Clock | None,
        deadline: float | None,
        retry: RetryPolicy | None,
    ) -> None:
        if network is None:
            from peppolnet.network import PRODUCTION

            network = PRODUCTION
        if deadline is not None and not (isinstance(deadline, int | float) and deadline > 0):
            raise InvalidInput(
                _(
                    "deadline must be a positive number of seconds, not {deadline}",
                    deadline=repr(deadline),
                )
            )
        self.network = network
        self.deadline = None if deadline is None else float(deadline)
        self.operators = operators
        if revocation is not None:
            require_checker(revocation, asynchronous=not isinstance(self, Lookup))
        self.revocation: RevocationChecker | AsyncRevocationChecker = (
            revocation or NoRevocationCheck()
        )
        self._asks_revocation = not isinstance(self.revocation, NoRevocationCheck)
        self.list_document_types = list_document_types
        self.clock: Clock = as_clock(clock)
        #: How often each request is tried; ``retry.attempts - 1`` retries for a whole lookup.
        self.retry = retry or _retry.DEFAULT

    def _context(
        self,
        participant: Participantish | None,
        number: str | None,
        country: str | None,
        document_type: DocumentTypeId | str | None,
        process: ProcessId | str | None,
        at: datetime | None,
        list_document_types: bool | None,
    ) -> _Context:
        query, candidates = _candidates(participant, number, country)
        doc = resolve_document_type(document_type)
        if process is not None and not isinstance(process, str | ProcessId):
            raise InvalidProcessId(
                _("process must be text or a ProcessId, not {process}", process=repr(process))
            )
        proc = ProcessId.parse(process) if isinstance(process, str) else process
        if at is not None and (not isinstance(at, datetime) or at.tzinfo is None):
            raise InvalidInput(
                _(
                    "at must be a datetime with a time zone (e.g. datetime.now(UTC)), not {at}",
                    at=repr(at),
                )
            )
        ctx = _Context(
            query=query,
            network=self.network,
            document_type=doc,
            process=proc,
            at=at or self.clock.now(),
            list_document_types=(
                self.list_document_types if list_document_types is None else list_document_types
            ),
            operators=self.operators,
            revocation=self.revocation,
            asks_revocation=self._asks_revocation,
            soft_fail=self._asks_revocation and revocation_soft_fail(self.revocation),
            budget=_Budget(self.deadline),
            retry=self.retry,
            retries=_retry.Budget(self.retry.retries),
        )
        ctx.candidates = candidates
        return ctx

    def _traced(
        self,
        participant: Participantish | None,
        number: str | None,
        country: str | None,
        document_type: DocumentTypeId | str | None,
        process: ProcessId | str | None,
        at: datetime | None,
        resolver: SmlResolver | AsyncSmlResolver,
    ) -> tuple[_Context, TraceRecorder]:
        """A lookup's context for a trace - the SML asked afresh, not from the cache - and
        the recorder its drivers tell what they do."""
        from peppolnet.trace.recorder import TraceRecorder

        ctx = self._context(participant, number, country, document_type, process, at, None)
        ctx.use_cache = False
        return ctx, TraceRecorder(ctx, resolver, self.network)

    def _smp_options(self, timeout: float, per_host: int | None) -> ClientOptions:
        """The SMP client's options: the lookup's clock and retry policy (its budget applies)."""
        return {"timeout": timeout, "clock": self.clock, "per_host": per_host, "retry": self.retry}

    def _call(self, request: _Request, revocation: Callable[..., Any]) -> Any:
        """The call that performs ``request`` - its result for the sync clients, an awaitable
        of it for the async ones (same names, same arguments): the one dispatch of both shells.
        ``revocation`` asks the revocation checker, in the shell's way."""
        if isinstance(request, _Resolve):
            return self.resolver.resolve(
                request.participant, use_cache=request.use_cache, timeout=request.timeout
            )
        if isinstance(request, _ServiceGroup):
            return self.smp.service_group(request.smp_url, request.participant)
        if isinstance(request, _Revocation):
            return revocation(self.revocation, request.certificate, request.issuer, request.at)
        assert isinstance(request, _Metadata)
        return self.smp.service_metadata(
            request.smp_url, request.participant, request.document_type, at=request.at
        )

    def _scope(self, request: _Request) -> contextlib.AbstractContextManager[None]:
        """What a request may take, for every client below: the time the lookup's deadline
        leaves it, the network's destination policy (the CRL checker reads both) and the
        lookup's retry budget (the SMP client's retries draw from it).

        The SML question needs none of it - the resolver is given its time as an argument,
        asks only its own nameservers and is not retried by any client below (the flow
        retries it, from the same budget) - so it goes without (setting and resetting the two
        context variables in a generator's context manager took ~4 us per SML question)."""
        if isinstance(request, _Resolve):
            return _NO_SCOPE
        return self._request_scope(request)

    def _request_scope(self, request: _Request) -> contextlib.AbstractContextManager[None]:
        return _RequestScope(
            _http.scope(seconds=request.timeout, destinations=self.network.destinations),
            _retry.spending(request.budget),
        )


class _RequestScope:
    """The deadline and policy scope and the retry budget of one request, entered and left
    together (a class: a generator's context manager around the two cost more than both)."""

    __slots__ = ("_budget", "_scope")

    def __init__(
        self,
        scope: contextlib.AbstractContextManager[None],
        budget: contextlib.AbstractContextManager[Any],
    ) -> None:
        self._scope = scope
        self._budget = budget

    def __enter__(self) -> None:
        self._scope.__enter__()
        try:
            self._budget.__enter__()
        except BaseException:
            self._scope.__exit__(None, None, None)
            raise

    def __exit__(self, *exc: Any) -> None:
        try:
            self._budget.__exit__(*exc)
        finally:
            self._scope.__exit__(*exc)


class Lookup(_Base):
    """Answer "can this participant receive this document type?" (blocking).

    ``per_host`` limits the requests in flight to one SMP host (bulk runs); ``http_client``,
    ``resolver`` and ``smp_client`` replace the ones the lookup would build (and then stay the
    caller's to close). ``timeout`` bounds each request (a DNS question, one HTTP request with
    its body); ``deadline`` (seconds, default 30, None for none) bounds a whole lookup - DNS,
    the SMP requests with their retries and redirect, and revocation - after which the verdict
    is ``unknown`` (see the module notes). ``retry`` (a :class:`RetryPolicy`, default three
    tries with jittered back-off from 0.25 s) says how often a fault is tried again - within one
    budget of ``attempts - 1`` retries for the whole lookup. ``revocation`` (e.g.
    :class:`~peppolnet.revocation.CrlChecker`) is asked about the SMP's signing certificate and
    the access point certificate; without it the ``revocation`` check says "not checked".
    ``dnssec=True`` validates the SML's answer with DNSSEC from the network's trust anchors
    (docs/dnssec.md): the ``dnssec`` check passes for a secure answer, warns for an unsigned
    zone (the verdict stands), and a bogus answer makes the verdict ``unknown``.

    >>> # with a running sandbox (see docs/sandbox.md):
    >>> # Lookup(sandbox.network).check("0007:5567321707").verdict
    """

    resolver: SmlResolver
    smp: SmpClient

    def __init__(
        self,
        network: Network | None = None,
        *,
        http_client: httpx.Client | None = None,
        resolver: SmlResolver | None = None,
        smp_client: SmpClient | None = None,
        operators: OperatorRegistry | None = None,
        revocation: RevocationChecker | None = None,
        list_document_types: bool = False,
        timeout: float = 10.0,
        clock: Clock | None = None,
        per_host: int | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
        retry: RetryPolicy | None = None,
        dnssec: bool = False,
    ) -> None:
        super().__init__(
            network,
            operators=operators,
            revocation=revocation,
            list_document_types=list_document_types,
            clock=clock,
            deadline=deadline,
            retry=retry,
        )
        # The lookup judges https itself (its own check, its own sentence), so the resolver
        # hands over http URLs instead of refusing them.
        self.resolver = _resolver(resolver, dnssec) or SmlResolver.for_network(
            self.network, timeout=timeout, require_https=False, clock=self.clock, dnssec=dnssec
        )
        self._own_smp = smp_client is None
        self.smp = smp_client or SmpClient(
            self.network, client=http_client, **self._smp_options(timeout, per_host)
        )

    def close(self) -> None:
        """Release the HTTP connections we opened (a client passed in stays the caller's)."""
        if self._own_smp:
            self.smp.close()

    def __enter__(self) -> Lookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check(
        self,
        participant: Participantish | None = None,
        *,
        number: str | None = None,
        country: str | None = None,
        document_type: DocumentTypeId | str | None = None,
        process: ProcessId | str | None = None,
        at: datetime | None = None,
        list_document_types: bool | None = None,
    ) -> Reachability:
        """Look ``participant`` (or ``number`` in ``country``) up; never raises for faults.

        Invalid *input* (a malformed identifier, an unknown alias) raises
        :class:`~peppolnet.errors.InvalidIdentifier`; everything the network does ends up in the
        returned :class:`Reachability`.
        """
        ctx = self._context(
            participant, number, country, document_type, process, at, list_document_types
        )
        return self._run(ctx, None)

    def trace(
        self,
        participant: Participantish | None = None,
        document_type: DocumentTypeId | str | None = None,
        *,
        number: str | None = None,
        country: str | None = None,
        process: ProcessId | str | None = None,
        at: datetime | None = None,
    ) -> Trace:
        """Look ``participant`` (or ``number`` in ``country``) up as :meth:`check` does and
        record every step on the way.

        The :class:`~peppolnet.trace.Trace` holds each step in order - the identifier, the SML
        name, each DNS query and its answer, the SMP URL, the SMP host's addresses, the TLS
        handshake, each HTTP request, the ServiceMetadata, its signature and certificates, the
        endpoint - with its timing and status, and the :class:`Reachability` that
        :meth:`check` would have returned (the SML is asked afresh, not from the cache). Raises
        only for invalid input, as :meth:`check` does.
        """
        ctx, recorder = self._traced(
            participant, number, country, document_type, process, at, self.resolver
        )
        with recorder.watching():
            result = self._run(ctx, recorder)
        return recorder.trace(result)

    def _run(self, ctx: _Context, watcher: _Watcher | None) -> Reachability:
        """Drive the lookup's steps with blocking calls (``watcher``: a trace, told of each)."""
        steps = _lookup_steps(ctx)
        try:
            step = _advance(steps, None, None)
            while not isinstance(step, Reachability):
                if watcher is not None:
                    watcher.asking(step)
                try:
                    result, error = self._perform(step), None
                except PeppolnetError as exc:
                    result, error = None, exc
                if watcher is not None:
                    watcher.answered(step, result if error is None else error)
                step = _advance(steps, result, error)
                # An error thrown in must not stay in this frame: its traceback holds the frame
                # (and the flow's), a cycle only the collector would free.
                error = None
            return step
        except Exception as exc:
            return _defect(ctx, exc)

    def _perform(self, request: _Request) -> Any:
        if isinstance(request, _Unconfirmed):
            return _unconfirmed(self.resolver, request)
        if isinstance(request, _Pause):
            return time.sleep(request.seconds)
        with self._scope(request):
            return self._call(request, _revocation_or_failure)


class AsyncLookup(_Base):
    """The asynchronous twin of :class:`Lookup`: same arguments, same results."""

    resolver: AsyncSmlResolver
    smp: AsyncSmpClient

    def __init__(
        self,
        network: Network | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        resolver: AsyncSmlResolver | None = None,
        smp_client: AsyncSmpClient | None = None,
        operators: OperatorRegistry | None = None,
        revocation: RevocationChecker | AsyncRevocationChecker | None = None,
        list_document_types: bool = False,
        timeout: float = 10.0,
        clock: Clock | None = None,
        per_host: int | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
        retry: RetryPolicy | None = None,
        dnssec: bool = False,
    ) -> None:
        super().__init__(
            network,
            operators=operators,
            revocation=revocation,
            list_document_types=list_document_types,
            clock=clock,
            deadline=deadline,
            retry=retry,
        )
        self._own_resolver = resolver is None
        self.resolver = _resolver(resolver, dnssec) or AsyncSmlResolver.for_network(
            self.network, timeout=timeout, require_https=False, clock=self.clock, dnssec=dnssec
        )
        # peppolnet's own resolver ends every question at the time it is given (each query has
        # its timer, a TCP one its timeout): its SML questions need no asyncio.timeout of ours
        self._bounded_resolver = type(self.resolver) is AsyncSmlResolver
        self._own_smp = smp_client is None
        self.smp = smp_client or AsyncSmpClient(
            self.network, client=http_client, **self._smp_options(timeout, per_host)
        )
        # and peppolnet's own SMP client ends every wait of a request at the deadline of the
        # scope around it (peppolnet._http.afetch: the request; smp.client._turn: a turn at the
        # host; retry pauses are only taken when they end before it)
        self._bounded_smp = type(self.smp) is AsyncSmpClient

    async def aclose(self) -> None:
        """Release the sockets and connections we opened (what was passed in stays yours)."""
        if self._own_resolver:
            await self.resolver.aclose()
        if self._own_smp:
            await self.smp.aclose()

    async def __aenter__(self) -> AsyncLookup:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def check(
        self,
        participant: Participantish | None = None,
        *,
        number: str | None = None,
        country: str | None = None,
        document_type: DocumentTypeId | str | None = None,
        process: ProcessId | str | None = None,
        at: datetime | None = None,
        list_document_types: bool | None = None,
    ) -> Reachability:
        """Async :meth:`Lookup.check`."""
        ctx = self._context(
            participant, number, country, document_type, process, at, list_document_types
        )
        return await self._run(ctx, None)

    async def trace(
        self,
        participant: Participantish | None = None,
        document_type: DocumentTypeId | str | None = None,
        *,
        number: str | None = None,
        country: str | None = None,
        process: ProcessId | str | None = None,
        at: datetime | None = None,
    ) -> Trace:
        """Async :meth:`Lookup.trace`."""
        ctx, recorder = self._traced(
            participant, number, country, document_type, process, at, self.resolver
        )
        with recorder.watching():
            result = await self._run(ctx, recorder)
        return recorder.trace(result)

    async def _run(self, ctx: _Context, watcher: _Watcher | None) -> Reachability:
        """Drive the lookup's steps with awaits (``watcher``: a trace, told of each)."""
        steps = _lookup_steps(ctx)
        try:
            step = _advance(steps, None, None)
            while not isinstance(step, Reachability):
                if watcher is not None:
                    watcher.asking(step)
                try:
                    result, error = await self._perform(step), None
                except PeppolnetError as exc:
                    result, error = None, exc
                if watcher is not None:
                    watcher.answered(step, result if error is None else error)
                step = _advance(steps, result, error)
                # An error thrown in must not stay in this frame: its traceback holds the frame
                # (and the flow's), a cycle only the collector would free.
                error = None
            return step
        except Exception as exc:
            return _defect(ctx, exc)

    async def _perform(self, request: _Request) -> Any:
        """Perform ``request`` within its time: besides each client's own deadline, an
        :func:`asyncio.timeout` ends whatever still runs (a checker of the caller's, say).

        An SML question to peppolnet's own resolver, and an SMP request of its own SMP client,
        go without it: both end every wait at the time they are given (the resolver's
        ``timeout``, the SMP client's deadline scope), so a second timer per step (a timer
        handle, a context copy, a cancellation) would only ever fire after theirs."""
        if isinstance(request, _Resolve) and self._bounded_resolver:
            return await self._call(request, _arevocation_or_failure)
        if isinstance(request, _Metadata | _ServiceGroup) and self._bounded_smp:
            with self._scope(request):
                return await self._call(request, _arevocation_or_failure)
        if isinstance(request, _Unconfirmed):
            return _unconfirmed(self.resolver, request)
        if isinstance(request, _Pause):
            return await asyncio.sleep(request.seconds)
        try:
            async with asyncio.timeout(request.timeout):
                with self._scope(request):
                    return await self._call(request, _arevocation_or_failure)
        except TimeoutError:
            raise DeadlineExceeded(_("the lookup's deadline passed")) from None


def _advance(steps: _Steps, result: Any, error: PeppolnetError | None) -> _Request | Reachability:
    """Hand the last request's outcome to ``steps`` (``error`` thrown in, for the flow to judge):
    the next request, or the lookup's :class:`Reachability` when the flow has ended."""
    try:
        return steps.send(result) if error is None else steps.throw(error)
    except StopIteration as stop:
        value: Reachability = stop.value
        return value


def _revocation_or_failure(
    checker: Any, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
) -> RevocationAnswer:
    """The checker's answer; one that raises is a fault (a checker of the caller's may raise
    anything)."""
    try:
        return revocation_answer(checker, certificate, issuer, at)
    except Exception as exc:
        return _checker_failed(exc)


async def _arevocation_or_failure(
    checker: Any, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
) -> RevocationAnswer:
    """The async twin of :func:`_revocation_or_failure`."""
    try:
        return await arevocation_answer(checker, certificate, issuer, at)
    except Exception as exc:
        return _checker_failed(exc)


_R = TypeVar("_R", SmlResolver, AsyncSmlResolver)


def _resolver(resolver: _R | None, dnssec: bool) -> _R | None:
    """The caller's resolver, which must validate DNSSEC when the lookup is asked to."""
    if resolver is not None and dnssec and not getattr(resolver, "dnssec", False):
        raise InvalidInput(
            _(
                "dnssec=True needs a resolver that validates: make it with dnssec=True, or let "
                "the lookup make its own"
            )
        )
    return resolver


def require_dnssec(lookup: object) -> None:
    """Refuse a caller's lookup that does not validate DNSSEC where ``dnssec=True`` was asked
    for as well (an automatic lookup: each network's): the lookup is used as it is, so a
    ``dnssec=True`` beside it would otherwise be ignored without a word."""
    parts = getattr(lookup, "lookups", None) or [lookup]
    if not all(getattr(getattr(part, "resolver", None), "dnssec", False) for part in parts):
        raise InvalidInput(
            _("dnssec=True with a lookup of yours needs that lookup made with dnssec=True")
        )


def _unconfirmed(resolver: SmlResolver | AsyncSmlResolver, request: _Unconfirmed) -> None:
    """Keep the SML answer behind an unsigned ``cannot-receive`` only as long as a negative
    answer (a resolver of the caller's without ``limit_ttl`` keeps its own rules)."""
    limit = getattr(resolver, "limit_ttl", None)
    if callable(limit):
        limit(request.participant)
