"""benchmarks/_cache.py keeps the benchmarks' set-up between runs only while the code that made
it is unchanged: an entry whose source file, data file or library changed is made again."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from _benchmarks import ROOT, bench_module


@pytest.fixture(scope="module")
def cache() -> Any:
    return bench_module("_cache")


class Maker:
    """A product that counts how often it was made."""

    def __init__(self) -> None:
        self.made = 0

    def __call__(self, folder: Path) -> dict[str, Any]:
        import peppolnet.identifiers  # noqa: F401 - a module the entry is made by

        self.made += 1
        (folder / "product.txt").write_text(f"made {self.made}", encoding="utf-8")
        return {"seconds": 1.5}


def _stamp(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "stamp.json").read_text(encoding="utf-8"))
    return data


def _rewrite(folder: Path, stamp: dict[str, Any]) -> None:
    (folder / "stamp.json").write_text(json.dumps(stamp), encoding="utf-8")


def test_an_entry_is_kept_for_the_same_params_and_code(cache: Any, tmp_path: Path) -> None:
    make = Maker()
    first, facts, kept = cache.cached(tmp_path, "thing", {"n": 1}, make)
    assert (make.made, kept, facts["seconds"]) == (1, False, 1.5)
    again, facts_again, kept_again = cache.cached(tmp_path, "thing", {"n": 1}, make)
    assert (again, make.made, kept_again) == (first, 1, True)
    assert facts_again["build"] == facts["build"]
    assert (again / "product.txt").read_text(encoding="utf-8") == "made 1"
    # the stamp names the peppolnet code loaded when it was made, and the package's data files
    files = _stamp(first)["files"]
    assert "identifiers.py" in files
    assert any(name.startswith("data/") for name in files)


def test_another_tree_has_an_entry_of_its_own(
    cache: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two trees run with one cache (compare.py) keep an entry each, not one remade by turns."""
    make = Maker()
    ours, _, _ = cache.cached(tmp_path, "thing", {"n": 1}, make)
    monkeypatch.setattr(cache, "_package_dir", lambda: tmp_path / "old" / "peppolnet")
    theirs = cache.entry_place(tmp_path, "thing", {"n": 1})
    monkeypatch.undo()
    assert theirs != ours
    assert cache.entry_place(tmp_path, "thing", {"n": 1}) == ours


def test_other_params_are_another_entry(cache: Any, tmp_path: Path) -> None:
    make = Maker()
    one, _, _ = cache.cached(tmp_path, "thing", {"n": 1}, make)
    two, _, kept = cache.cached(tmp_path, "thing", {"n": 2}, make)
    assert (one != two, kept, make.made) == (True, False, 2)


@pytest.mark.parametrize("change", ["source", "missing", "library", "python", "no-files"])
def test_an_entry_made_by_other_code_is_made_again(cache: Any, tmp_path: Path, change: str) -> None:
    make = Maker()
    folder, facts, _ = cache.cached(tmp_path, "thing", {"n": 1}, make)
    stamp = _stamp(folder)
    if change == "source":  # as if identifiers.py had been edited since
        stamp["files"]["identifiers.py"] = "0" * 64
    elif change == "missing":  # made by a module this tree no longer has
        stamp["files"]["gone.py"] = "0" * 64
    elif change == "library":
        stamp["libraries"] = {"pytest": "0.0.1"}
    elif change == "python":
        stamp["python"] = "2.7.18"
    else:
        stamp["files"] = {}
    _rewrite(folder, stamp)
    again, facts_again, kept = cache.cached(tmp_path, "thing", {"n": 1}, make)
    assert (again, kept, make.made) == (folder, False, 2)
    assert facts_again["build"] != facts["build"]  # what was made from it keys on a new build
    assert (again / "product.txt").read_text(encoding="utf-8") == "made 2"
    assert _stamp(again)["python"] == sys.version.split()[0]


def test_a_failed_making_leaves_no_entry(cache: Any, tmp_path: Path) -> None:
    def broken(folder: Path) -> dict[str, Any]:
        (folder / "half.txt").write_text("half", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cache.cached(tmp_path, "thing", {"n": 1}, broken)
    assert list((tmp_path / "thing").iterdir()) == []
    make = Maker()
    _, _, kept = cache.cached(tmp_path, "thing", {"n": 1}, make)
    assert (kept, make.made) == (False, 1)


def test_the_cache_can_be_turned_off_or_moved(
    cache: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEPPOLNET_BENCH_CACHE", "off")
    assert cache.cache_root() is None
    monkeypatch.setenv("PEPPOLNET_BENCH_CACHE", str(tmp_path))
    assert cache.cache_root() == tmp_path
    monkeypatch.delenv("PEPPOLNET_BENCH_CACHE")
    assert cache.cache_root() == ROOT / "benchmarks" / ".cache"
