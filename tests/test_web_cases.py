"""The hand-off on the sandbox through the ASGI app: the prefilled form, every problem at once,
the plan (add, update or nothing), a failed send kept as a draft, the JSON API and its
OpenAPI examples, the audit log. The real-browser flow is in tests/browser/."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from _mailbox import Mailbox, local_smtp
from _sandbox_undo import undo_changes
from peppolnet.operators import Operator, OperatorRegistry
from peppolnet.recipients import HttpChannel, RecipientDirectory
from peppolnet.sandbox import Sandbox
from peppolnet.web import WebSettings, create_app
from peppolnet.web.casework import CaseSettings
from peppolnet.web.openapi import document

NORDLYS = "0007:5584821341"  # with Kvittra (PSE000102) in the sandbox
FJALLRAV = "0007:5509128723"  # with Norrsken (PSE000109)
NEW = "0007:5592010036"  # not in the sandbox


def operators(sandbox: Sandbox) -> OperatorRegistry:
    return OperatorRegistry(
        Operator(op.seat_id, op.name, op.country, aliases=frozenset({op.id}))
        for op in sandbox.config.operators
    )


def make_client(sandbox: Sandbox, tmp: Path, channels: dict[str, Any] | None = None) -> TestClient:
    app = create_app(
        network=sandbox.network,
        channels=channels,
        directory=RecipientDirectory(tmp / "recipients.sqlite"),
        settings=WebSettings(lookups_per_minute=6000, lookup_burst=1000),
        cases=CaseSettings(operators=operators(sandbox), operator="kvittra", follow_up_every=0),
    )
    return TestClient(app)


@pytest.fixture
def web(sandbox: Sandbox, tmp_path: Path) -> Iterator[TestClient]:
    """The page without channels: requests are stored as drafts, the sandbox is not changed."""
    with make_client(sandbox, tmp_path) as client:
        yield client


def token(client: TestClient, path: str = "/cases/new") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def values(html: str) -> dict[str, str]:
    """The form's input values and selected options by field name."""
    found = dict(re.findall(r'name="(\w+)" (?:type="\w+" )?value="([^"]*)"', html))
    selected = re.search(r'<option value="([^"]*)" selected', html)
    found["operator"] = selected.group(1) if selected else ""
    return found


def form(**fields: str) -> dict[str, str]:
    base = {
        "company_name": "Testbygg AB",
        "organisation_number": NEW.split(":")[1],
        "country": "SE",
        "operator": "PSE000102",
        "email": "faktura@testbygg.example",
    }
    return {**base, **fields}


def test_the_form_is_prefilled_from_the_business_card(web: TestClient) -> None:
    page = web.get(f"/cases/new?participant={FJALLRAV}&lang=sv")
    assert page.status_code == 200
    shown = values(page.text)
    assert shown["company_name"] == "Fjällräv Konsult AB"  # the Directory's business card
    assert shown["email"] == "faktura@fjallrav-konsult-ab.example"  # its invoicing contact
    assert (shown["organisation_number"], shown["country"]) == ("5509128723", "SE")
    assert shown["participant_id"] == FJALLRAV
    assert shown["operator"] == "PSE000102"  # the operator this desk works for
    assert "Företagsnamn" in page.text


def test_the_form_is_prefilled_from_the_customer_directory(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    register = tmp_path / "kunder.csv"
    register.write_text(
        "Företagsnamn;Orgnr;Land;E-post\nVår Kund AB;559201-0036;SE;a@kund.example\n"
    )
    with make_client(sandbox, tmp_path) as client:
        directory = client.app.state.peppolnet.directory  # type: ignore[attr-defined]
        directory.import_register(register)
        shown = values(client.get(f"/cases/new?participant={NEW}").text)
    assert (shown["company_name"], shown["email"]) == ("Vår Kund AB", "a@kund.example")


def test_not_a_participant_id_is_one_sentence(web: TestClient) -> None:
    page = web.get("/cases/new?participant=<b>nonsense</b>")
    assert page.status_code == 400
    assert "<b>nonsense" not in page.text  # escaped
    assert 'data-field="form"' in page.text


def test_every_problem_at_once_next_to_its_field(web: TestClient) -> None:
    bad = form(company_name=" ", organisation_number="556732-1708", operator="Kvitra", email="x@")
    page = web.post("/cases?lang=sv", data={**bad, "csrf_token": token(web)})
    assert page.status_code == 422
    fields = re.findall(r'class="field-error" id="e-(\w+)"', page.text)
    assert sorted(fields) == ["company_name", "email", "operator", "organisation_number"]
    assert "Rätta de markerade fälten" in page.text
    assert 'value="556732-1708"' in page.text  # what was typed comes back
    assert web.app.state.peppolnet.extra["cases"].tracker.list() == []  # type: ignore[attr-defined]


def test_a_form_without_its_token_is_refused(web: TestClient) -> None:
    assert web.post("/cases", data=form()).status_code == 403


def test_nothing_to_send_for_a_customer_the_operator_already_serves(web: TestClient) -> None:
    page = web.post(
        "/cases",
        data={
            **form(organisation_number="5584821341", participant_id=NORDLYS),
            "csrf_token": token(web),
        },
    )
    assert page.status_code == 200
    assert 'id="nothing-to-send"' in page.text
    assert web.app.state.peppolnet.extra["cases"].tracker.list() == []  # type: ignore[attr-defined]


def test_a_customer_with_another_operator_becomes_an_update(web: TestClient) -> None:
    answer = web.post(
        "/cases",
        data={
            **form(organisation_number="5509128723", participant_id=FJALLRAV),
            "csrf_token": token(web),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = web.get(answer.headers["location"] + "?lang=en")
    assert 'data-status="draft"' in page.text  # no channel configured
    assert "Move from Norrsken Invoice AB (PSE000109) to Kvittra AB (PSE000102)" in page.text
    assert "still reach Testbygg AB through Norrsken Invoice AB" in page.text
    sv = web.get(answer.headers["location"] + "?lang=sv").text
    assert "Peppol-fakturor når fortfarande Testbygg AB" in sv


def test_the_list_of_cases_says_each_request_and_state_in_the_page_language(
    web: TestClient,
) -> None:
    for fields in (form(), form(organisation_number="5509128723", participant_id=FJALLRAV)):
        assert web.post("/cases", data={**fields, "csrf_token": token(web)}).status_code == 200

    def rows(lang: str) -> list[list[str]]:
        page = web.get("/cases", params={"lang": lang}).text
        table = page[page.index('<table id="case-list">') :]
        cells = re.findall(r"<tr><td>.*?</tr>", table, re.S)
        found = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in cells]
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", row[3]) for row in found)
        return [row[1:3] for row in found]

    assert sorted(rows("sv")) == [
        [
            "Flytta från Norrsken Invoice AB (PSE000109) till Kvittra AB (PSE000102)",
            "Utkast: inte skickad än",
        ],
        ["Lägg till hos Kvittra AB (PSE000102)", "Utkast: inte skickad än"],
    ]
    assert sorted(rows("en")) == [
        ["Add to Kvittra AB (PSE000102)", "Draft: not sent yet"],
        [
            "Move from Norrsken Invoice AB (PSE000109) to Kvittra AB (PSE000102)",
            "Draft: not sent yet",
        ],
    ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_failed_send_keeps_a_draft_that_can_be_sent_again(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    desk = HttpChannel(f"http://127.0.0.1:{_closed_port()}", retries=0, timeout=5)
    with make_client(sandbox, tmp_path, {"desk": desk}) as client:
        answer = client.post(
            "/cases", data={**form(), "csrf_token": token(client)}, follow_redirects=False
        )
        assert answer.status_code == 303
        assert answer.headers["location"].endswith("?failed=1")
        page = client.get(answer.headers["location"])
    assert 'data-status="draft"' in page.text
    assert 'id="send-again"' in page.text
    assert not [r for r in caplog.records if r.name == "peppolnet.web.audit"]


def test_a_sent_request_is_audited_without_personal_data(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="peppolnet.web.audit")
    with (
        undo_changes(sandbox),
        make_client(sandbox, tmp_path, {"desk": HttpChannel(sandbox.desk_url)}) as client,
    ):
        sandbox.desk.hold()
        answer = client.post(
            "/cases", data={**form(), "csrf_token": token(client)}, follow_redirects=False
        )
        page = client.get(answer.headers["location"])
        assert 'data-status="sent"' in page.text
        assert 'id="check-now"' in page.text
    [record] = [r for r in caplog.records if r.name == "peppolnet.web.audit"]
    text = record.getMessage()
    assert "request-sent" in text
    assert "operator=PSE000102" in text
    assert "channel=desk" in text
    assert "testbygg" not in text.lower()
    assert "@" not in text
    assert "5592010036" not in text


# --- the JSON API ------------------------------------------------------------------------------


def _schema(name: str) -> dict[str, Any]:
    spec = document()
    return {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}


def test_api_example_creates_a_request_and_reads_it_back(web: TestClient) -> None:
    operation = document()["paths"]["/api/v1/requests"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["example"]
    answer = web.post("/api/v1/requests", json=example)
    assert answer.status_code == 201
    body = answer.json()
    jsonschema.validate(body, _schema("Submission"))
    assert body["plan"]["action"] == "add"
    assert body["request"]["status"] == "draft"
    again = web.get(f"/api/v1/requests/{body['request']['request_id'][:8]}")
    assert again.status_code == 200
    jsonschema.validate(again.json(), _schema("TrackedRequest"))
    assert [e["event"] for e in again.json()["history"]] == ["saved"]


def test_api_problems_and_errors(web: TestClient) -> None:
    answer = web.post("/api/v1/requests", json={"company_name": "", "email": "x@"})
    assert answer.status_code == 422
    jsonschema.validate(answer.json(), _schema("Problems"))
    fields = {p["field"] for p in answer.json()["problems"]}
    assert {"company_name", "email", "operator", "organisation_number"} <= fields
    assert (
        web.post(
            "/api/v1/requests", content=b"[1, 2", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert web.get("/api/v1/requests/00000000-0000-4000-8000-000000000000").status_code == 404


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.dictionaries(
        st.sampled_from(
            ["company_name", "organisation_number", "country", "operator", "email", "requester"]
        ),
        st.text(max_size=40),
    )
)
def test_any_form_gets_an_answer_never_a_traceback(web: TestClient, fields: dict[str, str]) -> None:
    answer = web.post("/cases", data={**fields, "csrf_token": token(web)}, follow_redirects=False)
    assert answer.status_code in (200, 303, 422), answer.text[:300]


# --- the page's language: problems, advice, the confirmation mail -------------------------------


def field_errors(html: str) -> dict[str, str]:
    """Each field's problem as the page shows it (entities decoded)."""
    import html as markup

    found = re.findall(r'class="field-error" id="e-(\w+)" data-field="\w+">([^<]*)<', html)
    return {field: markup.unescape(text) for field, text in found}


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "sv",
            {
                "company_name": "företagsnamnet saknas eller består bara av blanksteg",
                "organisation_number": "'556732-1708' är inte giltigt som svenskt",
                "email": "'x@' är ingen giltig e-postadress",
            },
        ),
        (
            "en",
            {
                "company_name": "the company name must not be empty or whitespace only",
                "organisation_number": "'556732-1708' is not a valid Swedish",
                "email": "'x@' is not a valid e-mail address",
            },
        ),
    ],
)
def test_problems_next_to_the_fields_are_in_the_page_language(
    web: TestClient, lang: str, expected: dict[str, str]
) -> None:
    bad = form(company_name=" ", organisation_number="556732-1708", email="x@")
    page = web.post(f"/cases?lang={lang}", data={**bad, "csrf_token": token(web)})
    assert page.status_code == 422
    shown = field_errors(page.text)
    assert sorted(shown) == sorted(expected)
    for field, start in expected.items():
        assert shown[field].startswith(start), (field, shown[field])


@pytest.fixture
def inbox() -> Iterator[tuple[Mailbox, int]]:
    with local_smtp() as served:
        yield served


def test_the_confirmation_mail_speaks_the_language_the_case_was_asked_in(
    sandbox: Sandbox, tmp_path: Path, inbox: tuple[Mailbox, int]
) -> None:
    """A case sent from the Swedish page is confirmed in Swedish, whatever the notifier's own
    language; one sent through the JSON API (language-neutral) gets the notifier's."""
    from peppolnet.recipients import EmailNotifier

    box, port = inbox
    notifier = EmailNotifier("127.0.0.1", port, sender="onboarding@kvittra.example",
                             security="none", language="en")  # fmt: skip
    app = create_app(
        network=sandbox.network,
        channels={"desk": HttpChannel(sandbox.desk_url)},
        directory=RecipientDirectory(tmp_path / "recipients.sqlite"),
        settings=WebSettings(lookups_per_minute=6000, lookup_burst=1000),
        cases=CaseSettings(
            operators=operators(sandbox), operator="kvittra", notifier=notifier, follow_up_every=0
        ),
    )
    with undo_changes(sandbox), TestClient(app) as client:
        swedish = client.post(
            "/cases?lang=sv",
            data={**form(organisation_number="5592010044"), "csrf_token": token(client)},
            follow_redirects=False,
        )
        case_path = swedish.headers["location"]
        by_api = client.post(
            "/api/v1/requests", json=form(organisation_number="5592010051", company_name="Api AB")
        )
        assert by_api.status_code == 201
        for request_id in (case_path.rsplit("/", 1)[1], by_api.json()["request"]["request_id"]):
            assert sandbox.desk.wait(request_id) is not None  # the operator registered it
        follow = client.post(case_path + "/follow-up", data={"csrf_token": token(client)})
        assert follow.status_code == 200
        page = client.get(case_path + "?lang=en").text  # read in English, mailed in Swedish
    subjects = sorted(str(mail["Subject"]) for mail in box.messages)
    assert subjects == [
        "Bekräftat: Testbygg AB (0007:5592010044) tillagd hos Kvittra AB (PSE000102)",
        "Confirmed: Api AB (0007:5592010051) added to Kvittra AB (PSE000102)",
    ]
    assert 'data-status="confirmed"' in page
    assert "Bekräftat: Testbygg AB" in page  # the confirmation as it went


def _documented(path: str, method: str, answer: Any) -> None:
    """``answer``'s status is one the operation lists, and its body is that response's JSON."""
    responses = document()["paths"][path][method]["responses"]
    assert str(answer.status_code) in responses, (path, method, answer.status_code)
    content = responses[str(answer.status_code)]["content"]["application/json"]
    schema = {**content["schema"], "components": document()["components"]}
    jsonschema.validate(answer.json(), schema, cls=jsonschema.Draft202012Validator)


def test_every_refusal_of_the_requests_api_is_in_its_openapi_document(sandbox: Sandbox) -> None:
    small = WebSettings(max_body_bytes=2000, lookups_per_minute=60, lookup_burst=1)
    json_type = {"content-type": "application/json"}
    with TestClient(create_app(network=sandbox.network, settings=small)) as api:
        asked = [
            api.post("/api/v1/requests", content=b"[1, 2", headers=json_type),  # 400
            api.post("/api/v1/requests", content=b"{}", headers={"content-type": "text/plain"}),
            api.post("/api/v1/requests", content=b" " * 3000, headers=json_type),  # 413
            api.post("/api/v1/requests", json={}),  # 422, and the one lookup of the burst
            api.post("/api/v1/requests", json={}),  # 429
        ]
        assert [answer.status_code for answer in asked] == [400, 403, 413, 422, 429]
        assert int(asked[-1].headers["retry-after"]) >= 1
        for answer in asked:
            _documented("/api/v1/requests", "post", answer)
        unknown = api.get("/api/v1/requests/00000000-0000-4000-8000-000000000000")
        assert unknown.status_code == 404
        _documented("/api/v1/requests/{request_id}", "get", unknown)


def test_a_field_that_is_not_a_string_is_named_as_such_not_as_missing(web: TestClient) -> None:
    body = {**form(company_name=""), "organisation_number": 5592010036, "requester": ["a@b.se"]}
    answer = web.post("/api/v1/requests", json=body)
    assert answer.status_code == 422
    jsonschema.validate(answer.json(), _schema("Problems"))
    problems = {p["field"]: p["message"] for p in answer.json()["problems"]}
    assert problems["organisation_number"] == "must be a string, not a number"
    assert problems["requester"] == "must be a string, not an array"  # not silently left out
    assert "company_name" in problems  # the other fields' problems at the same time
    assert set(problems) == {"organisation_number", "requester", "company_name"}
    assert web.app.state.peppolnet.extra["cases"].tracker.list() == []  # type: ignore[attr-defined]


def test_a_request_an_open_case_already_asks_is_refused_in_the_page_language(
    web: TestClient,
) -> None:
    first = web.post("/cases", data={**form(), "csrf_token": token(web)}, follow_redirects=False)
    assert first.status_code == 303
    rid = first.headers["location"].rsplit("/", 1)[1]
    again = {**form(), "csrf_token": token(web)}
    sv = web.post("/cases?lang=sv", data=again)
    en = web.post("/cases?lang=en", data=again)
    assert (sv.status_code, en.status_code) == (422, 422)
    said = re.findall(r'data-field="form">([^<]*)<', sv.text)
    assert said == [
        f"förfrågan {rid} (utkast) ber redan om att lägga till {NEW} hos PSE000102; "
        "skicka eller avbryt den först"
    ]
    assert re.findall(r'data-field="form">([^<]*)<', en.text) == [
        f"request {rid} (draft) already asks to add {NEW} to PSE000102; "
        "send or cancel that one first"
    ]
    assert 'value="Testbygg AB"' in sv.text  # the form comes back as it was typed


@pytest.mark.parametrize("deep", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1"])
def test_json_nested_too_deep_is_a_400_not_a_500(web: TestClient, deep: bytes) -> None:
    answer = web.post(
        "/api/v1/requests", content=deep, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": "the body must be a JSON object, not one nested this deep"}


def test_a_case_s_reason_and_history_are_in_the_page_language(web: TestClient) -> None:
    """The reason a case closed and each step of its history are stored as sentences, so the
    Swedish page says them in Swedish (they were the English of the moment they were written,
    and the steps their machine names: saved, cancelled)."""
    answer = web.post("/cases", data={**form(), "csrf_token": token(web)}, follow_redirects=False)
    assert answer.status_code == 303
    case_id = answer.headers["location"].rsplit("/", 1)[-1]
    tracker = web.app.state.peppolnet.extra["cases"].tracker  # type: ignore[attr-defined]
    tracker.cancel(case_id)
    sv = web.get(answer.headers["location"] + "?lang=sv").text
    assert "avbruten av beställaren" in sv
    assert "sparad som utkast" in sv
    assert "cancelled by the requester" not in sv
    en = web.get(answer.headers["location"] + "?lang=en").text
    assert "cancelled by the requester" in en
    assert "saved as a draft" in en
