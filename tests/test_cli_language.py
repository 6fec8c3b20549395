"""The command line in Swedish and English: ``--lang``, the locale, registers with Swedish
columns and country names, request problems (the request mailed in Swedish to a real SMTP
server is in test_cli_request.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from peppolnet.cli import main
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
