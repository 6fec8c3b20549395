"""``peppolnet directory export download|stats|diff`` against the session's sandbox (through its
state file, as a user runs it): the output in both languages and as JSON."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from peppolnet.analytics import export_statistics
from peppolnet.businesscard import Name
from peppolnet.cli import main
from peppolnet.directory.export import ExportKind, read_export, write_export
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state
from peppolnet.sandbox.synthetic_export import synthetic_cards

CARDS = list(synthetic_cards(200, seed=21))


@pytest.fixture
def env(peppol_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = write_state(peppol_sandbox.info(), tmp_path / "sandbox.json")
    monkeypatch.setenv("PEPPOLNET_SANDBOX_STATE", str(state))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PEPPOLNET_LANG", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    return tmp_path


def _file(folder: Path, name: str, cards: list, kind: ExportKind) -> Path:  # type: ignore[type-arg]
    path = folder / name
    with path.open("wb") as out:
        write_export(cards, kind, out)
    return path


def test_download_then_stats_of_the_network_export(
    env: Path, peppol_sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    kind = ["--kind", "businesscards-json", "--network", "sandbox"]
    assert main(["directory", "export", "download", *kind, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["kind"], first["from_cache"], first["fresh"]) == (
        "businesscards-json",
        False,
        True,
    )
    assert first["downloads_left"] == 2
    assert Path(first["path"]).is_file()
    # the second time: today's copy, no request (human output, in Swedish)
    assert main(["directory", "export", "download", *kind, "--lang", "sv"]) == 0
    out = capsys.readouterr().out
    assert "Dagens kopia av directory-export-business-cards.json.gz finns redan" in out
    # stats without a file: the network's export (the copy on disk)
    assert main(["directory", "export", "stats", *kind, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    cards = sum(1 for e in peppol_sandbox.directory.entries() if e.entities)
    assert stats["statistics"]["participants"] == cards
    assert stats["header"]["format"] == "json"
    assert stats["problems"] == []
    assert stats["complete"]


def test_stats_in_both_languages(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(env, "e.xml", CARDS, ExportKind.BUSINESS_CARDS_XML)
    expected = export_statistics(CARDS)
    assert main(["directory", "export", "stats", str(path), "--lang", "en"]) == 0
    english = capsys.readouterr().out
    assert (
        f"{expected.participants} participants, {expected.organisations} organisations" in english
    )
    assert "BIS Billing 3.0 invoice" in english
    assert "BE Belgium" in english
    assert main(["directory", "export", "stats", str(path), "--lang", "sv"]) == 0
    swedish = capsys.readouterr().out
    assert f"{expected.participants} deltagare, {expected.organisations} organisationer" in swedish
    assert "BIS Billing 3.0 faktura" in swedish
    assert "BE Belgien" in swedish
    assert main(["directory", "export", "stats", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["statistics"] == expected.to_json()  # language-neutral keys and values


def test_stats_of_a_damaged_export_list_what_was_lost(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(env, "e.json", CARDS, ExportKind.BUSINESS_CARDS_JSON)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])
    assert main(["directory", "export", "stats", str(path), "--lang", "sv"]) == 1
    out = capsys.readouterr().out
    assert "Delar av exporten som inte gick att läsa: 2" in out
    assert "filen slutar mitt i en post" in out
    assert re.search(r"hela filen: filen anger 200 deltagare men innehåller \d+: \d+ saknas", out)


def test_diff_lists_changes_and_writes_parquet(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = dataclasses.replace(
        CARDS[3],
        entities=(dataclasses.replace(CARDS[3].entities[0], names=(Name("\x1b[31mEvil AB"),)),),
    )
    new = [*CARDS[:3], renamed, *CARDS[4:150]]
    old_path = _file(env, "old.xml", CARDS, ExportKind.BUSINESS_CARDS_XML)
    new_path = _file(env, "new.csv", new, ExportKind.BUSINESS_CARDS_CSV)
    out_dir = env / "diff"
    assert main(["directory", "export", "diff", str(old_path), str(new_path), "--output",
                 str(out_dir), "--lang", "en"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "200 participants before, 150 after: 0 added, 50 removed, 1 changed" in out
    assert "\\x1b[31mEvil AB" in out
    assert "\x1b" not in out
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "added.parquet", "changed.parquet", "removed.parquet",
    ]  # fmt: skip
    assert main(["directory", "export", "diff", str(old_path), str(new_path), "--json",
                 "--limit", "2"]) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"added": 0, "removed": 50, "changed": 1, "old": 200, "new": 150}
    assert len(data["removed"]) == 2
    assert data["changed"][0]["changes"] == ["names"]


def test_diff_refuses_an_output_that_is_a_file_before_it_compares(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_path = _file(env, "old.xml", CARDS, ExportKind.BUSINESS_CARDS_XML)
    taken = env / "diff.txt"
    taken.write_text("mine\n")
    assert main(["directory", "export", "diff", str(old_path), str(old_path), "--output",
                 str(taken), "--lang", "sv"]) == 2  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before the diff, not after it
    assert f"{taken} är en fil, inte en mapp" in captured.err
    assert "File exists" not in captured.err
    assert taken.read_text() == "mine\n"


def test_the_stats_of_a_file_are_those_of_its_records(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(env, "p.csv", CARDS, ExportKind.PARTICIPANTS_CSV)
    assert main(["directory", "export", "stats", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["statistics"] == export_statistics(read_export(path)).to_json()
    assert data["header"]["content"] == "participants"
