"""The support page in a real headless Chromium, on the sandbox network.

The whole hand-off as support staff do it - search by organisation number, the verdict, the
prefilled request, the case page, the confirmation e-mail arriving at a real SMTP server - in
Swedish and English; every problem of a bad form shown at once next to its field; a hostile
company name from a sandbox business card staying text. The register upload is in
test_browser_registers.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser_support import Mailbox
from playwright.sync_api import Page, expect

from _sandbox_undo import undo_changes
from peppolnet.identifiers import ParticipantId
from peppolnet.operators import Operator, OperatorRegistry
from peppolnet.recipients import EmailNotifier, HttpChannel, RecipientDirectory
from peppolnet.sandbox import Sandbox
from peppolnet.sandbox.config import ParticipantConfig
from peppolnet.web import WebSettings, create_app
from peppolnet.web.casework import CaseSettings

# Valid Swedish organisation numbers that the sandbox network does not have (one per test, so
# the tests never ask for the same customer while another one's case is open).
NEW_CUSTOMER = {"en": "559201-0002", "sv": "559201-0010"}
HOSTILE_ID = "0007:5592010028"
HOSTILE_NAME = '<script>alert("x")</script> =HYPERLINK("http://evil.example","klick")'


def sandbox_operators(sandbox: Sandbox) -> OperatorRegistry:
    """The sandbox's operators, with their ids as aliases (as ``--network sandbox`` does)."""
    return OperatorRegistry(
        Operator(op.seat_id, op.name, op.country, aliases=frozenset({op.id}))
        for op in sandbox.config.operators
    )


@pytest.fixture
def changed_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox, put back as it was after the test (the desk registers customers)."""
    with undo_changes(sandbox) as changed:
        yield changed


@pytest.fixture
def support_page(
    changed_sandbox: Sandbox,
    serve: Callable[[Any], str],
    mailbox: tuple[Mailbox, int],
    tmp_path: Path,
) -> str:
    """The page on the sandbox under uvicorn: requests go to the sandbox's operator desk,
    confirmations to the local SMTP server; follow-up runs twice a second."""
    _, smtp_port = mailbox
    sandbox = changed_sandbox
    cases = CaseSettings(
        operators=sandbox_operators(sandbox),
        operator="PSE000102",
        notifier=EmailNotifier(
            "127.0.0.1", smtp_port, sender="onboarding@kvittra.example", security="none"
        ),
        follow_up_every=0.5,
        refresh_every=1,
    )
    app = create_app(
        network=sandbox.network,
        channels={"desk": HttpChannel(sandbox.desk_url)},
        directory=RecipientDirectory(tmp_path / "recipients.sqlite"),
        settings=WebSettings(lookups_per_minute=600, lookup_burst=100),
        cases=cases,
    )
    return serve(app)


TEXT = {
    "en": {
        "meanwhile": "Meanwhile",
        "pdf": "PDF",
        "send": "Send the request",
        "confirmed": "Confirmed: ",
    },
    "sv": {
        "meanwhile": "Under tiden",
        "pdf": "PDF",
        "send": "Skicka förfrågan",
        "confirmed": "Bekräftat: ",
    },
}


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_search_verdict_request_case_confirmation(
    lang: str,
    changed_sandbox: Sandbox,
    support_page: str,
    page: Page,
    mailbox: tuple[Mailbox, int],
    screenshot: Callable[[Page, str], None],
) -> None:
    box, _ = mailbox
    number = NEW_CUSTOMER[lang]
    page.goto(f"{support_page}/?lang={lang}")
    page.fill("#q", number)
    page.fill("#country", "Sverige" if lang == "sv" else "Sweden")
    page.locator("form.search button[type=submit]").click()
    card = page.locator("article.card").first
    expect(card).to_have_attribute("data-verdict", "not-registered")

    page.locator(".hand-off-link").first.click()
    expect(page.locator("#f-organisation_number")).to_have_value(number.replace("-", ""))
    expect(page.locator("#f-country")).to_have_value("SE")
    expect(page.locator("#f-operator")).to_have_value("PSE000102")  # the desk's own operator
    page.fill("#f-company_name", "Ödeshög Testbygg AB")
    page.fill("#f-email", "faktura@testbygg.example")
    page.fill("#f-requester", "anna@support.example")
    expect(page.locator("#send-request")).to_have_text(TEXT[lang]["send"])
    screenshot(page, f"handoff-form-{lang}")
    changed_sandbox.desk.hold()  # the operator acts when the test has seen the open case
    page.click("#send-request")

    expect(page).to_have_url(re.compile(r"/cases/[0-9a-f-]{36}$"))
    status = page.locator("#case-status")
    expect(status).to_have_attribute("data-status", "sent")
    meanwhile = page.locator("#meanwhile")
    expect(meanwhile).to_contain_text(TEXT[lang]["meanwhile"])
    expect(meanwhile).to_contain_text(TEXT[lang]["pdf"])
    screenshot(page, f"case-sent-{lang}")

    # The desk registers the customer; follow-up sees it and mails; the page reloads itself
    # while the case is open.
    changed_sandbox.desk.release()
    expect(status).to_have_attribute("data-status", "confirmed")
    expect(page.locator("#confirmation")).to_contain_text("anna@support.example")
    screenshot(page, f"case-confirmed-{lang}")
    [mail] = box.wait_for(1)
    assert mail["To"] == "anna@support.example"
    assert "Ödeshög Testbygg AB" in str(mail["Subject"])
    # in the language of the page the case was sent from (the notifier's own is English)
    assert str(mail["Subject"]).startswith(TEXT[lang]["confirmed"])
    case_id = page.locator("#case-id").inner_text()
    assert case_id in str(mail["X-Peppolnet-Request-Id"])


def test_every_problem_is_shown_next_to_its_field(support_page: str, page: Page) -> None:
    page.goto(f"{support_page}/cases/new?lang=sv")
    expect(page.locator("label[for=f-company_name]")).to_have_text("Företagsnamn")
    page.fill("#f-company_name", "   ")
    page.fill("#f-organisation_number", "556732-1708")  # a wrong check digit
    page.select_option("#f-operator", "")
    page.fill("#f-email", "faktura@")
    page.click("#send-request")
    expect(page.locator("#problems")).to_be_visible()
    fields = page.locator(".field .field-error")
    expect(fields).to_have_count(4)
    assert sorted(fields.evaluate_all("els => els.map(e => e.dataset.field)")) == [
        "company_name",
        "email",
        "operator",
        "organisation_number",
    ]
    # each problem in the page's language, next to its field
    expect(page.locator("#e-company_name")).to_have_text(
        "företagsnamnet saknas eller består bara av blanksteg"
    )
    expect(page.locator("#e-organisation_number")).to_contain_text("är inte giltigt som svenskt")
    expect(page.locator("#e-email")).to_contain_text("är ingen giltig e-postadress")
    expect(page.locator("#e-operator")).to_have_text("saknas")
    # what was typed comes back as it was, so it can be corrected
    expect(page.locator("#f-organisation_number")).to_have_value("556732-1708")
    expect(page.locator("#f-email")).to_have_attribute("aria-invalid", "true")


def test_hostile_name_from_a_business_card_stays_text(
    changed_sandbox: Sandbox, support_page: str, page: Page
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    changed_sandbox.register_participant(
        ParticipantConfig(
            id=ParticipantId.parse(HOSTILE_ID), name=HOSTILE_NAME, country="SE", operator="norrsken"
        )
    )
    page.goto(f"{support_page}/search?q={HOSTILE_ID}&lang=en")
    expect(page.locator("article.card").first).to_have_attribute("data-verdict", "can-receive")
    page.locator(".hand-off-link").first.click()
    name = page.locator("#f-company_name")
    expect(name).to_have_value(HOSTILE_NAME)  # the business card's name, exactly, as text
    assert page.locator("script:not([src])").count() == 0
    assert dialogs == []
