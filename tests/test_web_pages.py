"""The support page on the real sandbox: search -> verdict card, details, Swedish and English.

Every test drives the app through Starlette's TestClient (the app's lifespan runs, so lookups
go through its AsyncLookup to the sandbox's DNS and HTTPS servers on 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from _sandbox_undo import undo_changes
from _web import TestClient, client, texts, verdicts
from peppolnet.identifiers import ParticipantId
from peppolnet.recipients.directory import RecipientDirectory
from peppolnet.sandbox import Faults, Sandbox
from peppolnet.sandbox.config import BusinessCardData, ParticipantConfig
from peppolnet.sandbox.pytest_plugin import SandboxFactory

NORDLYS = "0007:5584821341"  # Nordlys Bygg AB, Kvittra AB's customer: can receive
MISSING = "0007:5560000001"  # in no SML
SMP_500 = "0007:5501918378"  # its SMP answers 500: unknown, a retry may help
UNSIGNED = "0007:5532913547"  # an unsigned ServiceMetadata: unknown, retrying will not help
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def web(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An English-default app with the sample customer register as its customer directory."""
    directory = RecipientDirectory(tmp_path_factory.mktemp("web") / "customers.sqlite")
    directory.import_register(FIXTURES / "customers.csv")
    with client(sandbox, directory=directory) as test_client:
        yield test_client


def test_search_by_org_number_shows_the_verdict_card_in_swedish(web: TestClient) -> None:
    page = web.get("/search", params={"q": "558482-1341", "country": "Sverige", "lang": "sv"})
    assert page.status_code == 200
    assert verdicts(page.text) == ["can-receive"]
    assert texts(page.text, "headline") == [
        "Kan ta emot Peppol BIS Billing 3.0-fakturor via Kvittra AB (PSE000102)"
    ]
    assert '<html lang="sv">' in page.text


@pytest.mark.parametrize(
    ("typed", "country"),
    [
        ("5584821341", "SE"),
        ("SE558482134101", ""),  # a VAT number names its country
        ("558482-1341", "sweden"),
        (NORDLYS, ""),
        (f"iso6523-actorid-upis::{NORDLYS}", ""),
    ],
)
def test_every_common_format_finds_the_same_participant(
    web: TestClient, typed: str, country: str
) -> None:
    page = web.get("/search", params={"q": typed, "country": country})
    assert verdicts(page.text) == ["can-receive"]
    assert NORDLYS in page.text


def test_the_search_permalink_and_the_participant_permalink_agree(web: TestClient) -> None:
    by_search = web.get("/search", params={"q": NORDLYS, "lang": "en"})
    by_link = web.get(f"/participant/{NORDLYS}", params={"lang": "en"})
    assert by_link.status_code == 200
    assert texts(by_search.text, "headline") == texts(by_link.text, "headline")
    assert texts(by_link.text, "headline") == [
        "Can receive Peppol BIS Billing 3.0 invoices via Kvittra AB (PSE000102)"
    ]


def test_the_details_show_checks_document_types_certificates_and_business_card(
    web: TestClient,
) -> None:
    page = web.get(f"/participant/{NORDLYS}", params={"lang": "en"}).text
    assert '<details class="checks">' in page
    assert "service-metadata" in page
    assert "Peppol BIS Billing UBL Invoice V3" in page  # the code list's name
    _smp_certificate, ap_certificate = texts(page, "certificate")
    assert "PSE000102" in ap_certificate  # the AP certificate's Seat ID
    assert texts(page, "entity-name") == ["Nordlys Bygg AB"]  # from the business card


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("sv", {"ok", "varning", "fel", "hoppades över"}),
        ("en", {"pass", "warn", "fail", "skipped"}),
    ],
)
def test_each_check_status_is_in_the_page_language(
    web: TestClient, lang: str, words: set[str]
) -> None:
    statuses = set()
    for pid in (NORDLYS, UNSIGNED):  # every check passed or skipped; one failed
        page = web.get(f"/participant/{pid}", params={"lang": lang}).text
        statuses |= set(texts(page, "status"))
    assert statuses <= words
    assert len(statuses) >= 3  # passed, skipped and failed checks were shown


def test_the_details_show_both_certificates_with_their_pem_in_swedish(
    web: TestClient, sandbox: Sandbox
) -> None:
    from peppolnet import Lookup

    result = Lookup(sandbox.network).check(NORDLYS)
    smp, ap = result.smp_certificate, result.endpoint.certificate if result.endpoint else None
    assert smp is not None
    assert ap is not None
    assert smp.pem
    assert ap.pem
    assert smp.sha256_fingerprint != ap.sha256_fingerprint  # the SMP's signer, not the AP
    page = web.get(f"/participant/{NORDLYS}", params={"lang": "sv"}).text
    assert "SMP-certifikat (signerade svaret)" in page
    assert "Accesspunktens certifikat" in page
    shown = texts(page, "certificate")
    assert [smp.sha256_fingerprint in shown[0], ap.sha256_fingerprint in shown[1]] == [True, True]
    assert smp.issuer in shown[0]  # the issuer, escaped text like every field
    valid = f"{smp.not_before:%Y-%m-%d %H:%M} UTC – {smp.not_after:%Y-%m-%d %H:%M} UTC"
    assert valid in shown[0]  # when it is valid, for people: no T, no +00:00
    assert smp.not_after.isoformat() not in page
    pems = texts(page, "pem")
    assert len(pems) == 2
    for pem, cert in zip(pems, (smp, ap), strict=True):
        assert "Visa certifikatet (PEM)" in pem
        body = "".join(cert.pem.splitlines()[1:-1])
        assert body in pem.replace(" ", "")  # texts() collapses the PEM's line breaks


def test_a_name_finds_the_customer_and_the_directory(web: TestClient) -> None:
    page = web.get("/search", params={"q": "Nordlys Bygg", "lang": "en"})
    assert page.status_code == 200
    assert "Nordlys Bygg AB" in texts(page.text, "name")
    assert "can-receive" in verdicts(page.text)


def test_not_registered_tells_what_to_do(web: TestClient) -> None:
    page = web.get("/search", params={"q": MISSING, "lang": "sv"}).text
    assert verdicts(page) == ["not-registered"]
    [advice] = texts(page, "advice")
    assert "PDF" in advice


@pytest.mark.parametrize(("participant", "retry"), [(SMP_500, True), (UNSIGNED, False)])
def test_unknown_is_shown_as_unknown_with_the_failed_step(
    web: TestClient, participant: str, retry: bool
) -> None:
    page = web.get(f"/participant/{participant}", params={"lang": "en"}).text
    assert verdicts(page) == ["unknown"]
    [headline] = texts(page, "headline")
    assert headline.startswith("Unknown")
    assert "cannot" not in headline.lower()
    assert "not registered" not in headline.lower()
    [step] = texts(page, "failed-step")
    assert step.startswith("Step that failed:")
    assert ("may help" in step) is retry
    [advice] = texts(page, "advice")
    assert advice.startswith("This is not a no.")


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ({"params": {"lang": "sv"}}, "sv"),
        ({"headers": {"accept-language": "sv-SE,sv;q=0.9,en;q=0.5"}}, "sv"),
        ({"headers": {"accept-language": "de-DE, en;q=0.8"}}, "en"),
        ({"params": {"lang": "en"}, "headers": {"accept-language": "sv"}}, "en"),
    ],
)
def test_the_language_comes_from_the_query_then_the_browser(
    web: TestClient, asked: dict[str, dict[str, str]], expected: str
) -> None:
    web.cookies.clear()
    page = web.get("/", **asked)  # type: ignore[arg-type]
    assert f'<html lang="{expected}">' in page.text
    web.cookies.clear()


def test_a_chosen_language_is_kept_in_a_cookie(web: TestClient) -> None:
    web.cookies.clear()
    chosen = web.get("/", params={"lang": "sv"})
    assert "peppolnet_lang=sv" in chosen.headers["set-cookie"]
    later = web.get("/", headers={"accept-language": "en"})
    assert '<html lang="sv">' in later.text
    assert "Sök" in later.text
    web.cookies.clear()


def test_the_app_default_language_applies_when_nothing_names_one(sandbox: Sandbox) -> None:
    with client(sandbox, lang="sv") as swedish:
        page = swedish.get("/")
    assert '<html lang="sv">' in page.text


def test_bad_input_is_a_sentence_on_the_page(web: TestClient) -> None:
    page = web.get("/search", params={"q": "558482-1341", "country": "Atlantis", "lang": "en"})
    assert page.status_code == 400
    assert texts(page.text, "error") == ["Atlantis is not a country we know"]
    invalid = web.get("/search", params={"q": "558482-1342", "country": "SE", "lang": "en"})
    assert invalid.status_code == 400
    assert "558482-1342" in texts(invalid.text, "error")[0]


def test_an_unknown_page_is_a_404_page_in_the_language(web: TestClient) -> None:
    page = web.get("/nowhere", params={"lang": "sv"})
    assert page.status_code == 404
    assert texts(page.text, "refused") == ["Sidan finns inte."]


HOSTILE = "0007:5599112231"
SCRIPT = '<script>alert("x")</script> Bygg AB'
FORMULA = '=HYPERLINK("https://evil.example","klicka")'


@pytest.fixture
def hostile(sandbox: Sandbox) -> Iterator[None]:
    """A participant whose name and business card are written to harm the page."""
    with undo_changes(sandbox):
        sandbox.register_participant(
            ParticipantConfig(
                id=ParticipantId.parse(HOSTILE),
                name=SCRIPT,
                country="SE",
                operator="kvittra",
                business_card=BusinessCardData(
                    geographical_info=FORMULA, additional_info="<img src=x onerror=alert(1)>"
                ),
            )
        )
        yield


@pytest.mark.usefixtures("hostile")
def test_hostile_names_and_business_cards_render_as_text(web: TestClient) -> None:
    page = web.get(f"/participant/{HOSTILE}", params={"lang": "en"}).text
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Bygg AB" in page
    assert texts(page, "entity-name") == [SCRIPT]  # the text itself, shown as text
    assert FORMULA.replace('"', "&#34;") in page
    found = web.get("/search", params={"q": "Bygg AB", "lang": "en"}).text
    assert "<script>alert" not in found


def test_the_stylesheet_is_served_by_the_app(web: TestClient) -> None:
    css = web.get("/static/peppolnet.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


def test_a_verdict_is_reused_for_a_minute_then_asked_again(sandbox: Sandbox) -> None:
    from datetime import UTC, datetime

    from _web import GENEROUS
    from peppolnet.clock import ManualClock
    from peppolnet.web import WebSettings

    clock = ManualClock(datetime.now(UTC))  # lookups judge certificates at this instant
    settings = WebSettings(
        lookups_per_minute=GENEROUS.lookups_per_minute, lookup_burst=100, clock=clock
    )
    pid = ParticipantId.parse(HOSTILE)
    with client(sandbox, settings=settings) as web, undo_changes(sandbox):
        sandbox.register_participant(
            ParticipantConfig(id=pid, name="Flytt AB", country="SE", operator="kvittra")
        )
        assert verdicts(web.get(f"/participant/{HOSTILE}").text) == ["can-receive"]
        sandbox.remove_participant(pid)
        assert verdicts(web.get(f"/search?q={HOSTILE}").text) == ["can-receive"]  # kept
        clock.advance(61.0)
        assert verdicts(web.get(f"/participant/{HOSTILE}").text) == ["not-registered"]


def test_the_trace_of_a_lookup_is_under_the_details_in_the_page_language(
    web: TestClient,
) -> None:
    plain = web.get(f"/participant/{NORDLYS}", params={"lang": "sv"}).text
    assert 'id="trace"' not in plain  # a trace is asked for: it is a fresh lookup
    assert "?lang=sv&amp;trace=1" in plain  # the link that asks for it keeps the page
    page = web.get(f"/participant/{NORDLYS}", params={"lang": "sv", "trace": "1"})
    assert page.status_code == 200
    assert verdicts(page.text) == ["can-receive"]  # the verdict of the traced lookup
    [trace] = texts(page.text, "trace")
    assert trace.startswith("Uppslagningens spårning")
    for step in ("1. ✓ identifier", "✓ dns", "✓ tls", "✓ signature", "✓ smp-certificate"):
        assert step in trace
    assert "KAN TA EMOT" in trace
    english = texts(web.get(f"/participant/{NORDLYS}?trace=1&lang=en").text, "trace")[0]
    assert "CAN-RECEIVE" in english
    # the server's file system stays private: where the trust store came from, not its path
    assert "trust store: network" in english
    assert ".pem" not in english
    assert "/root" not in english
    assert "/tmp" not in english


NO_CARD = "0007:5599112249"


def test_a_missing_business_card_is_said_in_the_page_language(
    web: TestClient, sandbox: Sandbox
) -> None:
    with undo_changes(sandbox):
        sandbox.register_participant(
            ParticipantConfig(
                id=ParticipantId.parse(NO_CARD),
                name="Kortlös AB",
                country="SE",
                operator="kvittra",
                business_card=None,
            )
        )
        swedish = web.get(f"/participant/{NO_CARD}", params={"lang": "sv"}).text
        english = web.get(f"/participant/{NO_CARD}", params={"lang": "en"}).text
    card = "Visitkort (publicerat av deltagarens SMP, inte signerat) "
    assert texts(swedish, "business-card") == [
        card + "SMP:n publicerar inget visitkort för den här deltagaren"
    ]
    assert texts(english, "business-card") == [
        "Business card (published by the participant's SMP, not signed) "
        "the SMP publishes no business card for this participant"
    ]


def test_a_name_search_the_directory_could_not_answer_is_not_worded_as_a_no(
    peppol_sandbox_factory: SandboxFactory,
) -> None:
    net = peppol_sandbox_factory()
    assert net.directory_server is not None
    net.directory_server.faults = Faults(error_share=1.0)
    with client(net) as web:
        sv = web.get("/search", params={"q": "Nordlys Bygg", "lang": "sv"}).text
        en = web.get("/search", params={"q": "Nordlys Bygg", "lang": "en"}).text
    assert texts(sv, "note") == ["Peppol Directory svarade inte; bara era kunder söktes igenom"]
    assert texts(sv, "empty") == [
        "Inget hittades där sökningen kunde fråga. Det är inget nej: försök igen om några "
        "minuter, eller sök på organisationsnumret."
    ]
    assert texts(en, "empty") == [
        "Nothing was found where the search could ask. That is not a no: try again in a few "
        "minutes, or search by the organisation number."
    ]
