"""One retry policy, one budget per lookup: a failing SMP costs a bounded, documented number of
requests, however many layers would retry (issue 14).

Before: against an SMP that always answers 5xx, one bulk register row cost 9 GETs (3 bulk
attempts x 3 SMP-client attempts). Now a lookup owns one budget of ``retry.attempts - 1``
retries shared by all its steps and layers, and bulk runs do not retry what the lookup already
did: a row against an always-failing SMP costs ``retry.attempts`` GETs (3). The sandbox's own
request counters measure it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from _networks import operators_network
from peppolnet import _retry
from peppolnet.bulk import check_many, check_many_async
from peppolnet.lookup import AsyncLookup, Lookup, RetryPolicy
from peppolnet.reachability import Verdict
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import parse_config
from peppolnet.sandbox.http import Faults, HttpServer

A = "0007:5567321707"  # on a-smp, the failing one
B = "0007:5560000001"  # on b-smp

NETWORK = operators_network([(A, "a"), (B, "b")])

FAST = RetryPolicy(backoff=0.01)


@pytest.fixture(scope="module")
def net() -> Iterator[Sandbox]:
    with Sandbox.start(parse_config(NETWORK)) as running:
        yield running


@contextlib.contextmanager
def always_500(server: HttpServer, faults: Faults | None = None) -> Iterator[list[int]]:
    """Every answer of ``server`` is a 500 or 503 (or what ``faults`` says); yields [requests
    it received] at the end."""
    before = server.requests
    counted: list[int] = []
    server.faults = faults or Faults(error_share=1.0)
    try:
        yield counted
    finally:
        server.faults = Faults()
        counted.append(server.requests - before)


# --- the policy and the budget, without a network -----------------------------------------


def test_pauses_grow_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(attempts=5, backoff=1.0, factor=2.0, max_pause=3.0, jitter=0.5)
    for _ in range(200):
        assert 0.5 <= policy.pause(1) <= 1.5
        assert 1.0 <= policy.pause(2) <= 3.0
        assert 1.5 <= policy.pause(4) <= 4.5  # 8 s capped at 3, then jittered
    assert len({policy.pause(1) for _ in range(20)}) > 1  # jittered, not in lockstep
    assert RetryPolicy(jitter=0.0, backoff=0.2).pause(1) == 0.2
    assert RetryPolicy.of_retries(2, 0.5) == RetryPolicy(attempts=3, backoff=0.5)
    for bad in ({"attempts": 0}, {"jitter": 1.5}, {"backoff": -1.0}):
        with pytest.raises(ValueError, match="must"):
            RetryPolicy(**bad)  # type: ignore[arg-type]


def test_next_pause_says_no_when_tries_budget_or_time_run_out() -> None:
    policy = RetryPolicy(attempts=3, backoff=0.1, jitter=0.0)
    assert _retry.next_pause(policy, 1, None) == 0.1
    assert _retry.next_pause(policy, 2, None) == 0.2
    assert _retry.next_pause(policy, 3, None) is None  # three tries made
    assert _retry.next_pause(policy, 1, 0.05) is None  # no time for the pause and a try
    budget = _retry.Budget(1)
    assert _retry.next_pause(policy, 1, None, budget) == 0.1
    assert _retry.next_pause(policy, 1, None, budget) is None  # spent
    assert budget.left == 0


def test_an_inner_budget_never_adds_tries_to_an_outer_one() -> None:
    outer, inner = _retry.Budget(1), _retry.Budget(5)
    policy = RetryPolicy(attempts=10, backoff=0.0)
    with _retry.spending(outer) as active:
        assert active is outer
        with _retry.spending(inner) as nested:
            assert nested is outer
            assert _retry.next_pause(policy, 1, None) == 0.0
            assert _retry.next_pause(policy, 2, None) is None
    assert inner.left == 5
    with _retry.spending(None) as none:
        assert none is None
        assert _retry.next_pause(policy, 1, None) == 0.0  # no budget: the policy alone


# --- a failing SMP costs at most three GETs per row ---------------------------------------


def test_a_lookup_against_an_always_failing_smp_makes_three_gets(net: Sandbox) -> None:
    with always_500(net.smps["a-smp"]) as gets, Lookup(net.network, retry=FAST) as lookup:
        result = lookup.check(A)
    assert gets == [3]
    assert result.verdict is Verdict.UNKNOWN
    assert result.retryable  # later, not at once: the lookup has retried already
    with always_500(net.smps["a-smp"]) as gets, Lookup(net.network, retry=FAST) as lookup:
        listed = lookup.check(A, list_document_types=True)
    assert gets == [3]  # the list of document types failed three times; nothing more is asked
    assert listed.verdict is Verdict.UNKNOWN


def test_the_budget_is_the_lookups_policy(net: Sandbox) -> None:
    once = RetryPolicy(attempts=1)
    with always_500(net.smps["a-smp"]) as gets, Lookup(net.network, retry=once) as lookup:
        lookup.check(A)
    assert gets == [1]
    five = RetryPolicy(attempts=5, backoff=0.01)
    with always_500(net.smps["a-smp"]) as gets, Lookup(net.network, retry=five) as lookup:
        lookup.check(A)
    assert gets == [5]


async def test_an_async_lookup_makes_three_gets_too(net: Sandbox) -> None:
    with always_500(net.smps["a-smp"]) as gets:
        async with AsyncLookup(net.network, retry=FAST) as lookup:
            result = await lookup.check(A)
    assert gets == [3]
    assert result.verdict is Verdict.UNKNOWN


def test_a_connection_reset_is_one_try_on_both_paths(net: Sandbox) -> None:
    """aiohttp sends a GET again by itself when the server drops the connection: one try of
    ours was two requests on the async path, six for a lookup instead of three."""
    resets = Faults(reset_share=1.0)
    with always_500(net.smps["a-smp"], resets) as gets, Lookup(net.network, retry=FAST) as lookup:
        assert lookup.check(A).verdict is Verdict.UNKNOWN
    assert gets == [3]

    async def check() -> Verdict:
        async with AsyncLookup(net.network, retry=FAST) as lookup:
            return (await lookup.check(A)).verdict

    with always_500(net.smps["a-smp"], resets) as gets:
        assert asyncio.run(check()) is Verdict.UNKNOWN
    assert gets == [3]


def test_a_bulk_row_against_an_always_failing_smp_makes_three_gets(net: Sandbox) -> None:
    """The row that cost 9 GETs: bulk runs leave retrying to the lookup (retries=0)."""
    with always_500(net.smps["a-smp"]) as gets:
        results = list(check_many([A, B], network=net.network))
    assert gets == [3]
    assert [r.verdict for r in results] == ["unknown", "can-receive"]
    with always_500(net.smps["a-smp"]) as gets, Lookup(net.network, retry=FAST) as lookup:
        list(check_many([A], lookup))  # a Lookup of the caller's, from threads
    assert gets == [3]


def test_an_async_bulk_row_makes_three_gets(net: Sandbox) -> None:
    async def run() -> list[str]:
        return [r.verdict async for r in check_many_async([A], network=net.network)]

    with always_500(net.smps["a-smp"]) as gets:
        assert asyncio.run(run()) == ["unknown"]
    assert gets == [3]


def test_dns_faults_draw_from_the_same_budget(net: Sandbox) -> None:
    """A SERVFAIL is a fault like a 500: asked again, within the one budget."""
    before = net.dns.queries
    net.dns.set_fault(A, "servfail")
    try:
        with Lookup(net.network, retry=FAST) as lookup:
            result = lookup.check(A)
    finally:
        net.dns.set_fault(A, None)
    assert result.verdict is Verdict.UNKNOWN
    assert result.retryable
    assert net.dns.queries - before == 3
