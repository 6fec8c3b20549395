"""``check_many``: a whole register through one shared lookup, on one bulk engine.

There is one engine, written for an event loop (:func:`_outcomes`). ``check_many_async`` runs it
on the caller's loop; ``check_many`` runs it on a private loop in a background thread, while the
caller's thread reads the input and receives the results (:func:`_bridged`). Which lookup does
the work - the run's own :class:`~peppolnet.lookup.AsyncLookup`, one of the caller's, or a sync
:class:`~peppolnet.lookup.Lookup` whose calls run in worker threads - changes nothing else: the
same code does the ordering, the window, the duplicates, the retries and the cache.

Memory stays flat however long the register is: items are pulled from the input only while
fewer than ``window`` results wait to be handed out, and results stream back (in input order, or
as completed). Duplicates are looked up once - a row whose key (participant candidates, document
type) is in flight shares that lookup, and finished answers stay in a bounded LRU
(:class:`ResultCache`) with a maximum age, so a second pass over the same register within the
age makes no network requests. Faults are retried by the lookup, within its one retry budget
(:class:`peppolnet.lookup.RetryPolicy`: a row against an SMP that always fails costs three
requests); ``retries`` (default 0) adds whole new lookups on top, each with a budget of its own,
with exponential backoff and jitter. A fault that outlasts the retries stays ``unknown`` - it
never becomes a negative verdict.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import inspect
import math
import queue
import random
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias, TypedDict, Unpack
from urllib.parse import urlsplit

from peppolnet._gate import Gate
from peppolnet._memory import DEFAULT_BUDGET, ByteLru, SampledSize
from peppolnet.bulk.columns import RESULT_COLUMNS
from peppolnet.bulk.registers import RegisterRow, lookup_key
from peppolnet.bulk.tables import AsTable, data_table
from peppolnet.clock import Clock, as_clock
from peppolnet.errors import InvalidInput, PeppolnetError
from peppolnet.i18n import _
from peppolnet.identifiers import DocumentTypeId, ParticipantId
from peppolnet.reachability import Reachability, Verdict

if TYPE_CHECKING:
    from peppolnet.lookup import AsyncLookup, Lookup
    from peppolnet.network import Network
    from peppolnet.pki import RevocationChecker

__all__ = [
    "INVALID_INPUT",
    "BulkItem",
    "BulkResult",
    "CheckOptions",
    "Checker",
    "Progress",
    "ResultCache",
    "check_many",
    "check_many_async",
    "default_per_host",
]

INVALID_INPUT: Final = "invalid-input"
"""What the output says for a row that could not be looked up at all (no/bad identifier,
malformed row): :attr:`BulkResult.outcome`, the ``verdict`` column and the progress counts."""

BulkItem: TypeAlias = RegisterRow | ParticipantId | str
_Key: TypeAlias = tuple[tuple[str, ...], str]


class Checker(Protocol):
    """What the bulk engine needs of a lookup: an awaitable ``check``.

    :class:`~peppolnet.lookup.AsyncLookup` is one. The engine awaits it on its event loop, at
    most ``concurrency`` at once; it must return a :class:`~peppolnet.reachability.Reachability`
    (a fault is an ``unknown`` one) or raise - :class:`~peppolnet.errors.InvalidInput` makes the
    row ``invalid-input``, anything else ``unknown``.
    """

    def check(
        self,
        participant: ParticipantId | str | None = None,
        *,
        number: str | None = None,
        country: str | None = None,
        document_type: DocumentTypeId | str | None = None,
    ) -> Awaitable[Reachability]: ...


_Choice: TypeAlias = "Checker | Lookup | Callable[[], Checker | Lookup]"
"""What ``lookup=`` takes: a :class:`Checker` (an ``AsyncLookup``), a sync ``Lookup`` (its calls
run in ``concurrency`` worker threads of the run), or a factory making either (the run makes it
at the call and closes it when it ends)."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Outcome:
    verdict: Verdict | None
    reason: str
    reachability: Reachability | None
    attempts: int
    # when a cached copy stops being served (monotonic seconds; see ResultCache.put): on the
    # outcome itself, not in an (expires, outcome) tuple beside it - one object less per cached
    # answer for every full garbage collection to scan
    expires: float = dataclasses.field(default=math.inf, compare=False)

    @property
    def label(self) -> str:
        return INVALID_INPUT if self.verdict is None else str(self.verdict)


@dataclasses.dataclass(frozen=True, slots=True)
class BulkResult(AsTable):
    """One input row and its answer.

    ``verdict`` is the network's answer, a :class:`~peppolnet.reachability.Verdict`, or None
    for a row that could not be looked up at all (no or a malformed identifier): such a row is
    not an answer about a participant, so it is not a member of the enum every lookup returns.
    :attr:`outcome` is the text the output carries either way (``invalid-input`` for None), and
    ``reason`` says why.

    As data: :meth:`data` (typed values), :meth:`to_arrow` (a one-row table; a run's results
    together: :class:`~peppolnet.bulk.BulkResults`), ``to_pandas()`` and ``to_parquet(path)``.
    """

    row: RegisterRow
    verdict: Verdict | None
    reason: str
    reachability: Reachability | None = None
    attempts: int = 0

    @property
    def outcome(self) -> str:
        """The verdict's text (``can-receive``...), or ``invalid-input``: the output column.
        (``str``, not ``.value``: a result built by older code with a plain string still
        writes the same row.)"""
        return INVALID_INPUT if self.verdict is None else str(self.verdict)

    @property
    def participant_id(self) -> str:
        """The participant id that was found (or tried first); empty for invalid input."""
        r = self.reachability
        if r is not None and r.participant is not None:
            return str(r.participant)
        return str(self.row.candidates[0]) if self.row.candidates else ""

    @property
    def operator_name(self) -> str:
        """The operator's name, from its access point certificate (can-receive only)."""
        op = self.reachability.operator if self.reachability else None
        return (op.name or "") if op else ""

    @property
    def seat_id(self) -> str:
        """The operator's Seat ID (``PSE000123``), from its access point certificate."""
        op = self.reachability.operator if self.reachability else None
        return op.seat_id if op else ""

    @property
    def smp_host(self) -> str:
        """The host name of the participant's SMP, when the SML named one."""
        url = self.reachability.smp_url if self.reachability else None
        return _host_of(url) if url else ""

    def record(self) -> dict[str, str]:
        """The columns added to the output row (see :data:`peppolnet.bulk.ADDED_COLUMNS`)."""
        return {
            "row": str(self.row.number),
            "participant_id": self.participant_id,
            "verdict": self.outcome,
            "operator_name": self.operator_name,
            "seat_id": self.seat_id,
            "smp_host": self.smp_host,
            "reason": self.reason,
        }

    def data(self) -> dict[str, Any]:
        """The result as typed values, one per column of
        :data:`~peppolnet.bulk.columns.RESULT_COLUMNS` (None where there is nothing), the
        row of every table of results."""
        return {column.name: column.read(self) for column in RESULT_COLUMNS}

    def to_arrow(self) -> Any:
        """This result as a one-row ``pyarrow.Table`` (the ``analytics`` extra)."""
        return data_table([self.data()])


@dataclasses.dataclass(frozen=True)
class Progress:
    """Handed to the progress callback after every result: ``done`` of ``total`` (if known).

    ``counts`` is keyed by :attr:`BulkResult.outcome` (``can-receive``, ``invalid-input``...).
    """

    done: int
    total: int | None
    counts: Mapping[str, int]
    result: BulkResult


class ResultCache:
    """A thread-safe LRU of finished answers keyed by (participant candidates, document type).

    Bounded in memory (``max_bytes``, default 64 MB of estimated entry sizes: a signed
    ``can-receive`` answer is ~12 KB, a ``not-registered`` one ~3 KB; see
    :mod:`peppolnet._memory`), optionally in entries (``maxsize``; 0 keeps nothing), and in age
    (``max_age`` seconds, default five minutes - the order of an SML answer's TTL), so a long
    run's memory stays flat whatever the register holds and a stale answer is never served.
    ``unknown`` answers from passing faults (timeouts, 5xx) are not kept: a duplicate later in
    the register gets another try; lasting ones (a bad signature) are. An answer that rests on
    DNS alone - every verdict but ``can-receive`` without a signed SMP answer behind it
    (:attr:`~peppolnet.reachability.Reachability.signed`): ``not-registered``, a 404, an SMP URL
    that is not https - is kept at most ``max_negative_ttl`` seconds (as the SML resolver keeps
    negative answers), however long ``max_age`` is: one forged DNS reply must not decide a
    customer's verdict for the rest of a long run. Pass one instance to several ``check_many``
    calls to share answers between them.
    """

    def __init__(
        self,
        maxsize: int | None = None,
        max_age: float = 300.0,
        clock: Clock | None = None,
        max_negative_ttl: float = 300.0,
        max_bytes: int = DEFAULT_BUDGET,
    ) -> None:
        self.maxsize = maxsize
        self.max_age = max_age
        self.max_negative_ttl = max_negative_ttl
        self.max_bytes = max_bytes
        self.clock: Clock = as_clock(clock)
        # key -> outcome with its expiry; sizes are estimated per verdict
        self._data: ByteLru[_Key, _Outcome] = ByteLru(
            max_bytes, max_entries=maxsize, size=SampledSize(_verdict_of)
        )
        self._lock = threading.Lock()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        """The estimated bytes of the answers held now (at most ``max_bytes``)."""
        return self._data.nbytes

    def get(self, key: _Key) -> _Outcome | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if self.clock.monotonic() > entry.expires:
                self._data.pop(key)
                return None
            self.hits += 1
            return entry

    def put(self, key: _Key, outcome: _Outcome) -> None:
        if outcome.verdict is None:
            return
        if outcome.verdict == Verdict.UNKNOWN and (
            outcome.reachability is None or outcome.reachability.retryable
        ):
            return  # a passing fault: the next duplicate gets a fresh try
        age = self.max_age
        if outcome.reachability is None or not outcome.reachability.signed:
            age = min(age, self.max_negative_ttl)
        with self._lock:
            expires = self.clock.monotonic() + age
            # made directly: dataclasses.replace looks every field up anew (~2 of ~3 us)
            kept = _Outcome(
                outcome.verdict, outcome.reason, outcome.reachability, outcome.attempts, expires
            )
            self._data.put(key, kept)


@functools.lru_cache(maxsize=1024)
def _host_of(url: str) -> str:
    """The host of an SMP URL. Remembered: a register's answers name a few SMPs over and over,
    and parsing the URL again for every output row cost more than the rest of its columns."""
    return urlsplit(url).hostname or ""


def _verdict_of(entry: _Outcome) -> Verdict | None:
    """The kind an entry's size is estimated by: its verdict (the shapes differ by verdict)."""
    return entry.verdict


def _as_row(item: BulkItem, number: int) -> RegisterRow:
    if isinstance(item, RegisterRow):
        return item
    if isinstance(item, ParticipantId):
        text = str(item)
        return RegisterRow(number, (text,), participant_id=text, candidates=(item,))
    if not isinstance(item, str):
        return _foreign_row(item, number)
    text = str(item)  # a str subclass (numpy.str_) as plain text
    try:
        candidates = lookup_key(RegisterRow(number, (text,), participant_id=text))
    except InvalidInput as exc:
        return RegisterRow(number, (text,), participant_id=text, problem=exc.message)
    # made once, complete: a dataclasses.replace per item cost more than the lookup key
    return RegisterRow(number, (text,), participant_id=text, candidates=candidates)


def _foreign_row(item: object, number: int) -> RegisterRow:
    """The row of an item that is none of :data:`BulkItem`'s kinds, with its problem: the run
    still gives one row per item. A missing value - None, or the NaN a pandas column holds for an
    empty cell - is an empty row; anything else is named by its type (a dict or tuple of a
    table's row, bytes not decoded), where ``str()`` of it made a confusing identifier error."""
    if item is None or (isinstance(item, float) and math.isnan(item)):
        return _as_row("", number)
    text = str(item)
    problem = _(
        "the row is of type {kind}, not a participant identifier: give text, a ParticipantId "
        "or a RegisterRow (read_register reads a table)",
        kind=type(item).__name__,
    )
    return RegisterRow(number, (text,), participant_id=text, problem=str(problem))


def _key(row: RegisterRow, document_type: str) -> _Key:
    return (tuple(c.uri.lower() for c in row.candidates), document_type)


def _arguments(row: RegisterRow, document_type: DocumentTypeId | str | None) -> dict[str, Any]:
    # Several candidate ids (a number that fits more than one scheme, e.g. Norway's 0192 and
    # 9909): let the lookup try them in order, even when one of them is stored as the id.
    if len(row.candidates) > 1 and row.org_number and row.country:
        return {"number": row.org_number, "country": row.country, "document_type": document_type}
    return {"participant": row.candidates[0], "document_type": document_type}


def _decide(result: Reachability | None, error: BaseException | None, attempts: int) -> _Outcome:
    if result is not None:
        reason = result.reason
        if result.verdict is Verdict.CAN_RECEIVE:
            url = result.endpoint.url if result.endpoint else None
            reason = _("a signed SMP answer lists a usable AS4 endpoint ({url})", url=url)
        return _Outcome(result.verdict, reason, result, attempts)
    if isinstance(error, InvalidInput):
        return _Outcome(None, error.message, None, attempts)
    # Anything else is a fault of ours or of the network: "unknown", never a negative verdict.
    failed = _("the lookup failed: {error}", error=error)
    return _Outcome(Verdict.UNKNOWN, failed, None, attempts)


def _should_retry(result: Reachability | None, error: BaseException | None) -> bool:
    if result is not None:
        return result.verdict is Verdict.UNKNOWN and result.retryable
    return isinstance(error, PeppolnetError) and error.retryable


def _delay(backoff: float, attempt: int) -> float:
    return backoff * (2.0 ** (attempt - 1)) * (0.5 + random.random())


class _Tally:
    """Counts and the progress callback, run where the results are handed out (the caller's
    thread or loop), so a callback never has to be thread-safe."""

    def __init__(self, total: int | None, progress: Callable[[Progress], None] | None) -> None:
        self.total = total
        self.progress = progress
        self.done = 0
        self.counts: collections.Counter[str] = collections.Counter()

    def emit(self, row: RegisterRow, outcome: _Outcome, shared: bool) -> BulkResult:
        attempts = 0 if shared else outcome.attempts
        result = BulkResult(row, outcome.verdict, outcome.reason, outcome.reachability, attempts)
        self.done += 1
        self.counts[outcome.label] += 1
        if self.progress is not None:
            self.progress(Progress(self.done, self.total, dict(self.counts), result))
        return result


# --- what a run is given --------------------------------------------------------------------


_Release: TypeAlias = Callable[[], Awaitable[None]]


#: The most requests at once to one SMP host a run makes when the caller does not say.
MAX_DEFAULT_PER_HOST: Final = 32


def default_per_host(concurrency: int) -> int:
    """Requests at once per SMP host when the caller does not choose: a quarter of the run's
    lookups, so that one big SMP cannot hold every slot while lookups to other hosts wait, at
    least 2, and at most :data:`MAX_DEFAULT_PER_HOST`.

    Why the ceiling: a register's run at ``concurrency=256`` would otherwise keep 64
    connections open to each large SMP, far more than a browser (6) or an HTTP library's pool
    (urllib3: 10) would, and an SMP run by a service provider for thousands of participants
    should not see one customer register as a load test. The ceiling costs a run nothing where
    the client's CPU is the limit: at 256 lookups at once against the sandbox, 32 per host gave
    6% more lookups per second than 64, with 8% less client CPU per lookup (fewer connections
    to open and keep). A run over a slow SMP that wants more asks for it with ``per_host``.

    >>> default_per_host(16), default_per_host(32), default_per_host(256)
    (4, 8, 32)
    """
    return min(MAX_DEFAULT_PER_HOST, max(2, concurrency // 4))


class CheckOptions(TypedDict, total=False):
    """The options of :func:`check_many`, :func:`check_many_async` and
    :meth:`~peppolnet.bulk.RegisterRun.check` - one definition, so the three cannot drift.

    * ``network`` (default production): the network of the run's own lookup, made when no
      ``lookup`` is given; ``per_host`` (default :func:`default_per_host`: requests
      in flight per SMP host), ``timeout`` (10 s per request), ``deadline`` (30 s per lookup, None
      for none; a retry is a new lookup with a deadline of its own) and ``revocation`` (a
      revocation checker) are that lookup's - give a lookup of yours its own instead;
    * ``document_type`` (default the Peppol BIS invoice): an alias or a document type id;
    * ``concurrency`` (16): lookups at once; ``window`` (``max(256, 16 x concurrency)``):
      results at most waiting to be consumed - one slow answer must not starve the pool in
      ordered mode; ``ordered`` (True): in input order, else as completed;
    * ``retries`` (0: the lookup retries faults itself, within one budget - three requests to
      a failing SMP) and ``backoff`` (0.5 s, doubled per attempt, with jitter): whole new
      lookups after a fault the lookup's retries did not mend;
    * ``cache`` (a new :class:`ResultCache` per run): pass one to share answers between runs;
    * ``total`` and ``progress``: the callback gets a :class:`Progress` after every result;
    * ``clock``: drives the run's lookup and cache (default the lookup's, else the system's);
    * ``processes`` (1): worker processes for ``check_many`` (one core each; see
      :mod:`peppolnet.bulk.processes` and docs/bulk.md): ``concurrency``, ``per_host`` and the
      result cache's memory budget are the run's totals, split across them; the lookup is made
      in each worker from settings (``network=``... or ``functools.partial(AsyncLookup,
      network, ...)``), so a lookup object, ``cache=`` and ``clock=`` are refused.
    """

    network: Network | None
    document_type: DocumentTypeId | str | None
    concurrency: int
    per_host: int | None
    timeout: float
    deadline: float | None
    ordered: bool
    retries: int
    backoff: float
    cache: ResultCache | None
    window: int | None
    total: int | None
    progress: Callable[[Progress], None] | None
    revocation: RevocationChecker | None
    clock: Clock | None
    processes: int


@dataclasses.dataclass(frozen=True)
class _Plan:
    """A run's settings, checked at the call: the same for both entry points."""

    check: Callable[..., Awaitable[Reachability]]
    release: _Release | None  # how the run lets go of what it made (on its loop), if anything
    document_type: DocumentTypeId | str | None
    doc_key: str
    concurrency: int
    window: int
    ordered: bool
    retries: int
    backoff: float
    cache: ResultCache


def _plan(lookup: _Choice | None, options: CheckOptions, caller: str) -> _Plan:
    """Check the options and settle which checker does the lookups (see :func:`check_many`).

    Everything that can be wrong is found here, at the call - a misspelt or bad option, a
    network that cannot be set up - not at the first row.
    """
    if _processes(options, caller) > 1:
        raise InvalidInput(
            _(
                "processes > 1 is for check_many: the rows are handed between processes"
                " in the caller's thread (run check_many in a thread of yours, e.g. "
                "asyncio.to_thread)"
            )
        )
    concurrency = options.get("concurrency", 16)
    retries = options.get("retries", 0)  # the lookup retries faults within its own budget
    if concurrency < 1:
        raise InvalidInput(
            _("concurrency must be at least 1, not {concurrency}", concurrency=concurrency)
        )
    if retries < 0:
        raise InvalidInput(_("retries must be 0 or more, not {retries}", retries=retries))
    from peppolnet.lookup import resolve_document_type

    document_type = options.get("document_type")
    doc_key = resolve_document_type(document_type).uri
    check, release, owner = _checker(lookup, options, concurrency, caller)
    cache = options.get("cache")
    window = options.get("window")
    return _Plan(
        check,
        release,
        document_type,
        doc_key,
        concurrency,
        window if window and window > 0 else max(256, concurrency * 16),
        options.get("ordered", True),
        retries,
        options.get("backoff", 0.5),
        cache if cache is not None else ResultCache(clock=_run_clock(owner, options)),
    )


def _processes(options: CheckOptions, caller: str) -> int:
    """The run's worker processes, with every option's name checked (a misspelt option is
    refused at the call, as a misspelt argument is)."""
    unknown = sorted(set(options) - CheckOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    processes = options.get("processes", 1)
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise InvalidInput(
            _(
                "processes must be a whole number of at least 1, not {processes}",
                processes=repr(processes),
            )
        )
    return processes


def _checker(
    lookup: _Choice | None, options: CheckOptions, concurrency: int, caller: str
) -> tuple[Callable[..., Awaitable[Reachability]], _Release | None, object]:
    """The function the engine awaits per lookup, how the run lets go of what it made, and
    the lookup whose clock the run keeps."""
    revocation = options.get("revocation")
    if lookup is not None and revocation is not None:
        # a lookup of the caller's has its own checker: a second one would silently be ignored
        raise InvalidInput(
            _(
                "pass revocation= either to check_many (for the run's own lookup) or to"
                " your own Lookup, not to both"
            )
        )
    if lookup is None:
        made: object = _own_async_lookup(
            options.get("network"),
            options.get("per_host") or default_per_host(concurrency),
            options.get("timeout", 10.0),
            options.get("deadline", 30.0),
            revocation,
            options.get("clock"),
        )
    elif getattr(lookup, "check", None) is None:
        made = lookup()  # type: ignore[operator]  # a factory: the run owns what it makes
    else:
        check, release = _adapt(lookup, concurrency)
        if release is None and caller == "check_many":
            release = _loop_released(lookup)
        return check, release, lookup
    check, release = _adapt(made, concurrency)
    return check, _closing(made, release), made


def _loop_released(lookup: object) -> _Release | None:
    """For ``check_many``'s own loop: let go of what a caller's async lookup opened on it.

    An :class:`~peppolnet.lookup.AsyncLookup` keeps its connections, sockets and per-host limits
    per event loop, and ``aclose`` closes the running loop's only: the lookup stays usable -
    in the next ``check_many`` (a loop of its own again) or on the caller's loop. Another
    :class:`Checker` of the caller's is left as it is.
    """
    from peppolnet.lookup import AsyncLookup

    return lookup.aclose if isinstance(lookup, AsyncLookup) else None


def _adapt(
    lookup: object, concurrency: int
) -> tuple[Callable[..., Awaitable[Reachability]], _Release | None]:
    """The lookup as the engine's :class:`Checker`: an async one as it is, a sync one (a
    :class:`~peppolnet.lookup.Lookup`) through worker threads (:class:`_InThreads`)."""
    if inspect.iscoroutinefunction(getattr(lookup, "check", None)):
        return lookup.check, None  # type: ignore[attr-defined]
    threads = _InThreads(lookup, concurrency)
    return threads.check, threads.aclose


def _closing(made: object, before: _Release | None) -> _Release:
    """Release a lookup the run made: first ``before`` (its worker threads), then the lookup."""

    async def release() -> None:
        try:
            if before is not None:
                await before()
        finally:
            aclose = getattr(made, "aclose", None)
            if aclose is not None:
                await aclose()
            else:
                close = getattr(made, "close", None)
                if close is not None:
                    close()

    return release


class _InThreads:
    """A sync lookup as a :class:`Checker`: each ``check`` runs in a worker thread of the run.

    Why threads and not a silent switch to the run's own async lookup: the caller's
    ``Lookup`` is what they configured (operators, revocation, resolver, clients) and what
    they expect to be asked. The pool has ``concurrency`` workers, the engine lets at most
    ``concurrency`` checks run, so the rate and the load are the ones the caller chose; the
    order, the window, the duplicates, the retries (their back-off now a cancellable sleep on
    the loop) and the cache are the engine's, as for an async lookup.
    """

    def __init__(self, lookup: Any, workers: int) -> None:
        self._check: Callable[..., Reachability] = lookup.check
        self._pool = concurrent.futures.ThreadPoolExecutor(
            workers, thread_name_prefix="peppolnet-bulk"
        )

    def check(self, **arguments: Any) -> Awaitable[Reachability]:
        call = functools.partial(self._check, **arguments)
        return asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def aclose(self) -> None:
        """Cancel the calls that have not started and wait for the running ones (in a thread,
        so the loop stays free): the caller may close their lookup as soon as the run ends."""
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)


def _own_async_lookup(
    network: Network | None,
    per_host: int,
    timeout: float,
    deadline: float | None,
    revocation: RevocationChecker | None,
    clock: Clock | None,
) -> AsyncLookup:
    from peppolnet.lookup import AsyncLookup

    return AsyncLookup(
        network,
        per_host=per_host,
        timeout=timeout,
        deadline=deadline,
        revocation=revocation,
        clock=clock,
    )


def _run_clock(lookup: object, options: CheckOptions) -> Clock:
    """The run's clock: the one given, else the lookup's, else the system's."""
    clock = options.get("clock")
    if clock is not None:
        return as_clock(clock)
    theirs = getattr(lookup, "clock", None)
    return theirs if isinstance(theirs, Clock) else as_clock(None)


# --- the engine -----------------------------------------------------------------------------


_END: Final = object()
_Entry: TypeAlias = tuple[RegisterRow, _Outcome, bool]
_Answer: TypeAlias = "_Outcome | asyncio.Future[_Outcome]"
"""A row's answer: there already (a cached one, a row that cannot be looked up) or to come."""
_Pending: TypeAlias = tuple[RegisterRow, _Answer, bool]


def _answered(answer: _Answer) -> bool:
    return isinstance(answer, _Outcome) or answer.done()


class _Lookups:
    """The lookups of one run, on the running loop: one per distinct key, cached, retried.

    Everything here runs on the loop's thread, so a duplicate finds either the lookup in flight
    or its cached answer, never neither (with threads, that gap cost a second lookup).
    """

    def __init__(self, plan: _Plan) -> None:
        self._plan = plan
        self._loop = asyncio.get_running_loop()
        self._semaphore = Gate(plan.concurrency)
        self._inflight: dict[_Key, asyncio.Future[_Outcome]] = {}
        self._running: set[asyncio.Future[_Outcome]] = set()

    def schedule(self, row: RegisterRow) -> _Pending:
        """The answer to ``row`` (an outcome, or the future of one), and whether this row
        shares another row's answer. A cached answer is handed on as it is, not in a future
        of its own: four rows in five of a big register are such hits, and every object a
        row keeps while it waits in the window is work for the garbage collector."""
        if row.problem is not None:
            return row, _Outcome(None, row.problem, None, 0), False
        key = _key(row, self._plan.doc_key)
        hit = self._plan.cache.get(key)
        if hit is not None:
            return row, hit, True
        future = self._inflight.get(key)
        if future is not None:
            return row, future, True
        future = asyncio.ensure_future(self._check(row))
        self._inflight[key] = future
        self._running.add(future)
        future.add_done_callback(functools.partial(self._finished, key))
        return row, future, False

    def cancel(self) -> None:
        """Cancel every lookup still running (the run was closed early)."""
        for future in list(self._running):
            future.cancel()

    def _finished(self, key: _Key, future: asyncio.Future[_Outcome]) -> None:
        self._running.discard(future)
        if not future.cancelled() and future.exception() is None:
            self._plan.cache.put(key, future.result())
        if self._inflight.get(key) is future:
            del self._inflight[key]

    async def _check(self, row: RegisterRow) -> _Outcome:
        plan = self._plan
        arguments = _arguments(row, plan.document_type)
        attempt = 0
        while True:
            attempt += 1
            result: Reachability | None = None
            error: BaseException | None = None
            async with self._semaphore:
                try:
                    result = await plan.check(**arguments)
                except Exception as exc:  # every row must come back; see _decide
                    error = exc
            if attempt <= plan.retries and _should_retry(result, error):
                await asyncio.sleep(_delay(plan.backoff, attempt))  # cancelled by closing
                continue
            return _decide(result, error, attempt)


class _InOrder:
    """Rows waiting to be handed out in input order; ``len`` is what counts against the window
    (a finished answer behind a slow one still waits)."""

    def __init__(self) -> None:
        self._pending: collections.deque[_Pending] = collections.deque()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, entry: _Pending) -> None:
        self._pending.append(entry)

    def ready(self) -> bool:
        """Whether :meth:`next` would not wait."""
        return bool(self._pending) and _answered(self._pending[0][1])

    def arm(self, waiter: asyncio.Future[None]) -> Callable[[], None]:
        """Wake ``waiter`` when :meth:`ready`; returns how to stop."""
        if not self._pending:
            return _nothing
        head = self._pending[0][1]
        if isinstance(head, _Outcome):
            _wake(waiter)
            return _nothing
        callback = functools.partial(_wake, waiter)
        head.add_done_callback(callback)

        def stop() -> None:
            head.remove_done_callback(callback)

        return stop

    async def next(self) -> _Entry:
        row, answer, shared = self._pending.popleft()
        if isinstance(answer, _Outcome):
            return row, answer, shared
        # shielded: a duplicate later in the window may share this future
        outcome = answer.result() if answer.done() else await asyncio.shield(answer)
        return row, outcome, shared


class _AsCompleted:
    """Rows handed out as their answers arrive. The answers come through done-callbacks into a
    deque, so handing one out is O(1) (an ``asyncio.wait`` over the whole window per result made
    c=256 with its 4,096-row window slower than c=32)."""

    def __init__(self) -> None:
        self._outstanding = 0
        self._completed: collections.deque[_Pending] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return self._outstanding

    def add(self, entry: _Pending) -> None:
        self._outstanding += 1
        answer = entry[1]
        if isinstance(answer, _Outcome):
            self._arrived(entry, answer)
        else:
            answer.add_done_callback(functools.partial(self._arrived, entry))

    def _arrived(self, entry: _Pending, _future: object) -> None:
        self._completed.append(entry)
        if self._waiter is not None:
            _wake(self._waiter)

    def ready(self) -> bool:
        return bool(self._completed)

    def arm(self, waiter: asyncio.Future[None]) -> Callable[[], None]:
        self._waiter = waiter
        return self._disarm

    def _disarm(self) -> None:
        self._waiter = None

    async def next(self) -> _Entry:
        while not self._completed:
            await _wait_for(self)
        row, answer, shared = self._completed.popleft()
        self._outstanding -= 1
        return row, answer if isinstance(answer, _Outcome) else answer.result(), shared


class _Waitable(Protocol):
    def arm(self, waiter: asyncio.Future[None]) -> Callable[[], None]: ...


def _nothing() -> None:
    pass


def _wake(waiter: asyncio.Future[None], *_: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _wait_for(*sources: _Waitable) -> None:
    """Wait until one of ``sources`` has something (new input, a result to hand out)."""
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    stops = [source.arm(waiter) for source in sources]
    try:
        await waiter
    finally:
        for stop in stops:
            stop()


class _Iterated:
    """A plain or async iterable as the engine's input. Reading it may wait (it is the caller's
    own, on the caller's loop), so the engine reads until the window is full, as a loop would."""

    def __init__(self, items: Iterable[BulkItem] | AsyncIterable[BulkItem]) -> None:
        self._items = _aiter(items)

    def ready(self) -> bool:
        return True

    def arm(self, waiter: asyncio.Future[None]) -> Callable[[], None]:
        _wake(waiter)
        return _nothing

    async def read(self) -> object:
        try:
            return await anext(self._items)
        except StopAsyncIteration:
            return _END


class _Input(_Waitable, Protocol):
    def ready(self) -> bool: ...

    async def read(self) -> object: ...


async def _outcomes(source: _Input, plan: _Plan) -> AsyncGenerator[_Entry, None]:
    """The bulk engine: every item's outcome, in order or as completed, at most ``window``
    waiting. It never waits for input while a result can be handed out, nor for a result while
    input could be read into the window (the caller of ``check_many`` may be waiting for the
    one before giving the other). An error of the input is raised after the rows read before
    it have come back; closing the generator cancels the lookups still running. At the end
    the run lets go of what it made (its lookup, the worker threads of a sync one)."""
    lookups = _Lookups(plan)
    waiting = _InOrder() if plan.ordered else _AsCompleted()
    number = 0
    failure: Exception | None = None
    more = True
    try:
        while True:
            while more and len(waiting) < plan.window and source.ready():
                try:
                    item = await source.read()
                except Exception as exc:  # rows read before it still come back, then it
                    failure, item = exc, _END
                if item is _END:
                    more = False
                    continue
                number += 1
                waiting.add(lookups.schedule(_as_row(item, number)))  # type: ignore[arg-type]
            reading = more and len(waiting) < plan.window
            if waiting.ready() or (waiting and not reading):
                yield await waiting.next()
            elif reading:
                await _wait_for(source, waiting)
            else:
                break
        if failure is not None:
            raise failure
    finally:
        lookups.cancel()
        if plan.release is not None:  # on this loop, where its connections were opened
            await plan.release()


async def _aiter(items: Iterable[BulkItem] | AsyncIterable[BulkItem]) -> AsyncIterator[BulkItem]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


# --- check_many: the engine on a private loop, the input and the results in the caller's thread


class _Raised:
    """An exception of the engine, carried from the event loop to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Ended:
    """The engine has finished and let go of its lookup (after its last result, or after
    :class:`_Raised`)."""


class _Feed:
    """Rows from the caller's thread to the event loop, waking the loop only when it waits.

    A ``call_soon_threadsafe`` per row (a pipe write and a loop wake-up each) cost more than a
    cached answer; here a row is a locked append, and the loop is woken only when it had run
    out of rows - so a slow input still reaches the lookups at once, row by row. It is the
    engine's input on the loop's side; :data:`_END` ends it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: collections.deque[object] = collections.deque()
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: object) -> None:
        """Add ``item`` (caller's thread)."""
        self.put_all((item,))

    def put_all(self, items: Iterable[object]) -> None:
        """Add ``items`` at once (a batch from a worker process's pipe): one lock and at most
        one wake-up of the loop for the batch."""
        with self._lock:
            self._items.extend(items)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed after a failure
                self._loop.call_soon_threadsafe(_wake, waiter)

    def ready(self) -> bool:
        return bool(self._items)

    async def read(self) -> object:
        """The next item; only called when :meth:`ready` (event loop's thread)."""
        with self._lock:
            return self._items.popleft()

    def arm(self, waiter: asyncio.Future[None]) -> Callable[[], None]:
        with self._lock:
            if self._items:
                _wake(waiter)
                return _nothing
            self._waiter = waiter
        return self._disarm

    def _disarm(self) -> None:
        with self._lock:
            self._waiter = None


class _LoopThread:
    """A private event loop in a daemon thread, running one coroutine to its end."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._serve, name="peppolnet-bulk-loop", daemon=True)

    def start(self, main: Coroutine[Any, Any, None]) -> None:
        """Run ``main`` on the loop (its task made before the thread starts, so that
        :meth:`stop` always has one to cancel)."""
        self._task = self.loop.create_task(main)
        self._thread.start()

    def _serve(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                assert self._task is not None
                loop.run_until_complete(self._task)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def stop(self) -> None:
        """Cancel the coroutine if it still runs, and wait until the thread has ended."""
        if self._task is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may have just closed itself
                self.loop.call_soon_threadsafe(self._task.cancel)
            self._thread.join()


async def _pump(
    feed: _Feed, plan: _Plan, results: queue.SimpleQueue[_Entry | _Raised | _Ended]
) -> None:
    """The loop's side of :func:`_bridged`: the engine over the fed rows, results to the
    queue, then :class:`_Ended` once the engine has let go of its lookup."""
    core = _outcomes(feed, plan)
    try:
        try:
            async for entry in core:
                results.put(entry)
        finally:
            await core.aclose()
    except Exception as exc:  # a bug of ours, or the lookup failed to close: never a hang
        results.put(_Raised(exc))
    finally:
        results.put(_Ended())


class _Handover:
    """The caller's side of :func:`_bridged`: how many rows are out, and the results back.

    At most ``window`` rows are between the caller and the loop (fed, being looked up or
    waiting in the queue), so memory stays bounded and no more than ``window`` answers ever
    wait to be consumed. Rows are fed in runs (from when ``min(64, window / 2)`` places are
    free until none is), not one per result handed out: a wake-up of the loop per row cost
    more than a cached answer.
    """

    def __init__(
        self,
        results: queue.SimpleQueue[_Entry | _Raised | _Ended],
        tally: _Tally,
        window: int,
    ) -> None:
        self._results = results
        self._tally = tally
        self._window = window
        self._run = min(64, (window + 1) // 2)
        self.sent = self.taken = 0
        self.stop: _Raised | _Ended | None = None
        self._filling = True

    def wants_row(self) -> bool:
        out = self.sent - self.taken
        if out >= self._window:
            self._filling = False
        elif out == 0 or self._window - out >= self._run:
            self._filling = True
        return self._filling

    def take(self, block: bool) -> Iterator[BulkResult]:
        """The results that are there (``block``: wait for at least one, or the end)."""
        while self.stop is None:
            try:
                entry = self._results.get(block)
            except queue.Empty:
                return
            if not isinstance(entry, tuple):
                self.stop = entry
                return
            self.taken += 1
            block = False
            yield self._tally.emit(*entry)


def _bridged(
    items: Iterable[BulkItem], plan: _Plan, tally: _Tally
) -> Generator[BulkResult, None, None]:
    """``check_many``: the engine on a private loop, everything of the caller's in their thread.

    Why a loop: one event loop doing every lookup costs far less CPU than a thread per lookup
    (no GIL hand-offs, aiohttp instead of httpx), and client CPU is what bounds a bulk run
    (docs/performance.md). Why the caller's thread: the input is read here (a database cursor
    or a pipe works as in a plain loop, and a slow read never stalls lookups in flight) and
    progress callbacks run here. A plain generator cannot wait for the input and the results
    at once: while the input blocks, the lookups go on and their results wait for the next row
    or the end. An error of the input is raised after the rows read before it.
    """
    results: queue.SimpleQueue[_Entry | _Raised | _Ended] = queue.SimpleQueue()
    runner = _LoopThread()
    feed = _Feed(runner.loop)
    runner.start(_pump(feed, plan, results))
    handover = _Handover(results, tally, plan.window)
    source = iter(items)
    failure: Exception | None = None
    more = True
    try:
        while handover.stop is None:
            if not (more and handover.wants_row()):
                yield from handover.take(block=True)
                continue
            try:
                item = next(source, _END)
            except Exception as exc:  # rows read before it still come back, then it
                failure, item = exc, _END
            more = item is not _END
            handover.sent += more
            feed.put(item)
            yield from handover.take(block=False)
        if isinstance(handover.stop, _Raised):
            raise handover.stop.error
        if more or handover.taken < handover.sent:  # never a silent short run
            raise RuntimeError(f"the bulk engine stopped after {handover.taken} rows")
        if failure is not None:
            raise failure
    finally:
        runner.stop()


# --- the entry points -----------------------------------------------------------------------


def check_many(
    items: Iterable[BulkItem],
    lookup: _Choice | None = None,
    **options: Unpack[CheckOptions],
) -> Generator[BulkResult, None, None]:
    """Check every item (register rows, participant ids) and yield one result per item.

    The lookups run on one private event loop in a background thread, whoever does them; your
    input is read, and ``progress`` called, in the thread that iterates the results. The
    options are :class:`CheckOptions`. Who looks up:

    * nothing given: a lookup the run makes for ``network`` (an
      :class:`~peppolnet.lookup.AsyncLookup` with ``per_host``, ``timeout``, ``revocation``
      and ``clock``) and closes when it ends;
    * ``lookup=`` a sync :class:`~peppolnet.lookup.Lookup` (its operator registry, revocation
      checker, caches): its ``check`` runs in ``concurrency`` worker threads of the run - the
      same engine and guarantees, about twice the CPU per lookup of an async one; it stays
      open;
    * ``lookup=`` a factory (a callable without ``check``, e.g.
      ``functools.partial(AsyncLookup, network, operators=registry)``): called now; what it
      makes (a :class:`Checker` such as an ``AsyncLookup``, or a ``Lookup``) does the lookups
      and is closed when the run ends;
    * ``lookup=`` an :class:`~peppolnet.lookup.AsyncLookup` of yours: it does the lookups on
      the run's loop, which closes what the lookup opened there (``aclose``) when the run
      ends; the lookup stays usable - in the next call, or on your own loop.

    At most ``concurrency`` lookups run at once and at most ``window`` results wait to be
    consumed. Invalid identifiers give ``invalid-input`` results (``verdict`` None) instead of
    exceptions. Closing the generator early (``break``, Ctrl-C) cancels what has not started
    and waits only for the lookups already running. An error of the input is raised after the
    results of the rows read before it.

    ``processes=N`` runs the lookups in N worker processes (one core each; see
    :mod:`peppolnet.bulk.processes`): the lookup is then made in each worker from settings -
    ``network=`` and the lookup options, or ``functools.partial(AsyncLookup, network, ...)`` -
    and ``concurrency``, ``per_host`` and the result cache's budget are split across them.
    """
    processes = _processes(options, "check_many")
    if processes > 1:
        from peppolnet.bulk.processes import check_in_processes

        return check_in_processes(items, lookup, options, processes)
    plan = _plan(lookup, options, "check_many")
    return _bridged(items, plan, _Tally(options.get("total"), options.get("progress")))


async def check_many_async(
    items: Iterable[BulkItem] | AsyncIterable[BulkItem],
    lookup: _Choice | None = None,
    **options: Unpack[CheckOptions],
) -> AsyncGenerator[BulkResult, None]:
    """The asynchronous twin of :func:`check_many` (``async for result in ...``): the same
    engine, on the running loop.

    ``items`` may be a plain or an async iterable. Same options, same results. ``lookup=``
    may also be a :class:`Checker` of yours (an ``AsyncLookup`` made for this loop), awaited
    as it is and left open; a sync ``Lookup`` runs in worker threads here too, so it never
    blocks your loop.
    """
    plan = _plan(lookup, options, "check_many_async")
    tally = _Tally(options.get("total"), options.get("progress"))
    core = _outcomes(_Iterated(items), plan)
    try:
        async for row, outcome, shared in core:
            yield tally.emit(row, outcome, shared)
    finally:
        await core.aclose()
