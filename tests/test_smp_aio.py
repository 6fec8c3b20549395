"""What only the async SMP client has: event loops. Over real HTTPS sockets on 127.0.0.1.

Every HTTP behaviour (limits, decoding, proxies, trust, deadlines, destinations, errors) is tested
on both paths in tests/test_http_behaviour.py; here, the life of aiohttp sessions under
``httpx.AsyncClient``: one client serving several loops, in turn and at once, and a caller's own
``httpx.AsyncClient`` used and left open.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator

import httpx
import pytest

from peppolnet.destinations import LOOPBACK_ALLOWED
from peppolnet.identifiers import ParticipantId
from peppolnet.network import Network
from peppolnet.sandbox.http import HttpServer, Request, Response
from peppolnet.sandbox.pki import TestPki
from peppolnet.smp.client import AsyncSmpClient
from peppolnet.xmldsig import SignaturePolicy

PID = ParticipantId.parse("0007:5567321707")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.generate(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def network(pki: TestPki) -> Network:
    return Network(
        "unit", "sml.unit.test", (pki.smp_ca,), (pki.ap_ca,), None, SignaturePolicy.strict(),
        tls_verify=str(pki.tls_ca_pem_path), destinations=LOOPBACK_ALLOWED,
    )  # fmt: skip


class _Server:
    def __init__(self, pki: TestPki, tmp: pytest.TempPathFactory) -> None:
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        cert = pki.issue_tls_certificate(("127.0.0.1", "localhost"))
        folder = tmp.mktemp("tls")
        cert_path, key_path = folder / "cert.pem", folder / "key.pem"
        cert_path.write_bytes(cert.certificate.public_bytes(Encoding.PEM))
        key_path.write_bytes(
            cert.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        )
        self.handler = lambda r: Response(404)
        self.seen: list[Request] = []
        self._lock = threading.Lock()
        self.server = HttpServer(self._handle, tls=(cert_path, key_path), name="aio-smp")

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.seen.append(request)
        return self.handler(request)

    @property
    def url(self) -> str:
        return self.server.base_url


@pytest.fixture
def server(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    srv = _Server(pki, tmp_path_factory)
    srv.server.start()
    yield srv
    srv.server.stop()


def test_one_client_serves_two_event_loops(server: _Server, network: Network) -> None:
    server.handler = lambda r: Response(200, b"ok")
    client = AsyncSmpClient(network)
    for _ in range(2):  # each asyncio.run is a new loop; the session must follow it

        async def once() -> bytes:
            try:
                return await client.fetch(server.url + "/twice")
            finally:
                await client.aclose()  # before its loop ends, as `async with` does

        assert asyncio.run(once()) == b"ok"


async def test_a_callers_httpx_client_is_used_and_left_open(
    server: _Server, network: Network, pki: TestPki
) -> None:
    server.handler = lambda r: Response(200, b"ok")
    verify = ssl.create_default_context(cafile=str(pki.tls_ca_pem_path))
    async with httpx.AsyncClient(verify=verify) as mine:
        async with AsyncSmpClient(network, client=mine) as client:
            assert await client.fetch(server.url + "/mine") == b"ok"
        assert not mine.is_closed
        assert (await mine.get(server.url + "/still")).status_code == 200


def test_one_client_serves_loops_in_two_threads_at_once(server: _Server, network: Network) -> None:
    """Regression (review): one session for "the last loop" raced between loops."""
    import gc
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    server.handler = lambda r: Response(200, b"ok")
    client = AsyncSmpClient(network)
    gc.collect()  # what earlier tests left behind is not this test's

    def run_loop(worker: int) -> int:
        async def many() -> int:
            results = await asyncio.gather(
                *(client.fetch(f"{server.url}/{worker}/{i}") for i in range(20))
            )
            await client.aclose()
            return sum(r == b"ok" for r in results)

        return asyncio.run(many())

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(run_loop, range(2))) == [20, 20]

        async def once() -> bytes:
            try:
                return await client.fetch(server.url + "/again")
            finally:
                await client.aclose()  # closes this loop's session; the client stays usable

        assert [asyncio.run(once()) for _ in range(2)] == [b"ok", b"ok"]
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_per_host_limits_follow_the_event_loop(server: _Server, network: Network) -> None:
    """A semaphore belongs to the loop it first waited on: one client reused in a second
    asyncio.run failed every request that had to wait for its host. Each loop gets its own, and
    each still holds its host to ``per_host`` requests at once."""
    active: list[int] = [0]
    most: list[int] = []
    lock = threading.Lock()

    def slow(request: Request) -> Response:
        with lock:
            active[0] += 1
            most.append(active[0])
        try:
            threading.Event().wait(0.05)  # long enough for the others to queue
            return Response(200, b"ok")
        finally:
            with lock:
                active[0] -= 1

    server.handler = slow
    client = AsyncSmpClient(network, per_host=1)

    async def many() -> list[bytes]:
        try:
            return await asyncio.gather(*(client.fetch(f"{server.url}/{i}") for i in range(4)))
        finally:
            await client.aclose()

    for _ in range(2):
        most.clear()
        assert asyncio.run(many()) == [b"ok"] * 4
        assert max(most) == 1  # the limit held: the others waited on this loop's semaphore
