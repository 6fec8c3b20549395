"""``peppolnet request ... --send smtp`` and ``request follow-up``'s confirmation mail logging
in to the mail server, as ``serve`` does.

The mail server is a real local aiosmtpd that takes mail only after STARTTLS (a self-signed
certificate, trusted through the settings file's ``ca_file``) and the login desk/s3cret. The
username comes from ``--config FILE``'s ``[smtp]`` table or ``--smtp-username``, the password
only from ``PEPPOLNET_SMTP_PASSWORD``. The follow-up confirms a request for a customer the
session's sandbox already shows with Kvittra (nothing in the sandbox is changed).
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
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state

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


@dataclasses.dataclass(frozen=True)
class Mistake:
    """The environment, the file's ``[smtp]`` table and more options: what the error says."""

    environ: dict[str, str]
    smtp: str
    extra: tuple[str, ...]
    says: str

    def refused(
        self,
        argv: tuple[str, ...],
        folder: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """``argv`` with this mistake is a usage error that says so."""
        for name, value in self.environ.items():
            monkeypatch.setenv(name, value)
        conf = settings(folder, self.smtp)
        code, _, err = run(capsys, *argv, "--config", str(conf), *self.extra)
        assert code == 2
        assert self.says in err
        assert "Traceback" not in err


#: What can be wrong with the login or the file, for every command that mails.
LOGIN_MISTAKES = [
    pytest.param(
        Mistake({}, 'username = "desk"', (), "needs its password in the environment variable"),
        id="username-only",
    ),
    pytest.param(
        Mistake(
            {"PEPPOLNET_SMTP_PASSWORD": "s3cret"},
            'host = "127.0.0.1"',
            (),
            "PEPPOLNET_SMTP_PASSWORD is set, but no username",
        ),
        id="password-only",
    ),
    pytest.param(
        Mistake({}, 'password = "s3cret"', (), "smtp.password is a secret and is not read"),
        id="password-in-file",
    ),
    pytest.param(
        Mistake({}, "port = 'many'", (), "smtp.port must be a whole number"), id="wrong-kind"
    ),
    pytest.param(
        Mistake({}, 'username = "desk"', ("--smtp-username", "other"), "needs its password"),
        id="option-username",
    ),
]


@pytest.mark.parametrize("mistake", LOGIN_MISTAKES)
def test_what_is_wrong_with_the_login_is_a_usage_error(
    mistake: Mistake,
    db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mail = ("--smtp", "127.0.0.1:25", "--smtp-to", "a@b.example", "--smtp-from", "c@d.example")
    mistake.refused((*REQUEST, "--send", "smtp", *mail), tmp_path, monkeypatch, capsys)
    assert statuses(capsys) == []  # found before anything was stored


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


# --- request follow-up: the confirmation mail --------------------------------------------------


@pytest.fixture
def sent(
    sandbox: Sandbox, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[str, ...]:
    """A sent request (through an outbox) that the next follow-up confirms: its customer is
    with Kvittra in the sandbox already. Returns how the follow-up reaches that sandbox."""
    customer = next(
        p
        for p in sandbox.participants.values()
        if p.in_sml and not p.quirks and p.operator == "kvittra" and p.id.icd == "0007"
    )
    code, _, err = run(
        capsys, "request", "add", "--name", customer.name, "--org-number", customer.id.local_id,
        "--operator", "PSE000102", "--email", "faktura@kund.example", "--no-check",
        "--send", "outbox", "--outbox", str(tmp_path / "outbox"),
    )  # fmt: skip
    assert code == 0, err
    state = write_state(sandbox.info(), tmp_path / "sandbox.json")
    return ("request", "follow-up", "--network", "sandbox", "--state-file", str(state))


def statuses(capsys: pytest.CaptureFixture[str]) -> list[str]:
    code, out, _ = run(capsys, "request", "list", "--json")
    assert code == 0
    return [row["status"] for row in json.loads(out)]


def test_follow_up_mails_the_confirmation_with_the_login_of_the_file(
    mail_server: Server,
    sent: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PEPPOLNET_SMTP_PASSWORD", "s3cret")
    code, out, err = run(capsys, *sent, "--config", str(mail_server.conf), "--json")
    assert code == 0, err
    [result] = json.loads(out)
    assert (result["status"], result["notify_error"]) == ("confirmed", None)
    [mail] = mail_server.box.wait_for(1)
    assert mail["From"] == "support@kvittra.example"
    assert mail["To"] == "faktura@kund.example"  # the requester, never [smtp] to (the operator)
    assert str(mail["Subject"]).strip().startswith("Confirmed: ")  # folded after "Subject:"
    assert result["notified"] == mail["Message-ID"]


def test_follow_up_with_a_wrong_password_says_so_and_the_next_run_mails(
    mail_server: Server,
    sent: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PEPPOLNET_SMTP_PASSWORD", "wrong")
    code, out, err = run(capsys, *sent, "--config", str(mail_server.conf))
    assert code == 3, err  # the follow-up did its work; the mail is owed: a fault
    assert "confirmation mail failed" in err
    assert "refused the login" in err
    assert "Traceback" not in err
    assert mail_server.box.messages == []
    assert statuses(capsys) == ["confirmed"]
    monkeypatch.setenv("PEPPOLNET_SMTP_PASSWORD", "s3cret")
    code, out, err = run(capsys, *sent, "--config", str(mail_server.conf), "--json")
    assert code == 0, err
    [result] = json.loads(out)
    assert result["message"] == "confirmed earlier; confirmation mail sent now"
    [mail] = mail_server.box.wait_for(1)
    assert mail["To"] == "faktura@kund.example"


def test_follow_up_takes_the_older_notify_spellings_and_smtp_wins_over_them(
    mail_server: Server,
    sent: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The file gives only the CA; ``--notify-smtp`` names a port nobody answers, which the
    ``--smtp`` given too overrides; the sender and security come from the aliases."""
    conf = settings(tmp_path, f'ca_file = "{mail_server.tls.cert_path}"')
    monkeypatch.setenv("PEPPOLNET_SMTP_PASSWORD", "s3cret")
    code, _, err = run(
        capsys, *sent, "--config", str(conf), "--notify-smtp", "127.0.0.1:9",
        "--smtp", f"127.0.0.1:{mail_server.port}", "--notify-security", "starttls",
        "--notify-from", "desk@kvittra.example", "--smtp-username", "desk",
    )  # fmt: skip
    assert code == 0, err
    assert "failed" not in err
    [mail] = mail_server.box.wait_for(1)
    assert mail["From"] == "desk@kvittra.example"


def test_a_password_in_the_environment_alone_does_not_stop_a_follow_up_without_mail(
    sent: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PEPPOLNET_SMTP_PASSWORD", "s3cret")  # set for serve on this machine
    code, out, err = run(capsys, *sent, "--json")
    assert code == 0, err
    assert [(r["status"], r["notified"]) for r in json.loads(out)] == [("confirmed", None)]


@pytest.mark.parametrize(
    "mistake",
    [
        *LOGIN_MISTAKES,
        pytest.param(Mistake({}, 'from = "c@d.example"', (),
                             "confirmation mails need a mail server: --smtp HOST:PORT"),
                     id="no-server"),
        pytest.param(Mistake({}, "", ("--notify-smtp", "mail"), "--notify-smtp must be HOST:PORT"),
                     id="alias"),
        pytest.param(Mistake({}, 'host = "127.0.0.1"\nca_file = "/nonexistent/ca.pem"', (),
                             "CA file"),
                     id="ca-file"),
    ],
)  # fmt: skip
def test_what_is_wrong_with_the_notify_login_is_a_usage_error_before_any_follow_up(
    mistake: Mistake,
    sent: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mistake.refused(sent, tmp_path, monkeypatch, capsys)
    assert statuses(capsys) == ["sent"]  # found before any request was looked up


def test_the_missing_mail_server_is_said_in_swedish(
    sent: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = settings(tmp_path, 'from = "c@d.example"')
    code, _, err = run(capsys, *sent, "--config", str(conf), "--lang", "sv")
    assert code == 2
    assert "bekräftelsemejl behöver en e-postserver: --smtp VÄRD:PORT" in err
