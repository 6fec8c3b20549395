"""Network values and the compiled trust anchors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from peppolnet import network as net
from peppolnet.errors import InvalidInput
from peppolnet.xmldsig import RSA_SHA1, SignaturePolicy

FACTS_FINGERPRINTS = {
    # FACTS.md §4.1
    "g3-prod-smp-ca": "d9e17467c69e51fc4f5c5263542fc68d2abba5dfaae62e87fbd6829f1de621c4",
    "g3-prod-ap-ca": "b65e375a5826ada16517b2aa8a881b6fcaff5e48e7559b9e96bba5c64921f900",
    "g3-test-smp-ca": "eb78dabb622bbc701592f085bc27ab817fe1c0d4753ae829682e8127b3b00ce7",
    "g3-test-ap-ca": "d2445a0f115ee64cc141a849fe142927fe5701b7d9b58d3e6f53993162115cc0",
}


def test_builtins() -> None:
    assert net.PRODUCTION.sml_zone == "participant.sml.prod.tech.peppol.org"
    assert net.TEST.sml_zone == "participant.sml.test.tech.peppol.org"
    assert net.PRODUCTION.directory_url == "https://directory.peppol.eu"
    assert net.TEST.directory_url == "https://test-directory.peppol.eu"
    assert net.PRODUCTION.signature_policy == SignaturePolicy.strict()
    assert RSA_SHA1 not in net.TEST.signature_policy.allowed_signature_methods
    assert net.LEGACY_EC_PRODUCTION.sml_zone == "edelivery.tech.ec.europa.eu"
    assert net.LEGACY_EC_TEST.sml_zone == "acc.edelivery.tech.ec.europa.eu"
    assert net.LEGACY_G2_TEST.signature_policy == SignaturePolicy.legacy()
    assert net.PRODUCTION.require_https
    assert not net.PRODUCTION.legacy_cname
    for name in net.NETWORK_NAMES:
        assert net.network_by_name(name).name == name
    assert net.network_by_name("LEGACY_G2_TEST") is net.LEGACY_G2_TEST


@pytest.mark.parametrize(("name", "fingerprint"), sorted(FACTS_FINGERPRINTS.items()))
def test_fingerprints_match_facts(name: str, fingerprint: str) -> None:
    der = net.trust_anchor(name).public_bytes(Encoding.DER)
    assert hashlib.sha256(der).hexdigest() == fingerprint
    recorded = json.loads((net.TRUST_DIR / "fingerprints.json").read_text())
    assert recorded[f"{name}.pem"]["sha256"] == fingerprint


def test_anchor_roles() -> None:
    assert "SERVICE METADATA PUBLISHER CA - G3" in net.PRODUCTION.smp_ca[0].subject.rfc4514_string()
    assert "ACCESS POINT TEST CA - G3" in net.TEST.ap_ca[0].subject.rfc4514_string()
    assert "- G2" in net.LEGACY_G2_PRODUCTION.smp_ca[0].subject.rfc4514_string()


def test_replace_and_unknown() -> None:
    local = net.TEST.replace(nameservers=("127.0.0.1",), dns_port=5353, tls_verify="/ca.pem")
    assert local.nameservers == ("127.0.0.1",)
    assert local.dns_port == 5353
    assert net.TEST.nameservers == ()
    with pytest.raises(InvalidInput, match="unknown network"):
        net.network_by_name("moon")
    with pytest.raises(AttributeError):
        _ = net.NOPE  # type: ignore[attr-defined]


def test_load_pem_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "b.pem"
    bundle.write_bytes(
        b"".join(c.public_bytes(Encoding.PEM) for c in net.TEST.smp_ca + net.TEST.ap_ca)
    )
    assert net.load_pem_bundle(bundle) == net.TEST.smp_ca + net.TEST.ap_ca
    with pytest.raises(InvalidInput):
        net.load_pem_bundle(tmp_path / "missing.pem")


def test_import_does_not_load_certificates() -> None:
    code = (
        "import sys, peppolnet.network as n; "
        "assert 'cryptography.x509' not in sys.modules, 'x509 loaded at import'; "
        "n.PRODUCTION; assert 'cryptography.x509' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.interop
def test_generator_is_reproducible(refdata: Path, tmp_path: Path) -> None:
    tool = Path(__file__).resolve().parents[1] / "tools" / "gen_trust_anchors.py"
    before = {p.name: p.read_bytes() for p in net.TRUST_DIR.iterdir()}
    subprocess.run([sys.executable, str(tool), "--refdata", str(refdata)], check=True)
    after = {p.name: p.read_bytes() for p in net.TRUST_DIR.iterdir()}
    assert before == after


def test_a_network_pickles_with_its_certificates() -> None:
    """cryptography's certificates do not pickle; a Network does (its CAs as DER), so it can be
    sent to a worker process."""
    import pickle

    from peppolnet.network import PRODUCTION

    again = pickle.loads(pickle.dumps(PRODUCTION))
    assert again == PRODUCTION
    assert [c.subject for c in again.smp_ca] == [c.subject for c in PRODUCTION.smp_ca]
