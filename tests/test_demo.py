"""The demo is the README's first command: it must run end to end against the sandbox."""

from __future__ import annotations

import io

import pytest

from peppolnet.cli import main
from peppolnet.demo import demo_register_path, run_demo


def test_demo_runs_the_main_job_end_to_end() -> None:
    out = io.StringIO()
    assert run_demo(out, desk_delay=0.2) == 0
    text = out.getvalue()
    assert "Checking the customer register demo-customers.csv" in text
    assert "can-receive" in text
    assert "cannot-receive" in text
    assert "search the Peppol Directory by name" in text
    assert "sent to the operator desk" in text
    assert "confirmed:" in text
    assert "confirmation mail to" in text


def test_demo_register_is_packaged() -> None:
    assert demo_register_path().is_file()


def test_demo_command(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    assert main(["demo", "--register", str(demo_register_path())]) == 0
    assert "Done" in capsys.readouterr().out
