"""``peppolnet sandbox serve|info`` as a person uses them: a real process, dnspython, httpx, curl.

The server runs as ``python -m peppolnet sandbox serve`` in a subprocess; the test reads the JSON
line it prints, asks its DNS and SMPs with plain clients, runs ``peppolnet lookup --network
sandbox`` in a second process, and stops it with a signal like Ctrl-C would.
"""

from __future__ import annotations

import json
import shutil
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import httpx
import pytest

from _ports import udp_and_tcp
from peppolnet.cli import main
from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
from peppolnet.sandbox.config import load_config
from peppolnet.sml import naptr_name

PEPPOLNET = [sys.executable, "-m", "peppolnet"]


class Served:
    """A running ``sandbox serve`` process and the JSON line it printed."""

    def __init__(self, state_file: Path, *options: str) -> None:
        self.state_file = state_file
        self.proc = subprocess.Popen(
            [*PEPPOLNET, "sandbox", "serve", "--state-file", str(state_file), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # A watchdog, so a hung server cannot hang the test run.
        self._timer = threading.Timer(120, self.proc.kill)
        self._timer.start()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"serve printed nothing; stderr: {self._stderr()}"
        self.info: dict[str, Any] = json.loads(line)

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(30)
        finally:
            self._timer.cancel()


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    """``sandbox serve``; parametrise indirectly with a tuple of options to pass more."""
    server = Served(tmp_path / "state.json", *getattr(request, "param", ()))
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
        server._timer.cancel()


def _plain_participant() -> ParticipantId:
    config = load_config()
    return next(p.id for p in config.participants if not p.quirks and p.in_sml)


def test_serve_answers_plain_clients_and_lookup(served: Served, tmp_path: Path) -> None:
    info = served.info
    assert set(info) >= {"zone", "dns", "smps", "directory_url", "trust_anchor", "state_file"}
    assert info["dns"]["host"] == "127.0.0.1"
    assert json.loads(served.state_file.read_text()) == info

    pid = _plain_participant()
    # DNS as a person would ask it: dnspython, UDP, the printed address.
    query = dns.message.make_query(naptr_name(pid, info["zone"]), "NAPTR")
    answer = dns.query.udp(query, info["dns"]["host"], port=info["dns"]["port"], timeout=3)
    assert answer.rcode() == dns.rcode.NOERROR
    smp_base = answer.answer[0][0].regexp.decode().split("!")[2]
    assert smp_base in info["smps"].values()

    # HTTPS with httpx, trusting only the printed trust anchor.
    url = f"{smp_base}/{pid.url_segment()}/services/{BIS_BILLING_INVOICE.url_segment()}"
    response = httpx.get(url, verify=ssl.create_default_context(cafile=info["trust_anchor"]))
    assert response.status_code == 200
    assert pid.value.encode() in response.content
    assert b"SignatureValue" in response.content

    # Still serve's data in a second terminal: `sandbox info`.
    shown = subprocess.run(
        [*PEPPOLNET, "sandbox", "info", "--state-file", str(served.state_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == info

    # The lookup command, finding the sandbox through the state file only.
    lookup = subprocess.run(
        [
            *PEPPOLNET,
            "lookup",
            pid.value,
            "--network",
            "sandbox",
            "--state-file",
            str(served.state_file),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert lookup.returncode == 0, lookup.stderr
    assert json.loads(lookup.stdout)["verdict"] == "can-receive"

    # A second server on the same state file refuses instead of overwriting a live one.
    second = subprocess.run(
        [*PEPPOLNET, "sandbox", "serve", "--state-file", str(served.state_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1
    assert "already running" in second.stderr

    assert served.stop(signal.SIGINT) == 0
    assert not served.state_file.exists()
    assert "Traceback" not in served._stderr()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed on this machine")
def test_serve_answers_curl(served: Served) -> None:
    pid = _plain_participant()
    config = load_config()
    op = next(p.operator for p in config.participants if p.id == pid)
    smp_base = served.info["smps"][config.operator(op).smp]
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "--cacert",
            served.info["trust_anchor"],
            f"{smp_base}/{pid.url_segment()}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "ServiceGroup" in result.stdout
    assert pid.value in result.stdout
    card = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "--cacert",
            served.info["trust_anchor"],
            f"{served.info['directory_url']}/search/1.0/json?participant={pid.uri}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert card.returncode == 0, card.stderr
    assert pid.value in card.stdout


@pytest.mark.parametrize("served", [("--dns-lie", "nxdomain")], indirect=True)
def test_serve_with_a_lying_dns(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    pid = _plain_participant()
    info = served.info
    query = dns.message.make_query(naptr_name(pid, info["zone"]), "NAPTR")
    answer = dns.query.udp(query, info["dns"]["host"], port=info["dns"]["port"], timeout=3)
    assert (answer.rcode(), answer.answer, answer.authority) == (dns.rcode.NXDOMAIN, [], [])
    # and a lookup in another terminal says unknown (exit 3), not "not registered"
    network = ["--network", "sandbox", "--state-file", str(served.state_file)]
    assert main(["lookup", pid.value, "--json", *network]) == 3
    result = json.loads(capsys.readouterr().out)
    assert (result["verdict"], result["retryable"]) == ("unknown", True)
    assert "the resolver 127.0.0.1 said NXDOMAIN" in result["reason"]
    assert served.stop(signal.SIGINT) == 0


def test_serve_dns_lie_must_be_known(tmp_path: Path) -> None:
    assert (
        main(["sandbox", "serve", "--state-file", str(tmp_path / "s"), "--dns-lie", "often"]) == 2
    )
    assert not (tmp_path / "s").exists()


def test_serve_dns_lie_offers_every_lie_of_the_server(capsys: pytest.CaptureFixture[str]) -> None:
    # the command line names them itself, so that `peppolnet` starts without dnspython
    from peppolnet.sandbox.dns_server import LIES

    assert main(["sandbox", "serve", "--help"]) == 0
    assert "{" + ",".join(LIES) + "}" in capsys.readouterr().out


def test_sigterm_stops_cleanly(served: Served) -> None:
    assert served.state_file.exists()
    assert served.stop(signal.SIGTERM) == 0
    assert not served.state_file.exists()


def test_info_without_sandbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sandbox", "info", "--state-file", str(tmp_path / "none.json")])
    assert code == 1
    assert "peppolnet sandbox serve" in capsys.readouterr().err


def test_lookup_without_sandbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "lookup",
            "0007:5567321707",
            "--network",
            "sandbox",
            "--state-file",
            str(tmp_path / "none.json"),
        ]
    )
    assert code == 2  # the network named on the command line is not there
    assert "peppolnet sandbox serve" in capsys.readouterr().err


def test_sandbox_without_action_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox"]) == 2
    assert "serve" in capsys.readouterr().err


def test_serve_bad_config_fails_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[operators]\n")
    result = subprocess.run(
        [
            *PEPPOLNET,
            "sandbox",
            "serve",
            "--config",
            str(bad),
            "--state-file",
            str(tmp_path / "s.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2  # the file the user named: a usage error, as for serve
    assert "not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "s.json").exists()


def _free_udp_tcp_port() -> int:
    with udp_and_tcp() as (port, _udp, _tcp):
        return port


def test_serve_on_a_fixed_dns_port(tmp_path: Path) -> None:
    import socket

    port = _free_udp_tcp_port()
    proc = subprocess.Popen(
        [
            *PEPPOLNET,
            "sandbox",
            "serve",
            "--dns-port",
            str(port),
            "--state-file",
            str(tmp_path / "s.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["dns"]["port"] == port
        # The same port again is busy: a clear error, exit 3 (a fault: it may be free later,
        # as for serve --port), no traceback, no state file.
        busy = subprocess.run(
            [
                *PEPPOLNET,
                "sandbox",
                "serve",
                "--dns-port",
                str(port),
                "--state-file",
                str(tmp_path / "other.json"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert busy.returncode == 3
        assert f"could not bind 127.0.0.1:{port}: the port is in use" in busy.stderr
        assert "Traceback" not in busy.stderr
        assert not (tmp_path / "other.json").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))  # released again after stop


def test_bad_dns_port_is_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(
        ["sandbox", "serve", "--dns-port", "70000", "--state-file", str(tmp_path / "s.json")]
    )
    assert code == 2
    assert "--dns-port" in capsys.readouterr().err
