"""The support page is safe to run inside an operator: CSRF, authentication, rate limit,
security headers and the audit log - each tested on the real app against the sandbox."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from _web import GENEROUS, TestClient, client, csrf, texts
from peppolnet.clock import ManualClock
from peppolnet.sandbox import Sandbox
from peppolnet.web import BasicAuth, TrustedHeaderAuth, WebSettings, create_app
from peppolnet.web.ratelimit import RateLimiter
from peppolnet.web.security import audit

NORDLYS = "0007:5584821341"


async def _accepted(request: Request) -> PlainTextResponse:
    form = await request.form()
    return PlainTextResponse(f"accepted {form.get('value', '')}")


@pytest.fixture
def posting(sandbox: Sandbox) -> Iterator[TestClient]:
    """The app with one form-handling route, as the hand-off's forms will have."""
    app = create_app(network=sandbox.network, settings=GENEROUS)
    app.router.routes.append(Route("/echo", _accepted, methods=["POST"]))
    with TestClient(app) as test_client:
        yield test_client


def test_a_form_with_the_page_token_is_accepted(posting: TestClient) -> None:
    token = csrf(posting.get("/").text)
    answer = posting.post("/echo", data={"csrf_token": token, "value": "ok"})
    assert answer.status_code == 200
    assert answer.text == "accepted ok"


def test_a_multipart_form_with_the_token_is_accepted(posting: TestClient) -> None:
    token = csrf(posting.get("/").text)
    answer = posting.post(
        "/echo",
        data={"csrf_token": token, "value": "file"},
        files={"register": ("customers.csv", b"name\nBygg AB\n", "text/csv")},
    )
    assert answer.status_code == 200
    assert answer.text == "accepted file"


def test_the_token_may_come_in_a_header(posting: TestClient) -> None:
    token = csrf(posting.get("/").text)
    answer = posting.post("/echo", data={"value": "h"}, headers={"x-csrf-token": token})
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "forged",
    [
        {"data": {"value": "no token"}},
        {"data": {"csrf_token": "forged", "value": "bad token"}},
    ],
)
def test_a_form_without_a_valid_token_is_refused(
    posting: TestClient, forged: dict[str, dict[str, str]]
) -> None:
    posting.get("/")  # the cookie is set; the form still lacks its signed twin
    answer = posting.post("/echo", **forged)  # type: ignore[arg-type]
    assert answer.status_code == 403
    assert "accepted" not in answer.text
    assert texts(answer.text, "refused")[0].startswith("The form had expired")


def test_a_token_without_its_cookie_is_refused(posting: TestClient, sandbox: Sandbox) -> None:
    token = csrf(posting.get("/").text)
    posting.cookies.clear()
    assert posting.post("/echo", data={"csrf_token": token}).status_code == 403


def test_a_cross_site_request_is_refused_even_with_a_token(posting: TestClient) -> None:
    token = csrf(posting.get("/").text)
    answer = posting.post(
        "/echo", data={"csrf_token": token}, headers={"sec-fetch-site": "cross-site"}
    )
    assert answer.status_code == 403


# A cross-site form can send only three media types, and text/plain lets it shape the body as
# JSON: '{"company_name": "Evil AB", "pad": "=' + '"}' (name=value). None of them may pass for
# the JSON the API takes without a token.
_JSON_LOOKALIKE = b'{"company_name": "Evil AB", "organisation_number": "5592010069", "pad": "="}'


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "text/plain; application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json-seq",
        "application/jsonx",
        "",
    ],
)
@pytest.mark.parametrize("with_cookie", [False, True])
def test_a_body_that_only_looks_like_json_needs_the_token(
    posting: TestClient, content_type: str, with_cookie: bool
) -> None:
    if with_cookie:
        posting.get("/")  # the victim has used the page: the browser holds the CSRF cookie
    headers = {"content-type": content_type} if content_type else {}
    answer = posting.post("/api/v1/requests", content=_JSON_LOOKALIKE, headers=headers)
    assert answer.status_code == 403
    tracker = posting.app.state.peppolnet.extra["cases"].tracker  # type: ignore[attr-defined]
    assert tracker.list() == []


def test_json_needs_no_token_only_on_the_api(posting: TestClient) -> None:
    posting.get("/")
    for route in ("/echo", "/cases", "/search"):  # the page's own forms: JSON is no way round
        assert posting.post(route, json={"value": "x"}).status_code == 403, route
    as_json = {"content-type": "Application/JSON; charset=utf-8"}  # case and parameters: JSON
    answer = posting.post("/api/v1/requests", content=b'{"company_name": ""}', headers=as_json)
    assert answer.status_code == 422  # through to the API, which names the problems
    cross = {"content-type": "application/json", "sec-fetch-site": "cross-site"}
    assert posting.post("/api/v1/requests", content=b"{}", headers=cross).status_code == 403


def test_a_body_over_the_limit_is_refused_before_it_is_read(sandbox: Sandbox) -> None:
    small = WebSettings(max_body_bytes=1000, secret_key="s")
    with client(sandbox, settings=small) as web:
        token = csrf(web.get("/").text)
        answer = web.post("/search", data={"csrf_token": token, "big": "x" * 5000})
    assert answer.status_code == 413


def _basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {raw}"}


def test_basic_auth_lets_the_right_password_in(sandbox: Sandbox) -> None:
    auth = BasicAuth({"anna": BasicAuth.hash_password("rätt lösen")})
    with client(sandbox, auth=auth) as web:
        refused = web.get("/")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith('Basic realm="peppolnet"')
        assert web.get("/", headers=_basic("anna", "fel")).status_code == 401
        assert web.get("/", headers=_basic("bertil", "rätt lösen")).status_code == 401
        assert web.get("/", headers=_basic("anna", "rätt lösen")).status_code == 200
        api = web.get(f"/api/v1/participants/{NORDLYS}")
        assert api.status_code == 401
        assert api.json() == {"error": "Sign in to use the support page."}
        assert web.get("/static/peppolnet.css").status_code == 200  # no secrets in CSS


def test_a_trusted_header_counts_only_from_a_trusted_proxy(sandbox: Sandbox) -> None:
    # TestClient's peer is "testclient", not an address: as untrusted as any stranger
    with client(sandbox, auth=TrustedHeaderAuth()) as web:
        assert web.get("/", headers={"x-forwarded-user": "anna"}).status_code == 401
    trusting = TrustedHeaderAuth("X-Remote-User", trusted_proxies=("0.0.0.0/0", "::/0"))
    app = create_app(network=sandbox.network, auth=trusting, settings=GENEROUS)
    with TestClient(app, client=("10.1.2.3", 5555)) as web:
        assert web.get("/", headers={"x-remote-user": "anna"}).status_code == 200
        assert web.get("/").status_code == 401


def test_a_plain_function_is_an_auth_hook(sandbox: Sandbox) -> None:
    def staff_only(request: Request) -> str | None:
        return "desk" if request.headers.get("x-badge") == "1234" else None

    with client(sandbox, auth=staff_only) as web:
        assert web.get("/").status_code == 401
        assert web.get("/", headers={"x-badge": "1234"}).status_code == 200


def test_lookups_are_rate_limited_per_client_on_the_injected_clock(sandbox: Sandbox) -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    settings = WebSettings(lookups_per_minute=6, lookup_burst=2, clock=clock, secret_key="s")
    url = f"/api/v1/participants/{NORDLYS}"
    with client(sandbox, settings=settings) as web:
        assert [web.get(url).status_code for _ in range(2)] == [200, 200]
        refused = web.get(url)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "10"  # 6 a minute: one every 10 s
        page = web.get("/search", params={"q": NORDLYS, "lang": "en"})
        assert page.status_code == 429
        assert texts(page.text, "error")[0].startswith("Too many lookups")
        assert web.get("/").status_code == 200  # the search box costs nothing
        clock.advance(10.0)
        assert web.get(url).status_code == 200
        assert web.get(url).status_code == 429


def test_the_bucket_is_per_client() -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    limiter = RateLimiter(per_minute=60, burst=1, clock=clock)
    assert limiter.take("anna") == 0.0
    assert limiter.take("bertil") == 0.0
    assert limiter.take("anna") == pytest.approx(1.0)
    clock.advance(0.5)
    assert limiter.take("anna") == pytest.approx(0.5)


def test_every_response_carries_the_security_headers(sandbox: Sandbox) -> None:
    with client(sandbox) as web:
        for answer in (web.get("/"), web.get("/nowhere"), web.get("/api/v1/openapi.json")):
            csp = answer.headers["content-security-policy"]
            assert "script-src 'self'" in csp
            assert "'unsafe-inline'" not in csp
            assert "frame-ancestors 'none'" in csp
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer"


def test_frame_ancestors_is_configurable_for_embedding(sandbox: Sandbox) -> None:
    embedding = WebSettings(frame_ancestors="https://support.operator.example", secret_key="s")
    with client(sandbox, settings=embedding) as web:
        csp = web.get("/").headers["content-security-policy"]
    assert csp.endswith("frame-ancestors https://support.operator.example")


def test_the_page_has_no_inline_script_or_external_asset(sandbox: Sandbox) -> None:
    with client(sandbox) as web:
        page = web.get("/search", params={"q": NORDLYS}).text
    assert "<script" not in page
    assert " on" + "click=" not in page
    assert "http://" not in page.replace("http://testserver", "")
    assert "https://" not in page.split("<main>")[0]  # nothing fetched from elsewhere


def test_the_audit_log_names_no_person(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="peppolnet.web.audit"):
        audit("request-sent", case="a1b2c3", kind="add", channel="smtp", operator="PSE000102")
    [record] = caplog.records
    assert record.name == "peppolnet.web.audit"
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "request-sent case=a1b2c3 channel=smtp kind=add operator=PSE000102"
    )
