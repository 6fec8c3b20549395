"""Business cards: real v1/v2/v3 samples, render/parse round trips, the SMP fetch over sockets."""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peppolnet.businesscard import (
    BusinessCard,
    BusinessEntity,
    Contact,
    Name,
    business_card_url,
    fetch_business_card,
    fetch_business_card_async,
    parse_business_card,
    render_business_card,
)
from peppolnet.destinations import LOOPBACK_ALLOWED
from peppolnet.errors import (
    IdentifierMismatch,
    InvalidSmpDocument,
    SmpNotFound,
    SmpUnavailable,
    UnsafeXml,
)
from peppolnet.identifiers import ParticipantId
from peppolnet.sandbox.http import HttpServer, Request, Response


def _samples(refdata: Path) -> list[Path]:
    return sorted((refdata / "samples" / "businesscard").rglob("*.xml"))


@pytest.mark.interop
def test_every_real_sample_parses_or_names_its_problem(refdata: Path) -> None:
    files = _samples(refdata)
    assert len(files) >= 18
    versions = set()
    for path in files:
        if path.name == "bc1.xml":  # scheme="999" is not a participant identifier scheme
            with pytest.raises(InvalidSmpDocument, match="999"):
                parse_business_card(path.read_bytes())
            continue
        card = parse_business_card(path.read_bytes())
        versions.add(card.version)
        assert card.entities, path
        for entity in card.entities:
            assert entity.names, path
            assert entity.country, path
        assert f"v{card.version}" in str(path) or "phoss-smp" in str(path)
    assert versions == {1, 2, 3}


@pytest.mark.interop
def test_v3_multilingual_names_and_contacts(refdata: Path) -> None:
    path = refdata / "samples/businesscard/peppol-commons/v3/business-card-test1.xml"
    card = parse_business_card(path.read_bytes())
    assert card.version == 3
    assert card.participant == ParticipantId.parse("9915:b")
    first = card.entities[0]
    assert first.names[0] == Name("Austrian Federal Government", "en")
    assert Name("Österreichische Verwaltung", "de") in first.names
    assert first.names[-1] == Name("Legacy entry", None)
    assert first.registration_date == date(2010, 7, 6)
    assert first.identifiers == (("ZIPCode", "1010"),)
    assert first.websites == ("https://www.erechnung.gv.at", "https://www.e-rechnung.gv.at")
    assert first.contacts == (
        Contact("Support contact", "e-Rechnung.gv.at support", None, "support-erb@brz.gv.at"),
    )
    assert first.additional_info is not None
    assert first.additional_info.startswith("This is the free text of the first entity.")
    assert card.entities[1].registration_date is None


@pytest.mark.interop
def test_v1_and_v2_of_the_same_card_agree_on_what_v2_can_hold(refdata: Path) -> None:
    base = refdata / "samples/businesscard/peppol-commons"
    v1 = parse_business_card((base / "v1/bc-0088-5033466000005.xml").read_bytes())
    v2 = parse_business_card((base / "v2/bc-0088-5033466000005.xml").read_bytes())
    # the identifier had a trailing newline inside the element
    assert v1.participant == v2.participant == ParticipantId.parse("0088:5033466000005")
    assert (v1.version, v2.version) == (1, 2)
    e1, e2 = v1.entities[0], v2.entities[0]
    assert e1.names == e2.names == (Name("Test APP_1000000118 card"),)
    assert e1.identifiers == e2.identifiers == (("scheme1", "value1"), ("scheme2", "value12"))
    assert [c.phone for c in e1.contacts] == ["777-555-123", "333-222-111"]
    assert e2.contacts == ()
    assert e2.websites == ()


def test_not_a_business_card() -> None:
    with pytest.raises(InvalidSmpDocument, match="root element"):
        parse_business_card(b"<ServiceGroup/>")
    with pytest.raises(InvalidSmpDocument):
        parse_business_card(b"<BusinessCard")
    old = b'<BusinessCard xmlns="http://www.peppol.eu/schema/pd/businessinformation/20151105/"/>'
    with pytest.raises(InvalidSmpDocument, match="pre-release"):
        parse_business_card(old)


def test_entities_and_dtds_are_refused() -> None:
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
        b'<BusinessCard xmlns="http://www.peppol.eu/schema/pd/businesscard/20180621/">&e;'
        b"</BusinessCard>"
    )
    with pytest.raises(UnsafeXml):
        parse_business_card(evil)


def test_missing_country_and_bad_date_are_named() -> None:
    ns = "http://www.peppol.eu/schema/pd/businesscard/20180621/"
    head = f'<BusinessCard xmlns="{ns}"><ParticipantIdentifier scheme="iso6523-actorid-upis">'
    no_country = f"{head}0088:1</ParticipantIdentifier><BusinessEntity><Name>x</Name>"
    with pytest.raises(InvalidSmpDocument, match="CountryCode"):
        parse_business_card((no_country + "</BusinessEntity></BusinessCard>").encode())
    bad_date = (
        f'{head}0088:1</ParticipantIdentifier><BusinessEntity registrationDate="2020-13-45">'
        "<Name>x</Name><CountryCode>NO</CountryCode></BusinessEntity></BusinessCard>"
    )
    with pytest.raises(InvalidSmpDocument, match="registrationDate"):
        parse_business_card(bad_date.encode())


# --- round trips -----------------------------------------------------------------------------

_xml_char = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
_text = st.text(_xml_char, min_size=1, max_size=20).map(str.strip).filter(bool)
_opt = st.none() | _text
_contact = st.builds(Contact, _opt, _opt, _opt, _opt)
_entity = st.builds(
    BusinessEntity,
    names=st.lists(
        st.builds(Name, _text, st.none() | st.sampled_from(["en", "de", "no"])),
        min_size=1,
        max_size=3,
    ).map(tuple),
    country=st.sampled_from(["NO", "SE", "AT", "DE"]),
    geo_info=_opt,
    identifiers=st.lists(st.tuples(_text, _text), max_size=2).map(tuple),
    websites=st.lists(_text, max_size=2).map(tuple),
    contacts=st.lists(_contact, max_size=2).map(tuple),
    additional_info=_opt,
    registration_date=st.none() | st.dates(date(1990, 1, 1), date(2100, 1, 1)),
)
_card = st.builds(
    BusinessCard,
    participant=st.from_regex(r"[0-9]{4}:[a-z0-9]{1,12}", fullmatch=True).map(ParticipantId.parse),
    entities=st.lists(_entity, max_size=3).map(tuple),
    version=st.just(3),
)


@settings(max_examples=60, deadline=None)
@given(_card)
def test_render_parse_round_trip_v3(card: BusinessCard) -> None:
    assert parse_business_card(render_business_card(card, version=3)) == card


@settings(max_examples=30, deadline=None)
@given(_card)
def test_v1_and_v2_keep_what_their_format_holds(card: BusinessCard) -> None:
    v1 = parse_business_card(render_business_card(card, version=1))
    v2 = parse_business_card(render_business_card(card, version=2))
    assert (v1.version, v2.version) == (1, 2)
    for orig, e1, e2 in zip(card.entities, v1.entities, v2.entities, strict=True):
        assert e1.names == e2.names == (Name(orig.names[0].name),)
        assert e1.contacts == orig.contacts
        assert e1.websites == orig.websites
        assert e2.contacts == ()
        assert e2.websites == ()
        assert e2.additional_info is None
        assert e2.identifiers == orig.identifiers
        assert e2.registration_date == orig.registration_date


def test_render_refuses_unknown_version() -> None:
    card = BusinessCard(ParticipantId.parse("0088:1"), ())
    with pytest.raises(ValueError, match="1, 2 or 3"):
        render_business_card(card, version=4)


# --- fetch over a real socket ---------------------------------------------------------------

PID = ParticipantId.parse("0192:810306882")
CARD = BusinessCard(PID, (BusinessEntity((Name("Acme AS", "no"),), "NO"),))


def _smp(request: Request) -> Response:
    if request.path == "/businesscard/" + PID.url_segment():
        return Response(200, render_business_card(CARD), {"Content-Type": "application/xml"})
    if request.path.endswith("0192%3A999999999"):
        other = BusinessCard(ParticipantId.parse("0192:123"), CARD.entities)
        return Response(200, render_business_card(other))
    if request.path.endswith("0192%3A500"):
        return Response(503, b"down")
    return Response(404, b"no such card")


def test_url_is_percent_encoded() -> None:
    assert business_card_url("https://smp.example/", PID) == (
        "https://smp.example/businesscard/iso6523-actorid-upis%3A%3A0192%3A810306882"
    )


# the test servers listen on 127.0.0.1, which the default (Peppol) destination policy refuses
fetch_card = functools.partial(fetch_business_card, destinations=LOOPBACK_ALLOWED)
fetch_card_async = functools.partial(fetch_business_card_async, destinations=LOOPBACK_ALLOWED)


def test_fetch_sync_and_errors() -> None:
    with HttpServer(_smp) as server, httpx.Client() as client:
        assert fetch_card(server.base_url, PID, client=client) == CARD
        assert fetch_card(server.base_url, PID) == CARD  # own client
        with pytest.raises(SmpNotFound):
            fetch_card(server.base_url, ParticipantId.parse("0192:1"), client=client)
        with pytest.raises(IdentifierMismatch):
            fetch_card(server.base_url, ParticipantId.parse("0192:999999999"), client=client)
        with pytest.raises(SmpUnavailable) as info:
            fetch_card(server.base_url, ParticipantId.parse("0192:500"), client=client)
        assert info.value.retryable
        url = server.base_url
    with pytest.raises(SmpUnavailable):
        fetch_card(url, PID, timeout=2)  # server stopped: connection refused


async def test_fetch_async() -> None:
    with HttpServer(_smp) as server:
        assert await fetch_card_async(server.base_url, PID) == CARD
        async with httpx.AsyncClient() as client:
            with pytest.raises(SmpNotFound):
                await fetch_card_async(
                    server.base_url, ParticipantId.parse("0192:1"), client=client
                )
