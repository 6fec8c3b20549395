"""A sandbox network in its own process, so that server CPU never counts against the client.

Run by :func:`benchmarks._common.sandbox` as ``python benchmarks/_sandbox_proc.py N SMPS``. It
builds a network of ``N`` distinct participants (GLN numbers, scheme 0088, valid check digits)
spread over ``SMPS`` SMPs, starts it with the extra zone peppol-py insists on
(``participant.sml.test.tech.peppol.org``), renders and signs every invoice ServiceMetadata and
ServiceGroup once (the server-side signing cache; signing is server work, not client work), then
prints one JSON line describing itself and obeys commands on stdin, one per line:

* ``latency SECONDS`` - added latency on every DNS answer and every HTTP response;
* ``stats`` - prints ``{"dns": queries, "http": requests, "cpu": seconds}`` since the start
  (``cpu`` is the server process's CPU time, so the harness can report server CPU per lookup);
* end of input - stops and exits.

Why not ``peppolnet sandbox serve``: that command is being written in parallel; once it lands,
this file can shrink to a config generator.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
from peppolnet.sandbox import http as sandbox_http
from peppolnet.sandbox.config import OperatorConfig, ParticipantConfig, SandboxConfig, SmpConfig
from peppolnet.sandbox.http import Faults
from peppolnet.sandbox.runtime import Sandbox

PEER_ZONE = "participant.sml.test.tech.peppol.org"
_COUNTRIES = ("SE", "NO", "DK", "FI", "BE", "NL", "DE", "IT")


def gln(n: int) -> str:
    """The ``n``-th made-up GLN (13 digits, GS1 mod-10 check digit), prefix 739."""
    body = f"739{n:09d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def participant_ids(count: int) -> list[str]:
    """The bare participant identifiers (``0088:...``) of a ``count``-participant network."""
    return [f"0088:{gln(i)}" for i in range(count)]


def build_config(count: int, smps: int) -> SandboxConfig:
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


def main() -> int:
    # The sandbox HTTP server writes headers and body in two sends; without TCP_NODELAY a client
    # that delays its ACK (requests/urllib3 does) waits ~40 ms per response (Nagle). Real SMPs do
    # not behave like that, so the benchmark turns Nagle off (see benchmarks/README.md).
    sandbox_http._RequestHandler.disable_nagle_algorithm = True
    count = int(sys.argv[1])
    smps = int(sys.argv[2])
    started = time.perf_counter()
    config = build_config(count, smps)
    with Sandbox.start(config, extra_zones=(PEER_ZONE,)) as sb:
        published = time.perf_counter()
        # pre-render (and sign) what the benchmarks ask for: server work, done before measuring
        for service in sb.services.values():
            for pid in service.participants:
                service._document(pid, BIS_BILLING_INVOICE)
                service._document(pid, None)
        info = sb.info()
        info["setup_seconds"] = {
            "publish": round(published - started, 2),
            "sign": round(time.perf_counter() - published, 2),
        }
        info["tls_ca"] = str(sb.tls_ca_path)
        info["key_dir"] = str(sb.pki.directory)
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "latency":
                latency = float(words[1])
                sb.dns.set_latency(latency, 0.0)
                for server in sb.smps.values():
                    server.faults = Faults(latency=latency)
                print(json.dumps({"ok": True}), flush=True)
            elif words[0] == "stats":
                http = sum(server.requests for server in sb.smps.values())
                print(json.dumps({"dns": sb.dns.queries, "http": http,
                                  "cpu": time.process_time()}), flush=True)  # fmt: skip
            else:
                print(json.dumps({"error": f"unknown command {words[0]!r}"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    raise SystemExit(main())
