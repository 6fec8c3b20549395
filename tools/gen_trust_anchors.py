"""Compile the Peppol CA certificates from ../shared/refdata/certs into src/peppolnet/data/trust/.

Why a generator: trust anchors are data with a provenance. This script copies each CA
certificate as PEM under a stable name, checks the SHA-256 fingerprints of the G3 CAs against the
values published in FACTS.md §4.1 (so a wrong or swapped file fails loudly), and writes
``fingerprints.json`` recording source path, subject, validity and fingerprint of each file.

Usage: python tools/gen_trust_anchors.py [--refdata PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "peppolnet" / "data" / "trust"

# output name -> (source path under refdata/certs, expected SHA-256 from FACTS.md §4.1 or None)
ANCHORS: dict[str, tuple[str, str | None]] = {
    "g3-prod-root.pem": (
        "g3-2025/PEPPOL_Root_CA-G3.pem",
        "B6075B9F8655E756777F182D1407C0049442D3A2F57DFF9781523828F331F211",
    ),
    "g3-prod-ap-ca.pem": (
        "g3-2025/PEPPOL_ACCESS_POINT_CA-G3.pem",
        "B65E375A5826ADA16517B2AA8A881B6FCAFF5E48E7559B9E96BBA5C64921F900",
    ),
    "g3-prod-smp-ca.pem": (
        "g3-2025/PEPPOL_SERVICE_METADATA_PUBLISHER_CA-G3.pem",
        "D9E17467C69E51FC4F5C5263542FC68D2ABBA5DFAAE62E87FBD6829F1DE621C4",
    ),
    "g3-test-root.pem": (
        "g3-2025/PEPPOL_Root_TEST_CA-G3.pem",
        "8B4E0E5DC7C8208CBA88EDEBFAD31E064740D896AB6E18DE0B03386FD24BE734",
    ),
    "g3-test-ap-ca.pem": (
        "g3-2025/PEPPOL_ACCESS_POINT_TEST_CA-G3.pem",
        "D2445A0F115EE64CC141A849FE142927FE5701B7D9B58D3E6F53993162115CC0",
    ),
    "g3-test-smp-ca.pem": (
        "g3-2025/PEPPOL_SERVICE_METADATA_PUBLISHER_TEST_CA-G3.pem",
        "EB78DABB622BBC701592F085BC27AB817FE1C0D4753AE829682E8127B3B00CE7",
    ),
    # G2 (deprecated; legacy networks only). FACTS.md gives only fingerprint prefixes.
    "g2-prod-root.pem": ("g2-2018/Peppol_Root_CA.pem", None),
    "g2-prod-ap-ca.pem": ("g2-2018/Peppol_AccessPoint_CA.pem", None),
    "g2-prod-smp-ca.pem": ("g2-2018/Peppol_ServiceMetadataPublisher_CA.pem", None),
    "g2-test-root.pem": ("g2-2018/Peppol_Test_Root_CA.pem", None),
    "g2-test-ap-ca.pem": ("g2-2018/Peppol_Test_AccessPoint_CA.pem", None),
    "g2-test-smp-ca.pem": ("g2-2018/Peppol_Test_ServiceMetadataPublisher_CA.pem", None),
}

# First bytes of the G2 fingerprints as given in FACTS.md §4.1.
G2_PREFIXES = {
    "g2-prod-root.pem": "F019B8",
    "g2-prod-ap-ca.pem": "FB646E",
    "g2-prod-smp-ca.pem": "52895F",
    "g2-test-root.pem": "E4B864",
    "g2-test-ap-ca.pem": "039A30",
    "g2-test-smp-ca.pem": "5FC0B1",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refdata", type=Path, default=ROOT.parent / "shared" / "refdata")
    args = parser.parse_args(argv)
    certs_dir: Path = args.refdata / "certs"
    OUT.mkdir(parents=True, exist_ok=True)
    record: dict[str, dict[str, str]] = {}
    for name, (source, expected) in ANCHORS.items():
        cert = x509.load_pem_x509_certificate((certs_dir / source).read_bytes())
        der = cert.public_bytes(Encoding.DER)
        fingerprint = hashlib.sha256(der).hexdigest().upper()
        if expected is not None and fingerprint != expected:
            print(f"{name}: fingerprint {fingerprint} != FACTS.md {expected}", file=sys.stderr)
            return 1
        if name in G2_PREFIXES and not fingerprint.startswith(G2_PREFIXES[name]):
            print(f"{name}: fingerprint {fingerprint} does not start with FACTS.md prefix")
            return 1
        (OUT / name).write_bytes(cert.public_bytes(Encoding.PEM))
        record[name] = {
            "source": f"refdata/certs/{source}",
            "subject": cert.subject.rfc4514_string(),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "sha256": fingerprint.lower(),
        }
    (OUT / "fingerprints.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(record)} trust anchors to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
