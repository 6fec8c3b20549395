"""Who may use ``peppolnet serve``'s page: ``[auth]`` in the settings file or the command line
(a users file of password hashes, or a single-sign-on proxy's header), and the users file's
lines made by ``peppolnet serve --hash-password``."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest

from _web import TestClient
from peppolnet.cli import build_parser, main
from peppolnet.cli.commands.serve import _config, _loopback, prepared
from peppolnet.errors import InvalidInput
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state
from peppolnet.web.auth import BasicAuth, TrustedHeaderAuth, read_users_file
from peppolnet.web.config import parse_config


@pytest.fixture(scope="module")
def state(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_state(sandbox.info(), tmp_path_factory.mktemp("auth") / "sandbox.json")


def hashed_line(
    name: str, password: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    """``peppolnet serve --hash-password NAME`` with the password piped in, as a script does."""
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    assert main(["serve", "--hash-password", name]) == 0
    return capsys.readouterr().out.strip()


def test_a_hashed_line_verifies_its_password_and_no_other(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    line = hashed_line("anna", "vinter2030", monkeypatch, capsys)
    assert line.startswith("anna:pbkdf2_sha256$")
    assert "vinter2030" not in line
    users = tmp_path / "users"
    users.write_text(f"# the desk\n\n{line}\n", encoding="utf-8")
    auth = BasicAuth(read_users_file(users))
    assert auth._check("anna", "vinter2030")
    assert not auth._check("anna", "vinter2031")
    assert not auth._check("bertil", "vinter2030")


@pytest.mark.parametrize(
    ("name", "password", "says"),
    [
        ("an:na", "vinter2030", "without ':'"),
        (" anna", "vinter2030", "surrounding spaces"),
        ("anna", "", "the password is empty"),
    ],
)
def test_hash_password_refuses_what_would_make_a_broken_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    password: str,
    says: str,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    assert main(["serve", "--hash-password", name]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert says in captured.err


def test_a_users_file_in_the_settings_guards_the_page(
    state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    users = tmp_path / "users"
    users.write_text(hashed_line("anna", "vinter2030", monkeypatch, capsys) + "\n")
    conf = tmp_path / "serve.toml"
    conf.write_text(f'port = 0\n[auth]\nusers_file = "{users}"\n', encoding="utf-8")
    argv = ["serve", "--config", str(conf), "--network", "sandbox", "--state-file", str(state)]
    args = build_parser().parse_args(argv)
    with prepared(args, "en") as (app, _sock, _network), TestClient(app) as client:
        assert client.get("/").status_code == 401
        assert client.get("/", auth=("anna", "wrong")).status_code == 401
        assert client.get("/", auth=("anna", "vinter2030")).status_code == 200
        api = client.get("/api/v1/lookup", params={"q": "0007:5584821341"})
        assert api.status_code == 401  # the JSON API is behind the same door


def test_the_command_line_wins_over_the_file(state: Path, tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text(f"anna:{BasicAuth.hash_password('x', salt='s')}\n", encoding="utf-8")
    conf = tmp_path / "serve.toml"
    conf.write_text(f'[auth]\nusers_file = "{users}"\n', encoding="utf-8")
    base = ["serve", "--config", str(conf), "--network", "sandbox", "--state-file", str(state)]
    assert isinstance(_config(build_parser().parse_args(base)).auth, BasicAuth)
    header = ["--auth-header", "X-Remote-User", "--trusted-proxy", "10.0.0.0/8"]
    auth = _config(build_parser().parse_args([*base, *header])).auth
    assert isinstance(auth, TrustedHeaderAuth)
    assert auth.header == "x-remote-user"
    assert [str(network) for network in auth.proxies] == ["10.0.0.0/8"]


def test_a_header_without_proxies_is_trusted_from_loopback_only() -> None:
    auth = parse_config('[auth]\ntrusted_header = "X-Forwarded-User"\n').auth
    assert isinstance(auth, TrustedHeaderAuth)
    assert [str(network) for network in auth.proxies] == ["127.0.0.1/32", "::1/128"]
    assert parse_config("").auth is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            '[auth]\nusers_file = "u"\ntrusted_header = "X-User"\n',
            "serve.toml: users_file (--users-file) and trusted_header (--auth-header) exclude",
        ),
        (
            '[auth]\ntrusted_proxies = ["10.0.0.1"]\n',
            "serve.toml: trusted_proxies (--trusted-proxy) needs trusted_header",
        ),
        (
            '[auth]\ntrusted_header = "X-User"\ntrusted_proxies = ["proxy.example"]\n',
            "serve.toml: proxy.example is not an address or network",
        ),
        (
            '[auth]\ntrusted_header = "X-User"\ntrusted_proxies = "10.0.0.1"\n',
            "auth.trusted_proxies must be a list of texts",
        ),
        (
            '[auth]\ntrusted_header = "X-User"\ntrusted_proxies = [10]\n',
            "auth.trusted_proxies must be a list of texts",
        ),
        ('[auth]\npassword = "x"\n', "unknown setting auth.password"),
    ],
)
def test_a_wrong_auth_setting_is_one_sentence(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_config(text, source="serve.toml")
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        ("anna\n", "line 1: expected NAME:HASH"),
        ("# staff\nanna:vinter2030\n", "line 2: the password of anna is not a pbkdf2_sha256"),
        ("anna:pbkdf2_sha256$1$s$aa\nanna:pbkdf2_sha256$1$s$bb\n", "line 2: the user anna is"),
        ("# nobody yet\n\n", "names no user"),
    ],
)
def test_a_wrong_users_file_names_its_line(tmp_path: Path, lines: str, says: str) -> None:
    users = tmp_path / "users"
    users.write_text(lines, encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        read_users_file(users)
    assert says in str(caught.value)
    assert str(users) in str(caught.value)


def test_a_missing_users_file_is_a_usage_error(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["serve", "--port", "0", "--network", "sandbox", "--state-file", str(state)]
    assert main([*argv, "--users-file", str(tmp_path / "nothing")]) == 2
    assert "cannot read the users file" in capsys.readouterr().err


def test_a_loopback_listener_is_private_to_the_machine() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        assert _loopback(sock)
