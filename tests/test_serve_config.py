"""``peppolnet serve --config FILE``: the support page's settings file, its secrets from the
environment, and the command line over it - read for real (TOML files in a temporary folder),
and served to a real local SMTP server (aiosmtpd) that takes mail only after STARTTLS and a
login, from a case submitted through the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _mailbox import Mailbox, local_smtp
from _sandbox_undo import undo_changes
from _tls import Tls, self_signed_tls
from _web import TestClient
from peppolnet.cli import build_parser
from peppolnet.cli._output import UsageError
from peppolnet.cli.commands.serve import prepared
from peppolnet.errors import InvalidInput
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state
from peppolnet.web.config import ServeConfig, load_config, parse_config

FULL = """
network = "test"
host = "0.0.0.0"
port = 8080
db = "kunder.sqlite"

[page]
title = "Kvittra support"
organisation = "Kvittra AB"
frame_ancestors = "'self' https://support.kvittra.example"
lookups_per_minute = 60
lookup_burst = 20
lookup_deadline = 12.5
dnssec = true
secure_cookies = true

[cases]
operator = "PSE000102"
follow_up_every = 30
requires_einvoice = true

[channels.desk]
url = "https://desk.kvittra.example/requests"

[channels.outbox]
folder = "/var/spool/peppolnet"

[smtp]
host = "smtp.kvittra.example"
port = 587
security = "starttls"
username = "support"
from = "support@kvittra.example"
to = "onboarding@kvittra.example"
"""


def test_a_full_file_and_its_secrets_from_the_environment() -> None:
    environ = {"PEPPOLNET_SMTP_PASSWORD": "s3cret", "PEPPOLNET_SECRET_KEY": "shared-key"}
    config = parse_config(FULL, source="peppolnet.toml", environ=environ)
    assert (config.network, config.host, config.port, config.db) == (
        "test",
        "0.0.0.0",
        8080,
        "kunder.sqlite",
    )
    page = config.settings
    assert (page.title, page.organisation, page.lookup_deadline) == (
        "Kvittra support",
        "Kvittra AB",
        12.5,
    )
    assert (page.lookups_per_minute, page.lookup_burst, page.dnssec) == (60, 20, True)
    assert page.secret_key == "shared-key"
    assert (config.operator, config.follow_up_every, config.requires_einvoice) == (
        "PSE000102",
        30,
        True,
    )
    assert config.desk_url == "https://desk.kvittra.example/requests"
    assert config.outbox == "/var/spool/peppolnet"
    smtp = config.smtp
    assert (smtp.host, smtp.port, smtp.username, smtp.password) == (
        "smtp.kvittra.example",
        587,
        "support",
        "s3cret",
    )
    assert (smtp.sender, smtp.to) == ("support@kvittra.example", "onboarding@kvittra.example")
    # secrets are not printed with the settings
    assert "s3cret" not in repr(config)
    assert "shared-key" not in repr(config)


def test_an_empty_file_changes_nothing() -> None:
    config = parse_config("", environ={})
    assert config.settings.title == "peppolnet"
    assert config.smtp.host is None
    assert len(config.settings.secret_key) > 20  # random per process, as without a file


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[page]\ntitel = 'x'\n", "unknown setting page.titel (known here: "),
        ("[page]\nlookup_burst = 'many'\n", "page.lookup_burst must be a whole number, not 'many'"),
        ("[page]\nlookup_burst = true\n", "page.lookup_burst must be a whole number, not True"),
        ("[page]\ndnssec = 1\n", "page.dnssec must be true or false, not 1"),
        ("port = 80.5\n", "port must be a whole number, not 80.5"),
        ("page = 3\n", "page must be a table, not 3"),
        ("[smtp]\npassword = 'x'\n", "smtp.password is a secret and is not read from a file"),
        ("[page]\nsecret_key = 'x'\n", "set the environment variable PEPPOLNET_SECRET_KEY"),
        ("[channels.fax]\nnumber = '1'\n", "unknown setting channels.fax"),
        ("port = \n", "is not valid TOML"),
    ],
)
def test_a_wrong_setting_is_one_sentence_naming_the_file_and_key(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_config(text, source="peppolnet.toml", environ={})
    assert says in info.value.message
    assert info.value.message.startswith("peppolnet.toml")


def test_errors_in_swedish() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_config("[smtp]\npassword = 'x'\n", source="peppolnet.toml", environ={})
    assert "är hemligt" in info.value.message.render("sv")
    with pytest.raises(InvalidInput) as info:
        parse_config("[page]\ndnssec = 1\n", source="f.toml", environ={})
    assert (
        info.value.message.render("sv") == "f.toml: page.dnssec ska vara true eller false, inte 1"
    )


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read the settings file"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "latin1.toml").write_bytes(b"title = '\xe5'\n")
    with pytest.raises(InvalidInput, match="cannot read the settings file"):
        load_config(tmp_path / "latin1.toml")


_KEYS = st.sampled_from(
    ["network", "port", "host", "db", "page", "smtp", "cases", "channels", "title", "x"]
)
_VALUES = st.one_of(
    st.text(max_size=8).map(lambda t: '"' + t.replace("\\", "").replace('"', "") + '"'),
    st.integers(-5, 70000).map(str),
    st.sampled_from(["true", "false", "1.5", "[]", "{}", "{ url = 'x' }", ""]),
)


@given(
    st.lists(st.tuples(st.sampled_from(["", "[page]\n", "[smtp]\n", "[cases]\n"]), _KEYS, _VALUES))
)
def test_any_file_is_a_config_or_one_sentence(lines: list[tuple[str, str, str]]) -> None:
    text = "".join(f"{header}{key} = {value}\n" for header, key, value in lines)
    try:
        config: ServeConfig | str = parse_config(text, source="f.toml", environ={})
    except InvalidInput as exc:
        config = exc.message
    assert isinstance(config, ServeConfig) or config.startswith("f.toml")


# --- the command line over the file; the mail server with a login --------------------------


@pytest.fixture(scope="module")
def state(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_state(sandbox.info(), tmp_path_factory.mktemp("serve") / "sandbox.json")


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[tuple[Mailbox, int, Tls]]:
    tls = self_signed_tls(tmp_path)
    with local_smtp(tls=tls, login=("desk", "s3cret")) as (box, port):
        yield box, port, tls


def settings_file(folder: Path, port: int, tls: Tls) -> Path:
    path = folder / "peppolnet.toml"
    path.write_text(
        f"""
network = "test"
port = 0

[page]
title = "Kvittra support"
frame_ancestors = "'self'"

[cases]
operator = "kvittra"
follow_up_every = 0

[smtp]
host = "127.0.0.1"
port = {port}
security = "starttls"
username = "desk"
from = "support@kvittra.example"
to = "onboarding@kvittra.example"
ca_file = "{tls.cert_path}"
""",
        encoding="utf-8",
    )
    return path


def submit(client: TestClient, organisation_number: str) -> str:
    """A case through the page's form, sent by mail; the page it lands on."""
    page = client.get("/cases/new")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = client.post(
        "/cases",
        data={
            "company_name": "Postbygg AB",
            "organisation_number": organisation_number,
            "country": "SE",
            "operator": "PSE000102",
            "email": "faktura@postbygg.example",
            "channel": "smtp",
            "csrf_token": token.group(1),
        },
    )
    assert answer.status_code == 200
    return answer.text


@pytest.mark.parametrize("password", ["s3cret", "wrong"])
def test_serve_mails_requests_with_the_login_from_file_and_environment(
    sandbox: Sandbox,
    state: Path,
    tmp_path: Path,
    mail_server: tuple[Mailbox, int, Tls],
    monkeypatch: pytest.MonkeyPatch,
    password: str,
) -> None:
    """The username from the file, the password from the environment: the server takes the
    mail; with a wrong password the case is kept as a draft and the page says why."""
    box, port, tls = mail_server
    conf = settings_file(tmp_path, port, tls)
    monkeypatch.setenv("PEPPOLNET_SMTP_PASSWORD", password)
    # the command line wins over the file: the sandbox, not the file's test network
    argv = ["serve", "--config", str(conf), "--network", "sandbox", "--state-file", str(state)]
    args = build_parser().parse_args([*argv, "--dnssec"])
    with (
        undo_changes(sandbox),
        prepared(args, "en") as (app, sock, network),
        TestClient(app) as client,
    ):
        assert network == "sandbox"
        assert sock.getsockname()[1] != 8000  # the file's port 0: any free port
        front = client.get("/")
        assert "Kvittra support" in front.text
        assert "frame-ancestors 'self'" in front.headers["content-security-policy"]
        page = submit(client, "5592010077")
    if password == "wrong":
        assert "refused the login" in page
        assert box.messages == []
        return
    [mail] = box.wait_for(1)
    assert mail["To"] == "onboarding@kvittra.example"
    assert mail["From"] == "support@kvittra.example"
    assert "Postbygg AB" in str(mail["Subject"])


@pytest.mark.parametrize(
    ("environ", "extra", "says"),
    [
        ({}, (), "needs its password in the environment variable PEPPOLNET_SMTP_PASSWORD"),
        (
            {"PEPPOLNET_SMTP_PASSWORD": "s3cret"},
            ("--smtp", "127.0.0.1:25", "--smtp-from", "a@b.example"),
            "PEPPOLNET_SMTP_PASSWORD is set, but no username",
        ),
    ],
    ids=["username-without-password", "password-without-username"],
)
def test_a_login_needs_both_halves(
    state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environ: dict[str, str],
    extra: tuple[str, ...],
    says: str,
) -> None:
    monkeypatch.delenv("PEPPOLNET_SMTP_PASSWORD", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    argv = ["serve", "--network", "sandbox", "--state-file", str(state), *extra]
    if not extra:
        argv += ["--config", str(settings_file(tmp_path, 25, self_signed_tls(tmp_path)))]
    args = build_parser().parse_args(argv)
    with pytest.raises(UsageError) as info, prepared(args, "en"):
        pass
    assert says in info.value.message
