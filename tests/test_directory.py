"""Directory search responses and queries: real samples, both JSON name shapes, local checks."""

from __future__ import annotations

import contextlib
import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peppolnet.businesscard import BusinessEntity, Contact, Name
from peppolnet.directory import (
    DirectoryMatch,
    SearchPage,
    SearchQuery,
    parse_search_json,
    parse_search_xml,
    render_search_json,
    render_search_xml,
)
from peppolnet.errors import DirectoryError, DirectoryQueryError, InvalidInput
from peppolnet.identifiers import BIS_BILLING_INVOICE, DocumentTypeId, ParticipantId


@pytest.mark.interop
def test_documentation_examples_json_and_xml_agree(refdata: Path) -> None:
    base = refdata / "samples" / "directory"
    js = parse_search_json((base / "docs-example-search-1.0-json-response.json").read_bytes())
    xml = parse_search_xml((base / "docs-example-search-1.0-xml-response.xml").read_bytes())
    assert js.matches == xml.matches
    assert (js.total, js.used, js.page_index, js.page_count) == (4, 4, 0, 20)
    assert (js.first_index, js.last_index, js.truncated) == (0, 3, False)
    assert js.query_terms == "q=9915:test"
    assert js.created is not None
    assert js.created.year == 2017
    first, second = js.matches
    assert first.participant == ParticipantId.parse("9915:test")
    assert len(first.document_types) == 6
    assert first.name == "Austrian Government"  # the old plain-string name shape
    assert first.country == "AT"
    assert first.entities[0].registration_date == date(2012, 1, 1)
    assert first.entities[0].websites == ("https://test.e-rechnung.gv.at",)
    assert first.confirmed is None
    assert [e.country for e in second.entities] == ["BE", "AU", "DE"]
    assert second.entities[2].geo_info == "Germany, Baden-Württemberg"
    assert second.entities[1].identifiers == (("GLN", "123454321"),)


def test_current_json_name_shape_with_languages() -> None:
    doc = {
        "total-result-count": 1,
        "matches": [
            {
                "participantID": {"scheme": "iso6523-actorid-upis", "value": "0192:810306882"},
                "entities": [
                    {
                        "name": [{"name": "Acme AS", "language": "no"}, {"name": "Acme Ltd"}],
                        "countryCode": "NO",
                        "contacts": [{"type": "support", "email": "a@b.no"}],
                    }
                ],
            }
        ],
    }
    page = parse_search_json(json.dumps(doc).encode())
    (match,) = page.matches
    assert match.entities[0].names == (Name("Acme AS", "no"), Name("Acme Ltd", None))
    assert match.entities[0].contacts == (Contact("support", None, None, "a@b.no"),)
    assert match.name == "Acme AS"


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"matches": {}}', "should be a list"),
        (b'{"matches": [{"entities": []}]}', "no participantID"),
        (b'{"matches": [{"participantID": {"scheme": "x", "value": "1"}}]}', "participant"),
        (b'{"total-result-count": "many"}', "number"),
    ],
)
def test_bad_json_is_a_directory_error(body: bytes, what: str) -> None:
    with pytest.raises(DirectoryError, match=what) as info:
        parse_search_json(body)
    assert not info.value.retryable


@pytest.mark.parametrize("created", [12, True, [], {}, 1.5, "yesterday"])
def test_a_creation_time_of_any_json_type_is_ignored(created: object) -> None:
    """It is informational: a search must not fail over it (an object raised AttributeError)."""
    page = parse_search_json(json.dumps({"creation-dt": created, "matches": []}).encode())
    assert page.created is None


@pytest.mark.parametrize("registered", [12, True, [], {}])
def test_a_registration_date_that_is_not_text_is_a_directory_error(registered: object) -> None:
    doc = {
        "matches": [
            {
                "participantID": {"scheme": "iso6523-actorid-upis", "value": "0007:5567321707"},
                "entities": [{"name": "Acme", "regDate": registered}],
            }
        ]
    }
    with pytest.raises(DirectoryError):
        parse_search_json(json.dumps(doc).encode())


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "matches",
                        "participantID",
                        "entities",
                        "name",
                        "scheme",
                        "value",
                        "creation-dt",
                        "regDate",
                        "contacts",
                        "docTypes",
                        "countryCode",
                        "total-result-count",
                    ]
                ),
                c,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_any_json_shape_gives_a_page_or_a_directory_error(doc: object) -> None:
    with contextlib.suppress(DirectoryError):  # the only error allowed out
        parse_search_json(json.dumps(doc).encode())


def test_bad_xml_is_a_directory_error() -> None:
    with pytest.raises(DirectoryError, match="resultlist"):
        parse_search_xml(b"<other/>")
    with pytest.raises(DirectoryError):
        parse_search_xml(b'<!DOCTYPE x [<!ENTITY e "x">]><resultlist>&e;</resultlist>')


# --- round trip of the codec -----------------------------------------------------------------

_t = st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=12)
_entity = st.builds(
    BusinessEntity,
    names=st.lists(st.builds(Name, _t, st.none() | st.just("en")), min_size=1, max_size=2).map(
        tuple
    ),
    country=st.sampled_from(["NO", "SE"]),
    geo_info=st.none() | _t,
    identifiers=st.lists(st.tuples(_t, _t), max_size=2).map(tuple),
    websites=st.lists(_t, max_size=2).map(tuple),
    contacts=st.lists(st.builds(Contact, st.none() | _t, st.none() | _t), max_size=1).map(tuple),
    additional_info=st.none() | _t,
    registration_date=st.none() | st.dates(date(2000, 1, 1), date(2030, 1, 1)),
)
_match = st.builds(
    DirectoryMatch,
    participant=st.from_regex(r"[0-9]{4}:[a-z0-9]{1,10}", fullmatch=True).map(ParticipantId.parse),
    document_types=st.lists(st.just(BIS_BILLING_INVOICE), max_size=1).map(tuple),
    entities=st.lists(_entity, min_size=1, max_size=2).map(tuple),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_match, max_size=3), st.integers(0, 5000))
def test_render_parse_round_trip(matches: list[DirectoryMatch], total: int) -> None:
    page = SearchPage(tuple(matches), total, len(matches), 0, 20, 0, len(matches) - 1, total > 1000)
    for render, parse in (
        (render_search_json, parse_search_json),
        (render_search_xml, parse_search_xml),
    ):
        back = parse(render(page))
        assert back.matches == page.matches
        assert (back.total, back.used, back.truncated) == (page.total, page.used, page.truncated)


# --- query checks (local, nothing is sent) ----------------------------------------------------


@pytest.mark.parametrize("field", ["name", "geoinfo", "website", "contact", "addinfo"])
def test_partial_fields_need_three_characters(field: str) -> None:
    with pytest.raises(DirectoryQueryError, match=f"at least 3 characters for '{field}'"):
        SearchQuery.build(**{field: "ab"})
    assert SearchQuery.build(**{field: " abc "}).fields() == [(field, "abc")]


def test_query_checks_and_parameters() -> None:
    with pytest.raises(DirectoryQueryError, match="at least one search field"):
        SearchQuery.build()
    with pytest.raises(DirectoryQueryError, match="'Narnia' is not a country"):
        SearchQuery.build(country="Narnia")
    assert SearchQuery.build(country="Norge").country == SearchQuery.build(country="no").country
    with pytest.raises(DirectoryQueryError, match="participant"):
        SearchQuery.build(participant="12:ab")
    with pytest.raises(DirectoryQueryError, match="YYYY-MM-DD"):
        SearchQuery.build(q="x", regdate="01.02.2020")
    with pytest.raises(DirectoryQueryError, match="must not be empty"):
        SearchQuery.build(q=" ")
    query = SearchQuery.build(
        ["acme", "bergen"],
        country="no",
        participant="0192:810306882",
        doctype=BIS_BILLING_INVOICE,
        identifier_scheme="VAT",
        identifier_value="NO810306882MVA",
        regdate="2020-02-01",
    )
    params = query.params(page=2, page_size=50)
    assert params[:2] == [("q", "acme"), ("q", "bergen")]
    assert ("country", "NO") in params
    assert ("participant", "iso6523-actorid-upis::0192:810306882") in params
    assert ("doctype", BIS_BILLING_INVOICE.uri) in params
    assert ("identifierScheme", "VAT") in params
    assert ("regdate", "2020-02-01") in params
    assert params[-2:] == [("resultPageIndex", "2"), ("resultPageCount", "50")]
    assert isinstance(query.doctype, DocumentTypeId)


def test_a_document_type_alias_and_a_misspelt_field_are_understood() -> None:
    """The lookups' names and aliases: ``doctype="invoice"`` is the alias a lookup takes (it
    was parsed as an identifier and refused), and ``document_type=`` - the lookups' spelling -
    is refused with the field it was meant to be."""
    assert SearchQuery.build(doctype="invoice").doctype == BIS_BILLING_INVOICE
    with pytest.raises(DirectoryQueryError, match="document type alias"):
        SearchQuery.build(doctype="invioce")
    with pytest.raises(DirectoryQueryError) as info:
        SearchQuery.build(document_type="invoice", nme="acme")  # type: ignore[call-arg]
    message = info.value.message
    assert str(message) == (
        "unknown search field(s): document_type (did you mean doctype?), nme (did you mean name?)"
    )
    assert message.render("sv").endswith(  # type: ignore[attr-defined]
        "document_type (menade du doctype?), nme (menade du name?)"
    )


def test_paging_beyond_the_cap_is_refused_locally() -> None:
    query = SearchQuery.build(q="x")
    assert query.params(page=49, page_size=20)[-2:] == [
        ("resultPageIndex", "49"),
        ("resultPageCount", "20"),
    ]
    with pytest.raises(DirectoryQueryError, match="1000"):
        query.params(page=50, page_size=20)
    with pytest.raises(DirectoryQueryError):
        query.params(page=-1)
    with pytest.raises(InvalidInput):  # DirectoryQueryError is also an InvalidInput
        query.params(page_size=0)
