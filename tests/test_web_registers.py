"""Register uploads through the ASGI app on the sandbox: limits checked before any lookup,
progress as server-sent events and JSON, one row out per row in, cells that stay text.
The browser's view (progress bar, the script, no JavaScript) is in tests/browser/."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

import openpyxl
import pytest
from starlette.testclient import TestClient

from peppolnet.sandbox import Sandbox
from peppolnet.web import create_app
from peppolnet.web.register_jobs import RegisterLimits

REGISTER = (
    "Företagsnamn;Organisationsnummer;Land\n"
    "Nordlys Bygg AB;558482-1341;SE\n"
    '=HYPERLINK("http://evil.example","klick");550912-8723;SE\n'
    "Utan Nummer AB;;SE\n"
    "Solberg Rør AS;933215385;NO\n"
)


@pytest.fixture
def web(sandbox: Sandbox) -> Iterator[TestClient]:
    limits = RegisterLimits(max_bytes=2048, max_rows=10, concurrency=4)
    with TestClient(create_app(network=sandbox.network, registers=limits)) as client:
        yield client


def upload(
    client: TestClient,
    content: bytes,
    name: str = "kunder.csv",
    lang: str = "en",
    country: str = "SE",
) -> tuple[int, str]:
    page = client.get(f"/registers?lang={lang}")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    answer = client.post(
        "/registers",
        data={"csrf_token": found.group(1), "country": country},
        files={"register": (name, content, "text/csv")},
        follow_redirects=False,
    )
    return answer.status_code, answer.headers.get("location") or answer.text


def finished(client: TestClient, job: str) -> list[dict[str, object]]:
    """Every progress event of the job's stream (it ends when the job ends)."""
    with client.stream("GET", job + "/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        return [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]


def test_checked_register_has_one_row_per_row_and_cells_stay_text(web: TestClient) -> None:
    status, job = upload(web, REGISTER.encode("utf-8"))
    assert status == 303
    events = finished(web, job)
    assert events[-1]["state"] == "done"
    assert events[-1]["done"] == events[-1]["total"] == 4
    assert all(0 <= int(str(e["done"])) <= 4 for e in events)
    progress = web.get(job + "/progress").json()
    assert progress["counts"] == {"can-receive": 3, "invalid-input": 1}

    data = web.get(job + "/checked.csv").content
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 5
    assert rows[0][:3] == ["Företagsnamn", "Organisationsnummer", "Land"]
    assert rows[2][0].startswith("'=HYPERLINK")  # a formula is written as text

    workbook = openpyxl.load_workbook(io.BytesIO(web.get(job + "/checked.xlsx").content))
    sheet = workbook.active
    assert sheet is not None
    assert sheet.max_row == 5
    assert sheet.cell(3, 1).data_type == "s"  # stored as a string, never as a formula
    page = web.get(job + "?lang=sv").text
    assert "Ladda ner det kontrollerade registret" in page
    assert "=HYPERLINK" not in page  # names are not shown on the page, counts are
    assert web.get(job + "/chart.png").headers["content-type"] == "image/png"


SWEDISH_REGISTER = (
    "Företagsnamn;Orgnr;Land\n"
    "Nordlys Bygg AB;558482-1341;Sverige\n"
    "Solberg Rør AS;933215385;Norge\n"
    "Fjällräv Konsult AB;550912-8723;\n"  # no country: the form's "Sverige"
    "Utan Nummer AB;;Sverige\n"
)


def test_a_register_uploaded_in_swedish_comes_back_in_swedish(web: TestClient) -> None:
    """Countries as people write them ("Sverige", "Norge") are read; the download's added
    columns, verdicts and reasons, the summary and the chart are in the page's language, and
    the CSV is what a Swedish Excel opens in columns: ``;`` and a BOM."""
    status, job = upload(web, SWEDISH_REGISTER.encode("utf-8"), lang="sv", country="Sverige")
    assert status == 303
    assert finished(web, job)[-1]["state"] == "done"
    assert web.get(job + "/progress").json()["counts"] == {"can-receive": 3, "invalid-input": 1}

    data = web.get(job + "/checked.csv").content
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    header = rows[0]
    assert header[:3] == ["Företagsnamn", "Orgnr", "Land"]
    assert header[3:] == ["Rad", "Peppol-ID", "Resultat", "Operatör", "Seat ID", "SMP-värd",
                          "Förklaring"]  # fmt: skip
    # the verdict column keeps its machine values (docs/bulk.md); the reasons are Swedish
    verdicts = [row[header.index("Resultat")] for row in rows[1:]]
    assert verdicts == ["can-receive", "can-receive", "can-receive", "invalid-input"]
    reason = rows[4][header.index("Förklaring")]
    assert reason == "raden har varken deltagar-id eller organisationsnummer"
    assert rows[2][header.index("Peppol-ID")].endswith("::0192:933215385")  # "Norge": NO

    workbook = openpyxl.load_workbook(io.BytesIO(web.get(job + "/checked.xlsx").content))
    sheet = workbook.active
    assert sheet is not None
    assert [cell.value for cell in sheet[1]][3:5] == ["Rad", "Peppol-ID"]

    page = web.get(job + "?lang=sv").text
    assert "Operatörer för kunderna som kan ta emot" in page
    assert re.search(r"<td>Norge</td><td>1</td>", page)
    assert web.get(job + "/chart.png").headers["content-type"] == "image/png"


def test_an_english_upload_keeps_the_machine_column_names(web: TestClient) -> None:
    status, job = upload(web, SWEDISH_REGISTER.encode("utf-8"), lang="en", country="Sweden")
    assert status == 303
    assert finished(web, job)[-1]["state"] == "done"
    data = web.get(job + "/checked.csv").content.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(data), delimiter=";"))
    assert header[3:6] == ["row", "participant_id", "verdict"]
    assert "can-receive" in data


@pytest.mark.parametrize(
    ("content", "name", "says"),
    [
        (b"name;org_number\n" + b"A;5584821341\n" * 11, "big.csv", "more than 10 rows"),
        (b"name;org_number\n" + b"A" * 3000 + b";1\n", "huge.csv", "larger than"),
        (b"", "empty.csv", "empty"),
        (b"name;org_number\n", "header.csv", "no rows"),
        (b"just;some;columns\n1;2;3\n", "odd.csv", "participant id"),
        (b"%PDF-1.4", "notes.pdf", "notes.pdf"),
    ],
)
def test_registers_the_page_cannot_use_are_refused_before_any_lookup(
    web: TestClient, content: bytes, name: str, says: str
) -> None:
    status, page = upload(web, content, name)
    assert status == 400
    error = re.search(r'id="upload-error">([^<]*)<', page)
    assert error, page[:400]
    assert says in error.group(1)


def test_an_unknown_job_is_not_found(web: TestClient) -> None:
    assert web.get("/registers/nonexistent").status_code == 404
    assert web.get("/registers/nonexistent/checked.csv").status_code == 404
    assert web.get("/registers/nonexistent/events").status_code == 404


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("sv", "registret 'Kunder 2026.xlsx' är inte en läsbar .xlsx-fil: "),
        ("en", "the register 'Kunder 2026.xlsx' is not a readable .xlsx: "),
    ],
)
def test_an_unreadable_workbook_is_named_as_uploaded_in_the_page_language(
    web: TestClient, lang: str, says: str
) -> None:
    status, page = upload(web, b"PK\x03\x04 not a workbook", "Kunder 2026.xlsx", lang=lang)
    assert status == 400
    error = re.search(r'id="upload-error">([^<]*)<', page)
    assert error, page[:400]
    assert error.group(1).replace("&#39;", "'").startswith(says)


def test_the_upload_form_writes_its_limits_as_the_language_writes_numbers(
    sandbox: Sandbox,
) -> None:
    limits = RegisterLimits(max_bytes=512 * 1024, max_rows=50_000)
    with TestClient(create_app(network=sandbox.network, registers=limits)) as client:
        sv = client.get("/registers", params={"lang": "sv"}).text
        en = client.get("/registers", params={"lang": "en"}).text
    assert "Högst 50\u00a0000 rader och 0,5 MB." in sv
    assert "At most 50,000 rows and 0.5 MB." in en


def test_a_form_the_parser_refuses_is_the_page_in_its_language(web: TestClient) -> None:
    page = web.get("/registers?lang=sv")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    two = [("register", ("a.csv", b"Namn;Orgnr\n")), ("register", ("b.csv", b"Namn;Orgnr\n"))]
    answer = web.post("/registers?lang=sv", data={"csrf_token": found.group(1)}, files=two)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    refused = re.search(r'class="refused"[^>]*>([^<]*)<', answer.text)
    assert refused, answer.text[:300]
    assert refused.group(1).strip() == (
        "Formuläret kunde inte läsas. Fyll i det igen på sidan och skicka det en gång till."
    )


def test_an_upload_while_the_server_is_busy_says_when_to_come_back(sandbox: Sandbox) -> None:
    """503 while every slot checks another register, with Retry-After as the sentence says
    ("in a minute"), so a script knows when to try again."""
    limits = RegisterLimits(max_bytes=2048, max_rows=10, concurrency=4, max_running=0)
    with TestClient(create_app(network=sandbox.network, registers=limits)) as client:
        page = client.get("/registers?lang=sv")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found
        answer = client.post(
            "/registers?lang=sv",
            data={"csrf_token": found.group(1), "country": "SE"},
            files={"register": ("kunder.csv", REGISTER.encode(), "text/csv")},
        )
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "60"
    assert "försök igen om en minut" in answer.text
