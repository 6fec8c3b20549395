"""A gate: at most N holders at once, in the order they came - the bulk engine's bound on
lookups at once and the async SMP client's bound on requests in flight to one host.

``asyncio.Semaphore`` does this, but at bulk sizes it costs. The engine schedules its whole
window (thousands of rows) as tasks that wait at the gate, and each release of an
``asyncio.Semaphore`` (Python 3.11) walks its waiters past those already woken but not yet run
- ~50 of them at c=256, 3% of the client's CPU per lookup in a c=256 run (cProfile with a CPU
clock, same run). The SMP client's per-host bound had the same walk and more: ``locked()``
walks every waiter, and a woken waiter removes itself from the middle of the queue - 2-3% of
the client's CPU at c=256 (py-spy, the per-host turn and the semaphore's frames).
:class:`Gate` hands a freed place straight to the next waiter, taking it off the queue, so a
release is O(1) and so is knowing whether a place is free.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

from peppolnet.i18n import _

__all__ = ["Gate"]


class Gate:
    """``async with gate:`` (or ``await gate.acquire()`` ... ``gate.release()``) - at most
    ``size`` holders at once, first come first served.

    A waiter that is cancelled (a timeout around :meth:`acquire` cancels it too) leaves the
    queue; one cancelled just after a place was handed to it passes the place on, so no place
    is ever lost.
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(_("a gate needs at least one place, not {size}", size=size))
        self._free = size
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def locked(self) -> bool:
        """Whether a holder would have to wait (``asyncio.Semaphore.locked``, in O(1))."""
        return self._free == 0

    def take(self) -> bool:
        """Take a place if one is free now (without a coroutine, a timer or a wait)."""
        if self._free > 0:  # places are free only while nobody waits
            self._free -= 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a place, waiting for one in turn when none is free."""
        if self.take():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the place came as the waiter was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(future)
            raise

    def release(self) -> None:
        """Give a place back: to the first waiter still waiting, or to the free ones."""
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():  # a cancelled waiter is skipped
                future.set_result(None)  # the place goes to it directly
                return
        self._free += 1

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()
