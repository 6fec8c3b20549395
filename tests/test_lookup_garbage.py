"""A lookup leaves no cyclic garbage behind: what it made is freed by reference counting.

Bulk runs make hundreds of thousands of lookups in one process; an object that only the cyclic
collector can free (an exception whose traceback holds the frame that stored it) makes the
collector run - and its full collections scan the whole result cache. These tests turn the
collector off for the lookups and ask it afterwards what it would have had to find.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from peppolnet.lookup import AsyncLookup, Lookup
from peppolnet.reachability import Verdict
from peppolnet.sandbox import Sandbox

UNREGISTERED = ("0007:5560000001", "0007:5560000019", "0088:7300010000001")


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The collector off (for this test only), after collecting what came before."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _registered(sandbox: Sandbox) -> str:
    plain = next(p for p in sandbox.config.participants if p.in_sml and not p.quirks)
    return str(plain.id)


def test_sync_lookups_leave_no_cycles(sandbox: Sandbox, collector_off: None) -> None:
    with Lookup(sandbox.network, timeout=2.0) as lookup:
        lookup.check(_registered(sandbox))  # connections and caches made before counting
        gc.collect()
        verdicts = [lookup.check(pid).verdict for pid in UNREGISTERED]
        verdicts.append(lookup.check(_registered(sandbox)).verdict)
        assert gc.collect() == 0
    assert verdicts == [Verdict.NOT_REGISTERED] * 3 + [Verdict.CAN_RECEIVE]


async def test_async_lookups_leave_no_cycles(sandbox: Sandbox, collector_off: None) -> None:
    async with AsyncLookup(sandbox.network, timeout=2.0) as lookup:
        await lookup.check(_registered(sandbox))
        gc.collect()
        verdicts = [(await lookup.check(pid)).verdict for pid in UNREGISTERED]
        verdicts.append((await lookup.check(_registered(sandbox))).verdict)
        assert gc.collect() == 0
    assert verdicts == [Verdict.NOT_REGISTERED] * 3 + [Verdict.CAN_RECEIVE]
