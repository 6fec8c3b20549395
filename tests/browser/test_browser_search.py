"""The search form in a real headless Chromium: what it shows is what the answer is about.

A permalink may name the document type by an alias (``creditnote``) or a full identifier; the
form's select must show that type, since the browser falls back to the first option (an
invoice) for a value it has no option for, and sending the form again would then silently ask
about invoices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from peppolnet.identifiers import BIS_BILLING_CREDIT_NOTE
from peppolnet.sandbox import Sandbox
from peppolnet.web import WebSettings, create_app

GENEROUS = WebSettings(lookups_per_minute=600, lookup_burst=100)


def test_the_form_keeps_the_document_type_of_the_permalink(
    sandbox: Sandbox, serve: Callable[[Any], str], page: Page
) -> None:
    base = serve(create_app(network=sandbox.network, settings=GENEROUS))
    page.goto(f"{base}/search?q=558482-1341&doctype=creditnote&lang=sv")
    expect(page.locator(".headline")).to_contain_text("kreditnotor")
    expect(page.locator("#doctype")).to_have_value("credit-note")
    page.fill("#q", "550912-8723")
    page.click("button[type=submit]")
    expect(page.locator(".headline")).to_contain_text("kreditnotor")
    assert parse_qs(urlsplit(page.url).query)["doctype"] == ["credit-note"]

    identifier = BIS_BILLING_CREDIT_NOTE.value.replace("CreditNote-2::CreditNote", "Order-2::Order")
    page.goto(f"{base}/search?q=558482-1341&lang=sv&doctype=" + identifier.replace("#", "%23"))
    expect(page.locator("#doctype")).to_have_value(identifier)  # kept as asked, not "invoice"
    page.click("button[type=submit]")
    assert parse_qs(urlsplit(page.url).query)["doctype"] == [identifier]
