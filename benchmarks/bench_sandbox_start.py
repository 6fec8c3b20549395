"""Start + stop time of the default sandbox network, after its keys exist.

Run: python benchmarks/bench_sandbox_start.py [runs] [--json]. One warm-up start (which creates the
keys in a fresh key directory if needed and is not counted), then ``runs`` (default 5) timed
start+stop cycles; prints the median and each phase. The target is well under 1 s on 2 cores:
a test suite that starts its own sandbox per module must not pay seconds for it.

``measure(runs)`` returns the figures as a dict for the ``nox -s bench`` harness.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from peppolnet.sandbox.config import load_config
from peppolnet.sandbox.runtime import Sandbox


def measure(runs: int = 5, key_dir: Path | None = None) -> dict[str, Any]:
    """Median start, stop and start+stop seconds of the default network over ``runs`` cycles."""
    keys = key_dir or Path(tempfile.mkdtemp(prefix="bench-sandbox-keys-"))
    config = load_config()
    first = time.perf_counter()
    with Sandbox.start(config, key_dir=keys):
        pass
    warmup = time.perf_counter() - first
    starts: list[float] = []
    stops: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sandbox = Sandbox(config, key_dir=keys)
        sandbox.run()
        t1 = time.perf_counter()
        sandbox.stop()
        t2 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t2 - t1)
    totals = [a + b for a, b in zip(starts, stops, strict=True)]
    return {
        "runs": runs,
        "participants": len(config.participants),
        "smps": len(config.smps),
        "first_start_stop_with_keygen_s": round(warmup, 4),
        "start_median_s": round(statistics.median(starts), 4),
        "stop_median_s": round(statistics.median(stops), 4),
        "start_stop_median_s": round(statistics.median(totals), 4),
        "start_stop_max_s": round(max(totals), 4),
    }


def main(argv: list[str]) -> int:
    runs = next((int(a) for a in argv if a.isdigit()), 5)
    result = measure(runs)
    if "--json" in argv:
        print(json.dumps(result))
        return 0
    print(
        f"sandbox default network ({result['participants']} participants, "
        f"{result['smps']} SMPs), {runs} runs after key generation"
    )
    print(
        "  first start+stop (incl. key generation): "
        f"{result['first_start_stop_with_keygen_s']:.3f} s"
    )
    print(f"  start  median: {result['start_median_s'] * 1000:7.1f} ms")
    print(f"  stop   median: {result['stop_median_s'] * 1000:7.1f} ms")
    print(
        f"  start+stop median: {result['start_stop_median_s'] * 1000:7.1f} ms "
        f"(max {result['start_stop_max_s'] * 1000:.1f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
