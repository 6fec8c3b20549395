"""The performance harness: ``nox -s bench`` (full) or ``nox -s bench -- --quick``.

Runs the benchmarks of issues 8 and 18 against a sandbox in child processes (server CPU never
counts against the client), prints one table - every row with its target and whether it is met -
and writes ``benchmarks/results/latest.json`` (``quick.json``), from which
``benchmarks/perf_doc.py`` regenerates docs/performance.md's table. Every target is a ratio
against a baseline measured in the same run, interleaved where two things are timed; absolute
times are context. The peer (peppol-py) runs in its own venv (``PEPPOLNET_BENCH_PEER_PYTHON``)
and does NOT verify signatures - every comparison with it says so.

    python benchmarks/run.py [--quick] [--only verify,bulk,...] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import NO_VERIFY, Row, load_average, peer_python, row, sandbox  # noqa: E402

ALL = (
    "verify", "identifiers", "startup", "sandbox", "export", "lookup_cpu", "trace", "bulk",
    "cache", "memory",
)  # fmt: skip
NETWORK = {"lookup_cpu", "trace", "bulk", "cache", "memory"}


def render(rows: list[Row]) -> str:
    headers = ("benchmark", "ours", "baseline", "ratio", "target", "met")
    table = [
        (r["name"], r["figure"], r["baseline"], "" if r["ratio"] is None else f"{r['ratio']}x",
         r["target"], {True: "met", False: "not met", None: "-"}[r["met"]])
        for r in rows
    ]  # fmt: skip
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *table, strict=False)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for t in table:
        lines.append(
            "| " + " | ".join(str(x).ljust(w) for x, w in zip(t, widths, strict=True)) + " |"
        )
    return "\n".join(lines)


class Steps:
    """Runs the chosen benchmarks, timing each on stderr."""

    def __init__(self, only: list[str]) -> None:
        self.only = only
        self.rows: list[Row] = []
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable[[], list[Row]]) -> None:
        if name not in self.only:
            return
        started = time.perf_counter()
        print(f"... {name}", file=sys.stderr, flush=True)
        try:
            self.rows.extend(fn())
        except Exception as exc:  # one broken step must not cost the others' figures
            traceback.print_exc()
            self.rows.append(
                row(name, "failed", "", None, "", False, f"{type(exc).__name__}: {exc}")
            )
        self.seconds[name] = round(time.perf_counter() - started, 1)
        print(f"    {self.seconds[name]} s", file=sys.stderr, flush=True)


def run_all(quick: bool, only: list[str]) -> tuple[Steps, dict[str, Any]]:
    from rows_export import bench_export
    from rows_local import bench_identifiers, bench_sandbox_start, bench_startup, bench_verify

    steps = Steps(only)
    extra: dict[str, Any] = {}
    size = 2_000 if quick else 10_000
    # the sandbox child signs its documents while the rows that need no network run
    need = bool(NETWORK & set(only))
    with sandbox(size) if need else contextlib.nullcontext(None) as wait:
        steps("verify", lambda: bench_verify(quick))
        steps("identifiers", lambda: bench_identifiers(quick))
        steps("startup", lambda: bench_startup(quick))
        steps("sandbox", lambda: bench_sandbox_start(quick))
        steps("export", lambda: bench_export(quick))
        if wait is not None:
            started = time.perf_counter()
            sb = wait()
            extra["sandbox"] = {"participants": size, "waited_s": time.perf_counter() - started,
                                "setup_s": sb.info.get("setup_seconds"),
                                "http_server": sb.info.get("http_server", "threads")}  # fmt: skip
            _network_rows(steps, sb, quick, extra)
    return steps, extra


def _network_rows(steps: Steps, sb: Any, quick: bool, extra: dict[str, Any]) -> None:
    from rows_memory import bench_memory
    from rows_network import Ids, bench_bulk, bench_cache, bench_lookup_cpu, bench_trace

    ids = Ids(sb.participants)
    reuse: dict[str, Any] = {}

    def bulk() -> list[Row]:
        rows, data = bench_bulk(sb, ids, quick)
        reuse.update(data)
        extra["rtt_ms"] = data["rtt_ms"]
        return rows

    steps("lookup_cpu", lambda: bench_lookup_cpu(sb, ids, quick))
    steps("trace", lambda: bench_trace(sb, ids, quick))
    steps("bulk", bulk)
    if reuse:
        steps("cache", lambda: bench_cache(sb, reuse))
    steps("memory", lambda: bench_memory(sb, quick))


def trees() -> dict[str, Any]:
    """Which peppolnet the client rows measured (``PYTHONPATH`` may name another tree) and the
    harness's own commit."""
    import subprocess

    import peppolnet

    try:
        argv = ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"]
        commit = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {"client": str(Path(peppolnet.__file__).parent), "harness_commit": commit}


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_average()],
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        from rows_memory import library_child

        library_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes, under 2 minutes")
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated: " + ",".join(ALL))
    parser.add_argument("--out", help="default: results/latest.json (results/quick.json)")
    args = parser.parse_args()
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if "cache" in only and "bulk" not in only:
        parser.error("cache reuses the bulk c=128 run: --only bulk,cache")
    load_before = load_average()
    started = time.perf_counter()
    steps, extra = run_all(args.quick, only)
    total = time.perf_counter() - started
    print(render(steps.rows))
    print(f"\n{'quick' if args.quick else 'full'} run, {total:.0f} s; load average "
          f"{load_before[0]:.1f} -> {load_average()[0]:.1f}; {NO_VERIFY}.")  # fmt: skip
    result = {
        "mode": "quick" if args.quick else "full",
        "seconds": round(total, 1),
        "step_seconds": steps.seconds,
        "machine": machine(load_before),
        "peer": "peppol-py" if peer_python() else None,
        "trees": trees(),
        **extra,
        "rows": steps.rows,
    }
    out = Path(args.out or HERE / "results" / ("quick.json" if args.quick else "latest.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
