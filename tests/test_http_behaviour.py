"""Every HTTP behaviour, on both paths: sync (httpx on httpcore) and async (httpx on aiohttp).

The two paths drifted while they were written twice (``Content-Encoding: gzip, gzip`` was refused
by one and decoded by the other); now the limits, decoding, proxies, trust, deadlines, destination
policy and error mapping are written once in :mod:`peppolnet._http`, and each test here runs on
both paths - through the SMP client, whose sync and async twins share one flow, or through the
layer itself - against real servers on 127.0.0.1. A behaviour that only one path has is a bug.

Timing assertions have only lower bounds and the wide upper bound of a trickle that would last
``HANG_SECONDS`` (30 s) if it were not cut: a busy machine can make things slower, never faster.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import socketserver
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from hypothesis import given
from hypothesis import strategies as st

from peppolnet import _http, _tls
from peppolnet.businesscard import fetch_business_card, fetch_business_card_async
from peppolnet.destinations import LOOPBACK_ALLOWED, PUBLIC_ONLY, DestinationPolicy
from peppolnet.directory import AsyncDirectoryClient, DirectoryClient
from peppolnet.errors import (
    DestinationRefused,
    DirectoryError,
    InvalidSmpDocument,
    PeppolnetError,
    SmpError,
    SmpNotFound,
    SmpUnavailable,
)
from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
from peppolnet.network import Network
from peppolnet.sandbox.http import HANG_SECONDS, Faults, HttpServer, Request, Response
from peppolnet.sandbox.pki import TestPki
from peppolnet.smp.client import AsyncSmpClient, SmpClient
from peppolnet.smp.urls import service_metadata_url
from peppolnet.xmldsig import SignaturePolicy

PID = ParticipantId.parse("0007:5567321707")
XML = b"<a>" + b"x" * 5000 + b"</a>"
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


def gzip_of_zeros(megabytes: int) -> bytes:
    """gzip of that many MB of zeros, built without ever holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    block = bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()


BOMB = gzip_of_zeros(200)  # ~200 KB on the wire, 200 MB inside


# --- the two paths ---------------------------------------------------------------------------


@pytest.fixture(params=["sync", "async"])
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def smp_fetch(path: str, network: Network, url: str, **options: Any) -> bytes:
    """``fetch`` of a new SMP client of ``path`` (options as the clients take them)."""
    if path == "sync":
        with SmpClient(network, **options) as client:
            return client.fetch(url)

    async def fetch() -> bytes:
        async with AsyncSmpClient(network, **options) as client:
            return await client.fetch(url)

    return asyncio.run(fetch())


def smp_error(path: str, network: Network, url: str, **options: Any) -> PeppolnetError:
    """The error ``smp_fetch`` raises (it must raise one)."""
    with pytest.raises(PeppolnetError) as caught:
        smp_fetch(path, network, url, **options)
    return caught.value


def layer_fetch(
    path: str,
    requests: list[_http.Fetch],
    *,
    policies: list[DestinationPolicy | None] | None = None,
) -> list[_http.Answer | Exception]:
    """Each request through peppolnet's own client of ``path`` (one client, kept-alive
    connections), each inside a scope with its policy; what each gave."""
    policies = policies or [None] * len(requests)
    results: list[_http.Answer | Exception] = []
    if path == "sync":
        with _http.client(False, timeout=5.0) as client:
            for request, policy in zip(requests, policies, strict=True):
                try:
                    with _http.scope(seconds=5.0, destinations=policy):
                        results.append(_http.fetch(client, request))
                except Exception as exc:
                    results.append(exc)
        return results

    async def run() -> None:
        async with _http.async_client(False, timeout=5.0) as client:
            for request, policy in zip(requests, policies, strict=True):
                try:
                    with _http.scope(seconds=5.0, destinations=policy):
                        results.append(await _http.afetch(client, request))
                except Exception as exc:
                    results.append(exc)

    asyncio.run(run())
    return results


# --- servers and networks ----------------------------------------------------------------------


class _Server:
    """A sandbox HTTP(S) server whose answer the test sets; records every request."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.handler: Callable[[Request], Response] = lambda r: Response(404)
        self.seen: list[Request] = []
        self._lock = threading.Lock()
        self.server = HttpServer(self._handle, tls=tls, name="behaviour")

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.seen.append(request)
        return self.handler(request)

    def answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        named = {name.replace("_", "-"): value for name, value in headers.items()}
        self.handler = lambda r: Response(status, body, named)

    @property
    def url(self) -> str:
        return self.server.base_url


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.generate(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_files(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    cert = pki.issue_tls_certificate(("127.0.0.1", "localhost"))
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.certificate.public_bytes(Encoding.PEM))
    key_path.write_bytes(
        cert.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def plain() -> Iterator[_Server]:
    srv = _Server()
    srv.server.start()
    yield srv
    srv.server.stop()


@pytest.fixture
def tls(tls_files: tuple[Path, Path]) -> Iterator[_Server]:
    srv = _Server(tls_files)
    srv.server.start()
    yield srv
    srv.server.stop()


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


PLAIN = Network(
    "plain", "sml.unit.test", (), (), None, require_https=False, destinations=LOOPBACK_ALLOWED
)


def tls_network(pki: TestPki, tls_verify: str | bool | None = None) -> Network:
    verify = str(pki.tls_ca_pem_path) if tls_verify is None else tls_verify
    return Network(
        "unit", "sml.unit.test", (pki.smp_ca,), (pki.ap_ca,), None, SignaturePolicy.strict(),
        tls_verify=verify, destinations=LOOPBACK_ALLOWED,
    )  # fmt: skip


class _RawServer:
    """A TCP server on 127.0.0.1 that answers each connection with ``respond(socket)``."""

    def __init__(self, respond: Callable[[socket.socket], None]) -> None:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in head and (data := self.request.recv(4096)):
                        head += data
                    respond(self.request)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _ConnectProxy:
    """A tiny HTTP CONNECT proxy on 127.0.0.1 (one thread per tunnel) that counts its tunnels."""

    def __init__(self) -> None:
        tunnels: list[bytes] = []
        self.tunnels = tunnels

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    byte = self.rfile.read(1)
                    if not byte:
                        return
                    head += byte
                tunnels.append(head.split(b"\r\n", 1)[0])
                host, _, port = head.split()[1].decode().partition(":")
                upstream = socket.create_connection((host, int(port)))
                self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pump = threading.Thread(target=_pump, args=(upstream, self.connection))
                pump.start()
                _pump(self.connection, upstream)
                pump.join()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


# --- decoding and size limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "wire"),
    [("gzip", gzip.compress(XML)), ("deflate", zlib.compress(XML)), ("identity", XML)],
)
def test_what_is_asked_for_is_decoded(
    path: str, plain: _Server, encoding: str, wire: bytes
) -> None:
    plain.answer(200, wire, Content_Encoding=encoding)
    assert smp_fetch(path, PLAIN, plain.url + "/x") == XML
    assert plain.seen[0].headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("encoding", ["gzip, gzip", "br", "zstd", "gzip, br", "compress"])
def test_stacked_or_unasked_encodings_are_refused(path: str, plain: _Server, encoding: str) -> None:
    """The drift this module was written for: aiohttp decoded one layer of ``gzip, gzip`` and
    handed gzip bytes on; now both paths refuse it, as an answer that cannot be read (not a
    fault to retry)."""
    plain.answer(200, gzip.compress(gzip.compress(XML)), Content_Encoding=encoding)
    error = smp_error(path, PLAIN, plain.url + "/x", retries=2, backoff=0.01)
    assert isinstance(error, SmpError)
    assert "cannot be read" in str(error)
    assert not error.retryable
    assert len(plain.seen) == 1


def test_a_compression_bomb_costs_at_most_the_limit(path: str, plain: _Server) -> None:
    plain.answer(200, BOMB, Content_Encoding="gzip")
    tracemalloc.start()
    try:
        error = smp_error(path, PLAIN, plain.url + "/bomb", retries=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(error, InvalidSmpDocument)
    assert "exceeds" in str(error)
    assert peak < 20_000_000  # 200 MB inside; the limit is 1 MB


def test_a_declared_length_over_the_limit_is_not_read(path: str, plain: _Server) -> None:
    plain.answer(200, XML)
    error = smp_error(path, PLAIN, plain.url + "/big", max_bytes=1000)
    assert isinstance(error, InvalidSmpDocument)
    assert "at most 1000" in str(error)


def test_a_body_without_length_is_cut_at_the_limit(path: str) -> None:
    """A chunked answer (no Content-Length) is counted as it streams and refused past the
    limit; the client stops reading (the server could not send all 256 KiB into it)."""
    sent = []

    def chunked(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 4096
        for _ in range(64):
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent.append(len(chunk))
        conn.sendall(b"0\r\n\r\n")

    server = _RawServer(chunked)
    try:
        error = smp_error(path, PLAIN, server.url + "/stream", max_bytes=10_000, retries=0)
    finally:
        server.close()
    assert isinstance(error, InvalidSmpDocument)
    assert "exceeds 10000" in str(error)


def test_every_client_refuses_stacked_encodings(path: str, plain: _Server) -> None:
    """The Directory and business-card clients read through the same layer."""
    plain.answer(200, gzip.compress(gzip.compress(b"{}")), Content_Encoding="gzip, gzip")
    if path == "sync":
        with (
            DirectoryClient(plain.url, rate_limit=None) as directory,
            pytest.raises(DirectoryError, match="only one layer"),
        ):
            directory.search("acme")
        with pytest.raises(SmpUnavailable, match="only one layer"):
            fetch_business_card(plain.url, PID, destinations=LOOPBACK_ALLOWED)
        return

    async def run() -> None:
        async with AsyncDirectoryClient(plain.url, rate_limit=None) as directory:
            with pytest.raises(DirectoryError, match="only one layer"):
                await directory.search("acme")
        with pytest.raises(SmpUnavailable, match="only one layer"):
            await fetch_business_card_async(plain.url, PID, destinations=LOOPBACK_ALLOWED)

    asyncio.run(run())


# --- answers, faults, retries, redirects -------------------------------------------------------


def test_status_codes_map_to_answers_and_faults(path: str, tls: _Server, pki: TestPki) -> None:
    network, url = tls_network(pki), tls.url + "/x"
    tls.answer(200, b"<ok/>")
    assert smp_fetch(path, network, url) == b"<ok/>"
    assert tls.seen[-1].headers["user-agent"].startswith("peppolnet/")
    tls.seen.clear()
    tls.answer(404)
    assert isinstance(smp_error(path, network, url, retries=2, backoff=0.01), SmpNotFound)
    assert len(tls.seen) == 1  # an answer: never retried
    tls.seen.clear()
    tls.answer(503)
    error = smp_error(path, network, url, retries=2, backoff=0.01)
    assert isinstance(error, SmpUnavailable)
    assert error.retryable
    assert len(tls.seen) == 3
    tls.seen.clear()
    tls.answer(403)
    error = smp_error(path, network, url, retries=2, backoff=0.01)
    assert type(error) is SmpError
    assert not error.retryable
    assert len(tls.seen) == 1


def test_redirects_are_never_followed(path: str, tls: _Server, pki: TestPki) -> None:
    """Not by our clients, and not by a client of the caller's that would follow them."""
    tls.answer(302, Location=tls.url + "/elsewhere")
    error = smp_error(path, tls_network(pki), tls.url + "/x")
    assert isinstance(error, SmpError)
    assert "302" in str(error)
    verify = ssl.create_default_context(cafile=str(pki.tls_ca_pem_path))
    if path == "sync":
        with httpx.Client(verify=verify, follow_redirects=True) as mine:
            smp_error(path, tls_network(pki), tls.url + "/x", client=mine)
    else:

        async def theirs() -> None:
            async with httpx.AsyncClient(verify=verify, follow_redirects=True) as mine:
                with pytest.raises(SmpError, match="302"):
                    async with AsyncSmpClient(tls_network(pki), client=mine) as client:
                        await client.fetch(tls.url + "/x")
                assert not mine.is_closed  # the caller's client stays the caller's

        asyncio.run(theirs())
    assert [r.path for r in tls.seen] == ["/x", "/x"]


@pytest.mark.parametrize("fault", ["reset", "truncate"])
def test_broken_connections_are_retryable_faults(path: str, plain: _Server, fault: str) -> None:
    plain.answer(200, b"<a>" + b"x" * 50_000 + b"</a>")
    plain.server.faults = Faults(**{f"{fault}_share": 1.0})
    error = smp_error(path, PLAIN, plain.url + "/fault", retries=0)
    assert isinstance(error, SmpUnavailable)
    assert error.retryable


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_trickle_cannot_hold_a_request(path: str, plain: _Server, part: str) -> None:
    """A byte every 0.2 s keeps every read alive; the request's whole deadline ends it."""
    plain.answer(200, XML)
    plain.server.faults = Faults(**{f"trickle_{part}_share": 1.0}, trickle_interval=0.2)
    started = time.monotonic()
    error = smp_error(path, PLAIN, plain.url + "/slow", timeout=1.0, retries=0)
    took = time.monotonic() - started
    assert isinstance(error, SmpUnavailable)
    assert "did not answer in time" in str(error)
    assert 0.9 <= took < HANG_SECONDS


def test_connection_refused_and_untrusted_tls_cannot_connect(
    path: str, tls: _Server, pki: TestPki, no_proxies: pytest.MonkeyPatch
) -> None:
    no_proxies.delenv("SSL_CERT_FILE", raising=False)
    no_proxies.delenv("SSL_CERT_DIR", raising=False)
    # the system CAs do not know the sandbox's TLS root: the handshake must fail, not pass
    error = smp_error(path, tls_network(pki, True), tls.url + "/x", retries=0)
    assert isinstance(error, SmpUnavailable)
    assert "cannot connect" in str(error)
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    error = smp_error(path, tls_network(pki), f"https://127.0.0.1:{port}/x", retries=0)
    assert isinstance(error, SmpUnavailable)
    assert "cannot connect" in str(error)
    assert tls.seen == []


# --- URLs, hosts, proxies, trust -------------------------------------------------------------


def test_the_async_path_runs_on_uvloop(tls: _Server, pki: TestPki) -> None:
    """uvicorn serves the support page on uvloop's loop when uvloop is installed, and the
    page's lookups run there: its transports have asyncio's methods without being its classes
    (the async transport's own connections once refused them), TLS included."""
    import uvloop

    tls.answer(200, b"<ok/>")

    async def fetch_twice() -> list[bytes]:
        async with AsyncSmpClient(tls_network(pki)) as client:
            return [await client.fetch(tls.url + "/a"), await client.fetch(tls.url + "/b")]

    assert uvloop.run(fetch_twice()) == [b"<ok/>", b"<ok/>"]
    assert [r.path for r in tls.seen] == ["/a", "/b"]


def test_the_url_is_sent_exactly_as_built(path: str, tls: _Server, pki: TestPki) -> None:
    url = service_metadata_url(tls.url, PID, BIS_BILLING_INVOICE)
    tls.answer(200, b"<ok/>")
    smp_fetch(path, tls_network(pki), url)
    # the percent-encoded identifiers (%3A, %23) reach the server unchanged
    assert tls.url + tls.seen[0].path == url
    assert "%3A%3A" in tls.seen[0].path


def test_unsafe_urls_are_encoded_or_refused_alike(path: str, plain: _Server) -> None:
    """httpx's reading of a URL decides on both paths: a space or a non-ASCII letter is sent
    percent-encoded, a control character (a header injection) refused before anything is sent."""
    plain.answer(200, b"ok")
    assert smp_fetch(path, PLAIN, plain.url + "/a b") == b"ok"
    assert smp_fetch(path, PLAIN, plain.url + "/å") == b"ok"
    assert [r.path for r in plain.seen] == ["/a%20b", "/%C3%A5"]
    error = smp_error(path, PLAIN, plain.url + "/a\r\nX-Injected: 1")
    assert type(error) is SmpError
    assert "cannot be requested" in str(error)
    assert len(plain.seen) == 2


def test_internationalised_hosts_are_sent_in_ascii(
    path: str, plain: _Server, no_proxies: pytest.MonkeyPatch
) -> None:
    """Through a plain HTTP proxy the request line carries the host as the client encoded it
    (IDNA 2008 / UTS 46, as httpx encodes it on both paths); no DNS name is needed."""
    no_proxies.setenv("HTTP_PROXY", plain.url)
    plain.answer(200, b"ok")
    assert smp_fetch(path, PLAIN, "http://smp.exämple.test:8080/a%3Ab") == b"ok"
    assert plain.seen[0].path == "http://smp.xn--exmple-cua.test:8080/a%3Ab"
    assert plain.seen[0].headers["host"] == "smp.xn--exmple-cua.test:8080"
    error = smp_error(path, PLAIN, "https://smp.exämple.test:99999/x")
    assert type(error) is SmpError
    assert "cannot be requested" in str(error)


def test_the_environments_proxy_and_no_proxy(
    path: str, tls: _Server, pki: TestPki, no_proxies: pytest.MonkeyPatch
) -> None:
    proxy = _ConnectProxy()
    tls.answer(200, b"ok")
    try:
        no_proxies.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        assert smp_fetch(path, tls_network(pki), tls.url + "/via-proxy") == b"ok"
        assert len(proxy.tunnels) == 1
        assert proxy.tunnels[0].startswith(b"CONNECT 127.0.0.1:")
        no_proxies.setenv("NO_PROXY", "127.0.0.1")
        assert smp_fetch(path, tls_network(pki), tls.url + "/direct") == b"ok"
        assert len(proxy.tunnels) == 1
        no_proxies.delenv("NO_PROXY")
        no_proxies.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
        error = smp_error(path, tls_network(pki), tls.url + "/socks")
        assert type(error) is SmpError
        assert "not an HTTP(S) proxy" in str(error)
    finally:
        proxy.close()
    assert [r.path for r in tls.seen] == ["/via-proxy", "/direct"]


def test_ssl_cert_file_is_trusted(
    path: str, tls: _Server, pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a TLS-inspecting proxy the company CA comes in SSL_CERT_FILE (review finding)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.tls_ca_pem_path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    _tls._context.cache_clear()
    tls.answer(200, b"ok")
    try:
        assert smp_fetch(path, tls_network(pki, True), tls.url + "/inspected") == b"ok"
    finally:
        _tls._context.cache_clear()


# --- the destination policy at the socket ------------------------------------------------------


def test_the_transport_checks_the_address_it_connects_to(path: str, plain: _Server) -> None:
    """The URL check cannot see what a name resolves to; the transports can. A name resolving
    to loopback and a loopback literal are refused under the public policy before anything is
    sent, and a connection kept alive under a wider policy does not serve a narrower one."""
    plain.answer(200, b"ok")
    by_name = _http.Fetch(plain.url.replace("127.0.0.1", "localhost") + "/n", 100)
    literal = _http.Fetch(plain.url + "/l", 100)
    results = layer_fetch(
        path,
        [by_name, literal, literal, literal],
        policies=[PUBLIC_ONLY, PUBLIC_ONLY, LOOPBACK_ALLOWED, PUBLIC_ONLY],
    )
    assert isinstance(results[0], DestinationRefused)
    assert "localhost resolves to 127.0.0.1" in str(results[0])
    assert isinstance(results[1], DestinationRefused)
    assert "loopback" in str(results[1])
    assert isinstance(results[2], _http.Answer)
    assert results[2].body == b"ok"
    assert isinstance(results[3], DestinationRefused)
    assert [r.path for r in plain.seen] == ["/l"]


def test_the_layer_maps_every_failure_to_one_fault(path: str, plain: _Server) -> None:
    """Whatever the transport, a failure is one HttpFault whose kind the clients read."""
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    plain.answer(200, gzip.compress(XML), Content_Encoding="br")
    results = layer_fetch(
        path,
        [
            _http.Fetch(f"http://127.0.0.1:{port}/", 100),
            _http.Fetch(plain.url + "/coded", 10_000),
            _http.Fetch(plain.url + "/coded", 10_000, decode=False),
            _http.Fetch("ftp://127.0.0.1/x", 100),
        ],
    )
    kinds = [r.kind if isinstance(r, _http.HttpFault) else r for r in results]
    assert kinds == ["connect", "unreadable", "unreadable", "url"]
    assert "Content-Encoding" in str(results[2])


def test_the_per_host_limit_bounds_concurrency(path: str, plain: _Server) -> None:
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

    plain.handler = handler
    urls = [f"{plain.url}/{i}" for i in range(8)]
    if path == "sync":
        from concurrent.futures import ThreadPoolExecutor

        with SmpClient(PLAIN, per_host=2) as client, ThreadPoolExecutor(8) as pool:
            list(pool.map(client.fetch, urls))
    else:

        async def run() -> None:
            async with AsyncSmpClient(PLAIN, per_host=2) as client:
                await asyncio.gather(*(client.fetch(url) for url in urls))

        asyncio.run(run())
    assert peak == 2


# --- URLs built directly are exactly httpx's ---------------------------------------------------

_HOSTS = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}\.){0,3}[a-z]{2,4}", fullmatch=True),
    st.tuples(*[st.integers(0, 300)] * 4).map(lambda t: ".".join(map(str, t))),
    st.sampled_from(["SMP.Example.org", "xn--exmple-cua.test", "127.1", "[::1]"]),
)
_SEGMENT = st.text(alphabet="abcXYZ019-._~!$&'()*+,;=:@%2AFg /?#[]{}`\"\x7f", max_size=12)


@given(
    scheme=st.sampled_from(["http", "https", "HTTPS"]),
    host=_HOSTS,
    port=st.one_of(st.none(), st.sampled_from([80, 443, 8080, 0, 65535, 65536, 99999])),
    segments=st.lists(_SEGMENT, max_size=4),
    query=st.one_of(st.none(), _SEGMENT),
)
def test_a_url_built_directly_is_the_one_httpx_parses(
    scheme: str, host: str, port: int | None, segments: list[str], query: str | None
) -> None:
    """:func:`peppolnet._http.url_of` skips httpx's character-by-character parse for URLs already
    in httpx's normal form (the cost of an SMP GET); for every URL it must give what httpx gives
    - the same value, or the same refusal."""
    text = f"{scheme}://{host}{'' if port is None else f':{port}'}/" + "/".join(segments)
    if query is not None:
        text += "?" + query
    try:
        expected = httpx.URL(text)
    except httpx.InvalidURL:
        with pytest.raises(httpx.InvalidURL):
            _http.url_of(text)
        return
    built = _http.url_of(text)
    assert (str(built), built.raw_path, built.host, built.port, built.scheme) == (
        str(expected), expected.raw_path, expected.host, expected.port, expected.scheme,
    )  # fmt: skip
    assert built == expected


def test_smp_urls_are_built_directly() -> None:
    """The fast path is on with this httpx (it is checked at first use) and SMP URLs take it."""
    url = service_metadata_url("https://smp.example.org", PID, BIS_BILLING_INVOICE)
    assert _http.url_of(url) == httpx.URL(url)
    assert _http._direct == [_http._exact_builder()]
    assert _http._direct[0] is not None
    match = _http._NORMAL.fullmatch(url)
    assert match is not None


@given(
    host=_HOSTS,
    port=st.one_of(st.none(), st.sampled_from([80, 443, 8080, 65535])),
    path=st.lists(_SEGMENT, max_size=3).map("/".join),
    decode=st.booleans(),
    asynchronous=st.booleans(),
)
def test_a_get_is_the_request_httpx_builds(
    host: str, port: int | None, path: str, decode: bool, asynchronous: bool
) -> None:
    """A plain GET is built without httpx's body encoding and header merging: it must be the
    request httpx would build - method, URL, the same headers in the same order, an empty body
    already read - on our sync and async clients alike."""
    text = f"https://{host}{'' if port is None else f':{port}'}/{path}"
    try:
        httpx.URL(text)
    except httpx.InvalidURL:
        return
    made = _http.async_client if asynchronous else _http.client
    client = made(ssl.create_default_context(), timeout=5.0, headers={"User-Agent": "t"})
    fetch = _http.Fetch(text, 1000, decode=decode)
    with _http.scope(seconds=5.0):
        built = _http._request(client, fetch)
        expected = httpx.Request(
            "GET", _http._url(fetch), headers=client.own_headers(fetch), json=None
        )
    assert (built.method, built.url) == (expected.method, expected.url)
    assert built.headers.raw == expected.headers.raw
    assert built.content == expected.content == b""
    assert list(built.stream) == list(expected.stream)  # type: ignore[arg-type]
    assert set(built.extensions) == {"timeout"}


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(
    "request_",
    [
        _http.Fetch("https://smp.example.org:8443/a%3A%3Ab?q=1", 100),
        _http.Fetch("http://smp.example.org/x", 100, decode=False),
        _http.Fetch("https://smp.example.org/x", 100, headers={"Accept": "text/xml"}),
        _http.Fetch("https://smp.example.org/x", 100, headers={"host": "other.example"}),
        _http.Fetch("https://smp.example.org/x", 100, method="POST", json={"a": 1}),
    ],
    ids=["get", "identity", "own header", "own host", "post"],
)
def test_our_clients_build_the_request_httpx_builds(kind: str, request_: _http.Fetch) -> None:
    """A GET of our own clients is built without httpx.Request()'s header work (its cost per
    lookup); it must be the request httpx builds: the same headers in the same order (Host
    first), no body - twice, the second from the headers kept per host."""
    options: dict[str, Any] = {"timeout": 5.0, "headers": {"User-Agent": "peppolnet-test"}}
    made = (
        _http.client(False, **options) if kind == "sync" else _http.async_client(False, **options)
    )
    for _ in range(2):
        built = _http._request(made, request_)
        expected = httpx.Request(
            request_.method,
            httpx.URL(request_.url),
            headers=made.own_headers(request_),  # type: ignore[union-attr]
            json=request_.json,
        )
        assert built.headers.raw == expected.headers.raw
        assert (built.method, built.url, built.content) == (
            expected.method, expected.url, expected.content,
        )  # fmt: skip
    if kind == "sync":
        assert isinstance(made, httpx.Client)
        made.close()
