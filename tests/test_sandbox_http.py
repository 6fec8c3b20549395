"""The sandbox HTTP server over real sockets: routing to the handler, keep-alive, TLS, faults."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from _tls import self_signed_tls
from peppolnet.errors import SandboxError
from peppolnet.sandbox.http import Faults, HttpServer, Request, Response


def echo(request: Request) -> Response:
    text = f"{request.method} {request.path} {sorted(request.query.items())} {request.body!r}"
    return Response(200, text.encode(), {"Content-Type": "text/plain", "X-Host": "h"})


def test_request_is_passed_raw_and_answered() -> None:
    with HttpServer(echo, name="t") as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=server.base_url) as client:
            r = client.get("/iso6523-actorid-upis%3A%3A0007%3A5560000001?q=a&q=b")
            assert r.status_code == 200
            assert r.text.startswith("GET /iso6523-actorid-upis%3A%3A0007%3A5560000001 ")
            assert "('q', ['a', 'b'])" in r.text
            assert r.headers["x-host"] == "h"
            r2 = client.post("/x", content=b"payload")
            assert r2.text.endswith("b'payload'")
        assert server.requests == 2


def test_keep_alive_reuses_one_connection() -> None:
    seen: set[tuple[str, int]] = set()

    def handler(request: Request) -> Response:
        seen.add(request.client)
        return Response(200, b"ok")

    with HttpServer(handler, name="t") as server, httpx.Client() as client:
        for _ in range(5):
            assert client.get(server.base_url + "/").text == "ok"
    assert len(seen) == 1


def test_latency_does_not_serialise_requests() -> None:
    with HttpServer(echo, faults=Faults(latency=1.0), name="slow") as server:
        results: list[int] = []

        def get() -> None:
            results.append(httpx.get(server.base_url + "/a").status_code)

        started = time.monotonic()
        threads = [threading.Thread(target=get) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    assert results == [200] * 4
    # each answer waits 1 s: serialised, four take >= 4 s; overlapping, one delay plus overhead
    assert 1.0 <= elapsed < 4 * 1.0 / 2


def test_error_share_gives_5xx() -> None:
    with HttpServer(echo, faults=Faults(error_share=1.0, seed=1), name="e") as server:
        codes = {httpx.get(server.base_url + "/").status_code for _ in range(10)}
    assert codes <= {500, 503}
    assert codes


def test_partial_error_share_is_a_share() -> None:
    with HttpServer(echo, faults=Faults(error_share=0.5, seed=7), name="e") as server:
        codes = [httpx.get(server.base_url + "/").status_code for _ in range(60)]
    errors = sum(1 for c in codes if c >= 500)
    assert 10 < errors < 50


def test_reset_closes_without_answer() -> None:
    with HttpServer(echo, faults=Faults(reset_share=1.0), name="r") as server:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            httpx.get(server.base_url + "/")
        assert server.requests == 1


def test_truncated_body_is_detected_by_client() -> None:
    def big(request: Request) -> Response:
        return Response(200, b"x" * 1000)

    with (
        HttpServer(big, faults=Faults(truncate_share=1.0), name="tr") as server,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        httpx.get(server.base_url + "/")


def test_timeout_share_hangs_until_client_gives_up_and_stop_is_fast() -> None:
    server = HttpServer(echo, faults=Faults(timeout_share=1.0), name="hang").start()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.base_url + "/", timeout=0.3)
    server.faults = Faults()
    assert httpx.get(server.base_url + "/").status_code == 200
    url = server.base_url + "/"
    server.stop()  # returns although a handler was left hanging above
    with pytest.raises(httpx.ConnectError):  # stopped means the port no longer answers
        httpx.get(url, timeout=2.0)


def test_handler_exception_is_a_500() -> None:
    def broken(request: Request) -> Response:
        raise KeyError("boom")

    with HttpServer(broken, name="b") as server:
        assert httpx.get(server.base_url + "/").status_code == 500


def test_port_in_use_is_a_sandbox_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(SandboxError, match="cannot listen"):
            HttpServer(echo, port=port, name="dup").start()


def test_bad_fault_share_is_rejected() -> None:
    with pytest.raises(SandboxError, match="error_share"):
        Faults(error_share=1.5)
    with pytest.raises(SandboxError, match="trickle_body_share"):
        Faults(trickle_body_share=-0.1)
    with pytest.raises(SandboxError, match="trickle interval"):
        Faults(trickle_interval=0.0)


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_trickle_sends_one_byte_at_a_time(part: str) -> None:
    """Every read gets a byte: per-read timeouts never fire, which is the point of the fault."""
    faults = Faults(**{f"trickle_{part}_share": 1.0}, trickle_interval=0.02)
    with HttpServer(echo, faults=faults, name="slow") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
            sock.sendall(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            received: list[bytes] = []
            while chunk := sock.recv(65536):
                received.append(chunk)
        answer = b"".join(received)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"GET /x [] b''")
    head, _, _ = answer.partition(b"\r\n\r\n")
    slow = head if part == "headers" else answer[len(head) :]
    assert len(received) >= len(slow) // 4  # byte by byte (a busy reader may catch a few)


def test_trickles_can_be_set_in_the_network_file() -> None:
    from peppolnet.sandbox.config import parse_config

    text = """
[[operators]]
id = "a"
name = "A AB"
seat_id = "PSE000001"
country = "SE"
smp = "a-smp"
ap_url = "https://ap.a.test/as4"

[[smps]]
id = "a-smp"
operator = "a"
[smps.faults]
trickle_body_share = 0.5
trickle_interval = 2.5
"""
    faults = parse_config(text).smp("a-smp").faults
    assert (faults.trickle_body_share, faults.trickle_interval) == (0.5, 2.5)
    assert faults.trickle_headers_share == 0.0
    with pytest.raises(SandboxError, match="trickle"):
        parse_config(text.replace("2.5", "0"))


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    made = self_signed_tls(tmp)
    return made.cert_path, made.key_path


def test_tls_serves_https_and_survives_a_silent_client(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with HttpServer(echo, tls=(cert, key), name="tls") as server:
        assert server.base_url.startswith("https://")
        # a client that connects and never handshakes must not block others
        with socket.create_connection(("127.0.0.1", server.port)):
            r = httpx.get(
                server.base_url + "/x",
                verify=ssl.create_default_context(cafile=str(cert)),
                timeout=2,
            )
        assert r.status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.base_url + "/x", timeout=2)  # default trust store: untrusted
