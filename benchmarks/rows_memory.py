"""Memory at scale: a generated register through ``check_many`` and through ``peppolnet check``.

The register has ``rows`` rows over ``distinct`` participants - every registered participant of
the sandbox and valid GLNs that nobody registered - each appearing five times. Rows are laid out
in ten stretches, each with its own tenth of the participants, shuffled: a customer repeats
within a stretch of the file (as registers do: branches, several contacts), not across all of
it, so the result cache (64 MB by default) answers repeats while it fills to its budget and
evicts. Each run is a process of its own, so its RSS is its own; RSS is sampled through the run
and "after warm-up" is from the point where the result cache is full (20% of a full run).
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import HERE, Row, SandboxProc, peak_rss_mb, row, rss_mb

LIMIT_MB = 250.0
STRETCHES = 10
REPEATS = 5


def write_register(path: Path, rows: int, distinct: int, registered: list[str]) -> int:
    """The register (see the module docstring); returns how many rows name a registered one."""
    from _sandbox_proc import participant_ids

    unregistered = participant_ids(distinct - len(registered), start=1_000_000)
    rng = random.Random(18)
    per_stretch = distinct // STRETCHES
    hits = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["Company name", "Participant ID"])
        written = 0
        for stretch in range(STRETCHES):
            # every stretch gets its share of the registered participants and of the others
            people = registered[stretch::STRETCHES] + unregistered[stretch::STRETCHES]
            people = people[:per_stretch]
            hits += len(set(people) & set(registered)) * REPEATS
            order = people * REPEATS
            rng.shuffle(order)
            for pid in order[: rows // STRETCHES]:
                out.writerow([f"Company {pid[5:]}", pid])
                written += 1
    assert written == rows, (written, rows)
    return hits


def library_child(register: str, info_json: str, samples: int) -> None:
    """Runs in its own process (``run.py --memory-child``): the register through ``check_many``."""
    from peppolnet.bulk import ResultCache, check_many, read_register

    sb = SandboxProc(proc=None, info=json.loads(info_json))
    cache = ResultCache()
    reader = read_register(register)
    with open(register, encoding="utf-8") as fh:
        total = sum(1 for _ in fh) - 1
    step = max(1, total // samples)
    points: list[tuple[float, float]] = [(0.0, rss_mb())]
    counts: dict[str, int] = {}
    start = time.perf_counter()
    done = 0
    for result in check_many(reader.rows, network=sb.network(), concurrency=32, cache=cache):
        done += 1
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        if done % step == 0:
            points.append((done / total, rss_mb()))
    elapsed = time.perf_counter() - start
    print(json.dumps({"rows": done, "seconds": elapsed, "samples": points, "counts": counts,
                      "peak_mb": peak_rss_mb(),
                      "cache_mb": getattr(cache, "nbytes", 0) / 2**20,
                      "cache_entries": len(cache)}))  # fmt: skip


class Watched:
    """A child process, its RSS sampled every poll and its peak from its own high-water mark
    (``VmHWM``, which starts at its exec). Not ``wait4``'s ``ru_maxrss``: that counts the
    harness's own memory, which the child shared until its exec."""

    def __init__(self, argv: list[str]) -> None:
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)  # fmt: skip
        self.points: list[tuple[float, float]] = []
        self.peak = 0.0
        self.seconds: float | None = None

    def poll(self) -> bool:
        """Sample it; False once it has ended."""
        if self.seconds is not None:
            return False
        pid, status, _ = os.wait4(self.proc.pid, os.WNOHANG)
        if pid:
            self.seconds = time.perf_counter() - self.start
            self.proc.returncode = os.waitstatus_to_exitcode(status)
            return False
        hwm = peak_rss_mb(self.proc.pid)
        self.peak = hwm if hwm == hwm else self.peak  # NaN once the process is gone
        self.points.append((time.perf_counter() - self.start, rss_mb(self.proc.pid)))
        return True

    def result(self) -> dict[str, Any]:
        """Its output parsed as JSON (or the error), its samples as shares of its run."""
        out, err = self.proc.communicate()
        if self.proc.returncode != 0:
            tail = " ".join(err.strip().splitlines()[-1:])
            return {"error": f"exit {self.proc.returncode}: {tail}"}
        seconds = self.seconds or 1.0
        return {"output": json.loads(out), "seconds": seconds, "peak_mb": self.peak,
                "samples": [(t / seconds, mb) for t, mb in self.points]}  # fmt: skip


def _both(register: Path, sb: SandboxProc, tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The library run and ``peppolnet check`` (``--network sandbox`` with a state file naming
    the sandbox), side by side: each is one process held to one core by its GIL, and the
    machine has two - one after the other took twice as long for the same figures."""
    state = tmp / "sandbox.json"
    state.write_text(json.dumps(sb.info), encoding="utf-8")
    output = tmp / "register.checked.csv"
    library = Watched([sys.executable, str(HERE / "run.py"), "--memory-child", str(register),
                       json.dumps(sb.info), "20"])  # fmt: skip
    cli = Watched([sys.executable, "-m", "peppolnet", "check", str(register), "-o", str(output),
                   "--network", "sandbox", "--state-file", str(state), "--concurrency", "32",
                   "--json"])  # fmt: skip
    while library.poll() | cli.poll():
        time.sleep(0.25)
    lib, out = library.result(), cli.result()
    if "error" not in lib:
        # the library child samples itself per row; keep its figures, with the peak seen here
        lib = {**lib["output"], "peak_mb": max(lib["output"]["peak_mb"], lib["peak_mb"])}
    if "error" not in out:
        with output.open(encoding="utf-8-sig") as fh:
            out["rows"] = sum(1 for _ in fh) - 1
        output.unlink()
    return lib, out


def _flat(samples: list[tuple[float, float]], warm_up: float) -> float:
    """RSS growth (MB) from ``warm_up`` (a share of the run) to its end."""
    warm = [mb for share, mb in samples if share >= warm_up and mb == mb]
    return warm[-1] - warm[0] if len(warm) > 1 else 0.0


def _memory_row(
    name: str, data: dict[str, Any], rows: int, distinct: int, warm_up: float, extra: str
) -> Row:
    target = f"< {LIMIT_MB:.0f} MB, flat"
    if "error" in data:
        return row(name, "failed", "", None, target, False, data["error"])
    growth, peak = _flat(data["samples"], warm_up), data["peak_mb"]
    met = peak < LIMIT_MB and growth < 0.1 * peak and data["rows"] == rows
    return row(name, f"peak {peak:.0f} MB, {growth:+.1f} MB after warm-up",
               f"{data['rows']} rows in {data['seconds']:.0f} s", None, target, met,
               f"{distinct} distinct participants (registered and not), each 5 times; flat "
               f"from {warm_up:.0%} of the run on; {extra}",
               samples=data["samples"], rows_per_s=data["rows"] / data["seconds"],
               peak_mb=peak, growth_mb=growth)  # fmt: skip


def bench_memory(sb: SandboxProc, quick: bool) -> list[Row]:
    rows_n, distinct = (200_000, 40_000) if quick else (1_000_000, 200_000)
    # Warm-up is filling the result cache's 64 MB (some 24,000 answers of this mix): a fifth
    # of a full run's 200,000 participants, but 60% of a quick run's 40,000.
    warm_up = 0.7 if quick else 0.2
    sb.set_latency(0.0)
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="peppolnet-bench-") as name:
        tmp = Path(name)
        register = tmp / "register.csv"
        registered_rows = write_register(register, rows_n, distinct, sb.participants)
        before = sb.stats()
        lib, cli = _both(register, sb, tmp)
        after = sb.stats()
    lookups = int(after["dns"] - before["dns"])
    reached = lib.get("counts", {}).get("can-receive", 0)
    out.append(_memory_row(
        "memory: check_many", lib, rows_n, distinct, warm_up,
        f"{reached} of {registered_rows} rows can-receive; result cache "
        f"{lib.get('cache_mb', 0):.0f} MB in {lib.get('cache_entries', 0)} answers at the end; "
        f"run beside the next row ({lookups} DNS queries for both)",
    ))  # fmt: skip
    out.append(_memory_row("memory: peppolnet check", cli, rows_n, distinct, warm_up,
                           "CSV in and out, --concurrency 32"))  # fmt: skip
    return out
