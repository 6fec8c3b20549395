"""A sandbox network in processes of its own, so that server CPU never counts against the client.

Run by :func:`_common.start_sandbox` as ``python benchmarks/_sandbox_proc.py N SMPS``. It
builds a network of ``N`` distinct participants (GLN numbers, scheme 0088, valid check digits)
spread over ``SMPS`` SMPs, with the extra zone peppol-py insists on
(``participant.sml.test.tech.peppol.org``), renders and signs every invoice ServiceMetadata and
ServiceGroup once (the server-side signing cache; signing is server work, not client work), then
prints one JSON line describing itself and obeys commands on stdin, one per line:

* ``latency SECONDS`` - added latency on every DNS answer and every HTTP response;
* ``stats`` - prints ``{"dns": queries, "http": requests, "cpu": seconds, "dns_cpu": seconds}``
  since the start (``cpu`` is this process's CPU time - the SMPs' HTTPS - and ``dns_cpu`` the
  DNS process's, so the harness reports each server's CPU per lookup beside the client's);
* end of input - stops and exits.

Why its own servers and not ``peppolnet sandbox serve``: the harness must set the latency, read
the request counts and both servers' CPU while it runs, and have every document signed before it
measures; ``sandbox serve`` runs the sandbox as a user meets it, with none of that.

What it serves with, and why (the sandbox caps every row, so it must be faster than the client):

* **DNS in its own process** (:mod:`_dns_proc`, the sandbox's ``DnsServer``): no GIL shared with
  the HTTPS servers, so a DNS answer never waits for a busy HTTP thread.
* **The SMPs' answers from memory** (:mod:`_fast_front`: one event loop, each answer looked
  up by method and target after the sandbox's own ``SmpService`` made it once), instead of
  aiohttp's server in front of those handlers (``PEPPOLNET_BENCH_HTTP=aiohttp``) or the
  sandbox's thread per connection (``PEPPOLNET_BENCH_HTTP=threads``: at c=256 that is 256
  threads contending for one GIL), to compare.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import pipe_command

HERE = Path(__file__).resolve().parent
PEER_ZONE = "participant.sml.test.tech.peppol.org"
_COUNTRIES = ("SE", "NO", "DK", "FI", "BE", "NL", "DE", "IT")


def gln(n: int) -> str:
    """The ``n``-th made-up GLN (13 digits, GS1 mod-10 check digit), prefix 739."""
    body = f"739{n:09d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def participant_ids(count: int, start: int = 0) -> list[str]:
    """The bare participant identifiers (``0088:...``) of a ``count``-participant network;
    ``start`` past the network's size gives valid GLNs that nobody registered."""
    return [f"0088:{gln(i)}" for i in range(start, start + count)]


def build_config(count: int, smps: int) -> Any:
    from peppolnet.identifiers import ParticipantId
    from peppolnet.sandbox.config import (
        OperatorConfig,
        ParticipantConfig,
        SandboxConfig,
        SmpConfig,
    )

    operators = tuple(
        OperatorConfig(
            id=f"op{i}",
            name=f"Bench Operator {i}",
            seat_id=f"P{_COUNTRIES[i % len(_COUNTRIES)]}{900000 + i:06d}",
            country=_COUNTRIES[i % len(_COUNTRIES)],
            smp=f"smp{i}",
            ap_url=f"https://ap{i}.bench.peppolnet.test/as4",
        )
        for i in range(smps)
    )
    smp_configs = tuple(SmpConfig(id=f"smp{i}", operator=f"op{i}") for i in range(smps))
    participants = tuple(
        ParticipantConfig(
            id=ParticipantId.parse(f"iso6523-actorid-upis::{bare}"),
            name=f"Bench Company {i}",
            country="SE",
            operator=f"op{i % smps}",
            business_card=None,
        )
        for i, bare in enumerate(participant_ids(count))
    )
    return SandboxConfig(
        operators=operators,
        smps=smp_configs,
        participants=participants,
        name="bench",
        zone="sml.bench.peppolnet.test",
    )


class AioFront:
    """The SMPs' ``SmpService`` handlers behind aiohttp's server, one site per SMP, on one
    event loop in a thread of its own."""

    def __init__(self, services: dict[str, Any], tls: tuple[Path, Path]) -> None:
        self.services = services
        self.tls = tls
        self.latency = 0.0
        self.requests = 0
        self.origins: dict[str, str] = {}
        self._loop = asyncio.new_event_loop()
        self._runners: list[Any] = []

    def start(self) -> None:
        from _fast_front import serve_in_thread

        serve_in_thread(self._loop, self._start, "bench-aiohttp")

    async def _start(self) -> None:
        import ssl

        from aiohttp import web

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self.tls)
        for smp_id, service in self.services.items():
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handler(service))
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context, backlog=1024)
            await site.start()
            port = runner.addresses[0][1]
            self.origins[smp_id] = f"https://127.0.0.1:{port}"
            self._runners.append(runner)

    def _handler(self, service: Any) -> Any:
        from aiohttp import web

        from peppolnet.sandbox.http import Request

        async def handle(request: web.Request) -> web.Response:
            self.requests += 1
            if self.latency:
                await asyncio.sleep(self.latency)
            raw_path = request.raw_path.partition("?")[0]
            answer = service.handle(
                Request(request.method, raw_path, {}, dict(request.headers), b"", ("", 0))
            )
            return web.Response(body=answer.body, status=answer.status, headers=answer.headers)

        return handle


class DnsChild:
    """The DNS server in its own process (:mod:`_dns_proc`), given every record at start."""

    def __init__(self, zones: list[str], records: list[tuple[str, str]]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_dns_proc.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.command(json.dumps({"zones": zones, "records": records}))["port"])

    def command(self, line: str) -> dict[str, Any]:
        return pipe_command(self.proc, line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


#: Which HTTPS front serves the SMPs (``PEPPOLNET_BENCH_HTTP``): ``fast`` (the default,
#: :mod:`_fast_front`), ``aiohttp`` (the front before it) or ``threads`` (the sandbox's own
#: servers; ``PEPPOLNET_BENCH_THREADED_HTTP=1`` still says so too), to compare again.
def front_kind() -> str:
    if os.environ.get("PEPPOLNET_BENCH_THREADED_HTTP") == "1":
        return "threads"
    kind = os.environ.get("PEPPOLNET_BENCH_HTTP", "fast")
    if kind not in ("fast", "aiohttp", "threads"):
        raise SystemExit(f"PEPPOLNET_BENCH_HTTP must be fast, aiohttp or threads, not {kind!r}")
    return kind


def _front(sb: Any) -> Any:
    """Serve the SMPs on the chosen front (None: the sandbox's own servers); their services
    then name its origins, so the ServiceGroups and the SML records point at it."""
    kind = front_kind()
    if kind == "threads":
        return None
    tls = sb.pki.issue_tls_certificate(("127.0.0.1", "localhost"))
    cert, key = sb._tmp / "bench-tls.pem", sb._tmp / "bench-tls.key"
    cert.write_bytes(tls.certificate_pem())
    key.write_bytes(tls.private_key_pem())
    if kind == "fast":
        from _fast_front import FastFront

        front: Any = FastFront(dict(sb.services), (cert, key))
    else:
        front = AioFront(dict(sb.services), (cert, key))
    front.start()
    for smp_id, service in sb.services.items():
        service.origin = front.origins[smp_id]
    return front


def _prerender(sb: Any) -> None:
    """Render (and sign) what the benchmarks ask for: server work, done before measuring."""
    from peppolnet.identifiers import BIS_BILLING_INVOICE

    for service in sb.services.values():
        for pid in service.participants:
            service._document(pid, BIS_BILLING_INVOICE)
            service._document(pid, None)


def _records(sb: Any) -> list[tuple[str, str]]:
    """(participant, SMP URL) of every participant, as the DNS child publishes them."""
    return [
        (pid.uri, service.base_url)
        for service in sb.services.values()
        for pid in service.participants
    ]


def _obey(sb: Any, front: Any, dns: DnsChild) -> None:
    from peppolnet.sandbox.http import Faults

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "latency":
            latency = float(words[1])
            dns.command(line.strip())
            if front is not None:
                front.latency = latency
            for server in sb.smps.values():
                server.faults = Faults(latency=latency)
            print(json.dumps({"ok": True}), flush=True)
        elif words[0] == "stats":
            theirs = dns.command("stats")
            http = front.requests if front is not None else 0
            http += sum(server.requests for server in sb.smps.values())
            connections = getattr(front, "connections", None)  # the fast front counts them
            print(json.dumps({"dns": theirs["dns"], "http": http, "cpu": time.process_time(),
                              "dns_cpu": theirs["cpu"], "connections": connections}),
                  flush=True)  # fmt: skip
        else:
            print(json.dumps({"error": f"unknown command {words[0]!r}"}), flush=True)


def main() -> int:
    from peppolnet.sandbox import http as sandbox_http
    from peppolnet.sandbox.runtime import Sandbox

    # The sandbox HTTP server writes headers and body in two sends; without TCP_NODELAY a client
    # that delays its ACK (requests/urllib3 does) waits ~40 ms per response (Nagle). Real SMPs do
    # not behave like that, so the benchmark turns Nagle off (see benchmarks/README.md).
    sandbox_http._RequestHandler.disable_nagle_algorithm = True
    count, smps = int(sys.argv[1]), int(sys.argv[2])
    started = time.perf_counter()
    config = build_config(count, smps)
    with Sandbox.start(config, extra_zones=(PEER_ZONE,)) as sb:
        published = time.perf_counter()
        front = _front(sb)
        _prerender(sb)
        signed = time.perf_counter()
        dns = DnsChild([config.zone, PEER_ZONE], _records(sb))
        try:
            info = sb.info()
            info["dns"] = {"host": "127.0.0.1", "port": dns.port}
            info["smps"] = {smp_id: s.base_url for smp_id, s in sb.services.items()}
            info["http_server"] = front_kind()
            info["setup_seconds"] = {
                "publish": round(published - started, 2),
                "sign": round(signed - published, 2),
                "dns": round(time.perf_counter() - signed, 2),
            }
            info["tls_ca"] = str(sb.tls_ca_path)
            info["key_dir"] = str(sb.pki.directory)
            print(json.dumps(info), flush=True)
            _obey(sb, front, dns)
        finally:
            dns.close()
    return 0


if __name__ == "__main__":
    # the sandbox is always this tree's, whichever tree's client the harness measures
    sys.path.insert(0, str(HERE.parent / "src"))
    raise SystemExit(main())
