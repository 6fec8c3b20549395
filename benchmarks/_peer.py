"""The peer baseline: peppol-py's SML+SMP lookup, run in the peer's own virtual environment.

Reads ``{"mode", "ids", "threads", "doc"}`` as JSON on stdin, prints a JSON result. Never imports
peppolnet (it runs in another venv). peppol-py does NOT verify SMP signatures or certificates.

The one patch (documented in benchmarks/README.md): peppol-py builds ``dns.resolver.Resolver()``
per lookup from /etc/resolv.conf and its zone is fixed to ``participant.sml.test.tech.peppol.org``.
We keep its constructor (it still reads /etc/resolv.conf on every lookup, which is its real cost)
and afterwards point the instance at the sandbox DNS server from ``PEER_DNS`` (host:port). The
sandbox serves that zone as an extra zone. HTTPS trust comes from ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import sys
import time
from typing import Any

import dns.resolver

_HOST, _PORT = os.environ["PEER_DNS"].rsplit(":", 1)
_original_init = dns.resolver.Resolver.__init__


def _patched_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    self.nameservers = [_HOST]
    self.port = int(_PORT)


dns.resolver.Resolver.__init__ = _patched_init  # type: ignore[method-assign]

from peppol_py.smp import get_service_info_for_participant_from_smp  # noqa: E402


def lookup(pid: str, doc: str) -> bool:
    try:
        profile, url, _cert = get_service_info_for_participant_from_smp(
            pid, doc, test_environment=True, timeout=20, user_agent="bench"
        )
    except Exception:
        return False
    return bool(profile and url)


def main() -> int:
    job = json.load(sys.stdin)
    ids: list[str] = job["ids"]
    doc: str = job["doc"]
    lookup(ids[0], doc)  # warm-up: imports, first connection
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if job["threads"] <= 1:
        ok = sum(lookup(pid, doc) for pid in ids)
    else:
        with concurrent.futures.ThreadPoolExecutor(job["threads"]) as pool:
            ok = sum(pool.map(lambda pid: lookup(pid, doc), ids))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(json.dumps({"n": len(ids), "ok": ok, "cpu": cpu, "wall": wall}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
