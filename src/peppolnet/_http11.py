"""The sync transport's own HTTP/1.1 exchanges on kept-alive connections (no proxy between).

Why not httpcore's pool and h11 for these, as for everything else: CPU. A sequential sync
lookup makes one HTTPS GET, and through httpcore's connection pool and h11 that GET cost
266 us of client CPU against 57 us for the socket and TLS work itself (same run against the
benchmark sandbox, kept-alive connections, 4 rounds of 400 GETs); peppolnet's whole sync fetch
went from 341 to 190 us with this module - a seventh of a whole verified lookup.

What runs here is what a peppolnet GET or POST needs and no more: one request at a time per
connection, a body of known bytes, an answer framed by ``Content-Length``, ``chunked`` or the
end of the connection. Anything else - a proxy, a streamed request body, a HEAD - goes on
through httpcore (:class:`peppolnet._http.Transport`).

Connections are opened by the same guarded backend as httpcore's (``_http._Backend``: every
address of the name checked against the scope's destination policy, then exactly those
connected to; TLS verified against the name), and each socket operation is bounded by the
scope's deadline there (``_http._Stream``). The answer is untrusted input, so its reading is
strict and bounded: a status line and headers of at most :data:`MAX_HEAD` bytes and
:data:`MAX_HEADERS` lines, header names of token characters, no obsolete line folding, one
framing (``Transfer-Encoding: chunked`` alone, or one ``Content-Length`` of digits, never both),
chunk-size lines of at most :data:`MAX_LINE` bytes; anything else is a protocol error (a
``broken`` fault above). A connection goes back to the pool only after an answer read to its
end that did not ask to close it, and is not used again once idle longer than the keep-alive
expiry or once it became readable while idle (the server closed it, or sent what nobody asked
for). Errors are httpcore's exception types, so the transport maps them to httpx's as before.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

import httpcore

if TYPE_CHECKING:
    import ssl

    import httpx

__all__ = ["Pool"]

MAX_HEAD: Final = 64 * 1024
"""The most bytes of a status line and headers read before the blank line (h11: 16 KiB of one
event; an SMP's headers are a few hundred bytes)."""
MAX_HEADERS: Final = 256
MAX_LINE: Final = 1024
"""The longest chunk-size line (with extensions) or trailer line."""
MAX_INTERIM: Final = 8
"""The most interim (1xx) answers before the real one; a server that sends more is broken."""
_READ: Final = 65536

# RFC 9112: a reason phrase and a field value are visible characters, spaces and tabs (and
# obs-text); no other control character - as h11 reads them
_STATUS: Final = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")
# The value is matched greedily and its spaces stripped afterwards: a lazy value followed by
# optional spaces (``([^...]*?)[ \t]*``, as this was) backtracks quadratically on a value of
# many spaces and one last character - 16,000 spaces took 1.5 s of CPU, a 64 KiB head ~23 s.
_HEADER: Final = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):([^\x00-\x08\x0a-\x1f\x7f]*)")
_CHUNK: Final = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
_UNSAFE: Final = re.compile(rb"[\x00-\x20\x7f]")  # in a request target
_BREAKS: Final = re.compile(rb"[\r\n\x00]")  # in a header name or value we send


class _Head:
    """An answer's status line and headers, and how its body is framed."""

    __slots__ = ("chunked", "headers", "keep", "length", "reason", "status", "version")

    def __init__(self, version: bytes, status: int, reason: bytes) -> None:
        self.version = version
        self.status = status
        self.reason = reason
        self.headers: list[tuple[bytes, bytes]] = []
        self.length: int | None = None
        self.chunked = False
        self.keep = version == b"HTTP/1.1"


def _parse_head(block: bytes) -> _Head:
    """The status line and headers of ``block`` (without its blank line), strictly."""
    lines = block.split(b"\r\n")
    if len(lines) > MAX_HEADERS + 1:
        raise httpcore.RemoteProtocolError("the answer has too many header lines")
    status = _STATUS.fullmatch(lines[0])
    if status is None:
        raise httpcore.RemoteProtocolError("the answer's status line is malformed")
    minor, code, reason = status.groups()
    head = _Head(b"HTTP/1." + minor, int(code), reason or b"")
    lengths: set[bytes] = set()
    codings: list[bytes] = []
    for line in lines[1:]:
        header = _HEADER.fullmatch(line)
        if header is None:  # obsolete folding, a name with spaces, a bare line
            raise httpcore.RemoteProtocolError("the answer has a malformed header line")
        name, value = header.group(1), header.group(2).strip(b" \t")
        head.headers.append((name, value))
        lower = name.lower()
        if lower == b"content-length":
            lengths.update(v.strip() for v in value.split(b","))
        elif lower == b"transfer-encoding":
            codings.extend(v.strip().lower() for v in value.split(b","))
        elif lower == b"connection" and b"close" in value.lower():
            head.keep = False
    _framing(head, lengths, codings)
    return head


def _framing(head: _Head, lengths: set[bytes], codings: list[bytes]) -> None:
    if codings:
        if codings != [b"chunked"] or lengths:
            raise httpcore.RemoteProtocolError("the answer's Transfer-Encoding is not chunked")
        head.chunked = True
    elif lengths:
        value = lengths.pop()
        if lengths or not value.isdigit() or len(value) > 18:
            raise httpcore.RemoteProtocolError("the answer's Content-Length is malformed")
        head.length = int(value)
    if head.status in (204, 304):
        head.length, head.chunked = 0, False
    elif head.length is None and not head.chunked:
        head.keep = False  # the body ends with the connection


class _Connection:
    """One kept-alive connection: its stream (``_http._Stream``) and what was read past the
    last answer (nothing, when it may be used again)."""

    __slots__ = ("buffer", "idle_since", "key", "stream")

    def __init__(self, key: tuple[bytes, bytes, int], stream: httpcore.NetworkStream) -> None:
        self.key = key
        self.stream = stream
        self.buffer = b""
        self.idle_since = 0.0

    def fill(self, timeout: float | None) -> bool:
        """Read more into the buffer; False at the end of the connection."""
        data = self.stream.read(_READ, timeout)
        if not data:
            return False
        self.buffer += data
        return True

    def head(self, timeout: float | None) -> _Head:
        for _interim in range(MAX_INTERIM + 1):
            end = self.buffer.find(b"\r\n\r\n")
            while end < 0:
                if len(self.buffer) > MAX_HEAD:
                    raise httpcore.RemoteProtocolError("the answer's headers are too large")
                if not self.fill(timeout):
                    raise httpcore.RemoteProtocolError(
                        "Server disconnected without sending a response."
                    )
                end = self.buffer.find(b"\r\n\r\n")
            if end > MAX_HEAD:
                raise httpcore.RemoteProtocolError("the answer's headers are too large")
            block, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            head = _parse_head(block)
            if head.status >= 200:
                return head
            if head.status == 101:
                raise httpcore.RemoteProtocolError("the server switched protocols unasked")
            # 1xx: an interim answer; the real one follows
        raise httpcore.RemoteProtocolError("the answer has too many interim (1xx) answers")

    def line(self, timeout: float | None) -> bytes:
        """One CRLF-ended line of a chunked body (at most :data:`MAX_LINE` bytes)."""
        end = self.buffer.find(b"\r\n")
        while end < 0:
            if len(self.buffer) > MAX_LINE:
                raise httpcore.RemoteProtocolError("a chunk line of the answer is too long")
            if not self.fill(timeout):
                raise httpcore.RemoteProtocolError("the answer ended inside a chunk line")
            end = self.buffer.find(b"\r\n")
        if end > MAX_LINE:
            raise httpcore.RemoteProtocolError("a chunk line of the answer is too long")
        found, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
        return found

    def take(self, most: int, timeout: float | None) -> bytes:
        """Up to ``most`` bytes of the body (b"" at the end of the connection)."""
        if not self.buffer and not self.fill(timeout):
            return b""
        found, self.buffer = self.buffer[:most], self.buffer[most:]
        return found

    def readable(self) -> bool:
        """Whether the idle connection has something to read: the server closed it, or sent
        what was not asked for. Either way it cannot carry another request."""
        return bool(self.buffer) or bool(self.stream.get_extra_info("is_readable"))


class _Answer:
    """An answer's body as raw chunks; closing it gives the connection back to the pool when
    the body was read to its end and the server keeps it, and closes it otherwise."""

    def __init__(self, pool: Pool, connection: _Connection, head: _Head, timeout: float | None):
        self._pool = pool
        self._connection: _Connection | None = connection
        self._head = head
        self._timeout = timeout
        self._done = head.length == 0

    def __iter__(self) -> Iterator[bytes]:
        connection = self._connection
        if connection is None or self._done:
            return
        if self._head.chunked:
            yield from self._chunks(connection)
        elif self._head.length is not None:
            yield from self._counted(connection, self._head.length)
        else:
            while chunk := connection.take(_READ, self._timeout):
                yield chunk
        self._done = True

    def _counted(self, connection: _Connection, length: int) -> Iterator[bytes]:
        left = length
        while left:
            chunk = connection.take(min(left, _READ), self._timeout)
            if not chunk:
                raise httpcore.RemoteProtocolError(
                    "peer closed connection without sending complete message body"
                )
            left -= len(chunk)
            yield chunk

    def _chunks(self, connection: _Connection) -> Iterator[bytes]:
        while True:
            size = _CHUNK.fullmatch(connection.line(self._timeout))
            if size is None:
                raise httpcore.RemoteProtocolError("the answer has a malformed chunk size")
            length = int(size.group(1), 16)
            if length == 0:
                self._trailers(connection)
                return
            yield from self._counted(connection, length)
            if connection.line(self._timeout):
                raise httpcore.RemoteProtocolError("a chunk of the answer is not CRLF-ended")

    def _trailers(self, connection: _Connection) -> None:
        """Skip the trailer lines up to the blank line: at most :data:`MAX_HEADERS` of them
        (they are outside the body's size limit, so an endless stream must end here)."""
        for _trailer in range(MAX_HEADERS + 1):
            if not connection.line(self._timeout):
                return
        raise httpcore.RemoteProtocolError("the answer has too many trailer lines")

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._done and self._head.keep and not connection.buffer:
            self._pool.release(connection)
        else:
            self._pool.discard(connection)


class Pool:
    """Kept-alive connections by origin, one request at a time each; thread-safe (a sync
    ``Lookup`` is shared by ``check_many``'s threads).

    ``connect`` opens a stream to (host, port) within a timeout (``_http._Backend``);
    ``context`` is the TLS context of https origins; at most ``keep`` idle connections stay
    open, each for at most ``expiry`` seconds idle."""

    def __init__(self, connect: Any, context: ssl.SSLContext, *, keep: int, expiry: float | None):
        self._connect = connect
        self._context = context
        self._keep = keep
        self._expiry = expiry
        self._idle: dict[tuple[bytes, bytes, int], list[_Connection]] = {}
        self._count = 0
        self._lock = threading.Lock()

    def handle(self, request: httpx.Request, body: bytes) -> tuple[_Head, _Answer, Any]:
        """Send ``request`` (its body ``body``) and read the answer's head; the body follows by
        iterating the :class:`_Answer`, which must be closed."""
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        port = url.port or (443 if url.raw_scheme == b"https" else 80)
        message = _message(request, body)
        connection = self._checkout((url.raw_scheme, url.raw_host, port), timeouts)
        try:
            connection.stream.write(message, timeouts.get("write"))
            head = connection.head(timeouts.get("read"))
        except BaseException:
            self.discard(connection)
            raise
        return head, _Answer(self, connection, head, timeouts.get("read")), connection.stream

    def _checkout(self, key: tuple[bytes, bytes, int], timeouts: dict[str, Any]) -> _Connection:
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(key)
                connection = idle.pop() if idle else None
                if connection is not None:
                    self._count -= 1
            if connection is None:
                return self._open(key, timeouts)
            fresh = self._expiry is None or now - connection.idle_since < self._expiry
            if fresh and not connection.readable():
                return connection
            connection.stream.close()

    def _open(self, key: tuple[bytes, bytes, int], timeouts: dict[str, Any]) -> _Connection:
        scheme, host, port = key
        name = host.decode("ascii")
        stream = self._connect(name, port, timeouts.get("connect"))
        try:
            if scheme == b"https":
                stream = stream.start_tls(self._context, name, timeouts.get("connect"))
        except BaseException:
            stream.close()
            raise
        return _Connection(key, stream)

    def release(self, connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        with self._lock:
            if self._count < self._keep:
                self._idle.setdefault(connection.key, []).append(connection)
                self._count += 1
                return
        connection.stream.close()

    def discard(self, connection: _Connection) -> None:
        connection.stream.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle, self._count = self._idle, {}, 0
        for connections in idle.values():
            for connection in connections:
                connection.stream.close()


def _message(request: httpx.Request, body: bytes) -> bytes:
    """The request's bytes: request line, headers (httpx's, Host first), body."""
    target = request.url.raw_path
    if _UNSAFE.search(target):
        raise httpcore.LocalProtocolError("the request target has characters a URL cannot hold")
    lines = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        if _BREAKS.search(name) or _BREAKS.search(value):
            raise httpcore.LocalProtocolError("a request header holds a line break")
        lines += (name, b": ", value, b"\r\n")
    lines += (b"\r\n", body)
    return b"".join(lines)
