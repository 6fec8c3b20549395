"""DNS client cost alone: queries per second and client CPU per query, sync and async.

Standalone (not part of ``run.py``): ``python benchmarks/bench_dns.py [--queries N] [--rounds R]``.
The nameserver is a child process that answers every query from a template (one NAPTR record,
the question copied from the query), so its CPU never counts against the client and it is fast
enough that the client is what is measured. Rows:

* ``sync ask``: :func:`peppolnet.dnsquery.ask`, one query after another (a socket per query).
* ``async ask c=C pool``: :func:`peppolnet.dnsquery.ask_async` with C queries in flight over the
  shared source-port pool (``POOL_SIZE`` sockets, rotated after ``ROTATE_AFTER`` queries or
  ``MAX_AGE`` seconds); ``pool, no age limit`` without ``MAX_AGE`` (as before it existed).
* ``async ask c=C fresh``: the same with ``ROTATE_AFTER = 1``: every query gets a fresh socket
  (a fresh random source port), closed after its reply - the alternative of issue 13.
* ``async resolve c=C``: :meth:`peppolnet.sml.AsyncSmlResolver.resolve` without cache (the DNS
  query plus the SML flow around it).

CPU is ``time.process_time()`` of this process (user + system): the client's cost per query.
Numbers of two trees are comparable only from the same machine at the same time; run the trees
alternately (``PYTHONPATH=... python benchmarks/bench_dns.py``) and compare ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

_RESPONDER = r"""
import socket, struct, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
regexp = b"!.*!https://smp.bench.example!"
rdata = struct.pack("!HH", 100, 10) + b"\x01U\x08Meta:SMP" + bytes([len(regexp)]) + regexp + b"\x00"
answer = b"\xc0\x0c" + struct.pack("!HHIH", 35, 1, 60, len(rdata)) + rdata
while True:
    data, addr = sock.recvfrom(2048)
    pos = 12
    while data[pos]:
        pos += data[pos] + 1
    question = data[12 : pos + 5]
    sock.sendto(data[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + answer, addr)
"""

ZONE = "participant.bench.example"


def _names(count: int) -> list[str]:
    from peppolnet.identifiers import ParticipantId
    from peppolnet.sml import naptr_name

    return [naptr_name(ParticipantId.parse(f"0088:{n:013d}"), ZONE) for n in range(count)]


def _measure(run: Callable[[], int]) -> tuple[float, float]:
    """(queries per second, client CPU microseconds per query) of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    done = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return done / wall, cpu / done * 1e6


def _sync_ask(port: int, names: list[str]) -> int:
    from peppolnet.dnsquery import ask
    from peppolnet.dnswire import NAPTR

    for name in names:
        ask(name, NAPTR, ("127.0.0.1",), port, 5.0, tcp=False)
    return len(names)


async def _bounded(jobs: list[Callable[[], Awaitable[Any]]], concurrency: int) -> int:
    queue = iter(jobs)
    done = 0

    async def worker() -> None:
        nonlocal done
        for job in queue:
            await job()
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


def _async_ask(port: int, names: list[str], concurrency: int, mode: str) -> int:
    import peppolnet.dnsquery as dnsquery
    from peppolnet.dnswire import NAPTR

    saved = dnsquery.ROTATE_AFTER, getattr(dnsquery, "MAX_AGE", None)
    if mode == "fresh":
        dnsquery.ROTATE_AFTER = 1  # type: ignore[misc]
    elif mode == "pool, no age limit":
        dnsquery.MAX_AGE = float("inf")  # type: ignore[misc]

    async def go() -> int:
        udp = dnsquery.UdpEndpoints()
        jobs = [
            (
                lambda n=name: dnsquery.ask_async(
                    n, NAPTR, ("127.0.0.1",), port, 5.0, tcp=False, udp=udp
                )
            )
            for name in names
        ]
        try:
            return await _bounded(jobs, concurrency)
        finally:
            await udp.aclose()

    try:
        return asyncio.run(go())
    finally:
        dnsquery.ROTATE_AFTER = saved[0]  # type: ignore[misc]
        if saved[1] is not None:
            dnsquery.MAX_AGE = saved[1]  # type: ignore[misc]


def _async_resolve(port: int, count: int, concurrency: int) -> int:
    from peppolnet.sml import AsyncSmlResolver

    ids = [f"0088:{n:013d}" for n in range(count)]

    async def go() -> int:
        async with AsyncSmlResolver(
            ZONE, nameservers=["127.0.0.1"], port=port, cache=False, timeout=5.0
        ) as resolver:
            jobs = [(lambda p=pid: resolver.resolve(p)) for pid in ids]
            return await _bounded(jobs, concurrency)

    return asyncio.run(go())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="median of this many runs per row")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = parser.parse_args()
    child = subprocess.Popen([sys.executable, "-c", _RESPONDER], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        names = _names(args.queries)
        rows: dict[str, Callable[[], int]] = {
            "sync ask": lambda: _sync_ask(port, names[: args.queries // 4]),
        }
        for c in (1, 32, 256):
            some = names if c > 1 else names[: args.queries // 4]
            for mode in ("pool", "pool, no age limit", "fresh"):
                rows[f"async ask c={c} {mode}"] = lambda c=c, mode=mode, some=some: _async_ask(
                    port, some, c, mode
                )
        rows["async resolve c=32"] = lambda: _async_resolve(port, args.queries, 32)
        _sync_ask(port, names[:200])  # warm up: imports, caches
        results: dict[str, list[tuple[float, float]]] = {row: [] for row in rows}
        for _ in range(args.rounds):  # interleaved, so a busy moment hits every row alike
            for row, run in rows.items():
                results[row].append(_measure(run))
        table = {
            row: {
                "qps": statistics.median(r[0] for r in runs),
                "cpu_us": statistics.median(r[1] for r in runs),
            }
            for row, runs in results.items()
        }
    finally:
        child.kill()
        child.wait()
    if args.json:
        print(json.dumps(table))
    else:
        for row, figures in table.items():
            print(f"{row:<36} {figures['qps']:>9.0f} q/s {figures['cpu_us']:>8.1f} us CPU/query")
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    sys.exit(main())
