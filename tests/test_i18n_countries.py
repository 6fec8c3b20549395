"""A country is accepted as people write it: its code, or its name in Swedish, English or its
own language - and every spelling gives the same participant id candidates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel import Locale
from hypothesis import given, settings
from hypothesis import strategies as st

from peppolnet.bulk import read_register
from peppolnet.directory import SearchQuery
from peppolnet.errors import InvalidInput, InvalidParticipantId
from peppolnet.lookup import Lookup
from peppolnet.schemes import _SOURCES, _VAT_SOURCE_MODULES, _table, country_of
from peppolnet.schemes import suggest_participant_ids as suggest

#: Every country with a participant scheme or a number source of its own.
PEPPOL_COUNTRIES = sorted(
    {s.country for s, _ in _table().values() if len(s.country) == 2}
    | set(_SOURCES)
    | set(_VAT_SOURCE_MODULES)
)


def names(code: str) -> dict[str, str]:
    """The country's code in both cases and its names in Swedish, English and its own language
    (the language CLDR says is most likely spoken there)."""
    own = Locale.parse(f"und_{code}")
    return {
        "code": code,
        "lower": code.lower(),
        "sv": Locale.parse("sv").territories[code],
        "en": Locale.parse("en").territories[code],
        "own": own.territories[code],
    }


#: Numbers as people type them: valid ones of several countries, and arbitrary digits.
NUMBERS = st.one_of(
    st.sampled_from(
        [
            "556732-1707",
            "5567321707",
            "SE556732170701",
            "BE 0677.424.046",
            "933215385",
            "0201890-3",
            "DE811569869",
            "12345678",
        ]
    ),
    st.from_regex(r"[A-Z]{0,2}[0-9]{6,12}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from(PEPPOL_COUNTRIES),
    spelling=st.sampled_from(["lower", "sv", "en", "own"]),
    number=NUMBERS,
)
def test_every_spelling_of_a_peppol_country_gives_the_same_candidates(
    code: str, spelling: str, number: str
) -> None:
    written = names(code)[spelling]
    assert country_of(written) == code, written
    by_code, by_name = suggest(number, code), suggest(number, written)
    assert by_name.candidates == by_code.candidates, written
    assert by_name.country == by_code.country == code
    assert str(by_name.reason) == str(by_code.reason)


@pytest.mark.parametrize("code", PEPPOL_COUNTRIES)
def test_every_peppol_country_is_known_by_every_name(code: str) -> None:
    for spelling, written in names(code).items():
        assert country_of(written) == code, (spelling, written)
        assert country_of(f"  {written.upper()} ") == code, (spelling, written)


def test_the_names_a_swedish_desk_meets() -> None:
    for written, code in [
        ("Sverige", "SE"),
        ("Suomi", "FI"),
        ("Finland", "FI"),
        ("Norge", "NO"),
        ("Noreg", "NO"),
        ("Danmark", "DK"),
        ("Tyskland", "DE"),
        ("Storbritannien", "GB"),
        ("UK", "GB"),
        ("EL", "GR"),
        ("Ελλάδα", "GR"),
    ]:
        assert country_of(written) == code, written


@pytest.mark.parametrize("bad", ["Narnia", "XX", "", "S", "Sverige!?x", "ZZ"])
def test_an_unknown_country_is_a_clear_error_naming_it(bad: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(f"{bad!r} is not a country")):
        country_of(bad)
    result = suggest("5567321707", bad)
    assert not result.candidates
    assert result.reason is not None
    assert f"{bad!r} is not a country" in result.reason
    assert "är inget land" in result.reason.render("sv")  # type: ignore[attr-defined]
    with pytest.raises(InvalidParticipantId, match=re.escape(f"{bad!r} is not a country")):
        Lookup().check(number="5567321707", country=bad)


def test_the_directory_and_registers_take_names_too(tmp_path: Path) -> None:
    assert SearchQuery.build(country="Suomi").country == "FI"
    register = tmp_path / "customers.csv"
    register.write_text("name;org number;country\nA;556732-1707;Sverige\nB;556732-1707;SE\n")
    rows = list(read_register(register))
    assert [r.country for r in rows] == ["SE", "SE"]
    assert rows[0].candidates == rows[1].candidates
    assert [r.country for r in read_register(register, default_country="Norge")] == [
        "SE",
        "SE",
    ]
