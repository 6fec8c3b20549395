"""``peppolnet customers import|search|refresh|changes`` end to end, with ``--db`` and a sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from peppolnet.cli import main
from peppolnet.cli.commands.customers import parse_duration
from peppolnet.errors import InvalidInput
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "customers.csv"


@pytest.fixture
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    """A sandbox reached the way a user reaches it: ``--network sandbox --state-file``."""
    with Sandbox.start(key_dir=tmp_path_factory.mktemp("keys")) as sb:
        state = write_state(sb.info(), tmp_path_factory.mktemp("state") / "sandbox.json")
        yield sb, state


def test_parse_duration() -> None:
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("1d12h") == timedelta(days=1, hours=12)
    assert parse_duration(" 2w ") == timedelta(weeks=2)
    for bad in ("", "7", "7x", "d7", "1d garbage"):
        with pytest.raises(InvalidInput, match="not a duration"):
            parse_duration(bad)


def test_import_then_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    assert main(["customers", "import", str(FIXTURE), "--db", db, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["added"], out["total"], len(out["skipped"])) == (38, 38, 4)
    assert main(["customers", "import", str(FIXTURE), "--db", db]) == 0
    captured = capsys.readouterr()
    assert "0 added, 0 updated, 38 unchanged, 4 skipped; 38 customers" in captured.out
    assert "row 40:" in captured.err

    assert main(["customers", "search", "fjalrav konsult", "--db", db, "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["name"] == "Fjällräv Konsult AB"
    assert hits[0]["matched_by"] == "name"
    assert hits[0]["verdict"] is None  # never checked
    assert set(hits[0]) >= {"participant_id", "org_number", "operator_name", "checked_at"}

    assert main(["customers", "search", "550912-8723", "--db", db]) == 0
    table = capsys.readouterr().out
    assert "Fjällräv Konsult AB" in table
    assert "0007:5509128723" in table
    assert "never" in table

    assert main(["customers", "search", "zzqxv", "--db", db]) == 1
    assert "no customer matches 'zzqxv'" in capsys.readouterr().err


def test_environment_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PEPPOLNET_DB", str(tmp_path / "env.sqlite"))
    assert main(["customers", "import", str(FIXTURE)]) == 0
    assert (tmp_path / "env.sqlite").is_file()
    assert str(tmp_path / "env.sqlite") in capsys.readouterr().out


def test_bad_database_and_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    assert main(["customers", "search", "x", "--db", str(junk)]) == 1
    assert "not a SQLite database" in capsys.readouterr().err
    db = str(tmp_path / "c.sqlite")
    assert main(["customers", "import", str(tmp_path / "missing.csv"), "--db", db]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["customers", "refresh", "--older-than", "soon", "--db", db]) == 2
    assert "not a duration" in capsys.readouterr().err


def test_refresh_and_changes(
    sandbox: tuple[Sandbox, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sb, state = sandbox
    db = str(tmp_path / "c.sqlite")
    net = ["--network", "sandbox", "--state-file", str(state)]
    assert main(["customers", "import", str(FIXTURE), "--db", db]) == 0
    assert main(["customers", "refresh", "--db", db, "--json", *net]) == 0
    capsys.readouterr()
    assert main(["customers", "refresh", "--db", db, "--older-than", "1h", *net]) == 0
    assert "checked 0: nothing due" in capsys.readouterr().out
    assert main(["customers", "changes", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []

    assert main(["customers", "search", "Nordlys Bygg", "--db", db]) == 0
    assert "Kvittra AB" in capsys.readouterr().out
    sb.move_participant("0007:5584821341", "norrsken")
    assert main(["customers", "refresh", "--db", db, "--json", *net]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checked"] == 38
    assert report["counts"]["can-receive"] >= 10

    assert main(["customers", "changes", "--db", db, "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)
    kinds = {(c["kind"], c["name"]) for c in changes}
    assert kinds == {("changed-operator", "Nordlys Bygg AB"), ("changed-smp", "Nordlys Bygg AB")}
    moved = next(c for c in changes if c["kind"] == "changed-operator")
    assert moved["before"]["seat_id"] == "PSE000102"
    assert moved["after"]["seat_id"] == sb.config.operator("norrsken").seat_id

    assert main(["customers", "changes", "--db", db]) == 0
    text = capsys.readouterr().out
    assert "changed-operator" in text
    assert "Kvittra AB" in text


def test_usage_without_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["customers"]) == 2
    assert "import" in capsys.readouterr().err


def test_operator_changes_become_update_request_drafts(
    sandbox: tuple[Sandbox, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """customers refresh sees a customer move; request drafts turns that into an update draft."""
    sb, state = sandbox
    db = str(tmp_path / "d.sqlite")
    net = ["--network", "sandbox", "--state-file", str(state)]
    assert main(["customers", "import", str(FIXTURE), "--db", db]) == 0
    assert main(["customers", "refresh", "--db", db, *net]) == 0
    assert main(["request", "drafts", "--db", db, *net]) == 0
    assert "nothing to draft" in capsys.readouterr().out

    before = sb.config.operator("kvittra").seat_id
    sb.move_participant("0007:5584821341", "norrsken")
    try:
        assert main(["customers", "refresh", "--db", db, *net]) == 0
        capsys.readouterr()
        assert main(["request", "drafts", "--db", db, "--dry-run", "--json", *net]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["stored"] is False
        assert [d["participant_id"] for d in shown["drafts"]] == [
            "iso6523-actorid-upis::0007:5584821341"
        ]
        draft = shown["drafts"][0]
        assert draft["operator"]["seat_id"] == before  # back where it was
        assert draft["current_operator"]["seat_id"] == sb.config.operator("norrsken").seat_id
        assert main(["request", "list", "--db", db, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []  # a dry run stores nothing

        assert main(["request", "drafts", "--db", db, "--operator", "Fjordpost AS", *net]) == 0
        text = capsys.readouterr().out
        assert "1 update request(s) stored as drafts" in text
        assert main(["request", "list", "--db", db, "--status", "draft", "--json"]) == 0
        stored = json.loads(capsys.readouterr().out)
        assert len(stored) == 1
        fjordpost = sb.config.operator("fjordpost").seat_id
        assert stored[0]["request"]["operator"]["seat_id"] == fjordpost

        assert main(["request", "drafts", "--db", db, "--operator", "Nobody AB", *net]) == 1
        assert "--operator 'Nobody AB'" in capsys.readouterr().err
        assert main(["request", "drafts", "--db", db, "--since", "yesterday", *net]) == 2
        assert "not an ISO 8601 time" in capsys.readouterr().err
    finally:
        sb.move_participant("0007:5584821341", "kvittra")
