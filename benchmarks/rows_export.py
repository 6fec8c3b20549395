"""The Directory export rows: streaming read speed and memory, Parquet, DuckDB counts.

``bench_export.py`` does the work (standalone too); this turns its figures into rows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import Row, row


def bench_export(quick: bool) -> list[Row]:
    """Streaming read of a synthetic XML export (MB/s per core, peak RSS), Parquet, DuckDB."""
    from bench_export import flat, measure

    cards = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        r = measure(cards, Path(tmp))
    growth, is_flat = flat(r["samples"], cards)
    rate = r["read_mb_per_s"]
    setup = (f"when made, {r['setup_made_at']} (set-up kept between runs by the same code)"
             if r["setup_cached"] else "in this run")  # fmt: skip
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
            f"({r['parquet_mb']:.0f} MB) {setup}"),
    ]  # fmt: skip
