"""``peppolnet schemes [--coverage] [--json]``."""

from __future__ import annotations

import json

import pytest

from peppolnet.cli import main


def test_schemes_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemes", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 105
    sweden = next(s for s in out if s["icd"] == "0007")
    assert sweden["scheme_id"] == "SE:ORGNR"
    assert sweden["state"] == "active"
    assert next(s for s in out if s["icd"] == "9955")["removal_date"] == "2023-07-31"


def test_schemes_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Peppol code list v9.7"
    assert lines[1].split() == ["ICD", "Scheme", "Country", "State", "Name"]
    assert len(lines) == 3 + 105
    assert any(line.startswith("0007  SE:ORGNR") for line in lines)


def test_coverage_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemes", "--coverage", "--json"]) == 0
    rows = {r["icd"]: r for r in json.loads(capsys.readouterr().out)}
    assert len(rows) == 105
    assert rows["0007"]["check_digits_enforced"] is True
    assert rows["0060"]["check_digits_enforced"] is False
    assert rows["0060"]["structure_enforced"] is True
    assert rows["9913"]["how"].startswith("none")


def test_coverage_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemes", "--coverage"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["ICD", "Scheme", "State", "Structure", "Check"]
    row = next(line for line in lines if line.startswith("0209"))
    assert "yes" in row
    assert "gs1_128" in row
