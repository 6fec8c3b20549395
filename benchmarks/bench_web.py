"""The support page's cost: pages per second for a cached result page, and the server-side
overhead of a lookup page over the lookup itself, with 50 concurrent clients.

``python benchmarks/bench_web.py [--quick] [--json]`` (from the repository root, peppolnet and
the web extra importable). The sandbox runs in a child process (``_sandbox_proc.py``), so only
this process's CPU counts (``time.process_time()``). The app is called as ASGI directly - a
scope, a receive and a send, no HTTP client - so what is measured is the server: routing,
middleware, the lookup or the cache, rendering.

* **cached page**: ``GET /search?q=<id>`` for one participant whose verdict the app keeps
  (``result_ttl``), 50 clients at once; pages per second of wall time and per CPU second.
* **lookup page overhead**: the same page for distinct participants with the cache off, beside
  ``AsyncLookup.check`` of the same participants on the app's own lookup, 50 at a time,
  interleaved over rounds (median). The difference in CPU per request is what the page adds to
  a lookup (target: under 10 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import sandbox

CLIENTS = 50


async def _get(app: Any, path: str, params: dict[str, str]) -> int:
    """One GET through the ASGI interface; the response status (the body is drained)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": urlencode(params).encode(),
        "headers": [(b"host", b"bench"), (b"accept-language", b"sv")],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _concurrently(jobs: list[Callable[[], Awaitable[Any]]]) -> tuple[float, float]:
    """Run ``jobs`` with at most CLIENTS at once; (wall seconds, CPU seconds)."""
    gate = asyncio.Semaphore(CLIENTS)

    async def one(job: Callable[[], Awaitable[Any]]) -> None:
        async with gate:
            await job()

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(job) for job in jobs))
    return time.perf_counter() - wall, time.process_time() - cpu


def _app(network: Any, ttl: float) -> Any:
    from peppolnet.web import WebSettings, create_app

    settings = WebSettings(
        lookups_per_minute=1e9, lookup_burst=10**9, result_ttl=ttl, secret_key="bench"
    )
    return create_app(network=network, settings=settings)


async def cached_page(network: Any, pid: str, requests: int) -> dict[str, float]:
    app = _app(network, ttl=3600.0)
    async with app.router.lifespan_context(app):
        assert await _get(app, "/search", {"q": pid}) == 200  # the verdict is now kept
        jobs = [lambda: _get(app, "/search", {"q": pid}) for _ in range(requests)]
        wall, cpu = await _concurrently(jobs)
    return {"pages_per_s": requests / wall, "pages_per_cpu_s": requests / cpu}


async def lookup_overhead(network: Any, ids: list[str], rounds: int) -> dict[str, float]:
    app = _app(network, ttl=0.0)
    state = app.state.peppolnet
    async with app.router.lifespan_context(app):
        lookup = state.require_lookup()

        def direct() -> list[Callable[[], Awaitable[Any]]]:
            return [lambda pid=pid: lookup.check(pid) for pid in ids]

        def pages() -> list[Callable[[], Awaitable[Any]]]:
            return [lambda pid=pid: _get(app, "/search", {"q": pid}) for pid in ids]

        await _concurrently(direct())  # warm: connections, the SML cache, TLS sessions
        await _concurrently(pages())
        lookups, pages_cpu = [], []
        for _ in range(rounds):
            lookups.append((await _concurrently(direct()))[1] / len(ids))
            pages_cpu.append((await _concurrently(pages()))[1] / len(ids))
    lookup_ms = statistics.median(lookups) * 1000
    page_ms = statistics.median(pages_cpu) * 1000
    return {"lookup_cpu_ms": lookup_ms, "page_cpu_ms": page_ms, "overhead_ms": page_ms - lookup_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    participants, requests, rounds = (100, 500, 3) if args.quick else (200, 2000, 5)
    with sandbox(participants) as sb:
        network = sb.network()
        ids = [str(pid) for pid in sb.participants]
        cached = asyncio.run(cached_page(network, ids[0], requests))
        overhead = asyncio.run(lookup_overhead(network, ids, rounds))
    result = {"clients": CLIENTS, "cached_page": cached, "lookup_page": overhead}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"support page, {CLIENTS} concurrent clients, ASGI called directly")
    print(
        f"  cached result page : {cached['pages_per_s']:8.0f} pages/s "
        f"({cached['pages_per_cpu_s']:.0f} per CPU second)"
    )
    print(
        f"  lookup page        : {overhead['page_cpu_ms']:8.2f} ms CPU per page, lookup alone "
        f"{overhead['lookup_cpu_ms']:.2f} ms: overhead {overhead['overhead_ms']:.2f} ms "
        "(target < 10 ms)"
    )


if __name__ == "__main__":
    main()
