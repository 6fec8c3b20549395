"""The sync transport's own HTTP/1.1 exchanges (:mod:`peppolnet._http11`) against a raw server on
127.0.0.1 that says exactly the bytes a test gives: kept-alive connections, each framing of a
body, and every malformed answer a broken or hostile server can send - always an ``HttpFault``
of kind ``broken``, never a traceback, never a connection used again after it."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator

import httpcore
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peppolnet import _http
from peppolnet._http11 import MAX_HEAD, MAX_HEADERS, MAX_INTERIM, _parse_head

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class _Scripted:
    """A TCP server that reads each request's head and answers with ``script(n)`` - the bytes
    of the ``n``-th request's answer (counted over all connections) and whether to close the
    connection after it. Counts the connections it accepted."""

    def __init__(self, script: Callable[[int], tuple[bytes, bool]]) -> None:
        lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with lock:
                    outer.connections += 1
                buffer = b""
                with contextlib.suppress(OSError):
                    while True:
                        while b"\r\n\r\n" not in buffer:
                            data = self.request.recv(4096)
                            if not data:
                                return
                            buffer += data
                        buffer = buffer.split(b"\r\n\r\n", 1)[1]
                        with lock:
                            number = outer.requests
                            outer.requests += 1
                        answer, close = script(number)
                        self.request.sendall(answer)
                        if close:
                            self.request.shutdown(socket.SHUT_RDWR)
                            return

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[int], tuple[bytes, bool]]], _Scripted]]:
    made: list[_Scripted] = []

    def make(script: Callable[[int], tuple[bytes, bool]]) -> _Scripted:
        made.append(_Scripted(script))
        return made[-1]

    yield make
    for server in made:
        server.close()


def fetch_all(url: str, count: int) -> list[_http.Answer | _http.HttpFault]:
    """``count`` GETs of ``url`` through one of peppolnet's sync clients (kept-alive)."""
    results: list[_http.Answer | _http.HttpFault] = []
    with _http.client(False, timeout=5.0) as client:
        for _ in range(count):
            try:
                with _http.scope(seconds=5.0):
                    results.append(_http.fetch(client, _http.Fetch(url, 1 << 20, decode=False)))
            except _http.HttpFault as fault:
                results.append(fault)
    return results


def bodies(results: list[_http.Answer | _http.HttpFault]) -> list[bytes]:
    assert all(isinstance(r, _http.Answer) for r in results), results
    return [r.body for r in results if isinstance(r, _http.Answer)]


def test_a_kept_alive_connection_carries_every_request(scripted) -> None:  # type: ignore[no-untyped-def]
    server = scripted(lambda n: (OK, False))
    assert bodies(fetch_all(server.url, 4)) == [b"hello"] * 4
    assert server.connections == 1


def test_a_chunked_body_with_extensions_and_trailers(scripted) -> None:  # type: ignore[no-untyped-def]
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    server = scripted(lambda n: (chunked, False))
    assert bodies(fetch_all(server.url, 2)) == [b"hello world"] * 2
    assert server.connections == 1


def test_interim_answers_and_bodiless_statuses(scripted) -> None:  # type: ignore[no-untyped-def]
    answers = [
        b"HTTP/1.1 100 Continue\r\n\r\n" + OK,
        b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",  # 204 has no body whatever
        OK,
    ]
    server = scripted(lambda n: (answers[n], False))
    results = fetch_all(server.url, 3)
    assert [r.status for r in results if isinstance(r, _http.Answer)] == [200, 204, 200]
    assert bodies(results) == [b"hello", b"", b"hello"]
    assert server.connections == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\n\r\nhello",  # no framing: the body ends with the connection
    ],
)
def test_a_connection_the_server_ends_is_not_used_again(scripted, answer: bytes) -> None:  # type: ignore[no-untyped-def]
    server = scripted(lambda n: (answer, True))
    assert bodies(fetch_all(server.url, 3)) == [b"hello"] * 3
    assert server.connections == 3


def test_a_server_that_closes_an_idle_connection_silently(scripted) -> None:  # type: ignore[no-untyped-def]
    """Framed, no ``Connection: close``, but the server hangs up after answering: the closed
    idle connection is seen before the next request and a new one is opened."""
    server = scripted(lambda n: (OK, True))
    with _http.client(False, timeout=5.0) as client:
        for _ in range(3):
            with _http.scope(seconds=5.0):
                assert _http.fetch(client, _http.Fetch(server.url, 100)).body == b"hello"
            # the server's FIN must be in before the next request looks at the connection
            for _attempt in range(200):
                with contextlib.suppress(Exception):
                    idle = client.own_transport._own._idle  # type: ignore[attr-defined]
                    conns = [c for pool in idle.values() for c in pool]
                    if not conns or all(c.readable() for c in conns):
                        break
                threading.Event().wait(0.01)
    assert server.connections == 3


BROKEN = {
    "both lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    "unknown coding": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello",
    "two lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    "length not a number": b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
    "folded header": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 5\r\n\r\nhello",
    "space in a name": b"HTTP/1.1 200 OK\r\nX A: 1\r\nContent-Length: 5\r\n\r\nhello",
    "status line": b"HTTP/2 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "no status": b"hello\r\n\r\n",
    "chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk not ended": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n",
    "chunk line": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + b"x" * 5000,
    "huge head": b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * (MAX_HEAD // 8 + 10) + b"\r\n",
    "cut body": b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello",
    "cut head": b"HTTP/1.1 200 OK\r\nContent-Le",
    "switching": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
    "endless interim answers": b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_INTERIM + 1) + OK,
    "endless trailers": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
    + b"X-T: 1\r\n" * (MAX_HEADERS + 1)
    + b"\r\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_malformed_answers_are_broken_faults(scripted, name: str) -> None:  # type: ignore[no-untyped-def]
    """Each is a ``broken`` fault, and the connection that carried it is never used again: the
    next request (answered well) gets a connection of its own."""
    server = scripted(lambda n: (BROKEN[name], True) if n == 0 else (OK, False))
    first, second = fetch_all(server.url, 2)
    assert isinstance(first, _http.HttpFault), first
    assert first.kind == "broken"
    assert isinstance(second, _http.Answer)
    assert second.body == b"hello"
    assert server.connections == 2


@given(st.binary(max_size=300))
def test_any_head_parses_or_is_a_protocol_error(block: bytes) -> None:
    try:
        head = _parse_head(block)
    except httpcore.RemoteProtocolError:
        return
    assert 100 <= head.status <= 999
    assert not (head.chunked and head.length is not None)


@given(
    st.lists(
        st.tuples(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
                  st.from_regex(r"[!-~]([ !-~]{0,30}[!-~])?", fullmatch=True)),
        max_size=8,
    )
)  # fmt: skip
def test_well_formed_heads_keep_every_header(headers: list[tuple[str, str]]) -> None:
    named = [(n, v) for n, v in headers if n.lower() not in ("content-length", "transfer-encoding")]
    block = b"HTTP/1.1 200 OK" + b"".join(f"\r\n{n}: {v}".encode() for n, v in named)
    head = _parse_head(block)
    assert head.headers == [(n.encode(), v.encode()) for n, v in named]
    assert head.status == 200


def test_a_value_of_spaces_is_stripped_in_one_pass() -> None:
    """Spaces around a value are not part of it, however many (a head of them once took
    ~23 s of CPU to parse: the value's pattern backtracked quadratically)."""
    spaces = b" " * (MAX_HEAD - 100)
    head = _parse_head(b"HTTP/1.1 200 OK\r\nX-A:" + spaces + b"a b" + spaces + b"c\r\nX-B:\t \t")
    assert head.headers == [(b"X-A", b"a b" + spaces + b"c"), (b"X-B", b"")]


@pytest.mark.parametrize("line", [b"X-A: a\x00b", b"X-A: a\x1bb", b"X-A: a\rb", b": empty name"])
def test_control_characters_in_a_header_are_refused(line: bytes) -> None:
    with pytest.raises(httpcore.RemoteProtocolError):
        _parse_head(b"HTTP/1.1 200 OK\r\n" + line)
