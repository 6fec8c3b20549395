"""peppolnet's one HTTP layer: every fetch - SMP, Directory, business card, CRL, operator desk.

Every HTTP request peppolnet makes is an httpx request (``httpx.Client`` or ``httpx.AsyncClient``)
performed by :func:`fetch` or :func:`afetch`, so what matters against a hostile network is written
once, above the transport, for both:

* **Bounded decoding and size limits.** The raw body is read and decoded here with a bound
  (:class:`peppolnet._httpbody.BoundedBody`): an answer costs at most its limit however it is
  encoded, ``gzip, gzip`` and other codings that were not asked for are refused, and a declared
  ``Content-Length`` over the limit is not read at all.
* **A deadline for a whole request.** httpx's timeouts bound each socket operation, so a server
  that sends one byte every few seconds - of its headers or of its body - keeps a request alive
  for as long as it likes. The deadline travels in a context variable set with :func:`scope` by
  whoever starts a request (the SMP client, the CRL checker, a lookup for everything it runs), so
  nested calls - retries, a redirect, a revocation check - share the tightest deadline and the
  policy of the network asking, like the cancel scopes of trio. :func:`afetch` ends a request at
  the deadline with :func:`asyncio.timeout` whatever the transport; the sync transport gives every
  socket operation only the time left; a sync client of the caller's is cut between chunks.
* **One error mapping**: whatever the transport, a failure becomes one :class:`HttpFault` whose
  ``kind`` says what happened, and each client turns that into its own error sentence.
* **One log** (``peppolnet.http``): every fetch at DEBUG - host and path (never the query
  string, credentials or an e-mail address: :func:`shown`), status, bytes, milliseconds -, a
  fault or a 5xx answer at WARNING, and each retry decision at DEBUG (:func:`retry_pause`).
* **Sans-I/O drivers.** A client's logic (retries, redirects, paging, 429) is a generator that
  yields :class:`Fetch` and :class:`Pause` requests and receives :class:`Answer` values (or an
  :class:`HttpFault` thrown in); :func:`run` and :func:`arun` are the only sync and async code.
* **CPU per request**, which bounds bulk runs: peppolnet's own clients (:class:`OwnClient`,
  :class:`OwnAsyncClient`) hand requests straight to their transport, and a URL already in the
  form httpx gives it is built without httpx's character-by-character parse (:func:`url_of`);
  a client of the caller's goes through its own ``send``.

Below, the transports. They take care of what can only be seen at the socket, each the same way:

* **The destination policy at the socket** (:mod:`peppolnet.destinations`). Checking a URL's host
  is not enough: a name can resolve to ``127.0.0.1`` or ``169.254.169.254``. So the connection is
  opened by the transport: the name is resolved, *every* address it gives is checked, and the
  socket connects to those checked addresses - never to a second resolution that could answer
  differently (DNS rebinding). TLS still verifies the certificate against the name.
* **Proxies from the environment** (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``,
  ``NO_PROXY``), read once per transport (:class:`Proxies`) as httpx reads them; a connection to a
  proxy is not checked against the policy (the proxy resolves the SMP's name, so only the URL's
  host is checked - see docs/security.md).
* **TLS trust** from :func:`peppolnet._tls.context`, the same for both.

The sync transport (:class:`Transport`) opens its connections with a network backend -
httpcore's documented extension point - that bounds every socket operation by the deadline and
checks the addresses connected to; a request straight to its origin goes over
:mod:`peppolnet._http11`'s kept-alive HTTP/1.1 connections (a fraction of httpcore's CPU per
request, which bounds sequential lookups), one through a proxy over httpcore's pools. The async
one (:mod:`peppolnet._aio`) sends a request straight to its origin over its own HTTP/1.1
connections too (:mod:`peppolnet._aio11`, the same parser), and one through a proxy over aiohttp
(:mod:`peppolnet._aio` is the only module that imports it); either costs a fraction of
httpcore's CPU per request, which bounds bulk runs. Our clients are made with
``trust_env=False`` so that httpx never mounts a proxy transport of its own past ours. A client
passed in by the caller keeps its own transport: peppolnet then bounds the request as above, but
cannot see the address it connects to.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar, cast

import httpcore
import httpx

from peppolnet import _observe, _retry, _tls
from peppolnet._httpbody import ACCEPT_ENCODING, BoundedBody, BrokenBody, UnsupportedEncoding
from peppolnet._logging import logger
from peppolnet._neterrors import describe
from peppolnet.i18n import _, message_of

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from peppolnet.destinations import DestinationPolicy, IPAddress

__all__ = [
    "Answer",
    "Fetch",
    "HttpFault",
    "Pause",
    "Proxies",
    "Transport",
    "afetch",
    "arun",
    "async_client",
    "async_transport",
    "client",
    "expired",
    "fetch",
    "left",
    "retry_pause",
    "run",
    "scope",
    "shown",
    "timeouts",
]

_log: Final = logger("peppolnet.http")


# --- scopes: the deadline and the destination policy of what runs inside ------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Scope:
    deadline: float | None = None  # time.monotonic(): sockets wait in real seconds
    destinations: DestinationPolicy | None = None


_OUTSIDE: Final = _Scope()  # no deadline, no policy: httpx's own behaviour
_CURRENT: Final[contextvars.ContextVar[_Scope]] = contextvars.ContextVar(
    "peppolnet_http_scope", default=_OUTSIDE
)


def scope(
    *,
    seconds: float | None = None,
    deadline: float | None = None,
    destinations: DestinationPolicy | None = None,
) -> contextlib.AbstractContextManager[None]:
    """Run the block with a deadline (``seconds`` from now, or the monotonic ``deadline``) and a
    destination policy. A deadline only ever tightens the one around it; a policy replaces it."""
    return _Scoped(seconds, deadline, destinations)


class _Scoped:
    """The block of :func:`scope`. A class, not a generator's context manager: one is entered
    for every request (twice for a lookup's), and the generator's took ~2 us of ~0.7 us here."""

    __slots__ = ("_deadline", "_destinations", "_seconds", "_token")

    def __init__(
        self, seconds: float | None, deadline: float | None, destinations: DestinationPolicy | None
    ) -> None:
        self._seconds = seconds
        self._deadline = deadline
        self._destinations = destinations

    def __enter__(self) -> None:
        outer = _CURRENT.get()
        deadline = self._deadline
        if self._seconds is not None:
            due = time.monotonic() + self._seconds
            deadline = due if deadline is None else min(deadline, due)
        if outer.deadline is not None and (deadline is None or outer.deadline < deadline):
            deadline = outer.deadline
        policy = self._destinations if self._destinations is not None else outer.destinations
        self._token = _CURRENT.set(_Scope(deadline, policy))

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self._token)


def left(cap: float | None = None) -> float | None:
    """Seconds until the current scope's deadline (at most ``cap``); None without either."""
    deadline = _CURRENT.get().deadline
    if deadline is None:
        return cap
    remaining = max(0.0, deadline - time.monotonic())
    return remaining if cap is None else min(cap, remaining)


def expired() -> bool:
    """Whether the current scope's deadline has passed."""
    deadline = _CURRENT.get().deadline
    return deadline is not None and time.monotonic() >= deadline


def destinations() -> DestinationPolicy | None:
    """The destination policy of the current scope (None outside any)."""
    return _CURRENT.get().destinations


def timeouts(client: httpx.Client | httpx.AsyncClient) -> httpx.Timeout:
    """``client``'s own timeouts, each shortened to the time left in the scope (for a client of
    the caller's, whose transport knows nothing of the deadline; ours enforces it besides)."""
    remaining = left()
    base = client.timeout
    if remaining is None:
        return base
    remaining = max(remaining, _LEAST_WAIT)
    return httpx.Timeout(
        connect=_shortened(base.connect, remaining),
        read=_shortened(base.read, remaining),
        write=_shortened(base.write, remaining),
        pool=_shortened(base.pool, remaining),
    )


_LEAST_WAIT: Final = 0.001
"""The shortest timeout given to a socket: 0 would mean "do not wait" to it, not "too late"."""


def _shortened(timeout: float | None, remaining: float) -> float:
    """``timeout`` shortened to the ``remaining`` time (None: it had no bound of its own)."""
    return remaining if timeout is None else min(timeout, remaining)


def _capped(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left in the scope; ``error`` when none is left."""
    remaining = left()
    if remaining is None:
        return timeout
    if remaining <= 0:
        raise error(_("the request's deadline passed"))
    return _shortened(timeout, remaining)


# --- what a client's logic asks for, and what it gets back ----------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Fetch:
    """One HTTP request, as a client's logic asks for it.

    ``limit``: the most body bytes kept (decoded); ``decode=False`` takes the body as sent and
    refuses any content coding (``Accept-Encoding: identity``); ``json`` is sent as the body.
    ``sink`` receives the body piece by piece instead of the :class:`Answer` (a download to a
    file), and ``keep_encoding`` keeps an advertised coding as sent (the answer's
    ``Content-Encoding`` says which; ``limit`` then counts the bytes as sent).
    """

    url: str
    limit: int
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    params: tuple[tuple[str, str], ...] = ()
    method: str = "GET"
    json: Any = None
    decode: bool = True
    sink: Callable[[bytes], object] | None = None
    keep_encoding: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Pause:
    """Wait ``seconds`` before the next request (a back-off, a rate limit, a Retry-After)."""

    seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """What came back: ``truncated`` when the body outgrew the limit (``body`` is then cut, and
    empty when ``Content-Length`` announced too much: nothing was read)."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes
    truncated: bool = False

    @property
    def declared(self) -> int | None:
        """The ``Content-Length`` the server announced, if it did."""
        value = self.headers.get("content-length", "")
        return int(value) if value.isdigit() else None

    def json(self) -> Any:
        """The body as JSON; None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class HttpFault(Exception):
    """A request that brought no usable answer; ``kind`` says why, ``detail`` how.

    ``timeout`` (no complete answer in time), ``connect`` (no connection: refused, no such name,
    TLS), ``broken`` (the connection closed early, a malformed answer, broken compression) - the
    faults a retry can mend - and ``unreadable`` (a content coding that was not asked for) and
    ``url`` (the URL or the proxy cannot be used), which it cannot.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


Step: TypeAlias = Fetch | Pause
_T = TypeVar("_T")
#: A client's logic: yields what to do, is sent each :class:`Answer` (None after a Pause).
Steps: TypeAlias = Generator[Step, Answer, _T]


def _advance(
    steps: Steps[_T],
    outcome: Answer | HttpFault | None,
    observer: _observe.Observer | None = None,
    last: Step | None = None,
) -> Step:
    """The generator's next request, given what the last one brought (StopIteration at its
    end) - the one place both drivers tell a watching ``observer`` (a trace) what happens: the
    ``last`` fetch's end with its outcome, then the next pause or the next fetch's start."""
    if observer is not None and isinstance(last, Fetch) and outcome is not None:
        observer.fetch_ended(last, outcome)
    if outcome is None:
        step = next(steps)
    elif isinstance(outcome, HttpFault):
        step = steps.throw(outcome)
    else:
        step = steps.send(outcome)
    if observer is not None:
        if isinstance(step, Pause):
            observer.paused(step.seconds)
        else:
            observer.fetch_started(step)
    return step


def run(
    steps: Steps[_T],
    perform: Callable[[Fetch], Answer],
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """Drive a client's logic with blocking calls: ``perform`` each :class:`Fetch` (normally
    :func:`fetch` inside the client's scope), ``sleep`` each :class:`Pause`, and throw each
    :class:`HttpFault` into the generator, which decides what it means. A trace watching
    (:mod:`peppolnet._observe`) is told of each request, its outcome and each pause."""
    observer = _observe.current()
    step: Step | None = None
    outcome: Answer | HttpFault | None = None
    while True:
        try:
            step = _advance(steps, outcome, observer, step)
        except StopIteration as stop:
            return cast("_T", stop.value)
        outcome = None
        if isinstance(step, Pause):
            sleep(step.seconds)
            continue
        try:
            outcome = perform(step)
        except HttpFault as fault:
            outcome = fault


async def arun(
    steps: Steps[_T],
    perform: Callable[[Fetch], Awaitable[Answer]],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> _T:
    """The async twin of :func:`run`."""
    observer = _observe.current()
    step: Step | None = None
    outcome: Answer | HttpFault | None = None
    while True:
        try:
            step = _advance(steps, outcome, observer, step)
        except StopIteration as stop:
            return cast("_T", stop.value)
        outcome = None
        if isinstance(step, Pause):
            await sleep(step.seconds)
            continue
        try:
            outcome = await perform(step)
        except HttpFault as fault:
            outcome = fault


# --- performing one request ----------------------------------------------------------------------


class _Reader:
    """Reads one response's raw chunks into an :class:`Answer` (the part both drivers share)."""

    __slots__ = ("body", "request", "response")

    def __init__(self, request: Fetch, response: httpx.Response) -> None:
        self.request = request
        self.response = response
        declared = response.headers.get("content-length", "")
        try:
            body = BoundedBody(request.limit, response.headers.get("content-encoding"),
                               decode=request.decode, keep=request.keep_encoding,
                               sink=request.sink)  # fmt: skip
        except UnsupportedEncoding as exc:
            raise HttpFault("unreadable", message_of(exc)) from None
        if declared.isdigit() and int(declared) > request.limit:
            body.truncated = True  # announced too large: not read at all
        self.body = body

    def add(self, chunk: bytes) -> bool:
        """Take one raw chunk; False when reading should stop (the limit was passed)."""
        try:
            return self.body.add(chunk)
        except BrokenBody as exc:
            raise HttpFault("broken", message_of(exc)) from None

    def answer(self) -> Answer:
        try:
            self.body.finish()
        except BrokenBody as exc:
            raise HttpFault("broken", message_of(exc)) from None
        response = self.response
        return Answer(
            self.request.url,
            response.status_code,
            response.headers,
            self.body.value(),
            self.body.truncated,
        )


# --- URLs: httpx's own parse, or the same value built directly -----------------------------------

# httpx parses a URL string in Python, a character at a time: ~40-70 us for an SMP URL of 250
# characters, the largest single cost of an async GET after aiohttp itself (bench_http.py). A URL
# that is already in the form httpx would normalise it to - what peppolnet builds for SMP
# requests: lower-case scheme and host, no default port, no dot segments, only characters httpx
# leaves as they are - is built directly. Anything else goes through httpx.URL. The direct build
# uses httpx's internal ParseResult, so it is compared with httpx.URL on sample URLs at first use,
# and left off for good if the two differ (a future httpx): correctness never depends on it.
_NORMAL: Final = re.compile(
    r"(https?)://([a-z0-9][a-z0-9.-]*)(?::([1-9][0-9]{0,4}))?"
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*)"  # "%": httpx keeps escapes, and a lone "%" too
    r"(?:\?([A-Za-z0-9._~!$&'()*+,;=:@/?%-]*))?"
)
_IPV4_STYLE: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_SAMPLES: Final = (
    "https://smp.example.org/iso6523-actorid-upis%3A%3A0007%3A5567321707/services/"
    "busdox-docid-qns%3A%3Aurn%3Aoasis%3Anames%3Aspecification%3Aubl%3Aschema%3Axsd%3A"
    "Invoice-2%3A%3AInvoice%23%23urn%3Acen.eu%3Aen16931%3A2017%3A%3A2.1",
    "http://127.0.0.1:8080/a/b;c=d?q=1&r=%2F",
    "https://b-0.smp.test:8443/",
)
# httpx's parsed form of a URL (internal), once the check at first use has found it exact
_direct: list[Callable[..., Any] | None] = []


def _build(match: re.Match[str], parsed: Callable[..., Any]) -> httpx.URL | None:
    """The URL ``match`` describes, built without parsing; None where httpx would change it."""
    scheme, host, port, path, query = match.groups()
    number = int(port) if port else None
    if number is not None and (number > 65535 or number == _DEFAULT_PORTS[scheme]):
        return None
    if "/." in path or (_IPV4_STYLE.fullmatch(host) and not _ipv4(host)):
        return None
    url = httpx.URL.__new__(httpx.URL)
    url._uri_reference = parsed(scheme, "", host, number, path, query, None)
    return url


@functools.lru_cache(maxsize=256)  # a pure function of the text; a run asks about a few hosts
def _ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _exact_builder() -> Callable[..., Any] | None:
    """httpx's internal ParseResult if building with it gives what httpx.URL gives, else None."""
    try:
        from httpx._urlparse import ParseResult

        for sample in _SAMPLES:
            match = _NORMAL.fullmatch(sample)
            built = _build(match, ParseResult) if match else None
            parsed = httpx.URL(sample)
            if built is None or (str(built), built.raw_path, built.host, built.port) != (
                str(parsed), parsed.raw_path, parsed.host, parsed.port,
            ):  # fmt: skip
                return None
    except Exception:  # an httpx whose internals moved: parse as httpx does
        return None
    return ParseResult


def url_of(text: str) -> httpx.URL:
    """``text`` as the ``httpx.URL`` httpx would make of it (built directly where it can be)."""
    if not _direct:
        _direct.append(_exact_builder())
    builder = _direct[0]
    match = _NORMAL.fullmatch(text) if builder is not None else None
    built = _build(match, builder) if match is not None and builder is not None else None
    return built if built is not None else httpx.URL(text)


def _headers(request: Fetch) -> dict[str, str]:
    return {"Accept-Encoding": ACCEPT_ENCODING if request.decode else "identity", **request.headers}


def _url(request: Fetch) -> httpx.URL:
    url = url_of(request.url)
    if url.port is not None and url.port > 65535:  # httpx lets it through; sockets would not
        raise HttpFault("url", _("the port {port} is out of range", port=url.port))
    return url.copy_merge_params(request.params) if request.params else url


def _request(client: httpx.Client | httpx.AsyncClient, request: Fetch) -> httpx.Request:
    """``request`` as httpx's, with ``client``'s defaults (its headers, cookies, base URL - a
    caller's client keeps its own ways) and its timeouts shortened to what the scope leaves."""
    if not isinstance(client, OwnClient | OwnAsyncClient):
        return client.build_request(
            request.method, _url(request), headers=_headers(request), json=request.json,
            timeout=timeouts(client),
        )  # fmt: skip
    url = _url(request)
    extensions = {"timeout": client.own_timeouts()}
    if (
        request.method != "GET"
        or request.json is not None
        or (request.headers and any(name.lower() == "host" for name in request.headers))
    ):
        headers = client.own_headers(request)
        return httpx.Request(request.method, url, headers=headers, json=request.json,
                             extensions=extensions)  # fmt: skip
    # A GET has no body: httpx.Request() would ask a copy of the headers - one that has
    # forgotten their encoding, and works it out again by decoding every header - for a
    # Content-Type, then add Host by building the headers once more: 3.2% of the client's CPU
    # per lookup at c=256 (py-spy). With the body's stream given it does neither; Host is in
    # the headers already (:meth:`_Own.own_get_headers`).
    prepared = httpx.Request(
        "GET", url, headers=client.own_get_headers(request, url), stream=_NO_BODY,
        extensions=extensions,
    )  # fmt: skip
    prepared.read()  # b"", as httpx.Request() reads a body of bytes (request.content)
    return prepared


_NO_BODY: Final = httpx.ByteStream(b"")  # stateless: one for every GET


_NO_TIMEOUTS: Final[dict[str, float | None]] = dict.fromkeys(("connect", "read", "write", "pool"))


class _Own:
    """What :class:`OwnClient` and :class:`OwnAsyncClient` work out once, not per request: the
    headers of a request (the client's with ``Accept-Encoding``), its timeouts while the scope
    leaves more time than they are."""

    headers: httpx.Headers
    timeout: httpx.Timeout
    _own_headers: dict[bool, httpx.Headers]

    def own_setup(self) -> None:
        self._own_headers = {}
        for decode, coding in ((True, ACCEPT_ENCODING), (False, "identity")):
            headers = self._own_headers[decode] = self.headers.copy()
            headers["Accept-Encoding"] = coding
        self._own_timeouts = self.timeout.as_dict()
        self._own_get_headers: dict[tuple[bool, bytes], httpx.Headers] = {}

    def own_headers(self, request: Fetch) -> httpx.Headers:
        headers = self._own_headers[request.decode]
        if request.headers:
            headers = headers.copy()
            headers.update(request.headers)
        return headers

    def own_get_headers(self, request: Fetch, url: httpx.URL) -> httpx.Headers:
        """The headers of a GET with ``Host`` first, as httpx.Request() puts it (kept per host
        when the request adds none of its own: a bulk run meets a few SMP hosts again and
        again)."""
        key = (request.decode, url.netloc)
        found = None if request.headers else self._own_get_headers.get(key)
        if found is None:
            found = httpx.Headers([(b"Host", key[1]), *self.own_headers(request).raw])
            if not request.headers:
                if len(self._own_get_headers) >= 1024:  # a survey of many hosts: start over
                    self._own_get_headers.clear()
                self._own_get_headers[key] = found
        return found

    def own_timeouts(self) -> dict[str, float | None]:
        """Within a deadline, an async request ends at it by :func:`afetch`'s timeout, pool
        waits included: it needs no timeouts of its own (each one a timer aiohttp would reset on
        every chunk read). The sync transport bounds each socket operation by the deadline, but
        waits for the pool by these: shortened to what is left."""
        remaining = left()
        if isinstance(self, OwnAsyncClient):
            return self._own_timeouts if remaining is None else _NO_TIMEOUTS
        if remaining is None:
            return self._own_timeouts
        remaining = max(remaining, _LEAST_WAIT)
        return {kind: _shortened(value, remaining) for kind, value in self._own_timeouts.items()}


class OwnClient(_Own, httpx.Client):
    """The ``httpx.Client`` :func:`client` makes: to everyone else an ``httpx.Client`` like any;
    :func:`fetch` hands its requests straight to its transport. What the client object adds -
    cookies, authentication, redirects, event hooks, proxies mounted from the environment - is
    all what peppolnet turns off, and cost more CPU than the transport itself (~80 us of ~330 us
    per async GET, benchmarks/bench_http.py)."""

    def __init__(self, transport: httpx.BaseTransport, **options: Any) -> None:
        super().__init__(transport=transport, **options)
        self.own_transport = transport
        self.own_setup()


class OwnAsyncClient(_Own, httpx.AsyncClient):
    """The async twin of :class:`OwnClient`."""

    def __init__(self, transport: httpx.AsyncBaseTransport, **options: Any) -> None:
        super().__init__(transport=transport, **options)
        self.own_transport = transport
        self.own_setup()


def _send(client: httpx.Client, request: Fetch) -> httpx.Response:
    prepared = _request(client, request)
    if isinstance(client, OwnClient):
        response = client.own_transport.handle_request(prepared)
        response.request = prepared
        return response
    # a client of the caller's: its own send (its hooks, auth, cookies), never its redirects
    return client.send(prepared, stream=True, follow_redirects=False)


async def _asend(client: httpx.AsyncClient, request: Fetch) -> httpx.Response:
    prepared = _request(client, request)
    if isinstance(client, OwnAsyncClient):
        response = await client.own_transport.handle_async_request(prepared)
        response.request = prepared
        return response
    return await client.send(prepared, stream=True, follow_redirects=False)


def fetch(client: httpx.Client, request: Fetch) -> Answer:
    """Perform ``request`` with ``client`` within the current scope; :class:`HttpFault` when no
    usable answer came (any status is an answer: what it means is the caller's to say).

    Redirects are never followed, even by a client of the caller's that would: where peppolnet
    follows one (a CRL's), its own logic decides. Every fetch is logged (:func:`_logged`).
    """
    started = time.perf_counter()
    try:
        answer = _fetch(client, request)
    except HttpFault as fault:
        _logged(request.url, started, fault=fault)
        raise
    _logged(request.url, started, answer=answer)
    return answer


async def afetch(client: httpx.AsyncClient, request: Fetch) -> Answer:
    """The async twin of :func:`fetch`; the scope's deadline ends the request wherever it is."""
    started = time.perf_counter()
    try:
        answer = await _afetch(client, request)
    except HttpFault as fault:
        _logged(request.url, started, fault=fault)
        raise
    _logged(request.url, started, answer=answer)
    return answer


def _fetch(client: httpx.Client, request: Fetch) -> Answer:
    try:
        response = _send(client, request)
        try:
            if (observer := _observe.current()) is not None:
                observer.http_response(response)
            reader = _Reader(request, response)
            if not reader.body.truncated:
                for chunk in _cut(response.iter_raw()):
                    if not reader.add(chunk):
                        break
            return reader.answer()
        finally:
            response.close()
    except httpx.HTTPError as exc:
        raise _fault(exc) from exc
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise HttpFault("url", message_of(exc)) from exc


async def _afetch(client: httpx.AsyncClient, request: Fetch) -> Answer:
    try:
        async with asyncio.timeout(left()):
            response = await _asend(client, request)
            try:
                if (observer := _observe.current()) is not None:
                    observer.http_response(response)
                reader = _Reader(request, response)
                if not reader.body.truncated:
                    async for chunk in response.aiter_raw():
                        if not reader.add(chunk):
                            break
                return reader.answer()
            finally:
                await response.aclose()
    except TimeoutError as exc:
        raise HttpFault("timeout", _("no complete answer before the deadline")) from exc
    except httpx.HTTPError as exc:
        raise _fault(exc) from exc
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise HttpFault("url", message_of(exc)) from exc


# --- what the logs show -------------------------------------------------------------------------

_SHOWN_MAX: Final = 300
# an e-mail address, plain or percent-encoded, as it could stand in a path segment
_EMAIL: Final = re.compile(r"[^/@?#;=&]+(?:@|%40)[^/@?#;=&]+", re.IGNORECASE)


def shown(url: str) -> str:
    """``url`` as the logs show it: host and path only. No credentials, no query string (a
    Directory search's names people and companies), no e-mail address (``***`` instead).

    >>> shown("https://user:pw@smp.example:8443/a/b?name=Anna#x")
    'smp.example:8443/a/b'
    >>> shown("http://desk.example/requests/anna%40example.se")
    'desk.example/requests/***'
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "(a malformed URL)"
    host = parts.netloc.rpartition("@")[2]
    path = (
        _EMAIL.sub("***", parts.path)
        if "@" in parts.path or "%40" in parts.path.upper()
        else parts.path
    )
    return f"{host}{path}"[:_SHOWN_MAX]


def _logged(
    url: str, started: float, *, answer: Answer | None = None, fault: HttpFault | None = None
) -> None:
    """Log one fetch: at DEBUG its host and path, status, body bytes and time; at WARNING a
    fault (no usable answer) or a 5xx answer, which every peppolnet client treats as one."""
    if fault is not None:
        if _log.isEnabledFor(logging.WARNING):
            ms = (time.perf_counter() - started) * 1000
            _log.warning(
                "%s: no answer (%s: %s) after %.1f ms", shown(url), fault.kind, fault.detail, ms
            )
        return
    assert answer is not None
    level = logging.WARNING if answer.status >= 500 else logging.DEBUG
    if _log.isEnabledFor(level):
        ms = (time.perf_counter() - started) * 1000
        cut = ", cut at the size limit" if answer.truncated else ""
        _log.log(
            level,
            "%s -> HTTP %d, %d bytes%s, %.1f ms",
            shown(url),
            answer.status,
            len(answer.body),
            cut,
            ms,
        )


def retry_pause(
    policy: _retry.RetryPolicy,
    attempt: int,
    url: str,
    reason: str,
    budget: _retry.Budget | None = None,
) -> float | None:
    """After try ``attempt`` of ``url`` failed with a fault (``reason``, e.g. ``HTTP 503``): the
    pause before the next try, or None for no other try (:func:`peppolnet._retry.decide`, with
    the scope's deadline). Logged at DEBUG either way: the attempt, the reason, the pause - or
    why there is none."""
    pause, why_not = _retry.decide(policy, attempt, left(), budget)
    if _log.isEnabledFor(logging.DEBUG):
        if pause is None:
            _log.debug("%s: no retry after try %d (%s): %s", shown(url), attempt, reason, why_not)
        else:
            _log.debug(
                "%s: try %d of %d in %.2f s after %s",
                shown(url),
                attempt + 1,
                policy.attempts,
                pause,
                reason,
            )
    return pause


def _cut(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` until the scope's deadline: a client of the caller's does not know the
    deadline, so a body it hands over slowly is cut here, between chunks."""
    for chunk in chunks:
        yield chunk
        if expired():
            raise HttpFault("timeout", _("no complete answer before the deadline"))


def _fault(exc: httpx.HTTPError) -> HttpFault:
    """The one translation of httpx's errors (both transports raise those); the detail says
    the known causes in the catalog's words (:mod:`peppolnet._neterrors`)."""
    detail = describe(exc)
    if isinstance(exc, httpx.TimeoutException):
        return HttpFault("timeout", detail)
    if isinstance(exc, httpx.ConnectError | httpx.ProxyError):
        return HttpFault("connect", detail)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return HttpFault("url", detail)
    return HttpFault("broken", detail)


# --- our clients ----------------------------------------------------------------------------------

_LIMITS: Final = httpx.Limits(max_connections=512, max_keepalive_connections=512)


def _client_options(
    timeout: float, headers: Mapping[str, str] | None, connect: float | None
) -> dict[str, Any]:
    return {
        "timeout": httpx.Timeout(timeout, connect=connect if connect is not None else timeout),
        "headers": headers,
        "follow_redirects": False,
        "trust_env": False,  # our transports read the environment's proxies themselves
    }


def client(
    verify: ssl.SSLContext | bool,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    connect: float | None = None,
    limits: httpx.Limits = _LIMITS,
) -> httpx.Client:
    """An ``httpx.Client`` on :class:`Transport` (``verify`` from :func:`peppolnet._tls.context`).

    Connections are kept alive (512 by default): a new TLS handshake costs more CPU than a lookup.
    """
    transport = Transport(verify=verify, limits=limits)
    return OwnClient(transport, **_client_options(timeout, headers, connect))


def async_transport(
    verify: ssl.SSLContext | bool, limits: httpx.Limits = _LIMITS
) -> httpx.AsyncBaseTransport:
    """The async transport (aiohttp's, :mod:`peppolnet._aio`), for :func:`async_client`.

    Closing it (``aclose``) closes the running loop's connections and leaves it usable - on the
    next loop too - where closing the ``httpx.AsyncClient`` around it would end the client.
    """
    # imported here: aiohttp takes ~80 ms to import, which sync users should not pay
    from peppolnet._aio import AioTransport

    return AioTransport(verify=verify, limits=limits)


def async_client(
    verify: ssl.SSLContext | bool,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    connect: float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The async twin of :func:`client`: an ``httpx.AsyncClient`` on aiohttp's transport."""
    transport = transport or async_transport(verify)
    return OwnAsyncClient(transport, **_client_options(timeout, headers, connect))


# --- proxies from the environment -----------------------------------------------------------------

# NO_PROXY as urllib reads it (public, though typeshed does not list it)
_bypass: Callable[[str, Mapping[str, str]], bool] = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP(S) proxy: ``url`` without credentials, which are in ``auth``."""

    url: str
    scheme: str
    host: str
    port: int | None
    auth: tuple[str, str] | None


class Proxies:
    """The environment's proxies, read once (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` /
    ``NO_PROXY``, as urllib and httpx read them); the proxy of each scheme and host is worked out
    once, so a bulk run pays for it once per SMP, not per request."""

    def __init__(self, environment: Mapping[str, str] | None = None) -> None:
        self.environment = dict(
            urllib.request.getproxies_environment() if environment is None else environment
        )
        self._chosen: dict[tuple[str, str], Proxy | None] = {}

    def hosts(self) -> frozenset[str]:
        """The proxies' own host names: connections to them are not checked against a policy."""
        found = set()
        for name, value in self.environment.items():
            if name != "no":
                host = urllib.parse.urlsplit(value if "://" in value else "http://" + value)
                if host.hostname:
                    found.add(host.hostname.lower())
        return frozenset(found)

    def choose(self, scheme: str, host: str) -> Proxy | None:
        """The proxy for ``scheme://host``, or None (no proxy, or ``NO_PROXY`` names the host);
        ``httpx.UnsupportedProtocol`` for a proxy that is not HTTP(S), e.g. SOCKS."""
        key = (scheme, host)
        if key not in self._chosen:
            self._chosen[key] = self._choose(scheme, host)
        return self._chosen[key]

    def _choose(self, scheme: str, host: str) -> Proxy | None:
        proxy = self.environment.get(scheme.lower()) or self.environment.get("all")
        if not proxy or _bypass(host, self.environment):
            return None
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            shown = parts.hostname or proxy.rsplit("@", 1)[-1]
            raise httpx.UnsupportedProtocol(
                _(
                    "the proxy {shown} from the environment is not an HTTP(S) proxy",
                    shown=repr(shown),
                )
            )
        auth = None
        if parts.username is not None:
            auth = (
                urllib.parse.unquote(parts.username),
                urllib.parse.unquote(parts.password or ""),
            )
        where = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        url = f"{parts.scheme.lower()}://{where}"
        return Proxy(url, parts.scheme.lower(), parts.hostname, parts.port, auth)


# --- the sync transport: own connections or httpcore pools, on a guarded network backend ---------


def _unique(infos: Iterable[tuple[Any, ...]]) -> list[IPAddress]:
    found: dict[IPAddress, None] = {}
    for info in infos:
        found.setdefault(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]), None)
    return list(found)


def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return _unique(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(
            _("cannot resolve {host}: {exc}", host=host, exc=str(exc))
        ) from exc


class _Peer:
    """The address a connection reached, checked again before every request sent on it: a
    connection kept alive from a request under a wider policy must not serve a narrower one."""

    def __init__(self, stream: httpcore.NetworkStream | None, host: str) -> None:
        self.address: IPAddress | None = None
        self.host = host
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        with contextlib.suppress(ValueError):
            if peer:
                self.address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])

    def check(self) -> None:
        policy = _CURRENT.get().destinations
        if policy is not None and self.address is not None:
            policy.check_address(self.address, self.host)


class _Stream(httpcore.NetworkStream):
    """A connection whose every operation ends by the scope's deadline; after ``start_tls``,
    it also knows how long its handshake took (``get_extra_info(_tls.HANDSHAKE)``, for a
    trace: two clock readings per new connection, nothing per request)."""

    def __init__(
        self,
        inner: httpcore.NetworkStream,
        peer: _Peer,
        handshake: tuple[float, float] | None = None,
    ) -> None:
        self._inner = inner
        self._peer = peer
        self._handshake = handshake

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:  # httpcore's end of a request without a body: nothing is sent
            return
        self._peer.check()
        self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        began = time.perf_counter()
        inner = self._inner.start_tls(ssl_context, server_hostname, capped)
        ended = time.perf_counter()
        return _Stream(inner, self._peer, (ended, ended - began))

    def get_extra_info(self, info: str) -> Any:
        if info == _tls.HANDSHAKE:
            return self._handshake
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """Connects only to addresses the scope's policy allows, each step within its deadline
    (``check=False`` for the connection to a proxy)."""

    def __init__(self, *, check: bool) -> None:
        self._inner = httpcore.SyncBackend()
        self._check = check

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        policy = _CURRENT.get().destinations if self._check else None
        targets = [host]
        if policy is not None:  # every address of the name must pass; then exactly those are used
            addresses = _addresses(host, port)
            if (observer := _observe.current()) is not None:
                observer.resolved(host, port, addresses)
            policy.check_addresses(addresses, host)
            targets = [str(address) for address in addresses]
        failure: Exception = httpcore.ConnectError(_("{host} has no address", host=host))
        for target in targets:
            try:
                timeout = _capped(timeout, httpcore.ConnectTimeout)
                stream = self._inner.connect_tcp(
                    target, port, timeout, local_address, socket_options
                )
                return _Stream(stream, _Peer(stream if self._check else None, host))
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure


# httpcore's exceptions and httpx's have the same names; httpx's transport maps one to the other.
_ERRORS: Final[Mapping[type[Exception], type[httpx.TransportError]]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.NetworkError: httpx.NetworkError,
}


@contextlib.contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for kind in type(exc).__mro__:
            if kind in _ERRORS:
                raise _ERRORS[kind](message_of(exc), request=request) from exc
        raise


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        with _mapped(self._request):
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if callable(close):
            close()


class Transport(httpx.BaseTransport):
    """An httpx transport: requests straight to the origin on peppolnet's own HTTP/1.1
    connections (:mod:`peppolnet._http11`, a fraction of httpcore's CPU per request), through a
    proxy the environment names - or with a streamed body, or a HEAD - on httpcore pools; both
    on the guarded backend (see the module notes).

    ``verify`` as httpx's (True, False or an :class:`ssl.SSLContext`); ``limits`` the pool sizes.
    """

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None):
        from peppolnet._http11 import Pool

        limits = limits or httpx.Limits()
        context = httpx.create_ssl_context(verify=verify)
        context.set_alpn_protocols(["http/1.1"])
        self._options: dict[str, Any] = {
            "ssl_context": context,
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
        }
        self._proxies = Proxies()
        backend = _Backend(check=True)
        self._direct = httpcore.ConnectionPool(network_backend=backend, **self._options)
        keep = limits.max_keepalive_connections
        self._own = Pool(
            lambda host, port, timeout: backend.connect_tcp(host, port, timeout),
            context,
            keep=keep if keep is not None else 1 << 30,
            expiry=limits.keepalive_expiry,
            most=limits.max_connections,
        )
        self._proxied: dict[Proxy, httpcore.HTTPProxy] = {}
        self._lock = threading.Lock()

    def _pool(self, request: httpx.Request) -> httpcore.ConnectionPool:
        proxy = self._proxies.choose(request.url.scheme, request.url.host)
        if proxy is None:
            return self._direct
        with self._lock:  # threads share a sync client: one pool per proxy, never two
            if proxy not in self._proxied:
                url = httpcore.URL(
                    scheme=proxy.scheme.encode(),
                    host=proxy.host.encode("idna"),
                    port=proxy.port,
                    target=b"/",
                )
                auth = None if proxy.auth is None else tuple(p.encode() for p in proxy.auth)
                self._proxied[proxy] = httpcore.HTTPProxy(
                    proxy_url=url,
                    proxy_auth=auth,  # type: ignore[arg-type]
                    network_backend=_Backend(check=False),
                    **self._options,
                )
            return self._proxied[proxy]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        if (
            isinstance(request.stream, httpx.ByteStream)
            and request.method != "HEAD"
            and self._proxies.choose(request.url.scheme, request.url.host) is None
        ):
            return self._own_request(request)
        with _mapped(request):
            core = httpcore.Request(
                method=request.method,
                url=httpcore.URL(
                    scheme=request.url.raw_scheme,
                    host=request.url.raw_host,
                    port=request.url.port,
                    target=request.url.raw_path,
                ),
                headers=request.headers.raw,
                content=request.stream,
                extensions=request.extensions,
            )
            response = self._pool(request).handle_request(core)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream, request),
            extensions=response.extensions,
        )

    def _own_request(self, request: httpx.Request) -> httpx.Response:
        """``request`` on :mod:`peppolnet._http11`'s connections (known body bytes, no proxy)."""
        if request.url.raw_scheme not in (b"http", b"https"):
            raise httpx.UnsupportedProtocol(
                _(
                    "Request URL has an unsupported protocol '{scheme}://'.",
                    scheme=request.url.scheme,
                )
            )
        with _mapped(request):
            content = b"".join(request.stream)  # type: ignore[arg-type]
            head, body, stream = self._own.handle(request, content)
        return httpx.Response(
            status_code=head.status,
            headers=head.headers,
            stream=_Body(body, request),
            extensions={
                "http_version": head.version,
                "reason_phrase": head.reason,
                "network_stream": stream,
            },
        )

    def close(self) -> None:
        self._own.close()
        with self._lock:
            pools: list[httpcore.ConnectionPool] = [self._direct, *self._proxied.values()]
        for pool in pools:
            pool.close()
