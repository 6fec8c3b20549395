"""The SML resolver shells (sync and async) against the sandbox DNS server over real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from peppolnet.clock import ManualClock
from peppolnet.errors import DnsFailure, InvalidInput, NoSmpService, NotRegistered
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox.dns_server import DnsServer
from peppolnet.sml import AsyncSmlResolver, SmlResolver, naptr_name

ZONE = "sml.sandbox.test"
FOUND = ParticipantId.parse("0007:5567321707")
OTHER_SERVICE = ParticipantId.parse("0007:1111111111")
MISSING = ParticipantId.parse("0007:9999999999")
SMP = "https://smp.sandbox.test/smp"


def Clock() -> ManualClock:
    """A hand-moved clock; the resolver's cache ages on its monotonic reading."""
    return ManualClock(datetime(2030, 1, 1, tzinfo=UTC))


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer([ZONE], ttl=60) as srv:
        srv.add_participant(FOUND, SMP)
        srv.add_participant(OTHER_SERVICE, SMP, service="Meta:Other")
        yield srv


#: Long enough for a loopback answer on a busy machine, short enough for the silence tests.
TIMEOUT = 1.0


def make(server: DnsServer, **kw: object) -> SmlResolver:
    args: dict[str, object] = {
        "nameservers": ["127.0.0.1"],
        "port": server.port,
        "timeout": TIMEOUT,
    }
    args.update(kw)
    return SmlResolver(ZONE, **args)  # type: ignore[arg-type]


def make_async(server: DnsServer, **kw: object) -> AsyncSmlResolver:
    args: dict[str, object] = {
        "nameservers": ["127.0.0.1"],
        "port": server.port,
        "timeout": TIMEOUT,
    }
    args.update(kw)
    return AsyncSmlResolver(ZONE, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("tcp", [False, True])
def test_found(server: DnsServer, tcp: bool) -> None:
    answer = make(server, tcp=tcp).resolve(FOUND)
    assert answer.smp_url == SMP
    assert answer.participant == FOUND
    assert answer.record_name == naptr_name(FOUND, ZONE)
    assert answer.ttl == 60
    assert answer.from_cache is False
    assert 0 < answer.elapsed < TIMEOUT  # measured, and within the budget
    assert len(answer.records) == 1
    assert answer.records[0].service == "Meta:SMP"


def test_accepts_text_participant(server: DnsServer) -> None:
    assert make(server).resolve("0007:5567321707").smp_url == SMP


def test_not_registered(server: DnsServer) -> None:
    with pytest.raises(NotRegistered, match="not registered") as info:
        make(server).resolve(MISSING)
    assert info.value.retryable is False


def test_no_smp_service(server: DnsServer) -> None:
    with pytest.raises(NoSmpService, match="Meta:Other"):
        make(server).resolve(OTHER_SERVICE)


def test_http_smp_rejected_by_policy(server: DnsServer) -> None:
    server.add_participant(FOUND, "http://smp.sandbox.test")
    with pytest.raises(NoSmpService, match="requires https"):
        make(server).resolve(FOUND)
    assert make(server, require_https=False).resolve(FOUND).smp_url == "http://smp.sandbox.test"


@pytest.mark.parametrize("tcp", [False, True])
def test_servfail_is_dns_failure(server: DnsServer, tcp: bool) -> None:
    server.set_fault(None, "servfail")
    with pytest.raises(DnsFailure, match="SERVFAIL") as info:
        make(server, tcp=tcp).resolve(FOUND)
    assert info.value.retryable is True


def test_silence_is_dns_failure(server: DnsServer) -> None:
    server.set_fault(FOUND, "silence")
    started = time.perf_counter()
    with pytest.raises(DnsFailure, match="did not answer"):
        make(server).resolve(FOUND)
    assert time.perf_counter() - started < 5 * TIMEOUT  # the timeout ends it, nothing waits on
    # Only that participant is affected.
    with pytest.raises(NotRegistered):
        make(server).resolve(MISSING)


def test_refused_outside_zone_is_dns_failure(server: DnsServer) -> None:
    resolver = SmlResolver("elsewhere.test", nameservers=["127.0.0.1"], port=server.port)
    with pytest.raises(DnsFailure, match="REFUSED"):
        resolver.resolve(FOUND)


def test_nothing_listening_is_dns_failure() -> None:
    with DnsServer([ZONE]) as srv:
        port = srv.port
    with pytest.raises(DnsFailure):
        SmlResolver(ZONE, nameservers=["127.0.0.1"], port=port, timeout=0.3).resolve(FOUND)


def test_failures_are_not_cached(server: DnsServer) -> None:
    resolver = make(server)
    server.set_fault(None, "servfail")
    with pytest.raises(DnsFailure):
        resolver.resolve(FOUND)
    server.set_fault(None, None)
    assert resolver.resolve(FOUND).smp_url == SMP


def test_cache_hit_asks_no_one(server: DnsServer) -> None:
    resolver = make(server)
    resolver.resolve(FOUND)
    before = server.queries
    again = resolver.resolve(FOUND)
    assert again.from_cache is True
    assert again.smp_url == SMP
    assert server.queries == before


def test_use_cache_false_asks_and_stores(server: DnsServer) -> None:
    clock = Clock()
    resolver = make(server, clock=clock)
    resolver.resolve(FOUND)
    server.add_participant(FOUND, "https://moved.sandbox.test")
    assert resolver.resolve(FOUND).smp_url == SMP  # still cached
    fresh = resolver.resolve(FOUND, use_cache=False)
    assert fresh.smp_url == "https://moved.sandbox.test"
    assert fresh.from_cache is False
    before = server.queries
    assert resolver.resolve(FOUND).smp_url == "https://moved.sandbox.test"
    assert server.queries == before


def test_ttl_expiry(server: DnsServer) -> None:
    clock = Clock()
    resolver = make(server, clock=clock)
    resolver.resolve(FOUND)
    clock.advance(30)
    hit = resolver.resolve(FOUND)
    assert hit.from_cache is True
    assert hit.ttl == 30
    before = server.queries
    clock.advance(31)
    assert resolver.resolve(FOUND).from_cache is False
    assert server.queries == before + 1


def test_negative_caching(server: DnsServer) -> None:
    clock = Clock()
    resolver = make(server, clock=clock)
    with pytest.raises(NotRegistered):
        resolver.resolve(MISSING)
    server.add_participant(MISSING, SMP)
    before = server.queries
    with pytest.raises(NotRegistered):
        resolver.resolve(MISSING)  # cached for the SOA's negative TTL (60 s)
    assert server.queries == before
    clock.advance(61)
    assert resolver.resolve(MISSING).smp_url == SMP


def test_negative_ttl_is_capped(server: DnsServer) -> None:
    clock = Clock()
    resolver = make(server, clock=clock, max_negative_ttl=5)
    with pytest.raises(NotRegistered):
        resolver.resolve(MISSING)
    server.add_participant(MISSING, SMP)
    clock.advance(6)
    assert resolver.resolve(MISSING).smp_url == SMP


def test_no_smp_service_is_cached(server: DnsServer) -> None:
    resolver = make(server)
    with pytest.raises(NoSmpService):
        resolver.resolve(OTHER_SERVICE)
    before = server.queries
    with pytest.raises(NoSmpService):
        resolver.resolve(OTHER_SERVICE)
    assert server.queries == before


def test_clear_cache_and_disabled_cache(server: DnsServer) -> None:
    resolver = make(server)
    resolver.resolve(FOUND)
    resolver.clear_cache()
    assert resolver.resolve(FOUND).from_cache is False
    uncached = make(server, cache=False)
    uncached.resolve(FOUND)
    assert uncached.resolve(FOUND).from_cache is False


def test_lru_bound(server: DnsServer) -> None:
    resolver = make(server, cache_size=1)
    resolver.resolve(FOUND)
    with pytest.raises(NoSmpService):
        resolver.resolve(OTHER_SERVICE)  # evicts FOUND
    assert resolver.resolve(FOUND).from_cache is False


def test_legacy_cname(server: DnsServer) -> None:
    server.add_participant(FOUND, SMP, legacy_cname=True)
    resolver = make(server, legacy_cname=True, require_https=False)
    answer = resolver.resolve(FOUND)
    assert answer.record_name.startswith("B-")
    assert answer.smp_url == f"http://{answer.record_name}"
    assert answer.records == ()
    with pytest.raises(NotRegistered, match="CNAME"):
        resolver.resolve(MISSING)


def test_legacy_cname_needs_http_allowed() -> None:
    with pytest.raises(InvalidInput, match="require_https=False"):
        SmlResolver(ZONE, nameservers=["127.0.0.1"], legacy_cname=True)


@pytest.mark.parametrize(
    "kw",
    [
        {"timeout": 0},
        {"nameservers": ["not an address"]},
        {"nameservers": ["https://dns.example/dns-query"]},
        {"nameservers": ["127.0.0.1"], "port": 0},
        {"nameservers": ["127.0.0.1"], "port": 65536},
    ],
)
def test_bad_configuration(kw: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        SmlResolver(ZONE, **kw)  # type: ignore[arg-type]


def test_bad_zone() -> None:
    with pytest.raises(InvalidInput, match="zone"):
        SmlResolver("a..b", nameservers=["127.0.0.1"])
    with pytest.raises(InvalidInput, match="ASCII"):
        SmlResolver("sml.bücher.example", nameservers=["127.0.0.1"])


def test_timeout_is_shared_by_the_nameservers(server: DnsServer) -> None:
    # 127.0.0.2 has no server: the ICMP error moves on at once, the second server answers
    resolver = SmlResolver(
        ZONE, nameservers=["127.0.0.2", " 127.0.0.1 "], port=server.port, timeout=3.0
    )
    assert resolver.resolve(FOUND).smp_url == SMP
    server.set_fault(None, "silence")
    started = time.perf_counter()
    with pytest.raises(DnsFailure, match=r"127\.0\.0\.2: connection refused.*127\.0\.0\.1: timed"):
        resolver.resolve(FOUND, use_cache=False)
    # one 3 s budget for the whole lookup; a budget per server would take 6 s
    assert time.perf_counter() - started < 4.5


@dataclass(frozen=True)
class FakeNetwork:
    sml_zone: str
    nameservers: tuple[str, ...]
    dns_port: int
    require_https: bool
    legacy_cname: bool


def test_for_network(server: DnsServer) -> None:
    net = FakeNetwork(ZONE, ("127.0.0.1",), server.port, True, False)
    resolver = SmlResolver.for_network(net, timeout=TIMEOUT)
    assert resolver.zone == ZONE
    assert resolver.resolve(FOUND).smp_url == SMP
    assert resolver.record_name(FOUND) == naptr_name(FOUND, ZONE)


def test_extra_zone_served() -> None:
    peer_zone = "participant.sml.test.tech.peppol.org"
    with DnsServer([ZONE, peer_zone]) as srv:
        srv.add_participant(FOUND, SMP)
        for zone in (ZONE, peer_zone):
            resolver = SmlResolver(zone, nameservers=["127.0.0.1"], port=srv.port, timeout=TIMEOUT)
            assert resolver.resolve(FOUND).smp_url == SMP


# --- async ---------------------------------------------------------------------------------------


async def test_async_outcomes(server: DnsServer) -> None:
    resolver = make_async(server)
    answer = await resolver.resolve(FOUND)
    assert answer.smp_url == SMP
    assert (await resolver.resolve(FOUND)).from_cache is True
    with pytest.raises(NotRegistered):
        await resolver.resolve(MISSING)
    with pytest.raises(NoSmpService):
        await resolver.resolve(OTHER_SERVICE)
    server.set_fault(None, "servfail")
    with pytest.raises(DnsFailure, match="SERVFAIL"):
        await resolver.resolve(FOUND, use_cache=False)
    server.set_fault(None, "silence")
    with pytest.raises(DnsFailure, match="did not answer"):
        await resolver.resolve(FOUND, use_cache=False)


async def test_async_legacy_cname_and_aclose(server: DnsServer) -> None:
    server.add_participant(FOUND, SMP, legacy_cname=True)
    async with make_async(server, legacy_cname=True, require_https=False) as resolver:
        answer = await resolver.resolve(FOUND)
        assert answer.smp_url == f"http://{answer.record_name}"
        assert answer.ttl == 60
        with pytest.raises(NotRegistered, match="no CNAME record"):
            await resolver.resolve(MISSING)
    # closed, and still usable: the next query opens a fresh socket
    assert (await resolver.resolve(FOUND, use_cache=False)).from_cache is False
    await resolver.aclose()


async def test_async_tcp_and_for_network(server: DnsServer) -> None:
    net = FakeNetwork(ZONE, ("127.0.0.1",), server.port, True, False)
    resolver = AsyncSmlResolver.for_network(net, timeout=TIMEOUT, tcp=True)
    assert (await resolver.resolve(FOUND)).smp_url == SMP
    assert resolver.zone == ZONE
    assert resolver.record_name("0007:5567321707") == naptr_name(FOUND, ZONE)
    resolver.clear_cache()
    assert (await resolver.resolve(FOUND)).from_cache is False


async def test_async_cache_expiry(server: DnsServer) -> None:
    clock = Clock()
    resolver = make_async(server, clock=clock)
    await resolver.resolve(FOUND)
    before = server.queries
    assert (await resolver.resolve(FOUND)).from_cache is True
    assert server.queries == before
    clock.advance(61)
    assert (await resolver.resolve(FOUND)).from_cache is False
    assert server.queries == before + 1


async def test_latency_does_not_serialise(server: DnsServer) -> None:
    server.set_latency(0.5)
    resolver = make_async(server, cache=False, timeout=30.0)
    started = time.perf_counter()
    answers = await asyncio.gather(*(resolver.resolve(FOUND) for _ in range(20)))
    took = time.perf_counter() - started
    assert all(a.smp_url == SMP for a in answers)
    assert all(a.elapsed >= 0.5 for a in answers)
    # serialised, 20 answers of 0.5 s take 10 s; overlapping, one delay plus overhead
    assert took < 20 * 0.5 / 2, took
