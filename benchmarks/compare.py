"""Two trees, one run: the same benchmarks for an older tree and this one, interleaved.

    python benchmarks/compare.py OLD_SRC [NEW_SRC] [--quick] [--only verify,bulk,...] [--out F]

For each benchmark step, ``run.py --only STEP`` runs once with ``PYTHONPATH=OLD_SRC`` and once
with ``PYTHONPATH=NEW_SRC`` (default: this tree's ``src``), the order turned every step, so both
trees meet the same machine at nearly the same time. The harness and the sandbox are this
tree's for both (``_sandbox_proc.py`` always puts its own tree first): only the client changes.
Make the old tree with ``git archive COMMIT src | tar -x -C /tmp/old`` (OLD_SRC: /tmp/old/src).

Each row's figure of merit is its ratio (or, for the memory rows, the peak RSS); the table says
for every row present in both whether the new tree is better or worse, and flags a row worse by
more than 10%. A row's direction comes from its target: "<=" and "<" targets (and memory) are
better lower, everything else higher.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STEPS = (
    "verify",
    "identifiers",
    "startup",
    "sandbox",
    "lookup_cpu",
    "trace",
    "bulk,cache",
    "memory",
)
WORSE = 0.10


def run_step(src: str, step: str, quick: bool, out: Path) -> list[dict[str, Any]]:
    env = dict(os.environ, PYTHONPATH=src)
    argv = [sys.executable, str(HERE / "run.py"), "--only", step, "--out", str(out)]
    done = subprocess.run([*argv, *(["--quick"] if quick else [])], env=env, check=False,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        tail = " ".join(done.stderr.strip().splitlines()[-1:])
        return [{"name": f"{step} (failed)", "error": tail}]
    rows: list[dict[str, Any]] = json.loads(out.read_text(encoding="utf-8"))["rows"]
    return rows


def merit(r: dict[str, Any]) -> tuple[float | None, bool]:
    """(figure of merit, lower is better) of a row."""
    if r.get("data", {}).get("peak_mb") is not None:
        return float(r["data"]["peak_mb"]), True
    lower = str(r.get("target", "")).lstrip().startswith(("<=", "<"))
    return r.get("ratio"), lower


def compare(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {r["name"]: r for r in old}
    out = []
    for r in new:
        before = by_name.get(r["name"])
        if before is None:
            continue
        (a, lower), (b, _) = merit(before), merit(r)
        change = None if a is None or b is None or a == 0 else (b - a) / a
        worse = change is not None and ((change > WORSE) if lower else (change < -WORSE))
        out.append({"name": r["name"], "old": before.get("figure"), "new": r.get("figure"),
                    "old_merit": a, "new_merit": b, "lower_is_better": lower,
                    "change": change, "worse_by_more_than_10pct": worse})  # fmt: skip
    return out


def render(rows: list[dict[str, Any]]) -> str:
    lines = ["| row | old | new | merit old -> new | change | |", "|---|---|---|---|---|---|"]
    for r in rows:
        change = "" if r["change"] is None else f"{r['change'] * 100:+.0f}%"
        flag = "**worse >10%**" if r["worse_by_more_than_10pct"] else ""
        lower = " (lower is better)" if r["lower_is_better"] else ""
        merit_text = f"{r['old_merit']} -> {r['new_merit']}{lower}"
        lines.append(
            f"| {r['name']} | {r['old']} | {r['new']} | {merit_text} | {change} | {flag} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_src")
    parser.add_argument("new_src", nargs="?", default=str(HERE.parent / "src"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=";".join(STEPS), help="steps separated by ';'")
    parser.add_argument("--out", default=str(HERE / "results" / "compare.json"))
    args = parser.parse_args()
    trees = {"old": args.old_src, "new": args.new_src}
    rows: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i, step in enumerate(s for s in args.only.split(";") if s):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            for which in order:
                print(f"... {step} ({which})", file=sys.stderr, flush=True)
                rows[which] += run_step(trees[which], step, args.quick, Path(tmp) / "r.json")
    result = compare(rows["old"], rows["new"])
    print(render(result))
    worse = [r["name"] for r in result if r["worse_by_more_than_10pct"]]
    print(f"\nrows worse by more than 10%: {', '.join(worse) if worse else 'none'}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"trees": trees, "rows": rows, "comparison": result},
                                         indent=2) + "\n", encoding="utf-8")  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
