"""benchmarks/_fast_front.py, the bench sandbox's HTTPS front, answers exactly as the sandbox's own
SMP service does: the benchmarks measure clients against it, so an answer that differed, or came
back out of order, would measure something else."""

from __future__ import annotations

import socket
import ssl
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from _benchmarks import bench_module
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.http import Request


@pytest.fixture(scope="module")
def front(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tls = sandbox.pki.issue_tls_certificate(("127.0.0.1",))
    folder = tmp_path_factory.mktemp("front")
    cert, key = folder / "tls.pem", folder / "tls.key"
    cert.write_bytes(tls.certificate_pem())
    key.write_bytes(tls.private_key_pem())
    served = bench_module("_fast_front").FastFront(dict(sandbox.services), (cert, key))
    served.start()
    yield served
    served.stop()


def _targets(sandbox: Sandbox, smp_id: str) -> list[str]:
    """The paths of an SMP's ServiceGroups and ServiceMetadata, as its service writes them."""
    service = sandbox.services[smp_id]
    base = urllib.parse.urlsplit(service.base_url).path
    paths = []
    for pid in service.participants[:3]:
        publication = service.publication(pid)
        assert publication is not None
        paths.append(f"{base}/{pid.url_segment()}")
        paths += [
            f"{base}/{pid.url_segment()}/services/{doc.url_segment()}"
            for doc in publication.participant.document_types[:1]
        ]
    return paths


def _own(sandbox: Sandbox, smp_id: str, method: str, path: str) -> Any:
    return sandbox.services[smp_id].handle(Request(method, path, {}, {}, b"", ("", 0)))


def _context(sandbox: Sandbox) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(sandbox.tls_ca_path))


def _exchange(sandbox: Sandbox, origin: str, raw: bytes) -> bytes:
    """Send ``raw`` on one new TLS connection and read until the server closes it."""
    url = urllib.parse.urlsplit(origin)
    assert url.hostname is not None
    plain = socket.create_connection((url.hostname, url.port or 443), timeout=30)
    with _context(sandbox).wrap_socket(plain, server_hostname=url.hostname) as tls:
        tls.sendall(raw)
        received = b""
        while chunk := tls.recv(65536):
            received += chunk
    return received


def test_answers_are_the_sandbox_services_own(sandbox: Sandbox, front: Any) -> None:
    smp_id = next(iter(sandbox.services))
    origin = front.origins[smp_id]
    with httpx.Client(verify=_context(sandbox)) as client:
        for path in _targets(sandbox, smp_id):
            own = _own(sandbox, smp_id, "GET", path)
            for _ in range(2):  # made once, then looked up: the same answer both times
                answer = client.get(origin + path)
                assert (answer.status_code, answer.content) == (own.status, own.body), path
                assert answer.headers["content-type"] == own.headers["Content-Type"]
            head = client.head(origin + path)
            assert head.content == b""
            assert int(head.headers["content-length"]) == len(own.body)
        missing = client.get(origin + "/iso6523-actorid-upis%3A%3A0088%3A0000000000000")
        assert missing.status_code == 404
    assert front.requests >= 10


def test_one_request_at_a_time_keeps_answers_in_order(sandbox: Sandbox, front: Any) -> None:
    """Two requests written at once, with latency injected: the answers come back in order, on
    the one connection, which closes after the request that asked for it."""
    smp_id = next(iter(sandbox.services))
    first, second = _targets(sandbox, smp_id)[:2]
    raw = (
        f"GET {first} HTTP/1.1\r\nHost: x\r\n\r\n"
        f"GET {second} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ).encode()
    front.latency = 0.05
    try:
        received = _exchange(sandbox, front.origins[smp_id], raw)
    finally:
        front.latency = 0.0
    one, two = (_own(sandbox, smp_id, "GET", path).body for path in (first, second))
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert 0 < received.index(one) < received.index(two)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b"405"),
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"GET / HTTP/1.0\r\n\r\n", b"404"),
    ],
)
def test_anything_else_is_answered_and_the_connection_closed(
    sandbox: Sandbox, front: Any, raw: bytes, status: bytes
) -> None:
    smp_id = next(iter(sandbox.services))
    received = _exchange(sandbox, front.origins[smp_id], raw)  # returns only once closed
    assert received.split(b" ")[1] == status
    assert received.count(b"HTTP/1.") == 1


def test_a_head_too_long_is_refused(sandbox: Sandbox, front: Any) -> None:
    smp_id = next(iter(sandbox.services))
    raw = b"GET / HTTP/1.1\r\nX: " + b"a" * (bench_module("_fast_front").MAX_HEAD + 10)
    received = _exchange(sandbox, front.origins[smp_id], raw)
    assert received.startswith(b"HTTP/1.1 400 ")
