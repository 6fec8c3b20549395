"""The SML lookup's flow on its own: the generator both resolvers drive, with scripted replies.

``_Core.steps`` yields what a lookup needs done (ask DNS, or wait for another lookup's probe of
the zone) and returns the answer or raises the outcome; the resolvers (tests/test_sml_resolver.py,
over real sockets) only perform the requests. Here nothing is performed: each reply is written
in the test, so the cache, the probe, its sharing between lookups and the trust decision are
checked without a socket.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import pytest

from peppolnet.clock import ManualClock
from peppolnet.dnswire import NAPTR, NOERROR, NXDOMAIN, SOA, DnsResponse, NaptrRecord
from peppolnet.errors import DnsFailure, NotRegistered, UntrustedNegative
from peppolnet.identifiers import ParticipantId
from peppolnet.sml import SmlAnswer, SmlResolver, _Ask, _Await, _Core, _Steps, naptr_name

ZONE = "sml.flow.test"
NS = "192.0.2.53"
FOUND = ParticipantId.parse("0007:5567321707")
MISSING = [ParticipantId.parse(f"0007:{n:010d}") for n in range(1000000001, 1000000006)]
RECORD = NaptrRecord(100, 10, "U", "Meta:SMP", "!.*!https://smp.flow.test!")
FOUND_REPLY = DnsResponse(NOERROR, False, naptr=(RECORD,), ttl=60, server=NS)
BARE_DENIAL = DnsResponse(NXDOMAIN, False, server=NS)  # no SOA: what a stripping resolver sends
SOA_REPLY = DnsResponse(NOERROR, False, ttl=60, negative_ttl=30, soa_owner=ZONE, server=NS)


@pytest.fixture
def core() -> _Core:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    resolver = SmlResolver(ZONE, nameservers=[NS], timeout=5.0, clock=clock)
    return resolver._core


def flow(
    core: _Core,
    pid: ParticipantId,
    scope: object = None,
    cache: bool = True,
    timeout: float | None = None,
) -> _Steps:
    return core.steps(pid, cache, timeout, scope, Future)


def start(steps: _Steps) -> _Ask | _Await:
    request = next(steps)
    assert isinstance(request, _Ask | _Await)
    return request


def finish(steps: _Steps, reply: Any) -> SmlAnswer:
    """Send the last reply in; the flow must end with its answer (or raise its outcome)."""
    with pytest.raises(StopIteration) as stop:
        steps.send(reply)
    answer: SmlAnswer = stop.value.value
    return answer


def test_an_answer_is_asked_once_then_cached(core: _Core) -> None:
    steps = flow(core, FOUND)
    request = start(steps)
    assert request == _Ask(naptr_name(FOUND, ZONE), NAPTR, (NS,), 53, 5.0, False)
    answer = finish(steps, FOUND_REPLY)
    assert (answer.smp_url, answer.from_cache, answer.ttl) == ("https://smp.flow.test", False, 60)
    with pytest.raises(StopIteration) as stop:  # the cache answers without a request
        next(flow(core, FOUND))
    assert stop.value.value.from_cache is True
    assert isinstance(start(flow(core, FOUND, cache=False)), _Ask)  # use_cache=False asks


def test_a_denial_with_the_zones_soa_needs_no_probe(core: _Core) -> None:
    steps = flow(core, MISSING[0])
    start(steps)
    denial = DnsResponse(NXDOMAIN, False, negative_ttl=30, soa_owner=ZONE, server=NS)
    with pytest.raises(NotRegistered):
        steps.send(denial)


def test_a_bare_denial_asks_that_resolver_for_the_zones_soa_once(core: _Core) -> None:
    steps = flow(core, MISSING[0])
    start(steps)
    probe = steps.send(BARE_DENIAL)
    assert isinstance(probe, _Ask)
    assert (probe.name, probe.rdtype, probe.servers, probe.port, probe.tcp) == (
        ZONE,
        SOA,
        (NS,),
        53,
        False,
    )
    assert 0 < probe.timeout <= 5.0  # what is left of the lookup's timeout
    with pytest.raises(NotRegistered):
        steps.send(SOA_REPLY)
    steps = flow(core, MISSING[1])  # the proof is remembered: no second probe
    start(steps)
    with pytest.raises(NotRegistered):
        steps.send(BARE_DENIAL)


def test_lookups_denied_during_a_probe_wait_for_it(core: _Core) -> None:
    leader, waiter = flow(core, MISSING[0]), flow(core, MISSING[1])
    start(leader)
    start(waiter)
    probe = leader.send(BARE_DENIAL)
    assert isinstance(probe, _Ask)
    wait = waiter.send(BARE_DENIAL)
    assert isinstance(wait, _Await)  # not a second SOA query
    assert isinstance(wait.flight, Future)
    assert not wait.flight.done()
    with pytest.raises(NotRegistered):
        leader.send(SOA_REPLY)
    proof = wait.flight.result(timeout=0)
    assert proof.shown
    with pytest.raises(NotRegistered):
        waiter.send(proof)


def test_each_scope_has_its_own_probe_in_flight(core: _Core) -> None:
    # an asyncio future belongs to one event loop: lookups of two loops do not share a flight
    first, second = flow(core, MISSING[0], scope="loop 1"), flow(core, MISSING[1], scope="loop 2")
    start(first)
    start(second)
    assert isinstance(first.send(BARE_DENIAL), _Ask)
    assert isinstance(second.send(BARE_DENIAL), _Ask)


def test_a_cancelled_probe_leaves_the_waiters_unknown_not_cancelled(core: _Core) -> None:
    leader, waiter = flow(core, MISSING[0]), flow(core, MISSING[1])
    start(leader)
    start(waiter)
    leader.send(BARE_DENIAL)
    wait = waiter.send(BARE_DENIAL)
    assert isinstance(wait, _Await)
    assert isinstance(wait.flight, Future)
    with pytest.raises(asyncio.CancelledError):  # the leader's own cancellation goes on up
        leader.throw(asyncio.CancelledError())
    proof = wait.flight.result(timeout=0)
    assert (proof.shown, proof.keep) == (False, 0.0)  # not remembered
    with pytest.raises(UntrustedNegative, match="asking it for that SOA was cancelled"):
        waiter.send(proof)
    again = flow(core, MISSING[2])  # the flight is over: the next denial probes afresh
    start(again)
    assert isinstance(again.send(BARE_DENIAL), _Ask)


def test_a_waiter_waits_for_the_probe_no_longer_than_its_own_time(core: _Core) -> None:
    # the probe runs in the time of the lookup that started it; a waiter with less stops
    leader, waiter = flow(core, MISSING[0]), flow(core, MISSING[1], timeout=0.5)
    start(leader)
    start(waiter)
    leader.send(BARE_DENIAL)
    wait = waiter.send(BARE_DENIAL)
    assert isinstance(wait, _Await)
    assert 0 < wait.timeout <= 0.5
    with pytest.raises(UntrustedNegative, match="did not come in the time left"):
        waiter.throw(TimeoutError())
    with pytest.raises(NotRegistered):  # the leader's probe goes on and decides its own denial
        leader.send(SOA_REPLY)


def test_a_failed_probe_makes_the_denial_unknown_and_is_remembered_briefly(core: _Core) -> None:
    steps = flow(core, MISSING[0])
    start(steps)
    steps.send(BARE_DENIAL)
    with pytest.raises(UntrustedNegative, match="asking it for that SOA failed: no answer") as info:
        steps.throw(DnsFailure("no answer"))
    assert (info.value.nameserver, info.value.name) == (NS, naptr_name(MISSING[0], ZONE))
    steps = flow(core, MISSING[1])
    start(steps)
    with pytest.raises(UntrustedNegative, match="failed: no answer"):  # reused, not asked
        steps.send(BARE_DENIAL)


def test_without_time_left_the_probe_is_not_asked(core: _Core) -> None:
    core.timeout = 1e-9  # spent before the denial arrives
    steps = flow(core, MISSING[0])
    start(steps)
    with pytest.raises(UntrustedNegative, match="no time was left to ask it for that SOA"):
        steps.send(BARE_DENIAL)


def test_a_callers_shorter_timeout_bounds_the_question_and_the_probe(core: _Core) -> None:
    # what a lookup's deadline leaves: never more than the resolver's own timeout
    assert start(flow(core, FOUND, timeout=60.0)).timeout == 5.0
    steps = flow(core, MISSING[0], timeout=0.5)
    assert start(steps).timeout == 0.5
    probe = steps.send(BARE_DENIAL)
    assert isinstance(probe, _Ask)
    assert 0 < probe.timeout <= 0.5  # what is left of the shorter time, not of the 5 s


def test_a_dns_failure_of_the_question_is_the_lookups(core: _Core) -> None:
    steps = flow(core, FOUND)
    start(steps)
    failure = DnsFailure("no DNS server could answer")
    with pytest.raises(DnsFailure) as info:
        steps.throw(failure)
    assert info.value is failure
