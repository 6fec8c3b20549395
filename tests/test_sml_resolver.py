"""The SML resolver shells (sync and async) against the sandbox DNS server over real sockets."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from peppolnet.clock import ManualClock
from peppolnet.dnsquery import ask
from peppolnet.dnswire import NAPTR, NOERROR
from peppolnet.errors import (
    DnsFailure,
    InvalidInput,
    NoSmpService,
    NotRegistered,
    UntrustedNegative,
)
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox.dns_server import DnsServer, Lie
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


# --- denials behind a lying resolver -------------------------------------------------------------
#
# A denial counts as "not registered" only when it carries the zone's SOA, or the resolver that
# gave it shows the zone's SOA when asked (the probe). The sandbox server plays the liar.

MISSING_TOO = [ParticipantId.parse(f"0007:{n:010d}") for n in range(1000000001, 1000000041)]


def behind(server: DnsServer, lie: Lie | None, **kw: object) -> tuple[SmlResolver, ManualClock]:
    """A resolver with a hand-moved clock, asking ``server`` while it tells ``lie``."""
    server.set_lie(lie)
    clock = Clock()
    return make(server, clock=clock, **kw), clock


def untrusted(excinfo: pytest.ExceptionInfo[DnsFailure], name: str) -> UntrustedNegative:
    error = excinfo.value
    assert type(error) is UntrustedNegative
    assert error.retryable is True
    assert (error.nameserver, error.name) == ("127.0.0.1", name)
    assert error.message.startswith(f"the resolver 127.0.0.1 said NXDOMAIN for {name}")
    assert f"could not show the SOA of the SML zone {ZONE}" in error.message
    assert "cannot be trusted as 'not registered'" in error.message
    return error


@pytest.mark.parametrize("tcp", [False, True])
def test_a_resolver_that_denies_everything_is_not_believed(server: DnsServer, tcp: bool) -> None:
    server.set_lie("nxdomain")
    resolver = make(server, tcp=tcp)
    for pid in (FOUND, MISSING, OTHER_SERVICE):  # registered or not, the answer is the same lie
        with pytest.raises(DnsFailure) as info:
            resolver.resolve(pid)
        error = untrusted(info, naptr_name(pid, ZONE))
        assert "it said NXDOMAIN for the zone itself" in error.message


def test_untrusted_denials_are_never_cached(server: DnsServer) -> None:
    resolver, _ = behind(server, "nxdomain")
    with pytest.raises(UntrustedNegative):
        resolver.resolve(MISSING)
    with pytest.raises(UntrustedNegative):
        resolver.resolve(FOUND)
    server.set_lie(None)
    before = server.queries
    with pytest.raises(NotRegistered):  # asked again: the honest denial carries the SOA
        resolver.resolve(MISSING)
    assert resolver.resolve(FOUND).smp_url == SMP
    assert server.queries == before + 2


def test_honest_denials_need_no_probe(server: DnsServer) -> None:
    resolver = make(server)
    before = server.queries
    for pid in MISSING_TOO[:5]:
        with pytest.raises(NotRegistered):
            resolver.resolve(pid)
    assert server.queries == before + 5


def test_denials_without_authority_are_believed_once_the_zone_is_shown(server: DnsServer) -> None:
    resolver, _ = behind(server, "strip-authority")
    before = server.queries
    for pid in MISSING_TOO[:10]:
        with pytest.raises(NotRegistered):
            resolver.resolve(pid)
    assert server.queries == before + 10 + 1  # one SOA query for all ten denials
    assert resolver.resolve(FOUND).smp_url == SMP
    with pytest.raises(NoSmpService):
        resolver.resolve(OTHER_SERVICE)


def test_the_probe_is_asked_again_after_the_soas_ttl(server: DnsServer) -> None:
    resolver, clock = behind(server, "strip-authority")
    start = server.queries
    with pytest.raises(NotRegistered):
        resolver.resolve(MISSING_TOO[0])
    assert server.queries == start + 2
    clock.advance(59)  # the sandbox SOA's TTL is 60 s: still shown
    with pytest.raises(NotRegistered):
        resolver.resolve(MISSING_TOO[1])
    assert server.queries == start + 3
    clock.advance(2)
    with pytest.raises(NotRegistered):
        resolver.resolve(MISSING_TOO[2])
    assert server.queries == start + 5  # the denial and a fresh probe


def test_a_probe_is_remembered_no_longer_than_a_denial(server: DnsServer) -> None:
    resolver, clock = behind(server, "strip-authority", max_negative_ttl=10)
    start = server.queries
    with pytest.raises(NotRegistered):
        resolver.resolve(MISSING_TOO[0])
    clock.advance(11)
    with pytest.raises(NotRegistered):
        resolver.resolve(MISSING_TOO[1])
    assert server.queries == start + 4
    # and the denial it vouched for was cached for the zone's negative TTL, capped the same
    server.add_participant(MISSING_TOO[1], SMP)
    with pytest.raises(NotRegistered):
        resolver.resolve(MISSING_TOO[1])
    clock.advance(11)
    assert resolver.resolve(MISSING_TOO[1]).smp_url == SMP


def test_a_failed_probe_is_remembered_briefly(server: DnsServer) -> None:
    resolver, clock = behind(server, "nxdomain")
    start = server.queries
    with pytest.raises(UntrustedNegative):
        resolver.resolve(MISSING_TOO[0])
    with pytest.raises(UntrustedNegative):
        resolver.resolve(MISSING_TOO[1])
    assert server.queries == start + 3  # the second denial reused the failed probe
    # Meanwhile the resolver stops lying about the zone, but still strips the SOA: until the
    # failure is forgotten, such denials stay unknown - the safe side.
    server.set_lie("strip-authority")
    with pytest.raises(UntrustedNegative, match="NXDOMAIN for the zone itself"):
        resolver.resolve(MISSING_TOO[2])
    clock.advance(6)
    with pytest.raises(NotRegistered):
        resolver.resolve(MISSING_TOO[3])


def test_clear_cache_forgets_the_probe(server: DnsServer) -> None:
    resolver, _ = behind(server, "nxdomain")
    with pytest.raises(UntrustedNegative):
        resolver.resolve(MISSING)
    server.set_lie("strip-authority")
    resolver.clear_cache()
    with pytest.raises(NotRegistered):
        resolver.resolve(MISSING)


def test_the_probe_asks_the_resolver_that_denied(server: DnsServer) -> None:
    # 127.0.0.2 lies and is asked first; its NXDOMAIN ends the search, so it is the one asked
    # for the zone's SOA - the honest server on 127.0.0.1 never hears of it
    with DnsServer([ZONE], host="127.0.0.2", port=server.port) as liar:
        liar.set_lie("nxdomain")
        resolver = SmlResolver(
            ZONE, nameservers=["127.0.0.2", "127.0.0.1"], port=server.port, timeout=2.0
        )
        before = server.queries
        with pytest.raises(UntrustedNegative, match=r"^the resolver 127\.0\.0\.2 said") as info:
            resolver.resolve(FOUND)
        assert info.value.nameserver == "127.0.0.2"
        assert liar.queries == 2
        assert server.queries == before


def test_legacy_cname_denials_are_judged_alike(server: DnsServer) -> None:
    server.add_participant(FOUND, SMP, legacy_cname=True)
    resolver, _ = behind(server, "strip-authority", legacy_cname=True, require_https=False)
    with pytest.raises(NotRegistered, match="no CNAME record"):
        resolver.resolve(MISSING)
    server.set_lie("nxdomain")
    resolver.clear_cache()
    with pytest.raises(UntrustedNegative, match="said NXDOMAIN for B-"):
        resolver.resolve(FOUND)


def test_nodata_without_soa_is_named_as_such(server: DnsServer) -> None:
    # a name that exists without the asked type (here: the zone's apex) is a NODATA denial
    resolver, _ = behind(server, "strip-authority")
    core = resolver._core  # the shells only move bytes: judge the reply with the core
    response = ask(ZONE, NAPTR, ["127.0.0.1"], server.port, 2.0, tcp=False)
    assert (response.rcode, response.ttl, response.soa_owner) == (NOERROR, None, None)
    assert core.wants_proof(response)
    error = core.untrusted(ZONE, response, None)
    assert error.message.startswith(
        f"the resolver 127.0.0.1 said there is no NAPTR record at {ZONE}"
    )


def test_threads_share_one_probe(server: DnsServer) -> None:
    resolver, _ = behind(server, "strip-authority", timeout=5.0)
    before = server.queries

    def one(pid: ParticipantId) -> str:
        try:
            resolver.resolve(pid)
        except NotRegistered:
            return "not-registered"
        return "found"

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(one, MISSING_TOO))
    assert outcomes == ["not-registered"] * len(MISSING_TOO)
    assert server.queries == before + len(MISSING_TOO) + 1


async def test_async_behind_a_resolver_that_denies_everything(server: DnsServer) -> None:
    server.set_lie("nxdomain")
    async with make_async(server, clock=Clock(), timeout=5.0) as resolver:
        before = server.queries
        outcomes = await asyncio.gather(
            *(resolver.resolve(pid) for pid in [FOUND, *MISSING_TOO]), return_exceptions=True
        )
        assert server.queries == before + 1 + len(MISSING_TOO) + 1  # a single SOA query
        for pid, outcome in zip([FOUND, *MISSING_TOO], outcomes, strict=True):
            assert isinstance(outcome, UntrustedNegative), outcome
            assert outcome.nameserver == "127.0.0.1"
            assert outcome.name == naptr_name(pid, ZONE)
        # the same sentence as the sync twin's
        server.set_lie("nxdomain")
        with pytest.raises(DnsFailure) as info:
            await resolver.resolve(MISSING)
        untrusted(info, naptr_name(MISSING, ZONE))


async def test_async_strip_authority_shares_one_probe(server: DnsServer) -> None:
    server.set_lie("strip-authority")
    clock = Clock()
    async with make_async(server, clock=clock, timeout=5.0) as resolver:
        before = server.queries
        outcomes = await asyncio.gather(
            *(resolver.resolve(pid) for pid in MISSING_TOO), return_exceptions=True
        )
        assert all(isinstance(o, NotRegistered) for o in outcomes), outcomes
        assert server.queries == before + len(MISSING_TOO) + 1
        assert (await resolver.resolve(FOUND)).smp_url == SMP
        clock.advance(61)
        with pytest.raises(NotRegistered):
            await resolver.resolve(MISSING)
        assert server.queries == before + len(MISSING_TOO) + 1 + 1 + 2
        server.set_lie(None)  # honest again: no probe needed at all
        resolver.clear_cache()
        with pytest.raises(NotRegistered):
            await resolver.resolve(MISSING)
        assert server.queries == before + len(MISSING_TOO) + 1 + 1 + 2 + 1
