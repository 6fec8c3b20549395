"""One exit-code contract for every command (README, docs/verdicts.md): 0 yes/ok, 1 a negative
answer or an invalid value, 2 a usage error, 3 unknown (a fault).

Every command and sub-command is enumerated from the parser, so one added without rows here
fails :func:`test_every_command_has_rows`. Each is run with each class of bad input that applies
to it; some classes are generated from the options a command has (an unknown option for all,
an unknown network for every ``--network``, a folder that does not exist for every ``--db``,
a malformed ``--dns``). Every row checks the code, that stderr holds one sentence and no
traceback, and that no folder was created for a ``--db`` that named a missing one.

Anything that needs a network uses the session's sandbox (``peppol_sandbox``, the plugin's
fixture), through its state file as a user would: no traffic leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import peppolnet
from peppolnet.cli import build_parser, main
from peppolnet.directory.export import ExportKind, write_export
from peppolnet.identifiers import ParticipantId
from peppolnet.lookup import resolve_document_type
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state
from peppolnet.sandbox.synthetic_export import synthetic_cards
from peppolnet.sml import SmlResolver
from peppolnet.smp.client import SmpClient
from peppolnet.smp.urls import service_metadata_url

SRC = Path(peppolnet.__file__).resolve().parents[1]


def _leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, child in action.choices.items():
            yield from _leaves(child, (*path, name))


LEAVES = dict(_leaves(build_parser()))


@dataclasses.dataclass(frozen=True)
class Case:
    """``argv`` (after the command's words; ``{name}`` marks a path from ``files``) exits with
    ``code``; ``says`` is in the one error sentence on stderr, or for an ``answer`` anywhere in
    the output (a negative answer is printed on stdout, like a positive one)."""

    argv: tuple[str, ...]
    code: int
    says: str
    answer: bool = False


def error(code: int, says: str, *argv: str) -> Case:
    return Case(argv, code, says)


def answer(code: int, says: str, *argv: str) -> Case:
    return Case(argv, code, says, answer=True)


SANDBOX = ("--network", "sandbox")
NO_SANDBOX = ("--network", "sandbox", "--state-file", "{missing}")
REQUEST = (
    "--name", "Bygg AB", "--org-number", "559012-3450", "--operator", "PSE000102",
    "--email", "f@bygg.example", "--no-check",
)  # fmt: skip
UPDATE = (*REQUEST, "--from-operator", "PSE000109", "--new-migration-key")
VIA_SMTP = ("00000000", "--via", "smtp", "--smtp", "127.0.0.1:25")

#: What each command runs with when nothing is wrong: the generated rows add one mistake to it.
BASE: dict[tuple[str, ...], tuple[str, ...]] = {
    ("check",): ("{register}", *SANDBOX),
    ("customers", "changes"): (),
    ("customers", "import"): ("{register}",),
    ("customers", "refresh"): SANDBOX,
    ("customers", "search"): ("Nordlys",),
    ("demo",): (),
    ("directory", "search"): ("fjord", *SANDBOX),
    ("directory", "export", "download"): (*SANDBOX, "--cache-dir", "{tmp}/cache"),
    ("directory", "export", "stats"): ("{export}",),
    ("directory", "export", "diff"): ("{export}", "{export}"),
    ("doctor",): SANDBOX,
    ("id", "check"): ("0007:5567321707",),
    ("id", "suggest"): ("556732-1707", "--country", "SE"),
    ("lookup",): ("{cannot}", *SANDBOX),
    ("operators", "add"): ("--seat-id", "PSE000102", "--file", "{tmp}/ops.json"),
    ("operators", "list"): (),
    ("operators", "show"): ("kvittra",),
    ("request", "add"): REQUEST,
    ("request", "cancel"): ("00000000",),
    ("request", "drafts"): (),
    ("request", "follow-up"): SANDBOX,
    ("request", "list"): (),
    ("request", "send"): ("00000000", "--via", "outbox", "--outbox", "{tmp}/out"),
    ("request", "show"): ("00000000",),
    ("request", "update"): UPDATE,
    ("sandbox", "info"): (),
    ("sandbox", "serve"): ("--state-file", "{tmp}/serve.json"),
    ("schemes",): (),
    ("serve",): ("--port", "0", *SANDBOX),
    ("sml", "lookup"): ("{cannot}", *SANDBOX),
    ("sml", "name"): ("0007:5567321707",),
    ("smp", "parse"): ("{smpdoc}",),
    ("trace",): ("{cannot}", *SANDBOX),
}

#: The rows written for each command: the classes of bad input that are its own.
ROWS: dict[tuple[str, ...], list[Case]] = {
    ("check",): [
        error(2, "the file", "{missing}", *SANDBOX),
        error(2, "is a folder", "{folder}", *SANDBOX),
        error(2, "does not exist", "{register}", "-o", "{nodir}/out.csv", *SANDBOX),
        error(2, "no writer knows the suffix of 'out.pdf'", "{register}", "-o", "{tmp}/out.pdf"),
        error(2, ".png or .svg", "{register}", "--chart", "{tmp}/chart.pdf", *SANDBOX),
        error(2, "ROLE=HEADER", "{register}", "--column", "orgnr", *SANDBOX),
        error(2, "unknown column role 'firma'", "{register}", "--column", "firma=Namn"),
        error(2, "not a known text encoding", "{register}", "--encoding", "latin-9000"),
        error(2, "one character", "{register}", "--delimiter", ";;", *SANDBOX),
        error(2, "one character", "{register}", "--output-delimiter", "", *SANDBOX),
        error(2, "at least 1", "{register}", "--concurrency", "0", *SANDBOX),
        error(2, "at least 1", "{register}", "--processes", "0", *SANDBOX),
        error(2, "a whole number or auto", "{register}", "--processes", "many", *SANDBOX),
        error(2, "positive number of seconds", "{register}", "--timeout", "0", *SANDBOX),
        error(2, "--doctype", "{register}", "--doctype", "invioce", *SANDBOX),
        error(2, "'Svea' is not a country", "{register}", "--country", "Svea", *SANDBOX),
        error(2, "must not be the register", "{register}", "-o", "{register}", *SANDBOX),
        error(2, "no sandbox is running", "{register}", *NO_SANDBOX),
        error(1, "no participant id column", "{noid}", "-o", "{tmp}/o.csv", *SANDBOX),
        error(2, "--zone names one SML zone", "{register}", "--network", "auto", "--zone", "x.t"),
    ],
    ("customers", "changes"): [error(2, "not an ISO 8601 time", "--since", "yesterday")],
    ("customers", "import"): [
        error(2, "does not exist", "{missing}"),
        error(2, "is a folder", "{folder}"),
        error(1, "no participant id column", "{noid}"),
        error(2, "argument --country: 'Svea' is not a country", "{register}", "--country", "Svea"),
    ],
    ("customers", "refresh"): [
        error(2, "not a duration", "--older-than", "soon", *SANDBOX),
        error(2, "at least 1", "--concurrency", "0", *SANDBOX),
        error(2, "no sandbox is running", *NO_SANDBOX),
        error(2, "--zone names one SML zone", "--network", "auto", "--zone", "x.t"),
    ],
    ("customers", "search"): [
        answer(1, "no customer matches", "zzqxv"),
        error(2, "at least 1", "x", "--limit", "0"),
    ],
    ("demo",): [
        error(2, "does not exist", "--register", "{missing}"),
        error(2, "is a folder", "--register", "{folder}"),
    ],
    ("directory", "search"): [
        error(2, "at least 1", "fjord", "--limit", "0", *SANDBOX),
        error(1, "at least 3 characters", "--name", "fj", *SANDBOX),
        error(2, "at least one search field", *SANDBOX),
        error(2, "no sandbox is running", "fjord", *NO_SANDBOX),
    ],
    ("directory", "export", "download"): [
        answer(
            0, "Downloaded", "--kind", "participants-csv", *SANDBOX, "--cache-dir", "{tmp}/cache"
        ),
        error(2, "invalid choice: 'pdf'", "--kind", "pdf", *SANDBOX),
        error(2, "no sandbox is running", *NO_SANDBOX),
    ],
    ("directory", "export", "stats"): [
        answer(0, "participants", "{export}"),
        # a damaged export: its numbers and the parts it could not read, exit 1
        answer(1, "could not be read", "{badexport}"),
        error(1, "is not a Peppol Directory CSV export", "{noid}"),
        error(2, "does not exist", "{missing}"),
        error(2, "is a folder", "{folder}"),
        error(2, "at least 1", "{export}", "--top", "0"),
        error(2, "no sandbox is running", *NO_SANDBOX),
    ],
    ("directory", "export", "diff"): [
        answer(0, "0 added, 0 removed, 0 changed", "{export}", "{export}"),
        answer(1, "could not be read", "{export}", "{badexport}"),
        error(2, "does not exist", "{export}", "{missing}"),
        error(2, "create it first", "{export}", "{export}", "--output", "{nodir}/out"),
    ],
    ("doctor",): [
        # a resolver that cannot be asked is a finding about this machine: a "no", not a fault
        answer(1, "could not be asked", "--dns", "127.0.0.1:1", "--timeout", "1", *SANDBOX),
        error(2, "positive number of seconds", "--timeout", "0", *SANDBOX),
        error(2, "no sandbox is running", *NO_SANDBOX),
    ],
    ("id", "check"): [
        error(
            2,
            "required",
        ),
        answer(1, "check digit", "0007:5567321708"),
    ],
    ("id", "suggest"): [
        error(2, "--country", "556732-1707"),
        answer(1, "no participant identifier", "556732-1708", "--country", "SE"),
    ],
    ("lookup",): [
        answer(1, "CANNOT-RECEIVE", "{cannot}", *SANDBOX),
        answer(1, "NOT-REGISTERED", "{unregistered}", *SANDBOX),
        answer(1, "dnssec: the answer is signed by", "{cannot}", "--dnssec", *SANDBOX),
        error(2, "--zone names one SML zone", "{cannot}", "--network", "auto", "--zone", "x.test"),
        error(1, "four-digit scheme code", "notanid", *SANDBOX),
        error(2, "alias", "{cannot}", "--doctype", "invioce", *SANDBOX),
        error(2, "--process", "{cannot}", "--process", "not a process", *SANDBOX),
        error(2, "not an ISO 8601 time", "{cannot}", "--at", "yesterday", *SANDBOX),
        error(2, "required", *SANDBOX),
        error(2, "no sandbox is running", "{cannot}", *NO_SANDBOX),
    ],
    ("operators", "add"): [
        error(2, "--seat-id", "--file", "{tmp}/ops.json"),
        error(2, "does not exist", "--seat-id", "PSE000102", "--file", "{nodir}/ops.json"),
        error(1, "not a Peppol Seat ID", "--seat-id", "P12", "--file", "{tmp}/ops.json"),
        error(2, "no sandbox is running", "--file", "{tmp}/ops.json", *NO_SANDBOX),
    ],
    ("operators", "list"): [
        error(2, "does not exist", "--file", "{missing}"),
        error(2, "is a folder", "--file", "{folder}"),
        error(1, "is not valid", "--file", "{badjson}"),
        error(2, "no sandbox is running", *NO_SANDBOX),
    ],
    ("operators", "show"): [
        error(1, "no operator named 'nobody' is known", "nobody", *SANDBOX),
        error(1, "not a valid Seat ID", "PSE12", *SANDBOX),
        error(2, "does not exist", "kvittra", "--file", "{missing}"),
    ],
    ("request", "add"): [
        error(2, "--no-check skips", *REQUEST, "--dnssec"),
        answer(1, "is not a valid", *REQUEST, "--org-number", "556732-1708"),
        error(2, "does not exist", *REQUEST, "--operators-file", "{missing}"),
        error(2, "does not exist", *REQUEST, "--operators-file", "{nodir}/ops.json"),
        error(2, "--desk-url", *REQUEST, "--send", "http"),
        error(
            2,
            "--smtp must be HOST:PORT",
            *REQUEST,
            "--send",
            "smtp",
            "--smtp",
            "mail",
            "--smtp-to",
            "a@b.example",
            "--smtp-from",
            "c@d.example",
        ),
        error(2, "required", "--name", "Bygg AB"),
        error(2, "no sandbox is running", *REQUEST, *NO_SANDBOX),
        # the mail server's settings file and login: found before anything is stored
        error(
            2, "cannot read the settings file", *REQUEST, "--send", "smtp", "--config", "{missing}"
        ),
        error(
            2,
            "the mail server's username needs its password in the environment variable",
            *REQUEST,
            "--send",
            "smtp",
            "--smtp",
            "127.0.0.1:25",
            "--smtp-username",
            "desk",
            "--smtp-to",
            "a@b.example",
            "--smtp-from",
            "c@d.example",
        ),
        # a line break in anything that ends up in a mail header: refused, never altered
        answer(
            1,
            "requester: the requester contains a control character (U+000D, a line break)",
            *REQUEST,
            "--requester",
            "evil@attacker.example\r\nAnna <anna@support.example>",
        ),
        answer(
            1,
            "requester: the requester 'a@b.example, c@d.example' is not one address",
            *REQUEST,
            "--requester",
            "a@b.example, c@d.example",
        ),
        error(
            2,
            "argument --smtp-to: the address contains a control character (U+000D",
            *REQUEST,
            "--send",
            "smtp",
            "--smtp",
            "127.0.0.1:25",
            "--smtp-to",
            "a@b.example\r\nBcc: x@y.example",
            "--smtp-from",
            "c@d.example",
        ),
    ],
    ("request", "drafts"): [
        error(2, "not an ISO 8601 time", "--since", "yesterday"),
        error(1, "--operator 'Nobody AB'", "--operator", "Nobody AB", *SANDBOX),
        error(2, "no sandbox is running", "--operator", "kvittra", *NO_SANDBOX),
    ],
    ("request", "follow-up"): [
        error(2, "not a duration", "--expire-after", "soon", *SANDBOX),
        error(2, "--notify-smtp must be HOST:PORT", "--notify-smtp", "mail", *SANDBOX),
        error(2, "--smtp must be HOST:PORT", "--smtp", "mail", *SANDBOX),
        # the confirmation mail's settings file and login: found before any request is looked up
        error(2, "cannot read the settings file", "--config", "{missing}", *SANDBOX),
        error(
            2,
            "the mail server's username needs its password in the environment variable",
            "--smtp",
            "127.0.0.1:25",
            "--smtp-username",
            "desk",
            *SANDBOX,
        ),
        error(2, "confirmation mails need a mail server", "--smtp-from", "c@d.example", *SANDBOX),
        error(
            2,
            "argument --notify-from: the address contains a control character (U+000A",
            "--notify-from",
            "a@b.example\nBcc: x@y.example",
            *SANDBOX,
        ),
        error(2, "no sandbox is running", *NO_SANDBOX),
        error(2, "unknown network 'auto'", "--network", "auto"),  # one network's requests
    ],
    ("request", "cancel"): [error(1, "no request with id '00000000'", "00000000")],
    ("request", "list"): [
        # a fault of the local data, not an empty answer: restore the file (test_damaged_database)
        error(
            3,
            "is damaged: a stored text (column 'company_name') is not valid UTF-8",
            "--db",
            "{damaged}",
        ),
        error(2, "unknown status 'finished'", "--status", "finished"),
        error(2, "must start with a four-digit scheme code", "--participant", "nonsense"),
    ],
    ("request", "send"): [
        error(1, "00000000: no request with id", *BASE[("request", "send")]),
        error(2, "--via http needs --desk-url", "00000000", "--via", "http"),
        error(2, "--via outbox needs --outbox DIR", "00000000", "--via", "outbox"),
        error(2, "--via smtp needs --smtp HOST:PORT", "00000000", "--via", "smtp"),
        error(2, "is not valid TOML", "00000000", "--via", "smtp", "--config", "{register}"),
        error(2, "required: --via", "00000000"),
        error(2, "invalid choice: 'fax'", "00000000", "--via", "fax"),
        error(2, "no sandbox is running", "00000000", "--via", "http", *NO_SANDBOX),
        error(
            2,
            "argument --smtp-from: the address contains a control character (U+2028",
            *VIA_SMTP,
            "--smtp-to",
            "a@b.example",
            "--smtp-from",
            "c@d.example\u2028Bcc: x@y",
        ),
        error(
            2,
            "argument --smtp-to: the address 'a@b.example; c@d.example' is not one address",
            *VIA_SMTP,
            "--smtp-to",
            "a@b.example; c@d.example",
            "--smtp-from",
            "c@d.example",
        ),
    ],
    ("request", "show"): [error(1, "no request with id", "00000000")],
    ("request", "update"): [
        error(2, "--no-check skips", *UPDATE, "--dnssec"),
        answer(1, "is not a valid", *UPDATE, "--org-number", "556732-1708"),
        error(2, "required", *REQUEST),
    ],
    ("sandbox", "info"): [
        # "is a sandbox running?" is the question: none is a negative answer, not a usage error
        error(1, "no sandbox is running", "--state-file", "{missing}"),
    ],
    ("sandbox", "serve"): [
        error(2, "does not exist", "--config", "{missing}"),
        error(2, "is a folder", "--config", "{folder}"),
        # the file the user named is malformed: a usage error, as for serve --config
        error(2, "not valid TOML", "--config", "{badtoml}", "--state-file", "{tmp}/serve.json"),
        error(2, "not a port number", "--dns-port", "70000"),
        # a port another program holds: a fault (it may be free later), as for serve --port
        error(3, "the port is in use", "--dns-port", "{busy}", "--state-file", "{tmp}/serve.json"),
    ],
    ("schemes",): [error(2, "unrecognized arguments: extra", "extra")],
    ("serve",): [
        error(3, "the port is in use", "--port", "{busy}", *SANDBOX),
        error(2, "not a port number", "--port", "70000"),
        error(2, "not a port number", "--port", "http"),
        error(2, "unknown language 'de'", "--lang", "de"),
        error(2, "no sandbox is running", "--port", "0", *NO_SANDBOX),
        error(2, "needs its address and the sender", "--port", "0", "--smtp", "127.0.0.1:2525"),
        error(2, "--smtp HOST:PORT and --smtp-from", "--port", "0", "--smtp-to", "desk@op.example"),
        error(2, "is not valid TOML", "--port", "0", "--config", "{badtoml}"),
        error(2, "cannot read the settings file", "--port", "0", "--config", "{missing}"),
        error(2, "PEPPOLNET_SMTP_PASSWORD", "--port", "0", "--config", "{secretconf}"),
        error(2, "unknown network 'moon'", "--port", "0", "--config", "{moonconf}"),
        error(2, "contains a control character", "--port", "0", "--smtp-from", "a@b\nBcc: c@d"),
        error(2, "cannot read the users file", "--port", "0", "--users-file", "{missing}"),
        error(
            2,
            "exclude each other",
            "--port",
            "0",
            "--users-file",
            "{missing}",
            "--auth-header",
            "X-User",
        ),
        error(2, "needs trusted_header", "--port", "0", "--trusted-proxy", "10.0.0.1"),
        error(
            2,
            "is not an address or network",
            "--port",
            "0",
            "--auth-header",
            "X-User",
            "--trusted-proxy",
            "proxy.example",
        ),
    ],
    ("sml", "lookup"): [
        answer(0, "https://", "{cannot}", *SANDBOX),
        answer(0, "dnssec: secure", "{cannot}", "--dnssec", *SANDBOX),
        error(1, "is not registered", "{unregistered}", *SANDBOX),
        error(1, "four-digit scheme code", "notanid", *SANDBOX),
        error(2, "not an IP address", "{cannot}", "--nameserver", "dns.example", *SANDBOX),
        error(2, "not a port number", "{cannot}", "--port", "70000", *SANDBOX),
        error(2, "positive number of seconds", "{cannot}", "--timeout", "0", *SANDBOX),
        error(2, "no sandbox is running", "{cannot}", *NO_SANDBOX),
    ],
    ("sml", "name"): [
        answer(0, ".sml.sandbox.peppolnet.test", "0007:5567321707", *SANDBOX),
        error(1, "four-digit scheme code", "notanid"),
        error(2, "no sandbox is running", "0007:5567321707", *NO_SANDBOX),
    ],
    ("smp", "parse"): [
        answer(0, "chain trusted", "{smpdoc}", "--verify", "--trust", "sandbox"),
        answer(1, "NOT TRUSTED", "{smpdoc}", "--verify", "--trust", "test"),
        error(2, "does not exist", "{missing}"),
        error(2, "is a folder", "{folder}"),
        error(2, "not an ISO 8601 time", "{smpdoc}", "--at", "yesterday"),
        error(2, "neither a network", "{smpdoc}", "--verify", "--trust", "moon"),
        error(
            2,
            "no sandbox is running",
            "{smpdoc}",
            "--verify",
            "--trust",
            "sandbox",
            "--state-file",
            "{missing}",
        ),
        error(3, "not a valid SMP document", "{notsmp}"),
    ],
    ("trace",): [
        answer(1, "CANNOT-RECEIVE", "{cannot}", *SANDBOX),
        answer(1, "NOT-REGISTERED", "{unregistered}", *SANDBOX),
        answer(1, '"failed_step": "dns"', "{unregistered}", "--json", *SANDBOX),
        error(1, "four-digit scheme code", "notanid", *SANDBOX),
        error(1, "is not a valid", "556732-1708", "--country", "SE", *SANDBOX),
        error(1, "not a country peppolnet knows", "556732-1707", "--country", "Narnia", *SANDBOX),
        error(2, "--zone names one SML zone", "{cannot}", "--network", "auto", "--zone", "x.test"),
        error(2, "alias", "{cannot}", "--document-type", "invioce", *SANDBOX),
        error(2, "--process", "{cannot}", "--process", "not a process", *SANDBOX),
        error(2, "not an ISO 8601 time", "{cannot}", "--at", "yesterday", *SANDBOX),
        error(2, "positive number of seconds", "{cannot}", "--deadline", "0", *SANDBOX),
        error(2, "required", *SANDBOX),
        error(2, "no sandbox is running", "{cannot}", *NO_SANDBOX),
    ],
}


def _options(command: tuple[str, ...]) -> set[str]:
    return {o for action in LEAVES[command]._actions for o in action.option_strings}


def _generated(command: tuple[str, ...]) -> list[Case]:
    """The classes every command with the option meets the same way."""
    base = BASE[command]
    rows = [error(2, "unrecognized arguments: --no-such-option", *base, "--no-such-option")]
    options = _options(command)
    if "--network" in options:
        rows.append(error(2, "unknown network 'moon'", *base, "--network", "moon"))
    if "--dns" in options:
        rows.append(error(2, "must be HOST:PORT", *base, "--dns", "nowhere"))
    if "--db" in options:
        rows.append(error(2, "'{nodir}' of the database", *base, "--db", "{nodir}/db.sqlite"))
    return rows


def _all_rows() -> Iterator[object]:
    for command in sorted(LEAVES):
        for number, case in enumerate([*ROWS.get(command, []), *_generated(command)]):
            yield pytest.param(command, case, id=f"{' '.join(command)}-{number}")


def test_every_command_has_rows() -> None:
    """A new command (or sub-command) needs rows: its base command line and its own cases."""
    assert set(BASE) == set(LEAVES), "give each command a BASE command line"
    assert set(ROWS) == set(LEAVES), "give each command its rows"


# --- the files and the network the rows name ------------------------------------------------


@pytest.fixture(scope="module")
def state(peppol_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_state(peppol_sandbox.info(), tmp_path_factory.mktemp("state") / "sandbox.json")


def _participant(sandbox: Sandbox, *, quirk: str | None, in_sml: bool = True) -> ParticipantId:
    wanted = frozenset({quirk} if quirk else ())
    return next(
        p.id
        for p in sandbox.config.participants
        if p.in_sml == in_sml
        and p.quirks == wanted
        and sandbox.config.smp(sandbox.config.operator(p.operator).smp).dialect == "peppol-smp-1"
    )


@pytest.fixture(scope="module")
def signed_document(peppol_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ServiceMetadata as the sandbox's SMP signs it (for ``smp parse --trust sandbox``)."""
    participant = _participant(peppol_sandbox, quirk=None)
    network = peppol_sandbox.network
    smp_url = SmlResolver.for_network(network).resolve(participant).smp_url
    url = service_metadata_url(smp_url, participant, resolve_document_type("invoice"))
    with SmpClient(network) as client:
        body = client.fetch(url)
    path = tmp_path_factory.mktemp("smp") / "metadata.xml"
    path.write_bytes(body)
    return path


@pytest.fixture(scope="module")
def damaged_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recipient database with one request whose stored texts had a byte flipped."""
    from peppolnet.recipients import AddRecipientRequest
    from peppolnet.recipients.tracking import RequestTracker

    path = tmp_path_factory.mktemp("damaged") / "recipients.sqlite"
    with RequestTracker(path) as tracker:
        tracker.save(
            AddRecipientRequest.create(
                company_name="Zebrafink AB", organisation_number="559012-3450",
                operator="PSE000102", email="f@zebrafink.example",
            )
        )  # fmt: skip
    path.write_bytes(path.read_bytes().replace(b"Zebrafink", b"\xffebrafink"))
    return path


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    """A port something already listens on (``serve --port`` there is a fault, exit 3)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield listener.getsockname()[1]


@pytest.fixture
def files(
    busy_port: int,
    tmp_path: Path,
    state: Path,
    signed_document: Path,
    damaged_db: Path,
    peppol_sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The paths the rows name; every per-user location points into ``tmp_path``."""
    monkeypatch.setenv("PEPPOLNET_SANDBOX_STATE", str(state))
    monkeypatch.setenv("PEPPOLNET_DB", str(tmp_path / "data" / "recipients.sqlite"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    cannot = _participant(peppol_sandbox, quirk="endpoint-expired")
    register = tmp_path / "register.csv"
    register.write_text(f"Namn;Participant\nA;{cannot.bare}\n", encoding="utf-8")
    (tmp_path / "folder").mkdir()
    (tmp_path / "noid.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "bad.toml").write_text("[[operators]\n", encoding="utf-8")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "secret.toml").write_text('[smtp]\npassword = "hunter2"\n', encoding="utf-8")
    (tmp_path / "moon.toml").write_text('network = "moon"\n', encoding="utf-8")
    (tmp_path / "notsmp.xml").write_text("<a/>", encoding="utf-8")
    export = tmp_path / "export.xml"
    with export.open("wb") as out:
        write_export(synthetic_cards(30, seed=3), ExportKind.BUSINESS_CARDS_XML, out)
    (tmp_path / "bad-export.xml").write_bytes(
        export.read_bytes().replace(b'value="0', b'value="&', 1)
    )
    return {
        "tmp": str(tmp_path),
        "busy": str(busy_port),
        "missing": str(tmp_path / "missing.csv"),
        "folder": str(tmp_path / "folder"),
        "nodir": str(tmp_path / "no" / "such" / "folder"),
        "register": str(register),
        "noid": str(tmp_path / "noid.csv"),
        "badtoml": str(tmp_path / "bad.toml"),
        "badjson": str(tmp_path / "bad.json"),
        "secretconf": str(tmp_path / "secret.toml"),
        "moonconf": str(tmp_path / "moon.toml"),
        "notsmp": str(tmp_path / "notsmp.xml"),
        "export": str(export),
        "badexport": str(tmp_path / "bad-export.xml"),
        "damaged": str(damaged_db),
        "smpdoc": str(signed_document),
        "cannot": cannot.bare,
        # in the Directory only (a stale business card): not in the SML
        "unregistered": next(p.id.bare for p in peppol_sandbox.config.participants if not p.in_sml),
    }


# --- the table --------------------------------------------------------------------------------

ERROR_LINE = re.compile(r"peppolnet( [\w-]+)*: error: \S")


@pytest.mark.parametrize(("command", "case"), list(_all_rows()))
def test_exit_code(
    command: tuple[str, ...],
    case: Case,
    files: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [*command, *(arg.format(**files) for arg in case.argv)]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == case.code, (argv, out, err)
    assert "Traceback" not in out + err
    says = case.says.format(**files)
    if case.answer:
        assert says in out + err, (out, err)
    else:
        lines = err.strip().splitlines()
        assert len(lines) == 1, err  # one sentence, not a usage block or a stack
        assert ERROR_LINE.match(lines[0]), lines[0]
        assert says in lines[0], lines[0]
    assert not Path(files["nodir"]).parent.parent.exists(), "a folder was created"


def test_a_file_without_read_permission_is_a_usage_error(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Root reads any file, so as root (CI) the command runs in a child without the two
    capabilities that let it (``setpriv``, util-linux)."""
    folder = tmp_path_factory.mktemp("locked")
    locked = folder / "locked.csv"
    locked.write_text("name,orgnr\n", encoding="utf-8")
    locked.chmod(0)
    for argv in (["check", str(locked)], ["customers", "import", str(locked)]):
        if os.geteuid() == 0:
            drop = "-dac_override,-dac_read_search"
            setpriv = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}"]
            child = subprocess.run(
                [*setpriv, sys.executable, "-m", "peppolnet.cli", *argv],
                capture_output=True,
                text=True,
                env=_child_env(PEPPOLNET_DB=str(folder / "db.sqlite")),
                check=False,
            )
            code, err = child.returncode, child.stderr
        else:
            code, err = main(argv), capsys.readouterr().err
        assert code == 2, err
        assert "cannot be read" in err


# --- in a real process ------------------------------------------------------------------------


def _child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env


def test_a_closed_stdout_keeps_the_answers_exit_code(
    files: dict[str, str], state: Path, tmp_path: Path
) -> None:
    """``peppolnet lookup ID | head -1`` for a cannot-receive ID must exit 1, every time.

    The pipe's read end is closed before the child starts, so every write to stdout meets
    EPIPE: deterministic, where ``| head -1`` is a race between the two processes.
    """
    for extra in ([], ["--json"]):
        read, write = os.pipe()
        os.close(read)
        try:
            child = subprocess.run(
                [sys.executable, "-m", "peppolnet.cli", "lookup", files["cannot"], *SANDBOX,
                 "--state-file", str(state), *extra],
                stdout=write,
                stderr=subprocess.PIPE,
                env=_child_env(),
                text=True,
                timeout=120,
            )  # fmt: skip
        finally:
            os.close(write)
        assert child.returncode == 1, child.stderr
        assert child.stderr == "", child.stderr  # no BrokenPipeError, no "Exception ignored"
    read, write = os.pipe()
    os.close(read)
    try:
        listing = subprocess.run(
            [sys.executable, "-m", "peppolnet.cli", "schemes"],
            stdout=write,
            stderr=subprocess.PIPE,
            env=_child_env(),
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert (listing.returncode, listing.stderr) == (0, "")


@pytest.mark.parametrize(
    "argv",
    [["smp", "parse", "-"], ["smp", "parse", "-", "--json"], ["serve", "--hash-password", "anna"]],
)
def test_a_closed_stdin_is_a_usage_error(argv: list[str]) -> None:
    """Started with standard input closed (``<&-``, as some service managers and cron jobs
    start a process), Python has no ``sys.stdin``: what reads it says so, exit 2, no traceback."""
    child = subprocess.run(
        [sys.executable, "-m", "peppolnet.cli", "--lang", "en", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=_child_env(),
        text=True,
        timeout=120,
        preexec_fn=lambda: os.close(0),
    )
    assert child.returncode == 2, child.stderr
    assert child.stderr == (
        "peppolnet: error: standard input is closed: there is nothing to read from it\n"
    )
    assert child.stdout == ""


def test_a_chart_without_matplotlib_fails_before_the_work(
    files: dict[str, str], state: Path, tmp_path: Path
) -> None:
    """``check --chart`` where matplotlib cannot be imported: exit 2 at once, nothing written."""
    shim = tmp_path / "shim" / "matplotlib"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text('raise ImportError("blocked for this test")\n')
    out = tmp_path / "out.csv"
    child = subprocess.run(
        [sys.executable, "-m", "peppolnet.cli", "check", files["register"], "-o", str(out),
         "--chart", str(tmp_path / "chart.png"), *SANDBOX, "--state-file", str(state)],
        capture_output=True,
        env=_child_env(PYTHONPATH=os.pathsep.join([str(shim.parent), str(SRC)])),
        text=True,
        timeout=120,
    )  # fmt: skip
    assert child.returncode == 2, child.stderr
    assert child.stderr.strip() == (
        "peppolnet: error: a chart needs matplotlib, which is not installed: "
        "pip install 'peppolnet[chart]'"
    )
    assert not out.exists()
