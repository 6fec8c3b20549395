"""Set-up kept between benchmark runs: products that take long to make and are not measured.

The export rows need a synthetic Directory export of 1,000,000 cards (1.3 GB of XML, ~40 s to
write) and its Parquet tables (~1-2 minutes to write); neither is what the rows measure, and
both are the same on every run of the same code. So they are kept in a cache folder
(``benchmarks/.cache``, gitignored; ``PEPPOLNET_BENCH_CACHE`` names another, ``off`` turns the
cache off) and used again while they are still what this tree would make.

**What an entry's answer depends on** is its parameters (the key: cards, seed, format) and the
code and data that made it. The code is not named by hand (a list would go stale): an entry
records every ``peppolnet`` source file loaded in the process that made it, and every file
under ``peppolnet/data``, with its SHA-256, plus the versions of the libraries it wrote with.
An entry is used only while all of them are unchanged in the tree being run; otherwise it is
made again and replaced. So the process that makes an entry must load nothing else of
peppolnet (``bench_export.py`` makes them in a child process of its own).

Entries are made in a temporary folder beside their place and renamed into it, so a run that is
killed leaves no half entry under a valid name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STAMP = "stamp.json"
#: third-party libraries whose version is part of what made an entry, when they are loaded
LIBRARIES = ("lxml", "pyarrow", "duckdb")


def cache_root() -> Path | None:
    """The cache folder, or None when ``PEPPOLNET_BENCH_CACHE=off``."""
    name = os.environ.get("PEPPOLNET_BENCH_CACHE", "")
    if name.lower() in ("off", "0", "no"):
        return None
    return Path(name) if name else HERE / ".cache"


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _package_dir() -> Path:
    import peppolnet

    return Path(peppolnet.__file__).resolve().parent


def made_by() -> dict[str, Any]:
    """What this process would make an entry with: the peppolnet source files loaded now and
    every data file of the package (paths relative to the package), the libraries' versions
    and Python's."""
    package = _package_dir()
    files: dict[str, str | None] = {}
    for name, module in list(sys.modules.items()):
        if name != "peppolnet" and not name.startswith("peppolnet."):
            continue
        source = getattr(module, "__file__", None)
        if source:
            path = Path(source).resolve()
            files[str(path.relative_to(package))] = _sha256(path)
    for path in sorted((package / "data").rglob("*")):
        if path.is_file():
            files[str(path.relative_to(package))] = _sha256(path)
    versions = {lib: getattr(sys.modules[lib], "__version__", "?") for lib in LIBRARIES
                if lib in sys.modules}  # fmt: skip
    return {"files": files, "libraries": versions, "python": sys.version.split()[0]}


def still_valid(stamp: Mapping[str, Any]) -> bool:
    """Whether the tree being run would make the entry stamped ``stamp`` as it is: every file
    it was made by has the same content here, and the same library and Python versions."""
    package = _package_dir()
    files = stamp.get("files") or {}
    if not files or any(_sha256(package / name) != digest for name, digest in files.items()):
        return False
    if stamp.get("python") != sys.version.split()[0]:
        return False
    for lib, version in (stamp.get("libraries") or {}).items():
        try:
            module = __import__(lib)
        except ImportError:
            return False
        if getattr(module, "__version__", "?") != version:
            return False
    return True


def key_of(params: Mapping[str, Any]) -> str:
    """The folder name of the entry made with ``params``."""
    text = json.dumps(dict(params), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def entry_place(root: Path, kind: str, params: Mapping[str, Any]) -> Path:
    """Where the entry of ``kind`` made with ``params`` by the tree being run is kept: per
    tree as well, since compare.py runs an older tree with this harness and its cache, and
    two trees sharing one place would each find the other's entry stale and remake it."""
    return root / kind / key_of({**params, "package": str(_package_dir())})


def cached(
    root: Path, kind: str, params: Mapping[str, Any], make: Callable[[Path], dict[str, Any]]
) -> tuple[Path, dict[str, Any], bool]:
    """The entry of ``kind`` made with ``params`` under ``root``: its folder, what ``make``
    reported when it made it (plus ``made_at``), and whether it was there already.

    ``make(folder)`` writes the product into ``folder`` and returns facts about it (JSON);
    it runs when there is no valid entry, and the entry replaces any stale one. The facts
    get ``made_at`` and ``build`` (unique to this making: a product made from this one keys
    on it, so a remade input is never paired with an old output).
    """
    place = entry_place(root, kind, params)
    stamp_file = place / STAMP
    if stamp_file.is_file():
        try:
            stamp = json.loads(stamp_file.read_text(encoding="utf-8"))
        except ValueError:
            stamp = {}
        if stamp.get("params") == dict(params) and still_valid(stamp):
            return place, stamp["facts"], True
    building = place.with_name(f"{place.name}.part-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        made_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        # ``build`` names this making: an entry made from it keys on it (see bench_export)
        facts = {**make(building), "made_at": made_at, "build": uuid.uuid4().hex}
        stamp = {"params": dict(params), "facts": facts, **made_by()}
        (building / STAMP).write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")
        shutil.rmtree(place, ignore_errors=True)
        building.rename(place)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return place, facts, False
