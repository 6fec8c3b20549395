"""``peppolnet operators list|show|add``: the registry file next to the database, and seeding it
from a running sandbox (its state file)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peppolnet.cli import main
from peppolnet.cli.commands.operators import default_operators_path
from peppolnet.operators import OperatorRegistry
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    with Sandbox.start() as sb:
        yield sb, write_state(sb.info(), tmp_path_factory.mktemp("state") / "sandbox.json")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    try:
        out: Any = json.loads(captured.out)
    except ValueError:
        out = captured.out
    return code, out, captured.err


def test_default_path_is_next_to_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PEPPOLNET_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_operators_path() == tmp_path / "peppolnet" / "operators.json"
    monkeypatch.setenv("PEPPOLNET_DB", str(tmp_path / "elsewhere" / "db.sqlite"))
    assert default_operators_path() == tmp_path / "elsewhere" / "operators.json"


def test_add_list_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = str(tmp_path / "ops.json")
    code, _, err = run(capsys, "operators", "list", "--file", file)
    assert code == 2  # a file named on the command line must exist where it is only read
    assert "does not exist" in err
    code, out, _ = run(
        capsys, "operators", "add", "--seat-id", "pse000102", "--name", "Kvittra AB",
        "--country", "se", "--file", file, "--json",
    )  # fmt: skip
    assert code == 0
    assert out["operator"]["seat_id"] == "PSE000102"
    assert out["operator"]["country"] == "SE"
    assert OperatorRegistry.load(file).by_seat_id("PSE000102") is not None
    code, listing, _ = run(capsys, "operators", "list", "--file", file, "--json")
    assert [op["name"] for op in listing] == ["Kvittra AB"]
    code, shown, _ = run(capsys, "operators", "show", "0242:000102", "--file", file, "--json")
    assert code == 0
    assert shown["found"] is True
    assert shown["seat_id"] == "PSE000102"
    code, text, _ = run(capsys, "operators", "show", "kvittra ab", "--file", file)
    assert text.startswith("PSE000102  Kvittra AB  SE")
    code, missing, _ = run(capsys, "operators", "show", "Kvitra", "--file", file, "--json")
    assert code == 1
    assert missing["found"] is False
    assert "did you mean: Kvittra AB (PSE000102)?" in missing["problem"]


def test_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = str(tmp_path / "ops.json")
    code, _, err = run(capsys, "operators", "add", "--seat-id", "P12", "--file", file)
    assert code == 1
    assert "not a Peppol Seat ID" in err
    code, _, err = run(
        capsys, "operators", "add", "--seat-id", "PSE000102", "--country", "Sweden", "--file", file
    )
    assert code == 1
    assert "two-letter" in err
    code, _, err = run(capsys, "operators", "add", "--file", file)
    assert code == 2  # options that need each other
    assert "--seat-id" in err
    assert not Path(file).exists()
    Path(file).write_text("{not json")
    code, _, err = run(capsys, "operators", "list", "--file", file)
    assert code == 1
    assert "is not valid" in err


def test_seed_from_the_sandbox(
    tmp_path: Path, state: tuple[Sandbox, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sb, state_file = state
    file = str(tmp_path / "ops.json")
    code, text, _ = run(
        capsys, "operators", "add", "--network", "sandbox", "--state-file", str(state_file),
        "--file", file,
    )  # fmt: skip
    assert code == 0
    assert "sandbox operators saved" in text
    seats = {op.seat_id for op in OperatorRegistry.load(file)}
    assert seats == {op.seat_id for op in sb.config.operators}
    code, shown, _ = run(capsys, "operators", "show", "Norrsken Invoice", "--file", file, "--json")
    assert shown["seat_id"] == "PSE000109"


def test_sandbox_that_is_not_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "operators", "list", "--network", "sandbox",
        "--state-file", str(tmp_path / "none.json"), "--file", str(tmp_path / "ops.json"),
    )  # fmt: skip
    assert code == 2  # the network named on the command line is not there
    assert "no sandbox is running" in err


def test_requests_name_any_sandbox_operator_by_its_id_or_part_of_its_name(
    tmp_path: Path,
    state: tuple[Sandbox, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--operator kvittra`` resolved and ``--operator norrsken`` did not: only whole names
    (without the legal form) matched, and "Norrsken Invoice AB" is more than "norrsken"; the
    sandbox's operator ids were dropped on the way into the registry."""
    sb, state_file = state
    monkeypatch.setenv("PEPPOLNET_DB", str(tmp_path / "data" / "recipients.sqlite"))
    network = ("--network", "sandbox", "--state-file", str(state_file))
    for op in sb.config.operators:
        code, out, err = run(
            capsys, "request", "add", "--name", "Bygg AB", "--org-number", "559012-3450",
            "--operator", op.id, "--email", "f@bygg.example", "--no-check", "--json", *network,
        )  # fmt: skip
        assert code == 0, (op.id, out, err)
        assert out["request"]["operator"]["seat_id"] == op.seat_id, op.id
