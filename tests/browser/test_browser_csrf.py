"""A forged form on another site, submitted by a real Chromium, does not reach the JSON API.

A form can send ``enctype="text/plain"``, and with one field named ``{"company_name": ...,
"pad": "`` and the value ``"}`` its body *is* JSON - only its media type is not. The API takes
JSON without a CSRF token because a browser cannot send ``application/json`` to another origin
without a CORS preflight; these tests show the forged body is refused both from another site
(``localhost``: cross-site, the ``SameSite=Strict`` cookie stays home) and from the same site
on another port (``127.0.0.1``: the browser sends the cookie and says ``same-site``, so only
the media type stands in the way).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from peppolnet.sandbox import Sandbox
from peppolnet.web import WebSettings, create_app

FORGED = {
    "company_name": "Evil AB",
    "organisation_number": "5592010077",
    "country": "SE",
    "operator": "PSE000102",
    "email": "x@evil.example",
}


def attacker_site(target: str) -> Starlette:
    """A page that posts a JSON-shaped text/plain form to ``target`` when its button is hit."""
    name = json.dumps(FORGED)[:-1] + ', "pad": "'  # the body is name=value: JSON once joined
    page = (
        "<!doctype html><title>prize</title>"
        f'<form method="post" action="{html.escape(target)}" enctype="text/plain">'
        f'<input type="hidden" name="{html.escape(name)}" value="&quot;}}">'
        '<button id="claim" type="submit">Claim your prize</button></form>'
    )

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    return Starlette(routes=[Route("/", index)])


@pytest.mark.parametrize("attacker_host", ["localhost", "127.0.0.1"])
def test_a_text_plain_form_from_another_site_cannot_post_json(
    attacker_host: str, sandbox: Sandbox, serve: Callable[[Any], str], page: Page
) -> None:
    app = create_app(network=sandbox.network, settings=WebSettings(secret_key="csrf-test"))
    base = serve(app)
    page.goto(base + "/cases/new")  # the victim works in the page: the browser has its cookie
    evil = serve(attacker_site(base + "/api/v1/requests"))
    page.goto(evil.replace("127.0.0.1", attacker_host) + "/")
    with page.expect_response(lambda answer: "/api/v1/requests" in answer.url) as posted:
        page.click("#claim")
    answer = posted.value
    sent = answer.request
    assert sent.method == "POST"
    assert sent.headers.get("content-type", "").startswith("text/plain")
    assert json.loads(sent.post_data or "")["company_name"] == "Evil AB"  # JSON, but for text
    assert answer.status == 403
    tracker = app.state.peppolnet.extra["cases"].tracker
    assert tracker.list() == []
