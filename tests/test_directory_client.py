"""The Directory clients against the sandbox Directory on real sockets (127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from peppolnet.businesscard import BusinessEntity, Name
from peppolnet.clock import ManualClock
from peppolnet.directory import AsyncDirectoryClient, DirectoryClient
from peppolnet.directory.client import RateLimiter, parse_retry_after
from peppolnet.errors import DirectoryError, DirectoryQueryError, DirectoryRateLimited
from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
from peppolnet.lookup import RetryPolicy
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.directory_service import DirectoryEntry, DirectoryService
from peppolnet.sandbox.http import Faults, HttpServer, Request, Response


def _entry(i: int, *, name: str | None = None, country: str = "NO", n: int = 1) -> DirectoryEntry:
    entities = tuple(
        BusinessEntity((Name(name or f"Company {i:04d} unit {k}"),), country) for k in range(n)
    )
    return DirectoryEntry(ParticipantId.of("0192", f"{i:09d}"), (BIS_BILLING_INVOICE,), entities)


ENTRIES = [_entry(1, name="Bergen Bakeri AS"), _entry(2, name="Østfold Ørret", country="SE")]
ENTRIES += [_entry(i, n=3) for i in range(10, 20)]  # 30 entities named "Company ..."


@pytest.fixture
def server() -> HttpServer:
    with HttpServer(DirectoryService(ENTRIES), name="directory") as srv:
        yield srv  # type: ignore[misc]


def test_search_json_and_xml(server: HttpServer) -> None:
    with DirectoryClient(server.base_url, rate_limit=None) as client:
        for fmt in ("json", "xml"):
            page = client.search(name="bakeri", fmt=fmt)
            assert [m.participant for m in page.matches] == [ENTRIES[0].participant]
            assert page.matches[0].name == "Bergen Bakeri AS"
            assert page.matches[0].document_types == (BIS_BILLING_INVOICE,)
            assert page.total == 1
            assert page.matches[0].confirmed is None
        accent = client.search(name="ostfold ORRET", country="se")
        assert [m.name for m in accent.matches] == ["Østfold Ørret"]
        assert client.search(name="ostfold", country="NO").matches == ()


def test_paging_counts_entities_and_iteration_rejoins_participants(server: HttpServer) -> None:
    with DirectoryClient(server.base_url, rate_limit=None) as client:
        page = client.search("Company", page=1, page_size=4)
        assert (page.total, page.used, page.first_index, page.last_index) == (30, 4, 4, 7)
        # entities 4..7 = participant 11 (entities 1, 2) and participant 12 (entities 0, 1)
        assert [len(m.entities) for m in page.matches] == [2, 2]
        result = client.iter_search("Company", page_size=4)
        matches = list(result)
        assert [m.participant for m in matches] == [e.participant for e in ENTRIES[2:]]
        assert all(len(m.entities) == 3 for m in matches)  # halves from two pages joined
        assert result.truncated is False
        assert result.total == 30
        limited = list(client.iter_search("Company", page_size=4, limit=5))
        assert len(limited) == 5
        with pytest.raises(DirectoryQueryError, match="only once"):
            list(result)


def test_confirm_hook_fills_confirmed(server: HttpServer) -> None:
    asked: list[ParticipantId] = []

    def confirm(pid: ParticipantId) -> bool:
        asked.append(pid)
        return pid == ENTRIES[0].participant

    with DirectoryClient(server.base_url, rate_limit=None) as client:
        page = client.search(country="NO", confirm=confirm)
        assert {m.participant: m.confirmed for m in page.matches}[ENTRIES[0].participant] is True
        assert page.matches[-1].confirmed is False
        assert asked == [m.participant for m in page.matches]


def test_the_1000_cap_stops_iteration_cleanly() -> None:
    service = DirectoryService(_entry(i) for i in range(1500))
    with HttpServer(service) as srv, DirectoryClient(srv.base_url, rate_limit=None) as client:
        result = client.iter_search("Company")
        matches = list(result)
        assert len(matches) == 1000
        assert result.truncated is True
        assert result.total == 1500
        assert client.requests_sent == 10  # pages of 100, never the refused 11th
        first = client.search("Company")
        assert first.truncated is True
        with pytest.raises(DirectoryQueryError, match="1000"):
            client.search("Company", page=50)  # refused locally
        assert client.requests_sent == 11
        small = client.iter_search("Company", page_size=300)  # 3 pages reach index 899
        assert len(list(small)) == 900
        assert small.truncated is True


def test_three_character_minimum_sends_nothing(server: HttpServer) -> None:
    with DirectoryClient(server.base_url, rate_limit=None) as client:
        with pytest.raises(DirectoryQueryError, match="at least 3"):
            client.search(name="ab")
        with pytest.raises(DirectoryQueryError, match="at least 3"):
            client.iter_search(website="x")
    assert server.requests == 0


def test_server_side_400_is_a_query_error(server: HttpServer) -> None:
    with (
        DirectoryClient(server.base_url, rate_limit=None) as client,
        pytest.raises(DirectoryQueryError, match="refused"),
    ):
        client._get(server.base_url + "/search/1.0/json", [("name", "ab")], "json")


def test_429_is_honoured_with_retry_after() -> None:
    service = DirectoryService(ENTRIES, rate_limit_per_second=1, window_seconds=1, retry_after=1)
    with HttpServer(service) as srv, DirectoryClient(srv.base_url, rate_limit=None) as client:
        started = time.monotonic()
        assert client.search(name="bakeri").total == 1
        assert client.search(name="bakeri").total == 1  # 429 first, then waits ~1 s
        assert time.monotonic() - started >= 0.9
        assert service.rejected >= 1
        assert client.requests_sent >= 3


def test_429_after_max_retries_raises() -> None:
    service = DirectoryService(ENTRIES, rate_limit_per_second=1, window_seconds=1, retry_after=0)
    slept: list[float] = []
    with (
        HttpServer(service) as srv,
        DirectoryClient(
            srv.base_url, rate_limit=None, max_retries_429=2, sleep=slept.append
        ) as client,
    ):
        client.search(name="bakeri")
        with pytest.raises(DirectoryRateLimited) as info:
            client.search(name="bakeri")
    assert info.value.retry_after == 0
    assert info.value.retryable
    assert client.requests_sent == 4  # 1 ok + 1 refused + 2 retries


def test_too_long_retry_after_is_not_waited_for() -> None:
    def always_429(request: Request) -> Response:
        return Response(429, b"slow down", {"Retry-After": "3600"})

    with HttpServer(always_429) as srv, DirectoryClient(srv.base_url, rate_limit=None) as client:
        with pytest.raises(DirectoryRateLimited, match="3600") as info:
            client.search(name="bakeri")
        assert info.value.retry_after == 3600
        assert client.requests_sent == 1


def test_server_errors_and_unreachable() -> None:
    def broken(request: Request) -> Response:
        return Response(503, b"maintenance")

    with HttpServer(broken) as srv, DirectoryClient(srv.base_url, rate_limit=None) as client:
        with pytest.raises(DirectoryError, match="503") as info:
            client.search(name="bakeri")
        assert info.value.retryable
        url = srv.base_url
    with (
        DirectoryClient(url, rate_limit=None, timeout=2) as client,
        pytest.raises(DirectoryError, match="could not reach"),
    ):
        client.search(name="bakeri")


def FakeClock() -> ManualClock:
    """A clock whose monotonic reading starts at 100 s and moves only when slept on."""
    return ManualClock(datetime(2030, 1, 1, tzinfo=UTC), monotonic_start=100.0)


def test_client_side_rate_limit_spaces_requests(server: HttpServer) -> None:
    clock = FakeClock()
    sent_at: list[float] = []
    with DirectoryClient(server.base_url, clock=clock, sleep=clock.sleep) as client:
        for _ in range(5):
            client.search(name="bakeri")
            sent_at.append(clock.monotonic())
    assert sent_at == [100.0, 100.5, 101.0, 101.5, 102.0]  # 2 requests/second


def test_rate_limiter_and_retry_after_parsing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(4, clock)
    assert [limiter.reserve() for _ in range(3)] == [0.0, 0.25, 0.5]
    clock.advance(10)
    assert limiter.reserve() == 0.0
    limiter.push_back(2)
    assert limiter.reserve() == 2.0
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


class _NetworkStub:
    def __init__(self, url: str | None) -> None:
        self.directory_url = url
        self.tls_verify: str | bool = False


def test_for_network(server: HttpServer) -> None:
    client = DirectoryClient.for_network(_NetworkStub(server.base_url), rate_limit=None)
    assert client.search(name="bakeri").total == 1
    assert client.verify is False
    client.close()
    with pytest.raises(ValueError, match="no Peppol Directory"):
        DirectoryClient.for_network(_NetworkStub(None))


async def test_async_twin(server: HttpServer) -> None:
    async def confirm(pid: ParticipantId) -> bool | None:
        await asyncio.sleep(0)
        return None if pid == ENTRIES[0].participant else True

    async with AsyncDirectoryClient(server.base_url, rate_limit=None) as client:
        page = await client.search(name="bakeri", confirm=confirm, fmt="xml")
        assert page.matches[0].name == "Bergen Bakeri AS"
        assert page.matches[0].confirmed is None
        result = client.iter_search("Company", page_size=4, confirm=lambda pid: True)
        matches = [m async for m in result]
        assert len(matches) == 10
        assert all(m.confirmed for m in matches)
        assert result.truncated is False
        with pytest.raises(DirectoryQueryError):
            await client.search(name="ab")


async def test_async_429_and_rate_limit() -> None:
    service = DirectoryService(ENTRIES, rate_limit_per_second=1, window_seconds=1, retry_after=0)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    with HttpServer(service) as srv:
        async with AsyncDirectoryClient(
            srv.base_url, rate_limit=None, max_retries_429=1, sleep=fake_sleep
        ) as client:
            await client.search(name="bakeri")
            with pytest.raises(DirectoryRateLimited):
                await client.search(name="bakeri")
        clock = FakeClock()

        async def clock_sleep(seconds: float) -> None:
            clock.sleep(seconds)

        async with AsyncDirectoryClient(
            srv.base_url, rate_limit=4, clock=clock, sleep=clock_sleep
        ) as paced:
            service.rate_limit_per_second = None
            for _ in range(3):
                await paced.search(name="bakeri")
            assert clock.monotonic() == 100.5


# --- faults are retried under the one retry policy, as an SMP request is ---------------------

FAST = RetryPolicy(backoff=0.01)


@contextlib.contextmanager
def directory_faults(sandbox: Sandbox, faults: Faults) -> Iterator[HttpServer]:
    """The sandbox's own Directory server with ``faults`` injected for the block."""
    server = sandbox.directory_server
    assert server is not None
    server.faults = faults
    try:
        yield server
    finally:
        server.faults = Faults()


def _a_name(sandbox: Sandbox) -> str:
    return next(e.entities[0].names[0].name for e in sandbox.directory.entries())


def test_a_directory_that_always_fails_costs_the_policys_tries(sandbox: Sandbox) -> None:
    paused: list[float] = []
    with (
        directory_faults(sandbox, Faults(error_share=1.0)) as server,
        DirectoryClient.for_network(
            sandbox.network, rate_limit=None, sleep=paused.append
        ) as client,
    ):
        before = server.requests
        with pytest.raises(DirectoryError, match="answered HTTP 50") as info:
            client.search(name=_a_name(sandbox))
        assert server.requests - before == 3 == client.requests_sent  # DEFAULT: three tries
    assert info.value.retryable
    assert len(paused) == 2  # jittered back-off from 0.25 s, through the injected sleep
    assert 0.125 <= paused[0] <= 0.375
    assert 0.25 <= paused[1] <= 0.75


def test_a_directory_that_recovers_answers_after_a_retry(sandbox: Sandbox) -> None:
    name = _a_name(sandbox)
    with directory_faults(sandbox, Faults(error_share=1.0)) as server:

        def mend(seconds: float) -> None:  # the pause between tries: the Directory is back
            server.faults = Faults()

        before = server.requests
        with DirectoryClient.for_network(sandbox.network, rate_limit=None, sleep=mend) as client:
            page = client.search(name=name)
        assert server.requests - before == 2
    assert name in [m.name for m in page.matches]


def test_a_directory_that_does_not_answer_in_time_is_tried_again(sandbox: Sandbox) -> None:
    with (
        directory_faults(sandbox, Faults(timeout_share=1.0)) as server,
        DirectoryClient.for_network(
            sandbox.network, rate_limit=None, timeout=0.3, retry=FAST
        ) as client,
    ):
        before = server.requests
        with pytest.raises(DirectoryError, match=r"did not answer within 0\.3 s"):
            client.search(name=_a_name(sandbox))
        assert server.requests - before == 3


async def test_the_async_client_retries_alike(sandbox: Sandbox) -> None:
    with directory_faults(sandbox, Faults(reset_share=1.0)) as server:
        before = server.requests
        async with AsyncDirectoryClient.for_network(
            sandbox.network, rate_limit=None, retry=RetryPolicy(attempts=2, backoff=0.01)
        ) as client:
            with pytest.raises(DirectoryError, match="could not reach"):
                await client.search(name=_a_name(sandbox))
        assert server.requests - before == 2


def test_an_answer_is_not_retried(server: HttpServer) -> None:
    def gone(request: Request) -> Response:
        return Response(404, b"no such thing")

    with HttpServer(gone) as srv, DirectoryClient(srv.base_url, rate_limit=None) as client:
        with pytest.raises(DirectoryError, match="404") as info:
            client.search(name="bakeri")
        assert srv.requests == 1
    assert not info.value.retryable


def test_one_budget_for_a_whole_search(server: HttpServer) -> None:
    """Every page's first try fails: two retries (attempts=3) carry the search over two pages;
    the third page's fault finds the budget spent."""
    service = DirectoryService(ENTRIES)
    tries: list[int] = []

    def every_other(request: Request) -> Response:
        tries.append(1)
        return Response(502, b"bad gateway") if len(tries) % 2 else service.handle(request)

    with (
        HttpServer(every_other) as srv,
        DirectoryClient(srv.base_url, rate_limit=None, retry=FAST) as client,
    ):
        result = client.iter_search("Company", page_size=4)
        seen = []
        with pytest.raises(DirectoryError, match="502"):
            seen.extend(result)
    assert len(tries) == 5  # page 1: 2 tries, page 2: 2 tries, page 3: 1 try
    assert len(seen) >= 1  # what came before the fault was handed out
