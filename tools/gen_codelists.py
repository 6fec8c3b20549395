#!/usr/bin/env python3
"""Compile the Peppol eDEC code lists into peppolnet's own compact data files.

Why a generator: the code lists change with every release (v9.7 today). Re-running this script
against the next release's JSON files is the whole upgrade; nothing is typed by hand.

Usage::

    python tools/gen_codelists.py [SOURCE_DIR] [--out src/peppolnet/data/codelists]

SOURCE_DIR defaults to ``../shared/refdata/codelists/v9.7`` (relative to the repository root).
Each output file records the source file name, its SHA-256 and the code list version in a
``_source`` entry, so a reader can tell exactly which release the package carries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "refdata" / "codelists" / "v9.7"
DEFAULT_OUT = ROOT / "src" / "peppolnet" / "data" / "codelists"

LISTS = {
    "participant_schemes": "Participant identifier schemes",
    "document_types": "Document types",
    "processes": "Processes",
    "transport_profiles": "Transport profiles",
}

# "RegEx: [0-9]{11} (company identification)" -> "[0-9]{11}"
_REGEX_LINE = re.compile(r"^\s*RegEx:\s*(\S+)", re.MULTILINE)


def _source_file(source: Path, title: str) -> Path:
    matches = sorted(source.glob(f"Peppol Code Lists - {title} v*.json"))
    if len(matches) != 1:
        sys.exit(f"expected one JSON file for {title!r} in {source}, found {len(matches)}")
    return matches[0]


def _regexes(*texts: str | None) -> str | None:
    """All ``RegEx:`` lines of the free-text rules, joined as one alternation (None if none)."""
    found: list[str] = []
    for text in texts:
        found.extend(_REGEX_LINE.findall(text or ""))
    if not found:
        return None
    return found[0] if len(found) == 1 else "|".join(f"(?:{r})" for r in found)


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _participant(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "icd": v["iso6523"],
        "scheme_id": v["schemeid"],
        "country": v["country"],
        "name": v["scheme-name"],
        "state": v["state"],
        "initial_release": v.get("initial-release"),
        "deprecation_release": v.get("deprecation-release"),
        "removal_date": v.get("removal-date"),
        "registrable": bool(v.get("registrable")),
        "validation_rules": v.get("validation-rules") or "",
        "regex": _regexes(v.get("validation-rules"), v.get("structure")),
        "examples": _lines(v.get("examples")),
    }


def _document_type(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "scheme": v["scheme"],
        "value": v["value"],
        "name": v["name"],
        "state": v["state"],
        "initial_release": v.get("initial-release"),
        "deprecation_release": v.get("deprecation-release"),
        "removal_date": v.get("removal-date"),
        "category": v.get("category"),
        "process_ids": [f"{p['scheme']}::{p['value']}" for p in v.get("process-ids", [])],
    }


def _process(v: dict[str, Any]) -> dict[str, Any]:
    return {"scheme": v["scheme"], "value": v["value"], "state": v["state"]}


def _transport_profile(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "profile_id": v["profile-id"],
        "protocol": v.get("protocol"),
        "profile_version": v.get("profile-version"),
        "state": v["state"],
        "initial_release": v.get("initial-release"),
        "deprecation_release": v.get("deprecation-release"),
        "removal_date": v.get("removal-date"),
    }


CONVERTERS = {
    "participant_schemes": _participant,
    "document_types": _document_type,
    "processes": _process,
    "transport_profiles": _transport_profile,
}


def generate(source: Path, out: Path) -> dict[str, int]:
    """Write one JSON file per code list into ``out``; returns entry counts per list."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, title in LISTS.items():
        path = _source_file(source, title)
        raw = path.read_bytes()
        data = json.loads(raw)
        values = [CONVERTERS[name](v) for v in data["values"]]
        if data.get("entry-count") not in (None, len(values)):
            sys.exit(f"{path.name}: entry-count {data['entry-count']} != {len(values)} values")
        doc = {
            "_source": {
                "file": path.name,
                "sha256": hashlib.sha256(raw).hexdigest(),
                "version": str(data.get("version")),
                "generator": "tools/gen_codelists.py",
            },
            "values": values,
        }
        # One entry per line: compact, yet diffs between releases stay readable.
        lines = ",\n".join(json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in values)
        text = (
            '{"_source":'
            + json.dumps(doc["_source"], separators=(",", ":"))
            + ',\n"values":[\n'
            + lines
            + "\n]}\n"
        )
        assert json.loads(text) == doc
        (out / f"{name}.json").write_text(text, encoding="utf-8")
        counts[name] = len(values)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    counts = generate(args.source, args.out)
    for name, count in counts.items():
        print(f"{name}: {count} entries -> {args.out / (name + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
