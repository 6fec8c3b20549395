"""The gate (peppolnet._gate): a bound on holders at once that never loses a
place, whoever is cancelled and when."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peppolnet._gate import Gate


async def _run(size: int, tasks: int, cancel: set[int], hold: int) -> tuple[int, list[int]]:
    gate = Gate(size)
    inside = 0
    most = 0
    order: list[int] = []

    async def one(n: int) -> None:
        nonlocal inside, most
        async with gate:
            inside += 1
            most = max(most, inside)
            order.append(n)
            try:
                for _ in range(hold):
                    await asyncio.sleep(0)
            finally:  # cancelled inside: the place is given back all the same
                inside -= 1

    running = [asyncio.create_task(one(n)) for n in range(tasks)]
    await asyncio.sleep(0)
    for n in cancel:
        running[n].cancel()
    await asyncio.gather(*running, return_exceptions=True)
    # every place came back: ``size`` holders can enter at once again
    entered = 0

    async def enter() -> None:
        nonlocal entered
        async with gate:
            entered += 1
            await asyncio.sleep(0.01)

    await asyncio.wait_for(asyncio.gather(*(enter() for _ in range(size))), 5)
    assert entered == size
    assert gate._free == size
    return most, order


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 6),
    tasks=st.integers(0, 30),
    cancel=st.sets(st.integers(0, 29), max_size=10),
    hold=st.integers(0, 3),
)
def test_at_most_size_inside_and_no_place_lost(
    size: int, tasks: int, cancel: set[int], hold: int
) -> None:
    cancelled = {n for n in cancel if n < tasks}
    most, order = asyncio.run(_run(size, tasks, cancelled, hold))
    assert most <= size
    assert set(order) >= set(range(tasks)) - cancelled
    waited = [n for n in order if n >= size]  # those that had to wait came in order
    assert waited == sorted(waited)


def test_a_place_handed_to_a_waiter_cancelled_at_once_is_passed_on() -> None:
    async def main() -> list[str]:
        gate = Gate(1)
        seen: list[str] = []
        await gate.__aenter__()  # the one place is taken

        async def waiter(name: str) -> None:
            async with gate:
                seen.append(name)

        first = asyncio.create_task(waiter("first"))
        second = asyncio.create_task(waiter("second"))
        await asyncio.sleep(0)  # both wait
        await gate.__aexit__()  # the place goes to the first ...
        first.cancel()  # ... which is cancelled before it runs
        await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 5)
        return seen

    assert asyncio.run(main()) == ["second"]


def test_a_gate_needs_a_place() -> None:
    with pytest.raises(ValueError, match="at least one place"):
        Gate(0)


def test_take_takes_a_free_place_only_and_never_jumps_the_queue() -> None:
    async def main() -> list[bool]:
        gate = Gate(1)
        taken = [gate.take(), gate.take()]  # the one place, then none
        waiter = asyncio.create_task(gate.acquire())
        await asyncio.sleep(0)  # it waits in the queue
        gate.release()  # the place goes to the waiter, not back to the free ones
        taken.append(gate.take())
        await asyncio.wait_for(waiter, 5)
        gate.release()
        taken.append(gate.take())
        return taken

    assert asyncio.run(main()) == [True, False, False, True]


def test_a_waiter_whose_timeout_ends_its_wait_loses_no_place() -> None:
    """The SMP client waits for a turn at a host under the lookup's deadline
    (``asyncio.timeout``): a waiter that times out leaves the queue, and the place it did not
    get stays for the others."""

    async def main() -> tuple[bool, bool]:
        gate = Gate(1)
        assert gate.take()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await gate.acquire()
        gate.release()
        return gate.take(), gate.take()

    assert asyncio.run(main()) == (True, False)
