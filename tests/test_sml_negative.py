"""When a denial is believed: the pure decision shared by both resolvers (no sockets here).

A negative answer counts as "not registered" only when it carries the SOA of the SML zone (or
of a zone under it), or the resolver that gave it can show the zone's SOA when asked. The
resolver tests (tests/test_sml_resolver.py) drive the same functions over real sockets.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peppolnet.dnswire import NOERROR, NXDOMAIN, SERVFAIL, DnsResponse
from peppolnet.errors import DnsFailure
from peppolnet.sml import NegativeTrust, ZoneProof, negative_trust, zone_proof

ZONE = "participant.sml.test.tech.peppol.org"
NS = "192.0.2.53"


def denial(owner: str | None, rcode: int = NXDOMAIN, negative_ttl: int | None = 60) -> DnsResponse:
    return DnsResponse(
        rcode, False, negative_ttl=negative_ttl if owner is not None else None, soa_owner=owner
    )


SHOWN = ZoneProof(NS, True, 30, 600.0)
NOT_SHOWN = ZoneProof(NS, False, keep=5.0, detail="it said NXDOMAIN for the zone itself")


@pytest.mark.parametrize(
    "owner",
    [
        ZONE,
        ZONE.upper() + ".",  # DNS names compare case-insensitively; the final dot is optional
        "iso6523-actorid-upis." + ZONE,  # a zone under the SML zone, delegated
    ],
)
def test_the_zones_own_soa_is_believed_in_band(owner: str) -> None:
    for rcode in (NXDOMAIN, NOERROR):  # NXDOMAIN and NODATA alike
        for proof in (None, SHOWN, NOT_SHOWN):
            assert negative_trust(denial(owner, rcode), ZONE, proof) is NegativeTrust.IN_BAND


@pytest.mark.parametrize(
    "owner",
    [
        None,  # no authority section: what a captive portal sends
        "",  # the root's SOA
        "peppol.org",  # an enclosing zone: does not show that the SML zone was reached
        "sml.test.tech.peppol.org",
        "example.com",
        "evil" + ZONE,  # a suffix, but not label-wise under the zone
        "test.tech.peppol.org.evil.example",
    ],
)
def test_any_other_denial_needs_the_zone_shown(owner: str | None) -> None:
    response = denial(owner)
    assert negative_trust(response, ZONE) is NegativeTrust.PROBE
    assert negative_trust(response, ZONE, SHOWN) is NegativeTrust.PROBED
    assert negative_trust(response, ZONE, NOT_SHOWN) is NegativeTrust.UNTRUSTED


def soa_reply(ttl: int = 600, negative_ttl: int = 45) -> DnsResponse:
    return DnsResponse(NOERROR, False, ttl=ttl, negative_ttl=negative_ttl, soa_owner=ZONE)


def test_an_answered_soa_shows_the_zone_for_its_ttl() -> None:
    proof = zone_proof(ZONE, NS, soa_reply(ttl=600, negative_ttl=45))
    assert proof == ZoneProof(NS, True, 45, 600.0)


def test_the_zone_as_a_name_inside_its_operators_zone_is_shown() -> None:
    # NODATA for the SOA, with the SOA of an enclosing zone: the name exists, no zone cut
    nodata = DnsResponse(NOERROR, False, negative_ttl=120, soa_owner="sml.test.tech.peppol.org")
    assert zone_proof(ZONE, NS, nodata) == ZoneProof(NS, True, 120, 120.0)
    # ... or of the zone itself (a server that files the SOA elsewhere): still the zone's
    same = DnsResponse(NOERROR, False, negative_ttl=120, soa_owner=ZONE)
    assert zone_proof(ZONE, NS, same).shown


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        (DnsResponse(NXDOMAIN, False), "NXDOMAIN for the zone itself"),
        # NXDOMAIN with a proper-looking SOA still denies that the zone exists
        (
            DnsResponse(NXDOMAIN, False, negative_ttl=60, soa_owner="tech.peppol.org"),
            "NXDOMAIN for the zone itself",
        ),
        (DnsResponse(NOERROR, False), "answered without it"),
        # the root's SOA proves nothing: no SML name lives in the root zone itself
        (DnsResponse(NOERROR, False, negative_ttl=60, soa_owner=""), "answered without it"),
        # a zone below, or beside, is not the zone
        (
            DnsResponse(NOERROR, False, negative_ttl=60, soa_owner="x." + ZONE),
            "answered without it",
        ),
        (DnsResponse(NOERROR, False, negative_ttl=60, soa_owner="example.com"), "answered"),
    ],
)
def test_denials_of_the_zone_do_not_show_it(reply: DnsResponse, detail: str) -> None:
    proof = zone_proof(ZONE, NS, reply)
    assert proof.shown is False
    assert detail in proof.detail
    assert 0 < proof.keep <= 5  # remembered briefly, so a lying resolver costs no double queries


def test_a_failed_probe_says_why_and_one_not_made_is_not_remembered() -> None:
    failed = zone_proof(ZONE, NS, DnsFailure(f"no DNS server could answer ({NS}: SERVFAIL)"))
    assert failed.shown is False
    assert "SERVFAIL" in failed.detail
    assert 0 < failed.keep <= 5
    skipped = zone_proof(ZONE, NS, None)
    assert (skipped.shown, skipped.keep) == (False, 0.0)
    assert "no time" in skipped.detail


# --- the rule as a property ----------------------------------------------------------------------

LABELS = st.sampled_from(["participant", "sml", "test", "tech", "peppol", "org", "x", "evil"])
NAMES = st.lists(LABELS, min_size=0, max_size=7).map(".".join)
PROOFS = st.one_of(
    st.none(),
    st.builds(
        ZoneProof,
        server=st.just(NS),
        shown=st.booleans(),
        negative_ttl=st.none() | st.integers(0, 86400),
        keep=st.floats(0, 86400),
    ),
)


@given(
    owner=st.none() | NAMES,
    rcode=st.sampled_from([NXDOMAIN, NOERROR]),
    proof=PROOFS,
)
def test_a_denial_is_believed_only_with_the_zones_soa_or_a_shown_zone(
    owner: str | None, rcode: int, proof: ZoneProof | None
) -> None:
    trust = negative_trust(denial(owner, rcode), ZONE, proof)
    in_zone = owner is not None and (owner == ZONE or owner.endswith("." + ZONE))
    believed = trust in (NegativeTrust.IN_BAND, NegativeTrust.PROBED)
    assert believed == (in_zone or (proof is not None and proof.shown))
    # and a denial nobody vouched for is never taken for an answer without a probe
    assert (trust is NegativeTrust.PROBE) == (not in_zone and proof is None)


@given(
    rcode=st.sampled_from([NOERROR, NXDOMAIN, SERVFAIL]),
    ttl=st.none() | st.integers(0, 86400),
    owner=st.none() | NAMES,
)
def test_only_noerror_can_show_the_zone(rcode: int, ttl: int | None, owner: str | None) -> None:
    reply = DnsResponse(rcode, False, ttl=ttl, negative_ttl=60 if owner else None, soa_owner=owner)
    proof = zone_proof(ZONE, NS, reply)
    if rcode != NOERROR:
        assert proof.shown is False
    if proof.shown:
        assert proof.keep >= 0
        assert proof.detail == ""
    else:
        assert proof.detail
