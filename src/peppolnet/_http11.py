"""The sync transport's own HTTP/1.1 exchanges on kept-alive connections (no proxy between).

Why not httpcore's pool and h11 for these, as for everything else: CPU. A sequential sync
lookup makes one HTTPS GET, and through httpcore's connection pool and h11 that GET cost
266 us of client CPU against 57 us for the socket and TLS work itself (same run against the
benchmark sandbox, kept-alive connections, 4 rounds of 400 GETs); peppolnet's whole sync fetch
went from 341 to 190 us with this module - a seventh of a whole verified lookup.

What runs here is what a peppolnet GET or POST needs and no more: one request at a time per
connection, a body of known bytes, an answer framed by ``Content-Length``, ``chunked`` or the
end of the connection. Anything else - a proxy, a streamed request body, a HEAD - goes on
through httpcore (:class:`peppolnet._http.Transport`). The answer's parser (:class:`Reader`) is
sans-I/O: bytes in, head and body pieces out - the async transport's own connections
(:mod:`peppolnet._aio11`) read with the same one.

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
for). Per origin, at most ``Limits.max_connections`` connections are open (a request waits for
one up to its pool timeout) and ``max_keepalive_connections`` idle. Errors are httpcore's
exception types, so the transport maps them to httpx's as before.

One failure is not the request's but the connection's: a server may close a kept connection
(its keep-alive timeout - Apache httpd's default is 5 s, as our expiry is) just as the next
request goes out on it, and the request meets a reset or the end of the connection before any
answer. :func:`resend` says when such a request is sent again, once, on a newly opened
connection - the rule both transports follow, as urllib3 and aiohttp do.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

import httpcore
import httpx

from peppolnet import _http
from peppolnet._logging import logger
from peppolnet.i18n import _

if TYPE_CHECKING:
    import ssl

__all__ = ["Pool", "Reader", "resend"]

_log: Final = logger("peppolnet.http")

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
        raise httpcore.RemoteProtocolError(_("the answer has too many header lines"))
    status = _STATUS.fullmatch(lines[0])
    if status is None:
        raise httpcore.RemoteProtocolError(_("the answer's status line is malformed"))
    minor, code, reason = status.groups()
    head = _Head(b"HTTP/1." + minor, int(code), reason or b"")
    lengths: set[bytes] = set()
    codings: list[bytes] = []
    for line in lines[1:]:
        header = _HEADER.fullmatch(line)
        if header is None:  # obsolete folding, a name with spaces, a bare line
            raise httpcore.RemoteProtocolError(_("the answer has a malformed header line"))
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
            raise httpcore.RemoteProtocolError(_("the answer's Transfer-Encoding is not chunked"))
        head.chunked = True
    elif lengths:
        value = lengths.pop()
        if lengths or not value.isdigit() or len(value) > 18:
            raise httpcore.RemoteProtocolError(_("the answer's Content-Length is malformed"))
        head.length = int(value)
    if head.status in (204, 304):
        head.length, head.chunked = 0, False
    elif head.length is None and not head.chunked:
        head.keep = False  # the body ends with the connection


_HEAD_WANTED, _COUNTED, _SIZE_LINE, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DONE = range(7)


class Reader:
    """The answers on one connection, read sans-I/O: bytes in (:meth:`feed`, :meth:`end` when
    the connection ended), events out (:meth:`event`) - one parser for the sync transport's
    blocking sockets (:class:`_Connection`) and the async one's protocol
    (:mod:`peppolnet._aio11`), so both read an answer alike, strictly and within bounds.

    ``event()`` gives the answer's :class:`_Head` (interim 1xx answers skipped), then its body as
    non-empty pieces, then ``b""`` at the body's end; None while it needs more bytes; a
    ``RemoteProtocolError`` for anything malformed, too large, or cut short. ``reusable`` says
    whether the connection may carry another request once the answer was read to its end.
    """

    __slots__ = ("_left", "_skipped", "_state", "buffer", "ended", "head")

    def __init__(self) -> None:
        self.buffer = b""
        self.ended = False
        self.head: _Head | None = None
        self._state = _HEAD_WANTED
        self._left = 0
        self._skipped = 0  # interim answers, then trailer lines, of this answer

    def feed(self, data: bytes) -> None:
        self.buffer = self.buffer + data if self.buffer else data

    def end(self) -> None:
        """The connection ended: what is buffered is all there is."""
        self.ended = True

    @property
    def done(self) -> bool:
        """Whether the answer was read to its end."""
        return self._state == _DONE

    @property
    def untouched(self) -> bool:
        """Whether no byte of an answer arrived yet (not even an interim one)."""
        return not self.buffer and self.head is None and not self._skipped

    @property
    def reusable(self) -> bool:
        """Whether the connection can carry another request: the answer read to its end, the
        server keeping the connection, nothing unasked-for read past it."""
        head = self.head
        return self._state == _DONE and head is not None and head.keep and not self.buffer

    def next_answer(self) -> None:
        """Read the next answer (after a :attr:`reusable` one)."""
        self.head = None
        self._state = _HEAD_WANTED
        self._skipped = 0

    def event(self) -> _Head | bytes | None:
        state = self._state
        if state == _COUNTED:
            return self._counted()
        if state == _HEAD_WANTED:
            return self._head()
        if state == _DONE:
            return b""
        if state == _UNTIL_CLOSE:
            found, self.buffer = self.buffer, b""
            if not found and self.ended:
                self._state = _DONE
            return found if found or self.ended else None
        return self._chunked()

    def _head(self) -> _Head | None:
        while True:
            buffer = self.buffer
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD + 3:  # else the blank line may end at MAX_HEAD yet
                    raise httpcore.RemoteProtocolError(_("the answer's headers are too large"))
                if self.ended:
                    raise httpcore.RemoteProtocolError(
                        _("Server disconnected without sending a response.")
                    )
                return None
            if end > MAX_HEAD:
                raise httpcore.RemoteProtocolError(_("the answer's headers are too large"))
            block, self.buffer = buffer[:end], buffer[end + 4 :]
            head = _parse_head(block)
            if head.status >= 200:
                break
            if head.status == 101:
                raise httpcore.RemoteProtocolError(_("the server switched protocols unasked"))
            # 1xx: an interim answer; the real one follows - after at most MAX_INTERIM
            self._skipped += 1
            if self._skipped > MAX_INTERIM:
                raise httpcore.RemoteProtocolError(
                    _("the answer has too many interim (1xx) answers")
                )
        self.head = head
        self._skipped = 0
        if head.chunked:
            self._state = _SIZE_LINE
        elif head.length is None:
            self._state = _UNTIL_CLOSE
        elif head.length:
            self._state, self._left = _COUNTED, head.length
        else:
            self._state = _DONE
        return head

    def _counted(self) -> bytes | None:
        """Up to what is left of a ``Content-Length`` body or of one chunk."""
        buffer = self.buffer
        if not buffer:
            if self.ended:
                raise httpcore.RemoteProtocolError(
                    _("peer closed connection without sending complete message body")
                )
            return None
        left = self._left
        if len(buffer) <= left:
            found, self.buffer = buffer, b""
        else:
            found, self.buffer = buffer[:left], buffer[left:]
        self._left = left - len(found)
        if not self._left:
            self._state = _DONE if self.head is not None and not self.head.chunked else _CHUNK_END
        return found

    def _chunked(self) -> bytes | None:
        """The chunked framing's lines: a chunk's size, the CRLF after its data, trailers."""
        while True:
            line = self._line()
            if line is None:
                return None
            state = self._state
            if state == _SIZE_LINE:
                size = _CHUNK.fullmatch(line)
                if size is None:
                    raise httpcore.RemoteProtocolError(_("the answer has a malformed chunk size"))
                length = int(size.group(1), 16)
                if length:
                    self._state, self._left = _COUNTED, length
                    return self._counted()
                self._state = _TRAILERS
            elif state == _TRAILERS and line:
                # trailers are outside the body's size limit: at most MAX_HEADERS of them, or
                # an endless stream would be bounded only by the deadline
                self._skipped += 1
                if self._skipped > MAX_HEADERS:
                    raise httpcore.RemoteProtocolError(_("the answer has too many trailer lines"))
            elif state == _CHUNK_END:
                if line:
                    raise httpcore.RemoteProtocolError(_("a chunk of the answer is not CRLF-ended"))
                self._state = _SIZE_LINE
            else:  # _TRAILERS: the blank line
                self._state = _DONE
                return b""

    def _line(self) -> bytes | None:
        """One CRLF-ended line (at most :data:`MAX_LINE` bytes); None until it is complete."""
        buffer = self.buffer
        end = buffer.find(b"\r\n")
        if end < 0:
            if len(buffer) > MAX_LINE + 1:  # else the CRLF may begin at MAX_LINE yet
                raise httpcore.RemoteProtocolError(_("a chunk line of the answer is too long"))
            if self.ended:
                raise httpcore.RemoteProtocolError(_("the answer ended inside a chunk line"))
            return None
        if end > MAX_LINE:
            raise httpcore.RemoteProtocolError(_("a chunk line of the answer is too long"))
        found, self.buffer = buffer[:end], buffer[end + 2 :]
        return found


class _Connection:
    """One kept-alive connection: its stream (``_http._Stream``) and its :class:`Reader`."""

    __slots__ = ("idle_since", "key", "reader", "stream")

    def __init__(self, key: tuple[bytes, bytes, int], stream: httpcore.NetworkStream) -> None:
        self.key = key
        self.stream = stream
        self.reader = Reader()
        self.idle_since = 0.0  # set when it goes idle: it carried an answer (see resend)

    def event(self, timeout: float | None) -> _Head | bytes:
        """The reader's next event, reading from the socket until there is one."""
        reader = self.reader
        while (event := reader.event()) is None:
            data = self.stream.read(_READ, timeout)
            if data:
                reader.feed(data)
            else:
                reader.end()
        return event

    def readable(self) -> bool:
        """Whether the idle connection has something to read: the server closed it, or sent
        what was not asked for. Either way it cannot carry another request."""
        return bool(self.reader.buffer) or bool(self.stream.get_extra_info("is_readable"))


class _Answer:
    """An answer's body as raw chunks; closing it gives the connection back to the pool when
    the body was read to its end and the server keeps it, and closes it otherwise."""

    def __init__(self, pool: Pool, connection: _Connection, timeout: float | None):
        self._pool = pool
        self._connection: _Connection | None = connection
        self._timeout = timeout

    def __iter__(self) -> Iterator[bytes]:
        connection = self._connection
        if connection is None:
            return
        while chunk := connection.event(self._timeout):
            assert isinstance(chunk, bytes)
            yield chunk

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if connection.reader.reusable:
            connection.reader.next_answer()
            self._pool.release(connection)
        else:
            self._pool.discard(connection)


class _Origin:
    """One origin's connections: how many are open (idle or in use), and the idle ones, the
    most recently used last."""

    __slots__ = ("idle", "open", "waiting")

    def __init__(self) -> None:
        self.idle: list[_Connection] = []
        self.open = 0
        self.waiting = 0


class Pool:
    """Kept-alive connections by origin, one request at a time each; thread-safe (a sync
    ``Lookup`` is shared by ``check_many``'s threads).

    ``connect`` opens a stream to (host, port) within a timeout (``_http._Backend``);
    ``context`` is the TLS context of https origins. Per origin, at most ``most`` connections
    are open at once (a request waits for one up to its ``pool`` timeout) and at most ``keep``
    of them stay open idle, each for at most ``expiry`` seconds."""

    def __init__(
        self,
        connect: Any,
        context: ssl.SSLContext,
        *,
        keep: int,
        expiry: float | None,
        most: int | None = None,
    ):
        self._connect = connect
        self._context = context
        self._keep = keep
        self._most = most if most is not None else 1 << 30
        self._expiry = expiry
        self._origins: dict[tuple[bytes, bytes, int], _Origin] = {}
        self._ready = threading.Condition(threading.Lock())

    def handle(
        self, request: httpx.Request, body: bytes, *, new: bool = False
    ) -> tuple[_Head, _Answer, Any]:
        """Send ``request`` (its body ``body``) and read the answer's head; the body follows by
        iterating the :class:`_Answer`, which must be closed. ``new``: on a newly opened
        connection (a request sent again, :func:`resend`)."""
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        port = url.port or (443 if url.raw_scheme == b"https" else 80)
        message = _message(request, body)
        connection = self._checkout((url.raw_scheme, url.raw_host, port), timeouts, new)
        try:
            connection.stream.write(message, timeouts.get("write"))
            head = connection.event(timeouts.get("read"))
        except BaseException as exc:
            self.discard(connection)
            if resend(request, connection.idle_since != 0.0, connection.reader, exc):
                return self.handle(request, body, new=True)
            raise
        assert isinstance(head, _Head)
        return head, _Answer(self, connection, timeouts.get("read")), connection.stream

    def _checkout(
        self, key: tuple[bytes, bytes, int], timeouts: dict[str, Any], new: bool = False
    ) -> _Connection:
        """An idle connection of the origin still fit for a request, or a new one when fewer
        than ``most`` are open; else wait for one to be given back or closed. ``new``: a new
        one (an idle one is closed to make room when ``most`` are open)."""
        wait = timeouts.get("pool")
        if new:  # sent again: the pool timeout was the time left when the request began
            wait = _http._capped(wait, httpcore.PoolTimeout)
        while True:
            with self._ready:
                connection = self._idle_or_slot(key, wait, new)
            if connection is None:
                break
            if not new and self._fresh(connection) and not connection.readable():
                return connection
            self.discard(connection)
        try:
            return self._open(key, timeouts)
        except BaseException:
            self._closed(key)
            raise

    def _idle_or_slot(
        self, key: tuple[bytes, bytes, int], wait: float | None, new: bool
    ) -> _Connection | None:
        """(With the lock held) the origin's last idle connection (``new``: only when ``most``
        are open), or None with a new one counted as open; waits while the origin has ``most``
        open and none idle."""
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin()
        waited_until = None if wait is None else time.monotonic() + wait
        while True:
            if origin.idle and (not new or origin.open >= self._most):
                return origin.idle.pop()
            if origin.open < self._most:
                origin.open += 1
                return None
            remaining = None if waited_until is None else waited_until - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise httpcore.PoolTimeout(_("no connection to the server was free in time"))
            origin.waiting += 1
            try:
                self._ready.wait(remaining)
            finally:
                origin.waiting -= 1

    def _fresh(self, connection: _Connection) -> bool:
        return self._expiry is None or time.monotonic() - connection.idle_since < self._expiry

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
        """Keep ``connection`` idle for the next request to its origin (when ``keep`` allows),
        closing those of the origin idle past the expiry."""
        now = connection.idle_since = time.monotonic()
        stale: list[_Connection] = []
        kept = False
        with self._ready:
            origin = self._origins.get(connection.key)
            if origin is not None:
                idle = origin.idle
                expiry = self._expiry
                while idle and expiry is not None and now - idle[0].idle_since >= expiry:
                    stale.append(idle.pop(0))
                    origin.open -= 1
                # a request waiting for this origin takes it: closing it for the idle cap
                # would make that request open (and handshake) a new one at once
                if len(idle) < self._keep or origin.waiting:
                    idle.append(connection)
                    kept = True
                if origin.waiting:
                    self._ready.notify_all()
        for old in stale:
            old.stream.close()
        if not kept:
            self.discard(connection)

    def discard(self, connection: _Connection) -> None:
        """Close ``connection``: it cannot carry another request."""
        connection.stream.close()
        self._closed(connection.key)

    def _closed(self, key: tuple[bytes, bytes, int]) -> None:
        """One connection of ``key`` fewer is open (an origin with none is forgotten)."""
        with self._ready:
            origin = self._origins.get(key)
            if origin is None:
                return
            origin.open -= 1
            if origin.waiting:
                self._ready.notify_all()
            elif not origin.open:
                del self._origins[key]

    def close(self) -> None:
        """Close the idle connections; those in use close when they are given back."""
        with self._ready:
            self._keep = 0
            idle = [connection for origin in self._origins.values() for connection in origin.idle]
            for key, origin in list(self._origins.items()):
                origin.open -= len(origin.idle)
                origin.idle = []
                if not origin.open and not origin.waiting:
                    del self._origins[key]
            self._ready.notify_all()
        for connection in idle:
            connection.stream.close()


_CLOSED: Final = (
    httpcore.ReadError,
    httpcore.WriteError,
    httpcore.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
"""How the end of a connection shows, in both transports: a reset or broken pipe (a read or
write error), the end before the answer (a protocol error: "Server disconnected...") - never a
timeout."""


def resend(request: httpx.Request, reused: bool, reader: Reader, error: BaseException) -> bool:
    """Whether ``request``, which failed with ``error``, is sent again on a newly opened
    connection: the keep-alive race, where the server closed a kept connection (``reused``: it
    carried an answer before) just as the request went out on it.

    Only a GET or HEAD (sending one twice changes nothing), only when no byte of the answer
    arrived (``reader``: the server never began answering it) and only for the end of the
    connection, not a timeout. At most once: the second try is on a new connection, which this
    never resends. It runs within the same deadline and destination policy as the first.
    """
    if not (
        reused
        and request.method in ("GET", "HEAD")
        and isinstance(error, _CLOSED)
        and reader.untouched
    ):
        return False
    _log.debug(
        "%s %s: the kept connection ended before an answer (%s); sending it again on a new one",
        request.method,
        request.url.host,
        type(error).__name__,
    )
    return True


def _message(request: httpx.Request, body: bytes) -> bytes:
    """The request's bytes: request line, headers (httpx's, Host first), body."""
    target = request.url.raw_path
    if _UNSAFE.search(target):
        raise httpcore.LocalProtocolError(_("the request target has characters a URL cannot hold"))
    lines = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        if _BREAKS.search(name) or _BREAKS.search(value):
            raise httpcore.LocalProtocolError(_("a request header holds a line break"))
        lines += (name, b": ", value, b"\r\n")
    lines += (b"\r\n", body)
    return b"".join(lines)
