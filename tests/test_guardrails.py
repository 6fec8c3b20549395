"""Guardrails for the network's changes: http SMPs, G2 certificates, removed transports.

The G2 checks run on real G2-signed SMP answers from the reference data (their signers and
access points chain to the compiled G2 test CAs); the http and transport checks on the sandbox.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from peppolnet.guardrails import G2_END, g2_check, g2_issuer, smp_https, transport_problem
from peppolnet.lookup import Lookup, _lookup_steps, _Metadata, _Resolve
from peppolnet.network import LEGACY_G2_TEST, TEST, trust_anchor
from peppolnet.pki import validate_chain
from peppolnet.reachability import CheckStatus, Reachability, Verdict
from peppolnet.sandbox import Sandbox
from peppolnet.sml import SmlAnswer
from peppolnet.smp.client import MetadataAnswer
from peppolnet.smp.trust import check_document

SAMPLE = "smp-peppol/vefa-peppol/busdox-servicemetadata-0192-12345678-2.xml"
# the sample's SMP signer (2024-02-17 .. 2026-02-06), its access point certificate
# (2022-07-10 .. 2024-06-29) and its endpoint (from 2024-02-17) are all valid then
SAMPLE_TIME = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


# --- https ----------------------------------------------------------------------------------


def test_https_passes() -> None:
    status, _ = smp_https("https://smp.example", require_https=True, network="production")
    assert status is CheckStatus.PASS


def test_http_fails_where_https_is_required() -> None:
    status, sentence = smp_https("http://smp.example", require_https=True, network="production")
    assert status is CheckStatus.FAIL
    assert sentence.startswith("the SMP is published on plain http (http://smp.example)")


def test_http_warns_where_the_network_allows_it() -> None:
    status, sentence = smp_https("http://u:p@smp.example", require_https=False, network="lab")
    assert status is CheckStatus.WARN
    assert "since 2026-02-01" in sentence
    assert "the lab network allows it" in sentence
    assert "u:p" not in sentence  # credentials are never shown


@given(
    st.sampled_from(["HTTPS://", "https://", "HtTpS://"]),
    st.from_regex(r"[a-z]{1,20}", fullmatch=True),
)
def test_https_is_any_case(scheme: str, host: str) -> None:
    assert (
        smp_https(f"{scheme}{host}.example", require_https=True, network="x")[0] is CheckStatus.PASS
    )


def test_an_http_smp_in_a_network_that_allows_http(sandbox: Sandbox) -> None:
    """The check is made - a warning - even where the configuration lets http pass."""
    pid = next(p.id for p in sandbox.config.participants if "http-smp" in p.quirks)
    with Lookup(sandbox.network.replace(require_https=False)) as lookup:
        result = lookup.check(pid)
    https = result.check("https")
    assert https is not None
    assert https.status is CheckStatus.WARN
    assert "Peppol requires https since 2026-02-01" in https.message
    assert result.verdict is Verdict.CAN_RECEIVE  # the network allows it; the check says why not
    with Lookup(sandbox.network) as lookup:
        strict = lookup.check(pid)
    assert strict.verdict is Verdict.CANNOT_RECEIVE
    assert strict.check("https").status is CheckStatus.FAIL  # type: ignore[union-attr]


# --- G2 -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def g2_path(refdata: Path) -> tuple[x509.Certificate, ...]:
    """A real SMP signer's validated path to the G2 test SMP CA."""
    checked = check_document((refdata / "samples" / SAMPLE).read_bytes(), LEGACY_G2_TEST,
                             at=SAMPLE_TIME)  # fmt: skip
    assert checked.signer_certificate is not None
    assert checked.signature.chain_valid
    return validate_chain(checked.signer_certificate, LEGACY_G2_TEST.smp_ca, at=SAMPLE_TIME)


def test_a_g2_certificate_warns_before_g2_ends(g2_path: tuple[x509.Certificate, ...]) -> None:
    issuer = g2_issuer(g2_path)
    assert issuer is trust_anchor("g2-test-smp-ca")
    found = g2_check("smp", g2_path, SAMPLE_TIME)
    assert found is not None
    status, sentence = found
    assert status is CheckStatus.WARN
    assert "PEPPOL SERVICE METADATA PUBLISHER TEST CA - G2" in sentence
    assert "valid only until 2026-04-01" in sentence


def test_a_g2_certificate_fails_from_the_day_g2_ended(
    g2_path: tuple[x509.Certificate, ...],
) -> None:
    for whose, says in (("smp", "its answer cannot be trusted"), ("ap", "senders no longer")):
        found = g2_check(whose, g2_path, G2_END)
        assert found is not None
        assert found[0] is CheckStatus.FAIL
        assert "stopped being valid on 2026-04-01" in found[1]
        assert says in found[1]
    assert g2_check("ap", g2_path, G2_END - dt.timedelta(seconds=1))[0] is CheckStatus.WARN  # type: ignore[index]


def test_g3_and_other_cas_are_not_g2(sandbox: Sandbox) -> None:
    assert g2_issuer((trust_anchor("g3-test-ap-ca"), trust_anchor("g3-test-ap-ca"))) is None
    assert g2_issuer((sandbox.pki.ap_ca, sandbox.pki.ap_ca, sandbox.pki.root)) is None
    assert g2_check("ap", (sandbox.pki.ap_ca, sandbox.pki.root), G2_END) is None


def _ca(name: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("name", "g2"),
    [
        ("PEPPOL ACCESS POINT CA - G2", True),
        ("PEPPOL ACCESS POINT TEST CA - G2", True),
        ("PEPPOL Root CA - G2", True),
        ("PEPPOL ACCESS POINT CA - G3", False),
        ("Example CA - G2", False),
    ],
)
def test_a_ca_named_as_the_g2_cas_is_g2(name: str, g2: bool) -> None:
    """A trust store may hold a G2 CA under another file (a re-issued copy, a bundle): the name
    the Peppol PKI gave its G2 CAs is recognised as well as the compiled fingerprints."""
    ca = _ca(name)
    assert (g2_issuer((ca, ca)) is ca) is g2


def _scripted(at: dt.datetime, answer: MetadataAnswer) -> Reachability:
    """A lookup on LEGACY_G2_TEST driven by hand with a real SMP answer (no network)."""
    lookup = Lookup(LEGACY_G2_TEST, resolver=None)
    ctx = lookup._context("0192:12345678", None, None, None, None, at, None)
    steps = _lookup_steps(ctx)
    request = next(steps)
    assert isinstance(request, _Resolve)
    sml = SmlAnswer(request.participant, "name.example", "https://smp.example", (), 60, False, 0.0)
    request = steps.send(sml)
    assert isinstance(request, _Metadata)
    with pytest.raises(StopIteration) as stop:
        steps.send(answer)
    lookup.close()
    result: Reachability = stop.value.value
    return result


def test_a_lookup_checks_the_smp_and_ap_for_g2(refdata: Path) -> None:
    data = (refdata / "samples" / SAMPLE).read_bytes()
    answer = MetadataAnswer("https://smp.example/x", check_document(data, LEGACY_G2_TEST,
                                                                     at=SAMPLE_TIME))  # fmt: skip
    result = _scripted(SAMPLE_TIME, answer)
    assert result.verdict is Verdict.CAN_RECEIVE, result.reason
    smp, ap = result.check("smp-certificate-g2"), result.check("ap-certificate-g2")
    assert smp is not None
    assert smp.status is CheckStatus.WARN
    assert ap is not None
    assert ap.status is CheckStatus.WARN
    assert "PEPPOL ACCESS POINT TEST CA - G2" in ap.message
    names = [c.name for c in result.checks]
    assert names.index("smp-certificate") + 1 == names.index("smp-certificate-g2")


def test_a_g3_network_never_says_g2(sandbox: Sandbox) -> None:
    with Lookup(sandbox.network) as lookup:
        result = lookup.check(
            next(p.id for p in sandbox.config.participants if p.in_sml and not p.quirks)
        )
    assert result.can_receive
    assert not {"smp-certificate-g2", "ap-certificate-g2"} & {c.name for c in result.checks}
    assert TEST.smp_ca
    assert g2_issuer((TEST.smp_ca[0], TEST.smp_ca[0])) is None


# --- transport profiles ---------------------------------------------------------------------


def test_removed_profiles_are_named_with_their_removal() -> None:
    sentence = transport_problem(["busdox-transport-as2-ver2p0", "busdox-transport-start"],
                                 usable=False)  # fmt: skip
    assert sentence is not None
    assert sentence.startswith("no endpoint uses peppol-transport-as4-v2_0")
    assert (
        "busdox-transport-as2-ver2p0 (removed from the Peppol code list on 2023-09-06)" in sentence
    )
    assert "busdox-transport-start (removed" in sentence


def test_an_unknown_profile_says_so() -> None:
    sentence = transport_problem(["my-own-transport"], usable=False)
    assert sentence is not None
    assert "my-own-transport (not in the Peppol code list)" in sentence


def test_as4_beside_a_removed_profile_warns() -> None:
    assert transport_problem(["peppol-transport-as4-v2_0"], usable=True) is None
    sentence = transport_problem(
        ["peppol-transport-as4-v2_0", "peppol-transport-as4-v1_0"], usable=True
    )
    assert sentence is not None
    assert sentence.startswith("the endpoint uses peppol-transport-as4-v2_0; the SMP also lists")


def test_an_old_transport_profile_in_a_lookup(sandbox: Sandbox) -> None:
    pid = next(p.id for p in sandbox.config.participants if "old-transport-profile" in p.quirks)
    with Lookup(sandbox.network) as lookup:
        result = lookup.check(pid)
    assert result.verdict is Verdict.CANNOT_RECEIVE
    assert result.reason.endswith(
        "(found: peppol-transport-as4-v1_0 (removed from the Peppol code list on 2023-09-06))"
    )
