"""``peppolnet serve`` in a real process: it prints where it listens, serves the page on the
sandbox (a running one, through its state file), and stops cleanly on SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import peppolnet
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state

SRC = Path(peppolnet.__file__).resolve().parents[1]


def test_serve_shows_the_page_on_the_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    state = write_state(sandbox.info(), tmp_path / "sandbox.json")
    env = {**os.environ, "PYTHONPATH": str(SRC), "PEPPOLNET_LANG": "sv"}
    command = [sys.executable, "-m", "peppolnet.cli", "serve", "--port", "0"]
    # a mail channel beside the sandbox's desk (the server is contacted only when mail is sent)
    smtp = ["--smtp", "127.0.0.1:2525", "--smtp-to", "onboarding@op.example"]
    smtp += ["--smtp-from", "support@desk.example", "--smtp-security", "none"]
    child = subprocess.Popen(
        [*command, "--network", "sandbox", "--state-file", str(state), *smtp],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("peppolnets supportsida finns på http://127.0.0.1:"), line
        url = line.split(" på ", 1)[1].split(" ", 1)[0]
        page = httpx.get(f"{url}search", params={"q": "0007:5584821341"}, timeout=60)
        assert page.status_code == 200
        assert 'data-verdict="can-receive"' in page.text
        assert '<html lang="sv">' in page.text
        form = httpx.get(f"{url}cases/new", timeout=60).text
        assert '<option value="desk"' in form
        assert '<option value="smtp"' in form
    finally:
        child.send_signal(signal.SIGINT)
        try:
            code = child.wait(timeout=60)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung server fails the test
            child.kill()
            pytest.fail("peppolnet serve did not stop on SIGINT")
    assert code == 0, child.stderr.read() if child.stderr else ""
