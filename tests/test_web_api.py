"""The JSON API under /api/v1 and its OpenAPI 3.1 document: valid, and its examples run.

Every operation's example request is sent to the app on the sandbox; the answer must match
the operation's schema and contain the example answer (a subset: timings and dates differ).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from _web import TestClient, client
from peppolnet.lookup import Lookup
from peppolnet.sandbox import Sandbox
from peppolnet.web.openapi import document

NORDLYS = "0007:5584821341"


@pytest.fixture(scope="module")
def api(sandbox: Sandbox) -> Iterator[TestClient]:
    with client(sandbox) as test_client:
        yield test_client


def test_the_openapi_document_is_valid_openapi_3_1(api: TestClient) -> None:
    served = api.get("/api/v1/openapi.json").json()
    assert served["openapi"] == "3.1.0"
    validate(served)
    assert set(served["paths"]) >= {"/api/v1/search", "/api/v1/participants/{participant}"}


def _operations() -> list[tuple[str, dict[str, Any]]]:
    spec = document()
    return [
        (path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method == "get"
        and "example"
        in operation["responses"]["200"].get("content", {}).get("application/json", {})
    ]


def _request_url(path: str, operation: dict[str, Any]) -> tuple[str, dict[str, str]]:
    query: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", parameter["example"])
        else:
            query[parameter["name"]] = parameter["example"]
    return path, query


def _contains(answer: Any, example: Any) -> bool:
    """``example`` is a part of ``answer``: its keys with equal values, lists item by item."""
    if isinstance(example, dict):
        return isinstance(answer, dict) and all(
            key in answer and _contains(answer[key], value) for key, value in example.items()
        )
    if isinstance(example, list):
        return isinstance(answer, list) and all(
            any(_contains(item, wanted) for item in answer) for wanted in example
        )
    return bool(answer == example)


@pytest.mark.parametrize(("path", "operation"), _operations(), ids=lambda v: str(v)[:40])
def test_every_example_runs_and_matches_its_schema(
    api: TestClient, path: str, operation: dict[str, Any]
) -> None:
    url, query = _request_url(path, operation)
    answer = api.get(url, params=query)
    assert answer.status_code == 200, answer.text
    content = operation["responses"]["200"]["content"]["application/json"]
    spec = document()
    schema = {**content["schema"], "components": spec["components"]}
    jsonschema.validate(answer.json(), schema, cls=jsonschema.Draft202012Validator)
    assert _contains(answer.json(), content["example"]), answer.json()


def test_the_examples_are_more_than_one() -> None:
    assert len(_operations()) >= 2


def test_a_participant_answer_is_reachability_to_json(api: TestClient, sandbox: Sandbox) -> None:
    answer = api.get(f"/api/v1/participants/{NORDLYS}").json()
    with Lookup(sandbox.network, list_document_types=True) as lookup:
        direct = lookup.check(NORDLYS).to_json()
    for volatile in ("timings_ms", "at"):
        answer.pop(volatile)
        direct.pop(volatile)
    assert answer == direct


def test_search_by_name_lists_candidates_with_their_source(api: TestClient) -> None:
    answer = api.get("/api/v1/search", params={"q": "Nordlys Bygg"}).json()
    assert answer["query"] == {"text": "Nordlys Bygg", "kind": "name", "country": None}
    found = {c["participant_id"]: c for c in answer["candidates"]}
    nordlys = found[f"iso6523-actorid-upis::{NORDLYS}"]
    assert nordlys["found_by"] == "directory"
    assert nordlys["name"] == "Nordlys Bygg AB"
    assert nordlys["verdict"] == "can-receive"


def test_the_api_speaks_english_whatever_the_page_language(api: TestClient) -> None:
    answer = api.get(
        "/api/v1/participants/0007:5560000001", headers={"accept-language": "sv"}
    ).json()
    assert answer["verdict"] == "not-registered"
    assert answer["reason"] == "no Peppol registration was found for 0007:5560000001"


@pytest.mark.parametrize(
    ("url", "params", "says"),
    [
        ("/api/v1/search", {}, "the query parameter q is required"),
        ("/api/v1/search", {"q": "558482-1341", "country": "Atlantis"}, "Atlantis is not a"),
        ("/api/v1/participants/0007:", {}, "nothing after the scheme code"),
        (f"/api/v1/participants/{NORDLYS}", {"doctype": "faktura"}, "faktura"),
    ],
)
def test_bad_input_is_400_with_a_sentence(
    api: TestClient, url: str, params: dict[str, str], says: str
) -> None:
    answer = api.get(url, params=params)
    assert answer.status_code == 400
    assert says in answer.json()["error"]


def test_an_api_request_of_the_wrong_kind_is_told_what_to_send(api: TestClient) -> None:
    as_text = api.post("/api/v1/requests", content=b"{}", headers={"content-type": "text/plain"})
    assert as_text.status_code == 403
    assert "Content-Type: application/json" in as_text.json()["error"]
    posted = api.post("/api/v1/search", json={"q": "558482-1341"})
    assert posted.status_code == 405
    assert posted.headers["allow"] == "GET, HEAD"
    assert posted.json() == {"error": "POST is not allowed here; use GET, HEAD"}
    nowhere = api.get("/api/v1/nowhere")
    assert nowhere.status_code == 404
    assert nowhere.json() == {"error": "there is no such address in the API: /api/v1/nowhere"}


def test_a_page_answers_a_method_it_does_not_take_with_405_and_allow(api: TestClient) -> None:
    from _web import csrf

    token = csrf(api.get("/").text)
    answer = api.post("/search", data={"csrf_token": token}, params={"lang": "sv"})
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"
    assert "text/html" in answer.headers["content-type"]
