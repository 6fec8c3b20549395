"""A worker process of ``check_many(processes=N)``: the bulk engine over the rows it is sent.

The parent (:mod:`peppolnet.bulk.processes`) sends batches of rows down one pipe and reads
batches of ``(row number, outcome, shared)`` from another. Here the same engine as in one
process (:func:`peppolnet.bulk.run._outcomes`, unordered: the parent restores the order) runs
on this process's event loop, with a lookup and a result cache of its own made from the
:class:`~peppolnet.bulk.recipe.Recipe`.

Neither pipe may ever stall the event loop: a reader thread drains the rows pipe into the
engine's :class:`~peppolnet.bulk.run._Feed` (so the parent's sends never wait for the loop), and
a sender thread writes the results (so a parent busy elsewhere never blocks a lookup). The
parent stops a worker by closing the rows pipe (the lookups are cancelled at once) or by sending
``None`` (the rows sent are finished first); the worker also stops when the parent dies, as its
pipe then closes. Ctrl-C is ignored here: it reaches the whole process group, and the parent
decides what happens to its workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import queue
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, Final

from peppolnet._logging import logger

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from peppolnet.bulk.recipe import Recipe
    from peppolnet.bulk.run import _Feed

__all__ = ["BATCH", "serve"]

_log = logger(__name__)

BATCH: Final = 128
"""Rows (and results) per message at most: the per-message cost (a pickle, a pipe write, a
wake-up) is spread over many rows, while a batch still fills in a tenth of a second at the
rates one process reaches."""

LINGER: Final = 0.02
"""How long the first result of a batch waits for more (seconds). A message per result cost
the parent a wake-up, a poll and a pipe read each, and the row it then freed travelled alone
too. Each message costs the worker a pickle and a pipe write and the parent a wake-up, a read
and an unpickle, whatever its size, and a bigger batch pickles the sentences its results share
once: at 5 ms a worker at ~750 rows/s sent ~4 results a message, at 20 ms ~15, and its sender
thread's CPU fell by ~30% (43-49 -> 32-36 ms per 1,500 rows, same run). Twenty milliseconds
is still nothing beside a lookup's round trips, and the parent keeps every worker's rows
queued well ahead (its window), so no worker waits for rows meanwhile."""

_STOP: Final = object()


def serve(rows: Connection, results: Connection, recipe: Recipe) -> None:
    """The worker's main function (run by ``multiprocessing``, forked from its fork server)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _collect_less()
    try:
        asyncio.run(_work(rows, results, recipe))
    except asyncio.CancelledError:
        pass  # stopped by the parent
    except BaseException as exc:  # every fault of the worker is told to the parent
        _log.warning("a bulk worker process failed: %s", exc)
        with contextlib.suppress(OSError, ValueError):
            results.send(("failed", f"{type(exc).__name__}: {exc}"))
        raise SystemExit(1) from None


#: The young generation's threshold of the garbage collector in a worker (Python's: 700).
_YOUNG_THRESHOLD: Final = 20_000


def _collect_less() -> None:
    """The worker process is the run's alone, so it collects garbage as ``peppolnet check``
    does in its own process (see ``cli.commands.check._fewer_collections`` for the measured
    reason: a run's result cache is tens of thousands of long-lived objects, and frequent
    young collections promote a lookup's short-lived ones into full collections over all of
    them). What the fork server imported is frozen out of every collection."""
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], _YOUNG_THRESHOLD), *threshold[1:])


async def _work(rows: Connection, results: Connection, recipe: Recipe) -> None:
    from peppolnet.bulk.run import _Feed, _outcomes

    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    plan = recipe.plan()
    feed = _Feed(loop)
    outbox = _Outbox(results, loop, main)
    _forward_logs(outbox, recipe.log_level)
    reader = threading.Thread(
        target=_read, args=(rows, feed, loop, main), name="peppolnet-bulk-rows", daemon=True
    )
    reader.start()
    outbox.put(("ready", os.getpid()))
    outbox.flush()  # the parent learns at once that this worker is up
    fault = recipe.fault
    done = 0
    try:
        async for row, outcome, shared in _outcomes(feed, plan):
            outbox.put((row.number, outcome, shared))
            done += 1
            if fault is not None and done >= fault[1]:
                _fail_on_purpose(fault[0], outbox)
    finally:
        outbox.put(("cpu", time.process_time()))  # what it cost, for the parent to add up
        outbox.close()


class _Forward(logging.Handler):
    """peppolnet's log records, sent to the parent with the results, where the application's
    logging configuration handles them as if the lookups had run there."""

    def __init__(self, outbox: _Outbox) -> None:
        super().__init__()
        self._outbox = outbox

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = dict(record.__dict__)
            # what QueueHandler.prepare does: the text made here, nothing unpicklable sent
            fields.update(msg=record.getMessage(), args=None, exc_info=None, exc_text=None)
            if record.exc_info:
                fields["msg"] += "\n" + logging.Formatter().formatException(record.exc_info)
            self._outbox.put_from_any_thread(("log", fields))
        except Exception:
            self.handleError(record)


def _forward_logs(outbox: _Outbox, level: int) -> None:
    """Records of ``level`` and above (the parent's effective level for ``peppolnet``) go to
    the parent; the worker has no logging configuration of its own."""
    package = logging.getLogger("peppolnet")
    package.setLevel(level)
    package.addHandler(_Forward(outbox))


def _fail_on_purpose(kind: str, outbox: _Outbox) -> None:
    """Tests only: fail as a worker can fail, after the results so far have been sent."""
    outbox.close()
    if kind == "exit":
        os._exit(3)
    raise RuntimeError("a worker fault on purpose (tests)")


def _read(
    rows: Connection, feed: _Feed, loop: asyncio.AbstractEventLoop, main: asyncio.Task[Any]
) -> None:
    """The rows pipe into the engine's feed; ``None`` ends the input, a closed pipe (the
    parent stopped the run, or died) cancels the run."""
    from peppolnet.bulk.run import _END

    try:
        while True:
            batch = rows.recv()
            if batch is None:
                feed.put_all((_END,))
                return
            feed.put_all(batch)
    except (EOFError, OSError):
        with contextlib.suppress(RuntimeError):  # the loop has already ended
            loop.call_soon_threadsafe(main.cancel)


class _Outbox:
    """Results to the parent from a thread of their own, in batches.

    The event loop's thread gathers a batch itself (:meth:`put`) and hands it to the sender
    thread whole: at most ``BATCH`` entries, or what came within ``LINGER`` of the first. The
    sender thread used to take the results one by one from a queue (with a timeout for the
    linger), so every result woke it and made it take the GIL from the event loop: 35-38 us of
    its CPU per row, ~4.5% of a worker's (c=128, two workers, 1,500 rows; thread CPU measured
    in the worker), besides the event loop's lost turns. Now it wakes once per batch.
    """

    def __init__(
        self, results: Connection, loop: asyncio.AbstractEventLoop, main: asyncio.Task[Any]
    ) -> None:
        self._results = results
        self._loop = loop
        self._main = main
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._batch: list[object] = []
        self._linger: asyncio.TimerHandle | None = None
        self._thread = threading.Thread(target=self._send, name="peppolnet-bulk-results")
        self._thread.start()

    def put(self, entry: object) -> None:
        """Add ``entry`` to the batch (on the event loop's thread only)."""
        batch = self._batch
        batch.append(entry)
        if len(batch) >= BATCH:
            self.flush()
        elif self._linger is None:
            self._linger = self._loop.call_later(LINGER, self.flush)

    def put_from_any_thread(self, entry: object) -> None:
        """Send ``entry`` on its own, from whatever thread (a log record)."""
        self._queue.put([entry])

    def flush(self) -> None:
        """Hand the batch gathered so far to the sender thread (on the event loop's thread)."""
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if self._batch:
            self._queue.put(self._batch)
            self._batch = []

    def close(self) -> None:
        """Send what is gathered and queued, then end the thread (on the event loop's thread)."""
        self.flush()
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _send(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is _STOP or not self._deliver(batch):
                return

    def _deliver(self, batch: object) -> bool:
        try:
            self._results.send(batch)
        except (OSError, ValueError):  # the parent has gone: stop the run
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._main.cancel)
            return False
        return True
