"""The bulk engine's gate: at most N lookups at once, in the order they came.

``asyncio.Semaphore`` does this, but at bulk sizes it costs: the engine schedules its whole
window (thousands of rows) as tasks that wait at the gate, and each release of an
``asyncio.Semaphore`` (Python 3.11) walks its waiters past those already woken but not yet run
- ~50 of them at c=256, 3% of the client's CPU per lookup in a c=256 run (cProfile with a CPU
clock, same run). :class:`Gate` hands a freed place straight to the next waiter, taking it off
the queue, so a release is O(1).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

__all__ = ["Gate"]


class Gate:
    """``async with gate:`` - at most ``size`` holders at once, first come first served.

    A waiter that is cancelled leaves the queue; one cancelled just after a place was handed to
    it passes the place on, so no place is ever lost.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a gate needs at least one place, not {size}")
        self._free = size
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def __aenter__(self) -> None:
        if self._free > 0:  # places are free only while nobody waits
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # the place came as the waiter was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(future)
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():  # a cancelled waiter is skipped
                future.set_result(None)  # the place goes to it directly
                return
        self._free += 1
