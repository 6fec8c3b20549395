"""``peppolnet id check|suggest``: the JSON contract, exit codes, human output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from peppolnet.cli import main

KEYS = ["input", "valid", "participant_id", "scheme", "scheme_state", "problems"]


def test_check_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["id", "check", "--json", "0007:5567321707", "0007:5567321708", "nonsense"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [list(o) for o in out] == [KEYS] * 3
    good, bad, junk = out
    assert good == {
        "input": "0007:5567321707",
        "valid": True,
        "participant_id": "iso6523-actorid-upis::0007:5567321707",
        "scheme": "0007",
        "scheme_state": "active",
        "problems": [],
    }
    assert bad["valid"] is False
    assert bad["problems"] == ["check digit does not match (SE:ORGNR, Luhn)"]
    assert junk["participant_id"] is None
    assert junk["scheme"] is None
    assert junk["scheme_state"] is None
    assert len(junk["problems"]) == 1


def test_check_all_valid_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["id", "check", "--json", "iso6523-actorid-upis::9930:DE211155632"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out[0]["participant_id"] == "iso6523-actorid-upis::9930:de211155632"


def test_check_deprecated_is_valid_with_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["id", "check", "--json", "9909:NO991825827MVA"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["scheme_state"] == "deprecated"
    assert entry["valid"] is True
    assert "deprecated" in entry["problems"][0]


def test_check_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["id", "check", "0007:5567321707", "0007:5567321708"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "✓ iso6523-actorid-upis::0007:5567321707  SE:ORGNR (active)",
        "✗ 0007:5567321708  check digit does not match (SE:ORGNR, Luhn)",
    ]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["id"], ["id", "check"], ["id", "suggest", "123"], ["id", "nope"]):
        assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_suggest_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["id", "suggest", "BE 0677.424.046", "--country", "BE", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "number": "BE 0677.424.046",
        "country": "BE",
        "candidates": [
            "iso6523-actorid-upis::0208:0677424046",
            "iso6523-actorid-upis::9925:be0677424046",
        ],
        "reason": None,
    }


def test_suggest_human_and_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["id", "suggest", "556732-1707", "--country", "SE"]) == 0
    assert capsys.readouterr().out == "iso6523-actorid-upis::0007:5567321707\n"
    assert main(["id", "suggest", "556732-1708", "--country", "SE"]) == 1
    assert capsys.readouterr().out.startswith("✗ no participant identifier: ")


def test_console_script_never_prints_a_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "peppolnet", "id", "check", "--json", "é:ü", "0000:x"],
        capture_output=True,
        text=True,
        errors="replace",
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert [o["valid"] for o in json.loads(proc.stdout)] == [False, False]


def test_only_the_command_being_run_is_imported() -> None:
    """``peppolnet --version`` and ``peppolnet id ...`` do not import every command module."""
    import subprocess
    import sys

    probe = (
        "import sys; from peppolnet.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules "
        "if m.startswith('peppolnet.cli.commands.')))"
    )
    version = subprocess.run([sys.executable, "-c", probe, "--version"],
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert version.stdout.splitlines()[-1] == "[]"
    one = subprocess.run([sys.executable, "-c", probe, "id", "check", "0007:5567321707"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert one.stdout.splitlines()[-1] == "['id']"
    wrong = subprocess.run([sys.executable, "-c", probe, "nope"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert "'sandbox'" in wrong.stderr  # the error still lists every command
