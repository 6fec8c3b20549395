"""``peppolnet request ... --send smtp`` logging in to the mail server, as ``serve`` does.

The mail server is a real local aiosmtpd that takes mail only after STARTTLS (a self-signed
certificate, trusted through the settings file's ``ca_file``) and the login desk/s3cret. The
username comes from ``--config FILE``'s ``[smtp]`` table or ``--smtp-username``, the password
only from ``PEPPOLNET_SMTP_PASSWORD``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from _mailbox import Mailbox, local_smtp
from _tls import Tls, self_signed_tls
from peppolnet.cli import main

REQUEST = (
    "request", "add", "--name", "Postbygg AB", "--org-number", "559201-0077",
    "--operator", "PSE000102", "--email", "faktura@postbygg.example", "--no-check",
)  # fmt: skip


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "recipients.sqlite"
    monkeypatch.setenv("PEPPOLNET_DB", str(path))
    monkeypatch.delenv("PEPPOLNET_SMTP_PASSWORD", raising=False)
    return path


@dataclasses.dataclass
class Server:
    """The mail server of a test, and a settings file that describes all of it."""

    box: Mailbox
    port: int
    tls: Tls
    conf: Path


@pytest.fixture
def mail_server(db: Path, tmp_path: Path) -> Iterator[Server]:
    tls = self_signed_tls(tmp_path)
    with local_smtp(tls=tls, login=("desk", "s3cret")) as (box, port):
        yield Server(box, port, tls, settings(tmp_path, full_smtp(port, tls)))


def settings(folder: Path, smtp: str) -> Path:
    """A settings file as ``serve`` reads it: the page's tables too, which ``request`` skips."""
    path = folder / "peppolnet.toml"
    path.write_text(
        f'network = "test"\n[page]\ntitle = "Kvittra support"\n[smtp]\n{smtp}\n',
        encoding="utf-8",
    )
    return path


def full_smtp(port: int, tls: Tls) -> str:
    return (
        f'host = "127.0.0.1"\nport = {port}\nsecurity = "starttls"\nusername = "desk"\n'
        f'from = "support@kvittra.example"\nto = "onboarding@kvittra.example"\n'
        f'ca_file = "{tls.cert_path}"'
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_login_from_the_file_and_the_environment(
    mail_server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PEPPOLNET_SMTP_PASSWORD", "s3cret")
    conf = str(mail_server.conf)
    code, out, err = run(capsys, *REQUEST, "--send", "smtp", "--config", conf, "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "sent"
    [mail] = mail_server.box.wait_for(1)
    assert mail["To"] == "onboarding@kvittra.example"
    assert mail["From"] == "support@kvittra.example"
    assert "Postbygg AB" in str(mail["Subject"])


def test_a_wrong_password_is_refused_and_the_draft_kept(
    mail_server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PEPPOLNET_SMTP_PASSWORD", "wrong")
    code, _, err = run(capsys, *REQUEST, "--send", "smtp", "--config", str(mail_server.conf))
    assert code == 1
    assert "refused the login" in err
    assert mail_server.box.messages == []
    code, out, _ = run(capsys, "request", "list", "--json")
    assert [row["status"] for row in json.loads(out)] == ["draft"]


def test_the_command_line_wins_over_the_file(
    mail_server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A stored draft sent with ``--via smtp``: the file gives only the CA and a server that
    does not answer; the command line the server, the login and the addresses."""
    box, port, tls = mail_server.box, mail_server.port, mail_server.tls
    code, out, err = run(capsys, *REQUEST, "--json")
    assert code == 0, err
    request_id = json.loads(out)["request"]["request_id"]
    conf = settings(tmp_path, f'host = "127.0.0.1"\nport = 9\nca_file = "{tls.cert_path}"')
    monkeypatch.setenv("PEPPOLNET_SMTP_PASSWORD", "s3cret")
    code, _, err = run(
        capsys, "request", "send", request_id, "--via", "smtp", "--config", str(conf),
        "--smtp", f"127.0.0.1:{port}", "--smtp-security", "starttls",
        "--smtp-username", "desk", "--smtp-to", "onboarding@operator.example",
        "--smtp-from", "desk@kvittra.example",
    )  # fmt: skip
    assert code == 0, err
    [mail] = box.wait_for(1)
    assert (mail["To"], mail["From"]) == ("onboarding@operator.example", "desk@kvittra.example")


@pytest.mark.parametrize(
    ("environ", "smtp", "extra", "says"),
    [
        ({}, 'username = "desk"', (), "needs its password in the environment variable"),
        (
            {"PEPPOLNET_SMTP_PASSWORD": "s3cret"},
            'host = "127.0.0.1"',
            (),
            "PEPPOLNET_SMTP_PASSWORD is set, but no username",
        ),
        ({}, 'password = "s3cret"', (), "smtp.password is a secret and is not read from a file"),
        ({}, "port = 'many'", (), "smtp.port must be a whole number"),
        ({}, 'username = "desk"', ("--smtp-username", "other"), "needs its password"),
    ],
    ids=["username-only", "password-only", "password-in-file", "wrong-kind", "option-username"],
)
def test_what_is_wrong_with_the_login_is_a_usage_error(
    db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    smtp: str,
    extra: tuple[str, ...],
    says: str,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    conf = settings(tmp_path, smtp)
    mail = ("--smtp", "127.0.0.1:25", "--smtp-to", "a@b.example", "--smtp-from", "c@d.example")
    code, _, err = run(capsys, *REQUEST, "--send", "smtp", "--config", str(conf), *mail, *extra)
    assert code == 2
    assert says in err
    assert "Traceback" not in err
    code, out, _ = run(capsys, "request", "list", "--json")
    assert json.loads(out) == []  # found before anything was stored


def test_without_the_server_in_file_or_options_it_says_where_to_give_it(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = settings(tmp_path, 'from = "c@d.example"')
    code, _, err = run(capsys, *REQUEST, "--send", "smtp", "--config", str(conf))
    assert code == 2
    assert "--send smtp needs --smtp HOST:PORT" in err
    assert "[smtp] table of --config FILE" in err


def test_the_request_command_does_not_import_the_web_package(tmp_path: Path) -> None:
    conf = settings(tmp_path, 'host = "127.0.0.1"\nport = 25\nfrom = "a@b.example"\nto = "c@d.x"')
    code = (
        "import sys\n"
        "from peppolnet.cli import build_parser\n"
        "from peppolnet.cli.commands.request import channel_from_arguments\n"
        "args = build_parser().parse_args(['request', 'send', '0', '--via', 'smtp',"
        f" '--config', {str(conf)!r}])\n"
        "channel = channel_from_arguments(args, 'smtp', '--via')\n"
        "assert channel.to == 'c@d.x', channel.to\n"
        "print(sorted(m for m in sys.modules if m.startswith('peppolnet.web')))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("PEPPOLNET_SMTP_PASSWORD", None)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
