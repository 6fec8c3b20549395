"""The bench sandbox's DNS server in a process of its own (started by ``_sandbox_proc.py``).

Why a process: in the sandbox's process the DNS server's thread shares one GIL with the HTTPS
servers, and a DNS answer waits whenever they are busy - the latency the client sees then is the
sandbox's, not the network's it stands for. Here it is the sandbox's own ``DnsServer`` (with its
fast path for plain queries), alone.

Protocol on stdin/stdout, one JSON line each way: first ``{"zones": [...], "records": [[participant,
smp_url], ...]}`` -> ``{"port": N}``; then ``latency SECONDS`` -> ``{"ok": true}`` and ``stats``
-> ``{"dns": queries, "cpu": seconds}``; end of input stops it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    from peppolnet.sandbox.dns_server import DnsServer

    setup = json.loads(sys.stdin.readline())
    server = DnsServer(setup["zones"])
    for participant, smp_url in setup["records"]:
        server.add_participant(participant, smp_url)
    with server:
        print(json.dumps({"port": server.port}), flush=True)
        for line in sys.stdin:
            words = line.split()
            if words and words[0] == "latency":
                server.set_latency(float(words[1]))
                print(json.dumps({"ok": True}), flush=True)
            elif words and words[0] == "stats":
                print(json.dumps({"dns": server.queries, "cpu": time.process_time()}), flush=True)
            else:
                print(json.dumps({"error": f"unknown command {line.strip()!r}"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    raise SystemExit(main())
