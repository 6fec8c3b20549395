"""Directory search clients, sync and async twins over one pure core.

Good manners towards the public service are built in, not left to the caller:

* a client-side rate limit (2 requests/second by default, the production limit, Peppol Directory
REST API documentation), so
  a loop over many customers never provokes HTTP 429 in the first place;
* HTTP 429 answers are honoured: the client waits ``Retry-After`` seconds and tries again, at
  most ``max_retries_429`` times, then raises :class:`~peppolnet.errors.DirectoryRateLimited`;
* faults - no answer within ``timeout``, no connection, HTTP 5xx - are tried again as an SMP
  request is: the one retry policy (``retry``, a :class:`peppolnet.RetryPolicy`; three tries
  with jittered back-off by default) and one retry budget for a whole search, however many
  pages it reads (a budget open around the call, a lookup's, counts instead);
* the 1000-result cap: iteration stops at the last page the Directory will serve and says so
  (``SearchResult.truncated``) instead of provoking a 400;
* queries are checked before sending (3-character minimums, identifiers, paging).

Clock and sleep are injectable so that tests of the timing are exact and instant. The paging,
rate-limit and 429 logic is written once, sans-I/O (:meth:`_Base._page_steps` yields the pauses
and requests, :class:`_Pager` decides the pages); the sync and async clients only perform what it
asks, with :mod:`peppolnet._http` (its limits, deadlines and error mapping).
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Final, Protocol, Self, TypeAlias, Unpack

import httpx

from peppolnet import _http, _retry
from peppolnet._tls import context
from peppolnet.clock import Clock, as_clock
from peppolnet.directory.model import MAX_RESULTS, DirectoryMatch, SearchPage
from peppolnet.directory.parse import MAX_RESPONSE_BYTES, parse_search_response
from peppolnet.directory.query import SearchFields, SearchQuery, check_page
from peppolnet.errors import (
    DirectoryError,
    DirectoryQueryError,
    DirectoryRateLimited,
    InvalidInput,
)
from peppolnet.i18n import _
from peppolnet.identifiers import ParticipantId

__all__ = [
    "PRODUCTION_URL",
    "TEST_URL",
    "AsyncDirectoryClient",
    "AsyncSearchResult",
    "DirectoryClient",
    "SearchResult",
]

PRODUCTION_URL: Final = "https://directory.peppol.eu"
TEST_URL: Final = "https://test-directory.peppol.eu"
SEARCH_PATH: Final = "/search/1.0/"
#: Used when a 429 carries no usable Retry-After (the production Directory sends 2).
DEFAULT_RETRY_AFTER: Final = 2.0
#: A Retry-After longer than this is not waited for: the error is raised at once.
MAX_RETRY_AFTER: Final = 60.0
ITER_PAGE_SIZE: Final = 100

_Params: TypeAlias = list[tuple[str, str]]  # a search's query parameters
_Budget: TypeAlias = "_retry.Budget | None"  # the retries a search may still make
Confirm = Callable[[ParticipantId], bool | None]
AsyncConfirm = Callable[[ParticipantId], "bool | Awaitable[bool | None] | None"]


class _NetworkLike(Protocol):
    """What :meth:`DirectoryClient.for_network` needs of a :class:`peppolnet.network.Network`."""

    @property
    def directory_url(self) -> str | None: ...

    @property
    def tls_verify(self) -> str | bool: ...


# --- pure core -----------------------------------------------------------------------------------


class RateLimiter:
    """Spaces requests at least ``1/rate`` seconds apart; thread-safe, clock injected.

    :meth:`reserve` books the next slot and returns how long to wait before using it, so the
    sync and async shells share one rule and differ only in how they sleep.
    """

    def __init__(self, rate: float | None, clock: Clock | None = None) -> None:
        if rate is not None and rate <= 0:
            raise InvalidInput(
                _("the rate limit must be positive (requests/second), got {rate}", rate=rate)
            )
        self.interval = 1.0 / rate if rate else 0.0
        self._clock = as_clock(clock).monotonic
        self._next = -math.inf
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
            return start - now

    def push_back(self, seconds: float) -> None:
        """Nothing may be sent for ``seconds`` (after a 429 the whole client waits)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True, slots=True)
class _Retry:
    after: float


def interpret(
    status: int, headers: httpx.Headers, body: bytes, fmt: str, url: str
) -> SearchPage | _Retry:
    """Map one HTTP answer to a page, a request to retry later, or a peppolnet error."""
    if status == 200:
        return parse_search_response(body, fmt)
    detail = body[:300].decode("utf-8", "replace").strip()
    if status == 429:
        after = parse_retry_after(headers.get("retry-after"))
        return _Retry(DEFAULT_RETRY_AFTER if after is None else after)
    if status == 400:
        raise DirectoryQueryError(
            _("the Directory refused the query: {value}", value=detail or "HTTP 400")
        )
    if status >= 500:
        raise DirectoryError(
            _(
                "the Directory at {url} answered HTTP {status}: {detail}",
                url=url,
                status=status,
                detail=detail,
            )
        )
    raise DirectoryError(
        _(
            "the Directory at {url} answered HTTP {status} (is this a Peppol Directory?): {detail}",
            url=url,
            status=status,
            detail=detail,
        ),
        retryable=False,
    )


def _confirmed(page: SearchPage, confirm: Confirm | None) -> SearchPage:
    if confirm is None:
        return page
    return replace(
        page, matches=tuple(replace(m, confirmed=confirm(m.participant)) for m in page.matches)
    )


async def _aconfirmed(page: SearchPage, confirm: AsyncConfirm | None) -> SearchPage:
    if confirm is None:
        return page
    matches = []
    for m in page.matches:
        answer = confirm(m.participant)
        if inspect.isawaitable(answer):
            answer = await answer
        matches.append(replace(m, confirmed=answer))
    return replace(page, matches=tuple(matches))


def _pages_allowed(page_size: int) -> int:
    """How many pages of ``page_size`` the Directory serves before the cap (last index <= 1000)."""
    return (MAX_RESULTS + 1) // page_size


class _Pager:
    """The iteration rule shared by both twins: which page next, when to stop, what to yield.

    A participant can straddle two pages (pages cut the *entity* list); the last match of each
    page is held back until the next page shows whether it continues there.
    """

    def __init__(self, page_size: int, limit: int | None) -> None:
        check_page(0, page_size)
        if limit is not None and limit < 0:
            raise DirectoryQueryError(_("the limit must be 0 or more, got {limit}", limit=limit))
        self.page_size = page_size
        self.limit = limit
        self.next_page = 0
        self.pending: DirectoryMatch | None = None
        self.yielded = 0
        self.done = limit == 0
        self.truncated = False
        self.total: int | None = None

    def feed(self, page: SearchPage) -> list[DirectoryMatch]:
        """Take one page; return matches ready to yield; sets ``done``/``truncated``."""
        self.total = page.total
        out: list[DirectoryMatch] = []
        matches = list(page.matches)
        if (
            self.pending is not None
            and matches
            and matches[0].participant == self.pending.participant
        ):
            matches[0] = self.pending.merged(matches[0])
            self.pending = None
        if self.pending is not None:
            out.append(self.pending)
            self.pending = None
        seen = (self.next_page + 1) * self.page_size
        self.next_page += 1
        finished = page.used < self.page_size or seen >= page.total or not matches
        if finished:
            out.extend(matches)
            self.done = True
        else:
            out.extend(matches[:-1])
            self.pending = matches[-1]
            if self.next_page >= _pages_allowed(self.page_size):
                out.append(self.pending)
                self.pending = None
                self.done = True
                self.truncated = True
        if self.limit is not None and self.yielded + len(out) >= self.limit:
            out = out[: self.limit - self.yielded]
            self.done = True
            self.pending = None
        self.yielded += len(out)
        return out


class _Result:
    """What both search results share: the pager's findings, and iteration only once."""

    def __init__(self, pager: _Pager) -> None:
        self._pager = pager
        self._started = False

    @property
    def truncated(self) -> bool:
        return self._pager.truncated

    @property
    def total(self) -> int | None:
        return self._pager.total

    def _start(self) -> _Pager:
        if self._started:
            raise DirectoryQueryError(_("a search result can be iterated only once; search again"))
        self._started = True
        return self._pager


class SearchResult(_Result):
    """The matches of :meth:`DirectoryClient.iter_search`, fetched page by page as iterated.

    After iteration, ``truncated`` is True if the Directory's 1000-result cap stopped it before
    every match was seen, and ``total`` is the Directory's count of matching entities.
    """

    def __init__(self, pages: Callable[[int, int], SearchPage], pager: _Pager) -> None:
        super().__init__(pager)
        self._pages = pages

    def __iter__(self) -> Iterator[DirectoryMatch]:
        pager = self._start()
        while not pager.done:
            yield from pager.feed(self._pages(pager.next_page, pager.page_size))


class AsyncSearchResult(_Result):
    """The async twin of :class:`SearchResult` (``async for``)."""

    def __init__(self, pages: Callable[[int, int], Awaitable[SearchPage]], pager: _Pager) -> None:
        super().__init__(pager)
        self._pages = pages

    async def _run(self, pager: _Pager) -> AsyncIterator[DirectoryMatch]:
        while not pager.done:
            for match in pager.feed(await self._pages(pager.next_page, pager.page_size)):
                yield match

    def __aiter__(self) -> AsyncIterator[DirectoryMatch]:
        return self._run(self._start())


# --- shells --------------------------------------------------------------------------------------


class _Base:
    def __init__(
        self,
        base_url: str,
        *,
        rate_limit: float | None,
        timeout: float,
        max_retries_429: int,
        verify: str | bool,
        clock: Clock | None,
        retry: _retry.RetryPolicy | None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidInput(
                _(
                    "the Directory URL must start with https:// (got {base_url})",
                    base_url=repr(base_url),
                )
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.verify = verify
        self.max_retries_429 = max_retries_429
        #: How faults (timeouts, no connection, 5xx) are tried again; one budget per search.
        self.retry = retry or _retry.DEFAULT
        self.limiter = RateLimiter(rate_limit, clock)
        #: How many HTTP requests this client has sent (tests and progress displays read it).
        self.requests_sent = 0

    @classmethod
    def for_network(cls, network: _NetworkLike, **kwargs: object) -> Self:
        """A client for the Directory of ``network`` (production, test, or a sandbox)."""
        if not network.directory_url:
            raise InvalidInput(
                _("the network {network} has no Peppol Directory", network=repr(network))
            )
        return cls(network.directory_url, verify=network.tls_verify, **kwargs)  # type: ignore[arg-type]

    def _url(self, fmt: str) -> str:
        if fmt not in ("json", "xml"):
            raise DirectoryQueryError(
                _("the result format must be 'json' or 'xml', not {fmt}", fmt=repr(fmt))
            )
        return f"{self.base_url}{SEARCH_PATH}{fmt}"

    def _give_up(self, retry: _Retry) -> DirectoryRateLimited:
        return DirectoryRateLimited(
            _(
                "the Directory at {base_url} keeps answering HTTP 429 (too many requests); try "
                "again in {after} seconds",
                base_url=self.base_url,
                after=format(retry.after, "g"),
            ),
            retry_after=retry.after,
        )

    def _should_retry(self, retry: _Retry, attempt: int) -> bool:
        return attempt < self.max_retries_429 and retry.after <= MAX_RETRY_AFTER

    def _budget(self) -> _retry.Budget | None:
        """The retries one search may make over all its pages (a budget open around the call,
        a lookup's say, is the one that counts)."""
        return _retry.in_force(_retry.Budget(self.retry.retries))

    def _page_steps(
        self, url: str, params: _Params, fmt: str, budget: _Budget
    ) -> _http.Steps[SearchPage]:
        """One page, sans-I/O: wait for the rate limit's slot, GET, and after a 429 wait as the
        Directory asks (at most ``max_retries_429`` times, never longer than MAX_RETRY_AFTER).
        A fault - no answer in time, no connection, a 5xx - is tried again as the retry policy
        and ``budget`` allow, as an SMP request is."""
        waited = faults = 0
        while True:
            yield from self._slot()
            try:
                answer = yield _http.Fetch(url, MAX_RESPONSE_BYTES, params=tuple(params))
                result = interpret(answer.status, answer.headers, answer.body, fmt, url)
            except _http.HttpFault as fault:
                error, reason = self._fault(url, fault), fault.kind
            except DirectoryError as refused:
                if not refused.retryable:
                    raise
                error, reason = refused, f"HTTP {answer.status}"
            else:
                if isinstance(result, SearchPage):
                    return result
                if not self._should_retry(result, waited):
                    raise self._give_up(result)
                waited += 1  # a 429 is the Directory's pace, not a fault: it costs no try
                self.limiter.push_back(result.after)
                continue
            faults += 1
            pause = None
            if error.retryable:
                pause = _http.retry_pause(self.retry, faults, url, reason, budget)
            if pause is None:
                raise error
            yield _http.Pause(pause)

    def _slot(self) -> Iterator[_http.Step]:
        """Wait for the rate limit's next slot; count the request about to be sent."""
        wait = self.limiter.reserve()
        if wait > 0:
            yield _http.Pause(wait)
        self.requests_sent += 1

    def _fault(self, url: str, fault: _http.HttpFault) -> DirectoryError:
        """``timeout`` bounds a whole answer: a Directory trickling it cannot hold a search. An
        answer that cannot be read, or a URL that cannot be requested, is not tried again."""
        if fault.kind == "timeout":
            return DirectoryError(
                _(
                    "the Directory at {url} did not answer within {timeout} s",
                    url=url,
                    timeout=format(self.timeout, "g"),
                )
            )
        if fault.kind == "unreadable":
            return DirectoryError(
                _(
                    "the Directory at {url} sent an unreadable answer: {detail}",
                    url=url,
                    detail=fault.detail,
                ),
                retryable=False,
            )
        return DirectoryError(
            _("could not reach the Directory at {url}: {detail}", url=url, detail=fault.detail),
            retryable=fault.kind != "url",
        )


class DirectoryClient(_Base):
    """Search the Peppol Directory (``/search/1.0/json`` or ``/xml``).

    Pass your own ``httpx.Client`` to share connections; otherwise one is made and closed by
    :meth:`close` (or the ``with`` block).
    """

    def __init__(
        self,
        base_url: str = PRODUCTION_URL,
        *,
        client: httpx.Client | None = None,
        rate_limit: float | None = 2.0,
        timeout: float = 10.0,
        max_retries_429: int = 3,
        verify: str | bool = True,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry: _retry.RetryPolicy | None = None,
    ) -> None:
        super().__init__(
            base_url,
            rate_limit=rate_limit,
            timeout=timeout,
            max_retries_429=max_retries_429,
            verify=verify,
            clock=clock,
            retry=retry,
        )
        self._own = client is None
        self._http = client or _http.client(context(verify), timeout=timeout)
        self._sleep = sleep

    def close(self) -> None:
        if self._own:
            self._http.close()

    def __enter__(self) -> DirectoryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, url: str, params: _Params, fmt: str, budget: _Budget = None) -> SearchPage:
        steps = self._page_steps(url, params, fmt, budget)
        return _http.run(steps, self._perform, self._sleep)

    def _perform(self, request: _http.Fetch) -> _http.Answer:
        with _http.scope(seconds=self.timeout):
            return _http.fetch(self._http, request)

    def search(
        self,
        q: str | Sequence[str] | None = None,
        *,
        page: int = 0,
        page_size: int = 20,
        fmt: str = "json",
        confirm: Confirm | None = None,
        **fields: Unpack[SearchFields],
    ) -> SearchPage:
        """One page of results. ``confirm(pid)`` (a lookup) fills each match's ``confirmed``."""
        query = SearchQuery.build(q, **fields)
        url = self._url(fmt)
        found = self._get(url, query.params(page, page_size), fmt, self._budget())
        return _confirmed(found, confirm)

    def iter_search(
        self,
        q: str | Sequence[str] | None = None,
        *,
        limit: int | None = None,
        page_size: int = ITER_PAGE_SIZE,
        fmt: str = "json",
        confirm: Confirm | None = None,
        **fields: Unpack[SearchFields],
    ) -> SearchResult:
        """Every match, page after page, up to ``limit`` matches or the 1000-result cap.

        The query is checked now; pages are fetched while the result is iterated.
        """
        query = SearchQuery.build(q, **fields)
        url = self._url(fmt)
        budget = self._budget()  # one for every page of the search

        def fetch(index: int, size: int) -> SearchPage:
            return _confirmed(self._get(url, query.params(index, size), fmt, budget), confirm)

        return SearchResult(fetch, _Pager(page_size, limit))


class AsyncDirectoryClient(_Base):
    """The async twin of :class:`DirectoryClient`: same arguments, same answers, same errors."""

    def __init__(
        self,
        base_url: str = PRODUCTION_URL,
        *,
        client: httpx.AsyncClient | None = None,
        rate_limit: float | None = 2.0,
        timeout: float = 10.0,
        max_retries_429: int = 3,
        verify: str | bool = True,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        retry: _retry.RetryPolicy | None = None,
    ) -> None:
        super().__init__(
            base_url,
            rate_limit=rate_limit,
            timeout=timeout,
            max_retries_429=max_retries_429,
            verify=verify,
            clock=clock,
            retry=retry,
        )
        self._own = client is None
        self._http = client or _http.async_client(context(verify), timeout=timeout)
        self._sleep = sleep or asyncio.sleep

    async def aclose(self) -> None:
        if self._own:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncDirectoryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _get(self, url: str, params: _Params, fmt: str, budget: _Budget = None) -> SearchPage:
        steps = self._page_steps(url, params, fmt, budget)
        return await _http.arun(steps, self._perform, self._sleep)

    async def _perform(self, request: _http.Fetch) -> _http.Answer:
        with _http.scope(seconds=self.timeout):
            return await _http.afetch(self._http, request)

    async def search(
        self,
        q: str | Sequence[str] | None = None,
        *,
        page: int = 0,
        page_size: int = 20,
        fmt: str = "json",
        confirm: AsyncConfirm | None = None,
        **fields: Unpack[SearchFields],
    ) -> SearchPage:
        """One page of results; ``confirm`` may be a plain or an async function."""
        query = SearchQuery.build(q, **fields)
        url = self._url(fmt)
        found = await self._get(url, query.params(page, page_size), fmt, self._budget())
        return await _aconfirmed(found, confirm)

    def iter_search(
        self,
        q: str | Sequence[str] | None = None,
        *,
        limit: int | None = None,
        page_size: int = ITER_PAGE_SIZE,
        fmt: str = "json",
        confirm: AsyncConfirm | None = None,
        **fields: Unpack[SearchFields],
    ) -> AsyncSearchResult:
        """Every match (``async for``), up to ``limit`` or the 1000-result cap."""
        query = SearchQuery.build(q, **fields)
        url = self._url(fmt)
        budget = self._budget()  # one for every page of the search

        async def fetch(index: int, size: int) -> SearchPage:
            found = await self._get(url, query.params(index, size), fmt, budget)
            return await _aconfirmed(found, confirm)

        return AsyncSearchResult(fetch, _Pager(page_size, limit))
