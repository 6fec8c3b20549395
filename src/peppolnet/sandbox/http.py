"""A tiny threaded HTTP/1.1 server for the sandbox, with fault and latency injection.

The sandbox's SMP and Directory servers are plain functions ``handler(Request) -> Response``;
this module puts them on a real socket on 127.0.0.1 (optionally TLS) so that peppolnet's clients
are tested over the same code paths they use in production. It is deliberately small: stdlib
``ThreadingHTTPServer`` (one thread per connection, keep-alive), no routing, no logging.

Faults are injected *per request* on the connection's own thread, so a slow or hanging request
never serialises the others - exactly what a client's concurrency and timeout handling must cope
with. The fault mix can be changed while the server runs (``server.faults = Faults(...)``).

A *trickle* sends the answer one byte every ``trickle_interval`` seconds - its status line and
headers, or its body after prompt headers. Every single read then succeeds, so a client whose
timeouts bound each read rather than the whole request never gives up: the attack a deadline for
the whole request is there for (the "slow read" family of slow HTTP attacks, turned against the
client).
"""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from peppolnet.clock import Clock, as_clock
from peppolnet.errors import SandboxError
from peppolnet.i18n import _

__all__ = ["Faults", "HttpServer", "Request", "Response"]

#: How long a "timeout" fault holds the connection open without answering, and at most how long a
#: trickle goes on before the server closes the connection. Bounded so that a forgotten client
#: cannot keep a sandbox thread alive forever.
HANG_SECONDS = 30.0
#: Largest request body the sandbox accepts (the operator desk and Directory take small JSON).
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Request:
    """One HTTP request as received. ``path`` is the raw path, still percent-encoded."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    client: tuple[str, int]


@dataclass
class Response:
    """What a handler answers. ``Content-Length`` is set by the server."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Faults:
    """Per-server fault and latency injection; every share is a probability in [0, 1].

    Shares are drawn independently per request in this order: timeout, reset, error, truncate,
    trickled headers, trickled body. ``seed`` makes the sequence reproducible for tests and
    benchmarks. A trickled answer comes one byte every ``trickle_interval`` seconds (its headers,
    or its body), for at most :data:`HANG_SECONDS`; then the server closes the connection.
    """

    latency: float = 0.0
    jitter: float = 0.0
    timeout_share: float = 0.0
    error_share: float = 0.0
    reset_share: float = 0.0
    truncate_share: float = 0.0
    seed: int | None = None
    trickle_headers_share: float = 0.0
    trickle_body_share: float = 0.0
    trickle_interval: float = 1.0

    def __post_init__(self) -> None:
        for name in _SHARES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SandboxError(
                    _(
                        "fault {name} must be between 0 and 1, got {value}",
                        name=name,
                        value=repr(value),
                    )
                )
        if self.latency < 0 or self.jitter < 0:
            raise SandboxError(_("fault latency and jitter must not be negative"))
        if not self.trickle_interval > 0:
            raise SandboxError(
                _(
                    "the trickle interval must be positive, got {trickle_interval}",
                    trickle_interval=repr(self.trickle_interval),
                )
            )


_SHARES = (
    "timeout_share",
    "error_share",
    "reset_share",
    "truncate_share",
    "trickle_headers_share",
    "trickle_body_share",
)


Handler = Callable[[Request], Response]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    owner: HttpServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that hang up or fail the TLS handshake are normal in fault tests."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    # TCP_NODELAY: headers and body go out in two writes; with Nagle on, a client that delays
    # its ACK (requests/urllib3) waits ~40 ms for every response. Real SMPs do not do that.
    disable_nagle_algorithm = True
    # Idle keep-alive connections are closed after this long, so stop() never waits on them.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the sandbox must not write to the terminal of the test run or the demo."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header, from the sandbox's clock: a sandbox run a year ahead (a
        :class:`~peppolnet.clock.ManualClock`) says so, as a server whose clock is off would."""
        if timestamp is None:
            timestamp = self.server.owner.clock.now().timestamp()
        return super().date_time_string(timestamp)

    def _serve(self) -> None:
        owner = self.server.owner
        raw_path, _, raw_query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            self._send(Response(413, b"request body too large\n"), truncate=False)
            return
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=raw_path,
            query=parse_qs(raw_query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client=(str(self.client_address[0]), int(self.client_address[1])),
        )
        with owner._lock:
            owner._requests += 1
            faults = owner.faults
            rng = owner._rng
            delay = faults.latency + (rng.uniform(0.0, faults.jitter) if faults.jitter else 0.0)
            hang = rng.random() < faults.timeout_share
            reset = rng.random() < faults.reset_share
            error = rng.random() < faults.error_share
            truncate = rng.random() < faults.truncate_share
            slow_head = rng.random() < faults.trickle_headers_share
            slow_body = rng.random() < faults.trickle_body_share
        if delay:
            time.sleep(delay)
        if hang:
            owner._stopping.wait(HANG_SECONDS)
            self.close_connection = True
            return
        if reset:
            self._reset()
            return
        if error:
            status = 503 if rng.random() < 0.5 else 500
            self._send(Response(status, b"injected server error\n"), truncate=False)
            return
        try:
            response = owner.handler(request)
        except Exception as exc:  # a handler bug must surface as a 500, not a dead socket
            response = Response(500, f"sandbox handler failed: {exc}\n".encode())
        if slow_head or slow_body:
            self._trickle(response, faults.trickle_interval, head=slow_head, body=slow_body)
            return
        self._send(response, truncate=truncate)

    def _reset(self) -> None:
        """Close the TCP connection abruptly (RST) without any response."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _trickle(self, response: Response, interval: float, *, head: bool, body: bool) -> None:
        """Send ``response`` a byte every ``interval`` seconds (its head, its body or both),
        until it is sent, the client hangs up, the server stops or :data:`HANG_SECONDS` pass."""
        stopping = self.server.owner._stopping
        lines = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}"]
        lines += [f"{k}: {v}" for k, v in response.headers.items() if k.lower() != "content-length"]
        lines += [f"Content-Length: {len(response.body)}", "Connection: close", "", ""]
        parts = [("\r\n".join(lines).encode("latin-1"), head), (response.body, body)]
        self.close_connection = True
        ends = time.monotonic() + HANG_SECONDS
        try:
            for data, slowly in parts:
                if not slowly:
                    self.wfile.write(data)
                    self.wfile.flush()
                    continue
                for index in range(len(data)):
                    if stopping.wait(interval) or time.monotonic() > ends:
                        return
                    self.wfile.write(data[index : index + 1])
                    self.wfile.flush()
        except OSError:  # the client gave up: what a trickle is for
            return

    def _send(self, response: Response, *, truncate: bool) -> None:
        body = response.body if self.command != "HEAD" else b""
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        declared = len(response.body)
        if truncate:
            body = body[: len(body) // 2]
            declared = max(declared, len(body) + 1)
        self.send_header("Content-Length", str(declared))
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        if truncate:
            self.wfile.flush()
            self.close_connection = True

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
    do_HEAD = _serve
    do_PATCH = _serve


class HttpServer:
    """A running (after :meth:`start`) HTTP or HTTPS server on 127.0.0.1 for one handler."""

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[Path, Path] | None = None,
        faults: Faults | None = None,
        name: str = "http",
        clock: Clock | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self.name = name
        self.clock = as_clock(clock)
        self.faults = faults or Faults()
        self._requested_port = port
        self._tls = tls
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._requests = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # faults are re-seeded when replaced, so that a test setting seed=1 gets a known sequence
    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, value)
        if name == "faults" and isinstance(value, Faults) and "_lock" in self.__dict__:
            with self._lock:
                self._rng = random.Random(value.seed)

    @property
    def requests(self) -> int:
        """How many requests have been received (including faulted ones)."""
        return self._requests

    @property
    def port(self) -> int:
        if self._server is None:
            raise SandboxError(_("{name} server is not running", name=self.name))
        return int(self._server.server_address[1])

    @property
    def scheme(self) -> str:
        return "https" if self._tls else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> HttpServer:
        if self._server is not None:
            return self
        try:
            server = _Server((self.host, self._requested_port), _RequestHandler)
        except OSError as exc:
            raise SandboxError(
                _(
                    "cannot listen for {name} on {host}:{requested_port}: {exc}",
                    name=self.name,
                    host=self.host,
                    requested_port=self._requested_port,
                    exc=str(exc),
                )
            ) from exc
        if self._tls is not None:
            cert, key = self._tls
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            try:
                context.load_cert_chain(str(cert), str(key))
            except (OSError, ssl.SSLError) as exc:
                server.server_close()
                raise SandboxError(
                    _("cannot load TLS certificate for {name}: {exc}", name=self.name, exc=str(exc))
                ) from exc
            # The handshake runs on first read in the connection's own thread, not in accept(), so a
            # slow or silent client cannot block the others.
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        server.owner = self
        self._stopping.clear()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return f"<HttpServer {self.name} {where}>"
