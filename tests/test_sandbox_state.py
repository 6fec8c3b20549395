"""The sandbox state file: location, round trip, stale and broken files, the Network it builds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peppolnet.errors import SandboxError
from peppolnet.sandbox.runtime import Sandbox
from peppolnet.sandbox.state import (
    STATE_ENV,
    default_state_path,
    network_from_state,
    pid_alive,
    read_state,
    remove_state,
    write_state,
)


@pytest.fixture(scope="module")
def net() -> Iterator[Sandbox]:
    with Sandbox.start() as sandbox:
        yield sandbox


def _dead_pid() -> int:
    """The id of a process that has certainly exited (we waited for it)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_default_path_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "s.json"))
    assert default_state_path() == tmp_path / "s.json"
    monkeypatch.delenv(STATE_ENV)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_path() == tmp_path / "xdg" / "peppolnet" / "sandbox.json"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_path() == tmp_path / "home/.local/state/peppolnet/sandbox.json"


def test_round_trip_and_remove(net: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "state.json"
    assert write_state(net.info(), path) == path
    state = read_state(path)
    assert state == json.loads(json.dumps(net.info()))
    assert state["pid"] == os.getpid()
    assert remove_state(path) is True
    assert remove_state(path) is False
    assert not path.exists()


def test_default_location_is_used(
    net: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "env-state.json"))
    write_state(net.info())
    assert (tmp_path / "env-state.json").is_file()
    assert network_from_state().dns_port == net.dns.port


def test_network_from_state_matches_the_running_sandbox(net: Sandbox, tmp_path: Path) -> None:
    path = write_state(net.info(), tmp_path / "state.json")
    network = network_from_state(path)
    expected = net.network
    for field in (
        "sml_zone",
        "smp_ca",
        "ap_ca",
        "directory_url",
        "nameservers",
        "dns_port",
        "tls_verify",
        "require_https",
        "legacy_cname",
    ):
        assert getattr(network, field) == getattr(expected, field), field
    assert network.nameservers == ("127.0.0.1",)
    assert network.signature_policy == expected.signature_policy


def test_lookup_through_state_network(net: Sandbox, tmp_path: Path) -> None:
    from peppolnet.lookup import Lookup

    network = network_from_state(write_state(net.info(), tmp_path / "state.json"))
    pid = next(p.id for p in net.participants.values() if not p.quirks and p.in_sml)
    with Lookup(network) as lookup:
        assert lookup.check(pid).verdict.value == "can-receive"


def test_missing_state_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match=r"no sandbox is running .*peppolnet sandbox serve"):
        read_state(tmp_path / "nothing.json")
    with pytest.raises(SandboxError, match="peppolnet sandbox serve"):
        network_from_state(tmp_path / "nothing.json")


def test_stale_state_is_refused(net: Sandbox, tmp_path: Path) -> None:
    info = net.info()
    info["pid"] = _dead_pid()
    assert not pid_alive(info["pid"])
    path = write_state(info, tmp_path / "stale.json")
    with pytest.raises(SandboxError, match=r"stale \(process \d+ is not running\).*sandbox serve"):
        network_from_state(path)
    assert read_state(path, check_alive=False)["pid"] == info["pid"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        ('{"zone": "x"}', "lacks dns, directory_url"),
        (
            '{"zone": "z", "dns": {}, "directory_url": "u", "trust_anchor": "t", '
            '"smp_ca": "s", "ap_ca": "a", "pid": "12"}',
            "no valid pid",
        ),
    ],
)
def test_broken_state_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(SandboxError, match=message):
        read_state(path)


def test_state_naming_missing_files(net: Sandbox, tmp_path: Path) -> None:
    info = net.info()
    info["smp_ca"] = str(tmp_path / "gone.pem")
    with pytest.raises(SandboxError, match="bad CA file"):
        network_from_state(write_state(info, tmp_path / "a.json"))
    info = net.info()
    info["trust_anchor"] = str(tmp_path / "gone-root.pem")
    with pytest.raises(SandboxError, match=r"trust anchor .* is missing"):
        network_from_state(write_state(info, tmp_path / "b.json"))
    info = net.info()
    info["dns"] = {"host": "127.0.0.1"}
    with pytest.raises(SandboxError, match="malformed"):
        network_from_state(write_state(info, tmp_path / "c.json"))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_file_content_gives_sandbox_error_or_network(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    # Random bytes never make a usable state: always the typed error, with a sentence.
    with pytest.raises(SandboxError, match=r"\S"):
        network_from_state(path)


@pytest.mark.parametrize("pid", [0, -1, 2**70])
def test_impossible_pids_are_not_alive(pid: int) -> None:
    assert pid_alive(pid) is False
