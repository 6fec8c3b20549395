"""The pure SML core: record names against the published vectors, NAPTR interpretation."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peppolnet.errors import InvalidInput, NoSmpService
from peppolnet.identifiers import ParticipantId
from peppolnet.sml import (
    NaptrRecord,
    apply_regexp,
    cname_label,
    cname_name,
    interpret_naptr,
    naptr_label,
    naptr_name,
)

VALUES = st.from_regex(r"[0-9]{4}:[A-Za-z0-9._~-]{1,130}", fullmatch=True)


def _vectors(refdata: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (refdata / "samples" / "dns" / "sml-dns-test-vectors.json").read_text("utf-8")
    )
    return data


@pytest.mark.interop
def test_every_vector_naptr_and_cname(refdata: Path) -> None:
    vectors = _vectors(refdata)["vectors"]
    assert len(vectors) >= 10
    for v in vectors:
        pid = ParticipantId(v["scheme"], v["value"])
        assert naptr_label(v["value"]) == v["naptr_label"], v["value"]
        assert naptr_name(pid, v["zone"]) == v["naptr_name"], v["value"]
        assert cname_label(v["value"]) == v["cname_label"], v["value"]
        assert cname_name(pid, v["zone"]) == v["cname_name"], v["value"]
        # A trailing dot on the zone and an upper-case scheme give the same name.
        upper = ParticipantId(v["scheme"].upper(), v["value"])
        assert naptr_name(upper, v["zone"] + ".") == v["naptr_name"]


@pytest.mark.interop
def test_non_peppol_bdxl_vectors(refdata: Path) -> None:
    checked = 0
    for v in _vectors(refdata)["non_peppol_bdxl_vectors"]:
        if "expected_name" in v:
            assert f"{naptr_label(v['value'])}.{v['zone']}" == v["expected_name"]
            checked += 1
        elif "expected_label" in v and "WITHOUT" not in v["note"]:
            assert naptr_label(v["value"]) == v["expected_label"]
            checked += 1
        elif "expected_label" in v:
            # The vector that must NOT be used for Peppol: hashing without lower-casing.
            assert naptr_label(v["value"]) != v["expected_label"]
            checked += 1
        elif "expected_label_upper" in v:
            assert naptr_label(v["value"]).upper() == v["expected_label_upper"]
            checked += 1
        elif "expected_cname_label" in v:
            assert cname_label(v["value"]) == v["expected_cname_label"]
            checked += 1
    assert checked == 5


@pytest.mark.interop
def test_observed_records_interpret(refdata: Path) -> None:
    for observed in _vectors(refdata)["naptr_records_observed"]:
        rdata = observed["rdata"]
        m = re.search(r'(\d+) (\d+) "([^"]*)" "([^"]*)" "([^"]*)"', rdata)
        assert m is not None, rdata
        record = NaptrRecord(int(m[1]), int(m[2]), m[3], m[4], m[5], ".")
        url = interpret_naptr([record], require_https=False, subject=observed["name"])
        assert url.startswith("http://")
        assert url == m[5].split("!")[2]
        with pytest.raises(NoSmpService, match="requires https"):
            interpret_naptr([record], require_https=True)


@given(VALUES)
def test_name_stable_under_case_changes(value: str) -> None:
    zone = "participant.sml.test.tech.peppol.org"
    lower = naptr_name(ParticipantId.parse(value.lower()), zone)
    assert naptr_name(ParticipantId.parse(value.upper()), zone) == lower
    assert naptr_name(ParticipantId.parse(value.swapcase()), zone) == lower
    assert cname_name(ParticipantId.parse(value.upper()), zone) == cname_name(
        ParticipantId.parse(value), zone
    )


@given(VALUES)
def test_label_shape(value: str) -> None:
    label = naptr_label(value)
    assert re.fullmatch(r"[a-z2-7]{52}", label)
    assert re.fullmatch(r"B-[0-9a-f]{32}", cname_label(value))
    name = naptr_name(ParticipantId.parse(value), "zone.example.")
    assert name == f"{label}.iso6523-actorid-upis.zone.example"
    assert all(1 <= len(part) <= 63 for part in name.split("."))


@given(VALUES, VALUES)
def test_distinct_values_distinct_labels(a: str, b: str) -> None:
    if a.lower() != b.lower():
        assert naptr_label(a) != naptr_label(b)


def test_value_is_hashed_not_uri() -> None:
    pid = ParticipantId.parse("9915:test")
    assert naptr_name(pid, "z").startswith(naptr_label("9915:test") + ".")
    assert naptr_label(pid.uri) != naptr_label("9915:test")


@pytest.mark.parametrize("zone", ["", " ", ".", "a..b", "a b"])
def test_bad_zone(zone: str) -> None:
    with pytest.raises(InvalidInput, match="zone"):
        naptr_name(ParticipantId.parse("9915:test"), zone)


# --- apply_regexp --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regexp", "subject", "expected"),
    [
        ("!.*!https://smp.example!", "x", "https://smp.example"),
        ("!^.*$!http://a.b/c!", "x", "http://a.b/c"),
        (r"!^([a-z]+)\.(.*)$!https://\2/\1!", "abc.zone", "https://zone/abc"),
        (r"!^(.*)$!\1!", "keep", "keep"),
        (r"!^(.*)$!x\\y!", "keep", "x\\y"),
        (r"/^a(b)c$/x-\1-\0/", "abc", "x-b-abc"),
        (r"!^ABC$!ok!i", "abc", "ok"),
        (r"!a\!b!c!", "a!b", "c"),
    ],
)
def test_apply_regexp(regexp: str, subject: str, expected: str) -> None:
    assert apply_regexp(regexp, subject) == expected


@pytest.mark.parametrize(
    ("regexp", "problem"),
    [
        ("!!", "too short"),
        ("!a!b", "form"),
        ("!a!b!c!d", "form"),
        ("!a!b!x", "flags"),
        ("1a1b1", "delimiter"),
        ("!(!x!", "not valid"),
        ("!^q$!x!", "does not match"),
        (r"!^(a)$!\2!", "missing group"),
        ("!" + "a" * 2000 + "!b!", "too long"),
    ],
)
def test_apply_regexp_errors(regexp: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        apply_regexp(regexp, "a")


@given(st.text(alphabet=st.characters(exclude_characters="!\\"), max_size=80), st.text())
def test_full_replacement_returns_replacement(repl: str, subject: str) -> None:
    assert apply_regexp(f"!.*!{repl}!", subject) == repl
    assert apply_regexp(f"!^.*$!{repl}!", subject) == repl


@given(st.text(max_size=60), st.text(max_size=60))
def test_apply_regexp_never_raises_foreign_errors(regexp: str, subject: str) -> None:
    outcome: object
    try:
        outcome = apply_regexp(regexp, subject)
    except InvalidInput as exc:
        outcome = exc.message
    assert isinstance(outcome, str)


# --- interpret_naptr -----------------------------------------------------------------------------


def _smp(url: str, order: int = 100, pref: int = 10, **kw: str) -> NaptrRecord:
    return NaptrRecord(
        order, pref, kw.get("flags", "U"), kw.get("service", "Meta:SMP"), f"!.*!{url}!", "."
    )


def test_single_record() -> None:
    assert interpret_naptr([_smp("https://smp.example/")], require_https=True) == (
        "https://smp.example"
    )


def test_order_then_preference() -> None:
    records = [
        _smp("https://c.example", 100, 5),
        _smp("https://b.example", 50, 20),
        _smp("https://a.example", 50, 10),
    ]
    assert interpret_naptr(records, require_https=True) == "https://a.example"


def test_case_insensitive_service_and_flags() -> None:
    record = _smp("https://a.example", service="meta:smp", flags="u")
    assert interpret_naptr([record], require_https=True) == "https://a.example"


def test_other_services_ignored() -> None:
    records = [_smp("https://x.example", 1, 1, service="Meta:Other"), _smp("https://a.example")]
    assert interpret_naptr(records, require_https=True) == "https://a.example"


def test_non_u_flag_ignored() -> None:
    with pytest.raises(NoSmpService, match="none for the Meta:SMP"):
        interpret_naptr([_smp("https://a.example", flags="S")], require_https=True)


@pytest.mark.parametrize("records", [[], [NaptrRecord(1, 1, "U", "E2U+sip", "!.*!x!", ".")]])
def test_no_smp_service(records: list[NaptrRecord]) -> None:
    with pytest.raises(NoSmpService, match="none for the Meta:SMP service") as info:
        interpret_naptr(records, require_https=True)
    assert info.value.retryable is False


def test_http_rejected_when_https_required() -> None:
    with pytest.raises(NoSmpService, match="requires https"):
        interpret_naptr([_smp("http://smp.example")], require_https=True)
    assert interpret_naptr([_smp("http://smp.example")], require_https=False) == (
        "http://smp.example"
    )


def test_falls_through_to_next_usable_record() -> None:
    records = [_smp("http://old.example", 10), _smp("https://new.example", 20)]
    assert interpret_naptr(records, require_https=True) == "https://new.example"


@pytest.mark.parametrize(
    "url",
    [
        "smp.example",
        "ftp://smp.example",
        "https://",
        "https:///path",
        "https://smp.example:99999",
        "https://smp.example/?q=1",
        "https://smp.example/#f",
        "https://smp .example",
        "/relative",
    ],
)
def test_not_an_absolute_http_url(url: str) -> None:
    with pytest.raises(NoSmpService, match="no usable SMP URL"):
        interpret_naptr([_smp(url)], require_https=False)


def test_malformed_regexp_is_no_smp_service() -> None:
    record = NaptrRecord(100, 10, "U", "Meta:SMP", "!(!x!", ".")
    with pytest.raises(NoSmpService, match="not valid"):
        interpret_naptr([record], require_https=False)


def test_keeps_path() -> None:
    url = interpret_naptr([_smp("https://test.erechnung.gv.at/smp")], require_https=True)
    assert url == "https://test.erechnung.gv.at/smp"


def test_record_text() -> None:
    assert str(_smp("https://a.example")) == '100 10 "U" "Meta:SMP" "!.*!https://a.example!" .'


def test_hostile_naptr_regexps_are_refused_not_run() -> None:
    # A spoofed DNS answer must not hang (nested quantifiers) or crash (huge repeat) a lookup.
    from peppolnet.errors import InvalidInput as _InvalidInput
    from peppolnet.sml import apply_regexp as _apply

    for regexp, subject in (
        ("!^([a-z0-9]|[a-z0-9])*X$!https://x!", "a" * 40 + ".zone"),
        ("!(a+)+$!https://x!", "a" * 40 + "b"),
        ("!a{99999999999}!x!", "a"),
    ):
        with pytest.raises(_InvalidInput):
            _apply(regexp, subject)


def test_smp_urls_an_http_client_cannot_use_are_refused() -> None:
    from peppolnet.errors import NoSmpService as _NoSmpService
    from peppolnet.sml import NaptrRecord as _Record
    from peppolnet.sml import interpret_naptr as _interpret

    for url in ("https://smp..example.com", "https://smp\x7f.example.com"):
        with pytest.raises(_NoSmpService, match=r"not a valid URL|control characters"):
            _interpret([_Record(100, 10, "U", "Meta:SMP", f"!.*!{url}!")], require_https=True)


@given(st.text(max_size=60))
def test_the_label_is_rfc_4648_base32_of_the_hash(value: str) -> None:
    """naptr_label encodes the digest itself (faster than base64.b32encode): same text."""
    import base64
    import hashlib

    from peppolnet.identifiers import lower

    digest = hashlib.sha256(lower(value).encode("utf-8")).digest()
    expected = base64.b32encode(digest).decode("ascii").rstrip("=").lower()
    assert naptr_label(value) == expected
    assert len(expected) == 52
