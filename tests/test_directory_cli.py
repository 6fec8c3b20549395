"""``peppolnet directory search`` against the sandbox Directory on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from peppolnet.businesscard import BusinessEntity, Name
from peppolnet.cli import main
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox.directory_service import DirectoryEntry, DirectoryService
from peppolnet.sandbox.http import HttpServer

ENTRIES = [
    DirectoryEntry(
        ParticipantId.of("0192", f"{i:09d}"),
        (),
        (BusinessEntity((Name(f"Fjord Fisk {i}"),), "NO"),),
    )
    for i in range(30)
]


def test_table_json_and_limit(capsys: pytest.CaptureFixture[str]) -> None:
    with HttpServer(DirectoryService(ENTRIES)) as srv:
        assert main(["directory", "search", "--name", "fjord", "--url", srv.base_url]) == 0
        out, err = capsys.readouterr()
        assert "iso6523-actorid-upis::0192:000000000" in out
        assert "Fjord Fisk 19" in out
        assert "Fjord Fisk 20" not in out  # --limit defaults to 20
        assert "20 of 30" in err
        argv = ["directory", "search", "fisk", "--country", "no", "--limit", "5"]
        assert main([*argv, "--json", "--url", srv.base_url]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert len(doc["matches"]) == 5
        assert doc["total"] == 30
        assert doc["matches"][0]["confirmed"] is None
        assert main(["directory", "search", "--name", "nothing", "--url", srv.base_url]) == 1


def test_short_name_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["directory", "search", "--name", "ab", "--url", "http://127.0.0.1:9"]) == 1
    assert "at least 3 characters" in capsys.readouterr().err


def test_search_the_sandbox_directory_and_confirm_with_lookups(
    sandbox: object, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    from peppolnet.sandbox import Sandbox
    from peppolnet.sandbox.state import write_state

    assert isinstance(sandbox, Sandbox)
    state = write_state(sandbox.info(), Path(str(tmp_path)) / "state.json")
    registered = next(p for p in sandbox.config.participants if p.in_sml and not p.quirks)
    stale = next(p for p in sandbox.config.participants if not p.in_sml)
    common = ["--network", "sandbox", "--state-file", str(state), "--confirm", "--json"]
    for participant, expected in ((registered, True), (stale, False)):
        argv = ["directory", "search", "--participant", participant.id.uri, *common]
        assert main(argv) == 0
        doc = json.loads(capsys.readouterr().out)
        assert [m["confirmed"] for m in doc["matches"]] == [expected]
    assert main(["directory", "search", "--name", registered.name, *common[:4]]) == 0
    assert registered.name in capsys.readouterr().out
