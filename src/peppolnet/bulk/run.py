"""``check_many``: a whole register through one shared lookup, sync or async.

Memory stays flat however long the register is: items are pulled from the input only while
fewer than ``window`` results wait to be handed out, and results stream back (in input order, or
as completed). Duplicates are looked up once - a row whose key (participant candidates, document
type) is in flight shares that lookup, and finished answers stay in a bounded LRU
(:class:`ResultCache`) with a maximum age, so a second pass over the same register within the
age makes no network requests. Faults are retried with exponential backoff and jitter; a fault
that outlasts the retries stays ``unknown`` - it never becomes a negative verdict.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import queue
import random
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Mapping,
)
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias
from urllib.parse import urlsplit

from peppolnet.bulk.registers import RegisterRow, lookup_key
from peppolnet.clock import Clock, as_clock
from peppolnet.errors import InvalidInput, PeppolnetError
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
    "Progress",
    "ResultCache",
    "check_many",
    "check_many_async",
]

INVALID_INPUT: Final = "invalid-input"
"""The verdict of a row that could not be looked up at all (no/bad identifier, malformed row)."""

BulkItem: TypeAlias = RegisterRow | ParticipantId | str
_Key: TypeAlias = tuple[tuple[str, ...], str]


class _SyncChecker(Protocol):
    def check(
        self,
        participant: ParticipantId | str | None = None,
        *,
        number: str | None = None,
        country: str | None = None,
        document_type: DocumentTypeId | str | None = None,
    ) -> Reachability: ...


@dataclasses.dataclass(frozen=True)
class _Outcome:
    verdict: str
    reason: str
    reachability: Reachability | None
    attempts: int


@dataclasses.dataclass(frozen=True)
class BulkResult:
    """One input row and its answer; ``verdict`` is a Verdict value or ``invalid-input``."""

    row: RegisterRow
    verdict: str
    reason: str
    reachability: Reachability | None = None
    attempts: int = 0

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
        return (urlsplit(url).hostname or "") if url else ""

    def record(self) -> dict[str, str]:
        """The columns added to the output row (see :data:`peppolnet.bulk.ADDED_COLUMNS`)."""
        return {
            "row": str(self.row.number),
            "participant_id": self.participant_id,
            "verdict": self.verdict,
            "operator_name": self.operator_name,
            "seat_id": self.seat_id,
            "smp_host": self.smp_host,
            "reason": self.reason,
        }


@dataclasses.dataclass(frozen=True)
class Progress:
    """Handed to the progress callback after every result: ``done`` of ``total`` (if known)."""

    done: int
    total: int | None
    counts: Mapping[str, int]
    result: BulkResult


class ResultCache:
    """A thread-safe LRU of finished answers keyed by (participant candidates, document type).

    Bounded in size (``maxsize``) and age (``max_age`` seconds, default five minutes - the order
    of an SML answer's TTL), so it keeps a long run's memory flat and never serves a stale answer.
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
        maxsize: int = 100_000,
        max_age: float = 300.0,
        clock: Clock | None = None,
        max_negative_ttl: float = 300.0,
    ) -> None:
        self.maxsize = maxsize
        self.max_age = max_age
        self.max_negative_ttl = max_negative_ttl
        self.clock: Clock = as_clock(clock)
        # (expires, outcome), in monotonic seconds
        self._data: collections.OrderedDict[_Key, tuple[float, _Outcome]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: _Key) -> _Outcome | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if self.clock.monotonic() > entry[0]:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: _Key, outcome: _Outcome) -> None:
        if outcome.verdict == INVALID_INPUT or self.maxsize <= 0:
            return
        if outcome.verdict == Verdict.UNKNOWN.value and (
            outcome.reachability is None or outcome.reachability.retryable
        ):
            return  # a passing fault: the next duplicate gets a fresh try
        age = self.max_age
        if outcome.reachability is None or not outcome.reachability.signed:
            age = min(age, self.max_negative_ttl)
        with self._lock:
            self._data[key] = (self.clock.monotonic() + age, outcome)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)


def _as_row(item: BulkItem, number: int) -> RegisterRow:
    if isinstance(item, RegisterRow):
        return item
    text = str(item)
    row = RegisterRow(number, (text,), participant_id=text)
    if isinstance(item, ParticipantId):
        return dataclasses.replace(row, candidates=(item,))
    try:
        return dataclasses.replace(row, candidates=lookup_key(row))
    except InvalidInput as exc:
        return dataclasses.replace(row, problem=str(exc))


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
            reason = f"a signed SMP answer lists a usable AS4 endpoint ({url})"
        return _Outcome(result.verdict.value, reason, result, attempts)
    if isinstance(error, InvalidInput):
        return _Outcome(INVALID_INPUT, str(error), None, attempts)
    # Anything else is a fault of ours or of the network: "unknown", never a negative verdict.
    return _Outcome(Verdict.UNKNOWN.value, f"the lookup failed: {error}", None, attempts)


def _should_retry(result: Reachability | None, error: BaseException | None) -> bool:
    if result is not None:
        return result.verdict is Verdict.UNKNOWN and result.retryable
    return isinstance(error, PeppolnetError) and error.retryable


def _delay(backoff: float, attempt: int) -> float:
    return backoff * (2.0 ** (attempt - 1)) * (0.5 + random.random())


def _check_sync(
    lookup: _SyncChecker,
    row: RegisterRow,
    document_type: DocumentTypeId | str | None,
    retries: int,
    backoff: float,
    stopping: threading.Event,
) -> _Outcome:
    attempt = 0
    while True:
        attempt += 1
        result: Reachability | None = None
        error: BaseException | None = None
        try:
            result = lookup.check(**_arguments(row, document_type))
        except Exception as exc:  # every row must come back; see _decide
            error = exc
        # Event.wait, not sleep: closing the run (Ctrl-C) ends the backoff at once.
        retry = attempt <= retries and _should_retry(result, error)
        if retry and not stopping.wait(_delay(backoff, attempt)):
            continue
        return _decide(result, error, attempt)


class _Tally:
    """Counts and the progress callback, shared by both shells."""

    def __init__(self, total: int | None, progress: Callable[[Progress], None] | None) -> None:
        self.total = total
        self.progress = progress
        self.done = 0
        self.counts: collections.Counter[str] = collections.Counter()

    def emit(self, row: RegisterRow, outcome: _Outcome, shared: bool) -> BulkResult:
        attempts = 0 if shared else outcome.attempts
        result = BulkResult(row, outcome.verdict, outcome.reason, outcome.reachability, attempts)
        self.done += 1
        self.counts[outcome.verdict] += 1
        if self.progress is not None:
            self.progress(Progress(self.done, self.total, dict(self.counts), result))
        return result


def _validate(concurrency: int, retries: int, window: int | None) -> int:
    if concurrency < 1:
        raise InvalidInput(f"concurrency must be at least 1, not {concurrency}")
    if retries < 0:
        raise InvalidInput(f"retries must be 0 or more, not {retries}")
    return window if window and window > 0 else max(256, concurrency * 16)


def _document_type_key(document_type: DocumentTypeId | str | None) -> str:
    from peppolnet.lookup import resolve_document_type

    return resolve_document_type(document_type).uri


def check_many(
    items: Iterable[BulkItem],
    lookup: Lookup | _SyncChecker | None = None,
    *,
    network: Network | None = None,
    document_type: DocumentTypeId | str | None = None,
    concurrency: int = 16,
    per_host: int | None = None,
    timeout: float = 10.0,
    ordered: bool = True,
    retries: int = 2,
    backoff: float = 0.5,
    cache: ResultCache | None = None,
    window: int | None = None,
    total: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    revocation: RevocationChecker | None = None,
    clock: Clock | None = None,
    deadline: float | None = 30.0,
) -> Generator[BulkResult, None, None]:
    """Check every item (register rows, participant ids) and yield one result per item.

    Without a ``lookup``, the run makes its own for ``network`` (``timeout`` per request,
    ``deadline`` per lookup - a retry is a new lookup with a deadline of its own - at most
    ``per_host`` - default ``max(2, concurrency // 4)`` - requests in flight per SMP host)
    and does every lookup on one private event loop (:class:`~peppolnet.lookup.AsyncLookup`):
    the fastest way, about a third of the CPU per lookup of threads. With a ``lookup`` of yours
    (a :class:`~peppolnet.lookup.Lookup` or anything with its ``check``), its DNS cache and HTTP
    pool serve the whole run from ``concurrency`` threads, and it stays open.
    At most ``concurrency`` lookups run at once and at most ``window`` (default
    ``max(256, 16 x concurrency)``: one slow answer must not starve the pool in ordered mode)
    results wait to be consumed. ``ordered=False`` yields results as they complete. Invalid
    identifiers give ``invalid-input`` results instead of exceptions.

    Closing the generator early (``break``, Ctrl-C) cancels what has not started and waits only
    for the lookups already running.

    ``revocation`` (e.g. :class:`~peppolnet.revocation.CrlChecker`) is the revocation checker of
    the run's own lookup; with a ``lookup`` of yours, give it to that lookup instead.

    ``clock`` (a :class:`peppolnet.clock.Clock`) drives the run's own lookup and cache; by
    default the clock of your ``lookup``, else the system's.
    """
    limit = _validate(concurrency, retries, window)
    _no_second_checker(lookup, revocation)
    doc_key = _document_type_key(document_type)
    clock = _run_clock(lookup, clock)
    results = cache if cache is not None else ResultCache(clock=clock)
    tally = _Tally(total, progress)
    if lookup is None:
        # made now, so that a bad network or argument fails at the call, not at the first row
        own = _own_async_lookup(
            network, concurrency, per_host, timeout, revocation, clock, deadline
        )
        return _run_bridged(
            items, own, document_type, doc_key, concurrency, limit, ordered, retries, backoff,
            results, tally,
        )  # fmt: skip
    return _run_sync(
        items, lookup, document_type, doc_key, concurrency, limit, ordered, retries, backoff,
        results, tally,
    )  # fmt: skip


def _run_sync(
    items: Iterable[BulkItem],
    lookup: Any,
    document_type: DocumentTypeId | str | None,
    doc_key: str,
    concurrency: int,
    limit: int,
    ordered: bool,
    retries: int,
    backoff: float,
    cache: ResultCache,
    tally: _Tally,
) -> Generator[BulkResult, None, None]:
    pool = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="peppolnet-bulk")
    lock = threading.Lock()
    stopping = threading.Event()
    inflight: dict[_Key, concurrent.futures.Future[_Outcome]] = {}
    pending: collections.deque[_SyncPending] = collections.deque()
    # unordered: finished lookups arrive here through done-callbacks, so handing out a result
    # costs O(1) instead of a wait() and a scan over the whole window (O(window) per result,
    # which made c=256 with its 4,096-row window 2.5x slower than c=32)
    completed: queue.SimpleQueue[_SyncPending] = queue.SimpleQueue()
    outstanding = 0
    source = iter(items)
    number = 0

    def finished(key: _Key, future: concurrent.futures.Future[_Outcome]) -> None:
        # Cache the answer and retire the in-flight entry in one step under the lock: a
        # duplicate scheduled in between must find one or the other, never neither (which
        # made it a second lookup of the same participant).
        with lock:
            if not future.cancelled() and future.exception() is None:
                cache.put(key, future.result())
            if inflight.get(key) is future:
                del inflight[key]

    def schedule(row: RegisterRow) -> tuple[concurrent.futures.Future[_Outcome], bool]:
        """The future answering ``row``, and whether this row shares another row's lookup."""
        if row.problem is not None:
            return _done(_Outcome(INVALID_INPUT, row.problem, None, 0)), False
        key = _key(row, doc_key)
        hit = cache.get(key)
        if hit is not None:
            return _done(hit), True
        with lock:
            future = inflight.get(key)
            if future is not None:
                return future, True
            hit = cache.get(key)  # it may have finished since the first look
            if hit is not None:
                return _done(hit), True
            future = pool.submit(
                _check_sync, lookup, row, document_type, retries, backoff, stopping
            )
            inflight[key] = future
        future.add_done_callback(functools.partial(finished, key))
        return future, False

    input_error: Exception | None = None
    try:
        exhausted = False
        while True:
            while not exhausted and (len(pending) if ordered else outstanding) < limit:
                try:
                    item = next(source, _END)
                except Exception as exc:  # rows read before it still come back, then it
                    input_error, item = exc, _END
                if item is _END:
                    exhausted = True
                    break
                number += 1
                row = _as_row(item, number)  # type: ignore[arg-type]
                entry: _SyncPending = (row, *schedule(row))
                if ordered:
                    pending.append(entry)
                else:
                    outstanding += 1
                    entry[1].add_done_callback(functools.partial(_put, completed, entry))
            if ordered:
                if not pending:
                    break
                row, future, shared = pending.popleft()
                yield tally.emit(row, future.result(), shared)
                continue
            if not outstanding:
                break
            row, future, shared = completed.get()
            outstanding -= 1
            yield tally.emit(row, future.result(), shared)
        if input_error is not None:
            raise input_error
    finally:
        stopping.set()
        pool.shutdown(wait=True, cancel_futures=True)


_END: Final = object()


def _put(
    completed: queue.SimpleQueue[_SyncPending],
    entry: _SyncPending,
    _future: concurrent.futures.Future[_Outcome],
) -> None:
    completed.put(entry)


_SyncPending: TypeAlias = tuple[RegisterRow, concurrent.futures.Future[_Outcome], bool]


def _done(outcome: _Outcome) -> concurrent.futures.Future[_Outcome]:
    future: concurrent.futures.Future[_Outcome] = concurrent.futures.Future()
    future.set_result(outcome)
    return future


# --- async ----------------------------------------------------------------------------------


async def _check_async(
    lookup: Any,
    row: RegisterRow,
    document_type: DocumentTypeId | str | None,
    retries: int,
    backoff: float,
    semaphore: asyncio.Semaphore,
) -> _Outcome:
    attempt = 0
    while True:
        attempt += 1
        result: Reachability | None = None
        error: BaseException | None = None
        async with semaphore:
            try:
                result = await lookup.check(**_arguments(row, document_type))
            except Exception as exc:  # every row must come back; see _decide
                error = exc
        if attempt <= retries and _should_retry(result, error):
            await asyncio.sleep(_delay(backoff, attempt))
            continue
        return _decide(result, error, attempt)


async def _aiter(items: Iterable[BulkItem] | AsyncIterable[BulkItem]) -> AsyncIterator[BulkItem]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


class _Raised:
    """An exception of the engine, carried from the event loop to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Ended:
    """The engine has finished (after its last result, or after :class:`_Raised`)."""


class _Feed:
    """Rows from the caller's thread to the event loop, waking the loop only when it waits.

    A ``call_soon_threadsafe`` per row (a pipe write and a loop wake-up each) cost more than a
    cached answer; here a row is a locked append, and the loop is woken only when it had run
    out of rows - so a slow input still reaches the lookups at once, row by row.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: collections.deque[object] = collections.deque()
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: object) -> None:
        """Add ``item`` (caller's thread)."""
        with self._lock:
            self._items.append(item)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed after a failure
                self._loop.call_soon_threadsafe(_wake, waiter)

    async def get(self) -> object:
        """The next item (event loop's thread)."""
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                waiter = self._waiter = self._loop.create_future()
            await waiter


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


_Entry: TypeAlias = tuple[RegisterRow, _Outcome, bool]


async def _run_async(
    items: Iterable[BulkItem] | AsyncIterable[BulkItem],
    lookup: Any,
    document_type: DocumentTypeId | str | None,
    doc_key: str,
    concurrency: int,
    limit: int,
    ordered: bool,
    retries: int,
    backoff: float,
    cache: ResultCache,
) -> AsyncGenerator[_Entry, None]:
    """The event-loop engine: every row's outcome, in order or as completed, window-bounded.

    Unordered results arrive through done-callbacks into a queue, so handing one out is O(1)
    (an ``asyncio.wait`` over the whole window per result made c=256 slower than c=32).
    """
    semaphore = asyncio.Semaphore(concurrency)
    inflight: dict[_Key, asyncio.Future[_Outcome]] = {}
    pending: collections.deque[tuple[RegisterRow, asyncio.Future[_Outcome], bool]]
    pending = collections.deque()
    completed: asyncio.Queue[tuple[RegisterRow, asyncio.Future[_Outcome], bool]]
    completed = asyncio.Queue()
    running: set[asyncio.Future[_Outcome]] = set()
    outstanding = 0
    loop = asyncio.get_running_loop()

    def ready(outcome: _Outcome) -> asyncio.Future[_Outcome]:
        future: asyncio.Future[_Outcome] = loop.create_future()
        future.set_result(outcome)
        return future

    def finished(key: _Key, future: asyncio.Future[_Outcome]) -> None:
        running.discard(future)
        if not future.cancelled() and future.exception() is None:
            cache.put(key, future.result())
        if inflight.get(key) is future:
            del inflight[key]

    def schedule(row: RegisterRow) -> tuple[asyncio.Future[_Outcome], bool]:
        if row.problem is not None:
            return ready(_Outcome(INVALID_INPUT, row.problem, None, 0)), False
        key = _key(row, doc_key)
        hit = cache.get(key)
        if hit is not None:
            return ready(hit), True
        future = inflight.get(key)
        if future is not None:
            return future, True
        future = asyncio.ensure_future(
            _check_async(lookup, row, document_type, retries, backoff, semaphore)
        )
        inflight[key] = future
        running.add(future)
        future.add_done_callback(functools.partial(finished, key))
        return future, False

    def arrived(entry: tuple[RegisterRow, asyncio.Future[_Outcome], bool], _: object) -> None:
        completed.put_nowait(entry)

    source = _aiter(items).__aiter__()
    number = 0
    input_error: Exception | None = None
    try:
        exhausted = False
        while True:
            while not exhausted and (len(pending) if ordered else outstanding) < limit:
                try:
                    item = await source.__anext__()
                except StopAsyncIteration:
                    exhausted = True
                    break
                except Exception as exc:  # rows read before it still come back, then it
                    input_error, exhausted = exc, True
                    break
                number += 1
                row = _as_row(item, number)
                entry = (row, *schedule(row))
                if ordered:
                    pending.append(entry)
                else:
                    outstanding += 1
                    entry[1].add_done_callback(functools.partial(arrived, entry))
            if ordered:
                if not pending:
                    break
                row, future, shared = pending.popleft()
                yield row, await asyncio.shield(future), shared
                continue
            if not outstanding:
                break
            row, future, shared = await completed.get()
            outstanding -= 1
            yield row, future.result(), shared
        if input_error is not None:
            raise input_error
    finally:
        for future in list(running):
            future.cancel()


async def check_many_async(
    items: Iterable[BulkItem] | AsyncIterable[BulkItem],
    lookup: AsyncLookup | None = None,
    *,
    network: Network | None = None,
    document_type: DocumentTypeId | str | None = None,
    concurrency: int = 16,
    per_host: int | None = None,
    timeout: float = 10.0,
    ordered: bool = True,
    retries: int = 2,
    backoff: float = 0.5,
    cache: ResultCache | None = None,
    window: int | None = None,
    total: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    revocation: RevocationChecker | None = None,
    clock: Clock | None = None,
    deadline: float | None = 30.0,
) -> AsyncGenerator[BulkResult, None]:
    """The asynchronous twin of :func:`check_many` (``async for result in ...``).

    ``items`` may be a plain or an async iterable. Same options, same results.
    """
    limit = _validate(concurrency, retries, window)
    _no_second_checker(lookup, revocation)
    doc_key = _document_type_key(document_type)
    own = lookup is None
    clock = _run_clock(lookup, clock)
    if lookup is None:
        lookup = _own_async_lookup(
            network, concurrency, per_host, timeout, revocation, clock, deadline
        )
    tally = _Tally(total, progress)
    core = _run_async(
        items, lookup, document_type, doc_key, concurrency, limit, ordered, retries, backoff,
        cache if cache is not None else ResultCache(clock=clock),
    )  # fmt: skip
    try:
        async for row, outcome, shared in core:
            yield tally.emit(row, outcome, shared)
    finally:
        await core.aclose()
        if own:
            await lookup.aclose()


def _own_async_lookup(
    network: Network | None,
    concurrency: int,
    per_host: int | None,
    timeout: float,
    revocation: RevocationChecker | None = None,
    clock: Clock | None = None,
    deadline: float | None = 30.0,
) -> AsyncLookup:
    from peppolnet.lookup import AsyncLookup

    return AsyncLookup(
        network,
        per_host=per_host or max(2, concurrency // 4),
        timeout=timeout,
        revocation=revocation,
        clock=clock,
        deadline=deadline,
    )


def _run_clock(lookup: object, clock: Clock | None) -> Clock:
    """The run's clock: the one given, else the caller's lookup's, else the system's."""
    if clock is not None:
        return as_clock(clock)
    theirs = getattr(lookup, "clock", None)
    return theirs if isinstance(theirs, Clock) else as_clock(None)


def _no_second_checker(lookup: object, revocation: RevocationChecker | None) -> None:
    """A lookup of the caller's has its own checker: a second one would silently be ignored."""
    if lookup is not None and revocation is not None:
        raise InvalidInput(
            "pass revocation= either to check_many (for the run's own lookup) or to your own "
            "Lookup, not to both"
        )


def _run_bridged(
    items: Iterable[BulkItem],
    lookup: AsyncLookup,
    document_type: DocumentTypeId | str | None,
    doc_key: str,
    concurrency: int,
    limit: int,
    ordered: bool,
    retries: int,
    backoff: float,
    cache: ResultCache,
    tally: _Tally,
) -> Generator[BulkResult, None, None]:
    """``check_many`` without a lookup of the caller's: the async engine on a private loop.

    Why: one event loop doing every lookup costs far less CPU than a thread per lookup (no GIL
    hand-offs, aiohttp instead of httpx), and client CPU is what bounds a bulk run - c=32 went
    from ~3 ms to ~1 ms of CPU per lookup (docs/performance.md).

    Everything of the caller's stays in the caller's thread: the input is read here (a database
    cursor or a pipe works as in a plain loop, and a slow read never stalls lookups in flight)
    and handed to the loop row by row; results come back through a queue; progress callbacks
    run here. At most ``2 x limit`` rows are between the two at any time, so memory stays
    bounded. An error of the input is raised after the rows read before it have come back.
    """
    results: queue.SimpleQueue[_Entry | _Raised | _Ended] = queue.SimpleQueue()
    started = threading.Event()
    holder: list[asyncio.Task[None]] = []
    loop = asyncio.new_event_loop()
    feed = _Feed(loop)

    async def fed() -> AsyncIterator[BulkItem]:
        while (item := await feed.get()) is not _END:
            yield item  # type: ignore[misc]

    async def pump() -> None:
        core = _run_async(
            fed(), lookup, document_type, doc_key, concurrency, limit, ordered, retries,
            backoff, cache,
        )  # fmt: skip
        try:
            async for entry in core:
                results.put(entry)
        except Exception as exc:  # a bug of ours: the caller hears of it, no hang
            results.put(_Raised(exc))
        finally:
            try:
                await core.aclose()
            finally:
                await lookup.aclose()
                results.put(_Ended())

    def serve() -> None:
        asyncio.set_event_loop(loop)
        holder.append(loop.create_task(pump()))
        started.set()
        try:
            loop.run_until_complete(holder[0])
        except asyncio.CancelledError:
            pass
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=serve, name="peppolnet-bulk-loop", daemon=True)
    thread.start()
    started.wait()
    task = holder[0]
    source = iter(items)
    input_error: Exception | None = None
    exhausted = False
    sent = taken = 0
    try:
        stop: _Raised | _Ended | None = None
        while stop is None:
            # hand rows over while fewer than 2 x limit are out (refilling in runs, not row
            # by row), handing out what has finished after each row read. While the input
            # blocks, the lookups go on; their results wait for the next row or the end (a
            # plain generator cannot wait for two things at once)
            refill = 2 * limit - (sent - taken) >= min(64, limit) or sent == taken
            while refill and stop is None and not exhausted and sent - taken < 2 * limit:
                try:
                    item = next(source, _END)
                except Exception as exc:  # rows read before it still come back, then it
                    input_error, item = exc, _END
                exhausted = item is _END
                sent += not exhausted
                feed.put(item)
                while stop is None:
                    try:
                        entry = results.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(entry, tuple):
                        taken += 1
                        yield tally.emit(*entry)
                    else:
                        stop = entry
            if stop is None:
                if exhausted and taken == sent:
                    break
                entry = results.get()
                if isinstance(entry, tuple):
                    taken += 1
                    yield tally.emit(*entry)
                else:
                    stop = entry
        if isinstance(stop, _Raised):
            raise stop.error
        if stop is not None and (taken < sent or not exhausted):  # never a silent short run
            raise RuntimeError(f"the bulk engine stopped after {taken} of {sent} rows")
        if input_error is not None:
            raise input_error
    finally:
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may have just closed itself
                loop.call_soon_threadsafe(task.cancel)
            thread.join()
