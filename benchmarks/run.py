"""The performance harness: ``nox -s bench`` (full) or ``nox -s bench -- --quick``.

Runs the benchmarks of issue 8 against a sandbox in a child process (server CPU never counts
against the client), prints one table and writes ``benchmarks/results/latest.json``. Every figure
that is compared is a ratio against a baseline measured in the same run; absolute times are
context. The peer (peppol-py) runs in its own venv (``PEPPOLNET_BENCH_PEER_PYTHON``) and does NOT
verify signatures - every comparison with it says so.

    python benchmarks/run.py [--quick] [--only verify,lookup_cpu,...] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    SandboxProc,
    median_time,
    peak_rss_mb,
    peer_python,
    rss_mb,
    run_peer,
    sandbox,
)

NO_VERIFY = "peppol-py does not verify signatures or certificates"
Row = dict[str, Any]


def row(name: str, figure: str, baseline: str, ratio: float | None, target: str, met: bool | None,
        note: str = "", **data: Any) -> Row:  # fmt: skip
    return {
        "name": name,
        "figure": figure,
        "baseline": baseline,
        "ratio": None if ratio is None else round(ratio, 2),
        "target": target,
        "met": met,
        "note": note,
        "data": data,
    }


# --- 1. verify ---------------------------------------------------------------------------------


def bench_verify(quick: bool) -> list[Row]:
    """Parse + verify + chain check of one signed ServiceMetadata vs signxml on the same bytes."""
    import signxml
    from lxml import etree

    from bench_verify import DOC, timed
    from peppolnet.pki import validate_chain
    from peppolnet.sandbox.pki import TestPki
    from peppolnet.sandbox.runtime import default_key_dir
    from peppolnet.sandbox.signing import sign_enveloped
    from peppolnet.xmldsig import SignaturePolicy, verify_bytes

    pki = TestPki.load_or_create(default_key_dir())
    smp = pki.issue_smp_certificate("PBE000001", "Bench SMP", "BE")
    root = etree.fromstring(DOC)
    sign_enveloped(root, smp.private_key, smp.certificate)
    data = etree.tostring(root)
    policy = SignaturePolicy.strict()
    config = signxml.SignatureConfiguration(
        default_reference_c14n_method=signxml.CanonicalizationMethod.CANONICAL_XML_1_0
    )

    def ours() -> object:
        result = verify_bytes(data, policy=policy)
        return validate_chain(result.certificate, [pki.smp_ca])

    def theirs() -> object:
        result = signxml.XMLVerifier().verify(data, x509_cert=smp.certificate, expect_config=config)
        validate_chain(smp.certificate, [pki.smp_ca])
        return result

    n = 100 if quick else 400
    # interleave three rounds so that machine noise hits both sides alike
    t_ours = min(timed(ours, n) for _ in range(3))
    t_theirs = min(timed(theirs, n) for _ in range(3))
    ratio = t_theirs / t_ours

    from peppolnet.network import Network
    from peppolnet.smp.trust import check_document

    network = Network(name="bench", sml_zone="bench.test", smp_ca=(pki.smp_ca,),
                      ap_ca=(pki.ap_ca,), directory_url=None)  # fmt: skip
    t_doc = min(timed(lambda: check_document(data, network), n) for _ in range(3))
    main = row("verify", f"{t_ours * 1e6:.0f} us", f"signxml {t_theirs * 1e6:.0f} us", ratio,
               ">= 3x faster", ratio >= 3.0, "parse+verify+chain of one signed ServiceMetadata",
               ours_us=t_ours * 1e6, signxml_us=t_theirs * 1e6)  # fmt: skip
    path = row("verify (lookup path)", f"{t_doc * 1e6:.0f} us", f"signxml {t_theirs * 1e6:.0f} us",
               t_theirs / t_doc, "context", None,
               "check_document: parse+verify+chain+SMP model+signer facts, fresh cert each call",
               check_document_us=t_doc * 1e6)  # fmt: skip
    return [main, path]


# --- 2. lookup CPU ------------------------------------------------------------------------------


def bench_lookup_cpu(sb: SandboxProc, quick: bool) -> list[Row]:
    """Client process CPU per complete verified lookup, sequential, zero added latency."""
    from peppolnet.lookup import Lookup

    sb.set_latency(0.0)
    n = 150 if quick else 600
    ours_ids, peer_ids = sb.participants[:n], sb.participants[n : 2 * n]
    with Lookup(sb.network()) as lookup:
        lookup.check(sb.participants[-1])  # warm-up: imports, TLS session, code-list caches
        cpu0, wall0 = time.process_time(), time.perf_counter()
        bad = sum(lookup.check(pid).verdict.value != "can-receive" for pid in ours_ids)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    ours_ms = cpu / n * 1e3
    peer = run_peer(sb, "cpu", peer_ids)
    if "error" in peer:
        return [row("lookup CPU", f"{ours_ms:.2f} ms", f"peer: {peer['error']}", None,
                    "<= peer", None, NO_VERIFY, ours_cpu_ms=ours_ms)]  # fmt: skip
    peer_ms = peer["cpu"] / peer["n"] * 1e3
    ratio = peer_ms / ours_ms
    return [
        row("lookup CPU", f"{ours_ms:.2f} ms/lookup", f"peppol-py {peer_ms:.2f} ms", ratio,
            "<= peer (ratio >= 1)", ratio >= 1.0,
            f"ours: DNS+metadata+signature+chain+verdict; {NO_VERIFY}",
            ours_cpu_ms=ours_ms, ours_wall_ms=wall / n * 1e3, ours_failed=bad,
            peer_cpu_ms=peer_ms, peer_wall_ms=peer["wall"] / peer["n"] * 1e3,
            peer_ok=peer["ok"], n=n),
    ]  # fmt: skip


def bench_trace(sb: SandboxProc, quick: bool) -> list[Row]:
    """Client CPU of a traced lookup against a plain one, same run, same Lookup, interleaved.

    Both ask DNS and the SMP (distinct participants: a plain lookup finds nothing in its cache
    either), on the same kept-alive connections; three rounds alternate, so machine noise hits
    both alike. Target (issue 16): a trace costs at most 20% more client CPU.
    """
    from peppolnet.lookup import Lookup

    sb.set_latency(0.0)
    n, rounds = (60, 3) if quick else (200, 3)
    ids = sb.participants[-(2 * n * rounds + 2) :]
    plain = traced = 0.0
    with Lookup(sb.network()) as lookup:
        lookup.check(ids[-1])  # warm-up: imports, connections, code-list caches
        lookup.trace(ids[-2])
        for r in range(rounds):
            first, second = ids[2 * n * r : 2 * n * r + n], ids[2 * n * r + n : 2 * n * (r + 1)]
            cpu = time.process_time()
            bad = sum(not lookup.check(pid).can_receive for pid in first)
            plain += time.process_time() - cpu
            cpu = time.process_time()
            bad += sum(not lookup.trace(pid).reachability.can_receive for pid in second)
            traced += time.process_time() - cpu
    plain_ms, traced_ms = plain / (n * rounds) * 1e3, traced / (n * rounds) * 1e3
    ratio = traced_ms / plain_ms
    return [
        row("trace CPU", f"{traced_ms:.2f} ms/lookup", f"plain lookup {plain_ms:.2f} ms", ratio,
            "<= 1.2x plain", ratio <= 1.2,
            "Lookup.trace vs Lookup.check, sequential, no added latency, interleaved rounds",
            trace_cpu_ms=traced_ms, plain_cpu_ms=plain_ms, n=n * rounds, failed=bad),
    ]  # fmt: skip


# --- 3. bulk throughput -------------------------------------------------------------------------


LOST: list[dict[str, Any]] = []


def _run_bulk(
    sb: SandboxProc, ids: list[str], concurrency: int, mode: str
) -> tuple[float, float, float]:
    """Lookups per second, client CPU ms per lookup and server CPU ms per lookup.

    ``mode``: ``engine`` = ``check_many(network=...)`` (its own event loop - what users get),
    ``async`` = ``check_many_async``, ``threads`` = ``check_many`` with a shared sync ``Lookup``.
    """
    from peppolnet.bulk import check_many, check_many_async
    from peppolnet.lookup import Lookup

    net = sb.network()
    server0 = sb.stats()["cpu"]
    start, cpu = time.perf_counter(), time.process_time()
    if mode == "async":

        async def go() -> int:
            count = 0
            async for _ in check_many_async(ids, network=net, concurrency=concurrency,
                                            ordered=False, retries=0):  # fmt: skip
                count += 1
            return count

        done = asyncio.run(go())
    elif mode == "threads":
        with Lookup(net, per_host=max(2, concurrency // 4)) as lookup:
            done = sum(1 for _ in check_many(ids, lookup, concurrency=concurrency,
                                             ordered=False, retries=0))  # fmt: skip
    else:
        done = sum(1 for _ in check_many(ids, network=net, concurrency=concurrency,
                                         ordered=False, retries=0))  # fmt: skip
    rate = len(ids) / (time.perf_counter() - start)
    cpu_ms = (time.process_time() - cpu) / len(ids) * 1e3
    server_ms = (sb.stats()["cpu"] - server0) / len(ids) * 1e3
    if done != len(ids):  # a row check_many never yielded: a bug to report, not to hide
        LOST.append({"concurrency": concurrency, "mode": mode, "lost": len(ids) - done})
    return rate, cpu_ms, server_ms


def bench_bulk(sb: SandboxProc, quick: bool) -> list[Row]:
    """Distinct participants, 20 ms on every DNS answer and HTTP response, one lookup per run."""
    latency = 0.02
    sb.set_latency(latency)
    ids = sb.participants
    seconds, cap = (1.5, 600) if quick else (4.0, 4000)
    rows: list[Row] = []
    curve: dict[str, float] = {}
    offset = 0

    def chunk_of(n: int) -> list[str]:
        nonlocal offset
        chunk = [ids[(offset + i) % len(ids)] for i in range(n)]
        offset += n
        return chunk

    for concurrency in (1, 8, 32, 128, 256):
        ideal = concurrency / (2 * latency)
        # c=256 is compared with the peer: in a full run it covers all 10,000 participants. A
        # quick run still gives the two rows with targets (c=32, c=256) ~2,500 lookups, or the
        # start of a run (a new lookup, its TLS handshakes) would dominate their figures
        limit = (2500 if quick else len(ids)) if concurrency == 256 else cap
        if quick and concurrency == 32:
            n = min(len(ids), 2500)  # distinct: duplicates would be answered from the cache
        else:
            n = int(min(len(ids), limit, max(40, ideal * seconds)))
        rate, cpu_ms, server_ms = _run_bulk(sb, chunk_of(n), concurrency, "engine")
        curve[str(concurrency)] = rate
        share = rate / ideal
        target, met = "", None
        if concurrency == 32:
            target, met = ">= 85% of ideal", share >= 0.85
        rows.append(row(f"bulk c={concurrency}", f"{rate:.0f}/s", f"ideal {ideal:.0f}/s", share,
                        target, met,
                        f"ratio = share of ideal; CPU per lookup: client {cpu_ms:.2f} ms, "
                        f"sandbox server {server_ms:.2f} ms",
                        n=n, lookups_per_s=rate, ideal=ideal, cpu_ms=cpu_ms,
                        server_cpu_ms=server_ms))  # fmt: skip
    for concurrency, mode, what in (
        (32, "threads", "check_many with a shared sync Lookup (threads, httpx)"),
        (32, "async", "check_many_async on the caller's loop"),
        (256, "async", "check_many_async on the caller's loop"),
    ):
        ideal = concurrency / (2 * latency)
        n = int(min(len(ids), cap, max(40, ideal * seconds)))
        rate, cpu_ms, server_ms = _run_bulk(sb, chunk_of(n), concurrency, mode)
        rows.append(row(f"bulk c={concurrency} ({mode})", f"{rate:.0f}/s", f"ideal {ideal:.0f}/s",
                        rate / ideal, "context", None,
                        f"{what}; client CPU {cpu_ms:.2f} ms/lookup",
                        n=n, lookups_per_s=rate, cpu_ms=cpu_ms,
                        server_cpu_ms=server_ms))  # fmt: skip
    peer_n = 400 if quick else 2500
    peer = run_peer(sb, "bulk", ids[-peer_n:], threads=256)
    if "error" in peer:
        rows.append(row("bulk c=256 vs peer", f"{curve['256']:.0f}/s", f"peer: {peer['error']}",
                        None, ">= 4x peer", None, NO_VERIFY))  # fmt: skip
    else:
        peer_rate = peer["n"] / peer["wall"]
        ratio = curve["256"] / peer_rate
        rows.append(row("bulk c=256 vs peer", f"{curve['256']:.0f}/s",
                        f"peppol-py 256 threads {peer_rate:.0f}/s", ratio, ">= 4x peer",
                        ratio >= 4.0, f"peer needs DNS + 2 GETs and no keep-alive; {NO_VERIFY}",
                        peer_rate=peer_rate, peer_ok=peer["ok"], peer_n=peer["n"],
                        peer_cpu_ms=peer["cpu"] / peer["n"] * 1e3))  # fmt: skip
    if LOST:
        lost = str(sum(x["lost"] for x in LOST))
        note = "check_many(ordered=False) did not yield every row"
        rows.append(row("bulk rows lost", lost, "", None, "0", False, note, lost=LOST))
    sb.set_latency(0.0)
    return rows


# --- 4. cache ----------------------------------------------------------------------------------


def bench_cache(sb: SandboxProc, quick: bool) -> list[Row]:
    """The same register twice through one ResultCache: the second pass is served from it."""
    from peppolnet.bulk import ResultCache, check_many

    sb.set_latency(0.02)
    ids = sb.participants[: 2000 if quick else 10_000]
    net = sb.network()
    cache = ResultCache()
    times: list[float] = []
    requests: list[int] = []
    for _ in range(2):
        # a full collection first, so that the first pass's garbage is not charged to the
        # second (a gen-2 collection over 10,000 cached answers takes ~0.2 s; timeit even
        # switches the collector off)
        gc.collect()
        before = sb.stats()
        start = time.perf_counter()
        results = list(check_many(ids, network=net, per_host=32, concurrency=128, cache=cache))
        times.append(time.perf_counter() - start)
        after = sb.stats()
        requests.append(after["dns"] - before["dns"] + after["http"] - before["http"])
        assert len(results) == len(ids)
    sb.set_latency(0.0)
    ratio = times[0] / times[1]
    return [
        row("cache 2nd pass", f"{times[1] * 1e3:.0f} ms, {requests[1]} requests",
            f"1st pass {times[0]:.1f} s, {requests[0]} requests", ratio,
            ">= 20x faster, 0 requests", ratio >= 20 and requests[1] == 0,
            f"{len(ids)} rows, 20 ms latency, c=128", first_s=times[0], second_s=times[1],
            requests=requests),
    ]  # fmt: skip


# --- 5. memory ----------------------------------------------------------------------------------


def memory_child(rows: int, distinct: int, info_json: str) -> None:
    """Runs in its own process (clean RSS): a generated CSV register through ``check_many``."""
    from _common import SandboxProc
    from _sandbox_proc import participant_ids
    from peppolnet.bulk import check_many, read_register

    sb = SandboxProc(proc=None, info=json.loads(info_json))  # type: ignore[arg-type]
    ids = participant_ids(distinct)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "register.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["Company name", "Participant ID"])
            for i in range(rows):
                out.writerow([f"Company {i % distinct}", ids[i % distinct]])
        register = read_register(path)
        samples: list[tuple[int, float]] = [(0, rss_mb())]
        step = max(1, rows // 10)
        start = time.perf_counter()
        count = 0
        for _ in check_many(register.rows, network=sb.network(), concurrency=32):
            count += 1
            if count % step == 0:
                samples.append((count, rss_mb()))
        elapsed = time.perf_counter() - start
    print(json.dumps({"rows": count, "seconds": elapsed, "samples": samples,
                      "peak_mb": peak_rss_mb()}))  # fmt: skip


def bench_memory(sb: SandboxProc, quick: bool) -> list[Row]:
    rows_n = 100_000 if quick else 1_000_000
    distinct = min(10_000, len(sb.participants))
    sb.set_latency(0.0)
    done = subprocess.run(
        [sys.executable, str(HERE / "run.py"), "--memory-child", str(rows_n), str(distinct),
         json.dumps(sb.info)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:]
        return [row("memory", "failed", "", None, "< 300 MB, flat", False, " ".join(tail))]
    data = json.loads(done.stdout)
    samples = data["samples"]
    warm = [mb for count, mb in samples if count >= rows_n * 0.2]
    growth = (warm[-1] - warm[0]) if len(warm) > 1 else 0.0
    peak = data["peak_mb"]
    met = peak < 300 and growth < 0.1 * peak
    return [
        row("memory", f"peak {peak:.0f} MB, {growth:+.1f} MB after warm-up",
            f"{data['rows']} rows in {data['seconds']:.0f} s", None, "< 300 MB, flat", met,
            f"{distinct} distinct participants, zero latency", samples=samples,
            rows_per_s=data["rows"] / data["seconds"]),
    ]  # fmt: skip


# --- 6. start-up --------------------------------------------------------------------------------


def bench_startup(quick: bool) -> list[Row]:
    repeat = 5 if quick else 15
    scripts = Path(sys.executable).parent

    def run(*argv: str) -> Callable[[], object]:
        return lambda: subprocess.run(argv, check=True, capture_output=True)

    base = median_time(run(sys.executable, "-c", "pass"), repeat)
    imp = median_time(run(sys.executable, "-c", "import peppolnet"), repeat)
    cli = median_time(run(str(scripts / "peppolnet"), "--version"), repeat)
    added_ms = (imp - base) * 1e3
    return [
        row("import peppolnet", f"+{added_ms:.0f} ms", f"python -c pass {base * 1e3:.0f} ms",
            imp / base, "adds < 150 ms", added_ms < 150, base_ms=base * 1e3, import_ms=imp * 1e3),
        row("peppolnet --version", f"{cli * 1e3:.0f} ms", f"python -c pass {base * 1e3:.0f} ms",
            cli / base, "context", None, cli_ms=cli * 1e3),
    ]  # fmt: skip


# --- 7. identifiers -----------------------------------------------------------------------------


def mixed_identifiers(count: int, seed: int = 8) -> list[str]:
    """Distinct identifiers in real formats: valid GLNs, scheme-shaped numbers, some malformed."""
    from _sandbox_proc import gln

    rng = random.Random(seed)
    shapes = {"0007": 10, "0192": 9, "0208": 10, "0184": 8, "0106": 8, "0096": 10, "9925": 12}
    out: list[str] = []
    for i in range(count):
        pick = i % 10
        if pick < 4:
            out.append(f"0088:{gln(1_000_000 + i)}")
        elif pick < 9:
            scheme = rng.choice(sorted(shapes))
            digits = "".join(rng.choice("0123456789") for _ in range(shapes[scheme]))
            prefix = "BE" if scheme == "9925" else ""
            out.append(f"{scheme}:{prefix}{digits}")
        else:
            out.append(rng.choice(["0007:55-6732", f"12:{i}", f"0088 {i}", f"9999:{i}"]))
    return out


def bench_identifiers(quick: bool) -> list[Row]:
    from peppolnet.schemes import validate

    ids = mixed_identifiers(20_000 if quick else 100_000)
    validate("0088:7300010000001")  # warm-up: code lists
    start = time.perf_counter()
    valid = sum(validate(text).valid for text in ids)
    rate = len(ids) / (time.perf_counter() - start)
    return [
        row("identifiers validate()", f"{rate:,.0f}/s", "", None, ">= 50,000/s", rate >= 50_000,
            f"{len(ids)} distinct ids, {valid} valid", per_s=rate, valid=valid),
    ]  # fmt: skip


# --- 8. sandbox start ---------------------------------------------------------------------------


def bench_sandbox_start(quick: bool) -> list[Row]:
    from peppolnet.sandbox.runtime import Sandbox

    with Sandbox.start():
        pass  # key generation (first run on a machine) is excluded by the issue
    samples = []
    for _ in range(2 if quick else 5):
        start = time.perf_counter()
        with Sandbox.start():
            pass
        samples.append(time.perf_counter() - start)
    best = min(samples)
    return [
        row("sandbox start+stop", f"{best:.2f} s", "", None, "< 2 s", best < 2.0,
            "default network, keys cached", samples=samples),
    ]  # fmt: skip


# --- 9. the Directory export ---------------------------------------------------------------------


def bench_export(quick: bool) -> list[Row]:
    """Streaming read of a synthetic XML export (MB/s per core, peak RSS), Parquet, DuckDB."""
    from bench_export import flat, measure

    cards = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        r = measure(cards, Path(tmp))
    growth, is_flat = flat(r["samples"], cards)
    rate = r["read_mb_per_s"]
    peak = r["peak_mb"]
    return [
        row("export read", f"{rate:.0f} MB/s per core",
            f"bare iterparse {r['iterparse_mb_per_s']:.0f} MB/s", rate / r["iterparse_mb_per_s"],
            ">= 50 MB/s per core", rate >= 50,
            f"{cards:,} cards, {r['xml_mb']:.0f} MB of XML, typed records; ratio = share of "
            "lxml's bare parse speed kept", **{k: v for k, v in r.items() if k != "samples"}),
        row("export read memory", f"peak {peak:.0f} MB, {growth:+.1f} MB after warm-up",
            f"{cards:,} cards", None, "< 200 MB, flat", peak < 200 and is_flat,
            "its own process; RSS sampled every 50,000 cards", samples=r["samples"]),
        row("export duckdb counts", f"{r['duckdb_s']:.2f} s",
            f"Python streaming {r['python_stats_s']:.1f} s", r["python_stats_s"] / r["duckdb_s"],
            "< 5 s", r["duckdb_s"] < 5.0,
            f"participants per country x document-type family over Parquet ({r['groups']} "
            f"groups); writing the Parquet files took {r['parquet_s']:.0f} s "
            f"({r['parquet_mb']:.0f} MB)"),
    ]  # fmt: skip


# --- driver -------------------------------------------------------------------------------------

ALL = (
    "verify", "lookup_cpu", "trace", "bulk", "cache", "memory", "startup", "identifiers", "sandbox",
    "export",
)  # fmt: skip


def render(rows: list[Row]) -> str:
    headers = ("benchmark", "ours", "baseline", "ratio", "target", "met")
    table = [
        (r["name"], r["figure"], r["baseline"], "" if r["ratio"] is None else f"{r['ratio']}x",
         r["target"], {True: "yes", False: "NO", None: "-"}[r["met"]])
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


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        memory_child(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
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
    started = time.perf_counter()
    rows: list[Row] = []

    def step(name: str, fn: Callable[[], list[Row]]) -> None:
        if name not in only:
            return
        t = time.perf_counter()
        print(f"... {name}", file=sys.stderr, flush=True)
        rows.extend(fn())
        print(f"    {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)

    step("verify", lambda: bench_verify(args.quick))
    step("identifiers", lambda: bench_identifiers(args.quick))
    step("startup", lambda: bench_startup(args.quick))
    step("sandbox", lambda: bench_sandbox_start(args.quick))
    step("export", lambda: bench_export(args.quick))
    if {"lookup_cpu", "trace", "bulk", "cache", "memory"} & set(only):
        size = 2_000 if args.quick else 10_000
        t = time.perf_counter()
        with sandbox(size) as sb:
            print(f"    sandbox of {size} participants up in {time.perf_counter() - t:.1f} s",
                  file=sys.stderr)  # fmt: skip
            step("lookup_cpu", lambda: bench_lookup_cpu(sb, args.quick))
            step("trace", lambda: bench_trace(sb, args.quick))
            step("bulk", lambda: bench_bulk(sb, args.quick))
            step("cache", lambda: bench_cache(sb, args.quick))
            step("memory", lambda: bench_memory(sb, args.quick))
    total = time.perf_counter() - started
    print(render(rows))
    print(f"\n{'quick' if args.quick else 'full'} run, {total:.0f} s; {NO_VERIFY}.")
    result = {
        "mode": "quick" if args.quick else "full",
        "seconds": round(total, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "peer": "peppol-py" if peer_python() else None,
        "rows": rows,
    }  # fmt: skip
    out = Path(args.out or HERE / "results" / ("quick.json" if args.quick else "latest.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
