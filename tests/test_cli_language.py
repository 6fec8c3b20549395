"""The command line in Swedish and English: ``--lang``, the locale, registers with Swedish
columns and country names, request problems (the request mailed in Swedish to a real SMTP
server is in test_cli_request.py)."""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _sandbox_undo import undo_changes
from peppolnet.cli import build_parser, main
from peppolnet.i18n import Message
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.state import write_state


@pytest.fixture(scope="module")
def state(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's sandbox, reached as a user reaches it (``--network sandbox``)."""
    return write_state(sandbox.info(), tmp_path_factory.mktemp("state") / "sandbox.json")


@pytest.fixture
def network(state: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, ...]:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("PEPPOLNET_DB", str(tmp_path / "recipients.sqlite"))
    return ("--network", "sandbox", "--state-file", str(state))


def customer(sandbox: Sandbox, *, in_sml: bool = True) -> Any:
    """A plain Swedish participant (no quirks) that Kvittra serves, or one not in the SML."""
    return next(
        p
        for p in sandbox.participants.values()
        if p.in_sml is in_sml and not p.quirks and p.id.icd == "0007"
        and (p.operator == "kvittra" or not in_sml)
    )  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_lookup_in_swedish_and_english(
    sandbox: Sandbox, network: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    who = customer(sandbox).id.bare
    code, out, _ = run(capsys, "--lang", "sv", "lookup", who, *network)
    assert code == 0
    assert f"{who}: KAN TA EMOT" in out
    assert "operatör: Kvittra AB" in out
    assert "kontroller:" in out
    assert "checks:" not in out
    code, out, _ = run(capsys, "lookup", who, "--lang", "en", *network)  # after the command too
    assert code == 0
    assert "CAN-RECEIVE" in out
    assert "operator: Kvittra AB" in out


def test_a_swedish_locale_picks_swedish_and_lang_overrides_it(
    sandbox: Sandbox,
    network: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PEPPOLNET_LANG")
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "sv_SE.UTF-8")
    who = customer(sandbox, in_sml=False).id.bare
    code, out, _ = run(capsys, "lookup", who, *network)
    assert code == 1
    assert "INTE REGISTRERAD" in out
    assert "orsak: " in out
    code, out, _ = run(capsys, "lookup", who, "--lang=en", *network)
    assert code == 1
    assert "NOT-REGISTERED" in out
    assert "reason: " in out


def test_json_stays_language_neutral(
    sandbox: Sandbox, network: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    who = customer(sandbox).id.bare
    _, english, _ = run(capsys, "lookup", who, "--json", *network)
    _, swedish, _ = run(capsys, "lookup", who, "--json", "--lang", "sv", *network)
    a, b = json.loads(english), json.loads(swedish)
    assert a["verdict"] == b["verdict"] == "can-receive"
    assert a["reason"] == b["reason"]
    assert a.keys() == b.keys()


def test_usage_errors_and_help_in_swedish(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--lang", "sv", "check", __file__, "--concurrency", "0")
    assert code == 2
    assert "måste vara minst 1, fick 0" in err
    assert "se `peppolnet check --help`" in err
    code, _, err = run(capsys, "--lang", "sv", "check", str(Path(__file__).parent / "nothing"))
    assert code == 2
    assert "finns inte" in err
    code, out, _ = run(capsys, "lookup", "--help", "--lang", "sv")
    assert code == 0
    assert "organisationsnummer" in out
    assert "språket i utskriften" in out
    code, _, err = run(capsys, "--lang", "klingon", "lookup", "x")
    assert code == 2
    assert "unknown language 'klingon'" in err


def _texts(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, object]]:
    """Every text a person reads in ``parser``'s help (and its sub-commands'), by where."""
    yield f"{path} description", parser.description
    for group in parser._action_groups:
        yield f"{path} section", group.title
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for listed in action._choices_actions:
                yield f"{path} {listed.dest} (listed)", listed.help
            for name, child in action.choices.items():
                yield from _texts(child, f"{path} {name}")
        elif action.help != argparse.SUPPRESS:
            yield f"{path} {'/'.join(action.option_strings) or action.dest}", action.help


def test_every_help_text_of_every_command_comes_from_the_catalog() -> None:
    """A plain string in --help stays English in a Swedish help page (serve's did)."""
    plain = [
        where
        for where, text in _texts(build_parser(), "peppolnet")
        if text is not None and not isinstance(text, Message)
    ]
    assert plain == []


def test_argparse_usage_errors_in_swedish(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's own usage errors are English only: they are said in the command's language,
    the values quoted as typed; in English they read as argparse writes them."""
    code, _, err = run(capsys, "--lang", "sv", "check", __file__, "--format", "nope")
    assert code == 2
    assert "ogiltigt val: 'nope' (välj bland 'csv', 'jsonl', 'xlsx')" in err
    code, _, err = run(capsys, "--lang", "sv", "check", __file__, "--bogus")
    assert code == 2
    assert "okända argument: --bogus" in err
    assert "unrecognized" not in err
    code, _, err = run(capsys, "--lang", "sv", "lookup")
    assert "de här argumenten krävs: value" in err
    code, _, err = run(capsys, "--lang", "en", "check", __file__, "--bogus")
    assert "error: unrecognized arguments: --bogus (see `peppolnet --help`)" in err


def test_argparse_own_words_in_swedish(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "serve", "--help", "--lang", "sv")
    assert code == 0
    assert out.startswith("användning: peppolnet serve")
    assert "flaggor:" in out
    assert "visa den här hjälptexten och avsluta" in out
    assert "Kör peppolnets supportsida" in out
    assert "show this help" not in out
    assert "options:" not in out
    code, out, _ = run(capsys, "serve", "--help", "--lang", "en")
    assert out.startswith("usage: peppolnet serve")
    assert "show this help message and exit" in out


def test_a_swedish_register_in_and_out(
    sandbox: Sandbox,
    network: tuple[str, ...],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Swedish column names and country names in; Swedish columns, ';' and a BOM out."""
    known = customer(sandbox)
    number = known.id.local_id  # 0007: the Swedish organisation number, digits only
    register = tmp_path / "kunder.csv"
    register.write_text(
        "Företagsnamn,Organisationsnummer,Land\n"
        f"Känd AB,{number[:6]}-{number[6:]},Sverige\n"
        "Okänd Oy,0000000-0,Suomi\n"
        f"Utan land AB,{number},\n",
        encoding="utf-8",
    )
    out = tmp_path / "kunder.checked.csv"
    code, text, _ = run(capsys, "check", str(register), "-o", str(out), "--lang", "sv", *network)
    assert code == 0, text
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the letters right
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert list(rows[0]) == [
        "Företagsnamn", "Organisationsnummer", "Land",
        "Rad", "Peppol-ID", "Resultat", "Operatör", "Seat ID", "SMP-värd", "Förklaring",
    ]  # fmt: skip
    assert rows[0]["Resultat"] == "can-receive"  # the machine value: outputs are re-read
    assert rows[0]["Seat ID"] == "PSE000102"
    assert rows[0]["Förklaring"].startswith("ett signerat svar från SMP:n")
    assert rows[1]["Resultat"] in ("not-registered", "invalid-input")  # Suomi: FI (below)
    assert rows[1]["Förklaring"]
    assert rows[2]["Resultat"] == "invalid-input"
    assert "saknar land" in rows[2]["Förklaring"]
    assert "3 rader" in text
    assert "kan ta emot" in text
    assert "länder (andel som kan ta emot)" in text
    assert "  SE " in text
    assert "  FI " in text
    assert f"skrivet till {out}" in text
    # a Swedish output is continued like an English one
    code, text, _ = run(capsys, "check", str(register), "-o", str(out), "--resume", "--json",
                        *network)  # fmt: skip
    assert code == 0
    summary = json.loads(text)
    assert summary["resumed"] == 3
    assert summary["verdicts"]["can-receive"] == 1
    assert summary["countries"]["FI"]["total"] == 1


def test_request_problems_in_swedish(
    network: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "request", "add", "--name", " ", "--org-number", "559012-3450",
        "--operator", "PSE000102", "--email", "nope", "--no-check", "--lang", "sv",
    )  # fmt: skip
    assert code == 1
    assert "Förfrågan är inte giltig:" in err
    assert "company_name: företagsnamnet saknas eller består bara av blanksteg" in err
    assert "email: 'nope' är ingen giltig e-postadress" in err
    code, out, _ = run(
        capsys, "request", "add", "--name", " ", "--org-number", "559012-3450",
        "--operator", "PSE000102", "--email", "nope", "--no-check", "--lang", "sv", "--json",
    )  # fmt: skip
    assert code == 1
    problems = json.loads(out)["problems"]
    assert problems[0]["message"] == "the company name must not be empty or whitespace only"


# --- every other command in Swedish, --json the same in both languages -----------------------


def same_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """Run ``argv --json`` in English and in Swedish: the two documents must be equal."""
    code, english, _ = run(capsys, *argv, "--json", "--lang", "en")
    again, swedish, _ = run(capsys, *argv, "--json", "--lang", "sv")
    assert code == again
    assert json.loads(english) == json.loads(swedish)
    return json.loads(english)


def test_customers_in_swedish(
    sandbox: Sandbox,
    network: tuple[str, ...],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    known, missing = customer(sandbox), customer(sandbox, in_sml=False)
    register = tmp_path / "kunder.csv"
    register.write_text(
        "Namn;Peppol-ID\n"
        f"{known.name};{known.id.bare}\n"
        f"{missing.name};{missing.id.bare}\n"
        "Trasig rad AB;inget-id\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "customers", "import", str(register), "--lang", "sv")
    assert code == 0, err
    assert "2 tillagda, 0 uppdaterade, 0 oförändrade, 1 överhoppade; 2 kunder i " in out
    assert "rad 3: " in err  # the third line of the file
    code, out, _ = run(capsys, "customers", "search", known.name, "--lang", "sv")
    assert code == 0
    assert out.startswith("POÄNG  NAMN")
    assert "aldrig" in out  # not checked yet
    code, out, _ = run(capsys, "customers", "refresh", *network, "--lang", "sv")
    assert code == 0
    assert out.startswith("kontrollerade 2: ")
    assert "1 kan ta emot" in out
    assert "1 inte registrerad" in out
    code, out, _ = run(capsys, "customers", "refresh", "--older-than", "1h", *network,
                       "--lang", "sv")  # fmt: skip
    assert out.strip() == "kontrollerade 0: inget att kontrollera"
    with undo_changes(sandbox):
        sandbox.move_participant(known.id, "norrsken")
        assert run(capsys, "customers", "refresh", *network)[0] == 0
    changes = same_json(capsys, "customers", "changes")
    assert {c["kind"] for c in changes} == {"changed-operator", "changed-smp"}
    code, out, _ = run(capsys, "customers", "changes", "--lang", "sv")
    assert code == 0
    assert out.startswith("ÄNDRING")
    assert "bytte operatör" in out
    assert "bytte SMP" in out
    assert same_json(capsys, "customers", "search", known.name)[0]["name"] == known.name
    code, _, err = run(capsys, "customers", "refresh", "--older-than", "snart", "--lang", "sv")
    assert code == 2
    assert "'snart' är ingen tidslängd" in err


def test_directory_search_in_swedish(
    sandbox: Sandbox, network: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    known = customer(sandbox)
    argv = ("directory", "search", "--participant", known.id.uri, "--confirm", *network)
    code, out, err = run(capsys, *argv, "--lang", "sv")
    assert code == 0
    assert out.splitlines()[0].split() == ["DELTAGARE", "LAND", "NAMN", "KAN", "TA", "EMOT"]
    assert out.splitlines()[2].rstrip().endswith("  ja")
    assert "1 av 1 matchande företag" in err
    code, out, err = run(capsys, *argv, "--lang", "en")
    assert out.splitlines()[2].rstrip().endswith("  yes")
    assert "1 of 1 matching entities" in err
    document = same_json(capsys, *argv)
    assert [m["confirmed"] for m in document["matches"]] == [True]
    code, out, _ = run(capsys, "directory", "search", "--help", "--lang", "sv")
    assert "bekräfta varje träff med ett uppslag" in out
    assert "nätverk:" in out  # the option group's title


def test_id_and_schemes_in_swedish(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "id", "check", "0007:5567321707", "--lang", "sv")
    assert (code, out.strip()) == (0, "✓ iso6523-actorid-upis::0007:5567321707  SE:ORGNR (aktiv)")
    code, out, _ = run(capsys, "id", "suggest", "556732-1708", "--country", "SE", "--lang", "sv")
    assert code == 1
    assert out.startswith("✗ inget deltagar-id: ")
    assert same_json(capsys, "id", "check", "0007:5567321707")[0]["scheme_state"] == "active"
    code, out, _ = run(capsys, "id", "--help", "--lang", "sv")
    assert "Kontrollera deltagar-id mot Peppols kodlista" in out
    assert "kontrollera id (schema, format, kontrollsiffror)" in out
    code, out, _ = run(capsys, "schemes", "--lang", "sv")
    lines = out.splitlines()
    assert lines[0].startswith("Peppols kodlista v")
    assert lines[1].split() == ["ICD", "Schema", "Land", "Status", "Namn"]
    assert any(line.startswith("0007") and " aktiv " in line for line in lines)
    code, out, _ = run(capsys, "schemes", "--coverage", "--lang", "sv")
    headings = ["ICD", "Schema", "Status", "Format", "Kontrollsiffror", "Hur"]
    assert out.splitlines()[0].split() == headings
    assert any(line.startswith("0007") and "  ja  " in line for line in out.splitlines())
    code, out, _ = run(capsys, "schemes", "--coverage", "--lang", "en")
    assert any(line.startswith("0007") and "  yes  " in line for line in out.splitlines())
    assert {s["icd"] for s in same_json(capsys, "schemes")} >= {"0007", "0088"}


def test_operators_in_swedish(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = ("--file", str(tmp_path / "operators.json"))
    sandbox_network = ("--network", "sandbox", "--state-file", str(state))
    code, out, _ = run(capsys, "operators", "add", *sandbox_network, *file, "--lang", "sv")
    assert code == 0
    assert out.startswith("sandlådans operatörer sparade; ")
    code, out, _ = run(capsys, "operators", "add", "--seat-id", "PSE000999", "--name", "Ny AB",
                       *file, "--lang", "sv")  # fmt: skip
    assert code == 0
    assert "sparad; " in out
    code, out, _ = run(capsys, "operators", "list", *file, "--lang", "sv")
    assert out.splitlines()[0].split() == ["SEAT", "ID", "NAMN", "LAND"]
    assert "PSE000999" in out
    code, _, err = run(capsys, "operators", "add", *file, "--lang", "sv")
    assert code == 2
    assert "ange --seat-id (och --name, --country) eller --network sandbox" in err
    code, _, err = run(capsys, "operators", "add", "--seat-id", "PSE000998", "--country",
                       "Sverige", *file, "--lang", "sv")  # fmt: skip
    assert code == 1
    assert "--country måste vara en landskod med två bokstäver, inte 'Sverige'" in err
    listed = same_json(capsys, "operators", "list", *file)
    assert "PSE000999" in {op["seat_id"] for op in listed}


def test_sandbox_and_sml_in_swedish(
    sandbox: Sandbox, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the state file names this (living) process: a second sandbox would clash with it
    code, _, err = run(capsys, "sandbox", "serve", "--state-file", str(state), "--lang", "sv")
    assert code == 1
    assert "en sandlåda körs redan (pid " in err
    code, out, _ = run(capsys, "sandbox", "serve", "--help", "--lang", "sv")
    assert "UDP/TCP-port för sandlådans DNS-server" in out
    who = customer(sandbox).id.bare
    network = ("--network", "sandbox", "--state-file", str(state))
    _, english, _ = run(capsys, "sml", "lookup", who, *network, "--lang", "en")
    code, swedish, _ = run(capsys, "sml", "lookup", who, *network, "--lang", "sv")
    assert code == 0
    assert swedish == english  # a URL in every language
    _, english, _ = run(capsys, "sml", "lookup", who, *network, "--json", "--lang", "en")
    _, swedish, _ = run(capsys, "sml", "lookup", who, *network, "--json", "--lang", "sv")
    a, b = json.loads(english), json.loads(swedish)
    assert a.pop("elapsed") >= 0  # how long DNS took differs, all else is the same
    assert b.pop("elapsed") >= 0
    assert a == b
    code, _, err = run(capsys, "sml", "lookup", who, "--network", "moon", "--lang", "sv")
    assert code == 2
    assert "okänt nätverk 'moon'; använd ett av production, test" in err
    code, _, err = run(capsys, "sml", "lookup", who, "--nameserver", "dns.example", "--lang", "sv")
    assert code == 2
    assert "DNS-servern 'dns.example' är ingen IP-adress" in err
    code, out, _ = run(capsys, "sml", "lookup", "--help", "--lang", "sv")
    assert "slå upp en deltagare i SML" not in out  # that is the list's line, not the page's
    assert "Fråga SML via DNS och skriv ut deltagarens SMP-adress" in out
    assert "fråga över TCP" in out


@pytest.fixture
def signed_metadata(sandbox: Sandbox, tmp_path: Path) -> Path:
    """A ServiceMetadata as a sandbox SMP signed it, saved to a file for ``smp parse``."""
    from peppolnet.lookup import resolve_document_type
    from peppolnet.sml import SmlResolver
    from peppolnet.smp.client import SmpClient
    from peppolnet.smp.urls import service_metadata_url

    participant = customer(sandbox).id
    smp_url = SmlResolver.for_network(sandbox.network).resolve(participant).smp_url
    url = service_metadata_url(smp_url, participant, resolve_document_type("invoice"))
    with SmpClient(sandbox.network) as client:
        body = client.fetch(url)
    path = tmp_path / "metadata.xml"
    path.write_bytes(body)
    return path


def test_smp_parse_in_swedish(
    signed_metadata: Path, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("smp", "parse", str(signed_metadata), "--verify", "--trust", "sandbox",
            "--state-file", str(state))  # fmt: skip
    code, out, _ = run(capsys, *argv, "--lang", "sv")
    assert code == 0
    fields = dict(line.split(":  ", 1) for line in out.splitlines() if ":  " in line)
    assert fields["deltagare"].strip().startswith("iso6523-actorid-upis::0007:")
    assert fields["dokumenttyp"].strip().startswith("busdox-docid-qns::")
    signature = "rsa-sha256, giltig, kedjan betrodd; undertecknare "
    assert fields["signatur"].strip().startswith(signature)
    column = {len(line) - len(line.split(":", 1)[1].lstrip()) for line in out.splitlines()[1:3]}
    assert len(column) == 1  # the values are aligned after the Swedish labels
    assert "; certifikat " in out
    code, out, _ = run(capsys, *argv, "--lang", "en")
    assert "\nparticipant:   iso6523-actorid-upis::0007:" in out
    assert "\nsignature:     rsa-sha256, valid, chain trusted; signer " in out
    assert same_json(capsys, *argv)["signature"]["chain_valid"] is True
    code, _, err = run(capsys, "smp", "parse", str(signed_metadata), "--verify", "--trust",
                       "moon", "--lang", "sv")  # fmt: skip
    assert code == 2
    assert "'moon' är varken ett nätverk (production, " in err


def test_request_send_show_cancel_in_swedish(
    sandbox: Sandbox,
    network: tuple[str, ...],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A draft for a customer already with Kvittra, sent to a folder, followed up (the network
    shows it through Kvittra: confirmed), shown and cancelled - each line in Swedish."""
    known = customer(sandbox)
    outbox = ("--via", "outbox", "--outbox", str(tmp_path / "out"))
    code, out, err = run(
        capsys, "request", "add", "--name", known.name, "--org-number", known.id.local_id,
        "--operator", "PSE000102", "--email", "faktura@kund.example", "--no-check", "--json",
    )  # fmt: skip
    assert code == 0, err
    rid = json.loads(out)["request"]["request_id"]
    code, out, _ = run(capsys, "request", "send", rid[:8], *outbox, "--lang", "sv")
    assert (code, out.strip()) == (0, f"{rid} skickad via outbox: {tmp_path / 'out' / rid}.json")
    code, out, _ = run(capsys, "request", "send", rid[:8], *outbox, "--lang", "sv")
    assert out.startswith(f"{rid} redan skickad via outbox: ")
    code, out, _ = run(capsys, "request", "show", rid[:8], "--lang", "sv")
    assert f"Skickad via outbox: {tmp_path / 'out' / rid}.json (idempotensnyckel " in out
    assert run(capsys, "request", "follow-up", *network)[0] == 0
    code, out, _ = run(capsys, "request", "show", rid[:8], "--lang", "sv")
    assert ": kan ta emot via Kvittra AB (PSE000102)" in out
    code, out, _ = run(capsys, "request", "show", rid[:8], "--lang", "en")
    assert ": can-receive through Kvittra AB (PSE000102)" in out
    shown = same_json(capsys, "request", "show", rid[:8])
    assert shown["status"] == "confirmed"

    code, out, err = run(
        capsys, "request", "add", "--name", "Ny Kund AB", "--org-number", "559012-3450",
        "--operator", "PSE000102", "--email", "faktura@ny.example", "--no-check", "--json",
    )  # fmt: skip
    draft = json.loads(out)["request"]["request_id"]
    assert run(capsys, "request", "send", draft, *outbox)[0] == 0
    code, out, _ = run(capsys, "request", "cancel", draft[:8], "--reason", "fel kund",
                       "--lang", "sv")  # fmt: skip
    assert code == 0
    assert "Den skickades via outbox (" in out
    assert "operatören har inte meddelats - be dem stänga ärendet" in out
    code, _, err = run(capsys, "request", "list", "--status", "borta", "--lang", "sv")
    assert code == 2
    assert "okänd status 'borta'; använd en av draft, sending, sent" in err
    code, out, _ = run(capsys, "request", "send", "--help", "--lang", "sv")
    words = " ".join(out.split())
    assert "kanalinställningar:" in words
    assert "Skicka sparade förfrågningar via en kanal." in words
    assert "production, test, sandbox (en `peppolnet sandbox serve` som körs)" in words


def test_demo_in_swedish(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from peppolnet.demo import run_demo

    out = io.StringIO()
    assert run_demo(out, desk_delay=0.2, language="sv") == 0
    text = out.getvalue()
    assert "1. Startar ett Peppol-nätverk i en sandlåda på 127.0.0.1" in text
    assert "Kontrollerar kundregistret demo-customers.csv: vem kan ta emot e-fakturor?" in text
    assert "kan ta emot" in text
    assert "kan inte ta emot" in text
    assert "Varför de andra inte kan ta emot" in text
    assert "skickad till operatörens ärendeportal (http, ärende " in text
    assert "bekräftelsemejl till " in text
    assert "Klart" in text
    assert "can-receive" not in text
    assert "bekräftad: 0007:5546502708 kan ta emot via Kvittra AB (PSE000102)" in text
    assert "can receive through" not in text
    code, help_text, _ = run(capsys, "demo", "--help", "--lang", "sv")
    assert code == 0
    assert "ditt eget kundregister (CSV/XLSX)" in help_text


@pytest.mark.parametrize(
    ("doctype", "english", "swedish"),
    [
        ("urn:x::X", "has no '##' and customization id", "saknar '##' och anpassnings-id"),
        ("urn:x::X##c", "has no '::' and version after", "saknar '::' och version efter"),
        ("urn:x::##c::1", "has no root element local name", "saknar rotelementets lokala namn"),
    ],
)
def test_a_malformed_document_type_is_explained_in_swedish(
    network: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
    doctype: str,
    english: str,
    swedish: str,
) -> None:
    """What part of a document type id is missing is the end of a Swedish sentence too."""
    argv = ("request", "add", "--name", "Bygg AB", "--org-number", "559012-3450",
            "--operator", "PSE000102", "--email", "f@bygg.example", "--no-check",
            "--doctype", doctype)  # fmt: skip
    code, out, err = run(capsys, *argv, "--lang", "sv")
    assert code == 1
    assert swedish in out + err
    assert english not in out + err
    assert f"dokumenttyps-ID:t {doctype!r} {swedish}" in out + err
    code, out, err = run(capsys, *argv, "--lang", "en")
    assert english in out + err


def test_follow_up_says_what_it_found_in_swedish(
    sandbox: Sandbox,
    network: tuple[str, ...],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The follow-up's 'found' column (and the demo's 'bekräftad: ...') was English in a
    Swedish table: 'still pending: not-registered', '... can receive through ...'."""
    known, missing = customer(sandbox), customer(sandbox, in_sml=False)
    outbox = ("--via", "outbox", "--outbox", str(tmp_path / "out"))
    for who in (known, missing):
        code, out, err = run(
            capsys, "request", "add", "--name", who.name, "--org-number", who.id.local_id,
            "--operator", "PSE000102", "--email", "faktura@kund.example", "--no-check",
            "--json",
        )  # fmt: skip
        assert code == 0, err
        rid = json.loads(out)["request"]["request_id"]
        assert run(capsys, "request", "send", rid, *outbox)[0] == 0
    code, out, _ = run(capsys, "request", "follow-up", *network, "--lang", "sv")
    assert code == 0
    assert f"{known.id.bare} kan ta emot via Kvittra AB (PSE000102)" in out
    assert "väntar fortfarande: inte registrerad" in out
    assert "can receive" not in out
    assert "pending" not in out
    code, out, _ = run(capsys, "request", "follow-up", *network, "--json", "--lang", "sv")
    assert [r["message"] for r in json.loads(out)] == ["still pending: not-registered"]
