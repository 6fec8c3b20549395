"""Scheme validation: structure, check digits, scheme states, suggestions, coverage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peppolnet.codelists import SchemeState, participant_schemes
from peppolnet.errors import InvalidParticipantId
from peppolnet.i18n import render
from peppolnet.identifiers import ParticipantId
from peppolnet.schemes import (
    Problem,
    Suggestions,
    ValidationResult,
    coverage,
    is_valid,
    suggest_participant_ids,
    validate,
)

# One real valid number per scheme with a check digit (examples of the code list, of FACTS.md,
# or of python-stdnum's own documentation).
VALID = {
    "0002": "552008443", "0007": "5567321707", "0009": "73282932000074", "0037": "2077474-0",
    "0088": "1548079098355", "0097": "0074311015712345", "0151": "83914571673",
    "0158": "25123891", "0183": "CHE100155212", "0184": "13585628", "0188": "5835678256246",
    "0191": "10137025", "0192": "991825827", "0195": "SGUEN00192200M", "0196": "1201743399",
    "0198": "DK13585628", "0199": "213800KUD8LAJWSQ9D15", "0200": "111963319",
    "0204": "991-11384-46", "0208": "0677424046",
    "0209": "414541000099999325412345678901234567890", "0210": "RSSBBR69C48F839A",
    "0211": "IT00743110157", "0212": "2077474-0", "0213": "FI20774740", "0216": "003701120389",
    "0218": "40003521600", "0221": "T5835678256246", "9902": "13585628", "9904": "DK26769388",
    "9906": "IT00743110157", "9907": "RSSBBR69C48F839A", "9908": "988077917",
    "9909": "NO995525828MVA", "9910": "HU12892312", "9912": "ATU57194903",
    "9914": "ATU13585627", "9917": "1201743399", "9918": "GR1601101050000010547023795",
    "9920": "ESB64717838", "9925": "BE0403019261", "9926": "BG175074752",
    "9927": "CHE107787577IVA", "9928": "CY10259033P", "9929": "CZ25123891",
    "9930": "DE136695976", "9931": "EE100931558", "9932": "GB980780684", "9933": "EL094259216",
    "9934": "HR33392005961", "9935": "IE6433435F", "9937": "LT119511515", "9938": "LU15027442",
    "9939": "LV40003521600", "9940": "FR53000004605", "9941": "ME02655284",
    "9942": "MK4030000375897", "9943": "MT11679112", "9944": "NL004495445B01",
    "9945": "PL8567346215", "9946": "PT501964843", "9947": "RO18547290", "9948": "RS101134702",
    "9949": "SI50223054", "9950": "SK2022749619", "9952": "TR4540536920",
    "9955": "SE556732170701", "9956": "0899965307", "9957": "FR40303265045",
    "9958": "991-11384-46",
}  # fmt: skip

# Where the check digit is not the last digit, the invalid twin is given explicitly.
INVALID_SPECIAL = {
    "0097": "0074311015812345",
    "0196": "1201743389",
    "9917": "1201743389",
    "0209": "414541000099999425412345678901234567890",
    "9944": "NL004495446B01",
    "9955": "SE556732170801",
}


def _bump_last_digit(local: str) -> str:
    i = max(i for i, c in enumerate(local) if c.isdigit())
    return local[:i] + str((int(local[i]) + 1) % 10) + local[i + 1 :]


def _errors(
    result: ValidationResult, *, ignore: tuple[str, ...] = ("removed-scheme",)
) -> list[str]:
    return [p.code for p in result.errors if p.code not in ignore]


def test_every_check_digit_scheme_has_a_valid_example() -> None:
    enforced = {row.icd for row in coverage() if row.check_digits_enforced}
    assert enforced == set(VALID)


@pytest.mark.parametrize(("icd", "local"), sorted(VALID.items()))
def test_valid_number_per_scheme(icd: str, local: str) -> None:
    result = validate(f"{icd}:{local}")
    assert _errors(result) == []
    assert result.scheme is not None
    assert result.scheme.icd == icd


@pytest.mark.parametrize(("icd", "local"), sorted(VALID.items()))
def test_wrong_check_digit_per_scheme(icd: str, local: str) -> None:
    bad = INVALID_SPECIAL.get(icd) or _bump_last_digit(local)
    result = validate(f"{icd}:{bad}")
    assert _errors(result) == ["check-digit"], result.problems
    assert not result.valid
    assert "check digit does not match" in result.errors[-1].message


def test_human_message_names_scheme_and_algorithm() -> None:
    result = validate("0007:5567321708")
    assert result.problems == (
        Problem("check-digit", "check digit does not match (SE:ORGNR, Luhn)", "error"),
    )
    assert result.to_dict() == {
        "input": "0007:5567321708",
        "valid": False,
        "participant_id": "iso6523-actorid-upis::0007:5567321708",
        "scheme": "0007",
        "scheme_state": "active",
        "problems": ["check digit does not match (SE:ORGNR, Luhn)"],
    }


# FACTS.md §1.2 (PeppolIdentifierFactoryTest): syntax-valid and syntax-invalid values.
@pytest.mark.parametrize(
    "value",
    ["9908:976098897", "9909:976098896", "9906:02419170044_01", "9930:DE211155632",
     "0204:991-11384-46", "0123:" + "a" * 130],
)  # fmt: skip
def test_facts_syntax_valid_values_have_no_syntax_problem(value: str) -> None:
    result = validate(value)
    assert result.participant is not None
    assert "syntax" not in [p.code for p in result.problems]


@pytest.mark.parametrize(
    "value",
    ["", "9:9", "9901:", "9908:976098897 x", "990:976098897", "990976098897",
     "9956:DE:EPROC:BMIEVG:BeschA", "0123:" + "a" * 131],
)  # fmt: skip
def test_facts_syntax_invalid_values(value: str) -> None:
    result = validate(value)
    assert not result.valid
    assert [p.code for p in result.problems] == ["syntax"]
    assert result.participant is None
    assert result.to_dict()["participant_id"] is None


def test_facts_vectors_by_scheme_rules() -> None:
    assert validate("9930:DE211155632").valid
    assert validate("0204:991-11384-46").valid
    assert [p.code for p in validate("9908:976098897").problems] == ["removed-scheme"]
    assert [p.code for p in validate("9909:976098896").problems] == [
        "deprecated-scheme",
        "structure",
    ]
    assert [p.code for p in validate("0123:" + "a" * 130).problems] == ["unknown-scheme"]


# FACTS.md §6: the reference implementation's Norwegian organisation number vectors.
@pytest.mark.parametrize("number", ["123456785", "976098897", "991618112"])
def test_norway_valid(number: str) -> None:
    assert is_valid(f"0192:{number}")


@pytest.mark.parametrize(
    ("number", "code"), [("123456784", "check-digit"), ("323456780", "check-digit"),
                         ("12345678-", "structure")]
)  # fmt: skip
def test_norway_invalid(number: str, code: str) -> None:
    assert [p.code for p in validate(f"0192:{number}").problems] == [code]


def test_every_problem_is_listed() -> None:
    # removed scheme AND wrong structure, reported together
    result = validate("9906:02419170044_01")
    assert [p.code for p in result.problems] == ["removed-scheme", "structure"]
    assert all(p.severity == "error" for p in result.problems)


def test_deprecated_is_a_warning_not_an_error() -> None:
    result = validate("9909:NO991825827MVA")
    assert result.valid
    assert [(p.code, p.severity) for p in result.problems] == [("deprecated-scheme", "warning")]


def test_unknown_scheme_and_foreign_meta_scheme() -> None:
    assert [p.code for p in validate("0123:abc").problems] == ["unknown-scheme"]
    other = validate("busdox-actorid-upis::abc")
    assert [p.code for p in other.problems] == ["unknown-scheme"]
    assert other.scheme is None


def test_values_are_case_insensitive() -> None:
    assert validate("9930:de211155632").valid
    assert validate("iso6523-actorid-upis::9925:be0403019261").valid
    assert validate("0195:sguen00192200m").valid


def test_participant_id_and_text_agree() -> None:
    pid = ParticipantId.parse("0088:1548079098355")
    assert validate(pid).valid
    assert validate(pid).problems == validate("0088:1548079098355").problems
    assert is_valid(pid)


def test_non_text_is_a_typed_error() -> None:
    with pytest.raises(InvalidParticipantId):
        validate(7)  # type: ignore[arg-type]
    assert is_valid(None) is False  # type: ignore[arg-type]


def test_gs1_checks_the_gln_inside_0209() -> None:
    result = validate("0209:414541000099999425412345678901234567890")
    assert "AI (414)" in result.errors[0].message
    assert [p.code for p in validate("0209:ABC").problems] == ["structure"]


def test_structure_patterns() -> None:
    assert [p.code for p in validate("0007:556732170").problems] == ["structure"]
    assert [p.code for p in validate("0208:2677424046").problems] == ["structure"]
    assert validate("0106:12345678").valid  # 8-digit KvK numbers (used in practice)
    assert validate("0242:000123-ABC").valid  # SPID pattern, case-insensitive
    assert validate("0242:000123-abc.x_y").valid
    assert not validate("0242:12345").valid


def test_no_rule_schemes_accept_anything_syntactic() -> None:
    assert validate("9913:whatever-1").valid
    row = next(r for r in coverage() if r.icd == "9913")
    assert not row.structure_enforced
    assert not row.check_digits_enforced


def test_coverage_table() -> None:
    rows = coverage()
    assert [r.icd for r in rows] == [s.icd for s in participant_schemes()]
    by_icd = {r.icd: r for r in rows}
    assert by_icd["0007"].how == "code list RegEx; stdnum se.orgnr (Luhn)"
    assert by_icd["0060"].structure_enforced
    assert not by_icd["0060"].check_digits_enforced
    assert by_icd["9959"].structure_enforced
    assert not by_icd["9959"].check_digits_enforced
    assert by_icd["9955"].state is SchemeState.REMOVED
    assert sum(r.check_digits_enforced for r in rows) == 70
    assert by_icd["0209"].to_dict()["check_digits_enforced"] is True


# --- suggestions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "country", "expected"),
    [
        ("556732-1707", "SE", ["0007:5567321707"]),
        ("SE556732170701", "se", ["0007:5567321707"]),
        ("BE 0677.424.046", "BE", ["0208:0677424046", "9925:BE0677424046"]),
        ("NO 991 825 827 MVA", "NO", ["0192:991825827", "9909:NO991825827MVA"]),
        ("991825827", "NO", ["0192:991825827", "9909:NO991825827MVA"]),
        ("FI 0112038-9", "FI", ["0216:003701120389"]),
        ("DE 811 152 493", "DE", ["9930:DE811152493"]),
        ("13585628", "DK", ["0184:13585628"]),
        ("FR 40 303 265 045", "FR", ["0002:303265045", "9957:FR40303265045"]),
        ("NL004495445B01", "NL", ["9944:NL004495445B01"]),
        ("25123891", "SK", ["0158:25123891"]),
        ("EL094259216", "GR", ["9933:EL094259216"]),
    ],
)
def test_suggestions(number: str, country: str, expected: list[str]) -> None:
    result = suggest_participant_ids(number, country)
    assert [c.value for c in result] == expected
    assert len(result) == len(expected)
    assert result.reason is None
    assert all(validate(c).valid for c in result)


def test_sweden_never_suggests_removed_9955() -> None:
    result = suggest_participant_ids("SE556732170701", "SE")
    assert all(c.icd != "9955" for c in result)


def test_invalid_number_gives_reason() -> None:
    result = suggest_participant_ids("556732-1708", "SE")
    assert list(result) == []
    assert not result
    assert result.reason is not None
    assert "Swedish organisation number" in result.reason


@pytest.mark.parametrize(("number", "country"), [("", "SE"), ("123", "S"), ("123", "ZZ")])
def test_suggestion_reasons_for_bad_input(number: str, country: str) -> None:
    result = suggest_participant_ids(number, country)
    assert result.candidates == ()
    assert result.reason


def test_suggestions_indexing() -> None:
    result = suggest_participant_ids("BE 0677.424.046", "BE")
    assert isinstance(result, Suggestions)
    assert result[0] == ParticipantId.parse("0208:0677424046")


# --- properties ----------------------------------------------------------------------------------


@given(st.text())
def test_validate_never_raises_on_text(text: str) -> None:
    result = validate(text)
    assert isinstance(result, ValidationResult)
    assert result.valid == (not result.errors)
    assert is_valid(text) == result.valid


LOCAL_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-._~"


@given(st.sampled_from(sorted(VALID)), st.text(alphabet=LOCAL_CHARS, min_size=1, max_size=40))
def test_validate_any_local_part_never_raises(icd: str, local: str) -> None:
    result = validate(f"{icd}:{local}")
    assert result.scheme is not None
    assert {p.code for p in result.problems} <= {
        "removed-scheme", "deprecated-scheme", "structure", "check-digit"
    }  # fmt: skip


@given(st.text(max_size=30), st.text(max_size=4))
def test_suggest_never_raises(number: str, country: str) -> None:
    result = suggest_participant_ids(number, country)
    assert (len(result) == 0) == (result.reason is not None)


@given(st.integers(min_value=0, max_value=10**9 - 1))
def test_suggested_swedish_ids_always_validate(n: int) -> None:
    number = f"{n:09d}"
    from stdnum import luhn

    orgnr = "5" + number[:8] + luhn.calc_check_digit("5" + number[:8])
    assert [c.value for c in suggest_participant_ids(orgnr, "SE")] == [f"0007:{orgnr}"]
    assert validate(f"0007:{orgnr}").valid


def test_dutch_kvk_numbers_are_suggested_by_pattern() -> None:
    from peppolnet.schemes import suggest_participant_ids

    assert [c.bare for c in suggest_participant_ids("1672 6719", "NL")] == ["0106:16726719"]
    assert not suggest_participant_ids("1672671", "NL").candidates


@given(
    st.sampled_from(sorted({s.icd for s in participant_schemes()} | {"0000", "9999"})),
    st.text(alphabet=LOCAL_CHARS, min_size=1, max_size=40),
)
def test_fast_and_general_parsing_give_the_same_verdict(icd: str, local: str) -> None:
    # "0007:..." takes validate()'s fast path; the upper-case scheme spelling takes parse()
    fast = validate(f"{icd}:{local}")
    general = validate(f"ISO6523-ACTORID-UPIS::{icd}:{local}")
    assert fast.participant == general.participant
    assert fast.scheme == general.scheme
    assert fast.problems == general.problems
    assert [render(p.message, "sv") for p in fast.problems] == [
        render(p.message, "sv") for p in general.problems
    ]


def test_messages_made_once_per_scheme_are_each_schemes_own() -> None:
    # the check-digit and scheme-state problems are built with the rule table: they must still
    # name the scheme of the identifier at hand, in both languages
    se, no = validate("0007:5567321708"), validate("0192:991825828")
    assert [p.message for p in se.problems] == ["check digit does not match (SE:ORGNR, Luhn)"]
    assert [p.message for p in no.problems] == ["check digit does not match (NO:ORG, mod 11)"]
    assert "SE:ORGNR" in render(se.problems[0].message, "sv")
    assert render(se.problems[0].message, "sv") != se.problems[0].message
    removed = validate("9955:SE556732170701").problems[0]
    assert removed.code == "removed-scheme"
    assert "9955" in removed.message
    assert "SE:VAT" in removed.message


def test_long_text_is_validated_but_not_kept() -> None:
    # a result holds its input: the cache keeps only text that could be an identifier, so its
    # 16,384 entries stay bounded in bytes whatever callers pass
    from peppolnet import schemes

    schemes._validate_text.cache_clear()
    huge = "0007:" + "5" * 100_000
    first, second = validate(huge), validate(huge)
    assert [p.code for p in first.problems] == ["syntax"]
    assert first == second
    assert first is not second
    assert schemes._validate_text.cache_info().currsize == 0
    usual = "0007:5567321707"
    assert validate(usual) is validate(usual)
    assert schemes._validate_text.cache_info().currsize == 1
    padded = " " * 100 + usual + " " * 100  # within the bound: kept, and still valid
    assert validate(padded).valid
    assert schemes._validate_text.cache_info().currsize == 2


def test_the_text_cache_is_bounded_in_bytes() -> None:
    """validate()'s cache of results by text: 20,000 distinct refused texts of 250 characters
    (the costliest results: each holds its input and a sentence) keep less than 8 MB."""
    import tracemalloc

    validate("0007:5567321707")  # code lists loaded before counting
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(20_000):
            assert not validate(f"0007:{'x' * 240}{i:06d}").valid
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 8_000_000
