"""The support page's pure parts: reading the search box, the language, the verdict card."""

from __future__ import annotations

import asyncio
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount

from peppolnet.clock import ManualClock
from peppolnet.errors import InvalidInput
from peppolnet.identifiers import BIS_BILLING_INVOICE, ParticipantId
from peppolnet.lookup import Lookup
from peppolnet.operators import Operator
from peppolnet.reachability import Check, CheckStatus, Reachability, Verdict
from peppolnet.sandbox import Sandbox
from peppolnet.web.cache import ResultCache
from peppolnet.web.cards import card
from peppolnet.web.i18n import _accept_language
from peppolnet.web.lookups import MAX_QUERY, classify


@pytest.mark.parametrize(
    ("typed", "country", "kind", "code"),
    [
        ("556732-1707", "", "number", "SE"),  # the app's default country
        ("556732-1707", "Norge", "number", "NO"),
        ("NO 974 760 673 MVA", "", "number", "NO"),  # a VAT number names its country
        ("FI 0112 0389", "", "number", "FI"),
        ("0007:5567321707", "", "participant", None),
        ("iso6523-actorid-upis::0192:974760673", "Suomi", "participant", "FI"),
        ("Åkesson Bygg AB", "", "name", None),
        ("Bygg 2000 AB", "Sverige", "name", "SE"),
    ],
)
def test_the_search_box_is_read_as_staff_type(
    typed: str, country: str, kind: str, code: str | None
) -> None:
    query = classify(typed, country, "SE")
    assert (query.kind, query.country) == (kind, code)


@pytest.mark.parametrize(
    ("typed", "country", "says"),
    [
        ("   ", "", "type an organisation number"),
        ("x" * (MAX_QUERY + 1), "", f"longer than {MAX_QUERY}"),
        ("556732-1707", "Atlantis", "Atlantis is not a country we know"),
    ],
)
def test_what_cannot_be_searched_is_named(typed: str, country: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        classify(typed, country, "SE")


@given(st.text(max_size=300), st.text(max_size=80))
def test_any_text_is_a_query_or_a_clear_refusal(typed: str, country: str) -> None:
    try:
        query = classify(typed, country, None)
    except InvalidInput as exc:
        refused = str(exc)
        assert refused
    else:
        assert query.kind in ("participant", "number", "name")
        assert query.text == " ".join(typed.split())


@given(st.text(max_size=200))
def test_any_accept_language_header_gives_sv_en_or_none(header: str) -> None:
    assert _accept_language(header) in ("sv", "en", None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("sv-SE,sv;q=0.9,en-US;q=0.8", "sv"),
        ("en-GB,en;q=0.9,sv;q=0.8", "en"),
        ("de,sv;q=0.3,en;q=0.5", "en"),
        ("sv;q=0,en", "en"),
        ("fr", None),
    ],
)
def test_accept_language_is_read_by_its_weights(header: str, expected: str | None) -> None:
    assert _accept_language(header) == expected


def _result(verdict: Verdict, checks: tuple[Check, ...], retryable: bool = False) -> Reachability:
    return Reachability(
        query="0007:5567321707",
        participant=ParticipantId.parse("0007:5567321707"),
        document_type=BIS_BILLING_INVOICE,
        process=None,
        network="sandbox",
        verdict=verdict,
        checks=checks,
        at=datetime(2030, 1, 1, tzinfo=UTC),
        operator=Operator("PSE000102", "Kvittra AB") if verdict is Verdict.CAN_RECEIVE else None,
        retryable=retryable,
    )


def test_a_positive_card_names_the_documents_and_the_operator_in_both_languages() -> None:
    result = _result(Verdict.CAN_RECEIVE, (Check("sml", CheckStatus.PASS, "registered"),))
    assert card(result, "sv").headline == (
        "Kan ta emot Peppol BIS Billing 3.0-fakturor via Kvittra AB (PSE000102)"
    )
    assert card(result, "en").headline == (
        "Can receive Peppol BIS Billing 3.0 invoices via Kvittra AB (PSE000102)"
    )
    assert card(result, "en").failed_step is None


@pytest.mark.parametrize("retryable", [True, False])
def test_an_unknown_card_names_the_failed_step_and_is_never_a_no(retryable: bool) -> None:
    checks = (
        Check("sml", CheckStatus.PASS, "registered"),
        Check("service-metadata", CheckStatus.FAIL, "the SMP answered 500"),
    )
    shown = card(_result(Verdict.UNKNOWN, checks, retryable), "sv")
    assert shown.failed_step == "service-metadata"
    assert shown.retry_may_help is retryable
    assert shown.advice.startswith("Det här är inget nej.")
    assert "kan inte" not in shown.headline.lower()


def test_the_app_mounts_under_a_prefix_with_relative_links(sandbox: object) -> None:
    from _web import GENEROUS, TestClient
    from peppolnet.web import create_app

    inner = create_app(network=sandbox.network, settings=GENEROUS)  # type: ignore[attr-defined]
    outer = Starlette(routes=[Mount("/peppol", app=inner)])
    with TestClient(outer) as web:  # Starlette runs no lifespan of a mounted app
        page = web.get("/peppol/", params={"lang": "en"})
        assert page.status_code == 200
        assert 'href="/peppol/static/peppolnet.css"' in page.text
        assert 'action="/peppol/search"' in page.text
        assert web.get("/peppol/static/peppolnet.css").status_code == 200
        found = web.get("/peppol/search", params={"q": "0007:5584821341"})  # opened on first use
        assert 'data-verdict="can-receive"' in found.text
        assert 'href="/peppol/participant/' in found.text
        web.portal.call(inner.state.peppolnet.aclose)  # as the operator's own lifespan would


# --- the page's result cache: bounded by bytes ---------------------------------------------


def test_the_result_cache_is_bounded_by_bytes_not_entries(sandbox: Sandbox) -> None:
    """Real answers from the sandbox, one per query: the cache keeps what fits in its bytes
    (oldest dropped first), reuses a kept answer without asking again, and forgets it after
    its time - a ManualClock, no waiting."""
    pid = next(p.id for p in sandbox.config.participants if p.in_sml and not p.quirks)
    with Lookup(sandbox.network) as lookup:
        answer = pickle.dumps(lookup.check(pid))
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    cache = ResultCache(60.0, clock, max_bytes=200_000)
    asked: list[int] = []

    async def fill() -> None:
        async def compute() -> Any:
            asked.append(1)
            # an answer of its own each time, as every lookup makes: one object kept under
            # every key would be shared by all of them, and a shared object is not counted
            return pickle.loads(answer)

        for query in range(200):
            await cache.get(("q", query), compute)
        assert len(asked) == 200
        await cache.get(("q", 199), compute)  # the newest is kept: not asked again
        assert len(asked) == 200
        await cache.get(("q", 0), compute)  # the oldest was dropped for room: asked again
        assert len(asked) == 201
        clock.advance(61)
        await cache.get(("q", 199), compute)  # out of time: asked again
        assert len(asked) == 202

    asyncio.run(fill())
    assert 0 < cache.nbytes <= 200_000
    assert 2 <= len(cache) < 200  # a signed answer is several KB: far fewer than 200 fit


@pytest.mark.parametrize(
    ("value", "sv", "en"),
    [
        (50000, "50\u00a0000", "50,000"),
        (1234567, "1\u00a0234\u00a0567", "1,234,567"),
        (10.0, "10", "10"),
        (0.5, "0,5", "0.5"),
        (2.345, "2,35", "2.35"),
        (7, "7", "7"),
    ],
)
def test_numbers_are_written_as_the_language_writes_them(value: float, sv: str, en: str) -> None:
    from peppolnet.web.i18n import format_number

    assert (format_number(value, "sv"), format_number(value, "en")) == (sv, en)


def test_an_instant_is_shown_with_its_time_zone() -> None:
    from datetime import timedelta, timezone

    from peppolnet.web.i18n import format_when

    stockholm = timezone(timedelta(hours=1))
    assert format_when(datetime(2028, 12, 3, 14, 3, 38, tzinfo=stockholm)) == "2028-12-03 13:03 UTC"
    assert format_when(None) == "-"
