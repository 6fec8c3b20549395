"""The bench sandbox's HTTPS front: each SMP's answers from memory, on one event loop.

Why not aiohttp's server (the front before this one): at c=256 the sandbox's HTTPS cost ~0.26
ms of CPU per lookup beside the client's ~0.8 ms, on the same two cores, so a fifth of the
machine went to a server that in production runs on someone else's. Everything the bench asks
for is rendered and signed before it measures and does not change while it runs, so an answer
is known once its request has been answered once: this front reads the request line (and the
``Connection`` header), looks the answer up by method and target, and writes it. The first
request of each target goes to the sandbox's own ``SmpService.handle``, so the status, headers
and body are the sandbox's; the front keeps only the answer's head and a reference to the body
the service already keeps. Measured in one sitting, c=256 runs of 4,000 lookups against each
front in turn (aiohttp, this, aiohttp, this; two runs each): sandbox CPU per lookup 0.207-0.235
ms with aiohttp, 0.170-0.202 ms with this front (-16%). What is left is TLS: asyncio's SSL
protocol per record, and a full handshake for each of the 256 connections a run opens (~0.8 ms
each, a fifth of the total at 4,000 lookups). ``PEPPOLNET_BENCH_HTTP=aiohttp`` serves with
aiohttp to compare again.

It is a benchmark fixture, not an HTTP server: requests are HTTP/1.1 GET or HEAD without a body
(what both clients send); anything else gets the service's answer (405 for other methods) and
the connection is closed after it. One request at a time per connection: the next one in the
buffer is read after the answer is written, so an injected latency never reorders answers.
"""

from __future__ import annotations

import asyncio
import http
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

#: Largest request head the front reads (the clients send ~200 bytes).
MAX_HEAD = 16 * 1024
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Answers:
    """One SMP's answers by (method, target): the head bytes and the body, made on first use."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self._known: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {}

    def get(self, method: bytes, target: bytes) -> tuple[bytes, bytes]:
        known = self._known.get((method, target))
        if known is None:
            known = self._known[(method, target)] = self._make(method, target)
        return known

    def _make(self, method: bytes, target: bytes) -> tuple[bytes, bytes]:
        from peppolnet.sandbox.http import Request

        path = target.decode("latin-1").partition("?")[0]
        answer = self.service.handle(Request(method.decode("latin-1"), path, {}, {}, b"", ("", 0)))
        lines = [f"HTTP/1.1 {answer.status} {http.HTTPStatus(answer.status).phrase}"]
        lines += [f"{name}: {value}" for name, value in answer.headers.items()]
        lines.append(f"Content-Length: {len(answer.body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head, b"" if method == b"HEAD" else answer.body


class _Connection(asyncio.Protocol):
    """One client connection: requests read one at a time, each answered from :class:`Answers`."""

    def __init__(self, front: FastFront, answers: Answers) -> None:
        self.front = front
        self.answers = answers
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.busy = False  # an answer is waiting for its latency

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.front.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer = self.buffer + data if self.buffer else data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        transport = self.transport
        end = self.buffer.find(b"\r\n\r\n")
        if transport is None or end < 0:
            if transport is not None and len(self.buffer) > MAX_HEAD:
                transport.write(_BAD_REQUEST)
                transport.close()
            return
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        line, _, headers = head.partition(b"\r\n")
        parts = line.split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            transport.write(_BAD_REQUEST)
            transport.close()
            return
        method, target, version = parts
        self.front.requests += 1
        answer = self.answers.get(method, target)
        lowered = headers.lower()
        close = (
            method not in (b"GET", b"HEAD")
            or b"connection: close" in lowered
            or (version == b"HTTP/1.0" and b"connection: keep-alive" not in lowered)
        )
        if self.front.latency:
            self.busy = True
            asyncio.get_running_loop().call_later(self.front.latency, self._send, answer, close)
        else:
            self._send(answer, close)

    def _send(self, answer: tuple[bytes, bytes], close: bool) -> None:
        self.busy = False
        transport = self.transport
        if transport is None:
            return
        transport.write(answer[0] + answer[1])
        if close:
            transport.close()
        elif self.buffer:
            self._next()


def serve_in_thread(
    loop: asyncio.AbstractEventLoop, start: Callable[[], Awaitable[None]], name: str
) -> threading.Thread:
    """Run ``start()`` on ``loop`` in a daemon thread of its own, then the loop until stopped;
    returns once ``start()`` has finished (both fronts start their servers this way)."""
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name=name, daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError(f"{name} did not start in 30 s")
    return thread


class FastFront:
    """The SMPs' answers behind one asyncio server per SMP, on one event loop in a thread of
    its own (the same shape as the aiohttp front it replaces: ``origins``, ``latency``,
    ``requests``)."""

    def __init__(self, services: dict[str, Any], tls: tuple[Path, Path]) -> None:
        self.services = services
        self.tls = tls
        self.latency = 0.0
        self.requests = 0
        self.connections = 0
        self.origins: dict[str, str] = {}
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = serve_in_thread(self._loop, self._start, "bench-fast-front")

    def stop(self) -> None:
        """Stop listening and end the loop's thread (the bench's child just exits; tests stop)."""

        async def close() -> None:
            for server in self._servers:
                server.close()
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(close(), self._loop)
        if self._thread is not None:
            self._thread.join(30)

    async def _start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self.tls)
        loop = asyncio.get_running_loop()
        for smp_id, service in self.services.items():
            answers = Answers(service)
            server = await loop.create_server(
                lambda answers=answers: _Connection(self, answers),
                "127.0.0.1",
                0,
                ssl=context,
                backlog=1024,
            )
            self._servers.append(server)
            port = server.sockets[0].getsockname()[1]
            self.origins[smp_id] = f"https://127.0.0.1:{port}"
