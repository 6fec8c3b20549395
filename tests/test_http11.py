"""peppolnet's own HTTP/1.1 exchanges - the sync transport's (:mod:`peppolnet._http11`) and the
async one's (:mod:`peppolnet._aio11`), which share one sans-I/O parser
(:class:`peppolnet._http11.Reader`) - against a raw server on 127.0.0.1 that says exactly the
bytes a test gives: kept-alive connections, each framing of a body, the pool's bounds, and every
malformed answer a broken or hostile server can send - always an ``HttpFault`` of kind
``broken``, never a traceback, never a connection used again after it; and the keep-alive race
(a GET on a kept connection the server has just closed is sent again, once). Each test runs on
both paths."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpcore
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _tls import self_signed_tls
from peppolnet import _http, _observe
from peppolnet._http11 import (
    MAX_HEAD,
    MAX_HEADERS,
    MAX_INTERIM,
    MAX_LINE,
    Reader,
    _Head,
    _parse_head,
    resend,
)
from peppolnet.destinations import LOOPBACK_ALLOWED, PUBLIC_ONLY, DestinationPolicy
from peppolnet.errors import DestinationRefused

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
RESET = b"(reset)"
"""An answer that is none: the server resets the connection (an RST, not a FIN)."""


class _Scripted:
    """A TCP server that reads each request's head and answers with ``script(n)`` - the bytes
    of the ``n``-th request's answer (counted over all connections) and whether to close the
    connection after it. Counts the connections it accepted, those open now and the most open
    at once. With ``tls`` (a server context) it speaks HTTPS."""

    def __init__(
        self, script: Callable[[int], tuple[bytes, bool]], tls: ssl.SSLContext | None = None
    ) -> None:
        lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        self.open = 0
        self.most_open = 0
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with lock:
                    outer.connections += 1
                    outer.open += 1
                    outer.most_open = max(outer.most_open, outer.open)
                try:
                    if tls is None:
                        self.answer()
                    else:  # the SSL socket takes the connection over; closed here
                        with contextlib.suppress(OSError):
                            self.request = tls.wrap_socket(self.request, server_side=True)
                            with self.request:
                                self.answer()
                finally:
                    with lock:
                        outer.open -= 1

            def answer(self) -> None:
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
                        if answer is RESET:  # linger 0: close() sends an RST
                            linger = struct.pack("ii", 1, 0)
                            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                            self.request.close()
                            return
                        self.request.sendall(answer)
                        if close:
                            self.request.shutdown(socket.SHUT_RDWR)
                            return

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def settled(self, most_open: int) -> bool:
        """Whether at most ``most_open`` connections are open, waiting up to 10 s for the
        server's threads to see the client's closes (a busy machine is slow, never fast)."""
        ends = time.monotonic() + 10.0
        while self.open > most_open and time.monotonic() < ends:
            time.sleep(0.01)
        return self.open <= most_open

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., _Scripted]]:
    made: list[_Scripted] = []

    def make(
        script: Callable[[int], tuple[bytes, bool]], tls: ssl.SSLContext | None = None
    ) -> _Scripted:
        made.append(_Scripted(script, tls))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture(params=["sync", "async"])
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


Outcome = _http.Answer | _http.HttpFault


def fetch_all(
    path: str,
    url: str,
    count: int,
    *,
    seconds: Callable[[int], float | None] = lambda n: 5.0,
    timeout: float = 5.0,
    at_once: int = 1,
    limits: httpx.Limits | None = None,
    then: Callable[[], object] = lambda: None,
) -> list[Outcome]:
    """``count`` GETs of ``url`` through one of peppolnet's own clients of ``path`` (kept-alive
    connections), ``at_once`` at a time, the ``n``-th within ``seconds(n)`` (None: no deadline,
    the client's own ``timeout`` alone); ``then`` is called
    after the last, before the client is closed."""
    request = _http.Fetch(url, 1 << 20, decode=False)
    if path == "sync":
        options = {"limits": limits} if limits else {}
        with _http.client(False, timeout=timeout, **options) as client:

            def one(n: int) -> Outcome:
                try:
                    with _scope(seconds(n)):
                        return _http.fetch(client, request)
                except _http.HttpFault as fault:
                    return fault

            with ThreadPoolExecutor(at_once) as threads:
                results = list(threads.map(one, range(count)))
            then()
            return results

    async def run() -> list[Outcome]:
        transport = _http.async_transport(False, *([limits] if limits else []))
        async with _http.async_client(False, timeout=timeout, transport=transport) as client:
            gate = asyncio.Semaphore(at_once)

            async def one(n: int) -> Outcome:
                async with gate:
                    try:
                        with _scope(seconds(n)):
                            return await _http.afetch(client, request)
                    except _http.HttpFault as fault:
                        return fault

            results = list(await asyncio.gather(*(one(n) for n in range(count))))
            then()
            return results

    return asyncio.run(run())


def _scope(seconds: float | None) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext() if seconds is None else _http.scope(seconds=seconds)


def bodies(results: list[_http.Answer | _http.HttpFault]) -> list[bytes]:
    assert all(isinstance(r, _http.Answer) for r in results), results
    return [r.body for r in results if isinstance(r, _http.Answer)]


def test_a_kept_alive_connection_carries_every_request(path: str, scripted) -> None:  # type: ignore[no-untyped-def]
    server = scripted(lambda n: (OK, False))
    assert bodies(fetch_all(path, server.url, 4)) == [b"hello"] * 4
    assert server.connections == 1


def test_a_chunked_body_with_extensions_and_trailers(path: str, scripted) -> None:  # type: ignore[no-untyped-def]
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    server = scripted(lambda n: (chunked, False))
    assert bodies(fetch_all(path, server.url, 2)) == [b"hello world"] * 2
    assert server.connections == 1


def test_interim_answers_and_bodiless_statuses(path: str, scripted) -> None:  # type: ignore[no-untyped-def]
    answers = [
        b"HTTP/1.1 100 Continue\r\n\r\n" + OK,
        b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",  # 204 has no body whatever
        OK,
    ]
    server = scripted(lambda n: (answers[n], False))
    results = fetch_all(path, server.url, 3)
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
def test_a_connection_the_server_ends_is_not_used_again(path: str, scripted, answer: bytes) -> None:  # type: ignore[no-untyped-def]
    server = scripted(lambda n: (answer, True))
    assert bodies(fetch_all(path, server.url, 3)) == [b"hello"] * 3
    assert server.connections == 3


def test_a_server_that_closes_an_idle_connection_silently(path: str, scripted) -> None:  # type: ignore[no-untyped-def]
    """Framed, no ``Connection: close``, but the server hangs up after answering: the closed
    idle connection is seen before the next request and a new one is opened."""
    server = scripted(lambda n: (OK, True))
    request = _http.Fetch(server.url, 100)
    if path == "sync":
        with _http.client(False, timeout=5.0) as client:
            for _ in range(3):
                with _http.scope(seconds=5.0):
                    assert _http.fetch(client, request).body == b"hello"
                assert server.settled(0)  # its FIN is in before the next request looks

    else:

        async def run() -> None:
            async with _http.async_client(False, timeout=5.0) as client:
                for _ in range(3):
                    with _http.scope(seconds=5.0):
                        assert (await _http.afetch(client, request)).body == b"hello"
                    for _wait in range(1000):  # the loop must see the FIN before the next
                        if not server.open:
                            break
                        await asyncio.sleep(0.01)
                    await asyncio.sleep(0.05)

        asyncio.run(run())
    assert server.connections == 3


def test_the_pool_bounds_open_and_idle_connections_per_origin(path: str, scripted) -> None:  # type: ignore[no-untyped-def]
    """Eight requests at once to one origin on a pool of at most two connections, one kept
    idle: never more than two open or opened, every request answered, one left open
    afterwards, none once the client is closed."""

    def slow(n: int) -> tuple[bytes, bool]:
        time.sleep(0.1)
        return OK, False

    server = scripted(slow)
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=1)
    idle_after: list[bool] = []
    results = fetch_all(
        path,
        server.url,
        8,
        at_once=8,
        limits=limits,
        then=lambda: idle_after.append(server.settled(1)),
    )
    assert bodies(results) == [b"hello"] * 8
    # a connection given back while requests wait goes to one of them, never closed for the
    # idle cap (the waiting request would open a new one at once): two connections in all
    assert server.connections == 2
    assert server.most_open == 2
    assert idle_after == [True]
    assert server.settled(0)


def test_a_request_waits_for_a_free_connection_no_longer_than_its_deadline(
    path: str, scripted
) -> None:  # type: ignore[no-untyped-def]
    """One connection at most: while the first request holds it, the second waits - and ends
    at its own deadline, a timeout fault, without a second connection."""

    def holds(n: int) -> tuple[bytes, bool]:
        if n == 0:
            time.sleep(1.5)
        return OK, False

    server = scripted(holds)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    first, second = fetch_all(
        path, server.url, 2, at_once=2, limits=limits, seconds=lambda n: 0.5 if n else 10.0
    )
    assert isinstance(first, _http.Answer)
    assert isinstance(second, _http.HttpFault)
    assert second.kind == "timeout"
    assert server.most_open == 1


def test_connections_opened_at_once_share_one_resolution(scripted) -> None:  # type: ignore[no-untyped-def]
    """Eight requests at once to a name (under a policy, so the transport resolves it itself)
    open eight connections and ask the resolver once, as aiohttp's resolver did; each is still
    checked against the policy (a refused name is refused for every one)."""

    def slow(n: int) -> tuple[bytes, bool]:
        time.sleep(0.2)
        return OK, False

    server = scripted(slow)
    url = server.url.replace("127.0.0.1", "localhost")
    asked: list[str] = []

    async def run(policy: DestinationPolicy) -> list[Outcome | Exception]:
        loop = asyncio.get_running_loop()
        resolve = loop.getaddrinfo

        async def counted(host: Any, *args: Any, **kwargs: Any) -> Any:
            asked.append(host)
            return await resolve(host, *args, **kwargs)

        loop.getaddrinfo = counted  # type: ignore[method-assign]
        async with _http.async_client(False, timeout=5.0) as client:

            async def one() -> Outcome | Exception:
                try:
                    with _http.scope(seconds=5.0, destinations=policy):
                        return await _http.afetch(client, _http.Fetch(url, 100))
                except (_http.HttpFault, DestinationRefused) as exc:
                    return exc

            return list(await asyncio.gather(*(one() for _ in range(8))))

    assert bodies(asyncio.run(run(LOOPBACK_ALLOWED))) == [b"hello"] * 8  # type: ignore[arg-type]
    assert asked == ["localhost"]
    assert server.connections == 8
    refused = asyncio.run(run(PUBLIC_ONLY))
    assert all(isinstance(r, DestinationRefused) for r in refused), refused
    assert asked == ["localhost", "localhost"]
    assert server.connections == 8


@pytest.mark.parametrize(
    "stalled",
    [b"HTTP/1.1 200 OK\r\nContent-Le", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe"],
    ids=["in the head", "in the body"],
)
def test_a_connection_is_not_used_again_after_a_timeout(
    path: str, scripted, stalled: bytes
) -> None:  # type: ignore[no-untyped-def]
    server = scripted(lambda n: (stalled, False) if n == 0 else (OK, False))
    first, second = fetch_all(path, server.url, 2, seconds=lambda n: 0.5 if n == 0 else 5.0)
    assert isinstance(first, _http.HttpFault)
    assert first.kind == "timeout"
    assert isinstance(second, _http.Answer)
    assert second.body == b"hello"
    assert server.connections == 2


def test_the_clients_read_timeout_holds_without_a_deadline(path: str, scripted) -> None:  # type: ignore[no-untyped-def]
    """Outside any deadline the client's own timeout bounds each read; the connection that
    timed out is not used again."""
    stalled = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe"
    server = scripted(lambda n: (stalled, False) if n == 0 else (OK, False))
    first, second = fetch_all(path, server.url, 2, seconds=lambda n: None, timeout=0.5)
    assert isinstance(first, _http.HttpFault)
    assert first.kind == "timeout"
    assert isinstance(second, _http.Answer)
    assert second.body == b"hello"
    assert server.connections == 2


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
def test_malformed_answers_are_broken_faults(path: str, scripted, name: str) -> None:  # type: ignore[no-untyped-def]
    """Each is a ``broken`` fault, and the connection that carried it is never used again: the
    next request (answered well) gets a connection of its own."""
    server = scripted(lambda n: (BROKEN[name], True) if n == 0 else (OK, False))
    first, second = fetch_all(path, server.url, 2)
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


# --- the shared parser, sans-I/O ------------------------------------------------------------


def read(pieces: list[bytes]) -> tuple[int, bytes] | str:
    """One answer fed to a :class:`Reader` piece by piece (the end of the connection after the
    last): its status and body, or "error" for a protocol error."""
    reader = Reader()
    pending = list(pieces)
    head: _Head | None = None
    body: list[bytes] = []
    try:
        while True:
            event = reader.event()
            if event is None:
                assert not reader.ended, "a reader at the connection's end must not wait"
                if pending:
                    reader.feed(pending.pop(0))
                else:
                    reader.end()
            elif isinstance(event, _Head):
                head = event
            elif event:
                body.append(event)
            else:
                assert head is not None
                return head.status, b"".join(body)
    except httpcore.RemoteProtocolError:
        return "error"


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


HEADS = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\n",
]


@given(st.sampled_from(HEADS), st.binary(max_size=200), st.lists(st.integers(0, 400), max_size=8))
def test_any_answer_reads_alike_however_it_arrives(
    head: bytes, rest: bytes, cuts: list[int]
) -> None:
    """Whatever follows a head, the reader's result (the body, or a protocol error) does not
    depend on how the bytes were cut into reads - the sync socket's and asyncio's differ."""
    data = head + rest
    assert read(split(data, cuts)) == read([data])


@given(
    st.binary(max_size=300),
    st.lists(st.integers(1, 40), max_size=6),
    st.lists(st.integers(0, 400), max_size=8),
)
def test_a_chunked_body_arrives_whole(body: bytes, sizes: list[int], cuts: list[int]) -> None:
    chunks, rest = [], body
    for size in [*sizes, len(body)]:
        if rest:
            chunks.append(b"%x;ext=1\r\n%s\r\n" % (len(rest[:size]), rest[:size]))
            rest = rest[size:]
    data = HEADS[2] + b"".join(chunks) + b"0\r\nTrailer: x\r\n\r\n"
    assert read(split(data, cuts)) == (200, body)


def test_the_head_and_line_bounds_hold_however_the_bytes_arrive() -> None:
    """A head of exactly :data:`MAX_HEAD` bytes is read, one byte more is refused - whether the
    blank line came in the same read or not; the same for a chunk line of :data:`MAX_LINE`."""
    status = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: "
    for size, expected in ((MAX_HEAD, (200, b"")), (MAX_HEAD + 1, "error")):
        data = status + b"a" * (size - len(status)) + b"\r\n\r\n"
        for cut in (size, size + 1, size + 2, size + 3, len(data)):
            assert read([data[:cut], data[cut:]]) == expected, (size, cut)
    chunked = HEADS[2]
    for size, expected in ((MAX_LINE, (200, b"ok")), (MAX_LINE + 1, "error")):
        line = b"2;" + b"x" * (size - 2) + b"\r\n"
        data = chunked + line + b"ok\r\n0\r\n\r\n"
        for cut in (len(chunked) + size, len(chunked) + size + 1):
            assert read([data[:cut], data[cut:]]) == expected, (size, cut)


# --- the keep-alive race: a GET on a kept connection the server has just closed ----------------


def fetch_each(
    path: str,
    requests: list[_http.Fetch],
    *,
    seconds: Callable[[int], float] = lambda n: 5.0,
    policy: DestinationPolicy | None = None,
    observer: _observe.Observer | None = None,
    verify: ssl.SSLContext | bool = False,
) -> list[Outcome]:
    """``requests`` one after the other through one of peppolnet's own clients of ``path``
    (verifying TLS with ``verify``), the ``n``-th within ``seconds(n)`` under ``policy``,
    watched by ``observer``."""

    def within(n: int) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(_http.scope(seconds=seconds(n), destinations=policy))
        if observer is not None:
            stack.enter_context(_observe.observing(observer))
        return stack

    if path == "sync":
        results: list[Outcome] = []
        with _http.client(verify, timeout=5.0) as client:
            for n, request in enumerate(requests):
                try:
                    with within(n):
                        results.append(_http.fetch(client, request))
                except _http.HttpFault as fault:
                    results.append(fault)
        return results

    async def run() -> list[Outcome]:
        found: list[Outcome] = []
        async with _http.async_client(verify, timeout=5.0) as client:
            for n, request in enumerate(requests):
                try:
                    with within(n):
                        found.append(await _http.afetch(client, request))
                except _http.HttpFault as fault:
                    found.append(fault)
        return found

    return asyncio.run(run())


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for 127.0.0.1 and a client context that trusts it."""
    made = self_signed_tls(tmp_path_factory.mktemp("tls"))
    return made.server, made.client


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("end", [b"", RESET], ids=["closed", "reset"])
def test_a_get_on_a_kept_connection_the_server_just_closed_is_sent_again(
    path: str, scripted, end: bytes, scheme: str, tls, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """The server answers the first GET and keeps the connection, then ends it as soon as it
    reads the second (its keep-alive timeout meeting our request): the second GET is sent
    again on a new connection and answered - two connections, three requests seen."""
    caplog.set_level("DEBUG", logger="peppolnet.http")
    server_tls, client_tls = tls if scheme == "https" else (None, False)
    server = scripted(lambda n: (end, True) if n == 1 else (OK, False), server_tls)
    get = _http.Fetch(server.url, 100)
    assert bodies(fetch_each(path, [get, get], verify=client_tls)) == [b"hello"] * 2
    assert (server.connections, server.requests) == (2, 3)
    sent_again = [r.getMessage() for r in caplog.records if "sending it again" in r.message]
    assert len(sent_again) == 1
    assert sent_again[0].startswith("GET 127.0.0.1: the kept connection ended before an answer")


def test_a_post_on_a_kept_connection_the_server_just_closed_is_not_sent_again(
    path: str, scripted
) -> None:  # type: ignore[no-untyped-def]
    server = scripted(lambda n: (b"", True) if n == 1 else (OK, False))
    get = _http.Fetch(server.url, 100)
    post = _http.Fetch(server.url, 100, method="POST", json={"participant": "0007:1"})
    first, second = fetch_each(path, [get, post])
    assert isinstance(first, _http.Answer)
    assert isinstance(second, _http.HttpFault), second
    assert (server.connections, server.requests) == (1, 2)


def test_a_get_on_a_new_connection_the_server_closes_is_not_sent_again(path: str, scripted) -> None:  # type: ignore[no-untyped-def]
    server = scripted(lambda n: (b"", True))
    [only] = fetch_each(path, [_http.Fetch(server.url, 100)])
    assert isinstance(only, _http.HttpFault), only
    assert (server.connections, server.requests) == (1, 1)


def test_a_get_is_sent_again_at_most_once(path: str, scripted) -> None:  # type: ignore[no-untyped-def]
    """The second try, on its new connection, meets the same end: that is the answer."""
    server = scripted(lambda n: (b"", True) if n else (OK, False))
    get = _http.Fetch(server.url, 100)
    first, second = fetch_each(path, [get, get])
    assert isinstance(first, _http.Answer)
    assert isinstance(second, _http.HttpFault), second
    assert (server.connections, server.requests) == (2, 3)


@pytest.mark.parametrize(
    "begun",
    [b"H", b"HTTP/1.1 200 OK\r\nContent-", b"HTTP/1.1 100 Continue\r\n\r\n"],
    ids=["a byte", "part of the head", "an interim answer"],
)
def test_a_get_the_server_began_to_answer_is_not_sent_again(
    path: str, scripted, begun: bytes
) -> None:  # type: ignore[no-untyped-def]
    server = scripted(lambda n: (begun, True) if n == 1 else (OK, False))
    get = _http.Fetch(server.url, 100)
    first, second = fetch_each(path, [get, get])
    assert isinstance(first, _http.Answer)
    assert isinstance(second, _http.HttpFault), second
    assert second.kind == "broken"
    assert (server.connections, server.requests) == (1, 2)


def test_a_get_that_timed_out_on_a_kept_connection_is_not_sent_again(path: str, scripted) -> None:  # type: ignore[no-untyped-def]
    """No answer within the deadline on a kept connection is a timeout, not the race."""
    answered = threading.Event()

    def stalls(n: int) -> tuple[bytes, bool]:
        if n == 1:
            answered.wait(10.0)  # until the client has given up
        return OK, False

    server = scripted(stalls)
    get = _http.Fetch(server.url, 100)
    try:
        first, second = fetch_each(path, [get, get], seconds=lambda n: 0.5 if n else 5.0)
    finally:
        answered.set()
    assert isinstance(first, _http.Answer)
    assert isinstance(second, _http.HttpFault)
    assert second.kind == "timeout"
    assert (server.connections, server.requests) == (1, 2)


class _Watcher(_observe.Observer):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def resolved(self, host: str, port: int, addresses: Any) -> None:
        self.seen.append(f"resolved {host}")

    def http_response(self, response: httpx.Response) -> None:
        self.seen.append(f"answer {response.status_code}")


def test_a_trace_sees_the_new_connection_and_one_answer(path: str, scripted) -> None:  # type: ignore[no-untyped-def]
    """Under a policy the new connection's host is resolved and its addresses checked again, as
    for any new connection - a watcher sees it - and the request sent twice is one answer."""
    server = scripted(lambda n: (b"", True) if n == 1 else (OK, False))
    get = _http.Fetch(server.url.replace("127.0.0.1", "localhost"), 100)
    watcher = _Watcher()
    results = fetch_each(path, [get, get], policy=LOOPBACK_ALLOWED, observer=watcher)
    assert bodies(results) == [b"hello"] * 2
    assert watcher.seen == ["resolved localhost", "answer 200"] * 2
    assert (server.connections, server.requests) == (2, 3)


def _request(method: str) -> httpx.Request:
    return httpx.Request(method, "https://smp.example/x")


@pytest.mark.parametrize(
    ("method", "reused", "error", "expected"),
    [
        ("GET", True, httpcore.RemoteProtocolError("Server disconnected"), True),
        ("HEAD", True, httpx.ReadError("reset"), True),
        ("GET", True, httpcore.WriteError("broken pipe"), True),
        ("POST", True, httpcore.RemoteProtocolError("Server disconnected"), False),
        ("PUT", True, httpx.ReadError("reset"), False),
        ("GET", False, httpcore.RemoteProtocolError("Server disconnected"), False),
        ("GET", True, httpcore.ReadTimeout("no answer"), False),
        ("GET", True, httpx.ReadTimeout("no answer"), False),
        ("GET", True, httpx.ConnectError("refused"), False),
        ("GET", True, TimeoutError(), False),
    ],
)
def test_the_rule_for_sending_a_request_again(
    method: str, reused: bool, error: BaseException, expected: bool
) -> None:
    reader = Reader()
    reader.end()
    assert resend(_request(method), reused, reader, error) is expected
