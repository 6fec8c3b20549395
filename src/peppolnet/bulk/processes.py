"""``check_many(processes=N)``: one register over several worker processes, one core each.

Why: a bulk run at high concurrency is bound by the client's CPU (signature checks, TLS,
parsing: about a millisecond per lookup), and one Python process uses one core. Two worker
processes of c=128 against the same sandbox on two cores checked ~1,260 rows/s together where
one process of c=256 checked ~880 (docs/performance.md).

The parent - the caller's thread - reads the input, routes each row to a worker by the hash of
its participant key (so a worker's :class:`~peppolnet.bulk.ResultCache` sees every duplicate
of its participants: a register repeats its customers), puts the answers back in input order
within the run's ``window`` (or hands them out as they come), calls ``progress`` and counts.
Each worker (:mod:`peppolnet.bulk.worker`) runs the same engine as one process does, with its
own lookup made from the settings it was sent (:mod:`peppolnet.bulk.recipe`).

One result per input row, whatever happens to a worker: a worker that dies, raises, or sends
nothing for longer than its lookups' deadlines allow (:func:`_stall_limit`) is stopped, and each
row it had not answered comes back ``unknown`` with the reason; the rows that follow go to the
workers left. Closing the generator (``break``, Ctrl-C) closes the rows pipes, which cancels
every worker's lookups at once; a worker that does not end within seconds is terminated, then
killed. Workers are daemons, and a worker whose parent dies sees its pipe close and ends.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import multiprocessing
import queue
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from multiprocessing import connection
from typing import TYPE_CHECKING, Any, Final

from peppolnet.bulk.recipe import Recipe, recipe_for
from peppolnet.bulk.registers import RegisterRow
from peppolnet.bulk.run import (
    _END,
    BulkItem,
    BulkResult,
    CheckOptions,
    _as_row,
    _Entry,
    _key,
    _Outcome,
    _Tally,
)
from peppolnet.bulk.worker import BATCH, serve
from peppolnet.i18n import _
from peppolnet.reachability import Verdict

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkServerContext, ForkServerProcess

__all__ = ["check_in_processes", "worker_cpu"]

#: How long a worker may take to start (a new interpreter importing peppolnet) before its
#: rows are given up: generous, a busy machine starts processes slowly.
STARTUP_LIMIT: Final = 120.0

#: How long stopped workers get to end on their own before they are terminated (seconds).
_GRACE: Final = 5.0

_CLOSE: Final = object()


def check_in_processes(
    items: Iterable[BulkItem], lookup: object, options: CheckOptions, processes: int
) -> Generator[BulkResult, None, None]:
    """``check_many`` over ``processes`` workers; everything is checked here, at the call."""
    recipe = recipe_for(lookup, options, processes)
    from peppolnet.lookup import resolve_document_type

    doc_key = resolve_document_type(options.get("document_type")).uri
    tally = _Tally(options.get("total"), options.get("progress"))
    run = _Run(recipe, processes, doc_key, tally, options.get("ordered", True))
    return run.results(items)


def _stall_limit(recipe: Recipe) -> float | None:
    """How long a worker with rows to answer may send nothing before it counts as hung.

    A healthy worker answers one of its rows at least every ``deadline`` seconds per attempt
    (each lookup ends by its deadline, and some lookup is always running while rows wait),
    plus the back-off between attempts; twice that and two seconds more leaves room for a
    busy machine. No deadline, no limit: a worker is then given up only when it dies.
    """
    from peppolnet.lookup import DEFAULT_DEADLINE

    deadline: float | None = recipe.lookup.get("deadline", DEFAULT_DEADLINE)
    if deadline is None:
        return None
    retries, backoff = int(recipe.run["retries"]), float(recipe.run["backoff"])
    return 2.0 * (retries + 1) * (deadline + backoff * 2.0**retries) + 2.0


#: What the fork server imports once, so that a worker forked from it starts at once.
_PRELOAD: Final = (
    "peppolnet.bulk.worker",
    "peppolnet.bulk.run",
    "peppolnet.bulk.recipe",
    "peppolnet.lookup",
    "peppolnet.auto",
    "peppolnet.revocation",
    "aiohttp",
    "peppolnet.bulk._prepare",
)

_cpu_lock = threading.Lock()
_cpu_seconds = 0.0


def worker_cpu() -> float:
    """CPU seconds (all threads) of the worker processes that have ended in this process so
    far, as each measured itself: ``time.process_time`` sees the parent only, and a worker is
    the fork server's child, not ours, so ``RUSAGE_CHILDREN`` does not see it either.
    Benchmarks and monitoring take the difference around a run."""
    return _cpu_seconds


def _add_cpu(seconds: float) -> None:
    global _cpu_seconds
    with _cpu_lock:
        _cpu_seconds += seconds


def _context() -> ForkServerContext:
    """Workers are forked from multiprocessing's fork server, with peppolnet imported there.

    Why not ``fork``: the caller's process may have threads (this engine's own event loop,
    an HTTP client's) and a fork copies their locks mid-flight. The fork server is a fresh
    interpreter (started like ``spawn``) that runs no thread, so forking it is safe. Why not
    plain ``spawn``: every worker would import peppolnet again - 0.6 s of CPU per worker and
    run on a busy two-core machine, more than a thousand lookups' worth in a short run; the
    fork server imports it once per process and a worker starts in milliseconds (measured:
    a two-worker run of three rows, 1.7-2.5 s wall with spawn, 0.3-0.4 s with the fork
    server warm). The modules are added to the preload list the caller may have set (it only
    matters before the fork server starts; multiprocessing keeps the list privately). Where
    there is no fork server (Windows), workers are spawned.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows: spawn
        return multiprocessing.get_context("spawn")  # type: ignore[return-value]
    context = multiprocessing.get_context("forkserver")
    from multiprocessing import forkserver

    current = list(getattr(forkserver._forkserver, "_preload_modules", None) or ["__main__"])
    wanted = [name for name in _PRELOAD if name not in current]
    if wanted:
        context.set_forkserver_preload(current + wanted)
    return context


def _gave_up(reason: str) -> _Outcome:
    return _Outcome(Verdict.UNKNOWN, reason, None, 0)


class _Courier:
    """Batches down one worker's rows pipe from a thread of their own: a worker that hangs
    with a full pipe blocks this thread, never the parent, whose watchdog then stops it."""

    def __init__(self, rows: Connection) -> None:
        self._rows = rows
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._dropping = False
        self._thread = threading.Thread(target=self._carry, name="peppolnet-bulk-courier")
        self._thread.daemon = True
        self._thread.start()

    def send(self, message: object) -> None:
        self._queue.put(message)

    def close(self, *, at_once: bool) -> None:
        """Close the pipe after what is queued (``at_once``: drop it), which ends the worker's
        input; a worker that was not sent ``None`` cancels its lookups."""
        self._dropping = at_once
        self._queue.put(_CLOSE)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _carry(self) -> None:
        try:
            while (message := self._queue.get()) is not _CLOSE:
                if not self._dropping:
                    self._rows.send(message)
        except (OSError, ValueError):
            pass  # the worker has gone: its rows are answered by the parent
        finally:
            with contextlib.suppress(OSError):
                self._rows.close()


class _Worker:
    """The parent's side of one worker process: its pipes, the rows it owes, its silence."""

    def __init__(self, context: ForkServerContext, recipe: Recipe, slot: int) -> None:
        rows_in, rows_out = context.Pipe(duplex=False)
        results_in, results_out = context.Pipe(duplex=False)
        self.process: ForkServerProcess = context.Process(
            target=serve,
            args=(rows_in, results_out, recipe),
            name=f"peppolnet-bulk-{slot}",
            daemon=True,
        )
        self.process.start()
        rows_in.close()  # the worker's ends: a pipe closes when its last holder ends
        results_out.close()
        self.results = results_in
        self.courier = _Courier(rows_out)
        self.batch: list[RegisterRow] = []
        self.owed: set[int] = set()
        self.ready = False
        self.silent = 0.0  # seconds the parent waited in vain for this worker
        self.fault: str | None = None
        self.alive = True

    def flush(self) -> None:
        if self.batch:
            self.courier.send(self.batch)
            self.batch = []

    def receive(self, answers: list[_Entry | tuple[int, _Outcome, bool]]) -> bool:
        """One message of the worker's into ``answers``; False when the pipe has closed."""
        try:
            message = self.results.recv()
        except (EOFError, OSError):
            return False
        self.silent = 0.0
        if isinstance(message, tuple):  # ("failed", why): the worker ends right after
            self.fault = str(message[1])
            return True
        for entry in message:
            number = entry[0]
            if type(number) is not int:
                self._told(entry)
            elif number in self.owed:
                self.owed.discard(number)
                answers.append(entry)
        return True

    def _told(self, entry: tuple[str, Any]) -> None:
        """What a worker tells besides answers: that it is ready, a log record, its CPU."""
        kind, value = entry
        if kind == "ready":
            self.ready = True
        elif kind == "log":
            record = logging.makeLogRecord(value)
            logging.getLogger(record.name).handle(record)
        elif kind == "cpu":  # its last message
            _add_cpu(value)

    def lost(self, answers: list[Any], reason: str | None) -> None:
        """The worker has ended or is stopped now: what it sent is taken, the rest unknown."""
        self.alive = False
        if self.process.is_alive():
            self.process.kill()
        self.process.join(_GRACE)
        while self.receive(answers):
            pass
        if reason is None:
            reason = self._why()
        answers.extend((number, _gave_up(reason), False) for number in sorted(self.owed))
        self.owed.clear()
        self.batch = []
        self.courier.close(at_once=True)

    def _why(self) -> str:
        if self.fault is not None:
            return _("the worker process checking this row failed: {error}", error=self.fault)
        return _(
            "the worker process checking this row ended (exit code {code}) before it answered",
            code=self.process.exitcode,
        )


class _Pool:
    """The workers: rows routed by their key's hash, answers and faults collected."""

    def __init__(self, recipe: Recipe, processes: int) -> None:
        context = _context()
        self.workers: list[_Worker] = []
        self.ended = False
        try:
            for slot in range(processes):
                self.workers.append(_Worker(context, recipe, slot))
        except BaseException:
            self.stop()  # the ones started end with the failure
            raise
        self.live = list(self.workers)
        self.per_worker = int(recipe.run["concurrency"])
        self.stall = _stall_limit(recipe)

    def send(self, number: int, row: RegisterRow, key: object) -> bool:
        """Route ``row``; False when no worker is left to check it."""
        if not self.live:
            return False
        spread = hash(key)
        worker = self.workers[spread % len(self.workers)]
        if not worker.alive:  # its rows go to the workers left, always to the same one
            worker = self.live[spread % len(self.live)]
        worker.owed.add(number)
        # only what the worker needs to look the row up: not its fields, nor its number
        worker.batch.append(
            RegisterRow(
                number,
                (),
                org_number=row.org_number,
                country=row.country,
                candidates=row.candidates,
            )
        )
        busy = len(worker.owed) - len(worker.batch)
        if len(worker.batch) >= BATCH or busy < self.per_worker:
            worker.flush()
        return True

    def flush(self) -> None:
        for worker in self.live:
            worker.flush()

    def end_input(self) -> None:
        """No more rows: each worker finishes what it was sent, then ends."""
        if not self.ended:
            self.ended = True
            for worker in self.live:
                worker.flush()
                worker.courier.send(None)

    def collect(self, block: bool) -> list[Any]:
        """The answers that have come (``block``: wait for some, or for a worker to fail)."""
        answers: list[Any] = []
        by_pipe = {worker.results: worker for worker in self.live}
        by_end = {worker.process.sentinel: worker for worker in self.live}
        started = time.monotonic()
        ready = connection.wait([*by_pipe, *by_end], self._patience() if block else 0.0)
        waited = time.monotonic() - started
        heard = set()
        for handle in ready:
            worker = by_pipe.get(handle)  # type: ignore[call-overload]
            if worker is not None and worker.alive:
                heard.add(id(worker))
                if worker.receive(answers):
                    continue
            worker = worker or by_end[handle]  # type: ignore[index]
            if worker.alive:
                self._drop(worker, answers, None)
        for worker in list(self.live):
            if worker.owed and id(worker) not in heard:
                worker.silent += waited
                limit = self._limit(worker)
                if limit is not None and worker.silent > limit:
                    self._drop(worker, answers, self._silence(limit))
        return answers

    def _drop(self, worker: _Worker, answers: list[Any], reason: str | None) -> None:
        self.live.remove(worker)
        worker.lost(answers, reason)

    def _limit(self, worker: _Worker) -> float | None:
        if not worker.ready:
            return max(STARTUP_LIMIT, self.stall or 0.0)
        return self.stall

    def _patience(self) -> float | None:
        """How long the parent may wait before a worker's silence must be judged."""
        waits = [
            limit - worker.silent
            for worker in self.live
            if worker.owed and (limit := self._limit(worker)) is not None
        ]
        if not waits and not any(worker.owed for worker in self.live):
            raise RuntimeError("the bulk workers owe no row, yet rows wait")  # never a hang
        return max(0.05, min(waits)) if waits else None

    @staticmethod
    def _silence(limit: float) -> str:
        return _(
            "the worker process checking this row sent nothing for {seconds} s and was stopped",
            seconds=math.ceil(limit),
        )

    def stop(self) -> None:
        """Stop every worker (at once unless it was sent the end of the input), wait a few
        seconds, then terminate and kill what is left; no process outlives the run."""
        for worker in self.workers:
            worker.courier.close(at_once=not self.ended)
        until = time.monotonic() + _GRACE
        for worker in self.workers:
            worker.process.join(max(0.0, until - time.monotonic()))
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(1.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.courier.join(1.0)
            if worker.alive:  # what it sent last (its CPU) is still in the pipe
                worker.lost([], "")
            worker.results.close()
            worker.process.close()


class _Waiting:
    """Rows between the input and the caller: in input order, or as answered."""

    def __init__(self, ordered: bool) -> None:
        self.ordered = ordered
        self.rows: dict[int, RegisterRow] = {}
        self.answers: dict[int, tuple[_Outcome, bool]] = {}
        self.done: collections.deque[_Entry] = collections.deque()
        self.head = 1

    def __len__(self) -> int:
        return len(self.rows) + len(self.done)

    def add(self, number: int, row: RegisterRow) -> None:
        self.rows[number] = row

    def answer(self, number: int, outcome: _Outcome, shared: bool) -> None:
        if self.ordered:
            self.answers[number] = (outcome, shared)
        else:
            self.done.append((self.rows.pop(number), outcome, shared))

    def take(self) -> Iterator[_Entry]:
        if not self.ordered:
            while self.done:
                yield self.done.popleft()
            return
        while self.head in self.answers:
            outcome, shared = self.answers.pop(self.head)
            yield self.rows.pop(self.head), outcome, shared
            self.head += 1


class _Run:
    """One run over the pool: the caller's input in, results out in their thread."""

    def __init__(
        self, recipe: Recipe, processes: int, doc_key: str, tally: _Tally, ordered: bool
    ) -> None:
        self.recipe = recipe
        self.processes = processes
        self.doc_key = doc_key
        self.tally = tally
        self.window = int(recipe.run["window"])
        self.waiting = _Waiting(ordered)
        self.number = 0
        self.more = True
        self.failure: Exception | None = None

    def results(self, items: Iterable[BulkItem]) -> Generator[BulkResult, None, None]:
        pool = _Pool(self.recipe, self.processes)
        source = iter(items)
        try:
            while True:
                for entry in self.waiting.take():
                    yield self.tally.emit(*entry)
                if self.more and len(self.waiting) < self.window:
                    self._read(source, pool)
                    self._answer(pool.collect(block=False))
                    continue
                if not self.more:
                    pool.end_input()
                if not self.waiting:
                    break
                pool.flush()
                self._answer(pool.collect(block=True))
            if self.failure is not None:
                raise self.failure
        finally:
            pool.stop()

    def _read(self, source: Iterator[BulkItem], pool: _Pool) -> None:
        """Up to a batch of rows from the input into the window, each sent to its worker."""
        for _unused in range(BATCH):
            if len(self.waiting) >= self.window:
                return
            try:
                item = next(source, _END)
            except Exception as exc:  # rows read before it still come back, then it
                self.failure, item = exc, _END
            if item is _END:
                self.more = False
                return
            self.number += 1
            row = _as_row(item, self.number)  # type: ignore[arg-type]
            self.waiting.add(self.number, row)
            if row.problem is not None:
                self.waiting.answer(self.number, _Outcome(None, row.problem, None, 0), False)
            elif not pool.send(self.number, row, _key(row, self.doc_key)):
                none_left = _("no worker process was left to check this row")
                self.waiting.answer(self.number, _gave_up(none_left), False)

    def _answer(self, answers: list[Any]) -> None:
        for number, outcome, shared in answers:
            self.waiting.answer(number, outcome, shared)
