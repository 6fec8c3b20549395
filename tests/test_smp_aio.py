"""The async SMP client's own transport (aiohttp) over real HTTPS sockets on 127.0.0.1.

The sync client's behaviour is the contract (tests/test_smp_client.py); these tests hold the
async transport to it: the same answers and faults, the same limits, the URL sent byte for byte.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from peppolnet.destinations import LOOPBACK_ALLOWED
from peppolnet.errors import InvalidSmpDocument, SmpError, SmpNotFound, SmpUnavailable
from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
from peppolnet.network import Network
from peppolnet.sandbox.http import Faults, HttpServer, Request, Response
from peppolnet.sandbox.pki import TestPki
from peppolnet.smp.client import AsyncSmpClient
from peppolnet.smp.urls import service_metadata_url
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


async def test_status_codes_retries_and_headers(server: _Server, network: Network) -> None:
    async with AsyncSmpClient(network, retries=2, backoff=0.01) as client:
        server.handler = lambda r: Response(200, b"<ok/>")
        assert await client.fetch(server.url + "/x") == b"<ok/>"
        assert server.seen[-1].headers["user-agent"].startswith("peppolnet/")
        server.seen.clear()
        server.handler = lambda r: Response(404)
        with pytest.raises(SmpNotFound):
            await client.fetch(server.url + "/x")
        assert len(server.seen) == 1  # an answer: no retry
        server.seen.clear()
        server.handler = lambda r: Response(503)
        with pytest.raises(SmpUnavailable, match="503") as unavailable:
            await client.fetch(server.url + "/x")
        assert unavailable.value.retryable
        assert len(server.seen) == 3
        server.seen.clear()
        server.handler = lambda r: Response(302, b"", {"Location": server.url + "/elsewhere"})
        with pytest.raises(SmpError, match="302"):
            await client.fetch(server.url + "/x")
        assert [r.path for r in server.seen] == ["/x"]  # HTTP redirects are not followed


async def test_the_url_is_sent_exactly_as_built(server: _Server, network: Network) -> None:
    url = service_metadata_url(server.url, PID, BIS_BILLING_INVOICE)
    server.handler = lambda r: Response(200, b"<ok/>")
    async with AsyncSmpClient(network) as client:
        await client.fetch(url)
    # the percent-encoded identifiers (%3A, %23) reach the server unchanged
    assert server.url + server.seen[0].path == url
    assert "%3A%3A" in server.seen[0].path


@pytest.mark.parametrize("url", ["/a b", "/a\r\nX-Injected: 1", "/å"])
async def test_unsafe_urls_are_refused_before_sending(
    server: _Server, network: Network, url: str
) -> None:
    async with AsyncSmpClient(network) as client:
        with pytest.raises(SmpError, match="cannot be requested"):
            await client.fetch(server.url + url)
    assert server.seen == []


async def test_size_limit_declared_and_streamed(server: _Server, network: Network) -> None:
    server.handler = lambda r: Response(200, b"<a>" + b"x" * 5000 + b"</a>")
    async with AsyncSmpClient(network, max_bytes=1000) as client:
        with pytest.raises(InvalidSmpDocument, match="at most 1000"):
            await client.fetch(server.url + "/big")


async def test_a_body_without_length_is_cut_at_the_limit() -> None:
    """A chunked answer (no Content-Length) is counted as it streams and refused past the limit."""
    sent = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 4096
        try:
            for _ in range(64):  # 256 KiB if the client kept reading
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                sent += 1
        except ConnectionError:
            pass
        writer.close()

    plain = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = plain.sockets[0].getsockname()[1]
    net = Network(
        "plain", "sml.unit.test", (), (), None, require_https=False, destinations=LOOPBACK_ALLOWED
    )
    async with plain, AsyncSmpClient(net, max_bytes=10_000, retries=0) as client:
        with pytest.raises(InvalidSmpDocument, match="exceeds 10000"):
            await client.fetch(f"http://127.0.0.1:{port}/stream")


async def test_faults_are_unavailable_never_answers(server: _Server, network: Network) -> None:
    server.handler = lambda r: Response(200, b"<a>" + b"x" * 50_000 + b"</a>")
    async with AsyncSmpClient(network, retries=0) as client:
        for faults in (Faults(reset_share=1.0), Faults(truncate_share=1.0)):
            server.server.faults = faults
            with pytest.raises(SmpUnavailable) as caught:
                await client.fetch(server.url + "/fault")
            assert caught.value.retryable
        server.server.faults = Faults()
        assert (await client.fetch(server.url + "/fine")).startswith(b"<a>")


async def test_a_slow_smp_times_out(server: _Server, network: Network) -> None:
    def slow(request: Request) -> Response:
        time.sleep(6.0)
        return Response(200, b"<late/>")

    server.handler = slow
    async with AsyncSmpClient(network, timeout=0.5, retries=0) as client:
        started = time.perf_counter()
        with pytest.raises(SmpUnavailable, match="in time"):
            await client.fetch(server.url + "/slow")
    # the 0.5 s timeout ends it; waiting for the answer would take 6 s
    assert time.perf_counter() - started < 3


async def test_untrusted_tls_and_refused_connections(server: _Server, pki: TestPki) -> None:
    # the system CAs do not know the sandbox's TLS root: the handshake must fail, not pass
    strangers = Network(
        "system", "sml.unit.test", (pki.smp_ca,), (pki.ap_ca,), None, destinations=LOOPBACK_ALLOWED
    )
    async with AsyncSmpClient(strangers, retries=0) as client:
        with pytest.raises(SmpUnavailable, match="cannot connect"):
            await client.fetch(server.url + "/x")
        with pytest.raises(SmpUnavailable):
            await client.fetch("https://127.0.0.1:1/x")


async def test_per_host_limit_bounds_concurrency(server: _Server, network: Network) -> None:
    active = peak = 0
    lock = threading.Lock()

    def handler(request: Request) -> Response:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return Response(200, b"ok")

    server.handler = handler
    async with AsyncSmpClient(network, per_host=2) as client:
        await asyncio.gather(*(client.fetch(f"{server.url}/{i}") for i in range(8)))
    assert peak == 2


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


async def test_the_environments_proxy_is_used(
    server: _Server, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY is honoured (as httpx does) and NO_PROXY bypasses it."""
    tunnels: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        tunnels.append(head.split(b"\r\n", 1)[0])
        host, _, port = head.split()[1].decode().partition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))

    listener = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server.handler = lambda r: Response(200, b"ok")
    async with listener:
        async with AsyncSmpClient(network) as client:
            assert await client.fetch(server.url + "/via-proxy") == b"ok"
        assert len(tunnels) == 1
        assert tunnels[0].startswith(b"CONNECT 127.0.0.1:")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with AsyncSmpClient(network) as client:
            assert await client.fetch(server.url + "/direct") == b"ok"
        assert len(tunnels) == 1


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


async def test_ssl_cert_file_is_trusted_like_httpx_does(
    server: _Server, pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a TLS-inspecting proxy the company CA comes in SSL_CERT_FILE (review finding)."""
    from peppolnet import _tls

    system = Network(
        "system", "sml.unit.test", (pki.smp_ca,), (pki.ap_ca,), None, destinations=LOOPBACK_ALLOWED
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.tls_ca_pem_path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    _tls._context.cache_clear()
    server.handler = lambda r: Response(200, b"ok")
    async with AsyncSmpClient(system, retries=0) as client:
        assert await client.fetch(server.url + "/inspected") == b"ok"
    _tls._context.cache_clear()


def test_proxy_settings_are_read_like_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    import yarl

    from peppolnet.smp.aio import AioTransport

    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    def proxy_for(url: str) -> str | None:
        transport = AioTransport(ssl_context=False, timeout=1, connect_timeout=1,
                                 max_bytes=10, headers={})  # fmt: skip
        return transport._proxy(yarl.URL(url))

    assert proxy_for("https://smp.example/x") is None
    monkeypatch.setenv("ALL_PROXY", "proxy.example:3128")
    assert proxy_for("https://smp.example/x") == "http://proxy.example:3128"
    monkeypatch.setenv("ALL_PROXY", "socks5://proxy.example:1080")
    with pytest.raises(SmpError, match="not an HTTP"):
        proxy_for("https://smp.example/x")


def test_internationalised_hosts_are_sent_in_ascii() -> None:
    from peppolnet.smp.aio import _ascii_host

    assert _ascii_host("https://smp.exämple.test:8443/a%3Ab") == (
        "https://smp.xn--exmple-cua.test:8443/a%3Ab"
    )
    assert _ascii_host("https://smp.example/x") == "https://smp.example/x"
    with pytest.raises(SmpError, match="cannot be requested"):
        _ascii_host("https://smp.exämple.test:99999/x")
