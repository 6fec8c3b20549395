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
