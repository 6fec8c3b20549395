"""Client CPU per HTTPS GET: peppolnet's sync and async SMP clients and the raw libraries.

``python benchmarks/bench_http.py [--quick] [--json]`` (from the repository root, peppolnet on
``PYTHONPATH`` or installed). The sandbox runs in a child process (``_sandbox_proc.py``), so only
the client's CPU is counted: ``time.process_time()`` of this process, all threads, over ``N`` GETs
of distinct signed ServiceMetadata documents at concurrency 32, TLS, keep-alive (connections are
opened in a warm-up round first). Every mode runs in the same process, interleaved over several
rounds (the median is reported), so the figures are comparable with one another:

* ``aiohttp`` - a bare ``aiohttp.ClientSession``: the floor for the async path;
* ``httpx-async`` - a bare ``httpx.AsyncClient`` on its own (httpcore) transport;
* ``httpx-aiohttp`` - ``httpx.AsyncClient`` on the ``httpx-aiohttp`` package's transport (only
  where that package is installed);
* ``smp-async`` - ``AsyncSmpClient.fetch`` as a lookup uses it (limits, deadline, policy), its
  GETs on peppolnet's own connections (:mod:`peppolnet._aio11`); ``smp-async-aiohttp`` - the
  same with every GET on the aiohttp transport (as before ``_aio11``, and as proxied requests
  still go), for the same-run ratio of the two;
* ``smp-sync`` - ``SmpClient.fetch`` shared by 32 threads; ``smp-sync-seq`` - the same, one
  request at a time.

The fetch modes run whatever peppolnet is imported, so the same script measures a change: run it
on both trees (``PYTHONPATH=src``) and compare each mode's ratio to ``aiohttp`` of its own run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SandboxProc, sandbox

CONCURRENCY = 32


def metadata_urls(sb: SandboxProc, count: int) -> list[str]:
    """The ServiceMetadata URLs of ``count`` distinct participants (DNS asked before measuring)."""
    from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
    from peppolnet.sml import SmlResolver
    from peppolnet.smp.urls import service_metadata_url

    network = sb.network()
    resolver = SmlResolver.for_network(network)
    urls = []
    for bare in sb.participants[:count]:
        pid = ParticipantId.parse(bare)
        answer = resolver.resolve(pid)
        urls.append(service_metadata_url(answer.smp_url, pid, BIS_BILLING_INVOICE))
    return urls


async def _gather(fetch: Callable[[str], Any], urls: list[str]) -> int:
    gate = asyncio.Semaphore(CONCURRENCY)
    sizes = 0

    async def one(url: str) -> None:
        nonlocal sizes
        async with gate:
            sizes += len(await fetch(url))

    await asyncio.gather(*(one(url) for url in urls))
    return sizes


class _AsyncMode:
    """An async client made and closed on the running loop; ``fetch(url) -> body``."""

    def __init__(self, name: str, sb: SandboxProc) -> None:
        self.name = name
        self.sb = sb

    async def __aenter__(self) -> Callable[[str], Any]:
        import ssl

        ctx = ssl.create_default_context(cafile=self.sb.info["tls_ca"])
        if self.name == "aiohttp":
            import aiohttp

            self.closer = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=512))

            async def fetch(url: str) -> bytes:
                async with self.closer.get(url) as response:
                    return await response.read()

            return fetch
        if self.name in ("httpx-async", "httpx-aiohttp"):
            import httpx

            transport = None
            if self.name == "httpx-aiohttp":
                import httpx_aiohttp

                transport = httpx_aiohttp.AiohttpTransport(
                    verify=ctx, limits=httpx.Limits(max_connections=512)
                )
            limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
            self.closer = httpx.AsyncClient(verify=ctx, transport=transport, limits=limits)

            async def fetch(url: str) -> bytes:
                return (await self.closer.get(url)).content

            return fetch
        from peppolnet.smp.client import AsyncSmpClient

        self.closer = AsyncSmpClient(self.sb.network())
        return self.closer.fetch  # type: ignore[no-any-return]

    async def __aexit__(self, *exc: object) -> None:
        close = getattr(self.closer, "aclose", None) or self.closer.close
        await close()


def measure_async(name: str, sb: SandboxProc, urls: list[str], warm: list[str]) -> float:
    async def run() -> float:
        async with _AsyncMode(name, sb) as fetch:
            await _gather(fetch, warm)
            cpu = time.process_time()
            await _gather(fetch, urls)
            return time.process_time() - cpu

    if name != "smp-async-aiohttp":
        return asyncio.run(run()) / len(urls) * 1e6
    from peppolnet import _aio11

    own = _aio11.handles
    _aio11.handles = lambda request: False  # every request to aiohttp, as before _aio11
    try:
        return asyncio.run(run()) / len(urls) * 1e6
    finally:
        _aio11.handles = own


def measure_sync(name: str, sb: SandboxProc, urls: list[str], warm: list[str]) -> float:
    from peppolnet.smp.client import SmpClient

    with SmpClient(sb.network()) as client:
        if name == "smp-sync-seq":
            for url in warm[:4]:
                client.fetch(url)
            cpu = time.process_time()
            for url in urls:
                client.fetch(url)
            return (time.process_time() - cpu) / len(urls) * 1e6
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(client.fetch, warm))
            cpu = time.process_time()
            list(pool.map(client.fetch, urls))
            return (time.process_time() - cpu) / len(urls) * 1e6


def modes() -> list[str]:
    names = ["aiohttp", "httpx-async", "smp-async", "smp-async-aiohttp", "smp-sync", "smp-sync-seq"]
    try:
        import httpx_aiohttp  # noqa: F401
    except ImportError:
        return names
    return [*names[:2], "httpx-aiohttp", *names[2:]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer GETs and rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--only", help="comma-separated modes")
    args = parser.parse_args()
    count, rounds = (600, 3) if args.quick else (1500, 5)
    names = args.only.split(",") if args.only else modes()
    samples: dict[str, list[float]] = {name: [] for name in names}
    with sandbox(count + 2 * CONCURRENCY, smps=4) as wait:
        sb = wait()
        sb.set_latency(0.0)
        urls = metadata_urls(sb, count + 2 * CONCURRENCY)
        warm, urls = urls[: 2 * CONCURRENCY], urls[2 * CONCURRENCY :]
        for _ in range(rounds):
            for name in names:
                measure = measure_async if not name.startswith("smp-sync") else measure_sync
                samples[name].append(measure(name, sb, urls, warm))
    figures = {name: statistics.median(values) for name, values in samples.items()}
    if args.json:
        print(json.dumps({"us_per_get": figures, "samples": samples, "n": count}))
        return 0
    floor = figures.get("aiohttp")
    print(f"client CPU per HTTPS GET ({count} GETs, c={CONCURRENCY}, median of {rounds}):")
    for name, value in figures.items():
        ratio = f"  {value / floor:5.2f}x aiohttp" if floor else ""
        print(f"  {name:14} {value:8.0f} us{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
