"""Parse + verify + chain-check one sandbox-signed ServiceMetadata: peppolnet vs signxml.

Run: python benchmarks/bench_verify.py [iterations]. Prints per-call times and the ratio.
signxml is optional (test-only); without it only peppolnet is timed.
"""

from __future__ import annotations

import base64
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from peppolnet.pki import validate_chain
from peppolnet.sandbox.pki import TestPki
from peppolnet.sandbox.signing import sign_enveloped
from peppolnet.xmldsig import SignaturePolicy, verify_bytes

DOC = (
    b'<smp:SignedServiceMetadata xmlns:smp="http://busdox.org/serviceMetadata/publishing/1.0/"'
    b' xmlns="http://busdox.org/transport/identifiers/1.0/"'
    b' xmlns:wsa="http://www.w3.org/2005/08/addressing"><smp:ServiceMetadata>'
    b"<smp:ServiceInformation>"
    b'<ParticipantIdentifier scheme="iso6523-actorid-upis">0192:991825827</ParticipantIdentifier>'
    b'<DocumentIdentifier scheme="busdox-docid-qns">urn:oasis:names:specification:ubl:schema:xsd:'
    b"Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:"
    b"billing:3.0::2.1</DocumentIdentifier><smp:ProcessList><smp:Process>"
    b'<ProcessIdentifier scheme="cenbii-procid-ubl">urn:fdc:peppol.eu:2017:poacc:billing:01:1.0'
    b"</ProcessIdentifier><smp:ServiceEndpointList>"
    b'<smp:Endpoint transportProfile="peppol-transport-as4-v2_0"><wsa:EndpointReference>'
    b"<wsa:Address>https://ap.example.com/as4</wsa:Address></wsa:EndpointReference>"
    b"<smp:RequireBusinessLevelSignature>false</smp:RequireBusinessLevelSignature>"
    b"<smp:Certificate>MIIB</smp:Certificate><smp:ServiceDescription>AP</smp:ServiceDescription>"
    b"<smp:TechnicalContactUrl>https://example.com</smp:TechnicalContactUrl>"
    b"</smp:Endpoint></smp:ServiceEndpointList></smp:Process></smp:ProcessList>"
    b"</smp:ServiceInformation></smp:ServiceMetadata></smp:SignedServiceMetadata>"
)
#: The endpoint certificate of :data:`DOC`: four characters, not a certificate. The "verify vs"
#: rows keep it (their baseline, issue 18's, was measured on this document).
PLACEHOLDER_CERTIFICATE = b"<smp:Certificate>MIIB</smp:Certificate>"


def with_endpoint_certificate(der: bytes) -> bytes:
    """:data:`DOC` with ``der`` as its endpoint certificate, base64 as SMPs write it: the
    document a lookup really checks, whose certificate ``check_document`` reads and parses."""
    certificate = b"<smp:Certificate>" + base64.b64encode(der) + b"</smp:Certificate>"
    return DOC.replace(PLACEHOLDER_CERTIFICATE, certificate)


def timed(fn: Callable[[], object], n: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    pki = TestPki.generate(Path(tempfile.mkdtemp(prefix="bench-pki-")))
    smp = pki.issue_smp_certificate("PBE000001", "Bench SMP", "BE")
    root = etree.fromstring(DOC)
    sign_enveloped(root, smp.private_key, smp.certificate)
    data = etree.tostring(root)
    policy = SignaturePolicy.strict()

    def ours() -> object:
        result = verify_bytes(data, policy=policy)
        return validate_chain(result.certificate, [pki.smp_ca])

    t_ours = timed(ours, n)
    print(f"peppolnet: {t_ours * 1e6:8.1f} us per parse+verify+chain")
    try:
        import signxml
    except ImportError:
        print("signxml not installed: no comparison")
        return 0
    config = signxml.SignatureConfiguration(
        default_reference_c14n_method=signxml.CanonicalizationMethod.CANONICAL_XML_1_0
    )

    def theirs() -> object:
        result = signxml.XMLVerifier().verify(data, x509_cert=smp.certificate, expect_config=config)
        validate_chain(smp.certificate, [pki.smp_ca])
        return result

    t_theirs = timed(theirs, n)
    print(f"signxml:   {t_theirs * 1e6:8.1f} us per parse+verify+chain")
    print(f"ratio signxml/peppolnet: {t_theirs / t_ours:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
