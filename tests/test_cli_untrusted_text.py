"""Human output never prints network text raw: control, format and separator characters are shown
as escapes (``\\u202e``), so an SMP, a certificate or a Directory entry cannot rewrite the
terminal, forge lines or reverse what follows. JSON output stays exact.

A sandbox network whose operator has a hostile name (a bidi override, a line separator, a C1
control that starts an ANSI sequence, a zero-width space) in its certificates and an endpoint
URL with a bidi override in the signed SMP answer: the values a real SMP could publish.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from peppolnet.businesscard import BusinessEntity, Name
from peppolnet.cli import main
from peppolnet.cli._output import fail, safe_lines, safe_text, table
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import parse_config
from peppolnet.sandbox.state import write_state

OPERATOR = "Evil\u202egnp.exe AB\u2028forged\x9b2J\u200b"
OPERATOR_SHOWN = "Evil\\u202egnp.exe AB\\u2028forged\\x9b2J\\u200b"
ENDPOINT = "https://ap.evil.test/\u202eas4"
ENDPOINT_SHOWN = "https://ap.evil.test/\\u202eas4"
CUSTOMER = "0007:5567321707"

HOSTILE_NETWORK = """
[[operators]]
id = "evil"
name = "Evil\\u202Egnp.exe AB\\u2028forged\\u009B2J\\u200B"
seat_id = "PSE000001"
country = "SE"
smp = "evil-smp"
ap_url = "https://ap.evil.test/\\u202Eas4"

[[smps]]
id = "evil-smp"
operator = "evil"

[[participants]]
id = "0007:5567321707"
name = "Plain AB"
country = "SE"
operator = "evil"
"""


def assert_shown_safely(text: str) -> None:
    """Nothing in ``text`` but printable characters and the output's own line breaks."""
    unsafe = {"Cc", "Cf", "Zl", "Zp", "Cs"}
    raw = [c for c in text if c != "\n" and unicodedata.category(c) in unsafe]
    assert not raw, f"printed raw: {raw!r} in {text!r}"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The hostile sandbox, reached as a user reaches it: ``--network sandbox --state-file``."""
    with Sandbox.start(parse_config(HOSTILE_NETWORK)) as sb:
        state = write_state(sb.info(), tmp_path_factory.mktemp("state") / "sandbox.json")
        yield ["--network", "sandbox", "--state-file", str(state)]


def test_safe_text_shows_what_would_act_on_a_terminal() -> None:
    cases = {
        "\x1b[31mred\x1b[0m": "\\x1b[31mred\\x1b[0m",  # ANSI (ESC, C0)
        "\x9b2J": "\\x9b2J",  # CSI, the one-character C1 form
        "a\rb\nc\td\x00\x7f": "a\\rb\\nc\\td\\x00\\x7f",
        "live\u202emoc.evil": "live\\u202emoc.evil",  # right-to-left override
        "\u2066\u2067\u2069\u200f\u061c": "\\u2066\\u2067\\u2069\\u200f\\u061c",  # isolates, marks
        "one\u2028two\u2029three\x85four": "one\\u2028two\\u2029three\\x85four",
        "zero\u200bwidth\ufeff": "zero\\u200bwidth\\ufeff",
        "tag\U000e0041": "tag\\U000e0041",  # invisible tag characters
        "bad byte \udcff": "bad byte \\udcff",  # surrogateescape'd input
    }
    for raw, shown in cases.items():
        assert safe_text(raw) == shown
        assert_shown_safely(safe_text(raw))
    for kept in [
        "Fjällräv Konsult AB",
        "Ødegård Rør AS",
        "شركة",
        "株式会社",
        "a\u00a0b",
        "\\u202e",
    ]:
        assert safe_text(kept) == kept  # every script, and spaces, as they are
    assert safe_text(None) == "None"
    assert safe_lines("one\x1b\ntwo\u2028") == "one\\x1b\ntwo\\u2028"
    assert safe_lines(["a\nb", "c"]) == "a\\nb\nc"  # a line given as one stays one


def test_tables_and_errors_escape(capsys: pytest.CaptureFixture[str]) -> None:
    text = table([[OPERATOR, "x"]], ["NAME\x1b", "B"])
    assert_shown_safely(text)
    assert OPERATOR_SHOWN in text
    assert text.splitlines()[2].startswith(OPERATOR_SHOWN + "  x")  # aligned as shown
    assert fail(f"the SMP said {OPERATOR}\nfake line", code=3) == 3
    err = capsys.readouterr().err
    assert err == f"peppolnet: error: the SMP said {OPERATOR_SHOWN}\\nfake line\n"


def test_lookup(hostile: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lookup", CUSTOMER, *hostile]) == 0
    out = capsys.readouterr().out
    assert_shown_safely(out)
    assert f"operator: {OPERATOR_SHOWN} (PSE000001)" in out
    assert f"access point: {ENDPOINT_SHOWN}" in out
    assert main(["lookup", CUSTOMER, "--json", *hostile]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["endpoint"]["url"] == ENDPOINT  # JSON stays exact
    assert data["operator"]["name"] == OPERATOR


def test_trace(hostile: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", CUSTOMER, *hostile]) == 0
    out = capsys.readouterr().out
    assert_shown_safely(out)
    assert ENDPOINT_SHOWN in out  # the endpoint and verdict steps quote the signed answer
    assert main(["trace", CUSTOMER, "--json", *hostile]) == 0
    data = json.loads(capsys.readouterr().out)
    endpoint = next(s for s in data["steps"] if s["name"] == "endpoint")
    assert endpoint["details"]["chosen"]["url"] == ENDPOINT  # JSON stays exact


def test_check_summary(
    hostile: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register = tmp_path / "kunder.csv"
    register.write_text(f"Namn,Peppol ID\nPlain AB,{CUSTOMER}\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["check", str(register), "-o", str(out), *hostile]) == 0
    text = capsys.readouterr().out
    assert_shown_safely(text)
    assert f"{OPERATOR_SHOWN} (PSE000001)" in text
    assert json.loads(out.read_text(encoding="utf-8"))["operator_name"] == OPERATOR  # exact


def test_customers(hostile: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    register = tmp_path / "kunder.csv"
    register.write_text(
        f"Namn,Peppol ID\nPlain\u202e AB,{CUSTOMER}\nNo Number\x1b[2J AB,\n", encoding="utf-8"
    )
    db = ["--db", str(tmp_path / "c.sqlite")]
    assert main(["customers", "import", str(register), *db]) == 0
    assert_shown_safely(capsys.readouterr().err)  # the skipped row, quoted
    assert main(["customers", "refresh", *db, *hostile]) == 0
    capsys.readouterr()
    assert main(["customers", "search", "Plain", *db]) == 0
    text = capsys.readouterr().out
    assert_shown_safely(text)
    assert "Plain\\u202e AB" in text
    assert OPERATOR_SHOWN in text


def test_directory_search(capsys: pytest.CaptureFixture[str]) -> None:
    from peppolnet.sandbox.directory_service import DirectoryEntry, DirectoryService
    from peppolnet.sandbox.http import HttpServer

    entries = [
        DirectoryEntry(
            ParticipantId.of("0192", "810306882"),
            (),
            (BusinessEntity((Name("Fjord Fisk\u202e\u2028AS\x9b31m"),), "NO"),),
        )
    ]
    with HttpServer(DirectoryService(entries)) as server:
        assert main(["directory", "search", "--name", "fjord", "--url", server.base_url]) == 0
        text = capsys.readouterr().out
        assert_shown_safely(text)
        assert "Fjord Fisk\\u202e\\u2028AS\\x9b31m" in text
        argv = ["directory", "search", "--name", "fjord", "--json", "--url", server.base_url]
        assert main(argv) == 0
        match = json.loads(capsys.readouterr().out)["matches"][0]
        assert "Fjord Fisk\u202e\u2028AS\x9b31m" in json.dumps(match, ensure_ascii=False)


def test_request_plan(
    hostile: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PEPPOLNET_DB", str(tmp_path / "recipients.sqlite"))
    code = main(
        ["request", "add", "--name", "Plain AB", "--org-number", "556732-1707", "--operator",
         "PSE000009", "--email", "a@b.example", *hostile]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    assert_shown_safely(text)
    # a request carries the operator's name into mail headers: a name with line separators is
    # left out of it altogether (the Seat ID names the operator), not merely escaped
    assert "PSE000009" in text
    assert "forged" not in text


def test_smp_parse(refdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = refdata / "samples/smp-peppol/vefa-peppol/busdox-servicemetadata-0192-991825827.xml"
    saved = tmp_path / "answer.xml"  # a saved SMP answer whose endpoint URL reads backwards
    saved.write_bytes(
        sample.read_bytes().replace(
            b"https://ectrade.ec.evry.com/peppol/as4",
            "https://ap.evil.test/\u202eas4&#x9b;2J&#x2028;x".encode(),
        )
    )
    assert main(["smp", "parse", str(saved)]) == 0
    text = capsys.readouterr().out
    assert_shown_safely(text)
    assert "https://ap.evil.test/\\u202eas4\\x9b2J\\u2028x" in text
    assert main(["smp", "parse", str(saved), "--json"]) == 0
    assert "https://ap.evil.test/\u202eas4\x9b2J\u2028x" in capsys.readouterr().out  # exact


def test_operators(hostile: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = ["--file", str(tmp_path / "operators.json")]
    assert main(["operators", "add", *registry, *hostile]) == 0  # the sandbox's, as published
    assert main(["operators", "list", *registry]) == 0
    assert main(["operators", "show", "PSE000001", *registry]) == 0
    text = capsys.readouterr().out
    assert_shown_safely(text)
    assert f"PSE000001  {OPERATOR_SHOWN}  SE" in text
