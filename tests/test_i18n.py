"""peppolnet.i18n: messages render in both languages, languages and countries are understood as
people write them."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peppolnet.errors import NetworkFault
from peppolnet.i18n import (
    Message,
    _,
    country_code,
    country_name,
    language_from_environment,
    parse_language,
    render,
)
from peppolnet.reachability import Verdict


def test_a_message_is_its_english_text_and_renders_in_swedish() -> None:
    message = _("not registered")
    assert message == "not registered"
    assert isinstance(message, str)
    assert message.render("sv") == "inte registrerad"
    assert message.render("en") == "not registered"
    assert render(message, "sv") == "inte registrerad"
    assert render("plain text", "sv") == "plain text"


def test_parameters_are_filled_in_each_language_and_may_be_messages() -> None:
    message = _(" through {operator}", operator=_("unknown"))
    assert message == " through unknown"
    assert message.render("sv") == " via okänt"


def test_an_exception_made_with_a_message_renders_in_swedish() -> None:
    fault = NetworkFault(_("not registered"))
    assert str(fault) == "not registered"
    assert render(fault, "sv") == "inte registrerad"
    assert render(ValueError("boom"), "sv") == "boom"


def test_a_message_survives_pickling_with_its_template() -> None:
    message = pickle.loads(pickle.dumps(_(" through {operator}", operator="Kvittra AB")))
    assert isinstance(message, Message)
    assert message.render("sv") == " via Kvittra AB"


def test_a_sentence_with_the_same_plain_text_is_made_once() -> None:
    first = _(" through {operator}", operator="Kvittra AB")
    assert _(" through {operator}", operator="Kvittra AB") is first
    assert _(" through {operator}", operator="Other AB") is not first
    assert _(" through {operator}", operator="Other AB") == " through Other AB"


@pytest.mark.parametrize("message_first", [True, False])
def test_a_message_parameter_is_never_taken_for_its_english_text(message_first: bool) -> None:
    # the same English either way, but only the message parameter has a Swedish rendering
    def with_message() -> Message:
        return _(" through {operator}", operator=_("unknown"))

    def with_text() -> Message:
        return _(" through {operator}", operator="unknown")

    if message_first:
        as_message, as_text = with_message(), with_text()
    else:
        as_text, as_message = with_text(), with_message()
    assert as_message == as_text == " through unknown"
    assert as_message.render("sv") == " via okänt"
    assert as_text.render("sv") == " via unknown"


@pytest.mark.parametrize("values", [(1, True), (True, 1), (1, 1.0)])
def test_equal_values_of_other_types_keep_their_own_text(values: tuple[object, object]) -> None:
    # 1 == True == 1.0: a sentence remembered by its parameters' values would mix them up
    texts = [_("{count} document types", count=value) for value in values]
    assert texts == [f"{value} document types" for value in values]


@given(st.text(max_size=40))
def test_any_parameter_text_is_shown_as_given_never_reinterpreted(value: str) -> None:
    message = _(" through {operator}", operator=value)
    assert message.render("sv") == f" via {value}"
    assert message.render("en") == f" through {value}"


def test_verdict_labels_in_both_languages() -> None:
    assert Verdict.CAN_RECEIVE.label("sv") == "kan ta emot"
    assert Verdict.CANNOT_RECEIVE.label("en") == "cannot receive"
    assert Verdict.NOT_REGISTERED.label() == "not registered"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("sv", "sv"), ("sv_SE.UTF-8", "sv"), ("en-GB", "en"), ("Svenska", "sv"), (" EN ", "en")],
)
def test_languages_as_people_and_locales_write_them(text: str, expected: str) -> None:
    assert parse_language(text) == expected


def test_an_unknown_language_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"'de'.*sv.*en"):
        parse_language("de")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "sv_SE.UTF-8"}, "sv"),
        ({"LANG": "sv_SE.UTF-8", "LC_ALL": "C"}, "sv"),
        ({"LANGUAGE": "de:sv", "LANG": "en_US.UTF-8"}, "sv"),
        ({"LANG": "sv_SE.UTF-8", "PEPPOLNET_LANG": "en"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
    ],
)
def test_the_language_from_the_environment(environ: dict[str, str], expected: str) -> None:
    assert language_from_environment(environ) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SE", "SE"),
        ("se", "SE"),
        ("Sverige", "SE"),
        ("sweden", "SE"),
        ("Suomi", "FI"),
        ("Norge", "NO"),
        ("Noreg", "NO"),
        ("Danmark", "DK"),
        ("Österreich", "AT"),
        ("osterreich", "AT"),
        ("Belgique", "BE"),
        ("België", "BE"),
        ("Deutschland", "DE"),
    ],
)
def test_country_names_in_the_countries_own_languages(text: str, code: str) -> None:
    assert country_code(text) == code


@pytest.mark.parametrize("text", ["", "XX", "Atlantis", "S", "Swe den land"])
def test_what_names_no_country_is_none(text: str) -> None:
    assert country_code(text) is None


def test_country_names_for_output() -> None:
    assert country_name("SE", "sv") == "Sverige"
    assert country_name("fi", "en") == "Finland"
    assert country_name("ZZ", "sv") == "ZZ"


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_VALUE = st.one_of(_TEXT, st.integers(), st.floats(allow_nan=False), st.none(), st.booleans())


@given(_VALUE, _VALUE, _TEXT)
def test_a_stored_sentence_comes_back_the_same_in_every_language(
    outer: object, inner: object, plain: str
) -> None:
    """stored()/restored(): a sentence (nested sentences and any plain parameters) comes back
    with the same English and the same Swedish; plain text comes back as it is."""
    from peppolnet.i18n import restored, stored

    message = _(
        "the SMP at {url} sent an answer that cannot be read: {detail}",
        url=outer,
        detail=_("{first}, {rest}", first=inner, rest=_("no reason given")),
    )
    back = restored(stored(message))
    assert isinstance(back, Message)
    assert str(back) == str(message)
    assert back.render("sv") == message.render("sv")
    assert restored(stored(plain)) == plain
    assert restored(None) is None


def test_numbers_in_a_sentence_take_the_language_s_decimal_mark() -> None:
    """A fraction in a sentence, a share in a report: 2.5 and 47.6% in English, 2,5 and
    47,6 % (a no-break space before the sign) in Swedish; whole numbers are as they are."""
    from peppolnet.i18n import decimal, percent

    said = _("the SMP at {url} did not answer in time", url=2.5)
    assert (str(said), said.render("sv")) == (
        "the SMP at 2.5 did not answer in time",
        "SMP:n på 2,5 svarade inte i tid",
    )
    assert (decimal(47.56, "en"), decimal(47.56, "sv"), decimal(3.0, "sv", digits=None)) == (
        "47.6",
        "47,6",
        "3,0",
    )
    assert (percent(0.4756, "en"), percent(0.4756, "sv"), percent(1.0, None)) == (
        "47.6%",
        "47,6\u00a0%",
        "100.0%",
    )
