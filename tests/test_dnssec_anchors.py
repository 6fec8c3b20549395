"""Trust anchors: the DS records a chain of trust starts from, read strictly."""

from __future__ import annotations

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peppolnet.dnssec import ROOT_ANCHORS, parse_anchor, parse_anchors
from peppolnet.errors import InvalidInput
from peppolnet.network import PRODUCTION, TEST, network_by_name

# The root's KSK-2017 as IANA publishes it (root-anchors.xml; Debian's dns-root-data root.key).
KSK_2017 = (
    "257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5em"
    "LvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8"
    "efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/"
    "ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU="
)


def test_the_root_anchors_are_iana_s_ksk_2017_and_ksk_2024() -> None:
    anchors = parse_anchors(ROOT_ANCHORS)
    assert [(a.zone, a.key_tag, a.algorithm, a.digest_type) for a in anchors] == [
        (".", 20326, 8, 2),
        (".", 38696, 8, 2),
    ]


def test_the_ksk_2017_anchor_is_the_digest_of_the_published_key() -> None:
    """The constant is not a typo: its digest is the SHA-256 of the root's name and its key."""
    key = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, KSK_2017)
    made = dns.dnssec.make_ds(dns.name.root, key, "SHA256")
    assert made.digest == parse_anchor(ROOT_ANCHORS[0]).digest
    assert dns.dnssec.key_id(key) == 20326


def test_every_built_in_network_trusts_the_root() -> None:
    assert PRODUCTION.dnssec_anchors == ROOT_ANCHORS
    assert TEST.dnssec_anchors == ROOT_ANCHORS
    assert network_by_name("legacy-ec-production").dnssec_anchors == ROOT_ANCHORS


@pytest.mark.parametrize(
    "text",
    [
        "example.com. 12345 13 2 AABB",
        "example.com IN DS 12345 13 2 AABB",
        "Example.COM. DS 12345 13 2 aa bb",
    ],
)
def test_presentation_forms(text: str) -> None:
    anchor = parse_anchor(text)
    assert (anchor.zone, anchor.key_tag, anchor.algorithm, anchor.digest_type) == (
        "example.com.",
        12345,
        13,
        2,
    )
    assert anchor.digest == b"\xaa\xbb"
    assert str(anchor) == "example.com. 12345 13 2 AABB"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("example.com. 12345 13 2", "is not a DS record"),
        ("example.com. 99999 13 2 AABB", "bad key tag"),
        ("example.com. 1 300 2 AABB", "bad algorithm"),
        ("example.com. 1 13 two AABB", "bad digest type"),
        ("example.com. 1 13 2 XYZ", "not hex"),
        ("a..b. 1 13 2 AABB", "names no valid zone"),
    ],
)
def test_bad_anchors_are_named(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as caught:
        parse_anchor(text)
    assert repr(text) in caught.value.message


def test_one_string_is_not_a_list_of_anchors() -> None:
    with pytest.raises(InvalidInput, match="a list of DS records"):
        parse_anchors(ROOT_ANCHORS[0])


def test_the_sentences_have_swedish() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_anchor("example.com. 99999 13 2 AABB")
    assert caught.value.message.render("sv").startswith("förtroendeankaret")  # type: ignore[attr-defined]


@settings(deadline=None)  # a busy machine must not fail it; the parse itself takes microseconds
@given(st.text(max_size=80))
def test_any_text_is_an_anchor_or_a_clear_error(text: str) -> None:
    try:
        anchor = parse_anchor(text)
    except InvalidInput as exc:
        error: InvalidInput | None = exc
    else:
        error = None
        assert anchor.zone.endswith(".")
        assert 0 <= anchor.key_tag <= 0xFFFF
        assert anchor.digest
    assert error is None or "trust anchor" in error.message
